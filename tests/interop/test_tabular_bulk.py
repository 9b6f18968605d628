"""The set-based path of the CSV / Excel import: a row the database refuses loses only itself (the
chunk it was in is written again row by row), files mixing new, duplicate, corrected and bad rows,
examinations, the first error of a row as the per-row path gave it, and one audit entry per file."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from healthbrain.auth.models import AuditEvent
from healthbrain.core.i18n import translate
from healthbrain.interop.tabular import Kind, row_key
from healthbrain.interop.tabular_records import CHUNK_ROWS
from healthbrain.records import codes
from healthbrain.records.models import Encounter, IngestRejection, Observation, PhysicalExam
from tests.conftest import bearer
from tests.factories import World
from tests.interop.test_tabular_import import csv_bytes, read_report, upload, xlsx

UNSTORABLE = translate("tab.row.unstorable", "zh-CN")
REFUSED_VALUE = 666.0


def refuse_observations_valued(connection: Connection, value: float) -> None:
    """A database-level refusal the import cannot foresee: a trigger that aborts the insert of an
    observation with this value (rolled back with the test's transaction)."""
    if connection.dialect.name == "sqlite":
        connection.execute(
            text(
                "CREATE TRIGGER hb_test_refuse BEFORE INSERT ON observation "
                f"WHEN NEW.value_num = {value} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        )
        return
    connection.execute(
        text(
            "CREATE FUNCTION hb_test_refuse() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.value_num = {value} THEN "
            "RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'check_violation'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql"
        )
    )
    connection.execute(
        text(
            "CREATE TRIGGER hb_test_refuse BEFORE INSERT ON observation FOR EACH ROW EXECUTE FUNCTION hb_test_refuse()"
        )
    )


def _weights(session: Session, resident_id: int) -> list[float]:
    return sorted(
        v
        for v in session.scalars(
            select(Observation.value_num).where(
                Observation.resident_id == resident_id, Observation.code == codes.BODY_WEIGHT
            )
        )
        if v is not None
    )


def _audit(session: Session, action: str, *, since: int) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action, AuditEvent.id > since)).all())


def _last_audit_id(session: Session) -> int:
    return session.scalar(select(func.max(AuditEvent.id))) or 0


# --- a row the database refuses ----------------------------------------------------------------------


def test_a_row_the_database_refuses_is_rejected_and_the_others_land(
    client: TestClient, world: World, session: Session, connection: Connection
) -> None:
    refuse_observations_valued(connection, REFUSED_VALUE)
    elder, wife = world.id_numbers["a1_elder"], world.id_numbers["a1_wife"]
    header = ["身份证号", "项目", "结果", "检查时间"]
    content = xlsx(
        [
            header,
            [elder, "体重", "70", "2024-05-01 08:00"],
            [wife, "体重", "55", "2024-05-01 08:00"],
            [elder, "体重", str(int(REFUSED_VALUE)), "2024-05-02 08:00"],  # refused by the database
            [wife, "体重", "56", "2024-05-02 08:00"],
            [elder, "体重", "很重", "2024-05-03 08:00"],  # refused by the checks
        ]
    )
    body = upload(client, world, "observations", content).json()
    assert (body["received"], body["inserted"], body["rejected"]) == (5, 3, 2), body
    assert (body["errors"][0]["row"], body["errors"][0]["field"], body["errors"][0]["message"]) == (4, None, UNSTORABLE)
    assert _weights(session, world.residents["a1_elder"]) == [70]
    assert _weights(session, world.residents["a1_wife"]) == [55, 56]
    kept = session.scalars(select(IngestRejection).where(IngestRejection.batch_id == body["batch_id"])).all()
    assert [r.row_number for r in kept] == [4, 6]
    report = read_report(client.get(body["error_report"], headers=bearer(world, "submitter")).content)
    assert [r[-1] for r in report[1:]] == [4, 6] and report[1][-2] == UNSTORABLE

    # Sent again: the stored rows are duplicates, the refused row is refused again, nothing doubles.
    again = upload(client, world, "observations", content).json()
    assert (again["inserted"], again["duplicates"], again["rejected"]) == (0, 3, 2), again
    assert _weights(session, world.residents["a1_wife"]) == [55, 56]


def test_a_refused_row_in_a_later_chunk_loses_only_itself(
    client: TestClient, world: World, session: Session, connection: Connection
) -> None:
    refuse_observations_valued(connection, REFUSED_VALUE)
    adult = world.id_numbers["b1_adult"]
    total = CHUNK_ROWS + 500  # two chunks; the refused row is in the second
    refused_line = CHUNK_ROWS + 101
    rows: list[list[Any]] = [["身份证号", "项目", "结果", "检查时间"]]
    for n in range(total):  # one reading a minute
        value = int(REFUSED_VALUE) if n + 2 == refused_line else 60 + n % 20
        rows.append([adult, "心率", str(value), f"2023-01-{1 + n // 1440:02d} {n // 60 % 24:02d}:{n % 60:02d}"])
    before = session.scalar(select(func.count()).select_from(Observation))
    body = upload(client, world, "observations", csv_bytes(rows), name="many.csv").json()
    assert (body["received"], body["inserted"], body["rejected"]) == (total, total - 1, 1), body["errors"][:3]
    assert body["errors"][0]["row"] == refused_line
    assert session.scalar(select(func.count()).select_from(Observation)) == (before or 0) + total - 1
    assert (
        session.scalar(
            select(func.count()).where(
                Observation.resident_id == world.residents["b1_adult"], Observation.value_num == REFUSED_VALUE
            )
        )
        == 0
    )


