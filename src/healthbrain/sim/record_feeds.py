"""Recent data that arrives the way real data arrives (item 8 of #5): after the set-based history is
loaded, the district's institutions send the last days through the platform's own ingestion code,
called in-process exactly as the HTTP endpoints and the command line call it:

1. hospitals post FHIR transaction bundles, one per visit of the last ``days`` days
   (``interop.fhir.bundle.process``, as ``POST /fhir``); a few percent of the patients were
   registered without their resident ID (and then sometimes under a mistyped or romanised name):
   the platform makes new records of them, real duplicates for the linkage review queue;
2. a hospital laboratory's NDJSON export of the last 90 days of chronic patients' results
   (``interop.bulk.import_file``, as ``healthbrain import fhir``);
3. village clinics and community stations upload Excel sheets of their elderly's physical
   examinations and of their outpatient register (``interop.tabular_service.import_table``, as
   the upload page), with the mistakes clinics make (a wrong check character, a date typo).

Each institution acts through a job principal of its own: a data submitter bound to it, as its
interface account would be. The volume is capped whatever the district's size, so the stage costs
seconds. Deterministic from the seed (its own stream); idempotent, as the paths are: run again, the
bundles and the export change nothing and the sheets' rows come back as duplicates.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthbrain.auth.roles import Role
from healthbrain.auth.scope import Principal
from healthbrain.core.time import local_today
from healthbrain.db import Database
from healthbrain.geo.models import Division, Institution, InstitutionCatchment
from healthbrain.interop import bulk, tabular_service
from healthbrain.interop.fhir import bundle
from healthbrain.interop.fhir import service as fhir_service
from healthbrain.interop.fhir.outcome import operation_outcome
from healthbrain.interop.fhir.parse import Issue
from healthbrain.interop.fhir.store import Context
from healthbrain.interop.tabular import Kind
from healthbrain.people.models import Resident, ResidentStatus
from healthbrain.records import codes
from healthbrain.records.models import Condition
from healthbrain.sim import record_feed_content as content
from healthbrain.sim.record_feed_content import FedPatient

STREAM = 10  # index of the stage's generator among the seed's spawned streams
MAX_BUNDLES = 120  # visits posted as bundles, whatever the district's size
RESIDENTS_PER_BUNDLE = 250  # … and one visit per this many residents below the cap
# The first visits send blood pressure as a panel (Synthea-style systems), the others as two
# Observations (as many HIS do). Few panels: the FHIR writer clears a panel's component rows with a
# LIKE that scans the observation table (interop/fhir/store.py ``_panel``), ~0.1 s a panel at
# 50,000 residents, seconds at 1.65 M.
MAX_PANELS = 3
WITHOUT_ID_SHARE = 0.05  # patients registered without their resident ID
MAX_LAB_PATIENTS = 300  # chronic patients in the laboratory's export (≈ 7 lines each)
EXAM_CLINICS, EXAMS_PER_CLINIC = 6, 25
ENCOUNTER_STATIONS, ENCOUNTERS_PER_STATION = 3, 20
LANGUAGE = "zh-CN"


@dataclass
class FeedCounts:
    """What arrived, for ``simulate``'s counts table."""

    feed_fhir_bundles: int = 0
    feed_fhir_resources: int = 0  # entries of the bundles
    feed_fhir_created: int = 0  # resources that made a new row
    feed_fhir_new_residents: int = 0  # patients without a resident ID: the linkage queue's work
    feed_ndjson_lines: int = 0
    feed_ndjson_inserted: int = 0
    feed_table_rows: int = 0
    feed_table_inserted: int = 0
    feed_rejected: int = 0  # bundles, lines and rows refused, kept with their reasons

    def as_counts(self) -> dict[str, int]:
        return asdict(self)


def interface_principal(institution: Institution) -> Principal:
    """The institution's interface account, as a job: a data submitter bound to it."""
    return Principal(
        user_id=0,
        username=f"interface:{institution.code}"[:64],
        display_name=f"{institution.name} 接口",
        role=Role.DATA_SUBMITTER,
        institution_id=institution.id,
        auth_kind="job",
    )


