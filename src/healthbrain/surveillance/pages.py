"""Early-warning pages: the alert console, an alert's page (series with its threshold, map, line
list, workflow), detector settings and channels, and the data-submission page."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from healthbrain.auth.deps import PrincipalDep
from healthbrain.auth.roles import Permission
from healthbrain.auth.scope import Principal
from healthbrain.core.errors import DomainError, NotFound
from healthbrain.core.i18n import catalogue, translate
from healthbrain.core.ingest import validation_messages
from healthbrain.core.params import IdPath, OffsetQuery
from healthbrain.core.time import local_today, utcnow
from healthbrain.db import rollback
from healthbrain.geo import repository as geo_repository
from healthbrain.surveillance import definitions, files, indicators, ingest, repository, service, workflow
from healthbrain.surveillance.definitions import GRADES, SIGNALS, Feed, PlaceKind
from healthbrain.surveillance.detectors.registry import METHODS
from healthbrain.surveillance.schemas import AlertAction, ChannelIn, DetectorConfigIn
from healthbrain.surveillance.tasks import SCAN, ScanParams
from healthbrain.web.charts import Series, choropleth, line_chart
from healthbrain.web.deps import LanguageDep, SessionDep
from healthbrain.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
OPEN_STATUSES = service.OPEN_STATUSES
STATUSES = (*OPEN_STATUSES, "dismissed", "closed")
FEED_GROUPS = ("absence", "fever_clinic", "pharmacy", "lab", "case")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v for v in (x.strip() for x in value.split(",")) if v)


@router.get("/surveillance", response_class=HTMLResponse)
def console_page(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    language: LanguageDep,
    status: str = "open",
    grade: str = "",
    group: str = "",
    town: str = "",
    overdue: str = "",
    offset: OffsetQuery = 0,
) -> Response:
    principal.require(Permission.SURVEILLANCE_READ)
    statuses = OPEN_STATUSES if status == "open" else (() if status == "all" else _csv(status))
    town_id = int(town) if town.isdigit() and len(town) < 19 else None
    filters = service.AlertFilter(
        statuses=tuple(s for s in statuses if s in STATUSES),
        grades=tuple(g for g in _csv(grade) if g in GRADES),
        signal_prefix=f"{group}." if group in FEED_GROUPS else None,
        town_id=town_id,
        overdue_only=overdue == "1",
    )
    alerts, total = service.list_alerts(
        session, principal=principal, filters=filters, language=language, limit=PAGE_SIZE, offset=offset
    )
    overview = service.summary(session, principal=principal, language=language, latest=0)
    context = {
        "alerts": alerts,
        "total": total,
        "offset": offset,
        "page_size": PAGE_SIZE,
        "status": status,
        "grade": grade,
        "group": group,
        "town": town,
        "overdue": overdue,
        "statuses": STATUSES,
        "grades": GRADES,
        "groups": FEED_GROUPS,
        "towns": repository.towns(session),
        "open_by_grade": overview.open_by_grade,
        "open_overdue": overview.overdue,
        "map": _town_map(session),
    }
    template = "surveillance/_alerts.html" if request.headers.get("hx-request") else "surveillance/console.html"
    return render(request, template, context, principal=principal)


def _town_map(session: Session) -> str:
    """The district's towns shaded by their open alerts, each linking to its filtered console."""
    counts: dict[int, int] = {}
    for alert in repository.alerts(
        session,
        repository.alert_query(
            statuses=OPEN_STATUSES, grades=None, signal_prefix=None, town_id=None, overdue_at=None, since=None
        ),
        limit=2000,
        offset=0,
    ):
        if alert.town_id is not None:
            counts[alert.town_id] = counts.get(alert.town_id, 0) + 1
    peak = max(counts.values(), default=0) or 1
    towns = repository.towns(session)
    return choropleth(
        [
            (
                t.code,
                f"{t.name} {counts.get(t.id, 0)}",
                t.polygon,
                counts.get(t.id, 0) / peak,
                f"/surveillance?town={t.id}",
            )
            for t in towns
        ],
        height=360,
        hot={t.code for t in towns if counts.get(t.id)},
    )


