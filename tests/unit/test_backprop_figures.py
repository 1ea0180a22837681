"""explainers.figures.backprop: the SVG graphs (laid out in Python) and the plotly figures describe the computation."""

import re
import xml.etree.ElementTree as ET

import numpy as np
import plotly.graph_objects as go
import pytest

from explainers import autograd as ag
from explainers import backprop as bp
from explainers.figures import backprop as fb


def _graph(hidden=2, act="tanh", loss="bce"):
    net = bp.build_mlp(bp.init_params(hidden, 0), np.array([0.0, 1.0]), 1.0, act, loss)
    return net, *ag.backward_steps(net.loss)


SVG = "{http://www.w3.org/2000/svg}"


def _check_dot(dot: str) -> tuple[set[str], list[tuple[str, str]]]:
    """A structural check of the SVG: well-formed XML, every edge between declared nodes, nodes apart."""
    root = ET.fromstring(dot)  # the <div> around the <svg>
    nodes = [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]
    declared = {g.get("id") for g in nodes}
    assert len(declared) == len(nodes)
    edges = [(e.get("data-from"), e.get("data-to")) for e in root.iter(f"{SVG}path") if e.get("class") == "edge"]
    assert edges and all(a in declared and b in declared for a, b in edges)
    boxes = [next(g.iter(f"{SVG}rect")) for g in nodes]
    rects = [(float(r.get("x")), float(r.get("y")), float(r.get("width")), float(r.get("height"))) for r in boxes]
    for i, (x, y, w, h) in enumerate(rects):  # laid out, not piled up: no two nodes overlap
        for x2, y2, w2, h2 in rects[i + 1:]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y
    sizes = {float(t.get("font-size")) for t in root.iter(f"{SVG}text")}
    assert min(sizes) >= fb.MIN_FONT_PX  # readable on a projector
    return declared, edges


@pytest.mark.parametrize("hidden", [1, 2, 4])
def test_op_graph_has_every_node_and_edge(hidden):
    _net, graph, steps = _graph(hidden)
    s = steps[3]
    dot = fb.graph_svg(graph, s.grads, s.reached, current=s.node, updated=[t.child for t in s.terms])
    declared, edges = _check_dot(dot)
    assert declared == {f"n{i}" for i in range(len(graph.nodes))}
    assert len(edges) == len(graph.edges)
    assert dot.count(fb.CURRENT) == 1
    assert dot.count(f'fill="{fb.UPDATED}"') == len({t.child for t in s.terms})
    assert dot.count("grad ?") == sum(not r for r in s.reached)
    assert dot.count('class="cluster"') == hidden + 2
    for n in graph.nodes:  # every forward value is printed (with a real minus sign)
        assert fb._fmt(n.data) in dot


def test_op_graph_before_any_step_knows_only_the_loss():
    _net, graph, _ = _graph(1)
    grads, reached = ag.seed_state(graph)
    dot = fb.graph_svg(graph, grads, reached, current=graph.root)
    assert dot.count("grad ?") == len(graph.nodes) - 1
    assert f"grad {fb._fmt(1.0)}" in dot


@pytest.mark.parametrize("hidden", [1, 3, 4])
def test_compact_graph_has_one_node_per_neuron(hidden):
    _net, graph, steps = _graph(hidden, "relu", "mse")
    last = steps[-1]
    dot = fb.compact_svg(graph, last.grads, last.reached, current=last.node, updated=[t.child for t in last.terms])
    declared, edges = _check_dot(dot)
    neurons = {f"g_h{j}" for j in range(1, hidden + 1)} | {"g_out", "g_loss"}
    inputs = {n for n in declared if n.startswith("n")}
    assert declared == neurons | inputs and len(inputs) == 2  # x1 and x2; parameters live inside neurons
    assert set(edges) == {(x, f"g_h{j}") for x in inputs for j in range(1, hidden + 1)} | {
        (f"g_h{j}", "g_out") for j in range(1, hidden + 1)} | {("g_out", "g_loss")}
    for name in bp.param_names(hidden):  # every parameter with its final gradient
        idx = next(n.index for n in graph.nodes if n.label == name)
        assert name in dot and fb._fmt(last.grads[idx]) in dot
    assert "grad ?" not in dot


def test_compact_graph_highlights_the_current_neuron():
    _net, graph, steps = _graph(2)
    s = next(s for s in steps if graph.nodes[s.node].group == "h2")
    dot = fb.compact_svg(graph, s.grads, s.reached, current=s.node, updated=[t.child for t in s.terms])
    _check_dot(dot)
    root = ET.fromstring(dot)
    h2, h1 = (ET.tostring(next(g for g in root.iter(f"{SVG}g") if g.get("id") == name), encoding="unicode")
              for name in ("g_h2", "g_h1"))
    assert 'stroke-width="3"' in h2 and fb.CURRENT in h2
    assert 'stroke-width="3"' not in h1 and fb.CURRENT not in h1


