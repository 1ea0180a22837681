"""Trainer page, part 3: what a trained network learned (results tabs, your own digit, compare, weights).

Each tab takes the record it shows and the dataset (and the session's TrainerState where it keeps
something); the torch work behind them is in explainers.training.actions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from explainers import drawing
from explainers.figures import training as ft
from explainers.images import ImageError, load_image
from explainers.training import TrainConfig, actions, diagnose, save_weights
from pages.widgets.trainer.state import Keys, RunRecord, TrainerState, describe

if TYPE_CHECKING:
    from explainers.training.data import ImageDataset

_METRICS = {"val_acc": "validation accuracy", "train_acc": "training accuracy", "val_loss": "validation loss",
            "train_loss": "training loss"}


def confusion_tab(state: TrainerState, rec: RunRecord, dataset: ImageDataset) -> None:
    """Test accuracy, the confusion matrix, per-class accuracy and the test images of one cell."""
    res = rec.result
    st.metric("Test accuracy", f"{res.test_accuracy:.2%}", help=f"{len(res.labels):,} test images")
    collapse_note(state, rec, dataset)
    left, right = st.columns([3, 2])
    left.plotly_chart(ft.confusion_figure(res.confusion, dataset.classes), key="trainer_confusion")
    right.plotly_chart(ft.per_class_figure(np.nan_to_num(res.per_class_accuracy), dataset.classes),
                       key="trainer_per_class")
    off = res.confusion.copy()
    np.fill_diagonal(off, -1)
    worst = np.unravel_index(int(off.argmax()), off.shape)  # the most common confusion
    k = list(range(dataset.num_classes))
    if state.cell_for_run != rec.id:  # a new run starts at its worst cell
        state.cell_for_run = rec.id
        state.put_all({Keys.CELL_TRUE: int(worst[0]), Keys.CELL_PRED: int(worst[1])})
    a, b = st.columns(2)
    t = a.selectbox("True class", k, format_func=lambda i: dataset.classes[i], key=Keys.CELL_TRUE)
    p = b.selectbox("Predicted class", k, format_func=lambda i: dataset.classes[i], key=Keys.CELL_PRED)
    idx = ft.cell_indices(res.labels, res.predictions, t, p)
    st.caption(f"{len(idx)} test images are **{dataset.classes[t]}** and were predicted "
               f"**{dataset.classes[p]}**" + (" (showing the first 32)." if len(idx) > 32 else "."))
    if len(idx):
        st.plotly_chart(ft.examples_figure(actions.images(dataset), res.labels, res.probabilities, idx[:32],
                                           dataset.classes), key="trainer_cell_gallery")


def collapse_note(state: TrainerState, rec: RunRecord, dataset: ImageDataset) -> None:
    """When (nearly) every test picture got one answer at chance level: say why, and the way out."""
    res = rec.result
    c = diagnose.one_class_collapse(res.labels, res.predictions, dataset.num_classes)
    if c is None:
        return
    n = actions.split_size(dataset, "train")
    st.warning(f"**Stuck at chance:** {c.share:.0%} of the test pictures are called "
               f"**{dataset.classes[c.predicted_class]}**, and {c.accuracy:.0%} accuracy is what always giving "
               f"the commonest answer scores ({c.chance:.0%}). With {n:,} training pictures a network trained "
               "from scratch has too little data to find what tells the classes apart, so it settles on one "
               "answer.", icon=":material/sentiment_dissatisfied:")
    if dataset.channels == 3 and tuple(dataset.classes) == ("cat", "dog"):
        st.markdown("The way out is **transfer learning**: start from ResNet-18, which already learned to see "
                    "from 1.2 million ImageNet photos, and train only its last layer on your pictures.")
        st.button("Use ResNet-18 transfer (frozen backbone)", key="trainer_collapse_transfer",
                  icon=":material/swap_horiz:", on_click=state.put, args=(Keys.MODEL, "resnet18_frozen"))
    else:
        st.caption("Try more training images, more epochs or the recommended settings.")


def mistakes_tab(rec: RunRecord, dataset: ImageDataset) -> None:
    """The most confident mistakes (or right answers, or unsure ones) of the test set."""
    res = rec.result
    kind = st.radio("Show", list(ft.MISTAKE_KINDS), format_func=ft.MISTAKE_KINDS.get, horizontal=True,
                    key="trainer_mistake_kind")
    idx = ft.rank_examples(res.labels, res.probabilities, kind, n=24)
    if not len(idx):
        st.info("No test image in this group.")
        return
    st.plotly_chart(ft.examples_figure(actions.images(dataset), res.labels, res.probabilities, idx,
                                       dataset.classes, title=ft.MISTAKE_KINDS[kind]), key="trainer_mistakes")
    st.caption("Caption: true class → predicted class and the network's confidence. Confident mistakes "
               "are often badly written digits, or labels that are themselves wrong.")
    if dataset.synthetic and dataset.channels == 1:
        st.caption(":orange-badge[synthetic] These digits are drawn from one font: its **1** has a "
                   "flag at the top, so a warped 1 can look like a **7**, and many confident 1↔7 mistakes are "
                   "quirks of the generator, not of the network. MNIST's handwritten digits do not share them.")


def filters_tab(rec: RunRecord) -> None:
    """The weights of a conv layer as a grid of small pictures."""
    convs = actions.conv_filters(rec.model)
    if not convs:
        st.info("This model has no convolution layers: its first layer's 'filters' are whole-image weight "
                "patterns, shown in the live view above.")
        return
    names = list(convs)
    name = st.selectbox("Conv layer", names, key="trainer_filter_layer") if len(names) > 1 else names[0]
    w = convs[name]
    st.plotly_chart(ft.filter_grid_figure(w, max_filters=32, title=f"{name}: {w.shape[0]} filters of "
                                          f"{w.shape[1]}×{w.shape[2]}×{w.shape[3]}"), key="trainer_filters")
    st.caption("Blue weights add the input under them, red ones subtract it: many first-layer filters "
               "become edge and stroke detectors.")


def feature_maps_tab(rec: RunRecord, dataset: ImageDataset, drawn: np.ndarray | None) -> None:
    """Every 2-D layer's activations for a test image or for ``drawn`` (a (1, 28, 28) uint8 digit, if any)."""
    size = (dataset.image_size, dataset.image_size)
    fits = drawn is not None and tuple(drawn.shape[-2:]) == size and dataset.channels == 1
    sources = ["test"] + (["drawing"] if fits else [])  # a digit drawing never goes into a cats-vs-dogs model
    src = st.radio("Image", sources, horizontal=True, key="trainer_fm_source",
                   format_func={"test": "a test image", "drawing": "your drawing"}.get) if len(sources) > 1 else "test"
    if src == "drawing" and drawn is not None:
        img = drawn
    else:
        i = st.number_input("Test image number", 0, actions.split_size(dataset) - 1, key="trainer_fm_index")
        img = actions.images(dataset, [int(i)])[0]
    maps = actions.feature_maps(rec.model, dataset, img)
    c1, c2 = st.columns([1, 4])
    big = ft.to_display(img[None])[0].repeat(5, axis=0).repeat(5, axis=1)  # crisp pixels, not a blur
    c1.image(big, caption="the input")  # its own 140 px, or the column's width where that is less (1024 px)
    if not maps:
        c2.info("This model has no 2-D layers (an MLP flattens the image first).")
        return
    names = [n for n, _ in maps]
    name = c2.selectbox("Layer", names, key="trainer_fm_layer", format_func=lambda n: f"{n} {dict(maps)[n].shape}")
    c2.plotly_chart(ft.feature_maps_figure(dict(maps)[name], title=f"{name}: first {min(32, len(dict(maps)[name]))} "
                                           "channels, each scaled to its own range"), key="trainer_fm")


