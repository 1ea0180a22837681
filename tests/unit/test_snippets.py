"""Every "PyTorch equivalent" snippet runs as shown, for the defaults and other settings, and computes
the numbers its page shows (our maths is checked against PyTorch elsewhere; here PyTorch runs our text)."""

from __future__ import annotations

import ast

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from explainers import backprop as bp
from explainers import perceptron as pc
from explainers import pooling as pl
from explainers import snippets
from explainers.convolution import apply_kernel
from explainers.images import sample_images
from explainers.kernels import kernel
from models import MODELS, build_model


def run(code: str) -> dict:
    """Execute a snippet in a clean namespace (it must import everything it needs itself)."""
    ast.parse(code)  # a syntax error gets a clear report
    scope: dict = {"__name__": "__snippet__"}
    exec(compile(code, "<snippet>", "exec"), scope)  # noqa: S102 - our own generated snippet, meant to be pasted and run
    return scope


# --- Perceptron ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("x, w, b, act", [
    ([0.7, 0.6, 1.4], [0.5, -1.0, 0.8], 0.1, "sigmoid"),  # the page's defaults
    ([1.0, 0.0], [2.0, -1.0], 0.0, "step"),  # whole numbers: must still be float tensors
    ([-2.0, 0.5, 1.0, 0.3, -0.5], [0.4, -0.2, 1.5, 2.0, -2.0], -3.0, "leaky_relu"),
    ([0.2, -1.1], [1.0, 1.0], 0.5, "tanh"), ([0.2, -1.1], [1.0, 1.0], -0.5, "relu"),
    ([0.2, -1.1], [1.0, 1.0], 0.5, "linear"),
])
def test_perceptron_neuron_snippet_gives_the_pages_z_and_a(x, w, b, act):
    out = pc.neuron_forward(np.array(x), np.array(w), b, act)
    ns = run(snippets.perceptron_neuron_snippet(np.array(x), np.array(w), b, act, out.z, out.a))
    assert ns["z"].item() == pytest.approx(out.z, rel=1e-5, abs=1e-6)
    assert ns["a"].item() == pytest.approx(out.a, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("hidden", [2, 8])
def test_perceptron_layers_snippet_builds_both_stacks(hidden):
    ns = run(snippets.perceptron_layers_snippet(hidden))
    assert ns["linear_stack"](torch.zeros(5, 2)).shape == (5, 1)
    assert sum(p.numel() for p in ns["with_relu"].parameters()) == 2 * hidden + hidden + hidden + 1
    assert isinstance(ns["with_relu"][1], torch.nn.ReLU)


def run_script(code: str) -> str:
    """Run a snippet as a learner would paste it: a fresh interpreter (-I: no repo on the path), its stdout."""
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=120,
                          cwd="/")
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("x, w, b, act", [([0.7, 0.6, 1.4], [0.5, -1.0, 0.8], 0.1, "sigmoid"),
                                          ([0.7, -0.9], [0.5, 0.5], 0.1, "tanh")])
def test_perceptron_neuron_snippet_prints_the_pages_numbers(x, w, b, act):
    out = pc.neuron_forward(np.array(x), np.array(w), b, act)
    printed = run_script(snippets.perceptron_neuron_snippet(np.array(x), np.array(w), b, act, out.z, out.a))
    z, a = (float(part.split("=")[1]) for part in printed.strip().split(","))
    assert z == pytest.approx(out.z, abs=6e-5) and a == pytest.approx(out.a, abs=6e-5)
    assert f"{pc.fixed(out.a, 4)}" in printed.replace("-0.0000", "0.0000")  # the page's Output line


@pytest.mark.parametrize("units", [1, 4, 32])
def test_perceptron_curve_snippet_prints_the_pages_error(units):
    printed = run_script(snippets.perceptron_curve_snippet(units))
    assert printed.strip() == f"mse = {pc.fit_curve(units).mse:.4f}"


# --- Backprop ----------------------------------------------------------------------------------------------


def test_backprop_snippet_prints_the_pages_loss_on_xor():
    """Issue 12 item 1: on the default page (XOR, integer corners) the pasted snippet runs and prints the page's L."""
    X, Y = bp.make_problem("XOR")
    params = bp.init_params(2, 0)
    for example in range(len(Y)):
        x, y = X[example], float(Y[example])
        loss_now, grads = bp.engine_gradients(params, x, y, "tanh", "bce")
        code = snippets.backprop_snippet(params.w1, params.b1, params.w2, params.b2, x, y, "tanh", "bce", 1.0,
                                         loss_now)
        lines = run_script(code).strip().splitlines()
        assert lines[0] == f"loss = {loss_now:.4f}"
        shown = ast.literal_eval(lines[1].split(":", 1)[1].strip())
        np.testing.assert_allclose(shown, grads, atol=1.5e-4)  # rounded to 4 decimals, float32


