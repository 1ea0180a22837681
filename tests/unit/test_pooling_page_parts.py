"""The pieces behind the Pooling page: the conv -> ReLU block, shift test, cell text, indices, figures."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
import torch.nn.functional as F

from explainers import pooling as pl
from explainers.figures import pooling as figs
from explainers.formula_html import plain
from explainers.kernels import kernel


def _img(seed: int = 0, size: int = 20) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (size, size))


def test_to_working_crops_the_centre_square_and_box_averages():
    rng = np.random.default_rng(1)
    rgb = rng.uniform(0, 1, (40, 60, 3)).astype(np.float32)
    out = pl.to_working(rgb, 10)
    assert out.shape == (10, 10)
    grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    square = grey[:, 10:50]  # centre 40x40
    ref = F.avg_pool2d(torch.tensor(square)[None], 4)[0].numpy()  # a 4x box = area average
    np.testing.assert_allclose(out, ref, atol=1e-5)
    with pytest.raises(ValueError, match="shape"):
        pl.to_working(np.zeros((3, 4, 5, 6)), 8)


def test_detector_block_is_conv_same_replicate_then_relu_like_torch():
    x = _img(2)
    k = kernel("Sobel x")
    blk = pl.detector_block(x, k)
    conv = torch.nn.Conv2d(1, 1, 3, padding="same", padding_mode="replicate", bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(k)[None, None])
        ref = conv(torch.tensor(x)[None, None])[0]
    np.testing.assert_allclose(blk.conv, ref.numpy(), atol=1e-12)
    np.testing.assert_allclose(blk.feature, torch.relu(ref).numpy(), atol=1e-12)
    plain = pl.detector_block(x, None)
    assert plain.conv is None and plain.relu is None
    np.testing.assert_array_equal(plain.feature[0], x)


def test_shift_test_compares_the_same_maps_torch_computes():
    x = _img(3, 24)
    k = kernel("Laplacian")
    st = pl.check_pool((1, 24, 24), "max", 2, 2)
    t = pl.shift_test(x, k, 0, 1, st)
    shifted = pl.shift(x[None], 0, 1)[0]
    a = pl.detector_block(x, k).feature
    b = pl.detector_block(shifted, k).feature
    np.testing.assert_allclose(t.pooled, F.max_pool2d(torch.tensor(a), 2).numpy())
    np.testing.assert_allclose(t.pooled_shifted, F.max_pool2d(torch.tensor(b), 2).numpy())
    np.testing.assert_allclose(t.change_feature, np.linalg.norm(a - b) / np.linalg.norm(a))
    same = pl.shift_test(x, k, 0, 0, st)
    assert same.change_feature == same.change_pooled == 0


def test_describe_cell_shows_the_winner_index_and_the_division():
    x = np.arange(36, dtype=float).reshape(1, 6, 6)
    mx = pl.pool2d(x, "max", 3, 2, 1)
    text = pl.describe_cell(pl.cell_window(x, mx, 0, 1, 1), 6)
    win = int(mx.indices[0, 1, 1])
    assert f"= **{win}**" in text and "−∞" not in text
    corner = pl.describe_cell(pl.cell_window(x, mx, 0, 0, 0), 6)
    assert "−∞" in corner  # padding shows as minus infinity for max
    av = pl.pool2d(x, "avg", 3, 2, 1, count_include_pad=True)
    t2 = pl.describe_cell(pl.cell_window(x, av, 0, 0, 0), 6)
    assert "/ 9 =" in t2 and "4 real pixels and 5 padding" in t2
    np.testing.assert_allclose(av.output[0, 0, 0], F.avg_pool2d(torch.tensor(x), 3, 2, 1)[0, 0, 0].item())


@pytest.mark.parametrize("k,s,p,d", [(2, 2, 0, 1), (3, 1, 1, 1), (3, 2, 1, 2), (2, 1, 1, 2)])
def test_win_counts_and_winner_offsets_agree_with_torch_indices(k, s, p, d):
    x = np.random.default_rng(4).standard_normal((2, 9, 8))
    res = pl.pool2d(x, "max", k, s, p, d)
    _, idx = F.max_pool2d(torch.tensor(x), k, s, p, d, return_indices=True)
    idx = idx.numpy()
    counts = pl.win_counts(res)
    for c in range(2):
        np.testing.assert_array_equal(counts[c].ravel(), np.bincount(idx[c].ravel(), minlength=72))
    off = pl.winner_offsets(res)
    _, ho, wo = res.output.shape
    for oh in range(ho):
        for ow in range(wo):
            cw = pl.cell_window(x, res, 1, oh, ow)
            pos = np.argwhere((cw.rows == cw.winner[0]) & (cw.cols == cw.winner[1]))[0]
            assert off[1, oh, ow] == pos[0] * k + pos[1]


def test_strongest_cell_and_pool_both():
    x = _img(5, 12)[None]
    mx, av = pl.pool_both(x, 3, 2, 1, 2, True, False)
    assert mx.settings.dilation == (2, 2) and av.settings.dilation == (1, 1)
    np.testing.assert_allclose(av.output, F.avg_pool2d(torch.tensor(x), 3, 2, 1, True, False).numpy())
    r, c = pl.strongest_cell(mx)
    assert mx.output[0, r, c] == mx.output.max()


@pytest.mark.parametrize("n,k,s,p,d,ceil", [
    (32, 2, 2, 0, 1, False), (7, 3, 2, 1, 1, True), (5, 2, 2, 1, 1, True), (5, 2, 2, 1, 1, False),
    (32, 3, 3, 1, 1, True), (10, 3, 4, 1, 1, True),
])
def test_size_formula_ends_with_torchs_output_size(n, k, s, p, d, ceil):
    expected = F.max_pool2d(torch.zeros(1, n, n), k, s, p, d, ceil_mode=ceil).shape[-1]
    text = plain(pl.size_formula(n, k, s, p, d, ceil))
    assert text.endswith(f"= {expected}")
    assert text.startswith("H_out = " + ("⌈" if ceil else "⌊") + "H + 2p − d(k − 1) − 1 / s")
    ceil_size = F.max_pool2d(torch.zeros(1, n, n), k, s, p, d, ceil_mode=True).shape[-1]
    rounded_up = -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1  # plain ceil, before PyTorch's correction
    drops = ceil_size < rounded_up
    assert pl.ceil_drops_last_window(n, k, s, p, d) == drops
    assert ("+ 1 − 1 =" in text) == (ceil and drops)


def test_pyramid_figure_and_maps_row():
    maps = {kind: [m[0] for m in pl.pyramid(_img(6, 28)[None], kind, 2)] for kind in ("max", "avg")}
    fig = figs.pyramid_figure(maps)
    assert isinstance(fig, go.Figure) and len(fig.data) == 6
    titles = [a.text for a in fig.layout.annotations]
    assert "max: 7×7 = 49 numbers" in titles and "avg: 28×28 = 784 numbers" in titles
    row = figs.maps_row([("a", _img(7, 8), "image"), ("b", _img(8, 8) - 0.5, "signed"),
                         ("c", _img(9, 4), "map"), ("d", np.zeros((4, 4)), "change")])
    assert len(row.data) == 4
    assert row.layout.xaxis3.range == (-0.5, 3.5)
    assert row.data[1].zmin == -row.data[1].zmax  # signed maps are centred on zero
    ones = figs.maps_row([("max", np.ones((4, 4)), "map"), ("avg", np.full((4, 4), 0.25), "map")])
    assert (ones.data[0].zmin, ones.data[0].zmax) == (ones.data[1].zmin, ones.data[1].zmax) == (0.0, 1.0)


def test_window_figures_mark_the_window_the_padding_and_the_winner():
    x = _img(10, 6)[None]
    mx = pl.pool2d(x, "max", 3, 2, 1)
    cw = pl.cell_window(x, mx, 0, 0, 0)
    fig = figs.window_figure(x[0], cw, (1, 1), "title")
    # one rectangle for the padding ring plus one per window position
    assert len(fig.layout.shapes) == 1 + 9
    star = next(t for t in fig.data if isinstance(t, go.Scatter))
    assert (star.y[0], star.x[0]) == cw.winner
    vals = figs.window_values_figure(cw, "numbers")
    assert "−∞" in np.asarray(vals.data[0].text).ravel()
    av = pl.pool2d(x, "avg", 3, 2, 1)
    figs_avg = figs.window_values_figure(pl.cell_window(x, av, 0, 0, 0), "numbers")
    assert "0 (pad)" in np.asarray(figs_avg.data[0].text).ravel()


def test_indices_and_gradient_figures():
    x = _img(11, 8)[None]
    mx = pl.pool2d(x, "max", 2, 2)
    fig = figs.indices_figure(mx, pl.winner_offsets(mx), pl.win_counts(mx)[0], x[0])
    np.testing.assert_array_equal(np.asarray(fig.data[0].customdata), mx.indices[0])
    dots = fig.data[2]
    assert len(dots.x) == 16  # 2x2 windows without overlap: 16 distinct winners
    g = pl.pool2d_backward(np.ones(mx.output.shape), mx)[0]
    gf = figs.gradient_figure(x[0], [("max", g)])
    shown = np.asarray(gf.data[1].z, dtype=float)
    assert np.isnan(shown).sum() == 64 - 16  # pixels with no gradient are left clear


# --- Issue 13: the shift demo makes its point with the defaults, and says when it does not -------------------

EDGY = ["Scene with edges", "Shapes", "Stripes at four angles", "Text", "Checkerboard"]


def _default_settings(grey):
    from explainers.kernels import KERNELS

    k = KERNELS["Sobel x"].weights  # the page's defaults: conv -> ReLU, Sobel x, 32 px, k = s = 2
    mx, av = pl.pool_both(pl.detector_block(grey, k).feature, 2, 2, 0, 1, False, True)
    return k, mx.settings, av.settings


def test_max_pooling_is_steadier_than_average_under_the_defaults_over_50_seeds():
    from explainers.images import sample_images

    samples = sample_images()
    steadier = 0
    for seed in range(50):
        rng = np.random.default_rng(seed)
        name = EDGY[int(rng.integers(len(EDGY)))]
        dy, dx = (int(v) for v in rng.integers(0, 5, 2))
        dx = dx or 1  # a real shift
        grey = pl.to_working(samples[name], 32)
        k, ms, avs = _default_settings(grey)
        t_max, t_avg = pl.shift_test(grey, k, dy, dx, ms), pl.shift_test(grey, k, dy, dx, avs)
        assert t_max.change_pooled <= t_max.change_feature + 1e-12  # pooling never makes it less steady here
        steadier += t_max.change_pooled < t_avg.change_pooled
    assert steadier >= 40, steadier  # at least 80% of the 50 draws
    grey = pl.to_working(samples["Scene with edges"], 32)  # the page's first view: shift right by 1
    k, ms, avs = _default_settings(grey)
    assert pl.shift_test(grey, k, 0, 1, ms).change_pooled < pl.shift_test(grey, k, 0, 1, avs).change_pooled
    assert pl.shift_tally(grey, k, ms, avs).max_wins >= 20  # of 24 shifts


def test_shift_tally_counts_each_shift_like_shift_test_and_a_gradient_is_the_honest_exception():
    from explainers.images import sample_images

    grey = pl.to_working(sample_images()["Colour gradient"], 32)
    k, ms, avs = _default_settings(grey)
    tally = pl.shift_tally(grey, k, ms, avs)
    assert len(tally.shifts) == 24 and (0, 0) not in tally.shifts
    i = tally.shifts.index((2, 3))
    assert tally.change_max[i] == pytest.approx(pl.shift_test(grey, k, 2, 3, ms).change_pooled)
    assert tally.change_avg[i] == pytest.approx(pl.shift_test(grey, k, 2, 3, avs).change_pooled)
    assert tally.max_wins * 2 <= 24  # smooth picture: average is as steady; the page says so


def test_average_arithmetic_adds_up_as_shown_and_never_shows_minus_zero():
    import re

    x = np.random.default_rng(3).random((1, 6, 6)) * 0.37 - 0.2
    av = pl.pool2d(x, "avg", 3, 2, 1, count_include_pad=True)
    for oh in range(av.output.shape[1]):
        for ow in range(av.output.shape[2]):
            text = pl.describe_cell(pl.cell_window(x, av, 0, oh, ow), 6)
            terms, total = re.match(r"\(([^)]*)\) / \d+ = ([−\d.]+) /", text).groups()
            as_float = [float(v.replace("−", "-")) for v in terms.split(" + ")]
            assert sum(as_float) == pytest.approx(float(total.replace("−", "-")), abs=1e-9)
            assert not re.search(r"−0\.00(?!\d*[1-9])", text)
    assert pl.fmt(-0.001) == "0.00" and pl.fmt(-np.inf) == "−∞"


def test_window_picture_and_table_show_the_window_the_padding_and_the_winner():
    from explainers.figures import pooling as pfig
    from explainers.figures import style

    x = np.arange(36, dtype=float).reshape(1, 6, 6)
    mx = pl.pool2d(x, "max", 3, 2, 1)
    cw = pl.cell_window(x, mx, 0, 0, 0)  # the corner window reads padding
    pic = pfig.window_picture(x[0], cw, (1, 1), min_side=64)
    f = pic.shape[0] // 8  # 6 pixels + a ring of 1 on each side
    assert pic.shape[:2] == (8 * f, 8 * f)
    assert tuple(pic[0, f // 2]) == tuple(style.rgb(style.PAD).astype(int))  # a padding tap, outlined grey
    r, c = cw.winner
    assert tuple(pic[(r + 1) * f + f // 2, (c + 1) * f + max(1, f // 6)]) == tuple(style.rgb(style.RED).astype(int))
    html = pfig.window_values_html(cw)
    assert html.count("−∞") == int((~cw.inside).sum()) and "3px solid" in html
    av = pl.pool2d(x, "avg", 3, 2, 1)
    assert "0 (pad)" in pfig.window_values_html(pl.cell_window(x, av, 0, 0, 0))


def test_cached_detector_is_read_only_and_matches_the_explainer():
    from pages.widgets import pooling_parts as parts
    from pages.widgets.image_input import ImageChoice

    image = np.random.default_rng(3).random((40, 50), dtype=np.float32)
    det = parts.detector(ImageChoice(image, "test", "Sample", "test:pool"), 24, "Laplacian")
    grey = pl.to_working(image, 24)
    np.testing.assert_array_equal(det.grey, grey)
    np.testing.assert_array_equal(det.block.feature, pl.detector_block(grey, kernel("Laplacian")).feature)
    assert not det.grey.flags.writeable and not det.block.relu.flags.writeable
    assert parts.detector(ImageChoice(image, "test", "Sample", "test:pool"), 24, None).kernel is None
