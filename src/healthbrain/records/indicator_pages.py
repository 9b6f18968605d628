"""The record indicators over HTTP: the page (a table per organisation unit, the 12-month charts loaded
after it), its Excel download, and the JSON API (table and series). Thin: each route calls one service
function of ``indicator_service``, which reads the stored months; months counted live (never refreshed) are
reused for a while (per app)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, Response

from healthbrain.auth.deps import PrincipalDep
from healthbrain.core.time import SHANGHAI, local_today
from healthbrain.records import indicator_service
from healthbrain.records.indicator_service import DayCache, SeriesOut, TableOut
from healthbrain.records.indicators import BY_SLUG, LEVELS, indicators
from healthbrain.web.charts import Series, line_chart
from healthbrain.web.deps import LanguageDep, SessionDep, read_only
from healthbrain.web.templating import render

router = APIRouter()

MonthQuery = Annotated[str | None, Query(max_length=7, description="YYYY-MM (default: the running month)")]
LevelQuery = Annotated[str | None, Query(max_length=9, description="town, community, centre or team")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHART_COLOUR = "#1a7f5a"
PERCENT_SCALE = ((0.0, "0%"), (100.0, "100%"))


def cache_of(app: FastAPI) -> DayCache:
    cache = getattr(app.state, "record_indicator_cache", None)
    if not isinstance(cache, DayCache):
        cache = DayCache()
        app.state.record_indicator_cache = cache
    return cache


@router.get("/records/indicators", response_class=HTMLResponse, include_in_schema=False)
@read_only
def indicators_page(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    language: LanguageDep,
    month: MonthQuery = None,
    level: LevelQuery = None,
) -> Response:
    table = indicator_service.indicator_table(
        session, principal=principal, month=month, level=level, language=language, cache=cache_of(request.app)
    )
    context = {
        "table": table,
        "levels": [str(lv) for lv in LEVELS],
        "this_month": local_today().strftime("%Y-%m"),
        "targets": {slug: d.target for slug, d in BY_SLUG.items()},
    }
    return render(request, "records/indicators.html", context, principal=principal)


@router.get("/records/indicators/series", response_class=HTMLResponse, include_in_schema=False)
@read_only
def indicators_series(
    request: Request, session: SessionDep, principal: PrincipalDep, language: LanguageDep, month: MonthQuery = None
) -> Response:
    """The 12-month charts of the caller's whole scope (an HTML fragment the page loads after the table)."""
    series = indicator_service.series(session, principal=principal, month=month, cache=cache_of(request.app))
    points = series.points
    charts = []
    for indicator in indicators():
        target = BY_SLUG[indicator.slug].target
        bands = (*PERCENT_SCALE, (target, f"{target:g}%")) if target else PERCENT_SCALE
        chart = line_chart(
            [
                Series(
                    indicator.name(language),
                    CHART_COLOUR,
                    [
                        (datetime.combine(on, time(12), tzinfo=SHANGHAI), v.value)
                        for _p, on, v in points[indicator.slug]
                        if v.value is not None
                    ],
                )
            ],
            title=indicator.name(language),
            height=160,
            bands=bands,
        )
        charts.append((indicator, chart, points[indicator.slug]))
    return render(
        request, "records/indicators_series.html", {"charts": charts, "live": series.live}, principal=principal
    )


@router.get("/records/indicators.xlsx", include_in_schema=False)
@read_only
def indicators_xlsx(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    language: LanguageDep,
    month: MonthQuery = None,
    level: LevelQuery = None,
) -> Response:
    table = indicator_service.indicator_table(
        session, principal=principal, month=month, level=level, language=language, cache=cache_of(request.app)
    )
    name = f"record-indicators-{table.period.label}-{table.level.value}.xlsx"
    return Response(
        indicator_service.table_xlsx(table, language),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/api/v1/records/indicators",
    response_model=TableOut,
    tags=["records"],
    summary="建档率, 使用率, 签约率 for a month, per town, community, centre or team (numerator, denominator, %)",
)
@read_only
def indicators_api(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    language: LanguageDep,
    month: MonthQuery = None,
    level: LevelQuery = None,
) -> TableOut:
    table = indicator_service.indicator_table(
        session, principal=principal, month=month, level=level, language=language, cache=cache_of(request.app)
    )
    return indicator_service.table_out(table, language)


@router.get(
    "/api/v1/records/indicators/series",
    response_model=list[SeriesOut],
    tags=["records"],
    summary="The record indicators of the caller's scope over the 12 months up to a month",
)
@read_only
def indicators_series_api(
    request: Request, session: SessionDep, principal: PrincipalDep, language: LanguageDep, month: MonthQuery = None
) -> list[SeriesOut]:
    series = indicator_service.series(session, principal=principal, month=month, cache=cache_of(request.app))
    return indicator_service.series_out(series, language)
