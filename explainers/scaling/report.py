"""When to use what: tables built from what the page measured, each row labelled measured or computed."""

from __future__ import annotations

import math

import numpy as np

from explainers.scaling.plans import (
    DataParallelResult,
    ModelParallelResult,
    PipelineResult,
)
from explainers.scaling.ring import RingTrace
from explainers.scaling.schedule import bubble_fraction

BYTES_PER_PARAM_ADAM = 16  # fp32 weights 4 + gradients 4 + Adam's two moments 8


def _ms(seconds: float) -> str:
    return "—" if not math.isfinite(seconds) else f"{seconds * 1e3:.2f} ms"


def _size(nbytes: float) -> str:
    for unit, k in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= k:
            return f"{nbytes / k:.2f} {unit}"
    return f"{int(nbytes)} B"


def ring_bytes(vector_bytes: int, ranks: int) -> int:
    """What each rank sends in a ring all-reduce of a vector: 2 (N-1)/N of it."""
    return int(round(2 * (ranks - 1) / ranks * vector_bytes)) if ranks > 0 else 0


def data_parallel_rows(dp: DataParallelResult) -> list[dict]:
    """Compute, communication and whole-step times of one DDP run (medians, slowest rank)."""
    t = dp.timings
    compute = max(x.compute_s for x in t)
    comm = max(x.allreduce_s for x in t)
    step = max(x.ddp_step_s for x in t)
    single = t[0].single_step_s
    n, b = dp.world_size, dp.plan.batch_per_rank
    rows = [
        {"what": f"compute: forward + backward of {b} images on one rank", "value": _ms(compute), "how": "measured"},
        {"what": f"communication: all-reduce of the gradients ({_size(dp.grad_bytes)}) over {n} ranks",
         "value": _ms(comm), "how": "measured"},
        {"what": f"bytes each rank sends in a ring all-reduce, 2(N-1)/N of {_size(dp.grad_bytes)}",
         "value": _size(ring_bytes(dp.grad_bytes, n)), "how": "computed"},
        {"what": f"one DDP step on {n} ranks ({n * b} images), all-reduce overlapped with backward",
         "value": _ms(step), "how": "measured"},
        {"what": f"one process, no DDP, the same {n * b} images", "value": _ms(single), "how": "measured"},
    ]
    if math.isfinite(single) and step > 0:
        rows.append({"what": f"speed-up of {n} ranks over one process", "value": f"{single / step:.2f}×",
                     "how": "measured"})
    if compute > 0:
        rows.append({"what": "communication / compute", "value": f"{comm / compute:.2f}", "how": "measured"})
    return rows


def model_parallel_rows(mp: ModelParallelResult) -> list[dict]:
    """What crossed between the devices and how long each side computed."""
    rows = [{"what": f"{m.what} {m.src} → {m.dst}, shape {tuple(m.shape)} {m.dtype}",
             "value": f"{_size(m.nbytes)} in {_ms(m.seconds)}", "how": "measured"} for m in mp.messages]
    rows += [{"what": f"compute on {where}", "value": _ms(s), "how": "measured"} for where, s in mp.compute_s.items()]
    return rows


def pipeline_rows(pp: PipelineResult) -> list[dict]:
    """Bubble computed by GPipe's formula next to the idle share measured on two ranks, per M."""
    return [{"what": f"M = {r.micro_batches} micro-batches", "computed bubble": f"{bubble_fraction(2, r.micro_batches):.0%}",
             "measured idle": f"{r.bubble:.0%}", "measured step": _ms(r.span_s)} for r in pp.sweep]


def verdict(dp: DataParallelResult) -> str:
    """One sentence on whether data parallel paid on this machine, from the measured times."""
    t = dp.timings
    compute, comm = max(x.compute_s for x in t), max(x.allreduce_s for x in t)
    single, step = t[0].single_step_s, max(x.ddp_step_s for x in t)
    paid = math.isfinite(single) and step < single
    if comm >= compute:
        why = ("the all-reduce took as long as the compute or longer, so adding ranks mostly adds waiting. "
               "A bigger batch per rank or a bigger model (more compute per byte of gradient) changes that.")
    else:
        why = "compute outweighs the all-reduce, so each extra rank takes real work off the others."
    return (f"Here {dp.world_size} ranks were {'faster' if paid else 'not faster'} than one process with the whole "
            f"batch: {why}")


def memory_rows(params: int, device_gb: float = 24.0) -> list[dict]:
    """Training memory for weights + gradients + Adam (16 bytes per parameter), and when a model must be split."""
    need = params * BYTES_PER_PARAM_ADAM
    limit = device_gb * 1e9 / BYTES_PER_PARAM_ADAM
    return [
        {"what": f"weights + gradients + Adam state of this model ({params:,} parameters)", "value": _size(need),
         "how": "computed"},
        {"what": f"largest model whose training state fits a {device_gb:g} GB GPU (before activations)",
         "value": f"{limit / 1e9:.1f} billion parameters", "how": "computed"},
    ]


def ring_captions(trace: RingTrace) -> list[str]:
    """One title per frame of the ring trace."""
    n = trace.result.shape[0]
    out = []
    for f in trace.frames:
        if f.phase == "start":
            out.append(f"Start: each of the {n} ranks holds only its own gradient (g0 … g{n - 1}), cut into {n} chunks")
        else:
            sends = ", ".join(f"{a}→{b}: chunk {c}" for a, b, c in f.sends)
            verb = "adds" if f.phase == "reduce-scatter" else "copies"
            out.append(f"{f.phase} step {f.step}: each rank sends one chunk to its right neighbour, which {verb} it ({sends})")
    return out


def ring_matches(trace: RingTrace, reduced: np.ndarray) -> float:
    """max |ring trace result - real all-reduce result| over every rank and entry."""
    return float(np.abs(trace.result - np.asarray(reduced, float)).max())
