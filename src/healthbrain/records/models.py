"""Core clinical record model (FHIR-shaped, stored relationally).

Every table carries ``source_key``: a deterministic identifier from the sender (institution +
its own id), unique when present, so that every ingestion path can be idempotent.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from healthbrain.core.types import BigIntPK, JSONType, UTCDateTime
from healthbrain.db import Base


class EncounterClass(StrEnum):
    OUTPATIENT = "outpatient"  # 门诊
    INPATIENT = "inpatient"  # 住院
    EMERGENCY = "emergency"  # 急诊
    HOME = "home"  # 家庭访视
    FOLLOWUP = "followup"  # 慢病随访
    PHYSICAL_EXAM = "physical_exam"  # 健康体检
    PHONE = "phone"  # 电话随访
    DEVICE = "device"  # 居家设备上传


class Encounter(Base):
    """A contact between a resident and a service (接诊记录)."""

    __tablename__ = "encounter"
    __table_args__ = (
        Index("ix_encounter_resident_start", "resident_id", "start_at"),
        Index("ix_encounter_institution_start", "institution_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    encounter_class: Mapped[str] = mapped_column(String(16))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason_code: Mapped[str | None] = mapped_column(String(16))  # ICD-10
    reason_text: Mapped[str | None] = mapped_column(String(256))
    source_key: Mapped[str | None] = mapped_column(String(128), unique=True, index=True)


class Observation(Base):
    """A measurement (LOINC code, value, unit, time, source institution or device)."""

    __tablename__ = "observation"
    __table_args__ = (
        Index("ix_observation_resident_code_time", "resident_id", "code", "effective_at"),
        # A unique index, not a constraint: SQLite adds it without copying the table.
        Index("ix_observation_source_hash", "source_hash", unique=True),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounter.id"), index=True)
    code: Mapped[str] = mapped_column(String(16))  # LOINC
    value_num: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(String(256))
    unit: Mapped[str | None] = mapped_column(String(16))  # UCUM
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    device_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="final")
    source_key: Mapped[str | None] = mapped_column(String(128), unique=True, index=True)
    # 64 bits of the SHA-256 of the sender's identity of a FHIR Observation (interop.fhir.keys): the
    # bulk importer's idempotency key; an integer keeps SQLite's unique index small and fast.
    source_hash: Mapped[int | None] = mapped_column(BigInteger)


class Condition(Base):
    """A diagnosis on the problem list (ICD-10)."""

    __tablename__ = "condition"
    __table_args__ = (Index("ix_condition_code_resident", "code", "resident_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    code: Mapped[str] = mapped_column(String(16))  # ICD-10, e.g. I10, E11.9
    display: Mapped[str | None] = mapped_column(String(128))
    clinical_status: Mapped[str] = mapped_column(String(16), default="active")  # active/resolved/inactive
    onset_date: Mapped[date | None] = mapped_column(Date)
    abatement_date: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounter.id"))
    source_key: Mapped[str | None] = mapped_column(String(128), unique=True, index=True)


class MedicationStatement(Base):
    __tablename__ = "medication_statement"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    code: Mapped[str | None] = mapped_column(String(32))  # ATC code
    name: Mapped[str] = mapped_column(String(128))
    dose: Mapped[str | None] = mapped_column(String(64))
    frequency: Mapped[str | None] = mapped_column(String(32))
    route: Mapped[str | None] = mapped_column(String(32))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active/completed/stopped
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source_key: Mapped[str | None] = mapped_column(String(128), unique=True, index=True)


class PhysicalExam(Base):
    """The annual physical examination form (健康体检表); its measurements are observations of its
    encounter, so that blood pressure from an examination joins the resident's BP series."""

    __tablename__ = "physical_exam"
    __table_args__ = (Index("ix_physical_exam_resident_date", "resident_id", "exam_date"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounter.id"), unique=True)
    exam_date: Mapped[date] = mapped_column(Date)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    symptoms: Mapped[str | None] = mapped_column(Text)
    smoking: Mapped[str | None] = mapped_column(String(16))  # never / former / current
    drinking: Mapped[str | None] = mapped_column(String(16))  # never / occasional / often / daily
    exercise: Mapped[str | None] = mapped_column(String(16))  # daily / weekly / occasional / never
    diet: Mapped[str | None] = mapped_column(String(32))  # balanced / meat / vegetarian / salty …
    conclusion: Mapped[str | None] = mapped_column(String(16))  # normal / abnormal
    abnormalities: Mapped[list[Any] | None] = mapped_column(JSONType)
    guidance: Mapped[list[Any] | None] = mapped_column(JSONType)
    source_key: Mapped[str | None] = mapped_column(String(128), unique=True, index=True)


class IngestBatch(Base):
    """One submitted batch (API, file, device): counts, and a key so that a resend is a replay."""

    __tablename__ = "ingest_batch"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))  # api.observations, fhir.ndjson, csv.residents …
    batch_key: Mapped[str | None] = mapped_column(String(160), unique=True)  # channel + sender's key
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received: Mapped[int] = mapped_column(default=0)
    inserted: Mapped[int] = mapped_column(default=0)
    duplicates: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    corrected: Mapped[int] = mapped_column(default=0, server_default="0")  # rows that replaced earlier values


