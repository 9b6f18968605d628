"""FHIR search parameters → SQL over the platform's tables, always through the caller's scope.

Supported per type (also listed in the CapabilityStatement, from :data:`PARAMETERS`): ``_id``,
``_count``, ``_offset`` everywhere; ``identifier`` (system|value) on Patient, Organization,
Practitioner and CareTeam; ``patient``/``subject`` on everything about a resident; ``code``
(system|code); ``date`` with the prefixes eq, ne, ge, le, gt, lt (a date alone covers its day);
``_lastUpdated`` on Patient and the kept-verbatim types. Comma-separated values are OR, repeated
parameters AND.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, not_, or_, select
from sqlalchemy.orm import Session

from healthbrain.auth.scope import Principal, scoped
from healthbrain.contracts.models import Contract
from healthbrain.geo.models import CareTeam, CareTeamMember, Institution, Practitioner
from healthbrain.interop.fhir import keys, refs
from healthbrain.interop.fhir.parse import ENCOUNTER_CLASSES, OUR_ENCOUNTER_CLASSES, Issue, parse_instant
from healthbrain.interop.fhir.render import VITAL_SIGNS
from healthbrain.interop.models import FhirResource
from healthbrain.people.models import Resident, ResidentIdentifier
from healthbrain.people.resident_id import ResidentIdError, parse
from healthbrain.records.models import Condition, Encounter, MedicationStatement, Observation
from healthbrain.records.models import Immunization as ImmunizationRow

COMMON = ("_id", "_count", "_offset", "_format")
PARAMETERS: dict[str, tuple[str, ...]] = {
    "Patient": ("identifier", "name", "birthdate", "gender", "_lastUpdated"),
    "Organization": ("identifier", "name", "partof"),
    "Practitioner": ("identifier", "name"),
    "CareTeam": ("identifier", "name", "status"),
    "EpisodeOfCare": ("patient", "subject", "status", "date", "care-manager", "team"),
    "Encounter": ("patient", "subject", "date", "class"),
    "Observation": ("patient", "subject", "code", "date", "category", "encounter"),
    "Condition": ("patient", "subject", "code", "clinical-status", "onset-date"),
    "MedicationStatement": ("patient", "subject", "code", "status", "effective"),
    "Immunization": ("patient", "date", "vaccine-code", "status"),
}
VERBATIM_PARAMETERS = ("patient", "subject", "_lastUpdated")
MODELS: dict[str, Any] = {
    "Patient": Resident,
    "Organization": Institution,
    "Practitioner": Practitioner,
    "CareTeam": CareTeam,
    "EpisodeOfCare": Contract,
    "Encounter": Encounter,
    "Observation": Observation,
    "Condition": Condition,
    "MedicationStatement": MedicationStatement,
    "Immunization": ImmunizationRow,
}
DIRECTORY = frozenset({"Organization", "Practitioner", "CareTeam"})
_PREFIXES = ("eq", "ne", "ge", "le", "gt", "lt", "sa", "eb")


class BadSearch(Exception):
    def __init__(self, issue: Issue) -> None:
        self.issue = issue
        super().__init__(issue.key)


def _bad(name: str, msg: str) -> BadSearch:
    return BadSearch(Issue(name, "fhir.error.bad_search", {"name": name, "msg": msg}))


def token(raw: str) -> tuple[str | None, str | None]:
    """(system, code) of a token value: ``system|code``, ``|code``, ``code`` or ``system|``."""
    if "|" in raw:
        system, _, code = raw.partition("|")
        return system or None, code or None
    return None, raw or None


def date_range(name: str, raw: str) -> tuple[str, datetime, datetime]:
    """(prefix, start, end) of a date search value: the instants the given precision covers."""
    prefix = raw[:2] if raw[:2] in _PREFIXES else "eq"
    value = raw[2:] if raw[:2] in _PREFIXES else raw
    try:
        start = parse_instant(value)
    except ValueError:
        raise _bad(name, f"'{raw}' is not a date") from None
    if len(value) == 4:
        end = start.replace(year=start.year + 1)
    elif len(value) == 7:
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    elif len(value) == 10:
        end = start + timedelta(days=1)
    else:
        end = start + timedelta(seconds=1)
    return prefix, start, end


def date_clause(name: str, column: Any, raw: str, *, is_date: bool) -> Any:
    prefix, start, end = date_range(name, raw)
    lo: Any = start.date() if is_date else start
    hi: Any = end.date() if is_date else end
    if is_date and hi == lo:
        hi = lo + timedelta(days=1)
    match prefix:
        case "eq":
            return and_(column >= lo, column < hi)
        case "ne":
            return or_(column < lo, column >= hi)
        case "ge":
            return column >= lo
        case "gt" | "sa":
            return column >= hi
        case "le":
            return column < hi
        case _:  # lt, eb
            return column < lo


def _ids(name: str, raw: str) -> list[int]:
    out = []
    for part in raw.split(","):
        if not part.isdigit() or len(part) > 18:
            return []
        out.append(int(part))
    return out


def _any(values: Sequence[ColumnElement[bool]]) -> ColumnElement[bool]:
    return or_(*values) if values else false()


@dataclass
class Query:
    resource_type: str
    statement: Select[Any]
    verbatim: bool


def _patient_ids(session: Session, sender: str, raw: str) -> list[int]:
    """Residents a ``patient``/``subject`` value names (same rule as references)."""
    out: list[int] = []
    for part in raw.split(","):
        found = refs.resolve_patient(session, sender=sender, reference=part if "/" in part else f"Patient/{part}")
        if found is not None:
            out.append(found)
    return out


def _patient_identifier(raw: str) -> ColumnElement[bool]:
    clauses = []
    for part in raw.split(","):
        system, value = token(part)
        if value is None:
            continue
        if system == keys.RESIDENT_ID_SYSTEM or system is None:
            try:
                number = parse(value).number
            except ResidentIdError:
                number = value
            clauses.append(Resident.id_number == number)
        if system != keys.RESIDENT_ID_SYSTEM:
            match = [ResidentIdentifier.resident_id == Resident.id, ResidentIdentifier.value == value[:64]]
            if system is not None:
                match.append(ResidentIdentifier.system == system[:64])
            clauses.append(exists(select(ResidentIdentifier.id).where(*match)))
    return _any(clauses)


def _code_clause(column: Any, raw: str) -> Any:
    return _any([column == code for _system, code in (token(p) for p in raw.split(",")) if code])


def build(
    session: Session, principal: Principal, resource_type: str, params: list[tuple[str, str]], *, sender: str
) -> Query:
    """The scoped SELECT of a search (rows of the type's table, or of ``fhir_resource``)."""
    verbatim = resource_type not in MODELS
    model: Any = FhirResource if verbatim else MODELS[resource_type]
    allowed = PARAMETERS.get(resource_type, VERBATIM_PARAMETERS) + COMMON
    stmt: Select[Any] = select(model)
    if verbatim:
        stmt = stmt.where(FhirResource.resource_type == resource_type)
    for name, raw in params:
        base = name.split(":", 1)[0]
        if base not in allowed:
            raise BadSearch(Issue(name, "fhir.error.unknown_search", {"name": name}))
        if base in ("_count", "_offset", "_format"):
            continue
        stmt = stmt.where(_clause(session, resource_type, model, base, raw, sender=sender, verbatim=verbatim))
    # Scope: resident data through the one scope helper; the directory is open to DIRECTORY_READ.
    if resource_type == "Patient":
        stmt = scoped(stmt, principal)
    elif resource_type not in DIRECTORY:
        if verbatim:
            stmt = stmt.where(FhirResource.resident_id.is_not(None))
        stmt = scoped(stmt.join(Resident, Resident.id == model.resident_id), principal)
    return Query(resource_type, stmt, verbatim)


def _clause(
    session: Session, resource_type: str, model: Any, name: str, raw: str, *, sender: str, verbatim: bool
) -> Any:
    if name == "_id":
        if verbatim or (resource_type == "Observation" and not raw.replace(",", "").isdigit()):
            return FhirResource.logical_id.in_(raw.split(",")) if verbatim else false()
        return model.id.in_(_ids(name, raw))
    if name in ("patient", "subject"):
        return model.resident_id.in_(_patient_ids(session, sender, raw))
    if name == "_lastUpdated":
        column = FhirResource.last_updated if verbatim else Resident.updated_at
        return date_clause(name, column, raw, is_date=False)
    match resource_type, name:
        case "Patient", "identifier":
            return _patient_identifier(raw)
        case "Patient", "name":
            return Resident.name.contains(raw, autoescape=True)
        case "Patient", "birthdate":
            return date_clause(name, Resident.birth_date, raw, is_date=True)
        case "Patient", "gender":
            return Resident.sex.in_([{"male": "M", "female": "F"}.get(v, "?") for v in raw.split(",")])
        case (("Organization" | "Practitioner" | "CareTeam"), "identifier"):
            return _code_clause(model.code, raw)
        case (("Organization" | "Practitioner" | "CareTeam"), "name"):
            return model.name.contains(raw, autoescape=True)
        case "Organization", "partof":
            return Institution.parent_id.in_(_ids(name, raw.rsplit("/", 1)[-1]))
        case "CareTeam", "status":
            return CareTeam.active.is_(raw == "active")
        case "EpisodeOfCare", "status":
            return Contract.status.in_(raw.split(","))
        case "EpisodeOfCare", "date":
            return date_clause(name, Contract.start_date, raw, is_date=True)
        case "EpisodeOfCare", "care-manager":
            return Contract.practitioner_id.in_(_ids(name, raw.rsplit("/", 1)[-1]))
        case "EpisodeOfCare", "team":
            return Contract.team_id.in_(_ids(name, raw.rsplit("/", 1)[-1]))
        case "Encounter", "date":
            return date_clause(name, Encounter.start_at, raw, is_date=False)
        case "Encounter", "class":
            wanted = set()
            for part in raw.split(","):
                _system, code = token(part)
                if code in OUR_ENCOUNTER_CLASSES:
                    wanted.add(code)
                elif code in ENCOUNTER_CLASSES:
                    wanted.add(ENCOUNTER_CLASSES[code])
            return Encounter.encounter_class.in_(sorted(wanted))
        case "Observation", "code":
            return _code_clause(Observation.code, raw)
        case "Observation", "date":
            return date_clause(name, Observation.effective_at, raw, is_date=False)
        case "Observation", "category":
            codes = {token(p)[1] for p in raw.split(",")}
            clauses = []
            if "vital-signs" in codes:
                clauses.append(Observation.code.in_(sorted(VITAL_SIGNS)))
            if "laboratory" in codes:
                clauses.append(not_(Observation.code.in_(sorted(VITAL_SIGNS))))
            return _any(clauses)
        case "Observation", "encounter":
            return Observation.encounter_id.in_(_ids(name, raw.rsplit("/", 1)[-1]))
        case "Condition", "code":
            return _code_clause(Condition.code, raw.upper())
        case "Condition", "clinical-status":
            return Condition.clinical_status.in_(raw.split(","))
        case "Condition", "onset-date":
            return date_clause(name, Condition.onset_date, raw, is_date=True)
        case "MedicationStatement", "code":
            return _code_clause(MedicationStatement.code, raw)
        case "MedicationStatement", "status":
            return MedicationStatement.status.in_(raw.split(","))
        case "MedicationStatement", "effective":
            return date_clause(name, MedicationStatement.start_date, raw, is_date=True)
        case "Immunization", "date":
            return date_clause(name, ImmunizationRow.occurrence_date, raw, is_date=True)
        case "Immunization", "vaccine-code":
            return _code_clause(ImmunizationRow.vaccine_code, raw)
        case "Immunization", "status":
            return ImmunizationRow.status.in_(raw.split(","))
    raise BadSearch(Issue(name, "fhir.error.unknown_search", {"name": name}))


def page(session: Session, query: Query, *, offset: int, count: int) -> tuple[int, list[Any]]:
    """(total, the rows of one page) in a stable order."""
    total = session.scalar(select(func.count()).select_from(query.statement.order_by(None).subquery())) or 0
    model = FhirResource if query.verbatim else MODELS[query.resource_type]
    rows = session.scalars(query.statement.order_by(model.id).offset(offset).limit(count)).all()
    return int(total), list(rows)


def team_members(session: Session, team_ids: list[int]) -> dict[int, list[CareTeamMember]]:
    out: dict[int, list[CareTeamMember]] = {t: [] for t in team_ids}
    if team_ids:
        for m in session.scalars(
            select(CareTeamMember).where(CareTeamMember.team_id.in_(team_ids)).order_by(CareTeamMember.practitioner_id)
        ):
            out[m.team_id].append(m)
    return out
