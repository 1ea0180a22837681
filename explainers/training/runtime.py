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


def training_nice() -> int:
    """How much lower than the web server's threads a training thread runs ($NEURAL_LENS_TRAIN_NICE,
    default 10; 0 turns it off): the kernel then gives page reruns the CPU first while runs train."""
    try:
        return max(0, min(19, int(os.environ.get("NEURAL_LENS_TRAIN_NICE") or 10)))
    except ValueError:
        return 10


def lower_thread_priority(step: int | None = None) -> bool:
    """Raise the calling thread's nice value by ``step`` (Linux nice is per thread; torch's intra-op
    threads started from this thread inherit it). True when applied; elsewhere (or when refused) False.
    Only ever call it on a thread that exists for training: a thread's priority cannot be raised back
    without privileges."""
    step = training_nice() if step is None else step
    if step <= 0 or not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
        return False
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + step))
    except OSError:
        return False
    return True


def run_at_low_priority(fn, *args, **kwargs):
    """fn(*args, **kwargs) on a fresh training-priority thread; waits for it and returns its result (or
    raises its exception). For heavy jobs a page starts in its own script thread (the LR finder)."""
    out: dict = {}

    def body() -> None:
        lower_thread_priority()
        try:
            out["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            out["error"] = exc

    t = threading.Thread(target=body, name="low-priority-job", daemon=True)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


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
