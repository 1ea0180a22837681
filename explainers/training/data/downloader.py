"""The one downloader: stream a URL to a file with a socket timeout, progress, an md5 check and no
partial files left behind (a temporary ``*.part`` next to the target, renamed only when complete)."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

DOWNLOAD_TIMEOUT_S = 15.0  # per socket operation: a blocked network fails fast instead of hanging
PREFETCH_COMMAND = "python -m explainers.training download"  # + names: the CLI that pre-fetches for offline use
CHUNK = 1 << 20

ByteProgress = Callable[[int, int], None]  # (bytes done, total bytes or 0 when the server does not say)


def prefetch_command(*names: str) -> str:
    """The exact command that pre-fetches these downloads on a machine with internet."""
    return " ".join((PREFETCH_COMMAND, *names))


def download_file(url: str, dest: Path, *, md5: str | None = None, progress: ByteProgress | None = None,
                  timeout: float = DOWNLOAD_TIMEOUT_S, verify: Callable[[Path], object] | None = None) -> Path:
    """Stream url to dest; check md5 and ``verify(tmp_path)`` (raises when bad) before it appears at dest.

    Raises OSError (network, timeouts, disk) or ValueError (damaged download); then nothing is left."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}-", suffix=".part")
    tmp = Path(name)
    digest = hashlib.md5()
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "neural-lens"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(req, timeout=timeout) as resp:
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
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def reason(exc: BaseException) -> str:
    """A short reason for a failed download (URLError keeps the interesting part in .reason)."""
    return str(getattr(exc, "reason", exc))
