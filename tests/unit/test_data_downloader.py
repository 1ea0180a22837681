"""The one downloader: complete files only, md5 and content checks, progress, a socket timeout."""

from __future__ import annotations

import hashlib
import socket
import threading
import time

import pytest

from explainers.training.data import (
    PREFETCH_COMMAND,
    DownloadResult,
    download,
    prefetch_command,
)
from explainers.training.data.downloader import download_file


def _leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_a_complete_download_with_progress_and_md5(tmp_path):
    payload = bytes(range(256)) * 9000  # ~2.3 MB: several chunks
    src = tmp_path / "src.bin"
    src.write_bytes(payload)
    seen = []
    dest = download_file(src.as_uri(), tmp_path / "out" / "file.bin", md5=hashlib.md5(payload).hexdigest(),
                         progress=lambda done, total: seen.append((done, total)))
    assert dest.read_bytes() == payload
    assert seen[-1] == (len(payload), len(payload)) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(seen) >= 3 and _leftovers(tmp_path / "out") == ["file.bin"]


@pytest.mark.parametrize("bad", ["md5", "verify"])
def test_a_damaged_download_leaves_nothing(tmp_path, bad):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 1000)
    (tmp_path / "out").mkdir()

    def refuse(path):
        assert path.read_bytes() == b"x" * 1000 and path.name.endswith(".part")  # checked before it is moved
        raise ValueError("not what we wanted")

    kwargs = {"md5": "0" * 32} if bad == "md5" else {"verify": refuse}
    with pytest.raises(ValueError, match="checksum mismatch" if bad == "md5" else "not what we wanted"):
        download_file(src.as_uri(), tmp_path / "out" / "file.bin", **kwargs)
    assert _leftovers(tmp_path / "out") == []


def test_a_silent_server_times_out_fast(tmp_path):
    """A server that accepts the connection and then says nothing (a captive network) fails after the timeout."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    held = []
    threading.Thread(target=lambda: held.append(server.accept()), daemon=True).start()
    try:
        t0 = time.perf_counter()
        with pytest.raises(OSError):
            download_file(f"http://127.0.0.1:{server.getsockname()[1]}/x", tmp_path / "x", timeout=0.5)
        assert time.perf_counter() - t0 < 10
        assert _leftovers(tmp_path) == []
    finally:
        server.close()
        for conn, _ in held:
            conn.close()


def test_prefetch_names_are_checked_before_anything_is_fetched(tmp_path):
    with pytest.raises(ValueError, match="Cannot download 'imagenet'.*mnist, fashion-mnist, cifar-catsdog"):
        download(["synthetic-digits", "imagenet"], tmp_path)
    assert _leftovers(tmp_path) == []
    assert prefetch_command("mnist", "resnet18") == f"{PREFETCH_COMMAND} mnist resnet18"
    assert PREFETCH_COMMAND == "python -m explainers.training download"


def test_prefetch_of_an_offline_dataset_key(tmp_path):
    """Any dataset key works too: drawn pictures need no network and report where they are."""
    (result,) = download(["synthetic-pets@96"], tmp_path, progress=lambda n, f, m: None)
    assert result == DownloadResult("synthetic-pets@96", True, result.message) and "train" in result.message
