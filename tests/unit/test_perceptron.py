"""explainers.perceptron against torch: activations, derivatives, the neuron, the learning rule."""

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from explainers import perceptron as pc
from explainers.figures import perceptron as figs

TORCH_ACTIVATIONS = {
    "step": lambda z: torch.heaviside(z, torch.ones_like(z)),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, negative_slope=0.01),
    "linear": lambda z: z,
}


def _z(seed: int, n: int = 500) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Wide values (sigmoid overflow), values near 0 and the kinks themselves.
    return np.concatenate([rng.normal(0, 3, n), rng.uniform(-800, 800, 50), [0.0, -0.0, 1e-12, -1e-12]])


@pytest.mark.parametrize("name", pc.ACTIVATIONS)
def test_activation_matches_torch(name):
    z = _z(1)
    expected = TORCH_ACTIVATIONS[name](torch.tensor(z, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(pc.activate(z, name), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", [a for a in pc.ACTIVATIONS if a != "step"])
def test_derivative_matches_autograd(name):
    z = _z(2)
    t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    TORCH_ACTIVATIONS[name](t).sum().backward()
    np.testing.assert_allclose(pc.activation_derivative(z, name), t.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_step_derivative_is_zero_away_from_the_jump():
    z = _z(3)
    z = z[z != 0]
    assert not pc.activation_derivative(z, "step").any()


def test_unknown_activation_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown activation"):
        pc.activate(1.0, "swish")


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 5), seed=st.integers(0, 10_000), act=st.sampled_from(pc.ACTIVATIONS))
def test_neuron_forward_matches_nn_linear(n, seed, act):
    rng = np.random.default_rng(seed)
    x, w, b = rng.uniform(-2, 2, n), rng.uniform(-2, 2, n), float(rng.uniform(-3, 3))
    layer = nn.Linear(n, 1).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(w)[None])
        layer.bias.fill_(b)
    z = layer(torch.tensor(x))
    out = pc.neuron_forward(x, w, b, act)
    np.testing.assert_allclose(out.z, z.item(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.a, TORCH_ACTIVATIONS[act](z).item(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.products.sum() + b, out.z)


def test_neuron_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="as many weights as inputs"):
        pc.neuron_forward(np.ones(3), np.ones(2), 0.0, "relu")


def test_weighted_sum_text_writes_every_term():
    out = pc.neuron_forward(np.array([0.7, 0.6]), np.array([0.5, -1.0]), 0.1, "linear")
    assert pc.weighted_sum_text(out) == "0.50·0.70 + (-1.00)·0.60 + 0.10 = -0.15"


@pytest.mark.parametrize("name", ["AND", "OR", "NAND", "blobs"])
def test_learning_rule_converges_on_separable_data(name):
    X, y = pc.toy_dataset(name, seed=0)
    state = pc.fit_perceptron(X, y, lr=0.25, max_epochs=100)
    assert state.converged
    np.testing.assert_array_equal(pc.predict(X, state.w, state.b), y)


def test_learning_rule_never_converges_on_xor():
    X, y = pc.toy_dataset("XOR")
    state = pc.fit_perceptron(X, y, lr=0.25, max_epochs=200)
    assert not state.converged
    assert state.epoch == 200
    assert min(state.mistakes_per_epoch) > 0
    assert (pc.predict(X, state.w, state.b) != y).any()


def test_one_step_applies_the_rule():
    X, y = pc.toy_dataset("AND")
    s = pc.initial_state()
    s = pc.perceptron_step(s, X, y, lr=0.5)  # x=(0,0), y=0, predicted 1 (step(0)=1): a mistake
    assert s.last_was_mistake and s.last_index == 0
    np.testing.assert_allclose(s.w, [0, 0])
    assert s.b == -0.5
    s = pc.perceptron_epoch(s, X, y, lr=0.5)
    assert s.epoch == 1 and s.index == 0 and len(s.mistakes_per_epoch) == 1


def test_learning_rule_matches_a_torch_implementation():
    X, y = pc.toy_dataset("blobs", seed=4)
    lr = 0.3
    w, b = torch.zeros(2, dtype=torch.float64), torch.zeros((), dtype=torch.float64)
    for _ in range(3):
        for xi, yi in zip(torch.tensor(X), torch.tensor(y)):
            err = yi - (xi @ w + b >= 0).double()
            w, b = w + lr * err * xi, b + lr * err
    state = pc.initial_state()
    for _ in range(3):
        state = pc.perceptron_epoch(state, X, y, lr)
    np.testing.assert_allclose(state.w, w.numpy(), atol=1e-12)
    np.testing.assert_allclose(state.b, b.item(), atol=1e-12)


def test_blobs_are_seeded():
    a, _ = pc.toy_dataset("blobs", seed=7)
    b, _ = pc.toy_dataset("blobs", seed=7)
    c, _ = pc.toy_dataset("blobs", seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("hidden,seed", [(2, 0), (4, 3), (8, 11)])
def test_stacked_linear_layers_collapse_like_torch(hidden, seed):
    net = pc.random_two_layer(hidden, seed)
    l1, l2 = nn.Linear(2, hidden).double(), nn.Linear(hidden, 1).double()
    with torch.no_grad():
        l1.weight.copy_(torch.tensor(net.W1))
        l1.bias.copy_(torch.tensor(net.b1))
        l2.weight.copy_(torch.tensor(net.W2))
        l2.bias.copy_(torch.tensor(net.b2))
    X = np.random.default_rng(seed).uniform(-1, 2, (300, 2))
    stacked = nn.Sequential(l1, l2)(torch.tensor(X)).detach().numpy()[:, 0]
    W, b = pc.collapse(net)
    np.testing.assert_allclose(pc.two_layer_forward(X, net, "linear"), stacked, atol=1e-12)
    np.testing.assert_allclose(X @ W.T + b, stacked[:, None], atol=1e-12)
    with_relu = nn.Sequential(l1, nn.ReLU(), l2)(torch.tensor(X)).detach().numpy()[:, 0]
    np.testing.assert_allclose(pc.two_layer_forward(X, net, "relu"), with_relu, atol=1e-12)


def test_figures_build():
    out = pc.neuron_forward(np.array([0.7, -0.6, 1.4]), np.array([0.5, -1.0, 0.0]), 0.1, "tanh")
    diagram = figs.neuron_diagram(out)  # an SVG: a diagram needs no plotly (issue 11)
    assert diagram.count('class="edge"') == 3 and "w2=-1.00" in diagram and "z=" + pc.fixed(out.z, 2) in diagram
    assert "w3=0.00" in diagram and "-0.00" not in diagram
    import xml.etree.ElementTree as ET
    ET.fromstring(diagram)  # well-formed
    act = figs.activation_figure("tanh", out.z)  # an SVG too (issue 11): the point is marked at (z, tanh z)
    svg = ET.fromstring(act).find("{http://www.w3.org/2000/svg}svg")
    ns = {"s": "http://www.w3.org/2000/svg"}
    curve = np.array([p.split(",") for p in svg.find("s:polyline[@class='curve']", ns).get("points").split()], float)
    dot = svg.find("s:circle[@class='current']", ns)
    cx, cy = float(dot.get("cx")), float(dot.get("cy"))
    np.testing.assert_allclose(cy, np.interp(cx, curve[:, 0], curve[:, 1]), atol=0.3)  # on the curve
    # The curve's pixels map back to tanh: x spans [-6, 6] left to right, y is linear in tanh.
    z_of_x = -6 + 12 * (curve[:, 0] - curve[0, 0]) / (curve[-1, 0] - curve[0, 0])
    np.testing.assert_allclose(z_of_x, np.linspace(-6, 6, 401), atol=0.02)
    zs = np.linspace(-6, 6, 401)
    fit = np.polyfit(np.tanh(zs), curve[:, 1], 1)  # pixel y = a·tanh(z) + b, to the 0.1 px the SVG prints
    np.testing.assert_allclose(np.polyval(fit, np.tanh(zs)), curve[:, 1], atol=0.06)
    np.testing.assert_allclose(np.polyval(fit, np.tanh(out.z)), cy, atol=0.06)
    assert f"f(z) = {pc.fixed(np.tanh(out.z), 3)}" in act and f"z = {pc.fixed(out.z, 2)}" in act
    assert "Tanh activation" in act
    for name in pc.ACTIVATIONS:  # every activation draws, z far outside the picture included
        ET.fromstring(figs.activation_figure(name, 9.5))
    # The One-neuron panel's picture: the same diagram, z written out, a = f(z) and the curve, well-formed.
    html = figs.neuron_panel_html(out)
    assert html.startswith(diagram) and html.endswith(act)
    assert pc.weighted_sum_text(out) in html and f"<b>{pc.fixed(out.a, 4)}</b>" in html
    ET.fromstring(f"<div>{html}</div>")
    X, y = pc.toy_dataset("XOR")
    f = figs.boundary_figure(X, y, np.array([1.0, 1.0]), -0.5, highlight=1, highlight_wrong=True)
    names = [t.name for t in f.data]
    assert "misclassified" in names and "last example" in names
    # Vertical and degenerate boundaries still draw.
    figs.boundary_figure(X, y, np.array([1.0, 0.0]), -0.5)
    figs.boundary_figure(X, y, np.array([0.0, 0.0]), 0.0)
    assert len(figs.mistakes_figure((3, 2, 0)).data[0].y) == 3
    net = pc.random_two_layer(3, 0)
    figs.output_regions_figure(X, y, lambda P: pc.two_layer_forward(P, net, "relu"), "relu")


@settings(max_examples=80, deadline=None)
@given(w0=st.floats(-3, 3), w1=st.floats(-3, 3), b=st.floats(-3, 3))
def test_half_planes_tile_the_square(w0, w1, b):
    w = np.array([w0, w1])
    lo, hi = -0.5, 1.5

    def area(p):
        return 0.0 if len(p) < 3 else 0.5 * abs(np.dot(p[:, 0], np.roll(p[:, 1], 1)) - np.dot(p[:, 1], np.roll(p[:, 0], 1)))

    pos, neg = (figs.half_plane_polygon(w, b, lo, hi, s) for s in (1, -1))
    np.testing.assert_allclose(area(pos) + area(neg), (hi - lo) ** 2, rtol=1e-9)
    for poly, sign in ((pos, 1), (neg, -1)):
        if len(poly):
            assert (sign * (poly @ w + b) >= -1e-9).all()


def test_legends_name_only_the_data():
    X, y = pc.toy_dataset("XOR")
    net = pc.random_two_layer(4, 3)
    fig = figs.output_regions_figure(X, y, lambda P: pc.two_layer_forward(P, net, "relu"), "relu")
    shown = [t.name for t in fig.data if t.showlegend is not False and t.type != "heatmap"]
    # the data, and a key for the two shaded regions (issue 12: every map has a key); nothing else
    assert shown == ["predicted 0", "predicted 1", "class 0", "class 1"]
    heat = next(t for t in fig.data if t.type == "heatmap")
    assert heat.colorscale[0][1] == heat.colorscale[1][1] != heat.colorscale[-1][1]  # two hard colours


def test_weighted_sum_never_shows_negative_zero():
    # 0.5·0.7 + 0.5·(-0.9) + 0.1 is -2.8e-17 in floating point: it must read 0.00, not -0.00.
    out = pc.neuron_forward(np.array([0.7, -0.9]), np.array([0.5, 0.5]), 0.1, "tanh")
    assert -1e-15 < out.z < 0
    text = pc.weighted_sum_text(out)
    assert text.endswith("= 0.00") and "-0.00" not in text
    assert pc.fixed(-0.00004, 4) == "0.0000" and pc.fixed(-0.00005, 4) in ("-0.0001", "0.0000")
    assert pc.fixed(-1.5, 2) == "-1.50"


def test_weighted_sum_adds_up_at_the_shown_precision():
    rng = np.random.default_rng(0)
    for _ in range(200):  # the sliders' values (steps of 0.1): the shown terms give the shown total
        n = int(rng.integers(2, 6))
        x, w = np.round(rng.uniform(-2, 2, n), 1), np.round(rng.uniform(-2, 2, n), 1)
        b = float(np.round(rng.uniform(-3, 3), 1))
        text = pc.weighted_sum_text(pc.neuron_forward(x, w, b, "linear"))
        lhs, rhs = text.split(" = ")
        terms = [t.strip("()") for t in lhs.split(" + ")]
        total = sum(float(a) * float(c) for a, c in (t.split(")·(") if ")·(" in t else t.replace("(", "").replace(")", "").split("·")
                                                for t in terms[:-1])) + float(terms[-1])
        assert pc.fixed(total, 2) == rhs
    rough = pc.weighted_sum_text(pc.neuron_forward(np.array([0.123]), np.array([0.456]), 0.0, "linear"))
    assert "≈" in rough  # factors that had to be rounded: the line says so


def test_convergence_is_reported_at_the_epoch_it_happened():
    X, y = pc.toy_dataset("blobs", seed=0)
    state = pc.initial_state()
    for _ in range(10):
        state = pc.perceptron_epoch(state, X, y, 0.25)
    assert state.mistakes_per_epoch[:5] == (2, 2, 2, 1, 0)  # the run
    assert state.converged_epoch == 5 and state.epoch == 10
    stopped = pc.run_epochs(pc.initial_state(), X, y, 0.25, 10)
    assert stopped.epoch == 5 and stopped.converged_epoch == 5  # Run 10 epochs stops when nothing changes
    np.testing.assert_array_equal(stopped.w, state.w)
    assert pc.run_epochs(pc.initial_state(), *pc.toy_dataset("XOR"), 0.25, 10).converged_epoch is None


def test_replay_rebuilds_the_same_state():
    X, y = pc.toy_dataset("AND")
    state = pc.initial_state()
    for k in range(1, 23):
        state = pc.perceptron_step(state, X, y, 0.25)
        again = pc.replay(X, y, 0.25, k)
        np.testing.assert_array_equal(again.w, state.w)
        assert (again.b, again.epoch, again.index, again.mistakes_per_epoch, again.last_index) == (
            state.b, state.epoch, state.index, state.mistakes_per_epoch, state.last_index)
    start = pc.replay(X, y, 0.25, 0)
    assert start.epoch == 0 and start.last_index is None and not start.w.any()


@pytest.mark.parametrize("hidden", [2, 4, 8])
def test_relu_boundary_bends_for_fifty_seeds(hidden):
    """Issue 13: the default demo makes its point for every seed, not for two thirds of them."""
    for seed in range(50):
        net = pc.random_two_layer(hidden, seed)
        assert pc.boundary_bend(net, "relu") >= pc.BEND_MIN, (hidden, seed)
        assert pc.boundary_bend(net, "linear") < 1e-6  # the measure itself: a straight line does not bend
        assert pc.random_two_layer(hidden, seed).W1.tobytes() == net.W1.tobytes()  # a seed repeats


def test_bend_measure_sees_a_right_angle_and_no_boundary():
    corner = pc.TwoLayerNet(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([-0.5, -0.5]),
                            np.array([[1.0, 1.0]]), np.array([-0.2]))  # relu(x-.5)+relu(y-.5) = .2: a bent corner
    assert pc.boundary_bend(corner) > 0.05
    far = pc.TwoLayerNet(np.array([[1.0, 0.0]]), np.array([0.0]), np.array([[1.0]]), np.array([5.0]))
    assert pc.boundary_bend(far) == 0.0  # output > 0 everywhere: no boundary in the picture


def test_curve_fit_matches_torch_and_improves_with_units():
    errors = []
    for units in (1, 2, 4, 8, 16, 32, 64):
        fit = pc.fit_curve(units)
        hidden = nn.Linear(1, units).double()
        out = nn.Linear(units, 1).double()
        with torch.no_grad():
            hidden.weight.copy_(torch.tensor(fit.w1)[:, None])
            hidden.bias.copy_(torch.tensor(fit.b1))
            out.weight.copy_(torch.tensor(fit.w2)[None, :])
            out.bias.fill_(fit.b2)
        x = torch.tensor(fit.x)[:, None]
        net = nn.Sequential(hidden, nn.ReLU(), out)
        np.testing.assert_allclose(net(x).detach().numpy()[:, 0], fit.prediction, atol=1e-9)
        # torch's least squares on the same ramps finds an output layer that fits as well (the optimum)
        design = torch.cat([torch.relu(hidden(x)), torch.ones_like(x)], 1)
        coef = torch.linalg.lstsq(design, torch.tensor(fit.target)[:, None]).solution
        torch_mse = torch.mean((design @ coef - torch.tensor(fit.target)[:, None]) ** 2).item()
        assert fit.mse == pytest.approx(torch_mse, rel=1e-6, abs=1e-12)
        np.testing.assert_allclose(fit.kinks, -fit.b1 / fit.w1)
        errors.append(fit.mse)
    assert all(b <= a + 1e-12 for a, b in zip(errors, errors[1:]))  # more units never fit worse
    assert errors[-1] < errors[0] / 100  # and many fit far better
    with pytest.raises(ValueError):
        pc.fit_curve(0)


def test_curve_figure_draws_target_fit_and_kinks():
    import xml.etree.ElementTree as ET
    fit = pc.fit_curve(8)
    root = ET.fromstring(figs.curve_figure(fit))
    lines = {p.get("class"): np.array([[float(v) for v in pt.split(",")] for pt in p.get("points").split()])
             for p in root.iter("{http://www.w3.org/2000/svg}polyline")}
    # Screen y is linear in the value (up is larger): the fit and the target keep their shapes exactly.
    for name, values in (("fit", fit.prediction), ("target", pc.wiggly_target(fit.x))):
        a, b = np.polyfit(values, lines[name][:, 1], 1)
        assert a < 0
        np.testing.assert_allclose(lines[name][:, 1], a * values + b, atol=0.06)
    kinks = [e for e in root.iter("{http://www.w3.org/2000/svg}line") if e.get("class") == "kink"]
    assert len(kinks) == int(np.sum(np.abs(fit.kinks) <= 1))
    sizes = [float(t.get("font-size")) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert min(sizes) >= 10
