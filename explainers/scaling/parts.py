"""What each rank runs (torch): the data-parallel, model-parallel and pipeline lessons.

Called by ``explainers.scaling.worker`` after ``init_process_group``. Each function returns a
plain dict of numpy arrays and numbers (pickled back to the launcher). Every rank builds the
same data and the same initial weights from the plan's seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from statistics import median
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from explainers.scaling.digits import synthetic_digits
from explainers.scaling.plans import (
    SWEEP,
    DataParallelPlan,
    ModelParallelPlan,
    PipelinePlan,
)
from models.scaling import build_scaling_model, pipeline_stages, toy_batch, toy_model

Progress = Callable[[int, int, str], None]  # (done, total, message)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], Any], device: torch.device, repeats: int, barrier: bool = True) -> float:
    """Median seconds of fn() over repeats; every rank starts each repeat together."""
    times = []
    for _ in range(repeats):
        if barrier:
            dist.barrier()
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return float(median(times))


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


# ----------------------------------------------------------------------------- data parallel


def data_parallel(rank: int, world: int, plan: DataParallelPlan, device: torch.device, progress: Progress) -> dict:
    """DDP training with the real all-reduce; records step 1's local gradients through a comm hook."""
    from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
    from torch.nn.parallel import DistributedDataParallel as DDP
    from torch.utils.data import DistributedSampler, TensorDataset

    b = plan.batch_per_rank
    x_np, y_np = synthetic_digits(world * b * plan.steps, plan.seed)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    dataset = TensorDataset(x, y)
    # One DistributedSampler per rank (the real one): rank r's slice; rank 0 also needs all of them
    # to rebuild the global batch for the one-process check.
    orders = [list(DistributedSampler(dataset, num_replicas=world, rank=r, shuffle=True, seed=plan.seed))
              for r in range(world)]

    def batch(r: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = orders[r][step * b:(step + 1) * b]
        return x[idx], y[idx]  # (B, 1, 28, 28), (B,)

    model = build_scaling_model(plan.model, plan.seed).to(device)
    names = [n for n, _ in model.named_parameters()]
    by_id = {id(p): n for n, p in model.named_parameters()}
    ddp = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    record: dict[str, Any] = {"on": True, "local": {}, "buckets": []}

    def recording_allreduce(state, bucket):  # no annotations: DDP checks them and this module defers them
        # DDP calls this once per gradient bucket, with this rank's own gradients in it. Copy them,
        # then hand the bucket to DDP's default hook: divide by N and the real dist.all_reduce.
        if state["on"]:
            buf = bucket.buffer()
            state["buckets"].append((len(bucket.parameters()), buf.numel() * buf.element_size()))
            for p, g in zip(bucket.parameters(), bucket.gradients()):
                state["local"][by_id[id(p)]] = _numpy(g)
        return default_hooks.allreduce_hook(None, bucket)

    ddp.register_comm_hook(record, recording_allreduce)
    opt = torch.optim.SGD(model.parameters(), lr=plan.lr)
    total = plan.steps + 4
    losses, reduced = [], {}
    for step in range(plan.steps):
        xb, yb = batch(rank, step)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(ddp(xb.to(device)), yb.to(device))
        loss.backward()  # DDP all-reduces the gradients during backward
        if step == 0:
            record["on"] = False
            reduced = {n: _numpy(p.grad) for n, p in model.named_parameters()}
        opt.step()
        losses.append(loss.item())
        progress(step + 1, total, f"step {step + 1} of {plan.steps}")
    final = _numpy(torch.cat([p.detach().flatten() for p in model.parameters()]))

    ref_diff = ref_grad_diff = float("nan")
    if rank == 0:
        # The check: one process, no DDP, the whole global batch (all ranks' slices) each step.
        ref = build_scaling_model(plan.model, plan.seed).to(device)
        ref_opt = torch.optim.SGD(ref.parameters(), lr=plan.lr)
        for step in range(plan.steps):
            xs, ys = zip(*(batch(r, step) for r in range(world)))
            ref_opt.zero_grad(set_to_none=True)
            F.cross_entropy(ref(torch.cat(xs).to(device)), torch.cat(ys).to(device)).backward()  # (N*B, 10)
            if step == 0:
                ref_grad_diff = max(float(np.abs(_numpy(p.grad) - reduced[n]).max())
                                    for n, p in ref.named_parameters())
            ref_opt.step()
        ref_flat = _numpy(torch.cat([p.detach().flatten() for p in ref.parameters()]))
        ref_diff = float(np.abs(ref_flat - final).max())
    progress(plan.steps + 1, total, "timing compute")

    # Timings: compute alone (no_sync skips the all-reduce), the all-reduce alone, a whole step.
    xb, yb = (t.to(device) for t in batch(rank, 0))

    def fwd_bwd() -> None:
        F.cross_entropy(ddp(xb), yb).backward()

    def compute_only() -> None:
        opt.zero_grad(set_to_none=True)
        with ddp.no_sync():
            fwd_bwd()

    def ddp_step() -> None:
        opt.zero_grad(set_to_none=True)
        fwd_bwd()
        opt.step()

    flat = torch.zeros(final.size, device=device)
    compute_s = _timed(compute_only, device, plan.timing_repeats)
    progress(plan.steps + 2, total, "timing all-reduce")
    allreduce_s = _timed(lambda: dist.all_reduce(flat), device, plan.timing_repeats)
    progress(plan.steps + 3, total, "timing DDP steps")
    step_s = _timed(ddp_step, device, plan.timing_repeats)
    single_s = float("nan")
    dist.barrier()
    if rank == 0:
        xs, ys = zip(*(batch(r, 0) for r in range(world)))
        xg, yg = torch.cat(xs).to(device), torch.cat(ys).to(device)
        ref = build_scaling_model(plan.model, plan.seed).to(device)
        ref_opt = torch.optim.SGD(ref.parameters(), lr=plan.lr)

        def single_step() -> None:
            ref_opt.zero_grad(set_to_none=True)
            F.cross_entropy(ref(xg), yg).backward()
            ref_opt.step()

        single_s = _timed(single_step, device, plan.timing_repeats, barrier=False)
    dist.barrier()
    progress(total, total, "done")
    xb0, yb0 = batch(rank, 0)
    return {
        "device": str(device), "param_names": names, "local_grads": record["local"], "reduced_grads": reduced,
        "losses": np.asarray(losses), "final_params": final, "reference_max_diff": ref_diff,
        "reference_grad_max_diff": ref_grad_diff, "buckets": record["buckets"],
        "timing": {"compute_s": compute_s, "allreduce_s": allreduce_s, "ddp_step_s": step_s,
                   "single_step_s": single_s},
        "grad_bytes": int(final.size * 4), "labels": _numpy(yb0),
        "images": (_numpy(xb0[:8, 0]) * 255).round().astype(np.uint8),
    }


# ----------------------------------------------------------------------------- model parallel


def _toy_reference(plan: ModelParallelPlan) -> dict:
    """The whole ToyModel on one CPU: the oracle for the split run."""
    x, labels = toy_batch(plan.batch, plan.seed)
    model = toy_model(plan.seed)
    out = model(x)
    loss = F.mse_loss(out, labels)
    loss.backward()
    return {"reference_output": _numpy(out), "reference_loss": loss.item(),
            "reference_grads": {n: _numpy(p.grad) for n, p in model.named_parameters()}}


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _message(what: str, src: str, dst: str, t: torch.Tensor, seconds: float) -> dict:
    return {"what": what, "src": src, "dst": dst, "shape": tuple(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
            "nbytes": t.numel() * t.element_size(), "seconds": seconds}


def model_parallel(rank: int, world: int, plan: ModelParallelPlan, device: torch.device, progress: Progress) -> dict:
    """One SGD step of the ToyModel split in two: on cuda:0/cuda:1, or on two ranks with send/recv."""
    x, labels = toy_batch(plan.batch, plan.seed)
    if plan.use_gpus:
        return _model_parallel_gpus(plan, x, labels)
    where = f"rank {rank} (CPU process {rank})"
    full = toy_model(plan.seed)  # both ranks draw the same weights, each keeps its half
    h_shape = (plan.batch, full.net1.out_features)
    out: dict[str, Any] = {"mode": "two processes", "messages": []}
    half = full.net1 if rank == 0 else full.net2
    half(torch.zeros(plan.batch, 10)).sum().backward()  # warm-up: a process's first matmul is slow; not timed
    half.zero_grad(set_to_none=True)
    dist.barrier()  # both sides ready: the times below are the step's, not the other process's start-up
    if rank == 0:
        opt = torch.optim.SGD(full.net1.parameters(), lr=plan.lr)
        t0 = time.perf_counter()
        h = full.relu(full.net1(x))  # (B, 10): the activation that must travel
        t_fwd = time.perf_counter() - t0
        t0 = time.perf_counter()
        dist.send(h.detach().contiguous(), dst=1)
        out["messages"].append(_message("activation", where, "rank 1 (CPU process 1)", h, time.perf_counter() - t0))
        grad_h = torch.empty(h_shape)
        t0 = time.perf_counter()
        dist.recv(grad_h, src=1)  # (B, 10): dLoss/dh, computed on the other side
        t_wait = time.perf_counter() - t0
        t0 = time.perf_counter()
        h.backward(grad_h)  # continues the backward pass on this side
        t_bwd = time.perf_counter() - t0
        opt.step()
        out.update(_toy_reference(plan))
        out["placements"] = [("net1 Linear(10, 10)", where, _params(full.net1)), ("relu", where, 0)]
        out["grads"] = {n: _numpy(p.grad) for n, p in full.named_parameters() if n.startswith("net1")}
        out["compute_s"] = {where: t_fwd + t_bwd}
        out["wait_s"] = t_wait
    else:
        opt = torch.optim.SGD(full.net2.parameters(), lr=plan.lr)
        h = torch.empty(h_shape)
        dist.recv(h, src=0)
        h.requires_grad_()  # a leaf here: its .grad is what rank 0 needs
        t0 = time.perf_counter()
        y = full.net2(h)  # (B, 5)
        loss = F.mse_loss(y, labels)
        loss.backward()
        t_compute = time.perf_counter() - t0
        t0 = time.perf_counter()
        dist.send(h.grad.contiguous(), dst=0)
        out["messages"].append(_message("gradient", where, "rank 0 (CPU process 0)", h.grad, time.perf_counter() - t0))
        opt.step()
        out.update(placements=[("net2 Linear(10, 5)", where, _params(full.net2)), ("MSELoss", where, 0)],
                   grads={n: _numpy(p.grad) for n, p in full.named_parameters() if n.startswith("net2")},
                   compute_s={where: t_compute}, loss=loss.item(), output=_numpy(y))
    progress(1, 1, "done")
    return out


def _model_parallel_gpus(plan: ModelParallelPlan, x: torch.Tensor, labels: torch.Tensor) -> dict:
    """The tutorial exactly: one process, net1 on cuda:0, net2 on cuda:1, .to() between them."""
    model = toy_model(plan.seed, "cuda:0", "cuda:1")
    opt = torch.optim.SGD(model.parameters(), lr=plan.lr)
    seen: dict[str, torch.Tensor] = {}

    def keep_activation(_module: torch.nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        seen["activation"] = output
        output.register_hook(lambda g: seen.__setitem__("gradient", g))

    model.relu.register_forward_hook(keep_activation)
    d0, d1 = torch.device("cuda:0"), torch.device("cuda:1")
    t0 = time.perf_counter()
    y = model(x)  # (B, 5) on cuda:1
    loss = F.mse_loss(y, labels.to(d1))
    loss.backward()
    for d in (d0, d1):
        _sync(d)
    t_step = time.perf_counter() - t0
    opt.step()
    act, grad = seen["activation"], seen["gradient"]

    def copy_time(t: torch.Tensor, dst: torch.device) -> float:
        _sync(t.device)
        t0 = time.perf_counter()
        t.to(dst)
        _sync(dst)
        return time.perf_counter() - t0

    out = {"mode": "two GPUs", "loss": loss.item(), "output": _numpy(y),
           "placements": [("net1 Linear(10, 10)", "cuda:0", _params(model.net1)), ("relu", "cuda:0", 0),
                          ("net2 Linear(10, 5)", "cuda:1", _params(model.net2)), ("MSELoss", "cuda:1", 0)],
           "messages": [_message("activation", "cuda:0", "cuda:1", act, copy_time(act, d1)),
                        _message("gradient", "cuda:1", "cuda:0", grad, copy_time(grad, d0))],
           "grads": {n: _numpy(p.grad) for n, p in model.named_parameters()},
           "compute_s": {"cuda:0 + cuda:1 (one step)": t_step}}
    out.update(_toy_reference(plan))
    return out


# ----------------------------------------------------------------------------- pipeline


def pipeline(rank: int, world: int, plan: PipelinePlan, device: torch.device, progress: Progress) -> dict:
    """GPipe on two ranks: stage 0 (rank 0) sends activations on, stage 1 (rank 1) sends gradients back."""
    stage0, stage1 = pipeline_stages(plan.width, plan.seed)
    stage = (stage0 if rank == 0 else stage1).to(device)
    x_np, y_np = synthetic_digits(plan.batch, plan.seed)
    x, y = torch.from_numpy(x_np).to(device), torch.from_numpy(y_np).to(device)

    def step(m: int) -> list[tuple]:
        """One GPipe step with m micro-batches -> (stage, micro-batch, phase, start, end) of this rank."""
        stage.zero_grad(set_to_none=True)
        xs, ys = x.chunk(m), y.chunk(m)
        mb = plan.batch // m
        events, keep, pending = [], [], []
        dist.barrier()
        for i in range(m):  # all forwards
            if rank == 0:
                t0 = time.perf_counter()
                h = stage(xs[i])  # (mb, width)
                _sync(device)
                events.append((0, i, "forward", t0, time.perf_counter()))
                pending.append(dist.isend(h.detach().contiguous(), dst=1))  # go on while it travels
                keep.append(h)
            else:
                h = torch.empty(mb, plan.width, device=device)
                dist.recv(h, src=0)
                h.requires_grad_()
                t0 = time.perf_counter()
                loss = F.cross_entropy(stage(h), ys[i]) / m  # mean over the whole batch in the end
                _sync(device)
                events.append((1, i, "forward", t0, time.perf_counter()))
                keep.append((h, loss))
        for i in range(m):  # then all backwards, in micro-batch order
            if rank == 0:
                g = torch.empty(mb, plan.width, device=device)
                dist.recv(g, src=1)
                t0 = time.perf_counter()
                keep[i].backward(g)
                _sync(device)
                events.append((0, i, "backward", t0, time.perf_counter()))
            else:
                h, loss = keep[i]
                t0 = time.perf_counter()
                loss.backward()
                _sync(device)
                events.append((1, i, "backward", t0, time.perf_counter()))
                pending.append(dist.isend(h.grad.contiguous(), dst=0))
        for work in pending:
            work.wait()
        return events

    counts = sorted(set(SWEEP) - {plan.micro_batches}) + [plan.micro_batches]  # the plan's M last: its grads are checked
    results: dict[int, list[tuple]] = {}
    for k, m in enumerate(counts):
        step(m)  # warm-up: first calls allocate
        results[m] = step(m)
        progress(k + 1, len(counts) + 1, f"{m} micro-batches")
    mine = results[plan.micro_batches]
    grads = {n: p.grad.detach().clone() for n, p in stage.named_parameters()}

    # The check: the full batch through the whole model on one process, same weights.
    ref0, ref1 = (m.to(device) for m in pipeline_stages(plan.width, plan.seed))
    F.cross_entropy(ref1(ref0(x)), y).backward()
    ref = ref0 if rank == 0 else ref1
    diff = max(float((grads[n] - p.grad).abs().max()) for n, p in ref.named_parameters())
    fwd = [e[4] - e[3] for e in mine if e[2] == "forward"]
    bwd = [e[4] - e[3] for e in mine if e[2] == "backward"]
    progress(len(counts) + 1, len(counts) + 1, "done")
    return {"events": results, "activation_bytes": (plan.batch // plan.micro_batches) * plan.width * 4,
            "grad_max_diff": diff, "mean_forward_s": float(np.mean(fwd)), "mean_backward_s": float(np.mean(bwd))}


RUNNERS = {"data_parallel": data_parallel, "model_parallel": model_parallel, "pipeline": pipeline}