def histograms_tab(rec: RunRecord) -> None:
    """Weight and gradient histograms of one layer, epoch by epoch."""
    hist = rec.snapshot.histograms if rec.snapshot is not None else []
    if not hist:
        st.info("No histograms were recorded for this run.")
        return
    layers = list(dict.fromkeys(h["layer"] for h in hist))
    a, b = st.columns(2)
    layer = a.selectbox("Layer", layers, key="trainer_hist_layer")
    kind = b.radio("Values", ["weight", "grad"], horizontal=True, key="trainer_hist_kind",
                   format_func={"weight": "weights", "grad": "gradients"}.get)
    rows = [(h["epoch"], h["counts"], h["edges"]) for h in hist if h["layer"] == layer and h["kind"] == kind]
    if not rows:
        st.info("Gradients are recorded at the end of each epoch; this run has none yet.")
        return
    st.plotly_chart(ft.histograms_figure(rows, f"{layer}: {'weights' if kind == 'weight' else 'gradients'} "
                                         "by epoch (darker = later)"), key="trainer_hist")


def _canvas_image() -> np.ndarray | None:
    """The drawable canvas (or an upload when the component is unavailable) -> image array or None."""
    try:
        from streamlit_drawable_canvas import st_canvas

        res = st_canvas(stroke_width=20, stroke_color="#FFFFFF", background_color="#000000", height=280,
                        width=280, return_image_data=True, key="trainer_canvas")
        img = res.image_data
    except Exception as exc:  # noqa: BLE001 - a broken component must not break the page
        st.caption(f"The drawing canvas is unavailable here ({type(exc).__name__}); upload a drawing instead.")
        img = None
    up = st.file_uploader("…or upload a picture of a digit", type=["png", "jpg", "jpeg", "bmp", "gif", "webp"],
                          key="trainer_digit_upload")
    if up is not None:
        try:
            # (H, W, 3) in [0, 1], checked and shrunk on load; white ink on a transparent sheet stays visible
            img = load_image(up.getvalue(), max_side=560, background="contrast")
        except ImageError as exc:  # its message never repeats the upload object
            st.error(f"“{up.name}” is not a picture this page can read. {exc}", icon=":material/broken_image:")
            return None
    return img