def _backprop(params: bp.MLPParams, x: np.ndarray, y: float, act: str, loss: str, lr: float) -> None:
    loss_now, grads = bp.engine_gradients(params, x, y, act, loss)
    code = snippets.backprop_snippet(params.w1, params.b1, params.w2, params.b2, x, y, act, loss, lr, loss_now)
    ns = run(code)
    assert f"# {loss_now:.4f}" in code  # the loss the page shows, in the comment
    assert ns["loss"].item() == pytest.approx(loss_now, rel=1e-5)  # float32 in the snippet
    after = np.concatenate([t.detach().numpy().ravel() for t in ns["net"].parameters()])
    np.testing.assert_allclose(after, params.vector() - lr * grads, rtol=1e-5, atol=1e-6)


def test_pytorch_snippet_runs_and_reproduces_the_page():
    p, x, lr = bp.init_params(3, 4), np.array([0.25, -0.5]), 0.3
    _backprop(p, x, 1.0, "relu", "bce", lr)


def test_backprop_snippet_runs_on_the_pages_defaults():
    # XOR's corners are whole numbers: torch.tensor([0, 1]) would be an integer tensor and Linear refuses it.
    X, Y = bp.make_problem("XOR")
    for example in range(len(Y)):
        _backprop(bp.init_params(2, 0), X[example], float(Y[example]), "tanh", "bce", 1.0)


@pytest.mark.parametrize("problem, act, loss, hidden", [("AND", "sigmoid", "mse", 1), ("moons", "tanh", "mse", 4),
                                                        ("circle", "relu", "bce", 3)])
def test_backprop_snippet_other_settings(problem, act, loss, hidden):
    X, Y = bp.make_problem(problem)
    params = bp.params_from_vector(np.round(bp.init_params(hidden, 7).vector() * 1.5, 3), hidden)
    _backprop(params, X[3], float(Y[3]), act, loss, 0.03)


# --- Convolution -----------------------------------------------------------------------------------------


def test_convolution_snippet_opens_a_photo_whose_name_has_quotes(tmp_path, monkeypatch):
    name = 'my "best" it\'s.png'  # an upload's own name, quotes and all
    Image.fromarray((sample_images()["Shapes"][:20, :24] * 255).round().astype(np.uint8)).save(tmp_path / name)
    code = snippets.convolution_snippet(kernel("Sobel x"), photo=name, colour="grey", stride=1, padding=1, dilation=1,
                                        padding_mode="zeros", bias=0.0, relu=False)
    ast.parse(code)
    monkeypatch.chdir(tmp_path)
    assert run(code)["y"].shape[-2:] == (20, 24)


@pytest.mark.parametrize("colour", ["grey", "rgb", "depthwise"])
@pytest.mark.parametrize("name, settings_", [
    ("Emboss", {"stride": 2, "padding": 1, "dilation": 1, "padding_mode": "replicate", "bias": 0.3, "relu": True}),
    ("Sobel x", {"stride": 1, "padding": "same", "dilation": 2, "padding_mode": "zeros", "bias": 0.0, "relu": False}),
])
def test_pytorch_snippet_runs_and_reproduces_the_convolution_page(tmp_path, colour, name, settings_, monkeypatch):
    image = sample_images()["Shapes"][:40, :48]
    path = tmp_path / "your_photo.png"
    Image.fromarray((image * 255).round().astype(np.uint8)).save(path)
    image8 = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255
    k = kernel(name)
    code = snippets.convolution_snippet(k, colour=colour, **settings_)
    monkeypatch.chdir(tmp_path)
    scope = run(code)
    demo = apply_kernel(image8, k, colour=colour, **settings_)
    # The snippet greys in float32 like the page (never Pillow's 8-bit "L"), so greyscale matches as closely.
    np.testing.assert_allclose(scope["y"][0].numpy(), demo.output, atol=1e-5)


