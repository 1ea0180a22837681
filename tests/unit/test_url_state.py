"""Shared-link values are parsed defensively: any string either fits its widget or is refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pages.widgets.ui import MAX_URL_VALUE, _Binding, _encode, _parse

BINDINGS = [
    _Binding(3, None, 2, 5),
    _Binding(0.5, None, -5.0, 5.0),
    _Binding(1e-3, None, 1e-5, 1.0),
    _Binding(True, None, None, None),
    _Binding("relu", ("relu", "tanh", "sigmoid"), None, None),
    _Binding((1.0, -1.0, 0.5), None, -10.0, 10.0),
    _Binding(7, None, None, None),
    _Binding(0.1, None, -3.0, 3.0, 0.1),  # a slider with 0.1 steps
    _Binding(0.0, None, 0.0, 1.05, 0.1),  # a top off its grid
    _Binding(500, None, 10, 3000, 10),  # whole numbers in steps of 10 (Backprop's training steps)
]


def _fits(value, b: _Binding) -> bool:
    if isinstance(b.default, tuple):
        return all(_fits(v, _Binding(b.default[0], b.options, b.lo, b.hi)) for v in value)
    if b.options is not None and value not in b.options:
        return False
    if b.lo is not None and value < b.lo:
        return False
    return b.hi is None or value <= b.hi


@settings(max_examples=300, deadline=None)
@given(raw=st.text(max_size=60) | st.sampled_from(["inf", "-inf", "nan", "1e999", "9" * 500, "-1e308", "1,inf", "0x10"]))
def test_any_string_fits_or_is_refused(raw):
    for b in BINDINGS:
        try:
            value = _parse(raw, b)
        except ValueError:
            continue  # refused: the page keeps its default and says so
        assert _fits(value, b), (raw, b, value)


@pytest.mark.parametrize("raw", ["inf", "-inf", "nan", "1e400", "9" * 330, "-" + "9" * 330])
def test_non_finite_and_huge_numbers_are_refused(raw):
    for b in (BINDINGS[0], BINDINGS[1], BINDINGS[6]):
        with pytest.raises(ValueError):
            _parse(raw, b)


def test_values_are_clamped_to_the_widget_range():
    assert _parse("99", BINDINGS[0]) == 5
    assert _parse("-30", BINDINGS[1]) == -5.0
    assert _parse("3e-4", BINDINGS[2]) == pytest.approx(3e-4)


@settings(max_examples=200, deadline=None)
@given(value=st.floats(-1e6, 1e6))
def test_stepped_values_land_on_their_slider_grid(value):
    for b in BINDINGS[7:]:
        parsed = _parse(repr(value), b)
        k = (parsed - b.lo) / b.step
        assert _fits(parsed, b) and abs(k - round(k)) < 1e-6, (value, b, parsed)
    assert _parse("0.75", BINDINGS[7]) == 0.8 and _parse("-0.04", BINDINGS[7]) == 0.0


def test_whole_numbers_in_steps_land_on_the_grid_the_browser_shows():
    """A range input with min 10 and step 10 shows 15 as 20 (the nearer step, the larger one on a tie): a link
    with 15 must train 20 steps, the number on screen, and stay a whole number."""
    steps = BINDINGS[9]
    assert [_parse(raw, steps) for raw in ("15", "14", "10", "3000", "2999", "1")] == [20, 10, 10, 3000, 3000, 10]
    assert isinstance(_parse("15", steps), int)
    assert _parse("4", BINDINGS[0]) == 4 and isinstance(_parse("4", _Binding(3, None, 2, 5, 1)), int)


def test_overlong_values_are_refused_before_parsing():
    with pytest.raises(ValueError):
        _parse("1" * (MAX_URL_VALUE + 1), _Binding("x", None, None, None))


@pytest.mark.parametrize("value", [3e-5, 3e-4, 0.3, 1e-3, 0.123456, 5.0])
def test_learning_rates_round_trip_through_the_url(value):
    assert _parse(_encode(value), _Binding(1e-3, None, 1e-6, 10.0)) == pytest.approx(value, rel=1e-6)
