"""Pipeline schedules: the GPipe timetable computed from the dependencies, and the bubble.

GPipe ("all forward, then all backward"): the batch is cut into M micro-batches; stage s
runs forward on micro-batch m once stage s-1 has finished it, and after its last forward it
runs the backward passes, each once stage s+1 has sent that micro-batch's gradient back.
With equal times per stage the idle share of the S x span rectangle is (S-1)/(M+S-1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PHASES = ("forward", "backward")


@dataclass(frozen=True)
class Slot:
    """One stage working on one micro-batch, from ``start`` to ``end`` (seconds or time units)."""

    stage: int
    micro_batch: int
    phase: str  # "forward" or "backward"
    start: float
    end: float


def bubble_fraction(stages: int, micro_batches: int) -> float:
    """The idle share of a GPipe step with equal stage times: (S-1)/(M+S-1)."""
    if stages < 1 or micro_batches < 1:
        raise ValueError("A pipeline needs at least one stage and one micro-batch.")
    return (stages - 1) / (micro_batches + stages - 1)


def _per_stage(value: float | Sequence[float], stages: int) -> list[float]:
    values = [float(value)] * stages if isinstance(value, (int, float)) else [float(v) for v in value]
    if len(values) != stages or min(values) < 0:
        raise ValueError("Give one non-negative time per stage.")
    return values


def gpipe_schedule(stages: int, micro_batches: int, t_forward: float | Sequence[float] = 1.0,
                   t_backward: float | Sequence[float] = 2.0) -> list[Slot]:
    """The GPipe timetable: S*M forward and S*M backward slots, each as early as its inputs allow."""
    bubble_fraction(stages, micro_batches)  # validates
    tf, tb = _per_stage(t_forward, stages), _per_stage(t_backward, stages)
    free = [0.0] * stages  # when each stage is next idle
    fwd_end = [[0.0] * micro_batches for _ in range(stages)]
    slots = []
    for m in range(micro_batches):
        for s in range(stages):
            start = max(free[s], fwd_end[s - 1][m] if s else 0.0)
            free[s] = fwd_end[s][m] = start + tf[s]
            slots.append(Slot(s, m, "forward", start, free[s]))
    bwd_end = [[0.0] * micro_batches for _ in range(stages)]
    for m in range(micro_batches):  # backward in micro-batch order, like torch's ScheduleGPipe
        for s in reversed(range(stages)):
            start = max(free[s], bwd_end[s + 1][m] if s < stages - 1 else 0.0)
            free[s] = bwd_end[s][m] = start + tb[s]
            slots.append(Slot(s, m, "backward", start, free[s]))
    return sorted(slots, key=lambda x: (x.start, x.stage))


def span(slots: Sequence[Slot]) -> float:
    """Time from the first start to the last end."""
    return max(s.end for s in slots) - min(s.start for s in slots) if slots else 0.0


def idle_fraction(slots: Sequence[Slot]) -> float:
    """The share of the stages x span rectangle in which no stage computes (the bubble, plus any waiting)."""
    if not slots:
        return 0.0
    stages = len({s.stage for s in slots})
    total = span(slots) * stages
    busy = sum(s.end - s.start for s in slots)
    return max(0.0, 1.0 - busy / total) if total > 0 else 0.0


def normalise(slots: Sequence[Slot]) -> list[Slot]:
    """The same slots with time measured from the first start."""
    if not slots:
        return []
    t0 = min(s.start for s in slots)
    return [Slot(s.stage, s.micro_batch, s.phase, s.start - t0, s.end - t0) for s in slots]
