"""load_image on a corpus of good, odd and hostile files built right here; sample_images."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from explainers.images import ImageError, load_image, sample_images, to_grey


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width×height (and whose data is a few bytes)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")


def rgb_gradient(w: int = 40, h: int = 30) -> Image.Image:
    yy, xx = np.mgrid[0:h, 0:w]
    arr = np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), np.full_like(xx, 128)], -1)
    return Image.fromarray(arr.astype(np.uint8), "RGB")


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "GIF", "WEBP"])
def test_lossless_formats_round_trip(fmt):
    im = rgb_gradient()
    if fmt == "GIF":
        im = im.quantize(256).convert("RGB")  # GIF is paletted; compare with what it can hold
    kw = {"lossless": True} if fmt == "WEBP" else {}
    got = load_image(encode(im, fmt, **kw))
    assert got.dtype == np.float32 and got.shape == (30, 40, 3)
    np.testing.assert_allclose(got, np.asarray(im, np.float32) / 255, atol=1 / 255 + 1e-6)


def test_jpeg_and_grey_mode():
    im = rgb_gradient()
    data = encode(im, "JPEG", quality=95)
    rgb = load_image(data)
    grey = load_image(data, mode="L")
    assert rgb.shape == (30, 40, 3) and grey.shape == (30, 40)
    np.testing.assert_allclose(rgb, np.asarray(im, np.float32) / 255, atol=0.05)
    np.testing.assert_allclose(grey, to_grey(rgb), atol=1e-5)


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "empty"),
        (b"hello, I am a text file pretending to be a PNG\n" * 20, "not an image"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "not an image"),
    ],
)
def test_non_images_are_refused_with_a_clear_message(data, message):
    with pytest.raises(ImageError, match=message):
        load_image(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files(fmt):
    data = encode(rgb_gradient(200, 150), fmt)
    with pytest.raises(ImageError, match="could not be decoded"):
        load_image(data[: len(data) // 2])


def test_header_claiming_30000_by_30000_is_refused_before_decoding():
    with pytest.raises(ImageError, match="too large"):
        load_image(png_claiming(30000, 30000))


def test_not_allow_listed_format_is_refused():
    data = encode(rgb_gradient(), "PPM")
    with pytest.raises(ImageError, match="not an image we can read"):
        load_image(data)


def test_sixteen_bit_png_is_rescaled():
    arr16 = (np.arange(64 * 32).reshape(32, 64) * 31).astype(np.uint16)
    data = encode(Image.fromarray(arr16), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    got = load_image(data, mode="L")
    np.testing.assert_allclose(got, arr16 / 65535.0, atol=1e-6)
    assert load_image(data).shape == (32, 64, 3)


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (16, 12), (0, 255, 255, 0))  # pure red in CMYK
    got = load_image(encode(cmyk, "JPEG", quality=95))
    assert got.shape == (12, 16, 3)
    np.testing.assert_allclose(got.mean(axis=(0, 1)), [1.0, 0.0, 0.0], atol=0.06)


def test_palette_png_with_transparency_is_composited_on_white():
    im = Image.new("P", (10, 10), 0)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * (256 * 3 - 6))
    im.paste(1, (0, 0, 5, 10))  # left half red, right half index 0
    im.info["transparency"] = 0
    got = load_image(encode(im, "PNG", transparency=0))
    np.testing.assert_allclose(got[:, :5], np.broadcast_to([1.0, 0.0, 0.0], (10, 5, 3)), atol=1e-6)
    np.testing.assert_allclose(got[:, 5:], 1.0, atol=1e-6)


def test_rgba_alpha_is_composited_on_white():
    arr = np.zeros((4, 4, 4), np.uint8)
    arr[..., 3] = 0  # fully transparent black
    arr[0, 0] = (0, 0, 255, 255)
    got = load_image(encode(Image.fromarray(arr, "RGBA"), "PNG"))
    np.testing.assert_allclose(got[0, 0], [0, 0, 1])
    np.testing.assert_allclose(got[1:, 1:], 1.0)


def _stroke_on_clear(ink: tuple[int, int, int], hidden: tuple[int, int, int]) -> bytes:
    """A vertical stroke of colour `ink` on a transparent sheet whose hidden colour is `hidden`."""
    arr = np.zeros((40, 30, 4), np.uint8)
    arr[..., :3] = hidden
    arr[5:35, 12:18] = (*ink, 255)
    return encode(Image.fromarray(arr, "RGBA"), "PNG")


@pytest.mark.parametrize("hidden", [(0, 0, 0), (255, 255, 255)])
def test_contrast_background_keeps_white_ink_on_a_clear_sheet(hidden):
    data = _stroke_on_clear((255, 255, 255), hidden)
    on_white = load_image(data, mode="L")
    assert on_white.min() > 0.99  # the default, as a browser shows it: white on white, nothing to see
    got = load_image(data, mode="L", background="contrast")
    np.testing.assert_allclose(got[5:35, 12:18], 1.0, atol=1e-6)  # the stroke, white on black
    np.testing.assert_allclose(got[:5], 0.0, atol=1e-6)


@pytest.mark.parametrize("hidden", [(0, 0, 0), (255, 255, 255)])
def test_contrast_background_keeps_dark_ink_on_white(hidden):
    data = _stroke_on_clear((0, 0, 0), hidden)
    got = load_image(data, background="contrast")
    np.testing.assert_allclose(got, load_image(data), atol=1e-6)
    np.testing.assert_allclose(got[5:35, 12:18], 0.0, atol=1e-6)
    np.testing.assert_allclose(got[:5], 1.0, atol=1e-6)


def test_unknown_background_is_refused():
    with pytest.raises(ValueError, match="background"):
        load_image(_stroke_on_clear((0, 0, 0), (0, 0, 0)), background="grey")


def test_animated_gif_gives_the_first_frame():
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    got = load_image(buf.getvalue())
    np.testing.assert_allclose(got.mean(axis=(0, 1)), [1.0, 0.0, 0.0], atol=0.02)


def test_exif_orientation_is_applied():
    im = Image.new("RGB", (40, 20), (255, 255, 255))
    im.paste((255, 0, 0), (0, 0, 10, 20))  # red strip on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    got = load_image(encode(im, "JPEG", quality=95, exif=exif.tobytes()))
    assert got.shape == (40, 20, 3)  # portrait after transposing
    # The left strip of the stored picture is the top strip of the displayed one.
    np.testing.assert_allclose(got[:8].mean(axis=(0, 1)), [1.0, 0.0, 0.0], atol=0.05)
    np.testing.assert_allclose(got[12:].mean(axis=(0, 1)), [1.0, 1.0, 1.0], atol=0.05)


def test_one_pixel_image():
    got = load_image(encode(Image.new("RGB", (1, 1), (0, 128, 255)), "PNG"))
    np.testing.assert_allclose(got, [[[0, 128 / 255, 1.0]]], atol=1e-6)


def test_huge_but_legal_image_is_downsized():
    im = Image.new("RGB", (4000, 3000), (10, 200, 30))
    got = load_image(encode(im, "JPEG", quality=80), max_side=512)
    assert got.shape == (384, 512, 3)
    assert 0.0 <= got.min() and got.max() <= 1.0
    np.testing.assert_allclose(got.mean(axis=(0, 1)), [10 / 255, 200 / 255, 30 / 255], atol=0.03)


def test_downsizing_keeps_aspect_and_range():
    got = load_image(encode(rgb_gradient(300, 100), "PNG"), max_side=60, mode="L")
    assert got.shape == (20, 60)
    assert got.dtype == np.float32 and 0.0 <= got.min() and got.max() <= 1.0


@settings(max_examples=250, deadline=None)
@given(st.data())
def test_corrupted_files_give_an_array_or_image_error(data):
    base = encode(rgb_gradient(24, 16), data.draw(st.sampled_from(["PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF"])))
    raw = bytearray(base)
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(raw)))
    try:
        got = load_image(bytes(raw[:cut]))
    except ImageError as exc:
        assert str(exc)
    else:
        assert got.ndim == 3 and got.shape[2] == 3 and got.dtype == np.float32
        assert np.isfinite(got).all() and got.min() >= 0.0 and got.max() <= 1.0


def test_sample_images():
    samples = sample_images()
    assert len(samples) >= 6
    for name, arr in samples.items():
        assert arr.shape == (256, 256, 3) and arr.dtype == np.float32, name
        assert 0.0 <= arr.min() and arr.max() <= 1.0
        assert arr.std() > 0.05, f"{name} is nearly flat"
    first = next(iter(samples))
    samples[first][:] = 0  # copies: changing one does not change the next call's
    assert sample_images()[first].max() > 0
