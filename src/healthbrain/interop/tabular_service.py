"""Importing a CSV or Excel file of residents, encounters, observations, physical examinations or
follow-ups, with the same rules as the API and the pages.

What a data submitter gets (the choice, as with the surveillance feeds): the good rows land, the bad
rows are rejected with reasons naming the line and the column, and are kept (``ingest_rejection``)
so that they can be downloaded as an error report, corrected and uploaded again. The whole file is
one unit of work (one batch, one commit); a row refused half-way leaves nothing behind.

How, at the size of a clinic's yearly export (50,000 rows): every row is read and checked first
(pure), the residents it names are looked up in bulk (``tabular_lookup``); encounters, observations
and examinations are then written set-based, a chunk per savepoint (``tabular_records``); residents
and follow-ups go one row per savepoint through the people and chronic services, whose rules
(ID checks, households, classification, next visit, referrals) they need. Accesses are audited
once per file, naming the residents whose record changed.

Idempotent: every row has a deterministic ``source_key`` (the uploading institution, the kind of
file and the row's 记录编号, or else its natural key: resident + time + type, see
:func:`tabular.row_key`). A row already stored unchanged is a duplicate and changes nothing.

What a changed row with the same key does (a correction), per kind:
- residents: the resident is found by ID number (else by the institution's MRN). A new MRN is
  linked to the resident; name, phone, address, community and disability are updated only when the
  uploading institution registered the resident (it owns the demographics); otherwise they are left
  as they are and the row counts as a duplicate.
- encounters, observations: the stored row's other fields are replaced (well defined: one row).
- physical examinations: the form's fields and its measurements are replaced.
- follow-ups: not corrected by a file — a follow-up has classified the visit, booked the next one
  and may have opened a referral; a changed row is rejected with that reason (correct it on the
  chronic page).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Final

from pydantic import ValidationError
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from healthbrain.auth import audit
from healthbrain.auth.roles import Permission
from healthbrain.auth.scope import Principal
from healthbrain.chronic import repository as chronic_repository
from healthbrain.chronic import service as chronic
from healthbrain.chronic.schemas import FollowUpIn
from healthbrain.chronic.schemas import MedicationIn as FollowUpMedication
from healthbrain.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from healthbrain.core.i18n import translate
from healthbrain.core.ingest import Rejects, RowError, validation_messages, verbatim_json
from healthbrain.core.time import local_today, utcnow
from healthbrain.geo.models import Division, Institution
from healthbrain.interop import tabular_repository as repository
from healthbrain.interop.tabular import (
    SPECS,
    Kind,
    ParsedRow,
    Spec,
    parse_medications,
    parse_row,
    resident_key,
    row_key,
)
from healthbrain.interop.tabular_files import FileProblem, error_report_xlsx, read_rows
from healthbrain.interop.tabular_lookup import (
    CORRECTED,
    INSERTED,
    UNCHANGED,
    Outcomes,
    Residents,
    Row,
    Upload,
    resident_of,
)
from healthbrain.interop.tabular_records import write_records
from healthbrain.interop.tabular_schemas import BatchOut, TableResult
from healthbrain.people import service as people
from healthbrain.people.models import Resident, ResidentIdentifier, ResidentStatus
from healthbrain.people.schemas import IdentifierIn, ResidentCreate, ResidentUpdate
from healthbrain.records.models import IngestBatch, IngestRejection

# What each kind of file writes, beyond the import permission itself.
KIND_PERMISSIONS: Final[dict[Kind, tuple[Permission, ...]]] = {
    Kind.RESIDENTS: (Permission.RESIDENT_WRITE,),
    Kind.ENCOUNTERS: (Permission.RECORD_WRITE,),
    Kind.OBSERVATIONS: (Permission.RECORD_WRITE,),
    Kind.EXAMS: (Permission.RECORD_WRITE,),
    Kind.FOLLOWUPS: (Permission.CHRONIC_MANAGE,),
}


def parse_kind(kind: str) -> Kind:
    try:
        return Kind(kind.removesuffix(".xlsx").removesuffix(".csv"))
    except ValueError:
        raise NotFound("tab.kind.unknown", kind=kind, known="、".join(k.value for k in Kind)) from None


def kinds_for(principal: Principal) -> list[Kind]:
    """The kinds of file a principal may upload (the page lists these)."""
    if not principal.can(Permission.RECORD_IMPORT):
        return []
    return [k for k in Kind if all(principal.can(p) for p in KIND_PERMISSIONS[k])]


def require_kind(principal: Principal, kind: Kind) -> None:
    principal.require(Permission.RECORD_IMPORT)
    for permission in KIND_PERMISSIONS[kind]:
        if not principal.can(permission):
            raise Forbidden("tab.kind.forbidden", kind=kind.value, permission=str(permission))


# --- residents (one row at a time: each goes through the people service's rules) ---------------------


class _Communities:
    """Communities named in a residents file (所属社区), looked up once per name."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._named: dict[str, Sequence[Division]] = {}

    def code(self, values: dict[str, Any]) -> str:
        if code := values.get("division_code"):
            return str(code)
        name = values["division_name"]
        if name not in self._named:
            self._named[name] = repository.communities_named(self.session, name)
        found = self._named[name]
        if not found:
            raise InvalidInput("tab.row.unknown_community", field="division_name", name=name)
        if len(found) > 1:
            raise InvalidInput(
                "tab.row.ambiguous_community", field="division_name", name=name, codes="、".join(d.code for d in found)
            )
        return found[0].code


