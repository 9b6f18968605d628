"""Server-rendered SVG charts: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

from healthbrain.web.charts import Series, choropleth, line_chart


def test_line_chart_draws_points_and_bands() -> None:
    points = [(datetime(2026, m, 1, tzinfo=UTC), 130.0 + m) for m in range(1, 5)]
    svg = line_chart([Series("收缩压", "#c00", points)], bands=[(140, "140")], title="BP <test>")
    assert svg.startswith("<svg") and svg.count("<circle") == 4
    assert 'class="band"' in svg and "BP &lt;test&gt;" in svg
    assert line_chart([Series("x", "#000", [])]) == ""


def test_choropleth_shades_links_and_escapes() -> None:
    square = {"type": "Polygon", "coordinates": [[[120, 30], [120.1, 30], [120.1, 30.1], [120, 30.1], [120, 30]]]}
    multi = {"type": "MultiPolygon", "coordinates": [[[[120.2, 30], [120.3, 30], [120.3, 30.1], [120.2, 30]]]]}
    svg = choropleth(
        [("1", "甲<街道>", square, 1.0, "/a"), ("2", "乙", multi, 0.0, None), ("3", "丙", None, None, None)]
    )
    assert svg.count("<path") == 2 and '<a href="/a">' in svg
    assert "甲&lt;街道&gt;" in svg and "fill-opacity:0.90" in svg and "fill-opacity:0.15" in svg


def test_a_single_reading_sits_in_the_middle_with_one_date() -> None:
    svg = line_chart([Series("血糖", "#000", [(datetime(2026, 5, 1, 8, tzinfo=UTC), 6.1)])])
    assert svg.count("2026-05-01") == 2  # the axis label and the point's tooltip
    assert 'text-anchor="middle"' in svg
