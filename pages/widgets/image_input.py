"""Image source widget shared by the Convolution and Pooling pages: a sample, an upload or the camera -> numpy.

Usage on a page (after ``url = ShareableState("conv")``)::

    picked = image_input("conv", url)          # ImageChoice, never None
    x = picked.image                           # (H, W, 3) float32 in [0, 1]

The source and the sample name are bound to the URL (``<prefix>_source``, ``<prefix>_sample``);
uploads and camera shots are not (they stay on the learner's machine). Bad files give a
friendly ``st.error`` and the page carries on with the chosen sample, so nothing breaks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from explainers.images import ImageError, load_image, sample_images
from pages.widgets.ui import ShareableState

SOURCES = ("Sample", "Upload", "Camera")


@dataclass(frozen=True)
class ImageChoice:
    image: np.ndarray  # (H, W, 3) float32 in [0, 1] ((H, W) for mode "L")
    label: str  # what the learner is looking at, for captions
    source: str  # "Sample", "Upload" or "Camera" (the one actually shown)
    key: str = ""  # identifies the picture for caches ("sample:NAME" or "upload:FILE_ID")
    file_name: str = ""  # the uploaded file's name, for the PyTorch snippet ("" for samples)


@st.cache_data(max_entries=8, show_spinner=False)
def _decode(data: bytes, max_side: int, mode: str) -> np.ndarray:
    return load_image(data, max_side=max_side, mode=mode)


@st.cache_data(max_entries=1, show_spinner=False)
def _samples() -> dict[str, np.ndarray]:
    return sample_images()


def _as_mode(image: np.ndarray, mode: str) -> np.ndarray:
    if mode == "L" and image.ndim == 3:
        from explainers.images import to_grey

        return to_grey(image)
    return image


def image_input(prefix: str, url: ShareableState, *, mode: str = "RGB", max_side: int = 512) -> ImageChoice:
    """Sample / upload / camera picker -> ImageChoice (falls back to the sample on bad input)."""
    samples = _samples()
    names = list(samples)
    src_key = url.bind(f"{prefix}_source", "Sample", options=SOURCES)
    sample_key = url.bind(f"{prefix}_sample", names[0], options=names)
    source = st.segmented_control(
        "Image", SOURCES, key=src_key, required=True,
        help="A built-in picture, your own file, or a photo from your camera. Your pictures stay on this computer.",
    ) or "Sample"
    sample_name = st.selectbox(
        "Sample picture" if source == "Sample" else "Sample picture (used until yours arrives)",
        names, key=sample_key,
    )
    fallback = ImageChoice(_as_mode(samples[sample_name], mode), f"sample “{sample_name}”", "Sample",
                           f"sample:{sample_name}:{mode}")
    if source == "Sample":
        return fallback
    if source == "Upload":
        file = st.file_uploader(
            "Upload a picture (PNG, JPEG, GIF, WEBP, BMP or TIFF)", key=f"{prefix}_upload",
            help=f"Large pictures are shrunk so the longer side is {max_side} pixels.",
        )
    else:
        file = st.camera_input("Take a photo", key=f"{prefix}_camera")
    if file is None:
        st.caption(f"Showing the sample until you {'upload a picture' if source == 'Upload' else 'take a photo'}.")
        return fallback
    try:
        image = _decode(file.getvalue(), max_side, mode)
    except ImageError as exc:
        st.error(f"{exc} Showing the sample “{sample_name}” instead.", icon=":material/broken_image:")
        return fallback
    name = getattr(file, "name", "") or "photo"
    # Sizes read height × width everywhere, as in PyTorch's (C, H, W) shapes.
    size = f"{image.shape[0]}×{image.shape[1]}"
    label = f"your photo ({size})" if source == "Camera" else f"“{name}” ({size})"
    key = f"{source}:{getattr(file, 'file_id', '') or hash(file.getvalue())}:{mode}:{max_side}"
    return ImageChoice(image, label, source, key, name if source == "Upload" else "photo.jpg")