def _write_resident(up: Upload, found: Residents, communities: _Communities, row: Row) -> tuple[str, int | None]:
    session, principal, values = up.session, up.principal, row.values
    existing: Resident | None = None
    if id_number := values.get("id_number"):
        existing = found.by_id_number(id_number)
    mrn = values.get("mrn")
    if mrn:
        owner = found.by_mrn(mrn)
        if existing is None and owner is not None and (not id_number or owner.id_number is None):
            existing = owner
        elif owner is not None and (existing is None or owner.id != existing.id):
            raise InvalidInput("tab.row.mrn_taken", field="mrn", mrn=mrn)
    division_code = communities.code(values)
    if existing is None:
        data = ResidentCreate(
            id_number=id_number,
            name=values["name"],
            sex=values.get("sex"),
            birth_date=values.get("birth_date"),
            phone=values.get("phone"),
            division_code=division_code,
            address=values.get("address"),
            household_code=values.get("household_code"),
            relation_to_head=values.get("relation_to_head"),
            disability=values.get("disability"),
            identifiers=[IdentifierIn(kind="mrn", system=up.institution.code, value=mrn)] if mrn else [],
        )
        created = people.create_resident(session, principal=principal, data=data)
        return INSERTED, created.id
    if existing.status != ResidentStatus.ACTIVE:
        raise Conflict("error.resident.not_active", field="id_number" if id_number else "mrn")
    changed = False
    if mrn and repository.identifier_of(session, existing.id, up.institution.code) is None:
        session.add(
            ResidentIdentifier(
                resident_id=existing.id,
                kind="mrn",
                system=up.institution.code,
                institution_id=up.institution.id,
                value=mrn,
            )
        )
        session.flush()
        audit.record(
            session, principal, "resident.identifier", resident_id=existing.id, detail={"mrn": up.institution.code}
        )
        changed = True
    if existing.registered_institution_id == up.institution.id:
        division = session.get(Division, existing.division_id)
        update = ResidentUpdate(
            name=values["name"] if values["name"] != existing.name else None,
            phone=values.get("phone") if values.get("phone") not in (None, existing.phone) else None,
            address=values.get("address") if values.get("address") not in (None, existing.address) else None,
            division_code=division_code if division is None or division.code != division_code else None,
            disability=values.get("disability")
            if values.get("disability") not in (None, existing.disability)
            else None,
        )
        if update.model_dump(exclude_none=True, exclude={"clear_disability"}):
            before = existing.version
            people.update_resident(session, principal=principal, resident_id=existing.id, data=update)
            changed = changed or existing.version != before
    return (CORRECTED if changed else UNCHANGED), existing.id


# --- follow-ups (one row at a time, through chronic.service.record_followup) -------------------------

_FOLLOWUP_COMPARED = ("method", "sbp", "dbp", "heart_rate", "weight_kg", "fasting_glucose", "smoking", "drinking")


