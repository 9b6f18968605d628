"""Loads a generated district into the database through the set-based bulk path.

Everything goes in one transaction: a crash leaves no half district. Secondary indexes of the big
tables are dropped for the load and rebuilt after it (a sort-based build is several times faster
than maintaining them row by row).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import Table, text
from sqlalchemy.orm import Session
from sqlalchemy.schema import AddConstraint, DropConstraint

from healthbrain.core.bulk import bulk_insert, reset_sequences
from healthbrain.geo.models import (
    CareTeam,
    CareTeamCommunity,
    CareTeamMember,
    Division,
    Institution,
    InstitutionCatchment,
    Practitioner,
    SchoolClass,
)
from healthbrain.people.models import Household, Resident, ResidentIdentifier
from healthbrain.records.models import Condition, Encounter, MedicationStatement, Observation, PhysicalExam
from healthbrain.sim.geography import Geography, Place
from healthbrain.sim.history import History
from healthbrain.sim.institutions import Directory, division_ids
from healthbrain.sim.population import Population

Progress = Callable[[str, int, int], None]  # (stage, rows done, rows in stage)
BIG_TABLES: tuple[Any, ...] = (
    Household,
    Resident,
    ResidentIdentifier,
    Encounter,
    Observation,
    Condition,
    MedicationStatement,
    PhysicalExam,
)
CHUNK = 200_000


def _table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


@contextmanager
def indexes_dropped(session: Session, models: Sequence[Any]) -> Iterator[None]:
    """Drop the secondary indexes (and, on PostgreSQL, the foreign keys) of these tables for the
    load and build them again after it. PostgreSQL checks a foreign key row by row through a
    trigger; adding the constraint afterwards validates it with one set-based query instead."""
    connection = session.connection()
    indexes = [index for model in models for index in _table(model).indexes]
    foreign_keys = []
    if connection.dialect.name == "postgresql":
        foreign_keys = [fk for model in models for fk in _table(model).foreign_key_constraints]
    for fk in foreign_keys:
        connection.execute(DropConstraint(fk))
    for index in indexes:
        index.drop(bind=connection)
    yield
    for index in indexes:
        index.create(bind=connection)
    for fk in foreign_keys:
        connection.execute(AddConstraint(fk))


def _dt_text(values: np.ndarray) -> np.ndarray:
    """datetime64 (UTC) → the text form UTCDateTime columns hold (see core.bulk.db_datetime)."""
    return np.char.replace(np.datetime_as_string(values.astype("datetime64[us]"), unit="us"), "T", " ")


def _day_text(values: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(values.astype("datetime64[D]"), unit="D")


class _Gather:
    """``values[index]``, computed a chunk at a time (the full array of 10 M timestamps as text
    would cost a gigabyte)."""

    def __init__(self, values: np.ndarray, index: np.ndarray) -> None:
        self.values, self.index = values, index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, part: slice) -> np.ndarray:
        gathered: np.ndarray = self.values[self.index[part]]
        return gathered


def _chunk(column: Any, start: int) -> Sequence[Any]:
    part = column[start : start + CHUNK]
    return part.tolist() if isinstance(part, np.ndarray) else part  # type: ignore[no-any-return]


def _insert(
    session: Session, model: Any, columns: Sequence[str], data: Sequence[Any], progress: Progress, stage: str
) -> int:
    """Insert columns (arrays, lists or ranges of one length) in chunks, converting each chunk to
    Python values only when it is sent, reporting progress."""
    total = len(data[0]) if data else 0
    done = 0
    progress(stage, 0, total)
    for start in range(0, total, CHUNK):
        rows: Iterable[Sequence[Any]] = zip(*(_chunk(col, start) for col in data), strict=True)
        done += bulk_insert(session, _table(model), columns, rows)
        progress(stage, done, total)
    return total


def _none_if_nan(values: np.ndarray) -> list[Any]:
    return [None if v is None or (isinstance(v, float) and v != v) else int(v) for v in values.tolist()]


def load(
    session: Session,
    *,
    geo: Geography,
    population: Population,
    directory: Directory,
    history: History,
    as_of: date,
    rng: np.random.Generator,
    progress: Progress,
) -> dict[str, int]:
    counts: dict[str, int] = {}
    district_id, town_ids, community_ids = division_ids(geo)
    # --- divisions ---------------------------------------------------------------------------
    places: list[tuple[int, Place, int | None]] = [(district_id, geo.district, None)]
    places += [(town_ids[i], t, district_id) for i, t in enumerate(geo.towns)]
    places += [(community_ids[i], c, town_ids[c.parent or 0]) for i, c in enumerate(geo.communities)]
    counts["division"] = _insert(
        session,
        Division,
        ("id", "code", "gb2260", "name", "level", "kind", "parent_id", "polygon", "centroid_lon", "centroid_lat"),
        list(
            zip(
                *[
                    (
                        pid,
                        p.code,
                        p.code[:6],
                        p.name,
                        "district"
                        if p.kind == "district"
                        else ("town" if p.kind in ("street", "town") else "community"),
                        p.kind,
                        parent,
                        json.dumps(geo.geojson(p)),
                        round(p.lon, 6),
                        round(p.lat, 6),
                    )
                    for pid, p, parent in places
                ],
                strict=True,
            )
        ),
        progress,
        "division",
    )
    # --- directory -----------------------------------------------------------------------------
    counts["institution"] = _insert(
        session,
        Institution,
        ("id", "code", "name", "kind", "subtype", "division_id", "parent_id", "address", "lon", "lat", "active"),
        list(
            zip(
                *[
                    (i.id, i.code, i.name, i.kind, i.subtype, i.division, i.parent_id, i.address, i.lon, i.lat, True)
                    for i in directory.institutions
                ],
                strict=True,
            )
        ),
        progress,
        "institution",
    )
    catchment = [(i.id, d) for i in directory.institutions for d in i.catchment]
    _insert(
        session,
        InstitutionCatchment,
        ("institution_id", "division_id"),
        list(zip(*catchment, strict=True)),
        progress,
        "catchment",
    )
    counts["school_class"] = _insert(
        session,
        SchoolClass,
        ("id", "school_id", "grade", "name", "enrolled"),
        list(
            zip(
                *[(k + 1, c.school_id, c.grade, c.name, c.enrolled) for k, c in enumerate(directory.classes)],
                strict=True,
            )
        ),
        progress,
        "school_class",
    )
    counts["practitioner"] = _insert(
        session,
        Practitioner,
        ("id", "code", "name", "sex", "profession", "institution_id", "phone", "active"),
        list(
            zip(
                *[
                    (p.id, p.code, p.name, "M" if p.male else "F", p.profession, p.institution_id, p.phone, True)
                    for p in directory.practitioners
                ],
                strict=True,
            )
        ),
        progress,
        "practitioner",
    )
    counts["care_team"] = _insert(
        session,
        CareTeam,
        ("id", "code", "name", "home_institution_id", "leader_id", "active"),
        list(
            zip(
                *[(t.id, t.code, t.name, t.home_institution_id, t.members[0][0], True) for t in directory.teams],
                strict=True,
            )
        ),
        progress,
        "care_team",
    )
    _insert(
        session,
        CareTeamMember,
        ("team_id", "practitioner_id", "role"),
        list(zip(*[(t.id, pid, role) for t in directory.teams for pid, role in t.members], strict=True)),
        progress,
        "team_member",
    )
    _insert(
        session,
        CareTeamCommunity,
        ("team_id", "division_id"),
        list(zip(*[(t.id, d) for t in directory.teams for d in t.communities], strict=True)),
        progress,
        "team_community",
    )

    with indexes_dropped(session, BIG_TABLES):
        counts.update(_load_people(session, geo, population, directory, as_of, rng, community_ids, progress))
        counts.update(_load_history(session, history, as_of, progress))
        counts.update(_load_identifiers(session, history, directory, progress))
    progress("index", 1, 1)
    reset_sequences(
        session, [_table(m) for m in (Division, Institution, SchoolClass, Practitioner, CareTeam, *BIG_TABLES)]
    )
    return counts


def _load_people(
    session: Session,
    geo: Geography,
    pop: Population,
    directory: Directory,
    as_of: date,
    rng: np.random.Generator,
    community_ids: list[int],
    progress: Progress,
) -> dict[str, int]:
    n_households = len(pop.household_community)
    community_codes = np.array([c.code for c in geo.communities])
    # Household numbers run per community: rank of each household within its community.
    hc = pop.household_community
    order = np.argsort(hc, kind="stable")
    starts = np.searchsorted(hc[order], hc[order], side="left")
    rank = np.empty(n_households, dtype=np.int64)
    rank[order] = np.arange(n_households) - starts + 1
    hh_codes = np.char.add(community_codes[hc], np.char.zfill(rank.astype("U5"), 5))
    full_names = [f"{geo.towns[c.parent or 0].name}{c.name}" for c in geo.communities]
    urban = np.array([c.kind == "community" for c in geo.communities])
    building = rank // 24 + 1
    unit = (rank // 8) % 3 + 1
    flat = (rank % 8) // 2 + 1
    room = rank % 2 + 1
    addresses = [
        f"{full_names[c]}{b}幢{u}单元{f}0{r}室" if urban[c] else f"{full_names[c]}{k}号"
        for c, b, u, f, r, k in zip(
            hc.tolist(), building.tolist(), unit.tolist(), flat.tolist(), room.tolist(), rank.tolist(), strict=True
        )
    ]
    cids = np.array(community_ids)
    counts = {
        "household": _insert(
            session,
            Household,
            ("id", "code", "division_id", "address"),
            [range(1, n_households + 1), hh_codes, cids[hc], addresses],
            progress,
            "household",
        )
    }
    n = pop.size
    today = np.datetime64(as_of, "D")
    created = np.maximum(today - rng.integers(30, 3650, n).astype("timedelta64[D]"), pop.birth)
    stamp = f"{as_of.isoformat()} 00:00:00.000000"
    address_of = np.array(addresses, dtype=object)[pop.household]
    registrar = np.array(directory.registrar)[pop.community]
    counts["resident"] = _insert(
        session,
        Resident,
        (
            "id",
            "id_number",
            "name",
            "sex",
            "birth_date",
            "phone",
            "division_id",
            "address",
            "household_id",
            "relation_to_head",
            "disability",
            "status",
            "registered_institution_id",
            "record_created_on",
            "created_at",
            "updated_at",
            "version",
        ),
        [
            range(1, n + 1),
            pop.id_number,
            pop.name,
            np.where(pop.male, "M", "F"),
            _day_text(pop.birth),
            pop.phone,
            cids[pop.community],
            address_of,
            (pop.household + 1),
            pop.relation,
            pop.disability,
            ["active"] * n,
            registrar,
            _day_text(created),
            [stamp] * n,
            [stamp] * n,
            [1] * n,
        ],
        progress,
        "resident",
    )
    return counts


def _load_history(session: Session, h: History, as_of: date, progress: Progress) -> dict[str, int]:
    stamp = f"{as_of.isoformat()} 00:00:00.000000"
    counts: dict[str, int] = {}
    c = h.conditions.data
    n = len(h.conditions)
    counts["condition"] = _insert(
        session,
        Condition,
        ("id", "resident_id", "code", "display", "clinical_status", "onset_date", "recorded_at", "institution_id"),
        [
            range(1, n + 1),
            (np.asarray(c["resident"]) + 1),
            c["code"],
            c["display"],
            ["active"] * n,
            _day_text(np.asarray(c["onset"])),
            [stamp] * n,
            np.asarray(c["institution"]),
        ],
        progress,
        "condition",
    )
    m = h.medications.data
    n = len(h.medications)
    counts["medication_statement"] = _insert(
        session,
        MedicationStatement,
        (
            "id",
            "resident_id",
            "code",
            "name",
            "dose",
            "frequency",
            "route",
            "start_date",
            "status",
            "institution_id",
            "recorded_at",
        ),
        [
            range(1, n + 1),
            (np.asarray(m["resident"]) + 1),
            m["code"],
            m["name"],
            m["dose"],
            m["frequency"],
            ["oral"] * n,
            _day_text(np.asarray(m["start"])),
            ["active"] * n,
            np.asarray(m["institution"]),
            [stamp] * n,
        ],
        progress,
        "medication",
    )
    e = h.encounters.data
    n = len(h.encounters)
    enc_at = _dt_text(np.asarray(e["at"]))
    counts["encounter"] = _insert(
        session,
        Encounter,
        (
            "id",
            "resident_id",
            "institution_id",
            "practitioner_id",
            "encounter_class",
            "start_at",
            "reason_code",
            "reason_text",
        ),
        [
            range(1, n + 1),
            (np.asarray(e["resident"]) + 1),
            np.asarray(e["institution"]),
            _none_if_nan(np.asarray(e["practitioner"])),
            e["klass"],
            enc_at,
            e["reason_code"],
            e["reason_text"],
        ],
        progress,
        "encounter",
    )
    o = h.observations.data
    n = len(h.observations)
    obs_encounter = np.asarray(o["encounter"])
    counts["observation"] = _insert(
        session,
        Observation,
        ("id", "resident_id", "encounter_id", "code", "value_num", "unit", "effective_at", "institution_id", "status"),
        [
            range(1, n + 1),
            (np.asarray(o["resident"]) + 1),
            (obs_encounter + 1),
            o["code"],
            np.asarray(o["value"], dtype=float),
            o["unit"],
            _Gather(enc_at, obs_encounter),
            np.asarray(o["institution"]),
            ["final"] * n,
        ],
        progress,
        "observation",
    )
    x = h.exams.data
    n = len(h.exams)
    exam_day = np.asarray(x["at"]).astype("datetime64[s]") + np.timedelta64(8 * 3600, "s")  # local date
    counts["physical_exam"] = _insert(
        session,
        PhysicalExam,
        (
            "id",
            "resident_id",
            "encounter_id",
            "exam_date",
            "institution_id",
            "practitioner_id",
            "smoking",
            "drinking",
            "exercise",
            "diet",
            "conclusion",
            "abnormalities",
            "guidance",
        ),
        [
            range(1, n + 1),
            (np.asarray(x["resident"]) + 1),
            (np.asarray(x["encounter"]) + 1),
            _day_text(exam_day),
            np.asarray(x["institution"]),
            np.asarray(x["practitioner"]),
            x["smoking"],
            x["drinking"],
            x["exercise"],
            x["diet"],
            x["conclusion"],
            x["abnormalities"],
            x["guidance"],
        ],
        progress,
        "physical_exam",
    )
    return counts


def _load_identifiers(session: Session, h: History, directory: Directory, progress: Progress) -> dict[str, int]:
    """Medical record numbers: per hospital, numbered in order of resident."""
    institution = np.asarray(h.identifiers.data["institution"])
    resident = np.asarray(h.identifiers.data["resident"])
    n = len(institution)
    codes = {i.id: i.code for i in directory.institutions}
    order = np.lexsort((resident, institution))
    institution, resident = institution[order], resident[order]
    first_of_hospital = np.searchsorted(institution, institution, side="left")
    number = np.arange(n) - first_of_hospital + 1
    systems = np.array([codes[int(i)] for i in np.unique(institution)], dtype=object)[
        np.searchsorted(np.unique(institution), institution)
    ]
    values = np.char.add("MRN", np.char.zfill(number.astype("U8"), 8))
    return {
        "resident_identifier": _insert(
            session,
            ResidentIdentifier,
            ("id", "resident_id", "kind", "system", "institution_id", "value"),
            [range(1, n + 1), resident + 1, ["mrn"] * n, systems, institution, values],
            progress,
            "identifier",
        )
    }


def analyse(session: Session) -> None:
    """Refresh the planner's statistics after a large load."""
    session.execute(text("ANALYZE"))
