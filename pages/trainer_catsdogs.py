"""Trainer page, cats vs dogs (issue 7): picture source and size, augmentation preview, transfer learning,
the scratch-vs-transfer race and Grad-CAM. pages/trainer.py calls these in a few lines:

    cd.prepare()                                  # before the dataset box: deep links to folders and sizes
    cd.data_panel()                               # after it: picture size, your own folder or zip
    kwargs = cd.settings_panel(url, ds, kwargs)   # after the settings: augmentations, freeze, race
    names = [...] + cd.tab_names(ds)              # and, with a finished run, cd.render_tabs(tabs, rec, ds)

Everything shows only for cats-vs-dogs datasets; for digits these calls do nothing.
"""

from __future__ import annotations

import streamlit as st

from explainers import augment, pets
from explainers import datasets as dsets
from explainers import figures_catsdogs as fcd
from explainers import figures_training as ft
from pages import trainer_run as rn
from pages.ui import ShareableState, run_safely

RESNETS = ("resnet18_transfer", "resnet18_frozen")
LABELS = {"flip": "Flip", "crop": "Crop", "rotate": "Rotate", "jitter": "Colours"}
HELP = {"flip": "Mirror left-right at random.", "crop": "Zoom into a random 60-100% of the picture.",
        "rotate": "Turn by up to ±15 degrees.", "jitter": "Change brightness, contrast and saturation by up to 30%."}
CAM_KINDS = {"confident_right": "Confident right", "confident_wrong": "Confident wrong",
             "uncertain": "Unsure (near 50/50)"}


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


def _use_folder() -> None:
    size = pets.parse_key(st.session_state.trainer_dataset)[1] if pets.is_catsdogs(
        st.session_state.get("trainer_dataset", "")) else 64
    st.session_state.trainer_dataset = pets.dataset_key("folder", max(size, 64), st.session_state.trainer_cd_folder)


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
    _use_key(pets.dataset_key("folder", 64, imp.relative))


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
                         disabled=_race_active(), width="stretch",
                         help="Trains the tutorial CNN from scratch and ResNet-18 from ImageNet weights on the "
                              "same pictures with the same settings, side by side."):
                run_safely(lambda: _start_race(kwargs, ds), what="start the race")
        if st.session_state.get("trainer_cd_race"):
            st.fragment(_race_panel, run_every=1.0 if _race_active() else None)()
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


# ----------------------------------------------------------------------------- race


def _race_active() -> bool:
    return any(rn.is_active(r) for r in st.session_state.get("trainer_cd_race") or [])


def _start_race(kwargs: dict, ds) -> None:
    """Two runs on the same data and settings: the tutorial CNN from scratch, ResNet-18 from ImageNet."""
    from explainers.training import TrainConfig, TrainRun
    from models.catsdogs import fetch_resnet18_weights

    fetch_resnet18_weights()  # WeightsUnavailable is a ValueError: run_safely explains it
    transfer = kwargs["model"] if kwargs["model"] in RESNETS else "resnet18_frozen"
    token = st.session_state.setdefault("trainer_token", rn.SessionToken())
    runs = []
    for model in ("catsdogs_cnn", transfer):
        config = TrainConfig(**{**kwargs, "model": model, "dropout": 0.5 if model == "catsdogs_cnn" else 0.0})
        runs.append(TrainRun(config, ds, owner=token))
    st.session_state.trainer_cd_race = [r.start() for r in runs]
    st.session_state.trainer_cd_race_archived = False


def _race_panel() -> None:
    runs = st.session_state.get("trainer_cd_race") or []
    snaps = [r.snapshot() for r in runs]
    if all(s.done for s in snaps) and not st.session_state.get("trainer_cd_race_archived"):
        st.session_state.trainer_cd_race_archived = True
        for r in runs:
            rn.archive(r)
        st.rerun()  # the whole page: both runs appear under "Inside the trained network"
    st.markdown("**Race: from scratch vs transfer learning**")
    cols = st.columns(len(runs))
    for col, run, snap in zip(cols, runs, snaps):
        name = "From scratch (tutorial CNN)" if run.config.model == "catsdogs_cnn" else "Transfer (ResNet-18)"
        last = snap.epochs[-1] if snap.epochs else {}
        acc = f" · validation accuracy {last['val_acc']:.0%}" if last.get("val_acc") is not None else ""
        col.progress(snap.progress, text=f"{name}: {snap.status}, epoch {max(snap.epoch, 1)}/{snap.total_epochs}{acc}")
        if snap.status == "failed":
            col.error(snap.message, icon=":material/error:")
    series = [("from scratch" if r.config.model == "catsdogs_cnn" else "transfer", s.epochs) for r, s in zip(runs, snaps)]
    a, b = st.columns(2)
    a.plotly_chart(ft.compare_runs_figure(series, "val_acc"), key="trainer_cd_race_acc")
    b.plotly_chart(ft.compare_runs_figure(series, "train_loss"), key="trainer_cd_race_loss")
    if _race_active():
        st.button("Stop the race", key="trainer_cd_race_stop", icon=":material/stop:",
                  on_click=lambda: [r.stop() for r in runs])


