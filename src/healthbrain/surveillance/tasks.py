"""Scheduled work: the full detection pass over the district (every detector, every place, one
day) including the space–time permutation scan, and the thread that runs it periodically.

The ingestion path already evaluates what each batch moves; the pass catches what no single batch
moves (a scan cluster spread over many communities, a statistical detector whose history was
corrected) and is what a nightly job or ``healthbrain surveillance run`` calls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from healthbrain.auth.roles import Role
from healthbrain.auth.scope import Principal
from healthbrain.core.time import local_today, utcnow
from healthbrain.db import Database
from healthbrain.surveillance import engine, repository
from healthbrain.surveillance.detectors.registry import METHODS
from healthbrain.surveillance.models import DetectorConfig
from healthbrain.surveillance.scan import ScanCluster, space_time_permutation_scan

log = logging.getLogger("healthbrain.surveillance")


class ScanParams(BaseModel):
    """The prospective space–time permutation scan over communities × days (Kulldorff et al.,
    PLoS Med 2005): clusters ending today, at most ``max_days`` long, at most ``max_areas``
    communities; a cluster alarms when its Monte Carlo p-value is below ``alpha`` (0.01: a
    recurrence interval of 100 days for a daily analysis)."""

    model_config = ConfigDict(extra="forbid")
    history_days: Annotated[int, Field(ge=14, le=365)] = 56
    max_days: Annotated[int, Field(ge=1, le=30)] = 7
    max_areas: Annotated[int, Field(ge=1, le=200)] = 10
    replications: Annotated[int, Field(ge=99, le=9999)] = 999
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.01
    seed: int = 20261125


SCAN = "scan"
# Who the command line and the scheduler act as: a CDC job with no user behind it.
SYSTEM_PRINCIPAL = Principal(user_id=0, username="system", display_name="system", role=Role.CDC, auth_kind="job")


@dataclass
class PassResult:
    day: date
    seconds: float = 0.0
    detectors: int = 0
    evaluations: int = 0
    hits: int = 0
    alerts: list[int] = field(default_factory=list)
    by_method: dict[str, float] = field(default_factory=dict)


def scan_clusters(cases: np.ndarray, coordinates: np.ndarray, params: ScanParams, day: date) -> list[ScanCluster]:
    """The scan's clusters ending on ``day`` with p < α, over ``cases[area, day]`` (the last column
    is ``day``); the Monte Carlo draws are seeded by the day, so a rerun gives the same answer."""
    if cases[:, -params.max_days :].sum() == 0:
        return []
    result = space_time_permutation_scan(
        cases,
        coordinates,
        max_days=params.max_days,
        max_areas=params.max_areas,
        max_area_share=1.0,
        replications=params.replications,
        rng=np.random.default_rng(params.seed + day.toordinal()),
        lonlat=True,
    )
    return [c for c in result.clusters if c.p_value < params.alpha]


def _scan(session: Session, detector: DetectorConfig, day: date) -> list[engine.Hit]:
    params = ScanParams.model_validate(detector.params)
    areas = repository.communities(session)
    index = {area_id: i for i, (area_id, _x, _y) in enumerate(areas)}
    first = day - timedelta(days=params.history_days - 1)
    cases = np.zeros((len(areas), params.history_days), dtype=np.int64)
    for place, period, value in repository.counts(
        session, signal=detector.signal, place_kind="community", place_ids=None, first=first, last=day, weekly=False
    ):
        if (i := index.get(place)) is not None:
            cases[i, (period - first).days] += value
    coordinates = np.array([[x or 0.0, y or 0.0] for _id, x, y in areas])
    hits = []
    for cluster in scan_clusters(cases, coordinates, params, day):
        centre = areas[cluster.centre][0]
        hits.append(
            engine.Hit(
                detector,
                centre,
                day,
                float(cluster.observed),
                float(cluster.expected),
                float(cluster.llr),
                detail={
                    "areas": [areas[a][0] for a in cluster.areas],
                    "first_day": (first + timedelta(days=cluster.start_day)).isoformat(),
                    "last_day": (first + timedelta(days=cluster.end_day)).isoformat(),
                    "expected": round(float(cluster.expected), 2),
                    "llr": round(float(cluster.llr), 3),
                    "p_value": cluster.p_value,
                    "replications": params.replications,
                },
            )
        )
    return hits


def run_pass(
    session: Session, *, day: date | None = None, now: datetime | None = None, received_at: datetime | None = None
) -> PassResult:
    """Every enabled detector over every place with recent counts, for one day. ``received_at``:
    when the data evaluated arrived (default: now)."""
    day = day or local_today()
    now = now or utcnow()
    started = time.perf_counter()
    result = PassResult(day=day)
    holidays = repository.holidays(session)
    hits: list[engine.Hit] = []
    timings: dict[str, float] = defaultdict(float)
    for detector in repository.detectors(session, enabled_only=True):
        t0 = time.perf_counter()
        result.detectors += 1
        if detector.method == SCAN:
            found = _scan(session, detector, day)
        elif detector.method in METHODS:
            recent = day - timedelta(days=engine.lookahead(detector) + (7 if detector.interval == "week" else 0))
            places = repository.places_with_counts(
                session, signal=detector.signal, place_kind=detector.place_kind, first=recent, last=day
            )
            if detector.place_id is not None:
                places = [p for p in places if p == detector.place_id]
            result.evaluations += len(places)
            found = engine.evaluate(session, detector, {p: {day} for p in places}, holidays=holidays)
        else:
            log.warning("unknown detector method", extra={"detector": detector.code, "method": detector.method})
            continue
        hits.extend(found)
        timings[detector.method] += time.perf_counter() - t0
    result.hits = len(hits)
    result.alerts = engine.raise_alerts(session, hits, received_at=received_at or now, now=now)
    result.seconds = round(time.perf_counter() - started, 3)
    result.by_method = {k: round(v, 3) for k, v in timings.items()}
    log.info("detection pass", extra={"day": day.isoformat(), "seconds": result.seconds, "hits": result.hits})
    return result


class Scheduler:
    """Runs the detection pass every ``minutes`` in a daemon thread (the server starts one)."""

    def __init__(self, database: Database, *, minutes: float) -> None:
        self.database = database
        self.minutes = minutes
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="detection-pass", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.minutes * 60):
            try:
                with self.database.unit_of_work() as session:
                    run_pass(session)
            except Exception:  # keep the schedule alive; the next pass retries
                log.exception("detection pass failed")
