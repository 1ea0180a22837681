"""explainers.backprop against torch autograd: the MLP on the engine, training, the helpers."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from explainers import autograd as ag
from explainers import backprop as bp
from explainers.training.oracle import mlp_gradients

TORCH_ACT = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}

# --- the MLP -----------------------------------------------------------------------------------

mlp_settings = st.tuples(
    st.integers(1, bp.MAX_HIDDEN), st.sampled_from(bp.ACTIVATIONS), st.sampled_from(bp.LOSSES),
    st.integers(0, 10_000), st.floats(-2, 2), st.floats(-2, 2), st.sampled_from([0.0, 0.3, 1.0]),
)


@settings(max_examples=60, deadline=None)
@given(mlp_settings)
def test_mlp_gradients_match_torch_nn(case):
    hidden, act, loss, seed, x1, x2, y = case
    params = bp.init_params(hidden, seed)
    x = np.array([x1, x2])
    value, grads = bp.engine_gradients(params, x, y, act, loss)
    # The oracle: torch.nn layers, not our own oracle.mlp_gradients.
    l1, l2 = torch.nn.Linear(2, hidden).double(), torch.nn.Linear(hidden, 1).double()
    with torch.no_grad():
        l1.weight.copy_(torch.tensor(params.w1))
        l1.bias.copy_(torch.tensor(params.b1))
        l2.weight.copy_(torch.tensor(params.w2[None]))
        l2.bias.fill_(params.b2)
    p = torch.sigmoid(l2(TORCH_ACT[act](l1(torch.tensor(x))))).squeeze()
    yt = torch.tensor(y, dtype=torch.float64)
    out = (p - yt) ** 2 if loss == "mse" else F.binary_cross_entropy(p, yt)
    out.backward()
    expected = np.concatenate([l1.weight.grad.numpy().ravel(), l1.bias.grad.numpy(),
                               l2.weight.grad.numpy().ravel(), l2.bias.grad.numpy()])
    np.testing.assert_allclose(value, out.item(), rtol=1e-10)
    np.testing.assert_allclose(grads, expected, rtol=1e-8, atol=1e-12)
    # and the page's torch column agrees with torch.nn too
    np.testing.assert_allclose(mlp_gradients(params, x, y, act, loss)[1], expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("act", bp.ACTIVATIONS)
@pytest.mark.parametrize("loss", bp.LOSSES)
def test_gradient_check_agrees_three_ways(act, loss):
    rng = np.random.default_rng(3)
    for hidden in (1, 4):
        check = bp.gradient_check(bp.init_params(hidden, 11), rng.uniform(-1, 1, 2), 1.0, act, loss,
                                  reference=mlp_gradients)
        assert check.max_error.max() <= bp.NUMERIC_TOL
        table = bp.gradient_table(check)
        assert table["agree"] == ["✓"] * len(check.names)
        assert table["parameter"] == bp.param_names(hidden)


def test_backward_steps_end_with_the_engine_gradients():
    for hidden, act, loss in [(1, "relu", "mse"), (2, "tanh", "bce"), (4, "sigmoid", "bce")]:
        net = bp.build_mlp(bp.init_params(hidden, 5), np.array([0.4, -0.9]), 1.0, act, loss)
        graph, steps = ag.backward_steps(net.loss)
        net.loss.backward()
        order = ag.topological_order(net.loss)
        np.testing.assert_allclose(steps[-1].grads, [v.grad for v in order], rtol=1e-12)
        assert all(steps[-1].reached[n.index] for n in graph.nodes if n.kind == "param")
        assert len(steps) == sum(n.kind == "op" for n in graph.nodes)
        assert steps[0].node == graph.root
        grads, reached = ag.seed_state(graph)
        assert grads[graph.root] == 1.0 and sum(reached) == 1
        # each step's terms are local x upstream, with the local derivative from the forward pass
        for s in steps:
            for t in s.terms:
                assert t.product == pytest.approx(t.local * t.upstream)
        groups = {n.group for n in graph.nodes if n.kind == "op"}
        assert groups == {*(f"h{j}" for j in range(1, hidden + 1)), "out", "loss"}


def test_graph_edges_point_forward_and_name_every_parameter():
    net = bp.build_mlp(bp.init_params(3, 1), np.array([1.0, 0.0]), 0.0, "tanh", "mse")
    graph = ag.trace(net.loss)
    assert all(c < p for c, p in graph.edges)
    assert sorted(n.label for n in graph.nodes if n.kind == "param") == sorted(bp.param_names(3))
    assert graph.nodes[graph.root].data == pytest.approx(net.loss.data)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.sampled_from(bp.ACTIVATIONS), st.sampled_from(bp.LOSSES), st.integers(0, 999))
def test_vectorised_batch_gradients_match_torch(hidden, act, loss, seed):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(7, 2)), rng.integers(0, 2, 7).astype(float)
    params = bp.init_params(hidden, seed)
    value, grads = bp.batch_loss_and_grad(params, X, y, act, loss)
    t = torch.tensor(params.vector(), requires_grad=True)
    h = hidden
    logit = TORCH_ACT[act](torch.tensor(X) @ t[: 2 * h].view(h, 2).T + t[2 * h : 3 * h]) @ t[3 * h : 4 * h] + t[4 * h]
    yt = torch.tensor(y)
    out = (torch.mean((torch.sigmoid(logit) - yt) ** 2) if loss == "mse"
           else F.binary_cross_entropy_with_logits(logit, yt))
    out.backward()
    np.testing.assert_allclose(value, out.item(), rtol=1e-10)
    np.testing.assert_allclose(grads, t.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(bp.predict(params, X, act), torch.sigmoid(logit).detach().numpy(), rtol=1e-10)


@pytest.mark.parametrize("act", bp.ACTIVATIONS)
def test_full_batch_training_matches_torch_sgd(act):
    X, y = bp.make_problem("moons")
    params = bp.init_params(3, 2)
    result = bp.train(params, X, y, act, "bce", lr=0.5, steps=25)
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), {"sigmoid": torch.nn.Sigmoid(), "tanh": torch.nn.Tanh(),
                                                       "relu": torch.nn.ReLU()}[act], torch.nn.Linear(3, 1)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor(params.w1))
        net[0].bias.copy_(torch.tensor(params.b1))
        net[2].weight.copy_(torch.tensor(params.w2[None]))
        net[2].bias.fill_(params.b2)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    for _ in range(25):
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(net(torch.tensor(X)).squeeze(1), torch.tensor(y))
        loss.backward()
        opt.step()
    expected = np.concatenate([p.detach().numpy().ravel() for p in net.parameters()])
    np.testing.assert_allclose(result.params.vector(), expected, rtol=1e-8, atol=1e-10)
    assert len(result.losses) == 26 and len(result.batch_losses) == 25


def test_xor_needs_a_hidden_layer_of_two():
    X, y = bp.make_problem("XOR")
    solved = [bp.train(bp.init_params(2, s), X, y, "tanh", "bce", lr=1.0, steps=1500).accuracy for s in range(5)]
    assert max(solved) == 1.0
    # one hidden unit: the output is monotone in one linear function of x, i.e. one straight line
    for s in range(5):
        r = bp.train(bp.init_params(1, s), X, y, "tanh", "bce", lr=1.0, steps=1500)
        assert r.accuracy <= 0.75
        assert r.losses[-1] <= r.losses[0]


def test_minibatches_are_noisier_and_snapshots_are_kept():
    X, y = bp.make_problem("circle")
    params = bp.init_params(4, 0)
    full = bp.train(params, X, y, "tanh", "bce", lr=0.3, steps=200, snapshot_steps=(0, 50, 200))
    single = bp.train(params, X, y, "tanh", "bce", lr=0.3, steps=200, batch_size=1, seed=1)
    assert [s for s, _ in full.snapshots] == [0, 50, 200]
    np.testing.assert_allclose(full.snapshots[0][1].vector(), params.vector())
    np.testing.assert_allclose(full.snapshots[-1][1].vector(), full.params.vector())
    assert np.std(np.diff(single.batch_losses)) > np.std(np.diff(full.batch_losses))
    np.testing.assert_allclose(full.batch_losses, full.losses[:-1], rtol=1e-12)  # full batch = whole data
    again = bp.train(params, X, y, "tanh", "bce", lr=0.3, steps=200, batch_size=1, seed=1)
    np.testing.assert_array_equal(again.batch_losses, single.batch_losses)


def test_huge_learning_rate_is_reported_not_crashing():
    X, y = bp.make_problem("XOR")
    r = bp.train(bp.init_params(2, 0), X, y, "relu", "mse", lr=1e9, steps=30)
    assert np.all(np.isfinite(r.losses))
    with pytest.raises(ValueError):
        bp.train(bp.init_params(2, 0), X, y, "relu", "mse", lr=0.0, steps=3)


def test_fit_problem_is_train_with_snapshots():
    r = bp.fit_problem(tuple(bp.init_params(2, 0).vector()), 2, "OR", "sigmoid", "mse", 1.0, 30, 0)
    assert [s for s, _ in r.snapshots] == [0, 3, 10, 30]
    X, y = bp.make_problem("OR")
    direct = bp.train(bp.init_params(2, 0), X, y, "sigmoid", "mse", lr=1.0, steps=30)
    np.testing.assert_allclose(r.losses, direct.losses)


@pytest.mark.parametrize("act", bp.ACTIVATIONS)
def test_chain_gradients_match_torch(act):
    depth = 9
    w, b = bp.chain_params(depth, seed=4)
    wt = torch.tensor(w, requires_grad=True)
    a = torch.tensor(1.0, dtype=torch.float64)
    for k in range(depth):
        a = TORCH_ACT[act](wt[k] * a + b[k])
    a.backward()
    np.testing.assert_allclose(bp.chain_gradients(depth, act, seed=4), np.abs(wt.grad.numpy()), rtol=1e-10)


def test_sigmoid_gradients_vanish_faster_than_relu():
    g = {a: bp.chain_gradients(12, a) for a in bp.ACTIVATIONS}
    assert g["sigmoid"][0] < 1e-3 * g["sigmoid"][-1]
    assert g["sigmoid"][0] < g["tanh"][0] < g["relu"][0]
    with pytest.raises(ValueError):
        bp.chain_gradients(0, "relu")


# --- small helpers -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", bp.PROBLEMS)
def test_problems_are_binary_2d_and_seeded(name):
    X, y = bp.make_problem(name, seed=3)
    X2, y2 = bp.make_problem(name, seed=3)
    assert X.ndim == 2 and X.shape[1] == 2 and y.shape == (len(X),)
    assert set(np.unique(y)) == {0.0, 1.0}
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)


def test_logic_gates_are_their_truth_tables():
    for name, op in [("AND", np.logical_and), ("OR", np.logical_or), ("XOR", np.logical_xor)]:
        X, y = bp.make_problem(name)
        np.testing.assert_array_equal(y, op(X[:, 0] > 0.5, X[:, 1] > 0.5).astype(float))


def test_bad_names_raise_value_error():
    for bad in (lambda: bp.make_problem("spiral"), lambda: ag.activate(ag.Value(1.0), "gelu"),
                lambda: bp.init_params(5, 0), lambda: bp.params_from_vector(np.zeros(4), 2),
                lambda: bp.loss_value(ag.Value(0.5), 1.0, "hinge")):
        with pytest.raises(ValueError):
            bad()


def test_params_round_trip_and_step_clips_only_when_asked():
    p = bp.init_params(3, 9)
    np.testing.assert_array_equal(bp.params_from_vector(p.vector(), 3).vector(), p.vector())
    assert len(bp.param_names(3)) == p.vector().size == 13
    stepped = bp.sgd_step(p, np.full(13, -1e3), 1.0, limit=bp.WEIGHT_LIMIT)
    assert stepped.vector().max() == bp.WEIGHT_LIMIT
    # Issue 12 item 2: the page's step is the formula it shows, θ − η∇θ, with nothing clipped.
    np.testing.assert_allclose(bp.sgd_step(p, np.full(13, -1e3), 1.0).vector(), p.vector() + 1e3)
    np.testing.assert_allclose(bp.sgd_step(p, np.ones(13), 0.1, limit=None).vector(), p.vector() - 0.1)


def test_take_step_records_losses_from_the_engine():
    p, x = bp.init_params(2, 0), np.array([0.0, 1.0])
    _, grads = mlp_gradients(p, x, 1.0, "tanh", "bce")
    rec = bp.take_step(p, grads, 0.5, x, 1.0, "tanh", "bce")
    np.testing.assert_allclose(rec.after, np.round(p.vector() - 0.5 * grads, 3))
    assert rec.loss_before == pytest.approx(mlp_gradients(p, x, 1.0, "tanh", "bce")[0])
    assert rec.loss_after == pytest.approx(mlp_gradients(bp.params_from_vector(rec.after, 2), x, 1.0,
                                                              "tanh", "bce")[0])
    assert rec.loss_after < rec.loss_before  # a small step downhill
    assert rec.table(bp.param_names(2))["after"] == rec.after.round(4).tolist()


def test_a_huge_step_is_not_clipped_and_overshoots_the_dataset():
    """Issue 12 item 2: /backprop?bp_loss=mse&bp_lr=30 took W1[1,2] to 5 while the formula said 7.17."""
    X, Y = bp.make_problem("XOR")
    p, x = bp.init_params(2, 0), X[1]
    _, grads = mlp_gradients(p, x, 1.0, "tanh", "mse")
    rec = bp.take_step(p, grads, 30.0, x, 1.0, "tanh", "mse", data=(X, Y))
    np.testing.assert_allclose(rec.after, np.round(p.vector() - 30.0 * grads, 3))
    assert np.abs(rec.after).max() > bp.WEIGHT_LIMIT and len(rec.outside()) > 0
    assert rec.dataset_loss_after > rec.dataset_loss_before  # the caption's promise: a huge η makes it rise
    assert rec.loss_after == pytest.approx(bp.engine_gradients(bp.params_from_vector(rec.after, 2), x, 1.0,
                                                               "tanh", "mse")[0], abs=1e-12)


def test_step_table_adds_up_as_shown():
    rng = np.random.default_rng(3)
    for _ in range(50):
        p = bp.init_params(int(rng.integers(1, 5)), int(rng.integers(0, 999)))
        grads = rng.normal(0, 1, p.vector().size)
        rec = bp.take_step(p, grads, float(rng.choice([0.01, 0.3, 3.0])), np.array([0.0, 1.0]), 1.0, "tanh", "bce")
        t = rec.table(bp.param_names(p.hidden))
        for before, change, after in zip(t["before"], t["− η × gradient"], t["after"]):
            assert f"{before + change:.3f}" == f"{after:.3f}"  # the shown numbers add up at the shown precision
        for col in t.values():
            assert not any(isinstance(v, float) and v == 0 and str(v).startswith("-") for v in col)


def test_signed_changes_never_read_minus_zero():
    assert bp.signed(-0.00001) == "+0.0000" and bp.signed(0.0) == "+0.0000"
    assert bp.signed(-0.5) == "-0.5000" and bp.signed(0.25, 2) == "+0.25"


@pytest.mark.parametrize(("problem", "act", "loss"), [("XOR", "tanh", "bce"), ("moons", "relu", "mse"),
                                                      ("circle", "sigmoid", "bce")])
def test_rates_trained_side_by_side_are_each_the_single_run(problem, act, loss):
    """train_rates stacks R networks: each row is bit for bit the run train() gives alone, huge η included."""
    X, y = bp.make_problem(problem)
    params = bp.init_params(3, 4)
    lrs = (0.01, 1.0, 30.0)
    runs = bp.train_rates(params, X, y, act, loss, lrs=lrs, steps=120, snapshot_steps=(0, 12, 40, 120))
    for lr, run in zip(lrs, runs):
        alone = bp.train(params, X, y, act, loss, lr=lr, steps=120, snapshot_steps=(0, 12, 40, 120))
        np.testing.assert_array_equal(run.losses, alone.losses)
        np.testing.assert_array_equal(run.params.vector(), alone.params.vector())
        assert [s for s, _ in run.snapshots] == [0, 12, 40, 120] and run.diverged == alone.diverged
        assert run.accuracy == alone.accuracy
    assert runs[0].losses[-1] > runs[1].losses[-1]  # η = 0.01 crawls


def test_a_blown_up_run_is_clipped_alone():
    X, y = bp.make_problem("XOR")
    tame, wild = bp.train_rates(bp.init_params(2, 0), X, y, "relu", "mse", lrs=(0.1, 1e9), steps=30)
    assert wild.diverged and not tame.diverged
    assert np.all(np.isfinite(wild.losses)) and np.abs(wild.params.vector()).max() <= bp.DIVERGED
    np.testing.assert_array_equal(tame.losses, bp.train(bp.init_params(2, 0), X, y, "relu", "mse", lr=0.1,
                                                        steps=30).losses)


def test_fits_are_cached_and_read_only():
    vec = tuple(bp.init_params(2, 1).vector())
    a = bp.fit_rates(vec, 2, "OR", "tanh", "bce", (0.1, 1.0), 40)
    assert bp.fit_rates(vec, 2, "OR", "tanh", "bce", (0.1, 1.0), 40) is a  # a slider moved back costs nothing
    np.testing.assert_array_equal(a[1].losses, bp.fit_problem(vec, 2, "OR", "tanh", "bce", 1.0, 40).losses)
    with pytest.raises(ValueError):
        a[0].losses[0] = 0.0  # shared between sessions: nobody may edit it in place
