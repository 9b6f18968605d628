"""The chronic programme's indicators over HTTP: the page (a table per organisation unit, the 12-month
charts loaded after it), its Excel download, and the JSON API. Thin: each route calls one service
function of ``indicator_service``; months computed once are reused for ``CACHE_SECONDS`` (per app)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, Response

from healthbrain.auth.deps import PrincipalDep
from healthbrain.chronic import indicator_service
from healthbrain.chronic.indicator_service import LEVELS, MonthCache, TableOut
from healthbrain.chronic.indicators import indicators
from healthbrain.core.time import SHANGHAI, local_today
from healthbrain.web.charts import Series, line_chart
from healthbrain.web.deps import LanguageDep, SessionDep
from healthbrain.web.templating import render

router = APIRouter()

MonthQuery = Annotated[str | None, Query(max_length=7, description="YYYY-MM (default: the running month)")]
LevelQuery = Annotated[str | None, Query(max_length=8, description="town, centre or team")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHART_COLOUR = "#1a7f5a"
PERCENT_SCALE = ((0.0, "0%"), (100.0, "100%"))  # every chart on the same 0–100 % scale


def cache_of(app: FastAPI) -> MonthCache:
    """The application's cache of evaluated months (``indicator_service.warm`` fills it ahead of time)."""
    cache = getattr(app.state, "chronic_indicator_cache", None)
    if not isinstance(cache, MonthCache):
        cache = MonthCache()
        app.state.chronic_indicator_cache = cache
    return cache


def _cache(request: Request) -> MonthCache:
    return cache_of(request.app)


@router.get("/chronic/indicators", response_class=HTMLResponse, include_in_schema=False)
def indicators_page(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    language: LanguageDep,
    month: MonthQuery = None,
    level: LevelQuery = None,
) -> Response:
    table = indicator_service.indicator_table(
        session, principal=principal, month=month, level=level, language=language, cache=_cache(request)
    )
    return render(
        request,
        "chronic/indicators.html",
        {"table": table, "levels": [str(lv) for lv in LEVELS], "this_month": local_today().strftime("%Y-%m")},
        principal=principal,
    )


@router.get("/chronic/indicators/series", response_class=HTMLResponse, include_in_schema=False)
def indicators_series(
    request: Request, session: SessionDep, principal: PrincipalDep, language: LanguageDep, month: MonthQuery = None
) -> Response:
    """The 12-month charts of the caller's whole scope (an HTML fragment the page loads after the table)."""
    series = indicator_service.district_series(session, principal=principal, month=month, cache=_cache(request))
    charts = []
    for indicator in indicators():
        points = series[indicator.slug]
        chart = line_chart(
            [
                Series(
                    indicator.name(language),
                    CHART_COLOUR,
                    [
                        (datetime.combine(on, time(12), tzinfo=SHANGHAI), v.value)
                        for _p, on, v in points
                        if v.value is not None
                    ],
                )
            ],
            title=indicator.name(language),
            height=160,
            bands=PERCENT_SCALE,
        )
        charts.append((indicator, chart, points))
    return render(request, "chronic/_indicator_series.html", {"charts": charts}, principal=principal)


@router.get("/chronic/indicators.xlsx", include_in_schema=False)
def indicators_xlsx(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    language: LanguageDep,
    month: MonthQuery = None,
    level: LevelQuery = None,
) -> Response:
    table = indicator_service.indicator_table(
        session, principal=principal, month=month, level=level, language=language, cache=_cache(request)
    )
    name = f"chronic-indicators-{table.period.label}-{table.level.value}.xlsx"
    return Response(
        indicator_service.table_xlsx(table, language),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/api/v1/chronic/indicators",
    response_model=TableOut,
    tags=["chronic"],
    summary="Programme indicators for a month, per town, centre or team (numerator, denominator, %)",
)
def indicators_api(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    language: LanguageDep,
    month: MonthQuery = None,
    level: LevelQuery = None,
) -> TableOut:
    table = indicator_service.indicator_table(
        session, principal=principal, month=month, level=level, language=language, cache=_cache(request)
    )
    return indicator_service.table_out(table, language)
