"""Taking in the feeds: school absence, fever clinics, pharmacies, laboratories, case reports.

Every path (JSON batch API, CSV/Excel upload, simulator) lands here. Rows are checked one by one;
good rows are stored, bad rows are kept verbatim with their reasons; the batch commits at once
(atomic). A row is identified by its natural key: sent again unchanged it changes nothing, sent
with other values it is a correction that replaces the earlier values and keeps them in
``surv_revision``. The count series move by the difference, and the detectors look at exactly the
series and days that moved, in the same unit of work, so the alert is there when the sender's
request returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
from pydantic import ValidationError
from sqlalchemy.orm import Session

from healthbrain.auth import audit
from healthbrain.auth.roles import Permission, Scope
from healthbrain.auth.scope import Principal
from healthbrain.core.errors import InvalidInput
from healthbrain.core.i18n import DEFAULT_LANGUAGE, translate
from healthbrain.core.ingest import Rejects, stored_errors, validation_messages, verbatim_json
from healthbrain.core.schemas import InputModel
from healthbrain.core.time import local_today, utcnow
from healthbrain.people.resident_id import ResidentIdError, parse
from healthbrain.records import repository as records_repository
from healthbrain.records.models import IngestBatch, IngestRejection
from healthbrain.surveillance import engine, repository
from healthbrain.surveillance.definitions import Feed
from healthbrain.surveillance.models import FeedRevision
from healthbrain.surveillance.schemas import (
    CaseReportIn,
    FeedResult,
    FeverClinicIn,
    LabResultIn,
    PharmacySaleIn,
    SchoolAbsenceIn,
)
from healthbrain.surveillance.series import (
    Contributions,
    aggregate,
    concat,
    concat_sums,
    contributions,
    storage_columns,
    sum_cells,
)

EARLIEST_DAY = date(2000, 1, 1)
_MEDICAL = frozenset({"hospital", "chc", "chs", "village_clinic", "cdc"})


@dataclass(frozen=True)
class FeedSpec:
    """What differs between feeds: the row schema, the table, who may send it, its value columns."""

    feed: Feed
    schema: type[InputModel]
    institution_field: str  # the row field naming the sending institution
    institution_kinds: frozenset[str]
    columns: tuple[str, ...]  # stored columns (a change in any of them is a correction)
    day_field: str  # the row's field that dates it (its care date, or a case's onset)

    @property
    def model(self) -> Any:
        return repository.FEED_MODELS[self.feed]


SPECS: dict[Feed, FeedSpec] = {
    Feed.SCHOOL_ABSENCE: FeedSpec(
        Feed.SCHOOL_ABSENCE,
        SchoolAbsenceIn,
        "school_code",
        frozenset({"school"}),
        ("school_id", "class_id", "day", "cause", "absent", "enrolled"),
        "date",
    ),
    Feed.FEVER_CLINIC: FeedSpec(
        Feed.FEVER_CLINIC,
        FeverClinicIn,
        "institution_code",
        frozenset({"hospital", "chc"}),
        ("institution_id", "day", "category", "visits"),
        "date",
    ),
    Feed.PHARMACY: FeedSpec(
        Feed.PHARMACY,
        PharmacySaleIn,
        "institution_code",
        frozenset({"pharmacy"}),
        ("institution_id", "day", "category", "quantity"),
        "date",
    ),
    Feed.LAB: FeedSpec(
        Feed.LAB,
        LabResultIn,
        "institution_code",
        frozenset({"hospital", "chc", "cdc"}),
        ("institution_id", "day", "pathogen", "tested", "positive"),
        "date",
    ),
    Feed.CASE: FeedSpec(
        Feed.CASE,
        CaseReportIn,
        "institution_code",
        _MEDICAL,
        (
            "institution_id",
            "card_no",
            "disease",
            "classification",
            "onset_date",
            "diagnosis_date",
            "reported_at",
            "resident_id",
            "patient_name",
            "id_number",
            "sex",
            "age_years",
            "community_id",
            "address",
            "school_id",
            "class_id",
            "workplace",
            "hospitalised",
            "died",
            "deleted",
        ),
        "onset_date",
    ),
}


@dataclass
class _Row:
    number: int
    raw: Any
    item: Any
    values: dict[str, Any] = field(default_factory=dict)
    key: str = ""


def _parse(spec: FeedSpec, rows: Sequence[tuple[int, Any]], rejects: Rejects, today: date, language: str) -> list[_Row]:
    parsed: list[_Row] = []
    for number, raw in rows:
        if not isinstance(raw, dict):
            rejects.add(number, raw, [(None, translate("row.not_object", language))])
            continue
        try:
            item = spec.schema.model_validate(raw)
        except ValidationError as exc:
            rejects.add(number, raw, validation_messages(exc, language))
            continue
        field_name = spec.day_field
        day: date = getattr(item, field_name)
        later = [
            (f, d)
            for f in (field_name, "diagnosis_date")
            if isinstance(d := getattr(item, f, None), date) and d > today
        ]
        if later:
            rejects.add(number, raw, [(f, translate("row.future", language, day=d.isoformat())) for f, d in later])
            continue
        if day < EARLIEST_DAY:
            rejects.add(
                number,
                raw,
                [
                    (
                        field_name,
                        translate("row.too_old", language, day=day.isoformat(), earliest=EARLIEST_DAY.isoformat()),
                    )
                ],
            )
            continue
        parsed.append(_Row(number, raw, item))
    return parsed


class _Resolver:
    """Turns codes into ids for a batch, with one query per kind of code."""

    def __init__(self, session: Session, spec: FeedSpec, principal: Principal, rows: list[_Row]) -> None:
        self.session = session
        self.spec = spec
        self.principal = principal
        codes = {c for r in rows if (c := getattr(r.item, spec.institution_field, None))}
        codes |= {c for r in rows if (c := getattr(r.item, "school_code", None))}
        self.institutions = repository.institutions_by_code(session, codes)
        own = principal.institution_id
        self.own_kind = repository.institution_codes(session, [own])[own][2] if own is not None else None
        school_ids = {id_ for id_, kind in self.institutions.values() if kind == "school"}
        if own is not None:
            school_ids.add(own)
        self.classes = repository.classes_of_schools(session, school_ids)
        self.communities = repository.divisions_by_code(
            session, {r.item.community_code for r in rows if getattr(r.item, "community_code", None)}
        )
        numbers = {r.item.id_number for r in rows if getattr(r.item, "id_number", None)}
        canonical = {}
        for n in numbers:
            try:
                canonical[n] = parse(n, today=local_today()).number
            except ResidentIdError as exc:
                canonical[n] = exc  # type: ignore[assignment]
        self.id_numbers: dict[str, str | ResidentIdError] = canonical  # type: ignore[assignment]
        self.residents = records_repository.active_residents_by_id_number(
            session, [v for v in canonical.values() if isinstance(v, str)]
        )

    def institution(self, code: str | None, field_name: str, kinds: frozenset[str]) -> int:
        """The sending institution's id; a submitter may send only for their own institution."""
        if code is None:
            if self.principal.institution_id is None:
                raise _RowProblem(field_name, "row.no_institution")
            institution_id, kind = self.principal.institution_id, str(self.own_kind)
        else:
            if code not in self.institutions:
                raise _RowProblem(field_name, "row.unknown_institution", code=code)
            institution_id, kind = self.institutions[code]
        if kind not in kinds:
            raise _RowProblem(field_name, "row.wrong_kind", kind=kind, expected=", ".join(sorted(kinds)))
        if self.principal.scope == Scope.INSTITUTION and institution_id != self.principal.institution_id:
            raise _RowProblem(field_name, "row.not_own_institution")
        return institution_id

    def school_class(self, school_id: int, name: str, *, grade: int | None, enrolled: int | None, create: bool) -> int:
        found = self.classes.get((school_id, name))
        if found is not None:
            return found
        if not create:
            raise _RowProblem("class_name", "row.class_not_registered", name=name)
        if grade is None or enrolled is None:
            raise _RowProblem("class_name", "row.class_needs_grade", name=name)
        class_id = repository.add_class(self.session, school_id=school_id, grade=grade, name=name, enrolled=enrolled)
        self.classes[(school_id, name)] = class_id
        return class_id


