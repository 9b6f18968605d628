"""CSV / Excel import against the real database and the real HTTP API: residents, encounters,
observations, physical examinations and follow-ups; idempotency; the error report and its
re-upload; templates; the CLI."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from healthbrain.chronic.models import ChronicEnrolment, ChronicFollowUp
from healthbrain.core.time import local_today
from healthbrain.people.models import Resident, ResidentIdentifier
from healthbrain.records import codes
from healthbrain.records.models import Encounter, IngestBatch, IngestRejection, Observation, PhysicalExam
from tests.conftest import bearer
from tests.factories import World, resident_id_number

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx(rows: list[list[Any]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list[Any]], *, encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


def upload(
    client: TestClient, world: World, kind: str, content: bytes, *, user: str = "submitter", name: str = "f.xlsx"
) -> Any:
    response = client.post(
        f"/api/v1/import/table?kind={kind}",
        files={"file": (name, content, XLSX if name.endswith(".xlsx") else "text/csv")},
        headers=bearer(world, user),
    )
    return response


def read_report(content: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    return [list(r) for r in sheet.iter_rows(values_only=True)]


# --- residents -----------------------------------------------------------------------------------


def test_residents_file_creates_links_and_rejects_with_reasons(
    client: TestClient, world: World, session: Session
) -> None:
    new_id = resident_id_number(date(1980, 4, 1), male=True, address="330199")
    bad_id = new_id[:-1] + ("0" if new_id[-1] != "0" else "1")
    content = xlsx(
        [
            ["身份证号", "病案号", "姓名", "性别", "出生日期", "联系电话", "区划代码", "所属社区", "现住址"],
            [new_id, "MZ-1", "周新", None, None, "13900001111", "330199001001", None, "青山社区2幢"],
            [None, "MZ-2", "外籍患者", "女", "1990/2/3", None, None, "西山社区", None],  # no ID: by MRN
            [bad_id, None, "坏号码", None, None, None, "330199001001", None, None],
            [world.id_numbers["a1_elder"], "MZ-3", "王大爷", None, None, None, "330199001001", None, None],
            [None, None, "无标识", "男", "1970-01-01", None, "330199001001", None, None],
        ]
    )
    response = upload(client, world, "residents", content)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["received"], body["inserted"], body["corrected"], body["rejected"]) == (5, 2, 1, 2)
    errors = {(e["row"], e["field"]) for e in body["errors"]}
    assert errors == {(4, "id_number"), (6, "id_number")}
    assert "校验位" in next(e["message"] for e in body["errors"] if e["row"] == 4)
    created = session.scalar(select(Resident).where(Resident.id_number == new_id))
    assert created is not None and created.sex == "M" and created.birth_date == date(1980, 4, 1)
    assert created.registered_institution_id == world.institutions["hospital"]
    foreigner = session.scalar(select(Resident).join(ResidentIdentifier).where(ResidentIdentifier.value == "MZ-2"))
    assert foreigner is not None and foreigner.division_id == world.divisions["b1"]
    # the elder, registered by a station: the hospital's MRN is linked, the demographics are not touched
    linked = session.scalar(select(ResidentIdentifier).where(ResidentIdentifier.value == "MZ-3"))
    assert linked is not None and linked.resident_id == world.residents["a1_elder"]
    batch = session.get(IngestBatch, body["batch_id"])
    assert batch is not None and batch.channel == "table.residents" and batch.rejected == 2
    kept = session.scalars(select(IngestRejection).where(IngestRejection.batch_id == batch.id)).all()
    assert [r.row_number for r in kept] == [4, 6]

    again = upload(client, world, "residents", content).json()
    assert (again["inserted"], again["corrected"], again["duplicates"], again["rejected"]) == (0, 0, 3, 2)


def test_a_corrected_residents_row_updates_the_uploaders_own_record(
    client: TestClient, world: World, session: Session
) -> None:
    number = resident_id_number(date(1985, 6, 1), male=False, address="330199")
    header = ["身份证号", "姓名", "联系电话", "区划代码"]
    first = upload(
        client, world, "residents", csv_bytes([header, [number, "吴芳", "13900002222", "330199001002"]]), name="r.csv"
    )
    assert first.json()["inserted"] == 1
    second = upload(
        client, world, "residents", csv_bytes([header, [number, "吴芳", "13900003333", "330199001002"]]), name="r.csv"
    )
    assert second.json()["corrected"] == 1
    resident = session.scalar(select(Resident).where(Resident.id_number == number))
    assert resident is not None and resident.phone == "13900003333" and resident.version == 2


def test_gb18030_csv_with_english_headers(client: TestClient, world: World) -> None:
    number = resident_id_number(date(1975, 1, 1), male=True, address="330199")
    content = csv_bytes([["ID number", "Name", "Community"], [number, "郑强", "绿水社区"]], encoding="gb18030")
    body = upload(client, world, "residents", content, name="people.csv").json()
    assert body["inserted"] == 1, body


# --- encounters and observations ------------------------------------------------------------------


def test_encounters_and_observations_land_in_the_record_once(
    client: TestClient, world: World, session: Session
) -> None:
    elder = world.id_numbers["a1_elder"]
    encounters = xlsx(
        [
            ["身份证号", "姓名", "就诊类型", "就诊时间", "诊断编码", "诊断名称"],
            [elder, "王大爷", "门诊", "2024/3/5 9:30", "I10", "原发性高血压"],
            [elder, "王小二", "门诊", "2024/3/6 9:30", "I10", None],  # wrong name for this ID
            [elder, None, "会诊", "2024/3/7 9:30", None, None],  # not an encounter type
        ]
    )
    body = upload(client, world, "encounters", encounters).json()
    assert (body["inserted"], body["rejected"]) == (1, 2), body
    assert {(e["row"], e["field"]) for e in body["errors"]} == {(3, "name"), (4, "encounter_class")}
    encounter = session.scalar(
        select(Encounter).where(Encounter.resident_id == world.residents["a1_elder"], Encounter.reason_code == "I10")
    )
    assert encounter is not None
    assert encounter.start_at == datetime(2024, 3, 5, 1, 30, tzinfo=UTC)
    assert encounter.institution_id == world.institutions["hospital"]

    observations = csv_bytes(
        [
            ["身份证号", "项目", "结果", "单位", "检查时间"],
            [elder, "收缩压", "148", "mmHg", "2024-03-05 09:35"],
            [elder, "舒张压", "92mmHg", None, "2024-03-05 09:35"],
            [elder, "空腹血糖", "126", "mg/dL", "2024-03-05 09:35"],
            [elder, "收缩压", "148", None, "2024-03-05 09:35"],  # the first row again
        ]
    )
    body = upload(client, world, "observations", observations, name="obs.csv").json()
    assert (body["inserted"], body["rejected"]) == (2, 2), body
    assert {(e["row"], e["field"]) for e in body["errors"]} == {(4, "unit"), (5, None)}
    before = session.scalar(select(func.count()).select_from(Observation))
    again = upload(client, world, "observations", observations, name="obs.csv").json()
    assert (again["inserted"], again["duplicates"]) == (0, 2)
    assert session.scalar(select(func.count()).select_from(Observation)) == before


def test_a_record_number_makes_a_changed_row_a_correction(client: TestClient, world: World, session: Session) -> None:
    elder = world.id_numbers["a1_elder"]
    header = ["记录编号", "身份证号", "项目", "结果", "检查时间"]
    first = upload(client, world, "observations", xlsx([header, ["JY-9", elder, "体重", "70", "2024-03-05"]])).json()
    assert first["inserted"] == 1
    fixed = upload(client, world, "observations", xlsx([header, ["JY-9", elder, "体重", "68.5", "2024-03-05"]])).json()
    assert (fixed["inserted"], fixed["corrected"]) == (0, 1)
    weights = session.scalars(
        select(Observation.value_num).where(
            Observation.resident_id == world.residents["a1_elder"], Observation.code == codes.BODY_WEIGHT
        )
    ).all()
    assert weights == [68.5]


def test_a_centre_cannot_file_records_outside_its_catchment(client: TestClient, world: World) -> None:
    content = xlsx(
        [["身份证号", "项目", "结果", "检查时间"], [world.id_numbers["b1_adult"], "体重", "70", "2024-03-05"]]
    )
    body = upload(client, world, "observations", content, user="centre_a").json()
    assert body["rejected"] == 1 and body["inserted"] == 0


# --- physical examinations --------------------------------------------------------------------------


def test_exam_rows_make_the_form_and_its_measurements(client: TestClient, world: World, session: Session) -> None:
    wife = world.id_numbers["a1_wife"]
    header = [
        "身份证号",
        "体检日期",
        "身高(cm)",
        "体重(kg)",
        "收缩压(mmHg)",
        "舒张压(mmHg)",
        "吸烟情况",
        "健康评价",
        "异常项",
    ]
    body = upload(
        client,
        world,
        "exams",
        xlsx(
            [
                header,
                [wife, "2024年3月5日", 158, "60kg", 150, 95, "从不吸烟", "有异常", "血压偏高；超重"],
                [wife, "2024-03-06", 158, 60, 450, 95, None, None, None],  # no such blood pressure
            ]
        ),
    ).json()
    assert (body["inserted"], body["rejected"]) == (1, 1), body
    assert body["errors"][0]["row"] == 3 and body["errors"][0]["field"] == "systolic_bp"
    exam = session.scalar(select(PhysicalExam).where(PhysicalExam.resident_id == world.residents["a1_wife"]))
    assert exam is not None and exam.smoking == "never" and exam.abnormalities == ["血压偏高", "超重"]
    measured = dict(
        session.execute(
            select(Observation.code, Observation.value_num).where(Observation.encounter_id == exam.encounter_id)
        ).all()
    )
    assert measured[codes.SYSTOLIC_BP] == 150 and measured[codes.BODY_WEIGHT] == 60
    corrected = upload(
        client,
        world,
        "exams",
        xlsx([header, [wife, "2024-03-05", 158, 60, 142, 88, "从不吸烟", "有异常", "血压偏高；超重"]]),
    ).json()
    assert corrected["corrected"] == 1
    measured = dict(
        session.execute(
            select(Observation.code, Observation.value_num).where(Observation.encounter_id == exam.encounter_id)
        ).all()
    )
    assert measured[codes.SYSTOLIC_BP] == 142 and measured[codes.DIASTOLIC_BP] == 88


# --- follow-ups ----------------------------------------------------------------------------------------


def _enrol(session: Session, world: World, key: str) -> ChronicEnrolment:
    enrolment = ChronicEnrolment(
        resident_id=world.residents[key],
        disease="htn",
        status="enrolled",
        team_id=world.teams["team_a1"],
        proposed_at=datetime.now(UTC),
        proposed_reason="condition",
        enrolled_on=date(2020, 1, 1),
        version=1,
    )
    session.add(enrolment)
    session.flush()
    return enrolment


def test_followups_go_through_the_chronic_service(client: TestClient, world: World, session: Session) -> None:
    enrolment = _enrol(session, world, "a1_elder")
    visit = local_today() - timedelta(days=3)
    header = [
        "身份证号",
        "随访病种",
        "随访日期",
        "随访方式",
        "症状",
        "收缩压(mmHg)",
        "舒张压(mmHg)",
        "服药依从性",
        "用药情况",
    ]
    rows = [
        header,
        [
            world.id_numbers["a1_elder"],
            "高血压",
            visit.isoformat(),
            "门诊",
            "无症状",
            168,
            102,
            "规律",
            "氨氯地平 5mg 每日一次",
        ],
        [world.id_numbers["a1_wife"], "高血压", visit.isoformat(), "门诊", None, 130, 80, None, None],  # not enrolled
    ]
    body = upload(client, world, "followups", xlsx(rows), user="centre_a").json()
    assert (body["inserted"], body["rejected"]) == (1, 1), body
    assert body["errors"][0]["field"] == "disease"
    followup = session.scalar(select(ChronicFollowUp).where(ChronicFollowUp.enrolment_id == enrolment.id))
    assert followup is not None and followup.visit_class == "uncontrolled"
    assert followup.medications == [{"name": "氨氯地平", "dose": "5mg", "frequency": "每日一次"}]
    session.refresh(enrolment)
    assert enrolment.last_followup_date == visit and enrolment.next_followup_date is not None
    again = upload(client, world, "followups", xlsx(rows), user="centre_a").json()
    assert (again["inserted"], again["duplicates"]) == (0, 1)
    rows[1][5] = 150
    changed = upload(client, world, "followups", xlsx(rows), user="centre_a").json()
    assert changed["rejected"] == 2 and "慢病" in changed["errors"][0]["message"]


def test_a_data_submitter_may_not_upload_followups(client: TestClient, world: World) -> None:
    response = upload(client, world, "followups", xlsx([["身份证号", "随访病种", "随访日期"]]))
    assert response.status_code == 403
    assert "followups" in response.json()["detail"]


# --- the file itself, the error report and its re-upload ---------------------------------------------


def test_file_level_problems_name_the_column(client: TestClient, world: World) -> None:
    unknown = upload(
        client, world, "residents", csv_bytes([["身份证号", "姓名", "血型"], ["x", "y", "A"]]), name="a.csv"
    )
    assert unknown.status_code == 422
    assert "血型" in unknown.json()["detail"][0]["msg"] and "第 3 列" in unknown.json()["detail"][0]["msg"]
    missing = upload(client, world, "encounters", csv_bytes([["身份证号", "就诊类型"], ["x", "门诊"]]), name="a.csv")
    assert missing.status_code == 422 and "就诊时间" in missing.json()["detail"][0]["msg"]
    old = upload(client, world, "residents", b"\xd0\xcf\x11\xe0" + b"0" * 100, name="a.xls")
    assert old.status_code == 422 and ".xls" in old.json()["detail"][0]["msg"]
    kind = upload(client, world, "vaccines", b"a,b\n1,2\n", name="a.csv")
    assert kind.status_code == 404


def test_the_error_report_is_corrected_and_uploaded_again(client: TestClient, world: World, session: Session) -> None:
    elder = world.id_numbers["a1_elder"]
    content = xlsx(
        [
            ["身份证号", "项目", "结果", "检查时间"],
            [elder, "心率", "72", "2024-04-01 08:00"],
            [elder, "心率", "七十", "2024-04-02 08:00"],
            [elder, "心率", "75", "2024-13-01"],
        ]
    )
    body = upload(client, world, "observations", content).json()
    assert (body["inserted"], body["rejected"]) == (1, 2)
    report = client.get(body["error_report"], headers=bearer(world, "submitter"))
    assert report.status_code == 200 and report.headers["content-type"] == XLSX
    rows = read_report(report.content)
    header = rows[0]
    assert header[-2:] == ["错误原因", "原行号"]
    assert [r[-1] for r in rows[1:]] == [3, 4]
    assert "不是数字" in rows[1][-2] and "结果" in rows[1][-2]
    assert "检查时间" in rows[2][-2]
    # the submitter corrects the cells in the report and uploads it as it is
    workbook = load_workbook(io.BytesIO(report.content))
    sheet = workbook.worksheets[0]
    columns = {c.value: c.column for c in sheet[1]}
    sheet.cell(row=2, column=columns["结果"], value="70")
    sheet.cell(row=3, column=columns["检查时间"], value="2024-04-03 08:00")
    out = io.BytesIO()
    workbook.save(out)
    again = upload(client, world, "observations", out.getvalue(), name="errors.xlsx").json()
    assert (again["received"], again["inserted"], again["rejected"]) == (2, 2, 0), again
    rates = session.scalars(
        select(Observation.value_num).where(
            Observation.resident_id == world.residents["a1_elder"], Observation.code == codes.HEART_RATE
        )
    ).all()
    assert sorted(rates) == [70, 72, 75]
    # another institution's account cannot read the report
    assert client.get(body["error_report"], headers=bearer(world, "centre_a")).status_code == 404
    listed = client.get("/api/v1/import/batches", headers=bearer(world, "submitter")).json()
    assert [b["id"] for b in listed][:2] == [again["batch_id"], body["batch_id"]]


def test_templates_have_chinese_headers_an_example_and_a_guide(client: TestClient, world: World) -> None:
    for kind in ("residents", "encounters", "observations", "exams"):
        response = client.get(f"/api/v1/import/templates/{kind}.xlsx", headers=bearer(world, "submitter"))
        assert response.status_code == 200
        workbook = load_workbook(io.BytesIO(response.content))
        assert workbook.sheetnames[1] == "填写说明"
        rows = [list(r) for r in workbook.worksheets[0].iter_rows(values_only=True) if any(r)]
        assert "身份证号" in rows[0] and len(rows) == 2
        csv_template = client.get(f"/api/v1/import/templates/{kind}.csv", headers=bearer(world, "submitter"))
        assert csv_template.content.startswith(b"\xef\xbb\xbf")
        assert csv_template.content.decode("utf-8-sig").splitlines()[0].split(",") == rows[0]
    # the template's example row uploads as it is (its ID number is valid but unknown here)
    template = client.get("/api/v1/import/templates/observations.xlsx", headers=bearer(world, "submitter")).content
    body = upload(client, world, "observations", template).json()
    assert body["received"] == 1 and body["errors"][0]["field"] == "id_number"


def test_cli_imports_and_writes_the_error_report(tmp_path: Path, scratch_url: str) -> None:
    from healthbrain.cli import app
    from healthbrain.db import make_engine
    from healthbrain.migrations.runner import upgrade
    from tests.factories import build_world

    engine = make_engine(scratch_url)
    upgrade(engine)
    with Session(engine) as session:
        world = build_world(session)
        session.commit()
    engine.dispose()
    path = tmp_path / "obs.csv"
    path.write_bytes(
        csv_bytes(
            [
                ["身份证号", "项目", "结果", "检查时间"],
                [world.id_numbers["b1_adult"], "体重", "80", "2024-03-05"],
                [world.id_numbers["b1_adult"], "体重", "很重", "2024-03-06"],
            ]
        )
    )
    runner = CliRunner()
    args = [
        "import",
        "table",
        str(path),
        "--kind",
        "observations",
        "--institution",
        "H33019901",
        "--database-url",
        scratch_url,
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "inserted 1" in result.output and "rejected 1" in result.output
    report = tmp_path / "obs.errors.xlsx"
    assert report.exists() and read_report(report.read_bytes())[1][-1] == 3
    again = runner.invoke(app, args)
    assert "inserted 0" in again.output and "duplicates 1" in again.output
