"""The Backprop page in AppTest: every widget moves, the step-through keeps its place, bad input is caught."""

import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explainers import backprop as bp
from explainers.training.oracle import mlp_gradients
from pages.widgets.backprop_parts import GRAPH_PANEL, LR_PANEL, STEP_PANEL, TRAIN_PANEL
from tests.app.harness import move_panel, open_snippets, panel, panel_value, run_page


def run(query: dict | None = None) -> AppTest:
    return run_page("backprop.py", query)


def widget(items, label):
    return next(w for w in items if w.label == label)


def button(at, label):
    return next(b for b in at.button if b.label == label)


def picture(at) -> str:
    """What the graph's panel shows: the graph, then its caption."""
    return panel(at, GRAPH_PANEL)["picture"]


def dot(at) -> str:
    """The graph's SVG (laid out in Python; ids follow the old DOT names: n<i>, g_<neuron>, cluster_<neuron>)."""
    svg, caption, _ = picture(at).partition('<p class="nl-caption">')
    assert caption and "bp-graph" in svg
    return svg


def step_range(at) -> dict:
    """The step panel's range: its value, lo and hi."""
    return next(c for c in panel(at, STEP_PANEL)["controls"] if c["name"] == "bp_step")


def table(at, first_column):
    return next(d.value for d in at.dataframe if d.value.columns[0] == first_column
                and "our engine" in d.value.columns)


def test_default_page_draws_the_graph_and_checks_gradients_three_ways():
    at = run()
    assert at.title[0].value == "Backpropagation"
    assert at.slider[0].label == "Hidden units"  # the first slider is a meaningful one
    spec = dot(at)
    assert "<svg" in spec and 'id="cluster_h2"' in spec
    grads = table(at, "parameter")
    assert list(grads["parameter"]) == bp.param_names(2)
    assert (grads["agree"] == "✓").all()
    params, x = bp.init_params(2, 0), bp.make_problem("XOR")[0][1]
    _, expected = mlp_gradients(params, x, 1.0, "tanh", "bce")
    np.testing.assert_allclose(grads["PyTorch autograd"], expected, atol=1e-6)
    assert at.latex and at.expander  # the formula and the PyTorch snippet
    open_snippets(at)
    assert "loss.backward()" in at.code[0].value
    assert any("Perceptron" in m.value for m in at.markdown)  # XOR links back to the Perceptron


def test_step_through_moves_and_keeps_its_place():
    at = run()

    def chain_rule_lines() -> list[str]:  # the step's equation, above the graph in its panel: one line per product
        return re.findall(r'<p class="nl-eq">.*?</p>', picture(at))

    assert not chain_rule_lines()  # step 0: nothing computed yet
    for _ in range(3):
        button(at, "Next").click().run()
    assert at.session_state["bp_step"] == 3
    assert step_range(at)["value"] == 3
    lines = chain_rule_lines()  # the chain-rule lines for step 3
    assert lines and all(" += " in line and "⇒" in line for line in lines)
    assert panel(at, STEP_PANEL)["announce"].startswith("Step 3 of")  # what a screen reader hears
    assert "<b>Step 3 of" in picture(at)
    at.selectbox[0].set_value("relu").run()  # another widget: the position stays
    assert at.session_state["bp_step"] == 3
    button(at, "Back").click().run()
    assert at.session_state["bp_step"] == 2
    button(at, "All").click().run()
    n = step_range(at)["hi"]
    assert at.session_state["bp_step"] == n
    assert at.success and "grad ?" not in dot(at)
    button(at, "Next").click().run()  # past the end stays at the end
    assert at.session_state["bp_step"] == n
    move_panel(at, STEP_PANEL, {"bp_step": 5})
    assert "<b>Step 5 of" in picture(at)
    assert at.query_params["bp_step"] == "5"
    button(at, "Start").click().run()
    assert at.session_state["bp_step"] == 0
    assert dot(at).count("grad ?") > 5
    assert at.query_params["bp_step"] == "0"


