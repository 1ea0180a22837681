"""One backward step of the autograd engine as a formula: HTML (explainers/formula_html.py) that the graph's panel
shows above the graph and patches in place with it on every step."""

from __future__ import annotations

from explainers.autograd import BackwardStep, Graph, GraphNode
from explainers.formula_html import brace, formula, frac, minus, sup, text, var

_OP_NAMES = {"neg": "neg", "sigmoid": "σ", "tanh": "tanh", "relu": "relu", "log": "log", "exp": "exp"}


def node_html(node: GraphNode) -> str:
    """A short name for a node: the parameter's name, or its operation in brackets ([×], [tanh])."""
    if node.kind != "op":
        return text(node.label)
    return "[" + text(_OP_NAMES.get(node.op, minus(node.op))) + "]"


def local_rule_html(node: GraphNode, child_position: int) -> str:
    """The rule behind d(node)/d(child), e.g. 1 − tanh²; ``a`` and ``b`` are the node's inputs, ``z`` its input."""
    a, b, s = var("a"), var("b"), var("σ")
    op = node.op
    rules = {"sigmoid": f"{s}(1 − {s})", "tanh": "1 − " + sup("tanh", "2"), "relu": f"[{var('z')} &gt; 0]",
             "log": f"1/{a}", "exp": sup(var("e"), a), "neg": "−1", "+": "1", "×": "the other input"}
    if op in rules:
        return rules[op]
    if op == "−":
        return "1" if child_position == 0 else "−1"
    if op == "÷":
        return f"1/{b}" if child_position == 0 else f"−{a}/{sup(b, '2')}"
    if op.startswith("^"):
        n = float(op[1:])
        return f"{n:g}{a}" if n - 1 == 1 else f"{n:g}{sup(a, minus(f'{n - 1:g}'))}"
    if op.startswith("×"):
        return text(op[1:].strip())
    if op.startswith("÷"):
        return f"1/{text(op[1:].strip())}"
    if op.endswith("−"):
        return "−1"
    if op.endswith("÷"):
        return f"−{text(op[:-1].strip())}/{sup(a, '2')}"
    return "1"  # "+ c" and "− c"


def number(v: float) -> str:
    """4 significant digits with a true minus sign, a negative number in brackets (as it is multiplied)."""
    s = f"{v:.4g}"
    if float(s) == 0:
        return "0"  # never "-0": a zero product of a negative number is still zero
    return f"({minus(s)})" if v < 0 else s


def _grad(name: str) -> str:
    """∂L/∂name as a fraction."""
    return frac("∂" + var("L"), "∂" + name)


def step_html(graph: Graph, step: BackwardStep) -> list[str]:
    """One line per chain-rule product of a backward step: ∂L/∂input += local × upstream = product ⇒ ∂L/∂input.

    Each side of the ⇒ stays on one line; a narrow window (a projector at 1024 px) breaks the line before the ⇒,
    so the gradient, the number that matters, never scrolls out of view.
    """
    node = graph.nodes[step.node]
    upstream = "∂" + var("L") + "/∂" + node_html(node)
    lines = []
    for pos, t in enumerate(step.terms):
        child = _grad(node_html(graph.nodes[t.child]))
        product = (f"{child} += {brace(number(t.local), local_rule_html(node, pos))} × "
                   f"{brace(number(t.upstream), upstream)} = {number(t.product)}")
        lines.append(formula(product, f"⇒ {child} = {number(t.grad_after)}"))
    return lines
