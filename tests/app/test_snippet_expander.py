"""The "PyTorch equivalent" expander (pages/widgets/ui.py pytorch_snippet): closed, it builds and sends no code."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from pages.widgets.ui import SNIPPET_KEY
from tests.app.harness import open_snippets


def _app() -> None:
    import streamlit as st

    from pages.widgets.ui import pytorch_snippet

    @st.fragment
    def panel() -> None:
        k = st.slider("Kernel size", 1, 6, 2, key="k")

        def build() -> str:
            st.session_state.built = st.session_state.get("built", 0) + 1
            return f"nn.MaxPool2d(kernel_size={k})"

        pytorch_snippet(build)

    panel()


def test_a_closed_snippet_builds_no_code_and_an_open_one_follows_the_slider():
    at = AppTest.from_function(_app).run()
    assert [e.label for e in at.expander] == ["PyTorch equivalent"] and not at.code
    at.slider(key="k").set_value(4).run()
    assert not at.code and "built" not in at.session_state  # closed: nothing built on a slider move
    open_snippets(at)  # what a click on the expander does
    assert at.session_state[SNIPPET_KEY + "PyTorch equivalent"] is True
    assert [c.value for c in at.code] == ["nn.MaxPool2d(kernel_size=4)"] and at.code[0].language == "python"
    at.slider(key="k").set_value(5).run()
    assert [c.value for c in at.code] == ["nn.MaxPool2d(kernel_size=5)"]  # it stays open and follows
    assert at.session_state.built == 2
    at.session_state[SNIPPET_KEY + "PyTorch equivalent"] = False  # closed again
    at.slider(key="k").set_value(6).run()
    assert not at.code and at.session_state.built == 2