def _write_followup(up: Upload, found: Residents, _communities: _Communities, row: Row) -> tuple[str, int | None]:
    session, values, key = up.session, row.values, row.key
    resident = resident_of(found, values)
    fields = {k: v for k, v in values.items() if k in FollowUpIn.model_fields and k != "medications"}
    data = FollowUpIn.model_validate(
        {
            **fields,
            "medications": [
                FollowUpMedication.model_validate(m) for m in parse_medications(values.get("medications", []))
            ],
            "source_key": key,
        }
    )
    existing = chronic_repository.followup_by_source_key(session, key)
    if existing is None:
        chronic.record_followup(session, principal=up.principal, resident_id=resident.id, data=data)
        return INSERTED, resident.id
    if existing.resident_id != resident.id:
        raise Conflict("error.record.source_key_taken", field="record_no")
    sent = data.model_dump(mode="json")
    stored = chronic.followup_out(existing).model_dump(mode="json")
    if any(sent.get(name) != stored.get(name) for name in _FOLLOWUP_COMPARED) or sorted(sent["symptoms"]) != sorted(
        stored["symptoms"]
    ):
        raise Conflict("tab.row.followup_locked", field="record_no" if values.get("record_no") else None)
    return UNCHANGED, resident.id


_ROW_WRITERS: Final[dict[Kind, Callable[[Upload, Residents, _Communities, Row], tuple[str, int | None]]]] = {
    Kind.RESIDENTS: _write_resident,
    Kind.FOLLOWUPS: _write_followup,
}


def _row_by_row(up: Upload, kind: Kind, rows: list[Row], found: Residents) -> Outcomes:
    """Residents and follow-ups: each row through its service, in a savepoint of its own (a row the
    service refuses half-way leaves nothing behind)."""
    outcomes = Outcomes()
    writer = _ROW_WRITERS[kind]
    communities = _Communities(up.session)
    for row in rows:
        try:
            with up.session.begin_nested():
                outcome, resident_id = writer(up, found, communities, row)
        except (DomainError, ValidationError, IntegrityError, DataError) as exc:
            outcomes.fail(row, exc)
        else:
            outcomes.ok(row, outcome, resident_id)
        finally:
            if kind == Kind.RESIDENTS:
                found.forget(row.values)  # the row may have created or linked what a later row names
    return outcomes


# Fields the services name, as the file's columns.
_FIELD_ALIASES: Final = {"value_num": "value", "value_text": "value", "identifiers": "mrn", "source_key": "record_no"}


def _column_of(spec: Spec, field: str | None) -> str | None:
    if field is None:
        return None
    parts = [p.split("[")[0] for p in field.split(".")]
    for part in (field, *reversed(parts)):
        if part in _FIELD_ALIASES:
            return _FIELD_ALIASES[part]
        if spec.column(part) is not None:
            return part
    return field


def _reasons(spec: Spec, error: Exception, language: str) -> list[tuple[str | None, str]]:
    """Why a row was refused, naming its column, in the uploader's language."""
    if isinstance(error, DomainError):
        return [(_column_of(spec, error.field), translate(error.key, language, **error.params))]
    if isinstance(error, ValidationError):
        return [(_column_of(spec, f), m) for f, m in validation_messages(error, language)]
    return [(None, translate("tab.row.unstorable", language))]  # the database refused it


# --- the file ----------------------------------------------------------------------------------------


def _institution_of(session: Session, principal: Principal) -> Institution:
    institution = (
        repository.institution_by_id(session, principal.institution_id)
        if principal.institution_id is not None
        else None
    )
    if institution is None:
        raise InvalidInput("tab.no_institution", field="institution")
    return institution


def read_file(kind: Kind, filename: str, content: bytes) -> list[tuple[int, dict[str, Any]]]:
    try:
        return read_rows(SPECS[kind], filename, content)
    except FileProblem as exc:
        raise InvalidInput(exc.key, field="file", **exc.params) from None


