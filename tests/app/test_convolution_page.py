"""The Convolution page in AppTest: every widget moves, uploads good and bad, the numbers match PyTorch."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from streamlit.testing.v1 import AppTest

from explainers.figures import convolution as figs
from explainers.formula_html import plain
from explainers.images import sample_images, to_grey
from explainers.kernels import kernel
from pages.widgets.convolution_parts import BANK, PADDINGS
from tests.app.harness import move_panel, open_snippets, panel, panel_value, run_page


def run(query: dict | None = None) -> AppTest:
    return run_page("convolution.py", query)


def markdown_with(at: AppTest, text: str) -> str:
    return next(m.value for m in at.markdown if text in m.value)


def shapes(at: AppTest) -> str:
    """The settings panel's line: the Conv2d call with its input and output shapes."""
    return panel(at, "conv_settings")["picture"]


def pixel(at: AppTest) -> str:
    """The HTML of the picked pixel's panel (pages/widgets/convolution_parts.pixel_panel): pictures and sums."""
    return panel(at, "conv_pixel")["picture"]


def held_value(at: AppTest) -> tuple[float, int, int]:
    """The feature-map value the step-through reports, with its row and column."""
    m = re.search(r"The feature map holds <b>(-?[\d.]+)</b> at row (\d+), column (\d+)", pixel(at))
    return float(m.group(1)), int(m.group(2)), int(m.group(3))


