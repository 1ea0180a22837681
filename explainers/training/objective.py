"""What the training code minimises, per optimizer, as a formula the page can show.

build.py hands ``weight_decay`` to the optimizer: SGD and Adam add ``wd * theta`` to each gradient,
which is the gradient of the loss term ``wd/2 * ||theta||^2`` over every trainable parameter (biases and
batch-norm scales included); AdamW instead shrinks each parameter by ``lr * wd`` outside the loss
(decoupled). L1 is a loss term on the conv and linear weights only (``build.l1_penalty``), not biases.
tests/unit/test_trainer_objective.py checks one training step built from these terms against the engine's.
"""

from __future__ import annotations

from dataclasses import dataclass

from explainers.training.config import OPTIMIZERS


@dataclass(frozen=True)
class LossFormula:
    """The loss and update the engine uses for one optimizer and regularisation strengths."""

    optimizer: str
    l2_coefficient: float  # loss term l2_coefficient * sum(theta^2) over every trainable parameter
    l1_coefficient: float  # loss term l1_coefficient * sum|w| over conv and linear weights only
    decoupled_decay: float  # theta <- theta - lr * decoupled_decay * theta before the optimizer's step
    latex: str  # what the page shows
    note: str  # one sentence on where weight decay goes


_DATA = r"-\frac{1}{B}\sum_{i=1}^{B}\log p_\theta(y_i \mid x_i)"
_L2 = r"\frac{\lambda_2}{2}\sum_{\theta}\theta^2"
_L1 = r"\lambda_1\!\!\sum_{w\,\in\,\text{weights}}\!\!|w|"
_STEP = {"sgd": r"\theta \leftarrow \theta - \eta\,\nabla_\theta\mathcal{L}",
         "sgd_momentum": r"v \leftarrow 0.9\,v + \nabla_\theta\mathcal{L},\;\; \theta \leftarrow \theta - \eta\,v",
         "adam": r"\theta \leftarrow \theta - \eta\,\mathrm{Adam}(\nabla_\theta\mathcal{L})",
         "adamw": r"\theta \leftarrow \theta - \eta\,\lambda_2\,\theta - \eta\,\mathrm{Adam}(\nabla_\theta\mathcal{L})"}


def loss_formula(optimizer: str, weight_decay: float, l1: float) -> LossFormula:
    """The objective and update step the engine runs for these settings (ValueError for an unknown optimizer)."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    decoupled = optimizer == "adamw"
    terms = [_DATA]
    if weight_decay > 0 and not decoupled:
        terms.append(_L2)
    if l1 > 0:
        terms.append(_L1)
    step = _STEP["adam"] if decoupled and weight_decay <= 0 else _STEP[optimizer]
    latex = r"\mathcal{L} = " + r" \;+\; ".join(terms) + r" \qquad " + step
    if weight_decay <= 0:
        note = "No weight decay (λ₂ = 0)."
    elif decoupled:
        note = (f"AdamW decouples weight decay: it is not in the loss; each step shrinks every parameter by "
                f"η·λ₂ (λ₂ = {weight_decay:g}) besides the Adam step.")
    else:
        note = (f"Weight decay λ₂ = {weight_decay:g} is handed to {OPTIMIZERS[optimizer]}, which adds λ₂·θ to every "
                "gradient: the same as the λ₂/2·Σθ² term above, over all parameters, biases included.")
    if l1 > 0:
        note += f" L1 (λ₁ = {l1:g}) acts on conv and linear weights only, not biases."
    return LossFormula(optimizer, 0.0 if decoupled else weight_decay / 2, l1, weight_decay if decoupled else 0.0,
                       latex, note)
