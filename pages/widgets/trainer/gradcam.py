"""Trainer page, cats vs dogs: the Grad-CAM tab ("what is the network looking at?").

Heat over the test pictures the network was surest (or least sure) about, four per class, and over
the learner's own photo or camera shot, decoded and cropped exactly like the training pictures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from explainers import snippets
from explainers.figures import catsdogs as fcd
from explainers.figures import training as ft
from explainers.images import ImageError, load_image
from explainers.training import actions
from explainers.training.data import catsdogs as cd_data
from pages.widgets.trainer.state import Keys, RunRecord, TrainerState
from pages.widgets.ui import pytorch_snippet

if TYPE_CHECKING:
    from explainers.training.data import ImageDataset

KINDS = {"confident_right": "Confident right", "confident_wrong": "Confident wrong",
         "uncertain": "Unsure (near 50/50)"}


def gradcam_tab(state: TrainerState, rec: RunRecord, ds: ImageDataset) -> None:
    """What is the model looking at? Grad-CAM over test pictures and over your own photo."""
    st.markdown("**What is the network looking at?** Grad-CAM asks how much each feature map of a conv layer "
                "pushes the winning class up, and paints that back onto the picture: hot = evidence.")
    st.latex(r"\alpha_k^c = \frac{1}{hw}\sum_{i,j}\frac{\partial y^c}{\partial A^k_{ij}} \qquad "
             r"L^c_{\text{Grad-CAM}} = \operatorname{ReLU}\Big(\sum_k \alpha_k^c A^k\Big)")
    try:
        options = actions.cam_layers(rec.model)
    except ValueError:  # an MLP has no feature maps to weigh
        st.info("Grad-CAM weighs a conv layer's feature maps; this model has no conv layer. Train the "
                "cats-vs-dogs CNN or ResNet-18 to see where the network looks.")
        return
    best = options[0]
    if state.get(Keys.CD_CAM_LAYER) not in options:
        state.put(Keys.CD_CAM_LAYER, best)
    a, b = st.columns(2)
    layer = a.selectbox("Layer", options, key=Keys.CD_CAM_LAYER,
                        format_func=lambda n: f"{n} (default: last conv block)" if n == best else n,
                        help="Late layers give coarse maps of whole objects; early layers show edges.")
    kind = b.segmented_control("Pictures", list(KINDS), format_func=KINDS.get, key="trainer_cd_cam_kind",
                               default="confident_right", required=True) or "confident_right"
    res = rec.result
    picks, missing = [], []
    for c in range(len(ds.classes)):  # four of each class
        in_class = np.flatnonzero(res.labels == c)
        order = ft.rank_examples(res.labels[in_class], res.probabilities[in_class], kind, n=4)
        picks += in_class[order].tolist()
        if len(order) == 0:
            missing.append(f"{ds.classes[c]}s")
    if missing:
        st.caption(f"No test {' or '.join(missing)} are {KINDS[kind].lower()} for this run.")
    if not picks:
        st.info(f"No test pictures are {KINDS[kind].lower()}.")
    else:
        cam = actions.grad_cam_test(rec.model, ds, picks, layer)
        st.plotly_chart(fcd.gradcam_gallery_figure(actions.images(ds, picks), cam.heatmaps, actions.labels(ds, picks),
                                                   cam.probabilities, ds.classes, cam.target_classes,
                                                   title=f"{KINDS[kind]}: up to four per class"), key="trainer_cd_cam_fig")
    _photo_cam(rec, ds, layer)
    S = ds.image_size
    pytorch_snippet(lambda: snippets.gradcam_snippet(layer, S), title="PyTorch equivalent: Grad-CAM")


def _photo_cam(rec: RunRecord, ds: ImageDataset, layer: str) -> None:
    """Grad-CAM over the learner's own photo (upload or camera), cropped like the training pictures."""
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
    square = cd_data.square_uint8(img, ds.image_size)  # (S, S, 3) uint8, as the training pictures
    cam = actions.grad_cam_picture(rec.model, ds, square, layer)
    p = cam.probabilities[0]
    top = int(p.argmax())
    st.plotly_chart(fcd.photo_gradcam_figure(square, cam.heatmaps[0], f"{ds.classes[top]} {100 * p[top]:.0f}%: heat"),
                    key="trainer_cd_cam_photo")
    if ds.synthetic:
        st.info(f"**Domain gap:** this network only ever saw cartoon pets drawn by code, so \"{ds.classes[top]} "
                f"{100 * p[top]:.0f}%\" on a real photo says little: it looks for drawn ears and whiskers, and "
                "any photo is far from everything it was trained on. Train on real photos (Oxford pets, CIFAR or "
                "your own folder) to read real pictures.", icon=":material/compare:")
