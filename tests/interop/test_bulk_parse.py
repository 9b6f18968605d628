"""The bulk importer's pure core: which NDJSON lines take the fast path, what they become, and which
are refused before any database work. Table-driven, no database."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from healthbrain.interop.bulk_parse import read_chunk, utc_texts
from healthbrain.interop.fhir import keys

BASE: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "obs-1",
    "status": "final",
    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "x"}]}],
    "code": {"coding": [{"system": keys.LOINC, "code": "8480-6", "display": "Systolic"}]},
    "subject": {"reference": "Patient/p-1"},
    "effectiveDateTime": "2024-03-01T08:30:00+08:00",
    "issued": "2024-03-01T08:31:00.123+08:00",
    "valueQuantity": {"value": 132, "unit": "mmHg", "system": keys.UCUM, "code": "mm[Hg]"},
}


def _with(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _line(resource: Any) -> bytes:
    return orjson.dumps(resource) + b"\n"


# (case, resource, expected fast fields or None for "to the writer")
FAST_CASES: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = [
    (
        "plain quantity, +08:00",
        BASE,
        {"code": "8480-6", "value_num": 132.0, "unit": "mm[Hg]", "effective": "2024-03-01 00:30:00.000000"},
    ),
    ("Z and fraction", _with(effectiveDateTime="2024-03-01T08:30:00.25Z"), {"effective": "2024-03-01 08:30:00.250000"}),
    (
        "negative offset",
        _with(effectiveDateTime="2024-03-01T20:00:00-05:00"),
        {"effective": "2024-03-02 01:00:00.000000"},
    ),
    (
        "instant",
        _with(effectiveDateTime=None, effectiveInstant="2024-03-01T00:00:00Z"),
        {"effective": "2024-03-01 00:00:00.000000"},
    ),
    (
        "unit from unit when no code",
        _with(valueQuantity={"value": 5.5, "unit": "mmol/L"}),
        {"unit": "mmol/L", "value_num": 5.5},
    ),
    ("no unit at all", _with(valueQuantity={"value": 7}), {"unit": None, "value_num": 7.0}),
    (
        "string value",
        _with(valueQuantity=None, valueString="阴性"),
        {"value_text": "阴性", "value_num": None, "unit": None},
    ),
    ("encounter", _with(encounter={"reference": "Encounter/e-9"}), {"encounter": "e-9"}),
    ("encounter id with _", _with(encounter={"reference": "Encounter/e_9"}), {"encounter": "e_9"}),
    (
        "LOINC not first",
        _with(code={"coding": [{"system": "urn:x", "code": "A"}, {"system": keys.LOINC, "code": "2339-0"}]}),
        {"code": "2339-0"},
    ),
    ("other status", _with(status="amended"), {"status": "amended"}),
    # Everything else is the writer's.
    ("components", _with(component=[{"code": {"coding": [{"system": keys.LOINC, "code": "8462-4"}]}}]), None),
    ("coded value", _with(valueQuantity=None, valueCodeableConcept={"text": "x"}), None),
    ("boolean value", _with(valueQuantity=None, valueBoolean=True), None),
    ("no value", _with(valueQuantity=None), None),
    ("two values", _with(valueString="x"), None),
    ("period", _with(effectiveDateTime=None, effectivePeriod={"start": "2024-03-01T08:00:00+08:00"}), None),
    ("date only", _with(effectiveDateTime="2024-03-01"), None),
    ("no zone", _with(effectiveDateTime="2024-03-01T08:30:00"), None),
    ("impossible date", _with(effectiveDateTime="2024-02-30T08:30:00+08:00"), None),
    ("hour 24", _with(effectiveDateTime="2024-02-03T24:00:00+08:00"), None),
    ("no effective", _with(effectiveDateTime=None), None),
    ("no LOINC", _with(code={"coding": [{"system": "urn:x", "code": "A"}]}), None),
    ("code too long", _with(code={"coding": [{"system": keys.LOINC, "code": "X" * 17}]}), None),
    ("unit too long", _with(valueQuantity={"value": 1, "code": "u" * 17}), None),
    ("bad status", _with(status="done"), None),
    ("no status", _with(status=None), None),
    ("no id", _with(id=None), None),
    ("bad id", _with(id="has space"), None),
    ("subject by identifier", _with(subject={"identifier": {"system": keys.RESIDENT_ID_SYSTEM, "value": "1"}}), None),
    ("subject a Group", _with(subject={"reference": "Group/g"}), None),
    ("subject with a query", _with(subject={"reference": "Patient/p?x=1"}), None),
    ("subject id too long", _with(subject={"reference": "Patient/" + "p" * 65}), None),
    ("absolute subject", _with(subject={"reference": "https://x/fhir/Patient/p-1"}), None),
    ("encounter by identifier", _with(encounter={"identifier": {"value": "e"}}), None),
    ("performer", _with(performer=[{"reference": "Organization/o"}]), None),
    ("device", _with(device={"reference": "Device/d"}), None),
    ("modifier extension", _with(modifierExtension=[{"url": "u", "valueBoolean": True}]), None),
    ("data absent", _with(valueQuantity=None, dataAbsentReason={"text": "x"}), None),
    ("value a string number", _with(valueQuantity={"value": "132"}), None),
    ("a Patient", {"resourceType": "Patient", "id": "p-1"}, None),
    ("a Claim", {"resourceType": "Claim", "id": "c-1", "status": "active"}, None),
]


@pytest.mark.parametrize("exact", [False, True], ids=["arrow", "one-by-one"])
@pytest.mark.parametrize(("case", "resource", "expected"), FAST_CASES, ids=[c[0] for c in FAST_CASES])
def test_fast_path_rule(case: str, resource: dict[str, Any], expected: dict[str, Any] | None, exact: bool) -> None:
    # "one-by-one": an escaped character sends the chunk's line to orjson; the rule must not change.
    line = _line(resource)
    if exact:
        line = line.replace(b'"resourceType"', b'"\\u0072esourceType"', 1)
    chunk = read_chunk([line], 7)
    if expected is None:
        assert len(chunk.fast) == 0 and [n for n, _r, _res in chunk.slow] == [7], case
        assert chunk.slow[0][2] == resource
    else:
        assert len(chunk.fast) == 1 and chunk.slow == [], case
        got = {name: getattr(chunk.fast, name)[0] for name in expected}
        assert got == expected, case
        assert chunk.fast.line == [7] and chunk.fast.patient == ["p-1"] and chunk.fast.sid == [resource["id"]]
    assert chunk.refused == []


def test_the_same_rule_on_a_mixed_chunk_in_both_readers() -> None:
    lines = [_line(r) for _c, r, _e in FAST_CASES]
    arrow = read_chunk(lines, 1)
    escaped = read_chunk([line.replace(b'"id"', b'"\\u0069d"', 1) for line in lines], 1)
    assert arrow.fast.line == escaped.fast.line == [i + 1 for i, c in enumerate(FAST_CASES) if c[2] is not None]
    assert arrow.fast.effective == escaped.fast.effective
    assert [n for n, _r, _x in arrow.slow] == [n for n, _r, _x in escaped.slow]


def test_an_all_plain_chunk_is_what_the_line_by_line_reader_makes() -> None:
    """The common chunk (every line a plain Observation, no blank line) takes a shortcut; its rows
    are the ones the exact reader makes of the same lines."""
    plain = [r for _c, r, e in FAST_CASES if e is not None]
    lines = [_line({**r, "id": f"obs-{i}"}) for i, r in enumerate(plain)]
    fast = read_chunk(lines, 5)
    exact = read_chunk([line.replace(b'"id"', b'"\\u0069d"', 1) for line in lines], 5)
    assert fast.slow == exact.slow == [] and fast.refused == exact.refused == []
    names = ("line", "sid", "patient", "encounter", "code", "value_num", "value_text", "unit", "status", "effective")
    assert {n: getattr(fast.fast, n) for n in names} == {n: getattr(exact.fast, n) for n in names}
    assert fast.fast.line == list(range(5, 5 + len(lines))) and fast.fast.raw == lines
    assert fast.nbytes == sum(map(len, lines)) and fast.line_count == len(lines)


REFUSED: list[tuple[bytes, str]] = [
    (b"{not json\n", "bulk.error.not_json"),
    (b"[1, 2]\n", "bulk.error.not_object"),
    (b'"a string"\n', "bulk.error.not_object"),
    (b'{"resourceType": "Observation", "id": "\xff\xfe"}\n', "bulk.error.not_utf8"),
    (b'{"a": 1} {"b": 2}\n', "bulk.error.not_json"),
]


@pytest.mark.parametrize(("raw", "key"), REFUSED)
def test_lines_refused_before_any_writer(raw: bytes, key: str) -> None:
    chunk = read_chunk([_line(BASE), raw, _line(_with(id="obs-2"))], 10)
    assert [(n, [r.key for r in reasons]) for n, _raw, reasons in chunk.refused] == [(11, [key])]
    assert chunk.fast.line == [10, 12]  # a bad line never stops the others


def test_blank_lines_count_as_lines_but_are_nothing() -> None:
    lines = [_line(BASE), b"\n", b"   \r\n", _line(_with(id="obs-2"))]
    chunk = read_chunk(lines, 1)
    assert chunk.fast.line == [1, 4] and chunk.line_count == 4 and chunk.nbytes == sum(map(len, lines))
    assert chunk.slow == [] and chunk.refused == []


def test_order_of_writer_lines_and_fast_rows_is_the_file_order() -> None:
    patient = {"resourceType": "Patient", "id": "p-1"}
    lines = [_line(patient), _line(BASE), _line(_with(id="o-2", component=[{}])), _line(_with(id="o-3"))]
    chunk = read_chunk(lines, 100)
    assert [n for n, _r, _x in chunk.slow] == [100, 102]
    assert chunk.fast.line == [101, 103] and chunk.fast.sid == ["obs-1", "o-3"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-01T08:00:00+08:00", "2024-01-01 00:00:00.000000"),
        ("2024-01-01T00:00:00.123456Z", "2024-01-01 00:00:00.123456"),
        ("2023-12-31T23:30:00-00:45", "2024-01-01 00:15:00.000000"),
        ("2024-01-01T00:00:00.1234567Z", None),  # more than microseconds: the writer's
        ("2024-01-01T08:00:00+0800", None),
        ("2024-01-01 08:00:00+08:00", None),
        ("2024-13-01T00:00:00Z", None),
        ("2024-01-01", None),
        ("", None),
    ],
)
def test_utc_texts(value: str, expected: str | None) -> None:
    assert utc_texts(["2024-06-01T00:00:00Z", value]) == ["2024-06-01 00:00:00.000000", expected]
