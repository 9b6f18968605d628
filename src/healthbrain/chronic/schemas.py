"""Chronic-disease management: what comes in (forms, devices, readings) and goes out (worklist, chart)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

from healthbrain.chronic.definitions import (
    Adherence,
    Disease,
    EndReason,
    ReadingKind,
    Symptom,
    VisitMethod,
)
from healthbrain.core.ingest import RowError
from healthbrain.core.schemas import InputModel

Smoking = Literal["never", "former", "current"]
Drinking = Literal["never", "occasional", "often", "daily"]
Exercise = Literal["daily", "weekly", "occasional", "never"]
Salt = Literal["light", "moderate", "heavy"]
Pulse = Literal["palpable", "weak", "absent"]
Hypoglycaemia = Literal["none", "occasional", "frequent"]
SnoozeItem = Literal["followup", "referral", "screening", "device", "alert"]
SnoozeReason = Literal["agreed_to_visit", "remind_later"]
AlertAction = Literal["phoned", "visit", "referred", "no_action"]


class EnrolIn(InputModel):
    note: Annotated[str | None, Field(max_length=500)] = None
    team_id: int | None = Field(default=None, ge=1, le=2**53)
    version: int | None = Field(default=None, ge=1, le=2**31, description="the version the doctor saw (409 if stale)")


class ProposeIn(InputModel):
    """A doctor puts a resident on a path by hand (e.g. a diagnosis made elsewhere)."""

    disease: Disease
    note: Annotated[str | None, Field(max_length=500)] = None


class EndIn(InputModel):
    reason: EndReason
    ended_on: date
    note: Annotated[str | None, Field(max_length=500)] = None


class DeclineIn(InputModel):
    note: Annotated[str, Field(min_length=1, max_length=500)]


class EnrolmentOut(BaseModel):
    id: int
    resident_id: int
    resident_name: str
    sex: str
    age: int
    disease: str
    status: str
    team_id: int | None
    proposed_at: datetime
    proposed_reason: str
    evidence: dict[str, Any] | None
    enrolled_on: date | None
    ended_on: date | None
    end_reason: str | None
    last_followup_date: date | None
    last_visit_class: str | None
    next_followup_date: date | None
    next_screening_date: date | None
    risk_tier: str | None
    version: int


class MedicationIn(InputModel):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    dose: Annotated[str | None, Field(max_length=32)] = None
    frequency: Annotated[str | None, Field(max_length=32)] = None


class FollowUpIn(InputModel):
    """The BPHS follow-up form (one per disease). Ranges refuse what no instrument can read."""

    disease: Disease
    visit_date: date
    method: VisitMethod = VisitMethod.CLINIC
    symptoms: list[Symptom] = Field(default_factory=list, max_length=20)
    sbp: float | None = Field(default=None, ge=50, le=300)
    dbp: float | None = Field(default=None, ge=20, le=200)
    heart_rate: float | None = Field(default=None, ge=20, le=250)
    weight_kg: float | None = Field(default=None, ge=2, le=350)
    height_cm: float | None = Field(default=None, ge=40, le=250)
    waist_cm: float | None = Field(default=None, ge=30, le=250)
    fasting_glucose: float | None = Field(default=None, ge=0.5, le=50)
    dorsalis_pedis: Pulse | None = None
    smoking: Smoking | None = None
    cigarettes_per_day: int | None = Field(default=None, ge=0, le=200)
    drinking: Drinking | None = None
    alcohol_g_per_day: float | None = Field(default=None, ge=0, le=1000)
    exercise: Exercise | None = None
    exercise_minutes_per_week: int | None = Field(default=None, ge=0, le=5000)
    salt: Salt | None = None
    staple_food_g: int | None = Field(default=None, ge=0, le=3000)
    adherence: Adherence | None = None
    adverse_reaction: bool = False
    adverse_reaction_uncontrollable: bool = False
    adverse_reaction_text: Annotated[str | None, Field(max_length=200)] = None
    hypoglycaemia: Hypoglycaemia | None = None
    new_or_worse_complication: bool = False
    complication_text: Annotated[str | None, Field(max_length=200)] = None
    pregnant_or_lactating: bool = False
    education: bool = False
    medications: list[MedicationIn] = Field(default_factory=list, max_length=20)
    referral_to: Annotated[str | None, Field(max_length=128)] = None
    note: Annotated[str | None, Field(max_length=500)] = None
    source_key: Annotated[str | None, Field(max_length=128)] = None

    @model_validator(mode="after")
    def _bp_pair(self) -> FollowUpIn:
        if (self.sbp is None) != (self.dbp is None):
            raise PydanticCustomError("chronic.form.bp_pair", "sbp and dbp are recorded together")
        if self.sbp is not None and self.dbp is not None and self.sbp <= self.dbp:
            raise PydanticCustomError("chronic.form.sbp_not_above_dbp", "sbp must be above dbp")
        return self


class FollowUpOut(BaseModel):
    id: int
    enrolment_id: int
    resident_id: int
    encounter_id: int | None
    disease: str
    visit_date: date
    method: str
    symptoms: list[str]
    sbp: float | None
    dbp: float | None
    heart_rate: float | None
    weight_kg: float | None
    bmi: float | None
    fasting_glucose: float | None
    smoking: str | None
    drinking: str | None
    exercise: str | None
    salt: str | None
    adherence: str | None
    adverse_reaction: bool
    new_or_worse_complication: bool
    education: bool
    medications: list[dict[str, Any]]
    visit_class: str
    refer: bool
    urgent: bool
    reasons: list[str]
    next_date: date
    referral_task_id: int | None = None


class DeviceIn(InputModel):
    device_id: Annotated[str, Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    kind: ReadingKind
    model: Annotated[str | None, Field(max_length=64)] = None


class DeviceOut(BaseModel):
    id: int
    device_id: str
    kind: str
    model: str | None
    resident_id: int | None
    bound_at: datetime
    unbound_at: datetime | None
    last_reading_at: datetime | None
    last_seen_at: datetime | None
    silent: bool
    token: str | None = Field(default=None, description="shown once, when the device is bound")


class ReadingIn(InputModel):
    """One home reading; a device sending with its own token may leave out device_id."""

    device_id: Annotated[str | None, Field(min_length=3, max_length=64)] = None
    kind: ReadingKind
    measured_at: AwareDatetime
    sbp: float | None = None
    dbp: float | None = None
    heart_rate: float | None = None
    glucose: float | None = None


class ReadingsBatch(InputModel):
    readings: list[Any] = Field(max_length=100_000, description="ReadingIn objects; each is checked on its own")
    batch_key: Annotated[str | None, Field(max_length=128)] = None


class ReadingsResult(BaseModel):
    batch_id: int | None
    received: int
    inserted: int
    duplicates: int
    rejected: int
    critical: int
    errors: list[RowError]
    alerts: list[int]
    replayed: bool = False


class ReadingOut(BaseModel):
    id: int
    kind: str
    measured_at: datetime
    sbp: float | None
    dbp: float | None
    heart_rate: float | None
    glucose: float | None
    critical: bool
    device_id: str | None = None


class SnoozeIn(InputModel):
    item: SnoozeItem
    reason: SnoozeReason


class AlertHandleIn(InputModel):
    action: AlertAction
    note: Annotated[str | None, Field(max_length=500)] = None


class WorklistItem(BaseModel):
    kind: str  # critical / followup / referral / screening / device / proposal
    resident_id: int
    name: str
    sex: str
    age: int
    diseases: list[str]
    risk_tier: str | None
    due_date: date | None
    days_overdue: int | None
    detail: dict[str, Any]
    ref_id: int | None  # alert, enrolment, task or device id


class WorklistSection(BaseModel):
    kind: str
    total: int
    items: list[WorklistItem]


class Worklist(BaseModel):
    today: date
    team_ids: list[int]
    sections: list[WorklistSection]


class PrescriptionItemIO(InputModel):
    section: Annotated[str, Field(min_length=1, max_length=16)]
    text: Annotated[str, Field(min_length=1, max_length=2000)]
    basis: Annotated[str | None, Field(max_length=500)] = None


class PrescriptionIn(InputModel):
    items: list[PrescriptionItemIO] = Field(min_length=1, max_length=20)


class PrescriptionOut(BaseModel):
    id: int | None
    resident_id: int
    items: list[PrescriptionItemIO]
    created_at: datetime | None
    created_by: str | None = None
    draft: bool = False


class ReportOut(BaseModel):
    id: int
    resident_id: int
    month: date
    generated_at: datetime
    summary: dict[str, Any]
    pdf_url: str


class ReportsRun(BaseModel):
    month: date
    generated: int
    skipped: int


class PathItemOut(BaseModel):
    slug: str
    dimension: str
    name: str
    interval_days: int
    complication_screening: bool
    last_done: date | None
    due_date: date
    state: str  # done / due_soon / due / overdue


class PathOut(BaseModel):
    resident_id: int
    diseases: list[str]
    enrolled_on: date | None
    items: list[PathItemOut]
    execution_due: int
    execution_done: int
    execution_rate: float | None  # the past 12 months
    screening_done_this_year: bool
