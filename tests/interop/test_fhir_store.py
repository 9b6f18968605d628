"""The single-resource writer against the real database: mapping, idempotency, rejection."""

from __future__ import annotations

import contextlib
import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthbrain.interop.fhir import keys
from healthbrain.interop.fhir.store import resolve_patient, write_resource
from healthbrain.interop.models import FhirResource
from healthbrain.people.models import Resident, ResidentIdentifier
from healthbrain.records.models import Condition, Encounter, Observation
from tests.factories import World

SENDER = "H33019901"  # the world's hospital


def _patient(world: World, key: str = "b1_adult", pid: str = "hosp-p1") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": keys.RESIDENT_ID_SYSTEM, "value": world.id_numbers[key]}],
        "name": [{"text": "孙先生"}],
    }


def _count(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_patient_with_known_resident_id_lands_on_that_resident(session: Session, world: World) -> None:
    before = _count(session, Resident)
    w = write_resource(session, sender=SENDER, resource=_patient(world))
    assert w.errors == [] and w.id == str(world.residents["b1_adult"]) and not w.created
    assert _count(session, Resident) == before
    alias = session.scalar(select(ResidentIdentifier).where(ResidentIdentifier.system == keys.alias_system(SENDER)))
    assert alias is not None and alias.value == "hosp-p1" and alias.kind == keys.FHIR_ALIAS_KIND
    assert resolve_patient(session, sender=SENDER, reference="Patient/hosp-p1") == world.residents["b1_adult"]


def test_new_patient_observation_and_resend(session: Session, world: World) -> None:
    p = write_resource(
        session,
        sender=SENDER,
        resource={
            "resourceType": "Patient",
            "id": "syn-1",
            "name": [{"family": "Doe", "given": ["Jane"]}],
            "gender": "female",
            "birthDate": "1980-02-03",
        },
    )
    assert p.created and p.errors == []
    obs = {
        "resourceType": "Observation",
        "id": "o-1",
        "status": "final",
        "code": {"coding": [{"system": keys.LOINC, "code": "29463-7"}]},
        "subject": {"reference": "Patient/syn-1"},
        "effectiveDateTime": "2024-05-01T08:00:00+08:00",
        "valueQuantity": {"value": 61.5, "unit": "kg", "system": keys.UCUM, "code": "kg"},
    }
    first = write_resource(session, sender=SENDER, resource=obs)
    again = write_resource(session, sender=SENDER, resource=obs)
    assert first.created and first.errors == []
    assert not again.created and again.id == first.id
    row = session.get(Observation, int(first.id or 0))
    assert row is not None and row.value_num == 61.5 and row.resident_id == int(p.id or 0)
    assert row.source_hash == keys.source_hash(SENDER, "Observation", "o-1")


def test_rejected_resource_leaves_nothing(session: Session, world: World) -> None:
    before = (_count(session, Observation), _count(session, FhirResource))
    bad = {
        "resourceType": "Observation",
        "id": "o-bad",
        "status": "bogus",
        "code": {"coding": [{"system": keys.LOINC, "code": "29463-7"}]},
        "subject": {"reference": "Patient/nobody"},
        "effectiveDateTime": "2024-05-01",
    }
    w = write_resource(session, sender=SENDER, resource=bad)
    assert w.id is None and not w.created
    assert {e["field"] for e in w.errors} == {"Observation.status"}
    bad["status"] = "final"
    w = write_resource(session, sender=SENDER, resource=bad)
    assert [e["field"] for e in w.errors] == ["Observation.subject"]
    assert (_count(session, Observation), _count(session, FhirResource)) == before
    assert write_resource(session, sender=SENDER, resource=[1, 2]).errors  # type: ignore[arg-type]


def test_bp_panel_becomes_component_rows_and_is_kept_verbatim(session: Session, world: World) -> None:
    write_resource(session, sender=SENDER, resource=_patient(world))
    panel = {
        "resourceType": "Observation",
        "id": "bp-1",
        "status": "final",
        "code": {"coding": [{"system": keys.LOINC, "code": "85354-9"}]},
        "subject": {"reference": "Patient/hosp-p1"},
        "effectiveDateTime": "2024-05-01T08:00:00+08:00",
        "component": [
            {
                "code": {"coding": [{"system": keys.LOINC, "code": "8480-6"}]},
                "valueQuantity": {"value": 142, "unit": "mm[Hg]", "code": "mm[Hg]", "system": keys.UCUM},
            },
            {
                "code": {"coding": [{"system": keys.LOINC, "code": "8462-4"}]},
                "valueQuantity": {"value": 91, "unit": "mm[Hg]", "code": "mm[Hg]", "system": keys.UCUM},
            },
        ],
    }
    w = write_resource(session, sender=SENDER, resource=panel)
    assert w.created and w.errors == []
    rows = session.scalars(
        select(Observation).where(
            Observation.resident_id == world.residents["b1_adult"], Observation.code.in_(["8480-6", "8462-4"])
        )
    ).all()
    assert sorted((r.code, r.value_num) for r in rows) == [("8462-4", 91.0), ("8480-6", 142.0)]
    kept = session.scalar(select(FhirResource).where(FhirResource.logical_id == w.id))
    assert kept is not None and json.loads(kept.content)["component"][0]["valueQuantity"]["value"] == 142
    assert not write_resource(session, sender=SENDER, resource=panel).created


def test_unknown_type_is_kept_verbatim_and_linked(session: Session, world: World) -> None:
    write_resource(session, sender=SENDER, resource=_patient(world))
    claim = {"resourceType": "Claim", "id": "c-1", "patient": {"reference": "Patient/hosp-p1"}, "whatever": [1]}
    w = write_resource(session, sender=SENDER, resource=claim)
    assert w.created and w.errors == []
    kept = session.scalar(select(FhirResource).where(FhirResource.logical_id == w.id))
    assert kept is not None and kept.resident_id == world.residents["b1_adult"]
    content = json.loads(kept.content)
    assert content["patient"]["reference"] == f"Patient/{world.residents['b1_adult']}"
    assert content["whatever"] == [1]


def test_encounter_and_condition_reference_by_sender_id(session: Session, world: World) -> None:
    write_resource(session, sender=SENDER, resource=_patient(world))
    enc = write_resource(
        session,
        sender=SENDER,
        resource={
            "resourceType": "Encounter",
            "id": "e-1",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": "Patient/hosp-p1"},
            "period": {"start": "2024-05-01T08:00:00+08:00", "end": "2024-05-01T09:00:00+08:00"},
        },
    )
    assert enc.created, enc.errors
    cond = write_resource(
        session,
        sender=SENDER,
        resource={
            "resourceType": "Condition",
            "id": "c-1",
            "subject": {"reference": "Patient/hosp-p1"},
            "encounter": {"reference": "Encounter/e-1"},
            "code": {"coding": [{"system": keys.ICD10, "code": "i10", "display": "原发性高血压"}]},
            "onsetDateTime": "2020-01-01",
        },
    )
    assert cond.created, cond.errors
    row = session.get(Condition, int(cond.id or 0))
    assert row is not None and row.code == "I10" and row.encounter_id == int(enc.id or 0)
    assert session.get(Encounter, int(enc.id or 0)) is not None


# --- whatever a sender sends, the writer answers errors and never raises -------------------------

_SYNTHEA = json.loads((Path(__file__).parent / "data" / "synthea_patient.json").read_text())["entry"]
_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=300),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _set(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutated_resources_never_raise(session: Session, world: World, data: st.DataObject) -> None:
    entry = data.draw(st.sampled_from(_SYNTHEA))
    resource = copy.deepcopy(entry["resource"])
    resource["subject" if "subject" in resource else "patient"] = {
        "reference": f"Patient/{world.residents['b1_adult']}"
    }
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(_paths(resource)))
        with contextlib.suppress(KeyError, IndexError, TypeError):
            _set(resource, path, data.draw(_LEAVES))
    for validate in (True, False):
        written = write_resource(session, sender=SENDER, resource=resource, validate=validate)
        assert (written.id is None) == bool(written.errors)
        assert all(e["field"] and e["message"] for e in written.errors)