def drawing_tab(state: TrainerState, rec: RunRecord, dataset: ImageDataset) -> np.ndarray | None:
    """Draw (or upload) a digit, see it prepared like MNIST and the model's guess -> the (1, 28, 28) uint8 digit.

    The digit is kept in ``state.drawn``; while nothing readable is drawn, the session's last digit
    (or None) is returned.
    """
    if dataset.channels != 1 or dataset.image_size != 28:
        st.info("Drawing works with the 28×28 grey-scale datasets (digits, Fashion-MNIST).")
        return None
    left, right = st.columns([1, 2], gap="large")
    with left:
        st.markdown("Draw a digit, large, in the middle of the box.")
        img = _canvas_image()
    with right:
        if img is None:
            st.info("Your drawing will be prepared exactly like MNIST's digits, step by step.")
            return state.drawn
        try:
            steps = drawing.preprocess_drawing(img)
        except ValueError as exc:
            st.info(f"Nothing to read yet: {exc}.")
            return state.drawn
        st.plotly_chart(ft.drawing_steps_figure(steps.ink, steps.cropped, steps.fitted, steps.final,
                                                steps.centre_of_mass), key="trainer_draw_steps")
        st.caption("MNIST's recipe: crop to the ink, shrink it to fit 20×20 keeping its shape, then move it so that "
                   "its centre of mass (red cross) is at the centre of a 28×28 image.")
        final = (steps.final * 255).round().astype(np.uint8)[None]  # (1, 28, 28)
        state.drawn = final
        probs = actions.predict(rec.model, dataset, final)
        st.plotly_chart(ft.probabilities_figure(probs, dataset.classes), key="trainer_draw_probs")
    return final


