"""How well the configured detectors find the simulator's outbreaks (模拟辖区预警效果评价).

Pure: no database. The synthetic district's feeds go through the platform's own mapping
(:func:`series.contributions` and :func:`series.sum_cells`) into count series held in memory; every
detector runs over every place's series for the evaluated days; alarms become alert episodes the
way the engine raises alerts; episodes and alarms are matched with the injected outbreaks' truth.

Definitions (printed with the report, see :func:`definitions`):

- Alarm: a detector's verdict on one place and one period. A weekly alarm is dated to the
  Sunday ending its ISO week, when the week's count is complete.
- Episode: the engine keeps one open alert per (signal, place kind, place) and extends it with new
  alarms. We assume a responded alert is closed :data:`CLOSE_AFTER_DAYS` days after its last
  alarm: an alarm more than that after the previous one opens a new episode.
- Match: an alarm matches an outbreak when its signal is in the outbreak kind's signal family
  (:data:`SIGNAL_FAMILIES`), its place lies in or around the outbreak's place (:func:`place_matches`)
  and its day lies in [first day, last day + :data:`MATCH_AFTER_DAYS`]. An episode is true when
  its first alarm matches some outbreak (any outbreak in the truth, also one that started before
  the evaluated days), false otherwise. An outbreak is detected when any alarm matches it, also one
  that extends an episode opened before the outbreak; days to detection = first matching alarm −
  first day.
- Background noise makes real small clusters that the truth does not record; their episodes count
  as false alarms.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final, Protocol

import numpy as np
from numpy.typing import NDArray

from healthbrain.sim.feeds import Feeds, Truth
from healthbrain.sim.service import build_district
from healthbrain.surveillance.definitions import SIGNALS, Feed, PlaceKind, grade_rank
from healthbrain.surveillance.detectors.base import InsufficientHistory
from healthbrain.surveillance.detectors.registry import METHODS, run_method
from healthbrain.surveillance.district_report import (
    CLOSE_AFTER_DAYS,
    Alarm,
    DetectorResult,
    DetectorRun,
    DistrictReport,
    Episode,
    EpisodeCounts,
    KindResult,
    OutbreakResult,
    episodes,
)
from healthbrain.surveillance.engine import FREQ, period_axis
from healthbrain.surveillance.ingest import column_arrays
from healthbrain.surveillance.series import (
    PLACE_KINDS,
    SIGNAL_SLUGS,
    Contributions,
    PlaceIndex,
    contributions,
    monday,
    sum_cells,
)
from healthbrain.surveillance.tasks import SCAN, ScanParams, scan_clusters
from healthbrain.surveillance.truth import MATCH_AFTER_DAYS, SIGNAL_FAMILIES, District, matches

FloatMatrix = NDArray[np.float64]

SCAN_REPLICATIONS: Final = 199  # the platform uses 999; 199 still resolves p < 0.01 (1/200)
OUTBREAK_KINDS: Final = ("school_norovirus", "school_ili", "community_hfmd", "seasonal_influenza")


def definitions(*, scan_replications: int = SCAN_REPLICATIONS) -> tuple[str, ...]:
    """The rules behind the figures, in words, for the report."""
    families = "; ".join(f"{kind}: {', '.join(sorted(signals))}" for kind, signals in SIGNAL_FAMILIES.items())
    return (
        f"episode: one alert per (signal, place kind, place), extended by later alarms; assumed closed "
        f"{CLOSE_AFTER_DAYS} days after its last alarm (a later alarm opens a new episode)",
        "weekly alarms are dated to the Sunday that completes their ISO week",
        f"match: signal in the outbreak kind's family, place in or around the outbreak's place, day in "
        f"[first day, last day + {MATCH_AFTER_DAYS}]",
        "places: school outbreaks — the school and its classes; community HFMD — the outbreak's communities "
        "(detail.areas), their towns and the schools and classes in those towns, or a scan cluster that "
        "includes one of the communities; seasonal influenza — any district, town or institution series "
        "(a district series is matched to the wave only, not to a local cluster it contains)",
        "an episode is true when its first alarm matches an outbreak; an outbreak is detected by any "
        "matching alarm (also one that extends an episode opened earlier); days to detection = first "
        "matching alarm − first day",
        "outbreaks are judged when they start in the evaluated days; sensitivity = detected / outbreaks",
        "PPV = true episodes / episodes; false alarms per area-week = false episodes / (places watched × weeks)",
        "background noise makes real small clusters that are not in the truth: their episodes count as false alarms",
        "false, during an outbreak: false episodes that began inside some outbreak's match window without matching "
        "it by signal or place (absences raised by the influenza wave, a district series lifted by a local cluster)",
        f"space–time scan: run for each evaluated day with {scan_replications} replications (the platform uses 999)",
        f"signal families: {families}",
    )


class DetectorSetting(Protocol):
    """What a detector setting says (``defaults.Default`` or ``models.DetectorConfig``)."""

    @property
    def code(self) -> str: ...
    @property
    def signal(self) -> str: ...
    @property
    def place_kind(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def params(self) -> dict[str, Any]: ...
    @property
    def interval(self) -> str: ...
    @property
    def grade(self) -> str: ...


def simulate_district(
    *, residents: int, seed: int, as_of: date, days: int, outbreaks_per_year: float
) -> tuple[Feeds, District]:
    """A synthetic district and its feeds. The streams follow the simulator's (geography, residents,
    directory first; feeds from the seventh), so a seed gives the same district as ``simulate``.
    No outbreak is forced into the last days (they could not be detected yet)."""
    district = build_district(seed=seed, residents=residents, as_of=as_of)
    feeds = district.feeds(as_of=as_of, days=days, outbreaks_per_year=outbreaks_per_year, recent_outbreaks=False)
    geo, directory = district.geo, district.directory
    return feeds, District.from_sim(geo, directory)


# --- series ------------------------------------------------------------------------------------

SeriesKey = tuple[str, str, bool]  # signal, place kind, weekly
_EPOCH: Final = date(1970, 1, 1)


def _day(value: np.datetime64) -> date:
    return _EPOCH + timedelta(days=int(value.astype("datetime64[D]").astype(np.int64)))


@dataclass(frozen=True)
class SeriesBlock:
    """The series of one signal at every place of one kind that has a count: ``counts[place, period]``
    on ``axis`` (days, school days or ISO-week Mondays)."""

    axis: NDArray[np.datetime64]
    places: NDArray[np.int64]
    counts: FloatMatrix

    def row(self, place_id: int) -> NDArray[np.float64] | None:
        at = int(np.searchsorted(self.places, place_id))
        return self.counts[at] if at < len(self.places) and self.places[at] == place_id else None


def build_series(feeds: Feeds, places: PlaceIndex, wanted: Iterable[SeriesKey]) -> dict[SeriesKey, SeriesBlock]:
    """Every wanted (signal, place kind, weekly) series, through the platform's contributions."""
    keys = sorted(set(wanted))
    holidays = [(a, b) for _name, a, b in feeds.holidays]
    out: dict[SeriesKey, SeriesBlock] = {}
    for feed in Feed:
        mine = [k for k in keys if SIGNALS[k[0]].feed == feed]
        if not mine or not feeds.count(feed):
            continue
        columns = column_arrays(feed, feeds.rows[feed])
        days = columns["onset_date" if feed == Feed.CASE else "day"]
        first = _day(days.min())
        c = contributions(feed, columns, places)
        pair = c.signal.astype(np.int64) * len(PLACE_KINDS) + c.place_kind
        codes = {(SIGNAL_SLUGS.index(s), PLACE_KINDS.index(k)) for s, k, _w in mine}
        keep = np.isin(pair, [s * len(PLACE_KINDS) + k for s, k in codes])
        c = Contributions(
            c.signal[keep], c.place_kind[keep], c.place_id[keep], c.day[keep], c.value[keep], c.denominator[keep]
        )
        for weekly in (False, True):
            subset = [k for k in mine if k[2] == weekly]
            if not subset:
                continue
            sums = sum_cells(c, weekly=weekly)
            for signal, kind, _w in subset:
                at = (sums.signal == SIGNAL_SLUGS.index(signal)) & (sums.place_kind == PLACE_KINDS.index(kind))
                # the engine's axis, from the feed's first whole ISO week when weekly
                start = first + timedelta(days=6) if weekly else first
                axis = period_axis(signal, weekly=weekly, first=start, last=feeds.last_day, holidays=holidays)
                ids, row = np.unique(sums.place_id[at], return_inverse=True)
                position = np.searchsorted(axis.astype(np.int64), sums.period[at])
                inside = (position < len(axis)) & (
                    axis.astype(np.int64)[np.minimum(position, len(axis) - 1)] == sums.period[at]
                )
                counts = np.zeros((len(ids), len(axis)), dtype=np.float64)
                np.add.at(counts, (row.reshape(-1)[inside], position[inside]), sums.value[at][inside])
                out[(signal, kind, weekly)] = SeriesBlock(axis, ids.astype(np.int64), counts)
    return out


