"""The browser panel's controls in Python: what a value from the browser becomes (pages/widgets/slider_panel.py)."""

from __future__ import annotations

import math

import pytest

from pages.widgets.slider_panel import RangeControl


def test_a_range_clamps_and_snaps_what_the_browser_sends():
    bias = RangeControl("b", "Bias b", -1.0, 1.0, 0.05)
    assert bias.snap(0.33) == pytest.approx(0.35) and bias.snap(7) == 1.0 and bias.snap(-7) == -1.0
    assert bias.digits == 2 and bias.labels == []


@pytest.mark.parametrize("raw", ["8", None, True, math.nan, math.inf, 10**400, [8]])
def test_anything_not_a_number_is_refused(raw):
    assert RangeControl("b", "Bias b", -1.0, 1.0, 0.05).snap(raw) is None
    assert RangeControl.choices("m", "M", [1, 2, 4]).snap(raw) is None


def test_choices_give_one_of_the_options_in_their_own_type():
    micro = RangeControl.choices("m", "Micro-batches M", [1, 2, 4, 8, 16, 32])
    assert (micro.lo, micro.hi, micro.step) == (0, 5, 1)  # the browser's range counts the options
    assert micro.snap(8) == 8 and isinstance(micro.snap(8), int)  # the page's code gets the option itself
    assert micro.snap(7) == 8 and micro.snap(1000) == 32 and micro.snap(-3) == 1  # the nearest option
    assert micro.labels == ["1", "2", "4", "8", "16", "32"]
    rates = RangeControl.choices("lr", "Learning rate", [0.05, 0.1, 0.5, 1.0])
    assert rates.snap(0.1) == 0.1 and rates.labels == ["0.05", "0.1", "0.5", "1"]
    assert RangeControl.choices("n", "Images", [500, 2_000_000]).labels == ["500", "2000000"]
    with pytest.raises(ValueError):
        RangeControl.choices("m", "M", [])


def test_choices_are_shown_as_the_page_writes_them_and_stay_the_options():
    images = RangeControl.choices("n", "Training images", [200, 5000, 0],
                                  format_func=lambda n: "all 60,000" if n == 0 else f"{n:,}")
    assert images.labels == ["200", "5,000", "all 60,000"] and images.options == (200, 5000, 0)
    assert images.snap(0) == 0 and images.snap(4000) == 5000  # the value is the option, not its name


def test_text_choices_give_only_one_of_themselves():
    padding = RangeControl.choices("p", "Padding", ["0", "1", "2", "same"])
    assert padding.labels == ["0", "1", "2", "same"] and (padding.lo, padding.hi) == (0, 3)
    assert padding.snap("same") == "same" and padding.snap("2") == "2"
    assert padding.snap("valid") is None and padding.snap("SAME") is None  # not one of them: refused
    assert padding.snap(2) is None  # a number is not a text choice, even one that reads the same
    mixed = RangeControl.choices("k", "Kernel", [1, 3, "same"])
    assert mixed.snap(2.6) == 3 and mixed.snap("same") == "same" and mixed.snap("3") is None
