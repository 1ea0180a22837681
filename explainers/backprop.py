"""Backpropagation on a tiny MLP: the network as a graph of autograd Values, its gradients, and training.

The MLP (2 inputs, H hidden units, 1 sigmoid output) exists twice: as a graph of `Value`s for one
example (to look at, built on explainers.autograd) and vectorised in numpy (to train on a toy
problem quickly). Pure numpy; tests/unit/test_backprop.py checks both against torch autograd.
The page's "PyTorch autograd" column comes from explainers.training.oracle, passed in as `reference`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from explainers.autograd import ACTIVATIONS, Value, activate, numeric_grad

LOSSES = ("mse", "bce")
LOSS_LABELS = {"mse": "Squared error", "bce": "Cross-entropy"}  # short: the menu is narrow at 1024 px
PROBLEMS = ("AND", "OR", "XOR", "circle", "moons")  # the toy 2-D problems `make_problem` knows
MAX_HIDDEN = 4
WEIGHT_LIMIT = 5.0  # the sliders' usual range [-5, 5]; a step may leave it (the slider then widens)

# Loss and dL/dparams (P,) for one example: params, x (2,), y, activation, loss -> (loss, (P,)).
GradientFn = Callable[["MLPParams", np.ndarray, float, str, str], tuple[float, np.ndarray]]

# --- the tiny MLP -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MLPParams:
    """2 inputs -> H hidden units -> 1 output. w1 (H, 2), b1 (H,), w2 (H,), b2 scalar."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: float

    @property
    def hidden(self) -> int:
        return len(self.b1)

    def vector(self) -> np.ndarray:
        """All parameters in `param_names` order: -> (P,) with P = 4H + 1."""
        return np.concatenate([self.w1.ravel(), self.b1, self.w2, [self.b2]]).astype(float)


def signed(value: float, digits: int = 4) -> str:
    """'+0.1234' / '-0.1234' with `digits` decimals; a change that rounds to zero reads '+0.0000', never '-0.0000'."""
    text = f"{value:+.{digits}f}"
    return "+" + text[1:] if float(text) == 0 else text


def param_names(hidden: int) -> list[str]:
    """Names in vector order: W1[j,i], b1[j], W2[j], b2."""
    names = [f"W1[{j + 1},{i + 1}]" for j in range(hidden) for i in range(2)]
    names += [f"b1[{j + 1}]" for j in range(hidden)]
    names += [f"W2[{j + 1}]" for j in range(hidden)]
    return names + ["b2"]


def params_from_vector(vec: np.ndarray, hidden: int) -> MLPParams:
    """(4H + 1,) -> MLPParams."""
    vec = np.asarray(vec, dtype=float)
    if vec.shape != (4 * hidden + 1,):
        raise ValueError(f"expected {4 * hidden + 1} parameters for {hidden} hidden units, got {vec.size}")
    h = hidden
    return MLPParams(vec[: 2 * h].reshape(h, 2).copy(), vec[2 * h : 3 * h].copy(), vec[3 * h : 4 * h].copy(),
                     float(vec[4 * h]))


def init_params(hidden: int, seed: int) -> MLPParams:
    """Random weights ~ N(0, 1) from a seed (biases too, so ReLU units rarely start dead)."""
    if not 1 <= hidden <= MAX_HIDDEN:
        raise ValueError(f"hidden units must be between 1 and {MAX_HIDDEN}")
    rng = np.random.default_rng(seed)
    return params_from_vector(np.round(rng.normal(0.0, 1.0, 4 * hidden + 1), 2), hidden)


@dataclass(frozen=True)
class MLPGraph:
    """The MLP on one example as Values: loss root, output probability, parameters by name."""

    loss: Value
    output: Value
    params: dict[str, Value]


def loss_value(p: Value, y: float, loss: str) -> Value:
    """Loss of one prediction p in (0, 1) against target y as a Value."""
    if loss == "mse":
        return (p - y) ** 2
    if loss == "bce":
        if not 0.0 < p.data < 1.0:
            raise ValueError("the output saturated at exactly 0 or 1, so the cross-entropy is infinite; "
                             "use smaller weights or the squared-error loss")
        terms = []
        if y != 0:  # terms with a zero coefficient would only clutter the graph
            terms.append(p.log() * y if y != 1 else p.log())
        if y != 1:
            q = (1 - p).log()
            terms.append(q * (1 - y) if y != 0 else q)
        return -(terms[0] if len(terms) == 1 else terms[0] + terms[1])
    raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")


