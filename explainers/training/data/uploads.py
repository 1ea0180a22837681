"""Uploaded pictures belong to the session that uploaded them: ``<data>/uploads/<session folder>/<zip>/``.

A session is named by a plain string (the web server's session id, passed in as a value); on disk it
becomes a hash of that id, so neither a folder name nor a shared link reveals the id. Other sessions
can neither list nor load these folders (``check_access``). Quotas (bytes on disk) per session and in
total come from $NEURAL_LENS_SESSION_QUOTA_MB (default 500) and $NEURAL_LENS_TOTAL_QUOTA_MB (default
5120). Each session folder holds an ``.owner`` file naming the server process that made it, so a
restarted server removes what a dead process left behind (``remove_orphans``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import time
from pathlib import Path, PurePosixPath

UPLOADS = "uploads"  # the folder under the data folder that holds every session's uploads
OWNER_FILE = ".owner"
MB = 2**20
DEFAULT_SESSION_QUOTA_MB = 500
DEFAULT_TOTAL_QUOTA_MB = 5 * 1024
STALE_UNMARKED_S = 600  # an unmarked leftover (.incoming-*, an old layout) older than this is removed


def _quota_mb(name: str, default: int) -> int:
    try:
        value = int(float(os.environ.get(name, "") or default))
    except ValueError:
        return default
    return max(1, value)


def session_quota() -> int:
    """Bytes one session may keep under uploads/ ($NEURAL_LENS_SESSION_QUOTA_MB, default 500 MB)."""
    return _quota_mb("NEURAL_LENS_SESSION_QUOTA_MB", DEFAULT_SESSION_QUOTA_MB) * MB


def total_quota() -> int:
    """Bytes all sessions together may keep under uploads/ ($NEURAL_LENS_TOTAL_QUOTA_MB, default 5 GB)."""
    return _quota_mb("NEURAL_LENS_TOTAL_QUOTA_MB", DEFAULT_TOTAL_QUOTA_MB) * MB


def session_folder_name(session: str) -> str:
    """A session id -> the name of its folder under uploads/ (a hash: the id itself stays secret)."""
    if not isinstance(session, str) or not session:
        raise ValueError("Uploads need a session.")
    return hashlib.sha256(f"neural-lens-uploads|{session}".encode()).hexdigest()[:20]


def uploads_root(data_root: Path) -> Path:
    """<data>/uploads (not created here)."""
    return Path(data_root) / UPLOADS


def session_folder(data_root: Path, session: str) -> Path:
    """<data>/uploads/<hash of session> (not created here)."""
    return uploads_root(data_root) / session_folder_name(session)


def folder_bytes(path: Path) -> int:
    """Bytes of the regular files under ``path`` (0 when it does not exist); links are not followed."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue  # removed meanwhile
            total += st.st_size
    return total


def room_left(data_root: Path, session: str) -> tuple[int, str]:
    """(bytes this session may still write, the one-line reason when that is 0)."""
    used = folder_bytes(session_folder(data_root, session))
    mine = session_quota() - used
    everyone = total_quota() - folder_bytes(uploads_root(data_root))
    if mine <= 0:
        return 0, (f"Your uploads already use {used / MB:.0f} MB of the {session_quota() / MB:.0f} MB each "
                   "visitor may keep; they are removed when you close this tab.")
    if everyone <= 0:
        return 0, (f"The server's upload space ({total_quota() / MB:.0f} MB for everyone) is full; "
                   "try again when other visitors have closed their tabs.")
    return min(mine, everyone), ""


def _process_token() -> str:
    """This server process, unambiguous even when pids are reused (containers start at pid 1)."""
    return f"{socket.gethostname()} {os.getpid()} {_start_ticks(os.getpid())}"


def _start_ticks(pid: int) -> str:
    """The process start time in clock ticks since boot ('' where /proc is not available)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]  # field 22 of proc(5), counted after the command name


def claim_session_folder(data_root: Path, session: str) -> Path:
    """Create this session's upload folder (with its owner mark) and return it."""
    folder = session_folder(data_root, session)
    folder.mkdir(parents=True, exist_ok=True)
    mark = folder / OWNER_FILE
    if not mark.exists():
        mark.write_text(_process_token())
    return folder


def remove_session(data_root: Path, session: str) -> None:
    """Delete everything this session uploaded (called when the session has ended)."""
    shutil.rmtree(session_folder(data_root, session), ignore_errors=True)


def _owner_alive(token: str) -> bool:
    try:
        host, pid, ticks = (token.split() + ["", "", ""])[:3]
        pid_n = int(pid)
    except ValueError:
        return False
    if host != socket.gethostname():
        return True  # another machine's server shares this folder: not ours to judge
    if not Path(f"/proc/{pid_n}").exists():
        try:
            os.kill(pid_n, 0)
        except ProcessLookupError:
            return False
        except OSError:
            return True
    return _start_ticks(pid_n) == ticks


def remove_orphans(data_root: Path, *, now: float | None = None) -> list[str]:
    """At server start: remove session folders whose server process is gone, and stale unmarked
    leftovers (half-unpacked ``.incoming-*`` folders, uploads from older versions) -> names removed."""
    root = uploads_root(data_root)
    if not root.is_dir():
        return []
    now = time.time() if now is None else now
    removed = []
    for entry in root.iterdir():
        mark = entry / OWNER_FILE
        try:
            if entry.is_symlink() or not entry.is_dir():
                entry.unlink()
            elif mark.is_file():
                if _owner_alive(mark.read_text()[:200]):
                    continue
                shutil.rmtree(entry)
            elif now - entry.stat().st_mtime > STALE_UNMARKED_S:
                shutil.rmtree(entry)
            else:
                continue
        except OSError:
            continue
        removed.append(entry.name)
    return removed


def _is_digest(name: str) -> bool:
    """Unpacked zips are named by 16 hex digits of their hash (the session folder also holds a cache)."""
    return len(name) == 16 and all(c in "0123456789abcdef" for c in name)


def list_session_uploads(data_root: Path, session: str | None) -> list[str]:
    """This session's unpacked zips, as folders relative to the data folder (newest first)."""
    if not session:
        return []
    folder = session_folder(data_root, session)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and not p.is_symlink() and _is_digest(p.name)]
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [f"{UPLOADS}/{folder.name}/{p.name}" for p in found]


def check_access(data_root: Path, relative: str, session: str | None) -> Path:
    """A folder named relative to the data folder -> its resolved path, if this session may read it.

    ValueError (one line, no server path) for the data folder itself or anything holding uploads/,
    for another session's uploads (also when reached through a link), and for names the disk refuses.
    """
    root = Path(data_root).resolve()
    rel = PurePosixPath(str(relative).strip().replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts:
        raise ValueError("Give a folder inside the data folder, without '..' or a leading '/'.")
    try:
        path = (root / rel).resolve()
    except (OSError, RuntimeError):
        raise ValueError("That folder name cannot be used on this server.") from None
    if path != root and root not in path.parents:
        raise ValueError("That folder is outside the data folder.")
    uploads = root / UPLOADS
    if path == uploads or path in uploads.parents:
        raise ValueError("Choose one folder of pictures inside the data folder, not the data folder itself "
                         "or the uploads folder.")
    if uploads in path.parents:
        own = uploads / session_folder_name(session) if session else None
        if own is None or (path != own and own not in path.parents):
            raise ValueError("Those pictures were uploaded in another session and are private to it; "
                             "upload your own zip instead.")
    return path
