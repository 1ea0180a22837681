"""A scalar autograd engine (micrograd style) and a recording of its backward pass, step by step.

- `Value` is a scalar that remembers how it was made. Each op computes its output *and* its
  local derivatives right next to each other; `backward()` applies the chain rule in reverse
  topological order: child.grad += local * node.grad.
- `trace` / `backward_steps` record the graph and every chain-rule step so a page can draw them.
- `numeric_grad` is the third opinion: central finite differences.
Pure Python and numpy; tests/unit/test_autograd.py checks every op against torch autograd.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Number = int | float

ACTIVATIONS = ("sigmoid", "tanh", "relu")
ACTIVATION_LABELS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "ReLU"}

_ids = itertools.count()


def _sigmoid(a: float) -> float:
    """Numerically stable logistic function for one float."""
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


def _num(c: Number) -> str:
    return f"{c:g}"


class Value:
    """A scalar with a gradient that remembers its children, its op and its local derivatives."""

    __slots__ = ("children", "data", "grad", "group", "kind", "label", "local", "op", "uid")

    def __init__(
        self,
        data: Number,
        children: tuple[Value, ...] = (),
        op: str = "",
        local: tuple[float, ...] = (),
        *,
        label: str = "",
        kind: str = "leaf",
        group: str = "",
    ) -> None:
        self.data = float(data)
        self.grad = 0.0
        self.children = children
        self.local = local  # d(self)/d(child) for each child, computed in the forward pass
        self.op = op
        self.label = label
        self.kind = kind if not children else "op"  # "input", "param", "leaf" or "op"
        self.group = group
        self.uid = next(_ids)

    def __repr__(self) -> str:
        return f"Value({self.label or self.op or 'leaf'}={self.data:.4g}, grad={self.grad:.4g})"

    # Binary ops. A plain number is folded into the op's name ("+ 1", "× 2") instead of
    # becoming a node, which keeps the drawn graph small: only Values are nodes.
    def __add__(self, other: Value | Number) -> Value:
        if isinstance(other, Value):
            return Value(self.data + other.data, (self, other), "+", (1.0, 1.0))
        return Value(self.data + other, (self,), f"+ {_num(other)}", (1.0,))

    __radd__ = __add__

    def __mul__(self, other: Value | Number) -> Value:
        if isinstance(other, Value):
            return Value(self.data * other.data, (self, other), "×", (other.data, self.data))
        return Value(self.data * other, (self,), f"× {_num(other)}", (float(other),))

    __rmul__ = __mul__

    def __sub__(self, other: Value | Number) -> Value:
        if isinstance(other, Value):
            return Value(self.data - other.data, (self, other), "−", (1.0, -1.0))
        return Value(self.data - other, (self,), f"− {_num(other)}", (1.0,))

    def __rsub__(self, other: Number) -> Value:
        return Value(other - self.data, (self,), f"{_num(other)} −", (-1.0,))

    def __neg__(self) -> Value:
        return Value(-self.data, (self,), "neg", (-1.0,))

    def __truediv__(self, other: Value | Number) -> Value:
        if isinstance(other, Value):
            if other.data == 0:
                raise ValueError("division by zero in the graph")
            b = other.data
            return Value(self.data / b, (self, other), "÷", (1.0 / b, -self.data / b**2))
        if other == 0:
            raise ValueError("division by zero in the graph")
        return Value(self.data / other, (self,), f"÷ {_num(other)}", (1.0 / other,))

    def __rtruediv__(self, other: Number) -> Value:
        if self.data == 0:
            raise ValueError("division by zero in the graph")
        return Value(other / self.data, (self,), f"{_num(other)} ÷", (-other / self.data**2,))

    def __pow__(self, n: Number) -> Value:
        if isinstance(n, Value):
            raise TypeError("only a plain number is supported as an exponent")
        a = self.data
        if a == 0 and n < 1:
            raise ValueError(f"0 ** {n} has no derivative")
        return Value(a**n, (self,), f"^ {_num(n)}", (n * a ** (n - 1),))

    # Unary functions.
    def exp(self) -> Value:
        e = math.exp(self.data)
        return Value(e, (self,), "exp", (e,))

    def log(self) -> Value:
        if self.data <= 0:
            raise ValueError(f"log of a non-positive number ({self.data:.3g})")
        return Value(math.log(self.data), (self,), "log", (1.0 / self.data,))

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        return Value(t, (self,), "tanh", (1.0 - t * t,))

    def sigmoid(self) -> Value:
        s = _sigmoid(self.data)
        return Value(s, (self,), "sigmoid", (s * (1.0 - s),))

    def relu(self) -> Value:
        r = self.data if self.data > 0 else 0.0
        return Value(r, (self,), "relu", (1.0 if self.data > 0 else 0.0,))  # torch: 0 at the kink

    def backward(self) -> None:
        """Fill `.grad` of every node in the graph with d(self)/d(node) (grads reset first)."""
        order = topological_order(self)
        for v in order:
            v.grad = 0.0
        self.grad = 1.0
        for v in reversed(order):
            for child, d in zip(v.children, v.local):
                child.grad += d * v.grad  # the chain rule, one edge at a time


def topological_order(root: Value) -> list[Value]:
    """Every node reachable from root, children before parents (root last)."""
    order: list[Value] = []
    seen: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:  # iterative DFS: deep chains must not hit Python's recursion limit
        v, expanded = stack.pop()
        if expanded:
            order.append(v)
            continue
        if v.uid in seen:
            continue
        seen.add(v.uid)
        stack.append((v, True))
        for c in reversed(v.children):
            if c.uid not in seen:
                stack.append((c, False))
    return order


def activate(v: Value, name: str) -> Value:
    """Apply an activation to a Value."""
    if name == "sigmoid":
        return v.sigmoid()
    if name == "tanh":
        return v.tanh()
    if name == "relu":
        return v.relu()
    raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")


# --- the recorded graph and the step-through ---------------------------------------------------


@dataclass(frozen=True)
class GraphNode:
    """One node of the drawn graph: index in topological order, names and forward value."""

    index: int
    label: str  # "W1[0,1]" for a parameter, "" for an op
    op: str  # "×", "+ 1", "sigmoid", ... ("" for a leaf)
    kind: str  # "input", "param", "leaf" or "op"
    group: str  # which neuron it belongs to ("h1", "out", "loss"), "" for none
    data: float


@dataclass(frozen=True)
class Graph:
    """The forward graph: nodes in topological order (root last) and edges child -> parent."""

    nodes: tuple[GraphNode, ...]
    edges: tuple[tuple[int, int], ...]

    @property
    def root(self) -> int:
        return len(self.nodes) - 1


@dataclass(frozen=True)
class ChainTerm:
    """One chain-rule product: d(node)/d(child) × d(L)/d(node) added into d(L)/d(child)."""

    child: int
    local: float
    upstream: float
    product: float
    grad_after: float


@dataclass(frozen=True)
class BackwardStep:
    """Processing one node in the backward pass; grads holds every node's gradient afterwards."""

    node: int
    terms: tuple[ChainTerm, ...]
    grads: tuple[float, ...]  # (n_nodes,)
    reached: tuple[bool, ...]  # (n_nodes,) has this node received any gradient yet


