"""Time per training step with DistributedDataParallel on 1 and 2 ranks, and a GPipe step per M.

    python -m benchmarks.scaling_speed [--batch 64] [--models mlp,cnn] [--repeats 20] [--json PATH]

Runs the Scaling out lesson's own workers (``explainers.scaling.run``): gloo with one torch thread
per rank on CPU; NCCL with one GPU per rank when the machine has enough CUDA GPUs (the backend
and device are printed). Per model it measures, as medians over ``--repeats`` (every rank starts
each repeat together after a barrier, the slowest rank is reported):

- 1 rank, batch B: the DDP step (forward, backward, all-reduce with itself, SGD step);
- 2 ranks, batch B each (weak scaling: twice the images per step);
- 2 ranks, batch B/2 each (strong scaling: the same B images per step, split);
- with each: compute alone (DDP's no_sync), the all-reduce of all gradients alone, and one
  process without DDP doing the whole global batch (rank 0), in the same run.

Then one pipeline run (2 stages on 2 ranks, batch 256, width 512): the measured step time and
idle share per micro-batch count M, next to GPipe's (S-1)/(M+S-1). Prints the machine and the
load average before and after (numbers from a busy machine are not comparable).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64, help="B: images per step on one rank")
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--json", default=None, help="also write the numbers here")
    args = ap.parse_args(argv)

    import torch

    from explainers import scaling as sc
    from explainers.scaling.schedule import bubble_fraction

    m = sc.machine()
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {m.describe()}")
    print(f"python {platform.python_version()}, torch {torch.__version__}, load average before: {_load()}")
    rows = []
    b = args.batch
    for model in args.models.split(","):
        for ranks, per_rank in ((1, b), (2, b), (2, max(1, b // 2))):
            plan = sc.DataParallelPlan(world_size=ranks, batch_per_rank=per_rank, steps=2, model=model,
                                       timing_repeats=args.repeats)
            t0 = time.perf_counter()
            r = sc.run(plan, timeout_s=900)
            wall = time.perf_counter() - t0
            step = max(t.ddp_step_s for t in r.timings)
            row = {"model": model, "ranks": ranks, "batch_per_rank": per_rank, "global_batch": ranks * per_rank,
                   "backend": r.backend, "device": r.device, "step_ms": step * 1e3,
                   "images_per_s": ranks * per_rank / step,
                   "compute_ms": max(t.compute_s for t in r.timings) * 1e3,
                   "allreduce_ms": max(t.allreduce_s for t in r.timings) * 1e3,
                   "one_process_ms": r.timings[0].single_step_s * 1e3, "grad_kb": r.grad_bytes / 1e3,
                   "job_wall_s": wall}
            rows.append(row)
            print(f"{model:4s} ranks {ranks} x batch {per_rank:4d} ({r.backend}, {r.device}): step "
                  f"{row['step_ms']:7.2f} ms, {row['images_per_s']:8.0f} img/s | compute {row['compute_ms']:6.2f} ms, "
                  f"all-reduce {row['allreduce_ms']:6.2f} ms ({row['grad_kb']:.0f} kB), one process with "
                  f"{ranks * per_rank} images {row['one_process_ms']:6.2f} ms | job {wall:.1f} s incl. start-up",
                  flush=True)
    pp = sc.run(sc.PipelinePlan(micro_batches=4), timeout_s=900)
    pipe = [{"micro_batches": r.micro_batches, "step_ms": r.span_s * 1e3, "measured_idle": r.bubble,
             "computed_bubble": bubble_fraction(2, r.micro_batches)} for r in pp.sweep]
    for p in pipe:
        print(f"pipeline M = {p['micro_batches']:2d}: step {p['step_ms']:7.2f} ms, idle {p['measured_idle']:.0%} "
              f"(GPipe's formula: {p['computed_bubble']:.0%})")
    print(f"load average after: {_load()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": m.describe(), "torch": torch.__version__, "ddp": rows, "pipeline": pipe}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