# --- running the detectors ---------------------------------------------------------------------

# CUSUM's sum and its in-control mean depend on where a run starts. The platform's nightly pass
# starts it afresh each day on the engine's history span, so it is run the same way here, one
# call per evaluated point; every other method judges each point from its history alone.
_RESTART_EACH_POINT: Final = frozenset({"cusum"})


def _known(day: np.datetime64, weekly: bool, last: date) -> date:
    d = _day(day)
    return min(d + timedelta(days=6), last) if weekly else d


def _alarm_alone(method: str, x: NDArray[np.float64], t: int, needed: int, params: dict[str, Any], freq: int) -> bool:
    """The verdict on point ``t`` of a run started at ``t`` on the engine's span (engine.history_span:
    the method's minimum history plus one period)."""
    lo = max(0, t - needed - 1)
    return bool(run_method(method, x[lo : t + 1], params, freq=freq, start=t - lo).alarm[-1])


def run_temporal(setting: DetectorSetting, block: SeriesBlock, *, eval_first: date) -> tuple[list[Alarm], DetectorRun]:
    """One detector over every place of its series, from the first evaluated period on."""
    weekly = setting.interval == "week"
    report = DetectorRun(
        setting.code, setting.method, setting.signal, setting.place_kind, setting.interval, places=len(block.places)
    )
    method = METHODS[setting.method]
    freq = FREQ[setting.interval]
    needed = method.min_history(method.params.model_validate(setting.params), freq)
    first_period = (
        monday(np.array([eval_first], dtype="datetime64[D]"))[0] if weekly else np.datetime64(eval_first, "D")
    )
    start = max(int(np.searchsorted(block.axis, first_period)), needed)
    if start >= len(block.axis):
        report.skipped = f"needs {needed} periods of history, the feed has {len(block.axis)}"
        return [], report
    report.periods = len(block.axis) - start
    restart = setting.method in _RESTART_EACH_POINT
    params = dict(setting.params)
    out: list[Alarm] = []
    for place, x in zip(block.places.tolist(), block.counts, strict=True):
        if not x.any():
            continue
        report.runs += 1
        try:
            if restart:
                hits = [t for t in range(start, len(x)) if _alarm_alone(setting.method, x, t, needed, params, freq)]
            else:
                result = run_method(setting.method, x, params, freq=freq, start=start)
                hits = result.index[result.alarm].tolist()
        except InsufficientHistory as exc:
            report.skipped = str(exc)
            return [], report
        out += [
            Alarm(
                setting.code,
                setting.grade,
                setting.signal,
                setting.place_kind,
                place,
                _known(block.axis[t], weekly, _day(block.axis[-1])),
                float(x[t]),
            )
            for t in hits
        ]
    report.alarms = len(out)
    return out, report


