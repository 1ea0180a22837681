"""The list of pages, in the order a learner should take them. app.py and Home both read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageInfo:
    path: str  # script, relative to the repo root
    title: str
    icon: str
    url_path: str
    section: str  # navigation section
    blurb: str  # one sentence for the Home page's map


SECTIONS = ["Start", "Neurons", "Convolutional nets", "Training"]

HOME = PageInfo("pages/home.py", "Home", ":material/home:", "home", "Start", "Where to begin.")

LESSONS = [
    PageInfo(
        "pages/perceptron.py", "Perceptron", ":material/neurology:", "perceptron", "Neurons",
        "One neuron: weights, bias, a weighted sum and an activation; the learning rule, "
        "and why XOR needs a hidden layer.",
    ),
    PageInfo(
        "pages/backprop.py", "Backprop", ":material/account_tree:", "backprop", "Neurons",
        "A tiny network whose every value and gradient you can see: the chain rule node by node, "
        "checked against PyTorch, then training, learning rates and mini-batches.",
    ),
    PageInfo(
        "pages/convolution.py", "Convolution", ":material/filter_center_focus:", "convolution",
        "Convolutional nets",
        "Kernels on your own photo with every Conv2d knob: stride, padding, dilation, colour channels, "
        "each output pixel's sum step by step, and a filter bank.",
    ),
    PageInfo(
        "pages/pooling.py", "Pooling", ":material/grid_view:", "pooling", "Convolutional nets",
        "Max and average pooling with every knob: windows, winners, indices, how the gradient "
        "flows back, why small shifts matter less, and the 28 → 14 → 7 pyramid.",
    ),
    PageInfo(
        "pages/cnn.py", "A whole CNN", ":material/stacked_line_chart:", "cnn", "Convolutional nets",
        "One digit through a small trained CNN: every feature map, flatten, the fully connected layer and softmax "
        "on one screen; click any unit to see its window and its sum; where the parameters are.",
    ),
    PageInfo(
        "pages/trainer.py", "Trainer", ":material/model_training:", "trainer", "Training",
        "Train a real PyTorch network on digits while you watch: live loss, predictions and filters, "
        "then its confusions, feature maps, your own handwriting, and overfitting on purpose.",
    ),
    PageInfo(
        "pages/scaling_out.py", "Scaling out", ":material/hub:", "scaling_out", "Training",
        "When one device is not enough: data parallel with DistributedDataParallel, a model split across "
        "two devices, and pipelining, run for real on worker processes.",
    ),
]
