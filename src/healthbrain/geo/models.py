"""Divisions (GB/T 2260 + 12-digit statistical codes), institutions, practitioners, teams."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from healthbrain.core.types import BigIntPK
from healthbrain.db import Base


class DivisionLevel(StrEnum):
    DISTRICT = "district"  # 区/县
    TOWN = "town"  # 乡镇/街道
    COMMUNITY = "community"  # 社区/村


class InstitutionKind(StrEnum):
    HOSPITAL = "hospital"  # 医院
    CHC = "chc"  # 社区卫生服务中心 (community health centre)
    CHS = "chs"  # 社区卫生服务站 (community health station)
    VILLAGE_CLINIC = "village_clinic"  # 村卫生室
    SCHOOL = "school"  # 学校/幼儿园
    PHARMACY = "pharmacy"  # 药店
    CDC = "cdc"  # 疾控中心
    EMERGENCY_STATION = "emergency_station"  # 急救站


class Division(Base):
    """An administrative division: district → town/street → community/village (区 → 街道/镇 → 社区/村)."""

    __tablename__ = "division"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)  # 12-digit statistical code
    gb2260: Mapped[str] = mapped_column(String(6))  # six-digit county code (GB/T 2260)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # district / street / town / community / village
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("division.id"), index=True)
    polygon: Mapped[str | None] = mapped_column(Text)  # GeoJSON geometry (Polygon/MultiPolygon), WGS84
    centroid_lon: Mapped[float | None] = mapped_column(Float)
    centroid_lat: Mapped[float | None] = mapped_column(Float)


class Institution(Base):
    __tablename__ = "institution"
    __table_args__ = (Index("ix_institution_kind_division", "kind", "division_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(24))
    subtype: Mapped[str | None] = mapped_column(String(32))  # hospital grade, school stage …
    division_id: Mapped[int] = mapped_column(ForeignKey("division.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(256))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class InstitutionCatchment(Base):
    """Communities a community health centre or station is responsible for (服务辖区)."""

    __tablename__ = "institution_catchment"

    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), primary_key=True)
    division_id: Mapped[int] = mapped_column(ForeignKey("division.id"), primary_key=True, index=True)


class SchoolClass(Base):
    """A class of a school (年级/班级) with its enrolment."""

    __tablename__ = "school_class"
    __table_args__ = (UniqueConstraint("school_id", "grade", "name"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    grade: Mapped[int] = mapped_column(Integer)  # 0-2 kindergarten, 1-6 primary, 7-9 junior, 10-12 senior
    name: Mapped[str] = mapped_column(String(32))
    enrolled: Mapped[int] = mapped_column(Integer)


class Practitioner(Base):
    __tablename__ = "practitioner"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    sex: Mapped[str] = mapped_column(String(1))
    profession: Mapped[str] = mapped_column(String(24))  # gp, physician, nurse, public_health, pharmacist
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CareTeam(Base):
    """A family-doctor team (家庭医生团队): members, home centre, communities served."""

    __tablename__ = "care_team"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    home_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CareTeamMember(Base):
    __tablename__ = "care_team_member"

    team_id: Mapped[int] = mapped_column(ForeignKey("care_team.id"), primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioner.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(24))  # lead_gp, gp, nurse, public_health, specialist


class CareTeamCommunity(Base):
    __tablename__ = "care_team_community"

    team_id: Mapped[int] = mapped_column(ForeignKey("care_team.id"), primary_key=True)
    division_id: Mapped[int] = mapped_column(ForeignKey("division.id"), primary_key=True, index=True)