def _scan_days(
    job: tuple[ScanParams, NDArray[np.int64], NDArray[np.float64], list[int], list[date]],
) -> list[tuple[date, int, tuple[int, ...], int]]:
    """The scan on each of some days: (day, centre row, area rows, observed) of clusters with p < α."""
    params, cases, xy, ends, days = job
    found = []
    for end, day in zip(ends, days, strict=True):
        window = cases[:, end - params.history_days + 1 : end + 1]
        found += [(day, c.centre, c.areas, c.observed) for c in scan_clusters(window, xy, params, day)]
    return found


def run_scan(
    setting: DetectorSetting,
    block: SeriesBlock | None,
    district: District,
    *,
    eval_first: date,
    replications: int,
    workers: int,
) -> tuple[list[Alarm], DetectorRun]:
    """The space–time permutation scan over communities × days, once per evaluated day, as the
    platform's pass runs it (tasks._scan) but with fewer replications."""
    report = DetectorRun(
        setting.code,
        setting.method,
        setting.signal,
        setting.place_kind,
        setting.interval,
        places=len(district.communities),
    )
    params = ScanParams.model_validate(setting.params).model_copy(update={"replications": replications})
    if block is None or not len(block.axis):
        return [], report
    ids = [cid for cid, _x, _y in district.communities]
    cases = np.zeros((len(ids), len(block.axis)), dtype=np.int64)
    for k, cid in enumerate(ids):
        row = block.row(cid)
        if row is not None:
            cases[k] = row.astype(np.int64)
    xy = np.array([[x, y] for _id, x, y in district.communities], dtype=np.float64)
    first = max(int(np.searchsorted(block.axis, np.datetime64(eval_first, "D"))), params.history_days - 1)
    ends = list(range(first, len(block.axis)))
    report.runs = report.periods = len(ends)
    chunks = [ends[i::workers] for i in range(workers)] if workers > 1 else [ends]
    jobs = [(params, cases, xy, chunk, [_day(block.axis[e]) for e in chunk]) for chunk in chunks if chunk]
    if len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=len(jobs)) as pool:
            found = [hit for part in pool.map(_scan_days, jobs) for hit in part]
    else:
        found = [hit for job in jobs for hit in _scan_days(job)]
    alarms = [
        Alarm(
            setting.code,
            setting.grade,
            setting.signal,
            PlaceKind.COMMUNITY,
            ids[centre],
            day,
            float(observed),
            tuple(ids[a] for a in areas),
        )
        for day, centre, areas, observed in sorted(found)
    ]
    report.alarms = len(alarms)
    return alarms, report


