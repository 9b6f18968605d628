"""Every query of the directory (divisions, institutions, practitioners, teams)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthbrain.geo.models import (
    CareTeam,
    CareTeamCommunity,
    CareTeamMember,
    Division,
    Institution,
    InstitutionCatchment,
    Practitioner,
    SchoolClass,
)


def division_by_code(session: Session, code: str) -> Division | None:
    return session.scalar(select(Division).where(Division.code == code))


def divisions(session: Session, *, parent_id: int | None = None, level: str | None = None) -> Sequence[Division]:
    stmt = select(Division).order_by(Division.code)
    if parent_id is not None:
        stmt = stmt.where(Division.parent_id == parent_id)
    if level is not None:
        stmt = stmt.where(Division.level == level)
    return session.scalars(stmt).all()


def district(session: Session) -> Division | None:
    return session.scalar(select(Division).where(Division.level == "district").order_by(Division.code).limit(1))


def institution_by_code(session: Session, code: str) -> Institution | None:
    return session.scalar(select(Institution).where(Institution.code == code))


def institutions(
    session: Session, *, kind: str | None, division_ids: Sequence[int] | None, limit: int, offset: int
) -> Sequence[Institution]:
    stmt = select(Institution).order_by(Institution.kind, Institution.code)
    if kind:
        stmt = stmt.where(Institution.kind == kind)
    if division_ids is not None:
        stmt = stmt.where(Institution.division_id.in_(division_ids))
    return session.scalars(stmt.limit(limit).offset(offset)).all()


def institution_counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Institution.kind, func.count()).group_by(Institution.kind)).all())


def catchment(session: Session, institution_id: int) -> Sequence[Division]:
    """The communities an institution is responsible for."""
    return session.scalars(
        select(Division)
        .join(InstitutionCatchment, InstitutionCatchment.division_id == Division.id)
        .where(InstitutionCatchment.institution_id == institution_id)
        .order_by(Division.code)
    ).all()


def school_classes(session: Session, school_id: int) -> Sequence[SchoolClass]:
    return session.scalars(
        select(SchoolClass).where(SchoolClass.school_id == school_id).order_by(SchoolClass.grade, SchoolClass.name)
    ).all()


def practitioner_by_code(session: Session, code: str) -> Practitioner | None:
    return session.scalar(select(Practitioner).where(Practitioner.code == code))


def practitioners(session: Session, *, institution_id: int | None, limit: int, offset: int) -> Sequence[Practitioner]:
    stmt = select(Practitioner).order_by(Practitioner.code)
    if institution_id is not None:
        stmt = stmt.where(Practitioner.institution_id == institution_id)
    return session.scalars(stmt.limit(limit).offset(offset)).all()


def team_by_code(session: Session, code: str) -> CareTeam | None:
    return session.scalar(select(CareTeam).where(CareTeam.code == code))


def teams(
    session: Session, *, institution_id: int | None, team_ids: Sequence[int] | None, limit: int, offset: int
) -> Sequence[CareTeam]:
    stmt = select(CareTeam).order_by(CareTeam.code)
    if institution_id is not None:
        stmt = stmt.where(CareTeam.home_institution_id == institution_id)
    if team_ids is not None:
        stmt = stmt.where(CareTeam.id.in_(team_ids))
    return session.scalars(stmt.limit(limit).offset(offset)).all()


def team_members(session: Session, team_ids: Sequence[int]) -> Sequence[tuple[int, int, str, str]]:
    """(team id, practitioner id, practitioner name, role) rows."""
    if not team_ids:
        return []
    return session.execute(
        select(CareTeamMember.team_id, Practitioner.id, Practitioner.name, CareTeamMember.role)
        .join(Practitioner, Practitioner.id == CareTeamMember.practitioner_id)
        .where(CareTeamMember.team_id.in_(team_ids))
        .order_by(CareTeamMember.team_id, CareTeamMember.role, Practitioner.name)
    ).all()


def team_communities(session: Session, team_ids: Sequence[int]) -> Sequence[tuple[int, int, str, str]]:
    """(team id, division id, code, name) rows."""
    if not team_ids:
        return []
    return session.execute(
        select(CareTeamCommunity.team_id, Division.id, Division.code, Division.name)
        .join(Division, Division.id == CareTeamCommunity.division_id)
        .where(CareTeamCommunity.team_id.in_(team_ids))
        .order_by(CareTeamCommunity.team_id, Division.code)
    ).all()


def division_by_id(session: Session, division_id: int) -> Division | None:
    return session.get(Division, division_id)


def institution_by_id(session: Session, institution_id: int) -> Institution | None:
    return session.get(Institution, institution_id)


def parents(session: Session, *, level: str) -> dict[int, int | None]:
    """Division id → parent id for one level (no polygons loaded)."""
    return {d: p for d, p in session.execute(select(Division.id, Division.parent_id).where(Division.level == level))}
