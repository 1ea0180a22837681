"""Formulas as HTML: fractions, braces, floors and sub- and superscripts, for a formula that changes with a key press.

A lesson's formula with the learner's numbers in it changes on every key press. Sent as LaTeX, it is a Streamlit
element of its own that KaTeX typesets again each time (14 to 24% of such a change's round trip,
benchmarks/RESULTS.md); sent as this HTML inside the panel that the key press redraws anyway
(pages/widgets/slider_panel.py), it is patched in place. The classes are styled in
pages/widgets/components/slider_panel.css, in KaTeX's fonts (Streamlit serves them), so it reads like the page's
other formulas. Formulas that never change stay LaTeX (``st.latex``).

Every function returns HTML; the text arguments are HTML too (escape names with ``text``).
"""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser


def text(s: str) -> str:
    """Plain text inside a formula (a name, a word), escaped."""
    return escape(s)


def var(name: str) -> str:
    """A variable, in math italic: x, H, σ."""
    return f'<i class="nl-var">{escape(name)}</i>'


def sub(base: str, index: str) -> str:
    return f"{base}<sub>{index}</sub>"


def sup(base: str, power: str) -> str:
    return f"{base}<sup>{power}</sup>"


def subsup(base: str, index: str, power: str) -> str:
    """A subscript with a superscript over it (the limits of a sum written inline: ∑ from j=0 to 9)."""
    return f'{base}<span class="nl-subsup"><sup>{power}</sup><sub>{index}</sub></span>'


def frac(numerator: str, denominator: str) -> str:
    """A built-up fraction; a screen reader (and a copy) reads "numerator / denominator"."""
    return (f'<span class="nl-frac"><span>{numerator}</span><span class="nl-sr"> / </span>'
            f"<span>{denominator}</span></span>")


def brace(value: str, label: str) -> str:
    """A value with a brace under it, and what the value is under the brace (LaTeX's \\underbrace)."""
    return f'<span class="nl-brace"><span>{value}</span><span>{label}</span></span>'


def fenced(left: str, body: str, right: str) -> str:
    """`body` between tall delimiters (⌊ ⌋, ⌈ ⌉, ( )), sized for a fraction inside."""
    return f'<span class="nl-fence">{left}</span>{body}<span class="nl-fence">{right}</span>'


def minus(s: str) -> str:
    """A true minus sign for every hyphen of a number (−3, 1e−05)."""
    return s.replace("-", "−")


def formula(*sides: str) -> str:
    """One centred formula; each side stays on one line, and a narrow window breaks the line between sides only."""
    return '<p class="nl-eq">' + " ".join(f"<span>{side}</span>" for side in sides) + "</p>"


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Plain(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.out: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag not in _VOID:
            self.open.append(tag)
        self.out.append({"sup": "^", "sub": "_"}.get(tag, ""))

    def handle_startendtag(self, tag: str, attrs) -> None:
        self.out.append("")  # <br/>, <img/>: nothing to read, nothing left open

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            raise ValueError(f"</{tag}> closes no <{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(data)


def plain(html: str) -> str:
    """The formula as a line of text (x^2, H_out, a / b), what a screen reader or a copy gets; ValueError when a tag
    is left open or closes none."""
    parser = _Plain()
    parser.feed(html)
    parser.close()
    if parser.open:
        raise ValueError(f"<{parser.open[-1]}> is never closed")
    return "".join(parser.out)
