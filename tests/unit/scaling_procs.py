"""Child processes of this test process, read from /proc (no psutil): the orphan check of the scaling tests."""

from __future__ import annotations

import os
from pathlib import Path


def _stat(pid: str) -> tuple[str, int] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = text[text.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid ...
    return rest[0], int(rest[1])


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def live_children(parent: int | None = None, marker: str = "explainers.scaling.worker") -> list[int]:
    """Running (not zombie) pids whose parent is ``parent`` (this process) and whose command line has ``marker``.

    The marker keeps other children out (a browser test's streamlit server may be alive in the same session).
    """
    parent = os.getpid() if parent is None else parent
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            st = _stat(pid)
            if st and st[1] == parent and st[0] != "Z" and marker in _cmdline(pid):
                out.append(int(pid))
    return out


def scaling_workers_anywhere() -> list[int]:
    """Every running scaling worker on this machine whatever its parent (a crashed launcher's orphans too)."""
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and "explainers.scaling.worker" in _cmdline(p)
            and (_stat(p) or ("Z", 0))[0] != "Z"]


def is_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    st = _stat(str(pid))
    return st is not None and st[0] != "Z"