def test_layout_puts_each_op_right_of_its_inputs_and_the_loss_last():
    for hidden in (1, 2, 4):
        _net, graph, _ = _graph(hidden, "sigmoid", "mse")
        pos = fb.layered_positions(graph)
        assert all(pos[c][0] < pos[p][0] for c, p in graph.edges)
        assert pos[graph.root][0] == max(c for c, _ in pos.values())
        cells = [(c, round(r, 6)) for c, r in pos.values()]
        assert len(set(cells)) == len(cells)  # no two nodes share a place


def test_graph_labels_change_but_shapes_stay_between_steps():
    _net, graph, steps = _graph(2)
    first = fb.graph_svg(graph, steps[0].grads, steps[0].reached, current=steps[0].node)
    later = fb.graph_svg(graph, steps[5].grads, steps[5].reached, current=steps[5].node)
    geometry = re.compile(r'(?<![-\w])(?:x|y|width|height|d)="[^"]*"')  # not stroke-width
    assert geometry.findall(first) == geometry.findall(later) and first != later


def test_graph_numbers_never_read_minus_zero():
    assert fb._fmt(-0.0) == "0.00" and fb._fmt(0.0) == "0.00" and fb._fmt(-0.5) == "−0.50"


def test_minibatch_chart_draws_the_full_batch_line_on_top():
    curves = {"batch size 4 (the whole dataset)": np.linspace(1, 0, 50), "batch size 1": np.random.default_rng(0).random(50),
              "batch size 2": np.random.default_rng(1).random(50)}
    fig = fb.minibatch_figure(curves, "batch size 4 (the whole dataset)")
    assert fig.data[-1].name == "batch size 4 (the whole dataset)"  # drawn last, so on top
    assert fig.data[-1].line.width > max(t.line.width for t in fig.data[:-1])
    np.testing.assert_array_equal(fig.data[-1].y, curves["batch size 4 (the whole dataset)"])


def test_loss_curve_and_side_by_side():
    fig = fb.loss_curve_figure({"a": np.arange(5.0), "b": np.ones(3)}, log_y=True)
    assert isinstance(fig, go.Figure) and len(fig.data) == 2
    np.testing.assert_array_equal(fig.data[0].y, np.arange(5.0))
    assert fig.layout.yaxis.type == "log"
    fig = fb.side_by_side_figure([("one", np.arange(3.0)), ("two", np.arange(4.0)), ("three", np.ones(2))])
    assert len(fig.data) == 3 and [a.text for a in fig.layout.annotations] == ["one", "two", "three"]


def test_boundary_figure_shows_probabilities_and_data():
    X, y = bp.make_problem("XOR")
    p = bp.init_params(2, 0)
    grid = bp.probability_grid(p, "tanh", bp.data_extent(X), n=20)
    fig = fb.boundary_figure([("start", *grid), ("again", *grid)], X, y)
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heat) == 2
    np.testing.assert_allclose(heat[0].z, grid[2])
    np.testing.assert_allclose(grid[2][0, 0], bp.predict(p, np.array([[grid[0][0], grid[1][0]]]), "tanh")[0])
    assert sum(len(t.x) for t in fig.data if isinstance(t, go.Scatter) and t.name) == 2 * len(X)
    boundary = [t for t in fig.data if isinstance(t, go.Scatter) and not t.name]
    assert len(boundary) == 2
    np.testing.assert_allclose(boundary[0].x, fb.level_crossings(*grid)[0])


def test_level_crossings_lie_on_the_level_of_a_linear_field():
    xs, ys = np.linspace(-1, 2, 31), np.linspace(-2, 1, 17)
    gx, gy = np.meshgrid(xs, ys)
    P = 0.3 * gx - 0.7 * gy + 0.2  # linear: interpolation along edges is exact
    bx, by = fb.level_crossings(xs, ys, P, level=0.5)
    assert len(bx) > 10
    np.testing.assert_allclose(0.3 * bx - 0.7 * by + 0.2, 0.5, atol=1e-12)
    assert np.all((bx >= xs[0]) & (bx <= xs[-1]) & (by >= ys[0]) & (by <= ys[-1]))
    empty = fb.level_crossings(xs, ys, np.zeros_like(P) + 0.9)
    assert len(empty[0]) == 0


def test_vanishing_figure_is_log_scale_bars():
    g = {a: bp.chain_gradients(6, a) for a in bp.ACTIVATIONS}
    fig = fb.vanishing_figure(g)
    assert [t.name for t in fig.data] == list(g)
    assert fig.layout.yaxis.type == "log"
    np.testing.assert_allclose(fig.data[0].y, g["sigmoid"])
