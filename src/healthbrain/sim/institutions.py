"""Institutions, practitioners, family-doctor teams and school classes for the synthetic district.

Counts follow the reference district (PRODUCT.md: 7 hospitals, 24 community health centres, 281
stations, 469 family-doctor teams for 1.65 M residents), scaled by population: one centre per
town at least, a station in most urban communities, a clinic in most villages.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from healthbrain.sim.geography import DISTRICT_CODE, DISTRICT_NAME, FULL_SIZE, Geography
from healthbrain.sim.names import make_names

FULL_HOSPITALS, FULL_CENTRES, FULL_STATIONS, FULL_TEAMS = 7, 24, 281, 469
RESIDENTS_PER_PHARMACY = 3_000
HOSPITAL_NAMES = [
    (f"{DISTRICT_NAME}第一人民医院", "grade3a"),
    (f"{DISTRICT_NAME}中医院", "grade3b"),
    (f"{DISTRICT_NAME}妇幼保健院", "grade2a"),
    (f"{DISTRICT_NAME}第二人民医院", "grade2a"),
    (f"{DISTRICT_NAME}第三人民医院", "grade2a"),
    (f"{DISTRICT_NAME}中西医结合医院", "grade2b"),
    (f"{DISTRICT_NAME}康复医院", "grade2b"),
    (f"{DISTRICT_NAME}第四人民医院", "grade2b"),
    (f"{DISTRICT_NAME}精神卫生中心", "grade2b"),
]
PHARMACY_CHAINS = ["老百姓大药房", "华东大药房", "九洲大药房", "国大药房", "海王星辰", "益丰大药房"]
SCHOOL_STAGES = {  # stage: (ages, grades, class size, pupils per school)
    "kindergarten": (range(3, 6), [0, 1, 2], 30, 280),
    "primary": (range(6, 12), [1, 2, 3, 4, 5, 6], 45, 1_000),
    "junior": (range(12, 15), [7, 8, 9], 48, 1_100),
    "senior": (range(15, 18), [10, 11, 12], 50, 2_000),
}
GRADE_NAMES = {
    1: "一年级",
    2: "二年级",
    3: "三年级",
    4: "四年级",
    5: "五年级",
    6: "六年级",
    7: "七年级",
    8: "八年级",
    9: "九年级",
    10: "高一",
    11: "高二",
    12: "高三",
}
KINDERGARTEN_GRADE_NAMES = {0: "小班", 1: "中班", 2: "大班"}


@dataclass
class Institution:
    id: int
    code: str
    name: str
    kind: str
    subtype: str | None
    division: int  # division id
    parent_id: int | None
    lon: float
    lat: float
    address: str
    catchment: list[int] = field(default_factory=list)  # division ids


@dataclass
class Practitioner:
    id: int
    code: str
    name: str
    male: bool
    profession: str
    institution_id: int
    phone: str


@dataclass
class Team:
    id: int
    code: str
    name: str
    home_institution_id: int
    members: list[tuple[int, str]]  # (practitioner id, role)
    communities: list[int]  # division ids


@dataclass
class SchoolClass:
    school_id: int
    grade: int
    name: str
    enrolled: int


@dataclass
class Directory:
    institutions: list[Institution]
    practitioners: list[Practitioner]
    teams: list[Team]
    classes: list[SchoolClass]
    # per community index: the institution that registers its residents (station/clinic/centre)
    registrar: list[int]


def division_ids(geo: Geography) -> tuple[int, list[int], list[int]]:
    """Ids the loader gives divisions: district 1, towns next, communities after."""
    towns = list(range(2, 2 + len(geo.towns)))
    communities = list(range(2 + len(geo.towns), 2 + len(geo.towns) + len(geo.communities)))
    return 1, towns, communities


def build(
    rng: np.random.Generator,
    geo: Geography,
    community_population: np.ndarray,
    ages: np.ndarray,
    community_of_resident: np.ndarray,
) -> Directory:
    scale = sum(community_population) / FULL_SIZE
    _district, town_ids, community_ids = division_ids(geo)
    institutions: list[Institution] = []

    def add(
        code: str,
        name: str,
        kind: str,
        subtype: str | None,
        division: int,
        lon: float,
        lat: float,
        address: str,
        parent_id: int | None = None,
        catchment: list[int] | None = None,
    ) -> Institution:
        inst = Institution(
            len(institutions) + 1,
            code,
            name,
            kind,
            subtype,
            division,
            parent_id,
            round(lon, 6),
            round(lat, 6),
            address,
            catchment or [],
        )
        institutions.append(inst)
        return inst

    def jitter(lon: float, lat: float, spread: float = 0.004) -> tuple[float, float]:
        return lon + float(rng.normal(0, spread)), lat + float(rng.normal(0, spread))

    communities_of_town: list[list[int]] = [[] for _ in geo.towns]
    for ci, c in enumerate(geo.communities):
        assert c.parent is not None
        communities_of_town[c.parent].append(ci)
    town_population = np.array([community_population[cs].sum() for cs in communities_of_town])
    urban_towns = [t for t, town in enumerate(geo.towns) if town.urban] or [0]

    # Hospitals, in the urban core.
    for k in range(max(1, min(len(HOSPITAL_NAMES), round(FULL_HOSPITALS * scale)))):
        t = urban_towns[k % len(urban_towns)]
        town = geo.towns[t]
        name, grade = HOSPITAL_NAMES[k]
        add(
            f"H{DISTRICT_CODE}{k + 1:02d}",
            name,
            "hospital",
            grade,
            town_ids[t],
            *jitter(town.lon, town.lat),
            f"{town.name}健康路{int(rng.integers(1, 300))}号",
        )
    # CDC and the emergency centre.
    centre = geo.towns[urban_towns[0]]
    add(
        f"CDC{DISTRICT_CODE}",
        f"{DISTRICT_NAME}疾病预防控制中心",
        "cdc",
        None,
        town_ids[urban_towns[0]],
        *jitter(centre.lon, centre.lat),
        f"{centre.name}防疫路1号",
    )
    # Community health centres: one per town, extra ones in the most populous towns.
    n_centres = max(len(geo.towns), round(FULL_CENTRES * scale))
    centres_per_town = np.ones(len(geo.towns), dtype=int)
    for t in np.argsort(-town_population)[: n_centres - len(geo.towns)]:
        centres_per_town[t] += 1
    centres: list[Institution] = []
    centre_of_community: dict[int, Institution] = {}
    for t, town in enumerate(geo.towns):
        members = communities_of_town[t]
        # Split a town's communities between its centres by longitude (west / east).
        order = sorted(members, key=lambda ci: geo.communities[ci].lon)
        parts = np.array_split(np.array(order), centres_per_town[t])
        for k, part in enumerate(parts):
            suffix = "" if centres_per_town[t] == 1 else ("东" if k else "西")
            first = geo.communities[int(part[len(part) // 2])]
            kind_name = "社区卫生服务中心" if town.urban else "卫生院（社区卫生服务中心）"
            inst = add(
                f"C{town.code[:9]}{k}",
                f"{town.name}{suffix}{kind_name}",
                "chc",
                None,
                community_ids[int(part[0])],
                *jitter(first.lon, first.lat, 0.002),
                f"{town.name}{first.name}卫生路{int(rng.integers(1, 99))}号",
                catchment=[community_ids[int(ci)] for ci in part],
            )
            centres.append(inst)
            for ci in part:
                centre_of_community[int(ci)] = inst
    # Stations in urban communities (the most populous first), clinics in most villages.
    registrar = [centre_of_community[ci].id for ci in range(len(geo.communities))]
    urban_communities = [ci for ci, c in enumerate(geo.communities) if c.kind == "community"]
    urban_communities.sort(key=lambda ci: -community_population[ci])
    n_stations = min(len(urban_communities), max(1, round(FULL_STATIONS * scale)))
    for ci in sorted(urban_communities[:n_stations]):
        c = geo.communities[ci]
        inst = add(
            f"S{c.code}",
            f"{c.name}社区卫生服务站",
            "chs",
            None,
            community_ids[ci],
            *jitter(c.lon, c.lat, 0.002),
            f"{c.name}{int(rng.integers(1, 60))}幢底商",
            parent_id=centre_of_community[ci].id,
            catchment=[community_ids[ci]],
        )
        registrar[ci] = inst.id
    for ci, c in enumerate(geo.communities):
        if c.kind == "village" and rng.random() < 0.9:
            inst = add(
                f"V{c.code}",
                f"{c.name}卫生室",
                "village_clinic",
                None,
                community_ids[ci],
                *jitter(c.lon, c.lat, 0.002),
                f"{c.name}{int(rng.integers(1, 200))}号",
                parent_id=centre_of_community[ci].id,
                catchment=[community_ids[ci]],
            )
            registrar[ci] = inst.id
    # Emergency stations: the 12-minute circle needs one every ~38 km² (3.5 km radius).
    n_ems = max(2, round(20 * scale))
    add(
        f"EMS{DISTRICT_CODE}00",
        f"{DISTRICT_NAME}急救中心",
        "emergency_station",
        None,
        town_ids[urban_towns[0]],
        *jitter(centre.lon, centre.lat),
        f"{centre.name}急救路1号",
    )
    for k, t in enumerate(np.argsort(-town_population)[: n_ems - 1]):
        town = geo.towns[int(t)]
        add(
            f"EMS{DISTRICT_CODE}{k + 1:02d}",
            f"{town.name}急救站",
            "emergency_station",
            None,
            town_ids[int(t)],
            *jitter(town.lon, town.lat),
            f"{town.name}急救路{k + 2}号",
        )
    # Pharmacies, spread by population.
    n_pharmacies = max(2, round(sum(community_population) / RESIDENTS_PER_PHARMACY))
    pharmacy_communities = rng.choice(
        len(geo.communities), size=n_pharmacies, p=community_population / community_population.sum()
    )
    for k, ci in enumerate(sorted(pharmacy_communities.tolist())):
        c = geo.communities[ci]
        chain = PHARMACY_CHAINS[int(rng.integers(len(PHARMACY_CHAINS)))]
        add(
            f"P{DISTRICT_CODE}{k + 1:04d}",
            f"{chain}（{c.name}店）",
            "pharmacy",
            None,
            community_ids[ci],
            *jitter(c.lon, c.lat, 0.002),
            f"{c.name}商业街{int(rng.integers(1, 200))}号",
        )
    classes = _schools(rng, geo, add, communities_of_town, community_ids, ages, community_of_resident)
    practitioners, teams = _staff(rng, geo, institutions, centres, community_ids, community_population, scale)
    return Directory(institutions, practitioners, teams, classes, registrar)


AddInstitution = Callable[..., Institution]


def _schools(
    rng: np.random.Generator,
    geo: Geography,
    add: AddInstitution,
    communities_of_town: list[list[int]],
    community_ids: list[int],
    ages: np.ndarray,
    community_of_resident: np.ndarray,
) -> list[SchoolClass]:
    """Schools sized to the children living in their area, with classes of the usual size."""
    town_of_community = np.array([c.parent for c in geo.communities])
    town_of_resident = town_of_community[community_of_resident]
    classes: list[SchoolClass] = []
    serial = 0
    for stage, (age_range, grades, class_size, per_school) in SCHOOL_STAGES.items():
        # Senior high schools serve the whole district; the others serve their town.
        areas: list[int | None] = [None] if stage == "senior" else list(range(len(geo.towns)))
        for t in areas:
            in_area = np.ones(len(ages), dtype=bool) if t is None else town_of_resident == t
            in_stage = in_area & (ages >= age_range.start) & (ages < age_range.stop)
            by_age = np.bincount(ages[in_stage] - age_range.start, minlength=len(age_range))
            if by_age.sum() == 0:
                continue
            n_schools = max(1, round(int(by_age.sum()) / per_school))
            hosts = communities_of_town[t if t is not None else 0]
            for s in range(n_schools):
                serial += 1
                ci = hosts[(s * 7) % len(hosts)]
                c = geo.communities[ci]
                name = {
                    "kindergarten": f"{c.name}幼儿园",
                    "primary": f"{c.name}小学",
                    "junior": f"{c.name}初级中学",
                    "senior": f"{DISTRICT_NAME}第{s + 1}高级中学",
                }[stage]
                school = add(
                    f"E{DISTRICT_CODE}{serial:04d}",
                    name,
                    "school",
                    stage,
                    community_ids[ci],
                    c.lon + float(rng.normal(0, 0.003)),
                    c.lat + float(rng.normal(0, 0.003)),
                    f"{c.name}学府路{int(rng.integers(1, 99))}号",
                )
                for g, grade in enumerate(grades):
                    pupils = int(by_age[g] // n_schools + (1 if s < by_age[g] % n_schools else 0))
                    n_classes = math.ceil(pupils / class_size)
                    label = KINDERGARTEN_GRADE_NAMES[grade] if stage == "kindergarten" else GRADE_NAMES[grade]
                    for k in range(n_classes):
                        enrolled = pupils // n_classes + (1 if k < pupils % n_classes else 0)
                        classes.append(SchoolClass(school.id, grade, f"{label}{k + 1}班", enrolled))
    return classes


def _staff(
    rng: np.random.Generator,
    geo: Geography,
    institutions: list[Institution],
    centres: list[Institution],
    community_ids: list[int],
    community_population: np.ndarray,
    scale: float,
) -> tuple[list[Practitioner], list[Team]]:
    plan: list[tuple[int, str]] = []  # (institution id, profession)
    staffing = {
        "hospital": [("physician", 40), ("nurse", 40), ("pharmacist", 4)],
        "chs": [("gp", 2), ("nurse", 1)],
        "village_clinic": [("gp", 1)],
        "cdc": [("public_health", 12)],
        "emergency_station": [("physician", 4), ("nurse", 4)],
        "pharmacy": [("pharmacist", 1)],
    }
    population_of = {c: float(community_population[community_ids.index(c)]) for c in community_ids}
    centre_population = np.array([sum(population_of[d] for d in centre.catchment) for centre in centres])
    n_teams = max(len(centres), round(FULL_TEAMS * scale))
    teams_per_centre = np.maximum(1, np.round(centre_population / centre_population.sum() * n_teams).astype(int))
    for inst in institutions:
        for profession, count in staffing.get(inst.kind, []):
            plan.extend((inst.id, profession) for _ in range(count))
    for centre, k in zip(centres, teams_per_centre, strict=True):
        plan.extend((centre.id, "gp") for _ in range(2 * k))
        plan.extend((centre.id, "nurse") for _ in range(k))
        plan.extend((centre.id, "public_health") for _ in range(max(1, k // 2)))
    male = rng.random(len(plan)) < 0.42
    birth_year = rng.integers(1965, 2000, len(plan))
    names = make_names(rng, male, birth_year)
    phones = (13_800_000_000 + rng.integers(0, 99_999_999, len(plan))).astype(str)
    practitioners = [
        Practitioner(i + 1, f"D{DISTRICT_CODE}{i + 1:05d}", names[i], bool(male[i]), prof, inst_id, str(phones[i]))
        for i, (inst_id, prof) in enumerate(plan)
    ]
    by_institution: dict[tuple[int, str], list[Practitioner]] = {}
    for p in practitioners:
        by_institution.setdefault((p.institution_id, p.profession), []).append(p)
    teams: list[Team] = []
    for centre, k in zip(centres, teams_per_centre, strict=True):
        gps = by_institution[(centre.id, "gp")]
        nurses = by_institution[(centre.id, "nurse")]
        public = by_institution[(centre.id, "public_health")]
        groups = _partition(centre.catchment, population_of, int(k))
        for j in range(int(k)):
            members = [
                (gps[2 * j].id, "lead_gp"),
                (gps[2 * j + 1].id, "gp"),
                (nurses[j].id, "nurse"),
                (public[j % len(public)].id, "public_health"),
            ]
            lead = gps[2 * j]
            teams.append(
                Team(
                    len(teams) + 1,
                    f"T{centre.code[1:]}{j + 1:02d}",
                    f"{centre.name.split('（')[0]}{lead.name}团队",
                    centre.id,
                    members,
                    groups[j],
                )
            )
    return practitioners, teams


def _partition(communities: list[int], population: dict[int, float], k: int) -> list[list[int]]:
    """Split a centre's communities between k teams by cumulative population; with more teams than
    communities, a community is shared by several teams."""
    if k <= len(communities):
        weights = np.array([population[c] for c in communities])
        cuts = np.searchsorted(np.cumsum(weights) / max(weights.sum(), 1), np.arange(1, k) / k)
        groups = [list(g) for g in np.split(np.array(communities), cuts)]
        # Never leave a team without a community.
        for g in range(len(groups)):
            if not groups[g]:
                donor = max(range(len(groups)), key=lambda x: len(groups[x]))
                groups[g].append(groups[donor].pop())
        return [[int(c) for c in g] for g in groups]
    return [[communities[j % len(communities)]] for j in range(k)]
