"""Chronic-disease management tables: enrolments (入径), follow-up forms, referral tasks, home
devices and their readings, worklist alerts and snoozes, health prescriptions and reports.

The enrolment row carries the schedule the worklist reads (next follow-up, next screening), so
that a family doctor's worklist is a handful of indexed range scans, not a computation over the
patient's history at every request.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, Float, ForeignKey, Index, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from healthbrain.core.types import BigIntPK, JSONType, UTCDateTime
from healthbrain.db import Base


class ChronicEnrolment(Base):
    """A resident on a management path for one disease (两慢病入径), proposed → enrolled → ended."""

    __tablename__ = "chronic_enrolment"
    __table_args__ = (
        UniqueConstraint("resident_id", "disease"),
        # The worklist's ranges; the resident closes each index so counting a section (and testing its
        # snoozes) reads no table row.
        Index("ix_chronic_enrolment_team_status_next", "team_id", "status", "next_followup_date", "resident_id"),
        Index("ix_chronic_enrolment_team_status_screening", "team_id", "status", "next_screening_date", "resident_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    disease: Mapped[str] = mapped_column(String(8))  # definitions.Disease
    status: Mapped[str] = mapped_column(String(12))  # definitions.EnrolmentStatus
    team_id: Mapped[int | None] = mapped_column(ForeignKey("care_team.id"))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    proposed_reason: Mapped[str] = mapped_column(String(16))  # condition / screening / manual
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # what made the proposal
    enrolled_on: Mapped[date | None] = mapped_column(Date)
    enrolled_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    ended_on: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(12))  # definitions.EndReason
    note: Mapped[str | None] = mapped_column(String(500))
    # The schedule, kept up to date by each follow-up and by the daily refresh.
    last_followup_date: Mapped[date | None] = mapped_column(Date)
    last_visit_class: Mapped[str | None] = mapped_column(String(20))
    next_followup_date: Mapped[date | None] = mapped_column(Date)
    next_screening_date: Mapped[date | None] = mapped_column(Date)
    risk_tier: Mapped[str | None] = mapped_column(String(12))  # hypertension only (CHG 2018)
    version: Mapped[int] = mapped_column(default=1)


class ChronicFollowUp(Base):
    """One BPHS follow-up form (高血压/2型糖尿病患者随访服务记录表) with its classification."""

    __tablename__ = "chronic_followup"
    __table_args__ = (Index("ix_chronic_followup_enrolment_date", "enrolment_id", "visit_date"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("chronic_enrolment.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounter.id"))
    disease: Mapped[str] = mapped_column(String(8))
    visit_date: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(8))  # clinic / home / phone
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    symptoms: Mapped[list[Any]] = mapped_column(JSONType)
    sbp: Mapped[float | None] = mapped_column(Float)
    dbp: Mapped[float | None] = mapped_column(Float)
    heart_rate: Mapped[float | None] = mapped_column(Float)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    height_cm: Mapped[float | None] = mapped_column(Float)
    waist_cm: Mapped[float | None] = mapped_column(Float)
    fasting_glucose: Mapped[float | None] = mapped_column(Float)
    dorsalis_pedis: Mapped[str | None] = mapped_column(String(12))  # palpable / weak / absent (DM)
    smoking: Mapped[str | None] = mapped_column(String(12))
    cigarettes_per_day: Mapped[int | None] = mapped_column()
    drinking: Mapped[str | None] = mapped_column(String(12))
    alcohol_g_per_day: Mapped[float | None] = mapped_column(Float)
    exercise: Mapped[str | None] = mapped_column(String(12))
    exercise_minutes_per_week: Mapped[int | None] = mapped_column()
    salt: Mapped[str | None] = mapped_column(String(12))  # light / moderate / heavy
    staple_food_g: Mapped[int | None] = mapped_column()  # DM: grams of staple food a day
    adherence: Mapped[str | None] = mapped_column(String(12))
    adverse_reaction: Mapped[bool] = mapped_column(Boolean, default=False)
    adverse_reaction_uncontrollable: Mapped[bool] = mapped_column(Boolean, default=False)
    adverse_reaction_text: Mapped[str | None] = mapped_column(String(200))
    hypoglycaemia: Mapped[str | None] = mapped_column(String(12))  # none / occasional / frequent (DM)
    new_or_worse_complication: Mapped[bool] = mapped_column(Boolean, default=False)
    complication_text: Mapped[str | None] = mapped_column(String(200))
    pregnant_or_lactating: Mapped[bool] = mapped_column(Boolean, default=False)
    education: Mapped[bool] = mapped_column(Boolean, default=False)
    medications: Mapped[list[Any]] = mapped_column(JSONType)  # [{"name", "dose", "frequency"}]
    visit_class: Mapped[str] = mapped_column(String(20))
    refer: Mapped[bool] = mapped_column(Boolean, default=False)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    reasons: Mapped[list[Any]] = mapped_column(JSONType)
    referral_to: Mapped[str | None] = mapped_column(String(128))
    next_date: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source_key: Mapped[str | None] = mapped_column(String(128), unique=True, index=True)


class ChronicTask(Base):
    """Work owed to a patient that is not a routine follow-up: a referral's 14-day follow-up."""

    __tablename__ = "chronic_task"
    __table_args__ = (Index("ix_chronic_task_team_status_due", "team_id", "status", "due_date", "resident_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("chronic_enrolment.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("care_team.id"))
    kind: Mapped[str] = mapped_column(String(24))  # referral_followup
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12))  # open / done / cancelled
    followup_id: Mapped[int] = mapped_column(ForeignKey("chronic_followup.id"))  # the visit that referred
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    done_followup_id: Mapped[int | None] = mapped_column(ForeignKey("chronic_followup.id"))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class HomeDevice(Base):
    """A home monitor bound to a resident; it sends with its own token (only the hash is kept)."""

    __tablename__ = "home_device"
    __table_args__ = (Index("ix_home_device_resident", "resident_id"), Index("ix_home_device_team", "team_id"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), unique=True)  # the maker's serial number
    kind: Mapped[str] = mapped_column(String(8))  # definitions.ReadingKind
    model: Mapped[str | None] = mapped_column(String(64))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))  # None once unbound
    team_id: Mapped[int | None] = mapped_column(ForeignKey("care_team.id"))
    token_hash: Mapped[str] = mapped_column(String(64))
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime)
    bound_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    unbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_reading_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the newest measurement
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the last upload


