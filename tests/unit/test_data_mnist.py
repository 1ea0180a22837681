"""MNIST family: idx files written byte by byte and read through the real torchvision path,
the offline failure path, a local-HTTP download, the static menu."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from torchvision import transforms

from explainers.training.data import (
    BUILTIN_DATASETS,
    PREFETCH_COMMAND,
    DatasetSpec,
    DatasetUnavailable,
    ImageDataset,
    clear_cache,
    data_dir,
    digits,
    download,
    is_available,
    load_dataset,
    write_idx_dataset,
)

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_by_hand(a: np.ndarray) -> bytes:
    """The idx format as documented on Yann LeCun's page, written with struct (independent of the module)."""
    magic = struct.pack(">BBBB", 0, 0, 8, a.ndim)
    dims = b"".join(struct.pack(">i", d) for d in a.shape)
    return magic + dims + a.astype(np.uint8).tobytes()


def random_split(rng: np.random.Generator, n_train: int, n_test: int) -> tuple[np.ndarray, ...]:
    return (
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_train, dtype=np.uint8),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_test, dtype=np.uint8),
    )


def write_by_hand(raw: Path, arrays: tuple[np.ndarray, ...], gz: bool) -> None:
    raw.mkdir(parents=True, exist_ok=True)
    for name, a in zip(FILES, arrays, strict=True):
        data = idx_by_hand(a)
        if gz:
            (raw / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (raw / name).write_bytes(data)


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize(("key", "folder"), [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_idx_files_load_through_torchvision_layout(tmp_path, gz, key, folder):
    arrays = random_split(np.random.default_rng(1), 37, 11)
    write_by_hand(tmp_path / folder / "raw", arrays, gz)
    progress = []
    ds = load_dataset(key, tmp_path, download=False, progress=lambda f, m: progress.append(f))
    assert isinstance(ds, ImageDataset) and not ds.synthetic
    assert ds.train_x.dtype == torch.uint8 and ds.train_x.shape == (37, 1, 28, 28)
    assert ds.test_x.shape == (11, 1, 28, 28) and ds.test_y.dtype == torch.int64
    np.testing.assert_array_equal(ds.train_x[:, 0].numpy(), arrays[0])
    np.testing.assert_array_equal(ds.train_y.numpy(), arrays[1])
    np.testing.assert_array_equal(ds.test_x[:, 0].numpy(), arrays[2])
    np.testing.assert_array_equal(ds.test_y.numpy(), arrays[3])
    assert (ds.channels, ds.image_size, ds.num_classes) == (1, 28, 10)
    np.testing.assert_allclose(ds.mean[0], arrays[0].mean() / 255, rtol=1e-6)
    np.testing.assert_allclose(ds.std[0], arrays[0].astype(np.float64).std(ddof=1) / 255, rtol=1e-6)
    assert progress and progress[-1] == 1.0
    # the same files also open with torchvision directly: it is its real layout
    tv = getattr(torchvision.datasets, folder)(str(tmp_path), train=True, download=False)
    np.testing.assert_array_equal(tv.data.numpy(), arrays[0])


def test_writer_matches_the_documented_format(tmp_path):
    arrays = random_split(np.random.default_rng(2), 5, 3)
    raw = write_idx_dataset(tmp_path, *arrays, gz=True)
    for name, a in zip(FILES, arrays, strict=True):
        assert gzip.decompress((raw / (name + ".gz")).read_bytes()) == idx_by_hand(a)


def test_normalize_matches_torchvision_transforms(tmp_path):
    arrays = random_split(np.random.default_rng(3), 20, 4)
    write_by_hand(tmp_path / "MNIST" / "raw", arrays, gz=False)
    ds = load_dataset("mnist", tmp_path, download=False)
    oracle = transforms.Compose([transforms.ToTensor(), transforms.Normalize(ds.mean, ds.std)])
    expected = torch.stack([oracle(a) for a in arrays[0][:6]])
    np.testing.assert_allclose(ds.normalize(ds.train_x[:6]).numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


def test_missing_files_without_download_explain_what_to_do(tmp_path):
    with pytest.raises(DatasetUnavailable) as err:
        load_dataset("mnist", tmp_path, download=False)
    msg = str(err.value)
    assert str((tmp_path / "MNIST" / "raw").resolve()) in msg
    assert "train-images-idx3-ubyte.gz" in msg and "t10k-labels-idx1-ubyte.gz" in msg
    assert PREFETCH_COMMAND in msg and "Synthetic digits" in msg


def test_failed_download_is_fast_and_clear(tmp_path, monkeypatch):
    # port 9 on localhost refuses connections: the same failure as a blocked network, without the wait
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/a/", "http://127.0.0.1:9/b/"])
    t0 = time.perf_counter()
    with pytest.raises(DatasetUnavailable) as err:
        load_dataset("mnist", tmp_path, download=True)
    assert time.perf_counter() - t0 < 30
    assert "could not be downloaded" in str(err.value) and "127.0.0.1:9/a/" in str(err.value)
    assert not list((tmp_path / "MNIST" / "raw").glob("*.part"))


def test_download_from_a_local_mirror_with_progress_and_checksums(tmp_path, monkeypatch):
    arrays = random_split(np.random.default_rng(4), 30, 10)
    served = tmp_path / "mirror"
    write_by_hand(served, arrays, gz=True)
    resources = [(n + ".gz", hashlib.md5((served / (n + ".gz")).read_bytes()).hexdigest()) for n in FILES]

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(served), **kw)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        port = httpd.server_address[1]
        monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/", f"http://127.0.0.1:{port}/"])
        monkeypatch.setattr(torchvision.datasets.MNIST, "resources", resources)
        seen = []
        ds = load_dataset("mnist", tmp_path / "data", download=True, progress=lambda f, m: seen.append((f, m)))
        np.testing.assert_array_equal(ds.test_x[:, 0].numpy(), arrays[2])
        assert any("downloading" in m for _, m in seen)
        fractions = [f for f, _ in seen]
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
        # a corrupted mirror fails the checksum instead of being used
        clear_cache()
        monkeypatch.setattr(torchvision.datasets.MNIST, "resources", [(n, "0" * 32) for n, _ in resources])
        with pytest.raises(DatasetUnavailable, match="checksum"):
            load_dataset("mnist", tmp_path / "data2", download=True)
    finally:
        httpd.shutdown()


def test_corrupt_files_are_reported_not_raised_raw(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    write_by_hand(raw, random_split(np.random.default_rng(5), 8, 4), gz=True)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DatasetUnavailable, match="not a valid gzip"):
        load_dataset("mnist", tmp_path, download=False)
    (raw / "train-images-idx3-ubyte.gz").unlink()
    (raw / "train-images-idx3-ubyte").write_bytes(idx_by_hand(np.zeros((8, 28, 28), np.uint8))[:100])  # truncated
    with pytest.raises(DatasetUnavailable, match="could not be read"):
        load_dataset("mnist", tmp_path, download=False)


def test_prefetch_offline_fails_with_message(tmp_path, monkeypatch):
    """What the CLI's download command reports (it exits 1 on any failed result)."""
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    (result,) = download(["mnist"], tmp_path)
    assert result.name == "mnist" and not result.ok
    assert "could not be downloaded" in result.message


def test_is_available_and_data_dir(tmp_path, monkeypatch):
    assert not is_available("mnist", tmp_path)
    write_by_hand(tmp_path / "MNIST" / "raw", random_split(np.random.default_rng(6), 3, 3), gz=True)
    assert is_available("mnist", tmp_path) and is_available("synthetic-digits")
    monkeypatch.setenv("NEURAL_LENS_DATA", str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.delenv("NEURAL_LENS_DATA")
    assert data_dir() == Path("data")


def test_builtin_menu_and_loading_by_spec_or_key(tmp_path, monkeypatch):
    """The static menu names the digit sets; a spec and its key load the same cached dataset."""
    assert {"synthetic-digits", "mnist", "fashion-mnist"} <= set(BUILTIN_DATASETS)
    monkeypatch.setattr(digits, "SYNTHETIC_DEFAULT", (50, 20, 1))
    by_key = load_dataset("synthetic-digits", tmp_path)
    assert load_dataset(DatasetSpec("synthetic-digits"), tmp_path) is by_key and BUILTIN_DATASETS["synthetic-digits"] == by_key.label
    with pytest.raises(ValueError, match="Unknown dataset 'no-such-set'"):
        load_dataset("no-such-set")
