"""The FHIR ↔ row mapping, both ways, without a database (table-driven)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from healthbrain.contracts.models import Contract
from healthbrain.geo.models import CareTeam, CareTeamMember, Institution, Practitioner
from healthbrain.interop.fhir import keys, parse, render
from healthbrain.interop.fhir.parse import Invalid
from healthbrain.interop.fhir.refs import split_reference
from healthbrain.interop.fhir.search import date_range, token
from healthbrain.interop.fhir.validate import validate_r4
from healthbrain.people.models import Resident, ResidentIdentifier
from healthbrain.records.models import Condition, Encounter, MedicationStatement, Observation
from healthbrain.records.models import Immunization as ImmunizationRow

SUBJECT = {"reference": "Patient/p1"}
AT = "2024-05-01T08:00:00+08:00"
AT_UTC = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)


def _fields(exc: pytest.ExceptionInfo[Invalid]) -> list[str]:
    return [i.field for i in exc.value.issues]


# --- inbound: what each resource becomes -------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (
            {
                "resourceType": "Patient",
                "name": [{"family": "王", "given": ["大爷"]}],
                "gender": "male",
                "birthDate": "1950-03-02",
            },
            {"name": "王大爷", "sex": "M", "birth_date": date(1950, 3, 2), "id_number": None},
        ),
        (
            {
                "resourceType": "Patient",
                "name": [{"family": "Kuhn96", "given": ["Mariela993"]}],
                "gender": "female",
                "birthDate": "1961-04-20",
            },
            {"name": "Mariela993 Kuhn96", "sex": "F"},
        ),
        (
            {
                "resourceType": "Patient",
                "identifier": [{"type": {"coding": [{"code": "NNCHN"}]}, "value": "11010519491231002X"}],
                "name": [{"text": "张桂英"}],
                "address": [{"district": "330199001001", "text": "青山社区"}],
            },
            {"id_number": "11010519491231002X", "sex": None, "division_code": "330199001001", "address": "青山社区"},
        ),
        (
            {
                "resourceType": "Patient",
                "identifier": [{"type": {"coding": [{"code": "MR"}]}, "system": "urn:x", "value": "M1"}],
                "name": [{"text": "x"}],
                "gender": "male",
                "birthDate": "1990-01-01",
            },
            {"identifiers": [("mrn", "H1", "M1")]},
        ),
    ],
)
def test_patient_in(resource: dict[str, Any], expected: dict[str, Any]) -> None:
    data = parse.parse_patient(resource, sender="H1")
    for key, value in expected.items():
        assert getattr(data, key) == value, key


@pytest.mark.parametrize(
    ("resource", "fields"),
    [
        ({"resourceType": "Patient", "gender": "male", "birthDate": "1990-01-01"}, ["Patient.name"]),
        ({"resourceType": "Patient", "name": [{"text": "x"}], "birthDate": "1990-01-01"}, ["Patient.gender"]),
        ({"resourceType": "Patient", "name": [{"text": "x"}], "gender": "male"}, ["Patient.birthDate"]),
        (
            {"resourceType": "Patient", "name": [{"text": "x" * 65}], "gender": "male", "birthDate": "1990-01-01"},
            ["Patient.name"],
        ),
        (
            {
                "resourceType": "Patient",
                "name": [{"text": "x"}],
                "gender": "male",
                "birthDate": "1990-01-01",
                "address": [{"extension": [{"url": parse.DIVISION_EXTENSION, "valueCode": "3301"}]}],
            },
            ["Patient.address[0].extension"],
        ),
    ],
)
def test_patient_refused(resource: dict[str, Any], fields: list[str]) -> None:
    with pytest.raises(Invalid) as exc:
        parse.parse_patient(resource, sender="H1")
    assert _fields(exc) == fields


def _obs(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": keys.LOINC, "code": "29463-7"}]},
        "subject": SUBJECT,
        "effectiveDateTime": AT,
        **extra,
    }


@pytest.mark.parametrize(
    ("resource", "values", "panel"),
    [
        (_obs(valueQuantity={"value": 61.5, "code": "kg"}), [(None, "29463-7", 61.5, None, "kg")], False),
        (
            _obs(valueCodeableConcept={"coding": [{"code": "266919005"}]}),
            [(None, "29463-7", None, "266919005", None)],
            False,
        ),
        (_obs(valueString="阴性"), [(None, "29463-7", None, "阴性", None)], False),
        (_obs(valueBoolean=True), [(None, "29463-7", None, "true", None)], False),
        (_obs(valueInteger=3), [(None, "29463-7", 3.0, None, None)], False),
        (
            _obs(
                code={"coding": [{"system": keys.LOINC, "code": "85354-9"}]},
                component=[
                    {
                        "code": {"coding": [{"system": keys.LOINC, "code": "8480-6"}]},
                        "valueQuantity": {"value": 140, "code": "mm[Hg]"},
                    },
                    {
                        "code": {"coding": [{"system": keys.LOINC, "code": "8462-4"}]},
                        "valueQuantity": {"value": 90, "code": "mm[Hg]"},
                    },
                ],
            ),
            [("#8480-6", "8480-6", 140.0, None, "mm[Hg]"), ("#8462-4", "8462-4", 90.0, None, "mm[Hg]")],
            True,
        ),
    ],
)
def test_observation_in(resource: dict[str, Any], values: list[tuple[Any, ...]], panel: bool) -> None:
    data = parse.parse_observation(resource)
    assert [(v.suffix, v.code, v.value_num, v.value_text, v.unit) for v in data.values] == values
    assert data.panel is panel and data.effective_at == AT_UTC and data.subject.reference == "Patient/p1"


@pytest.mark.parametrize(
    ("resource", "fields"),
    [
        (_obs(status="done"), ["Observation.status"]),
        ({**_obs(), "subject": None}, ["Observation.subject"]),
        (_obs(subject={"reference": "Group/1"}), ["Observation.subject"]),
        ({**_obs(), "effectiveDateTime": None}, ["Observation.effective[x]"]),
        (_obs(code={"text": "weight"}), ["Observation.code"]),
        (_obs(code={"coding": [{"system": keys.LOINC, "code": "x" * 17}]}), ["Observation.code.coding[0].code"]),
        (_obs(valueQuantity={"value": 1, "code": "u" * 17}), ["Observation.valueQuantity.unit"]),
    ],
)
def test_observation_refused(resource: dict[str, Any], fields: list[str]) -> None:
    with pytest.raises(Invalid) as exc:
        parse.parse_observation(resource)
    assert _fields(exc) == fields


@pytest.mark.parametrize(
    ("klass", "expected"),
    [
        ("AMB", "outpatient"),
        ("IMP", "inpatient"),
        ("EMER", "emergency"),
        ("HH", "home"),
        ("VR", "phone"),
        ("followup", "followup"),
    ],
)
def test_encounter_class(klass: str, expected: str) -> None:
    data = parse.parse_encounter(
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"code": klass},
            "subject": SUBJECT,
            "period": {"start": AT},
        }
    )
    assert data.encounter_class == expected


def test_encounter_refused() -> None:
    with pytest.raises(Invalid) as exc:
        parse.parse_encounter(
            {
                "resourceType": "Encounter",
                "status": "ok",
                "class": {"code": "XYZ"},
                "subject": SUBJECT,
                "period": {"start": AT, "end": "2024-04-01"},
            }
        )
    assert _fields(exc) == ["Encounter.status", "Encounter.class", "Encounter.period.end"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("active", "active"),
        ("recurrence", "active"),
        ("relapse", "active"),
        ("remission", "inactive"),
        ("resolved", "resolved"),
    ],
)
def test_condition_clinical_status(status: str, expected: str) -> None:
    data = parse.parse_condition(
        {
            "resourceType": "Condition",
            "subject": SUBJECT,
            "code": {
                "coding": [{"system": "http://snomed.info/sct", "code": "1"}, {"system": keys.ICD10, "code": "e11.9"}]
            },
            "clinicalStatus": {"coding": [{"system": parse.CONDITION_CLINICAL, "code": status}]},
            "onsetDateTime": "2020-01",
        }
    )
    assert (data.clinical_status, data.code, data.onset_date) == (expected, "E11.9", date(2020, 1, 1))


def test_medication_and_immunization_in() -> None:
    med = parse.parse_medication(
        {
            "resourceType": "MedicationStatement",
            "status": "active",
            "subject": SUBJECT,
            "medicationCodeableConcept": {"coding": [{"system": keys.ATC, "code": "C08CA01"}], "text": "氨氯地平片"},
            "effectivePeriod": {"start": "2024-03-08"},
            "dosage": [{"text": "5mg qd", "timing": {"code": {"text": "qd"}}, "route": {"text": "口服"}}],
        }
    )
    assert (med.code, med.name, med.dose, med.frequency, med.route, med.start_date) == (
        "C08CA01",
        "氨氯地平片",
        "5mg qd",
        "qd",
        "口服",
        date(2024, 3, 8),
    )
    imm = parse.parse_immunization(
        {
            "resourceType": "Immunization",
            "status": "completed",
            "patient": SUBJECT,
            "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140"}], "text": "流感疫苗"},
            "occurrenceDateTime": "2024-10-01T10:00:00+08:00",
            "lotNumber": "L1",
            "protocolApplied": [{"doseNumberPositiveInt": 2}],
        }
    )
    assert (imm.vaccine_code, imm.vaccine_name, imm.occurrence_date, imm.dose_number, imm.lot_number) == (
        "140",
        "流感疫苗",
        date(2024, 10, 1),
        2,
        "L1",
    )
    with pytest.raises(Invalid) as exc:
        parse.parse_immunization(
            {"resourceType": "Immunization", "status": "given", "patient": SUBJECT, "vaccineCode": {"text": "x"}}
        )
    assert _fields(exc) == ["Immunization.status", "Immunization.vaccineCode", "Immunization.occurrenceDateTime"]


def test_episode_of_care_in() -> None:
    resource = {
        "resourceType": "EpisodeOfCare",
        "status": "active",
        "patient": SUBJECT,
        "type": [{"coding": [{"system": keys.SERVICE_PACKAGE_SYSTEM, "code": "BASIC"}]}],
        "period": {"start": "2025-01-01", "end": "2025-12-31"},
        "team": [{"reference": "CareTeam/7"}],
    }
    data = parse.parse_episode(resource)
    assert (data.package_code, data.start, data.end, data.team.reference) == (
        "BASIC",
        date(2025, 1, 1),
        date(2025, 12, 31),
        "CareTeam/7",
    )
    with pytest.raises(Invalid) as exc:
        parse.parse_episode({**resource, "type": [], "period": {"start": "2025-01-01"}})
    assert _fields(exc) == ["EpisodeOfCare.period.end", "EpisodeOfCare.type"]


# --- outbound: each row as FHIR, valid R4, and read back to the same values ---------------------


def _roundtrip(resource: dict[str, Any]) -> None:
    assert validate_r4(resource) == [], resource


def test_patient_out_is_valid_and_reads_back() -> None:
    r = Resident(
        id=7,
        id_number="11010519491231002X",
        name="张桂英",
        sex="F",
        birth_date=date(1949, 12, 31),
        phone="13800138000",
        address="青山社区",
        division_id=1,
        status="active",
        version=2,
        updated_at=AT_UTC,
        registered_institution_id=3,
    )
    idents = [
        ResidentIdentifier(kind="mrn", system="H1", value="M1"),
        ResidentIdentifier(kind="fhir", system="fhir:H1", value="abc"),
    ]
    out = render.patient(r, idents, "330199001001")
    _roundtrip(out)
    back = parse.parse_patient(out, sender="H1")
    assert (back.id_number, back.name, back.sex, back.birth_date, back.phone, back.division_code) == (
        "11010519491231002X",
        "张桂英",
        "F",
        date(1949, 12, 31),
        "13800138000",
        "330199001001",
    )
    assert out["meta"]["versionId"] == "2" and out["managingOrganization"]["reference"] == "Organization/3"


@pytest.mark.parametrize(
    ("row", "fn", "back"),
    [
        (
            Observation(
                id=1, resident_id=7, code="29463-7", value_num=61.5, unit="kg", effective_at=AT_UTC, status="final"
            ),
            render.observation,
            lambda d: (d.values[0].code, d.values[0].value_num, d.values[0].unit, d.effective_at),
        ),
        (
            Encounter(
                id=2,
                resident_id=7,
                encounter_class="inpatient",
                start_at=AT_UTC,
                reason_code="I10",
                reason_text="高血压",
            ),
            render.encounter,
            lambda d: (d.encounter_class, d.start_at, d.reason_code, d.reason_text),
        ),
        (
            Condition(
                id=3,
                resident_id=7,
                code="I10",
                display="高血压",
                clinical_status="resolved",
                onset_date=date(2020, 1, 1),
                recorded_at=AT_UTC,
            ),
            render.condition,
            lambda d: (d.code, d.display, d.clinical_status, d.onset_date),
        ),
        (
            MedicationStatement(
                id=4,
                resident_id=7,
                code="C08CA01",
                name="氨氯地平",
                dose="5mg",
                frequency="qd",
                route="口服",
                start_date=date(2024, 1, 1),
                status="active",
                recorded_at=AT_UTC,
            ),
            render.medication_statement,
            lambda d: (d.code, d.name, d.dose, d.frequency, d.route, d.start_date),
        ),
        (
            ImmunizationRow(
                id=5,
                resident_id=7,
                vaccine_code="140",
                vaccine_system="http://hl7.org/fhir/sid/cvx",
                vaccine_name="流感",
                dose_number=1,
                occurrence_date=date(2024, 10, 1),
                status="completed",
                recorded_at=AT_UTC,
            ),
            render.immunization,
            lambda d: (d.vaccine_code, d.vaccine_name, d.dose_number, d.occurrence_date),
        ),
    ],
)
def test_clinical_out_is_valid_and_reads_back(row: Any, fn: Any, back: Any) -> None:
    out = fn(row)
    _roundtrip(out)
    parser = {
        "Observation": parse.parse_observation,
        "Encounter": parse.parse_encounter,
        "Condition": parse.parse_condition,
        "MedicationStatement": parse.parse_medication,
        "Immunization": parse.parse_immunization,
    }[out["resourceType"]]
    data = parser(out)
    assert back(data) == back(_expected(row))


def _expected(row: Any) -> Any:
    """The values the row holds, in the shape of the parsed data."""

    class V:
        pass

    v: Any = V()
    if isinstance(row, Observation):
        item: Any = V()
        item.code, item.value_num, item.unit = row.code, row.value_num, row.unit
        v.values, v.effective_at = [item], row.effective_at
    elif isinstance(row, Encounter):
        v.encounter_class, v.start_at, v.reason_code, v.reason_text = (
            row.encounter_class,
            row.start_at,
            row.reason_code,
            row.reason_text,
        )
    elif isinstance(row, Condition):
        v.code, v.display, v.clinical_status, v.onset_date = row.code, row.display, row.clinical_status, row.onset_date
    elif isinstance(row, MedicationStatement):
        v.code, v.name, v.dose, v.frequency, v.route, v.start_date = (
            row.code,
            row.name,
            row.dose,
            row.frequency,
            row.route,
            row.start_date,
        )
    else:
        v.vaccine_code, v.vaccine_name, v.dose_number, v.occurrence_date = (
            row.vaccine_code,
            row.vaccine_name,
            row.dose_number,
            row.occurrence_date,
        )
    return v


def test_directory_out_is_valid_and_reads_back() -> None:
    org = render.organization(
        Institution(id=1, code="H1", name="第一医院", kind="hospital", division_id=1, parent_id=None, active=True)
    )
    _roundtrip(org)
    data = parse.parse_organization(org)
    assert (data.code, data.name, data.kind) == ("H1", "第一医院", "hospital")
    prac = render.practitioner(
        Practitioner(id=2, code="D1", name="刘医生", sex="M", profession="gp", institution_id=1, active=True)
    )
    _roundtrip(prac)
    pdata = parse.parse_practitioner(prac)
    assert (pdata.code, pdata.name, pdata.sex, pdata.profession) == ("D1", "刘医生", "M", "gp")
    team = render.care_team(
        CareTeam(id=3, code="T1", name="团队", home_institution_id=1, active=True),
        [CareTeamMember(team_id=3, practitioner_id=2, role="lead_gp")],
    )
    _roundtrip(team)
    tdata = parse.parse_care_team(team)
    assert (tdata.code, tdata.members[0][0].reference, tdata.members[0][1]) == ("T1", "Practitioner/2", "lead_gp")
    eoc = render.episode_of_care(
        Contract(
            id=4,
            resident_id=7,
            team_id=3,
            practitioner_id=2,
            package_id=1,
            status="active",
            start_date=date(2025, 1, 1),
            end_date=date(2025, 12, 31),
        ),
        "BASIC",
    )
    _roundtrip(eoc)
    edata = parse.parse_episode(eoc)
    assert (edata.package_code, edata.status, edata.end, edata.team.reference) == (
        "BASIC",
        "active",
        date(2025, 12, 31),
        "CareTeam/3",
    )


# --- small helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Patient/12", ("Patient", "12")),
        ("https://x.org/fhir/Patient/12/_history/3", ("Patient", "12")),
        ("urn:uuid:1234", None),
        ("12", None),
    ],
)
def test_split_reference(raw: str, expected: tuple[str, str] | None) -> None:
    assert split_reference(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://loinc.org|8480-6", ("http://loinc.org", "8480-6")),
        ("8480-6", (None, "8480-6")),
        ("|x", (None, "x")),
        ("s|", ("s", None)),
    ],
)
def test_token(raw: str, expected: tuple[str | None, str | None]) -> None:
    assert token(raw) == expected


@pytest.mark.parametrize(
    ("raw", "prefix", "days"),
    [("2024-05-01", "eq", 1), ("ge2024-05", "ge", 31), ("lt2024", "lt", 366), ("gt2024-05-01T08:00:00+08:00", "gt", 0)],
)
def test_date_range(raw: str, prefix: str, days: int) -> None:
    p, start, end = date_range("date", raw)
    assert p == prefix and (end - start).days == days


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "12", True])
def test_quantity_must_be_a_finite_number(value: Any) -> None:
    with pytest.raises(Invalid) as exc:
        parse.parse_observation(_obs(valueQuantity={"value": value}))
    assert _fields(exc) == ["Observation.valueQuantity.value"]