# --- who the institutions see --------------------------------------------------------------------


def _patients(session: Session, ids: list[int], as_of: date) -> list[FedPatient]:
    """The residents of ``ids`` (active ones, in the given order) as the database holds them."""
    if not ids:
        return []
    rows = session.execute(
        select(
            Resident.id,
            Resident.id_number,
            Resident.name,
            Resident.sex,
            Resident.birth_date,
            Resident.phone,
            Resident.address,
            Division.code,
        )
        .join(Division, Division.id == Resident.division_id)
        .where(Resident.id.in_(ids), Resident.status == ResidentStatus.ACTIVE, Resident.id_number.is_not(None))
    ).all()
    chronic: dict[int, set[str]] = {}
    for resident_id, code in session.execute(
        select(Condition.resident_id, Condition.code).where(Condition.resident_id.in_(ids))
    ):
        chronic.setdefault(resident_id, set()).add(code[:3])
    by_id = {}
    for rid, id_number, name, sex, birth, phone, address, division in rows:
        held = chronic.get(rid, set())
        by_id[rid] = FedPatient(
            resident_id=rid,
            id_number=id_number,
            name=name,
            sex=sex,
            birth_date=birth,
            phone=phone,
            address=address,
            division_code=division,
            age=(as_of - birth).days * 4 // 1461,
            hypertension=bool(held & set(codes.HYPERTENSION)),
            diabetes=bool(held & set(codes.TYPE2_DIABETES)),
        )
    return [by_id[i] for i in ids if i in by_id]


def _sample(session: Session, rng: np.random.Generator, n: int, as_of: date) -> list[FedPatient]:
    """About ``n`` residents drawn at random (ids are drawn, so a big district costs no more)."""
    # The range of the district's own records (those the feeds made have no resident ID), so that
    # the same seed draws the same residents when the stage runs again.
    with_id = select(Resident.id).where(Resident.id_number.is_not(None))
    low = session.scalar(with_id.order_by(Resident.id).limit(1))
    high = session.scalar(with_id.order_by(Resident.id.desc()).limit(1))
    if low is None or high is None or n <= 0:
        return []
    size = min(n, high - low + 1)
    ids = (rng.choice(high - low + 1, size=size, replace=False) + low).tolist()
    found: list[FedPatient] = []
    for start in range(0, len(ids), 5_000):
        found += _patients(session, ids[start : start + 5_000], as_of)
    return [p for p in found if p.birth_date < as_of]


def _institutions(session: Session, *kinds: str) -> list[Institution]:
    return list(
        session.scalars(
            select(Institution).where(Institution.kind.in_(kinds), Institution.active).order_by(Institution.id)
        )
    )


def _catchment_elderly(session: Session, clinic: Institution, as_of: date, limit: int) -> list[FedPatient]:
    born_by = date(as_of.year - 65, as_of.month, min(as_of.day, 28))
    ids = session.scalars(
        select(Resident.id)
        .join(InstitutionCatchment, InstitutionCatchment.division_id == Resident.division_id)
        .where(
            InstitutionCatchment.institution_id == clinic.id,
            Resident.birth_date <= born_by,
            Resident.status == ResidentStatus.ACTIVE,
            Resident.id_number.is_not(None),
        )
        .order_by(Resident.id)
        .limit(limit)
    ).all()
    return _patients(session, list(ids), as_of)


def _catchment_residents(session: Session, clinic: Institution, as_of: date, limit: int) -> list[FedPatient]:
    ids = session.scalars(
        select(Resident.id)
        .join(InstitutionCatchment, InstitutionCatchment.division_id == Resident.division_id)
        .where(
            InstitutionCatchment.institution_id == clinic.id,
            Resident.status == ResidentStatus.ACTIVE,
            Resident.id_number.is_not(None),
        )
        .order_by(Resident.id)
        .limit(limit)
    ).all()
    return _patients(session, list(ids), as_of)


# --- the three paths -----------------------------------------------------------------------------


