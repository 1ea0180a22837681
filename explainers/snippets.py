"""Every "PyTorch equivalent" the pages show: runnable code built from the current settings.

Each builder takes plain values (numbers, arrays, names) and returns the source text; the page
shows it in the snippet box. tests/unit/test_snippets.py executes every one of them (the defaults
and other settings) and compares the numbers the page shows, so a snippet that crashes fails CI.
Numbers are written as float literals (``1.0``, never ``1``): ``torch.tensor([0, 1])`` would be an
integer tensor, and ``nn.Linear`` refuses integers.
No torch here: the snippets are text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from explainers import cnn
from explainers.pooling import check_pool

__all__ = ["backprop_snippet", "convolution_snippet", "gradcam_snippet", "perceptron_curve_snippet",
           "perceptron_layers_snippet", "perceptron_neuron_snippet", "pooling_snippet", "trainer_snippet"]


def _f(value: float, fmt: str = ".6g") -> str:
    """A float literal with the given precision that Python and torch read as a float ('1.0', '0.25', '1e-05')."""
    text = format(float(value), fmt)
    return text if any(c in text for c in ".eEn") else text + ".0"  # "n": inf / nan


def _vector(values: Sequence[float] | np.ndarray, fmt: str = ".6g") -> str:
    """(n,) -> '[1.0, -0.5, ...]'."""
    return "[" + ", ".join(_f(v, fmt) for v in np.asarray(values, dtype=float).ravel()) + "]"


def _matrix(values: np.ndarray, fmt: str = ".6g", indent: str = "") -> str:
    """(r, c) -> '[[...], [...]]', one row per line after the first when indent is given."""
    sep = ",\n" + indent if indent else ", "
    return "[" + sep.join(_vector(row, fmt) for row in np.asarray(values, dtype=float)) + "]"


# --- Perceptron -----------------------------------------------------------------------------------------

_PERCEPTRON_ACTIVATIONS = {"step": "(z >= 0).float()", "sigmoid": "torch.sigmoid(z)", "tanh": "torch.tanh(z)",
                           "relu": "torch.relu(z)", "leaky_relu": "F.leaky_relu(z, 0.01)", "linear": "z"}


def perceptron_neuron_snippet(x: Sequence[float], w: Sequence[float], bias: float, activation: str, z: float,
                              a: float) -> str:
    """One neuron as nn.Linear(n, 1) with the page's inputs x (n,), weights w (n,) and bias; z, a as comments."""
    return (
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"
        f"neuron = nn.Linear({len(w)}, 1)\nwith torch.no_grad():\n"
        f"    neuron.weight.copy_(torch.tensor({_vector(w, 'g')}).unsqueeze(0))\n"
        f"    neuron.bias.fill_({_f(bias, 'g')})\n\n"
        f"x = torch.tensor({_vector(x, 'g')})\n"
        f"z = neuron(x)          # tensor([{z:.4f}])\na = {_PERCEPTRON_ACTIVATIONS[activation]}   # {a:.4f}\n"
        'print(f"z = {z.item():.4f}, a = {a.item():.4f}")'
    )


def perceptron_layers_snippet(hidden: int) -> str:
    """Two linear layers with and without a ReLU between them (2 -> hidden -> 1)."""
    return (
        "import torch.nn as nn\n\n"
        f"linear_stack = nn.Sequential(nn.Linear(2, {hidden}), nn.Linear({hidden}, 1))        # still a line\n"
        f"with_relu    = nn.Sequential(nn.Linear(2, {hidden}), nn.ReLU(), nn.Linear({hidden}, 1))  # can bend"
    )


