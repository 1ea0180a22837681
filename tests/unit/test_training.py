"""Training engine on tiny data: loss falls, stop, queueing, a session ending, NaN handling,
early stopping, schedulers against torch's own, weights round-trip, LR finder, feature maps, CLI."""

from __future__ import annotations

import gc
import io
import math
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explainers import training as tr
from explainers.training import (
    Callback,
    TrainConfig,
    TrainRun,
    feature_maps,
    load_weights,
    lr_find,
    save_weights,
)
from explainers.training.augment import augmenter, shift_rotate
from explainers.training.data import synthetic_digits
from models import build_model, model_card
from tests.unit.runs import _clean_runs, wait_for  # noqa: F401 (an autouse fixture)


@pytest.fixture(scope="module")
def tiny():
    return synthetic_digits(600, 200, seed=11)


def fast(**kw) -> TrainConfig:
    base = {"model": "mlp", "epochs": 2, "batch_size": 32, "subset": 256, "val_fraction": 0.1, "live_every_s": 0.05, "device": "cpu"}
    base.update(kw)
    return TrainConfig(**base)


class Every(Callback):
    """Calls fn(state) at one event of the fit loop (after_batch or after_epoch)."""

    def __init__(self, event, fn):
        setattr(self, event, fn)


def test_loss_falls_and_history_is_complete(tiny):
    cfg = fast(model="fast_cnn", epochs=3, lr=3e-3)
    run = TrainRun(cfg, tiny).start()
    assert run.join(60)
    s = run.snapshot()
    assert s.status == "finished" and s.done, s.message
    assert len(s.step_loss) == len(s.step_lr) == 3 * s.batches_per_epoch == 3 * 8
    assert np.mean(s.step_loss[-5:]) < 0.7 * np.mean(s.step_loss[:5])
    assert [e["epoch"] for e in s.epochs] == [1, 2, 3]
    assert s.epochs[-1]["train_loss"] < s.epochs[0]["train_loss"]
    assert all(set(e) >= {"train_loss", "train_acc", "val_loss", "val_acc", "lr"} for e in s.epochs)
    assert s.progress == 1.0 and s.images_per_second > 0 and s.filters.shape == (16, 1, 3, 3)
    assert s.filters_version >= 2 and len(s.strip_indices) == 16
    assert sorted(set(s.strip_labels)) == list(range(10))  # the strip shows every class
    assert all(0 <= p < 10 for p in s.strip_predictions)
    np.testing.assert_allclose(s.strip_probabilities.sum(1), 1, rtol=1e-5)
    r = run.result
    assert r is not None and r.test_accuracy > 0.3  # chance is 0.1
    # the result is consistent with an independent evaluation of the trained model
    run.model.eval()
    with torch.no_grad():
        logits = run.model(tiny.normalize(tiny.test_x))
    np.testing.assert_allclose(r.probabilities, torch.softmax(logits, 1).numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(r.losses, F.cross_entropy(logits, tiny.test_y, reduction="none").numpy(), rtol=1e-4, atol=1e-5)
    assert r.confusion.sum() == 200 and np.trace(r.confusion) == (r.predictions == r.labels).sum()
    np.testing.assert_allclose(r.test_accuracy, (logits.argmax(1) == tiny.test_y).float().mean().item())
    np.testing.assert_allclose(r.per_class_accuracy, np.diag(r.confusion) / r.confusion.sum(1))
    # histograms: initial weights (epoch 0), then weights and gradients per layer per epoch
    h = s.histograms
    assert {x["kind"] for x in h if x["epoch"] == 0} == {"weight"}
    assert {(x["layer"], x["kind"]) for x in h if x["epoch"] == 3} >= {("features.0", "weight"), ("features.0", "grad")}
    conv0 = next(x for x in h if x["epoch"] == 3 and x["layer"] == "features.0" and x["kind"] == "weight")
    assert conv0["counts"].sum() == 16 * 9


def test_stop_between_batches_keeps_a_partly_trained_model(tiny):
    seen = threading.Event()
    run = TrainRun(fast(epochs=200, subset=None), tiny, callbacks=[Every("after_batch", lambda s: seen.set())]).start()
    assert seen.wait(20)
    run.stop()
    assert run.join(20)
    s = run.snapshot()
    assert s.status == "stopped" and "Stopped" in s.message
    assert 0 < len(s.step_loss) < 200 * s.batches_per_epoch
    assert run.result is not None and run.result.confusion.sum() == 200


def test_queue_cap_and_positions(tiny):
    tr.set_max_concurrent_runs(1)
    first = TrainRun(fast(epochs=500), tiny).start()
    wait_for(lambda: first.snapshot().status == "running")
    second = TrainRun(fast(), tiny).start()
    third = TrainRun(fast(), tiny).start()
    wait_for(lambda: third.snapshot().queue_position == 2)
    assert second.snapshot().status == "queued" and second.snapshot().queue_position == 1
    assert tr.active_runs() == (1, 2)
    third.stop()  # leaving the queue
    assert third.join(10) and third.snapshot().status == "stopped" and third.result is None
    assert "waiting in the queue" in third.snapshot().message
    assert second.snapshot().queue_position == 1
    first.stop()
    assert second.join(60)
    assert second.snapshot().status == "finished"


def test_a_session_ending_stops_its_run(tiny):
    class Session:
        pass

    owner = Session()
    seen = threading.Event()
    run = TrainRun(fast(epochs=500), tiny, owner=owner, callbacks=[Every("after_batch", lambda s: seen.set())]).start()
    assert seen.wait(20)
    del owner
    gc.collect()
    assert run.join(20)
    s = run.snapshot()
    assert s.status == "stopped" and "session" in s.message


def test_an_unavailable_device_fails_with_a_message(tiny, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    run = TrainRun(fast(device="cuda"), tiny).start()
    assert run.join(20)
    s = run.snapshot()
    assert s.status == "failed" and "no CUDA GPU" in s.message and run.result is None


def test_nan_loss_stops_with_an_explanation(tiny):
    run = TrainRun(fast(optimizer="sgd", lr=1e4, model="small_cnn", epochs=3), tiny).start()
    assert run.join(30)
    s = run.snapshot()
    assert s.status == "failed" and "learning rate" in s.message and "too high" in s.message
    assert run.result is None
    assert len(s.step_loss) < 3 * s.batches_per_epoch
    assert all(math.isfinite(v) for v in s.step_loss)  # charts never get NaN or inf


def test_early_stopping_restores_the_best_weights(tiny, monkeypatch):
    val_losses = iter([1.0, 0.5, 0.9, 0.95, 0.2, 0.1])  # best at epoch 2, patience 2 -> stop after epoch 4
    monkeypatch.setattr(TrainRun, "_validate", lambda self, model: (next(val_losses), 0.5))
    states = {}
    keep = Every("after_epoch", lambda s: states.__setitem__(s.epoch, {k: v.clone() for k, v in s.model.state_dict().items()}))
    run = TrainRun(fast(epochs=6, patience=2), tiny, callbacks=[keep])
    run.start()
    assert run.join(60)
    s = run.snapshot()
    assert s.status == "finished" and s.stopped_early and s.best_epoch == 2 and len(s.epochs) == 4
    for k, v in run.model.state_dict().items():
        torch.testing.assert_close(v, states[2][k])
    assert run.result.stopped_early and run.result.best_epoch == 2


@pytest.mark.parametrize("scheduler", ["none", "step", "onecycle", "cosine"])
def test_learning_rates_follow_torch_schedulers(tiny, scheduler):
    cfg = fast(scheduler=scheduler, optimizer="sgd_momentum", lr=0.05, epochs=2)
    run = TrainRun(cfg, tiny).start()
    assert run.join(60)
    lrs = run.snapshot().step_lr
    total = len(lrs)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.05, momentum=0.9)
    oracle = {
        "none": None,
        "step": lambda: torch.optim.lr_scheduler.StepLR(opt, step_size=total // 3, gamma=0.1),
        "onecycle": lambda: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=total + 1),
        "cosine": lambda: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total),
    }[scheduler]
    sched = oracle() if oracle else None
    expected = []
    for _ in range(total):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched:
            sched.step()
    np.testing.assert_allclose(lrs, expected, rtol=1e-9)


