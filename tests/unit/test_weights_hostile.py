"""Hostile saved weights, each made here: every one a one-line ValueError, no traceback, no code run."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import pytest
import torch

from explainers.training import load_weights, save_weights
from explainers.training import weights as wmod
from models import build_model


def small_cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("small_cnn", 1, 28, 10)


def saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


class RunsCode:
    """Unpickling this would call exec() and write a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


def deflate_bomb(good: bytes, megabytes: int = 64) -> bytes:
    """The good file's entries plus one of ``megabytes`` MB of zeros, deflated to a few kB."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info), compress_type=zipfile.ZIP_STORED)
        dst.writestr("archive/data/99", b"\0" * (megabytes * 2**20), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def lying_sizes(good: bytes) -> bytes:
    """The good file with one entry's declared size in the central directory raised to 2 GB."""
    data = bytearray(good)
    pos = data.find(b"PK\x01\x02")
    data[pos + 24:pos + 28] = (2**31).to_bytes(4, "little")
    return bytes(data)


def test_round_trip():
    model = small_cnn()
    other = build_model("small_cnn", 1, 28, 10)
    load_weights(other, save_weights(model))
    for a, b in zip(model.state_dict().values(), other.state_dict().values()):
        torch.testing.assert_close(a, b)


def corpus(tmp_path: Path) -> dict[str, tuple[bytes, str]]:
    model = small_cnn()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    good = save_weights(model)
    first = next(iter(state))
    nan = dict(state)
    nan[first] = torch.full_like(state[first], float("nan"))
    sparse = dict(state)
    sparse[first] = state[first].to_sparse()
    marker = tmp_path / "code-ran"
    return {
        "text renamed .pt": (b"these are not weights\n" * 10, "not in torch.save's format"),
        "empty": (b"", "empty"),
        "truncated": (good[: len(good) // 2], "not in torch.save's format|damaged"),
        "cut at the end": (good[:-30], "not in torch.save's format|damaged"),
        "deflate bomb": (deflate_bomb(good), "compressed"),
        "lying sizes": (lying_sizes(good), "claims"),
        "a plain pickle": (pickle.dumps(state), "not in torch.save's format"),
        "code in a torch file": (saved({"w": RunsCode(marker)}), "hold code|damaged"),
        "code in a plain pickle": (pickle.dumps(RunsCode(marker)), "not in torch.save's format"),
        "a tensor, not a dict": (saved(state[first]), "no state_dict"),
        "an empty dict": (saved({}), "no state_dict"),
        "nested dict": (saved({"state_dict": state}), "no state_dict"),
        "mixed key types": (saved({**state, 7: state[first]}), "not layer names"),
        "wrong dtype": (saved({k: v.double() if v.is_floating_point() else v for k, v in state.items()}),
                        "wrong number types"),
        "wrong shape": (saved({**state, first: torch.zeros(3, 3)}), "wrong shapes"),
        "another model": (save_weights(build_model("mlp", 1, 28, 10)), "do not fit"),
        "another size": (save_weights(build_model("small_cnn", 3, 32, 10)), "do not fit"),
        "sparse tensor": (saved(sparse), "sparse"),
        "NaN weights": (saved(nan), "NaN"),
    }


def test_hostile_weights_get_one_line_messages_and_run_no_code(tmp_path):
    marker = tmp_path / "code-ran"
    for name, (data, message) in corpus(tmp_path).items():
        model = small_cnn()
        before = {k: v.clone() for k, v in model.state_dict().items()}
        with pytest.raises(ValueError, match=message) as err:
            load_weights(model, data)
        text = str(err.value)
        assert "\n" not in text and str(tmp_path) not in text and "Traceback" not in text, name
        for k, v in model.state_dict().items():  # a refused file changes nothing
            torch.testing.assert_close(v, before[k], msg=name)
    assert not marker.exists(), "unpickling ran code"


def test_bombs_are_refused_before_torch_load(monkeypatch):
    good = save_weights(small_cnn())

    def no_load(*a, **kw):
        raise AssertionError("torch.load was called on a bomb")

    monkeypatch.setattr(torch, "load", no_load)
    for data in (deflate_bomb(good, 8), lying_sizes(good)):
        with pytest.raises(ValueError):
            wmod.check_weights_file(data)
        with pytest.raises(ValueError):
            load_weights(small_cnn(), data)


def test_torch_load_always_uses_weights_only(monkeypatch):
    seen = []
    real = torch.load

    def spy(*a, **kw):
        seen.append(kw.get("weights_only"))
        return real(*a, **kw)

    monkeypatch.setattr(torch, "load", spy)
    load_weights(small_cnn(), save_weights(small_cnn()))
    assert seen == [True]
