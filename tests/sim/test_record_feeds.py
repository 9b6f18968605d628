"""The simulator's recent data arrives through the real ingestion paths (FHIR bundles, bulk NDJSON,
Excel uploads) and lands in the same record as the simulated history; the duplicates it makes go
to the linkage queue; the stage is deterministic and idempotent. Runs on SQLite and, with
HEALTHBRAIN_TEST_DATABASE_URL, on PostgreSQL (a scratch database of its own)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest
from sqlalchemy import create_engine, func, make_url, select, text

from healthbrain.auth.roles import Role
from healthbrain.auth.scope import Principal
from healthbrain.config import normalise_database_url
from healthbrain.core.time import SHANGHAI
from healthbrain.db import Database
from healthbrain.geo.models import Institution
from healthbrain.interop import tabular_service
from healthbrain.interop.fhir import keys
from healthbrain.interop.fhir import service as fhir_service
from healthbrain.interop.fhir.validate import validate_r4
from healthbrain.interop.models import BulkImport, FhirResource
from healthbrain.interop.tabular import Kind
from healthbrain.linkage import service as linkage
from healthbrain.linkage.models import LinkCandidate
from healthbrain.migrations.runner import upgrade
from healthbrain.people.models import Resident, ResidentIdentifier
from healthbrain.people.resident_id import ResidentIdError
from healthbrain.people.resident_id import parse as parse_id
from healthbrain.records import codes
from healthbrain.records import service as records
from healthbrain.records.models import (
    Condition,
    Encounter,
    IngestBatch,
    IngestRejection,
    MedicationStatement,
    Observation,
    PhysicalExam,
)
from healthbrain.sim import record_feed_content as content
from healthbrain.sim.record_feeds import FeedCounts, feed_recent, interface_principal
from healthbrain.sim.service import SimulationResult, simulate
from tests.conftest import TEST_DATABASE_URL

AS_OF = date(2026, 11, 25)
RESIDENTS = 2_000
SEED = 7
READER = Principal(user_id=0, username="cdc-test", display_name="cdc", role=Role.CDC, auth_kind="job")
TABLES = (
    Resident,
    ResidentIdentifier,
    Encounter,
    Observation,
    Condition,
    MedicationStatement,
    PhysicalExam,
    FhirResource,
    BulkImport,
)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database of the module's own, on the server the suite runs on."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('feeds') / 'feeds.sqlite3'}"
        return
    base = make_url(normalise_database_url(TEST_DATABASE_URL))
    name = f"hb_feeds_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def district(url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, SimulationResult]]:
    database = Database(url)
    upgrade(database.engine)
    result = simulate(
        database,
        residents=RESIDENTS,
        seed=SEED,
        as_of=AS_OF,
        feed_days=0,
        reading_days=0,
        feed_dir=tmp_path_factory.mktemp("feed-files"),
    )
    yield database, result
    database.dispose()


# --- what arrived lands in the record ----------------------------------------------------------------


def test_counts_say_what_arrived(district: tuple[Database, SimulationResult]) -> None:
    _database, result = district
    c = result.counts
    assert c["feed_fhir_bundles"] == 10  # one visit per 250 residents, at least ten
    assert c["feed_fhir_resources"] > 8 * c["feed_fhir_bundles"]
    assert c["feed_fhir_new_residents"] >= 2  # patients without their resident ID
    assert c["feed_ndjson_lines"] > 20 and c["feed_ndjson_inserted"] > 0
    assert c["feed_table_rows"] > 20 and c["feed_table_inserted"] > 0
    # Two bad exam rows, one bad register row, one orphan laboratory result.
    assert c["feed_rejected"] == 4
    assert c["resident"] == RESIDENTS  # the set-based load is unchanged


def test_a_hospitals_observation_joins_the_simulated_history(district: tuple[Database, SimulationResult]) -> None:
    database, _result = district
    with database.sessionmaker() as session:
        hospitals = {i.id: i.code for i in session.scalars(select(Institution).where(Institution.kind == "hospital"))}
        fed = session.scalars(
            select(Observation)
            .join(Resident, Resident.id == Observation.resident_id)
            .where(
                Observation.code == codes.SYSTOLIC_BP,
                Observation.source_key.like("fhir|%"),
                Resident.id_number.is_not(None),
            )
            .order_by(Observation.id)
        ).all()
        assert fed
        # The panel's systolic row of a resident that the simulation also gave a BP history.
        for row in fed:
            series = records.observations(
                session, principal=READER, resident_id=row.resident_id, code_filter=[codes.SYSTOLIC_BP], limit=500
            )
            if any(o.id != row.id and o.effective_at < row.effective_at - timedelta(days=14) for o in series):
                break
        else:
            pytest.fail("no hospital BP reading sits beside a simulated history")
        assert row.id in {o.id for o in series}
        assert row.institution_id in hospitals
        assert row.source_key is not None and row.source_key.split("|")[1] == hospitals[row.institution_id]
        recent = (AS_OF - row.effective_at.astimezone(SHANGHAI).date()).days
        assert 0 <= recent < 14
        # The same visit's encounter, diagnosis and medicine are on the record too.
        record = records.resident_record(session, principal=READER, resident_id=row.resident_id)
        assert row.encounter_id in {e.id for e in record.encounters}
        visit = next(e for e in record.encounters if e.id == row.encounter_id)
        assert visit.institution_id == row.institution_id
        assert visit.encounter_class in ("outpatient", "emergency", "inpatient")
        sent = {atc for group in content.MEDICINES.values() for atc, _name, _dose in group}
        visit_day = visit.start_at.astimezone(SHANGHAI).date()
        assert any(m.code in sent and m.start_date == visit_day for m in record.medications)
        session.rollback()


def test_an_exam_uploaded_by_xlsx_is_on_the_record(district: tuple[Database, SimulationResult]) -> None:
    database, _result = district
    with database.sessionmaker() as session:
        exam = session.scalars(
            select(PhysicalExam).where(PhysicalExam.source_key.like("tab|%|exams|%")).order_by(PhysicalExam.id)
        ).first()
        assert exam is not None
        clinic = session.get(Institution, exam.institution_id)
        assert clinic is not None and clinic.kind == "village_clinic"
        record = records.resident_record(session, principal=READER, resident_id=exam.resident_id)
        shown = next(e for e in record.physical_exams if e.id == exam.id)
        assert {"systolic_bp", "diastolic_bp", "weight_kg", "fasting_glucose"} <= set(shown.measurements)
        resident = session.get(Resident, exam.resident_id)
        assert resident is not None and (AS_OF - resident.birth_date).days >= 65 * 365
        session.rollback()


def test_ndjson_lab_results_are_on_the_record(district: tuple[Database, SimulationResult]) -> None:
    database, result = district
    with database.sessionmaker() as session:
        done = session.scalars(select(BulkImport)).all()
        assert len(done) == 1 and done[0].status == "done"
        imported = done[0]
        assert imported.lines_done == result.counts["feed_ndjson_lines"]
        laboratory = session.scalar(select(Institution).where(Institution.code == imported.sender))
        assert laboratory is not None and laboratory.kind == "hospital"
        # The bulk path names a result by the hash of the sender's id (keys.source_hash).
        results = session.scalars(
            select(Observation).where(
                Observation.source_hash.is_not(None),
                Observation.institution_id == laboratory.id,
                Observation.code.in_(list(content.LAB_RESULTS)),
            )
        ).all()
        assert len(results) == result.counts["feed_ndjson_inserted"]
        assert {o.code for o in results} >= {codes.TOTAL_CHOLESTEROL, codes.CREATININE}
        # A diabetic's HbA1c lands on the resident the export's Patient line named by resident ID.
        hba1c = next(o for o in results if o.code == codes.HBA1C)
        alias = session.scalar(
            select(ResidentIdentifier).where(
                ResidentIdentifier.resident_id == hba1c.resident_id,
                ResidentIdentifier.system == keys.alias_system(imported.sender),
            )
        )
        assert alias is not None
        series = records.observations(
            session, principal=READER, resident_id=hba1c.resident_id, code_filter=[codes.HBA1C], limit=50
        )
        assert hba1c.id in {o.id for o in series}
        # The orphan result is kept with its reason.
        rejected = session.scalars(select(IngestRejection).where(IngestRejection.batch_id == imported.batch_id)).all()
        assert len(rejected) == 1
        assert rejected[0].errors[0]["field"] == "Observation.subject"
        session.rollback()


def test_verbatim_resources_read_back_through_the_fhir_service(district: tuple[Database, SimulationResult]) -> None:
    database, _result = district
    with database.sessionmaker() as session:
        kept = dict(
            session.execute(select(FhirResource.resource_type, func.count()).group_by(FhirResource.resource_type)).all()
        )
        assert kept.get("Claim", 0) == 10 and kept.get("Procedure", 0) >= 1 and kept.get("DiagnosticReport", 0) >= 1
        assert kept.get("Observation", 0) == 3  # the BP panels, kept as sent beside their component rows
        procedure = session.scalars(
            select(FhirResource).where(FhirResource.resource_type == "Procedure").order_by(FhirResource.id)
        ).first()
        assert procedure is not None and procedure.resident_id is not None
        read = fhir_service.read(session, principal=READER, resource_type="Procedure", logical_id=procedure.logical_id)
        assert read["resourceType"] == "Procedure" and read["id"] == procedure.logical_id
        # Its references were rewritten to the platform's own resources, as a FHIR server does.
        assert read["subject"]["reference"] == f"Patient/{procedure.resident_id}"
        encounter = read["encounter"]["reference"].split("/")
        assert encounter[0] == "Encounter" and session.get(Encounter, int(encounter[1])) is not None
        session.rollback()


def test_patients_without_resident_id_become_records_the_linkage_queues(
    district: tuple[Database, SimulationResult],
) -> None:
    database, result = district
    with database.sessionmaker() as session:
        new = session.scalars(select(Resident).where(Resident.id_number.is_(None)).order_by(Resident.id)).all()
        assert len(new) == result.counts["feed_fhir_new_residents"]
        hospitals = set(session.scalars(select(Institution.id).where(Institution.kind == "hospital")))
        assert all(r.registered_institution_id in hospitals for r in new)
        # Each is a person the district already holds (same birth date and sex, the ID left out).
        for r in new:
            twins = session.scalars(
                select(Resident.id).where(
                    Resident.birth_date == r.birth_date, Resident.sex == r.sex, Resident.id_number.is_not(None)
                )
            ).all()
            assert twins, r.name
        with session.begin_nested():
            summary = linkage.run(session, train=False)
            queued = session.scalars(select(LinkCandidate).where(LinkCandidate.run_id == summary.run.id)).all()
            paired = {c.left_id for c in queued} | {c.right_id for c in queued}
            assert sum(1 for r in new if r.id in paired) >= len(new) - 1  # a romanised name may escape
        session.rollback()


def test_upload_history_keeps_the_bad_rows_with_reasons(district: tuple[Database, SimulationResult]) -> None:
    database, _result = district
    with database.sessionmaker() as session:
        batch = session.scalars(
            select(IngestBatch)
            .where(IngestBatch.channel == "table.exams", IngestBatch.rejected > 0)
            .order_by(IngestBatch.id)
        ).first()
        assert batch is not None and batch.rejected == 2 and batch.institution_id is not None
        clinic = session.get(Institution, batch.institution_id)
        assert clinic is not None
        principal = interface_principal(clinic)
        uploads = tabular_service.recent_uploads(session, principal=principal)
        assert any(u.id == batch.id and u.rejected == 2 and u.error_report for u in uploads)
        errors = tabular_service.batch_errors(session, principal=principal, batch_id=batch.id)
        by_column = {e.field: e.message for e in errors}
        assert set(by_column) == {"id_number", "exam_date"}
        assert "校验" in by_column["id_number"]
        assert "不是日期" in by_column["exam_date"]
        name, report = tabular_service.error_report(session, principal=principal, batch_id=batch.id)
        assert name.endswith(".xlsx") and report[:2] == b"PK"
        session.rollback()


def test_running_the_stage_again_changes_nothing(district: tuple[Database, SimulationResult]) -> None:
    database, result = district

    def sizes() -> dict[str, int]:
        with database.sessionmaker() as session:
            return {m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0 for m in TABLES}

    before = sizes()
    again = feed_recent(database, seed=SEED, residents=RESIDENTS, as_of=AS_OF)
    assert sizes() == before
    assert again.feed_fhir_bundles == result.counts["feed_fhir_bundles"]
    assert again.feed_fhir_created == 0 and again.feed_fhir_new_residents == 0
    assert again.feed_ndjson_inserted == 0 and again.feed_table_inserted == 0
    assert again.feed_table_rows == result.counts["feed_table_rows"]  # the sheets' rows come back as duplicates


# --- the messages themselves: pure -------------------------------------------------------------------


def _patient(resident_id: int = 1, *, htn: bool = True, dm: bool = True, age: int = 70) -> content.FedPatient:
    return content.FedPatient(
        resident_id=resident_id,
        id_number="11010519491231002X",
        name="张秀英",
        sex="F",
        birth_date=date(1949, 12, 31),
        phone="13812345678",
        address="临江区青山社区1幢101",
        division_code="330199001001",
        age=age,
        hypertension=htn,
        diabetes=dm,
    )


@pytest.mark.parametrize(
    ("htn", "dm", "age", "seed"),
    [(True, True, 70, 1), (False, False, 30, 2), (False, True, 55, 3), (False, False, 4, 4), (True, False, 80, 5)],
)
def test_every_bundle_resource_is_valid_r4(htn: bool, dm: bool, age: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = _patient(htn=htn, dm=dm, age=age)
    for without_id in (False, True):
        reg = content.register(rng, p, "H001", without_id=without_id)
        body = content.visit_bundle(rng, p, reg, hospital="H001", day=AS_OF - timedelta(days=3), as_of=AS_OF)
        types = [e["resource"]["resourceType"] for e in body["entry"]]
        assert types[:2] == ["Patient", "Encounter"] and "Claim" in types
        assert ("Condition" in types) and ("MedicationStatement" in types)
        for entry in body["entry"]:
            assert entry["fullUrl"].startswith("urn:uuid:")
            if entry["resource"]["resourceType"] not in ("Claim", "Procedure", "DiagnosticReport"):
                assert validate_r4(entry["resource"]) == [], entry["resource"]["resourceType"]
        identifiers = body["entry"][0]["resource"]["identifier"]
        assert any(i.get("system") == keys.RESIDENT_ID_SYSTEM for i in identifiers) is not without_id


@pytest.mark.parametrize("number", ["11010519491231002X", "330102198001010018", "330102201002280049"])
def test_a_wrong_check_character_is_refused_by_the_id_rules(number: str) -> None:
    parse_id(number)
    with pytest.raises(ResidentIdError) as caught:
        parse_id(content.wrong_check_character(number))
    assert caught.value.reason == "check_character"


def test_the_same_seed_sends_the_same_bytes() -> None:
    patients = [_patient(i, dm=bool(i % 2)) for i in range(1, 6)]

    def lines(seed: int) -> list[bytes]:
        return content.lab_lines(np.random.default_rng(seed), patients, hospital="H001", as_of=AS_OF)

    assert lines(1) == lines(1) and lines(1) != lines(2)
    first = lines(1)
    kinds = [orjson.loads(x)["resourceType"] for x in first]
    assert kinds[: len(patients)] == ["Patient"] * len(patients) and set(kinds[len(patients) :]) == {"Observation"}
    for raw in first[len(patients) :]:
        o = orjson.loads(raw)
        assert o["subject"]["reference"].startswith("Patient/")
        when = datetime.fromisoformat(o["effectiveDateTime"])
        assert when.tzinfo is not None and 0 < (AS_OF - when.date()).days < 90


def test_counts_are_the_counts_table_rows() -> None:
    counts = FeedCounts(feed_fhir_bundles=3, feed_rejected=1).as_counts()
    assert counts["feed_fhir_bundles"] == 3 and counts["feed_rejected"] == 1
    assert all(k.startswith("feed_") and isinstance(v, int) for k, v in counts.items())


def test_a_workbook_has_the_templates_chinese_headers(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    rng = np.random.default_rng(0)
    rows = [content.exam_row(rng, _patient(i), clinic="V001", day=AS_OF) for i in range(1, 4)]
    path = tmp_path / "exams.xlsx"
    path.write_bytes(content.workbook(Kind.EXAMS, rows))
    sheet = load_workbook(path).worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header[:5] == ["记录编号", "身份证号", "姓名", "体检日期", "身高(cm)"]
    assert sheet.max_row == 4
    assert isinstance(sheet.cell(row=2, column=2).value, str)  # an ID typed as text, not a number
