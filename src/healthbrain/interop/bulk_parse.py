"""Reading a chunk of NDJSON lines for the bulk importer: pure, no session, no I/O.

Each line becomes one of three things:

* a **plain Observation** (the fast path): one LOINC coding, ``valueQuantity`` or ``valueString``,
  ``subject`` = ``Patient/<id>``, ``effectiveDateTime``/``effectiveInstant`` of the common shape
  ``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±HH:MM)``, optional ``encounter`` = ``Encounter/<id>``. Its
  fields land in columns (no per-row objects) and become observation rows exactly as the
  single-resource writer (``interop.fhir.store``) would make them;
* a resource for the **writer** (``slow``): every other type, and any Observation with something
  the fast path does not take (components, coded values, a period, a performer, a device, odd
  timestamps, values that the writer must judge) — the writer validates against R4 and decides;
* a line **refused** before either: not UTF-8, not JSON, not a JSON object.

Speed: a chunk is parsed by Arrow's JSON reader (C++, typed columns) with the fields the fast path
needs; a line the reader cannot type, or a chunk it refuses, is parsed line by line with orjson
instead (the result is the same, only slower). Timestamps are converted to UTC for the whole chunk
at once with NumPy.
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from healthbrain.interop.fhir import keys
from healthbrain.interop.fhir.parse import STATUS_CODES

OBSERVATION_STATUSES = STATUS_CODES["Observation"]
# Top-level elements that take an Observation off the fast path (the writer maps them).
_NOT_PLAIN_KEYS = frozenset(
    {
        "component",
        "dataAbsentReason",
        "modifierExtension",
        "performer",
        "device",
        "effectivePeriod",
        "effectiveTiming",
    }
)
_OBJECT, _ARRAY = pa.struct([]), pa.list_(pa.struct([]))
# Arrow is told their types only to see whether a line has them (a column that is not null).
_PRESENCE: dict[str, pa.DataType] = {
    "component": _ARRAY,
    "dataAbsentReason": _OBJECT,
    "modifierExtension": _ARRAY,
    "performer": _ARRAY,
    "device": _OBJECT,
    "effectivePeriod": _OBJECT,
    "effectiveTiming": _OBJECT,
    "valueCodeableConcept": _OBJECT,
    "valueRange": _OBJECT,
    "valueRatio": _OBJECT,
    "valueSampledData": _OBJECT,
    "valuePeriod": _OBJECT,
    "valueBoolean": pa.bool_(),
    "valueInteger": pa.int64(),
    "valueTime": pa.string(),
    "valueDateTime": pa.string(),
}
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# The id part of a literal reference ``Type/id``, as the writer reads it (``refs.split_reference``).
_REFERENCE_ID = r"[^/?\s]{1,64}"
_REFERENCED = re.compile(_REFERENCE_ID)
_BASE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?")
_OFFSET = re.compile(r"[+-]([01]\d|2[0-3]):([0-5]\d)")

_REFERENCE = pa.struct([("reference", pa.string())])
ARROW_SCHEMA = pa.schema(
    [
        ("resourceType", pa.string()),
        ("id", pa.string()),
        ("status", pa.string()),
        ("code", pa.struct([("coding", pa.list_(pa.struct([("system", pa.string()), ("code", pa.string())])))])),
        ("subject", _REFERENCE),
        ("encounter", _REFERENCE),
        ("effectiveDateTime", pa.string()),
        ("effectiveInstant", pa.string()),
        (
            "valueQuantity",
            pa.struct([("value", pa.float64()), ("unit", pa.string()), ("code", pa.string())]),
        ),
        ("valueString", pa.string()),
        *_PRESENCE.items(),
    ]
)
_ARROW_PARSE = pa_json.ParseOptions(explicit_schema=ARROW_SCHEMA, unexpected_field_behavior="ignore")


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a line is refused: the element and a message key (translated when kept)."""

    field: str | None
    key: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclass(slots=True)
