"""One neuron: activations, the weighted sum, the perceptron learning rule, and linear collapse.

Pure numpy. Every function here is checked against torch in tests/unit/test_perceptron.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTIVATIONS = ("step", "sigmoid", "tanh", "relu", "leaky_relu", "linear")
ACTIVATION_LABELS = {
    "step": "Step (Heaviside)",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "relu": "ReLU",
    "leaky_relu": "Leaky ReLU",
    "linear": "Linear (none)",
}
LEAKY_SLOPE = 0.01  # torch.nn.LeakyReLU's default negative_slope

DATASETS = ("AND", "OR", "NAND", "XOR", "blobs")


def activate(z: np.ndarray | float, name: str) -> np.ndarray:
    """Apply the activation elementwise: (...) -> (...)."""
    z = np.asarray(z, dtype=float)
    if name == "step":
        return (z >= 0).astype(float)  # torch.heaviside(z, 1.0): step(0) = 1
    if name == "sigmoid":
        # Split by sign so exp never overflows.
        out = np.empty_like(z)
        pos = z >= 0
        out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
        ez = np.exp(z[~pos])
        out[~pos] = ez / (1.0 + ez)
        return out
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, LEAKY_SLOPE * z)
    if name == "linear":
        return z.copy()
    raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")


def activation_derivative(z: np.ndarray | float, name: str) -> np.ndarray:
    """d activation / dz elementwise, with PyTorch's convention at kinks (0 for ReLU at 0)."""
    z = np.asarray(z, dtype=float)
    if name == "step":
        return np.zeros_like(z)  # flat almost everywhere: why the step cannot be trained by gradients
    if name == "sigmoid":
        s = activate(z, "sigmoid")
        return s * (1.0 - s)
    if name == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if name == "relu":
        return (z > 0).astype(float)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, LEAKY_SLOPE)
    if name == "linear":
        return np.ones_like(z)
    raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")


@dataclass(frozen=True)
class NeuronOutput:
    """A neuron's forward pass at one input, every intermediate kept for display."""

    x: np.ndarray  # (n,) inputs
    w: np.ndarray  # (n,) weights
    b: float  # bias
    products: np.ndarray  # (n,) w_i * x_i
    z: float  # weighted sum w·x + b
    a: float  # activation(z)
    activation: str


def neuron_forward(x: np.ndarray, w: np.ndarray, b: float, activation: str) -> NeuronOutput:
    """(n,), (n,), scalar -> NeuronOutput with z = w·x + b and a = activation(z)."""
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.shape != w.shape or x.ndim != 1:
        raise ValueError(f"need as many weights as inputs (got {x.size} inputs and {w.size} weights)")
    products = w * x
    z = float(products.sum() + b)
    return NeuronOutput(x, w, float(b), products, z, float(activate(z, activation)), activation)


def fixed(value: float, digits: int) -> str:
    """`value` with `digits` decimals and never a negative zero ('-0.00' is written '0.00')."""
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def weighted_sum_text(out: NeuronOutput, digits: int = 2) -> str:
    """The weighted sum written out term by term, e.g. '0.50·0.70 + (-1.00)·0.60 + 0.10 = -0.15'.

    The total is the sum of the shown factors' products (exact for the sliders' 0.1 steps), rounded
    once; "≈" replaces "=" when a factor itself had to be rounded, so the line never claims more.
    """

    def num(v: float) -> str:
        s = fixed(v, digits)
        return f"({s})" if s.startswith("-") else s

    shown = [float(fixed(v, digits)) for v in (*out.w, *out.x, out.b)]
    exact = np.allclose(shown, [*out.w, *out.x, out.b], rtol=0, atol=1e-12)
    terms = [f"{num(w)}·{num(x)}" for w, x in zip(out.w, out.x)]
    return " + ".join([*terms, num(out.b)]) + f" {'=' if exact else '≈'} {fixed(out.z, digits)}"


