"""Trainer figure builders: the numbers they draw are checked against independent computations
(pandas' EWM, torch.bincount / torch for the confusion matrix, the raw arrays for mosaics)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from explainers.figures import training as ft

CLASSES = [str(k) for k in range(10)]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 10), min_size=1, max_size=60), st.floats(0.0, 0.99))
def test_ema_matches_pandas_adjusted_ewm(values, beta):
    expected = pd.Series(values).ewm(alpha=1 - beta, adjust=True).mean().to_numpy()
    np.testing.assert_allclose(ft.ema(values, beta), expected, rtol=1e-9, atol=1e-12)


def test_live_curves_loss_raw_and_smoothed_with_epoch_marks():
    loss = np.random.default_rng(0).random(25) + 1
    fig = ft.live_curves_figure(loss, [], [], batches_per_epoch=10, beta=0.8)
    raw, smooth = fig.data[:2]
    assert (raw.xaxis, smooth.xaxis) == ("x", "x")  # the left panel
    np.testing.assert_allclose(raw.y, loss)
    np.testing.assert_allclose(smooth.y, pd.Series(loss).ewm(alpha=0.2, adjust=True).mean())
    assert [s.x0 for s in fig.layout.shapes] == [10.5, 20.5]  # boundaries after epochs 1 and 2
    assert {s.xref for s in fig.layout.shapes} == {"x"}
    empty = ft.live_curves_figure([], [], [])  # before the first batch: empty panels, no crash
    assert [t.name for t in empty.data] == ["loss per batch", "train", "validation", "learning rate"]


def test_live_curves_long_runs_are_thinned_after_smoothing():
    loss = np.random.default_rng(1).random(10_000) + 1
    lrs = np.geomspace(1e-2, 1e-4, 10_000)
    fig = ft.live_curves_figure(loss, [], lrs, beta=0.9, max_points=500)
    raw, smooth, *_, lr = fig.data
    assert 400 <= len(raw.x) <= 501 and raw.x[0] == 1 and raw.x[-1] == 10_000  # first and last step kept
    steps = np.asarray(raw.x) - 1
    np.testing.assert_allclose(raw.y, loss[steps])
    np.testing.assert_allclose(smooth.y, ft.ema(loss, 0.9)[steps])  # the EMA of every step, then thinned
    np.testing.assert_allclose(lr.y, lrs[np.asarray(lr.x) - 1])


def test_live_curves_accuracy_in_percent_and_learning_rate():
    epochs = [{"epoch": 1, "train_acc": 0.5, "val_acc": 0.4, "train_loss": 1.2, "val_loss": 1.3},
              {"epoch": 2, "train_acc": 0.9, "val_acc": None, "train_loss": 0.3, "val_loss": None}]
    lrs = np.geomspace(1e-5, 1, 50)
    fig = ft.live_curves_figure(np.ones(50), epochs, lrs)
    acc = [t for t in fig.data if t.xaxis == "x2"]
    assert [t.name for t in acc] == ["train", "validation"]
    assert list(acc[0].y) == [50.0, 90.0] and list(acc[1].y) == [40.0, None]
    (lr,) = [t for t in fig.data if t.xaxis == "x3"]
    np.testing.assert_allclose(lr.y, lrs)
    assert [a.text for a in fig.layout.annotations] == ["<b>Loss</b>", "<b>Accuracy</b>", "<b>Learning rate</b>"]
    assert fig.layout.xaxis.domain[1] < fig.layout.xaxis2.domain[0] < fig.layout.xaxis2.domain[1] \
        < fig.layout.xaxis3.domain[0]  # three panels side by side


def test_lr_figures():
    lrs = np.geomspace(1e-5, 1, 50)
    fig = ft.lr_finder_figure(lrs, np.linspace(2, 1, 50), 3e-3)
    assert fig.layout.xaxis.type == "log"
    assert fig.layout.shapes[0].x0 == pytest.approx(3e-3)  # shapes use data values on a log axis
    assert fig.layout.annotations[0].x == pytest.approx(np.log10(3e-3))  # annotations use log10
    assert len(ft.lr_finder_figure(lrs, np.ones(50), None).layout.shapes) == 0


def test_confusion_figure_against_torch_bincount():
    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    conf = torch.bincount(torch.from_numpy(y * 10 + p), minlength=100).reshape(10, 10).numpy()
    conf[3] = 0  # a class that never appears must not divide by zero
    fig = ft.confusion_figure(conf, CLASSES)
    z = np.asarray(fig.data[0].z, dtype=float)
    expected = torch.nn.functional.normalize(torch.from_numpy(conf).double(), p=1, dim=1).numpy()
    np.testing.assert_allclose(z, expected, atol=1e-12)
    assert fig.data[0].text[2][5] == str(conf[2, 5])
    np.testing.assert_array_equal(np.asarray(ft.confusion_figure(conf, CLASSES, normalise=False).data[0].z), conf)


@pytest.mark.parametrize("shape", [(5, 28, 28), (5, 1, 28, 28), (5, 3, 16, 16), (5, 16, 16, 3), (5, 28, 28, 1)])
def test_to_display_any_layout(shape):
    a = np.random.default_rng(2).random(shape)
    out = ft.to_display(a)
    assert out.dtype == np.uint8 and out.shape[0] == 5 and out.shape[-1] == 3 and out.ndim == 4
    if len(shape) == 3:
        np.testing.assert_array_equal(out[..., 0], (a * 255).astype(np.uint8))
    with pytest.raises(ValueError):
        ft.to_display(np.zeros((2, 5, 5, 7)))


def test_prediction_strip_pictures_frame_right_green_and_wrong_red():
    imgs = np.random.default_rng(3).integers(0, 255, (6, 1, 28, 28)).astype(np.uint8)
    labels, preds = [1, 2, 3, 4, 5, 6], [1, 0, 3, 4, 9, 6]
    pics, captions = ft.prediction_strip_pictures(imgs, labels, preds, [0.9] * 6, CLASSES, frame=3, side=56)
    assert captions[1] == "0 ✗ 90%" and captions[0] == "1 ✓ 90%"
    for pic, img, y, p in zip(pics, imgs, labels, preds):
        assert pic.shape == (62, 62, 3) and pic.dtype == np.uint8
        expected = ft.style.rgb(ft.WRONG if y != p else ft.RIGHT)
        assert (pic[0, :] == expected).all() and (pic[:, -1] == expected).all()  # the frame
        np.testing.assert_array_equal(pic[3:-3:2, 3:-3:2, 0], img[0])  # the digit, enlarged 2x (nearest)
    big = ft.prediction_strip_pictures(np.zeros((1, 3, 112, 112)), [0], [0], [0.5], CLASSES, frame=2)[0][0]
    assert big.shape == (116, 116, 3)  # large pictures are not enlarged


def test_filter_grid_shows_the_weights():
    w = np.random.default_rng(4).normal(size=(6, 1, 5, 5))
    fig = ft.filter_grid_figure(w, cols=3)
    z = np.asarray(fig.data[0].z, dtype=float)
    np.testing.assert_allclose(z[6:11, 6:11], w[4, 0])  # filter 4: row 1, column 1 (pad 1)
    assert fig.data[0].zmin == -fig.data[0].zmax == -np.abs(w).max()
    deep = ft.filter_grid_figure(np.ones((40, 12, 3, 3)), max_filters=10, max_inputs=4)
    assert np.asarray(deep.data[0].z).shape == (10 * 4 - 1, 4 * 4 - 1)
    assert isinstance(ft.filter_grid_figure(np.ones((8, 3, 3, 3))).data[0], go.Image)
    with pytest.raises(ValueError):
        ft.filter_grid_figure(np.ones((3, 3)))


def test_filter_grid_picture_colours_each_weight_on_the_diverging_scale():
    w = np.random.default_rng(5).normal(size=(6, 1, 5, 5))
    pic, caption = ft.filter_grid_picture(w, cols=3, px=4)
    lim = np.abs(w).max()
    assert pic.shape == ((2 * 6 - 1) * 4, (3 * 6 - 1) * 4, 3)  # 2 rows x 3 filters of 5 + 1 gap, 4 px each
    cell = pic[1 * 6 * 4 + 2 * 4, 1 * 6 * 4 + 3 * 4]  # filter 4 (row 1, column 1), weight (2, 3)
    np.testing.assert_array_equal(cell, ft.style.diverging_rgb(w[4, 0, 2, 3], lim))
    assert (pic[5 * 4, 0] == 255).all()  # the gap between rows is white
    assert f"±{lim:.3g}" in caption and "Blue = positive" in caption
    colour, _ = ft.filter_grid_picture(np.ones((4, 3, 3, 3)), px=2)
    assert colour.shape[2] == 3 and colour.max() == 255  # 3-input filters as colour pictures
    with pytest.raises(ValueError):
        ft.filter_grid_picture(np.ones((3, 3)))


def test_feature_maps_each_scaled_to_its_range():
    maps = np.random.default_rng(5).normal(size=(3, 6, 6)) * np.array([1, 10, 100])[:, None, None]
    z = np.asarray(ft.feature_maps_figure(maps, cols=3).data[0].z, dtype=float)
    for k in range(3):
        cell = z[:, k * 7: k * 7 + 6]
        m = maps[k]
        np.testing.assert_allclose(cell, (m - m.min()) / (m.max() - m.min()))
    vec = ft.feature_maps_figure(np.arange(10.0))
    assert isinstance(vec.data[0], go.Bar)


def test_histograms_compare_runs_probabilities_and_drawing():
    rng = np.random.default_rng(6)
    hist = []
    for e in (1, 2, 3):
        counts, edges = np.histogram(rng.normal(size=200), bins=20)
        hist.append((e, counts, edges))
    fig = ft.histograms_figure(hist, "conv1 weights")
    assert len(fig.data) == 3 and np.isclose(sum(fig.data[0].y), 1.0)
    runs = [("Run 1: Fast CNN, adam lr 0.002", [{"epoch": 1, "val_acc": 0.5}]), ("run 2", [{"epoch": 1, "val_acc": 0.75}])]
    fig = ft.compare_runs_figure(runs, "val_acc")
    assert [t.name for t in fig.data] == ["Run 1", "run 2"] and fig.data[1].y == (75.0,)
    assert fig.data[0].hovertemplate.startswith("Run 1: Fast CNN, adam lr 0.002<br>")  # the whole label on hover
    probs = torch.softmax(torch.randn(10), 0).numpy()
    bars = ft.probabilities_figure(probs, CLASSES).data[0]
    assert bars.marker.color[int(probs.argmax())] == ft.RIGHT
    ink = rng.random((50, 40))
    fig = ft.drawing_steps_figure(ink, ink[5:20], np.ones((20, 7)), np.zeros((28, 28)), (14.0, 13.5))
    assert len(fig.data) == 5 and fig.data[-1].x == (13.5,)
    assert len(ft.per_class_figure(np.linspace(0, 1, 10), CLASSES).data[0].y) == 10


def test_rank_examples_and_confusion_cells_against_torch():
    g = torch.Generator().manual_seed(7)
    probs = torch.softmax(3 * torch.randn(200, 10, generator=g), dim=1)
    labels = torch.randint(0, 10, (200,), generator=g)
    conf, pred = probs.max(dim=1)
    wrong = pred != labels
    top_wrong = ft.rank_examples(labels.numpy(), probs.numpy(), "confident_wrong", n=5)
    expected = torch.nonzero(wrong).flatten()[torch.argsort(conf[wrong], descending=True, stable=True)][:5]
    np.testing.assert_array_equal(top_wrong, expected.numpy())
    unsure = ft.rank_examples(labels.numpy(), probs.numpy(), "uncertain", n=3)
    np.testing.assert_array_equal(unsure, torch.argsort(conf, stable=True)[:3].numpy())
    right = ft.rank_examples(labels.numpy(), probs.numpy(), "confident_right", n=200)
    assert len(right) == int((~wrong).sum()) and bool((pred[right] == labels[right]).all())
    with pytest.raises(ValueError):
        ft.rank_examples(labels.numpy(), probs.numpy(), "nope")
    cell = ft.cell_indices(labels.numpy(), pred.numpy(), 3, 5)
    np.testing.assert_array_equal(cell, torch.nonzero((labels == 3) & (pred == 5)).flatten().numpy())
    imgs = np.zeros((200, 1, 8, 8), dtype=np.uint8)
    fig = ft.examples_figure(imgs, labels.numpy(), probs.numpy(), top_wrong, CLASSES)
    assert all(s.line.color == ft.WRONG for s in fig.layout.shapes) and len(fig.layout.shapes) == 5
    k = int(top_wrong[0])
    assert fig.layout.annotations[0].text == f"{labels[k].item()}→{pred[k].item()} {100 * conf[k].item():.0f}%"
    assert len(ft.examples_figure(imgs, labels.numpy(), probs.numpy(), np.array([], int), CLASSES).data) == 1


def test_gallery_image_is_the_mosaic_of_the_images():
    import base64
    import io

    from PIL import Image

    imgs = np.random.default_rng(8).integers(0, 255, (5, 1, 6, 6)).astype(np.uint8)
    fig = ft.gallery_figure(imgs, cols=5)
    src = fig.data[0].source
    assert src.startswith("data:image/png;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))))
    # gallery_figure leaves 6 rows for captions above 6-pixel tiles and 2 pixels between tiles
    for i in range(5):
        np.testing.assert_array_equal(decoded[6:12, i * 8: i * 8 + 6, 0], imgs[i, 0])


def test_heatmaps_use_the_style_scales_with_a_colour_bar():
    """One colour language (issue 12): the confusion matrix and feature maps take the style module's scale and a key."""
    import numpy as np

    from explainers.figures import style
    from explainers.figures import training as ft

    conf = ft.confusion_figure(np.array([[5, 1], [2, 7]]), ["cat", "dog"]).data[0]
    maps = ft.feature_maps_figure(np.random.default_rng(0).normal(size=(4, 6, 6))).data[0]
    for trace in (conf, maps):
        assert trace.showscale and trace.colorbar.title.text
        assert [tuple(c) for c in trace.colorscale] == [tuple(c) for c in go.Figure(
            go.Heatmap(z=[[0]], colorscale=style.SEQUENTIAL)).data[0].colorscale]
