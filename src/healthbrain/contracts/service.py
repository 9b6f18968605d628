"""Use cases of family-doctor contracting (家庭医生签约): packages, sign, renew, end, read, the team's
worklists, and what a merge of two residents does to their contracts.

Rules (``sign_contract``): the team must serve the resident's community (an administrator may sign
across); a resident holds one open contract at a time — signing again with the same team while one
covers the period is a 409 (renew instead), with another team a 409 unless ``change_team``, which ends
the old one (``end_reason`` changed_team) on the new one's first day; a ``source_key`` makes a resend
return the contract it created. Every write and every read of a resident's contracts is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from healthbrain.auth import audit
from healthbrain.auth.roles import Permission, Role, Scope
from healthbrain.auth.scope import Principal
from healthbrain.contracts import repository
from healthbrain.contracts.definitions import (
    DEFAULT_PACKAGES,
    EXPIRING_DAYS,
    MAX_FUTURE_START_DAYS,
    ContractFact,
    ContractStatus,
    EndReason,
    default_end,
    end_status,
    in_force,
    renewal_start,
    status_on,
)
from healthbrain.contracts.models import Contract, ContractConsent, ServicePackage
from healthbrain.contracts.schemas import (
    ConsentIn,
    ConsentOut,
    ContractOut,
    ExpiringPage,
    ExpiringRow,
    PackageOut,
    RecentRow,
    Ref,
    TeamOut,
    TeamWorklists,
    UncontractedPage,
    UncontractedRow,
)
from healthbrain.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from healthbrain.core.time import local_today, utcnow
from healthbrain.geo.models import CareTeam, Division
from healthbrain.people import repository as people_repository
from healthbrain.people.models import Resident, ResidentStatus
from healthbrain.people.populations import KeyPopulation

CONTRACT_LINK = "/api/v1/contracts/{id}"


def contract_link(contract_id: int) -> str:
    return CONTRACT_LINK.format(id=contract_id)


# --- who may ------------------------------------------------------------------------------------------------------
def _require_read(principal: Principal) -> None:
    principal.require(Permission.CONTRACT_READ)


def _require_manage(principal: Principal) -> None:
    """Family doctors and centre managers sign; an administrator (or a system job acting as one, such as
    an interface that receives EpisodeOfCare) may sign across teams, without the worklist pages."""
    if principal.role != Role.ADMIN:
        principal.require(Permission.CONTRACT_MANAGE)


def teams_for(session: Session, principal: Principal) -> list[CareTeam]:
    """The teams a user works for: a family doctor's own, a centre manager's centre's, every team for the
    administrator (and for district-wide roles, which only read)."""
    if principal.role == Role.CENTRE_MANAGER and principal.institution_id is not None:
        return list(repository.teams_of_centre(session, principal.institution_id))
    if principal.scope == Scope.ALL:
        return list(repository.all_teams(session))
    return [t for t in repository.teams_by_ids(session, principal.team_ids) if t.active]


def _team(session: Session, principal: Principal, team_id: int, *, field: str = "team_id") -> CareTeam:
    team = session.get(CareTeam, team_id)
    if team is None or not team.active:
        raise NotFound("error.contract.team_not_found", field=field, id=team_id)
    if principal.role != Role.ADMIN and team.id not in {t.id for t in teams_for(session, principal)}:
        raise Forbidden("error.contract.team_not_yours", field=field, team=team.name)
    return team


def _resident(session: Session, principal: Principal, resident_id: int, *, field: str = "resident_id") -> Resident:
    resident = people_repository.in_scope(session, principal, resident_id)
    if resident is None:
        if people_repository.exists_anywhere(session, resident_id):
            audit.record_refused(
                session, principal, "contract.resident", resident_id=resident_id, detail={"why": "out_of_scope"}
            )
        raise NotFound("error.resident.not_found", field=field, id=resident_id)
    return resident


# --- packages -----------------------------------------------------------------------------------------------------
def ensure_default_packages(session: Session) -> list[ServicePackage]:
    """Create the default service packages that are missing (by code); returns every active package.
    Idempotent: the demo, the simulator and the tests call it; a package edited since is left alone."""
    present = {p.code for p in repository.packages(session, active_only=False)}
    for definition in DEFAULT_PACKAGES:
        if definition.code not in present:
            session.add(
                ServicePackage(
                    code=definition.code,
                    name=definition.name,
                    description=definition.description,
                    population=definition.population,
                    annual_fee_yuan=definition.annual_fee_yuan,
                    active=True,
                )
            )
    session.flush()
    return list(repository.packages(session))


def package_out(package: ServicePackage) -> PackageOut:
    return PackageOut(
        code=package.code,
        name=package.name,
        description=package.description,
        population=package.population,
        annual_fee_yuan=package.annual_fee_yuan,
    )


def list_packages(session: Session, *, principal: Principal) -> list[PackageOut]:
    _require_read(principal)
    found = repository.packages(session)
    if not found:
        found = ensure_default_packages(session)
    return [package_out(p) for p in found]


def _package(session: Session, code: str, *, field: str = "package_code") -> ServicePackage:
    package = repository.package_by_code(session, code)
    if package is None and code in {d.code for d in DEFAULT_PACKAGES}:
        ensure_default_packages(session)
        package = repository.package_by_code(session, code)
    if package is None or not package.active:
        raise InvalidInput("error.contract.package_unknown", field=field, code=code)
    return package


# --- sign, renew, end ---------------------------------------------------------------------------------------------
def _fact(contract: Contract) -> ContractFact:
    return ContractFact(contract.status, contract.start_date, contract.end_date, contract.ended_on)


def _period(start: date, end: date | None, *, today: date) -> tuple[date, date]:
    if start > today + timedelta(days=MAX_FUTURE_START_DAYS):
        raise InvalidInput("error.contract.start_too_far", field="start_date", days=MAX_FUTURE_START_DAYS)
    last = end or default_end(start)
    if last < start:
        raise InvalidInput(
            "error.contract.end_before_start", field="end_date", start=start.isoformat(), end=last.isoformat()
        )
    return start, last


def _practitioner(session: Session, team: CareTeam, practitioner_id: int | None) -> int | None:
    if practitioner_id is None:
        return team.leader_id
    if not repository.is_member(session, team.id, practitioner_id):
        raise InvalidInput("error.contract.practitioner_not_member", field="practitioner_id", team=team.name)
    return practitioner_id


def _add_consent(session: Session, contract: Contract, consent: ConsentIn) -> ContractConsent:
    row = ContractConsent(
        contract_id=contract.id,
        resident_id=contract.resident_id,
        signer_name=consent.signer_name,
        signer_relation=consent.signer_relation,
        method=consent.method,
        signature=consent.signature,
        signed_at=utcnow(),
        status="active",
    )
    session.add(row)
    return row


def _end(contract: Contract, *, ended_on: date, reason: EndReason) -> None:
    contract.ended_on = ended_on
    contract.end_reason = reason.value
    contract.status = end_status(contract.start_date, ended_on).value


def _existing_by_key(session: Session, source_key: str | None, resident_id: int) -> Contract | None:
    if source_key is None:
        return None
    existing = repository.by_source_key(session, source_key)
    if existing is not None and existing.resident_id != resident_id:
        raise Conflict("error.contract.source_key_taken", field="source_key", link=contract_link(existing.id))
    return existing


def sign_contract(
    session: Session,
    *,
    principal: Principal,
    resident_id: int,
    team_id: int,
    package_code: str,
    start_date: date,
    end_date: date | None = None,
    practitioner_id: int | None = None,
    consent: ConsentIn | None = None,
    source_key: str | None = None,
    change_team: bool = False,
) -> Contract:
    """Sign a contract of a resident with a family-doctor team (FHIR EpisodeOfCare + Consent); see the
    module's rules. ``end_date`` defaults to one year (``definitions.default_end``); the signing doctor to
    the team's leader."""
    _require_manage(principal)
    if (existing := _existing_by_key(session, source_key, resident_id)) is not None:
        return existing
    resident = _resident(session, principal, resident_id)
    if resident.status != ResidentStatus.ACTIVE:
        raise Conflict("error.contract.resident_not_active", field="resident_id", status=resident.status)
    team = _team(session, principal, team_id)
    if principal.role != Role.ADMIN and not repository.team_serves(session, team.id, resident.division_id):
        raise InvalidInput("error.contract.team_not_serving", field="team_id", team=team.name)
    package = _package(session, package_code)
    doctor = _practitioner(session, team, practitioner_id)
    first, last = _period(start_date, end_date, today=local_today())
    ended: list[int] = []
    for other in repository.open_overlapping(session, resident.id, first, last):
        if other.team_id == team.id:
            raise Conflict(
                "error.contract.already_active",
                link=contract_link(other.id),
                contract_id=other.id,
                end=other.end_date.isoformat(),
            )
        if not change_team:
            other_team = session.get(CareTeam, other.team_id)
            raise Conflict(
                "error.contract.active_with_other_team",
                link=contract_link(other.id),
                contract_id=other.id,
                team=other_team.name if other_team else other.team_id,
            )
        _end(other, ended_on=max(first, other.start_date), reason=EndReason.CHANGED_TEAM)
        ended.append(other.id)
    contract = _create(
        session,
        principal=principal,
        resident=resident,
        team=team,
        package=package,
        practitioner_id=doctor,
        first=first,
        last=last,
        consent=consent,
        source_key=source_key,
        renewed_from_id=None,
    )
    audit.record(
        session,
        principal,
        "contract.sign",
        resident_id=resident.id,
        object_type="contract",
        object_id=contract.id,
        detail={"team": team.id, "package": package.code, "ended": ended} if ended else {"team": team.id},
    )
    return contract