# --- Pooling -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_kernel", [True, False])
@pytest.mark.parametrize("size, k, s, p, d, ceil, cip", [(16, 3, 2, 1, 2, True, False), (32, 2, 2, 0, 1, False, True)])
def test_pooling_snippet_runs_and_matches_our_maths(with_kernel, size, k, s, p, d, ceil, cip):
    kern = kernel("Sobel y") if with_kernel else None
    code = snippets.pooling_snippet(size, kern, "Sobel y", k, s, p, d, ceil, cip)
    ns = run(code)
    x = ns["x"][0, 0].double().numpy()
    feature = pl.detector_block(x, kern).feature
    mx, av = pl.pool_both(feature, k, s, p, d, ceil, cip)
    np.testing.assert_allclose(ns["y"][0].detach().numpy(), mx.output, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(ns["indices"][0].numpy(), mx.indices)
    np.testing.assert_allclose(ns["z"][0].detach().numpy(), av.output, rtol=1e-5, atol=1e-5)
    assert f"# both {(1, *mx.output.shape)}" in code and f"# {(1, *av.output.shape)}" in code  # the shapes shown


# --- Trainer: Grad-CAM -------------------------------------------------------------------------------------


@pytest.mark.parametrize("size, layer", [(32, None), (64, "features.3")])
def test_gradcam_snippet_matches_the_engine(size, layer):
    from explainers.training.gradcam import grad_cam

    torch.manual_seed(0)
    model = build_model("catsdogs_cnn", 3, size, 2)
    layer = layer or model.gradcam_layer
    x = torch.randn(3, 3, size, size)
    expected = grad_cam(model, x, layer)
    scope = {"model": model, "x": x.clone()}  # the snippet works on the trained model and a batch
    exec(compile(snippets.gradcam_snippet(layer, size), "<snippet>", "exec"), scope)  # noqa: S102
    np.testing.assert_allclose(scope["cam"].detach().numpy(), expected.heatmaps, atol=1e-5)


# --- Trainer: the whole script -------------------------------------------------------------------------------

DEFAULTS = {"model": "fast_cnn", "optimizer": "adam", "lr": 2e-3, "weight_decay": 0.0, "scheduler": "onecycle",
            "epochs": 2, "batch_size": 128, "l1": 0.0, "dropout": 0.1}  # pages/widgets/trainer/setup.py DEFAULTS


def _folder(root, classes: int, size: int, mode: str, per_class: int = 3) -> None:
    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            shape = (size + 3, size + 1) if mode == "L" else (size + 3, size + 1, 3)  # resized by the loader
            Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode).save(root / f"class{c}" / f"{i}.png")


def test_trainer_snippet_defaults_train_on_a_folder(tmp_path, monkeypatch, capsys):
    code = snippets.trainer_snippet(dataset="synthetic-digits", channels=1, image_size=28, num_classes=10,
                                    mean=(0.1307,), std=(0.3081,), **DEFAULTS)
    assert "from models" not in code and "explainers" not in code  # self-contained
    _folder(tmp_path / "my_pictures", 10, 28, "L")
    monkeypatch.chdir(tmp_path)
    ns = run(code)
    assert ns["train_x"].shape[1:] == (1, 28, 28) and len(ns["train_y"]) + len(ns["test_y"]) == 30
    assert "test accuracy:" in capsys.readouterr().out
    assert 0.0 <= ns["accuracy"] <= 1.0


class _FakeMNIST:
    def __init__(self, root, train=True, download=False):
        g = torch.Generator().manual_seed(int(train))
        n = 40 if train else 12
        self.data = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=g)
        self.targets = torch.randint(0, 10, (n,), generator=g)
        self.classes = [str(k) for k in range(10)]


class _FakeCIFAR:
    def __init__(self, root, train=True, download=False):
        rng = np.random.default_rng(int(train))
        self.data = rng.integers(0, 256, (30, 32, 32, 3), dtype=np.uint8)
        self.targets = [int(t) for t in rng.integers(0, 10, 30)]


def test_trainer_snippet_other_settings_on_torchvision_data(monkeypatch):
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", _FakeMNIST)
    code = snippets.trainer_snippet(dataset="fashion-mnist", channels=1, image_size=28, num_classes=10,
                                    mean=(0.286,), std=(0.353,), model="small_cnn", optimizer="sgd_momentum", lr=0.05,
                                    weight_decay=1e-3, scheduler="cosine", epochs=3, batch_size=32, l1=1e-5,
                                    dropout=0.3)
    # the strings tests/app/test_trainer_page.py looks for in the page
    assert "torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=0.001)" in code
    assert "CosineAnnealingLR" in code and "1e-05 * sum(m.weight.abs()" in code and "range(3)" in code
    ns = run(code)
    assert isinstance(ns["scheduler"], torch.optim.lr_scheduler.CosineAnnealingLR)
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", _FakeCIFAR)
    ns = run(snippets.trainer_snippet(dataset="cifar-catsdog", channels=3, image_size=32, num_classes=2,
                                      mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), model="bn_convnet", optimizer="sgd",
                                      lr=0.01, weight_decay=0.0, scheduler="step", epochs=1, batch_size=16, l1=0.0,
                                      dropout=0.25))
    assert set(ns["train_y"].tolist()) <= {0, 1} and ns["train_x"].shape[1:] == (3, 32, 32)