class FastRows:
    """Plain Observations of a chunk, column by column (one list per field)."""

    line: list[int] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    sid: list[str] = field(default_factory=list)  # the sender's Observation id
    patient: list[str] = field(default_factory=list)  # the sender's Patient id (``Patient/<id>``)
    encounter: list[str | None] = field(default_factory=list)  # the sender's Encounter id
    code: list[str] = field(default_factory=list)
    value_num: list[float | None] = field(default_factory=list)
    value_text: list[str | None] = field(default_factory=list)
    unit: list[str | None] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    effective: list[str] = field(default_factory=list)  # UTC, storage text (core.bulk format)
    source_hash: list[int] = field(default_factory=list)  # filled by the importer (needs the sender)

    def __len__(self) -> int:
        return len(self.line)


@dataclass(slots=True)
class Chunk:
    """A chunk of lines, read and sorted; ``nbytes`` of the uncompressed stream it covers."""

    first_line: int
    line_count: int
    nbytes: int
    fast: FastRows
    slow: list[tuple[int, bytes, dict[str, Any]]]  # (line, raw, resource), in file order
    refused: list[tuple[int, bytes, list[Reason]]]


# --- the fast-path rule ------------------------------------------------------------------------

Plain = tuple[str, str, str | None, str, float | None, str | None, str | None, str, str]


def plain_observation(
    resource_type: Any,
    sid: Any,
    status: Any,
    codings: Any,
    subject: Any,
    encounter: Any,
    effective_date_time: Any,
    effective_instant: Any,
    has_quantity: bool,
    quantity_value: Any,
    quantity_unit: Any,
    quantity_code: Any,
    value_string: Any,
) -> Plain | None:
    """(sid, patient id, encounter id, code, value, text, unit, status, effective as sent) of a plain
    Observation, or None when the line is for the writer. The values are what the writer would
    store for the same resource (``interop.fhir.parse.parse_observation``)."""
    if resource_type != "Observation" or not isinstance(sid, str) or _FHIR_ID.fullmatch(sid) is None:
        return None
    if status not in OBSERVATION_STATUSES:
        return None
    code = None
    if isinstance(codings, list):
        for coding in codings:
            if isinstance(coding, dict) and coding.get("system") == keys.LOINC and coding.get("code"):
                code = coding["code"]
                break
    if not isinstance(code, str) or len(code) > 16 or code.strip() != code:
        return None
    if not isinstance(subject, str) or not subject.startswith("Patient/"):
        return None
    patient = subject[8:]
    if _REFERENCED.fullmatch(patient) is None:
        return None
    encounter_id = None
    if encounter is not None:
        if not isinstance(encounter, str) or not encounter.startswith("Encounter/"):
            return None
        encounter_id = encounter[10:]
        if _REFERENCED.fullmatch(encounter_id) is None:
            return None
    effective = effective_date_time if effective_date_time is not None else effective_instant
    if not isinstance(effective, str):
        return None
    value_num: float | None = None
    value_text: str | None = None
    unit: str | None = None
    if has_quantity:
        if value_string is not None:
            return None  # two values: R4 refuses it, the writer says so
        if quantity_value is not None:
            if isinstance(quantity_value, bool) or not isinstance(quantity_value, int | float):
                return None
            value_num = float(quantity_value)
        unit = quantity_code or quantity_unit or None
        if unit is not None and (not isinstance(unit, str) or len(unit) > 16 or unit.strip() != unit):
            return None
    elif isinstance(value_string, str) and value_string and len(value_string) <= 256:
        if value_string.strip() != value_string:
            return None
        value_text = value_string
    else:
        return None
    return (sid, patient, encounter_id, code, value_num, value_text, unit, status, effective)


