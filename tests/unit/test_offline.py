"""Offline (issue 16): every download fails within 10 s with the pre-fetch command, creates no folders
and no torch cache outside the data folder, and its message names no server path."""

from __future__ import annotations

import os
import socket
import time

import pytest
import torch

from explainers.training.data import (
    DatasetUnavailable,
    WeightsUnavailable,
    downloader,
    load_dataset,
)
from explainers.training.data.weights import fetch_resnet18_weights
from models import weights_path
from pages.widgets.ui import visitor_text


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """Name lookups hang (as on a machine whose resolver is unreachable); connections are refused."""

    def hang(*a, **kw):
        time.sleep(60)
        raise OSError("unreachable")

    import torchvision.datasets  # noqa: F401 - imported before the clock starts (a page has it loaded)

    monkeypatch.setattr(socket, "getaddrinfo", hang)
    monkeypatch.setattr(downloader, "_offline_until", 0.0)
    data = tmp_path / "data"
    monkeypatch.setenv("NEURAL_LENS_DATA", str(data))
    monkeypatch.delenv("TORCH_HOME", raising=False)
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # where torch's default cache would go
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home" / ".cache"))
    return tmp_path


def _everything(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("key", ["mnist", "fashion-mnist", "cifar-catsdog", "oxford-pets@96"])
def test_dataset_downloads_fail_fast_with_the_prefetch_command(no_network, key):
    t0 = time.perf_counter()
    with pytest.raises(DatasetUnavailable) as err:
        load_dataset(key, no_network / "data", download=True)
    assert time.perf_counter() - t0 < 10
    text = visitor_text(err.value)  # as the page shows it (the CLI shows operators the full path)
    assert "python -m explainers.training download" in text
    assert str(no_network) not in text and "/root" not in text and "\n" not in text
    assert _everything(no_network) == []  # not even an empty data folder


def test_weights_download_fails_fast_and_creates_no_cache_anywhere(no_network):
    assert str(weights_path()).startswith(str(no_network / "data"))  # never the account's home
    t0 = time.perf_counter()
    with pytest.raises(WeightsUnavailable) as err:
        fetch_resnet18_weights()
    assert time.perf_counter() - t0 < 10
    assert "python -m explainers.training download resnet18" in str(err.value)
    assert str(no_network) not in str(err.value)  # not even for the CLI: the weights name their place in words
    assert _everything(no_network) == []


def test_a_refused_connection_also_leaves_no_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(downloader, "_offline_until", 0.0)
    dest = tmp_path / "a" / "b" / "file.bin"
    with pytest.raises(OSError):
        downloader.download_file("http://127.0.0.1:9/file.bin", dest, timeout=2)
    assert not (tmp_path / "a").exists()


def test_the_cli_does_not_create_the_data_dir_when_offline(no_network):
    from explainers.training.data import download

    target = no_network / "fresh" / "data"
    t0 = time.perf_counter()
    results = download(["mnist", "cifar-catsdog"], target)
    assert time.perf_counter() - t0 < 10
    assert [r.ok for r in results] == [False, False]
    assert not target.exists() and not (no_network / "fresh").exists()
    assert os.listdir(no_network) == []
