"""OperationOutcome: how every FHIR error (and a conditional create's "already there") reads."""

from __future__ import annotations

from typing import Any

from healthbrain.core.i18n import translate
from healthbrain.interop.fhir.parse import Issue

# HTTP status → OperationOutcome.issue.code (R4 issue-type).
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    412: "duplicate",
    422: "processing",
    500: "exception",
}


def operation_outcome(issues: list[Issue], status: int, language: str, *, severity: str = "error") -> dict[str, Any]:
    code = ISSUE_CODES.get(status, "invalid" if status < 500 else "exception")
    out = []
    for issue in issues:
        entry: dict[str, Any] = {
            "severity": severity,
            "code": code,
            "diagnostics": translate(issue.key, language, **issue.params),
        }
        if issue.field:
            entry["expression"] = [issue.field]
        out.append(entry)
    return {"resourceType": "OperationOutcome", "issue": out}


def information(key: str, language: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational", "diagnostics": translate(key, language)}],
    }