def _fields_of(resource: dict[str, Any]) -> Plain | None:
    """The fast-path rule for a resource parsed by orjson (the types checked here, by Arrow there)."""
    if resource.get("resourceType") != "Observation":
        return None
    for key in resource:
        if key in _NOT_PLAIN_KEYS or (key.startswith("value") and key not in ("valueQuantity", "valueString")):
            return None
    code = resource.get("code")
    subject = resource.get("subject")
    encounter = resource.get("encounter")
    quantity = resource.get("valueQuantity")
    if quantity is not None and not isinstance(quantity, dict):
        return None
    if encounter is not None:
        if not isinstance(encounter, dict):
            return None
        encounter = encounter.get("reference")
        if encounter is None:
            return None  # a logical reference: the writer resolves it
    q_unit = quantity.get("unit") if quantity else None
    q_code = quantity.get("code") if quantity else None
    if (q_unit is not None and not isinstance(q_unit, str)) or (q_code is not None and not isinstance(q_code, str)):
        return None
    return plain_observation(
        "Observation",
        resource.get("id"),
        resource.get("status"),
        code.get("coding") if isinstance(code, dict) else None,
        subject.get("reference") if isinstance(subject, dict) else None,
        encounter,
        resource.get("effectiveDateTime"),
        resource.get("effectiveInstant"),
        quantity is not None,
        quantity.get("value") if quantity else None,
        q_unit,
        q_code,
        resource.get("valueString"),
    )


# --- timestamps --------------------------------------------------------------------------------

_COMMON_INSTANT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$"
_UTC_US = pa.timestamp("us", tz="UTC")


def _utc_array(values: pa.Array) -> list[str | None]:
    """Each FHIR dateTime of the common shape as UTC storage text (``YYYY-MM-DD HH:MM:SS.ffffff``),
    None for any other shape or an impossible date (the writer judges those)."""
    shaped = pc.fill_null(pc.match_substring_regex(values, _COMMON_INSTANT), False)
    candidates = pc.if_else(shaped, values, pa.scalar(None, pa.string()))
    try:
        instants = pc.cast(candidates, _UTC_US)
    except pa.ArrowInvalid:  # an impossible date somewhere (month 13, 30 February): find it
        singles = []
        for value in candidates.to_pylist():
            try:
                singles.append(pc.cast(pa.scalar(value, pa.string()), _UTC_US).value)
            except pa.ArrowInvalid:
                singles.append(None)
        instants = pa.array(singles, pa.int64()).cast(_UTC_US)
    # A cast to text gives the storage form (``YYYY-MM-DD HH:MM:SS.ffffff``) ~25 times faster than strftime.
    texts: list[str | None] = instants.cast(pa.timestamp("us")).cast(pa.string()).to_pylist()
    return texts


def utc_texts(values: Sequence[str | None]) -> list[str | None]:
    return _utc_array(pa.array(values, pa.string())) if values else []


# --- the fast-path rule, over a whole chunk at once --------------------------------------------


def _bools(array: Any) -> np.ndarray[Any, Any]:
    out: np.ndarray[Any, Any] = pc.fill_null(array, False).to_numpy(zero_copy_only=False)
    return out


def _fits(array: Any, limit: int) -> Any:
    """Non-empty, at most ``limit`` characters, no surrounding blanks (what the writer keeps as is)."""
    length = pc.utf8_length(array)
    return pc.and_(
        pc.and_(pc.greater(length, 0), pc.less_equal(length, limit)), pc.equal(pc.utf8_trim_whitespace(array), array)
    )


