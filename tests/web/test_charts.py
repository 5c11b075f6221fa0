"""The inline SVG charts: proportions, gaps, escaping, and their text for screen readers."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from decimal import Decimal

from markbook.web import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    # The charts are inline in HTML, so they carry no namespace; add it to parse as SVG.
    return ET.fromstring(str(markup).replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))  # noqa: S314 - our own output


def test_bars_are_in_proportion_and_coloured_by_band() -> None:
    svg = parse(
        charts.bar_chart(
            [
                charts.Bar("Algebra", Decimal("80"), "B-"),
                charts.Bar("Art", Decimal("40"), "F"),
                charts.Bar("History", Decimal("65"), "D"),
                charts.Bar("Music", None),
            ],
            title="Course averages",
        )
    )
    bars = svg.findall(f"{SVG}rect")
    widths = [float(bar.get("width", "0")) for bar in bars]
    assert len(widths) == 3  # no bar for a course without counted work
    assert widths[0] == 2 * widths[1]
    assert [bar.get("class") for bar in bars] == ["bar ok", "bar low", "bar mid"]
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "80 B-" in texts
    assert "no counted work" in texts
    assert svg.get("role") == "img"
    assert svg.findtext(f"{SVG}title") == "Course averages"
    assert svg.findtext(f"{SVG}desc") == "Algebra: 80; Art: 40; History: 65; Music: none"


def test_extra_credit_stretches_the_axis_instead_of_overflowing() -> None:
    svg = parse(charts.bar_chart([charts.Bar("Art", 110), charts.Bar("Algebra", 55)], title="x"))
    widths = [float(bar.get("width", "0")) for bar in svg.findall(f"{SVG}rect")]
    assert widths[0] == 2 * widths[1]
    assert widths[0] == 270  # the whole plot


def test_a_line_breaks_where_a_week_has_no_value() -> None:
    monday = dt.date(2026, 9, 7)
    weeks = [(monday + dt.timedelta(weeks=n), v) for n, v in enumerate([70, 75, None, 80, 82])]
    svg = parse(charts.line_chart(weeks, title="Weekly", fixed_range=(0.0, 100.0)))
    lines = svg.findall(f"{SVG}polyline")
    assert [len(line.get("points", "").split()) for line in lines] == [2, 2]
    dots = svg.findall(f"{SVG}circle")
    assert len(dots) == 4
    heights = [float(dot.get("cy", "0")) for dot in dots]
    assert heights == sorted(heights, reverse=True)  # higher value, higher on the page
    assert "2026-09-07: 70" in (dots[0].findtext(f"{SVG}title") or "")


def test_nothing_to_draw_draws_nothing() -> None:
    assert charts.bar_chart([], title="x") == ""
    assert charts.line_chart([(dt.date(2026, 9, 7), None)], title="x") == ""
    assert charts.stacked_bar([charts.Segment("Present", 0, "present")], title="x") == ""


def test_attendance_segments_share_the_width() -> None:
    svg = parse(
        charts.stacked_bar(
            [
                charts.Segment("Present", 6, "present"),
                charts.Segment("Late", 0, "late"),
                charts.Segment("Absent", 2, "absent"),
            ],
            title="Attendance",
        )
    )
    segments = [r for r in svg.findall(f"{SVG}rect") if float(r.get("height", "0")) == 28]
    assert [float(r.get("width", "0")) for r in segments] == [480.0, 160.0]
    assert "Late 0" in [t.text for t in svg.iter(f"{SVG}text")]


def test_labels_are_escaped() -> None:
    markup = charts.bar_chart([charts.Bar('<script>alert("x")</script>', 50)], title="<b>")
    assert "<script>" not in markup
    assert "&lt;script&gt;" in markup
    assert not re.search(r"<b>", markup)