def test_every_setting_moves_without_error():
    at = run()
    for hidden in (1, 3, 4, 2):
        widget(at.slider, "Hidden units").set_value(hidden).run()
        assert not at.exception
        assert len(table(at, "parameter")) == 4 * hidden + 1
    for act in bp.ACTIVATIONS:
        for loss in bp.LOSSES:
            widget(at.selectbox, "Hidden activation").set_value(act)
            widget(at.selectbox, "Loss").set_value(loss).run()
            assert not at.exception
    for data in bp.PROBLEMS:
        widget(at.selectbox, "Toy dataset").set_value(data).run()
        assert not at.exception
        assert any(f"whole {data} dataset" in h.value for h in at.subheader)
    at.number_input[0].set_value(57).run()  # moons has 100 examples
    at.number_input[1].set_value(42).run()
    move_panel(at, TRAIN_PANEL, {"bp_steps": 200})
    move_panel(at, TRAIN_PANEL, {"bp_batch": 10})
    assert (panel_value(at, TRAIN_PANEL, "bp_steps"), panel_value(at, TRAIN_PANEL, "bp_batch")) == (200, 10)
    boundary = next(svg for label, svg in _pictures(at).items() if label.startswith("The probability of class 1"))
    assert "after 200 steps" in boundary
    assert any("η ÷ 100" in m.value for m in at.markdown)  # the first lesson tab is open
    at.session_state["bp_lesson"] = "Vanishing gradients"
    at.run()
    assert not any("η ÷ 100" in m.value for m in at.markdown)  # closed tabs are not computed
    widget(at.slider, "Depth of the chain (layers of one neuron)").set_value(15).run()
    assert any("after 15 layers" in m.value for m in at.markdown)
    at.session_state["bp_lesson"] = "Mini-batches"
    at.run()
    assert any("batches is what makes" in m.value or "makes training parallel" in m.value for m in at.markdown)
    move_panel(at, LR_PANEL, {"bp_lr": 0.1})
    assert at.session_state["bp_lr"] == 0.1 and at.query_params["bp_lr"] == "0.1"
    at.radio[1].set_value("neurons").run()
    assert "g_out" in dot(at)
    assert not at.exception
    widget(at.selectbox, "Toy dataset").set_value("AND").run()  # example 57 does not exist in AND
    assert at.number_input[0].value == 3
    assert not at.exception
    assert at.query_params["bp_dataset"] == "AND" and at.query_params["bp_seed"] == "42"


def test_big_networks_fall_back_to_the_compact_graph():
    at = run({"bp_hidden": "4", "bp_view": "ops"})
    assert "too big to read" in picture(at)
    assert "g_h4" in dot(at) and "cluster_" not in dot(at)


def test_own_weights_and_a_step_downhill():
    at = run()
    at.radio[0].set_value("sliders").run()
    weights = [s for s in at.slider if s.label in bp.param_names(2)]
    assert len(weights) == 9
    widget(at.slider, "W2[1]").set_value(-2.0).run()
    assert table(at, "parameter")["value"].iloc[6] == -2.0
    move_panel(at, LR_PANEL, {"bp_lr": 0.3})
    button(at, "Take a step").click().run()
    assert not at.exception
    before, after = (float(m.value) for m in at.metric[:2])  # this example's loss
    assert after < before
    step = next(d.value for d in at.dataframe if "before" in d.value.columns)
    # the new weights are on the sliders, and the engine's loss for them is the one shown
    vec = np.array([widget(at.slider, n).value for n in bp.param_names(2)])
    np.testing.assert_allclose(step["after"], vec, atol=1e-4)
    np.testing.assert_allclose(step["after"], step["before"] - 0.3 * step["gradient"], atol=2e-3)
    x = bp.make_problem("XOR")[0][1]
    loss = bp.build_mlp(bp.params_from_vector(vec, 2), x, 1.0, "tanh", "bce").loss.data
    assert f"{loss:.4f}" == f"{after:.4f}"
    assert at.query_params["bp_weights"] == "sliders"


