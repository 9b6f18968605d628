"""``healthbrain surveillance evaluate``: how well the detectors find outbreaks (预警效果评价).

Two parts. (1) The synthetic district: every default detector runs over the simulated feeds with
injected outbreaks of known start and size, scored by sensitivity, days to detection, PPV and
false alarms per area-week (:mod:`district_eval`). (2) The Noufaily et al. (2013) simulation as
used by Bédubourg & Le Strat (2017): POD, POD in the first week, FPR, specificity and PPV of each
statistical method on weekly series (:mod:`evaluation`).
"""

from __future__ import annotations

import json
import math
import time
from datetime import date
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from healthbrain.surveillance.detectors.base import Detection, FloatArray

console = Console()

NOUFAILY_METHODS = ("ears-c1", "ears-c2", "ears-c3", "farrington-flexible", "cusum", "percentile")
NOUFAILY_FREQ = 52  # weekly series


class BadOption(ValueError):
    """An option the command cannot use."""


def weekly_method(slug: str, observed: FloatArray, start: int) -> Detection:
    """A registry method with its default parameters on a weekly series (picklable via partial)."""
    from healthbrain.surveillance.detectors.registry import run_method

    return run_method(slug, observed, {}, freq=NOUFAILY_FREQ, start=start)


def parse_scenarios(text: str) -> list[int] | None:
    """ "all" (None: the 42), or ids and ranges such as ``1,5,14`` or ``1-6,40``."""
    from healthbrain.surveillance.noufaily import SCENARIO_PARAMETERS

    last = len(SCENARIO_PARAMETERS) * 6
    if text.strip().lower() == "all":
        return None
    ids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            lo, _, hi = part.partition("-")
            first, end = int(lo), int(hi or lo)
        except ValueError:
            raise BadOption(f"--scenarios: {part!r} is not a scenario id or range (use e.g. 1,5,14 or 1-6)") from None
        if not 1 <= first <= end <= last:
            raise BadOption(f"--scenarios: {part!r} is outside 1 … {last}")
        ids += [i for i in range(first, end + 1) if i not in ids]
    if not ids:
        raise BadOption("--scenarios: no scenario given")
    return ids


def _check(
    *, residents: int, as_of: str, days: int, eval_days: int, outbreaks_per_year: float, replicates: int, workers: int
) -> date:
    from healthbrain.sim.service import MIN_RESIDENTS

    if residents < MIN_RESIDENTS:
        raise BadOption(f"--residents: a district needs at least {MIN_RESIDENTS} residents")
    try:
        day = date.fromisoformat(as_of)
    except ValueError:
        raise BadOption(f"--as-of: {as_of!r} is not a date YYYY-MM-DD") from None
    if days < 30:
        raise BadOption("--days: at least 30 days of feed history")
    if not 1 <= eval_days <= days:
        raise BadOption(f"--eval-days: between 1 and --days ({days})")
    if not 0 <= outbreaks_per_year <= 365:
        raise BadOption("--outbreaks-per-year: between 0 and 365")
    if replicates < 0:
        raise BadOption("--noufaily-replicates: 0 or more")
    if workers < 1:
        raise BadOption("--workers: at least 1")
    return day


def _pct(x: float) -> str:
    return "–" if math.isnan(x) else f"{100 * x:.1f} %"


def _num(x: float, digits: int = 1) -> str:
    return "–" if math.isnan(x) else f"{x:.{digits}f}"


