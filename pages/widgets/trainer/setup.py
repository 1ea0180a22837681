"""Trainer page, part 1: choosing the data and the settings (widgets bound to the URL).

Everything here only builds plain values; explainers.training.data.datasets / explainers.training do the work.
Datasets are read-only tensors shared between sessions through ``st.cache_resource``.
"""

from __future__ import annotations

import streamlit as st

from explainers.training.data import datasets as dsets
from models import MODELS
from pages.widgets.ui import ShareableState

SYNTHETIC = "synthetic-digits"
LRS = [m * 10.0**e for e in range(-5, 1) for m in (1, 2, 3, 5)][:-3]  # 1e-5 ... 1
WEIGHT_DECAYS = [0.0, 1e-5, 1e-4, 5e-4, 1e-3, 1e-2, 1e-1]
L1S = [0.0, 1e-6, 1e-5, 1e-4, 1e-3]
BATCHES = [16, 32, 64, 128, 256, 512]
SUBSETS = [200, 500, 1000, 2000, 5000, 10000, 20000, 0]  # 0 = the whole training set
OPTIMIZERS = {"sgd": "SGD", "sgd_momentum": "SGD + momentum", "adam": "Adam", "adamw": "AdamW"}
SCHEDULERS = {"none": "constant", "step": "StepLR (÷10 at 2/3)", "onecycle": "OneCycle", "cosine": "cosine"}
DEVICES = ["auto", "cpu", "cuda", "mps"]

DEFAULTS = {  # the recommended, fast and accurate starting point
    "trainer_model": "fast_cnn", "trainer_optimizer": "adam", "trainer_lr": 2e-3, "trainer_batch": 128,
    "trainer_epochs": 2, "trainer_wd": 0.0, "trainer_l1": 0.0, "trainer_dropout": 0.1,
    "trainer_scheduler": "onecycle", "trainer_patience": 0, "trainer_augment": False, "trainer_subset": 0,
    "trainer_seed": 0, "trainer_device": "auto", "trainer_val": 0.1,
}
PRESETS = {
    "recommended": DEFAULTS,
    # Overfit on purpose: few images, a network with far more weights than images, many epochs and
    # nothing holding it back. The MLP shows the widest gap and trains in seconds on a CPU.
    "overfit": {**DEFAULTS, "trainer_model": "mlp", "trainer_subset": 500, "trainer_epochs": 25,
                "trainer_dropout": 0.0, "trainer_wd": 0.0, "trainer_l1": 0.0, "trainer_augment": False,
                "trainer_patience": 0, "trainer_scheduler": "none", "trainer_lr": 1e-3, "trainer_batch": 64,
                "trainer_val": 0.1},
}


def nearest(options: list[float], value: float) -> float:
    """The option closest to value on a log scale (0 only matches 0)."""
    import math

    pos = [o for o in options if o > 0]
    if value <= 0:
        return options[0]
    return min(pos, key=lambda o: abs(math.log10(o) - math.log10(value)))


def apply_preset(name: str) -> None:
    """Widget callback: set every setting of a preset (runs before the widgets are drawn)."""
    for key, value in PRESETS[name].items():
        st.session_state[key] = value
    st.session_state.trainer_preset = name


def use_lr(lr: float) -> None:
    """Widget callback: put a (rounded) learning rate into the slider."""
    st.session_state.trainer_lr = nearest(LRS, lr)


@st.cache_resource(show_spinner=False, max_entries=6)
def cached_dataset(name: str) -> dsets.ImageDataset:
    """Shared, read-only dataset tensors (one copy per server process)."""
    return dsets.load_dataset(name)


