"""explainers.formula_html: the pieces of a formula nest as well-formed HTML and read as the formula in text."""

import pytest

from explainers import formula_html as fh


def test_a_fraction_in_a_floor_reads_as_the_formula():
    html = fh.formula(f"{fh.sub(fh.var('H'), 'out')} = {fh.fenced('⌊', fh.frac('7 − 3', '2'), '⌋')} + 1",
                      f"= {fh.sup('3', '2')}")
    assert fh.plain(html) == "H_out = ⌊7 − 3 / 2⌋ + 1 = 3^2"
    # one paragraph of sides that keep to one line each; a narrow window breaks between them
    assert html.startswith('<p class="nl-eq"><span>') and html.count("</span> <span>") == 1


def test_a_brace_reads_value_then_label_and_names_are_escaped():
    assert fh.plain(fh.brace("0.5", fh.text("x<y & z"))) == "0.5x<y & z"
    assert "x&lt;y &amp; z" in fh.brace("0.5", fh.text("x<y & z"))
    assert fh.var("<b>") == '<i class="nl-var">&lt;b&gt;</i>'
    assert fh.minus("-1e-05") == "−1e−05"
    assert fh.plain(fh.subsup("∑", "j=0", "9")) == "∑^9_j=0"


@pytest.mark.parametrize("html", ["<span>open", "</i>", "<b><i>crossed</b></i>"])
def test_plain_refuses_html_that_is_not_well_formed(html):
    with pytest.raises(ValueError):
        fh.plain(html)


def test_plain_skips_void_elements():
    assert fh.plain('<figure><img src="x.png" alt="a map"><br>caption<br/></figure>') == "caption"