def _alert_map(session: Session, alert: Any, areas: list[int]) -> str:
    """The alert's town with its communities (the alert's area marked), or the district's towns."""
    town_id = alert.town_id
    if town_id is None:
        towns = repository.towns(session)
        return choropleth([(t.code, t.name, t.polygon, 0.15, None) for t in towns], height=360)
    communities = geo_repository.divisions(session, parent_id=town_id)
    marked = set(areas)
    if alert.place_kind == PlaceKind.COMMUNITY:
        marked.add(alert.place_id)
    markers: list[tuple[float, float, str]] = []
    if alert.place_kind in (PlaceKind.SCHOOL, PlaceKind.INSTITUTION, PlaceKind.CLASS):
        institution_id = alert.place_id
        if alert.place_kind == PlaceKind.CLASS:
            institution_id = repository.class_school(session, [alert.place_id]).get(alert.place_id, -1)
        institution = geo_repository.institution_by_id(session, institution_id)
        if institution is not None and institution.lon is not None and institution.lat is not None:
            markers.append((institution.lon, institution.lat, institution.name))
            marked.add(institution.division_id)
    whole_town = alert.place_kind == PlaceKind.TOWN
    return choropleth(
        [(c.code, c.name, c.polygon, 0.1, None) for c in communities],
        height=360,
        labels=len(communities) <= 30,
        hot={c.code for c in communities if c.id in marked or whole_town},
        markers=markers,
    )


def _chart(points: list[service.SeriesPoint], main: Any, language: str) -> str:
    def at(d: date) -> datetime:
        return datetime(d.year, d.month, d.day, 12, tzinfo=UTC)

    days = int(main.params.get("days", 1)) if main is not None and main.method == "window" else 1
    observed = (
        translate("surv.chart.window_sum", language, days=days)
        if days > 1
        else translate("surv.chart.observed", language)
    )
    return line_chart(
        [
            Series(observed, "#175cd3", [(at(p.day), p.observed) for p in points]),
            Series(
                translate("surv.chart.threshold", language),
                "#b42318",
                [(at(p.day), p.threshold) for p in points if p.threshold is not None],
                style="dashed",
            ),
            Series(
                translate("surv.chart.alarm", language),
                "#b42318",
                [(at(p.day), p.observed) for p in points if p.alarm],
                style="points",
            ),
        ],
        width=900,
        height=260,
        title=translate("surv.chart.title", language),
    )


