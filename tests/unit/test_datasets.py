"""Datasets: MNIST-format files written byte by byte and read through the real torchvision path,
the offline failure path, a local-HTTP download, and the synthetic digits."""

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

from explainers.training.data import datasets as dsm
from explainers.training.data.datasets import (
    DATASETS,
    DatasetUnavailable,
    ImageDataset,
    load_dataset,
    synthetic_digits,
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
    dsm.clear_cache()
    yield
    dsm.clear_cache()


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
    raw = dsm.write_idx_dataset(tmp_path, *arrays, gz=True)
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
    assert dsm.PREFETCH_COMMAND in msg and "Synthetic digits" in msg


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
        dsm.clear_cache()
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


def test_cli_download_offline_exits_nonzero_with_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    assert dsm.main(["download", "mnist", "--data-dir", str(tmp_path)]) == 1
    assert "could not be downloaded" in capsys.readouterr().err


def test_is_available_and_data_dir(tmp_path, monkeypatch):
    assert not dsm.is_available("mnist", tmp_path)
    write_by_hand(tmp_path / "MNIST" / "raw", random_split(np.random.default_rng(6), 3, 3), gz=True)
    assert dsm.is_available("mnist", tmp_path) and dsm.is_available("synthetic-digits")
    monkeypatch.setenv("NEURAL_LENS_DATA", str(tmp_path))
    assert dsm.data_dir() == tmp_path
    monkeypatch.delenv("NEURAL_LENS_DATA")
    assert dsm.data_dir() == Path("data")


def test_registry_names_and_plugins():
    assert {"synthetic-digits", "mnist", "fashion-mnist"} <= set(DATASETS)
    tiny = synthetic_digits(20, 10, seed=9)
    dsm.register_dataset("test-tiny", "Tiny", lambda root, download, progress: tiny)
    try:
        assert load_dataset("test-tiny") is tiny and DATASETS["test-tiny"] == "Tiny"
    finally:
        DATASETS.pop("test-tiny")
        dsm._LOADERS.pop("test-tiny")
    with pytest.raises(KeyError):
        load_dataset("no-such-set")


def test_synthetic_digits_are_deterministic_balanced_and_distinct():
    a = synthetic_digits(300, 100, seed=5)
    b = dsm._render_digits(*dsm._digit_templates(), 300, torch.Generator().manual_seed(5))
    np.testing.assert_array_equal(a.train_x.numpy(), b[0].numpy())  # same seed, same pixels
    np.testing.assert_array_equal(a.train_y.numpy(), b[1].numpy())
    c = synthetic_digits(300, 100, seed=6)
    assert not torch.equal(a.train_x, c.train_x)
    assert a.synthetic and a.label.startswith("Synthetic")
    assert a.train_x.shape == (300, 1, 28, 28) and a.train_x.dtype == torch.uint8
    assert a.test_x.shape == (100, 1, 28, 28) and a.train_y.dtype == torch.int64
    np.testing.assert_array_equal(np.bincount(a.train_y.numpy(), minlength=10), np.full(10, 30))
    # test images are not copies of training images
    flat_train = {bytes(x) for x in a.train_x.flatten(1).numpy()}
    assert not any(bytes(x) in flat_train for x in a.test_x.flatten(1).numpy())
    # ink sits in the middle, background is dark, like MNIST
    img = a.train_x.float()
    assert img[:, :, 10:18, 10:18].mean() > 3 * img[:, :, :3, :].mean()
    assert 0.05 < a.mean[0] < 0.4 and a.std[0] > 0.1
    np.testing.assert_allclose(a.mean[0], a.train_x.double().mean().item() / 255, rtol=1e-6)


def test_synthetic_set_is_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(dsm, "SYNTHETIC_DEFAULT", (120, 30, 2))
    first = load_dataset("synthetic-digits", tmp_path)
    files = list((tmp_path / "cache").glob("synthetic-digits-*.pt"))
    assert len(files) == 1 and first.train_x.shape == (120, 1, 28, 28)
    dsm.clear_cache()
    dsm._SYNTH_CACHE.clear()
    monkeypatch.setattr(dsm, "synthetic_digits", lambda *a: pytest.fail("should come from the disk cache"))
    again = load_dataset("synthetic-digits", tmp_path)
    assert again.synthetic and again.mean == pytest.approx(first.mean)
    for name in ("train_x", "train_y", "test_x", "test_y"):
        assert torch.equal(getattr(again, name), getattr(first, name))
    files[0].write_bytes(b"garbage")  # a broken cache is redrawn, not an error
    dsm.clear_cache()
    monkeypatch.undo()
    monkeypatch.setattr(dsm, "SYNTHETIC_DEFAULT", (120, 30, 2))
    assert torch.equal(load_dataset("synthetic-digits", tmp_path).train_x, first.train_x)