def perceptron_curve_snippet(units: int, seed: int = 0) -> str:
    """The universal-approximation fit: `units` ReLU ramps with seeded kinks, output layer by least squares."""
    return f"""import numpy as np
import torch

# The same kinks as the page: the first {units} of one seeded sequence; each unit is relu(±x + b).
rng = np.random.default_rng({seed})
kinks = rng.uniform(-1, 1, 64)[:{units}]
signs = rng.choice([-1.0, 1.0], 64)[:{units}]
hidden = torch.nn.Linear(1, {units}).double()
output = torch.nn.Linear({units}, 1).double()
with torch.no_grad():
    hidden.weight.copy_(torch.tensor(signs).unsqueeze(1))
    hidden.bias.copy_(torch.tensor(-signs * kinks))

x = torch.linspace(-1, 1, 400, dtype=torch.float64).unsqueeze(1)  # (400, 1)
target = torch.sin(3 * x) + 0.5 * torch.sin(9 * x) + 0.3 * x
features = torch.relu(hidden(x))  # (400, {units})
design = torch.cat([features, torch.ones_like(x)], dim=1)
coef = torch.linalg.lstsq(design, target).solution  # the best output layer for these kinks
with torch.no_grad():
    output.weight.copy_(coef[:-1].T)
    output.bias.copy_(coef[-1])
net = torch.nn.Sequential(hidden, torch.nn.ReLU(), output)
mse = torch.mean((net(x) - target) ** 2)
print(f"mse = {{mse.item():.4f}}")
"""


# --- Backprop -------------------------------------------------------------------------------------------

_BACKPROP_ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "ReLU"}


def backprop_snippet(w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: float, x: Sequence[float], y: float,
                     activation: str, loss: str, lr: float, loss_now: float) -> str:
    """The page's MLP (w1 (H, 2), b1 (H,), w2 (H,), b2), example x (2,) and target y, and one SGD step."""
    h = len(b1)
    loss_code = "(p - y) ** 2" if loss == "mse" else "torch.nn.functional.binary_cross_entropy(p, y)"
    r3 = ".3f"  # the sliders' precision
    return f"""import torch

x = torch.tensor({_vector(x)}); y = torch.tensor({_f(y)})
net = torch.nn.Sequential(torch.nn.Linear(2, {h}), torch.nn.{_BACKPROP_ACTIVATIONS[activation]}(),
                          torch.nn.Linear({h}, 1), torch.nn.Sigmoid())
with torch.no_grad():  # the weights on the page
    net[0].weight.copy_(torch.tensor({_matrix(w1, r3)}))
    net[0].bias.copy_(torch.tensor({_vector(b1, r3)}))
    net[2].weight.copy_(torch.tensor([{_vector(w2, r3)}]))
    net[2].bias.fill_({_f(b2, r3)})
optimizer = torch.optim.SGD(net.parameters(), lr={_f(lr, 'g')})

p = net(x).squeeze()
loss = {loss_code}  # {loss_now:.4f}
optimizer.zero_grad()
loss.backward()    # every parameter's .grad: the table on the page
optimizer.step()   # w <- w - lr * w.grad
print(f"loss = {{loss.item():.4f}}")
print("gradients:", [round(g, 4) for q in net.parameters() for g in q.grad.flatten().tolist()])
"""


# --- Convolution ----------------------------------------------------------------------------------------


