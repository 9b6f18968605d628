"""Use cases of the directory: read and maintain divisions, institutions, practitioners, teams."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.orm import Session

from healthbrain.auth import audit
from healthbrain.auth.roles import Permission
from healthbrain.auth.scope import Principal
from healthbrain.core.errors import Conflict, InvalidInput, NotFound
from healthbrain.geo import repository
from healthbrain.geo.codes import DivisionCodeError, parse_division_code
from healthbrain.geo.geometry import centroid_of
from healthbrain.geo.models import (
    CareTeam,
    CareTeamCommunity,
    CareTeamMember,
    Division,
    Institution,
    InstitutionCatchment,
    Practitioner,
)
from healthbrain.geo.schemas import (
    CareTeamIn,
    CareTeamOut,
    DivisionIn,
    InstitutionIn,
    PractitionerIn,
    TeamMemberOut,
)


def get_division(session: Session, *, principal: Principal, code: str) -> Division:
    principal.require(Permission.DIRECTORY_READ)
    division = repository.division_by_code(session, code)
    if division is None:
        raise NotFound("error.division.unknown", code=code)
    return division


def create_division(session: Session, *, principal: Principal, data: DivisionIn) -> Division:
    principal.require(Permission.DIRECTORY_WRITE)
    try:
        parsed = parse_division_code(data.code)
    except DivisionCodeError as exc:
        raise InvalidInput(f"error.division_code.{exc.reason}", field="code", code=data.code) from None
    if repository.division_by_code(session, data.code) is not None:
        raise Conflict("error.division.exists", field="code", code=data.code)
    parent = None
    if parsed.parent_code is not None:
        parent = repository.division_by_code(session, parsed.parent_code)
        if parent is None:
            raise InvalidInput("error.division.parent_missing", field="code", code=parsed.parent_code)
    try:
        centroid = centroid_of(data.polygon) if data.polygon else None
    except (ValueError, TypeError, KeyError, AttributeError):
        raise InvalidInput("error.division.bad_polygon", field="polygon") from None
    division = Division(
        code=parsed.code,
        gb2260=parsed.gb2260,
        name=data.name,
        level=parsed.level,
        kind=parsed.kind,
        parent_id=parent.id if parent else None,
        polygon=json.dumps(data.polygon, ensure_ascii=False) if data.polygon else None,
        centroid_lon=centroid[0] if centroid else None,
        centroid_lat=centroid[1] if centroid else None,
    )
    session.add(division)
    session.flush()
    audit.record(session, principal, "directory.division.create", object_type="division", object_id=division.code)
    return division


def _division_or_422(session: Session, code: str, field: str) -> Division:
    division = repository.division_by_code(session, code)
    if division is None:
        raise InvalidInput("error.division.unknown", field=field, code=code)
    return division


def _institution_or_422(session: Session, code: str, field: str) -> Institution:
    institution = repository.institution_by_code(session, code)
    if institution is None:
        raise InvalidInput("error.unknown_institution_code", field=field, code=code)
    return institution


def create_institution(session: Session, *, principal: Principal, data: InstitutionIn) -> Institution:
    principal.require(Permission.DIRECTORY_WRITE)
    if repository.institution_by_code(session, data.code) is not None:
        raise Conflict("error.institution.exists", field="code", code=data.code)
    division = _division_or_422(session, data.division_code, "division_code")
    parent = _institution_or_422(session, data.parent_code, "parent_code") if data.parent_code else None
    catchment = [
        _division_or_422(session, code, f"catchment_codes[{i}]") for i, code in enumerate(data.catchment_codes)
    ]
    for i, community in enumerate(catchment):
        if community.level != "community":
            raise InvalidInput("error.division.not_community", field=f"catchment_codes[{i}]", code=community.code)
    institution = Institution(
        code=data.code,
        name=data.name,
        kind=data.kind,
        subtype=data.subtype,
        division_id=division.id,
        parent_id=parent.id if parent else None,
        address=data.address,
        lon=data.lon if data.lon is not None else division.centroid_lon,
        lat=data.lat if data.lat is not None else division.centroid_lat,
        active=True,
    )
    session.add(institution)
    session.flush()
    session.add_all(InstitutionCatchment(institution_id=institution.id, division_id=c.id) for c in catchment)
    session.flush()
    audit.record(session, principal, "directory.institution.create", object_type="institution", object_id=data.code)
    return institution


def create_practitioner(session: Session, *, principal: Principal, data: PractitionerIn) -> Practitioner:
    principal.require(Permission.DIRECTORY_WRITE)
    if repository.practitioner_by_code(session, data.code) is not None:
        raise Conflict("error.practitioner.exists", field="code", code=data.code)
    institution = _institution_or_422(session, data.institution_code, "institution_code")
    practitioner = Practitioner(
        code=data.code,
        name=data.name,
        sex=data.sex,
        profession=data.profession,
        institution_id=institution.id,
        phone=data.phone,
        active=True,
    )
    session.add(practitioner)
    session.flush()
    audit.record(session, principal, "directory.practitioner.create", object_type="practitioner", object_id=data.code)
    return practitioner


def create_team(session: Session, *, principal: Principal, data: CareTeamIn) -> CareTeam:
    principal.require(Permission.DIRECTORY_WRITE)
    if repository.team_by_code(session, data.code) is not None:
        raise Conflict("error.team.exists", field="code", code=data.code)
    home = _institution_or_422(session, data.home_institution_code, "home_institution_code")
    members: list[tuple[Practitioner, str]] = []
    for i, member in enumerate(data.members):
        practitioner = repository.practitioner_by_code(session, member.practitioner_code)
        if practitioner is None:
            raise InvalidInput(
                "error.unknown_practitioner_code",
                field=f"members[{i}].practitioner_code",
                code=member.practitioner_code,
            )
        members.append((practitioner, member.role))
    communities = [
        _division_or_422(session, code, f"community_codes[{i}]") for i, code in enumerate(data.community_codes)
    ]
    for i, community in enumerate(communities):
        if community.level != "community":
            raise InvalidInput("error.division.not_community", field=f"community_codes[{i}]", code=community.code)
    leader = next((p for p, role in members if role == "lead_gp"), None)
    team = CareTeam(
        code=data.code,
        name=data.name,
        home_institution_id=home.id,
        leader_id=leader.id if leader else None,
        active=True,
    )
    session.add(team)
    session.flush()
    session.add_all(CareTeamMember(team_id=team.id, practitioner_id=p.id, role=role) for p, role in members)
    session.add_all(CareTeamCommunity(team_id=team.id, division_id=c.id) for c in communities)
    session.flush()
    audit.record(session, principal, "directory.team.create", object_type="care_team", object_id=data.code)
    return team


def teams_out(session: Session, teams: Sequence[CareTeam]) -> list[CareTeamOut]:
    ids = [t.id for t in teams]
    members: dict[int, list[TeamMemberOut]] = defaultdict(list)
    for team_id, pid, name, role in repository.team_members(session, ids):
        members[team_id].append(TeamMemberOut(practitioner_id=pid, name=name, role=role))
    communities: dict[int, list[str]] = defaultdict(list)
    for team_id, _did, code, _name in repository.team_communities(session, ids):
        communities[team_id].append(code)
    return [
        CareTeamOut(
            id=t.id,
            code=t.code,
            name=t.name,
            home_institution_id=t.home_institution_id,
            leader_id=t.leader_id,
            members=members[t.id],
            community_codes=communities[t.id],
        )
        for t in teams
    ]


def get_institution(session: Session, *, principal: Principal, code: str) -> Institution:
    principal.require(Permission.DIRECTORY_READ)
    institution = repository.institution_by_code(session, code)
    if institution is None:
        raise NotFound("error.institution.unknown", code=code)
    return institution
