"""Trainer page, cats vs dogs (issue 7): picture source and size, augmentation preview, transfer learning,
the scratch-vs-transfer race and Grad-CAM. pages/trainer.py calls these in a few lines:

    cd.prepare()                                  # before the dataset box: deep links to folders and sizes
    cd.data_panel()                               # after it: picture size, your own folder or zip
    kwargs = cd.settings_panel(url, ds, kwargs)   # after the settings: augmentations, freeze, race
    names = [...] + cd.tab_names(ds)              # and, with a finished run, cd.render_tabs(tabs, rec, ds)

Everything shows only for cats-vs-dogs datasets; for digits these calls do nothing. The race lives in
pages/trainer_race.py and the Grad-CAM tab in pages/trainer_gradcam.py.
"""

from __future__ import annotations

import streamlit as st

from explainers.figures import catsdogs as fcd
from explainers.training import augment
from explainers.training.data import datasets as dsets
from explainers.training.data import pets
from pages.widgets.trainer import gradcam as cam
from pages.widgets.trainer import race as race
from pages.widgets.trainer.race import RESNETS
from pages.widgets.ui import ShareableState, run_safely

LABELS = {"flip": "Flip", "crop": "Crop", "rotate": "Rotate", "jitter": "Colours"}
HELP = {"flip": "Mirror left-right at random.", "crop": "Zoom into a random 60-100% of the picture.",
        "rotate": "Turn by up to ±15 degrees.", "jitter": "Change brightness, contrast and saturation by up to 30%."}


def _is_pets(ds) -> bool:
    return ds is not None and tuple(ds.classes) == pets.CLASSES


def prepare() -> None:
    """Register a cats-vs-dogs key named in the link or the session, so the dataset box can offer it."""
    for raw in (st.query_params.get("trainer_dataset"), st.session_state.get("trainer_dataset")):
        if isinstance(raw, str):
            pets.ensure_registered(raw)


# ----------------------------------------------------------------------------- data


def _switch_size() -> None:
    source, _, folder = pets.parse_key(st.session_state.trainer_dataset)
    st.session_state.trainer_dataset = pets.dataset_key(source, int(st.session_state.trainer_cd_size), folder)


def _current_size() -> int:
    """The picture size of the chosen cats-vs-dogs set (64 for CIFAR's 32 px or a digits set)."""
    key = st.session_state.get("trainer_dataset", "")
    size = pets.parse_key(key)[1] if pets.is_catsdogs(key) else 64
    return size if size in pets.SIZES else 64


def _use_folder() -> None:
    st.session_state.trainer_dataset = pets.dataset_key("folder", _current_size(), st.session_state.trainer_cd_folder)


def _import_zip() -> None:
    """Uploader callback: check and unpack the zip, then switch the dataset to it (or say why not)."""
    up = st.session_state.get("trainer_cd_zip")
    if up is None:
        return
    try:
        imp = pets.import_zip(up.getvalue(), dsets.data_dir())
    except pets.ZipRefused as exc:
        st.session_state.trainer_cd_zip_msg = ("error", f"**{up.name}** was not used: {exc}")
        return
    except OSError as exc:
        st.session_state.trainer_cd_zip_msg = ("error", f"**{up.name}** could not be saved: {exc}")
        return
    counts = imp.files.counts()
    note = f" ({imp.ignored} system files ignored)" if imp.ignored else ""
    st.session_state.trainer_cd_zip_msg = (
        "success", f"**{up.name}**: {counts['cat']} cats and {counts['dog']} dogs ({imp.files.layout}){note}.")
    _use_key(pets.dataset_key("folder", _current_size(), imp.relative))


def _use_key(key: str) -> None:
    st.session_state.trainer_dataset = key


def data_panel() -> None:
    """Below the dataset box, for cats vs dogs: picture size and your own pictures (folder or zip)."""
    key = st.session_state.get("trainer_dataset", "")
    if not pets.is_catsdogs(key):
        st.button("Try cats vs dogs", key="trainer_cd_try", icon=":material/pets:", on_click=_use_key,
                  args=("synthetic-pets",), help="Colour photos, two classes, transfer learning and Grad-CAM.")
        return
    source, size, _ = pets.parse_key(key)
    if source == "synthetic":
        st.caption(":orange-badge[synthetic] Cartoon cats (pointed ears, whiskers) and dogs (floppy ears, snout) "
                   "drawn by code: good for learning offline; real photos are much harder.")
    left, right = st.columns([1, 2])
    if source == "cifar":
        left.caption("CIFAR-10 pictures are 32×32 pixels: tiny, so training is quick.")
    else:
        st.session_state.trainer_cd_size = size
        left.segmented_control("Picture size", pets.SIZES, key="trainer_cd_size", required=True,
                               format_func=lambda s: f"{s} px", on_change=_switch_size,
                               help="Pictures are decoded once to this size and kept in memory; bigger "
                                    "pictures show more detail but train more slowly.")
    with right.expander("Use your own cat and dog photos", icon=":material/photo_library:"):
        st.markdown("A folder in the data folder (`" + str(dsets.data_dir()) + "`) or a zip, in either layout: "
                    "class folders `cat/` and `dog/` (or `cats/`, `dogs/`), or Kaggle's names "
                    "`train/cat.0.jpg`, `train/dog.0.jpg`.")
        folders = pets.list_folders(dsets.data_dir())
        if folders:
            a, b = st.columns([3, 1], vertical_alignment="bottom")
            a.selectbox("Folder", folders, key="trainer_cd_folder")
            b.button("Use it", key="trainer_cd_use_folder", on_click=_use_folder, width="stretch")
        st.file_uploader("…or upload a zip of pictures" if folders else "Upload a zip of pictures", type=["zip"], key="trainer_cd_zip", on_change=_import_zip,
                         help=f"At most {pets.MAX_ZIP_FILES:,} pictures; only images inside; checked before use.")
        msg = st.session_state.pop("trainer_cd_zip_msg", None)
        if msg is not None:
            (st.error if msg[0] == "error" else st.success)(msg[1])