class _RowProblem(Exception):
    """A row that cannot be stored: its field and the message key saying why."""

    def __init__(self, field_name: str | None, key: str, **params: Any) -> None:
        super().__init__(key)
        self.field_name = field_name
        self.key = key
        self.params = params


def _resolve_row(spec: FeedSpec, r: _Row, res: _Resolver) -> None:
    item = r.item
    match spec.feed:
        case Feed.SCHOOL_ABSENCE:
            school = res.institution(item.school_code, "school_code", spec.institution_kinds)
            class_id = res.school_class(school, item.class_name, grade=item.grade, enrolled=item.enrolled, create=True)
            r.values = dict(
                school_id=school,
                class_id=class_id,
                day=item.date,
                cause=item.cause,
                absent=item.absent,
                enrolled=item.enrolled,
            )
        case Feed.FEVER_CLINIC | Feed.PHARMACY | Feed.LAB:
            institution = res.institution(item.institution_code, "institution_code", spec.institution_kinds)
            if spec.feed == Feed.FEVER_CLINIC:
                r.values = dict(institution_id=institution, day=item.date, category=item.category, visits=item.visits)
            elif spec.feed == Feed.PHARMACY:
                r.values = dict(
                    institution_id=institution, day=item.date, category=item.category, quantity=item.quantity
                )
            else:
                r.values = dict(
                    institution_id=institution,
                    day=item.date,
                    pathogen=item.pathogen,
                    tested=item.tested,
                    positive=item.positive,
                )
        case Feed.CASE:
            institution = res.institution(item.institution_code, "institution_code", spec.institution_kinds)
            community = res.communities.get(item.community_code)
            if community is None:
                raise _RowProblem("community_code", "row.unknown_division", code=item.community_code)
            if community[1] != "community":
                raise _RowProblem("community_code", "row.not_community", code=item.community_code)
            school_id = pupil_class = None
            if item.school_code:
                if item.school_code not in res.institutions or res.institutions[item.school_code][1] != "school":
                    raise _RowProblem("school_code", "row.unknown_school", code=item.school_code)
                school_id = res.institutions[item.school_code][0]
                if item.class_name:
                    pupil_class = res.school_class(school_id, item.class_name, grade=None, enrolled=None, create=False)
            id_number = resident_id = None
            if item.id_number:
                parsed = res.id_numbers[item.id_number]
                if isinstance(parsed, ResidentIdError):
                    raise _RowProblem("id_number", f"error.id_number.{parsed.reason}", **parsed.params)
                id_number = parsed
                resident_id = res.residents.get(parsed)
            r.values = dict(
                institution_id=institution,
                card_no=item.card_no,
                disease=item.disease,
                classification=item.classification,
                onset_date=item.onset_date,
                diagnosis_date=item.diagnosis_date,
                reported_at=item.reported_at,
                resident_id=resident_id,
                patient_name=item.patient_name,
                id_number=id_number,
                sex=item.sex,
                age_years=item.age_years,
                community_id=community[0],
                address=item.address,
                school_id=school_id,
                class_id=pupil_class,
                workplace=item.workplace,
                hospitalised=item.hospitalised,
                died=item.died,
                deleted=item.deleted,
            )
    r.key = natural_key(spec.feed, r.values)


