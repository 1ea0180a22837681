"""The Perceptron page in AppTest: every widget moves, the numbers follow, the URL reproduces it."""


import numpy as np
from streamlit.testing.v1 import AppTest

from explainers import perceptron as pc
from pages.widgets import ui
from tests.app.harness import (
    choose_tab,
    lesson_tabs,
    move_panel,
    open_snippets,
    panel,
    panel_value,
    run_page,
    slider,
)

RULE, LAYERS, CURVE = "The learning rule", "Why layers need a non-linearity", "Enough units: any curve"
NEURON = "perc_neuron"  # the panel of inputs, weights and bias (pages/widgets/slider_panel.py)


def run(query: dict | None = None) -> AppTest:
    return run_page("perceptron.py", query)


def open_tab(at: AppTest, name: str) -> AppTest:
    """Click a tab: only the open tab is drawn (the page reruns, as the browser does on a tab click)."""
    at.session_state["perc_tab"] = name
    return at.run()


def markdown_with(at, text):
    return next(m.value for m in at.markdown if text in m.value)


def neuron(at: AppTest, **values: float) -> AppTest:
    """Move the One-neuron panel's inputs, weights or bias (x1=1.0, w2=2.0, b=0.3), as the browser sends them."""
    return move_panel(at, NEURON, {f"perc_{name}": v for name, v in values.items()})


def shown(at: AppTest, name: str) -> float:
    """The value the One-neuron panel shows for x1, w1, b, ..."""
    return panel_value(at, NEURON, f"perc_{name}")


def test_neuron_sliders_drive_the_weighted_sum():
    at = run()
    slider(at, "Number of inputs").set_value(2).run()
    neuron(at, x1=1.0)
    neuron(at, w1=-0.5)
    neuron(at, x2=0.5, w2=2.0)  # one message can carry several moves (a slow answer)
    neuron(at, b=0.3)
    assert "(-0.50)·1.00 + 2.00·0.50 + 0.30 = 0.80" in panel(at, NEURON)["picture"]
    assert "z=0.80" in panel(at, NEURON)["picture"]  # the neuron diagram follows
    for act in pc.ACTIVATIONS:
        at.selectbox[0].set_value(act).run()
        assert not at.exception
        expected = float(pc.activate(0.8, act))
        assert f"<b>{expected:.4f}</b>" in panel(at, NEURON)["picture"]
    assert at.query_params["perc_act"] == "linear"
    assert at.query_params["perc_b"] == "0.3"


def test_number_of_inputs_adds_sliders():
    at = run()
    for n in (2, 5):
        slider(at, "Number of inputs").set_value(n).run()
        labels = [c["label"] for c in panel(at, NEURON)["controls"]]
        assert sum(label.startswith("Input x") for label in labels) == n
        assert sum(label.startswith("Weight w") for label in labels) == n and labels[-1] == "Bias b"


def test_url_reproduces_the_demo_and_ignores_nonsense():
    at = run({"perc_n": "4", "perc_act": "relu", "perc_w1": "-1.5", "perc_data": "XOR", "perc_hidden": "99"})
    assert slider(at, "Number of inputs").value == 4
    assert at.selectbox[0].value == "relu"
    assert shown(at, "w1") == -1.5
    open_tab(at, LAYERS)
    assert slider(at, "Hidden units").value == 8  # clamped to the slider's range
    bad = run({"perc_act": "swish", "perc_n": "lots"})
    assert bad.selectbox[0].value == "sigmoid"
    assert any("not understood" in c.value for c in bad.caption)


def test_learning_rule_buttons_step_and_reset():
    at = run({"perc_tab": RULE})
    step = next(b for b in at.button if b.label == "Step")
    step.click().run()
    assert "Last example" in markdown_with(at, "Last example")
    next(b for b in at.button if b.label == "Run 10 epochs").click().run()
    assert any("Converged" in s.value for s in at.success)
    next(b for b in at.button if b.label == "Reset").click().run()
    assert not any("Last example" in m.value for m in at.markdown)


def test_xor_never_converges_and_says_why():
    at = run({"perc_data": "XOR", "perc_tab": RULE})
    next(b for b in at.button if b.label == "Run 10 epochs").click().run()
    assert not at.success
    assert any("XOR never converges" in w.value for w in at.warning)