def _outcome(ctx: Context, issues: list[Issue], status: int) -> dict[str, Any]:
    return operation_outcome(issues, status, ctx.language)


def post_bundle(session: Session, principal: Principal, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """``POST /fhir`` in-process: the router's own steps (the sender is the caller's institution)."""
    ctx = Context(
        session=session, sender=fhir_service.sender_of(session, principal), principal=principal, language=LANGUAGE
    )
    return bundle.process(ctx, body, _outcome)


def _send_bundles(
    database: Database, rng: np.random.Generator, *, residents: int, as_of: date, days: int, counts: FeedCounts
) -> None:
    wanted = min(MAX_BUNDLES, max(10, residents // RESIDENTS_PER_BUNDLE))
    with database.unit_of_work(read_only=True) as session:
        hospitals = _institutions(session, "hospital")
        patients = _sample(session, rng, wanted, as_of)
    if not hospitals or not patients:
        return
    without = max(2, round(WITHOUT_ID_SHARE * len(patients)))
    no_id = set(rng.choice(len(patients), size=min(without, len(patients)), replace=False).tolist())
    for index, p in enumerate(patients):
        hospital = hospitals[int(rng.integers(len(hospitals)))]
        day = as_of - timedelta(days=int(rng.integers(0, days)))
        registration = content.register(rng, p, hospital.code, without_id=index in no_id)
        panel = index < MAX_PANELS
        body = content.visit_bundle(rng, p, registration, hospital=hospital.code, day=day, as_of=as_of, bp_panel=panel)
        with database.unit_of_work() as session:  # one request
            status, answer = post_bundle(session, interface_principal(hospital), body)
        counts.feed_fhir_bundles += 1
        counts.feed_fhir_resources += len(body["entry"])
        if status != 200:
            counts.feed_rejected += 1
            continue
        for entry, sent in zip(answer["entry"], body["entry"], strict=True):
            if entry["response"]["status"].startswith("201"):
                counts.feed_fhir_created += 1
                if sent["resource"]["resourceType"] == "Patient":
                    counts.feed_fhir_new_residents += 1


@contextmanager
def _directory(feed_dir: Path | None) -> Iterator[Path]:
    if feed_dir is not None:
        feed_dir.mkdir(parents=True, exist_ok=True)
        yield feed_dir
        return
    with tempfile.TemporaryDirectory(prefix="hb-feeds-") as scratch:
        yield Path(scratch)


def _send_lab_export(
    database: Database,
    rng: np.random.Generator,
    *,
    residents: int,
    as_of: date,
    feed_dir: Path | None,
    counts: FeedCounts,
) -> None:
    with database.unit_of_work(read_only=True) as session:
        hospitals = _institutions(session, "hospital")
        # Chronic patients are about a third of adults: draw enough residents to find the export's.
        wanted = min(MAX_LAB_PATIENTS, max(20, residents // 100))
        patients = [p for p in _sample(session, rng, wanted * 4, as_of) if p.hypertension or p.diabetes][:wanted]
    if not hospitals or not patients:
        return
    laboratory = hospitals[0]
    lines = content.lab_lines(rng, patients, hospital=laboratory.code, as_of=as_of)
    with _directory(feed_dir) as folder:
        path = folder / f"{laboratory.code}-lab-{as_of:%Y%m%d}.ndjson"
        path.write_bytes(b"".join(lines))
        result = bulk.import_file(
            database.unit_of_work,
            path,
            sender=laboratory.code,
            principal=interface_principal(laboratory),
            language=LANGUAGE,
        )
    counts.feed_ndjson_lines += result.lines
    if not result.already_done:  # a file imported before answers its first import's counts
        counts.feed_ndjson_inserted += result.inserted
        counts.feed_rejected += result.rejected


def _upload(
    database: Database, clinic: Institution, kind: Kind, filename: str, data: bytes, counts: FeedCounts
) -> None:
    with database.unit_of_work() as session:  # one upload
        result = tabular_service.import_table(
            session,
            principal=interface_principal(clinic),
            kind=kind,
            filename=filename,
            content=data,
            language=LANGUAGE,
        )
    counts.feed_table_rows += result.received
    counts.feed_table_inserted += result.inserted
    counts.feed_rejected += result.rejected


def _send_sheets(database: Database, rng: np.random.Generator, *, as_of: date, days: int, counts: FeedCounts) -> None:
    with database.unit_of_work(read_only=True) as session:
        clinics = _institutions(session, "village_clinic", "chs")
        village = [c for c in clinics if c.kind == "village_clinic"] or clinics
        stations = [c for c in clinics if c.kind == "chs"] or clinics
        chosen = [village[i] for i in sorted(rng.choice(len(village), min(EXAM_CLINICS, len(village)), replace=False))]
        registers = [
            stations[i]
            for i in sorted(rng.choice(len(stations), min(ENCOUNTER_STATIONS, len(stations)), replace=False))
        ]
        elderly = {c.id: _catchment_elderly(session, c, as_of, 200) for c in chosen}
        visitors = {c.id: _catchment_residents(session, c, as_of, 400) for c in registers}
    for n, clinic in enumerate(chosen):
        people = elderly[clinic.id]
        if not people:
            continue
        picked = [people[i] for i in sorted(rng.choice(len(people), min(EXAMS_PER_CLINIC, len(people)), replace=False))]
        rows = [
            content.exam_row(rng, p, clinic=clinic.code, day=as_of - timedelta(days=int(rng.integers(0, days))))
            for p in picked
        ]
        if n == 0 and len(rows) >= 3:
            # The mistakes of a hand-kept sheet: a mistyped ID (its check character), a date typo.
            bad_id = rows[1]["id_number"]
            rows[1]["id_number"] = content.wrong_check_character(bad_id)
            rows[2]["exam_date"] = f"{as_of.year}-{as_of.month:02d}-3{int(rng.integers(2, 10))}"
        data = content.workbook(Kind.EXAMS, rows)
        _upload(database, clinic, Kind.EXAMS, f"{clinic.code}-健康体检-{as_of:%Y%m}.xlsx", data, counts)
    for n, station in enumerate(registers):
        people = visitors[station.id]
        if not people:
            continue
        picked = [
            people[i] for i in sorted(rng.choice(len(people), min(ENCOUNTERS_PER_STATION, len(people)), replace=False))
        ]
        rows = [
            content.encounter_row(rng, p, clinic=station.code, day=as_of - timedelta(days=int(rng.integers(0, days))))
            for p in picked
        ]
        if n == 0 and len(rows) >= 2:
            rows[1]["start_at"] = f"{as_of.year}/{as_of.month}/{as_of.day} 25:10"  # an hour that does not exist
        data = content.workbook(Kind.ENCOUNTERS, rows)
        _upload(database, station, Kind.ENCOUNTERS, f"{station.code}-门诊日志-{as_of:%Y%m}.xlsx", data, counts)


def feed_recent(
    database: Database,
    *,
    seed: int,
    residents: int,
    as_of: date,
    days: int = 14,
    feed_dir: Path | None = None,
) -> FeedCounts:
    """Send the last ``days`` days through FHIR bundles, the bulk NDJSON importer and Excel uploads.

    Runs after the district is committed (each request or upload is its own unit of work, as in
    production). ``feed_dir``: where the laboratory's export is written (default: a temporary
    folder). Data never lies in the future: the feeds end at the earlier of ``as_of`` and today."""
    counts = FeedCounts()
    if days <= 0:
        return counts
    end = min(as_of, local_today())
    # The eleventh stream of the seed (the first ten are the other stages'), one child per path.
    stream = np.random.SeedSequence(seed).spawn(STREAM + 1)[STREAM]
    bundles, lab, sheets = (np.random.default_rng(s) for s in stream.spawn(3))
    _send_bundles(database, bundles, residents=residents, as_of=end, days=days, counts=counts)
    _send_lab_export(database, lab, residents=residents, as_of=end, feed_dir=feed_dir, counts=counts)
    _send_sheets(database, sheets, as_of=end, days=days, counts=counts)
    return counts
