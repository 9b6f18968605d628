"""Residents (居民), households (家庭户), identifiers and the lineage of merges."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from healthbrain.core.types import BigIntPK, JSONType, UTCDateTime
from healthbrain.db import Base


class ResidentStatus(StrEnum):
    ACTIVE = "active"
    MERGED = "merged"  # folded into another record (see resident_merge)
    DECEASED = "deceased"
    MOVED_OUT = "moved_out"


class Household(Base):
    __tablename__ = "household"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    division_id: Mapped[int] = mapped_column(ForeignKey("division.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(256))


class Resident(Base):
    """One person; one record per resident ID number (个人基本信息表)."""

    __tablename__ = "resident"
    __table_args__ = (
        # Serves the scope filter (division IN …), status and age bands from the index alone.
        Index("ix_resident_division_status_birth", "division_id", "status", "birth_date"),
        Index("ix_resident_name", "name"),
        Index("ix_resident_phone", "phone"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    id_number: Mapped[str | None] = mapped_column(String(18), unique=True, index=True)  # GB 11643, upper-case X
    name: Mapped[str] = mapped_column(String(64))
    sex: Mapped[str] = mapped_column(String(1))  # M / F
    birth_date: Mapped[date] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20))
    division_id: Mapped[int] = mapped_column(ForeignKey("division.id"))  # community of residence
    address: Mapped[str | None] = mapped_column(String(256))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"), index=True)
    relation_to_head: Mapped[str | None] = mapped_column(String(16))
    disability: Mapped[str | None] = mapped_column(String(16))  # 残疾情况; None = none recorded
    status: Mapped[str] = mapped_column(String(12), default=ResidentStatus.ACTIVE)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"), index=True)
    deceased_date: Mapped[date | None] = mapped_column(Date)
    registered_institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    record_created_on: Mapped[date | None] = mapped_column(Date)  # 建档日期
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)


class ResidentIdentifier(Base):
    """Other identifiers: hospital record numbers (MRN), health-record numbers, passports."""

    __tablename__ = "resident_identifier"
    __table_args__ = (UniqueConstraint("system", "value"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # mrn, health_record, passport, insurance
    system: Mapped[str] = mapped_column(String(64))  # institution code for MRNs, country for passports
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"), index=True)
    value: Mapped[str] = mapped_column(String(64))


class ResidentMerge(Base):
    """Lineage of a merge: which record survived, which rows moved, and whether it was undone."""

    __tablename__ = "resident_merge"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    merged_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    moved: Mapped[dict[str, Any]] = mapped_column(JSONType)  # {"encounter": [ids], ...}
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    merged_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    unmerged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unmerged_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    unmerge_reason: Mapped[str | None] = mapped_column(Text)