def test_changing_dataset_restarts_the_rule_but_keeps_other_settings():
    at = run()
    neuron(at, b=1.2)
    open_tab(at, RULE)
    next(b for b in at.button if b.label == "Run one epoch").click().run()
    slider(at, "Learning rate η").set_value(0.5).run()  # a new rate starts the rule again too
    assert not any("Last example" in m.value for m in at.markdown)
    next(b for b in at.button if b.label == "Run one epoch").click().run()
    at.selectbox[0].set_value("OR").run()
    assert not any("Last example" in m.value for m in at.markdown)
    open_tab(at, "One neuron")  # the bias was kept while its tab was closed
    assert shown(at, "b") == 1.2


def test_collapse_tab_shows_the_collapsed_weights():
    at = run({"perc_tab": LAYERS})
    for hidden in (2, 8):
        slider(at, "Hidden units").set_value(hidden).run()
        at.number_input[0].set_value(17).run()
        assert not at.exception
        text = markdown_with(at, "Collapsed")
        net = pc.random_two_layer(hidden, 17)
        W, b = pc.collapse(net)
        assert f"{W[0, 0]:.3f}" in text and f"{b[0]:.3f}" in text
        gap = float(text.split("points: ")[1].rstrip("."))
        assert gap < 1e-9
    assert np.isfinite(W).all()


def test_convergence_names_the_epoch_it_happened():
    """Issue 12 item 3: blobs' mistakes go 2, 2, 2, 1, 0: converged in epoch 5, not "after 10 epochs"."""
    at = run({"perc_data": "blobs", "perc_tab": RULE})
    next(b for b in at.button if b.label == "Run 10 epochs").click().run()
    message = next(s.value for s in at.success if "Converged" in s.value)
    assert "epoch 5" in message and "10" not in message
    assert any("Stopped after 5 of the 10 epochs" in c.value for c in at.caption)
    assert at.query_params["perc_seen"] == str(5 * 40)


def test_a_shared_link_brings_back_the_tab_the_dataset_and_the_training():
    at = open_tab(run(), RULE)
    at.selectbox[0].set_value("OR").run()
    next(b for b in at.button if b.label == "Run one epoch").click().run()
    next(b for b in at.button if b.label == "Step").click().run()
    query = dict(at.query_params)
    assert query["perc_tab"] == RULE and query["perc_data"] == "OR" and query["perc_seen"] == "5"
    again = run({k: v if isinstance(v, str) else v[0] for k, v in query.items()})
    assert again.session_state["perc_tab"] == RULE
    assert again.selectbox[0].value == "OR"
    assert markdown_with(again, "w = (") == markdown_with(at, "w = (")
    assert markdown_with(again, "Last example") == markdown_with(at, "Last example")
    assert again.get("metric")[0].value == at.get("metric")[0].value


def test_more_units_draw_the_curve_better():
    at = run({"perc_tab": CURVE})
    errors = []
    for units in (1, 4, 32):
        slider(at, "ReLU units H").set_value(units).run()
        assert not at.exception
        text = markdown_with(at, "Mean squared error")
        errors.append(float(text.split("**")[1]))
        assert f"{pc.fit_curve(units).mse:.4f}" in text
    assert errors[0] > errors[1] > errors[2]
    assert at.query_params["perc_units"] == "32"
    open_snippets(at)
    assert "torch.linalg.lstsq" in at.code[-1].value


def test_only_the_open_tab_is_drawn_and_closed_tabs_keep_their_settings():
    at = run()
    assert lesson_tabs(at, "perc_tab") == (["One neuron", RULE, LAYERS, CURVE], "One neuron")
    assert slider(at, "Number of inputs") and not any(s.label == "Hidden units" for s in at.slider)
    neuron(at, w1=-1.0)
    choose_tab(at, "perc_tab", LAYERS)  # a click on the tab, as the browser sends it
    assert lesson_tabs(at, "perc_tab")[1] == LAYERS and at.query_params["perc_tab"] == LAYERS
    assert [e.key for e in at.get("bidi_component")] == ["_perc_tab_tabs"]  # no neuron panel, only the tabs
    assert not any(s.label == "Number of inputs" for s in at.slider)
    slider(at, "Hidden units").set_value(6).run()
    choose_tab(at, "perc_tab", "One neuron")
    assert shown(at, "w1") == -1.0 and at.query_params["perc_hidden"] == "6"
    choose_tab(at, "perc_tab", "Not a tab")  # a stale or forged message: the open tab stays
    assert lesson_tabs(at, "perc_tab")[1] == "One neuron" and shown(at, "w1") == -1.0
    assert open_tab(at, LAYERS) and slider(at, "Hidden units").value == 6