def test_l1_and_weight_decay_shrink_weights(tiny):
    def weight_mass(**kw):
        run = TrainRun(fast(epochs=2, **kw), tiny).start()
        assert run.join(60) and run.snapshot().status == "finished"
        return sum(m.weight.abs().sum().item() for m in run.model.modules() if isinstance(m, torch.nn.Linear))

    plain = weight_mass()
    assert weight_mass(l1=1e-3) < 0.9 * plain
    assert weight_mass(weight_decay=0.5, optimizer="adamw", lr=1e-2) < weight_mass(optimizer="adamw", lr=1e-2)


def test_augment_moves_pixels_but_keeps_shapes_and_ink():
    x = torch.zeros(8, 1, 28, 28)
    x[:, :, 10:18, 12:16] = 255.0
    y = shift_rotate(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and not torch.equal(x, y)
    np.testing.assert_allclose(y.sum((1, 2, 3)).numpy(), x.sum((1, 2, 3)).numpy(), rtol=0.1)


@pytest.mark.parametrize("names", [(), ("flip", "crop")])
def test_augmented_run_trains(tiny, names):
    run = TrainRun(fast(augment=True, augmentations=names, model="fast_cnn"), tiny).start()
    assert run.join(60) and run.snapshot().status == "finished"


def test_named_augmentations_are_used_and_checked(tiny):
    x = tiny.train_x[:6].float()
    gen_a, gen_b = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    from explainers.training.augment import augment_named

    def of(cfg):
        return augmenter(cfg.augment, cfg.augmentations)

    torch.testing.assert_close(of(fast(augment=True, augmentations=("flip",)))(x, gen_a),
                               augment_named(x, ("flip",), gen_b))
    assert of(fast(augment=False, augmentations=("flip",))) is None
    assert of(fast(augment=True)) is shift_rotate
    assert "Unknown augmentation" in " ".join(fast(augment=True, augmentations=("warp",)).problems())


def test_bad_configs_are_refused_with_reasons(tiny):
    assert TrainConfig().problems() == []
    probs = TrainConfig(optimizer="rmsprop", lr=-1, epochs=0, patience=2, val_fraction=0).problems()
    text = " ".join(probs)
    assert "optimizer" in text and "learning rate" in text and "epoch" in text and "validation" in text
    with pytest.raises(ValueError, match="learning rate"):
        TrainRun(TrainConfig(lr=0.0), tiny)


def test_weights_round_trip_and_refusals(tiny):
    model = build_model("small_cnn", 1, 28, 10)
    data = save_weights(model)
    other = build_model("small_cnn", 1, 28, 10)
    load_weights(other, data)
    x = tiny.normalize(tiny.test_x[:4])
    model.eval()
    other.eval()
    torch.testing.assert_close(model(x), other(x))
    with pytest.raises(ValueError, match="do not fit"):
        load_weights(build_model("mlp", 1, 28, 10), data)
    with pytest.raises(ValueError, match="not a PyTorch weights file"):
        load_weights(other, b"definitely not a checkpoint")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    buf = io.BytesIO()
    torch.save({"w": Evil()}, buf)
    with pytest.raises(ValueError):
        load_weights(other, buf.getvalue())  # weights_only=True refuses arbitrary objects


def test_lr_finder_sweeps_exponentially_and_suggests_a_rate(tiny):
    cfg = fast(model="mlp", optimizer="sgd_momentum")
    res = lr_find(cfg, tiny, num_steps=60, start_lr=1e-5, end_lr=100.0)
    assert len(res.lrs) == len(res.losses) == len(res.raw_losses) >= 20
    ratios = res.lrs[1:] / res.lrs[:-1]
    np.testing.assert_allclose(ratios, (100.0 / 1e-5) ** (1 / 59), rtol=1e-9)
    assert res.lrs[0] == pytest.approx(1e-5)
    assert 1e-5 <= res.suggested_lr <= 1.0 and np.isfinite(res.losses).all()
    # the sweep diverges long before 100 and stops early instead of running all 60 steps
    assert len(res.lrs) < 60


def test_lr_finder_works_on_a_copy(tiny):
    model = build_model("mlp", 1, 28, 10)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    lr_find(fast(), tiny, num_steps=10, model=model)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k])


