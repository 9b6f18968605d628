"""Pydantic shapes of the early-warning system: feed rows in, alerts and settings out."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from pydantic_core import PydanticCustomError

from healthbrain.core.ingest import RowError
from healthbrain.core.schemas import InputModel
from healthbrain.surveillance import definitions as d

Text32 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]

# Chinese names a sender may use instead of codes (a school doctor writes 发热, not fever).
_ABSENCE_ALIASES = {zh: code for code, (zh, _en, _s) in d.SYMPTOMS.items()} | {
    x.name_zh: x.code for x in d.DISEASES.values()
}
_DISEASE_ALIASES = {x.name_zh: x.code for x in d.DISEASES.values()}
_CLASSIFICATION_ALIASES = {
    "疑似病例": "suspected",
    "临床诊断病例": "clinical",
    "确诊病例": "confirmed",
    "病原携带者": "carrier",
}
_SEX_ALIASES = {"男": "M", "女": "F", "m": "M", "f": "F", "M": "M", "F": "F"}


def _code(value: str, allowed: object, aliases: dict[str, str], what: str) -> str:
    value = aliases.get(value, value)
    if value not in allowed:  # type: ignore[operator]
        # A custom error type names its message (row.unknown_code), read in the sender's language.
        raise PydanticCustomError("row.unknown_code", "unknown {what} {value!r}", {"what": what, "value": value})
    return value


class SchoolAbsenceIn(InputModel):
    """Pupils of one class absent due to illness on one day, for one cause (0 = a zero report)."""

    school_code: Code | None = Field(default=None, description="Default: the submitter's own school")
    class_name: Text32 = Field(description="As the school names it, e.g. 三年级2班")
    grade: int | None = Field(default=None, ge=0, le=12, description="Needed only for a class not yet registered")
    date: date
    cause: Code = Field(description="A symptom (fever, cough, diarrhoea …) or a diagnosed disease code")
    absent: Count
    enrolled: int | None = Field(default=None, ge=1, le=200)

    @field_validator("cause")
    @classmethod
    def _cause(cls, value: str) -> str:
        return _code(value, d.ABSENCE_CAUSES, _ABSENCE_ALIASES, "cause")

    @model_validator(mode="after")
    def _fits_class(self) -> SchoolAbsenceIn:
        if self.enrolled is not None and self.absent > self.enrolled:
            raise PydanticCustomError(
                "row.absent_exceeds",
                "absent ({absent}) exceeds enrolled ({enrolled})",
                {"absent": self.absent, "enrolled": self.enrolled},
            )
        return self


class FeverClinicIn(InputModel):
    institution_code: Code | None = Field(default=None, description="Default: the submitter's own institution")
    date: date
    category: Code = Field(description="visits / ili / sari")
    visits: Count

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        return _code(
            value, d.FEVER_CLINIC_CATEGORIES, {v[0]: k for k, v in d.FEVER_CLINIC_CATEGORIES.items()}, "category"
        )


class PharmacySaleIn(InputModel):
    institution_code: Code | None = None
    date: date
    category: Code = Field(description="antipyretic / cough_cold / antidiarrhoeal / antiviral")
    quantity: Count

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        return _code(value, d.PHARMACY_CATEGORIES, {v[0]: k for k, v in d.PHARMACY_CATEGORIES.items()}, "category")


class LabResultIn(InputModel):
    institution_code: Code | None = None
    date: date
    pathogen: Code
    tested: Count
    positive: Count

    @field_validator("pathogen")
    @classmethod
    def _pathogen(cls, value: str) -> str:
        return _code(value, d.PATHOGENS, {v[0]: k for k, v in d.PATHOGENS.items()}, "pathogen")

    @model_validator(mode="after")
    def _positives(self) -> LabResultIn:
        if self.positive > self.tested:
            raise PydanticCustomError(
                "row.positive_exceeds",
                "positive ({positive}) exceeds tested ({tested})",
                {"positive": self.positive, "tested": self.tested},
            )
        return self


class CaseReportIn(InputModel):
    """A notifiable-disease report card (传染病报告卡). Sending the same card number again from the
    same institution is a revision (订正); ``deleted`` withdraws it."""

    card_no: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    institution_code: Code | None = Field(default=None, description="The reporting unit; default: the submitter's")
    disease: Code
    classification: Code = "clinical"
    onset_date: date
    diagnosis_date: date
    reported_at: AwareDatetime | None = None
    patient_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    id_number: Annotated[str, StringConstraints(strip_whitespace=True, max_length=18)] | None = None
    sex: Code
    age_years: int = Field(ge=0, le=120)
    community_code: Annotated[str, StringConstraints(pattern=r"^\d{12}$")] = Field(
        description="12-digit code of the community/village of residence"
    )
    address: str | None = Field(default=None, max_length=256)
    school_code: Code | None = None
    class_name: Text32 | None = None
    workplace: str | None = Field(default=None, max_length=128)
    hospitalised: bool = False
    died: bool = False
    deleted: bool = False

    @field_validator("disease")
    @classmethod
    def _disease(cls, value: str) -> str:
        return _code(value, d.DISEASES, _DISEASE_ALIASES, "disease")

    @field_validator("classification")
    @classmethod
    def _classification(cls, value: str) -> str:
        return _code(value, d.CASE_CLASSIFICATIONS, _CLASSIFICATION_ALIASES, "classification")

    @field_validator("sex")
    @classmethod
    def _sex(cls, value: str) -> str:
        return _code(value, ("M", "F"), _SEX_ALIASES, "sex")

    @model_validator(mode="after")
    def _dates(self) -> CaseReportIn:
        if self.diagnosis_date < self.onset_date:
            raise PydanticCustomError("row.diagnosis_before_onset", "diagnosis_date is before onset_date")
        if self.class_name and not self.school_code:
            raise PydanticCustomError("row.class_needs_school", "class_name needs school_code")
        return self


class FeedBatch(InputModel):
    """Rows of one feed. Each row is checked on its own: good rows are stored, bad rows are kept
    with their reasons, and the batch commits at once; a batch key already seen is a replay."""

    batch_key: str | None = Field(default=None, max_length=128, description="Resending the same key changes nothing")
    rows: list[Any] = Field(
        max_length=50_000, description="One object per row; a row that is not an object is rejected on its own"
    )


class FeedResult(BaseModel):
    batch_id: int
    feed: str
    received: int
    inserted: int
    corrected: int
    unchanged: int
    rejected: int
    errors: list[RowError]
    alerts: list[int] = Field(default_factory=list, description="Alerts created or extended by this batch")
    replayed: bool = False


class EvidenceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    detector_id: int | None
    method: str
    day: date
    observed: float
    threshold: float | None
    score: float | None
    grade: str
    detail: dict[str, Any] | None
    detected_at: datetime


class AlertEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    at: datetime
    user_id: int | None
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    signal: str
    signal_name: str = ""
    place_kind: str
    place_id: int
    place_name: str = ""
    town_id: int | None
    grade: str
    status: str
    first_day: date
    last_day: date
    observed: float
    threshold: float | None
    methods: list[str]
    data_received_at: datetime
    created_at: datetime
    updated_at: datetime
    response_due_at: datetime
    report_due_at: datetime | None
    first_response_at: datetime | None
    reported_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    version: int
    overdue: list[str] = Field(default_factory=list, description="response / report: deadlines passed and not met")


class LineListRow(BaseModel):
    """One row behind an alert: a class's absences on a day, a case, an institution's count."""

    day: date
    place: str
    what: str
    count: int
    detail: dict[str, Any] = Field(default_factory=dict)


class AlertDetail(AlertOut):
    evidence: list[EvidenceOut]
    events: list[AlertEventOut]
    line_list: list[LineListRow]
    series: list[tuple[date, int]]


Action = Literal["verify", "dismiss", "monitor", "assess", "respond", "close", "report", "note"]
Outcome = Literal["confirmed_outbreak", "not_outbreak", "sporadic", "false_signal"]


class AlertAction(InputModel):
    action: Action
    note: str | None = Field(default=None, max_length=2000)
    outcome: Outcome | None = None
    version: int | None = Field(default=None, ge=1, description="The version you saw; a stale one answers 409")


class DetectorConfigIn(InputModel):
    code: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[a-z0-9_.\-]+$")
    ]
    name_zh: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    name_en: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    signal: str
    place_kind: str
    place_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    method: str
    params: dict[str, Any] = Field(default_factory=dict)
    interval: Literal["day", "week"] = "day"
    grade: Literal["red", "orange", "yellow", "blue"] = "yellow"
    response_hours: float = Field(default=d.FIRST_RESPONSE_HOURS, gt=0, le=24 * 30)
    report_hours: float | None = Field(default=None, gt=0, le=24 * 30)
    source: str | None = Field(default=None, max_length=1000)
    enabled: bool = True


class DetectorConfigOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name_zh: str
    name_en: str
    signal: str
    place_kind: str
    place_id: int | None
    method: str
    params: dict[str, Any]
    interval: str
    grade: str
    response_hours: float
    report_hours: float | None
    source: str | None
    enabled: bool
    updated_at: datetime


class ChannelIn(InputModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    kind: Literal["log", "webhook"]
    url: str | None = Field(default=None, max_length=512)
    secret: str | None = Field(default=None, max_length=128)
    min_grade: Literal["red", "orange", "yellow", "blue"] = "blue"
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise PydanticCustomError("row.url_scheme", "the address must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _url(self) -> ChannelIn:
        if self.kind == "webhook" and not self.url:
            raise PydanticCustomError("row.webhook_needs_url", "a webhook needs a url")
        return self


class ChannelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    kind: str
    url: str | None
    min_grade: str
    enabled: bool
