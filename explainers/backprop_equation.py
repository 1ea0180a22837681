"""One backward step of the autograd engine as a formula: HTML that the graph's panel shows above the graph.

Plain HTML and CSS (the classes ``nl-eq``, ``nl-frac`` and ``nl-brace`` of pages/widgets/components/
slider_panel.css), not LaTeX: the step's panel patches it in place with the graph, where a LaTeX formula would be
a Streamlit markdown element of its own, typeset again by KaTeX on every step (17% of a step's round trip,
benchmarks/RESULTS.md).
"""

from __future__ import annotations

from html import escape

from explainers.autograd import BackwardStep, Graph, GraphNode

_OP_NAMES = {"neg": "neg", "sigmoid": "σ", "tanh": "tanh", "relu": "relu", "log": "log", "exp": "exp"}


def _var(name: str) -> str:
    """A variable in math italic (a, b, z, σ), as the formula's letters are set."""
    return f'<i class="nl-var">{name}</i>'


def _sup(base: str, power: str) -> str:
    return f"{base}<sup>{power}</sup>"


def node_html(node: GraphNode) -> str:
    """A short name for a node: the parameter's name, or its operation in brackets ([×], [tanh])."""
    if node.kind != "op":
        return escape(node.label)
    return "[" + escape(_OP_NAMES.get(node.op, node.op.replace("-", "−"))) + "]"


def local_rule_html(node: GraphNode, child_position: int) -> str:
    """The rule behind d(node)/d(child), e.g. 1 − tanh²; ``a`` and ``b`` are the node's inputs, ``z`` its input."""
    a, b, s = _var("a"), _var("b"), _var("σ")
    op = node.op
    rules = {"sigmoid": f"{s}(1 − {s})", "tanh": "1 − " + _sup("tanh", "2"), "relu": f"[{_var('z')} &gt; 0]",
             "log": f"1/{a}", "exp": _sup(_var("e"), a), "neg": "−1", "+": "1", "×": "the other input"}
    if op in rules:
        return rules[op]
    if op == "−":
        return "1" if child_position == 0 else "−1"
    if op == "÷":
        return f"1/{b}" if child_position == 0 else f"−{a}/{_sup(b, '2')}"
    if op.startswith("^"):
        n = float(op[1:])
        return f"{n:g}{a}" if n - 1 == 1 else f"{n:g}{_sup(a, f'{n - 1:g}'.replace('-', '−'))}"
    if op.startswith("×"):
        return escape(op[1:].strip())
    if op.startswith("÷"):
        return f"1/{escape(op[1:].strip())}"
    if op.endswith("−"):
        return "−1"
    if op.endswith("÷"):
        return f"−{escape(op[:-1].strip())}/{_sup(a, '2')}"
    return "1"  # "+ c" and "− c"


def number(v: float) -> str:
    """4 significant digits with a true minus sign, a negative number in brackets (as it is multiplied)."""
    s = f"{v:.4g}"
    if float(s) == 0:
        return "0"  # never "-0": a zero product of a negative number is still zero
    return f"({s.replace('-', '−')})" if v < 0 else s


def _grad(name: str) -> str:
    """∂L/∂name as a fraction."""
    return f'<span class="nl-frac"><span>∂{_var("L")}</span><span class="nl-sr">/</span><span>∂{name}</span></span>'


def _brace(value: str, label: str) -> str:
    """A value with a brace under it and what it is under the brace."""
    return f'<span class="nl-brace"><span>{value}</span><span>{label}</span></span>'


def step_html(graph: Graph, step: BackwardStep) -> list[str]:
    """One line per chain-rule product of a backward step: ∂L/∂input += local × upstream = product ⇒ ∂L/∂input.

    Each side of the ⇒ stays on one line; a narrow window (a projector at 1024 px) breaks the line before the ⇒,
    so the gradient, the number that matters, never scrolls out of view.
    """
    node = graph.nodes[step.node]
    upstream = "∂" + _var("L") + "/∂" + node_html(node)
    lines = []
    for pos, t in enumerate(step.terms):
        child = _grad(node_html(graph.nodes[t.child]))
        product = (f"{child} += {_brace(number(t.local), local_rule_html(node, pos))} × "
                   f"{_brace(number(t.upstream), upstream)} = {number(t.product)}")
        lines.append(f'<p class="nl-eq"><span>{product}</span> <span>⇒ {child} = {number(t.grad_after)}</span></p>')
    return lines