def test_saturated_cross_entropy_is_a_message_not_a_traceback():
    query = {"bp_weights": "sliders", "bp_activation": "relu", "bp_example": "3"}
    query |= {f"bp_w_{n.translate(str.maketrans('[,]', '___'))}": "5" for n in bp.param_names(2)}
    at = run(query)
    assert any("cross-entropy is infinite" in e.value for e in at.error)
    widget(at.selectbox, "Loss").set_value("mse").run()  # the way out the message suggests
    assert not at.error and not at.exception


def test_url_reproduces_the_demo_and_ignores_nonsense():
    at = run({"bp_hidden": "3", "bp_activation": "sigmoid", "bp_dataset": "circle", "bp_step": "4",
              "bp_seed": "7", "bp_lr": "0.3"})
    assert widget(at.slider, "Hidden units").value == 3
    assert widget(at.selectbox, "Toy dataset").value == "circle"
    assert at.session_state["bp_step"] == 4
    assert panel_value(at, LR_PANEL, "bp_lr") == 0.3
    at = run({"bp_hidden": "lots", "bp_activation": "gelu", "bp_lr": "0.12345", "bp_step": "9999"})
    assert widget(at.slider, "Hidden units").value == 2
    assert any("not understood" in c.value for c in at.caption)
    assert at.session_state["bp_step"] == step_range(at)["hi"]


def test_a_huge_step_does_what_the_formula_says():
    """Issue 12 item 2: /backprop?bp_loss=mse&bp_lr=30, Take a step: no silent clip at ±5."""
    at = run({"bp_loss": "mse", "bp_lr": "30"})
    grads = table(at, "parameter")["our engine"].to_numpy()
    before_vec = bp.init_params(2, 0).vector()
    button(at, "Take a step").click().run()
    assert not at.exception
    step = next(d.value for d in at.dataframe if "before" in d.value.columns)
    np.testing.assert_allclose(step["after"], np.round(before_vec - 30 * grads, 3), atol=2e-3)
    w12 = step.set_index("parameter").loc["W1[1,2]"]
    assert w12["after"] == pytest.approx(w12["before"] - 30 * w12["gradient"], abs=2e-3)
    assert abs(w12["after"]) > bp.WEIGHT_LIMIT  # the weight, 7.17, not 5
    assert widget(at.slider, "W1[1,2]").value == pytest.approx(w12["after"])
    assert widget(at.slider, "W1[1,2]").max >= abs(w12["after"])  # the slider widened to show it
    assert any("left the usual range" in c.value and "W1[1,2]" in c.value for c in at.caption)
    assert at.query_params["bp_w_W1_1_2_"] == f"{w12['after']:.6g}"  # and a shared link keeps it
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["After (whole dataset)"]) > float(metrics["Before (whole dataset)"])  # the caption's promise holds
    shown = step[["before", "− η × gradient", "after"]].to_numpy()
    assert all(f"{b + c:.3f}" == f"{a:.3f}" for b, c, a in shown)  # the table adds up as shown


def test_the_lesson_tab_is_in_the_link_and_loss_is_explained():
    at = run({"bp_lesson": "Mini-batches"})
    assert at.session_state["bp_lesson"] == "Mini-batches"
    assert any("thick dark line" in m.value for m in at.markdown)
    assert at.query_params["bp_lesson"] == "Mini-batches"
    assert "how wrong" in at.markdown[0].value  # "loss" explained where it first appears
    loss_box = widget(at.selectbox, "Loss")
    assert "cross-entropy" in loss_box.help and "log" in loss_box.help


