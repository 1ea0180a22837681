"""Scaling out, the parts that need no worker processes: schedule maths, the ring, data, plans,
machine and port checks, models, snippets, reports and figures. torch is the oracle where it applies."""

from __future__ import annotations

import datetime
import runpy
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from explainers import scaling as sc
from explainers.figures import scaling as fig
from explainers.scaling import report, snippets
from explainers.scaling.digits import synthetic_digits
from explainers.scaling.launch import Machine
from explainers.scaling.schedule import normalise, span
from explainers.scaling.worker import explain_init_error
from models.scaling import (
    SCALING_MODELS,
    ToyModel,
    build_scaling_model,
    pipeline_stages,
    toy_batch,
    toy_model,
)

# ----------------------------------------------------------------------------- GPipe schedule


@given(st.integers(1, 8), st.integers(1, 32))
@settings(max_examples=60, deadline=None)
def test_gpipe_idle_share_is_the_bubble_formula(stages, micro):
    slots = sc.gpipe_schedule(stages, micro, 1.0, 2.0)
    assert len(slots) == 2 * stages * micro
    assert sc.idle_fraction(slots) == pytest.approx((stages - 1) / (micro + stages - 1))
    assert sc.bubble_fraction(stages, micro) == pytest.approx((stages - 1) / (micro + stages - 1))
    assert span(slots) == pytest.approx((micro + stages - 1) * 3.0)  # (M+S-1)(tf+tb)


@given(st.integers(1, 5), st.integers(1, 10),
       st.lists(st.floats(0.1, 3.0), min_size=5, max_size=5), st.lists(st.floats(0.1, 3.0), min_size=5, max_size=5))
@settings(max_examples=40, deadline=None)
def test_gpipe_respects_every_dependency_with_uneven_stages(stages, micro, tf, tb):
    slots = sc.gpipe_schedule(stages, micro, tf[:stages], tb[:stages])
    at = {(s.stage, s.micro_batch, s.phase): s for s in slots}
    for s in range(stages):
        mine = sorted((x for x in slots if x.stage == s), key=lambda x: x.start)
        assert all(a.end <= b.start + 1e-12 for a, b in zip(mine, mine[1:]))  # a stage does one thing at a time
        assert [x.phase for x in mine] == ["forward"] * micro + ["backward"] * micro  # all forward, then backward
        for m in range(micro):
            f, b = at[(s, m, "forward")], at[(s, m, "backward")]
            assert f.end - f.start == pytest.approx(tf[s]) and b.end - b.start == pytest.approx(tb[s])
            if s:
                assert f.start >= at[(s - 1, m, "forward")].end - 1e-12  # needs the previous stage's activation
            if s < stages - 1:
                assert b.start >= at[(s + 1, m, "backward")].end - 1e-12  # needs the next stage's gradient


def test_schedule_rejects_nonsense_and_normalises():
    with pytest.raises(ValueError):
        sc.bubble_fraction(0, 4)
    with pytest.raises(ValueError):
        sc.gpipe_schedule(2, 4, [1.0], 2.0)
    assert sc.bubble_fraction(1, 5) == 0.0  # one stage: nothing to wait for
    shifted = [sc.Slot(0, 0, "forward", 10.0, 11.0), sc.Slot(1, 0, "forward", 11.0, 13.0)]
    assert [(s.start, s.end) for s in normalise(shifted)] == [(0.0, 1.0), (1.0, 3.0)]
    assert sc.idle_fraction([]) == 0.0


# ----------------------------------------------------------------------------- ring all-reduce


@given(st.integers(1, 6), st.integers(1, 40), st.integers(0, 2**16))
@settings(max_examples=50, deadline=None)
def test_ring_allreduce_sums_on_every_rank(n, k, seed):
    local = np.random.default_rng(seed).normal(size=(n, k))
    trace = sc.ring_allreduce(local)
    assert len(trace.frames) == 1 + 2 * (n - 1)
    np.testing.assert_allclose(trace.result, np.broadcast_to(local.sum(0), (n, k)), rtol=1e-12, atol=1e-12)
    assert trace.frames[-1].counts.min() == n  # every chunk on every rank holds all n contributions
    after_rs = trace.frames[n - 1]
    for r in range(n):  # after reduce-scatter rank r owns the full sum of chunk (r + 1) mod n
        assert after_rs.counts[r, (r + 1) % n] == n