def convolution_snippet(kernel: np.ndarray, *, colour: str, stride: int | tuple[int, int],
                        padding: int | tuple[int, int] | str, dilation: int | tuple[int, int], padding_mode: str,
                        bias: float, relu: bool, pixel: tuple[int, int] | None = None,
                        photo: str = "your_photo.png", max_side: int = 512) -> str:
    """The nn.Conv2d code that reproduces the page's picture from a (kh, kw) kernel and the page's settings.

    It reads a photo as explainers.images.load_image does (JPEG shrink-on-decode, whole-block shrink of
    huge pictures, EXIF rotation, float32 in [0, 1], Lanczos to `max_side` in float, ITU-R 601 grey in
    float32, never Pillow's 8-bit "L"), so it prints the page's value at `pixel` (output row, column) for
    an opaque photo (semi-transparent pixels may differ by about 1/255: the page composites in float).
    """
    c_in, c_out, groups = {"grey": (1, 1, 1), "rgb": (3, 1, 1), "depthwise": (3, 3, 3)}[colour]
    kh, kw = np.asarray(kernel).shape
    load = [
        f"im = Image.open({json.dumps(photo, ensure_ascii=False)})",  # a name with quotes stays one string
        f'im.draft("RGB", ({max_side}, {max_side}))  # JPEG: decode at a smaller scale, as the page does',
        'if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:  # transparency goes on white',
        '    im = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im.convert("RGBA"))',
        'im = im.convert("RGB")',
        f"factor = max(im.size) // (2 * {max_side})  # a huge picture is first shrunk by whole blocks",
        "if factor >= 2:",
        "    im = im.reduce(factor)",
        "im = ImageOps.exif_transpose(im)  # phones store the rotation in EXIF",
        "img = np.asarray(im, dtype=np.float32) / 255  # (H, W, 3) in [0, 1]",
        f"if max(img.shape[:2]) > {max_side}:  # then to {max_side} px on the long side, in float, channel by channel",
        f"    scale = {max_side} / max(img.shape[:2])",
        "    size = (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale)))",
        '    img = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(img[..., c]), mode="F")',
        "                               .resize(size, Image.Resampling.LANCZOS)) for c in range(3)], axis=-1)",
        "    img = np.clip(img, 0, 1).astype(np.float32)",
    ]
    if colour == "grey":
        load += [
            "grey = img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # (H, W), float: no 8-bit rounding",
            "x = torch.from_numpy(grey)[None, None]  # (1, 1, H, W)",
        ]
    else:
        load.append("x = torch.from_numpy(img).permute(2, 0, 1)[None]  # (1, 3, H, W)")
    pad_arg = f'"{padding}"' if isinstance(padding, str) else str(padding)
    lines = [
        "import numpy as np",
        "import torch",
        "import torch.nn as nn",
        "from PIL import Image, ImageOps",
        "",
        *load,
        "kernel = torch.tensor([",
        f"    {_matrix(kernel, '.9g', '    ')[1:-1]},",
        f"], dtype=torch.float32)  # ({kh}, {kw})",
        f"conv = nn.Conv2d({c_in}, {c_out}, kernel_size=({kh}, {kw}), stride={stride}, padding={pad_arg},",
        f'                 dilation={dilation}, groups={groups}, bias=True, padding_mode="{padding_mode}")',
        "with torch.no_grad():",
        f"    conv.weight.copy_(kernel.expand({c_out}, {c_in // groups}, {kh}, {kw}))  # the same kernel on every channel",
        f"    conv.bias.fill_({_f(bias, '.6g')})",
        f"    y = conv(x)  # (1, {c_out}, H_out, W_out)",
    ]
    if relu:
        lines.append("    y = torch.relu(y)  # negative values become 0")
    lines.append("print(tuple(y.shape))")
    if pixel is not None:
        r, c = pixel
        lines.append(f"print([round(v, 4) for v in y[0, :, {r}, {c}].tolist()])  # the page's pixel (row {r}, column {c})")
    return "\n".join(lines)


# --- Pooling --------------------------------------------------------------------------------------------


def pooling_snippet(size: int, kernel: np.ndarray | None, kernel_name: str, k: int, s: int, p: int, d: int,
                    ceil_mode: bool, count_include_pad: bool) -> str:
    """Conv -> ReLU (when a (kh, kw) kernel is given) then max and average pooling on a size×size picture."""
    lines = ["import torch", "import torch.nn as nn", "", f"x = torch.rand(1, 1, {size}, {size})  # (batch, channels, H, W)"]
    if kernel is not None:
        kh, kw = np.asarray(kernel).shape
        lines += [
            f"conv = nn.Conv2d(1, 1, kernel_size=({kh}, {kw}), padding='same', padding_mode='replicate', bias=False)",
            "with torch.no_grad():",
            f"    conv.weight.copy_(torch.tensor([\n    {_matrix(kernel, '.4g', '    ')[1:-1]}]))  # {kernel_name}",
            "features = torch.relu(conv(x))  # conv -> ReLU, same size as x",
        ]
    else:
        lines.append("features = x")
    mx = check_pool((1, size, size), "max", k, s, p, d, ceil_mode)
    av = check_pool((1, size, size), "avg", k, s, p, 1, ceil_mode, count_include_pad)
    lines += [
        "",
        (f"max_pool = nn.MaxPool2d(kernel_size={k}, stride={s}, padding={p}, dilation={d}, "
         f"ceil_mode={ceil_mode}, return_indices=True)"),
        f"y, indices = max_pool(features)  # both {(1, *mx.out_shape)}",
        (f"avg_pool = nn.AvgPool2d(kernel_size={k}, stride={s}, padding={p}, ceil_mode={ceil_mode}, "
         f"count_include_pad={count_include_pad})"),
        f"z = avg_pool(features)  # {(1, *av.out_shape)}",
        "",
        "print(sum(q.numel() for q in max_pool.parameters()))  # 0: pooling has nothing to learn",
    ]
    return "\n".join(lines)


