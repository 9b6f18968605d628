"""Family-doctor contracting: the default service packages, the words a contract is described in, and
when a contract is in force (one rule, in a pure form and as SQL; a test checks they agree).

Sources: 《关于推进家庭医生签约服务的指导意见》(国医改办发〔2016〕1号) — a contract runs for one year and is
renewed at its end; 《家庭医生签约服务管理规范（试行）》. Packages follow the key populations of
``people.populations`` (BPHS 2017), each with an annual fee the resident pays (the basic package is free).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy import ColumnElement, and_, or_

from healthbrain.contracts.models import Contract
from healthbrain.core.time import years_before


class ContractStatus(StrEnum):
    """FHIR EpisodeOfCare.status, the subset a contract uses."""

    ACTIVE = "active"  # signed; in force between start and end (a renewal may start in the future)
    FINISHED = "finished"  # ended before its end date (moved, died, withdrew, changed team, merged)
    CANCELLED = "cancelled"  # ended before it started
    ENTERED_IN_ERROR = "entered-in-error"


class EndReason(StrEnum):
    MOVED = "moved"
    DIED = "died"
    WITHDREW = "withdrew"
    CHANGED_TEAM = "changed_team"
    MERGED = "merged"  # the duplicate record's contract, ended when the records were merged
    OTHER = "other"


# Reasons a user may give when ending a contract by hand (changed_team and merged are set by the system).
USER_END_REASONS: Final = (EndReason.MOVED, EndReason.DIED, EndReason.WITHDREW, EndReason.OTHER)

SIGNER_RELATIONS: Final = ("self", "spouse", "child", "parent", "guardian", "other")
SIGNATURE_METHODS: Final = ("handwritten", "paper", "electronic", "fingerprint")
CONTRACT_YEARS: Final = 1  # 国医改办发〔2016〕1号: 签约周期原则上为一年
EXPIRING_DAYS: Final = 30  # the worklist's default horizon for contracts to renew
MAX_FUTURE_START_DAYS: Final = 366  # a contract may be signed ahead, not further than a year


@dataclass(frozen=True, slots=True)
class PackageDefinition:
    code: str
    name: str  # 中文名 (stored; the page shows it as the institution wrote it)
    population: str | None  # people.populations.KeyPopulation value; None: everyone
    annual_fee_yuan: float
    description: str


DEFAULT_PACKAGES: Final[tuple[PackageDefinition, ...]] = (
    PackageDefinition("basic", "基础包", None, 0.0, "基本公共卫生服务、健康咨询、预约转诊、慢病筛查"),
    PackageDefinition("elderly", "老年人包", "elderly", 120.0, "65岁及以上老年人年度体检、中医药健康管理、用药指导"),
    PackageDefinition("child", "儿童包", "child", 60.0, "0～6岁儿童健康检查、生长发育评估、预防接种提醒"),
    PackageDefinition("chronic", "慢病包", "chronic", 150.0, "高血压、2型糖尿病规范管理、长处方、居家监测"),
    PackageDefinition("maternal", "孕产妇包", "pregnant", 100.0, "孕期保健、产后访视、母婴健康指导"),
    PackageDefinition("disabled", "残疾人包", "disabled", 80.0, "康复指导、上门服务、辅具适配咨询"),
)


def default_end(start: date) -> date:
    """The last day of a contract of ``CONTRACT_YEARS`` that starts on ``start`` (2026-03-01 → 2027-02-28)."""
    return years_before(start, -CONTRACT_YEARS) - timedelta(days=1)


def renewal_start(previous_end: date) -> date:
    return previous_end + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ContractFact:
    status: str
    start_date: date
    end_date: date
    ended_on: date | None = None


def in_force(contract: ContractFact, on: date) -> bool:
    """Whether a contract covers a day: signed (active or finished), started, not past its end date,
    and not ended on or before that day (``ended_on`` is the first day it no longer covers)."""
    if contract.status not in (ContractStatus.ACTIVE, ContractStatus.FINISHED):
        return False
    if not contract.start_date <= on <= contract.end_date:
        return False
    return contract.ended_on is None or contract.ended_on > on


def in_force_clause(on: date) -> ColumnElement[bool]:
    """:func:`in_force` as a filter over ``Contract``."""
    return and_(
        Contract.status.in_((ContractStatus.ACTIVE.value, ContractStatus.FINISHED.value)),
        Contract.start_date <= on,
        Contract.end_date >= on,
        or_(Contract.ended_on.is_(None), Contract.ended_on > on),
    )


def open_overlapping_clause(first: date, last: date) -> ColumnElement[bool]:
    """Signed contracts, not ended, whose period meets ``[first, last]`` — what one resident may hold once."""
    return and_(
        Contract.status == ContractStatus.ACTIVE.value,
        Contract.ended_on.is_(None),
        Contract.start_date <= last,
        Contract.end_date >= first,
    )


def status_on(contract: ContractFact, on: date) -> str:
    """What a page shows: planned (starts later), active, expired (past its end, not ended by hand), or the
    stored status."""
    if contract.status == ContractStatus.ACTIVE and contract.ended_on is None:
        if contract.start_date > on:
            return "planned"
        if contract.end_date < on:
            return "expired"
    return contract.status


def end_status(start: date, ended_on: date) -> ContractStatus:
    """Ending on or before the first day is a cancellation; later, the contract is finished."""
    return ContractStatus.CANCELLED if ended_on <= start else ContractStatus.FINISHED