class HomeReading(Base):
    """One home measurement (a BP with its pulse, or a capillary glucose); one row per reading so
    the bulk path writes one row per message, and the 722 evaluation reads pairs directly.

    ``reading_key`` is the first 64 bits of the reading's deterministic SHA-256 identifier
    (``home.reading_key``), unique per device: a resend is a no-op. An integer, not the hex text,
    because a B-tree of random 40-character strings made every insert a cache miss — the integer
    key more than doubled SQLite's insert rate (bench/chronic.py). A false duplicate needs two
    readings of one device to share 64 bits of a hash: about n²/2⁶⁵, nil for any device's lifetime."""

    __tablename__ = "home_reading"
    __table_args__ = (
        UniqueConstraint("device_pk", "reading_key"),
        Index("ix_home_reading_resident_time", "resident_id", "measured_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    reading_key: Mapped[int] = mapped_column(BigInteger)
    device_pk: Mapped[int] = mapped_column(ForeignKey("home_device.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    kind: Mapped[str] = mapped_column(String(8))
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sbp: Mapped[float | None] = mapped_column(Float)
    dbp: Mapped[float | None] = mapped_column(Float)
    heart_rate: Mapped[float | None] = mapped_column(Float)
    glucose: Mapped[float | None] = mapped_column(Float)
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batch.id"))


class ChronicAlert(Base):
    """A critical home reading on the family doctor's worklist. One open alert per resident: later
    critical readings of the same episode add to it instead of piling up."""

    __tablename__ = "chronic_alert"
    __table_args__ = (
        Index("ix_chronic_alert_team_status", "team_id", "status", "opened_at"),
        Index(
            "uq_chronic_alert_open",
            "resident_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("care_team.id"))
    status: Mapped[str] = mapped_column(String(8))  # open / handled
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_reading_id: Mapped[int] = mapped_column(ForeignKey("home_reading.id"))
    last_reading_id: Mapped[int] = mapped_column(ForeignKey("home_reading.id"))
    readings: Mapped[int] = mapped_column(default=1)
    reasons: Mapped[list[Any]] = mapped_column(JSONType)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    action: Mapped[str | None] = mapped_column(String(16))  # phoned / visit / referred / no_action
    note: Mapped[str | None] = mapped_column(String(500))


class WorklistSnooze(Base):
    """'Agreed to visit' (7 days) or 'remind later' (30 days): the item leaves the worklist until then."""

    __tablename__ = "worklist_snooze"
    __table_args__ = (Index("ix_worklist_snooze_resident_until", "resident_id", "until"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    item: Mapped[str] = mapped_column(String(16))  # followup / referral / screening / device
    reason: Mapped[str] = mapped_column(String(16))  # agreed_to_visit / remind_later
    until: Mapped[date] = mapped_column(Date)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HealthPrescription(Base):
    """A health prescription (健康处方): generated from the patient's data, edited by the doctor."""

    __tablename__ = "health_prescription"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    items: Mapped[list[Any]] = mapped_column(JSONType)  # [{"section", "text", "basis"}]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))


class HealthReport(Base):
    """A patient's monthly health report (健康报告) as rendered, PDF kept for reprinting."""

    __tablename__ = "health_report"
    __table_args__ = (UniqueConstraint("resident_id", "month"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    month: Mapped[date] = mapped_column(Date)  # first day of the month
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    generated_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
