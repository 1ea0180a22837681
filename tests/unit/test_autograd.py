"""explainers.autograd against torch autograd: every op of the scalar engine, and finite differences."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from explainers import autograd as ag

NUMERIC_TOL = 1e-6  # explainers.backprop.NUMERIC_TOL: central differences agree to about this in float64


def _shared(d):
    return d * d + d.tanh() - d / (d.sigmoid() + 1)  # one node feeding four ops


def _reuse(e, a, b, c):
    return (e * a).tanh() * e + (e - b).relu() * c


# Written once with operators and method names that Value and torch.Tensor share, so the very
# same expression runs through our engine and through torch autograd.
EXPRESSIONS = {
    "tanh-mul-div": lambda a, b, c: (a * b + c).tanh() * a - b / (c * c + 1),
    "exp-log-sigmoid": lambda a, b, c: ((a - b) ** 2 + 0.5).log().exp() + (a * c).sigmoid(),
    "relu-ratio": lambda a, b, c: (a + 2) * (b.relu() + 1) / (c.sigmoid() + 0.5),
    "constants-left": lambda a, b, c: -a + 3 - b * 2 + (1 - c) + 1 / (a * a + 1) + 2 / b.exp() + 2 * c,
    "powers": lambda a, b, c: a ** 3 - (b * b + 1) ** 0.5 + (c * c + 2) ** -1.5 - c / 4,
    "shared-node": lambda a, b, c: _shared(a * b + c),
    "deep-reuse": lambda a, b, c: _reuse((a - c).sigmoid() * b, a, b, c),
}

small = st.floats(-2.0, 2.0, allow_nan=False).filter(lambda v: abs(v) > 1e-3)


def _engine(expr, a, b, c):
    va, vb, vc = ag.Value(a), ag.Value(b), ag.Value(c)
    out = expr(va, vb, vc)
    out.backward()
    return out.data, np.array([va.grad, vb.grad, vc.grad])


def _torch(expr, a, b, c):
    ts = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (a, b, c)]
    out = expr(*ts)
    out.backward()
    return out.item(), np.array([t.grad.item() if t.grad is not None else 0.0 for t in ts])


@pytest.mark.parametrize("name", EXPRESSIONS)
@settings(max_examples=40, deadline=None)
@given(a=small, b=small, c=small)
def test_expression_matches_torch(name, a, b, c):
    expr = EXPRESSIONS[name]
    value, grads = _engine(expr, a, b, c)
    t_value, t_grads = _torch(expr, a, b, c)
    np.testing.assert_allclose(value, t_value, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads, t_grads, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", EXPRESSIONS)
def test_expression_matches_finite_differences(name):
    expr = EXPRESSIONS[name]
    rng = np.random.default_rng(7)
    for _ in range(5):
        theta = rng.uniform(0.2, 1.5, 3) * rng.choice([-1, 1], 3)
        _, grads = _engine(expr, *theta)
        numeric = ag.numeric_grad(lambda t: expr(*(ag.Value(v) for v in t)).data, theta)
        np.testing.assert_allclose(grads, numeric, atol=NUMERIC_TOL)


def test_numeric_grad_matches_autograd_on_a_vector_function():
    rng = np.random.default_rng(0)
    theta = rng.normal(size=6)
    t = torch.tensor(theta, requires_grad=True)
    (torch.sin(t).sum() * (t ** 2).sum()).backward()
    numeric = ag.numeric_grad(lambda v: float(np.sin(v).sum() * (v ** 2).sum()), theta)
    np.testing.assert_allclose(numeric, t.grad.numpy(), atol=1e-7)


def test_backward_resets_and_accumulates_over_paths():
    a = ag.Value(1.5)
    out = a * a + a  # two paths through a
    out.backward()
    first = a.grad
    out.backward()  # a second backward gives the same, not double
    t = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    (t * t + t).backward()
    assert a.grad == first
    np.testing.assert_allclose(a.grad, t.grad.item())


@pytest.mark.parametrize("bad", [
    lambda: ag.Value(-1.0).log(),
    lambda: ag.Value(0.0).log(),
    lambda: ag.Value(1.0) / ag.Value(0.0),
    lambda: ag.Value(1.0) / 0,
    lambda: 2 / ag.Value(0.0),
    lambda: ag.Value(0.0) ** -1,
])
def test_impossible_ops_raise_value_error(bad):
    with pytest.raises(ValueError):
        bad()


def test_relu_kink_matches_torch():
    v = ag.Value(0.0)
    v.relu().backward()
    t = torch.tensor(0.0, requires_grad=True)
    torch.relu(t).backward()
    assert v.grad == t.grad.item()


def test_deep_chain_has_no_recursion_limit():
    v = ag.Value(0.5)
    out = v
    for _ in range(3000):
        out = out * 1.0001
    out.backward()
    np.testing.assert_allclose(v.grad, 1.0001 ** 3000, rtol=1e-9)


def test_local_rule_numbers_match_the_rule():
    # the rule text and the stored local derivative agree, e.g. 3 a^2 for a ** 3
    a = ag.Value(1.7)
    out = a ** 3
    assert out.local[0] == pytest.approx(3 * 1.7 ** 2)
    assert math.isclose(ag.Value(0.3).sigmoid().local[0], torch.sigmoid(torch.tensor(0.3)).item()
                        * (1 - torch.sigmoid(torch.tensor(0.3)).item()), rel_tol=1e-6)