def trace(root: Value) -> Graph:
    """Record the graph under root: nodes (topological order) and edges (child, parent)."""
    order = topological_order(root)
    index = {v.uid: i for i, v in enumerate(order)}
    nodes = tuple(GraphNode(i, v.label, v.op, v.kind, v.group, v.data) for i, v in enumerate(order))
    edges = tuple((index[c.uid], i) for i, v in enumerate(order) for c in v.children)
    return Graph(nodes, edges)


def backward_steps(root: Value) -> tuple[Graph, tuple[BackwardStep, ...]]:
    """The backward pass one op node at a time; step 0 of the page is the seed dL/dL = 1."""
    order = topological_order(root)
    graph = trace(root)
    index = {v.uid: i for i, v in enumerate(order)}
    grads = [0.0] * len(order)
    reached = [False] * len(order)
    grads[-1], reached[-1] = 1.0, True
    steps = []
    for i in range(len(order) - 1, -1, -1):
        v = order[i]
        if not v.children:
            continue  # leaves have nothing to pass on
        terms = []
        for c, d in zip(v.children, v.local):
            j = index[c.uid]
            grads[j] += d * grads[i]
            reached[j] = True
            terms.append(ChainTerm(j, d, grads[i], d * grads[i], grads[j]))
        steps.append(BackwardStep(i, tuple(terms), tuple(grads), tuple(reached)))
    return graph, tuple(steps)


def seed_state(graph: Graph) -> tuple[tuple[float, ...], tuple[bool, ...]]:
    """Gradients and reached-flags before any step: only the root knows dL/dL = 1."""
    n = len(graph.nodes)
    return tuple(1.0 if i == n - 1 else 0.0 for i in range(n)), tuple(i == n - 1 for i in range(n))


def numeric_grad(f: Callable[[np.ndarray], float], theta: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences: (f(θ + ε e_k) − f(θ − ε e_k)) / 2ε for each k: (P,) -> (P,)."""
    theta = np.asarray(theta, dtype=float)
    grad = np.zeros_like(theta)
    for k in range(theta.size):
        step = np.zeros_like(theta)
        step.flat[k] = eps
        grad.flat[k] = (f(theta + step) - f(theta - step)) / (2 * eps)
    return grad