def _create(
    session: Session,
    *,
    principal: Principal,
    resident: Resident,
    team: CareTeam,
    package: ServicePackage,
    practitioner_id: int | None,
    first: date,
    last: date,
    consent: ConsentIn | None,
    source_key: str | None,
    renewed_from_id: int | None,
) -> Contract:
    now = utcnow()
    contract = Contract(
        resident_id=resident.id,
        team_id=team.id,
        practitioner_id=practitioner_id,
        package_id=package.id,
        status=ContractStatus.ACTIVE.value,
        start_date=first,
        end_date=last,
        signed_at=now,
        renewed_from_id=renewed_from_id,
        created_by_id=principal.user_id or None,
        created_at=now,
        source_key=source_key,
    )
    session.add(contract)
    session.flush()
    if consent is not None:
        _add_consent(session, contract, consent)
        session.flush()
    return contract


def _contract_for_write(session: Session, principal: Principal, contract_id: int) -> tuple[Contract, Resident]:
    _require_manage(principal)
    contract = session.get(Contract, contract_id)
    if contract is None:
        raise NotFound("error.contract.not_found", id=contract_id)
    resident = _resident(session, principal, contract.resident_id)
    _team(session, principal, contract.team_id)
    return contract, resident


def renew_contract(
    session: Session,
    *,
    principal: Principal,
    contract_id: int,
    start_date: date | None = None,
    end_date: date | None = None,
    package_code: str | None = None,
    practitioner_id: int | None = None,
    consent: ConsentIn | None = None,
    source_key: str | None = None,
) -> Contract:
    """A new contract with the same team that follows the old one (``renewed_from_id``) with a new
    signature. It starts the day after the old end date; a contract that lapsed before yesterday is renewed
    from today (the gap stays visible)."""
    contract, resident = _contract_for_write(session, principal, contract_id)
    if (existing := _existing_by_key(session, source_key, resident.id)) is not None:
        return existing
    if contract.status != ContractStatus.ACTIVE or contract.ended_on is not None:
        raise Conflict("error.contract.not_renewable", field="contract_id", status=contract.status)
    if (renewal := repository.renewal_of(session, contract.id)) is not None:
        raise Conflict("error.contract.already_renewed", link=contract_link(renewal.id), contract_id=renewal.id)
    if resident.status != ResidentStatus.ACTIVE:
        raise Conflict("error.contract.resident_not_active", field="resident_id", status=resident.status)
    today = local_today()
    earliest = renewal_start(contract.end_date)
    first = start_date or max(earliest, today)
    if first < earliest:
        raise InvalidInput(
            "error.contract.renewal_overlaps",
            field="start_date",
            earliest=earliest.isoformat(),
            start=first.isoformat(),
        )
    first, last = _period(first, end_date, today=today)
    for other in repository.open_overlapping(session, resident.id, first, last):
        raise Conflict(
            "error.contract.already_active",
            link=contract_link(other.id),
            contract_id=other.id,
            end=other.end_date.isoformat(),
        )
    team = session.get(CareTeam, contract.team_id)
    assert team is not None
    package = _package(session, package_code) if package_code else session.get(ServicePackage, contract.package_id)
    assert package is not None
    doctor = _practitioner(session, team, practitioner_id) if practitioner_id else contract.practitioner_id
    renewed = _create(
        session,
        principal=principal,
        resident=resident,
        team=team,
        package=package,
        practitioner_id=doctor,
        first=first,
        last=last,
        consent=consent,
        source_key=source_key,
        renewed_from_id=contract.id,
    )
    audit.record(
        session,
        principal,
        "contract.renew",
        resident_id=resident.id,
        object_type="contract",
        object_id=renewed.id,
        detail={"from": contract.id},
    )
    return renewed


