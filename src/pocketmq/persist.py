"""Small JSON state files written safely, as upstream's ConfigManager and MixAll.string2File do:
new content to ``<file>.tmp`` (fsynced), the previous content kept as ``<file>.bak``, then an
atomic rename. Loading falls back to the .bak file when the main one is missing or unreadable."""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any, Callable

log = logging.getLogger("pocketmq.persist")


def write_file_safely(path: str, data: bytes) -> None:
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    if os.path.exists(path):
        shutil.copyfile(path, path + ".bak")
    os.replace(tmp, path)


def load_json_file(path: str, parse: Callable[[bytes], Any]) -> Any | None:
    """Parse ``path`` (or its .bak when the main file is missing or corrupt); None when neither is usable."""
    for candidate in (path, path + ".bak"):
        try:
            with open(candidate, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            continue
        if not data.strip():
            continue
        try:
            return parse(data)
        except ValueError as exc:
            log.warning("cannot parse %s: %s", candidate, exc)
    return None
