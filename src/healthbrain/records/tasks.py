"""Scheduled work of the record indicators: the refresh that stores a month's counts per unit
(``record_indicator_month``), and the nightly thread the server runs it in.

The refresh counts in a read-only unit of work and writes in a short one of its own: on SQLite a
district's count takes seconds to a minute and must not hold the write lock meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time as clock_time
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final

from healthbrain.core.time import SHANGHAI, local_today
from healthbrain.db import Database
from healthbrain.indicators.registry import Period
from healthbrain.records import indicator_service

log = logging.getLogger("healthbrain.records")

NIGHTLY_AT: Final = time(2, 30)  # Asia/Shanghai: after the day's feeds, before the bureau's morning


@dataclass(frozen=True, slots=True)
class Refreshed:
    months: list[tuple[str, date]]  # (month, as of), oldest first
    rows: int  # stored rows
    count_seconds: float  # the counting query
    seconds: float  # everything


def refresh_months(database: Database, *, periods: list[Period], today: date | None = None) -> Refreshed:
    """Count ``periods`` district-wide (read-only) and store them (one short write)."""
    started = clock_time.perf_counter()
    today = today or local_today()
    with database.unit_of_work(read_only=True) as session:
        counted = indicator_service.count_for_refresh(session, periods=periods, today=today)
    with database.unit_of_work() as session:
        rows = indicator_service.store_months(session, counted=counted)
    done = Refreshed(
        months=[(p.label, indicator_service.as_of(p, today)) for p in periods],
        rows=rows,
        count_seconds=counted.seconds,
        seconds=round(clock_time.perf_counter() - started, 2),
    )
    log.info(
        "record indicators refreshed",
        extra={"months": [m for m, _ in done.months], "rows": done.rows, "seconds": done.seconds},
    )
    return done


def next_run(now: datetime, at: time = NIGHTLY_AT) -> datetime:
    """The next ``at`` (local time) strictly after ``now``."""
    local = now.astimezone(SHANGHAI)
    candidate = datetime.combine(local.date(), at, tzinfo=SHANGHAI)
    return candidate if candidate > local else candidate + timedelta(days=1)


class NightlyIndicatorRefresh:
    """Refreshes the running and the previous month every night at ``at`` (Asia/Shanghai) in a daemon
    thread; the server starts one (``create_app(background=True)``), tests and commands do not."""

    def __init__(self, database: Database, *, at: time = NIGHTLY_AT) -> None:
        self.database = database
        self.at = at
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="record-indicator-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def run_once(self, today: date | None = None) -> Refreshed:
        today = today or local_today()
        periods = indicator_service.refresh_periods(month=None, months=None, today=today)
        return refresh_months(self.database, periods=periods, today=today)

    def _run(self) -> None:
        while True:
            wait = (next_run(datetime.now(SHANGHAI), self.at) - datetime.now(SHANGHAI)).total_seconds()
            if self._stop.wait(max(wait, 0.0)):
                return
            try:
                self.run_once()
            except Exception:  # keep the schedule alive; the next night retries
                log.exception("record indicator refresh failed")