def test_a_quick_second_change_is_kept_when_the_address_lags_behind(monkeypatch):
    """A rerun can carry the address as it was before the last run's URL write reached the browser (a second
    change under load, or another control moved just after it). That is not Back: the learner's change wins,
    and the URL follows it. Back and Forward are the runs the browser marks as history navigation."""
    at = run_page("perceptron.py")
    neuron(at, b=0.2)
    assert at.query_params["perc_b"] == "0.2"
    at.query_params["perc_b"] = "0.1"  # the browser has not applied the write of 0.2 yet
    neuron(at, b=0.3)
    assert shown(at, "b") == 0.3 and at.query_params["perc_b"] == "0.3"
    # Another control moved just after: its rerun carries the old bias, which must not come back (the Trainer's
    # results tab went back to the first one this way when a digit was drawn just after opening its tab).
    at.query_params["perc_b"] = "0.2"
    neuron(at, w1=1.5)
    assert (shown(at, "b"), shown(at, "w1")) == (0.3, 1.5)
    assert (at.query_params["perc_b"], at.query_params["perc_w1"]) == ("0.3", "1.5")
    # Back (a run the browser marks as history navigation) brings the earlier settings back.
    monkeypatch.setattr(ui, "history_navigation", lambda: True)
    at.query_params["perc_b"], at.query_params["perc_w1"] = "0.2", "1.5"
    at.run()
    assert (shown(at, "b"), shown(at, "w1")) == (0.2, 1.5)


def test_the_neuron_panel_shows_what_python_computed_and_the_url_follows():
    at = run()
    neuron(at, x1=-1.2, w1=1.5, b=-0.4)
    data = panel(at, NEURON)
    out = pc.neuron_forward(np.array([-1.2, 0.6, 1.4]), np.array([1.5, -1.0, 0.8]), -0.4, "sigmoid")
    assert pc.weighted_sum_text(out) in data["picture"] and f"<b>{pc.fixed(out.a, 4)}</b>" in data["picture"]
    assert data["seq"] == 1  # the page tells the panel which of its changes it has applied
    assert (at.query_params["perc_x1"], at.query_params["perc_w1"], at.query_params["perc_b"]) == ("-1.2", "1.5", "-0.4")
    open_snippets(at)
    code = at.code[-1].value  # the snippet a learner copies has the same numbers
    assert "x = torch.tensor([-1.2, 0.6, 1.4])" in code and "torch.tensor([1.5, -1.0, 0.8])" in code
    assert f"# tensor([{out.z:.4f}])" in code


def test_the_neuron_panel_accepts_only_values_on_its_sliders():
    """The browser's message is not trusted: out of range is clamped, off the 0.1 grid is snapped, text ignored."""
    at = run({"perc_w2": "0.75"})  # a hand-edited link: shown as its slider can show it
    assert shown(at, "w2") == 0.8 and at.query_params["perc_w2"] == "0.8"
    neuron(at, b=9.0, x1=0.333)
    assert shown(at, "b") == 3.0 and shown(at, "x1") == 0.3
    neuron(at, w1="lots", x2=None, x3=10**400)  # 10**400 is no float: ignored, not a traceback
    assert (shown(at, "w1"), shown(at, "x2"), shown(at, "x3")) == (0.5, 0.6, 1.4)
    assert panel(at, NEURON)["seq"] == 2  # answered all the same: the browser waits for the answer
    assert not at.exception


def test_a_message_from_a_panel_the_page_has_redrawn_since_is_dropped():
    """A message older than a change already applied would undo that change: it is dropped."""
    at = run()
    neuron(at, b=0.5)
    neuron(at, b=0.6)
    move_panel(at, NEURON, {"perc_b": 0.2, "perc_w1": 1.0}, seq=1)  # sent before the two above were answered
    assert shown(at, "b") == 0.6 and shown(at, "w1") == 0.5 and at.query_params["perc_b"] == "0.6"
