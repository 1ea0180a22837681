"""explainers.figures.backprop: the SVG graphs (laid out in Python) and the plotly figures describe the computation."""

import base64
import io
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from explainers import autograd as ag
from explainers import backprop as bp
from explainers.figures import backprop as fb
from explainers.figures import style


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


def test_the_layout_is_worked_out_once_per_shape_of_network_and_cannot_be_changed():
    _net, graph, _ = _graph(3, "tanh", "bce")
    pos = fb.layered_positions(graph)
    other = bp.build_mlp(bp.init_params(3, 7), np.array([-2.0, 0.25]), 1.0, "tanh", "bce")  # other numbers
    graph2, _ = ag.backward_steps(other.loss)
    assert graph2 != graph and fb.layered_positions(graph2) is pos  # each step of a network reuses it
    assert fb.layered_positions(_graph(2, "tanh", "bce")[1]) != pos  # another shape, another layout
    with pytest.raises(TypeError):
        pos[graph.root] = (0, 0.0)  # shared by every session: read-only


def test_graph_labels_change_but_shapes_stay_between_steps():
    _net, graph, steps = _graph(2)
    first = fb.graph_svg(graph, steps[0].grads, steps[0].reached, current=steps[0].node)
    later = fb.graph_svg(graph, steps[5].grads, steps[5].reached, current=steps[5].node)
    geometry = re.compile(r'(?<![-\w])(?:x|y|width|height|d)="[^"]*"')  # not stroke-width
    assert geometry.findall(first) == geometry.findall(later) and first != later


def test_graph_numbers_never_read_minus_zero():
    assert fb._fmt(-0.0) == "0.00" and fb._fmt(0.0) == "0.00" and fb._fmt(-0.5) == "−0.50"


def _lines(svg: str) -> list:
    """The drawn lines of a chart SVG: (name, points (K, 2), stroke width), in drawing order."""
    root = ET.fromstring(svg)
    return [(p.get("data-name"), np.array([[float(v) for v in xy.split(",")] for xy in p.get("points").split()]),
             float(p.get("stroke-width"))) for p in root.iter(f"{SVG}polyline")]


def test_minibatch_chart_draws_the_full_batch_line_on_top():
    """The picture type changed (plotly -> SVG): the full-batch line is still drawn last and thickest."""
    curves = {"batch size 4 (the whole dataset)": np.linspace(1, 0, 50), "batch size 1": np.random.default_rng(0).random(50),
              "batch size 2": np.random.default_rng(1).random(50)}
    lines = _lines(fb.minibatch_svg(curves, "batch size 4 (the whole dataset)"))
    assert lines[-1][0] == "batch size 4 (the whole dataset)"  # drawn last, so on top
    assert lines[-1][2] > max(w for _, _, w in lines[:-1])
    pts = lines[-1][1]  # a straight falling line: x grows with the step, the screen y grows as the loss falls
    assert len(pts) == 50 and np.all(np.diff(pts[:, 0]) > 0) and np.all(np.diff(pts[:, 1]) > 0)
    np.testing.assert_allclose(np.diff(pts[:, 1]), np.diff(pts[:, 1])[0], atol=0.15)


def test_loss_curve_and_side_by_side():
    svg = fb.loss_curve_svg({"a": np.arange(5.0), "b": np.ones(3)})
    lines = _lines(svg)
    assert [n for n, _, _ in lines] == ["a", "b"] and len(lines[0][1]) == 5 and len(lines[1][1]) == 3
    assert "Loss on the whole dataset" in svg and ">a<" in svg  # the title and the legend
    svg = fb.side_by_side_svg([("one", np.arange(1.0, 4.0)), ("two", np.arange(4.0)), ("three", np.ones(2))])
    assert len(_lines(svg)) == 3 and all(t in svg for t in (">one<", ">two<", ">three<"))


