"""Reading the examples out of docs/ for the tests that execute them, and finding the processes an
example started (by the HOME it was given)."""

from __future__ import annotations

import os
import re
from pathlib import Path


def marked_bash_block(doc: Path) -> str:
    """The first ```bash block after the doc's ``<!-- tested: ... -->`` marker."""
    text = doc.read_text()
    marker = text.index("<!-- tested:")
    found = re.search(r"```bash\n(.*?)```", text[marker:], re.S)
    assert found, f"{doc}: no ```bash block after the tested marker"
    return found.group(1)


def pids_with_home(home: Path) -> list[int]:
    """The processes whose environment has HOME=<home>: what a doc example started (not us)."""
    found = []
    needle = f"HOME={home}\0".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return [pid for pid in found if pid != os.getpid()]
