"""The FastAPI application factory."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, IntegrityError

from healthbrain import __version__
from healthbrain.auth.router import router as auth_router
from healthbrain.chronic.indicator_pages import router as chronic_indicator_router
from healthbrain.chronic.pages import router as chronic_pages
from healthbrain.chronic.router import router as chronic_router
from healthbrain.config import Settings, get_settings
from healthbrain.contracts.pages import router as contracts_pages
from healthbrain.contracts.router import router as contracts_router
from healthbrain.core import context
from healthbrain.core.errors import DomainError, NotAuthenticated
from healthbrain.core.i18n import translate
from healthbrain.db import Database, get_database
from healthbrain.geo.router import router as geo_router
from healthbrain.interop.bulk_router import router as bulk_import_router
from healthbrain.interop.fhir.router import router as fhir_router
from healthbrain.interop.tabular_pages import router as tabular_pages
from healthbrain.interop.tabular_router import router as tabular_router
from healthbrain.linkage.pages import router as linkage_pages
from healthbrain.linkage.router import router as linkage_router
from healthbrain.people.router import router as people_router
from healthbrain.records.indicator_pages import router as record_indicator_router
from healthbrain.records.pages import router as records_pages
from healthbrain.records.router import router as records_router
from healthbrain.records.tasks import NightlyIndicatorRefresh
from healthbrain.surveillance.notify import Dispatcher
from healthbrain.surveillance.router import router as surveillance_router
from healthbrain.surveillance.tasks import Scheduler
from healthbrain.web.deps import request_language
from healthbrain.web.pages import router as pages_router
from healthbrain.web.templating import render_error

log = logging.getLogger("healthbrain.http")
STATIC_DIR = Path(__file__).parent / "web" / "static"


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/fhir", "/healthz", "/openapi"))


def create_app(
    database: Database | None = None, settings: Settings | None = None, *, background: bool = False
) -> FastAPI:
    """The application. With ``background`` (the server), it also runs the alert dispatcher and the
    periodic detection pass in daemon threads for as long as it serves."""
    settings = settings or get_settings()
    db = database or get_database(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        from healthbrain.chronic.mqtt import MqttListener

        workers: list[Dispatcher | Scheduler | MqttListener | NightlyIndicatorRefresh] = []
        if background:
            workers.append(Dispatcher(db, poll_seconds=settings.notification_poll_seconds))
            workers.append(NightlyIndicatorRefresh(db))  # 建档率/使用率/签约率: running and previous month
            if settings.detection_pass_minutes > 0:
                workers.append(Scheduler(db, minutes=settings.detection_pass_minutes))
            if settings.mqtt_url:  # home devices' readings; a bad URL stops the server here, not later
                workers.append(MqttListener.from_settings(db, settings))
        for worker in workers:
            worker.start()
        yield
        for worker in workers:
            worker.stop()

    app = FastAPI(
        title="healthbrain 健康大脑+",
        version=__version__,
        description="The regional health platform of a district health bureau.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.database = db
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.middleware("http")
    async def request_context(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # A caller's request id is kept (to follow a request across systems) but capped to the
        # audit column's width.
        rid = (request.headers.get("x-request-id") or "").strip()[:36] or str(uuid.uuid4())
        context.request_id.set(rid)
        context.client_ip.set(request.client.host if request.client else None)
        started = time.perf_counter()
        response = await call_next(request)
        response.headers["x-request-id"] = rid
        response.headers.setdefault("x-content-type-options", "nosniff")
        response.headers.setdefault("x-frame-options", "DENY")
        response.headers.setdefault("referrer-policy", "same-origin")
        if not request.url.path.startswith("/static"):
            log.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.url.path,
                    "status": response.status_code,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
        return response

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        language = request_language(request)
        message = translate(exc.key, language, **exc.params)
        if not _is_api(request):
            if isinstance(exc, NotAuthenticated):
                here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(here, safe='/')}", status_code=303)
            return render_error(request, exc.status_code, message)
        body: dict[str, Any] = {"detail": message, "code": exc.key}
        if exc.field is not None:
            body["field"] = exc.field
        if exc.link is not None:
            body["link"] = exc.link
        if exc.status_code == 422 and exc.field is not None:
            # The same shape as payload validation errors, so a client reads one format for 422.
            body["detail"] = [{"loc": ["body", *exc.field.split(".")], "msg": message, "type": exc.key}]
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        if not _is_api(request):
            detail = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in errors)
            return render_error(request, 422, detail)
        return JSONResponse({"detail": errors}, status_code=422)

    def error_response(request: Request, status: int, key: str) -> Response:
        message = translate(key, request_language(request))
        if not _is_api(request):
            return render_error(request, status, message)
        return JSONResponse({"detail": message, "code": key}, status_code=status)

    @app.exception_handler(IntegrityError)
    async def integrity_error(request: Request, exc: IntegrityError) -> Response:
        # A unique key hit by a race the service's own check could not see: a conflict, not a crash.
        log.warning("integrity error", extra={"path": request.url.path, "error": str(exc.orig)[:200]})
        return error_response(request, 409, "error.conflict")

    @app.exception_handler(DataError)
    async def data_error(request: Request, exc: DataError) -> Response:
        # A value the database refused (a NUL in a search term, say): the caller's input, not a crash.
        log.warning("data error", extra={"path": request.url.path, "error": str(exc.orig)[:200]})
        return error_response(request, 422, "error.unstorable")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.url.path})
        return error_response(request, 500, "error.internal")

    @app.get("/healthz", tags=["system"], summary="Liveness and database check")
    def healthz() -> JSONResponse:
        db: Database = app.state.database
        try:
            db.ping()
            return JSONResponse({"status": "ok", "database": db.engine.dialect.name, "version": __version__})
        except Exception as exc:  # the whole point is to report it
            return JSONResponse({"status": "error", "database": str(exc.__class__.__name__)}, status_code=503)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="healthbrain API",
            swagger_js_url="/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    for router in (
        auth_router,
        people_router,
        records_router,
        records_pages,
        geo_router,
        surveillance_router,
        chronic_router,
        chronic_pages,
        chronic_indicator_router,
        linkage_router,
        linkage_pages,
        tabular_router,
        bulk_import_router,
        tabular_pages,
        contracts_router,
        contracts_pages,
        record_indicator_router,
        fhir_router,
        pages_router,
    ):
        app.include_router(router)
    return app