def end_contract(
    session: Session, *, principal: Principal, contract_id: int, reason: str, ended_on: date | None = None
) -> Contract:
    """End a contract (moved, died, withdrew …): ``ended_on`` is the first day it no longer covers (default
    today). Before its start, the contract is cancelled; otherwise finished. Its signatures become inactive."""
    contract, resident = _contract_for_write(session, principal, contract_id)
    try:
        why = EndReason(reason)
    except ValueError:
        raise InvalidInput("error.contract.bad_end_reason", field="reason", reason=reason[:24]) from None
    if contract.status != ContractStatus.ACTIVE or contract.ended_on is not None:
        raise Conflict("error.contract.already_ended", field="contract_id", status=contract.status)
    on = ended_on or local_today()
    if on > contract.end_date + timedelta(days=1):
        raise InvalidInput(
            "error.contract.ended_after_end", field="ended_on", end=contract.end_date.isoformat(), ended=on.isoformat()
        )
    _end(contract, ended_on=on, reason=why)
    for consent in repository.consents_of(session, [contract.id]).get(contract.id, []):
        consent.status = "inactive"
    session.flush()
    audit.record(
        session,
        principal,
        "contract.end",
        resident_id=resident.id,
        object_type="contract",
        object_id=contract.id,
        detail={"reason": why.value, "ended_on": on.isoformat()},
    )
    return contract