def test_an_exam_the_database_refuses_leaves_no_encounter_or_measurement_behind(
    client: TestClient, world: World, session: Session
) -> None:
    wife, elder = world.id_numbers["a1_wife"], world.id_numbers["a1_elder"]
    # An encounter left under the key an examination's encounter would take (as if stored by a
    # concurrent upload): the unique key refuses that examination at the database.
    taken = row_key(
        Kind.EXAMS, world.institution_codes["hospital"], {"id_number": elder, "exam_date": date(2024, 6, 2)}
    )
    session.add(
        Encounter(
            resident_id=world.residents["a1_elder"],
            encounter_class="physical_exam",
            start_at=datetime(2024, 6, 2, 1, 0, tzinfo=UTC),
            source_key=f"{taken}:encounter",
        )
    )
    session.commit()
    header = ["身份证号", "体检日期", "身高(cm)", "体重(kg)", "收缩压(mmHg)", "舒张压(mmHg)", "健康评价"]
    content = xlsx(
        [
            header,
            [wife, "2024-06-01", 158, 60, 128, 80, "正常"],
            [elder, "2024-06-02", 170, 72, 150, 95, "有异常"],  # refused by the unique key
            [elder, "2024-06-03", 170, 71, 148, 92, "有异常"],
        ]
    )
    body = upload(client, world, "exams", content).json()
    assert (body["inserted"], body["rejected"]) == (2, 1), body
    assert (body["errors"][0]["row"], body["errors"][0]["message"]) == (3, UNSTORABLE)
    exams = session.scalars(
        select(PhysicalExam).where(PhysicalExam.exam_date.in_([date(2024, 6, 1), date(2024, 6, 2), date(2024, 6, 3)]))
    ).all()
    assert sorted(e.exam_date.day for e in exams) == [1, 3]
    for exam in exams:
        encounter = session.get(Encounter, exam.encounter_id)
        assert encounter is not None and encounter.resident_id == exam.resident_id
        measured = session.scalars(select(Observation.code).where(Observation.encounter_id == exam.encounter_id)).all()
        assert sorted(measured) == sorted([codes.BODY_HEIGHT, codes.BODY_WEIGHT, codes.SYSTOLIC_BP, codes.DIASTOLIC_BP])
    # the refused examination left nothing: no form, and no measurement on any new encounter of that day
    assert (
        session.scalar(
            select(func.count())
            .select_from(Observation)
            .where(Observation.resident_id == world.residents["a1_elder"], Observation.value_num == 72)
        )
        == 0
    )


# --- files mixing new, duplicate, corrected and bad rows ---------------------------------------------


def test_new_duplicate_corrected_and_bad_rows_in_one_file(client: TestClient, world: World, session: Session) -> None:
    elder, wife = world.id_numbers["a1_elder"], world.id_numbers["a1_wife"]
    header = ["记录编号", "身份证号", "姓名", "项目", "结果", "检查时间"]
    first = [
        header,
        ["M-1", elder, "王大爷", "体重", "70", "2024-07-01"],
        ["M-2", elder, None, "体重", "71", "2024-07-02"],
        ["M-3", wife, None, "体重", "55", "2024-07-01"],
    ]
    assert upload(client, world, "observations", xlsx(first)).json()["inserted"] == 3
    since = _last_audit_id(session)
    second = [
        header,
        ["M-1", elder, "王大爷", "体重", "70", "2024-07-01"],  # unchanged: a duplicate
        ["M-2", elder, None, "体重", "69.5", "2024-07-02"],  # corrected
        ["M-4", wife, None, "体重", "54", "2024-07-05"],  # new
        ["M-5", elder, "王小二", "体重", "70", "2024-07-06"],  # not this ID's name
        ["M-6", wife, None, "身高", "158", "2024-07-06"],  # new
        ["M-3", elder, None, "体重", "55", "2024-07-01"],  # M-3 is the wife's: the key is taken
    ]
    body = upload(client, world, "observations", xlsx(second)).json()
    counts = (body["inserted"], body["corrected"], body["duplicates"], body["rejected"])
    assert counts == (2, 1, 1, 2), body
    assert {(e["row"], e["field"]) for e in body["errors"]} == {(5, "name"), (7, "record_no")}
    assert _weights(session, world.residents["a1_elder"]) == [69.5, 70]
    assert _weights(session, world.residents["a1_wife"]) == [54, 55]
    # One audit entry for the file, naming the residents whose record changed; no entry per row.
    entries = _audit(session, "interop.table_import", since=since)
    assert len(entries) == 1 and entries[0].detail is not None
    assert entries[0].detail["residents"] == sorted([world.residents["a1_elder"], world.residents["a1_wife"]])
    assert _audit(session, "record.write", since=since) == []


