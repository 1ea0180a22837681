"""The Trainer says true things about the data chosen and explains the moments a learner gets stuck
(issues 12 item 6 and 11, issue 13 items 4 and 7)."""

from __future__ import annotations

import dataclasses
import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from explainers.training import data as dsets
from explainers.training.objective import loss_formula
from pages.widgets.trainer import setup
from pages.widgets.trainer.state import STATE_KEY
from tests.app.harness import panel
from tests.app.test_catsdogs_page import offline  # noqa: F401 (an autouse fixture: no downloads, runs stopped)

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "trainer.py")


def page(**query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def texts(at) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "error", "success") for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def finish(at) -> AppTest:
    at.button(key="trainer_start").click().run()
    assert not at.exception, at.exception
    deadline = time.time() + 180
    while not at.session_state[STATE_KEY].run.snapshot().done and time.time() < deadline:
        time.sleep(0.5)
    at.run()
    at.run()
    assert not at.exception, at.exception
    return at


def test_cats_vs_dogs_labels_and_notes_follow_the_chosen_data():
    at = page(trainer_dataset="synthetic-pets", trainer_model="mlp")
    box = at.selectbox(key="trainer_model")
    n_train = len(dsets.load_dataset("synthetic-pets@64").train_y)  # the page's copy (one per process)
    assert "MLP 12288-64-64-64-2" in box.options and not any("784" in o for o in box.options)
    assert "12,288 inputs (3×64×64 pixels)" in texts(at) and "→ 2 outputs" in texts(at)
    assert "2,000" not in texts(at) and f"{n_train:,} training images" in texts(at)
    box.set_value("fast_cnn").run()
    assert "MNIST" not in " ".join(c.value for c in at.caption)  # no other dataset's score
    digits = page(trainer_dataset="synthetic-digits", trainer_model="mlp")
    assert "MLP 784-64-64-64-10" in digits.selectbox(key="trainer_model").options


@pytest.mark.parametrize("optimizer, wd, l1", [("adamw", "0.01", "0.0001"), ("sgd", "0.001", "0.0"),
                                               ("adam", "0.0", "0.0")])
def test_the_loss_formula_is_the_one_for_the_chosen_optimizer(optimizer, wd, l1):
    at = page(trainer_dataset="synthetic-digits", trainer_optimizer=optimizer, trainer_wd=wd, trainer_l1=l1)
    f = loss_formula(optimizer, float(wd), float(l1))
    assert at.latex[0].value.strip("$\n") == f.latex
    assert f.note in texts(at)


def test_every_term_has_a_one_line_explanation_where_it_appears():
    at = page(trainer_dataset="synthetic-digits")
    helps = {w.label: (w.help or "") for kind in ("selectbox", "toggle") for w in getattr(at, kind)}
    helps |= {c["label"]: c["help"] for key in (setup.DATA_PANEL, setup.OPTIMISATION_PANEL, setup.REGULARISATION_PANEL)
              for c in panel(at, key)["controls"]}  # the settings' ranges
    assert "OneCycle" in helps["Schedule"] and "AdamW" in helps["Optimizer"]
    assert "batch normalisation" in helps["Model"] and "λ₂" in helps["Weight decay (L2)"]
    assert "not biases" in helps["L1 strength"] and "Early stopping" in helps["Early stopping patience"]
    assert helps["Dropout"] and helps["Augment"]


def test_chance_level_collapse_is_explained_with_the_transfer_way_out():
    at = finish(page(trainer_dataset="synthetic-pets", trainer_model="mlp", trainer_epochs="1"))
    st_ = at.session_state[STATE_KEY]
    rec = st_.records[-1]
    res = rec.result
    all_dog = dataclasses.replace(res, predictions=np.ones_like(res.predictions),
                                  test_accuracy=float((res.labels == 1).mean()))
    st_.records[-1] = dataclasses.replace(rec, result=all_dog)
    at.run()
    assert not at.exception
    assert "Stuck at chance" in texts(at) and "100% of the test pictures are called **dog**" in texts(at)
    assert "transfer learning" in texts(at)
    tab = at.query_params.get("trainer_tab")  # the open results tab is part of the link (issue 12 item 8)
    assert (tab[0] if isinstance(tab, list) else tab) == "Confusion matrix"
    at.button(key="trainer_collapse_transfer").click().run()
    assert at.selectbox(key="trainer_model").value == "resnet18_frozen"


def test_a_photo_on_drawn_pets_names_the_domain_gap():
    at = finish(page(trainer_dataset="synthetic-pets", trainer_model="catsdogs_cnn", trainer_epochs="1",
                     trainer_subset="200"))
    assert "Domain gap" not in texts(at)
    photo = np.zeros((90, 120, 3), np.uint8)
    photo[20:70, 30:90] = (200, 120, 40)
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, format="JPEG")
    at.file_uploader(key="trainer_cd_cam_upload").set_value(("pet.jpg", buf.getvalue(), "image/jpeg")).run()
    assert not at.exception
    assert "Domain gap" in texts(at) and "cartoon pets drawn by code" in texts(at)


def test_regularisation_experiment_overlays_five_runs_and_says_what_each_did(monkeypatch):
    from explainers.training import experiment as ex

    real = ex.experiment_configs
    monkeypatch.setattr(ex, "experiment_configs", lambda base, epochs=15: real(base, epochs=4))  # quick on 2 cores
    at = page(trainer_dataset="synthetic-digits")
    assert "Run the regularisation experiment" not in [b.label for b in at.button]  # offered with the overfit preset
    at.button(key="trainer_preset_overfit").click().run()
    at.button(key="trainer_exp_go").click().run()
    assert not at.exception, at.exception
    st_ = at.session_state[STATE_KEY]
    assert len(st_.experiment) == 1  # one arm at a time: one training slot, like any learner's run
    deadline = time.time() + 300
    while time.time() < deadline and not (len(st_.experiment) == 5 and not st_.experiment_active):
        assert st_.experiment[-1].join(120)
        at.run()  # the panel polls: starts the next arm
        assert not at.exception, at.exception
        assert sum(r.alive for r in st_.experiment) <= 1
    runs = st_.experiment
    assert [r.config.patience for r in runs] == [0, 0, 0, 0, 3] and [r.config.dropout for r in runs][2] == 0.3
    assert len({r.job for r in runs}) == 1  # one job of this session
    shown = texts(at)
    snaps = [r.snapshot() for r in runs]
    for name, snap in zip(ex.ARMS, snaps):  # one sentence per arm, against "none"
        assert ex.verdict(name, snap.epochs, snaps[0].epochs) in shown
    assert "train–validation gap" in shown and len(at.get("plotly_chart")) == 2  # val loss and val accuracy


def test_mistakes_on_synthetic_digits_explain_the_generators_one_seven_lookalikes():
    at = finish(page(trainer_dataset="synthetic-digits", trainer_model="mlp", trainer_epochs="1",
                     trainer_subset="200"))
    assert "a warped 1 can look like a **7**" in texts(at)