def choose_dataset(url: ShareableState) -> dsets.ImageDataset | None:
    """Dataset selectbox; loads it (with a progress bar) or explains why it can't and offers the offline set."""
    names = list(dsets.DATASETS)
    default = "mnist" if dsets.is_available("mnist") else SYNTHETIC
    key = st.selectbox("Dataset", names, format_func=dsets.DATASETS.get,
                       key=url.bind("trainer_dataset", default, options=names))
    if key != SYNTHETIC and not dsets.is_available(key) and not st.session_state.get(f"trainer_fetch_{key}"):
        st.warning(f"**{dsets.DATASETS[key]}** is not in the data folder `{dsets.data_dir()}` yet.",
                   icon=":material/cloud_download:")
        c1, c2 = st.columns(2)
        if c1.button(f"Download {dsets.DATASETS[key]}", key="trainer_download", icon=":material/download:"):
            st.session_state[f"trainer_fetch_{key}"] = True
            st.rerun()
        c2.button("Use Synthetic digits (offline)", key="trainer_use_synth1", on_click=_use_synthetic)
        return None
    bar = st.empty()

    def progress(fraction: float, message: str) -> None:
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=f"{dsets.DATASETS[key]}: {message}")

    try:
        with st.spinner(f"Loading {dsets.DATASETS[key]}…"):
            dsets.load_dataset(key, progress=progress)  # downloads/decodes with a progress bar, once
            ds = cached_dataset(key)
    except dsets.DatasetUnavailable as exc:
        bar.empty()
        st.session_state.pop(f"trainer_fetch_{key}", None)
        st.error(f"**{dsets.DATASETS[key]} is not available.** {exc}", icon=":material/cloud_off:")
        st.button("Use Synthetic digits (offline) instead", key="trainer_use_synth2", on_click=_use_synthetic)
        return None
    bar.empty()
    if ds.synthetic and ds.classes != ("cat", "dog"):  # drawn pets: pages/trainer_catsdogs says so
        st.caption(":orange-badge[synthetic] These digits are drawn by code, not handwritten: good for "
                   "learning offline, but scores on them are not MNIST scores.")
    return ds


def _use_synthetic() -> None:
    st.session_state.trainer_dataset = SYNTHETIC


def settings_form(url: ShareableState, ds: dsets.ImageDataset) -> dict:
    """Every training setting as a widget; returns TrainConfig keyword arguments."""
    for key, value in DEFAULTS.items():
        opts = {"trainer_optimizer": OPTIMIZERS, "trainer_scheduler": SCHEDULERS, "trainer_device": DEVICES,
                "trainer_lr": LRS, "trainer_batch": BATCHES, "trainer_wd": WEIGHT_DECAYS, "trainer_l1": L1S,
                "trainer_subset": SUBSETS}.get(key)
        url.bind(key, value, options=list(opts) if opts is not None else None)
    models = [m for m, spec in MODELS.items() if spec.supports(ds.channels, ds.image_size)]
    if st.session_state.trainer_model not in models:
        st.session_state.trainer_model = next((m for m in models if MODELS[m].recommended), models[0])
    url.bind("trainer_model", DEFAULTS["trainer_model"], options=models)

    c1, c2, c3 = st.columns(3, gap="medium")
    with c1:
        st.markdown("**Model and data**")
        model = st.selectbox("Model", models, format_func=lambda m: MODELS[m].label, key="trainer_model")
        st.caption(MODELS[model].description)
        st.select_slider("Training images", SUBSETS, key="trainer_subset",
                         format_func=lambda n: f"all {len(ds.train_y):,}" if n == 0 else f"{n:,}")
        st.slider("Validation share", 0.05, 0.3, step=0.05, key="trainer_val",
                  help="Held out from the training images to watch for overfitting.")
    with c2:
        st.markdown("**Optimisation**")
        st.selectbox("Optimizer", list(OPTIMIZERS), format_func=OPTIMIZERS.get, key="trainer_optimizer")
        st.select_slider("Learning rate", LRS, key="trainer_lr", format_func=lambda v: f"{v:g}")
        st.select_slider("Batch size", BATCHES, key="trainer_batch")
        st.slider("Epochs", 1, 30, key="trainer_epochs")
        st.selectbox("Schedule", list(SCHEDULERS), format_func=SCHEDULERS.get, key="trainer_scheduler")
    with c3:
        st.markdown("**Regularisation**")
        st.select_slider("Weight decay (L2)", WEIGHT_DECAYS, key="trainer_wd", format_func=lambda v: f"{v:g}")
        st.select_slider("L1 strength", L1S, key="trainer_l1", format_func=lambda v: f"{v:g}")
        if MODELS[model].has_dropout:
            st.slider("Dropout", 0.0, 0.7, step=0.05, key="trainer_dropout")
        st.slider("Early stopping patience", 0, 10, key="trainer_patience",
                  help="Stop when validation loss has not improved for this many epochs (0 = never); "
                       "the best weights are restored.")
        st.toggle("Augment (small shifts and rotations)", key="trainer_augment")
        a, b = st.columns(2)
        a.number_input("Seed", 0, 10_000, key="trainer_seed")
        b.selectbox("Device", DEVICES, key="trainer_device")
    s = st.session_state
    return {
        "dataset": ds.name, "model": model, "optimizer": s.trainer_optimizer, "lr": float(s.trainer_lr),
        "batch_size": int(s.trainer_batch), "epochs": int(s.trainer_epochs), "weight_decay": float(s.trainer_wd),
        "l1": float(s.trainer_l1), "dropout": float(s.trainer_dropout) if MODELS[model].has_dropout else 0.0,
        "scheduler": s.trainer_scheduler, "patience": int(s.trainer_patience), "augment": bool(s.trainer_augment),
        "subset": int(s.trainer_subset) or None, "seed": int(s.trainer_seed), "device": s.trainer_device,
        "val_fraction": float(s.trainer_val),
    }


