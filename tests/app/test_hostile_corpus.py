"""The Trainer page under hostile input (issue 16): zips, saved weights and dataset links made by the tests,
each a one-line message with no traceback and no server path; nothing written outside the data folder."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from explainers import training as tr
from explainers.training.data import weights as cd
from tests.unit.test_weights_hostile import corpus as weights_corpus

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "trainer.py")
SKIP = {".git", "__pycache__", ".hypothesis", "artifacts", ".pytest_cache", ".ruff_cache"}


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root (but caches) -> (size, mtime_ns)."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP]
        for f in files:
            if f.endswith(".pyc"):
                continue
            p = Path(dirpath) / f
            try:
                st = p.stat()
            except OSError:
                continue
            out[str(p)] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A private data folder and home; the repository and the home must not change."""
    data, home = tmp_path / "data", tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("NEURAL_LENS_DATA", str(data))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.delenv("TORCH_HOME", raising=False)
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    defaults = {**cd.fetch_resnet18_weights.__kwdefaults__, "url": "http://127.0.0.1:9/resnet18.pth", "timeout": 2}
    monkeypatch.setattr(cd.fetch_resnet18_weights, "__kwdefaults__", defaults)
    before = _tree(ROOT)
    yield tmp_path
    tr.stop_all_runs()
    assert list(home.rglob("*")) == [], "something was written to the home folder"
    after = _tree(ROOT)
    changed = sorted(set(after) ^ set(before) | {k for k in after if k in before and after[k] != before[k]})
    assert changed == [], f"written outside the data folder: {changed[:5]}"


def run(query: dict) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    return at


def _clean(at: AppTest, tmp: Path) -> str:
    """The page's error texts, after checking there is no exception and no server path."""
    assert not at.exception, at.exception
    texts = " | ".join(str(e.value) for e in at.error)
    assert str(tmp) not in texts and "Errno" not in texts and "Traceback" not in texts, texts
    return texts


def _png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _zip(entries: dict[str, bytes], compress: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compress) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


GOOD = {f"{c}/{i}.png": _png(k * 10 + i) for k, c in enumerate(("cat", "dog")) for i in range(2)}
HOSTILE_ZIPS = {
    "clash.zip": (_zip({**GOOD, "cat/0.png/x.png": _png(9)}), "same name"),
    "long.zip": (_zip({**GOOD, "dog/" + "n" * 300 + ".png": _png(9)}), "too long"),
    "climb.zip": (_zip({**GOOD, "../../evil.png": _png(9)}), "climbs out"),
    "bomb.zip": (_zip({**GOOD, "cat/big.png": b"\0" * (40 * 2**20)}, zipfile.ZIP_DEFLATED), "larger than"),
    "text.zip": (b"not a zip at all", "not a zip archive"),
}


def test_hostile_zips_and_links_on_the_trainer(sandbox):
    at = run({"trainer_dataset": "synthetic-pets"})
    _clean(at, sandbox)
    for name, (data, message) in HOSTILE_ZIPS.items():
        at.file_uploader(key="trainer_cd_zip").set_value((name, data, "application/zip")).run()
        assert message in _clean(at, sandbox), name
    assert not list((sandbox / "data").rglob("*.png"))  # nothing partial stays
    # Dataset keys in links that reach for the data folder itself or someone's uploads.
    for key in ("folder:.@64", "folder:uploads@64", "folder:uploads/0123456789abcdef0123/0123456789abcdef@64",
                "folder:" + "x" * 190 + "@64", "folder:missing@96"):
        page = run({"trainer_dataset": key})
        texts = _clean(page, sandbox)
        assert "not available" in texts or not page.selectbox(key="trainer_dataset").value.startswith("folder:"), key


def test_hostile_weights_on_the_trainer(sandbox):
    at = run({"trainer_dataset": "synthetic-digits", "trainer_model": "small_cnn", "trainer_subset": "200"})
    _clean(at, sandbox)
    for name, (data, _message) in weights_corpus(sandbox).items():
        at.file_uploader(key="trainer_weights_upload").set_value((f"{name}.pt", data, "application/octet-stream")).run()
        texts = _clean(at, sandbox)
        assert "Can't load" in texts, name
    assert not (sandbox / "code-ran").exists()
