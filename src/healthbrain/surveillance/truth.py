"""Which alarms point at which injected outbreak: the rules that score the detectors against the
simulator's truth (``healthbrain surveillance evaluate``) and that the demo's backfill uses to
answer its alerts as a CDC desk that knew the truth would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final, Protocol

import numpy as np

from healthbrain.sim import geography, institutions
from healthbrain.sim.feeds import Truth
from healthbrain.surveillance.definitions import SIGNALS, Feed, PlaceKind
from healthbrain.surveillance.series import SIGNAL_SLUGS, PlaceIndex, contributions

MATCH_AFTER_DAYS: Final = 7  # an alarm up to a week after an outbreak's last case still points at it

# What an outbreak of each kind adds to the feeds in the simulator (sim/feeds.py): school norovirus
# clusters are absences for vomiting, diarrhoea and abdominal pain, some reported as norovirus
# cases (often notified as infectious diarrhoea); school ILI clusters are absences for fever, cough
# and sore throat, some reported as influenza; HFMD clusters are HFMD cases. The absence signals
# come from the platform's own mapping of those causes, so a new absence signal joins by itself.
_OUTBREAK_CAUSES: Final[Mapping[str, tuple[str, ...]]] = {
    "school_norovirus": ("vomiting", "diarrhoea", "abdominal_pain"),
    "school_ili": ("fever", "cough", "sore_throat"),
}
_OUTBREAK_CASES: Final[Mapping[str, tuple[str, ...]]] = {
    "school_norovirus": ("case.norovirus", "case.infectious_diarrhoea"),
    "school_ili": ("case.influenza",),
    "community_hfmd": ("case.hfmd",),
}
# The influenza wave raises influenza cases, fever-clinic visits, ILI and SARI, antipyretic,
# cold-remedy and antiviral sales and influenza positives. It raises absences too, but the truth
# records no school event for them, so absence alarms in a wave are not matched to it.
_WAVE_SIGNALS: Final = (
    "case.influenza",
    "fever_clinic.visits",
    "fever_clinic.ili",
    "fever_clinic.sari",
    "pharmacy.antipyretic",
    "pharmacy.cough_cold",
    "pharmacy.antiviral",
    "lab.influenza_a",
    "lab.influenza_b",
)


def _absence_signals(causes: Sequence[str]) -> set[str]:
    """The absence signals that absences for these causes count in (series.contributions)."""
    n = len(causes)
    rows = {
        "school_id": np.zeros(n, dtype=np.int64),
        "class_id": np.zeros(n, dtype=np.int64),
        "day": np.zeros(n, dtype="datetime64[D]"),
        "cause": np.array(causes),
        "absent": np.ones(n, dtype=np.int64),
        "enrolled": np.ones(n, dtype=np.int64),
    }
    found = contributions(Feed.SCHOOL_ABSENCE, rows, PlaceIndex(0, {}, {}))
    return {SIGNAL_SLUGS[int(i)] for i in np.unique(found.signal)}


SIGNAL_FAMILIES: Final[Mapping[str, frozenset[str]]] = {
    **{
        kind: frozenset(_absence_signals(_OUTBREAK_CAUSES.get(kind, ())) | set(cases))
        for kind, cases in _OUTBREAK_CASES.items()
    },
    "seasonal_influenza": frozenset(s for s in _WAVE_SIGNALS if s in SIGNALS),
}
# A district-wide wave is seen in the aggregate series, not in one community's or school's.
WAVE_PLACE_KINDS: Final = frozenset({PlaceKind.DISTRICT, PlaceKind.TOWN, PlaceKind.INSTITUTION})


@dataclass(frozen=True)
class District:
    """Where the district's places sit, as the database's ``place_index`` would say, plus the school
    of each class and each community's centroid (for the scan)."""

    places: PlaceIndex
    school_of_class: Mapping[int, int]
    communities: tuple[tuple[int, float, float], ...]  # (id, lon, lat), by id

    @classmethod
    def from_sim(cls, geo: geography.Geography, directory: institutions.Directory) -> District:
        district_id, town_ids, community_ids = institutions.division_ids(geo)
        town_of = {t: t for t in town_ids}
        town_of |= {cid: town_ids[c.parent or 0] for cid, c in zip(community_ids, geo.communities, strict=True)}
        return cls(
            places=PlaceIndex(
                district_id=district_id,
                town_of_division=town_of,
                division_of_institution={i.id: i.division for i in directory.institutions},
            ),
            school_of_class={k + 1: c.school_id for k, c in enumerate(directory.classes)},
            communities=tuple((cid, c.lon, c.lat) for cid, c in zip(community_ids, geo.communities, strict=True)),
        )

    def school_town(self, school_id: int) -> int:
        return self.places.town_of_institution(school_id)


class Located(Protocol):
    """An alarm or an alert: a signal at a place on a day (a scan cluster with its areas)."""

    @property
    def signal(self) -> str: ...
    @property
    def place_kind(self) -> str: ...
    @property
    def place_id(self) -> int: ...
    @property
    def day(self) -> date: ...
    @property
    def areas(self) -> tuple[int, ...]: ...


def place_matches(
    truth: Truth, district: District, *, place_kind: str, place_id: int, areas: Sequence[int] = ()
) -> bool:
    """Whether a series at this place watches the outbreak's place (see the module docstring)."""
    if truth.kind == "seasonal_influenza" or truth.place_kind == PlaceKind.DISTRICT:
        return place_kind in WAVE_PLACE_KINDS
    if truth.place_kind == PlaceKind.SCHOOL:
        if place_kind == PlaceKind.SCHOOL:
            return place_id == truth.place_id
        return place_kind == PlaceKind.CLASS and district.school_of_class.get(place_id) == truth.place_id
    if truth.place_kind == PlaceKind.COMMUNITY:
        area = set(truth.detail.get("areas") or [truth.place_id])
        towns = {district.places.town_of_division.get(a, -1) for a in area}
        match place_kind:
            case PlaceKind.COMMUNITY:
                return place_id in area or bool(area.intersection(areas))
            case PlaceKind.TOWN:
                return place_id in towns
            case PlaceKind.SCHOOL:
                return district.school_town(place_id) in towns
            case PlaceKind.CLASS:
                return district.school_town(district.school_of_class.get(place_id, -1)) in towns
        return False
    return place_kind == truth.place_kind and place_id == truth.place_id


def matches(truth: Truth, alarm: Located, district: District) -> bool:
    return (
        alarm.signal in SIGNAL_FAMILIES.get(truth.kind, frozenset({truth.signal}))
        and truth.first_day <= alarm.day <= truth.last_day + timedelta(days=MATCH_AFTER_DAYS)
        and place_matches(truth, district, place_kind=alarm.place_kind, place_id=alarm.place_id, areas=alarm.areas)
    )
