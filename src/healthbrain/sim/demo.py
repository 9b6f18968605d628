"""Demo logins: one user per role, bound to sensible places of the synthetic district."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from healthbrain.auth import repository as auth_repository
from healthbrain.auth.roles import Role
from healthbrain.auth.schemas import UserCreate
from healthbrain.auth.service import create_user
from healthbrain.chronic.models import HomeDevice
from healthbrain.chronic.readings import token_hash
from healthbrain.db import Database
from healthbrain.geo.models import CareTeam, CareTeamMember, Institution, Practitioner
from healthbrain.interop.tabular_repository import CHANNEL_PREFIX as TABLE_CHANNEL
from healthbrain.records.models import IngestBatch
from healthbrain.sim.home_monitoring import DEMO_TOKENS, device_token
from healthbrain.sim.models import SimulationRun


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    bound_to: str


@dataclass(frozen=True)
class DemoDevice:
    device_id: str
    kind: str
    token: str  # bearer token for POST /api/v1/chronic/device-readings?device_id=…
    resident_id: int


def demo_devices(database: Database, *, count: int = DEMO_TOKENS) -> list[DemoDevice]:
    """The first simulated home devices (of the first team, the demo doctor's) with their tokens,
    derived again from the seed of the latest simulation; a device rebound since is left out
    (its token no longer matches the stored hash)."""
    with database.sessionmaker() as session:
        run = session.scalar(select(SimulationRun).order_by(SimulationRun.id.desc()).limit(1))
        if run is None:
            return []
        devices = session.scalars(
            select(HomeDevice).where(HomeDevice.resident_id.is_not(None)).order_by(HomeDevice.id).limit(count)
        ).all()
        out = []
        for d in devices:
            token = device_token(run.seed, d.device_id)
            if d.resident_id is not None and token_hash(token) == d.token_hash:
                out.append(DemoDevice(d.device_id, d.kind, token, d.resident_id))
        return out


def ensure_demo_users(database: Database, *, password: str) -> list[DemoLogin]:
    """Create the demo users that do not exist yet; return every demo login."""
    logins: list[DemoLogin] = []
    with database.unit_of_work() as session:
        team = session.scalar(select(CareTeam).order_by(CareTeam.id).limit(1))
        lead = (
            session.scalar(
                select(Practitioner)
                .join(CareTeamMember, CareTeamMember.practitioner_id == Practitioner.id)
                .where(CareTeamMember.team_id == team.id, CareTeamMember.role == "lead_gp")
            )
            if team
            else None
        )
        centre = session.get(Institution, team.home_institution_id) if team else None
        hospital = session.scalar(
            select(Institution).where(Institution.kind == "hospital").order_by(Institution.id).limit(1)
        )
        school = session.scalar(
            select(Institution)
            .where(Institution.kind == "school", Institution.subtype == "primary")
            .order_by(Institution.id)
            .limit(1)
        )
        plan: list[tuple[Role, str, str, int | None, int | None, str]] = [
            (Role.ADMIN, "admin", "系统管理员", None, None, "—"),
            (Role.BUREAU, "bureau", "卫健局 王科长", None, None, "—"),
            (Role.CDC, "cdc", "疾控中心 李医师", None, None, "—"),
        ]
        if centre is not None:
            plan.append((Role.CENTRE_MANAGER, "centre", f"{centre.name} 主任", centre.id, None, centre.name))
            plan.append((Role.DEVICE, "device", "血压计 BP-0001", centre.id, None, centre.name))
        if lead is not None and team is not None:
            plan.append((Role.FAMILY_DOCTOR, "doctor", f"{lead.name} 医生", None, lead.id, team.name))
        if hospital is not None:
            plan.append((Role.DATA_SUBMITTER, "submitter", f"{hospital.name} 信息科", hospital.id, None, hospital.name))
        if school is not None:
            plan.append((Role.DATA_SUBMITTER, "school", f"{school.name} 校医", school.id, None, school.name))
        # The clinic whose Excel upload had rows refused (sim/record_feeds.py): its upload history
        # shows them with their reasons and the error report.
        clinic = session.scalar(
            select(Institution)
            .join(IngestBatch, IngestBatch.institution_id == Institution.id)
            .where(IngestBatch.channel.like(f"{TABLE_CHANNEL}%"), IngestBatch.rejected > 0)
            .order_by(IngestBatch.id)
            .limit(1)
        )
        if clinic is not None:
            plan.append((Role.DATA_SUBMITTER, "clinic", f"{clinic.name} 数据报送员", clinic.id, None, clinic.name))
        for role, username, display, institution_id, practitioner_id, bound in plan:
            if auth_repository.user_by_username(session, username) is None:
                data = UserCreate(
                    username=username,
                    display_name=display,
                    password=password,
                    role=role,
                    institution_id=institution_id,
                    practitioner_id=practitioner_id,
                )
                create_user(session, actor=None, data=data)
            logins.append(DemoLogin(str(role), username, bound))
    return logins