class IngestRejection(Base):
    """A rejected row, kept verbatim with its reasons so it can be corrected and sent again."""

    __tablename__ = "ingest_rejection"
    __table_args__ = (Index("ix_ingest_rejection_batch_row", "batch_id", "row_number"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batch.id"))
    row_number: Mapped[int] = mapped_column()  # 1-based position in the batch / line in the file
    # The row exactly as sent, as JSON text: JSONB would refuse what a bad row may well contain
    # (a NUL character, an unpaired surrogate), and a rejected row must be kept whatever it holds.
    payload: Mapped[str] = mapped_column(Text)
    errors: Mapped[list[Any]] = mapped_column(JSONType)  # [{"field": ..., "message": ...}]


class Immunization(Base):
    """A vaccine dose given (or recorded as not given) to a resident (预防接种记录): FHIR Immunization."""

    __tablename__ = "immunization"
    __table_args__ = (Index("ix_immunization_resident_date", "resident_id", "occurrence_date"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    vaccine_code: Mapped[str] = mapped_column(String(32))  # CVX, or the sender's vaccine code
    vaccine_system: Mapped[str | None] = mapped_column(String(128))
    vaccine_name: Mapped[str | None] = mapped_column(String(128))
    dose_number: Mapped[int | None] = mapped_column()
    occurrence_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="completed")  # completed / not-done / entered-in-error
    lot_number: Mapped[str | None] = mapped_column(String(32))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounter.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source_key: Mapped[str | None] = mapped_column(String(128), unique=True, index=True)


class RecordIndicatorMonth(Base):
    """A record indicator's numerator and denominator for one month and one organisation unit (档案与签约指标
    月度结果), computed once by ``healthbrain records indicators refresh`` (nightly, and after a simulation)
    and read by the page, the API and the Excel file. ``level`` is district (``unit_id`` 0), town, community,
    centre or team; ``as_of`` is the day counted: the month's last day, or the refresh day for the running
    month."""

    __tablename__ = "record_indicator_month"
    __table_args__ = (UniqueConstraint("month", "level", "unit_id", "slug", name="uq_record_indicator_month_unit"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    month: Mapped[str] = mapped_column(String(7))  # 2026-11
    slug: Mapped[str] = mapped_column(String(64))  # records.record_rate …
    level: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[int] = mapped_column(BigInteger)  # 0: the district
    numerator: Mapped[int] = mapped_column(BigInteger)
    denominator: Mapped[int] = mapped_column(BigInteger)
    as_of: Mapped[date] = mapped_column(Date)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