def test_trainer_snippet_transfer_learning_on_a_folder(tmp_path, monkeypatch):
    real = torchvision.models.resnet18
    monkeypatch.setattr(torchvision.models, "resnet18", lambda weights=None: real(weights=None))  # offline
    _folder(tmp_path / "pets", 2, 64, "RGB", per_class=4)
    monkeypatch.chdir(tmp_path)
    code = snippets.trainer_snippet(dataset="folder:pets@64", channels=3, image_size=64, num_classes=2,
                                    mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), model="resnet18_frozen",
                                    optimizer="adamw", lr=1e-3, weight_decay=1e-4, scheduler="none", epochs=1,
                                    batch_size=4, l1=0.0, dropout=0.2)
    ns = run(code)
    trainable = [n for n, p in ns["model"].named_parameters() if p.requires_grad]
    assert trainable == ["fc.1.weight", "fc.1.bias"] and ns["scheduler"] is None


@pytest.mark.parametrize("name", sorted(MODELS))
def test_trainer_snippet_models_have_the_apps_parameter_shapes(name, monkeypatch):
    channels, size = (3, 64) if name.startswith(("resnet", "catsdogs")) else (1, 28)
    real = torchvision.models.resnet18
    monkeypatch.setattr(torchvision.models, "resnet18", lambda weights=None: real(weights=None))
    code = snippets.trainer_snippet(dataset="mnist", channels=channels, image_size=size, num_classes=2,
                                    mean=(0.5,) * channels, std=(0.5,) * channels, **{**DEFAULTS, "model": name})
    head = code.split("optimizer = ")[0].split("model = ", 1)[1]
    scope = run("import torch\nimport torchvision\nfrom torch import nn\nmodel = " + head)
    ours = [tuple(p.shape) for p in scope["model"].parameters()]
    app = build_model(name, channels, size, 2, DEFAULTS["dropout"]) if not name.startswith("resnet") else \
        build_model(name, channels, size, 2, DEFAULTS["dropout"]).backbone
    assert ours == [tuple(p.shape) for p in app.parameters()]
    assert scope["model"](torch.zeros(2, channels, size, size)).shape == (2, 2)


def test_every_page_snippet_comes_from_this_module():
    import pathlib
    import re

    root = pathlib.Path(snippets.__file__).parents[1] / "pages"
    for path in root.rglob("*.py"):
        for call in re.findall(r"(?<!def )pytorch_snippet\((.{0,40})", path.read_text()):
            call = call.removeprefix("lambda: ")  # built only when the learner opens it
            assert call.startswith("snippets.") or call.startswith("setup.snippet"), (path.name, call)


# --- Trainer: pasted into a clean interpreter (issue 12, item 9) ----------------------------------------------


@pytest.mark.parametrize("settings", [
    DEFAULTS,
    {**DEFAULTS, "model": "mlp", "optimizer": "sgd", "lr": 0.05, "weight_decay": 1e-3, "l1": 1e-4,
     "scheduler": "none", "epochs": 1, "batch_size": 16, "dropout": 0.0},
    {**DEFAULTS, "model": "small_cnn", "optimizer": "adamw", "weight_decay": 1e-2, "scheduler": "step", "epochs": 1},
], ids=["defaults", "mlp-sgd-l1", "small-cnn-adamw"])
def test_trainer_snippet_runs_alone_and_prints_the_model_cards_parameter_count(tmp_path, settings):
    """Only torch, torchvision, numpy and Pillow: -I keeps this repo off the path; the data is a folder of PNGs."""
    import subprocess
    import sys

    from explainers.training import actions
    _folder(tmp_path / "my_pictures", 10, 28, "L")
    code = snippets.trainer_snippet(dataset="synthetic-digits", channels=1, image_size=28, num_classes=10,
                                    mean=(0.1307,), std=(0.3081,), **settings)
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    card = actions.model_card(settings["model"], 1, 28, 10)  # what the page's model card shows
    assert f"parameters: {card.parameters:,}" in done.stdout
    assert "test accuracy:" in done.stdout


@pytest.mark.parametrize("name", ["fast_cnn", "bn_convnet", "mlp"])
def test_trainer_snippet_l1_is_the_engines_weights_only_penalty(name):
    """The snippet's L1 line adds exactly the engine's l1_penalty (conv and linear weights; no biases, no BN)."""
    from explainers.training.build import l1_penalty
    code = snippets.trainer_snippet(dataset="mnist", channels=1, image_size=28, num_classes=10, mean=(0.5,),
                                    std=(0.5,), **{**DEFAULTS, "model": name, "l1": 1e-3})
    line = next(ln.strip() for ln in code.splitlines() if "abs().sum()" in ln)
    model = build_model(name, 1, 28, 10, 0.1)
    for p in model.parameters():  # non-zero biases and batch-norm shifts/scales would show a wrong sum
        torch.nn.init.uniform_(p, -1, 1)
    scope = {"torch": torch, "nn": torch.nn, "model": model, "loss": torch.tensor(0.0)}
    exec(line, scope)  # noqa: S102 - our own generated line
    torch.testing.assert_close(scope["loss"], l1_penalty(model, 1e-3)(model))