def import_table(
    session: Session, *, principal: Principal, kind: Kind, filename: str, content: bytes, language: str
) -> TableResult:
    """Import one file: every row checked on its own, the good ones written (set-based for
    encounters, observations and examinations); one batch recorded with its counts, every rejected
    row kept with its reasons, and one audit entry naming the residents whose record changed."""
    require_kind(principal, kind)
    up = Upload(session, principal, _institution_of(session, principal), language)
    spec = SPECS[kind]
    file_rows = read_file(kind, filename, content)
    today = local_today()
    rejects = Rejects()
    first_of_key: dict[str, int] = {}
    rows: list[Row] = []
    for number, raw in file_rows:
        parsed: ParsedRow = parse_row(spec, number, raw, today=today)
        if parsed.problems:
            rejects.add(number, raw, [(p.field, translate(p.key, language, **p.params)) for p in parsed.problems])
            continue
        key = (
            resident_key(parsed.values) if kind == Kind.RESIDENTS else row_key(kind, up.institution.code, parsed.values)
        )
        if key in first_of_key:
            rejects.add(number, raw, [(None, translate("tab.row.twice_in_file", language, row=first_of_key[key]))])
            continue
        first_of_key[key] = number
        rows.append(Row(number, raw, parsed.values, key))
    found = Residents(session, up.institution.code)
    found.prefetch(rows)
    outcomes = _row_by_row(up, kind, rows, found) if kind in _ROW_WRITERS else write_records(up, kind, rows, found)
    counts = {INSERTED: 0, CORRECTED: 0, UNCHANGED: 0}
    for _row, outcome in outcomes.done:
        counts[outcome] += 1
    for row, error in outcomes.failed:
        rejects.add(row.number, row.raw, _reasons(spec, error, language))
    batch = IngestBatch(
        channel=f"{repository.CHANNEL_PREFIX}{kind}",
        batch_key=None,  # a file sent again is imported again: its rows are duplicates, and say so
        user_id=principal.user_id or None,
        institution_id=up.institution.id,
        received_at=utcnow(),
        received=len(file_rows),
        inserted=counts[INSERTED],
        corrected=counts[CORRECTED],
        duplicates=counts[UNCHANGED],
        rejected=len(rejects.rows),
    )
    session.add(batch)
    session.flush()
    rejects.rows.sort(key=lambda r: r[0])
    session.add_all(
        IngestRejection(batch_id=batch.id, row_number=n, payload=verbatim_json(raw), errors=errs)
        for n, raw, errs in rejects.rows
    )
    session.flush()
    audit.record(
        session,
        principal,
        "interop.table_import",
        object_type="ingest_batch",
        object_id=batch.id,
        detail={
            "kind": kind.value,
            "file": filename[:100],
            "received": len(file_rows),
            **counts,
            "rejected": batch.rejected,
            # The residents whose record the file changed: one entry per file, not one per row.
            "residents": sorted(outcomes.written),
        },
    )
    return TableResult(
        batch_id=batch.id,
        kind=kind.value,
        received=batch.received,
        inserted=batch.inserted,
        corrected=batch.corrected,
        duplicates=batch.duplicates,
        rejected=batch.rejected,
        errors=sorted(rejects.errors, key=lambda e: e.row),
        error_report=error_report_link(batch.id) if batch.rejected else None,
    )


def error_report_link(batch_id: int) -> str:
    return f"/api/v1/import/batches/{batch_id}/errors.xlsx"


def _visible_batch(session: Session, principal: Principal, batch_id: int) -> IngestBatch:
    principal.require(Permission.RECORD_IMPORT)
    batch = repository.batch(session, batch_id)
    if batch is None or not (
        (principal.user_id and batch.user_id == principal.user_id)
        or (principal.institution_id is not None and batch.institution_id == principal.institution_id)
    ):
        raise NotFound("tab.batch.not_found", id=batch_id)
    return batch


def error_report(session: Session, *, principal: Principal, batch_id: int) -> tuple[str, bytes]:
    """The rejected rows of an upload (the uploader's, or their institution's) as an xlsx."""
    batch = _visible_batch(session, principal, batch_id)
    kind = Kind(batch.channel.removeprefix(repository.CHANNEL_PREFIX))
    rejected = [
        (r.row_number, _payload(r.payload), list(r.errors)) for r in repository.rejections_of(session, batch.id)
    ]
    audit.record(session, principal, "interop.error_report", object_type="ingest_batch", object_id=batch.id)
    return f"{kind.value}-{batch.id}-errors.xlsx", error_report_xlsx(SPECS[kind], rejected)


def _payload(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return {}


def batch_errors(session: Session, *, principal: Principal, batch_id: int) -> list[RowError]:
    batch = _visible_batch(session, principal, batch_id)
    return [
        RowError(row=r.row_number, field=e.get("field"), message=e.get("message", ""))
        for r in repository.rejections_of(session, batch.id)
        for e in r.errors
    ]


def recent_uploads(session: Session, *, principal: Principal) -> list[BatchOut]:
    principal.require(Permission.RECORD_IMPORT)
    return [
        BatchOut(
            id=b.id,
            kind=b.channel.removeprefix(repository.CHANNEL_PREFIX),
            received_at=b.received_at,
            received=b.received,
            inserted=b.inserted,
            corrected=b.corrected,
            duplicates=b.duplicates,
            rejected=b.rejected,
            error_report=error_report_link(b.id) if b.rejected else None,
        )
        for b in repository.recent_batches(
            session, institution_id=principal.institution_id, user_id=principal.user_id or None
        )
    ]