# --- the report --------------------------------------------------------------------------------


def _first_match(truth: Truth, alarms: Sequence[Alarm], district: District) -> Alarm | None:
    family = SIGNAL_FAMILIES.get(truth.kind, frozenset({truth.signal}))
    found = [a for a in alarms if a.signal in family and matches(truth, a, district)]
    return min(found, key=lambda a: (a.day, grade_rank(a.grade), a.detector)) if found else None


def _score_episodes(
    label: str, items: Sequence[Episode], truth: Sequence[Truth], district: District, *, places: int, weeks: float
) -> EpisodeCounts:
    windows = [(t.first_day, t.last_day + timedelta(days=MATCH_AFTER_DAYS)) for t in truth]
    true = during = 0
    for e in items:
        if any(matches(t, e.alarms[0], district) for t in truth):
            true += 1
        elif any(a <= e.first <= b for a, b in windows):
            during += 1
    return EpisodeCounts(label, len(items), true, during, places, weeks)


def evaluate_district(
    feeds: Feeds,
    district: District,
    settings: Sequence[DetectorSetting],
    *,
    eval_days: int = 365,
    scan_replications: int = SCAN_REPLICATIONS,
    workers: int = 1,
) -> DistrictReport:
    """Run ``settings`` over the district's feeds for the last ``eval_days`` days and score them."""
    if eval_days < 1:
        raise ValueError(f"eval_days must be at least 1, got {eval_days}")
    span = (feeds.last_day - feeds.first_day).days + 1
    if eval_days > span:
        raise ValueError(f"eval_days ({eval_days}) exceeds the feeds' {span} days")
    eval_last = feeds.last_day
    eval_first = eval_last - timedelta(days=eval_days - 1)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    usable = [s for s in settings if s.method in METHODS or s.method == SCAN]
    wanted = {(s.signal, s.place_kind, s.interval == "week") for s in usable if s.method != SCAN}
    wanted |= {(s.signal, PlaceKind.COMMUNITY.value, False) for s in usable if s.method == SCAN}
    blocks = build_series(feeds, district.places, wanted)
    seconds["series"] = time.perf_counter() - t0

    runs: list[DetectorRun] = []
    alarms_of: dict[str, list[Alarm]] = {}
    for s in settings:
        started = time.perf_counter()
        if s.method == SCAN:
            found, run = run_scan(
                s,
                blocks.get((s.signal, "community", False)),
                district,
                eval_first=eval_first,
                replications=scan_replications,
                workers=workers,
            )
        elif s.method in METHODS:
            block = blocks.get((s.signal, s.place_kind, s.interval == "week"))
            if block is None:
                found, run = [], DetectorRun(s.code, s.method, s.signal, s.place_kind, s.interval)
            else:
                found, run = run_temporal(s, block, eval_first=eval_first)
        else:
            found, run = (
                [],
                DetectorRun(s.code, s.method, s.signal, s.place_kind, s.interval, skipped=f"unknown method {s.method}"),
            )
        run.seconds = time.perf_counter() - started
        seconds[s.method] = seconds.get(s.method, 0.0) + run.seconds
        runs.append(run)
        alarms_of[s.code] = [a for a in found if eval_first <= a.day]
    t1 = time.perf_counter()

    weeks = eval_days / 7
    watched: dict[str, set[int]] = defaultdict(set)
    for s, run in zip(settings, runs, strict=True):
        if s.method == SCAN:
            watched[PlaceKind.COMMUNITY] |= {cid for cid, _x, _y in district.communities}
        elif (block := blocks.get((s.signal, s.place_kind, s.interval == "week"))) is not None and run.skipped is None:
            watched[s.place_kind] |= set(block.places.tolist())
    everything = [a for found in alarms_of.values() for a in found]
    merged = episodes(everything)
    by_place_kind = [
        _score_episodes(
            kind,
            [e for e in merged if e.place_kind == kind],
            feeds.truth,
            district,
            places=len(watched[kind]),
            weeks=weeks,
        )
        for kind in PLACE_KINDS
        if watched.get(kind)
    ]
    total_places = sum(c.places for c in by_place_kind)
    by_place_kind.append(_score_episodes("all", merged, feeds.truth, district, places=total_places, weeks=weeks))

    outbreaks = tuple(
        OutbreakResult(t, eval_first <= t.first_day <= eval_last, _first_match(t, everything, district))
        for t in feeds.truth
    )
    judged = [o for o in outbreaks if o.judged]

    def kind_result(name: str, items: Sequence[OutbreakResult]) -> KindResult:
        delays = tuple(o.delay for o in items if o.delay is not None)
        return KindResult(name, len(items), len(delays), delays)

    by_kind = [kind_result(k, [o for o in judged if o.truth.kind == k]) for k in OUTBREAK_KINDS]
    by_kind += [
        kind_result(k, [o for o in judged if o.truth.kind == k])
        for k in sorted({o.truth.kind for o in judged} - set(OUTBREAK_KINDS))
    ]
    by_kind.append(kind_result("all", judged))

    detectors = []
    for s, run in zip(settings, runs, strict=True):
        own = alarms_of[s.code]
        places = len(district.communities) if s.method == SCAN else run.places
        counts = _score_episodes(s.code, episodes(own), feeds.truth, district, places=places, weeks=weeks)
        found_by = sum(1 for o in judged if _first_match(o.truth, own, district) is not None)
        detectors.append(DetectorResult(run, counts, found_by))
    seconds["scoring"] = time.perf_counter() - t1
    return DistrictReport(
        eval_first=eval_first,
        eval_last=eval_last,
        by_kind=tuple(by_kind),
        by_place_kind=tuple(by_place_kind),
        detectors=tuple(detectors),
        outbreaks=outbreaks,
        scan_replications=scan_replications,
        seconds={k: round(v, 3) for k, v in seconds.items()},
        definitions=definitions(scan_replications=scan_replications),
    )
