"""The loss formula the Trainer shows is what the engine computes, for every optimizer (issue 12, item 11).

Three training steps run twice from the same weights: once by the engine (make_optimizer + l1_penalty
+ fit, as run.py builds them), once by hand from the formula's terms only (a plain optimizer with no
weight decay, the formula's loss terms, the formula's decoupled shrink). The weights must agree.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explainers.training import OPTIMIZERS, TrainConfig
from explainers.training.build import l1_penalty, make_optimizer
from explainers.training.loop import FitState, fit
from explainers.training.objective import loss_formula
from models import build_model


def _plain(optimizer: str, params, lr: float) -> torch.optim.Optimizer:
    """The optimizer without any weight decay: the formula's terms must supply it."""
    if optimizer in ("sgd", "sgd_momentum"):
        return torch.optim.SGD(params, lr=lr, momentum=0.9 if optimizer == "sgd_momentum" else 0.0)
    return torch.optim.Adam(params, lr=lr)  # AdamW with wd 0 is Adam


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


@pytest.mark.parametrize("wd, l1", [(0.05, 0.0), (0.0, 0.01), (0.1, 0.02), (0.0, 0.0)])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_formula_terms_reproduce_the_engines_steps(optimizer, wd, l1):
    torch.manual_seed(0)
    # In float64: Adam divides by sqrt(v), which in float32 blows rounding up past any fair tolerance on some
    # CPUs (1e-6 in features.8.weight on an AMD EPYC); in float64 a wrong term shows, rounding does not.
    net = build_model("fast_cnn", 1, 8, 3, 0.0).double()  # conv, batch norm (weights L1 must skip) and linear
    xs, ys = torch.randn(3, 6, 1, 8, 8, dtype=torch.float64), torch.randint(0, 3, (3, 6))
    cfg, lr = TrainConfig(optimizer=optimizer, weight_decay=wd, l1=l1), 0.05

    engine = copy.deepcopy(net)
    fit(FitState(model=engine, opt=make_optimizer(cfg, engine.parameters(), lr), batches=lambda e: zip(xs, ys),
                 epochs=1, loss_fn=F.cross_entropy, penalty=l1_penalty(engine, cfg.l1)))

    f = loss_formula(optimizer, wd, l1)
    hand = copy.deepcopy(net)
    hand.train()
    opt = _plain(optimizer, hand.parameters(), lr)
    for x, y in zip(xs, ys):
        loss = F.cross_entropy(hand(x), y)
        loss = loss + f.l2_coefficient * sum((p ** 2).sum() for p in hand.parameters())
        loss = loss + f.l1_coefficient * sum(w.abs().sum() for w in _weights(hand))
        opt.zero_grad()
        loss.backward()
        with torch.no_grad():  # decoupled decay shrinks the weights before the optimizer's own step
            for p in hand.parameters():
                p.mul_(1 - lr * f.decoupled_decay)
        opt.step()
    for (name, a), b in zip(engine.named_parameters(), hand.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12, msg=f"{optimizer} {name}")


def test_the_shown_latex_has_exactly_the_active_terms():
    assert r"\lambda_2}{2}" in loss_formula("sgd", 1e-3, 0).latex and "lambda_1" not in loss_formula("sgd", 1e-3, 0).latex
    adamw = loss_formula("adamw", 1e-2, 1e-4)
    assert r"\frac{\lambda_2}{2}" not in adamw.latex  # not a loss term for AdamW
    assert r"\eta\,\lambda_2\,\theta" in adamw.latex and "weights" in adamw.latex and "decouples" in adamw.note
    plain = loss_formula("adam", 0, 0)
    assert "lambda" not in plain.latex and "No weight decay" in plain.note
    assert "biases included" in loss_formula("adam", 1e-4, 0).note
    assert "not biases" in loss_formula("sgd", 0, 1e-5).note
    with pytest.raises(ValueError):
        loss_formula("rmsprop", 0, 0)
