"""The maths modules stay pure (numpy and Pillow) and figures stay torch-free, even in lazy imports.

import-linter checks the layers in `make lint`; this test reads every import statement, including
those inside functions, so a lazy `import torch` in a maths module fails the unit tests too.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

EXPLAINERS = pathlib.Path(__file__).parents[2] / "explainers"
MATHS = sorted(EXPLAINERS.glob("*.py"))
FIGURES = sorted((EXPLAINERS / "figures").glob("*.py"))


def imported_modules(path: pathlib.Path) -> set[str]:
    """Every module an import statement anywhere in the file names (top level or inside functions)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _under(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


@pytest.mark.parametrize("path", MATHS, ids=lambda p: p.name)
def test_maths_modules_import_neither_torch_plotly_nor_streamlit(path):
    bad = {n for n in imported_modules(path)
           if _under(n, ("torch", "torchvision", "plotly", "streamlit", "pages", "models", "explainers.figures",
                         "explainers.training"))}
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("path", FIGURES, ids=lambda p: p.name)
def test_figures_import_no_torch_and_no_streamlit(path):
    bad = {n for n in imported_modules(path)
           if _under(n, ("torch", "torchvision", "streamlit", "pages", "models", "explainers.training"))}
    assert not bad, f"figures/{path.name} imports {sorted(bad)}"


def test_the_lists_are_not_empty():
    assert {"perceptron.py", "autograd.py", "backprop.py", "snippets.py"} <= {p.name for p in MATHS}
    assert "style.py" in {p.name for p in FIGURES}