def test_log_charts_label_powers_of_ten():
    svg = fb.side_by_side_svg([("falls", np.logspace(0, -3, 100))], log_y=True)
    assert all(f"10{e}" in svg for e in ("⁰", "⁻¹", "⁻²", "⁻³"))
    y = _lines(svg)[0][1][:, 1]  # on a log axis equal ratios are equal distances
    np.testing.assert_allclose(np.diff(y), np.diff(y)[0], atol=0.15)
    short = fb.side_by_side_svg([("one decade", np.logspace(-1, -2, 50))], log_y=True)  # few powers: one style
    assert "10⁻" not in short and all(f">{v}<" in short for v in ("0.1", "0.05", "0.02", "0.01"))


def test_long_noisy_curves_keep_their_spikes():
    ys = np.zeros(3001)
    ys[1234] = 5.0
    x, v = fb._decimate(ys, 300)
    assert len(x) <= 602 and 5.0 in v and x[0] == 0 and x[-1] == 3000 and np.all(np.diff(x) > 0)


def _png(uri: str) -> np.ndarray:
    """A data URI's PNG as an (H, W, 3) uint8 array."""
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


def test_boundary_picture_shows_probabilities_and_data():
    """The picture type changed (plotly heatmaps -> one SVG with PNG fields): the same content, checked by pixels."""
    X, y = bp.make_problem("XOR")
    p = bp.train(bp.init_params(2, 0), X, y, "tanh", "bce", lr=1.0, steps=300).params  # P crosses 0.5 here
    grid = bp.probability_grid(p, "tanh", bp.data_extent(X), n=20)
    svg = fb.boundary_svg([("start", *grid), ("again", *grid)], X, y)
    root = ET.fromstring(svg)
    panels = [g for g in root.iter(f"{SVG}g") if g.get("class") == "panel"]
    assert len(panels) == 2 and "start" in ET.tostring(panels[0], encoding="unicode")
    field = _png(next(panels[0].iter(f"{SVG}image")).get("href"))
    assert field.shape == (20, 20, 3)
    xs, ys, P = grid
    # every cell's colour is P's on the class scale; the picture's top row is the highest y
    np.testing.assert_array_equal(field[::-1], fb.class_colours(P))
    np.testing.assert_allclose(P[0, 0], bp.predict(p, np.array([[xs[0], ys[0]]]), "tanh")[0])
    for cell, prob in ((field[-1, 0], P[0, 0]), (field[0, -1], P[-1, -1])):  # blue where P > 0.5, orange below
        assert (cell[2] > cell[0]) == (prob > 0.5)
    points = [c for c in root.iter(f"{SVG}circle") if "point" in (c.get("class") or "")]
    assert len(points) == 2 * len(X)
    assert sum("class1" in c.get("class") for c in points) == 2 * int(y.sum())
    dots = [d for d in root.iter(f"{SVG}path") if d.get("class") == "boundary"]
    assert len(dots) == 2 and dots[0].get("d").count("M") == len(fb.level_crossings(*grid)[0])
    assert min(float(t.get("font-size")) for t in root.iter(f"{SVG}text")) >= 12


def test_class_colours_run_orange_white_blue():
    c = fb.class_colours(np.array([0.0, 0.5, 1.0]), opacity=1.0)
    np.testing.assert_array_equal(c, [style.rgb(style.ORANGE), style.rgb(style.WHITE), style.rgb(style.BLUE)])
    faded = fb.class_colours(np.array([0.0]))[0]  # 0.75 opacity on white, as the plotly heatmap was drawn
    np.testing.assert_array_equal(faded, np.round(0.75 * style.rgb(style.ORANGE) + 0.25 * 255))


@pytest.mark.parametrize(("lo", "hi"), [(-0.5, 1.5), (-2.19, 2.17), (-1.34, 1.37), (0.0, 3000.0)])
def test_nice_ticks_are_round_and_inside(lo, hi):
    ticks = fb.nice_ticks(lo, hi)
    assert 2 <= len(ticks) <= 7 and ticks[0] >= lo - 1e-9 and ticks[-1] <= hi + 1e-9
    step = np.diff(ticks)[0]
    assert np.allclose(np.diff(ticks), step) and step / 10 ** np.floor(np.log10(step)) in (1, 2, 5)


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
