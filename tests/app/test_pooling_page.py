"""The Pooling page in AppTest: every knob moves, sizes follow PyTorch, bad settings and files are friendly."""

from __future__ import annotations

import io
import re

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from streamlit.testing.v1 import AppTest

from explainers import pooling as pl
from explainers.formula_html import plain
from explainers.images import sample_images
from explainers.kernels import kernel
from pages.widgets.lesson_tabs import tab_strip_key
from pages.widgets.pooling_parts import TABS
from tests.app.harness import (
    choose_tab,
    lesson_tabs,
    move_panel,
    open_snippets,
    panel,
    panel_value,
    run_page,
    slider,
)


def run(query: dict | None = None) -> AppTest:
    return run_page("pooling.py", query)


KNOBS = {"Kernel size k": "pool_k", "Stride s": "pool_s", "Padding p": "pool_p", "Dilation d (max only)": "pool_d"}


def metric(at, label):
    """A big number: an st.metric, or one of the settings panel's output sizes (style.metrics_html)."""
    found = [m.value for m in at.metric if m.label == label]
    if found:
        return found[0]
    html = panel(at, "pool_settings")["picture"]
    return re.search(f'<div class="nl-metric-label">{re.escape(label)}</div><div class="nl-metric-value">(.*?)</div>',
                     html).group(1)


def setting(at, label, value):
    """Move one of the pooling layer's ranges (the settings panel) as a key press does."""
    return move_panel(at, "pool_settings", {KNOBS[label]: value})


def cell_html(at) -> str:
    """The HTML of the picked cell's panel (pages/widgets/pooling_parts.cell_panel): map, sums, windows."""
    return panel(at, "pool_cell")["picture"]


def torch_size(n, k, s, p, d=1, ceil=False):
    return F.max_pool2d(torch.zeros(1, n, n), k, s, p, d, ceil_mode=ceil).shape[-1]


def test_default_page_shows_the_block_the_formula_and_zero_parameters():
    at = run()
    assert at.title[0].value == "Pooling"
    assert metric(at, "Max pooling output") == "16×16"
    assert metric(at, "Parameters to learn") == "0"
    assert plain(panel(at, "pool_settings")["picture"]).endswith("⌋ + 1 = 16")  # the size formula, in the panel
    assert lesson_tabs(at, "pool_tab") == (TABS, TABS[0])  # the open tab: the picked cell
    assert any("PyTorch equivalent" in e.label for e in at.expander)
    open_snippets(at)
    assert "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1" in at.code[0].value
    assert [c["label"] for c in panel(at, "pool_settings")["controls"]] == list(KNOBS)  # one browser-drawn panel


def test_every_pooling_knob_changes_the_output_size_like_torch():
    at = run()
    for label, value in (("Kernel size k", 3), ("Stride s", 1), ("Padding p", 1), ("Dilation d (max only)", 2)):
        setting(at, label, value)
        assert not at.exception
    assert metric(at, "Max pooling output") == f"{torch_size(32, 3, 1, 1, 2)}×{torch_size(32, 3, 1, 1, 2)}"
    assert metric(at, "Average pooling output") == f"{torch_size(32, 3, 1, 1)}×{torch_size(32, 3, 1, 1)}"
    setting(at, "Stride s", 3)
    setting(at, "Dilation d (max only)", 1)
    at.toggle[0].set_value(True).run()  # ceil_mode
    n = torch_size(32, 3, 3, 1, 1, True)
    assert metric(at, "Max pooling output") == f"{n}×{n}"
    open_snippets(at)
    assert "ceil_mode=True" in at.code[0].value
    at.toggle[1].set_value(False).run()  # count_include_pad
    assert not at.exception and "count_include_pad=False" in at.code[0].value
    assert at.query_params["pool_k"] == "3" and at.query_params["pool_ceil"] == "1"


def test_illegal_padding_gives_a_plain_error_and_keeps_the_settings():
    at = run()
    setting(at, "Padding p", 2)  # kernel 2: padding at most 1
    assert not at.exception
    assert any("at most half the kernel size" in e.value for e in at.error)
    assert not [e for e in at.get("bidi_component") if e.key == tab_strip_key("pool_tab")]  # nothing below is drawn with impossible settings
    assert at.query_params["pool_p"] == "2"
    setting(at, "Kernel size k", 4)
    assert not at.error and metric(at, "Max pooling output") == f"{torch_size(32, 4, 2, 2)}×{torch_size(32, 4, 2, 2)}"


