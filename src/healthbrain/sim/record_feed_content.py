"""What the district's institutions send, as they would send it: a hospital's FHIR transaction
bundle for one visit, a laboratory's NDJSON export, a clinic's Excel sheet. Pure: no session, no
I/O; every value comes from the caller's generator, every id from :func:`sim_uuid`, so the same
seed sends the same bytes.

Laboratory codes: Chinese laboratories report cholesterol in mmol/L and creatinine in µmol/L, which
LOINC codes as 14647-2 and 14682-9 (``records.codes``); 2093-3 and 2160-0 are the mg/dL codes.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

import numpy as np
import orjson
from openpyxl import Workbook

from healthbrain.interop.fhir import keys
from healthbrain.interop.fhir.parse import (
    CONDITION_CLINICAL,
    DIVISION_EXTENSION,
    OBSERVATION_CATEGORY,
    V3_ACT_CODE,
)
from healthbrain.interop.tabular import SPECS, Kind
from healthbrain.people.resident_id import check_character
from healthbrain.records import codes
from healthbrain.sim.duplicates import _name_typo, _romanised

_NAMESPACE: Final = uuid.UUID("6f1c2a52-3c1e-5b8e-9d55-6b2f3a1e0c47")
SNOMED: Final = "http://snomed.info/sct"
_V2_0203: Final = keys.IDENTIFIER_TYPE_SYSTEM


def sim_uuid(*parts: object) -> str:
    """A stable UUID for what an institution names (its patients, visits, results)."""
    return str(uuid.uuid5(_NAMESPACE, "|".join(str(p) for p in parts)))


@dataclass(frozen=True)
class FedPatient:
    """A simulated resident as the database holds them, and what the institutions know of them."""

    resident_id: int
    id_number: str | None
    name: str
    sex: str  # M / F
    birth_date: date
    phone: str | None
    address: str | None
    division_code: str
    age: int
    hypertension: bool
    diabetes: bool


@dataclass(frozen=True)
class Registration:
    """How a hospital registered a patient: with the resident ID or without (a foreigner's passport,
    a clerk who skipped it), and then under the name as typed."""

    patient_id: str  # the hospital's own Patient id
    mrn: str
    with_id: bool
    name: str
    phone: str | None
    address: str | None
    corruption: str  # "" / homophone / look_alike / romanised / phone_missing …


def register(rng: np.random.Generator, p: FedPatient, hospital: str, *, without_id: bool) -> Registration:
    if not without_id:
        return Registration(
            sim_uuid(hospital, "Patient", p.resident_id), f"MZ{p.resident_id:08d}", True, p.name, p.phone, p.address, ""
        )
    done: list[str] = []
    name, phone, address = p.name, p.phone, p.address
    r = rng.random()
    if r < 0.35:
        name, what = _name_typo(rng, name)
        done += [what] if what else []
    elif r < 0.55:
        name = _romanised(rng, name)
        done.append("romanised")
    if phone is not None and rng.random() < 0.25:
        phone = None
        done.append("phone_missing")
    if address is not None and rng.random() < 0.2:
        address = None
        done.append("address_missing")
    # A new MRN: the clerk did not find the patient without the ID.
    return Registration(
        sim_uuid(hospital, "Patient", p.resident_id, "no-id"),
        f"LS{p.resident_id:08d}",
        False,
        name,
        phone,
        address,
        ",".join(done) or "id_missing",
    )


def _instant(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S+08:00")


def _coding(system: str, code: str, display: str) -> dict[str, Any]:
    return {"system": system, "code": code, "display": display}


def patient_resource(p: FedPatient, reg: Registration, hospital: str) -> dict[str, Any]:
    identifiers: list[dict[str, Any]] = []
    if reg.with_id and p.id_number:
        identifiers.append(
            {
                "use": "official",
                "type": {"coding": [_coding(_V2_0203, keys.NATIONAL_ID_TYPE_CODE, "National Person Identifier")]},
                "system": keys.RESIDENT_ID_SYSTEM,
                "value": p.id_number,
            }
        )
    identifiers.append(
        {
            "use": "usual",
            "type": {"coding": [_coding(_V2_0203, "MR", "Medical record number")]},
            "system": f"urn:healthbrain:{hospital}:mrn",
            "value": reg.mrn,
        }
    )
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": identifiers,
        "name": [{"use": "official", "text": reg.name}],
        "gender": "male" if p.sex == "M" else "female",
        "birthDate": p.birth_date.isoformat(),
    }
    if reg.phone:
        resource["telecom"] = [{"system": "phone", "value": reg.phone, "use": "mobile"}]
    if reg.address:
        resource["address"] = [
            {
                "use": "home",
                "text": reg.address,
                "extension": [{"url": DIVISION_EXTENSION, "valueCode": p.division_code}],
            }
        ]
    return resource


# --- a hospital visit ------------------------------------------------------------------------------

ACUTE: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "AMB": (
        ("J06.9", "急性上呼吸道感染"),
        ("K29.7", "胃炎"),
        ("M54.5", "腰痛"),
        ("J20.9", "急性支气管炎"),
        ("L30.9", "皮炎"),
    ),
    "EMER": (("S93.4", "踝关节扭伤"), ("R10.4", "腹痛"), ("J18.9", "肺炎"), ("R50.9", "发热")),
    "IMP": (("I63.9", "脑梗死"), ("J18.9", "肺炎"), ("K35.8", "急性阑尾炎"), ("I21.9", "急性心肌梗死")),
}
CHRONIC_DIAGNOSES: Final = {"htn": ("I10", "原发性高血压"), "dm": ("E11.9", "2型糖尿病")}
MEDICINES: Final = {
    "htn": (("C08CA01", "苯磺酸氨氯地平片", "5mg"), ("C09CA01", "氯沙坦钾片", "50mg")),
    "dm": (("A10BA02", "盐酸二甲双胍片", "0.5g"),),
    "acute": (("N02BE01", "对乙酰氨基酚片", "0.5g"),),
}
PROCEDURES: Final = (
    ("29303009", "心电图检查", "11524-6", "EKG study", "窦性心律，正常心电图"),
    ("399208008", "胸部X线检查", "36643-5", "XR Chest 2 Views", "双肺纹理清晰，心影不大"),
)
CLASS_DISPLAY: Final = {"AMB": "ambulatory", "EMER": "emergency", "IMP": "inpatient encounter"}


def _quantity(value: float, unit: str) -> dict[str, Any]:
    shown = codes.UNIT_DISPLAY.get(unit, unit)
    return {"value": value, "unit": shown, "system": keys.UCUM, "code": unit}


def _vital(subject: str, encounter: str, at: datetime, code: str, value: float) -> dict[str, Any]:
    zh, en, unit = codes.LOINC_NAMES[code]
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [_coding(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")]}],
        "code": {"coding": [_coding(keys.LOINC, code, en)], "text": zh},
        "subject": {"reference": subject},
        "encounter": {"reference": encounter},
        "effectiveDateTime": _instant(at),
        "valueQuantity": _quantity(value, unit),
    }


def visit_bundle(
    rng: np.random.Generator,
    p: FedPatient,
    reg: Registration,
    *,
    hospital: str,
    day: date,
    as_of: date,
    bp_panel: bool = True,
) -> dict[str, Any]:
    """One visit as a transaction bundle: Patient, Encounter, vital signs, diagnoses, medicines, and
    what the platform keeps verbatim (a Procedure with its report, the Claim). The blood pressure
    comes as a panel (85354-9 with its two components, as Synthea-style systems send it) or, with
    ``bp_panel`` False, as separate systolic and diastolic Observations (as many HIS send it)."""
    klass = str(rng.choice(["AMB", "EMER", "IMP"], p=[0.75, 0.15, 0.10]))
    start = datetime.combine(day, datetime.min.time()) + timedelta(minutes=int(rng.integers(8 * 60, 17 * 60)))
    if klass == "EMER":
        start = datetime.combine(day, datetime.min.time()) + timedelta(minutes=int(rng.integers(0, 24 * 60)))
    length = {"AMB": timedelta(minutes=int(rng.integers(10, 40))), "EMER": timedelta(hours=int(rng.integers(2, 6)))}
    end: datetime | None = start + length.get(klass, timedelta(days=int(rng.integers(3, 9))))
    status = "finished"
    if end is not None and end.date() > as_of:
        end, status = None, "in-progress"  # still in hospital
    key = (hospital, p.resident_id, day.isoformat())
    patient = f"urn:uuid:{reg.patient_id}"
    encounter = f"urn:uuid:{sim_uuid(*key, 'Encounter')}"
    chronic = [k for k, has in (("htn", p.hypertension), ("dm", p.diabetes)) if has]
    if klass == "AMB" and chronic and rng.random() < 0.7:
        diagnoses = [CHRONIC_DIAGNOSES[k] for k in chronic]
    else:
        options = ACUTE[klass]
        diagnoses = [options[int(rng.integers(len(options)))], *(CHRONIC_DIAGNOSES[k] for k in chronic)]
    entries: list[tuple[str, dict[str, Any]]] = [(patient, patient_resource(p, reg, hospital))]
    visit: dict[str, Any] = {
        "resourceType": "Encounter",
        "status": status,
        "class": _coding(V3_ACT_CODE, klass, CLASS_DISPLAY[klass]),
        "subject": {"reference": patient},
        "period": {"start": _instant(start), **({"end": _instant(end)} if end else {})},
        "reasonCode": [{"coding": [_coding(keys.ICD10, *diagnoses[0])], "text": diagnoses[0][1]}],
        "serviceProvider": {"identifier": {"system": keys.INSTITUTION_SYSTEM, "value": hospital}},
    }
    entries.append((encounter, visit))
    measured = start + timedelta(minutes=5)
    sbp = float(np.clip(rng.normal(142 if p.hypertension else 121, 14), 90, 210).round())
    dbp = float(np.clip(sbp * 0.6 + rng.normal(6, 6), 50, 130).round())
    panel = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [_coding(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")]}],
        "code": {"coding": [_coding(keys.LOINC, codes.BP_PANEL, "Blood pressure panel")], "text": "血压"},
        "subject": {"reference": patient},
        "encounter": {"reference": encounter},
        "effectiveDateTime": _instant(measured),
        "component": [
            {
                "code": {"coding": [_coding(keys.LOINC, codes.SYSTOLIC_BP, "Systolic blood pressure")]},
                "valueQuantity": _quantity(sbp, "mm[Hg]"),
            },
            {
                "code": {"coding": [_coding(keys.LOINC, codes.DIASTOLIC_BP, "Diastolic blood pressure")]},
                "valueQuantity": _quantity(dbp, "mm[Hg]"),
            },
        ],
    }
    pressure = (
        [panel]
        if bp_panel
        else [
            _vital(patient, encounter, measured, codes.SYSTOLIC_BP, sbp),
            _vital(patient, encounter, measured, codes.DIASTOLIC_BP, dbp),
        ]
    )
    observations = [*pressure, _vital(patient, encounter, measured, codes.HEART_RATE, float(rng.integers(58, 98)))]
    adult = rng.normal(68 if p.sex == "M" else 57, 9)
    weight = adult if p.age >= 14 else 3.5 + 2.6 * p.age + rng.normal(0, 1.5)
    observations.append(_vital(patient, encounter, measured, codes.BODY_WEIGHT, float(np.round(max(weight, 2.5), 1))))
    if p.diabetes or rng.random() < 0.15:
        glucose = rng.normal(8.2, 1.8) if p.diabetes else rng.normal(5.3, 0.5)
        lab = _vital(patient, encounter, start + timedelta(minutes=30), codes.GLUCOSE_FASTING, round(float(glucose), 1))
        lab["category"] = [{"coding": [_coding(OBSERVATION_CATEGORY, "laboratory", "Laboratory")]}]
        observations.append(lab)
    for n, o in enumerate(observations):
        entries.append((f"urn:uuid:{sim_uuid(*key, 'Observation', n)}", o))
    recorded = _instant(start + timedelta(minutes=15))
    for code, display in diagnoses:
        entries.append(
            (
                f"urn:uuid:{sim_uuid(*key, 'Condition', code)}",
                {
                    "resourceType": "Condition",
                    "clinicalStatus": {"coding": [_coding(CONDITION_CLINICAL, "active", "Active")]},
                    "category": [
                        {
                            "coding": [
                                _coding(
                                    "http://terminology.hl7.org/CodeSystem/condition-category",
                                    "encounter-diagnosis",
                                    "Encounter Diagnosis",
                                )
                            ]
                        }
                    ],
                    "code": {"coding": [_coding(keys.ICD10, code, display)], "text": display},
                    "subject": {"reference": patient},
                    "encounter": {"reference": encounter},
                    "recordedDate": recorded,
                },
            )
        )
    for group in [*chronic, *([] if chronic else ["acute"])]:
        atc, name, dose = MEDICINES[group][int(rng.integers(len(MEDICINES[group])))]
        frequency = "每日三次" if group == "dm" else "每日一次" if group == "htn" else "必要时"
        entries.append(
            (
                f"urn:uuid:{sim_uuid(*key, 'MedicationStatement', atc)}",
                {
                    "resourceType": "MedicationStatement",
                    "status": "active",
                    "medicationCodeableConcept": {"coding": [_coding(keys.ATC, atc, name)], "text": name},
                    "subject": {"reference": patient},
                    "context": {"reference": encounter},
                    "effectivePeriod": {"start": day.isoformat()},
                    "dosage": [
                        {
                            "text": f"{dose} {frequency}",
                            "timing": {"code": {"text": frequency}},
                            "route": {"text": "口服"},
                        }
                    ],
                },
            )
        )
    if klass != "AMB" or p.hypertension or rng.random() < 0.2:
        sct, name, loinc, report_name, conclusion = PROCEDURES[int(rng.integers(len(PROCEDURES)))]
        procedure = f"urn:uuid:{sim_uuid(*key, 'Procedure')}"
        entries.append(
            (
                procedure,
                {
                    "resourceType": "Procedure",
                    "status": "completed",
                    "code": {"coding": [_coding(SNOMED, sct, name)], "text": name},
                    "subject": {"reference": patient},
                    "encounter": {"reference": encounter},
                    "performedDateTime": _instant(start + timedelta(minutes=20)),
                },
            )
        )
        entries.append(
            (
                f"urn:uuid:{sim_uuid(*key, 'DiagnosticReport')}",
                {
                    "resourceType": "DiagnosticReport",
                    "status": "final",
                    "code": {"coding": [_coding(keys.LOINC, loinc, report_name)], "text": f"{name}报告"},
                    "subject": {"reference": patient},
                    "encounter": {"reference": encounter},
                    "effectiveDateTime": _instant(start + timedelta(minutes=20)),
                    "issued": _instant(start + timedelta(minutes=50)),
                    "conclusion": conclusion,
                },
            )
        )
    fee = round(float(rng.gamma(2.0, 80.0 if klass == "AMB" else 600.0)), 2)
    entries.append(
        (
            f"urn:uuid:{sim_uuid(*key, 'Claim')}",
            {
                "resourceType": "Claim",
                "status": "active",
                "type": {
                    "coding": [
                        _coding(
                            "http://terminology.hl7.org/CodeSystem/claim-type",
                            "institutional" if klass == "IMP" else "professional",
                            "Institutional" if klass == "IMP" else "Professional",
                        )
                    ]
                },
                "use": "claim",
                "patient": {"reference": patient},
                "created": _instant(end or start),
                "provider": {"identifier": {"system": keys.INSTITUTION_SYSTEM, "value": hospital}},
                "priority": {
                    "coding": [_coding("http://terminology.hl7.org/CodeSystem/processpriority", "normal", "Normal")]
                },
                "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "城乡居民基本医疗保险"}}],
                "item": [
                    {
                        "sequence": 1,
                        "productOrService": {"text": "住院费用" if klass == "IMP" else "门急诊诊疗费"},
                        "encounter": [{"reference": encounter}],
                        "net": {"value": fee, "currency": "CNY"},
                    }
                ],
                "total": {"value": fee, "currency": "CNY"},
            },
        )
    )
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": url, "resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}
            for url, resource in entries
        ],
    }


# --- a laboratory's NDJSON export --------------------------------------------------------------------

# code → (mean, sd) of chronic patients' results (mmol/L, µmol/L, %).
LAB_RESULTS: Final = {
    codes.HBA1C: (7.4, 1.2),
    codes.TOTAL_CHOLESTEROL: (5.1, 0.9),
    codes.CREATININE: (82.0, 22.0),
}


def lab_lines(
    rng: np.random.Generator, patients: list[FedPatient], *, hospital: str, as_of: date, days: int = 90
) -> list[bytes]:
    """The laboratory's export: its Patient lines first, then every result of the last ``days``
    days referencing ``Patient/<the hospital's id>``; one result names a patient the export does
    not hold (the laboratory system kept the result of a record merged away in the hospital)."""
    patient_lines: list[bytes] = []
    results: list[bytes] = []
    for p in patients:
        reg = register(rng, p, hospital, without_id=False)
        resource = {"id": reg.patient_id, **patient_resource(p, reg, hospital)}
        patient_lines.append(orjson.dumps(resource))
        wanted = [codes.TOTAL_CHOLESTEROL, codes.CREATININE] + ([codes.HBA1C] if p.diabetes else [])
        for _draw in range(int(rng.integers(1, 3))):
            day = as_of - timedelta(days=int(rng.integers(1, days)))
            at = datetime.combine(day, datetime.min.time()) + timedelta(minutes=int(rng.integers(7 * 60, 11 * 60)))
            for code in wanted:
                mean, sd = LAB_RESULTS[code]
                zh, en, unit = codes.LOINC_NAMES[code]
                value = round(float(max(rng.normal(mean, sd), mean / 3)), 1)
                results.append(
                    orjson.dumps(
                        {
                            "resourceType": "Observation",
                            "id": sim_uuid(hospital, "Observation", p.resident_id, day.isoformat(), code),
                            "status": "final",
                            "category": [{"coding": [_coding(OBSERVATION_CATEGORY, "laboratory", "Laboratory")]}],
                            "code": {"coding": [_coding(keys.LOINC, code, en)], "text": zh},
                            "subject": {"reference": f"Patient/{reg.patient_id}"},
                            "effectiveDateTime": _instant(at),
                            "valueQuantity": _quantity(value, unit),
                        }
                    )
                )
    if results:
        orphan = orjson.loads(results[0])
        orphan["id"] = sim_uuid(hospital, "Observation", "orphan")
        orphan["subject"] = {"reference": f"Patient/{sim_uuid(hospital, 'Patient', 'merged-away')}"}
        results.append(orjson.dumps(orphan))
    return [line + b"\n" for line in [*patient_lines, *results]]


# --- a clinic's Excel sheets -------------------------------------------------------------------------


def wrong_check_character(id_number: str) -> str:
    right = check_character(id_number[:17])
    return id_number[:17] + next(c for c in "0123456789X" if c != right)


def workbook(kind: Kind, rows: list[dict[str, Any]]) -> bytes:
    """An xlsx as a clinic's Excel saves it: the template's Chinese headers, one row per record."""
    spec = SPECS[kind]
    names = [c.name for c in spec.columns if any(c.name in r for r in rows)]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Sheet1"
    sheet.append([spec.column(n).zh for n in names])  # type: ignore[union-attr]
    for r in rows:
        sheet.append([r.get(n) for n in names])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def exam_row(rng: np.random.Generator, p: FedPatient, *, clinic: str, day: date) -> dict[str, Any]:
    """A 健康体检表 row of an elderly resident."""
    male = p.sex == "M"
    height = round(float(rng.normal(166 if male else 155, 6)), 1)
    weight = round(float(rng.normal(66 if male else 57, 9)), 1)
    sbp = int(np.clip(rng.normal(146 if p.hypertension else 128, 14), 95, 200))
    dbp = int(np.clip(sbp * 0.58 + rng.normal(6, 6), 55, 120))
    glucose = round(float(rng.normal(7.9, 1.6) if p.diabetes else rng.normal(5.4, 0.6)), 1)
    abnormal = [t for t, hit in (("血压偏高", sbp >= 140 or dbp >= 90), ("血糖偏高", glucose >= 7.0)) if hit]
    return {
        "record_no": f"TJ{day:%Y}{p.resident_id:08d}",
        "id_number": p.id_number,
        "name": p.name,
        "exam_date": datetime.combine(day, datetime.min.time()),
        "height_cm": height,
        "weight_kg": weight,
        "waist_cm": round(float(rng.normal(86 if male else 80, 8)), 1),
        "systolic_bp": sbp,
        "diastolic_bp": dbp,
        "heart_rate": int(rng.integers(58, 92)),
        "fasting_glucose": glucose,
        "symptoms": "无症状" if rng.random() < 0.7 else "头痛头晕",
        "smoking": str(rng.choice(["从不吸烟", "吸烟", "已戒烟"], p=[0.7, 0.2, 0.1])),
        "drinking": str(rng.choice(["从不", "偶尔", "经常"], p=[0.6, 0.3, 0.1])),
        "exercise": str(rng.choice(["每天", "偶尔", "不锻炼"], p=[0.4, 0.4, 0.2])),
        "conclusion": "有异常" if abnormal else "体检无异常",
        "abnormalities": "；".join(abnormal) or None,
        "guidance": "低盐饮食；适量运动；定期复查" if abnormal else "保持健康生活方式",
        "institution_code": clinic,
    }


def encounter_row(rng: np.random.Generator, p: FedPatient, *, clinic: str, day: date) -> dict[str, Any]:
    """A 就诊记录 row of a station's outpatient register."""
    if p.hypertension or p.diabetes:
        code, text = CHRONIC_DIAGNOSES["htn" if p.hypertension else "dm"]
    else:
        code, text = ACUTE["AMB"][int(rng.integers(len(ACUTE["AMB"])))]
    start = datetime.combine(day, datetime.min.time()) + timedelta(minutes=int(rng.integers(8 * 60, 17 * 60)))
    return {
        "record_no": f"MZ{day:%Y%m%d}{p.resident_id:08d}",
        "id_number": p.id_number,
        "name": p.name,
        "encounter_class": "门诊",
        "start_at": start,
        "reason_code": code,
        "reason_text": text,
        "institution_code": clinic,
    }