def build_mlp(params: MLPParams, x: np.ndarray, y: float, activation: str, loss: str) -> MLPGraph:
    """Build the graph for one example x (2,) with target y."""
    h = params.hidden
    names = param_names(h)
    pv = {n: Value(v, label=n, kind="param") for n, v in zip(names, params.vector())}
    xs = [Value(float(x[i]), label=f"x{i + 1}", kind="input") for i in range(2)]
    hidden_out = []
    for j in range(1, h + 1):
        z = pv[f"W1[{j},1]"] * xs[0] + pv[f"W1[{j},2]"] * xs[1] + pv[f"b1[{j}]"]
        hidden_out.append(activate(z, activation))
    o = pv["W2[1]"] * hidden_out[0] + pv["b2"]
    for j in range(2, h + 1):
        o = o + pv[f"W2[{j}]"] * hidden_out[j - 1]
    p = o.sigmoid()
    root = loss_value(p, float(y), loss)
    _assign_groups(root, hidden_out, p)
    return MLPGraph(root, p, pv)


def _assign_groups(root: Value, hidden_out: list[Value], p: Value) -> None:
    """Tag op nodes with the neuron they belong to (h1..hH, out, loss) for the compact view."""
    def tag(v: Value, group: str) -> None:
        stack = [v]
        while stack:
            n = stack.pop()
            if n.kind == "op" and not n.group:
                n.group = group
                stack.extend(n.children)

    for j, a in enumerate(hidden_out, start=1):
        tag(a, f"h{j}")
    tag(p, "out")
    tag(root, "loss")


def engine_gradients(params: MLPParams, x: np.ndarray, y: float, activation: str,
                     loss: str) -> tuple[float, np.ndarray]:
    """Loss and dL/dparams (P,) from our engine for one example."""
    g = build_mlp(params, x, y, activation, loss)
    g.loss.backward()
    return g.loss.data, np.array([g.params[n].grad for n in param_names(params.hidden)])



@dataclass(frozen=True)
class GradCheck:
    """Every parameter's gradient three ways (torch = the reference). All arrays (P,)."""

    names: tuple[str, ...]
    values: np.ndarray
    engine: np.ndarray
    torch: np.ndarray
    numeric: np.ndarray
    loss: float

    @property
    def max_error(self) -> np.ndarray:
        """Largest disagreement per parameter between the three: (P,)."""
        stack = np.stack([self.engine, self.torch, self.numeric])
        return stack.max(axis=0) - stack.min(axis=0)


NUMERIC_TOL = 1e-6  # central differences with eps=1e-6 agree to about this in float64


def gradient_check(params: MLPParams, x: np.ndarray, y: float, activation: str, loss: str, *,
                   reference: GradientFn) -> GradCheck:
    """Engine vs a reference (torch autograd, from explainers.training.oracle) vs central finite differences."""
    h = params.hidden
    loss_val, eng = engine_gradients(params, x, y, activation, loss)
    _, tor = reference(params, x, y, activation, loss)

    def f(vec: np.ndarray) -> float:
        return build_mlp(params_from_vector(vec, h), x, y, activation, loss).loss.data

    num = numeric_grad(f, params.vector())
    return GradCheck(tuple(param_names(h)), params.vector(), eng, tor, num, loss_val)


def sgd_step(params: MLPParams, grads: np.ndarray, lr: float, limit: float | None = None) -> MLPParams:
    """θ ← θ − lr · ∇θ (exactly the formula; clipped to [-limit, limit] only when a limit is asked for)."""
    vec = params.vector() - lr * np.asarray(grads, dtype=float)
    if limit is not None:
        vec = np.clip(vec, -limit, limit)
    return params_from_vector(vec, params.hidden)


# --- toy problems -------------------------------------------------------------------------------


