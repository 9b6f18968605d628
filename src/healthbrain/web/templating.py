"""Jinja2 rendering with the language, the caller and the navigation injected."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from healthbrain import __version__
from healthbrain.auth.roles import Permission
from healthbrain.auth.scope import Principal
from healthbrain.core.i18n import translate
from healthbrain.core.time import to_local
from healthbrain.web.deps import request_language

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


@dataclass(frozen=True)
class NavItem:
    key: str
    href: str
    permission: Permission | None
    unless: Permission | None = None  # hidden from those who reach it another way


NAV = (
    NavItem("nav.home", "/", None),
    NavItem("nav.residents", "/residents", Permission.RESIDENT_READ),
    NavItem("nav.chronic", "/chronic", Permission.CHRONIC_READ),
    NavItem("nav.contracts", "/contracts", Permission.CONTRACT_READ),
    NavItem("nav.record_indicators", "/records/indicators", Permission.RECORD_INDICATORS),
    NavItem("nav.surveillance", "/surveillance", Permission.SURVEILLANCE_READ),
    NavItem("nav.submit", "/surveillance/submit", Permission.SURVEILLANCE_SUBMIT, unless=Permission.SURVEILLANCE_READ),
    NavItem("nav.upload", "/interop/upload", Permission.RECORD_IMPORT),
    NavItem("nav.linkage", "/linkage", Permission.RESIDENT_MERGE),
    NavItem("nav.directory", "/directory", Permission.DIRECTORY_READ),
    NavItem("nav.users", "/admin/users", Permission.USER_ADMIN),
    NavItem("nav.audit", "/admin/audit", Permission.AUDIT_READ),
)


def _local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return to_local(value).strftime(fmt) if value else ""


def _date(value: date | None) -> str:
    return value.isoformat() if value else ""


def _param(value: object) -> str:
    """A parameter as a user reads it: 8 not 8.0, true/false, [5, 4]."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_param(v) for v in value) + "]"
    return str(value)


templates.env.filters["local_time"] = _local_time
templates.env.filters["param"] = _param
templates.env.filters["isodate"] = _date


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    principal: Principal | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    language = request_language(request)

    def t(key: str, **params: Any) -> str:
        return translate(key, language, **params)

    nav = [
        item
        for item in NAV
        if principal
        and (item.permission is None or principal.can(item.permission))
        and (item.unless is None or not principal.can(item.unless))
    ]
    full: dict[str, Any] = {
        "t": t,
        "lang": language,
        "principal": principal,
        "csrf_token": principal.csrf_token if principal else None,
        "nav": nav,
        "path": request.url.path,
        "here": quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe=""),
        "version": __version__,
        "Permission": Permission,
    }
    full.update(context or {})
    return templates.TemplateResponse(request, template, full, status_code=status_code)


def render_error(request: Request, status_code: int, message: str) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)
    return render(
        request, "error.html", {"status": status_code, "message": message}, principal=principal, status_code=status_code
    )
