"""Ring all-reduce, step by step, on real per-rank gradients (numpy; an explanation, not the real thing).

N ranks sit in a ring and each cuts its vector into N chunks. Reduce-scatter: in N-1 steps
every rank passes one chunk to its right neighbour, which adds it to its own; afterwards
rank r holds the full sum of chunk (r+1) mod N. All-gather: N-1 more steps pass the finished
chunks round. Each rank sends 2(N-1)/N of the vector in all, whatever N is. The lesson checks
this trace against the result of the real ``torch.distributed.all_reduce``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RingFrame:
    """The ring after one step: every rank's buffer and which ranks' data each chunk holds."""

    phase: str  # "start", "reduce-scatter" or "all-gather"
    step: int  # 1-based within the phase (0 for "start")
    sends: tuple[tuple[int, int, int], ...]  # (from rank, to rank, chunk) in this step
    buffers: np.ndarray  # (N, K) every rank's vector after the step
    contributors: np.ndarray  # (N, N, N) bool: [rank, chunk, source rank] is in that chunk's sum

    @property
    def counts(self) -> np.ndarray:
        """(N ranks, N chunks) how many ranks' values each chunk already sums."""
        return self.contributors.sum(axis=-1)


@dataclass(frozen=True)
class RingTrace:
    """All frames of a ring all-reduce and the chunk boundaries."""

    frames: list[RingFrame]
    bounds: list[tuple[int, int]]  # [start, end) of each chunk in the flat vector
    bytes_per_rank: int  # what rank 0 sends in all, as float32 (about 2(N-1)/N of the vector)

    @property
    def result(self) -> np.ndarray:
        """(N, K) every rank's vector at the end (all rows equal the sum)."""
        return self.frames[-1].buffers


def ring_allreduce(local: np.ndarray) -> RingTrace:
    """(N, K) one flat vector per rank -> the ring all-reduce (sum) trace; frames 0..2(N-1)."""
    local = np.asarray(local, dtype=np.float64)
    if local.ndim != 2 or local.shape[0] < 1:
        raise ValueError("Give one flat vector per rank: an (N, K) array.")
    n, k = local.shape
    edges = np.linspace(0, k, n + 1).round().astype(int)
    bounds = [(int(edges[c]), int(edges[c + 1])) for c in range(n)]
    buf = local.copy()
    who = np.zeros((n, n, n), dtype=bool)  # [rank, chunk, source]
    for r in range(n):
        who[r, :, r] = True
    frames = [RingFrame("start", 0, (), buf.copy(), who.copy())]
    for phase in ("reduce-scatter", "all-gather"):
        for step in range(n - 1):
            before, who_before = buf.copy(), who.copy()  # every send in a step uses the values before it
            sends = []
            for r in range(n):
                chunk = (r - step) % n if phase == "reduce-scatter" else (r + 1 - step) % n
                dst = (r + 1) % n
                a, b = bounds[chunk]
                if phase == "reduce-scatter":
                    buf[dst, a:b] += before[r, a:b]
                    who[dst, chunk] |= who_before[r, chunk]
                else:
                    buf[dst, a:b] = before[r, a:b]
                    who[dst, chunk] = who_before[r, chunk]
                sends.append((r, dst, chunk))
            frames.append(RingFrame(phase, step + 1, tuple(sends), buf.copy(), who.copy()))
    sent = sum((b - a) for f in frames[1:] for (_, _, c) in f.sends[:1] for a, b in [bounds[c]])
    return RingTrace(frames, bounds, int(sent * 4))
