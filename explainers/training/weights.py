"""Weights as bytes: save a model's state_dict, load one back with weights_only=True and clear refusals."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn


def save_weights(model: nn.Module) -> bytes:
    """model -> bytes of its state_dict (torch.save format, tensors on the CPU)."""
    import torch

    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
    return buf.getvalue()


def _read_state(data: bytes) -> dict[str, torch.Tensor]:
    """bytes -> a dict of tensors; ValueError for anything else (weights_only refuses pickled objects)."""
    import pickle
    import zipfile

    import torch

    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile, AttributeError, TypeError) as exc:
        raise ValueError(f"This is not a PyTorch weights file this app can read ({type(exc).__name__}).") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError("The file holds no state_dict (a dict of tensors).")
    return state


def _listed(items: list[str], n: int, sep: str = ", ") -> str:
    return sep.join(items[:n]) + (" ..." if len(items) > n else "")


def _mismatch(own: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> str | None:
    """What does not fit between a model's state_dict and a file's, or None."""
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
             for k in own if k in state and state[k].shape != own[k].shape]
    parts = ([f"missing {_listed(missing, 4)}"] if missing else []) + \
            ([f"unexpected {_listed(unexpected, 4)}"] if unexpected else []) + \
            ([f"wrong shapes {_listed(wrong, 3, '; ')}"] if wrong else [])
    return "; ".join(parts) or None


def load_weights(model: nn.Module, data: bytes) -> nn.Module:
    """Load bytes from save_weights into model (weights_only=True); ValueError when they do not fit."""
    state = _read_state(data)
    problem = _mismatch(model.state_dict(), state)
    if problem:
        raise ValueError(f"These weights do not fit the chosen model ({problem}). "
                         "Choose the model and dataset they were trained with.")
    device = next(model.parameters()).device
    model.load_state_dict({k: v.to(device) for k, v in state.items()})
    return model