# ----------------------------------------------------------------------------- settings


def _set_freeze() -> None:
    st.session_state.trainer_model = "resnet18_frozen" if st.session_state.trainer_cd_freeze else "resnet18_transfer"


def _set_model(name: str) -> None:
    st.session_state.trainer_model = name


def settings_panel(url: ShareableState, ds, kwargs: dict | None) -> dict | None:
    """Augmentation toggles with a live preview, the transfer-learning switches and the race; -> kwargs."""
    if kwargs is None or not _is_pets(ds):
        return kwargs
    for op in augment.OPERATIONS:
        url.bind(f"trainer_cd_{op}", op in ("flip", "crop"))
    with st.container(border=True):
        st.markdown("**Cats vs dogs: augmentation and transfer learning**")
        left, right = st.columns([3, 2], gap="large")
        with left:
            cols = st.columns(4)
            for col, op in zip(cols, augment.OPERATIONS):
                col.toggle(LABELS[op], key=f"trainer_cd_{op}", help=HELP[op])
            ops = tuple(op for op in augment.OPERATIONS if st.session_state[f"trainer_cd_{op}"])
            a, b = st.columns([3, 1], vertical_alignment="bottom")
            pick = a.slider("Preview picture", 0, min(len(ds.train_y), 64) - 1, 0, key="trainer_cd_preview")
            if b.button("New draws", key="trainer_cd_redraw", icon=":material/casino:", width="stretch"):
                st.session_state.trainer_cd_seed = st.session_state.get("trainer_cd_seed", 0) + 1
            versions = augment.preview(ds.train_x[pick], augment.config_from_names(ops), n=8,
                                       seed=st.session_state.get("trainer_cd_seed", 0))
            st.plotly_chart(fcd.augment_preview_figure(versions, cols=4), key="trainer_cd_preview_fig")
            st.caption(f"Augmentation: **{augment.config_from_names(ops).describe()}**. Every epoch sees new random "
                       "versions, so the network cannot memorise pixels; compare runs with and without it and "
                       "watch the gap between training and validation accuracy.")
        with right:
            _transfer_controls(kwargs["model"])
            if st.button("Race: from scratch vs transfer learning", key="trainer_cd_race_go", icon=":material/flag:",
                         disabled=race.race_active(), width="stretch",
                         help="Trains the tutorial CNN from scratch and ResNet-18 from ImageNet weights on the "
                              "same pictures with the same settings, side by side."):
                run_safely(lambda: race.start_race(kwargs, ds), what="start the race")
        if st.session_state.get("trainer_cd_race"):
            st.fragment(race.race_panel, run_every=1.0 if race.race_active() else None)()
    return {**kwargs, "augmentations": ops, "augment": bool(ops) or bool(kwargs.get("augment"))}


def _transfer_controls(model: str) -> None:
    from models.catsdogs import resnet18_weights_cached

    st.markdown("Transfer learning starts from **ResNet-18** trained on 1.2 million ImageNet photos and "
                "replaces its last layer with two outputs: cat and dog.")
    if model not in RESNETS:
        st.button("Use ResNet-18 transfer", key="trainer_cd_use_resnet", on_click=_set_model,
                  args=("resnet18_frozen",), icon=":material/swap_horiz:")
        return
    st.session_state.trainer_cd_freeze = model == "resnet18_frozen"
    st.toggle("Freeze the backbone", key="trainer_cd_freeze", on_change=_set_freeze,
              help="Frozen: only the new head's 1,026 parameters learn, fast even on a CPU. "
                   "Unfrozen: all 11 million parameters fine-tune.")
    if resnet18_weights_cached():
        st.caption(":green-badge[ImageNet weights ready] in torch's cache.")
        return
    st.warning("ResNet-18 needs its ImageNet weights (45 MB), downloaded once into torch's cache.",
               icon=":material/cloud_download:")
    if st.button("Download the weights", key="trainer_cd_fetch", icon=":material/download:"):
        _fetch_weights()


def _fetch_weights() -> bool:
    from models.catsdogs import WeightsUnavailable, fetch_resnet18_weights

    bar = st.progress(0.0, text="Connecting…")
    try:
        fetch_resnet18_weights(lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m))
    except WeightsUnavailable as exc:
        bar.empty()
        st.error(f"**Transfer learning is unavailable here.** {exc}", icon=":material/cloud_off:")
        return False
    bar.empty()
    return True


# ----------------------------------------------------------------------------- result tabs


def tab_names(ds) -> list[str]:
    """Extra result tabs for cats vs dogs."""
    return ["Grad-CAM"] if _is_pets(ds) else []


def render_tabs(tabs: dict, rec, ds) -> None:
    """Fill the extra tabs (if any) for a finished run."""
    if "Grad-CAM" in tabs and _is_pets(ds):
        with tabs["Grad-CAM"]:
            cam.gradcam_tab(rec, ds)
