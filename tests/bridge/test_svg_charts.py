"""The console's SVG charts: well-formed, named for assistive technology, and escaping every
label (a push's title is anyone's text)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ccin_bridge.console import svg_charts
from ccin_bridge.handlers.engagement import Chart, Series

SVG = "{http://www.w3.org/2000/svg}"


def _chart(kind: str, rows: tuple[str, ...], series: tuple[Series, ...]) -> Chart:
    return Chart("test", "A <chart>", "It shows & tells.", kind, "Row", rows, series)  # type: ignore[arg-type]


def test_bars_are_an_image_with_a_title_and_escaped_labels() -> None:
    chart = _chart(
        "bars",
        ("<script>alert(1)</script>", "Two"),
        (Series("Delivered", (3, 0)), Series("Clicks", (1, 7))),
    )
    (image,) = svg_charts.draw(chart)
    root = ET.fromstring(str(image))  # well-formed: every label escaped
    assert root.get("role") == "img"
    labelled = root.get("aria-labelledby", "").split()
    found = {e.get("id"): e.text for e in root.iter() if e.get("id")}
    assert [found[i] for i in labelled] == ["A <chart>", "It shows & tells."]
    texts = [e.text for e in root.iter(f"{SVG}text")]
    assert "<script>alert(1)</script>" in texts and "7" in texts
    assert len(list(root.iter(f"{SVG}rect"))) == 2 + 4  # the legend's two, a bar per value


def test_lines_are_one_image_per_panel_and_nothing_is_drawn_for_zeros() -> None:
    months = ("Oct 2026", "Nov 2026")
    chart = _chart(
        "lines",
        months,
        (
            Series("Telegram", (1, 2), panel="Officer Network"),
            Series("Slack", (0, 1), panel="Officer Network"),
            Series("Telegram", (4, 4), panel="Leaders"),
        ),
    )
    images = [ET.fromstring(str(i)) for i in svg_charts.draw(chart)]
    titles = [i.find(f"{SVG}title") for i in images]
    assert [t.text for t in titles if t is not None] == [
        "A <chart>: Officer Network",
        "A <chart>: Leaders",
    ]
    assert [len(list(i.iter(f"{SVG}polyline"))) for i in images] == [2, 1]
    assert svg_charts.draw(_chart("bars", months, (Series("Joined", (0, 0)),))) == []
