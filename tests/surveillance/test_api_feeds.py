"""Feeds through the API: row-level errors, idempotent resends, corrections with history, and
a row that completes a cluster raising a graded, de-duplicated alert in the same request."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthbrain.records.models import IngestRejection
from healthbrain.surveillance import ingest
from healthbrain.surveillance.models import DailyCount, FeedRevision, SchoolAbsence, WeeklyCount
from tests.conftest import bearer
from tests.factories import World
from tests.surveillance.factories import absence, case, school_day

FEEDS = "/api/v1/surveillance/feeds"


def _count(session: Session, signal: str, kind: str, place: int, day: object) -> int | None:
    return session.scalar(
        select(DailyCount.value).where(
            DailyCount.signal == signal,
            DailyCount.place_kind == kind,
            DailyCount.place_id == place,
            DailyCount.day == day,
        )
    )


def test_a_row_that_completes_a_class_cluster_raises_one_yellow_alert(
    client: TestClient, world: World, session: Session
) -> None:
    day = school_day()
    first = client.post(
        f"{FEEDS}/school_absence", headers=bearer(world, "school"), json={"rows": [absence(day, "fever", 2)]}
    )
    assert first.status_code == 200, first.text
    assert first.json()["inserted"] == 1 and first.json()["alerts"] == []
    # The third pupil with a respiratory symptom in the class that day completes "≥ 3 in 1 day".
    second = client.post(
        f"{FEEDS}/school_absence", headers=bearer(world, "school"), json={"rows": [absence(day, "咳嗽", 1)]}
    )
    body = second.json()
    assert body["inserted"] == 1 and len(body["alerts"]) == 1
    alert_id = body["alerts"][0]
    alert = client.get(f"/api/v1/surveillance/alerts/{alert_id}", headers=bearer(world, "cdc")).json()
    assert alert["grade"] == "yellow" and alert["status"] == "new"
    assert alert["signal"] == "absence.respiratory" and alert["place_kind"] == "class"
    assert alert["place_name"] == "青山小学 一年级1班"
    assert alert["methods"] == ["school.class.respiratory.1d3"]
    assert alert["report_due_at"] is not None  # a school cluster is reported within 24 h
    assert sorted(r["what"] for r in alert["line_list"]) == ["发热", "咳嗽"]
    assert sum(r["count"] for r in alert["line_list"]) == 3
    # A fourth pupil the same day extends the same alert instead of raising another.
    third = client.post(
        f"{FEEDS}/school_absence", headers=bearer(world, "school"), json={"rows": [absence(day, "sore_throat", 1)]}
    )
    assert third.json()["alerts"] == [alert_id]
    again = client.get(f"/api/v1/surveillance/alerts/{alert_id}", headers=bearer(world, "cdc")).json()
    assert again["observed"] == 4 and again["version"] == 2
    assert [e["action"] for e in again["events"]] == ["created", "extended"]
    open_alerts = client.get(
        "/api/v1/surveillance/alerts", headers=bearer(world, "cdc"), params={"signal": "absence"}
    ).json()
    assert [a["id"] for a in open_alerts] == [alert_id]
    assert (
        _count(session, "absence.respiratory", "class", session.scalar(select(SchoolAbsence.class_id).limit(1)), day)
        == 4
    )


def test_resend_changes_nothing_and_a_correction_keeps_the_old_values(
    client: TestClient, world: World, session: Session
) -> None:
    day = school_day(1)
    rows = [absence(day, "vomiting", 1), absence(day, "diarrhoea", 1)]
    headers = bearer(world, "school")
    assert client.post(f"{FEEDS}/school_absence", headers=headers, json={"rows": rows}).json()["inserted"] == 2
    resent = client.post(f"{FEEDS}/school_absence", headers=headers, json={"rows": rows}).json()
    assert (resent["inserted"], resent["unchanged"], resent["corrected"]) == (0, 2, 0)
    school = world.institutions["school"]
    assert _count(session, "absence.gastrointestinal", "school", school, day) == 2
    corrected = client.post(
        f"{FEEDS}/school_absence", headers=headers, json={"rows": [absence(day, "vomiting", 3)]}
    ).json()
    assert corrected["corrected"] == 1
    assert _count(session, "absence.gastrointestinal", "school", school, day) == 4
    assert _count(session, "absence.all", "district", world.divisions["district"], day) == 4
    week = day - timedelta(days=day.weekday())
    assert (
        session.scalar(
            select(WeeklyCount.value).where(
                WeeklyCount.signal == "absence.all",
                WeeklyCount.place_kind == "school",
                WeeklyCount.place_id == school,
                WeeklyCount.week == week,
            )
        )
        == 4
    )
    row = session.scalar(select(SchoolAbsence).where(SchoolAbsence.cause == "vomiting"))
    assert row is not None and row.revision == 2 and row.absent == 3
    history = session.scalars(select(FeedRevision).where(FeedRevision.row_id == row.id)).all()
    assert [(h.revision, h.values["absent"]) for h in history] == [(1, 1)]


def test_bad_rows_are_answered_with_row_and_field_and_kept(client: TestClient, world: World, session: Session) -> None:
    day = school_day()
    future = day + timedelta(days=400)
    rows = [
        absence(day, "fever", 1),
        absence(day, "sneezing", 1),
        absence(future, "fever", 1),
        absence(day, "fever", 1, class_name="九年级9班"),
        absence(day, "fever", 50, enrolled=42),
        absence(day, "fever", 1, school_code="E3301990001"),
        absence(day, "fever", 1, school_code="H33019901"),
        "not an object",
        absence(day, "fever", 2),
    ]
    result = client.post(f"{FEEDS}/school_absence", headers=bearer(world, "school"), json={"rows": rows}).json()
    assert result["inserted"] == 1 and result["rejected"] == 8
    errors = {(e["row"], e["field"]) for e in result["errors"]}
    assert (2, "cause") in errors
    assert (3, "date") in errors
    assert (4, "class_name") in errors
    assert any(row == 5 for row, _f in errors)  # absent exceeds enrolled
    assert (6, None) in errors  # the same row as row 1 of the batch (its school given explicitly)
    assert (7, "school_code") in errors  # a hospital cannot send school absences
    assert (8, None) in errors
    assert (9, None) in errors  # row 1 again within the batch
    messages = {e["row"]: e["message"] for e in result["errors"]}
    assert "sneezing" in messages[2] and "没有登记班级" in messages[4]  # in the sender's language (zh-CN by default)
    english = client.post(
        f"{FEEDS}/school_absence",
        headers={**bearer(world, "school"), "Accept-Language": "en"},
        json={"rows": rows[1:4]},
    ).json()
    assert [e["message"] for e in english["errors"]] == [
        "unknown cause 'sneezing'",
        f"{future.isoformat()} is in the future",
        "class '九年级9班' is not registered at this school: give grade and enrolled to register it",
    ]
    kept = session.scalars(select(IngestRejection).where(IngestRejection.batch_id == result["batch_id"])).all()
    assert [k.row_number for k in kept] == [2, 3, 4, 5, 6, 7, 8, 9]
    assert json.loads(kept[0].payload)["cause"] == "sneezing"


def test_a_submitter_sends_only_for_their_own_institution(client: TestClient, world: World) -> None:
    day = school_day()
    sale = {"institution_code": "P3301990001", "date": day.isoformat(), "category": "退热药", "quantity": 12}
    own = client.post(f"{FEEDS}/pharmacy", headers=bearer(world, "pharmacy"), json={"rows": [sale]}).json()
    assert own["inserted"] == 1
    other = client.post(f"{FEEDS}/pharmacy", headers=bearer(world, "school"), json={"rows": [sale]}).json()
    assert other["rejected"] == 1 and other["errors"][0]["message"] == "只能报送本机构的数据"
    assert (
        client.post(f"{FEEDS}/pharmacy", headers=bearer(world, "doctor_a1"), json={"rows": [sale]}).status_code == 403
    )
    assert client.post(f"{FEEDS}/weather", headers=bearer(world, "cdc"), json={"rows": []}).status_code == 422


def test_a_new_class_is_registered_from_its_first_report(client: TestClient, world: World) -> None:
    day = school_day()
    rows = [absence(day, "fever", 1, class_name="二年级3班", grade=2, enrolled=38)]
    result = client.post(f"{FEEDS}/school_absence", headers=bearer(world, "school"), json={"rows": rows}).json()
    assert result["inserted"] == 1 and result["rejected"] == 0
    classes = client.get(
        f"/api/v1/institutions/{world.institution_codes['school']}/classes", headers=bearer(world, "cdc")
    ).json()
    assert "二年级3班" in json.dumps(classes, ensure_ascii=False)


def test_a_batch_key_replays_the_stored_result(client: TestClient, world: World) -> None:
    day = school_day()
    payload = {"batch_key": "school-2026-11-20", "rows": [absence(day, "fever", 1), absence(day, "sneezing", 1)]}
    first = client.post(f"{FEEDS}/school_absence", headers=bearer(world, "school"), json=payload).json()
    second = client.post(f"{FEEDS}/school_absence", headers=bearer(world, "school"), json=payload).json()
    assert second["replayed"] is True and second["batch_id"] == first["batch_id"]
    assert (second["inserted"], second["rejected"]) == (1, 1)
    assert second["errors"] == first["errors"]


def test_one_case_of_cholera_is_a_red_alert_with_a_two_hour_report(client: TestClient, world: World) -> None:
    onset = school_day()
    result = client.post(
        f"{FEEDS}/case",
        headers=bearer(world, "cdc"),
        json={"rows": [case("C-1", "霍乱", onset, community=world.codes["b1"])]},
    ).json()
    assert result["inserted"] == 1 and len(result["alerts"]) == 1
    alert = client.get(f"/api/v1/surveillance/alerts/{result['alerts'][0]}", headers=bearer(world, "cdc")).json()
    assert (alert["grade"], alert["signal"], alert["place_kind"]) == ("red", "case.cholera", "district")
    due = alert["report_due_at"]
    assert due is not None
    created = alert["created_at"]
    assert (  # 2 h to report an event at the emergency level
        abs((_parse(due) - _parse(created)).total_seconds() - 7200) < 5
    )
    row = alert["line_list"][0]
    assert row["detail"]["patient"] == "王**"  # masked unless revealed
    assert row["detail"]["card_no"] == "C-1"


def test_hfmd_cards_of_one_class_cluster_and_a_deleted_card_stops_counting(
    client: TestClient, world: World, session: Session
) -> None:
    onset = school_day()
    headers = bearer(world, "submitter")  # the hospital's interface
    kid = {"school_code": "E3301990001", "class_name": "一年级2班", "age_years": 6}

    def class_alerts() -> list[dict[str, object]]:
        found = client.get(
            "/api/v1/surveillance/alerts", headers=bearer(world, "cdc"), params={"signal": "case.hfmd"}
        ).json()
        return [a for a in found if a["place_kind"] == "class"]

    client.post(
        f"{FEEDS}/case",
        headers=headers,
        json={"rows": [case("H-1", "hfmd", onset, community=world.codes["a1"], **kid)]},
    )
    assert class_alerts() == []
    second = client.post(
        f"{FEEDS}/case",
        headers=headers,
        json={"rows": [case("H-2", "hfmd", onset, community=world.codes["a2"], **kid)]},
    ).json()
    assert [a["id"] for a in class_alerts()] == [a for a in second["alerts"] if a in {x["id"] for x in class_alerts()}]
    assert class_alerts()[0]["methods"] == ["hfmd.class.2"]  # ≥ 2 HFMD cases in one class within a week
    class_id = session.scalar(
        select(DailyCount.place_id).where(DailyCount.signal == "case.hfmd", DailyCount.place_kind == "class")
    )
    assert _count(session, "case.hfmd", "class", class_id, onset) == 2
    deleted = client.post(
        f"{FEEDS}/case",
        headers=headers,
        json={"rows": [case("H-2", "hfmd", onset, community=world.codes["a2"], deleted=True, **kid)]},
    ).json()
    assert deleted["corrected"] == 1
    assert _count(session, "case.hfmd", "class", class_id, onset) == 1
    assert _count(session, "case.hfmd", "community", world.divisions["a2"], onset) == 0


def test_a_case_links_to_the_resident_by_id_number(client: TestClient, world: World) -> None:
    onset = school_day()
    row = case("L-1", "influenza", onset, community=world.codes["a1"], id_number=world.id_numbers["a1_child"])
    bad = case("L-2", "influenza", onset, community=world.codes["a1"], id_number="330199200001011234")
    later = case(
        "L-3", "influenza", onset, community=world.codes["a1"], diagnosis_date=(onset + timedelta(days=30)).isoformat()
    )
    result = client.post(f"{FEEDS}/case", headers=bearer(world, "cdc"), json={"rows": [row, bad, later]}).json()
    assert result["inserted"] == 1
    assert [(e["row"], e["field"]) for e in result["errors"]] == [(2, "id_number"), (3, "diagnosis_date")]
    assert "校验位" in result["errors"][0]["message"]  # why the ID number is wrong, in words


def test_incremental_counts_equal_a_rebuild(client: TestClient, world: World, session: Session) -> None:
    day = school_day()
    client.post(
        f"{FEEDS}/school_absence",
        headers=bearer(world, "school"),
        json={"rows": [absence(day, "fever", 2), absence(day, "rash", 1)]},
    )
    client.post(
        f"{FEEDS}/school_absence", headers=bearer(world, "school"), json={"rows": [absence(day, "fever", 1)]}
    )  # correction
    client.post(
        f"{FEEDS}/case",
        headers=bearer(world, "cdc"),
        json={"rows": [case("R-1", "mumps", day, community=world.codes["b2"])]},
    )
    lab = {
        "institution_code": "H33019901",
        "date": day.isoformat(),
        "pathogen": "influenza_a",
        "tested": 20,
        "positive": 4,
    }
    client.post(f"{FEEDS}/lab", headers=bearer(world, "submitter"), json={"rows": [lab]})
    client.post(
        f"{FEEDS}/lab", headers=bearer(world, "submitter"), json={"rows": [{**lab, "tested": 25, "positive": 6}]}
    )

    def snapshot() -> set[tuple[object, ...]]:
        daily = {
            (r.signal, r.place_kind, r.place_id, r.day, r.value, r.denominator)
            for r in session.scalars(select(DailyCount))
            if r.value or r.denominator
        }
        weekly = {
            (r.signal, r.place_kind, r.place_id, r.week, r.value, r.denominator)
            for r in session.scalars(select(WeeklyCount))
            if r.value or r.denominator
        }
        return daily | weekly

    incremental = snapshot()
    assert ("lab.influenza_a", "district", world.divisions["district"], day, 6, 25) in incremental
    ingest.rebuild_series(session)
    session.expire_all()
    assert snapshot() == incremental


def _parse(value: str):  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00"))
