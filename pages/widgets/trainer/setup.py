"""Trainer page, part 1: choosing the data and the settings (widgets bound to the URL).

Everything here only builds plain values (a TrainConfig); explainers.training does the work.
Datasets are read-only tensors shared between sessions: ``explainers.training.data.load_dataset`` keeps one
copy per server process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import streamlit as st

from explainers import snippets
from explainers.training import DEVICES, OPTIMIZERS, SCHEDULERS, TrainConfig, actions
from explainers.training import data as dsets
from models import MODELS
from pages.widgets import sessions
from pages.widgets.slider_panel import RangeControl, slider_panel
from pages.widgets.trainer.state import Keys, TrainerState, model_label
from pages.widgets.ui import ShareableState, rerun_of_fragments, visitor_text

SYNTHETIC = "synthetic-digits"
# Written as decimal literals ("3e-05", not 3 * 10.0**-5 = 3.0000000000000004e-05) so that the value a
# share link carries ("3e-05") is exactly one of the options and survives the round trip.
LRS = [float(f"{m}e{e}") for e in range(-5, 1) for m in (1, 2, 3, 5)][:-3]  # 1e-5 ... 1
WEIGHT_DECAYS = [0.0, 1e-5, 1e-4, 5e-4, 1e-3, 1e-2, 1e-1]
L1S = [0.0, 1e-6, 1e-5, 1e-4, 1e-3]
BATCHES = [16, 32, 64, 128, 256, 512]
SUBSETS = [200, 500, 1000, 2000, 5000, 10000, 20000, 0]  # 0 = the whole training set



DEFAULTS = {  # the recommended, fast and accurate starting point
    Keys.MODEL: "fast_cnn", Keys.OPTIMIZER: "adam", Keys.LR: 2e-3, Keys.BATCH: 128,
    Keys.EPOCHS: 2, Keys.WEIGHT_DECAY: 0.0, Keys.L1: 0.0, Keys.DROPOUT: 0.1,
    Keys.SCHEDULER: "onecycle", Keys.PATIENCE: 0, Keys.AUGMENT: False, Keys.SUBSET: 0,
    Keys.SEED: 0, Keys.DEVICE: "auto", Keys.VAL: 0.1,
}
# what a URL value must be one of; the optimizer, schedule and device boxes offer exactly the engine's keys
OPTIONS = {Keys.OPTIMIZER: list(OPTIMIZERS), Keys.SCHEDULER: list(SCHEDULERS), Keys.DEVICE: list(DEVICES)}
SEEDS = (0, 10_000)  # the seed box's bounds (a link's number outside them is clamped)
# the settings' three panels of ranges (pages/widgets/slider_panel.py), one per column of the form
DATA_PANEL, OPTIMISATION_PANEL, REGULARISATION_PANEL = "trainer_data_panel", "trainer_opt_panel", "trainer_reg_panel"
PRESETS = {
    "recommended": DEFAULTS,
    # Overfit on purpose: few images, a network with far more weights than images, many epochs and
    # nothing holding it back. The MLP shows the widest gap and trains in seconds on a CPU.
    "overfit": {**DEFAULTS, Keys.MODEL: "mlp", Keys.SUBSET: 500, Keys.EPOCHS: 25,
                Keys.DROPOUT: 0.0, Keys.WEIGHT_DECAY: 0.0, Keys.L1: 0.0, Keys.AUGMENT: False,
                Keys.PATIENCE: 0, Keys.SCHEDULER: "none", Keys.LR: 1e-3, Keys.BATCH: 64, Keys.VAL: 0.1},
}


def nearest(options: list[float], value: float) -> float:
    """The option closest to value on a log scale (0 only matches 0)."""
    pos = [o for o in options if o > 0]
    if value <= 0:
        return options[0]
    return min(pos, key=lambda o: abs(math.log10(o) - math.log10(value)))


def apply_preset(state: TrainerState, name: str) -> None:
    """Widget callback: set every setting of a preset (runs before the widgets are drawn)."""
    state.put_all(PRESETS[name])
    state.preset = name


def use_lr(state: TrainerState, lr: float) -> None:
    """Widget callback: put a (rounded) learning rate into the slider."""
    state.put(Keys.LR, nearest(LRS, lr))


def use_dataset(state: TrainerState, key: str) -> None:
    """Widget callback: switch the dataset box to ``key``."""
    state.put(Keys.DATASET, key)


def choose_dataset(url: ShareableState, state: TrainerState) -> tuple[dsets.DatasetSpec, dsets.ImageDataset | None]:
    """Dataset selectbox -> (the chosen source as a spec, its pictures or None when they can't be loaded yet).

    Loads the pictures with a progress bar, or explains why it can't and offers the offline set. A key
    from the link (say a folder) is parsed into a spec for this visitor only; nothing is registered.
    """
    # the static menu, plus a well-formed key this visitor's link or session names (e.g. a folder)
    menu = dsets.dataset_menu(st.query_params.get(Keys.DATASET), state.get(Keys.DATASET))
    names = list(menu)
    default = "mnist" if dsets.is_available("mnist") else SYNTHETIC
    key = st.selectbox("Dataset", names, format_func=menu.get,
                       key=url.bind(Keys.DATASET, default, options=names))
    spec = dsets.parse_spec(key)  # every menu key parses
    label = spec.label
    if spec.downloads and not dsets.is_available(spec) and key not in state.fetch_requested:
        st.warning(f"**{label}** is not in the data folder yet.",
                   icon=":material/cloud_download:")
        c1, c2 = st.columns(2)
        if c1.button(f"Download {label}", key="trainer_download", icon=":material/download:"):
            state.fetch_requested.add(key)
            st.rerun()
        c2.button("Use Synthetic digits (offline)", key="trainer_use_synth1", on_click=use_dataset,
                  args=(state, SYNTHETIC))
        return spec, None
    sid = sessions.session_id() if spec.source == "folder" else None  # a folder only if this session may read it
    try:
        # Loaded once per server: after that (every settings change) no spinner and no progress bar to
        # draw and clear, which cost each rerun a thread and two elements.
        ds = dsets.loaded(spec, session=sid)
        if ds is None:
            ds = _load_with_progress(spec, sid)
    except dsets.DatasetUnavailable as exc:
        state.fetch_requested.discard(key)
        st.error(f"**{label} is not available.** {visitor_text(exc)}", icon=":material/cloud_off:")
        st.button("Use Synthetic digits (offline) instead", key="trainer_use_synth2", on_click=use_dataset,
                  args=(state, SYNTHETIC))
        return spec, None
    if ds.synthetic and not spec.is_catsdogs:  # drawn pets: the cats-vs-dogs panel says so
        st.caption(":orange-badge[synthetic] These digits are drawn by code, not handwritten: good for "
                   "learning offline, but scores on them are not MNIST scores.")
    return spec, ds


def _load_with_progress(spec: dsets.DatasetSpec, session: str | None) -> dsets.ImageDataset:
    """Download and decode the pictures with a progress bar (gone when done, or when loading fails)."""
    bar = st.empty()

    def progress(fraction: float, message: str) -> None:
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=f"{spec.label}: {message}")

    try:
        with st.spinner(f"Loading {spec.label}…"):
            return dsets.load_dataset(spec, progress=progress, session=session)
    finally:
        bar.empty()


def ranges(ds: dsets.ImageDataset) -> dict[str, RangeControl]:
    """The settings drawn as ranges, by key: their bounds, steps and choices, which a link's value is put
    within (``RangeControl.bind``)."""
    def g(v: float) -> str:
        return f"{v:g}"

    def images(n: int) -> str:
        return f"all {actions.split_size(ds, 'train'):,}" if n == 0 else f"{n:,}"

    return {c.key: c for c in (
        RangeControl.choices(Keys.SUBSET, "Training images", SUBSETS, format_func=images),
        RangeControl(Keys.VAL, "Validation share", 0.05, 0.3, 0.05,
                     help="Held out from the training images to watch for overfitting."),
        RangeControl.choices(Keys.LR, "Learning rate", LRS, format_func=g, help=HELP["lr"]),
        RangeControl.choices(Keys.BATCH, "Batch size", BATCHES, help=HELP["batch"]),
        RangeControl(Keys.EPOCHS, "Epochs", 1, 30, 1, help=HELP["epochs"]),
        RangeControl.choices(Keys.WEIGHT_DECAY, "Weight decay (L2)", WEIGHT_DECAYS, format_func=g,
                             help=HELP["weight_decay"]),
        RangeControl.choices(Keys.L1, "L1 strength", L1S, format_func=g, help=HELP["l1"]),
        RangeControl(Keys.DROPOUT, "Dropout", 0.0, 0.7, 0.05, help=HELP["dropout"]),
        RangeControl(Keys.PATIENCE, "Early stopping patience", 0, 10, 1, help=HELP["patience"]),
    )}


# What the page shows of the settings outside the form: the model (its card, the weights' label) and the loss
# formula's optimizer and penalties. A change of another setting reruns the form alone.
SHOWN_OUTSIDE = ("model", "optimizer", "weight_decay", "l1")


@dataclass
class FormRun:
    """The settings form's link to the page run that drew it: one per run of the whole page, kept by the form's
    own reruns (a fragment is rerun with the arguments of the page's last run)."""

    config: TrainConfig | None = None  # the settings as the form shows them now: what Start trains
    chosen: TrainConfig | None = None  # the form's settings in the page's run: what the rest of the page shows
    shows_all: bool = False  # the rest of the page shows every setting (an open snippet, the experiment, pets)
    finished: bool = False  # the page's run reached its end (a change may interrupt it before)
    drawing: bool = False  # the form is being drawn (its panels run as part of it, not alone)


@st.fragment
def settings(url: ShareableState, state: TrainerState, ds: dsets.ImageDataset, form: FormRun) -> None:
    """The settings form in its own fragment -> ``form.config``.

    A setting only the form shows (the epochs, the learning rate, ...) reruns the form alone, and a range reruns its
    own panel alone (``_ranges``): a rerun of the whole page cost the server about twice the CPU and the browser
    all of the page's elements anew (benchmarks/RESULTS.md). One the page shows elsewhere reruns the page, so
    nothing on it is stale; so does any change after a run of the page that did not reach its end (a change
    interrupted it)."""
    form.drawing = True
    try:
        config = settings_form(url, state, ds, form)
    finally:
        form.drawing = False
    if not rerun_of_fragments():  # the page's own run: the rest of the page is drawn with these settings
        form.config = form.chosen = config
        return
    _settled(url, config, form)


def _settled(url: ShareableState, config: TrainConfig, form: FormRun) -> None:
    """After a rerun of the form (or of one of its panels) alone: the link, then the page if it shows what changed."""
    url.publish()  # a rerun of the form alone must update the link too
    if not form.finished or config != form.chosen and (form.shows_all or any(
            getattr(config, f) != getattr(form.chosen, f) for f in SHOWN_OUTSIDE)):
        st.rerun(scope="app")
    if not form.shows_all:  # nothing else on the page changes (cats vs dogs refine the page's config instead)
        form.config = config


# A fragment inside the form's: a key press in one of its panels reruns that panel alone, not the form's menus,
# switch and seed box (Streamlit widgets the browser redrew on every change of the learning rate or the epochs).
@st.fragment
def _ranges(key: str, controls: list[RangeControl], url: ShareableState, ds: dsets.ImageDataset,
            form: FormRun) -> None:
    slider_panel(key, controls, "", layout="column")
    if not form.drawing:  # this panel reran alone: the settings changed without the form being drawn
        _settled(url, form_config(ds), form)


def settings_form(url: ShareableState, state: TrainerState, ds: dsets.ImageDataset, form: FormRun) -> TrainConfig:
    """Every training setting as a widget (or a panel's range) -> the TrainConfig they describe."""
    controls = ranges(ds)
    for key, value in DEFAULTS.items():
        if key in controls:
            controls[key].bind(url, value)
        else:
            lo, hi = SEEDS if key == Keys.SEED else (None, None)  # a link's number outside them is clamped
            url.bind(key, value, options=OPTIONS.get(key), lo=lo, hi=hi)
    models = [m for m, spec in MODELS.items() if spec.supports(ds.channels, ds.image_size)]
    if state.get(Keys.MODEL) not in models:
        state.put(Keys.MODEL, next((m for m in models if MODELS[m].recommended), models[0]))
    url.bind(Keys.MODEL, DEFAULTS[Keys.MODEL], options=models)

    # The model across the whole row: in a third of it its names ("ResNet-18 transfer (frozen backbone)")
    # were cut at 1024 px, the projector's width.
    model = st.selectbox("Model", models, key=Keys.MODEL, help=HELP["model"],
                         format_func=lambda m: model_label(m, ds.channels, ds.image_size, ds.num_classes))
    st.caption(model_note(model, ds))
    # The ranges are drawn by the slider panel's component, one panel per column: nine Streamlit sliders
    # cost every settings change a re-render of each (and a forced layout of the page per slider).
    c1, c2, c3 = st.columns(3, gap="medium")
    with c1:
        st.markdown("**Data**")
        _ranges(DATA_PANEL, [controls[Keys.SUBSET], controls[Keys.VAL]], url, ds, form)
    with c2:
        st.markdown("**Optimisation**")
        st.selectbox("Optimizer", list(OPTIMIZERS), format_func=OPTIMIZERS.get, key=Keys.OPTIMIZER,
                     help=HELP["optimizer"])
        _ranges(OPTIMISATION_PANEL, [controls[k] for k in (Keys.LR, Keys.BATCH, Keys.EPOCHS)], url, ds, form)
        st.selectbox("Schedule", list(SCHEDULERS), format_func=SCHEDULERS.get, key=Keys.SCHEDULER,
                     help=HELP["scheduler"])
    with c3:
        st.markdown("**Regularisation**")
        has_dropout = MODELS[model].has_dropout  # a model without dropout layers has no dropout to set
        _ranges(REGULARISATION_PANEL, [controls[k] for k in (Keys.WEIGHT_DECAY, Keys.L1, Keys.DROPOUT, Keys.PATIENCE)
                                       if has_dropout or k != Keys.DROPOUT], url, ds, form)
        st.toggle("Augment", key=Keys.AUGMENT, help=HELP["augment"])
        # One under the other: side by side at 1024 px the device names were cut to a few letters.
        st.number_input("Seed", *SEEDS, key=Keys.SEED, help=HELP["seed"])
        st.selectbox("Device", list(DEVICES), format_func=DEVICES.get, key=Keys.DEVICE,
                     help="Auto takes an NVIDIA GPU (CUDA) if there is one, then an Apple GPU (MPS), else the CPU.")
    return form_config(ds)


def form_config(ds: dsets.ImageDataset) -> TrainConfig:
    """The TrainConfig the form's widgets and ranges hold now (their session-state values)."""
    v = st.session_state
    model = v[Keys.MODEL]
    has_dropout = MODELS[model].has_dropout
    return TrainConfig(
        dataset=ds.name, model=model, optimizer=v[Keys.OPTIMIZER], lr=float(v[Keys.LR]),
        batch_size=int(v[Keys.BATCH]), epochs=int(v[Keys.EPOCHS]), weight_decay=float(v[Keys.WEIGHT_DECAY]),
        l1=float(v[Keys.L1]), dropout=float(v[Keys.DROPOUT]) if has_dropout else 0.0, scheduler=v[Keys.SCHEDULER],
        patience=int(v[Keys.PATIENCE]), augment=bool(v[Keys.AUGMENT]), subset=int(v[Keys.SUBSET]) or None,
        seed=int(v[Keys.SEED]), device=v[Keys.DEVICE], val_fraction=float(v[Keys.VAL]),
    )


# one line per term, shown where it first appears (the widget's help)
HELP = {
    "model": "BN = batch normalisation: each layer's outputs are rescaled to mean 0 and spread 1 over the batch, "
             "so deep networks train faster and with larger learning rates.",
    "optimizer": "How the weights move along the gradient. SGD: a plain step; momentum: keeps 90% of the last step; "
                 "Adam: a step per weight scaled by its recent gradients; AdamW: Adam with weight decay kept "
                 "out of the loss (each step shrinks the weights directly).",
    "lr": "η, the size of each step: too small learns slowly, too big makes the loss jump or explode.",
    "batch": "Images per step: the gradient is averaged over them.",
    "epochs": "Passes over the training images.",
    "scheduler": "How the learning rate changes during the run. OneCycle: warms up to the chosen rate, then "
                 "anneals to almost 0 (fast and forgiving); Cosine: falls smoothly to 0; StepLR: ÷10 every "
                 "third of the run.",
    "weight_decay": "λ₂: pulls every weight towards 0 a little each step, so no weight grows large without need "
                    "(see the formula above for where each optimizer puts it).",
    "l1": "λ₁·Σ|w| added to the loss for conv and linear weights (not biases): pushes small weights to exactly 0.",
    "dropout": "During training, each neuron of the dropout layers is switched off at random with this probability, "
               "so the network cannot rely on any single one.",
    "patience": "Early stopping: stop when the validation loss has not improved for this many epochs (0 = never); "
                "the best weights are restored.",
    "augment": "Small shifts (±2 px) and rotations (±10°) of each training image, new every epoch: more "
               "varied data without new pictures.",
    "seed": "Fixes the split, the shuffles, the initial weights, dropout and augmentation: the same seed repeats "
            "a run on this machine.",
}

# the registry's notes quote MNIST; on other data they say what the network is, not its MNIST score
_NOTES_ELSEWHERE = {"fast_cnn": "Three small conv-BN-ReLU blocks (16, 32, 64 filters): quick to train on a CPU."}


def model_note(model: str, ds: dsets.ImageDataset) -> str:
    """The caption under the model box, true for the chosen data (sizes, no other dataset's scores)."""
    spec = MODELS[model]
    if model == "mlp":
        inputs = ds.channels * ds.image_size * ds.image_size
        return (f"{inputs:,} inputs ({ds.channels}×{ds.image_size}×{ds.image_size} pixels) → three hidden layers "
                f"of 64 fully connected neurons → {ds.num_classes} outputs; sees pixels, not shapes.")
    note = _NOTES_ELSEWHERE[model] if ds.name != "mnist" and model in _NOTES_ELSEWHERE else spec.description
    # said here, not in the menu label: "(recommended)" made the label too long for the box on a projector
    return f"Recommended. {note}" if spec.recommended else note


def quick_look(ds: dsets.ImageDataset) -> str:
    """The advice for a first run, sized to the chosen data ("train on 2,000 images" only when there are more)."""
    n = actions.split_size(ds, "train")
    if n > 2000:
        return "For a quick first look, set **Training images** to 2,000."
    return f"This set has {n:,} training images: a run over all of them is quick."


OVERFIT_HELP = ("Overfit on purpose: 500 training images, an MLP with over 100 weights per image, 25 epochs and no "
                "regularisation. Training accuracy climbs to about 100% while validation accuracy stalls far "
                "below: it memorises. Then close the gap with augmentation, dropout, weight decay, L1 or early "
                "stopping, train again, and compare the runs.")


def describe_settings(config: TrainConfig) -> str:
    """What an LR-finder result was measured for: "fast_cnn, adam, batch 128"."""
    return f"{config.model}, {config.optimizer}, batch {config.batch_size}"


@st.cache_data(show_spinner=False, max_entries=32)
def model_card(model: str, channels: int, image_size: int, num_classes: int) -> actions.CardTable:
    """The model card of a freshly built model (cached: it depends only on these four values)."""
    return actions.model_card(model, channels, image_size, num_classes)


def snippet(config: TrainConfig, ds: dsets.ImageDataset) -> str:
    """The plain PyTorch training script equivalent to the current settings (built by explainers.snippets)."""
    dropout = config.dropout if config.dropout is not None else MODELS[config.model].default_dropout
    return snippets.trainer_snippet(
        dataset=ds.name, channels=ds.channels, image_size=ds.image_size, num_classes=ds.num_classes, mean=ds.mean,
        std=ds.std, model=config.model, optimizer=config.optimizer, lr=config.lr, weight_decay=config.weight_decay,
        scheduler=config.scheduler, epochs=config.epochs, batch_size=config.batch_size, l1=config.l1, dropout=dropout)
