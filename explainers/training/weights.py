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


MAX_WEIGHTS_BYTES = 512 * 2**20  # what one file may unpack to; a ResNet-18 is 45 MB
_NOT_WEIGHTS = "This is not a PyTorch weights file this app can read"


def check_weights_file(data: bytes) -> None:
    """Refuse, before torch.load, what torch.save never writes: not a zip, compressed entries, or stored
    data larger than the file itself (a small file that would unpack to gigabytes); ValueError, one line."""
    import zipfile

    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) == 0:
        raise ValueError(f"{_NOT_WEIGHTS} (the file is empty).")
    try:
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, KeyError):
        raise ValueError(f"{_NOT_WEIGHTS} (it is not in torch.save's format; save a state_dict "
                         "with torch.save, or use the app's Download button).") from None
    if not infos:
        raise ValueError(f"{_NOT_WEIGHTS} (the archive is empty).")
    if any(i.compress_type != zipfile.ZIP_STORED for i in infos):
        raise ValueError(f"{_NOT_WEIGHTS}: its data is compressed, which torch.save never does "
                         "(a small file could unpack to gigabytes).")
    stored = sum(i.file_size for i in infos)
    if stored > len(data) or stored > MAX_WEIGHTS_BYTES:
        raise ValueError(f"{_NOT_WEIGHTS}: it claims {stored / 2**20:.0f} MB of data in a "
                         f"{len(data) / 2**20:.1f} MB file.")


def _read_state(data: bytes) -> dict[str, torch.Tensor]:
    """bytes -> a dict of name -> dense finite tensor; ValueError (one line) for anything else.

    Sizes are checked before torch.load, which runs with weights_only=True: a pickle that would
    build objects or call functions is refused by torch's restricted unpickler, never run."""
    import torch

    check_weights_file(data)
    try:
        state = torch.load(io.BytesIO(bytes(data)), map_location="cpu", weights_only=True)
    except MemoryError:
        raise ValueError(f"{_NOT_WEIGHTS}: it is too large to load.") from None
    except Exception as exc:  # noqa: BLE001 - any failure of a visitor's file is a message, never a traceback
        raise ValueError(f"{_NOT_WEIGHTS} ({type(exc).__name__}: it may be damaged, cut short "
                         "or hold code instead of weights).") from None
    if not isinstance(state, dict) or not state:
        raise ValueError("The file holds no state_dict (a dict of names to tensors).")
    if not all(isinstance(k, str) for k in state):
        raise ValueError("The file's state_dict has keys that are not layer names.")
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError("The file holds no state_dict (a dict of names to tensors).")
    odd = [k for k, v in state.items() if v.layout != torch.strided or v.is_quantized]
    if odd:
        raise ValueError(f"The file holds sparse or quantized tensors ({_listed(sorted(odd), 3)}); "
                         "save the model's ordinary state_dict.")
    bad = [k for k, v in state.items() if (v.is_floating_point() or v.is_complex()) and not bool(torch.isfinite(v).all())]
    if bad:
        raise ValueError(f"The weights hold NaN or infinite numbers ({_listed(sorted(bad), 3)}), "
                         "so the model could not predict anything.")
    return state


def _listed(items: list[str], n: int, sep: str = ", ") -> str:
    return sep.join(items[:n]) + (" ..." if len(items) > n else "")


def _mismatch(own: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> str | None:
    """What does not fit between a model's state_dict and a file's, or None."""
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
             for k in own if k in state and state[k].shape != own[k].shape]
    dtypes = [f"{k}: file {str(state[k].dtype).removeprefix('torch.')} vs model "
              f"{str(own[k].dtype).removeprefix('torch.')}"
              for k in own if k in state and state[k].dtype != own[k].dtype]
    parts = ([f"missing {_listed(missing, 4)}"] if missing else []) + \
            ([f"unexpected {_listed(unexpected, 4)}"] if unexpected else []) + \
            ([f"wrong shapes {_listed(wrong, 3, '; ')}"] if wrong else []) + \
            ([f"wrong number types {_listed(dtypes, 3, '; ')}"] if dtypes else [])
    return "; ".join(parts) or None


def load_weights(model: nn.Module, data: bytes) -> nn.Module:
    """Load bytes from save_weights into model (weights_only=True); ValueError (one line) for a file that
    is not weights, is hostile (compressed, oversized, code), or does not fit the model (names, shapes, dtypes)."""
    state = _read_state(data)
    problem = _mismatch(model.state_dict(), state)
    if problem:
        raise ValueError(f"These weights do not fit the chosen model ({problem}). "
                         "Choose the model and dataset they were trained with.")
    device = next(model.parameters()).device
    try:
        model.load_state_dict({k: v.to(device) for k, v in state.items()})
    except (RuntimeError, TypeError, ValueError) as exc:  # anything the checks above did not foresee
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"These weights do not fit the chosen model ({first}).") from None
    return model
