"""Charts as inline SVG, drawn on the server: no script, no library, printable.

Each chart is an ``<svg role="img">`` with a ``<title>`` and ``<desc>`` for screen
readers, and the page shows the same figures in a table beside it. Colours come
from classes the stylesheet defines, so the charts follow the page's palette.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

Number = Decimal | float | int


@dataclass(frozen=True)
class Bar:
    label: str
    value: Number | None
    note: str = ""  # shown after the value, e.g. the letter


@dataclass(frozen=True)
class Segment:
    label: str
    value: int
    css: str


def _svg(width: int, height: int, title: str, desc: str, body: list[str]) -> Markup:
    return Markup(  # noqa: S704 - every piece of text in `body` went through escape()
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'style="max-width: {round(width * 1.5)}px" '
        f'preserveAspectRatio="xMinYMin meet" aria-labelledby="{_id(title)}-t {_id(title)}-d">'
        f'<title id="{_id(title)}-t">{escape(title)}</title>'
        f'<desc id="{_id(title)}-d">{escape(desc)}</desc>' + "".join(body) + "</svg>"
    )


def _id(title: str) -> str:
    return "c" + "".join(ch for ch in title.lower() if ch.isalnum())[:24]


def _fmt(value: Number) -> str:
    return f"{float(value):.2f}".rstrip("0").rstrip(".") if value is not None else ""


def bar_chart(bars: Sequence[Bar], *, title: str, scale_max: float = 100.0) -> Markup:
    """Horizontal bars on a 0..scale_max axis (longer values still fit: the axis grows)."""
    if not bars:
        return Markup("")
    top = max([scale_max, *(float(b.value) for b in bars if b.value is not None)])
    label_w, plot_w, row_h = 170, 270, 28
    width, height = label_w + plot_w + 80, row_h * len(bars) + 30
    body = [
        f'<line class="axis" x1="{label_w}" y1="0" x2="{label_w}" y2="{height - 22}"/>',
    ]
    for tick in range(0, int(top) + 1, 25 if top <= 150 else 50):
        x = label_w + plot_w * tick / top
        body.append(
            f'<line class="grid" x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 22}"/>'
            f'<text class="tick" x="{x:.1f}" y="{height - 6}" text-anchor="middle">{tick}</text>'
        )
    for index, bar in enumerate(bars):
        y = index * row_h + 4
        label = bar.label if len(bar.label) <= 26 else bar.label[:25] + "…"
        body.append(
            f'<text class="label" x="{label_w - 8}" y="{y + 15}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        if bar.value is None:
            body.append(
                f'<text class="value muted" x="{label_w + 6}" y="{y + 15}">no counted work</text>'
            )
            continue
        w = max(1.0, plot_w * float(bar.value) / top)
        shown = f"{_fmt(bar.value)} {bar.note}".strip()
        body.append(
            f'<rect class="bar {_band(bar.value)}" x="{label_w}" y="{y}" width="{w:.1f}" '
            f'height="{row_h - 10}" rx="3"/>'
            f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + 14}">{escape(shown)}</text>'
        )
    desc = "; ".join(f"{b.label}: {_fmt(b.value) if b.value is not None else 'none'}" for b in bars)
    return _svg(width, height, title, desc, body)


def _band(value: Number) -> str:
    """The colour band of a percentage: below 60 fails, below 70 needs attention."""
    if value < 60:
        return "low"
    if value < 70:
        return "mid"
    return "ok"


def line_chart(
    points: Sequence[tuple[dt.date, Number | None]],
    *,
    title: str,
    y_label: str = "",
    fixed_range: tuple[float, float] | None = None,
) -> Markup:
    """One line over dates; a gap where a value is missing."""
    known = [(day, float(v)) for day, v in points if v is not None]
    if not known:
        return Markup("")
    width, height = 520, 230
    left, right, top_pad, bottom = 48, 16, 14, 34
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    if fixed_range:
        low, high = fixed_range
        high = max(high, max(v for _, v in known))
        low = min(low, min(v for _, v in known))
    else:
        low, high = _nice_range(min(v for _, v in known), max(v for _, v in known))
    first, last = points[0][0], points[-1][0]
    span = max(1, (last - first).days)

    def x(day: dt.date) -> float:
        return left + plot_w * (day - first).days / span if len(points) > 1 else left + plot_w / 2

    def y(value: float) -> float:
        return top_pad + plot_h * (1 - (value - low) / ((high - low) or 1))

    body = []
    for tick in _ticks(low, high):
        body.append(
            f'<line class="grid" x1="{left}" y1="{y(tick):.1f}" x2="{width - right}" '
            f'y2="{y(tick):.1f}"/><text class="tick" x="{left - 6}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{_fmt(tick)}</text>'
        )
    body.append(
        f'<line class="axis" x1="{left}" y1="{height - bottom}" x2="{width - right}" '
        f'y2="{height - bottom}"/>'
    )
    for index in _label_indexes(len(points)):
        day = points[index][0]
        # The outermost labels lean inwards, so the chart's edge does not cut them.
        anchor = "start" if index == 0 else "end" if index == len(points) - 1 else "middle"
        body.append(
            f'<text class="tick" x="{x(day):.1f}" y="{height - bottom + 16}" '
            f'text-anchor="{anchor}">{day:%d %b}</text>'
        )
    for run in _runs(points):
        if len(run) > 1:
            path = " ".join(f"{x(d):.1f},{y(float(v)):.1f}" for d, v in run)
            body.append(f'<polyline class="line" points="{path}"/>')
        for day, value in run:
            body.append(
                f'<circle class="dot" cx="{x(day):.1f}" cy="{y(float(value)):.1f}" r="3">'
                f"<title>{day.isoformat()}: {_fmt(value)}</title></circle>"
            )
    if y_label:
        body.append(
            f'<text class="tick" x="12" y="{top_pad + plot_h / 2:.1f}" text-anchor="middle" '
            f'transform="rotate(-90 12 {top_pad + plot_h / 2:.1f})">{escape(y_label)}</text>'
        )
    desc = "; ".join(f"{d.isoformat()}: {_fmt(v)}" for d, v in known[-12:])
    return _svg(width, height, title, f"{len(known)} points, latest: {desc}", body)


def _runs(
    points: Sequence[tuple[dt.date, Number | None]],
) -> list[list[tuple[dt.date, Number]]]:
    runs: list[list[tuple[dt.date, Number]]] = [[]]
    for day, value in points:
        if value is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((day, value))
    return [run for run in runs if run]


def _label_indexes(count: int, most: int = 8) -> list[int]:
    if count <= most:
        return list(range(count))
    step = math.ceil(count / most)
    return list(range(0, count, step))


def _nice_range(low: float, high: float) -> tuple[float, float]:
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.1
    return low - pad, high + pad


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.ceil(low / step) * step
    ticks = []
    value = start
    while value <= high + 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def stacked_bar(segments: Sequence[Segment], *, title: str) -> Markup:
    """One bar split in proportion (attendance: present, late, absent, excused)."""
    total = sum(s.value for s in segments)
    if total == 0:
        return Markup("")
    width, height = 640, 70
    body = []
    x = 0.0
    for segment in segments:
        if segment.value == 0:
            continue
        w = 640 * segment.value / total
        body.append(
            f'<rect class="seg {escape(segment.css)}" x="{x:.1f}" y="0" width="{w:.1f}" '
            f'height="28"><title>{escape(segment.label)}: {segment.value}</title></rect>'
        )
        x += w
    legend_x = 0
    for segment in segments:
        body.append(
            f'<rect class="seg {escape(segment.css)}" x="{legend_x}" y="44" width="12" '
            f'height="12"/><text class="label" x="{legend_x + 16}" y="55">'
            f"{escape(segment.label)} {segment.value}</text>"
        )
        legend_x += 150
    desc = ", ".join(f"{s.label} {s.value}" for s in segments)
    return _svg(width, height, title, desc, body)
