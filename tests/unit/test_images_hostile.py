"""Hostile pictures built here: non-finite floats, odd ranges, big-but-legal sizes (issue 16)."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explainers.images import ImageError, load_image

ROOT = Path(__file__).resolve().parents[2]


def tiff(arr: np.ndarray, mode: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, format="TIFF")
    return buf.getvalue()


def png(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG", **kw)
    return buf.getvalue()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("side", [8, 2000])  # 2000: one bad pixel survives the shrink-on-load
def test_float_tiff_with_non_finite_values_gets_a_message(bad, side):
    arr = np.zeros((side, side), np.float32)
    arr[side // 3, side // 2] = bad
    with pytest.raises(ImageError, match="not numbers"):
        load_image(tiff(arr, "F"), max_side=64)


def test_float_tiff_full_of_nan_gets_a_message():
    with pytest.raises(ImageError, match="not numbers") as info:
        load_image(tiff(np.full((16, 16), np.nan, np.float32), "F"))
    assert "/" not in str(info.value)


@pytest.mark.parametrize("lo,hi", [(-1.0, 0.5), (0.0, 1e9), (-3e38, 3e38)])
def test_float_tiff_out_of_range_says_the_range(lo, hi):
    arr = np.linspace(lo, hi, 64, dtype=np.float32).reshape(8, 8)
    with pytest.raises(ImageError, match="pixel values from"):
        load_image(tiff(arr, "F"))


def test_thirty_two_bit_int_tiff_out_of_range():
    arr = np.full((8, 8), 1 << 20, np.int32)
    with pytest.raises(ImageError, match="pixel values from"):
        load_image(tiff(arr, "I"))


@pytest.mark.parametrize("top,scale", [(1.0, 1.0), (200.0, 255.0), (4000.0, 65535.0)])
def test_float_tiff_in_range_is_scaled(top, scale):
    arr = np.linspace(0, top, 48, dtype=np.float32).reshape(6, 8)
    got = load_image(tiff(arr, "F"), mode="L")
    np.testing.assert_allclose(got, arr / scale, atol=1e-6)


def test_big_rgba_is_shrunk_on_load_and_composited_on_white():
    arr = np.zeros((1200, 2400, 4), np.uint8)
    arr[:, :1200] = (255, 0, 0, 255)  # opaque red on the left
    arr[:, 1200:] = (0, 0, 255, 0)  # transparent blue on the right: shows white
    got = load_image(png(Image.fromarray(arr, "RGBA")), max_side=200)
    assert got.shape == (100, 200, 3)
    np.testing.assert_allclose(got[:, :90].mean(axis=(0, 1)), [1, 0, 0], atol=1e-3)
    np.testing.assert_allclose(got[:, 110:].mean(axis=(0, 1)), [1, 1, 1], atol=1e-3)


def test_big_picture_with_exif_rotation_keeps_the_upright_shape():
    im = Image.new("RGB", (3000, 1000), (255, 255, 255))
    im.paste((255, 0, 0), (0, 0, 300, 1000))  # red strip on the left
    exif = Image.Exif()
    exif[0x0112] = 6
    got = load_image(png(im, exif=exif.tobytes()), max_side=300)
    assert got.shape == (300, 100, 3)  # portrait after turning
    np.testing.assert_allclose(got[:20].mean(axis=(0, 1)), [1, 0, 0], atol=0.02)


def test_39_megapixel_png_loads_within_a_few_hundred_megabytes():
    """6000x6500 (under the 40 MP cap): a picture, not "cut short"; peak memory measured in a child."""
    script = textwrap.dedent(
        """
        import io, resource, sys
        from PIL import Image
        sys.path.insert(0, sys.argv[1])
        from explainers.images import load_image
        buf = io.BytesIO()
        Image.new("RGB", (6000, 6500), (10, 200, 30)).save(buf, "PNG", compress_level=1)
        data = buf.getvalue()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        got = load_image(data)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(got.shape, round(float(got[..., 1].mean()), 3), (after - before) // 1024)
        """
    )
    out = subprocess.run([sys.executable, "-c", script, str(ROOT)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    shape, green, grown_mb = out.stdout.rsplit(" ", 2)
    assert shape.startswith("(512, 473, 3)")
    assert abs(float(green) - 200 / 255) < 0.01
    # The 8-bit decode alone is 6000*6500*4 bytes (156 MB); before issue 16 this took 1.2 GB.
    assert int(grown_mb) < 400, f"load_image grew the process by {grown_mb} MB"


def test_truncated_png_still_says_cut_short():
    data = png(Image.new("RGB", (300, 300), (1, 2, 3)).effect_spread(5))
    with pytest.raises(ImageError, match="cut short"):
        load_image(data[: len(data) // 2])