# --- read ---------------------------------------------------------------------------------------------------------
def get_contract(session: Session, *, principal: Principal, contract_id: int) -> Contract:
    """One contract, if its resident is in the caller's scope (audited)."""
    _require_read(principal)
    contract = session.get(Contract, contract_id)
    if contract is None:
        raise NotFound("error.contract.not_found", id=contract_id)
    _resident(session, principal, contract.resident_id)
    audit.record(
        session,
        principal,
        "contract.read",
        resident_id=contract.resident_id,
        object_type="contract",
        object_id=contract.id,
    )
    return contract


def resident_contracts(session: Session, *, principal: Principal, resident_id: int) -> tuple[Resident, list[Contract]]:
    """A resident's contract history, newest first (audited)."""
    _require_read(principal)
    resident = _resident(session, principal, resident_id)
    audit.record(session, principal, "contract.history", resident_id=resident.id)
    return resident, repository.contracts_of(session, resident.id)


def contracts_out(session: Session, contracts: Sequence[Contract], *, on: date | None = None) -> list[ContractOut]:
    """Contracts with their team, doctor, package, signatures and renewal, in a fixed number of queries."""
    on = on or local_today()
    ids = [c.id for c in contracts]
    teams = {t.id: t for t in repository.teams_by_ids(session, sorted({c.team_id for c in contracts}))}
    doctors = repository.practitioners_by_id(session, {c.practitioner_id for c in contracts if c.practitioner_id})
    packages = repository.packages_by_id(session, {c.package_id for c in contracts})
    consents = repository.consents_of(session, ids)
    renewals = repository.renewals_of(session, ids)
    residents = {r.id: r for r in (session.get(Resident, rid) for rid in {c.resident_id for c in contracts}) if r}
    out = []
    for c in contracts:
        team = teams[c.team_id]
        doctor = doctors.get(c.practitioner_id) if c.practitioner_id else None
        out.append(
            ContractOut(
                id=c.id,
                resident_id=c.resident_id,
                resident_name=residents[c.resident_id].name,
                team=Ref(id=team.id, code=team.code, name=team.name),
                practitioner=Ref(id=doctor.id, code=doctor.code, name=doctor.name) if doctor else None,
                package=package_out(packages[c.package_id]),
                status=c.status,
                status_today=status_on(_fact(c), on),
                start_date=c.start_date,
                end_date=c.end_date,
                signed_at=c.signed_at,
                renewed_from_id=c.renewed_from_id,
                renewed_by_id=renewals.get(c.id),
                ended_on=c.ended_on,
                end_reason=c.end_reason,
                source_key=c.source_key,
                consents=[
                    ConsentOut(
                        id=s.id,
                        signer_name=s.signer_name,
                        signer_relation=s.signer_relation,
                        method=s.method,
                        signature=s.signature,
                        signed_at=s.signed_at,
                        status=s.status,
                    )
                    for s in consents.get(c.id, [])
                ],
                link=contract_link(c.id),
            )
        )
    return out


