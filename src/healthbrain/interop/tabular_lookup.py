"""What the rows of an uploaded file refer to, looked up in bulk before anything is written: the
residents (by ID number, and by the uploading institution's MRN, following merges), the
institutions and practitioners named by code, and whether the uploader may write for each resident.

The checks raise the same domain errors, in the same order, as the per-row services did
(``records.service.writable_resident``, ``_institution``, ``_practitioner``), so a row is refused
with the same reason whichever path wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy.orm import Session

from healthbrain.auth import audit
from healthbrain.auth.roles import Permission, Scope
from healthbrain.auth.scope import Principal
from healthbrain.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from healthbrain.geo.models import Institution
from healthbrain.interop import tabular_repository as repository
from healthbrain.people import service as people
from healthbrain.people.models import Resident, ResidentStatus

INSERTED: Final = "inserted"
CORRECTED: Final = "corrected"
UNCHANGED: Final = "unchanged"


@dataclass
class Upload:
    session: Session
    principal: Principal
    institution: Institution
    language: str


@dataclass
class Row:
    """A row that read: its line in the file, the cells as sent, the typed values and its key."""

    number: int
    raw: dict[str, Any]
    values: dict[str, Any]
    key: str


@dataclass
class Outcomes:
    """What became of each row written: its outcome, or the error that refused it."""

    done: list[tuple[Row, str]] = field(default_factory=list)
    failed: list[tuple[Row, Exception]] = field(default_factory=list)
    written: set[int] = field(default_factory=set)  # residents whose record a row changed

    def ok(self, row: Row, outcome: str, resident_id: int | None = None) -> None:
        self.done.append((row, outcome))
        if resident_id is not None and outcome != UNCHANGED:
            self.written.add(resident_id)

    def fail(self, row: Row, error: Exception) -> None:
        self.failed.append((row, error))


class Residents:
    """The residents a file names, fetched in bulk (one query per 900 ID numbers, one per 900 MRNs
    of the uploading institution) and followed to the record they were merged into. A name not
    fetched is looked up when asked; :meth:`forget` drops what a written row may have changed."""

    def __init__(self, session: Session, system: str) -> None:
        self.session = session
        self.system = system
        self._by_id: dict[str, Resident | None] = {}
        self._by_mrn: dict[str, Resident | None] = {}
        self._held: list[Resident] = []  # merge targets, kept alive in the identity map

    def prefetch(self, rows: Iterable[Row]) -> None:
        numbers = {str(v) for r in rows if (v := r.values.get("id_number"))}
        mrns = {str(v) for r in rows if (v := r.values.get("mrn"))}
        found_ids = repository.residents_by_id_numbers(self.session, numbers)
        found_mrns = repository.residents_by_identifiers(self.session, self.system, mrns)
        self._follow_merges([*found_ids.values(), *found_mrns.values()])
        self._by_id.update({n: found_ids.get(n) for n in numbers})
        self._by_mrn.update({m: found_mrns.get(m) for m in mrns})

    def _follow_merges(self, residents: list[Resident]) -> None:
        """Load every record along the merge chains at once, so that ``survivor`` finds them in the
        identity map instead of asking one at a time."""
        loaded = {r.id for r in residents}
        wanted = {r.merged_into_id for r in residents if r.merged_into_id is not None} - loaded
        while wanted:
            targets = repository.residents_by_ids(self.session, wanted)
            self._held.extend(targets)
            loaded |= wanted
            wanted = {r.merged_into_id for r in targets if r.merged_into_id is not None} - loaded

    def by_id_number(self, number: str) -> Resident | None:
        if number not in self._by_id:
            self._by_id[number] = repository.resident_by_id_number(self.session, number)
        found = self._by_id[number]
        return repository.survivor(self.session, found) if found is not None else None

    def by_mrn(self, mrn: str) -> Resident | None:
        if mrn not in self._by_mrn:
            self._by_mrn[mrn] = repository.resident_by_identifier(self.session, self.system, mrn)
        found = self._by_mrn[mrn]
        return repository.survivor(self.session, found) if found is not None else None

    def forget(self, values: Mapping[str, Any]) -> None:
        if number := values.get("id_number"):
            self._by_id.pop(str(number), None)
        if mrn := values.get("mrn"):
            self._by_mrn.pop(str(mrn), None)


def resident_of(residents: Residents, values: Mapping[str, Any]) -> Resident:
    """The resident a record row is about: by ID number, else by the institution's MRN; a name,
    when given, must be the record's (a mistyped ID must not file data under somebody else)."""
    by_id = by_mrn = None
    if id_number := values.get("id_number"):
        by_id = residents.by_id_number(id_number)
    if mrn := values.get("mrn"):
        by_mrn = residents.by_mrn(mrn)
    if id_number and by_id is None:
        if by_mrn is not None and by_mrn.id_number is None:
            by_id = by_mrn
        elif by_mrn is not None:
            raise InvalidInput("tab.row.id_mrn_mismatch", field="mrn")
        else:
            raise InvalidInput("tab.row.unknown_resident", field="id_number")
    if by_id is not None and by_mrn is not None and by_id.id != by_mrn.id:
        raise InvalidInput("tab.row.id_mrn_mismatch", field="mrn")
    resident = by_id or by_mrn
    if resident is None:
        raise InvalidInput("tab.row.unknown_mrn", field="mrn", mrn=mrn)
    if (name := values.get("name")) and name.strip() != resident.name:
        raise InvalidInput("tab.row.name_mismatch", field="name")
    return resident


