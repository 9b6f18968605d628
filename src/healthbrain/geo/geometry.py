"""Geometry helpers over GeoJSON (WGS84), backed by Shapely."""

from __future__ import annotations

from typing import Any

from shapely.geometry import shape


def centroid_of(geojson: dict[str, Any]) -> tuple[float, float]:
    """(lon, lat) of a polygon's centroid; a point inside it for odd shapes."""
    geometry = shape(geojson)
    if geometry.is_empty or not geometry.is_valid:
        raise ValueError("invalid or empty geometry")
    point = geometry.centroid
    if not geometry.contains(point):
        point = geometry.representative_point()
    return float(point.x), float(point.y)