def is_in_force(contract: Contract, on: date) -> bool:
    return in_force(_fact(contract), on)


# --- the team's worklists -----------------------------------------------------------------------------------------
def team_outs(session: Session, teams: Sequence[CareTeam]) -> list[TeamOut]:
    communities = repository.team_communities(session, [t.id for t in teams])
    names = repository.institution_names(session, {t.home_institution_id for t in teams})
    return [
        TeamOut(
            id=t.id,
            code=t.code,
            name=t.name,
            institution=names.get(t.home_institution_id, ""),
            communities=[d.name for d in communities.get(t.id, [])],
        )
        for t in teams
    ]


def my_teams(session: Session, *, principal: Principal) -> list[TeamOut]:
    _require_read(principal)
    return team_outs(session, teams_for(session, principal))


@dataclass(frozen=True, slots=True)
class WorklistQuery:
    population: KeyPopulation | None = None
    within_days: int = EXPIRING_DAYS
    offset: int = 0
    limit: int = 20
    expiring_offset: int = 0


def team_worklists(
    session: Session, *, principal: Principal, team_id: int, query: WorklistQuery, on: date | None = None
) -> TeamWorklists:
    """A team's two worklists on a day (default today): the key-population residents of its communities
    without a contract in force (all populations, or one), and its contracts ending within
    ``within_days`` not yet renewed; with counts per population and the latest signatures."""
    _require_read(principal)
    team = _team(session, principal, team_id)
    on = on or local_today()
    communities = [d.id for d in repository.team_communities(session, [team.id]).get(team.id, [])]
    populations = [query.population] if query.population else list(KeyPopulation)
    residents, total = repository.uncontracted(
        session,
        principal,
        communities=communities,
        populations=populations,
        on=on,
        offset=query.offset,
        limit=query.limit,
    )
    counts = {
        p.value: repository.count_uncontracted(session, principal, communities=communities, population=p, on=on)
        for p in KeyPopulation
    }
    contracted = repository.count_contracted(session, principal, communities=communities, on=on)
    expiring, expiring_total = repository.expiring(
        session,
        principal,
        team_id=team.id,
        on=on,
        until=on + timedelta(days=query.within_days),
        offset=query.expiring_offset,
        limit=query.limit,
    )
    recent = repository.recent(session, principal, team_id=team.id, limit=10)
    audit.record(
        session,
        principal,
        "contract.worklist",
        object_type="care_team",
        object_id=team.id,
        detail={"population": query.population.value if query.population else None, "rows": len(residents)},
    )
    return TeamWorklists(
        team=team_outs(session, [team])[0],
        on=on,
        within_days=query.within_days,
        population=query.population.value if query.population else None,
        contracted=contracted,
        uncontracted_by_population=counts,
        uncontracted=UncontractedPage(
            items=_uncontracted_rows(session, residents, on), total=total, offset=query.offset, limit=query.limit
        ),
        expiring=ExpiringPage(
            items=_expiring_rows(session, expiring, on),
            total=expiring_total,
            offset=query.expiring_offset,
            limit=query.limit,
        ),
        recent=_recent_rows(session, recent),
    )


