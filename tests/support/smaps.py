"""Read a process's memory map from /proc/PID/smaps: a mapped file's sizes and flags."""

from __future__ import annotations

from pathlib import Path


def mapping_lines(path: Path, pid: int | str = "self") -> list[str]:
    """The smaps lines that follow the mapping of ``path`` in process ``pid``, up to the next one."""
    lines = Path(f"/proc/{pid}/smaps").read_text().splitlines()
    for i, line in enumerate(lines):
        if line.endswith(" " + str(path)):
            block = []
            for follow in lines[i + 1:]:
                block.append(follow)
                if follow.startswith("VmFlags:"):
                    return block
            return block
    raise AssertionError(f"{path} is not mapped in process {pid}")


def mapping_bytes(path: Path, field: str, pid: int | str = "self") -> int:
    """A size field of the mapping (``Rss``, ``Shared_Dirty`` ...) in bytes."""
    for line in mapping_lines(path, pid):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for {path}")


def vm_flags(path: Path, pid: int | str = "self") -> list[str]:
    """The mapping's VmFlags (``rr`` is MADV_RANDOM)."""
    for line in mapping_lines(path, pid):
        if line.startswith("VmFlags:"):
            return line.split()[1:]
    raise AssertionError(f"no VmFlags for {path}")