OVERFIT_HELP = ("Overfit on purpose: 500 training images, an MLP with over 100 weights per image, 25 epochs and no "
                "regularisation. Training accuracy climbs to about 100% while validation accuracy stalls far "
                "below: it memorises. Then close the gap with augmentation, dropout, weight decay, L1 or early "
                "stopping, train again, and compare the runs.")


def find_lr(kwargs: dict, ds: dsets.ImageDataset):
    """Run the learning-rate finder for these settings -> LRFinderResult."""
    from explainers.training import TrainConfig, lr_find

    return lr_find(TrainConfig(**kwargs), ds, num_steps=100)


@st.cache_data(show_spinner=False, max_entries=32)
def model_card_rows(model: str, channels: int, image_size: int, num_classes: int) -> dict:
    """The model card of a freshly built model as table rows and totals."""
    from models import build_model, model_card

    card = model_card(build_model(model, channels, image_size, num_classes), (channels, image_size, image_size))
    rows = [{"layer": r.name, "type": r.type, "output shape": " × ".join(map(str, r.output_shape)),
             "parameters": r.parameters, "multiply-adds": r.mult_adds} for r in card]
    return {"rows": rows, "parameters": card.total_parameters, "mult_adds": card.total_mult_adds}


def snippet(kwargs: dict, ds: dsets.ImageDataset) -> str:
    """The plain PyTorch training loop equivalent to the current settings."""
    k = kwargs
    opt = {"sgd": f"torch.optim.SGD(model.parameters(), lr={k['lr']:g}, weight_decay={k['weight_decay']:g})",
           "sgd_momentum": f"torch.optim.SGD(model.parameters(), lr={k['lr']:g}, momentum=0.9, "
                           f"weight_decay={k['weight_decay']:g})",
           "adam": f"torch.optim.Adam(model.parameters(), lr={k['lr']:g}, weight_decay={k['weight_decay']:g})",
           "adamw": f"torch.optim.AdamW(model.parameters(), lr={k['lr']:g}, weight_decay={k['weight_decay']:g})",
           }[k["optimizer"]]
    steps = f"{k['epochs']} * len(train_loader)"
    sched = {"none": "None", "step": f"torch.optim.lr_scheduler.StepLR(optimizer, step_size={steps} // 3, gamma=0.1)",
             "onecycle": f"torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr={k['lr']:g}, total_steps={steps})",
             "cosine": f"torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max={steps})"}[k["scheduler"]]
    l1 = (f"\n        loss = loss + {k['l1']:g} * sum(p.abs().sum() for n, p in model.named_parameters() "
          "if n.endswith('weight'))") if k["l1"] else ""
    mean, std = ", ".join(f"{m:.4f}" for m in ds.mean), ", ".join(f"{s:.4f}" for s in ds.std)
    return (
        "import torch\nimport torch.nn.functional as F\nfrom models import build_model\n\n"
        f"# images: uint8 (N, {ds.channels}, {ds.image_size}, {ds.image_size}), normalised per batch\n"
        f"mean = torch.tensor([{mean}]).view(1, -1, 1, 1)\nstd = torch.tensor([{std}]).view(1, -1, 1, 1)\n"
        f"model = build_model({k['model']!r}, {ds.channels}, {ds.image_size}, {ds.num_classes}, dropout={k['dropout']:g})\n"
        f"optimizer = {opt}\nscheduler = {sched}\n\n"
        f"for epoch in range({k['epochs']}):\n    model.train()\n"
        f"    for x, y in train_loader:  # batches of {k['batch_size']}\n"
        "        x = (x.float() / 255 - mean) / std\n"
        "        loss = F.cross_entropy(model(x), y)" + l1 + "\n"
        "        optimizer.zero_grad()\n        loss.backward()\n        optimizer.step()\n"
        + ("        scheduler.step()\n" if k["scheduler"] != "none" else "")
    )
