"""Reading the examples out of docs/ for the tests that execute them."""

from __future__ import annotations

import re
from pathlib import Path


def marked_bash_block(doc: Path) -> str:
    """The first ```bash block after the doc's ``<!-- tested: ... -->`` marker."""
    text = doc.read_text()
    marker = text.index("<!-- tested:")
    found = re.search(r"```bash\n(.*?)```", text[marker:], re.S)
    assert found, f"{doc}: no ```bash block after the tested marker"
    return found.group(1)