def _alert_page(
    request: Request,
    session: Session,
    principal: Principal,
    language: str,
    alert_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    reveal = request.query_params.get("reveal") == "1"
    detail = service.alert_detail(session, principal=principal, alert_id=alert_id, language=language, reveal=reveal)
    alert = service.get_alert(session, principal=principal, alert_id=alert_id)
    main, points = service.alert_series(session, alert)
    areas = service.alert_cluster_areas(session, alert)
    users = {e.user_id for e in detail.events if e.user_id}
    return render(
        request,
        "surveillance/alert.html",
        {
            "a": detail,
            "main": main,
            "chart": _chart(points, main, language),
            "map": _alert_map(session, alert, areas),
            "actions": workflow.allowed_actions(alert) if principal.can(Permission.SURVEILLANCE_RESPOND) else [],
            "notifications": repository.notifications_of(session, alert.id),
            "channels": {c.id: c.name for c in repository.channels(session)},
            "usernames": service.usernames(session, users),
            "detectors": {d.id: d for d in repository.detectors(session)},
            "error": error,
            "reveal": reveal,
            "can_reveal": principal.can(Permission.RESIDENT_REVEAL),
        },
        principal=principal,
        status_code=status_code,
    )


@router.get("/surveillance/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    request: Request, session: SessionDep, principal: PrincipalDep, language: LanguageDep, alert_id: IdPath
) -> Response:
    return _alert_page(request, session, principal, language, alert_id)


@router.post("/surveillance/alerts/{alert_id}/act", response_class=HTMLResponse)
def alert_act(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    language: LanguageDep,
    alert_id: IdPath,
    action: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
    outcome: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = AlertAction.model_validate(
            {
                "action": action,
                "note": note or None,
                "outcome": outcome or None,
                "version": int(version) if version.isdigit() else None,
            }
        )
        workflow.act(session, principal=principal, alert_id=alert_id, data=data)
    except ValidationError as exc:
        rollback(session)
        message = "; ".join(f"{field}: {text}" for field, text in validation_messages(exc, language))
        return _alert_page(request, session, principal, language, alert_id, error=message, status_code=422)
    except DomainError as exc:
        rollback(session)
        if isinstance(exc, NotFound):
            raise
        # Say which button the error belongs to: several forms sit on the page.
        step = (
            translate(f"surv.action.{action}", language) if f"surv.action.{action}" in catalogue(language) else action
        )
        return _alert_page(
            request,
            session,
            principal,
            language,
            alert_id,
            error=f"{step}: {translate(exc.key, language, **exc.params)}",
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/surveillance/alerts/{alert_id}", status_code=303)


# --- settings ------------------------------------------------------------------------------


@router.get("/surveillance/settings", response_class=HTMLResponse)
def settings_page(request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    return render(request, "surveillance/settings.html", _settings_context(session, principal), principal=principal)


def _settings_context(session: Session, principal: Principal) -> dict[str, Any]:
    can_edit = principal.can(Permission.SURVEILLANCE_CONFIGURE)
    detectors = service.list_detectors(session, principal=principal)
    return {
        "detectors": detectors,
        "effective": {d.id: service.effective_params(d) for d in detectors},
        "signals": SIGNALS,
        "channels": service.list_channels(session, principal=principal) if can_edit else [],
        "can_edit": can_edit,
        "channel_form": {"kind": "webhook", "min_grade": "blue", "enabled": True},
    }


def _detector_form(
    request: Request,
    principal: Principal,
    *,
    form: dict[str, Any],
    error: str | None,
    field: str | None,
    detector_id: int | None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "surveillance/detector.html",
        {
            "form": form,
            "error": error,
            "error_field": field,
            "detector_id": detector_id,
            "signals": SIGNALS,
            "methods": [*METHODS, SCAN],
            "method_params": {
                **{slug: m.params.model_json_schema().get("properties", {}) for slug, m in METHODS.items()},
                SCAN: ScanParams.model_json_schema().get("properties", {}),
            },
            "place_kinds": [k.value for k in PlaceKind],
            "grades": GRADES,
        },
        principal=principal,
        status_code=status_code,
    )


@router.get("/surveillance/settings/new", response_class=HTMLResponse)
def new_detector_page(request: Request, principal: PrincipalDep) -> Response:
    principal.require(Permission.SURVEILLANCE_CONFIGURE)
    form = {
        "interval": "day",
        "grade": "yellow",
        "response_hours": definitions.FIRST_RESPONSE_HOURS,
        "params": "{}",
        "enabled": True,
    }
    return _detector_form(request, principal, form=form, error=None, field=None, detector_id=None)


@router.get("/surveillance/settings/{detector_id}", response_class=HTMLResponse)
def edit_detector_page(request: Request, session: SessionDep, principal: PrincipalDep, detector_id: IdPath) -> Response:
    row = service.get_detector(session, principal=principal, detector_id=detector_id)
    form = {c: getattr(row, c) for c in DetectorConfigIn.model_fields}
    form["params"] = json.dumps(row.params, ensure_ascii=False)
    return _detector_form(request, principal, form=form, error=None, field=None, detector_id=detector_id)


@router.post("/surveillance/settings/save", response_class=HTMLResponse)
async def save_detector(
    request: Request, session: SessionDep, principal: PrincipalDep, language: LanguageDep
) -> Response:
    principal.require(Permission.SURVEILLANCE_CONFIGURE)
    raw = await request.form()
    form: dict[str, Any] = {k: v for k, v in raw.items() if isinstance(v, str) and k != "csrf_token"}
    detector_id = int(form.pop("detector_id")) if str(form.get("detector_id", "")).isdigit() else None
    data_in = dict(form)
    data_in["enabled"] = form.get("enabled") == "on"
    for optional in ("place_id", "report_hours", "source"):
        if not str(data_in.get(optional, "")).strip():
            data_in[optional] = None
    try:
        data_in["params"] = json.loads(form.get("params") or "{}")
        data = DetectorConfigIn.model_validate(data_in)
        service.save_detector(session, principal=principal, data=data, detector_id=detector_id, language=language)
    except json.JSONDecodeError as exc:
        near = translate("surv.settings.json_at", language, line=exc.lineno, column=exc.colno)
        return _detector_form(
            request,
            principal,
            form=form,
            error=f"{translate('surv.settings.params', language)}: {translate('validation.json_invalid', language, error=near)}",
            field="params",
            detector_id=detector_id,
            status_code=422,
        )
    except ValidationError as exc:
        field, message = validation_messages(exc, language)[0]
        return _detector_form(
            request,
            principal,
            form=form,
            error=f"{field}: {message}",
            field=field,
            detector_id=detector_id,
            status_code=422,
        )
    except DomainError as exc:
        rollback(session)
        return _detector_form(
            request,
            principal,
            form=form,
            error=translate(exc.key, language, **exc.params),
            field=exc.field,
            detector_id=detector_id,
            status_code=exc.status_code,
        )
    return RedirectResponse("/surveillance/settings", status_code=303)


@router.post("/surveillance/channels/save", response_class=HTMLResponse)
def save_channel(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    language: LanguageDep,
    name: Annotated[str, Form()],
    kind: Annotated[str, Form()],
    url: Annotated[str, Form()] = "",
    secret: Annotated[str, Form()] = "",
    min_grade: Annotated[str, Form()] = "blue",
    enabled: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = ChannelIn.model_validate(
            {
                "name": name,
                "kind": kind,
                "url": url or None,
                "secret": secret or None,
                "min_grade": min_grade,
                "enabled": enabled == "on",
            }
        )
    except ValidationError as exc:
        where, message = validation_messages(exc, language)[0]
        label = translate(f"surv.channels.{where}", language) if where in ("name", "url", "kind") else where
        return render(
            request,
            "surveillance/settings.html",
            _settings_context(session, principal)
            | {
                "channel_error": f"{label}: {message}" if label else message,
                "channel_field": where,
                "channel_form": {
                    "name": name,
                    "kind": kind,
                    "url": url,
                    "min_grade": min_grade,
                    "enabled": enabled == "on",
                },
            },
            principal=principal,
            status_code=422,
        )
    service.save_channel(session, principal=principal, data=data)
    return RedirectResponse("/surveillance/settings#channels", status_code=303)


# --- submission ----------------------------------------------------------------------------


def _submit_context(session: Session, principal: Principal, feed: str, language: str) -> dict[str, Any]:
    own = principal.institution_id
    columns = files.COLUMNS.get(Feed(feed), []) if feed in {f.value for f in Feed} else []
    return {
        "feed": feed,
        # a row error names its field by the column header the sender wrote
        "labels": {name: (zh if language == "zh-CN" else en) for name, zh, en, _x in columns},
        "feeds": [f.value for f in Feed],
        "columns": files.COLUMNS,
        "batches": repository.recent_batches(
            session, user_id=None if principal.can(Permission.SURVEILLANCE_CONFIGURE) else principal.user_id
        ),
        "institution": geo_repository.institution_by_id(session, own) if own is not None else None,
        "symptoms": definitions.SYMPTOMS,
        "diseases": definitions.DISEASES,
    }


@router.get("/surveillance/submit", response_class=HTMLResponse)
def submit_page(
    request: Request, session: SessionDep, principal: PrincipalDep, language: LanguageDep, feed: str = "school_absence"
) -> Response:
    principal.require(Permission.SURVEILLANCE_SUBMIT)
    feed = feed if feed in {f.value for f in Feed} else "school_absence"
    context = _submit_context(session, principal, feed, language)
    return render(request, "surveillance/submit.html", context, principal=principal)


@router.post("/surveillance/submit", response_class=HTMLResponse)
async def submit_file(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    language: LanguageDep,
    feed: Annotated[str, Form()],
    file: Annotated[UploadFile, File()],
) -> Response:
    principal.require(Permission.SURVEILLANCE_SUBMIT)
    content = await file.read()
    context = _submit_context(session, principal, feed, language)
    try:
        parsed = ingest.parse_feed(feed)
        rows = files.read_rows(parsed, file.filename or "", content)
        result = ingest.ingest(
            session,
            principal=principal,
            feed=parsed,
            rows=rows,
            batch_key=files.content_key(content),
            channel="file",
            language=language,
        )
    except DomainError as exc:
        rollback(session)
        context["file_error"] = translate(exc.key, language, **exc.params)
        return render(request, "surveillance/submit.html", context, principal=principal, status_code=exc.status_code)
    context["result"] = result
    context["batches"] = _submit_context(session, principal, feed, language)["batches"]
    return render(request, "surveillance/submit.html", context, principal=principal)


@router.get("/surveillance/templates/{feed}.{ext}")
def template_download(principal: PrincipalDep, feed: str, ext: str) -> Response:
    principal.require(Permission.SURVEILLANCE_SUBMIT)
    parsed = ingest.parse_feed(feed)
    if ext == "xlsx":
        return Response(
            files.template_xlsx(parsed),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{feed}-template.xlsx"'},
        )
    return Response(
        files.template_csv(parsed),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{feed}-template.csv"'},
    )


@router.get("/surveillance/batches/{batch_id}/errors.xlsx")
def error_report(session: SessionDep, principal: PrincipalDep, batch_id: IdPath) -> Response:
    principal.require(Permission.SURVEILLANCE_SUBMIT)
    batch = repository.batch(session, batch_id)
    if (
        batch is None
        or not batch.channel.startswith("surveillance.")
        or (batch.user_id != principal.user_id and not principal.can(Permission.SURVEILLANCE_CONFIGURE))
    ):
        raise NotFound("error.not_found")
    feed = Feed(batch.channel.split(".")[1])
    content = files.error_report_xlsx(feed, list(repository.rejections_of(session, batch.id)))
    return Response(
        content,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="batch-{batch.id}-errors.xlsx"'},
    )


# --- indicators ----------------------------------------------------------------------------


@router.get("/surveillance/indicators", response_class=HTMLResponse)
def indicators_page(
    request: Request, session: SessionDep, principal: PrincipalDep, language: LanguageDep, months: int = 6
) -> Response:
    principal.require(Permission.SURVEILLANCE_READ)
    months = max(1, min(months, 24))
    today = local_today()
    table = indicators.response_table(session, until=today, months=months, now=utcnow())
    return render(
        request,
        "surveillance/indicators.html",
        {"table": table, "months": months, "since": today - timedelta(days=31 * months)},
        principal=principal,
    )