def test_ring_moves_two_n_minus_one_over_n_of_the_vector():
    for n in (2, 3, 4):
        trace = sc.ring_allreduce(np.ones((n, 12 * n)))
        assert trace.bytes_per_rank == report.ring_bytes(12 * n * 4, n)
    with pytest.raises(ValueError):
        sc.ring_allreduce(np.ones(5))


def test_ring_of_pre_divided_gradients_matches_torch_mean():
    g = torch.randn(3, 50, dtype=torch.float64)
    trace = sc.ring_allreduce((g / 3).numpy())
    np.testing.assert_allclose(trace.result[1], g.mean(0).numpy(), rtol=1e-12)


# ----------------------------------------------------------------------------- data, plans, machine, ports


def test_synthetic_digits_are_reproducible_and_in_range():
    x, y = synthetic_digits(64, seed=3)
    x2, y2 = synthetic_digits(64, seed=3)
    assert x.shape == (64, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert 0.0 <= x.min() and x.max() <= 1.0 and set(y) <= set(range(10))
    assert not np.array_equal(synthetic_digits(8, seed=4)[0], x[:8])


def test_plans_report_their_problems():
    assert sc.DataParallelPlan().problems() == []
    assert len(sc.DataParallelPlan(batch_per_rank=0, steps=0, lr=float("nan"), model="x").problems()) == 4
    assert sc.PipelinePlan(micro_batches=3).problems()  # 256 does not split into 3
    assert sc.PipelinePlan(micro_batches=16).problems() == []
    assert sc.ModelParallelPlan(batch=0).problems()
    assert sc.ModelParallelPlan().ranks == 2 and sc.ModelParallelPlan(use_gpus=True).ranks == 1


def test_world_size_beyond_the_machine_is_refused_with_a_clear_message():
    laptop = Machine(cpus=2, gpus=0)
    sc.check_world_size(2, laptop)
    with pytest.raises(sc.WorldSizeError, match="World size 3 needs one CPU core per rank.*2 CPU cores.*at most 2"):
        sc.check_world_size(3, laptop)
    assert Machine(1, 0).max_world_size == 2  # the lesson always gets its two ranks
    assert Machine(16, 0).max_world_size == 8
    assert Machine(2, 4).max_world_size == 4 and Machine(2, 4).backend(4) == "nccl"
    assert Machine(2, 1).backend(2) == "gloo" and Machine(64, 0).backend(2) == "gloo"
    assert Machine(2, 1).backend(1) == "nccl"  # one rank on the one GPU
    with pytest.raises(sc.WorldSizeError, match="GPU per rank"):
        sc.check_world_size(5, Machine(8, 4))
    with pytest.raises(sc.WorldSizeError):
        sc.start(sc.DataParallelPlan(world_size=sc.machine().max_world_size + 1))  # before any process starts


def test_a_port_in_use_is_refused_and_a_free_one_is_found():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(sc.PortInUse, match=f"Port {port} is already in use"):
            sc.check_port(port)
        with pytest.raises(sc.PortInUse):
            sc.start(sc.DataParallelPlan(), port=port)
    free = sc.free_port()
    sc.check_port(free)
    with pytest.raises(ValueError):
        sc.check_port(80)


def test_the_real_rendezvous_error_for_a_taken_port_becomes_one_line():
    from torch.distributed import TCPStore

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(Exception) as info:  # what init_process_group's store raises on rank 0
            TCPStore("127.0.0.1", port, 2, True, timeout=datetime.timedelta(seconds=2))
    msg = explain_init_error(info.value, port, 30)
    assert msg.startswith(f"Port {port} is already in use") and "\n" not in msg
    assert "did not all join" in explain_init_error(RuntimeError("Socket Timeout"), port, 30)


# ----------------------------------------------------------------------------- models


def test_toy_model_is_the_tutorials_and_the_split_is_the_same_maths():
    model = toy_model(0)
    assert isinstance(model, ToyModel)
    assert (model.net1.in_features, model.net1.out_features, model.net2.out_features) == (10, 10, 5)
    x, labels = toy_batch(20, 0)
    assert x.shape == (20, 10) and labels.shape == (20, 5)
    torch.testing.assert_close(toy_model(0).net2.weight, model.net2.weight)  # same seed, same weights
    out = model(x)
    torch.testing.assert_close(out, model.net2(F.relu(model.net1(x))))


def test_scaling_models_have_no_per_rank_statistics_and_seeded_weights():
    from explainers.scaling.plans import MODEL_LABELS

    assert set(MODEL_LABELS) == set(SCALING_MODELS)
    for name in SCALING_MODELS:
        a, b = build_scaling_model(name, 1), build_scaling_model(name, 1)
        assert a(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
        assert not any(isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d, torch.nn.Dropout)) for m in a.modules())
        for p, q in zip(a.parameters(), b.parameters()):
            torch.testing.assert_close(p, q)
    with pytest.raises(ValueError, match="Unknown model"):
        build_scaling_model("resnet", 0)
    s0, s1 = pipeline_stages(64, seed=2)
    assert s1(s0(torch.zeros(4, 1, 28, 28))).shape == (4, 10)
    torch.testing.assert_close(pipeline_stages(64, seed=2)[1][0].weight, s1[0].weight)


