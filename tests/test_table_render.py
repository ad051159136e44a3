"""Rendering a table: float formats never print a negative zero (solver noise such as a
reserve of -4e-12 yuan read "-0" in the answer table)."""

import pandas as pd
import pytest

from models.report.table import Table, no_negative_zero, render_frame


@pytest.mark.parametrize("spec, expected", [
    (",.0f", "z,.0f"), (".2f", "z.2f"), ("g", "zg"), ("", "z"), ("+.1e", "+z.1e"),
    (">+10.2f", ">+z10.2f"), ("*<8.1f", "*<z8.1f"), ("z.3f", "z.3f")])
def test_z_goes_after_fill_align_and_sign(spec, expected):
    assert no_negative_zero(spec) == expected
    format(-1e-12, expected)  # a valid format spec


def test_noise_below_zero_prints_as_zero_in_every_format():
    frame = pd.DataFrame({"year": [2060, 2070], "assets": [-3.8e-12, 4097.6],
                          "rate": [-1e-9, 18.5]})
    table = Table("t", "title", frame, ("d", ",.0f", ".1f"))
    for fmt in ("simple", "pipe", "latex_booktabs"):
        text = table.text(fmt)
        assert "-0" not in text, (fmt, text)
        assert "4,098" in text and "18.5" in text
    assert table.markdown() == f"### title\n\n{table.text('pipe')}\n"
    html = render_frame(frame, ",.2f", "html")
    assert "-0" not in html and "4,097.60" in html


def test_negative_values_keep_their_sign():
    frame = pd.DataFrame({"change": [-0.6, -1234.4]})
    assert "-1" in render_frame(frame, ".0f") and "-1,234" in render_frame(frame, ",.0f")