def test_picked_cell_text_names_the_index_torch_returns():
    at = run({"pool_k": "3", "pool_s": "2", "pool_p": "1"})
    move_panel(at, "pool_cell", {"pool_row": 5})
    move_panel(at, "pool_cell", {"pool_col": 7})
    assert at.query_params["pool_row"] == "5" and at.query_params["pool_col"] == "7"
    grey = pl.to_working(sample_images()["Scene with edges"] @ np.array([0.299, 0.587, 0.114], np.float32), 32)
    feature = pl.detector_block(grey, kernel("Sobel x")).feature
    y, idx = F.max_pool2d(torch.tensor(feature), 3, 2, 1, return_indices=True)
    lines = cell_html(at).split("<br>")  # each sum follows its heading's line break
    text = next(line for line in lines if line.startswith("max("))
    assert f"= <b>{int(idx[0, 5, 7])}</b>" in text
    assert f"<b>{y[0, 5, 7].item():.2f}</b>".replace("-", "−") in text
    avg = F.avg_pool2d(torch.tensor(feature), 3, 2, 1)[0, 5, 7].item()
    assert any(line.startswith("(") and f"<b>{avg:.2f}</b>" in line for line in lines)


def test_a_shrinking_output_clamps_the_picked_cell():
    at = run()
    move_panel(at, "pool_cell", {"pool_row": 15, "pool_col": 15})
    setting(at, "Kernel size k", 6)
    setting(at, "Stride s", 6)
    assert not at.exception
    n = torch_size(32, 6, 6, 0)
    assert panel_value(at, "pool_cell", "pool_row") == n - 1 and panel_value(at, "pool_cell", "pool_col") == n - 1
    assert f"output ({n - 1}, {n - 1})" in cell_html(at)


def test_the_pooled_map_is_a_clickable_grid_of_the_output_size():
    # A click moves the row and column ranges in the browser (tests/browser/test_pooling_browser.py).
    at = run()
    assert 'data-nl-pick="pool_row pool_col" data-nl-grid="16 16"' in cell_html(at)
    setting(at, "Stride s", 3)
    n = torch_size(32, 2, 3, 0)
    assert f'data-nl-grid="{n} {n}"' in cell_html(at)
    assert [c["hi"] for c in panel(at, "pool_cell")["controls"]] == [n - 1, n - 1]


def test_every_tab_opens_from_a_link():
    for name in ("Pick an output cell", "Indices (return_indices)", "Gradient routing", "Shift the picture",
                 "Pyramid 28 → 14 → 7"):
        at = run({"pool_tab": name, "pool_k": "3", "pool_s": "1", "pool_p": "1"})
        # The block (picture, conv, ReLU, max, avg) goes as one compact picture in the settings panel; each tab
        # draws its own figure.
        block = panel(at, "pool_settings")["picture"]
        assert block.count("<img") == 1 and "→ max pool 1×32×32" in block and "data:image/png;base64," in block, name
        if name == "Pick an output cell":  # redrawn on every pick: pictures and tables in one panel, no plotly
            assert at.get("image") == [] and at.get("plotly_chart") == [], name
            assert cell_html(at).count("<img") == 3 and "the winner" in cell_html(at) and "<table" in cell_html(at)
        else:
            assert len(at.get("plotly_chart")) >= 1, name


def test_stage_kernel_size_gradient_and_shift_widgets_all_run():
    at = run()
    for name in ("Laplacian", "Gaussian blur 7×7", "Emboss"):
        at.selectbox(key="pool_kernel").set_value(name).run()
        assert not at.exception
    at.radio(key="pool_stage").set_value("The picture itself").run()
    open_snippets(at)
    assert at.selectbox(key="pool_kernel").disabled and "nn.Conv2d" not in at.code[0].value
    at.selectbox(key="pool_size").set_value(48).run()
    assert metric(at, "Max pooling output") == "24×24"
    choose_tab(at, "pool_tab", "Gradient routing")  # a click on the tab, as the browser sends it
    assert not [e for e in at.get("bidi_component") if e.key == "pool_cell"]  # only the open tab is drawn
    at.toggle(key="pool_gradcell").set_value(False).run()
    assert any("input pixels get any gradient" in c.value for c in at.caption)
    at.session_state["pool_tab"] = "Shift the picture"
    at.run()
    slider(at, "Shift right (pixels)").set_value(3).run()
    slider(at, "Shift down (pixels)").set_value(2).run()
    assert not at.exception
    shown = metric(at, "Change before pooling")
    assert shown.endswith("%") and shown != "0%"