def png(w: int, h: int, colour=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    im = Image.new("RGB", (w, h), (250, 250, 250))
    im.paste(colour, (w // 4, h // 4, w // 2, h // 2))
    im.save(buf, "PNG")
    return buf.getvalue()


def upload(at: AppTest, name: str, data: bytes, mime: str = "image/png") -> AppTest:
    at.segmented_control(key="conv_source").set_value("Upload").run()
    at.file_uploader(key="conv_upload").set_value((name, data, mime)).run()
    assert not at.exception, at.exception
    return at


def test_default_page_has_every_part():
    at = run()
    assert at.title[0].value == "Convolution"
    # Input and feature map go as pictures in one browser panel (the map is clickable), the step as tables
    # beside them; histogram (an SVG), animation (plotly) and filter bank (pictures) are lazy tabs.
    assert at.get("image") == []
    assert pixel(at).count('<img src="data:image/') == 2
    assert pixel(at).count('data-nl-pick="conv_row conv_col" data-nl-grid="256 256"') == 1  # the clickable map
    assert "products, sum" in pixel(at)
    assert at.get("plotly_chart") == []
    hist = panel(at, "conv_hist")  # an SVG in a panel with no ranges, patched in place on a change
    assert hist["controls"] == [] and "Histogram of the output" in hist["picture"]
    assert sum(figs.histogram_counts(hist["picture"])) == 256 * 256  # every output value counted
    assert [c.key for c in run({"conv_tab": "Animate the kernel"}).get("plotly_chart")] == ["conv_fig_walk"]
    bank = run({"conv_tab": "Filter bank"})
    assert [img.caption for i in bank.get("image") for img in i.proto.imgs][-4:] == BANK  # one picture per map
    assert len(at.latex) == 1  # the page's formula; the output size's, with the numbers, is in the settings panel
    assert "(1, 1, 256, 256)" in shapes(at)
    assert "H_out = ⌊256 + 2 · 1 − 1 · (3 − 1) − 1 / 1⌋ + 1 = 256" in plain(shapes(at))
    assert any("PyTorch" in e.label for e in at.expander)
    open_snippets(at)
    assert "nn.Conv2d(1, 1, kernel_size=(3, 3), stride=1, padding=1" in at.code[0].value
    assert at.query_params["conv_kernel"] == "Sobel x"
    assert at.info  # the try-this prompt


def test_step_value_matches_torch_for_the_default_picture():
    at = run({"conv_row": "100", "conv_col": "60"})
    value, r, c = held_value(at)
    x = torch.from_numpy(to_grey(sample_images()["Scene with edges"])).double()[None, None]
    ref = F.conv2d(x, torch.from_numpy(kernel("Sobel x"))[None, None], padding=1)[0, 0, r, c].item()
    assert (r, c) == (100, 60)
    assert value == pytest.approx(ref, abs=1e-3)


def test_stride_padding_dilation_change_the_output_size():
    at = run()
    move_panel(at, "conv_settings", {"conv_stride": 2})
    assert "(1, 1, 128, 128)" in shapes(at)
    move_panel(at, "conv_settings", {"conv_padding": "0"})
    assert "(1, 1, 127, 127)" in shapes(at)
    move_panel(at, "conv_settings", {"conv_dilation": 3})
    assert "(1, 1, 125, 125)" in shapes(at)  # floor((256 - 3*2 - 1) / 2) + 1
    assert sum(figs.histogram_counts(panel(at, "conv_hist")["picture"])) == 125 * 125  # the histogram follows
    assert at.query_params["conv_stride"] == "2" and at.query_params["conv_dilation"] == "3"
    assert not at.exception


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_modes(mode):
    at = run({"conv_padding": "3"})
    at.selectbox(key="conv_padding_mode").set_value(mode).run()
    assert not at.exception and not at.error
    assert "(1, 1, 260, 260)" in shapes(at)


def test_bias_relu_normalise_and_colour_modes():
    at = run({"conv_row": "150", "conv_col": "50"})
    before, _, _ = held_value(at)
    move_panel(at, "conv_settings", {"conv_bias": 0.5})
    after, _, _ = held_value(at)
    assert after == pytest.approx(before + 0.5, abs=1e-3)
    at.toggle(key="conv_relu").set_value(True).run()
    assert "ReLU gives" in pixel(at)
    at.toggle(key="conv_normalise").set_value(True).run()
    at.radio(key="conv_colour").set_value("rgb").run()
    assert "(1, 3, 256, 256)" in shapes(at) and "Sum of the 27 products" in pixel(at)
    assert any("Three colour channels" in s.value for s in at.subheader)
    at.radio(key="conv_colour").set_value("depthwise").run()
    assert "groups=3" in shapes(at) and "(1, 3, 256, 256)" in shapes(at)
    assert not at.exception


def test_every_preset_runs():
    at = run({"conv_bank": "Sobel x", "conv_tab": "Filter bank"})
    for name in at.selectbox(key="conv_kernel").options:
        at.selectbox(key="conv_kernel").set_value(name).run()
        assert not at.exception, name
        assert not at.error, name


def test_switching_to_custom_starts_from_the_preset_and_url_sets_the_numbers():
    at = run({"conv_kernel": "Emboss"})
    at.selectbox(key="conv_kernel").set_value("Custom").run()
    assert at.query_params["conv_custom"] == "-2,-1,0,-1,1,1,0,1,2"
    at = run({"conv_kernel": "Custom", "conv_custom_rows": "1", "conv_custom_cols": "2",
              "conv_custom": "1,-1", "conv_padding": "0", "conv_row": "100", "conv_col": "49"})
    assert "kernel_size=(1, 2)" in shapes(at)
    value, r, c = held_value(at)
    grey = to_grey(sample_images()["Scene with edges"])
    assert value == pytest.approx(grey[r, c] - grey[r, c + 1], abs=1e-3)
    at.selectbox(key="conv_custom_rows").set_value(3).run()
    assert "kernel_size=(3, 2)" in shapes(at) and not at.exception
    assert at.query_params["conv_custom"] == "0,0,1,-1,0,0"  # the old row stays in the middle
    at.selectbox(key="conv_custom_rows").set_value(1).run()
    assert at.query_params["conv_custom"] == "1,-1"


def test_step_sliders_move_the_pixel_and_stay_inside_a_smaller_output():
    at = run()
    move_panel(at, "conv_pixel", {"conv_row": 10})
    move_panel(at, "conv_pixel", {"conv_col": 250})
    assert held_value(at)[1:] == (10, 250)
    assert at.query_params["conv_row"] == "10" and at.query_params["conv_col"] == "250"
    move_panel(at, "conv_settings", {"conv_stride": 4})  # output 64×64: the pixel moves inside
    assert held_value(at)[1:] == (10, 63)
    assert panel_value(at, "conv_pixel", "conv_col") == 63
    assert [c["hi"] for c in panel(at, "conv_pixel")["controls"]] == [63, 63]
    assert not at.exception


def test_the_feature_map_is_a_clickable_grid_of_the_output_size():
    # A click moves the row and column ranges in the browser (tests/browser/test_convolution_browser.py): the
    # page must say which ranges and how many rows and columns the picture has, at every output size.
    at = run({"conv_stride": "2"})
    assert 'data-nl-pick="conv_row conv_col" data-nl-grid="128 128"' in pixel(at)
    move_panel(at, "conv_settings", {"conv_padding": "0"})
    assert 'data-nl-grid="127 127"' in pixel(at)
    assert [(c["name"], c["hi"]) for c in panel(at, "conv_pixel")["controls"]] == [("conv_row", 126), ("conv_col", 126)]


def test_an_uploaded_file_name_is_shown_as_text_not_markup():
    at = upload(run(), "<b>x</b>.png", png(40, 30))
    assert "&lt;b&gt;x&lt;/b&gt;.png" in pixel(at) and "<b>x</b>.png" not in pixel(at)
    assert "(1, 1, 30, 40)" in shapes(at)


def test_filter_bank_and_empty_bank():
    at = run({"conv_bank": "Sobel x,Prewitt y,Outline", "conv_tab": "Filter bank"})
    assert "Conv2d(1, 3)" in next(c.value for c in at.caption if "filters give" in c.value)
    at.multiselect(key="conv_bank").set_value([]).run()
    assert any("at least one" in c.value for c in at.caption) and not at.exception


def test_good_upload_is_used_and_sized():
    at = upload(run(), "photo.png", png(300, 200))
    assert "(1, 1, 200, 300)" in shapes(at)
    at = upload(run(), "big.png", png(1600, 900))
    assert "(1, 1, 288, 512)" in shapes(at)  # shrunk to 512 on the long side


@pytest.mark.parametrize("data", [b"", b"just text, not a picture", png(64, 64)[:80]],
                         ids=["empty", "text", "truncated"])
def test_bad_uploads_give_a_message_and_the_sample_stays(data):
    at = upload(run(), "bad.png", data)
    assert at.error and "Showing the sample" in at.error[0].value
    assert "(1, 1, 256, 256)" in shapes(at)


def test_impossible_settings_give_friendly_errors():
    at = run({"conv_stride": "2", "conv_padding": "same"})
    assert "only works with stride 1" in at.error[0].value
    assert len(at.get("image")) == 1  # the picture stays on screen while the settings are wrong
    at = upload(run({"conv_padding": "0", "conv_kernel": "Gaussian blur 7×7"}), "dot.png", png(4, 4))
    assert "larger than the padded image" in at.error[0].value
    at = upload(run({"conv_padding": "6", "conv_padding_mode": "reflect"}), "dot.png", png(4, 4))
    assert "reflect padding must be smaller" in at.error[0].value
    assert not at.exception


def test_url_reproduces_the_demo_and_survives_nonsense():
    at = run({"conv_kernel": "Laplacian", "conv_stride": "3", "conv_colour": "rgb", "conv_sample": "Checkerboard"})
    assert at.selectbox(key="conv_kernel").value == "Laplacian"
    assert panel_value(at, "conv_settings", "conv_stride") == 3
    assert "(1, 3, 256, 256)" in shapes(at) and "stride=3" in shapes(at)
    at = run({"conv_kernel": "Nope", "conv_stride": "banana"})
    assert any("not understood" in c.value for c in at.caption)
    assert at.selectbox(key="conv_kernel").value == "Sobel x"


def test_depthwise_step_reports_each_channel_like_torch():
    at = run({"conv_colour": "depthwise", "conv_kernel": "Sharpen", "conv_bias": "0.1", "conv_row": "120",
              "conv_col": "60", "conv_padding": "same", "conv_tab": "Animate the kernel"})
    text = pixel(at)
    assert "Depthwise: each channel" in text
    held = re.search(r"hold <b>([-\d., ]+)</b> at row 120, column 60", text).group(1)
    values = [float(v) for v in held.split(",")]
    x = torch.from_numpy(sample_images()["Scene with edges"].transpose(2, 0, 1).copy()).double()[None]
    w = torch.from_numpy(kernel("Sharpen")).expand(3, 1, 3, 3)
    ref = F.conv2d(x, w, torch.full((3,), 0.1, dtype=torch.float64), padding="same", groups=3)[0, :, 120, 60]
    np.testing.assert_allclose(values, ref.numpy(), atol=1e-3)
    assert "(red channel)" in markdown_with(at, "Animate")


def test_camera_photo_is_convolved():
    at = run({"conv_source": "Camera"})
    assert any("until you take a photo" in c.value for c in at.caption)
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 160, 220)).save(buf, "JPEG")
    at.camera_input(key="conv_camera").set_value(("shot.jpg", buf.getvalue(), "image/jpeg")).run()
    assert not at.exception and not at.error
    assert "(1, 1, 384, 512)" in shapes(at)
    at.camera_input(key="conv_camera").set_value(("shot.jpg", b"\xff\xd8\xff broken", "image/jpeg")).run()
    assert at.error and "Showing the sample" in at.error[0].value and not at.exception


# --- Issue 12: every number a learner checks adds up -----------------------------------------------------


def photo_jpeg(w: int, h: int, seed: int = 0, orientation: int = 1) -> bytes:
    """A photo-like JPEG: smooth gradients, an edge and noise (so 8-bit greying would show)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx / w, yy / h, 0.5 + 0.3 * np.sin(xx / 9.0)], axis=-1) * 200
    rgb[:, w // 2:] += 40
    rgb += rng.normal(0, 12, rgb.shape)
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = orientation  # how a phone says "rotate me"
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90, exif=exif)
    return buf.getvalue()


def all_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [img.caption for i in at.get("image") for img in i.proto.imgs]
    parts.append(re.sub(r"<[^>]+>", " ", pixel(at)))  # the panel's captions and sums, without the tags
    return "\n".join(str(p) for p in parts)


def test_sizes_read_height_by_width_everywhere():
    at = upload(run(), "wide.png", png(480, 318))
    text = all_text(at)
    assert "(318×480)" in text and "480×318" not in text, text
    assert "(1, 1, 318, 480)" in shapes(at)


def test_normalise_says_what_it_divides_by_even_for_a_zero_sum_kernel():
    x = torch.from_numpy(to_grey(sample_images()["Scene with edges"])).double()[None, None]
    edges = F.conv2d(x, torch.from_numpy(kernel("Sobel x"))[None, None], padding=1)[0, 0].abs()
    r, c = np.unravel_index(int(edges.argmax()), edges.shape)  # a pixel on a strong edge
    at = run({"conv_row": str(r), "conv_col": str(c)})
    before, _, _ = held_value(at)
    at.toggle(key="conv_normalise").set_value(True).run()
    after, _, _ = held_value(at)
    assert before != 0 and after == pytest.approx(before / 8, abs=2e-4)  # Sobel x: sum 0, sum |w| = 8
    assert any("add up to 0" in c.value and "8.0000" in c.value for c in at.caption)
    at.selectbox(key="conv_kernel").set_value("Box blur 3×3").run()
    assert any("Divided by the sum of the weights" in c.value for c in at.caption)


@pytest.mark.parametrize("w, h, orientation", [(900, 600, 1), (2300, 1500, 6)], ids=["photo", "huge-rotated"])
def test_snippet_reproduces_the_pages_pixel_for_an_uploaded_photo(tmp_path, w, h, orientation):
    import subprocess
    import sys

    data = photo_jpeg(w, h, orientation=orientation)  # over 512 px: the page shrinks it, so must the snippet
    at = upload(run({"conv_padding": "same", "conv_row": "127", "conv_col": "50"}), "holiday.jpg", data,
                "image/jpeg")
    value, r, c = held_value(at)
    assert (r, c) == (127, 50)
    (tmp_path / "holiday.jpg").write_bytes(data)
    open_snippets(at)
    code = next(c.value for c in at.code if "nn.Conv2d" in c.value)
    assert 'Image.open("holiday.jpg")' in code and '"L"' not in code
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    printed = [float(v) for v in out.stdout.strip().splitlines()[-1].strip("[]").split(",")]
    assert printed[0] == pytest.approx(value, abs=1.5e-4)  # both shown to 4 decimals


def test_shown_products_add_up_to_the_shown_sum_and_no_negative_zero():
    for query in ({"conv_row": "100", "conv_col": "60"}, {"conv_kernel": "Gaussian blur 5×5", "conv_colour": "rgb"}):
        at = run(query)
        html = pixel(at)
        for table in html.split("= products, sum ")[1:]:
            total = float(table.split("<")[0].replace("−", "-"))
            cells = re.findall(r">([−\d.]+)</td>", table.split("</table>")[0])
            assert sum(float(v.replace("−", "-")) for v in cells) == pytest.approx(total, abs=1e-9)
        text = all_text(at) + html
        assert not re.search(r"[-−]0\.0+(?!\d*[1-9])", text), "negative zero shown"


def test_the_settings_panel_moves_stride_padding_dilation_and_bias_and_stays_to_fix_a_refusal():
    at = run()
    data = panel(at, "conv_settings")
    assert [(c["label"], c["value"]) for c in data["controls"]] == [
        ("Stride", 1), ("Padding", "1"), ("Dilation", 1), ("Bias", 0)]
    assert data["controls"][1]["options"] == PADDINGS and data["controls"][3]["step"] == 0.05
    move_panel(at, "conv_settings", {"conv_padding": "same", "conv_bias": -0.35})
    assert "padding='same'" in shapes(at) and "output <code>(1, 1, 256, 256)</code>" in shapes(at)
    assert at.query_params["conv_padding"] == "same" and at.query_params["conv_bias"] == "-0.35"
    move_panel(at, "conv_settings", {"conv_stride": 2})  # 'same' needs stride 1: PyTorch refuses
    assert "only works with stride 1" in at.error[0].value and "No output" in shapes(at)
    assert panel_value(at, "conv_settings", "conv_stride") == 2  # the panel stays, to move it back
    move_panel(at, "conv_settings", {"conv_padding": "valid", "conv_stride": 1})  # not a choice: ignored
    assert panel_value(at, "conv_settings", "conv_padding") == "same" and not at.error
    assert "stride=1, padding='same'" in shapes(at)