def test_predict_gives_the_softmax_of_the_normalised_images(tiny):
    model = build_model("small_cnn", 1, 28, 10)
    model.train()
    probs = tr.predict(model, tiny.test_x[:5], tiny)
    assert model.training  # predict restores the mode it found
    model.eval()
    with torch.no_grad():
        expected = torch.softmax(model(tiny.normalize(tiny.test_x[:5])), 1).numpy()
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tr.predict(model, tiny.test_x[0], tiny), expected[:1], rtol=1e-5, atol=1e-6)


def test_feature_maps_follow_the_layers(tiny):
    model = build_model("small_cnn", 1, 28, 10)
    img = tiny.test_x[0]
    maps = feature_maps(model, img, tiny)
    names = [n for n, _ in maps]
    assert names[:2] == ["conv1", "relu"] and all(m.ndim == 3 for _, m in maps)
    card = {r.name: r.output_shape for r in model_card(model, (1, 28, 28))}
    assert maps[0][1].shape == card["conv1"]
    x = tiny.normalize(img.unsqueeze(0))
    np.testing.assert_allclose(maps[0][1], F.conv2d(x, model.conv1.weight, model.conv1.bias)[0].detach().numpy(), rtol=1e-5, atol=1e-5)
    assert feature_maps(build_model("mlp", 1, 28, 10), x[0]) == []  # an MLP has no 2-D maps