def make_problem(name: str, seed: int = 0, n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """A toy 2-D binary problem: -> X (N, 2), y (N,) in {0, 1}. Logic gates have 4 points."""
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    if name == "AND":
        return corners, np.array([0.0, 0.0, 0.0, 1.0])
    if name == "OR":
        return corners, np.array([0.0, 1.0, 1.0, 1.0])
    if name == "XOR":
        return corners, np.array([0.0, 1.0, 1.0, 0.0])
    rng = np.random.default_rng(seed)
    if name == "circle":
        X = rng.uniform(-1.5, 1.5, size=(n, 2))
        y = (np.hypot(X[:, 0], X[:, 1]) < 1.0).astype(float)
        return X, y
    if name == "moons":
        half = n // 2
        t1 = rng.uniform(0, np.pi, half)
        t2 = rng.uniform(0, np.pi, n - half)
        upper = np.stack([np.cos(t1), np.sin(t1)], 1)
        lower = np.stack([1 - np.cos(t2), 0.5 - np.sin(t2)], 1)
        X = np.concatenate([upper, lower]) + rng.normal(0, 0.1, (n, 2))
        X = (X - [0.5, 0.25]) / 1.0  # centre the two moons on the origin
        return X, np.concatenate([np.zeros(half), np.ones(n - half)])
    raise ValueError(f"unknown problem {name!r}; choose one of {', '.join(PROBLEMS)}")


# --- vectorised MLP for training ----------------------------------------------------------------


def _act(z: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Activation and its derivative, elementwise: (...) -> (...), (...)."""
    if name == "sigmoid":
        s = 0.5 * (1.0 + np.tanh(0.5 * z))  # stable logistic
        return s, s * (1.0 - s)
    if name == "tanh":
        t = np.tanh(z)
        return t, 1.0 - t * t
    if name == "relu":
        return np.maximum(z, 0.0), (z > 0).astype(float)
    raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")


def predict(params: MLPParams, X: np.ndarray, activation: str) -> np.ndarray:
    """Probability of class 1: (N, 2) -> (N,)."""
    a, _ = _act(X @ params.w1.T + params.b1, activation)  # (N, H)
    logit = a @ params.w2 + params.b2  # (N,)
    return 0.5 * (1.0 + np.tanh(0.5 * logit))


def _loss_and_grads(vec: np.ndarray, hidden: int, X: np.ndarray, y: np.ndarray, activation: str,
                    loss: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean loss and its gradient for R networks at once on one batch: vec (R, P), X (N, 2), y (N,) -> (R,), (R, P).

    The R networks are independent (stacked matmuls, per-row reductions), so row r is exactly what a
    single network would give: training three learning rates costs about one run of numpy overhead.
    """
    h, r, n = hidden, len(vec), len(y)
    w1, b1, w2, b2 = vec[:, : 2 * h].reshape(r, h, 2), vec[:, 2 * h : 3 * h], vec[:, 3 * h : 4 * h], vec[:, 4 * h]
    a, da = _act(X @ w1.transpose(0, 2, 1) + b1[:, None, :], activation)  # (R, N, H)
    logit = (a @ w2[:, :, None])[..., 0] + b2[:, None]  # (R, N)
    p = 0.5 * (1.0 + np.tanh(0.5 * logit))
    if loss == "mse":
        value = ((p - y) ** 2).sum(axis=1) / n  # what np.mean computes, without its per-call overhead
        dlogit = 2.0 * (p - y) * p * (1.0 - p) / n
    elif loss == "bce":
        # -[y log p + (1-y) log(1-p)] written with softplus so it never takes log(0).
        value = (np.logaddexp(0.0, logit) - y * logit).sum(axis=1) / n
        dlogit = (p - y) / n
    else:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    dw2 = (a.transpose(0, 2, 1) @ dlogit[:, :, None])[..., 0]  # (R, H)
    dz = dlogit[:, :, None] * w2[:, None, :] * da  # (R, N, H)
    dw1 = dz.transpose(0, 2, 1) @ X  # (R, H, 2)
    grads = np.concatenate([dw1.reshape(r, 2 * h), dz.sum(axis=1), dw2, dlogit.sum(axis=1)[:, None]], axis=1)
    return value, grads


def batch_loss_and_grad(params: MLPParams, X: np.ndarray, y: np.ndarray, activation: str,
                        loss: str) -> tuple[float, np.ndarray]:
    """Mean loss over the batch and its gradient (P,): X (N, 2), y (N,)."""
    value, grads = _loss_and_grads(params.vector()[None], params.hidden, np.asarray(X, float), np.asarray(y, float),
                                   activation, loss)
    return float(value[0]), grads[0]


@dataclass(frozen=True)
class FitHistory:
    """What gradient descent on a toy problem did. losses (steps+1,) on the full data; batch_losses (steps,)."""

    losses: np.ndarray
    batch_losses: np.ndarray
    snapshots: tuple[tuple[int, MLPParams], ...]  # (step, params) at the requested steps
    params: MLPParams
    accuracy: float
    diverged: bool


DIVERGED = 1e6  # a weight past this (or not finite) marks the run diverged; it is clipped there to stay finite


def _guard(vec: np.ndarray, diverged: np.ndarray) -> np.ndarray:
    """Clip the rows of vec (R, P) that blew up (marking them in diverged (R,)); finite rows stay untouched."""
    if np.abs(vec).max() <= DIVERGED:  # the usual case in one reduction (NaN compares False: checked below)
        return vec
    bad = ~np.isfinite(vec).all(axis=1) | (np.abs(vec).max(axis=1) > DIVERGED)
    if bad.any():
        diverged |= bad
        vec[bad] = np.nan_to_num(np.clip(vec[bad], -DIVERGED, DIVERGED))
    return vec


def _history(losses: np.ndarray, batch_losses: np.ndarray, snaps: list[tuple[int, np.ndarray]], final: np.ndarray,
             hidden: int, X: np.ndarray, y: np.ndarray, activation: str, diverged: bool) -> FitHistory:
    params = params_from_vector(final, hidden)
    acc = float(np.mean((predict(params, X, activation) >= 0.5) == (y >= 0.5)))
    for a in (losses, batch_losses):
        a.flags.writeable = False  # results may be cached and shared: nobody edits them in place
    return FitHistory(losses, batch_losses, tuple((s, params_from_vector(v, hidden)) for s, v in snaps), params, acc,
                      bool(diverged))


def train_rates(params: MLPParams, X: np.ndarray, y: np.ndarray, activation: str, loss: str, *,
                lrs: tuple[float, ...], steps: int, snapshot_steps: tuple[int, ...] = ()) -> tuple[FitHistory, ...]:
    """Full-batch gradient descent from the same start with each learning rate in lrs (R,), run side by side.

    One forward/backward per step gives both the loss at the current weights (losses[k]) and the step,
    so batch_losses == losses[:-1]: on the whole dataset the batch is the data.
    """
    lr_col = np.asarray(lrs, dtype=float)[:, None]  # (R, 1)
    if steps < 0 or not np.all(lr_col > 0):
        raise ValueError("the learning rate must be positive and the number of steps not negative")
    X, y = np.asarray(X, float), np.asarray(y, float)
    h, r = params.hidden, len(lr_col)
    vec = np.tile(params.vector(), (r, 1))  # (R, P)
    losses = np.empty((r, steps + 1))
    diverged = np.zeros(r, dtype=bool)
    snaps: list[tuple[int, np.ndarray]] = [(0, vec)] if 0 in snapshot_steps else []
    for step in range(steps + 1):
        value, grads = _loss_and_grads(vec, h, X, y, activation, loss)
        losses[:, step] = value
        if step == steps:
            break
        vec = _guard(vec - lr_col * grads, diverged)
        if step + 1 in snapshot_steps:
            snaps.append((step + 1, vec))
    return tuple(_history(losses[i], losses[i, :-1].copy(), [(s, v[i]) for s, v in snaps], vec[i], h, X, y,
                          activation, diverged[i]) for i in range(r))


def train(params: MLPParams, X: np.ndarray, y: np.ndarray, activation: str, loss: str, *,
          lr: float, steps: int, batch_size: int | None = None, seed: int = 0,
          snapshot_steps: tuple[int, ...] = ()) -> FitHistory:
    """Plain (mini-batch) gradient descent; batch_size None or >= N means full batch."""
    if lr <= 0 or steps < 0:
        raise ValueError("the learning rate must be positive and the number of steps not negative")
    n = len(y)
    bs = n if batch_size is None else max(1, min(int(batch_size), n))
    if bs == n:
        return train_rates(params, X, y, activation, loss, lrs=(lr,), steps=steps, snapshot_steps=snapshot_steps)[0]
    X, y = np.asarray(X, float), np.asarray(y, float)
    rng = np.random.default_rng(seed)
    h = params.hidden
    vec = params.vector()[None]  # (1, P)
    losses, batch_losses = np.empty(steps + 1), np.empty(steps)
    losses[0] = _loss_and_grads(vec, h, X, y, activation, loss)[0][0]
    snaps: list[tuple[int, np.ndarray]] = [(0, vec[0])] if 0 in snapshot_steps else []
    order = rng.permutation(n)
    pos = 0
    diverged = np.zeros(1, dtype=bool)
    for step in range(1, steps + 1):
        if pos + bs > n:  # a new epoch: reshuffle
            order, pos = rng.permutation(n), 0
        idx = order[pos : pos + bs]
        pos += bs
        bl, g = _loss_and_grads(vec, h, X[idx], y[idx], activation, loss)
        vec = _guard(vec - lr * g, diverged)
        batch_losses[step - 1] = bl[0]
        losses[step] = _loss_and_grads(vec, h, X, y, activation, loss)[0][0]
        if step in snapshot_steps:
            snaps.append((step, vec[0]))
    return _history(losses, batch_losses, snaps, vec[0], h, X, y, activation, diverged[0])


def probability_grid(params: MLPParams, activation: str, extent: tuple[float, float, float, float],
                     n: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(class 1) on an n×n grid over (xmin, xmax, ymin, ymax): -> xs (n,), ys (n,), P (n, n)."""
    xs = np.linspace(extent[0], extent[1], n)
    ys = np.linspace(extent[2], extent[3], n)
    gx, gy = np.meshgrid(xs, ys)  # (n, n), rows follow y
    P = predict(params, np.stack([gx.ravel(), gy.ravel()], 1), activation).reshape(n, n)
    return xs, ys, P


def data_extent(X: np.ndarray, margin: float = 0.5) -> tuple[float, float, float, float]:
    """A square-ish box around the data: (xmin, xmax, ymin, ymax)."""
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


# --- vanishing gradients ------------------------------------------------------------------------


def chain_params(depth: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded weights and biases for the vanishing-gradient chain: -> w (depth,), b (depth,)."""
    if depth < 1:
        raise ValueError("depth must be at least 1")
    rng = np.random.default_rng(seed)
    w = np.abs(rng.normal(1.0, 0.25, depth))  # positive, so no ReLU unit is dead
    return w, np.full(depth, 0.1)


def chain_gradients(depth: int, activation: str, seed: int = 0) -> np.ndarray:
    """|dL/dw_k| for a chain of `depth` one-unit layers a_k = act(w_k a_{k-1} + b_k), x = 1, L = a_depth.

    Built with the engine; the same seeded weights for every activation so they compare fairly.
    Returns (depth,) with layer 1 (nearest the input) first.
    """
    w, b = chain_params(depth, seed)
    ws = [Value(float(v), label=f"w{k + 1}", kind="param") for k, v in enumerate(w)]
    a: Value = Value(1.0, label="x", kind="input")
    for k in range(depth):
        a = activate(ws[k] * a + float(b[k]), activation)
    a.backward()
    return np.abs(np.array([v.grad for v in ws]))



def gradient_table(check: GradCheck) -> dict[str, list]:
    """Columns for the page's three-ways table, values rounded for display."""
    agree = check.max_error <= NUMERIC_TOL
    def shown(a: np.ndarray, decimals: int) -> list[float]:
        return (a.round(decimals) + 0.0).tolist()  # + 0.0: a rounded -0.0 would show as "-0"

    return {"parameter": list(check.names), "value": shown(check.values, 4),
            "our engine": shown(check.engine, 6), "PyTorch autograd": shown(check.torch, 6),
            "finite differences": shown(check.numeric, 6), "largest difference": check.max_error.tolist(),
            "agree": ["✓" if a else "✗" for a in agree]}


@dataclass(frozen=True)
class StepRecord:
    """One gradient step on one example: parameter vectors (P,) before/after and the losses.

    loss_* are this example's loss; dataset_loss_* the mean over the whole toy dataset (None when not asked).
    """

    before: np.ndarray
    grads: np.ndarray
    after: np.ndarray
    loss_before: float
    loss_after: float
    lr: float = 0.0
    dataset_loss_before: float | None = None
    dataset_loss_after: float | None = None

    def table(self, names: list[str], decimals: int = 3) -> dict[str, list]:
        """Columns for a before / gradient / change / after table that adds up as shown: the change is
        after − before of the shown numbers (−η × gradient rounded to the sliders' precision)."""
        before, after = np.round(self.before, decimals), np.round(self.after, decimals)
        change = np.round(after - before, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
        return {"parameter": list(names), "before": (before + 0.0).tolist(),
                "gradient": (self.grads.round(4) + 0.0).tolist(), "− η × gradient": change.tolist(),
                "after": (after + 0.0).tolist()}

    def outside(self, limit: float = WEIGHT_LIMIT) -> np.ndarray:
        """Indices of parameters the step took outside [-limit, limit] (the sliders' usual range): (k,)."""
        return np.flatnonzero(np.abs(self.after) > limit)


def example_loss(params: MLPParams, x: np.ndarray, y: float, activation: str, loss: str) -> float:
    """One example's loss, computed stably (finite even where the output saturates)."""
    return batch_loss_and_grad(params, np.asarray(x, float)[None, :], np.array([float(y)]), activation, loss)[0]


def take_step(params: MLPParams, grads: np.ndarray, lr: float, x: np.ndarray, y: float, activation: str,
              loss: str, decimals: int = 3, data: tuple[np.ndarray, np.ndarray] | None = None) -> StepRecord:
    """One SGD step θ − lr·∇θ, unclipped, rounded to the sliders' precision, and its effect on the losses
    (this example's, and the whole dataset's when `data` = (X (N, 2), y (N,)) is given)."""
    after_vec = np.round(sgd_step(params, grads, lr).vector(), decimals)
    new = params_from_vector(after_vec, params.hidden)
    whole = [None, None]
    if data is not None:
        whole = [batch_loss_and_grad(p, data[0], data[1], activation, loss)[0] for p in (params, new)]
    return StepRecord(params.vector(), np.asarray(grads, dtype=float).copy(), after_vec,
                      example_loss(params, x, y, activation, loss), example_loss(new, x, y, activation, loss),
                      float(lr), *whole)


def _marks(steps: int) -> tuple[int, ...]:
    """The steps a fit keeps snapshots at: the start, 10 %, a third and the end."""
    return tuple(sorted({0, steps // 10, steps // 3, steps}))


# Pure and called with plain (hashable) arguments, so cached per process: moving a slider back to a
# setting seen before costs nothing. Bounded: a FitHistory of 3000 steps is ~50 kB.
@lru_cache(maxsize=128)
def fit_problem(vec: tuple[float, ...], hidden: int, problem: str, activation: str, loss: str, lr: float,
                steps: int, batch_size: int = 0) -> FitHistory:
    """Train from a parameter vector on a named toy problem (batch_size 0 = full batch), with snapshots
    at 0, 10 %, a third and the end (plain arguments, so a page can cache it)."""
    X, y = make_problem(problem)
    return train(params_from_vector(np.array(vec), hidden), X, y, activation, loss, lr=lr, steps=steps,
                 batch_size=batch_size or None, snapshot_steps=_marks(steps))


@lru_cache(maxsize=64)
def fit_rates(vec: tuple[float, ...], hidden: int, problem: str, activation: str, loss: str,
              lrs: tuple[float, ...], steps: int) -> tuple[FitHistory, ...]:
    """fit_problem (full batch) for several learning rates from the same start, trained side by side."""
    X, y = make_problem(problem)
    return train_rates(params_from_vector(np.array(vec), hidden), X, y, activation, loss, lrs=tuple(lrs), steps=steps,
                       snapshot_steps=_marks(steps))
