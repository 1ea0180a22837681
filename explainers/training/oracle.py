"""PyTorch as the oracle the lessons show next to their own numbers (torch lives here, not in the maths).

The Backprop page's "PyTorch autograd" column: the same tiny MLP written with torch tensors in
float64, so its gradients can be compared with explainers.autograd's digit for digit.
"""

from __future__ import annotations

import numpy as np
import torch

from explainers.backprop import MLPParams

_ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}


def mlp_gradients(params: MLPParams, x: np.ndarray, y: float, activation: str,
                  loss: str) -> tuple[float, np.ndarray]:
    """Loss and dL/dparams (P,) from torch autograd (float64), in explainers.backprop.param_names order."""
    t = torch.tensor(params.vector(), dtype=torch.float64, requires_grad=True)
    h = params.hidden
    w1, b1, w2, b2 = t[: 2 * h].view(h, 2), t[2 * h : 3 * h], t[3 * h : 4 * h], t[4 * h]
    xt = torch.tensor(np.asarray(x, dtype=float), dtype=torch.float64)  # (2,)
    logit = w2 @ _ACTIVATIONS[activation](w1 @ xt + b1) + b2  # scalar
    p = torch.sigmoid(logit)
    yt = torch.tensor(float(y), dtype=torch.float64)
    out = (p - yt) ** 2 if loss == "mse" else torch.nn.functional.binary_cross_entropy(p, yt)
    out.backward()
    return float(out.detach()), t.grad.numpy().copy()
