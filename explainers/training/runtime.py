"""Process-wide torch settings: thread count, device choice, seeding for repeatable runs."""

from __future__ import annotations

import os
import random
import threading

import numpy as np

_THREADS_SET = False
_THREADS_LOCK = threading.Lock()
SEED_LOCK = threading.Lock()  # torch's global RNG is process-wide: seeding and model builds take turns


def default_threads() -> int:
    """All cores but one (at least 1): training never takes the core the web server answers on."""
    return max(1, (os.cpu_count() or 1) - 1)


def configure_threads(n: int | None = None) -> int:
    """Set torch's intra-op thread count once per process ($NEURAL_LENS_TORCH_THREADS, else cores - 1, at
    least 1; never more than cores - 1, so pages and health checks keep a core while runs train)."""
    global _THREADS_SET
    import torch

    with _THREADS_LOCK:
        if not _THREADS_SET:
            try:
                asked = n or int(os.environ.get("NEURAL_LENS_TORCH_THREADS") or 0)
            except ValueError:
                asked = 0
            torch.set_num_threads(max(1, min(asked or default_threads(), default_threads())))
            _THREADS_SET = True
        return torch.get_num_threads()


def resolve_device(name: str = "auto") -> str:
    """"auto" -> "cuda", "mps" or "cpu"; an unavailable explicit device raises ValueError."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was asked for but no CUDA GPU is available here; choose 'auto' or 'cpu'.")
    if name == "mps" and not has_mps:
        raise ValueError("MPS was asked for but this machine has no Apple GPU; choose 'auto' or 'cpu'.")
    return name


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch's global generators and ask torch for deterministic kernels.

    The engine draws its data order and augmentation from its own ``torch.Generator``; the global
    generators still drive dropout (and any library code), so they are seeded too. Repeatable on
    one machine with one thread count; other CPUs, thread counts or GPUs may round differently.
    Concurrent runs share torch's global generator, so dropout repeats only for a run training alone.
    """
    import torch

    # cuBLAS needs this before CUDA starts to be deterministic; a no-op when CUDA is already up.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    # warn_only: an op without a deterministic kernel warns instead of failing the run
    torch.use_deterministic_algorithms(True, warn_only=True)
    # correct code never reads uninitialised memory; filling it with NaN on every allocation only costs time
    torch.utils.deterministic.fill_uninitialized_memory = False
    torch.backends.cudnn.benchmark = False