def _final_state(run: TrainRun) -> dict:
    assert run.join(60) and run.snapshot().status == "finished", run.snapshot().message
    return {k: v.clone() for k, v in run.model.state_dict().items()}


def test_a_seeded_run_repeats_bit_for_bit(tiny):
    """Same config twice (dropout, shuffling, augmentation, OneCycle) -> identical weights, losses and accuracy."""
    cfg = fast(model="fast_cnn", epochs=2, augment=True, dropout=0.3, scheduler="onecycle", lr=3e-3, seed=7)
    a, b = TrainRun(cfg, tiny).start(), None
    wa = _final_state(a)
    torch.manual_seed(12345)  # whatever the global generator held before must not matter
    b = TrainRun(cfg, tiny).start()
    wb = _final_state(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    assert a.snapshot().step_loss == b.snapshot().step_loss
    assert a.result.test_accuracy == b.result.test_accuracy
    np.testing.assert_array_equal(a.result.probabilities, b.result.probabilities)
    c = TrainRun(TrainConfig(**{**cfg.as_dict(), "augmentations": (), "seed": 8}), tiny).start()
    wc = _final_state(c)
    assert any(not torch.equal(wa[k], wc[k]) for k in wa)  # another seed is another run


def test_the_fit_loop_runs_callbacks_in_order_and_cancel_ends_it():
    """fit on a toy problem: events in order, lower order first, a CancelFit keeps the reason and after_fit runs."""
    from explainers.training.loop import CancelFit, FitState, fit

    torch.manual_seed(0)
    x, y = torch.randn(40, 3), torch.randint(0, 2, (40,))
    model = torch.nn.Linear(3, 2)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    log = []

    class Log(Callback):
        def __init__(self, name, order):
            self.name, self.order = name, order

        def __getattr__(self, event):
            if event.startswith(("before_", "after_")):
                return lambda s: log.append((self.name, event, s.epoch, s.step))
            raise AttributeError(event)

    class StopAt(Callback):
        order = 5

        def before_batch(self, s):
            if s.step == 5:
                raise CancelFit("enough")

    state = FitState(model=model, opt=torch.optim.SGD(model.parameters(), lr=0.1),
                     batches=lambda e: ((x[i : i + 10], y[i : i + 10]) for i in range(0, 40, 10)),
                     epochs=3, loss_fn=F.cross_entropy)
    fit(state, [Log("late", 10), StopAt(), Log("early", -1)])
    assert str(state.cancelled) == "enough" and state.step == 5 and state.epoch == 2
    assert log[:2] == [("early", "before_fit", 0, 0), ("late", "before_fit", 0, 0)]
    assert ("early", "after_epoch", 1, 4) in log and ("late", "after_epoch", 2, 5) not in log
    assert log[-2:] == [("early", "after_fit", 2, 5), ("late", "after_fit", 2, 5)]
    manual = torch.nn.Linear(3, 2)  # the same five steps by hand give the same weights
    manual.load_state_dict(initial)
    opt = torch.optim.SGD(manual.parameters(), lr=0.1)
    for i in [0, 10, 20, 30, 0]:
        opt.zero_grad()
        F.cross_entropy(manual(x[i : i + 10]), y[i : i + 10]).backward()
        opt.step()
    torch.testing.assert_close(manual.weight, model.weight)
