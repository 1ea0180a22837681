"""Safe image loading for uploads and camera shots, plus sample images drawn in code.

Shared by the Convolution and Pooling pages. Public API (kept stable):

- ``load_image(data, *, max_side=512, mode="RGB") -> np.ndarray``: float32 in [0, 1],
  (H, W, 3) for "RGB" or (H, W) for "L". Anything that is not a usable image raises
  ``ImageError`` (a ValueError) whose message tells the learner what to do.
- ``sample_images() -> dict[str, np.ndarray]``: built-in (256, 256, 3) float32 pictures.
- ``to_grey(image) -> np.ndarray``: (H, W, 3) -> (H, W) with the ITU-R 601 weights Pillow uses.
"""

from __future__ import annotations

import io
import warnings
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")
MAX_PIXELS = 40_000_000  # about a 40-megapixel photo; above that we refuse before decoding
MAX_BYTES = 25 * 1024 * 1024
_GREY_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class ImageError(ValueError):
    """An upload that cannot be used as an image; the message is meant for the learner."""


def to_grey(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) or (H, W) float -> (H, W) float32 luminance (ITU-R 601, as Pillow's "L")."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 3:
        return image @ _GREY_WEIGHTS
    raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {image.shape}")


def _open(data: bytes) -> Image.Image:
    """Identify the format from the bytes (never the file name) and check the size claim."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's chatter about odd tags
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
    except UnidentifiedImageError:
        raise ImageError(
            "This file is not an image we can read. Please upload a PNG, JPEG, GIF, WEBP, BMP "
            "or TIFF picture."
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(_too_big_message()) from None
    except MemoryError:
        raise ImageError(_too_big_message()) from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure on a learner's file is "damaged", never a crash
        raise ImageError(_broken_message(exc)) from None
    w, h = im.size
    if w < 1 or h < 1:
        raise ImageError("This image has no pixels. Please choose another picture.")
    if w * h > MAX_PIXELS:
        raise ImageError(_too_big_message(w, h))
    return im


def _too_big_message(w: int | None = None, h: int | None = None) -> str:
    size = f" ({w}×{h} pixels)" if w and h else ""
    return (
        f"This image is too large{size}. Please use a picture under "
        f"{MAX_PIXELS // 1_000_000} megapixels, for example a phone photo or a screenshot."
    )


def _broken_message(exc: BaseException) -> str:
    text = str(exc).lower()
    if "out of memory" in text:  # Pillow's decoder ran out of memory: the picture is too big, not broken
        return _too_big_message()
    why = "it is cut short" if "truncated" in text else "it is damaged"
    return (
        f"This image could not be decoded ({why}). Please save it again or choose another picture."
    )


# EXIF orientation -> the transpose that shows the picture upright (as ImageOps.exif_transpose).
_ORIENTATIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_FLOAT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation tag (1 = upright); odd or missing tags count as upright."""
    try:
        value = int(im.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - a broken EXIF block must not stop the picture
        return 1
    return value if value in _ORIENTATIONS else 1


def _target_size(w: int, h: int, max_side: int) -> tuple[int, int]:
    """(w, h) shrunk so the longer side is at most max_side, aspect kept; never enlarged."""
    if max(w, h) <= max_side:
        return w, h
    s = max_side / max(w, h)
    return max(1, round(w * s)), max(1, round(h * s))


def _range_message(lo: float, hi: float) -> str:
    return (
        f"This image stores pixel values from {lo:.4g} to {hi:.4g}; a picture needs values from 0 "
        "to 1, 255 or 65535. Please export it as an ordinary 8- or 16-bit image."
    )


def _light_strokes(colour: np.ndarray, alpha: np.ndarray) -> bool:
    """Premultiplied (H, W, 3) colour and (H, W, 1) alpha: are the visible pixels mostly light?"""
    seen = alpha[..., 0] > 0.5
    if not seen.any():
        return False
    return bool(np.median(colour[seen].mean(axis=1) / alpha[seen, 0]) > 0.5)


def _decode_small(im: Image.Image, max_side: int, background: str = "white") -> np.ndarray:
    """An opened image -> (H, W, 3) or (H, W) float32 in [0, 1], upright, longer side <= max_side.

    Large pictures are shrunk in Pillow's integer domain (JPEG draft, then an integer box
    ``reduce``) before any float copy, so a 40-megapixel PNG costs its 8-bit decode (about
    160 MB) and not several float copies of itself (over a gigabyte).
    """
    if getattr(im, "n_frames", 1) > 1:
        im.seek(0)  # first frame of an animation
    orientation = _orientation(im)
    if im.format == "JPEG":
        im.draft("RGB" if im.mode != "L" else "L", (max_side, max_side))  # fast shrink-on-load
    im.load()
    w, h = im.size
    target = _target_size(*((h, w) if orientation in (5, 6, 7, 8) else (w, h)), max_side)
    mode = im.mode
    lo = hi = 0.0
    premultiplied = False
    if mode in _FLOAT_MODES:
        if mode.startswith("I;16"):
            im = im.convert("I")
        lo, hi = (float(v) for v in im.getextrema())
    elif mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        # Premultiplied alpha, so the box average below does not bleed hidden colours.
        im = im.convert("RGBA").convert("RGBa")
        premultiplied = True
    elif mode == "1":
        im = im.convert("L")
    elif mode not in ("L", "RGB"):
        im = im.convert("RGB")  # CMYK, YCbCr, P, LAB, HSV, ...
    factor = max(im.size) // (2 * max_side)  # keep at least twice the target for Lanczos below
    if factor >= 2:
        im = im.reduce(factor)
    if orientation != 1:
        im = im.transpose(_ORIENTATIONS[orientation])
    arr = np.asarray(im, dtype=np.float32)
    if mode in _FLOAT_MODES:
        if not np.isfinite(arr).all() or not (np.isfinite(lo) and np.isfinite(hi)):
            raise ImageError(
                "This image holds pixel values that are not numbers (NaN or infinity), so it "
                "cannot be shown or filtered. Please export it again as an ordinary picture."
            )
        if lo < 0.0 or hi > 65535.0:
            raise ImageError(_range_message(lo, hi))
        if mode.startswith("I;16"):
            scale = 65535.0
        elif mode == "I":
            scale = 65535.0 if hi > 255 else 255.0  # a 32-bit "I" image with small values is 8-bit
        else:
            scale = 1.0 if hi <= 1.0 else (255.0 if hi <= 255.0 else 65535.0)
        arr = arr / scale
    elif premultiplied:
        # Composite on white: C*a + 1*(1 - a), with C*a already stored in the colour planes. "contrast"
        # puts light strokes (white ink on a transparent sheet) on black instead: C*a + 0*(1 - a).
        arr = arr / 255.0
        colour, alpha = arr[..., :3], arr[..., 3:4]
        on_black = background == "contrast" and _light_strokes(colour, alpha)
        arr = colour if on_black else colour + (1.0 - alpha)
    else:
        arr = arr / 255.0
    return _resize(np.clip(arr, 0.0, 1.0).astype(np.float32), target)


def _resize(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W[, C]) float -> (size[1], size[0][, C]) with Lanczos on float data (no-op at that size)."""
    h, w = arr.shape[:2]
    if (w, h) == size:
        return arr
    planes = [arr] if arr.ndim == 2 else [arr[..., c] for c in range(arr.shape[2])]
    out = [
        np.asarray(Image.fromarray(np.ascontiguousarray(p), mode="F").resize(size, Image.Resampling.LANCZOS))
        for p in planes
    ]
    res = out[0] if arr.ndim == 2 else np.stack(out, axis=-1)
    return np.clip(res, 0.0, 1.0).astype(np.float32)


def load_image(data: bytes, *, max_side: int = 512, mode: str = "RGB", background: str = "white") -> np.ndarray:
    """bytes -> (H, W, 3) for mode "RGB" or (H, W) for "L", float32 in [0, 1], max(H, W) <= max_side.

    Transparent pixels are laid on white, as a browser shows them on a page; ``background="contrast"``
    lays light strokes on black instead (a digit drawn in white on a transparent sheet would vanish
    on white), dark ones still on white.

    Every value returned is finite and in [0, 1]; anything else raises ImageError with a
    message for the learner (never a traceback, never an absolute path).
    """
    if mode not in ("RGB", "L"):
        raise ValueError(f"mode must be 'RGB' or 'L', not {mode!r}")
    if background not in ("white", "contrast"):
        raise ValueError(f"background must be 'white' or 'contrast', not {background!r}")
    if max_side < 1:
        raise ValueError("max_side must be at least 1")
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise ImageError("Expected the bytes of an image file.")
    if len(data) == 0:
        raise ImageError("The file is empty. Please choose a picture file.")
    if len(data) > MAX_BYTES:
        raise ImageError(
            f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB. Please use a smaller picture."
        )
    im = _open(data)
    size = im.size
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's chatter about odd tags
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            arr = _decode_small(im, max_side, background)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError):
        raise ImageError(_too_big_message(*size)) from None
    except Exception as exc:  # noqa: BLE001 - Pillow plugins raise many types on odd files
        raise ImageError(_broken_message(exc)) from None
    if not np.isfinite(arr).all():  # belt and braces: the maths downstream assumes finite pixels
        raise ImageError("This image could not be decoded (it is damaged). Please choose another picture.")
    if mode == "L":
        return to_grey(arr) if arr.ndim == 3 else arr
    return arr if arr.ndim == 3 else np.repeat(arr[..., None], 3, axis=2)


# ---------------------------------------------------------------- sample images, drawn in code

_SIZE = 256


def _shapes() -> Image.Image:
    im = Image.new("RGB", (_SIZE, _SIZE), (245, 245, 240))
    d = ImageDraw.Draw(im)
    d.ellipse((20, 24, 118, 122), fill=(220, 50, 47))
    d.rectangle((140, 30, 232, 112), fill=(38, 139, 210))
    d.polygon([(30, 236), (90, 140), (150, 236)], fill=(133, 153, 0))
    d.rounded_rectangle((165, 145, 240, 235), radius=18, fill=(181, 137, 0), outline=(40, 40, 40), width=4)
    return im


def _stripes() -> np.ndarray:
    yy, xx = np.mgrid[0:_SIZE, 0:_SIZE].astype(np.float32)
    out = np.zeros((_SIZE, _SIZE), np.float32)
    half = _SIZE // 2
    for i, angle in enumerate((0, 45, 90, 135)):  # one quadrant per angle
        t = np.deg2rad(angle)
        wave = 0.5 + 0.5 * np.sign(np.sin((xx * np.cos(t) + yy * np.sin(t)) * 2 * np.pi / 16))
        r, c = divmod(i, 2)
        out[r * half:(r + 1) * half, c * half:(c + 1) * half] = wave[r * half:(r + 1) * half, c * half:(c + 1) * half]
    return np.repeat(out[..., None], 3, axis=2)


def _text() -> Image.Image:
    im = Image.new("RGB", (_SIZE, _SIZE), (255, 255, 255))
    d = ImageDraw.Draw(im)
    try:
        big = ImageFont.load_default(size=54)
        small = ImageFont.load_default(size=22)
    except TypeError:  # very old Pillow: bitmap font only
        big = small = ImageFont.load_default()
    d.text((18, 30), "CNN", fill=(0, 0, 0), font=big)
    d.text((18, 110), "edges & blobs", fill=(30, 30, 120), font=small)
    d.text((18, 150), "Hello, kernel!", fill=(120, 20, 20), font=small)
    d.text((18, 190), "0123456789", fill=(0, 0, 0), font=small)
    return im


def _checkerboard() -> np.ndarray:
    yy, xx = np.mgrid[0:_SIZE, 0:_SIZE]
    board = (((yy // 32) + (xx // 32)) % 2).astype(np.float32)
    return np.repeat(board[..., None], 3, axis=2)


def _gradient() -> np.ndarray:
    yy, xx = np.mgrid[0:_SIZE, 0:_SIZE].astype(np.float32) / (_SIZE - 1)
    return np.stack([xx, yy, 1.0 - xx], axis=-1)


def _scene() -> Image.Image:
    im = Image.new("RGB", (_SIZE, _SIZE), (135, 190, 235))  # sky
    d = ImageDraw.Draw(im)
    d.ellipse((186, 20, 236, 70), fill=(255, 210, 60))  # sun
    d.rectangle((0, 180, _SIZE, _SIZE), fill=(70, 150, 60))  # grass
    d.rectangle((50, 110, 150, 190), fill=(200, 120, 80))  # house
    d.polygon([(40, 112), (100, 60), (160, 112)], fill=(150, 40, 40))  # roof
    d.rectangle((88, 145, 112, 190), fill=(90, 60, 40))  # door
    d.rectangle((60, 125, 80, 145), fill=(240, 240, 255))  # window
    d.rectangle((120, 125, 140, 145), fill=(240, 240, 255))
    d.rectangle((190, 120, 202, 190), fill=(110, 70, 40))  # tree trunk
    d.ellipse((170, 80, 222, 135), fill=(40, 110, 40))
    return im


def _as_float(im: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(im, Image.Image):
        return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    return np.clip(np.asarray(im, dtype=np.float32), 0.0, 1.0)


@lru_cache(maxsize=1)
def _samples() -> dict[str, np.ndarray]:
    made = {
        "Scene with edges": _scene(),
        "Shapes": _shapes(),
        "Stripes at four angles": _stripes(),
        "Text": _text(),
        "Checkerboard": _checkerboard(),
        "Colour gradient": _gradient(),
    }
    out = {}
    for name, im in made.items():
        arr = _as_float(im)
        arr.flags.writeable = False
        out[name] = arr
    return out


def sample_images() -> dict[str, np.ndarray]:
    """Built-in pictures: name -> (256, 256, 3) float32 in [0, 1] (fresh writable copies)."""
    return {name: arr.copy() for name, arr in _samples().items()}


def heat_overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """(H, W, 3) uint8 image and (H, W) heat in [0, 1] -> (H, W, 3) uint8 blend with a red-yellow map."""
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    h = np.clip(heatmap, 0.0, 1.0)[..., None]
    # A simple "hot" colour map: black -> red -> yellow -> white.
    colour = np.concatenate([np.clip(3 * h, 0, 1), np.clip(3 * h - 1, 0, 1), np.clip(3 * h - 2, 0, 1)], axis=2)
    blended = (1 - alpha) * image.astype(np.float64) / 255.0 + alpha * colour
    return np.clip(np.round(blended * 255.0), 0, 255).astype(np.uint8)