def _vector_plain(table: pa.Table) -> tuple[np.ndarray[Any, Any], dict[str, list[Any]]]:
    """The rows of an Arrow-read chunk that are plain Observations (the rule of
    :func:`plain_observation`, column by column), and their fields."""
    n = table.num_rows
    col = {name: table.column(name).combine_chunks() for name in table.column_names}
    ok = _bools(pc.equal(col["resourceType"], "Observation"))
    for name in _PRESENCE:
        ok &= ~_bools(col[name].is_valid())
    ok &= _bools(pc.match_substring_regex(col["id"], r"^[A-Za-z0-9\-.]{1,64}$"))
    ok &= _bools(pc.is_in(col["status"], value_set=pa.array(sorted(OBSERVATION_STATUSES))))
    # The code: the first LOINC coding that has a code.
    codings = col["code"].field("coding")
    flat = pc.list_flatten(codings)
    parents = pc.list_parent_indices(codings).to_numpy()
    loinc = np.flatnonzero(
        _bools(pc.and_(pc.equal(flat.field("system"), keys.LOINC), pc.greater(pc.utf8_length(flat.field("code")), 0)))
    )
    rows, first = np.unique(parents[loinc], return_index=True)
    codes = np.full(n, None, dtype=object)
    codes[rows] = flat.field("code").take(pa.array(loinc[first])).to_numpy(zero_copy_only=False)
    code_array = pa.array(codes, pa.string())
    ok &= _bools(
        pc.and_(
            pc.less_equal(pc.utf8_length(code_array), 16), pc.equal(pc.utf8_trim(code_array, " \t\r\n"), code_array)
        )
    )
    ok &= _bools(pc.match_substring_regex(col["subject"].field("reference"), f"^Patient/{_REFERENCE_ID}$"))
    encounter = col["encounter"]
    ok &= ~_bools(encounter.is_valid()) | _bools(
        pc.match_substring_regex(encounter.field("reference"), f"^Encounter/{_REFERENCE_ID}$")
    )
    # The value: a quantity (its code, else its unit, at most 16 characters) or a string.
    quantity = col["valueQuantity"]
    has_quantity = _bools(quantity.is_valid())
    has_string = _bools(col["valueString"].is_valid())
    q_code, q_unit = quantity.field("code"), quantity.field("unit")
    unit = pc.if_else(
        _bools(pc.greater(pc.utf8_length(q_code), 0)),
        q_code,
        pc.if_else(_bools(pc.greater(pc.utf8_length(q_unit), 0)), q_unit, pa.scalar(None, pa.string())),
    )
    unit_ok = ~_bools(unit.is_valid()) | _bools(_fits(unit, 16))
    string_ok = _bools(_fits(col["valueString"], 256))
    ok &= (has_quantity & ~has_string & unit_ok) | (~has_quantity & string_ok)
    effective = pc.coalesce(col["effectiveDateTime"], col["effectiveInstant"])
    picked = np.flatnonzero(ok)
    take = pa.array(picked, pa.int64())
    times = _utc_array(effective.take(take))
    good = np.array([t is not None for t in times], dtype=bool)
    if not good.all():
        ok[picked[~good]] = False
        picked, take = picked[good], pa.array(picked[good], pa.int64())
        times = [t for t in times if t is not None]
    fields = {
        "sid": col["id"].take(take).to_pylist(),
        "patient": pc.utf8_slice_codeunits(col["subject"].field("reference").take(take), 8).to_pylist(),
        "encounter": pc.utf8_slice_codeunits(encounter.field("reference").take(take), 10).to_pylist(),
        "code": codes[picked].tolist(),
        "value_num": pc.if_else(has_quantity, quantity.field("value"), pa.scalar(None, pa.float64()))
        .take(take)
        .to_pylist(),
        "value_text": pc.if_else(has_quantity, pa.scalar(None, pa.string()), col["valueString"]).take(take).to_pylist(),
        "unit": pc.if_else(has_quantity, unit, pa.scalar(None, pa.string())).take(take).to_pylist(),
        "status": col["status"].take(take).to_pylist(),
        "effective": times,
    }
    return ok, fields


# --- a chunk -----------------------------------------------------------------------------------


def _refuse_or_load(number: int, raw: bytes, refused: list[tuple[int, bytes, list[Reason]]]) -> Any:
    try:
        resource = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            refused.append((number, raw, [Reason(None, "bulk.error.not_utf8")]))
            return None
        refused.append((number, raw, [Reason(None, "bulk.error.not_json", {"msg": str(exc)[:200]})]))
        return None
    if not isinstance(resource, dict):
        refused.append((number, raw, [Reason(None, "bulk.error.not_object")]))
        return None
    return resource


def _arrow_table(data: bytes, rows: int) -> pa.Table | None:
    """The chunk's lines (joined) read by Arrow; None when Arrow refuses it (a line of another
    shape: those lines are then read one by one) or does not give one row per line."""
    try:
        table = pa_json.read_json(
            io.BytesIO(data),
            read_options=pa_json.ReadOptions(use_threads=False, block_size=1 << 28),
            parse_options=_ARROW_PARSE,
        )
    except (pa.ArrowException, ValueError):
        return None
    return table if table.num_rows == rows else None


_FIELDS = ("sid", "patient", "encounter", "code", "value_num", "value_text", "unit", "status", "effective")