def _uncontracted_rows(session: Session, residents: Sequence[Resident], on: date) -> list[UncontractedRow]:
    from healthbrain.people.service import summaries  # people.service imports this module (merge)

    last = repository.last_contracts(session, [r.id for r in residents])
    rows = []
    for summary in summaries(session, residents, on=on):
        previous = last.get(summary.id)
        renewable = previous is not None and previous.status == ContractStatus.ACTIVE and previous.ended_on is None
        rows.append(
            UncontractedRow(
                resident_id=summary.id,
                name=summary.name,
                sex=summary.sex,
                age=summary.age,
                division=summary.division.name,
                phone_masked=summary.phone_masked,
                key_populations=summary.key_populations,
                last_contract_id=previous.id if previous is not None and renewable else None,
                last_end_date=previous.end_date if previous is not None else None,
            )
        )
    return rows


def _expiring_rows(session: Session, rows: Sequence[tuple[Contract, Resident]], on: date) -> list[ExpiringRow]:
    from healthbrain.people.service import summaries

    packages = repository.packages_by_id(session, {c.package_id for c, _ in rows})
    by_id = {s.id: s for s in summaries(session, [r for _, r in rows], on=on)}
    return [
        ExpiringRow(
            contract_id=c.id,
            resident_id=r.id,
            name=r.name,
            sex=r.sex,
            age=by_id[r.id].age,
            division=by_id[r.id].division.name,
            package=packages[c.package_id].name,
            end_date=c.end_date,
            days_left=(c.end_date - on).days,
            key_populations=by_id[r.id].key_populations,
        )
        for c, r in rows
    ]


def _recent_rows(session: Session, rows: Sequence[tuple[Contract, Resident]]) -> list[RecentRow]:
    packages = repository.packages_by_id(session, {c.package_id for c, _ in rows})
    consents = repository.consents_of(session, [c.id for c, _ in rows])
    return [
        RecentRow(
            contract_id=c.id,
            resident_id=r.id,
            name=r.name,
            package=packages[c.package_id].name,
            start_date=c.start_date,
            end_date=c.end_date,
            signed_at=c.signed_at,
            renewal=c.renewed_from_id is not None,
            signer_name=consents[c.id][-1].signer_name if consents.get(c.id) else None,
        )
        for c, r in rows
    ]


def community_of(session: Session, resident: Resident) -> Division | None:
    return session.get(Division, resident.division_id)


# --- merge and unmerge --------------------------------------------------------------------------------------------
def settle_before_merge(session: Session, *, principal: Principal, survivor_id: int, merged_id: int) -> list[int]:
    """Before a merge moves the duplicate's contracts to the survivor: each open contract of the duplicate
    that overlaps an open contract of the survivor is ended (``end_reason`` merged, from today or its first
    day), so the survivor keeps one open contract — its own. Returns the ended ids (unmerge reopens them)."""
    keep = repository.open_contracts(session, survivor_id)
    ended: list[int] = []
    today = local_today()
    for contract in repository.open_contracts(session, merged_id):
        if any(k.start_date <= contract.end_date and contract.start_date <= k.end_date for k in keep):
            _end(contract, ended_on=max(today, contract.start_date), reason=EndReason.MERGED)
            ended.append(contract.id)
    if ended:
        session.flush()
        audit.record(
            session,
            principal,
            "contract.end",
            resident_id=merged_id,
            object_type="contract",
            object_id=ended[0],
            detail={"reason": EndReason.MERGED.value, "into": survivor_id, "contracts": ended},
        )
    return ended


def reopen_after_unmerge(session: Session, *, contract_ids: Sequence[int]) -> list[int]:
    """After an unmerge has moved a duplicate's contracts back: those a merge ended are open again."""
    reopened = []
    for contract in repository.contracts_by_ids(session, contract_ids):
        if contract.end_reason == EndReason.MERGED.value:
            contract.status = ContractStatus.ACTIVE.value
            contract.ended_on = None
            contract.end_reason = None
            reopened.append(contract.id)
    session.flush()
    return reopened