def test_encounters_mixed_and_their_first_errors(client: TestClient, world: World, session: Session) -> None:
    elder = world.id_numbers["a1_elder"]
    header = ["记录编号", "身份证号", "就诊类型", "就诊时间", "结束时间", "诊断编码", "医生编码", "机构代码"]
    first = upload(
        client,
        world,
        "encounters",
        xlsx([header, ["E-1", elder, "门诊", "2024-08-01 09:00", None, "I10", None, None]]),
    ).json()
    assert first["inserted"] == 1
    second = xlsx(
        [
            header,
            ["E-1", elder, "门诊", "2024-08-01 09:00", None, "E11", None, None],  # corrected
            ["E-2", elder, "急诊", "2024-08-02 21:00", "2024-08-02 20:00", None, None, None],  # ends before start
            ["E-3", elder, "门诊", "2024-08-03 09:00", None, None, "NOPE", "NOPE"],  # new: the institution first
            ["E-1", elder, "门诊", "2024-08-01 09:00", None, None, None, None],  # the same key twice
            ["E-4", elder, "门诊", "2024-08-04 09:00", None, None, None, world.institution_codes["chc_a"]],
        ]
    )
    body = upload(client, world, "encounters", second).json()
    assert (body["inserted"], body["corrected"], body["rejected"]) == (1, 1, 3), body
    assert {(e["row"], e["field"]) for e in body["errors"]} == {(3, "end_at"), (4, "institution_code"), (5, None)}
    corrected = session.scalars(
        select(Encounter.reason_code).where(
            Encounter.resident_id == world.residents["a1_elder"], Encounter.reason_code.in_(["I10", "E11"])
        )
    ).all()
    assert "E11" in corrected
    key = row_key(Kind.ENCOUNTERS, world.institution_codes["hospital"], {"record_no": "E-4"})
    e4 = session.scalar(select(Encounter).where(Encounter.source_key == key))
    assert e4 is not None and e4.institution_id == world.institutions["chc_a"]


def test_a_row_with_several_faults_gets_the_first_the_per_row_path_gave(client: TestClient, world: World) -> None:
    # Unknown resident and an unknown item: the item is read before the resident is looked up.
    content = xlsx([["身份证号", "项目", "结果", "检查时间"], ["11010519491231002X", "血型", "A", "2024-03-05"]])
    body = upload(client, world, "observations", content).json()
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(2, "code")]


def test_exams_sent_again_unchanged_corrected_and_new(client: TestClient, world: World, session: Session) -> None:
    wife = world.id_numbers["a1_wife"]
    header = ["身份证号", "体检日期", "身高(cm)", "体重(kg)", "收缩压(mmHg)", "吸烟情况"]
    first = xlsx([header, [wife, "2024-09-01", 158, 60, 130, "从不吸烟"], [wife, "2024-09-02", 158, 61, 131, None]])
    assert upload(client, world, "exams", first).json()["inserted"] == 2
    again = upload(client, world, "exams", first).json()
    assert (again["inserted"], again["corrected"], again["duplicates"]) == (0, 0, 2), again
    second = xlsx(
        [
            header,
            [wife, "2024-09-01", 158, 60, 130, "从不吸烟"],  # unchanged
            [wife, "2024-09-02", 158, 61, None, "吸烟"],  # a measurement dropped, the form changed
            [wife, "2024-09-03", 158, 62, 128, None],  # new
        ]
    )
    body = upload(client, world, "exams", second).json()
    assert (body["inserted"], body["corrected"], body["duplicates"]) == (1, 1, 1), body
    exam = session.scalar(
        select(PhysicalExam).where(
            PhysicalExam.resident_id == world.residents["a1_wife"], PhysicalExam.exam_date == date(2024, 9, 2)
        )
    )
    assert exam is not None and exam.smoking == "current"
    measured = dict(
        session.execute(
            select(Observation.code, Observation.value_num).where(Observation.encounter_id == exam.encounter_id)
        ).all()
    )
    assert codes.SYSTOLIC_BP not in measured and measured[codes.BODY_WEIGHT] == 61


def test_out_of_scope_rows_are_refused_and_audited_once_per_resident(
    client: TestClient, world: World, session: Session
) -> None:
    since = _last_audit_id(session)
    outside = world.id_numbers["b1_adult"]
    content = xlsx(
        [
            ["身份证号", "项目", "结果", "检查时间"],
            [world.id_numbers["a1_elder"], "体重", "70", "2024-10-01"],
            [outside, "体重", "80", "2024-10-01"],
            [outside, "体重", "81", "2024-10-02"],
        ]
    )
    body = upload(client, world, "observations", content, user="centre_a").json()
    assert (body["inserted"], body["rejected"]) == (1, 2), body
    refused = [e for e in _audit(session, "record.write", since=since) if e.outcome != "ok"]
    assert [e.resident_id for e in refused] == [world.residents["b1_adult"]]