def toy_dataset(name: str, seed: int = 0, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D toy problem -> X (m, 2), y (m,) with labels 0/1. Logic gates use the four corners."""
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    gates = {
        "AND": np.array([0, 0, 0, 1]),
        "OR": np.array([0, 1, 1, 1]),
        "NAND": np.array([1, 1, 1, 0]),
        "XOR": np.array([0, 1, 1, 0]),
    }
    if name in gates:
        return corners, gates[name].astype(int)
    if name == "blobs":
        rng = np.random.default_rng(seed)
        half = n // 2
        a = rng.normal([0.25, 0.3], 0.13, size=(half, 2))
        b = rng.normal([0.75, 0.7], 0.13, size=(n - half, 2))
        return np.vstack([a, b]), np.r_[np.zeros(half, int), np.ones(n - half, int)]
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def predict(X: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """Perceptron prediction step(X·w + b): (m, n) -> (m,) labels 0/1."""
    return (np.asarray(X, float) @ np.asarray(w, float) + b >= 0).astype(int)


@dataclass(frozen=True)
class PerceptronState:
    """Where the learning rule is: weights, position in the epoch, and its record so far."""

    w: np.ndarray  # (2,) weights
    b: float
    epoch: int = 0  # finished epochs
    index: int = 0  # next example within the current epoch
    mistakes_this_epoch: int = 0
    mistakes_per_epoch: tuple[int, ...] = ()
    last_index: int | None = None  # example seen by the last step
    last_was_mistake: bool = False

    @property
    def converged(self) -> bool:
        """True once a whole epoch went by without a single mistake."""
        return bool(self.mistakes_per_epoch) and self.mistakes_per_epoch[-1] == 0

    @property
    def converged_epoch(self) -> int | None:
        """The first epoch (1-based) without a mistake: from then on the weights never change."""
        return next((k + 1 for k, m in enumerate(self.mistakes_per_epoch) if m == 0), None)


def initial_state(n_inputs: int = 2) -> PerceptronState:
    """All weights and the bias start at zero, as in Rosenblatt's rule."""
    return PerceptronState(w=np.zeros(n_inputs), b=0.0)


def perceptron_step(state: PerceptronState, X: np.ndarray, y: np.ndarray, lr: float) -> PerceptronState:
    """Show one example: w += lr·(y − ŷ)·x, b += lr·(y − ŷ). Wraps into the next epoch."""
    i = state.index
    x = np.asarray(X[i], float)
    error = int(y[i]) - int(predict(x[None, :], state.w, state.b)[0])
    w = state.w + lr * error * x
    b = state.b + lr * error
    mistakes = state.mistakes_this_epoch + (error != 0)
    nxt = i + 1
    if nxt == len(X):
        return PerceptronState(w, b, state.epoch + 1, 0, 0, (*state.mistakes_per_epoch, mistakes), i, error != 0)
    return PerceptronState(w, b, state.epoch, nxt, mistakes, state.mistakes_per_epoch, i, error != 0)


def perceptron_epoch(state: PerceptronState, X: np.ndarray, y: np.ndarray, lr: float) -> PerceptronState:
    """Step until the current epoch is finished."""
    target = state.epoch + 1
    while state.epoch < target:
        state = perceptron_step(state, X, y, lr)
    return state


def run_epochs(state: PerceptronState, X: np.ndarray, y: np.ndarray, lr: float, epochs: int) -> PerceptronState:
    """Up to `epochs` more epochs, stopping after the first one without a mistake (nothing would change)."""
    for _ in range(epochs):
        state = perceptron_epoch(state, X, y, lr)
        if state.converged:
            break
    return state


def replay(X: np.ndarray, y: np.ndarray, lr: float, steps: int) -> PerceptronState:
    """The state after `steps` examples from zero weights (how a shared link rebuilds the training)."""
    state = initial_state(np.asarray(X).shape[1])
    for _ in range(max(0, int(steps))):
        state = perceptron_step(state, X, y, lr)
    return state


def fit_perceptron(X: np.ndarray, y: np.ndarray, lr: float = 1.0, max_epochs: int = 50) -> PerceptronState:
    """Run epochs until one has no mistakes (converged) or max_epochs is reached."""
    state = initial_state(np.asarray(X).shape[1])
    for _ in range(max_epochs):
        state = perceptron_epoch(state, X, y, lr)
        if state.converged:
            break
    return state


@dataclass(frozen=True)
class TwoLayerNet:
    """x -> W1 x + b1 -> activation -> W2 h + b2, for the 'stacked linear layers collapse' lesson."""

    W1: np.ndarray  # (H, 2)
    b1: np.ndarray  # (H,)
    W2: np.ndarray  # (1, H)
    b2: np.ndarray  # (1,)


PICTURE = (-0.35, 1.35)  # the square the page draws the two-layer nets over (the XOR corners and a margin)
BEND_MIN = 0.08  # how far the ReLU boundary must stray from its best straight line to count as bent
MAX_DRAWS = 500


def zero_crossings(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Where a field sampled on grid × grid (values (n, n), rows follow y) changes sign: -> (K, 2) points."""
    pts = []
    a, b = values[:, :-1], values[:, 1:]  # along x
    r, c = np.nonzero((a >= 0) != (b >= 0))
    t = a[r, c] / (a[r, c] - b[r, c])
    pts.append(np.c_[grid[c] + t * (grid[c + 1] - grid[c]), grid[r]])
    a, b = values[:-1, :], values[1:, :]  # along y
    r, c = np.nonzero((a >= 0) != (b >= 0))
    t = a[r, c] / (a[r, c] - b[r, c])
    pts.append(np.c_[grid[c], grid[r] + t * (grid[r + 1] - grid[r])])
    return np.concatenate(pts)


def boundary_bend(net: TwoLayerNet, hidden_activation: str = "relu", n: int = 90) -> float:
    """How far the boundary (output = 0) inside PICTURE strays from one straight line: the largest
    distance of its points from their best-fitting line (0 for a straight or absent boundary)."""
    grid = np.linspace(*PICTURE, n)
    xx, yy = np.meshgrid(grid, grid)
    out = two_layer_forward(np.c_[xx.ravel(), yy.ravel()], net, hidden_activation).reshape(n, n)
    pts = zero_crossings(out, grid)
    if len(pts) < 10:  # no boundary (or a sliver of one) in the picture: nothing bends
        return 0.0
    centred = pts - pts.mean(axis=0)
    normal = np.linalg.svd(centred, full_matrices=False)[2][-1]  # the best line's normal
    return float(np.abs(centred @ normal).max())


def random_two_layer(hidden: int, seed: int) -> TwoLayerNet:
    """Seeded random weights whose ReLU boundary visibly bends inside PICTURE.

    Weights are drawn (each unit's kink through a random point of the unit square) until
    boundary_bend >= BEND_MIN; the same seed always gives the same network. Drawing once would
    leave the kinks outside the picture for a third of the seeds, and the lesson unmade.
    """
    rng = np.random.default_rng(seed)
    for _ in range(MAX_DRAWS):
        W1 = rng.normal(0, 2.0, size=(hidden, 2))
        b1 = -np.sum(W1 * rng.uniform(0.15, 0.85, size=(hidden, 2)), axis=1)  # unit j's kink passes its point
        W2 = rng.normal(0, 1.0, size=(1, hidden))
        h = np.maximum(np.array([0.5, 0.5]) @ W1.T + b1, 0.0)
        b2 = -(W2 @ h) + rng.normal(0, 0.1, size=1)  # the boundary passes near the middle of the picture
        net = TwoLayerNet(W1, b1, W2, b2)
        if boundary_bend(net) >= BEND_MIN:
            break
    return net


def two_layer_forward(X: np.ndarray, net: TwoLayerNet, hidden_activation: str) -> np.ndarray:
    """(m, 2) -> (m,) network output before any final activation."""
    h = activate(np.asarray(X, float) @ net.W1.T + net.b1, hidden_activation)  # (m, H)
    return (h @ net.W2.T + net.b2)[:, 0]


def collapse(net: TwoLayerNet) -> tuple[np.ndarray, np.ndarray]:
    """Two linear layers with nothing between them are one: W = W2·W1, b = W2·b1 + b2."""
    return net.W2 @ net.W1, net.W2 @ net.b1 + net.b2


# --- universal approximation ----------------------------------------------------------------------

MAX_CURVE_UNITS = 64


def wiggly_target(x: np.ndarray) -> np.ndarray:
    """The 1-D function the ReLU units try to draw: (m,) -> (m,)."""
    return np.sin(3 * x) + 0.5 * np.sin(9 * x) + 0.3 * x


@dataclass(frozen=True)
class CurveFit:
    """One hidden layer of ReLU units fitted to wiggly_target on [-1, 1]. Arrays are (m,) or (H,)."""

    x: np.ndarray  # (m,) sample points
    target: np.ndarray  # (m,)
    prediction: np.ndarray  # (m,) the network's output
    w1: np.ndarray  # (H,) first-layer weights (±1: each unit is a ramp that turns on at its kink)
    b1: np.ndarray  # (H,)
    w2: np.ndarray  # (H,) output weights, least squares
    b2: float
    mse: float

    @property
    def kinks(self) -> np.ndarray:
        """Where each unit switches on: x = -b1 / w1, (H,)."""
        return -self.b1 / self.w1


def fit_curve(units: int, seed: int = 0, m: int = 400) -> CurveFit:
    """Fit W2·relu(w1 x + b1) + b2 to wiggly_target with `units` ReLU units.

    The kinks are the first `units` of one seeded sequence (so more units only add kinks) and the
    output layer is the least-squares best for them; more units therefore never fit worse.
    """
    if not 1 <= units <= MAX_CURVE_UNITS:
        raise ValueError(f"the number of units must be between 1 and {MAX_CURVE_UNITS}")
    rng = np.random.default_rng(seed)
    kinks = rng.uniform(-1, 1, MAX_CURVE_UNITS)[:units]
    w1 = rng.choice([-1.0, 1.0], MAX_CURVE_UNITS)[:units]
    b1 = -w1 * kinks
    x = np.linspace(-1, 1, m)
    features = np.maximum(np.outer(x, w1) + b1, 0.0)  # (m, H)
    design = np.c_[features, np.ones(m)]  # the output bias is one more column
    target = wiggly_target(x)
    coef = np.linalg.lstsq(design, target, rcond=None)[0]
    prediction = design @ coef
    return CurveFit(x, target, prediction, w1, b1, coef[:-1], float(coef[-1]),
                    float(np.mean((prediction - target) ** 2)))