def test_logical_reference_by_resident_id(session: Session, world: World) -> None:
    condition = {
        "resourceType": "Condition",
        "subject": {"identifier": {"system": keys.RESIDENT_ID_SYSTEM, "value": world.id_numbers["a2_adult"]}},
        "code": {"coding": [{"system": keys.ICD10, "code": "E11.9"}]},
    }
    written = write_resource(session, sender=SENDER, resource=condition)
    assert written.created, written.errors
    row = session.get(Condition, int(written.id or 0))
    assert row is not None and row.resident_id == world.residents["a2_adult"]
    unknown = {**condition, "subject": {"identifier": {"value": "11010519491231002X"}}}
    assert [e["field"] for e in write_resource(session, sender=SENDER, resource=unknown).errors] == [
        "Condition.subject"
    ]


def test_panel_update_replaces_its_component_rows(session: Session, world: World) -> None:
    from healthbrain.interop.fhir.store import Context, apply

    write_resource(session, sender=SENDER, resource=_patient(world))
    panel = {
        "resourceType": "Observation",
        "id": "bp-9",
        "status": "final",
        "code": {"coding": [{"system": keys.LOINC, "code": "85354-9"}]},
        "subject": {"reference": "Patient/hosp-p1"},
        "effectiveDateTime": "2024-06-01T08:00:00+08:00",
        "component": [
            {"code": {"coding": [{"system": keys.LOINC, "code": "8480-6"}]}, "valueQuantity": {"value": 150}},
            {"code": {"coding": [{"system": keys.LOINC, "code": "8462-4"}]}, "valueQuantity": {"value": 95}},
        ],
    }
    first = write_resource(session, sender=SENDER, resource=panel)
    changed = copy.deepcopy(panel)
    del changed["id"]
    changed["component"][0]["valueQuantity"]["value"] = 135
    ctx = Context(session=session, sender=SENDER)
    assert apply(ctx, changed, update_id=first.id).id == first.id
    rows = session.scalars(
        select(Observation.value_num).where(
            Observation.resident_id == world.residents["b1_adult"],
            Observation.code == "8480-6",
            Observation.effective_at >= datetime(2024, 6, 1, tzinfo=UTC),
        )
    ).all()
    assert list(rows) == [135.0]