def natural_key(feed: Feed, v: dict[str, Any]) -> str:
    """What makes a feed row the same row when it is sent again (a resend or a correction)."""
    match feed:
        case Feed.SCHOOL_ABSENCE:
            return f"sa:{v['school_id']}:{v['class_id']}:{v['day'].isoformat()}:{v['cause']}"
        case Feed.FEVER_CLINIC:
            return f"fc:{v['institution_id']}:{v['day'].isoformat()}:{v['category']}"
        case Feed.PHARMACY:
            return f"ph:{v['institution_id']}:{v['day'].isoformat()}:{v['category']}"
        case Feed.LAB:
            return f"lab:{v['institution_id']}:{v['day'].isoformat()}:{v['pathogen']}"
        case Feed.CASE:
            return f"case:{v['institution_id']}:{v['card_no']}"
    raise ValueError(f"unknown feed {feed}")


_DATE_COLUMNS = frozenset({"day", "onset_date", "diagnosis_date"})
_CODE_COLUMNS = frozenset({"cause", "category", "pathogen", "disease", "school_id", "class_id"})
_COUNT_COLUMNS = frozenset({"absent", "visits", "quantity", "tested", "positive", "institution_id", "community_id"})


def column_arrays(feed: Feed, columns: Mapping[str, Sequence[Any]]) -> dict[str, np.ndarray]:
    """Feed columns (lists, as stored) as the arrays :func:`series.contributions` reads; a case
    without a ``deleted`` column is live."""
    out: dict[str, np.ndarray] = {}
    for name, column in columns.items():
        if name in _DATE_COLUMNS:
            out[name] = np.array(column, dtype="datetime64[D]")
        elif name in _CODE_COLUMNS:
            out[name] = np.array(column, dtype=object)
        elif name in _COUNT_COLUMNS:
            out[name] = np.array(column, dtype=np.int64)
        elif name == "deleted":
            out[name] = np.array(column, dtype=bool)
    if feed == Feed.CASE and "deleted" not in out:
        out["deleted"] = np.zeros(len(out["disease"]), dtype=bool)
    return out


