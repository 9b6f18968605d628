"""Small server-rendered SVG charts (no JavaScript, nothing loaded from outside)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    points: Sequence[tuple[datetime, float]]
    style: str = "line"  # line (with dots) / dashed (a threshold) / points (marked observations)


def line_chart(
    series: Sequence[Series],
    *,
    width: int = 640,
    height: int = 200,
    bands: Sequence[tuple[float, str]] = (),
    title: str = "",
) -> str:
    """An SVG line chart of time series; ``bands`` draws dashed reference lines (e.g. 140 mmHg)."""
    points = [p for s in series for p in s.points]
    if not points:
        return ""
    pad_l, pad_r, pad_t, pad_b = 40, 10, 14, 22
    t0 = min(p[0] for p in points).timestamp()
    t1 = max(p[0] for p in points).timestamp()
    if t1 - t0 < 86_400:  # one day of readings: centre them on a month-wide axis
        t0, t1 = t0 - 15 * 86_400, t1 + 15 * 86_400
    values = [p[1] for p in points] + [b[0] for b in bands]
    v0, v1 = min(values), max(values)
    margin = (v1 - v0) * 0.1 or 1.0
    v0, v1 = v0 - margin, v1 + margin
    span_t = (t1 - t0) or 1.0

    def x(ts: datetime) -> float:
        return pad_l + (ts.timestamp() - t0) / span_t * (width - pad_l - pad_r)

    def y(v: float) -> float:
        return pad_t + (v1 - v) / (v1 - v0) * (height - pad_t - pad_b)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    if not bands:  # a value scale: the bottom, the middle and the top of the axis
        for value in (v0 + margin, (v0 + v1) / 2, v1 - margin):
            parts.append(
                f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{y(value):.1f}" y2="{y(value):.1f}" class="grid"/>'
                f'<text x="{pad_l - 4}" y="{y(value) + 4:.1f}" class="axis" text-anchor="end">{value:.4g}</text>'
            )
    for value, label in bands:
        parts.append(
            f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{y(value):.1f}" y2="{y(value):.1f}" class="band"/>'
            f'<text x="{pad_l - 4}" y="{y(value) + 4:.1f}" class="axis" text-anchor="end">{escape(label)}</text>'
        )
    first, last = min(p[0] for p in points), max(p[0] for p in points)
    if first.date() == last.date():
        parts.append(
            f'<text x="{x(first):.1f}" y="{height - 6}" class="axis" text-anchor="middle">{first:%Y-%m-%d}</text>'
        )
    else:
        parts.append(f'<text x="{pad_l}" y="{height - 6}" class="axis">{first:%Y-%m-%d}</text>')
        parts.append(
            f'<text x="{width - pad_r}" y="{height - 6}" class="axis" text-anchor="end">{last:%Y-%m-%d}</text>'
        )
    for s in series:
        ordered = sorted(s.points)
        if not ordered:
            continue
        if s.style != "points":
            path = " ".join(f"{'M' if i == 0 else 'L'}{x(t):.1f},{y(v):.1f}" for i, (t, v) in enumerate(ordered))
            dash = ' stroke-dasharray="6 4"' if s.style == "dashed" else ""
            parts.append(
                f'<path d="{path}" fill="none" stroke="{s.colour}" stroke-width="2"{dash} data-series="{escape(s.label)}"/>'
            )
        if s.style == "dashed":
            continue
        radius = 5 if s.style == "points" else 3
        for t, v in ordered:
            parts.append(
                f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="{radius}" fill="{s.colour}">'
                f"<title>{escape(s.label)} {v:g} · {t:%Y-%m-%d}</title></circle>"
            )
    if len(series) > 1:
        legend_x = pad_l + 6
        for s in series:
            if not s.points:
                continue
            dash = ' stroke-dasharray="6 4"' if s.style == "dashed" else ""
            parts.append(
                f'<line x1="{legend_x}" x2="{legend_x + 16}" y1="8" y2="8" stroke="{s.colour}" stroke-width="2"{dash}/>'
                f'<text x="{legend_x + 20}" y="11" class="axis">{escape(s.label)}</text>'
            )
            legend_x += 28 + 11 * len(s.label)
    parts.append("</svg>")
    return "".join(parts)


def choropleth(
    features: Sequence[tuple[str, str, dict[str, Any] | str | None, float | None, str | None]],
    *,
    width: int = 640,
    height: int = 480,
    labels: bool = True,
    hot: set[str] | frozenset[str] = frozenset(),
    markers: Sequence[tuple[float, float, str]] = (),
) -> str:
    """An SVG map of polygons: (code, name, GeoJSON geometry, value 0..1 for shading, link).

    With ``labels``, each area's name is written at the middle of its largest ring; areas whose
    code is in ``hot`` are drawn marked (an alert's area); ``markers`` are (lon, lat, name) points
    (a school, a clinic)."""
    rings: list[tuple[str, str, list[list[tuple[float, float]]], float | None, str | None]] = []
    for code, name, geometry, value, link in features:
        if geometry is None:
            continue
        geo = json.loads(geometry) if isinstance(geometry, str) else geometry
        polys = [geo["coordinates"]] if geo["type"] == "Polygon" else geo["coordinates"]
        outer = [[(float(x), float(y)) for x, y in poly[0]] for poly in polys]
        rings.append((code, name, outer, value, link))
    if not rings:
        return ""
    xs = [p[0] for r in rings for ring in r[2] for p in ring]
    ys = [p[1] for r in rings for ring in r[2] for p in ring]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    # Equirectangular projection, corrected for latitude so the map is not stretched.
    kx = math.cos(math.radians((y0 + y1) / 2))
    scale = min((width - 8) / ((x1 - x0) * kx or 1), (height - 8) / ((y1 - y0) or 1))

    def px(x: float) -> float:
        return 4 + (x - x0) * kx * scale

    def py(y: float) -> float:
        return 4 + (y1 - y) * scale

    parts = [f'<svg class="map" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">']
    texts: list[str] = []
    for code, name, outer, value, link in rings:
        d = " ".join("M" + " L".join(f"{px(x):.1f},{py(y):.1f}" for x, y in ring) + " Z" for ring in outer)
        shade = "" if value is None else f' style="fill-opacity:{0.15 + 0.75 * max(0.0, min(1.0, value)):.2f}"'
        klass = "area hot" if code in hot else "area"
        shape = f'<path d="{d}" class="{klass}" data-code="{code}"{shade}><title>{escape(name)}</title></path>'
        parts.append(f'<a href="{escape(link)}">{shape}</a>' if link else shape)
        if labels:
            largest = max(outer, key=len)
            cx = sum(p[0] for p in largest) / len(largest)
            cy = sum(p[1] for p in largest) / len(largest)
            texts.append(
                f'<text x="{px(cx):.1f}" y="{py(cy):.1f}" class="label" text-anchor="middle">{escape(name.split()[0])}</text>'
            )
    for lon, lat, name in markers:
        parts.append(
            f'<circle cx="{px(lon):.1f}" cy="{py(lat):.1f}" r="5" class="marker"><title>{escape(name)}</title></circle>'
        )
    parts.extend(texts)  # on top of every area and marker
    parts.append("</svg>")
    return "".join(parts)
