"""A resident with a long history (1,000 encounters, 5,000 observations) gets a bounded page: every
part of it is a limited query (50 timeline entries a page), and the charts are thinned. How fast it
opens is measured, not asserted here (timed tests are flaky on a shared machine): see
docs/benchmarks.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from healthbrain.records import codes
from healthbrain.records.models import Encounter, Observation
from tests.conftest import bearer
from tests.factories import World

ENCOUNTERS = 1000
OBSERVATIONS = 5000
KINDS = ("outpatient", "followup", "home", "device", "phone", "physical_exam", "emergency", "inpatient")
CODES = (codes.SYSTOLIC_BP, codes.DIASTOLIC_BP, codes.GLUCOSE_FASTING, codes.BODY_WEIGHT, codes.HEART_RATE)


def _long_history(session: Session, resident_id: int, institution_id: int) -> None:
    now = datetime.now(UTC)
    session.execute(
        insert(Encounter),
        [
            {
                "resident_id": resident_id,
                "institution_id": institution_id,
                "encounter_class": KINDS[i % len(KINDS)],
                "start_at": now - timedelta(days=i * 3, hours=2),
                "reason_code": "I10",
                "reason_text": "复诊",
            }
            for i in range(ENCOUNTERS)
        ],
    )
    encounter_ids = list(
        session.scalars(select(Encounter.id).where(Encounter.resident_id == resident_id).order_by(Encounter.start_at))
    )
    rows = []
    for i in range(OBSERVATIONS):
        encounter = encounter_ids[(i // len(CODES)) % len(encounter_ids)]
        code = CODES[i % len(CODES)]
        value = {codes.SYSTOLIC_BP: 135 + i % 30, codes.DIASTOLIC_BP: 80 + i % 15}.get(code, 6.0 + (i % 10) / 10)
        rows.append(
            {
                "resident_id": resident_id,
                "encounter_id": encounter,
                "code": code,
                "value_num": float(value),
                "unit": codes.LOINC_NAMES[code][2],
                "effective_at": now - timedelta(days=(i // len(CODES)) * 3, hours=2),
                "status": "final",
            }
        )
    session.execute(insert(Observation), rows)
    session.commit()


def test_a_long_history_gives_a_bounded_page(client: TestClient, session: Session, world: World) -> None:
    rid = world.residents["a1_wife"]
    _long_history(session, rid, world.institutions["chc_a"])
    assert session.scalar(select(func.count()).where(Observation.resident_id == rid)) == OBSERVATIONS
    headers = bearer(world, "doctor_a1")
    client.get(f"/records/residents/{rid}", headers=headers)  # warm the template cache
    for params in ({}, {"range": "3y"}, {"range": "all", "offset": 900}):
        response = client.get(f"/records/residents/{rid}", params=params, headers=headers)
        assert response.status_code == 200
        assert response.text.count('data-testid="tl-entry"') == 50
        assert len(response.text) < 1_500_000  # the page stays small: no thousand-row dumps