def _columns(spec: FeedSpec, values: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    return column_arrays(spec.feed, {name: [v[name] for v in values] for name in spec.columns})


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


@dataclass
class Outcome:
    """What a batch did, before it becomes the API's answer."""

    inserted: int = 0
    corrected: int = 0
    unchanged: int = 0
    alerts: list[int] = field(default_factory=list)


def _store(
    session: Session, spec: FeedSpec, rows: list[_Row], batch_id: int, now: datetime
) -> tuple[Outcome, Contributions]:
    """Insert new rows, apply corrections, and return what the count series must move by."""
    outcome = Outcome()
    existing = repository.rows_by_natural_key(session, spec.model, [r.key for r in rows])
    new_values: list[dict[str, Any]] = []
    old_values: list[dict[str, Any]] = []
    fresh: list[dict[str, Any]] = []
    for r in rows:
        stored = existing.get(r.key)
        if stored is None:
            fresh.append(
                {
                    **r.values,
                    "natural_key": r.key,
                    "revision": 1,
                    "batch_id": batch_id,
                    "received_at": now,
                    "updated_at": now,
                }
            )
            new_values.append(r.values)
            continue
        before = {name: getattr(stored, name) for name in spec.columns}
        if before == r.values:
            outcome.unchanged += 1
            continue
        session.add(
            FeedRevision(
                feed=str(spec.feed),
                row_id=stored.id,
                revision=stored.revision,
                values={k: _jsonable(v) for k, v in before.items()},
                batch_id=batch_id,
                replaced_at=now,
            )
        )
        for name, value in r.values.items():
            setattr(stored, name, value)
        stored.revision += 1
        stored.batch_id = batch_id
        stored.updated_at = now
        old_values.append(before)
        new_values.append(r.values)
        outcome.corrected += 1
    repository.insert_rows(session, spec.model, fresh)
    outcome.inserted = len(fresh)
    session.flush()
    places = repository.place_index(session)
    moved = concat(
        [
            contributions(spec.feed, _columns(spec, new_values), places),
            contributions(spec.feed, _columns(spec, old_values), places).negated(),
        ]
    )
    return outcome, moved


def ingest(
    session: Session,
    *,
    principal: Principal,
    feed: Feed,
    rows: Sequence[tuple[int, Any]],
    batch_key: str | None = None,
    channel: str = "api",
    language: str = DEFAULT_LANGUAGE,
    clock: Callable[[], datetime] = utcnow,
) -> FeedResult:
    """Take one batch of one feed. ``rows`` are (row number as the sender counts it, raw row)."""
    principal.require(Permission.SURVEILLANCE_SUBMIT)
    spec = SPECS[feed]
    started = time.perf_counter()
    full_key = f"surveillance.{feed}.{channel}:{principal.user_id}:{batch_key}" if batch_key else None
    if full_key and (previous := repository.batch_by_key(session, full_key)) is not None:
        return _stored_result(session, previous, feed)
    now = clock()
    rejects = Rejects()
    parsed = _parse(spec, rows, rejects, local_today(), language)
    resolver = _Resolver(session, spec, principal, parsed)
    good: list[_Row] = []
    first_of_key: dict[str, int] = {}
    for r in parsed:
        try:
            _resolve_row(spec, r, resolver)
        except _RowProblem as problem:
            rejects.add(r.number, r.raw, [(problem.field_name, translate(problem.key, language, **problem.params))])
            continue
        if r.key in first_of_key:
            rejects.add(
                r.number, r.raw, [(None, translate("row.duplicate_in_batch", language, row=first_of_key[r.key]))]
            )
            continue
        first_of_key[r.key] = r.number
        good.append(r)
    batch = IngestBatch(
        channel=f"surveillance.{feed}.{channel}",
        batch_key=full_key,
        user_id=principal.user_id or None,
        institution_id=principal.institution_id,
        received_at=now,
        received=len(rows),
    )
    session.add(batch)
    session.flush()
    outcome, moved = _store(session, spec, good, batch.id, now)
    daily = aggregate(moved)
    repository.upsert_counts(session, daily, weekly=False)
    repository.upsert_counts(session, aggregate(moved, weekly=True), weekly=True)
    outcome.alerts = engine.detect_moved(session, daily, received_at=now, now=clock())
    batch.inserted, batch.duplicates, batch.rejected = outcome.inserted, outcome.unchanged, len(rejects.rows)
    batch.corrected = outcome.corrected
    rejects.rows.sort(key=lambda x: x[0])
    session.add_all(
        IngestRejection(batch_id=batch.id, row_number=n, payload=verbatim_json(raw), errors=errs)
        for n, raw, errs in rejects.rows
    )
    session.flush()
    audit.record(
        session,
        principal,
        "surveillance.submit",
        object_type="ingest_batch",
        object_id=batch.id,
        detail={
            "feed": str(feed),
            "received": len(rows),
            "inserted": outcome.inserted,
            "corrected": outcome.corrected,
            "rejected": len(rejects.rows),
            "alerts": outcome.alerts,
            "ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return FeedResult(
        batch_id=batch.id,
        feed=str(feed),
        received=len(rows),
        inserted=outcome.inserted,
        corrected=outcome.corrected,
        unchanged=outcome.unchanged,
        rejected=len(rejects.rows),
        errors=sorted(rejects.errors, key=lambda e: e.row),
        alerts=outcome.alerts,
    )


def _stored_result(session: Session, batch: IngestBatch, feed: Feed) -> FeedResult:
    errors = stored_errors(repository.rejections_of(session, batch.id))
    return FeedResult(
        batch_id=batch.id,
        feed=str(feed),
        received=batch.received,
        inserted=batch.inserted,
        corrected=batch.corrected,
        unchanged=batch.duplicates,
        rejected=batch.rejected,
        errors=errors,
        replayed=True,
    )


def parse_feed(value: str) -> Feed:
    try:
        return Feed(value)
    except ValueError:
        raise InvalidInput("error.surveillance.unknown_feed", field="feed", feed=value) from None


def rebuild_series(session: Session, *, chunk: int = 200_000) -> dict[str, int]:
    """Recompute the day and week tables from the feeds in one set-based pass (a repair, or
    after a bulk load); returns the cells written per table."""
    places = repository.place_index(session)
    parts: list[Contributions] = []
    for spec in SPECS.values():
        for part in repository.feed_columns(session, spec.model, spec.columns, chunk=chunk):
            values = [dict(zip(spec.columns, row, strict=True)) for row in part]
            parts.append(contributions(spec.feed, _columns(spec, values), places))
    repository.clear_counts(session)
    return write_series(session, parts)


def write_series(session: Session, parts: list[Contributions]) -> dict[str, int]:
    """Sum contributions per day and per ISO week and write them into empty count tables. Each
    part is summed on its own first, so memory follows the largest part, not all of them."""
    written = {}
    for name, weekly in (("surv_count_day", False), ("surv_count_week", True)):
        sums = [sum_cells(p, weekly=weekly) for p in parts if len(p)]
        total = sum_cells(concat_sums(sums)) if sums else None
        written[name] = repository.insert_counts(session, storage_columns(total), weekly=weekly) if total else 0
    return written
