"""explainers.backprop_equation: each line of a backward step says ∂L/∂input += local × upstream with the right
numbers, as well-formed HTML that breaks only before its ⇒."""

import re

import numpy as np
import pytest

from explainers import autograd as ag
from explainers import backprop as bp
from explainers import backprop_equation as be
from explainers.formula_html import plain as text


def _steps(activation: str, loss: str, hidden: int = 1):
    net = bp.build_mlp(bp.init_params(hidden, 0), np.array([1.0, 1.0]), 1.0, activation, loss)
    return ag.backward_steps(net.loss)


@pytest.mark.parametrize("activation, loss", [("sigmoid", "mse"), ("tanh", "bce"), ("relu", "bce")])
def test_each_line_is_local_times_upstream_then_the_new_gradient(activation, loss):
    graph, steps = _steps(activation, loss)
    for s in steps:
        lines = be.step_html(graph, s)
        assert len(lines) == len(s.terms)
        for pos, (line, t) in enumerate(zip(lines, s.terms)):
            # One paragraph of two sides, each kept on one line: the only break is between them, before the ⇒.
            sides = re.fullmatch(r'<p class="nl-eq"><span>(.*)</span> <span>(⇒ .*)</span></p>', line)
            assert sides, line
            product, result = (text(side) for side in sides.groups())
            node, child = (text(be.node_html(graph.nodes[i])) for i in (s.node, t.child))
            rule = text(be.local_rule_html(graph.nodes[s.node], pos))
            # each value, then what it is (under its brace): the numbers of this step's term, in this order
            assert product == (f"∂L / ∂{child} += {be.number(t.local)}{rule} × {be.number(t.upstream)}∂L/∂{node} "
                               f"= {be.number(t.product)}")
            assert result == f"⇒ ∂L / ∂{child} = {be.number(t.grad_after)}"
    ops = {graph.nodes[s.node].op for s in steps}
    assert {"+", "×"} <= ops


def test_numbers_have_four_digits_a_true_minus_and_brackets_when_negative():
    assert be.number(0.123456) == "0.1235"
    assert be.number(-2.5) == "(−2.5)"
    assert be.number(-1e-9) == "(−1e−09)" and be.number(12345.0) == "1.234e+04"
    assert be.number(-0.0) == "0" and be.number(-1e-300 * 1e-300) == "0"


@pytest.mark.parametrize("op, pos, rule", [("tanh", 0, "1 − tanh^2"), ("sigmoid", 0, "σ(1 − σ)"),
                                            ("relu", 0, "[z > 0]"), ("exp", 0, "e^a"), ("−", 0, "1"),
                                            ("−", 1, "−1"), ("÷", 0, "1/b"), ("÷", 1, "−a/b^2"), ("^ 2", 0, "2a"),
                                            ("^ 3", 0, "3a^2"), ("^ 0.5", 0, "0.5a^−0.5"), ("× 2", 0, "2"),
                                            ("1 −", 0, "−1"), ("2 ÷", 0, "−2/a^2"), ("+ 1", 0, "1"),
                                            ("÷ 4", 0, "1/4"), ("×", 1, "the other input")])
def test_local_rules_name_the_derivative(op, pos, rule):
    node = ag.GraphNode(0, "", op, "op", "", 1.0)
    assert text(be.local_rule_html(node, pos)) == rule


def test_names_are_escaped():
    assert be.node_html(ag.GraphNode(0, "a<b", "", "param", "", 1.0)) == "a&lt;b"
    assert text(be.node_html(ag.GraphNode(0, "", "×", "op", "", 1.0))) == "[×]"