def _pictures(at) -> dict[str, str]:
    """The page's SVG pictures (st.image, and the <img>s of the training panel), by their aria-label."""
    import base64

    urls = [image.proto.imgs[0].url for image in at.get("image")]
    urls += re.findall(r'<img src="([^"]*)"', panel(at, TRAIN_PANEL)["picture"])
    out = {}
    for url in urls:
        assert url.startswith("data:image/svg+xml;base64,")
        svg = base64.b64decode(url.split(",", 1)[1]).decode()
        out[re.search(r'aria-label="([^"]*)"', svg).group(1)] = svg
    return out


def _metrics(at) -> dict[str, str]:
    """The training panel's numbers (style.metrics_html), by their label."""
    found = re.findall(r'nl-metric-label">([^<]*)</div><div class="nl-metric-value">([^<]*)</div>',
                       panel(at, TRAIN_PANEL)["picture"])
    return dict(found)


def test_the_charts_are_pictures_drawn_on_the_server():
    """Section 4's loss curve and boundaries and the lessons' curves are SVGs (no plotly to re-render per change)."""
    at = run({"bp_dataset": "moons", "bp_hidden": "3"})
    pictures = _pictures(at)
    boundary = next(svg for label, svg in pictures.items() if label.startswith("The probability of class 1"))
    assert boundary.count('class="panel"') == 4 and "after 500 steps" in boundary
    assert boundary.count('class="point class') == 4 * 100  # the moons, in every panel
    curve = pictures["Loss on the whole dataset"]
    assert "η = 1<" in curve and curve.count("<polyline") == 1
    lesson = pictures["loss"]  # the learning-rate lesson: η ÷ 100, η, η × 10
    assert all(f"η = {r:g}: final loss" in lesson for r in (0.01, 1, 10))
    move_panel(at, LR_PANEL, {"bp_lr": 0.1})  # another η: other pictures
    after = _pictures(at)
    assert after["Loss on the whole dataset"] != curve and "η = 0.1<" in after["Loss on the whole dataset"]
    assert "η = 0.001: final loss" in after["loss"]
    at.session_state["bp_lesson"] = "Mini-batches"
    at.run()
    batches = _pictures(at)["Loss on the batch used at each step"]
    assert batches.count("<polyline") == 3 and "batch size 100 (the whole dataset)" in batches


def test_the_training_panel_shows_the_run_its_ranges_pick():
    """Section 4's numbers are the explainer's own run for the steps and batch size on the panel."""
    at = run({"bp_dataset": "moons", "bp_hidden": "3", "bp_lr": "0.3"})
    move_panel(at, TRAIN_PANEL, {"bp_steps": 120, "bp_batch": 8})
    assert at.query_params["bp_steps"] == "120" and at.query_params["bp_batch"] == "8"
    vec = tuple(float(v) for v in bp.init_params(3, at.session_state["bp_seed"]).vector())
    fit = bp.fit_problem(vec, 3, "moons", at.session_state["bp_activation"], at.session_state["bp_loss"], 0.3, 120, 8)
    shown = _metrics(at)
    assert shown == {"Final loss": f"{fit.losses[-1]:.4f}", "Accuracy": f"{fit.accuracy:.0%}"}
    change = bp.signed(fit.losses[-1] - fit.losses[0])
    assert f"nl-metric-delta nl-good\">↓ {change}<" in panel(at, TRAIN_PANEL)["picture"]  # the loss fell
    widget(at.selectbox, "Toy dataset").set_value("circle").run()
    assert panel_value(at, TRAIN_PANEL, "bp_batch") == 8  # kept where the new dataset allows it
    widget(at.selectbox, "Toy dataset").set_value("XOR").run()  # four examples: no batch range
    assert [c["name"] for c in panel(at, TRAIN_PANEL)["controls"]] == ["bp_steps"]
    at = run({"bp_steps": "15"})  # off the range's grid: the browser would show 20, so 20 are trained
    boundary = next(svg for label, svg in _pictures(at).items() if label.startswith("The probability of class 1"))
    assert panel_value(at, TRAIN_PANEL, "bp_steps") == 20 and "after 20 steps" in boundary