# ----------------------------------------------------------------------------- snippets


def test_snippets_compile_and_carry_the_settings():
    ddp = snippets.ddp_script(3, 8, 4, 0.05, "cnn")
    for needle in ("init_process_group", "DistributedDataParallel", "DistributedSampler", "WORLD_SIZE = 3",
                   "BATCH_PER_RANK = 8", "LR = 0.05", "nn.Conv2d", '"nccl" if use_cuda else "gloo"'):
        assert needle in ddp
    toy = snippets.toy_model_script(20, 0.001)
    assert 'nn.Linear(10, 10).to(dev0)' in toy and '"cuda:0", "cuda:1"' in toy
    assert "dist.send" in snippets.two_process_script(20, 0.001)
    assert "M, BATCH, WIDTH = 8, 256, 512" in snippets.pipeline_script(8, 256, 512)
    for code in (ddp, toy, snippets.two_process_script(5, 0.1), snippets.pipeline_script(4, 64, 32)):
        compile(code, "<snippet>", "exec")


def test_snippets_run_as_complete_scripts(tmp_path, capsys):
    """Every snippet is a whole program: the spawning ones run as scripts (all at once), the ToyModel here."""
    (tmp_path / "toy.py").write_text(snippets.toy_model_script(20, 0.001))
    runpy.run_path(str(tmp_path / "toy.py"), run_name="__main__")
    toy = capsys.readouterr().out
    assert "net1 on cpu, net2 on cpu" in toy or "net1 on cuda:0, net2 on cuda:1" in toy
    scripts = {"ddp": snippets.ddp_script(2, 4, 2, 0.1), "two": snippets.two_process_script(6, 0.01),
               "pipe": snippets.pipeline_script(2, 16, 32)}
    procs = {}
    for name, code in scripts.items():
        (tmp_path / f"{name}.py").write_text(code)
        procs[name] = subprocess.Popen([sys.executable, f"{name}.py"], cwd=tmp_path, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    outs = {}
    for name, p in procs.items():
        outs[name] = p.communicate(timeout=240)[0]
        assert p.returncode == 0, f"{name}:\n{outs[name][-2000:]}"
    assert "largest weight difference between ranks: 0.0" in outs["ddp"]
    assert "rank 0: sent 240 bytes forward" in outs["two"]
    assert outs["pipe"].count("GPipe's bubble") == 2


# ----------------------------------------------------------------------------- reports and figures


def _fake_dp(n: int = 2) -> sc.DataParallelResult:
    rng = np.random.default_rng(0)
    local = {"fc.weight": rng.normal(size=(n, 3, 4)), "fc.bias": rng.normal(size=(n, 3))}
    reduced = {k: np.broadcast_to(v.mean(0), v.shape).copy() for k, v in local.items()}
    t = [sc.Timing(0.002, 0.004, 0.007, 0.003 if r == 0 else float("nan")) for r in range(n)]
    return sc.DataParallelResult(sc.DataParallelPlan(world_size=n, batch_per_rank=4), "gloo", "cpu",
                                 ["fc.weight", "fc.bias"], {"fc.weight": (3, 4), "fc.bias": (3,)}, local, reduced,
                                 rng.normal(size=(5, n)), 0.0, 1e-8, 1e-8, [(2, 60)], t, 60,
                                 np.zeros((n, 4), int), np.zeros((n, 4, 28, 28), np.uint8), np.zeros(15))


def test_reports_label_measured_and_computed_and_judge_from_the_numbers():
    dp = _fake_dp()
    rows = report.data_parallel_rows(dp)
    assert {r["how"] for r in rows} == {"measured", "computed"}
    assert any(r["value"] == "0.43×" for r in rows)  # 3 ms / 7 ms
    assert "not faster" in report.verdict(dp) and "all-reduce took as long" in report.verdict(dp)
    assert report.memory_rows(1_000_000)[0]["value"] == "16.00 MB"
    assert report.ring_bytes(400, 4) == 600
    trace = sc.ring_allreduce(dp.flat_local("fc.weight") / 2)
    assert report.ring_matches(trace, dp.reduced_grads["fc.weight"].reshape(2, -1)) < 1e-12
    caps = report.ring_captions(trace)
    assert len(caps) == len(trace.frames) and "reduce-scatter step 1" in caps[1] and "all-gather" in caps[-1]


def test_figures_draw_the_results():
    dp = _fake_dp(3)
    z, labels = fig.gradient_rows(dp.flat_local("fc.weight"), dp.reduced_grads["fc.weight"].reshape(3, -1))
    assert z.shape == (7, 12) and labels[3] == "mean of the rows above"
    np.testing.assert_allclose(z[3], z[4])  # the mean equals what the all-reduce gave rank 0
    f = fig.gradients_figure(dp.flat_local("fc.weight"), dp.reduced_grads["fc.weight"].reshape(3, -1), "fc.weight")
    assert f.data[0].z.shape == (7, 12)
    trace = sc.ring_allreduce(dp.flat_local("fc.bias"))
    rf = fig.ring_figure([fr.counts for fr in trace.frames], report.ring_captions(trace),
                         [fr.contributors for fr in trace.frames])
    assert len(rf.frames) == 5 and rf.frames[-1].data[0].text[0][0] == "g0+g1+g2"
    assert len(fig.loss_per_rank_figure(dp.losses).data) == 4
    slots = sc.gpipe_schedule(2, 4)
    g = fig.gantt_figure(slots, "t", unit="time units", note="computed")  # an SVG (issue 11)
    import xml.etree.ElementTree as ET

    ns = {"s": "http://www.w3.org/2000/svg"}
    svg = ET.fromstring(g).find("s:svg", ns)
    bars = svg.findall("s:g", ns)
    assert len(bars) == 16 and svg.find("s:text[@class='note']", ns).text == "computed"
    assert sum(b.get("class") == "slot backward" for b in bars) == 8
    # Each bar spans its slot on the time axis: widths proportional to the durations, hover gives the times.
    widths = np.array([float(b.find("s:rect", ns).get("width")) for b in bars])
    durations = np.array([sl.end - sl.start for sl in slots])
    np.testing.assert_allclose(widths / widths[0], durations / durations[0], rtol=0.02)
    first = slots[0]
    assert bars[0].find("s:title", ns).text == (f"{first.phase} of micro-batch {first.micro_batch}: "
                                               f"{first.start:.3g} → {first.end:.3g} time units")
    b = fig.bubble_figure(2, 8, [(1, 0.6), (8, 0.2)])
    np.testing.assert_allclose(b.data[0].y, [1 / (m + 1) for m in range(1, 9)])
    p = fig.placement_figure([("net1", "rank 0", 110), ("net2", "rank 1", 55)],
                             [("activation", "rank 0", "rank 1", "(20, 10), 800 bytes")])
    assert any("800 bytes" in (a.text or "") for a in p.layout.annotations)
    assert fig.slices_image(np.zeros((2, 3, 28, 28), np.uint8)).shape == (58, 88)
