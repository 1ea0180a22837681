"""Words and formulas for one backward step of the autograd engine, as LaTeX for st.latex."""

from __future__ import annotations

from explainers.autograd import BackwardStep, Graph, GraphNode

_OP_TEX = {"×": r"\times", "+": "+", "−": "-", "÷": r"\div", "neg": r"\text{neg}", "sigmoid": r"\sigma",
           "tanh": r"\tanh", "relu": r"\text{relu}", "log": r"\log", "exp": r"\exp"}


def node_tex(node: GraphNode) -> str:
    """A short LaTeX name for a node: the parameter's name, or its op in brackets."""
    if node.kind != "op":
        return r"\text{" + node.label + "}"
    op = _OP_TEX.get(node.op, node.op.replace("×", r"\times").replace("−", "-").replace("÷", r"\div"))
    return r"[\," + op + r"\,]"


def local_rule_tex(node: GraphNode, child_position: int) -> str:
    """The rule behind d(node)/d(child) in LaTeX, e.g. 1 - tanh^2."""
    op = node.op
    rules = {"sigmoid": r"\sigma(1-\sigma)", "tanh": r"1-\tanh^2", "relu": r"[\,z>0\,]", "log": r"1/a",
             "exp": r"e^{a}", "neg": "-1", "+": "1", "×": r"\text{the other input}"}
    if op in rules:
        return rules[op]
    if op == "−":
        return "1" if child_position == 0 else "-1"
    if op == "÷":
        return "1/b" if child_position == 0 else r"-a/b^2"
    if op.startswith("^"):
        n = float(op[1:])
        return f"{n:g}\\,a^{{{n - 1:g}}}"
    if op.startswith("×"):
        return op[1:].strip()
    if op.startswith("÷"):
        return f"1/{op[1:].strip()}"
    if op.endswith("−"):
        return "-1"
    if op.endswith("÷"):
        return f"-{op[:-1].strip()}/a^2"
    return "1"  # "+ c" and "− c"


def _tex_num(v: float) -> str:
    s = f"{v:.4g}"
    if float(s) == 0:
        return "0"  # never "-0": a zero product of a negative number is still zero
    return f"({s})" if v < 0 else s


def step_tex(graph: Graph, step: BackwardStep) -> list[str]:
    """One LaTeX line per chain-rule product of a backward step, for inline math (``$...$``).

    Inline, so that a narrow window (a projector at 1024 px) wraps a line after one of its relations instead of
    scrolling the gradient, the number that matters, out of view; display math never wraps. Fractions are
    ``\\dfrac`` to keep their display size, and the only break is before the ⇒.
    """
    node = graph.nodes[step.node]
    lines = []
    for pos, t in enumerate(step.terms):
        child = r"\dfrac{\partial L}{\partial " + node_tex(graph.nodes[t.child]) + "}"
        product = (child + r" \mathrel{+}= \underbrace{" + _tex_num(t.local) + r"}_{" + local_rule_tex(node, pos)
                   + r"} \times \underbrace{" + _tex_num(t.upstream) + r"}_{\partial L/\partial " + node_tex(node)
                   + "} = " + _tex_num(t.product))
        # Each side in braces: a group never breaks inside, so a line wraps before the ⇒ or not at all.
        lines.append("{" + product + r"} \allowbreak\quad \Rightarrow\nobreak\quad {" + child + " = "
                     + _tex_num(t.grad_after) + "}")
    return lines
