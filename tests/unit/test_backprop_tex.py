"""explainers.backprop_tex: the LaTeX lines of one backward step say local x upstream with the right numbers."""

import numpy as np
import pytest

from explainers import autograd as ag
from explainers import backprop as bp
from explainers import backprop_tex as bt


def test_step_tex_writes_local_times_upstream():
    net = bp.build_mlp(bp.init_params(1, 0), np.array([1.0, 1.0]), 1.0, "sigmoid", "mse")
    graph, steps = ag.backward_steps(net.loss)
    for s in steps:
        lines = bt.step_tex(graph, s)
        assert len(lines) == len(s.terms)
        for line, t in zip(lines, s.terms):
            assert f"{abs(t.local):.4g}" in line and f"{abs(t.grad_after):.4g}" in line
            assert line.count("{") == line.count("}")
            assert r"\allowbreak\quad \Rightarrow\nobreak" in line  # a narrow window wraps before the ⇒
    ops = {graph.nodes[s.node].op for s in steps}
    assert {"^ 2", "− 1", "sigmoid", "+", "×"} <= ops


@pytest.mark.parametrize("op, pos, rule", [("tanh", 0, r"1-\tanh^2"), ("−", 1, "-1"), ("÷", 1, r"-a/b^2"),
                                            ("^ 3", 0, "3\\,a^{2}"), ("× 2", 0, "2"), ("1 −", 0, "-1"),
                                            ("2 ÷", 0, "-2/a^2"), ("+ 1", 0, "1"), ("÷ 4", 0, "1/4")])
def test_local_rules_name_the_derivative(op, pos, rule):
    node = ag.GraphNode(0, "", op, "op", "", 1.0)
    assert bt.local_rule_tex(node, pos) == rule
