"""Pydantic shapes of the core clinical record."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from healthbrain.core.ingest import RowError
from healthbrain.core.params import DbId
from healthbrain.core.schemas import InputModel

EncounterClassName = Literal[
    "outpatient", "inpatient", "emergency", "home", "followup", "physical_exam", "phone", "device"
]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)]
SourceKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class EncounterIn(InputModel):
    encounter_class: EncounterClassName
    start_at: AwareDatetime
    end_at: AwareDatetime | None = None
    institution_code: str | None = None
    practitioner_code: str | None = None
    reason_code: Code | None = Field(default=None, description="ICD-10")
    reason_text: str | None = Field(default=None, max_length=256)
    source_key: SourceKey | None = None


class EncounterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    resident_id: int
    encounter_class: str
    start_at: datetime
    end_at: datetime | None
    institution_id: int | None
    practitioner_id: int | None
    reason_code: str | None
    reason_text: str | None


class ObservationIn(InputModel):
    code: Code = Field(description="LOINC code, e.g. 8480-6 systolic BP")
    value_num: float | None = None
    value_text: str | None = Field(default=None, max_length=256)
    unit: str | None = Field(default=None, max_length=16)
    effective_at: AwareDatetime
    encounter_id: DbId | None = None
    institution_code: str | None = None
    device_id: str | None = Field(default=None, max_length=64)
    source_key: SourceKey | None = None

    @model_validator(mode="after")
    def _has_value(self) -> ObservationIn:
        if self.value_num is None and not self.value_text:
            raise ValueError("value_num or value_text is required")
        return self


class ObservationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    resident_id: int
    encounter_id: int | None
    code: str
    value_num: float | None
    value_text: str | None
    unit: str | None
    effective_at: datetime
    institution_id: int | None
    device_id: str | None
    status: str


class BulkObservationBatch(InputModel):
    """A batch of observations for many residents. Rows are validated one by one: good rows are
    stored, bad rows are kept with their reasons; the whole batch commits at once."""

    batch_key: str | None = Field(default=None, max_length=128, description="Resending the same key changes nothing")
    observations: list[dict[str, Any]] = Field(max_length=100_000)


class BulkResult(BaseModel):
    batch_id: int
    received: int
    inserted: int
    duplicates: int
    rejected: int
    errors: list[RowError]
    replayed: bool = False


class ConditionIn(InputModel):
    code: Code = Field(description="ICD-10, e.g. I10")
    display: str | None = Field(default=None, max_length=128)
    clinical_status: Literal["active", "resolved", "inactive"] = "active"
    onset_date: date | None = None
    abatement_date: date | None = None
    institution_code: str | None = None
    source_key: SourceKey | None = None


class ConditionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    display: str | None
    clinical_status: str
    onset_date: date | None
    abatement_date: date | None
    recorded_at: datetime


class MedicationIn(InputModel):
    code: str | None = Field(default=None, max_length=32, description="ATC code")
    name: str = Field(min_length=1, max_length=128)
    dose: str | None = Field(default=None, max_length=64)
    frequency: str | None = Field(default=None, max_length=32)
    route: str | None = Field(default=None, max_length=32)
    start_date: date | None = None
    end_date: date | None = None
    status: Literal["active", "completed", "stopped"] = "active"
    institution_code: str | None = None
    source_key: SourceKey | None = None


class MedicationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str | None
    name: str
    dose: str | None
    frequency: str | None
    route: str | None
    start_date: date | None
    end_date: date | None
    status: str


class ExamMeasurements(InputModel):
    height_cm: float | None = Field(default=None, gt=30, lt=250)
    weight_kg: float | None = Field(default=None, gt=1, lt=400)
    waist_cm: float | None = Field(default=None, gt=20, lt=250)
    systolic_bp: float | None = Field(default=None, gt=40, lt=300)
    diastolic_bp: float | None = Field(default=None, gt=20, lt=200)
    heart_rate: float | None = Field(default=None, gt=20, lt=250)
    fasting_glucose: float | None = Field(default=None, gt=0.5, lt=40)


class PhysicalExamIn(InputModel):
    """The annual physical examination (健康体检表)."""

    exam_date: date
    institution_code: str | None = None
    practitioner_code: str | None = None
    measurements: ExamMeasurements = Field(default_factory=ExamMeasurements)
    symptoms: str | None = None
    smoking: Literal["never", "former", "current"] | None = None
    drinking: Literal["never", "occasional", "often", "daily"] | None = None
    exercise: Literal["daily", "weekly", "occasional", "never"] | None = None
    diet: str | None = Field(default=None, max_length=32)
    conclusion: Literal["normal", "abnormal"] | None = None
    abnormalities: list[str] = Field(default_factory=list)
    guidance: list[str] = Field(default_factory=list)
    source_key: SourceKey | None = None


class PhysicalExamOut(BaseModel):
    id: int
    encounter_id: int
    exam_date: date
    institution_id: int | None
    measurements: dict[str, float]
    smoking: str | None
    drinking: str | None
    exercise: str | None
    diet: str | None
    conclusion: str | None
    abnormalities: list[str]
    guidance: list[str]


class ResidentRecord(BaseModel):
    """The basic record on one page: what the resident page and the API return together."""

    conditions: list[ConditionOut]
    medications: list[MedicationOut]
    encounters: list[EncounterOut]
    latest_observations: list[ObservationOut]
    physical_exams: list[PhysicalExamOut]
