"""Synthetic digits: deterministic, balanced, MNIST-like, cached on disk."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explainers.training.data import clear_cache, digits, load_dataset, synthetic_digits


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


def test_synthetic_digits_are_deterministic_balanced_and_distinct():
    a = synthetic_digits(300, 100, seed=5)
    b = digits._render_digits(*digits._digit_templates(), 300, torch.Generator().manual_seed(5))
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
    monkeypatch.setattr(digits, "SYNTHETIC_DEFAULT", (120, 30, 2))
    first = load_dataset("synthetic-digits", tmp_path)
    files = list((tmp_path / "cache").glob("synthetic-digits-*.pt"))
    assert len(files) == 1 and first.train_x.shape == (120, 1, 28, 28)
    clear_cache()
    digits._SYNTH_CACHE.clear()
    monkeypatch.setattr(digits, "synthetic_digits", lambda *a: pytest.fail("should come from the disk cache"))
    again = load_dataset("synthetic-digits", tmp_path)
    assert again.synthetic and again.mean == pytest.approx(first.mean)
    for name in ("train_x", "train_y", "test_x", "test_y"):
        assert torch.equal(getattr(again, name), getattr(first, name))
    files[0].write_bytes(b"garbage")  # a broken cache is redrawn, not an error
    clear_cache()
    monkeypatch.undo()
    monkeypatch.setattr(digits, "SYNTHETIC_DEFAULT", (120, 30, 2))
    assert torch.equal(load_dataset("synthetic-digits", tmp_path).train_x, first.train_x)