def _clean(value: Any) -> Any:
    """JSON-safe: NaN → null, tuples → lists."""
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _district_part(
    *, residents: int, seed: int, as_of: date, days: int, eval_days: int, outbreaks_per_year: float, workers: int
) -> dict[str, Any]:
    from healthbrain.surveillance.defaults import DEFAULTS_V1
    from healthbrain.surveillance.district_eval import evaluate_district, simulate_district

    started = time.perf_counter()
    with console.status(f"simulating a district of {residents:,} residents …"):
        feeds, district = simulate_district(
            residents=residents, seed=seed, as_of=as_of, days=days, outbreaks_per_year=outbreaks_per_year
        )
    simulated = time.perf_counter() - started
    with console.status(f"running {len(DEFAULTS_V1)} detectors over {eval_days} days …"):
        report = evaluate_district(feeds, district, DEFAULTS_V1, eval_days=eval_days, workers=workers)
    total = time.perf_counter() - started

    console.rule("[bold]Synthetic district[/]")
    console.print(
        f"{residents:,} residents, seed {seed}, feeds {feeds.first_day} … {feeds.last_day}; evaluated "
        f"{report.eval_first} … {report.eval_last} ({report.weeks:.1f} weeks); {len(feeds.truth)} outbreaks "
        f"in the truth; {len(DEFAULTS_V1)} detectors (DEFAULTS_V1). Simulated in {simulated:.1f} s, "
        f"evaluated in {total - simulated:.1f} s."
    )
    kinds = Table(
        "outbreak kind", "outbreaks", "detected", "sensitivity", "median days", "mean days", title="Outbreaks found"
    )
    for k in report.by_kind:
        style = "bold" if k.kind == "all" else None
        kinds.add_row(
            k.kind,
            str(k.outbreaks),
            str(k.detected),
            _pct(k.sensitivity),
            _num(k.median_delay),
            _num(k.mean_delay),
            style=style,
        )
    console.print(kinds)

    places = Table(
        "place kind",
        "places",
        "episodes",
        "true",
        "false",
        "false, during an outbreak",
        "PPV",
        "false / area-week",
        title="Alert episodes",
    )
    for c in report.by_place_kind:
        places.add_row(
            c.label,
            f"{c.places:,}",
            str(c.episodes),
            str(c.true),
            str(c.false),
            str(c.false_during_outbreak),
            _pct(c.ppv),
            _num(c.false_per_area_week, 4),
            style="bold" if c.label == "all" else None,
        )
    console.print(places)

    detectors = Table(
        "detector",
        "method",
        "place",
        "series",
        "periods",
        "alarms",
        "episodes",
        "true",
        "false",
        "PPV",
        "outbreaks found",
        "s",
        title="Detectors (each on its own)",
    )
    idle = []
    for d in report.detectors:
        if not d.run.runs:
            idle.append(d.run.code + (f" ({d.run.skipped})" if d.run.skipped else ""))
            continue
        detectors.add_row(
            d.run.code,
            d.run.method,
            d.run.place_kind,
            f"{d.run.runs:,}",
            str(d.run.periods),
            str(d.run.alarms),
            str(d.counts.episodes),
            str(d.counts.true),
            str(d.counts.false),
            _pct(d.counts.ppv),
            str(d.outbreaks_detected),
            f"{d.run.seconds:.1f}",
        )
    console.print(detectors)
    if idle:
        console.print(f"[dim]no series to run (no count in the simulated feeds): {', '.join(idle)}[/]")
    console.print("[bold]Definitions[/]")
    for line in report.definitions:
        console.print(f"  • {line}", markup=False, highlight=False)  # the rules contain [brackets]
    return {"seconds": {"simulate": round(simulated, 3), "total": round(total, 3)}, **report.to_dict()}


