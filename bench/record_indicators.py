"""Record indicators (建档率, 使用率, 签约率) on a simulated district: the live count that the page used to
run on every request, the refresh that stores the months (``healthbrain records indicators refresh``), and
the page's reads from the stored months, for the bureau (district), a centre manager and a doctor.

    .venv/bin/python bench/record_indicators.py sqlite:////tmp/h10/bench200k.sqlite3

The database is one ``healthbrain simulate`` built. The stored table is created if the database predates it.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from healthbrain.auth.roles import Role
from healthbrain.auth.scope import Principal
from healthbrain.core.time import local_today
from healthbrain.db import Database
from healthbrain.geo.models import CareTeam, Institution
from healthbrain.indicators.registry import month_periods
from healthbrain.people.models import Resident
from healthbrain.records import indicator_data, indicator_service, tasks
from healthbrain.records.models import RecordIndicatorMonth


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return round(time.perf_counter() - started, 3), out


def main(url: str) -> None:
    database = Database(url)
    RecordIndicatorMonth.__table__.create(database.engine, checkfirst=True)  # type: ignore[attr-defined]
    today = local_today()
    periods = month_periods(today, 12)
    days = [indicator_service.as_of(p, today) for p in periods]
    figures: dict[str, Any] = {}
    with database.unit_of_work(read_only=True) as session:
        figures["residents"] = session.scalar(select(func.count()).select_from(Resident))
        centre = session.scalar(select(Institution.id).where(Institution.kind == "chc").order_by(Institution.id))
        team = session.scalar(select(CareTeam.id).where(CareTeam.home_institution_id == centre).order_by(CareTeam.id))
        communities = indicator_data.catchment_communities(session, centre)
        figures["live_district_month_s"] = timed(
            lambda: indicator_data.counts(session, communities=None, days=[today])
        )[0]
        figures["live_centre_month_s"] = timed(
            lambda: indicator_data.counts(session, communities=communities, days=[today])
        )[0]
        figures["live_district_12_months_s"] = timed(
            lambda: indicator_data.counts(session, communities=None, days=days)
        )[0]
    for months in (1, 2, 12):
        seconds, done = timed(lambda m=months: tasks.refresh_months(database, periods=periods[-m:], today=today))
        figures[f"refresh_{months}_months"] = {"s": seconds, "count_s": done.count_seconds, "rows": done.rows}
    again = timed(lambda: tasks.refresh_months(database, periods=periods, today=today))[1]
    figures["refresh_12_months_again_rows"] = again.rows
    bureau = Principal(user_id=0, username="b", display_name="b", role=Role.BUREAU, auth_kind="job")
    manager = Principal(
        user_id=0, username="c", display_name="c", role=Role.CENTRE_MANAGER, institution_id=centre, auth_kind="job"
    )
    doctor = Principal(
        user_id=0, username="d", display_name="d", role=Role.FAMILY_DOCTOR, team_ids=(team,), auth_kind="job"
    )
    for name, who, level in (("bureau", bureau, "town"), ("bureau", bureau, "team"), ("centre", manager, "community"),
                             ("doctor", doctor, "team")):  # fmt: skip
        with database.unit_of_work(read_only=True) as session:
            t_table, table = timed(
                lambda w=who, lv=level: indicator_service.indicator_table(session, principal=w, level=lv)
            )
            t_series = timed(lambda w=who: indicator_service.series(session, principal=w))[0]
            t_xlsx = timed(lambda t=table: indicator_service.table_xlsx(t, "zh-CN"))[0]
        assert table.stored
        figures[f"stored_{name}_{level}"] = {"table_s": t_table, "series_s": t_series, "xlsx_s": t_xlsx,
                                             "rows": len(table.rows)}  # fmt: skip
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main(sys.argv[1])