def read_chunk(lines: list[bytes], first_line: int) -> Chunk:
    """Sort a chunk's lines into fast rows, resources for the writer, and refused lines."""
    joined: bytes | None = b"".join(lines)
    assert joined is not None
    nbytes = len(joined)
    if all(map(bytes.strip, lines)):  # C-level checks: the common chunk has no blank line
        numbered = list(zip(range(first_line, first_line + len(lines)), lines, strict=True))
    else:
        numbered = [(first_line + i, raw) for i, raw in enumerate(lines) if raw.strip()]  # blank lines: nothing
        joined = b"".join(raw for _n, raw in numbered)
    if b"\\u" in joined:
        # A key may be escaped (Arrow would not see the element for what it is): read exactly.
        arrow_lines = [(n, raw) for n, raw in numbered if b"\\u" not in raw]
        exact = [(n, raw) for n, raw in numbered if b"\\u" in raw]
        joined = b"".join(raw for _n, raw in arrow_lines)
    else:
        arrow_lines, exact = numbered, []
    table = _arrow_table(joined, len(arrow_lines)) if arrow_lines else None
    fast_rows: list[tuple[Any, ...]] = []  # (line, raw, *fields), only for lines read exactly
    later: list[tuple[int, bytes, dict[str, Any] | None]] = []  # for the writer, maybe still to load
    fields: dict[str, list[Any]] = {name: [] for name in _FIELDS}
    arrow_fast: list[tuple[int, bytes]] = []
    if table is None:
        exact = sorted(exact + arrow_lines)
    else:
        ok, fields = _vector_plain(table)
        if not exact and len(arrow_lines) == len(lines) and ok.all():  # the common chunk: all plain
            fast = FastRows(line=list(range(first_line, first_line + len(lines))), raw=lines, **fields)
            return Chunk(first_line=first_line, line_count=len(lines), nbytes=nbytes, fast=fast, slow=[], refused=[])
        for (number, raw), plain in zip(arrow_lines, ok.tolist(), strict=True):
            if plain:
                arrow_fast.append((number, raw))
            else:
                later.append((number, raw, None))
    refused: list[tuple[int, bytes, list[Reason]]] = []
    exact_plain: list[tuple[int, bytes, dict[str, Any], Plain]] = []
    for number, raw in exact:
        resource = _refuse_or_load(number, raw, refused)
        if resource is None:
            continue
        plain = _fields_of(resource)
        if plain is None:
            later.append((number, raw, resource))
        else:
            exact_plain.append((number, raw, resource, plain))
    if exact_plain:
        times = utc_texts([p[8] for *_rest, p in exact_plain])
        for (number, raw, resource, p), effective in zip(exact_plain, times, strict=True):
            if effective is None:
                later.append((number, raw, resource))
            else:
                fast_rows.append((number, raw, *p[:8], effective))
    fast = FastRows()
    if fast_rows:  # merge with the Arrow rows in file order (the first of two equal ids wins)
        merged = [
            (n, raw, *values) for (n, raw), *values in zip(arrow_fast, *(fields[f] for f in _FIELDS), strict=True)
        ]
        merged.extend(fast_rows)
        merged.sort(key=lambda r: r[0])
        columns = list(zip(*merged, strict=True))
        fast.line, fast.raw = list(columns[0]), list(columns[1])
        for i, name in enumerate(_FIELDS):
            setattr(fast, name, list(columns[2 + i]))
    else:
        fast.line = [n for n, _raw in arrow_fast]
        fast.raw = [raw for _n, raw in arrow_fast]
        for name in _FIELDS:
            setattr(fast, name, fields[name])
    slow: list[tuple[int, bytes, dict[str, Any]]] = []
    for number, raw, maybe in sorted(later, key=lambda r: r[0]):
        resource = maybe if maybe is not None else _refuse_or_load(number, raw, refused)
        if resource is not None:
            slow.append((number, raw, resource))
    refused.sort(key=lambda r: r[0])
    return Chunk(
        first_line=first_line,
        line_count=len(lines),
        nbytes=nbytes,
        fast=fast,
        slow=slow,
        refused=refused,
    )
