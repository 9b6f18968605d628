"""Tables of the early-warning system: the feeds as received, the count series kept from them,
the detector settings, alerts with their evidence and workflow, notifications, and the truth of
simulated outbreaks.

Every feed row carries a ``natural_key`` (what makes it the same row when it is sent again), a
``revision`` (1, then +1 per correction) and the batch it last came in; a correction's earlier
values are kept in ``surv_revision``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from healthbrain.core.types import BigIntPK, JSONType, UTCDateTime
from healthbrain.db import Base


class _FeedRow:
    """Columns every feed row has."""

    natural_key: Mapped[str] = mapped_column(String(160), unique=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batch.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)  # first arrival
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)  # last correction


class SchoolAbsence(_FeedRow, Base):
    """Pupils of a class absent due to illness on a day, by cause (因病缺课, WS/T 772-2020)."""

    __tablename__ = "surv_school_absence"
    __table_args__ = (Index("ix_surv_school_absence_school_day", "school_id", "day"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    class_id: Mapped[int] = mapped_column(ForeignKey("school_class.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    cause: Mapped[str] = mapped_column(String(32))  # a symptom (definitions.SYMPTOMS) or a disease code
    absent: Mapped[int] = mapped_column(Integer)
    enrolled: Mapped[int | None] = mapped_column(Integer)


class FeverClinicCount(_FeedRow, Base):
    """Visits to an institution's fever clinic on a day, by category (发热门诊)."""

    __tablename__ = "surv_fever_clinic"
    __table_args__ = (Index("ix_surv_fever_clinic_institution_day", "institution_id", "day"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    day: Mapped[date] = mapped_column(Date)
    category: Mapped[str] = mapped_column(String(32))
    visits: Mapped[int] = mapped_column(Integer)


class PharmacySale(_FeedRow, Base):
    """Units a pharmacy sold on a day, by drug category (药店哨点)."""

    __tablename__ = "surv_pharmacy_sale"
    __table_args__ = (Index("ix_surv_pharmacy_sale_institution_day", "institution_id", "day"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    day: Mapped[date] = mapped_column(Date)
    category: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer)


class LabResult(_FeedRow, Base):
    """Specimens a laboratory tested for a pathogen on a day, and how many were positive."""

    __tablename__ = "surv_lab_result"
    __table_args__ = (Index("ix_surv_lab_result_institution_day", "institution_id", "day"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    day: Mapped[date] = mapped_column(Date)
    pathogen: Mapped[str] = mapped_column(String(32))
    tested: Mapped[int] = mapped_column(Integer)
    positive: Mapped[int] = mapped_column(Integer)


class CaseReport(_FeedRow, Base):
    """A notifiable-disease report card (传染病报告卡) from a reporting institution.

    Counted on the onset date (the epidemiological date), at the case's community of residence
    and, for pupils, at their school and class. A revised card (订正) replaces the earlier one; a
    deleted card (删除) stays with ``deleted`` set and counts nowhere.
    """

    __tablename__ = "surv_case_report"
    __table_args__ = (
        Index("ix_surv_case_report_disease_onset", "disease", "onset_date"),
        Index("ix_surv_case_report_community_onset", "community_id", "onset_date"),
        Index("ix_surv_case_report_school_onset", "school_id", "onset_date"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))  # the reporting unit
    card_no: Mapped[str] = mapped_column(String(40))
    disease: Mapped[str] = mapped_column(String(32))
    classification: Mapped[str] = mapped_column(String(16))
    onset_date: Mapped[date] = mapped_column(Date)
    diagnosis_date: Mapped[date] = mapped_column(Date)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"), index=True)
    patient_name: Mapped[str] = mapped_column(String(64))
    id_number: Mapped[str | None] = mapped_column(String(18))
    sex: Mapped[str] = mapped_column(String(1))
    age_years: Mapped[int] = mapped_column(Integer)
    community_id: Mapped[int] = mapped_column(ForeignKey("division.id"))
    address: Mapped[str | None] = mapped_column(String(256))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    class_id: Mapped[int | None] = mapped_column(ForeignKey("school_class.id"))
    workplace: Mapped[str | None] = mapped_column(String(128))
    hospitalised: Mapped[bool] = mapped_column(Boolean, default=False)
    died: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class FeedRevision(Base):
    """The values a feed row had before a correction replaced them."""

    __tablename__ = "surv_revision"
    __table_args__ = (Index("ix_surv_revision_feed_row", "feed", "row_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    feed: Mapped[str] = mapped_column(String(24))
    row_id: Mapped[int] = mapped_column()
    revision: Mapped[int] = mapped_column(Integer)  # the revision these values were
    values: Mapped[dict[str, Any]] = mapped_column(JSONType)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batch.id"))  # the batch that replaced them
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DailyCount(Base):
    """The count of a signal at a place on a day, kept up to date as rows arrive."""

    __tablename__ = "surv_count_day"
    __table_args__ = (
        UniqueConstraint("signal", "place_kind", "place_id", "day"),
        Index("ix_surv_count_day_signal_kind_day", "signal", "place_kind", "day"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    signal: Mapped[str] = mapped_column(String(48))
    place_kind: Mapped[str] = mapped_column(String(16))
    place_id: Mapped[int] = mapped_column()
    day: Mapped[date] = mapped_column(Date)
    value: Mapped[int] = mapped_column(Integer)
    denominator: Mapped[int | None] = mapped_column(Integer)


class WeeklyCount(Base):
    """The same by ISO week (``week`` is the Monday the ISO week starts on)."""

    __tablename__ = "surv_count_week"
    __table_args__ = (
        UniqueConstraint("signal", "place_kind", "place_id", "week"),
        Index("ix_surv_count_week_signal_kind_week", "signal", "place_kind", "week"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    signal: Mapped[str] = mapped_column(String(48))
    place_kind: Mapped[str] = mapped_column(String(16))
    place_id: Mapped[int] = mapped_column()
    week: Mapped[date] = mapped_column(Date)
    value: Mapped[int] = mapped_column(Integer)
    denominator: Mapped[int | None] = mapped_column(Integer)


class SchoolHoliday(Base):
    """A span of days without school (寒暑假, public holidays); weekends are never school days."""

    __tablename__ = "surv_school_holiday"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)


class DetectorConfig(Base):
    """Which method, with which parameters, watches which signal at which kind of place.

    ``place_id`` narrows a rule to one area or school (None: every place of the kind). Grades and
    deadlines are the rule's; CDC users edit these rows.
    """

    __tablename__ = "surv_detector"
    __table_args__ = (Index("ix_surv_detector_signal_kind", "signal", "place_kind"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(128))
    signal: Mapped[str] = mapped_column(String(48))
    place_kind: Mapped[str] = mapped_column(String(16))
    place_id: Mapped[int | None] = mapped_column()
    method: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType)
    interval: Mapped[str] = mapped_column(String(8), default="day")  # day / week
    grade: Mapped[str] = mapped_column(String(8))
    response_hours: Mapped[float] = mapped_column(Float)
    report_hours: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str | None] = mapped_column(Text)  # the rule's basis, shown to users
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class AlertStatus:
    """The response workflow (WHO EWARS: verification → risk assessment → response → closure)."""

    NEW = "new"  # 待核实
    VERIFYING = "verifying"  # 核实中
    DISMISSED = "dismissed"  # 已排除
    MONITORING = "monitoring"  # 持续监测
    RISK_ASSESSMENT = "risk_assessment"  # 风险评估
    RESPONDING = "responding"  # 响应处置
    CLOSED = "closed"  # 已结案


class Alert(Base):
    """One signal at one place, open until dismissed or closed; new evidence extends it."""

    __tablename__ = "surv_alert"
    __table_args__ = (
        Index("ix_surv_alert_signal_place_status", "signal", "place_kind", "place_id", "status"),
        # One open alert per signal and place, kept by the database as well as by the engine.
        Index(
            "uq_surv_alert_open",
            "signal",
            "place_kind",
            "place_id",
            unique=True,
            sqlite_where=text("status NOT IN ('dismissed', 'closed')"),
            postgresql_where=text("status NOT IN ('dismissed', 'closed')"),
        ),
        Index("ix_surv_alert_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    signal: Mapped[str] = mapped_column(String(48))
    place_kind: Mapped[str] = mapped_column(String(16))
    place_id: Mapped[int] = mapped_column()
    town_id: Mapped[int | None] = mapped_column(ForeignKey("division.id"), index=True)  # for filters and maps
    grade: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(20), default=AlertStatus.NEW)
    first_day: Mapped[date] = mapped_column(Date)  # the earliest day of evidence
    last_day: Mapped[date] = mapped_column(Date)  # the latest day of evidence
    observed: Mapped[float] = mapped_column(Float)  # the largest count that alarmed
    threshold: Mapped[float | None] = mapped_column(Float)
    methods: Mapped[list[Any]] = mapped_column(JSONType)  # detector codes that alarmed
    data_received_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the triggering row arrived
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    response_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    report_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(24))  # confirmed_outbreak / not_outbreak / …
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)


class AlertEvidence(Base):
    """A detector's alarm on a day that an alert stands on."""

    __tablename__ = "surv_alert_evidence"
    __table_args__ = (UniqueConstraint("alert_id", "detector_id", "day"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("surv_alert.id"), index=True)
    detector_id: Mapped[int | None] = mapped_column(ForeignKey("surv_detector.id"))
    method: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)  # the evaluated day (the Monday for weekly detectors)
    observed: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float | None] = mapped_column(Float)
    grade: Mapped[str] = mapped_column(String(8))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # scan clusters: areas, p-value …
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertEvent(Base):
    """Who did what to an alert, and when (the workflow's trail)."""

    __tablename__ = "surv_alert_event"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("surv_alert.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    action: Mapped[str] = mapped_column(String(24))  # created / extended / transition / report / note / assign
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class NotificationChannel(Base):
    """Where alerts are sent: the log (default) or an HTTP webhook."""

    __tablename__ = "surv_channel"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # log / webhook
    url: Mapped[str | None] = mapped_column(String(512))
    secret: Mapped[str | None] = mapped_column(String(128))  # signs the webhook body (HMAC-SHA256)
    min_grade: Mapped[str] = mapped_column(String(8), default="blue")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class Notification(Base):
    """An alert event to deliver on a channel (an outbox: written with the alert, sent after commit)."""

    __tablename__ = "surv_notification"
    __table_args__ = (Index("ix_surv_notification_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("surv_channel.id"))
    alert_id: Mapped[int] = mapped_column(ForeignKey("surv_alert.id"), index=True)
    event: Mapped[str] = mapped_column(String(24))  # created / escalated
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending / sent / failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class OutbreakTruth(Base):
    """An outbreak the simulator injected: what, where, when and how big (for evaluation)."""

    __tablename__ = "surv_outbreak_truth"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # school_norovirus / school_ili / community_hfmd / seasonal_influenza
    signal: Mapped[str] = mapped_column(String(48))
    place_kind: Mapped[str] = mapped_column(String(16))
    place_id: Mapped[int] = mapped_column()
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    cases: Mapped[int] = mapped_column(Integer)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
