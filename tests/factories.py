"""Factories with clinical helpers, and a small fixed world every test can rely on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import count

from sqlalchemy.orm import Session

from healthbrain.auth.models import AppUser
from healthbrain.auth.roles import Role
from healthbrain.auth.security import hash_password
from healthbrain.auth.service import issue_token
from healthbrain.core.time import local_today
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
from healthbrain.people.models import Household, Resident
from healthbrain.people.resident_id import check_character
from healthbrain.records import codes
from healthbrain.records.models import Condition, Observation

PASSWORD = "password-123"
_serial = count(100)


def resident_id_number(birth: date, *, male: bool, address: str = "330199", serial: int | None = None) -> str:
    """A valid GB 11643 number for a birth date and sex."""
    n = next(_serial) if serial is None else serial
    seq = (n * 2 + (1 if male else 0)) % 1000
    if seq % 2 != (1 if male else 0):
        seq = (seq + 1) % 1000
    first17 = f"{address}{birth:%Y%m%d}{seq:03d}"
    return first17 + check_character(first17)


@dataclass
class World:
    """Ids of the fixed directory, users and residents (see ``build_world``)."""

    divisions: dict[str, int] = field(default_factory=dict)  # name -> id
    codes: dict[str, str] = field(default_factory=dict)  # name -> division code
    institutions: dict[str, int] = field(default_factory=dict)
    institution_codes: dict[str, str] = field(default_factory=dict)
    practitioners: dict[str, int] = field(default_factory=dict)
    teams: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    residents: dict[str, int] = field(default_factory=dict)
    id_numbers: dict[str, str] = field(default_factory=dict)


def _division(
    session: Session, world: World, key: str, code: str, name: str, level: str, kind: str, parent: str | None
) -> None:
    square = [[120.0, 30.0], [120.1, 30.0], [120.1, 30.1], [120.0, 30.1], [120.0, 30.0]]
    d = Division(
        code=code,
        gb2260=code[:6],
        name=name,
        level=level,
        kind=kind,
        parent_id=world.divisions[parent] if parent else None,
        polygon='{"type": "Polygon", "coordinates": [' + str(square) + "]}",
        centroid_lon=120.05,
        centroid_lat=30.05,
    )
    session.add(d)
    session.flush()
    world.divisions[key] = d.id
    world.codes[key] = code


def _institution(
    session: Session,
    world: World,
    key: str,
    code: str,
    name: str,
    kind: str,
    division: str,
    catchment: tuple[str, ...] = (),
    parent: str | None = None,
) -> None:
    i = Institution(
        code=code,
        name=name,
        kind=kind,
        division_id=world.divisions[division],
        parent_id=world.institutions[parent] if parent else None,
        active=True,
        lon=120.05,
        lat=30.05,
    )
    session.add(i)
    session.flush()
    session.add_all(InstitutionCatchment(institution_id=i.id, division_id=world.divisions[c]) for c in catchment)
    world.institutions[key] = i.id
    world.institution_codes[key] = code


def add_resident(
    session: Session,
    *,
    community_id: int,
    name: str = "张三",
    birth: date = date(1960, 5, 1),
    male: bool = True,
    registered_at: int | None = None,
    household_id: int | None = None,
    disability: str | None = None,
    phone: str | None = "13812345678",
) -> Resident:
    now = datetime.now(UTC)
    r = Resident(
        id_number=resident_id_number(birth, male=male),
        name=name,
        sex="M" if male else "F",
        birth_date=birth,
        phone=phone,
        division_id=community_id,
        address="测试路1号",
        household_id=household_id,
        disability=disability,
        status="active",
        registered_institution_id=registered_at,
        record_created_on=local_today(),
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(r)
    session.flush()
    return r


def hypertensive(session: Session, resident: Resident, *, onset: date | None = None) -> Condition:
    c = Condition(
        resident_id=resident.id,
        code="I10",
        display="原发性高血压",
        clinical_status="active",
        onset_date=onset or date(2015, 1, 1),
        recorded_at=datetime.now(UTC),
    )
    session.add(c)
    session.flush()
    return c


def pregnant(session: Session, resident: Resident, *, weeks: int = 12) -> Condition:
    c = Condition(
        resident_id=resident.id,
        code="Z34.9",
        display="妊娠",
        clinical_status="active",
        onset_date=local_today() - timedelta(weeks=weeks),
        recorded_at=datetime.now(UTC),
    )
    session.add(c)
    session.flush()
    return c


def blood_pressure(
    session: Session, resident: Resident, systolic: float, diastolic: float, *, at: datetime | None = None
) -> None:
    at = at or datetime.now(UTC)
    session.add_all(
        [
            Observation(
                resident_id=resident.id,
                code=codes.SYSTOLIC_BP,
                value_num=systolic,
                unit="mm[Hg]",
                effective_at=at,
                status="final",
            ),
            Observation(
                resident_id=resident.id,
                code=codes.DIASTOLIC_BP,
                value_num=diastolic,
                unit="mm[Hg]",
                effective_at=at,
                status="final",
            ),
        ]
    )
    session.flush()


def build_world(session: Session) -> World:
    """A small district: two towns, four communities, a centre per town, a station, a hospital, a
    school, three family-doctor teams, one user per role and a few residents in each community."""
    w = World()
    _division(session, w, "district", "330199000000", "测试区", "district", "district", None)
    _division(session, w, "town_a", "330199001000", "东湖街道", "town", "street", "district")
    _division(session, w, "town_b", "330199100000", "西山镇", "town", "town", "district")
    _division(session, w, "a1", "330199001001", "青山社区", "community", "community", "town_a")
    _division(session, w, "a2", "330199001002", "绿水社区", "community", "community", "town_a")
    _division(session, w, "b1", "330199100001", "西山社区", "community", "community", "town_b")
    _division(session, w, "b2", "330199100201", "桃源村", "community", "village", "town_b")
    _institution(session, w, "hospital", "H33019901", "测试区第一人民医院", "hospital", "town_a")
    _institution(session, w, "chc_a", "C330199001", "东湖街道社区卫生服务中心", "chc", "a1", ("a1", "a2"))
    _institution(session, w, "chs_a1", "S330199001001", "青山社区卫生服务站", "chs", "a1", ("a1",), parent="chc_a")
    _institution(session, w, "chc_b", "C330199100", "西山镇社区卫生服务中心", "chc", "b1", ("b1", "b2"))
    _institution(session, w, "school", "E3301990001", "青山小学", "school", "a1")
    _institution(session, w, "cdc", "CDC330199", "测试区疾病预防控制中心", "cdc", "town_a")
    _institution(session, w, "pharmacy", "P3301990001", "老百姓大药房（绿水店）", "pharmacy", "a2")
    session.add(SchoolClass(school_id=w.institutions["school"], grade=1, name="一年级1班", enrolled=42))
    session.add(SchoolClass(school_id=w.institutions["school"], grade=1, name="一年级2班", enrolled=40))
    for key, name, profession, inst in (
        ("gp_a1", "刘医生", "gp", "chc_a"),
        ("gp_a2", "陈医生", "gp", "chc_a"),
        ("nurse_a", "周护士", "nurse", "chc_a"),
        ("gp_b", "吴医生", "gp", "chc_b"),
        ("physician", "郑医生", "physician", "hospital"),
    ):
        p = Practitioner(
            code=f"D-{key}", name=name, sex="M", profession=profession, institution_id=w.institutions[inst], active=True
        )
        session.add(p)
        session.flush()
        w.practitioners[key] = p.id
    for key, home, members, communities in (
        ("team_a1", "chc_a", (("gp_a1", "lead_gp"), ("nurse_a", "nurse")), ("a1",)),
        ("team_a2", "chc_a", (("gp_a2", "lead_gp"), ("nurse_a", "nurse")), ("a2",)),
        ("team_b", "chc_b", (("gp_b", "lead_gp"),), ("b1", "b2")),
    ):
        t = CareTeam(
            code=f"T-{key}",
            name=f"{key}团队",
            home_institution_id=w.institutions[home],
            leader_id=w.practitioners[members[0][0]],
            active=True,
        )
        session.add(t)
        session.flush()
        session.add_all(CareTeamMember(team_id=t.id, practitioner_id=w.practitioners[p], role=r) for p, r in members)
        session.add_all(CareTeamCommunity(team_id=t.id, division_id=w.divisions[c]) for c in communities)
        w.teams[key] = t.id
    password_hash = hash_password(PASSWORD)
    for username, role, inst, prac in (
        ("admin", Role.ADMIN, None, None),
        ("bureau", Role.BUREAU, None, None),
        ("cdc", Role.CDC, "cdc", None),
        ("centre_a", Role.CENTRE_MANAGER, "chc_a", None),
        ("doctor_a1", Role.FAMILY_DOCTOR, "chc_a", "gp_a1"),
        ("doctor_b", Role.FAMILY_DOCTOR, "chc_b", "gp_b"),
        ("submitter", Role.DATA_SUBMITTER, "hospital", None),
        ("school", Role.DATA_SUBMITTER, "school", None),
        ("pharmacy", Role.DATA_SUBMITTER, "pharmacy", None),
        ("device", Role.DEVICE, "chc_a", None),
    ):
        u = AppUser(
            username=username,
            display_name=username,
            password_hash=password_hash,
            role=str(role),
            institution_id=w.institutions[inst] if inst else None,
            practitioner_id=w.practitioners[prac] if prac else None,
            active=True,
            failed_logins=0,
            created_at=datetime.now(UTC),
        )
        session.add(u)
        session.flush()
        w.users[username] = u.id
        w.tokens[username] = issue_token(session, actor=None, user=u, label="tests", days=30).token
    hh = Household(code="HH-A1-1", division_id=w.divisions["a1"], address="青山社区1幢")
    session.add(hh)
    session.flush()
    people = (
        ("a1_elder", "a1", "王大爷", date(1950, 3, 2), True, "chs_a1", hh.id),
        ("a1_wife", "a1", "李阿姨", date(1952, 7, 9), False, "chs_a1", hh.id),
        ("a1_child", "a1", "王小明", local_today() - timedelta(days=3 * 365), True, "chs_a1", None),
        ("a2_adult", "a2", "赵女士", date(1990, 1, 15), False, "chc_a", None),
        ("b1_adult", "b1", "孙先生", date(1975, 11, 30), True, "chc_b", None),
        ("b2_villager", "b2", "钱大妈", date(1948, 12, 12), False, "chc_b", None),
    )
    for key, community, name, birth, male, registered, household in people:
        r = add_resident(
            session,
            community_id=w.divisions[community],
            name=name,
            birth=birth,
            male=male,
            registered_at=w.institutions[registered],
            household_id=household,
        )
        w.residents[key] = r.id
        w.id_numbers[key] = r.id_number or ""
    elder = session.get(Resident, w.residents["a1_elder"])
    assert elder is not None
    hypertensive(session, elder)
    blood_pressure(session, elder, 150, 92)
    return w