def compare_tab(state: TrainerState) -> None:
    """Curves and a settings table of the session's finished runs, side by side."""
    recs = [r for r in state.records if r.snapshot is not None]
    if len(recs) < 2:
        st.info("Every finished run of your session is kept here. Train another one with different settings "
                "(for example the overfit preset, then again with weight decay or dropout) to compare them.")
    if not recs:
        return
    labels = [r.label for r in recs]
    if state.compared_for != len(labels):  # a new run joins the comparison
        state.compared_for = len(labels)
        state.put(Keys.COMPARE_RUNS, labels[-4:])
    chosen = st.multiselect("Runs", labels, key=Keys.COMPARE_RUNS)
    metric = st.radio("Metric", list(_METRICS), format_func=_METRICS.get, horizontal=True, key="trainer_compare_metric")
    picked = [r for r in recs if r.label in chosen]
    st.plotly_chart(ft.compare_runs_figure([(r.label, r.snapshot.epochs) for r in picked], metric),
                    key="trainer_compare")
    runs = []  # (name, results, settings) per run
    for r in picked:
        last = r.snapshot.epochs[-1] if r.snapshot.epochs else {}
        c = r.config
        results = {"train acc": last.get("train_acc"), "val acc": last.get("val_acc"),
                   "gap": (last["train_acc"] - last["val_acc"]) if last.get("val_acc") is not None else None,
                   "test acc": r.result.test_accuracy}
        settings = {"model": c.model, "optimizer": c.optimizer, "lr": c.lr, "batch": c.batch_size,
                    "epochs": len(r.snapshot.epochs), "train images": c.subset or "all", "weight decay": c.weight_decay,
                    "L1": c.l1, "dropout": c.dropout, "augment": c.augment, "early stop": c.patience}
        runs.append((r.label.split(":")[0], results, settings))
    shared = shared_settings([s for _, _, s in runs])
    # The results first: on a narrow page the settings after them are the part that scrolls.
    rows = [{"run": name, **results, **{k: v for k, v in s.items() if k not in shared}} for name, results, s in runs]
    st.dataframe(rows, hide_index=True, column_config={"run": st.column_config.TextColumn(pinned=True)} | {
        k: st.column_config.NumberColumn(format="percent") for k in ("train acc", "val acc", "gap", "test acc")})
    if shared:
        st.caption("Same in every run shown: " + ", ".join(f"{k} {_setting(v)}" for k, v in shared.items()) + ".")


def _setting(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


def shared_settings(settings: list[dict]) -> dict:
    """The settings every run of the comparison shares -> {setting: its one value}; the table leaves them out.

    What differs is what explains the runs' curves, and sixteen columns are wider than a projector's page (at
    1024 px they scrolled sideways). A single run keeps every setting: there is nothing to compare.
    """
    if len(settings) < 2:
        return {}
    return {k: v for k, v in settings[0].items() if all(s[k] == v for s in settings)}


def weights_tab(state: TrainerState, rec: RunRecord | None, dataset: ImageDataset,
                config: TrainConfig) -> RunRecord | None:
    """Download the shown run's weights; upload weights for the chosen model -> a new record or None."""
    if rec is not None:
        st.download_button("Download the weights (.pt)", data=lambda: save_weights(rec.model),
                           file_name=f"{rec.config.model}-{rec.dataset}.pt", mime="application/octet-stream",
                           icon=":material/download:", key="trainer_download_weights")
        st.caption(f"{rec.label}. Load them later with `model.load_state_dict(torch.load(path, weights_only=True))`.")
    up = st.file_uploader(f"Load weights for the chosen model ({config.model}) on {dataset.label or dataset.name}",
                          type=["pt", "pth"], key="trainer_weights_upload")
    if up is None or state.loaded_file == up.file_id:
        return None
    try:
        model, result = actions.load_uploaded_weights(config, dataset, up.getvalue())
    except ValueError as exc:
        st.error(f"Can't load **{up.name}**: {exc}", icon=":material/error:")
        return None
    state.loaded_file = up.file_id
    st.success(f"Loaded {up.name}: test accuracy {result.test_accuracy:.2%}.", icon=":material/check_circle:")
    return RunRecord(-len(state.records) - 1, f"Loaded {up.name} ({describe(config, dataset)})", config, model, result,
                     None, dataset.name)
