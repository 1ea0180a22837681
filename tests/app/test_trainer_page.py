"""The Trainer page in AppTest: settings, start/stop, a tiny synthetic run, results tabs, bad input."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from explainers import training
from explainers.training import data as dsets
from pages.widgets.trainer import setup as setup
from pages.widgets.trainer.state import STATE_KEY, Keys, TrainerState
from tests.app.harness import move_panel, open_snippets, panel, panel_value

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "trainer.py")
TINY = {"trainer_subset": 200, "trainer_epochs": 1, "trainer_batch": 64}


@pytest.fixture(autouse=True)
def _no_runs_left_behind():
    yield
    training.stop_all_runs(timeout=30)


@pytest.fixture(scope="module")
def trained():
    """One page session with a finished tiny run (training is the slow part: share it)."""
    return train(page(), **TINY)


SETTINGS_PANELS = (setup.DATA_PANEL, setup.OPTIMISATION_PANEL, setup.REGULARISATION_PANEL)


def move_settings(at: AppTest, **values) -> AppTest:
    """Move settings' ranges as the browser does: each of the form's panels sends the ranges moved in it
    (one rerun per panel)."""
    for key in SETTINGS_PANELS:
        names = {c["name"] for c in panel(at, key)["controls"]}
        moved = {name: values.pop(name) for name in names & set(values)}
        if moved:
            move_panel(at, key, moved)
    assert not values, f"no settings panel has the ranges {set(values)}"
    return at


def shown(at: AppTest, name: str) -> float:
    """The value a settings range shows (the panel that holds it)."""
    key = next(k for k in SETTINGS_PANELS if name in {c["name"] for c in panel(at, k)["controls"]})
    return panel_value(at, key, name)


def page(**state) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.session_state["trainer_dataset"] = "synthetic-digits"
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def state(at) -> TrainerState:
    """The page's TrainerState (run, records, LR finder, drawing) in this AppTest session."""
    return at.session_state[STATE_KEY]


def texts(at) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "error", "success") for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def train(at, **settings) -> AppTest:
    """Start a run with these settings, wait for the worker, rerun: the results appear."""
    for k, v in settings.items():
        at.session_state[k] = v
    at.run()
    at.button(key="trainer_start").click().run()
    assert not at.exception, at.exception
    run = state(at).run
    assert run.join(120)
    at.run()  # the fragment sees the finished run, archives it and reruns the page
    assert not at.exception, at.exception
    return at


def _card(at):
    """The model card's table, when it is drawn (its first column is "layer")."""
    return next((d.value for d in at.dataframe if list(d.value.columns[:1]) == ["layer"]), None)


def test_the_model_card_is_built_only_while_open_and_follows_the_model():
    at = page()
    assert any(e.label.startswith("Model card") for e in at.expander)
    assert _card(at) is None  # closed: no table built or sent on a settings change
    at.session_state[Keys.MODEL_CARD] = True  # what a click on the expander does
    at.run()
    card = setup.model_card(at.session_state[Keys.MODEL], 1, 28, 10)
    table = _card(at)
    assert list(table["layer"]) == [r.layer for r in card.rows]
    assert list(table["parameters"]) == [r.parameters for r in card.rows]
    assert any(f"{card.parameters:,} parameters" in c.value for c in at.caption)
    other = "mlp" if at.session_state[Keys.MODEL] != "mlp" else "small_cnn"
    at.selectbox(key=Keys.MODEL).set_value(other).run()  # it stays open and follows the model
    assert list(_card(at)["layer"]) == [r.layer for r in setup.model_card(other, 1, 28, 10).rows]
    at.session_state[Keys.MODEL_CARD] = False
    at.run()
    assert _card(at) is None


def test_settings_render_move_and_reach_the_snippet():
    at = page()
    assert at.title[0].value == "Trainer"
    assert at.latex and "synthetic" in texts(at)  # the offline set is always labelled
    # Move every range (one rerun per panel), then every widget (AppTest sends their new values together).
    move_settings(at, trainer_lr=0.05, trainer_wd=1e-3, trainer_l1=1e-5, trainer_batch=32, trainer_subset=1000,
                  trainer_epochs=3, trainer_dropout=0.3, trainer_patience=2, trainer_val=0.2)
    assert [shown(at, k) for k in ("trainer_lr", "trainer_batch", "trainer_epochs", "trainer_val")] == [
        0.05, 32, 3, 0.2]
    at.selectbox(key="trainer_optimizer").set_value("sgd_momentum")
    at.selectbox(key="trainer_scheduler").set_value("cosine")
    at.toggle(key="trainer_augment").set_value(True)
    at.number_input(key="trainer_seed").set_value(7)
    at.selectbox(key="trainer_device").set_value("cpu").run()
    assert not at.exception
    for model in at.selectbox(key="trainer_model").options:
        at.selectbox(key="trainer_model").set_value(model).run()
        assert not at.exception, model
    assert not at.exception
    open_snippets(at)
    code = at.code[0].value
    assert "torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=0.001)" in code
    assert "CosineAnnealingLR" in code and "1e-05 * sum(m.weight.abs()" in code and "range(3)" in code
    assert at.query_params["trainer_lr"] == "0.05"  # the URL reproduces the demo
    at.session_state[Keys.MODEL_CARD] = True  # the model card, opened, for these settings
    at.run()
    assert not at.exception and _card(at) is not None