class Directory:
    """Institutions and practitioners named by code in a file, fetched in one query each."""

    def __init__(self, session: Session, principal: Principal, rows: Iterable[Row]) -> None:
        rows = list(rows)
        self.principal = principal
        self._institutions = repository.institution_ids(
            session, {str(v) for r in rows if (v := r.values.get("institution_code"))}
        )
        self._practitioners = repository.practitioner_ids(
            session, {str(v) for r in rows if (v := r.values.get("practitioner_code"))}
        )

    def institution_id(self, code: str | None) -> int | None:
        """The row's institution (the uploader's when the cell is empty), as ``records.service``."""
        if code is None:
            return self.principal.institution_id
        found = self._institutions.get(code)
        if found is None:
            raise InvalidInput("error.unknown_institution_code", field="institution_code", code=code)
        return found

    def practitioner_id(self, code: str | None) -> int | None:
        if code is None:
            return None
        found = self._practitioners.get(code)
        if found is None:
            raise InvalidInput("error.unknown_practitioner_code", field="practitioner_code", code=code)
        return found


class Writable:
    """Whether the uploader may add clinical data to each resident (``records.service.writable_resident``
    for a whole file): institution-bound submitters for any active resident of the district,
    everybody else within their scope, asked in one query per 900 residents.

    Accesses are audited per file, not per row: :meth:`audit` records one refusal per resident
    outside the uploader's scope (as reading it one at a time would have)."""

    def __init__(self, session: Session, principal: Principal, residents: Iterable[Resident]) -> None:
        self.session = session
        self.principal = principal
        self.refused: set[int] = set()
        ids = {r.id for r in residents}
        self._forbidden = principal.scope != Scope.INSTITUTION and not principal.can(Permission.RESIDENT_READ)
        if principal.scope == Scope.INSTITUTION or self._forbidden:
            self._visible = ids
        else:
            self._visible = people.ids_in_scope(session, principal, ids)

    def check(self, resident: Resident) -> None:
        if self._forbidden:
            raise Forbidden("error.forbidden_permission", permission=str(Permission.RESIDENT_READ))
        if resident.id not in self._visible:
            self.refused.add(resident.id)
            raise NotFound("error.resident.not_found", id=resident.id)
        if resident.status != ResidentStatus.ACTIVE:
            raise Conflict(
                "error.resident.not_active", link=people.resident_link(resident.merged_into_id or resident.id)
            )

    def audit(self) -> None:
        for resident_id in sorted(self.refused):
            audit.record_refused(
                self.session, self.principal, "record.write", resident_id=resident_id, detail={"why": "out_of_scope"}
            )