# ----------------------------------------------------------------------------- Grad-CAM


def tab_names(ds) -> list[str]:
    """Extra result tabs for cats vs dogs."""
    return ["Grad-CAM"] if _is_pets(ds) else []


def render_tabs(tabs: dict, rec, ds) -> None:
    """Fill the extra tabs (if any) for a finished run."""
    if "Grad-CAM" in tabs and _is_pets(ds):
        with tabs["Grad-CAM"]:
            gradcam_tab(rec, ds)


def _cam(rec, ds, x_uint8):
    """(N, C, H, W) uint8 -> GradCamResult for the chosen layer."""
    from explainers.gradcam import grad_cam

    device = next(rec.model.parameters()).device
    return grad_cam(rec.model, ds.normalize(x_uint8.to(device)), st.session_state.get("trainer_cd_cam_layer"))


def gradcam_tab(rec, ds) -> None:
    """What is the model looking at? Grad-CAM over test pictures and over your own photo."""
    import numpy as np

    from explainers.gradcam import conv_layers, default_layer

    st.markdown("**What is the network looking at?** Grad-CAM asks how much each feature map of a conv layer "
                "pushes the winning class up, and paints that back onto the picture: hot = evidence.")
    st.latex(r"\alpha_k^c = \frac{1}{hw}\sum_{i,j}\frac{\partial y^c}{\partial A^k_{ij}} \qquad "
             r"L^c_{\text{Grad-CAM}} = \operatorname{ReLU}\Big(\sum_k \alpha_k^c A^k\Big)")
    layers = conv_layers(rec.model)
    best = default_layer(rec.model)
    options = [best] + [n for n in reversed(layers) if n != best]
    if st.session_state.get("trainer_cd_cam_layer") not in options:
        st.session_state.trainer_cd_cam_layer = best
    a, b = st.columns(2)
    a.selectbox("Layer", options, key="trainer_cd_cam_layer",
                format_func=lambda n: f"{n} (default: last conv block)" if n == best else n,
                help="Late layers give coarse maps of whole objects; early layers show edges.")
    kind = b.segmented_control("Pictures", list(CAM_KINDS), format_func=CAM_KINDS.get, key="trainer_cd_cam_kind",
                               default="confident_right", required=True) or "confident_right"
    res = rec.result
    picks = []
    for c in range(len(ds.classes)):  # four of each class
        in_class = np.flatnonzero(res.labels == c)
        order = ft.rank_examples(res.labels[in_class], res.probabilities[in_class], kind, n=4)
        picks += in_class[order].tolist()
    if not picks:
        st.info(f"No test pictures are {CAM_KINDS[kind].lower()}.")
    else:
        import torch

        idx = torch.tensor(picks)
        cam = _cam(rec, ds, ds.test_x[idx])
        st.plotly_chart(fcd.gradcam_gallery_figure(ds.test_x[idx].numpy(), cam.heatmaps, ds.test_y[idx].numpy(),
                                                   cam.probabilities, ds.classes, cam.target_classes,
                                                   title=f"{CAM_KINDS[kind]}: four per class"), key="trainer_cd_cam_fig")
    _photo_cam(rec, ds)


def _photo_cam(rec, ds) -> None:
    import torch

    from explainers.images import ImageError, load_image

    st.markdown("**Your own photo**")
    how = st.segmented_control("Photo from", ["Upload", "Camera"], key="trainer_cd_cam_src", default="Upload",
                               required=True) or "Upload"
    file = (st.file_uploader("A photo of a cat or a dog", key="trainer_cd_cam_upload") if how == "Upload"
            else st.camera_input("Take a photo", key="trainer_cd_cam_camera"))
    if file is None:
        st.caption("Try a photo of your own pet, then one of something that is neither: the network must still pick.")
        return
    try:
        img = load_image(file.getvalue(), max_side=4 * ds.image_size)
    except ImageError as exc:
        st.error(str(exc), icon=":material/broken_image:")
        return
    square = pets.square_uint8(img, ds.image_size)  # (S, S, 3) uint8, as the training pictures
    cam = _cam(rec, ds, torch.from_numpy(square.copy()).permute(2, 0, 1)[None])
    p = cam.probabilities[0]
    top = int(p.argmax())
    st.plotly_chart(fcd.photo_gradcam_figure(square, cam.heatmaps[0], f"{ds.classes[top]} {100 * p[top]:.0f}%: heat"),
                    key="trainer_cd_cam_photo")