def _noufaily_part(*, replicates: int, scenario_ids: list[int] | None, seed: int, workers: int) -> dict[str, Any]:
    from healthbrain.surveillance.evaluation import evaluate_noufaily
    from healthbrain.surveillance.noufaily import scenarios

    chosen = scenario_ids or [s.id for s in scenarios()]
    methods = {slug: partial(weekly_method, slug) for slug in NOUFAILY_METHODS}
    started = time.perf_counter()
    with console.status(
        f"Noufaily simulation: {len(chosen)} scenarios × {replicates} series × {len(methods)} methods …"
    ):
        table = evaluate_noufaily(methods, scenarios=chosen, replicates=replicates, seed=seed, workers=workers)
    seconds = time.perf_counter() - started

    console.rule("[bold]Noufaily et al. (2013) simulation[/]")
    console.print(
        f"{len(chosen)} of the 42 scenarios of Bédubourg & Le Strat (2017), {replicates} series each, 624 weeks, the last "
        f"49 evaluated; registry defaults at freq {NOUFAILY_FREQ}; seed {seed}; {seconds:.1f} s."
    )
    overall = Table(
        "method",
        "series",
        "outbreaks",
        "POD",
        "POD week 1",
        "FPR",
        "specificity",
        "PPV",
        "mean delay (weeks)",
        title="Per method, all scenarios",
    )
    for slug in methods:
        m = table.overall(slug)
        overall.add_row(
            slug,
            str(m.series),
            str(m.outbreaks),
            _pct(m.pod),
            _pct(m.pod_first_week),
            _pct(m.fpr),
            _pct(m.specificity),
            _pct(m.ppv),
            _num(m.mean_delay, 2),
        )
    console.print(overall)
    per = Table("scenario", *methods, title="POD / FPR per scenario")
    for sid in chosen:
        per.add_row(
            str(sid),
            *(f"{_pct(table.metrics(slug, sid).pod)} / {_pct(table.metrics(slug, sid).fpr)}" for slug in methods),
        )
    console.print(per)
    console.print(
        "  • POD: share of current outbreaks with an alarm in one of their weeks; POD week 1: in their first week; "
        "FPR: share of non-outbreak weeks with an alarm; PPV: share of alarms in outbreak weeks"
    )
    return {
        "seconds": round(seconds, 3),
        "scenarios": chosen,
        "replicates": replicates,
        "freq": NOUFAILY_FREQ,
        "overall": [
            {"method": slug, "series": table.overall(slug).series, **table.overall(slug).summary()} for slug in methods
        ],
        "per_scenario": [r for r in table.records() if r["scenario"] is not None],
    }


def evaluate(
    residents: Annotated[int, typer.Option(help="Residents of the synthetic district.")] = 50_000,
    seed: Annotated[int, typer.Option(help="Random seed (district, feeds and the Noufaily series).")] = 42,
    as_of: Annotated[
        str, typer.Option(help="Last day of the feeds, YYYY-MM-DD (fixed, so results reproduce).")
    ] = "2026-11-25",
    days: Annotated[int, typer.Option(help="Days of feed history (case reports go back 6 years).")] = 400,
    eval_days: Annotated[int, typer.Option(help="Days evaluated, the last of the feed history.")] = 365,
    outbreaks_per_year: Annotated[float, typer.Option(help="Injected school and community outbreaks per year.")] = 24.0,
    noufaily_replicates: Annotated[int, typer.Option(help="Series per Noufaily scenario (0 skips that part).")] = 20,
    scenarios: Annotated[
        str, typer.Option(help="Noufaily scenarios: all, or ids and ranges like 1,5,14 or 1-6.")
    ] = "all",
    workers: Annotated[int, typer.Option(help="Processes for the scan and the Noufaily scenarios.")] = 2,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the full results as JSON here.")] = None,
) -> None:
    """Run the detectors over a simulated district with injected outbreaks and over the Noufaily
    simulation, and report sensitivity, days to detection, PPV, false alarms, POD and FPR."""
    try:
        day = _check(
            residents=residents,
            as_of=as_of,
            days=days,
            eval_days=eval_days,
            outbreaks_per_year=outbreaks_per_year,
            replicates=noufaily_replicates,
            workers=workers,
        )
        scenario_ids = parse_scenarios(scenarios)
    except BadOption as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    started = time.perf_counter()
    results: dict[str, Any] = {
        "parameters": {
            "residents": residents,
            "seed": seed,
            "as_of": day.isoformat(),
            "days": days,
            "eval_days": eval_days,
            "outbreaks_per_year": outbreaks_per_year,
            "noufaily_replicates": noufaily_replicates,
            "scenarios": scenario_ids or "all",
            "workers": workers,
        },
        "district": _district_part(
            residents=residents,
            seed=seed,
            as_of=day,
            days=days,
            eval_days=eval_days,
            outbreaks_per_year=outbreaks_per_year,
            workers=workers,
        ),
    }
    if noufaily_replicates:
        results["noufaily"] = _noufaily_part(
            replicates=noufaily_replicates, scenario_ids=scenario_ids, seed=seed, workers=workers
        )
    results["seconds"] = round(time.perf_counter() - started, 3)
    console.print(f"done in [bold]{results['seconds']:.1f} s[/]")
    if json_path is not None:
        json_path.write_text(json.dumps(_clean(results), ensure_ascii=False, indent=2), encoding="utf-8")
        console.print(f"results written to {json_path}")
