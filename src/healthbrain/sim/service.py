"""Builds a synthetic district and loads it: ``healthbrain simulate --residents N --seed S``.

The same seed and reference date give the same district, byte for byte: every stage draws from
its own generator spawned from the seed, so changing one stage does not shift the others.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select

from healthbrain.core.errors import Conflict
from healthbrain.core.time import local_today, utcnow
from healthbrain.db import Database
from healthbrain.geo.models import Division
from healthbrain.people.models import Resident
from healthbrain.sim import (
    chronic,
    feeds,
    geography,
    history,
    institutions,
    load,
    load_chronic,
    load_contracts,
    load_feeds,
    population,
    record_feeds,
)
from healthbrain.sim import contracts as sim_contracts
from healthbrain.sim.models import SimulationRun

MIN_RESIDENTS = 500
# Storing 12 months of record indicators takes ~12 s at 200,000 residents on SQLite (docs/benchmarks.md);
# above this size it is a separate step (``healthbrain records indicators refresh --months 12``).
INDICATOR_MONTHS = 12
INDICATOR_MAX_RESIDENTS = 500_000


@dataclass(frozen=True)
class SimulationResult:
    run_id: int
    seconds: float
    counts: dict[str, int]


def _noop(_stage: str, _done: int, _total: int) -> None:
    return None


@dataclass(frozen=True)
class District:
    """The arrays of a synthetic district before it is loaded: what ``simulate`` loads and what
    ``healthbrain surveillance evaluate`` runs the detectors on, from the same seed."""

    geo: geography.Geography
    population: population.Population
    ages: np.ndarray
    directory: institutions.Directory
    streams: list[np.random.Generator]
    seed: int = 0

    def feeds(self, *, as_of: date, days: int, case_years: int = 6, **options: Any) -> feeds.Feeds:
        district_id, _towns, community_ids = institutions.division_ids(self.geo)
        return feeds.generate(
            self.streams[6],
            geo=self.geo,
            directory=self.directory,
            ages=self.ages,
            community=self.population.community,
            male=self.population.male,
            names=self.population.name,
            id_numbers=self.population.id_number,
            community_ids=community_ids,
            district_id=district_id,
            as_of=as_of,
            days=days,
            case_years=case_years,
            **options,
        )

    def management(
        self, care: history.History, *, as_of: date, history_days: int, reading_days: int
    ) -> chronic.Management:
        """Chronic-disease management over the history's follow-ups, and ``reading_days`` of home
        readings (its own stream, the ninth: the first eight are as they were)."""
        return chronic.generate(
            self.streams[8],
            history=care,
            ages=self.ages,
            birth=self.population.birth,
            male=self.population.male,
            directory=self.directory,
            as_of=as_of,
            history_days=history_days,
            reading_days=reading_days,
            seed=self.seed,
        )

    def contracts(self, care: history.History, *, as_of: date) -> sim_contracts.SimContracts:
        """Family-doctor contracts (the tenth stream)."""
        return sim_contracts.generate(
            self.streams[9],
            ages=self.ages,
            history=care,
            disability=self.population.disability,
            directory=self.directory,
            as_of=as_of,
        )


def build_district(*, seed: int, residents: int, as_of: date, progress: load.Progress = _noop) -> District:
    """Geography, residents and directory, each stage from its own stream of the seed."""
    # Spawned children depend only on their index, so a ninth stream leaves the first eight unchanged.
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(10)]
    progress("geography", 0, 1)
    geo = geography.build(streams[0], residents)
    weights = np.array([c.weight for c in geo.communities])
    progress("residents", 0, 1)
    pop = population.build(streams[1], residents, weights, as_of)
    ages = ((np.datetime64(as_of, "D") - pop.birth).astype(int) / 365.25).astype(int)
    community_population = np.bincount(pop.community, minlength=len(geo.communities)).astype(float)
    progress("directory", 0, 1)
    directory = institutions.build(streams[2], geo, community_population, ages, pop.community)
    return District(geo, pop, ages, directory, streams, seed)


def simulate(
    database: Database,
    *,
    residents: int,
    seed: int,
    as_of: date,
    history_days: int = 365,
    feed_days: int = 400,
    case_years: int = 6,
    backfill_days: int = 0,
    reading_days: int = 30,
    record_feed_days: int = 14,
    feed_dir: Path | None = None,
    indicator_months: int | None = None,
    progress: load.Progress = _noop,
) -> SimulationResult:
    """Build and load a district. ``feed_days`` of early-warning feeds (case reports for
    ``case_years`` years) are simulated too (0: none); ``backfill_days`` runs the detection pass
    for each of the last days and works the alerts as a CDC desk would (the demo). Chronic-disease
    management comes with ``reading_days`` of home readings. Then the last ``record_feed_days`` days
    arrive through the real ingestion paths (FHIR bundles, bulk NDJSON, Excel uploads; see
    ``record_feeds``; 0: none), the laboratory's export written to ``feed_dir``. Last, the record
    indicators of the last ``indicator_months`` months are counted and stored (0: none; default 12 up to
    ``INDICATOR_MAX_RESIDENTS``, none above, where ``healthbrain records indicators refresh --months 12`` is
    a step of its own)."""
    if residents < MIN_RESIDENTS:
        raise ValueError(f"a district needs at least {MIN_RESIDENTS} residents")
    started = time.perf_counter()
    district = build_district(seed=seed, residents=residents, as_of=as_of, progress=progress)
    geo, pop, ages, directory, streams = (
        district.geo,
        district.population,
        district.ages,
        district.directory,
        district.streams,
    )
    progress("history", 0, 1)
    _district_id, _towns, community_ids = institutions.division_ids(geo)
    care = history.build(
        streams[3],
        ages=ages,
        male=pop.male,
        birth=pop.birth,
        community=pop.community,
        directory=directory,
        community_division_ids=community_ids,
        as_of=as_of,
        history_days=history_days,
    )
    progress("chronic", 0, 1)
    management = district.management(care, as_of=as_of, history_days=history_days, reading_days=reading_days)
    progress("contracts", 0, 1)
    signed = district.contracts(care, as_of=as_of)
    progress("feeds", 0, 1)
    surveillance_feeds = district.feeds(as_of=as_of, days=feed_days, case_years=case_years) if feed_days > 0 else None
    with database.unit_of_work() as session:
        if session.scalar(select(func.count()).select_from(Division)) or session.scalar(
            select(func.count()).select_from(Resident)
        ):
            raise Conflict("error.sim.not_empty")
        counts = load.load(
            session,
            geo=geo,
            population=pop,
            directory=directory,
            history=care,
            as_of=as_of,
            rng=streams[4],
            progress=progress,
        )
        counts.update(load_chronic.load_chronic(session, management, progress=progress))
        counts.update(load_contracts.load_contracts(session, signed, pop, progress=progress))
        if surveillance_feeds is not None:
            counts.update(load_feeds.load_feeds(session, surveillance_feeds, progress=progress))
        load.analyse(session)
        if surveillance_feeds is not None and backfill_days > 0:
            counts.update(
                load_feeds.backfill_alerts(session, as_of=as_of, days=backfill_days, rng=streams[7], progress=progress)
            )
        counts["hypertension"] = int(care.hypertension.sum())
        counts["diabetes"] = int(care.diabetes.sum())
        seconds = round(time.perf_counter() - started, 1)
        run = SimulationRun(
            seed=seed,
            residents=residents,
            as_of=as_of,
            district_code=geo.district.code,
            created_at=utcnow(),
            seconds=seconds,
            counts=counts,
        )
        session.add(run)
        session.flush()
        run_id = run.id
    if record_feed_days > 0:
        # After the commit: each request and upload is a unit of work of its own, as in production.
        progress("record feeds", 0, 1)
        arrived = record_feeds.feed_recent(
            database, seed=seed, residents=residents, as_of=as_of, days=record_feed_days, feed_dir=feed_dir
        )
        counts.update(arrived.as_counts())
        seconds = round(time.perf_counter() - started, 1)
        with database.unit_of_work() as session:
            stored = session.get(SimulationRun, run_id)
            assert stored is not None
            stored.counts, stored.seconds = dict(counts), seconds
        progress("record feeds", 1, 1)
    if indicator_months is None:
        indicator_months = INDICATOR_MONTHS if residents <= INDICATOR_MAX_RESIDENTS else 0
    if indicator_months > 0:
        # The record indicators of the last months stored, as the nightly job would have (what the pages read).
        from healthbrain.indicators.registry import month_periods
        from healthbrain.records.tasks import refresh_months

        progress("indicators", 0, 1)
        day = min(as_of, local_today())
        refreshed = refresh_months(database, periods=month_periods(day, indicator_months), today=day)
        counts["record_indicator_rows"] = refreshed.rows
        seconds = round(time.perf_counter() - started, 1)
        with database.unit_of_work() as session:
            stored = session.get(SimulationRun, run_id)
            assert stored is not None
            stored.counts, stored.seconds = dict(counts), seconds
        progress("indicators", 1, 1)
    return SimulationResult(run_id=run_id, seconds=seconds, counts=counts)


def latest_run(database: Database) -> SimulationRun | None:
    with database.sessionmaker() as session:
        return session.scalar(select(SimulationRun).order_by(SimulationRun.id.desc()).limit(1))
