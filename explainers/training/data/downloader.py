"""The one downloader: stream a URL to a file with a socket timeout, progress, an md5 check and no
partial files left behind (a temporary ``*.part`` next to the target, renamed only when complete).

Offline it fails fast: the name lookup has its own deadline (the socket timeout does not cover it),
and for a short while after a lookup failed, further downloads by host name fail at once, so trying
several mirrors or files still answers within about ten seconds. No folder is created before the server
answers, and folders it created are removed again when the download fails."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

DOWNLOAD_TIMEOUT_S = 5.0  # per socket operation: a blocked network fails fast instead of hanging
LOOKUP_DEADLINE_S = 4.0  # the DNS lookup, which the socket timeout does not bound
OFFLINE_MEMORY_S = 30.0  # after a failed name lookup, later lookups fail at once for this long
_offline_until = 0.0
PREFETCH_COMMAND = "python -m explainers.training download"  # + names: the CLI that pre-fetches for offline use
CHUNK = 1 << 20

ByteProgress = Callable[[int, int], None]  # (bytes done, total bytes or 0 when the server does not say)


def prefetch_command(*names: str) -> str:
    """The exact command that pre-fetches these downloads on a machine with internet."""
    return " ".join((PREFETCH_COMMAND, *names))


class Offline(OSError):
    """No network: the name lookup or the connection failed (or did so moments ago)."""


def _lookup(host: str, port: int, deadline: float) -> None:
    """Resolve host within ``deadline`` seconds (in a helper thread: getaddrinfo has no timeout)."""
    done: dict = {}

    def resolve() -> None:
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            done["ok"] = True
        except OSError as exc:
            done["error"] = exc

    t = threading.Thread(target=resolve, name="neural-lens-dns", daemon=True)
    t.start()
    t.join(deadline)
    if "ok" not in done:
        raise Offline(f"no network: looking up {host} failed ({done.get('error') or 'timed out'})")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _open(url: str, timeout: float):
    """The HTTP response for url, or Offline/OSError within about LOOKUP_DEADLINE_S + timeout seconds."""
    global _offline_until
    host = urllib.parse.urlsplit(url).hostname or ""
    if host and not _is_ip(host):
        if time.monotonic() < _offline_until:
            raise Offline("no network (looking up a server failed moments ago)")
        port = urllib.parse.urlsplit(url).port or (443 if url.startswith("https") else 80)
        try:
            _lookup(host, port, LOOKUP_DEADLINE_S)
        except Offline:
            _offline_until = time.monotonic() + OFFLINE_MEMORY_S
            raise
    req = urllib.request.Request(url, headers={"User-Agent": "neural-lens"})
    try:
        return urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError:
        raise  # the network works; this server said no
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise Offline(f"no network: {reason(exc)}") from exc


def _missing_parents(folder: Path) -> list[Path]:
    """The folders mkdir(parents=True) would create for ``folder``, outermost first."""
    out = []
    while not folder.exists() and folder != folder.parent:
        out.append(folder)
        folder = folder.parent
    return out[::-1]


def download_file(url: str, dest: Path, *, md5: str | None = None, progress: ByteProgress | None = None,
                  timeout: float = DOWNLOAD_TIMEOUT_S, verify: Callable[[Path], object] | None = None) -> Path:
    """Stream url to dest; check md5 and ``verify(tmp_path)`` (raises when bad) before it appears at dest.

    Raises OSError (network, timeouts, disk; Offline when there is no network) or ValueError (damaged
    download); then nothing is left, not even the folders it made."""
    dest = Path(dest)
    resp = _open(url, timeout)  # before touching the disk: offline creates nothing
    created = _missing_parents(dest.parent)
    tmp: Path | None = None
    ok = False
    digest = hashlib.md5()
    try:
        with resp:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}-", suffix=".part")
            tmp = Path(name)
            with os.fdopen(fd, "wb") as out:
                total = int(resp.headers.get("Content-Length") or 0)
                done = 0
                while chunk := resp.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
        if md5 and digest.hexdigest() != md5:
            raise ValueError(f"the download of {url} is damaged (checksum mismatch)")
        if verify is not None:
            verify(tmp)
        os.replace(tmp, dest)
        ok = True
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        if not ok:
            for folder in reversed(created):  # innermost first; only if still empty
                try:
                    folder.rmdir()
                except OSError:
                    break
    return dest


def reason(exc: BaseException) -> str:
    """A short reason for a failed download (URLError keeps the interesting part in .reason)."""
    return str(getattr(exc, "reason", exc))
