"""Roles, their permissions and the organisation scope each role reads residents in.

One table, read by the access dependency, the scope helper, the pages and the tests.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Role(StrEnum):
    ADMIN = "admin"  # 系统管理员: users, institutions, audit trail, record merges
    BUREAU = "bureau"  # 卫健局: the whole district, aggregates, no identity data in clear
    CDC = "cdc"  # 疾控中心: the whole district, identity data for case investigation
    CENTRE_MANAGER = "centre_manager"  # 社区卫生服务中心主任: the centre's catchment
    FAMILY_DOCTOR = "family_doctor"  # 家庭医生: the residents the team serves
    DATA_SUBMITTER = "data_submitter"  # 数据报送员: bound to an institution
    DEVICE = "device"  # 居家监测设备: submits readings, reads nothing


class Scope(StrEnum):
    ALL = "all"  # every resident of the district
    CATCHMENT = "catchment"  # residents of the communities in the institution's catchment
    TEAM = "team"  # residents of the communities the user's family-doctor teams serve
    INSTITUTION = "institution"  # residents registered at, or identified by, the user's institution
    NONE = "none"


class Permission(StrEnum):
    RESIDENT_READ = "resident:read"
    RESIDENT_WRITE = "resident:write"
    RESIDENT_REVEAL = "resident:reveal"  # see a full ID number / phone (audited)
    RESIDENT_MERGE = "resident:merge"
    RECORD_WRITE = "record:write"  # encounters, observations, conditions, medications, exams
    OBSERVATION_SUBMIT = "observation:submit"  # bulk observation path (devices, interfaces)
    DIRECTORY_READ = "directory:read"  # divisions, institutions, practitioners, teams
    DIRECTORY_WRITE = "directory:write"
    USER_ADMIN = "user:admin"
    AUDIT_READ = "audit:read"
    SURVEILLANCE_READ = "surveillance:read"  # alerts, series, line lists (early warning)
    SURVEILLANCE_RESPOND = "surveillance:respond"  # work alerts through verification to closure
    SURVEILLANCE_CONFIGURE = "surveillance:configure"  # detector settings, notification channels
    SURVEILLANCE_SUBMIT = "surveillance:submit"  # school absence, fever clinic, pharmacy, lab, case feeds
    CHRONIC_READ = "chronic:read"  # worklist, patient charts, home readings (resident-level)
    CHRONIC_MANAGE = "chronic:manage"  # enrol, follow up, bind devices, prescribe, report
    CHRONIC_INDICATORS = "chronic:indicators"  # programme indicators (aggregates only)
    RECORD_IMPORT = "record:import"  # CSV / Excel / NDJSON files of residents and their records
    CONTRACT_READ = "contract:read"  # family-doctor contracts, uncontracted key populations
    CONTRACT_MANAGE = "contract:manage"  # sign, renew, end contracts
    RECORD_INDICATORS = "record:indicators"  # 建档率, 使用率, 签约率 (aggregates only)


P = Permission
ROLE_PERMISSIONS: Final[dict[Role, frozenset[Permission]]] = {
    Role.ADMIN: frozenset(
        {
            P.RESIDENT_READ,
            P.RESIDENT_MERGE,
            P.DIRECTORY_READ,
            P.DIRECTORY_WRITE,
            P.USER_ADMIN,
            P.AUDIT_READ,
            P.SURVEILLANCE_READ,
            P.CHRONIC_INDICATORS,
            P.RECORD_INDICATORS,
        }
    ),
    Role.BUREAU: frozenset(
        {P.RESIDENT_READ, P.DIRECTORY_READ, P.SURVEILLANCE_READ, P.CHRONIC_INDICATORS, P.RECORD_INDICATORS}
    ),
    Role.CDC: frozenset(
        {
            P.RESIDENT_READ,
            P.RESIDENT_REVEAL,
            P.DIRECTORY_READ,
            P.SURVEILLANCE_READ,
            P.SURVEILLANCE_RESPOND,
            P.SURVEILLANCE_CONFIGURE,
            P.SURVEILLANCE_SUBMIT,
        }
    ),
    Role.CENTRE_MANAGER: frozenset(
        {
            P.RESIDENT_READ,
            P.RESIDENT_WRITE,
            P.RESIDENT_REVEAL,
            P.RESIDENT_MERGE,
            P.RECORD_WRITE,
            P.OBSERVATION_SUBMIT,
            P.DIRECTORY_READ,
            P.AUDIT_READ,
            P.CHRONIC_READ,
            P.CHRONIC_MANAGE,
            P.CHRONIC_INDICATORS,
            P.RECORD_IMPORT,
            P.CONTRACT_READ,
            P.CONTRACT_MANAGE,
            P.RECORD_INDICATORS,
        }
    ),
    Role.FAMILY_DOCTOR: frozenset(
        {
            P.RESIDENT_READ,
            P.RESIDENT_WRITE,
            P.RESIDENT_REVEAL,
            P.RECORD_WRITE,
            P.DIRECTORY_READ,
            P.CHRONIC_READ,
            P.CHRONIC_MANAGE,
            P.CHRONIC_INDICATORS,
            P.CONTRACT_READ,
            P.CONTRACT_MANAGE,
            P.RECORD_INDICATORS,
        }
    ),
    Role.DATA_SUBMITTER: frozenset(
        {
            P.RESIDENT_READ,
            P.RESIDENT_WRITE,
            P.RECORD_WRITE,
            P.OBSERVATION_SUBMIT,
            P.DIRECTORY_READ,
            P.SURVEILLANCE_SUBMIT,
            P.RECORD_IMPORT,
        }
    ),
    Role.DEVICE: frozenset({P.OBSERVATION_SUBMIT}),
}

ROLE_SCOPE: Final[dict[Role, Scope]] = {
    Role.ADMIN: Scope.ALL,
    Role.BUREAU: Scope.ALL,
    Role.CDC: Scope.ALL,
    Role.CENTRE_MANAGER: Scope.CATCHMENT,
    Role.FAMILY_DOCTOR: Scope.TEAM,
    Role.DATA_SUBMITTER: Scope.INSTITUTION,
    Role.DEVICE: Scope.NONE,
}

# Roles that must be bound to an institution / a practitioner when the user is created.
NEEDS_INSTITUTION: Final = frozenset({Role.CENTRE_MANAGER, Role.DATA_SUBMITTER, Role.DEVICE})
NEEDS_PRACTITIONER: Final = frozenset({Role.FAMILY_DOCTOR})