def test_choices_are_exactly_the_engines():
    """The optimizer, schedule and device boxes offer the engine's keys, in order, with the engine's labels."""
    at = page()
    for key, engine in ((Keys.OPTIMIZER, training.OPTIMIZERS), (Keys.SCHEDULER, training.SCHEDULERS),
                        (Keys.DEVICE, training.DEVICES)):
        offered = setup.OPTIONS[key]
        assert offered == list(engine), key
        assert at.selectbox(key=key).options == list(engine.values()), key
        for k in engine:  # every engine key is a value the box takes, and the URL keeps it
            at.selectbox(key=key).set_value(k).run()
            assert not at.exception and at.query_params[key] in (k, [k]), (key, k)


def test_tiny_run_trains_and_every_results_tab_works(trained):
    at = trained
    run = state(at).run
    snap = run.snapshot()
    assert snap.status == "finished" and len(snap.step_loss) == snap.batches_per_epoch
    assert "Finished: test accuracy" in texts(at)
    assert [t.label for t in at.tabs][:8] == ["Confusion matrix", "Mistakes", "Filters", "Feature maps",
                                              "Histograms", "Draw a digit", "Compare runs", "Save / load weights"]
    # Confusion cell: its caption counts exactly the test images in that cell.
    res = run.result
    at.selectbox(key="trainer_cell_true").set_value(3)
    at.selectbox(key="trainer_cell_pred").set_value(3).run()
    n = int(((res.labels == 3) & (res.predictions == 3)).sum())
    assert f"{n} test images are **3** and were predicted **3**" in texts(at)
    at.radio(key="trainer_mistake_kind").set_value("uncertain")
    at.selectbox(key="trainer_filter_layer").set_value(at.selectbox(key="trainer_filter_layer").options[-1])
    at.number_input(key="trainer_fm_index").set_value(5)
    at.selectbox(key="trainer_fm_layer").set_value(at.selectbox(key="trainer_fm_layer").options[-1])
    at.radio(key="trainer_hist_kind").set_value("grad")
    at.radio(key="trainer_compare_metric").set_value("train_loss").run()
    assert not at.exception
    assert at.radio(key="trainer_mistake_kind").value == "uncertain"
    assert at.get("download_button")  # save the weights
    # A second run is kept for comparison, and the table shows both.
    before = len(state(at).records)
    at = train(at, trainer_wd=1e-3)
    assert len(state(at).records) == before + 1
    chosen = at.multiselect(key="trainer_compare_runs").value
    assert len(chosen) == min(before + 1, 4) and chosen[-1].startswith(f"Run {before + 1}:")
    # The comparison shows the settings that differ (weight decay) and the results; the shared ones in a line.
    table = next(d.value for d in at.dataframe if "run" in d.value.columns)
    assert list(table["run"]) == [c.split(":")[0] for c in chosen]
    assert "weight decay" in table.columns and "model" not in table.columns and "test acc" in table.columns
    assert "Same in every run shown: model " in texts(at) and "augment off" in texts(at)


def test_stop_and_moving_widgets_do_not_restart_the_run():
    at = page(trainer_subset=5000, trainer_epochs=30, trainer_batch=16)
    at.button(key="trainer_start").click().run()
    run = state(at).run
    move_settings(at, trainer_epochs=4)  # moving a setting mid-run
    move_settings(at, trainer_lr=0.01)
    assert state(at).run is run and run.alive
    assert "this one goes on" in texts(at)
    assert at.button(key="trainer_start").disabled and not at.button(key="trainer_stop").disabled
    at.button(key="trainer_stop").click().run()
    assert run.join(60)
    at.run()
    assert run.snapshot().status == "stopped" and "Stopped by the user" in texts(at)
    assert not at.button(key="trainer_start").disabled


