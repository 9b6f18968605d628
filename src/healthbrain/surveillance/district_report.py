"""The results of ``healthbrain surveillance evaluate`` on a simulated district: alarms grouped into
alert episodes as the engine groups them, and the report's tables (per outbreak kind, per place
kind, per detector) with their JSON form."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from healthbrain.sim.feeds import Truth
from healthbrain.surveillance.definitions import grade_rank

CLOSE_AFTER_DAYS: Final = 7  # assumed: a responded alert is closed a week after its last evidence


# --- alarms and episodes -----------------------------------------------------------------------


@dataclass(frozen=True)
class Alarm:
    detector: str
    grade: str
    signal: str
    place_kind: str
    place_id: int
    day: date  # the day it is known: the period's day, or the Sunday ending a weekly period
    observed: float
    areas: tuple[int, ...] = ()  # a scan cluster's communities


@dataclass
class Episode:
    signal: str
    place_kind: str
    place_id: int
    first: date
    last: date
    alarms: list[Alarm] = field(default_factory=list)

    @property
    def detectors(self) -> list[str]:
        return sorted({a.detector for a in self.alarms})

    @property
    def grade(self) -> str:
        return min((a.grade for a in self.alarms), key=grade_rank)


def episodes(alarms: Iterable[Alarm], *, close_after: int = CLOSE_AFTER_DAYS) -> list[Episode]:
    """Alarms grouped as the engine's alerts: one open episode per (signal, place kind, place) that
    an alarm within ``close_after`` days of the previous one extends."""
    by_key: dict[tuple[str, str, int], list[Alarm]] = defaultdict(list)
    for a in alarms:
        by_key[(a.signal, a.place_kind, a.place_id)].append(a)
    out: list[Episode] = []
    for (signal, kind, place), items in sorted(by_key.items()):
        current: Episode | None = None
        for a in sorted(items, key=lambda a: (a.day, a.detector)):
            if current is None or (a.day - current.last).days > close_after:
                current = Episode(signal, kind, place, a.day, a.day)
                out.append(current)
            current.last = max(current.last, a.day)
            current.alarms.append(a)
    return out


@dataclass
class DetectorRun:
    code: str
    method: str
    signal: str
    place_kind: str
    interval: str
    places: int = 0  # places with a series (any count in the feed's span)
    runs: int = 0  # series the method was run on (all-zero series cannot alarm and are not run)
    periods: int = 0  # evaluated periods (days, school days or weeks; fewer where history is short)
    alarms: int = 0
    seconds: float = 0.0
    skipped: str | None = None


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


@dataclass(frozen=True)
class KindResult:
    """Outbreaks of one kind (or all): how many were found and how fast."""

    kind: str
    outbreaks: int
    detected: int
    delays: tuple[int, ...]

    @property
    def sensitivity(self) -> float:
        return _ratio(self.detected, self.outbreaks)

    @property
    def median_delay(self) -> float:
        return float(statistics.median(self.delays)) if self.delays else math.nan

    @property
    def mean_delay(self) -> float:
        return float(statistics.fmean(self.delays)) if self.delays else math.nan


@dataclass(frozen=True)
class EpisodeCounts:
    """Episodes of one place kind, one detector or all: true, false, and the area-weeks watched."""

    label: str
    episodes: int
    true: int
    # False episodes that began while some outbreak was on (in its match window) but did not match
    # it by signal or place: absences raised by the influenza wave, or a district series lifted by
    # a local cluster. They show how much the place and signal rules decide.
    false_during_outbreak: int
    places: int
    weeks: float

    @property
    def false(self) -> int:
        return self.episodes - self.true

    @property
    def ppv(self) -> float:
        return _ratio(self.true, self.episodes)

    @property
    def false_per_area_week(self) -> float:
        return _ratio(self.false, self.places * self.weeks)


@dataclass(frozen=True)
class OutbreakResult:
    truth: Truth
    judged: bool  # started in the evaluated days
    first_alarm: Alarm | None

    @property
    def delay(self) -> int | None:
        return None if self.first_alarm is None else (self.first_alarm.day - self.truth.first_day).days


@dataclass(frozen=True)
class DetectorResult:
    run: DetectorRun
    counts: EpisodeCounts
    outbreaks_detected: int


@dataclass(frozen=True)
class DistrictReport:
    eval_first: date
    eval_last: date
    by_kind: tuple[KindResult, ...]  # the kinds, then "all"
    by_place_kind: tuple[EpisodeCounts, ...]  # place kinds, then "all"
    detectors: tuple[DetectorResult, ...]
    outbreaks: tuple[OutbreakResult, ...]
    scan_replications: int
    seconds: Mapping[str, float]
    definitions: tuple[str, ...]

    @property
    def weeks(self) -> float:
        return ((self.eval_last - self.eval_first).days + 1) / 7

    def kind(self, name: str) -> KindResult:
        return next(k for k in self.by_kind if k.kind == name)

    @property
    def overall(self) -> EpisodeCounts:
        return self.by_place_kind[-1]

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if math.isnan(x) else round(x, 6)

        return {
            "evaluated": {
                "first_day": self.eval_first.isoformat(),
                "last_day": self.eval_last.isoformat(),
                "weeks": num(self.weeks),
            },
            "definitions": list(self.definitions),
            "scan_replications": self.scan_replications,
            "seconds": dict(self.seconds),
            "by_kind": [
                {
                    "kind": k.kind,
                    "outbreaks": k.outbreaks,
                    "detected": k.detected,
                    "sensitivity": num(k.sensitivity),
                    "median_days_to_detection": num(k.median_delay),
                    "mean_days_to_detection": num(k.mean_delay),
                    "delays": list(k.delays),
                }
                for k in self.by_kind
            ],
            "by_place_kind": [self._counts(c, num) for c in self.by_place_kind],
            "detectors": [
                {
                    "code": d.run.code,
                    "method": d.run.method,
                    "signal": d.run.signal,
                    "interval": d.run.interval,
                    "series_run": d.run.runs,
                    "periods": d.run.periods,
                    "alarms": d.run.alarms,
                    "outbreaks_detected": d.outbreaks_detected,
                    "seconds": round(d.run.seconds, 3),
                    "skipped": d.run.skipped,
                    **self._counts(d.counts, num),
                }
                for d in self.detectors
            ],
            "outbreaks": [
                {
                    "kind": o.truth.kind,
                    "place_kind": o.truth.place_kind,
                    "place_id": o.truth.place_id,
                    "first_day": o.truth.first_day.isoformat(),
                    "last_day": o.truth.last_day.isoformat(),
                    "cases": o.truth.cases,
                    "judged": o.judged,
                    "detected": o.first_alarm is not None,
                    "days_to_detection": o.delay,
                    "first_alarm": None
                    if o.first_alarm is None
                    else {
                        "detector": o.first_alarm.detector,
                        "place_kind": o.first_alarm.place_kind,
                        "place_id": o.first_alarm.place_id,
                        "day": o.first_alarm.day.isoformat(),
                    },
                }
                for o in self.outbreaks
            ],
        }

    @staticmethod
    def _counts(c: EpisodeCounts, num: Any) -> dict[str, Any]:
        return {
            "label": c.label,
            "episodes": c.episodes,
            "true": c.true,
            "false": c.false,
            "false_during_an_outbreak": c.false_during_outbreak,
            "places": c.places,
            "ppv": num(c.ppv),
            "false_per_area_week": num(c.false_per_area_week),
        }
