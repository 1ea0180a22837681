"""Trainer page, cats vs dogs (issue 7): picture source and size, augmentation preview, transfer learning,
the scratch-vs-transfer race and Grad-CAM. pages/trainer.py uses them like this:

    cd.data_panel(state, spec)                        # picture size, your own folder or zip (any DatasetSpec)
    config = cd.refine(url, state, ds, config)        # augmentations, freeze, race -> a refined TrainConfig
    names = [...] + cd.tab_names(ds)                  # and, with a finished run, cd.render_tabs(tabs, state, rec, ds)

Each takes what it needs as arguments; for digits datasets they show nothing (or the "Try" button) and
return their input. The race is in race.py and the Grad-CAM tab in gradcam.py, beside this file.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import streamlit as st

from explainers.figures import catsdogs as fcd
from explainers.training import TrainConfig, actions, augment
from explainers.training import data as dsets
from explainers.training.data import catsdogs as cd_data
from pages.widgets import sessions
from pages.widgets.trainer import gradcam as cam
from pages.widgets.trainer import race as race
from pages.widgets.trainer import run as rn
from pages.widgets.trainer.state import Keys, Notice, RunRecord, TrainerState
from pages.widgets.ui import ShareableState, run_safely, visitor_text

if TYPE_CHECKING:
    from explainers.training.data import ImageDataset

LABELS = {"flip": "Flip", "crop": "Crop", "rotate": "Rotate", "jitter": "Colours"}
HELP = {"flip": "Mirror left-right at random.", "crop": "Zoom into a random 60-100% of the picture.",
        "rotate": "Turn by up to ±15 degrees.", "jitter": "Change brightness, contrast and saturation by up to 30%."}


def is_pets(ds: ImageDataset | None) -> bool:
    return ds is not None and tuple(ds.classes) == cd_data.CLASSES


# ----------------------------------------------------------------------------- data


def _switch_size(state: TrainerState, spec: dsets.DatasetSpec) -> None:
    """Size callback: the same pictures at the newly chosen size."""
    state.put(Keys.DATASET, spec.with_size(int(state.get(Keys.CD_SIZE))).key)


def _size_of(spec: dsets.DatasetSpec) -> int:
    """The picture size of a cats-vs-dogs source (64 for CIFAR's 32 px or a digits set)."""
    return spec.size if spec.is_catsdogs and spec.size in dsets.SIZES else 64


def _use_folder(state: TrainerState, spec: dsets.DatasetSpec) -> None:
    """"Use it" callback: the chosen folder, at the current picture size."""
    state.put(Keys.DATASET, dsets.folder_spec(state.get(Keys.CD_FOLDER), _size_of(spec)).key)


def _import_zip(state: TrainerState, spec: dsets.DatasetSpec) -> None:
    """Uploader callback: check and unpack the zip into this session's uploads, then use it (or say why not)."""
    up = state.get(Keys.CD_ZIP)
    if up is None:
        return
    sid = sessions.session_id()
    if sid is None:
        state.zip_notice = Notice("error", f"**{up.name}** was not used: uploads need a browser session.")
        return
    try:
        imp = cd_data.import_zip(up.getvalue(), dsets.data_dir(), session=sid)
    except cd_data.ZipRefused as exc:  # also QuotaExceeded and every filesystem error, as one line
        state.zip_notice = Notice("error", f"**{up.name}** was not used: {visitor_text(exc)}")
        return
    except OSError as exc:  # the data folder itself is unusable; say so without its path
        state.zip_notice = Notice("error", f"**{up.name}** could not be saved ({exc.strerror or 'disk error'}).")
        return
    sessions.watch_uploads(sid)  # removed once this tab has gone for good
    counts = imp.files.counts()
    note = f" ({imp.ignored} system files ignored)" if imp.ignored else ""
    state.zip_notice = Notice(
        "success", f"**{up.name}**: {counts['cat']} cats and {counts['dog']} dogs ({imp.files.layout}){note}.")
    state.put(Keys.DATASET, dsets.folder_spec(imp.relative, _size_of(spec)).key)


def _folder_label(folder: str, uploads: list[str]) -> str:
    """Operator folders by name; this session's uploads as "Your upload N" (their paths mean nothing to a visitor)."""
    return f"Your upload {len(uploads) - uploads.index(folder)}" if folder in uploads else folder


def data_panel(state: TrainerState, spec: dsets.DatasetSpec) -> None:
    """Below the dataset box (``spec`` is its choice), for cats vs dogs: picture size and your own pictures."""
    if not spec.is_catsdogs:
        st.button("Try cats vs dogs", key="trainer_cd_try", icon=":material/pets:", on_click=state.put,
                  args=(Keys.DATASET, "synthetic-pets"),
                  help="Colour photos, two classes, transfer learning and Grad-CAM.")
        return
    source, size = spec.source, spec.size
    if source == "synthetic-pets":
        st.caption(":orange-badge[synthetic] Cartoon cats (pointed ears, whiskers) and dogs (floppy ears, snout) "
                   "drawn by code: good for learning offline; real photos are much harder.")
    left, right = st.columns([1, 2])
    if source == "cifar-catsdog":
        left.caption("CIFAR-10 pictures are 32×32 pixels: tiny, so training is quick.")
    else:
        state.put(Keys.CD_SIZE, size)
        # Bare numbers: at 1024 px "64 px  96 px  128 px" ran past this third of the row and "128" was cut.
        left.segmented_control("Picture size (pixels)", dsets.SIZES, key=Keys.CD_SIZE, required=True,
                               format_func=str, on_change=_switch_size, args=(state, spec),
                               help="Pictures are decoded once to this size and kept in memory; bigger "
                                    "pictures show more detail but train more slowly.")
    with right.expander("Use your own cat and dog photos", icon=":material/photo_library:"):
        st.markdown("A folder the teacher put in the server's data folder, or a zip of your own, in either "
                    "layout: class folders `cat/` and `dog/` (or `cats/`, `dogs/`), or Kaggle's names "
                    "`train/cat.0.jpg`, `train/dog.0.jpg`. Your uploads are private to this tab and removed "
                    "when you close it.")
        sessions.start_server_housekeeping()
        mine = dsets.list_session_uploads(dsets.data_dir(), sessions.session_id())
        folders = cd_data.list_folders(dsets.data_dir()) + mine
        if folders:
            a, b = st.columns([3, 1], vertical_alignment="bottom")
            a.selectbox("Folder", folders, key=Keys.CD_FOLDER, format_func=lambda f: _folder_label(f, mine))
            b.button("Use it", key="trainer_cd_use_folder", on_click=_use_folder, args=(state, spec), width="stretch")
        st.file_uploader("…or upload a zip of pictures" if folders else "Upload a zip of pictures", type=["zip"],
                         key=Keys.CD_ZIP, on_change=_import_zip, args=(state, spec),
                         help=f"At most {cd_data.MAX_ZIP_FILES:,} pictures; only images inside; checked before use. "
                              f"Your uploads may use {dsets.session_quota() // 2**20} MB in all.")
        notice, state.zip_notice = state.zip_notice, None  # shown once
        if notice is not None:
            (st.error if notice.kind == "error" else st.success)(notice.text)


# ----------------------------------------------------------------------------- settings


def _set_freeze(state: TrainerState) -> None:
    """Freeze toggle callback: the frozen or the fine-tuned ResNet-18."""
    state.put(Keys.MODEL, "resnet18_frozen" if state.get(Keys.CD_FREEZE) else "resnet18_transfer")


def refine(url: ShareableState, state: TrainerState, ds: ImageDataset | None, config: TrainConfig | None
           ) -> TrainConfig | None:
    """For cats vs dogs: augmentation toggles with a live preview, the transfer-learning switches and the race
    -> ``config`` with the chosen augmentations (unchanged for other datasets)."""
    if config is None or ds is None or not is_pets(ds):
        return config
    for op in augment.OPERATIONS:
        url.bind(Keys.augmentation(op), op in ("flip", "crop"))
    with st.container(border=True):
        st.markdown("**Cats vs dogs: augmentation and transfer learning**")
        # Sized for a projector at 1024 px: four toggles in one row, a 3:2 split and a button beside the slider
        # cut the toggles' names to nothing, "New draws" to "N." and the transfer column's labels.
        left, right = st.columns([1, 1], gap="medium")
        with left:
            cols = st.columns(2) * 2  # a 2×2 grid
            on = {op: col.toggle(LABELS[op], key=Keys.augmentation(op), help=HELP[op])
                  for col, op in zip(cols, augment.OPERATIONS)}
            ops = tuple(op for op in augment.OPERATIONS if on[op])
            pick = st.slider("Preview picture", 0, min(actions.split_size(ds, "train"), 64) - 1, 0,
                             key="trainer_cd_preview")
            if st.button("New draws", key="trainer_cd_redraw", icon=":material/casino:",
                         help="New random versions of the same picture."):
                state.preview_seed += 1
            versions = actions.augment_preview(ds, pick, ops, n=8, seed=state.preview_seed)
            st.plotly_chart(fcd.augment_preview_figure(versions, cols=4), key="trainer_cd_preview_fig")
            st.caption(f"Augmentation: **{actions.describe_augmentations(ops)}**. Every epoch sees new random "
                       "versions, so the network cannot memorise pixels; compare runs with and without it and "
                       "watch the gap between training and validation accuracy.")
        with right:
            _transfer_controls(state, config.model)
            if st.button("Race: scratch vs transfer", key="trainer_cd_race_go", icon=":material/flag:",
                         disabled=state.race_active, width="stretch",
                         help="Trains the tutorial CNN from scratch and ResNet-18 from ImageNet weights on the "
                              "same pictures with the same settings, side by side."):
                run_safely(lambda: race.start_race(state, config, ds), what="start the race")
        if state.race:
            every = rn.poll_every([r.snapshot() for r in state.race])
            st.fragment(race.race_panel, run_every=every)(state)
    return replace(config, augmentations=ops, augment=bool(ops) or config.augment)


def _transfer_controls(state: TrainerState, model: str) -> None:
    st.markdown("Transfer learning starts from **ResNet-18** trained on 1.2 million ImageNet photos and "
                "replaces its last layer with two outputs: cat and dog.")
    if model not in actions.RESNETS:
        st.button("Use ResNet-18 transfer", key="trainer_cd_use_resnet", on_click=state.put,
                  args=(Keys.MODEL, "resnet18_frozen"), icon=":material/swap_horiz:")
        return
    state.put(Keys.CD_FREEZE, model == "resnet18_frozen")
    st.toggle("Freeze the backbone", key=Keys.CD_FREEZE, on_change=_set_freeze, args=(state,),
              help="Frozen: only the new head's 1,026 parameters learn, fast even on a CPU. "
                   "Unfrozen: all 11 million parameters fine-tune.")
    if actions.resnet_weights_ready():
        st.caption(":green-badge[ImageNet weights ready] in torch's cache.")
        return
    st.warning("ResNet-18 needs its ImageNet weights (45 MB), downloaded once into torch's cache.",
               icon=":material/cloud_download:")
    if st.button("Download the weights", key="trainer_cd_fetch", icon=":material/download:"):
        _fetch_weights()


def _fetch_weights() -> bool:
    """Download ResNet-18's ImageNet weights with a progress bar -> whether they are there now."""
    bar = st.progress(0.0, text="Connecting…")
    try:
        actions.fetch_resnet_weights(lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m))
    except ValueError as exc:  # WeightsUnavailable: offline, or the download failed
        bar.empty()
        st.error(f"**Transfer learning is unavailable here.** {visitor_text(exc)}", icon=":material/cloud_off:")
        return False
    bar.empty()
    return True


# ----------------------------------------------------------------------------- result tabs


def tab_names(ds: ImageDataset) -> list[str]:
    """Extra result tabs for cats vs dogs."""
    return ["Grad-CAM"] if is_pets(ds) else []


def render_tabs(tabs: dict, state: TrainerState, rec: RunRecord, ds: ImageDataset) -> None:
    """Fill the extra tabs (if any) for a finished run."""
    if "Grad-CAM" in tabs and is_pets(ds):
        with tabs["Grad-CAM"]:
            cam.gradcam_tab(state, rec, ds)