def test_presets_and_the_learning_rate_finder():
    at = page(**TINY)
    at.button(key="trainer_preset_overfit").click().run()
    for key, value in setup.PRESETS["overfit"].items():
        assert at.session_state[key] == value, key
    assert "Overfit on purpose: 500 training images" in texts(at)
    at.button(key="trainer_preset_recommended").click().run()
    assert at.session_state["trainer_model"] == "fast_cnn"
    move_settings(at, trainer_subset=200, trainer_batch=16)
    at.button(key="trainer_lrf_go").click().run()
    assert not at.exception
    found = state(at).found_lr.result
    assert len(found.lrs) > 5 and found.lrs[0] < found.lrs[-1]
    at.button(key="trainer_lrf_use").click().run()
    assert at.session_state["trainer_lr"] == setup.nearest(setup.LRS, found.suggested_lr)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_drawing_upload_weights_and_bad_files(trained):
    at = trained
    up = at.file_uploader(key="trainer_digit_upload")
    up.set_value(("notes.png", b"this is not a picture", "image/png")).run()
    assert "“notes.png” is not a picture this page can read" in texts(at)
    assert "UploadedFile" not in texts(at)  # no internals of the upload in the message
    digit = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(digit).line([(140, 40), (140, 240)], fill=0, width=22)
    at.file_uploader(key="trainer_digit_upload").set_value(("one.png", _png(digit), "image/png")).run()
    assert not at.exception
    drawn = state(at).drawn
    assert drawn.shape == (1, 28, 28) and drawn.dtype == np.uint8
    assert "red cross" in texts(at)  # the step-by-step figure's caption
    # The same '1' in white ink on a transparent sheet (as drawing apps export it) is read too, not blank.
    clear = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(clear).line([(140, 40), (140, 240)], fill=(255, 255, 255, 255), width=22)
    at.file_uploader(key="trainer_digit_upload").set_value(("clear.png", _png(clear), "image/png")).run()
    assert not at.exception and "Nothing to read yet" not in texts(at)
    np.testing.assert_array_equal(state(at).drawn, drawn)
    at.radio(key="trainer_fm_source").set_value("drawing").run()
    assert not at.exception
    # Weights: garbage, then weights of another model, then the right ones.
    weights = at.file_uploader(key="trainer_weights_upload")
    weights.set_value(("junk.pt", b"not a checkpoint", "application/octet-stream")).run()
    assert "Can't load **junk.pt**" in texts(at)
    good = training.save_weights(state(at).run.model)
    at.selectbox(key="trainer_model").set_value("mlp").run()
    at.file_uploader(key="trainer_weights_upload").set_value(("fast.pt", good, "application/octet-stream")).run()
    assert "do not fit the chosen model" in texts(at)
    at.selectbox(key="trainer_model").set_value("fast_cnn").run()
    at.file_uploader(key="trainer_weights_upload").set_value(("fast2.pt", good, "application/octet-stream")).run()
    assert not at.exception
    assert any(r.label.startswith("Loaded fast2.pt") for r in state(at).records)
    expected = state(at).run.result.test_accuracy
    assert state(at).records[-1].result.test_accuracy == pytest.approx(expected, abs=1e-6)


def test_missing_dataset_explains_and_offers_the_offline_set(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURAL_LENS_DATA", str(tmp_path))
    at = page()
    at.selectbox(key="trainer_dataset").set_value("mnist").run()
    # Issue 16: visitors never see the server's paths (the page used to print the data folder here).
    assert "is not in the data folder" in texts(at) and str(tmp_path) not in texts(at)

    real_load = dsets.load_dataset

    def offline(name, *args, **kwargs):  # the network is down: only the offline set loads
        if name != "mnist":
            return real_load(name, *args, **kwargs)
        raise dsets.DatasetUnavailable(f"No internet. Put the files in {tmp_path}/MNIST/raw or run "
                                       f"`{dsets.PREFETCH_COMMAND}`.")

    monkeypatch.setattr(dsets, "load_dataset", offline)
    at.button(key="trainer_download").click().run()
    assert not at.exception
    assert "MNIST is not available" in texts(at) and dsets.PREFETCH_COMMAND in texts(at)
    assert str(tmp_path) not in texts(at)  # the data layer's path is cut at the page boundary
    at.button(key="trainer_use_synth2").click().run()
    assert at.session_state["trainer_dataset"] == "synthetic-digits"
    assert "synthetic" in texts(at) and not at.exception


def test_switching_pages_mid_run_keeps_the_run_and_the_settings():
    app = str(Path(PAGE).parents[1] / "app.py")
    at = AppTest.from_file(app, default_timeout=90).run()
    at.switch_page("pages/trainer.py").run()
    at.selectbox(key="trainer_dataset").set_value("synthetic-digits").run()
    move_settings(at, trainer_subset=5000, trainer_batch=16, trainer_epochs=30)
    at.button(key="trainer_start").click().run()
    run = state(at).run
    at.switch_page("pages/home.py").run()
    assert not at.exception and run.alive
    at.switch_page("pages/trainer.py").run()
    assert not at.exception
    assert state(at).run is run and run.alive  # the same run, still going
    assert shown(at, "trainer_epochs") == 30 and shown(at, "trainer_subset") == 5000
    at.button(key="trainer_stop").click().run()
    assert run.join(60)
