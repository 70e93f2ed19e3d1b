"""CSV cells that a spreadsheet would run as a formula are kept as text."""

from __future__ import annotations

import pytest

from ccin_bridge.console import spreadsheet


@pytest.mark.parametrize(
    "value",
    [
        '=HYPERLINK("https://evil.example")',
        "+1+1",
        "-2+3",
        "@SUM(A1)",
        "\t=1",
        " =1+1",
        "   @SUM(A1)",
        "\n=1+1",
        "\r\n+1",
        " \t-1",
    ],
)
def test_a_formula_is_kept_as_text(value: str) -> None:
    assert spreadsheet.cell(value) == "'" + value


@pytest.mark.parametrize("value", ["Ada Example", "12", " plain", "a=b", "", "  "])
def test_other_values_are_left_alone(value: str) -> None:
    assert spreadsheet.cell(value) == value