# --- Trainer: Grad-CAM ----------------------------------------------------------------------------------


def gradcam_snippet(layer: str, image_size: int) -> str:
    """Grad-CAM on a trained `model` for a batch `x` (B, 3, S, S), hooked at the named layer."""
    s = image_size
    return (
        "import torch\nimport torch.nn.functional as F\n\nfeats = {}\n"
        f"hook = model.get_submodule({layer!r}).register_forward_hook(\n"
        "    lambda module, inputs, out: feats.update(A=out))\n"
        f"model.eval()\nlogits = model(x.requires_grad_())  # x: (B, 3, {s}, {s}), normalised\nhook.remove()\n"
        "score = logits.gather(1, logits.argmax(1, keepdim=True)).sum()  # y^c of the predicted class\n"
        "(grad,) = torch.autograd.grad(score, feats['A'])  # (B, K, h, w)\n"
        "alpha = grad.mean(dim=(2, 3), keepdim=True)  # (B, K, 1, 1): how much each map matters\n"
        "cam = F.relu((alpha * feats['A']).sum(1))  # (B, h, w)\n"
        f"cam = F.interpolate(cam[:, None], size=({s}, {s}), mode='bilinear')[:, 0]\n"
        "cam = cam / cam.amax(dim=(1, 2), keepdim=True).clamp_min(1e-12)  # 0..1 per picture"
    )


# --- Trainer: the whole training loop -------------------------------------------------------------------

# The trainer's networks written out as plain torch (models/ holds the real classes; a test checks
# that these have exactly their parameter shapes). {c} channels, {s} image side, {k} classes, {p} dropout.
_MODEL_CODE = {
    "mlp": """nn.Sequential(
    nn.Flatten(),  # (B, {c}*{s}*{s})
    nn.Linear({c} * {s} * {s}, 64), nn.ReLU(), nn.Dropout({p}),
    nn.Linear(64, 64), nn.ReLU(), nn.Dropout({p}),
    nn.Linear(64, 64), nn.ReLU(), nn.Dropout({p}),
    nn.Linear(64, {k}),  # (B, {k}) logits
)""",
    "small_cnn": """nn.Sequential(
    nn.Conv2d({c}, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(6, 12, 5), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(),  # (B, 12*{q}*{q})
    nn.Linear(12 * {q} * {q}, 120), nn.ReLU(),
    nn.Linear(120, 60), nn.ReLU(),
    nn.Linear(60, {k}),  # (B, {k}) logits
)""",
    "bn_convnet": """nn.Sequential(
    nn.Conv2d({c}, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
    nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
    nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Dropout({p}),  # (B, 64*{q}*{q})
    nn.Linear(64 * {q} * {q}, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Dropout({p}),
    nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Dropout({p}),
    nn.Linear(512, {k}),  # (B, {k}) logits
)""",
    "fast_cnn": """nn.Sequential(
    nn.Conv2d({c}, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
    nn.AdaptiveMaxPool2d(3),  # (B, 64, 3, 3) whatever the input size
    nn.Flatten(), nn.Dropout({p}),
    nn.Linear(64 * 9, {k}),  # (B, {k}) logits
)""",
    "catsdogs_cnn": """nn.Sequential(
    nn.Conv2d({c}, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Dropout({p}),  # (B, 128*{q}*{q})
    nn.Linear(128 * {q} * {q}, 512), nn.ReLU(),
    nn.Linear(512, {k}),  # (B, {k}) logits
)""",
}
_RESNET_CODE = """torchvision.models.resnet18(weights="IMAGENET1K_V1")  # pre-trained on ImageNet (45 MB once)
model.fc = nn.Sequential({head}nn.Linear(model.fc.in_features, {k}))  # a new {k}-way head{freeze}"""
_FREEZE = """
for name, param in model.named_parameters():  # frozen backbone: only the new head learns
    param.requires_grad = name.startswith("fc.")"""