def test_shift_zero_means_no_change():
    at = run({"pool_dx": "0", "pool_dy": "0", "pool_tab": "Shift the picture"})
    assert metric(at, "Change before pooling") == "0%"
    assert metric(at, "Change after max pooling") == "0%"


def _picture(size=(40, 30), fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (*size[::-1], 3), dtype=np.uint8)).save(buf, fmt)
    return buf.getvalue()


def test_uploads_good_and_bad():
    at = run()
    at.segmented_control(key="pool_source").set_value("Upload").run()
    assert not at.exception
    at.file_uploader(key="pool_upload").upload("notes.txt", b"this is not a picture", "text/plain").run()
    assert not at.exception
    assert at.error and "instead" in at.error[0].value
    assert metric(at, "Max pooling output") == "16×16"  # the page carries on with the sample
    at.file_uploader(key="pool_upload").upload("photo.png", _picture(), "image/png").run()
    assert not at.exception and not at.error


def test_camera_shot_is_used():
    at = run({"pool_source": "Camera"})
    at.camera_input(key="pool_camera").upload("shot.jpg", _picture((64, 48), "JPEG"), "image/jpeg").run()
    assert not at.exception and not at.error


def test_url_reproduces_the_demo_and_ignores_nonsense():
    at = run({"pool_k": "3", "pool_s": "1", "pool_p": "1", "pool_ceil": "1", "pool_kernel": "Laplacian",
              "pool_size": "24", "pool_d": "banana"})
    assert panel_value(at, "pool_settings", "pool_k") == 3 and panel_value(at, "pool_settings", "pool_s") == 1
    assert at.selectbox(key="pool_kernel").value == "Laplacian"
    assert metric(at, "Max pooling output") == f"{torch_size(24, 3, 1, 1, 1, True)}×{torch_size(24, 3, 1, 1, 1, True)}"
    assert any("pool_d" in c.value for c in at.caption)


def test_pyramid_keeps_the_max_and_the_mean_like_torch():
    at = run({"pool_tab": "Pyramid 28 → 14 → 7", "pool_kernel": "Laplacian"})
    grey = pl.to_working(sample_images()["Scene with edges"] @ np.array([0.299, 0.587, 0.114], np.float32), 28)
    x = torch.tensor(pl.detector_block(grey, kernel("Laplacian")).feature)
    mx7 = F.max_pool2d(F.max_pool2d(x, 2), 2)
    av7 = F.avg_pool2d(F.avg_pool2d(x, 2), 2)
    text = next(c.value for c in at.caption if c.value.startswith("Kept:"))
    assert f"{mx7.max().item():.3f} at 7×7" in text and f"and {av7.mean().item():.3f})" in text


def test_shift_tab_tallies_every_shift_and_is_honest_when_average_wins():
    at = run({"pool_tab": "Shift the picture"})
    text = next(m.value for m in at.markdown if "Over all 24 shifts" in m.value)
    wins = int(text.split("pooling in **")[1].split(" of")[0])
    assert wins >= 20 and "as steady or steadier" not in text
    pct = {lab: int(metric(at, lab).rstrip("%")) for lab in ("Change after max pooling", "Change after average pooling")}
    assert pct["Change after max pooling"] < pct["Change after average pooling"]  # the default view makes the point
    at = run({"pool_tab": "Shift the picture", "pool_sample": "Colour gradient"})
    assert any("as steady or steadier" in m.value for m in at.markdown)


def test_the_settings_panel_holds_the_block_and_the_sizes_and_stays_to_fix_a_refusal():
    at = run()
    data = panel(at, "pool_settings")
    assert [(c["label"], c["value"], c["lo"], c["hi"]) for c in data["controls"]] == [
        ("Kernel size k", 2, 1, 6), ("Stride s", 2, 1, 6), ("Padding p", 0, 0, 3), ("Dilation d (max only)", 1, 1, 3)]
    assert data["announce"] == "Max pooling output 16 by 16, average 16 by 16"
    setting(at, "Padding p", 2)  # kernel 2: PyTorch refuses
    html = panel(at, "pool_settings")["picture"]
    assert any("at most half" in e.value for e in at.error) and panel(at, "pool_settings")["announce"] == "No output"
    assert "→ ReLU 1×32×32" in html and "max pool" not in html and "nl-metric" not in html  # no sizes to show
    setting(at, "Padding p", 1)
    n = torch_size(32, 2, 2, 1)
    assert not at.error and metric(at, "Max pooling output") == f"{n}×{n}"
