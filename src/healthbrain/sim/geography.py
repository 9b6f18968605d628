"""The district's map: an irregular boundary, communities as Voronoi cells, towns as clusters.

Community seeds crowd towards an urban core; each community's cell is its Voronoi region clipped
to the district; towns are groups of neighbouring communities (recursive bisection), their boundary the union
of their cells. Towns near the core are streets (街道) of residents' committees (社区); the others
are towns (镇) of villages (村) with a few communities around the town centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import Voronoi
from shapely.geometry import MultiPolygon, Polygon, mapping
from shapely.ops import unary_union

from healthbrain.sim.names import place_names

DISTRICT_CODE = "330199"  # GB/T 2260 county code for the synthetic district (Zhejiang, Hangzhou)
DISTRICT_NAME = "临江区"
CENTRE_LON, CENTRE_LAT = 120.30, 30.25
FULL_SIZE = 1_650_000
FULL_TOWNS, FULL_COMMUNITIES = 20, 500
FULL_AREA_KM2 = 1000.0
KM_PER_DEG_LAT = 110.57


@dataclass
class Place:
    code: str
    name: str
    kind: str  # street / town / community / village
    polygon: Polygon | MultiPolygon
    lon: float
    lat: float
    parent: int | None = None  # index of the town (for communities)
    urban: bool = False
    weight: float = 1.0  # relative population share (communities)


@dataclass
class Geography:
    district: Place
    towns: list[Place]
    communities: list[Place]

    def geojson(self, place: Place) -> dict[str, object]:
        return dict(mapping(place.polygon))


def sizes_for(residents: int) -> tuple[int, int]:
    """Towns and communities for a district of this size: the reference 20 / 500 at 1.65 M,
    fewer (by the square root, so the map keeps its shape) for smaller districts."""
    factor = math.sqrt(min(residents, FULL_SIZE) / FULL_SIZE)
    towns = max(4, round(FULL_TOWNS * factor))
    communities = max(towns * 4, round(FULL_COMMUNITIES * factor))
    return towns, communities


def _boundary(rng: np.random.Generator, area_km2: float) -> Polygon:
    radius_km = math.sqrt(area_km2 / math.pi)
    angles = np.linspace(0, 2 * math.pi, 72, endpoint=False)
    wobble = np.ones_like(angles)
    for k in (2, 3, 5):
        wobble += rng.uniform(0.04, 0.12) * np.sin(k * angles + rng.uniform(0, 2 * math.pi))
    r_lat = radius_km * wobble / KM_PER_DEG_LAT
    r_lon = r_lat / math.cos(math.radians(CENTRE_LAT))
    return Polygon(zip(CENTRE_LON + r_lon * np.cos(angles), CENTRE_LAT + r_lat * np.sin(angles), strict=True))


def _seeds(rng: np.random.Generator, boundary: Polygon, count: int) -> np.ndarray:
    minx, miny, maxx, maxy = boundary.bounds
    points: list[tuple[float, float]] = []
    from shapely import contains_xy

    while len(points) < count:
        batch = 4 * count
        urban = rng.random(batch) < 0.5
        xs = np.where(urban, rng.normal(CENTRE_LON, (maxx - minx) / 10, batch), rng.uniform(minx, maxx, batch))
        ys = np.where(urban, rng.normal(CENTRE_LAT, (maxy - miny) / 10, batch), rng.uniform(miny, maxy, batch))
        inside = contains_xy(boundary, xs, ys)
        points.extend(zip(xs[inside].tolist(), ys[inside].tolist(), strict=True))
    return np.array(points[:count])


def _cells(seeds: np.ndarray, boundary: Polygon) -> list[Polygon | MultiPolygon]:
    minx, miny, maxx, maxy = boundary.bounds
    span = max(maxx - minx, maxy - miny) * 10
    far = np.array(
        [[minx - span, miny - span], [minx - span, maxy + span], [maxx + span, miny - span], [maxx + span, maxy + span]]
    )
    vor = Voronoi(np.vstack([seeds, far]))
    cells: list[Polygon | MultiPolygon] = []
    for i in range(len(seeds)):
        region = vor.regions[vor.point_region[i]]
        cell = Polygon(vor.vertices[region]).intersection(boundary)
        cells.append(cell.buffer(0))
    return cells


def _bisect(
    rng: np.random.Generator, points: np.ndarray, index: np.ndarray, parts: int, labels: np.ndarray, first: int
) -> None:
    """Recursive bisection: cut the points across their longest extent (tilted a little, so towns
    are not boxes) into groups whose sizes match the number of towns each side must hold. Towns
    come out contiguous and comparable in size (plain k-means can leave a town one community)."""
    if parts == 1:
        labels[index] = first
        return
    sub = points[index]
    centred = sub - sub.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    angle = math.atan2(axes[0, 1], axes[0, 0]) + rng.uniform(-0.35, 0.35)
    order = index[np.argsort(centred @ np.array([math.cos(angle), math.sin(angle)]))]
    left_parts = parts // 2
    cut = round(len(order) * left_parts / parts)
    _bisect(rng, points, order[:cut], left_parts, labels, first)
    _bisect(rng, points, order[cut:], parts - left_parts, labels, first + left_parts)


def _round(geom: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
    """Five decimals (about a metre) keep the GeoJSON small."""
    from shapely import set_precision

    return set_precision(geom, 1e-5)


def build(rng: np.random.Generator, residents: int, *, towns: int | None = None) -> Geography:
    n_towns, n_communities = sizes_for(residents)
    if towns is not None:
        n_towns, n_communities = towns, max(towns * 4, round(n_communities * towns / n_towns))
    area = FULL_AREA_KM2 * max(residents, 20_000) / FULL_SIZE
    boundary = _boundary(rng, max(area, 60.0))
    seeds = _seeds(rng, boundary, n_communities)
    cells = _cells(seeds, boundary)
    labels = np.zeros(len(seeds), dtype=int)
    _bisect(rng, seeds, np.arange(len(seeds)), n_towns, labels, 0)
    # Order towns by distance from the core: the nearest are streets.
    town_ids = [t for t in range(n_towns) if (labels == t).any()]
    dist = {t: float(np.hypot(*(seeds[labels == t].mean(axis=0) - (CENTRE_LON, CENTRE_LAT)))) for t in town_ids}
    town_ids.sort(key=lambda t: dist[t])
    n_streets = max(1, round(len(town_ids) * 0.45))
    taken: set[str] = set()
    town_names = place_names(rng, len(town_ids), taken)

    district_poly = _round(boundary)
    district = Place(DISTRICT_CODE + "000000", DISTRICT_NAME, "district", district_poly, CENTRE_LON, CENTRE_LAT)
    town_places: list[Place] = []
    community_places: list[Place] = []
    street_no, town_no = 1, 100
    for rank, t in enumerate(town_ids):
        members = np.flatnonzero(labels == t)
        urban = rank < n_streets
        if urban:
            code_part, kind, suffix = street_no, "street", "街道"
            street_no += 1
        else:
            code_part, kind, suffix = town_no, "town", "镇"
            town_no += 1
        town_code = f"{DISTRICT_CODE}{code_part:03d}000"
        shape = _round(unary_union([cells[i] for i in members]))
        point = shape.representative_point() if not shape.contains(shape.centroid) else shape.centroid
        town_index = len(town_places)
        town_places.append(Place(town_code, town_names[rank] + suffix, kind, shape, point.x, point.y, urban=urban))
        # Communities of the town, nearest to its centre first.
        centre = seeds[members].mean(axis=0)
        order = members[np.argsort(np.hypot(*(seeds[members] - centre).T))]
        names = place_names(rng, len(order), taken)
        community_no, village_no = 1, 200
        for k, i in enumerate(order):
            is_community = urban or k < max(1, len(order) // 6)
            if is_community:
                code, ckind, csuffix = f"{town_code[:9]}{community_no:03d}", "community", "社区"
                community_no += 1
            else:
                code, ckind, csuffix = f"{town_code[:9]}{village_no:03d}", "village", "村"
                village_no += 1
            cell = _round(cells[i])
            cpoint = cell.representative_point() if not cell.contains(cell.centroid) else cell.centroid
            weight = float(rng.lognormal(0.0, 0.35)) * (2.2 if ckind == "community" else 1.0)
            community_places.append(
                Place(code, names[k] + csuffix, ckind, cell, cpoint.x, cpoint.y, town_index, urban, weight)
            )
    return Geography(district, town_places, community_places)