MODEL_SIDES = {"small_cnn": lambda s: ((s - 4) // 2 - 4) // 2, "bn_convnet": lambda s: s // 4,
               "catsdogs_cnn": lambda s: s // 16}  # the side of the last feature map, for the Linear after it


def _model_code(model: str, channels: int, image_size: int, num_classes: int, dropout: float) -> str:
    if model.startswith("resnet18"):
        head = f"nn.Dropout({_f(dropout, 'g')}), " if dropout > 0 else ""
        return _RESNET_CODE.format(k=num_classes, head=head, freeze=_FREEZE if model == "resnet18_frozen" else "")
    if model not in _MODEL_CODE:
        raise ValueError(f"no PyTorch snippet for model {model!r}; choose one of {sorted(_MODEL_CODE)}")
    side = MODEL_SIDES.get(model, lambda s: s)(image_size)
    return _MODEL_CODE[model].format(c=channels, s=image_size, k=num_classes, p=_f(dropout, "g"), q=side)


_FOLDER_LOADER = '''def load_data():
    """Pictures in DATA_DIR/<class name>/*.png|jpg -> uint8 (N, C, S, S), int64 (N,), class names."""
    classes = sorted(p.name for p in Path(DATA_DIR).iterdir() if p.is_dir())
    xs, ys = [], []
    for label, name in enumerate(classes):
        for f in sorted((Path(DATA_DIR) / name).iterdir()):
            img = Image.open(f).convert("{mode}").resize((SIZE, SIZE))
            xs.append(torch.from_numpy(np.array(img)).reshape(SIZE, SIZE, -1).permute(2, 0, 1))  # (C, S, S)
            ys.append(label)
    x, y = torch.stack(xs), torch.tensor(ys)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))  # a fixed 80/20 split
    cut = int(0.8 * len(y))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]], classes'''

_TORCHVISION_LOADER = '''def load_data():
    """torchvision's {cls} -> uint8 (N, 1, 28, 28), int64 (N,) for train and test, class names."""
    train = torchvision.datasets.{cls}("data", train=True, download=True)
    test = torchvision.datasets.{cls}("data", train=False, download=True)
    return train.data[:, None], train.targets, test.data[:, None], test.targets, train.classes'''

_CIFAR_LOADER = '''def load_data():
    """CIFAR-10's cats (3) and dogs (5) -> uint8 (N, 3, 32, 32), int64 (N,) with cat = 0, dog = 1."""
    def pick(split):
        ds = torchvision.datasets.CIFAR10("data", train=split, download=True)
        x, y = torch.from_numpy(ds.data).permute(0, 3, 1, 2), torch.tensor(ds.targets)
        keep = (y == 3) | (y == 5)
        return x[keep], (y[keep] == 5).long()
    return *pick(True), *pick(False), ["cat", "dog"]'''


def _data_code(dataset: str, channels: int, image_size: int) -> str:
    """The loader for a dataset key: torchvision for MNIST-family and CIFAR, a folder of pictures otherwise."""
    if dataset in ("mnist", "fashion-mnist"):
        return _TORCHVISION_LOADER.format(cls="MNIST" if dataset == "mnist" else "FashionMNIST")
    if dataset == "cifar-catsdog":
        return _CIFAR_LOADER
    where = dataset.split(":", 1)[1].split("@")[0] if dataset.startswith("folder:") else "my_pictures"
    return (f'DATA_DIR = "{where}"  # one subfolder of pictures per class (the app\'s "{dataset}" works the same way)\n'
            f"SIZE = {image_size}\n\n" + _FOLDER_LOADER.format(mode="L" if channels == 1 else "RGB"))


def trainer_snippet(*, dataset: str, channels: int, image_size: int, num_classes: int, mean: Sequence[float],
                    std: Sequence[float], model: str, optimizer: str, lr: float, weight_decay: float,
                    scheduler: str, epochs: int, batch_size: int, l1: float, dropout: float) -> str:
    """A self-contained PyTorch script (data, model, loop, test accuracy) for the trainer's current settings."""
    wd = f"weight_decay={weight_decay:g}"
    opt = {"sgd": f"torch.optim.SGD(model.parameters(), lr={lr:g}, {wd})",
           "sgd_momentum": f"torch.optim.SGD(model.parameters(), lr={lr:g}, momentum=0.9, {wd})",
           "adam": f"torch.optim.Adam(model.parameters(), lr={lr:g}, {wd})",
           "adamw": f"torch.optim.AdamW(model.parameters(), lr={lr:g}, {wd})"}[optimizer]
    steps = f"{epochs} * len(train_loader)"
    # the engine's schedules (explainers.training): StepLR ÷10 every third of the run, OneCycle over every step
    sched = {"none": "None",
             "step": f"torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, {steps} // 3), gamma=0.1)",
             "onecycle": f"torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr={lr:g}, total_steps={steps} + 1)",
             "cosine": f"torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max={steps})"}[scheduler]
    # L1 on conv and linear weights only, as the app's engine (not biases, not batch-norm scales)
    l1_code = (f"\n        loss = loss + {l1:g} * sum(m.weight.abs().sum() for m in model.modules() "
               "if isinstance(m, (nn.Conv2d, nn.Linear)))") if l1 else ""
    return (
        "from pathlib import Path\n\nimport numpy as np\nimport torch\nimport torch.nn.functional as F\n"
        "import torchvision\nfrom PIL import Image\nfrom torch import nn\nfrom torch.utils.data import DataLoader, "
        "TensorDataset\n\ntorch.manual_seed(0)\n\n"
        + _data_code(dataset, channels, image_size) + "\n\n\n"
        "train_x, train_y, test_x, test_y, classes = load_data()\n"
        f"train_loader = DataLoader(TensorDataset(train_x, train_y), batch_size={batch_size}, shuffle=True)\n"
        f"# images: uint8 (N, {channels}, {image_size}, {image_size}), normalised per batch\n"
        f"mean = torch.tensor({_vector(mean, '.4f')}).view(1, -1, 1, 1)\n"
        f"std = torch.tensor({_vector(std, '.4f')}).view(1, -1, 1, 1)\n\n"
        f"model = {_model_code(model, channels, image_size, num_classes, dropout)}\n"
        'print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")  # as the page\'s model card\n'
        f"optimizer = {opt}\nscheduler = {sched}\n\n"
        f"for epoch in range({epochs}):\n    model.train()\n"
        f"    for x, y in train_loader:  # batches of {batch_size}\n"
        "        x = (x.float() / 255 - mean) / std\n"
        "        loss = F.cross_entropy(model(x), y)" + l1_code + "\n"
        "        optimizer.zero_grad()\n        loss.backward()\n        optimizer.step()\n"
        + ("        scheduler.step()\n" if scheduler != "none" else "")
        + "\nmodel.eval()\nwith torch.no_grad():\n"
        "    predictions = torch.cat([model((x.float() / 255 - mean) / std).argmax(1) for x in test_x.split(512)])\n"
        "accuracy = (predictions == test_y).float().mean().item()\n"
        'print(f"test accuracy: {accuracy:.1%}")\n'
    )


def _cnn_unit_check(layer: str, channel: int, row: int, col: int) -> list[str]:
    """Lines of the snippet that redo one unit's arithmetic by hand and compare it with PyTorch's value."""
    i = cnn.LAYER_NAMES.index(layer)
    spec, prev = cnn.ARCH[i], cnn.LAYER_NAMES[i - 1] if i else ""
    here = f"acts[{layer!r}][0, {channel}, {row}, {col}]" if spec.spatial else f"acts[{layer!r}][0, {channel}]"
    if spec.kind == "conv":
        k, s = spec.kernel, spec.stride
        by_hand = [f"window = acts[{prev!r}][0, :, {row * s}:{row * s + k}, {col * s}:{col * s + k}]  # (C, {k}, {k})",
                   f"by_hand = (window * model.{layer}.weight[{channel}]).sum() + model.{layer}.bias[{channel}]"]
    elif spec.kind == "linear":
        by_hand = [f"by_hand = (model.{layer}.weight[{channel}] * acts[{prev!r}][0]).sum() + model.{layer}.bias[{channel}]"]
    elif spec.kind == "relu":
        by_hand = [f"by_hand = acts[{prev!r}][0, {channel}, {row}, {col}].clamp(min=0)  # max(0, x)"]
    elif spec.kind == "maxpool":
        k, s = spec.kernel, spec.stride
        by_hand = [f"by_hand = acts[{prev!r}][0, {channel}, {row * s}:{row * s + k}, {col * s}:{col * s + k}].max()"]
    elif spec.kind == "flatten":
        by_hand = [f"by_hand = acts[{prev!r}][0].reshape(-1)[{channel}]  # channel by channel, row by row"]
    elif spec.kind == "softmax":
        by_hand = [f"by_hand = acts[{prev!r}][0, {channel}].exp() / acts[{prev!r}][0].exp().sum()"]
    else:
        by_hand = [f"by_hand = image[0, {row}, {col}]"]
    return [
        f"# {layer} unit {(channel, row, col) if spec.spatial else channel}, by hand and by PyTorch",
        *by_hand,
        f"print('by hand', by_hand.item(), 'PyTorch', {here}.item())",
        f"assert torch.allclose(by_hand, {here}, atol=1e-5)",
    ]


def cnn_snippet(layer: str, channel: int, row: int, col: int, seed: int = 0, epochs: int = 2, index: int = 0) -> str:
    """A complete script: train this CNN on MNIST, run test digit ``index`` through it, redo one unit by hand."""
    return "\n".join([
        "import torch",
        "import torch.nn as nn",
        "from torchvision import datasets, transforms",
        "",
        f"torch.manual_seed({seed})",
        "model = nn.Sequential()",
        "model.add_module('conv1', nn.Conv2d(1, 4, kernel_size=3))  # (B, 4, 26, 26)",
        "model.add_module('relu1', nn.ReLU())",
        "model.add_module('pool1', nn.MaxPool2d(2))  # (B, 4, 13, 13)",
        "model.add_module('conv2', nn.Conv2d(4, 8, kernel_size=3))  # (B, 8, 11, 11)",
        "model.add_module('relu2', nn.ReLU())",
        "model.add_module('pool2', nn.MaxPool2d(2))  # (B, 8, 5, 5)",
        "model.add_module('flatten', nn.Flatten())  # (B, 200)",
        "model.add_module('fc', nn.Linear(200, 10))  # (B, 10) logits",
        "print(sum(p.numel() for p in model.parameters()), 'parameters')",
        "",
        "to_tensor = transforms.ToTensor()  # pixels in [0, 1], ink bright",
        "train = datasets.MNIST('data', train=True, download=True, transform=to_tensor)",
        "test = datasets.MNIST('data', train=False, download=True, transform=to_tensor)",
        "loader = torch.utils.data.DataLoader(train, batch_size=128, shuffle=True)",
        "opt = torch.optim.Adam(model.parameters(), lr=5e-3)",
        f"for epoch in range({epochs}):",
        "    for x, y in loader:",
        "        loss = nn.functional.cross_entropy(model(x), y)  # softmax + negative log-likelihood",
        "        opt.zero_grad()",
        "        loss.backward()",
        "        opt.step()",
        "    print('epoch', epoch, 'loss', round(loss.item(), 3))",
        "",
        "# Every layer's output for one test digit, caught by forward hooks.",
        "model.eval()",
        f"image, label = test[{index}]  # (1, 28, 28): MNIST's test digit #{index}",
        "acts = {'input': image[None]}",
        "for name, module in model.named_children():",
        "    module.register_forward_hook(lambda m, inp, out, name=name: acts.__setitem__(name, out))",
        "with torch.no_grad():",
        "    acts['softmax'] = torch.softmax(model(image[None]), dim=1)  # (1, 10) probabilities",
        "    for name, a in acts.items():",
        "        print(f'{name:8s} {tuple(a.shape)}')",
        "    print('label', label, 'prediction', acts['softmax'].argmax().item())",
        "",
        *("    " + line for line in _cnn_unit_check(layer, channel, row, col)),
    ]) + "\n"
