"""Scaling out, run for real: worker processes joined by torch.distributed (gloo on CPU, world size 2).

Each part runs once per module (worker start-up dominates the time); the tests then check the
results against single-process PyTorch computed here. The last test checks no worker is left.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DistributedSampler

from explainers import scaling as sc
from explainers.scaling.digits import synthetic_digits
from models.scaling import build_scaling_model, pipeline_stages, toy_batch, toy_model
from tests.unit.scaling_procs import live_children

DP = sc.DataParallelPlan(world_size=2, batch_per_rank=8, steps=3, lr=0.5, model="mlp", seed=1, timing_repeats=2)
MP = sc.ModelParallelPlan(batch=12, lr=0.01, seed=2)
PP = sc.PipelinePlan(micro_batches=4, batch=32, width=64, seed=3)


@pytest.fixture(scope="module")
def runs():
    jobs = {k: sc.start(p, timeout_s=300) for k, p in (("dp", DP), ("mp", MP), ("pp", PP))}  # queued one at a time
    out = {}
    for k, job in jobs.items():
        job.join(400)
        snap = job.snapshot()
        assert snap.status == "finished", snap.message
        out[k] = snap.result
    return out


def _global_batches(plan: sc.DataParallelPlan):
    """Per step, each rank's slice as the real DistributedSampler cuts it (no process group needed)."""
    x, y = (torch.from_numpy(a) for a in synthetic_digits(plan.world_size * plan.batch_per_rank * plan.steps, plan.seed))
    ds = torch.utils.data.TensorDataset(x, y)
    orders = [list(DistributedSampler(ds, plan.world_size, r, shuffle=True, seed=plan.seed)) for r in range(plan.world_size)]
    b = plan.batch_per_rank
    return [[(x[o[s * b:(s + 1) * b]], y[o[s * b:(s + 1) * b]]) for o in orders] for s in range(plan.steps)]


def test_ddp_on_n_ranks_equals_one_process_with_the_global_batch(runs):
    dp = runs["dp"]
    model = build_scaling_model(DP.model, DP.seed)
    opt = torch.optim.SGD(model.parameters(), lr=DP.lr)
    batches = _global_batches(DP)
    for step, slices in enumerate(batches):
        opt.zero_grad()
        xs, ys = zip(*slices)
        F.cross_entropy(model(torch.cat(xs)), torch.cat(ys)).backward()  # one process, batch N*B
        if step == 0:
            for n, p in model.named_parameters():
                np.testing.assert_allclose(dp.reduced_grads[n][0], p.grad.numpy(), rtol=1e-4, atol=1e-6)
        opt.step()
    weights = torch.cat([p.detach().flatten() for p in model.parameters()]).numpy()
    np.testing.assert_allclose(dp.weights, weights, rtol=1e-4, atol=1e-6)
    assert dp.reference_max_diff < 1e-5 and dp.reference_grad_max_diff < 1e-5  # the workers' own check
    assert dp.ranks_max_diff == 0.0  # every replica holds the very same weights


def test_ddp_local_gradients_losses_and_the_real_allreduce(runs):
    dp = runs["dp"]
    model = build_scaling_model(DP.model, DP.seed)
    for r, (x, y) in enumerate(_global_batches(DP)[0]):  # step 1: each rank's own slice
        model.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        assert dp.losses[0, r] == pytest.approx(loss.item(), rel=1e-5)
        for n, p in model.named_parameters():
            np.testing.assert_allclose(dp.local_grads[n][r], p.grad.numpy(), rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(dp.labels[r], y.numpy())
    for n in dp.param_names:
        local, reduced = dp.local_grads[n], dp.reduced_grads[n]
        np.testing.assert_array_equal(reduced[1], reduced[0])  # identical on every rank, bit for bit
        np.testing.assert_allclose(reduced[0], local.mean(axis=0), rtol=1e-5, atol=1e-7)
        assert not np.allclose(local[0], local[1])  # different data, different local gradients
        trace = sc.ring_allreduce(dp.flat_local(n) / DP.world_size)  # the animation, from the real local grads
        np.testing.assert_allclose(trace.result, reduced.reshape(DP.world_size, -1), rtol=1e-5, atol=1e-7)
    assert dp.losses.shape == (DP.steps, 2) and dp.backend == "gloo"
    assert sum(t for t, _ in dp.buckets) == len(dp.param_names)
    assert all(np.isfinite([t.compute_s, t.allreduce_s, t.ddp_step_s]).all() for t in dp.timings)
    assert np.isfinite(dp.timings[0].single_step_s)


def test_model_parallel_forward_and_backward_equal_the_single_device_model(runs):
    mp = runs["mp"]
    model = toy_model(MP.seed)
    x, labels = toy_batch(MP.batch, MP.seed)
    out = model(x)
    loss = F.mse_loss(out, labels)
    loss.backward()
    np.testing.assert_allclose(mp.output, out.detach().numpy(), rtol=1e-6, atol=1e-7)
    assert mp.loss == pytest.approx(loss.item(), rel=1e-6)
    assert set(mp.grads) == {n for n, _ in model.named_parameters()}
    for n, p in model.named_parameters():
        np.testing.assert_allclose(mp.grads[n], p.grad.numpy(), rtol=1e-6, atol=1e-7)
    assert mp.max_diff < 1e-6
    assert mp.mode == "two processes"
    act, grad = mp.messages
    assert (act.what, act.shape, act.nbytes) == ("activation", (MP.batch, 10), MP.batch * 10 * 4)
    assert (grad.what, grad.shape, grad.nbytes) == ("gradient", (MP.batch, 10), MP.batch * 10 * 4)
    assert act.src.startswith("rank 0") and grad.src.startswith("rank 1")
    assert [p[0].split()[0] for p in mp.placements] == ["net1", "relu", "net2", "MSELoss"]


def test_pipeline_micro_batches_give_the_full_batch_gradient_and_a_consistent_timeline(runs):
    pp = runs["pp"]
    assert pp.grad_max_diff < 1e-5
    s0, s1 = pipeline_stages(PP.width, PP.seed)
    x, y = (torch.from_numpy(a) for a in synthetic_digits(PP.batch, PP.seed))
    assert s1(s0(x)).shape == (PP.batch, 10)
    assert [r.micro_batches for r in pp.sweep] == list(sc.SWEEP) and pp.run.micro_batches == PP.micro_batches
    assert pp.activation_bytes == PP.batch // PP.micro_batches * PP.width * 4
    for run in pp.sweep:
        m = run.micro_batches
        at = {(s.stage, s.micro_batch, s.phase): s for s in run.slots}
        assert len(at) == 4 * m  # 2 stages x m micro-batches x (forward, backward)
        assert min(s.start for s in run.slots) == 0.0
        for i in range(m):  # measured on one clock: the data dependencies show in the times
            assert at[(1, i, "forward")].start >= at[(0, i, "forward")].end
            assert at[(0, i, "backward")].start >= at[(1, i, "backward")].end
        assert 0.0 <= run.bubble < 1.0
        assert run.span_s == pytest.approx(max(s.end for s in run.slots))


def test_no_worker_process_is_left(runs):
    assert live_children() == []
    assert sc.live_jobs() == []
