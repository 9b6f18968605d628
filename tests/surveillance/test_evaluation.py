"""Detection metrics (Bédubourg & Le Strat 2017) and the simulation harness, with detectors
simple enough to score by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from healthbrain.surveillance.detectors.base import Detection, FloatArray
from healthbrain.surveillance.evaluation import (
    DetectionMetrics,
    combine,
    evaluate_alarms,
    evaluate_noufaily,
    evaluate_series,
)
from healthbrain.surveillance.noufaily import scenario, simulate


def detection(observed: FloatArray, start: int, alarm: np.ndarray) -> Detection:
    index = np.arange(start, observed.size, dtype=np.int64)
    nan = np.full(index.size, np.nan)
    return Detection(index=index, observed=observed[start:], threshold=nan, alarm=alarm, expected=nan, score=nan)


def above_ten(observed: FloatArray, start: int) -> Detection:
    """The trivial detector: an alarm whenever the count exceeds 10."""
    return detection(observed, start, observed[start:] > 10)


def always(observed: FloatArray, start: int) -> Detection:
    return detection(observed, start, np.ones(observed.size - start, dtype=bool))


def never(observed: FloatArray, start: int) -> Detection:
    return detection(observed, start, np.zeros(observed.size - start, dtype=bool))


# index:         0   1  2   3  4   5  6  7   8  9  10 11
COUNTS = np.array([12, 3, 4, 15, 8, 11, 2, 3, 14, 5, 12, 1])
ALARM = COUNTS > 10  # alarms at 0, 3, 5, 8, 10
OUTBREAKS = [(1, 2), (3, 5), (9, 10)]
IN_OUTBREAK = np.zeros(12, dtype=bool)
for first, last in OUTBREAKS:
    IN_OUTBREAK[first : last + 1] = True


@pytest.mark.parametrize(
    ("start", "stop", "want"),
    [
        # points 2…11: outbreak points 2, 3, 4, 5, 9, 10 (alarms at 3, 5, 10); others 6, 7, 8, 11 (alarm at 8).
        # (1, 2) started before the range: its point 2 counts, the outbreak is not judged;
        # (3, 5) is caught in its first week, (9, 10) one week late.
        (2, 12, DetectionMetrics(2, 2, 1, 3, 3, 1, 3, (0, 1), 10)),
        # points 0…11: (1, 2) is judged too and missed; point 0 is a false alarm, 1 a missed week
        (0, None, DetectionMetrics(3, 2, 1, 3, 4, 2, 3, (0, 1), 12)),
        # points 2…9: (9, 10) is cut to its first week, which has no alarm; quiet points 6, 7, 8
        (2, 10, DetectionMetrics(2, 1, 1, 2, 3, 1, 2, (0,), 8)),
    ],
)
def test_trivial_detector_by_hand(start: int, stop: int | None, want: DetectionMetrics) -> None:
    got = evaluate_alarms(ALARM, in_outbreak=IN_OUTBREAK, outbreaks=OUTBREAKS, start=start, stop=stop)
    assert got == want


def test_measures_from_the_counts() -> None:
    m = evaluate_alarms(ALARM, in_outbreak=IN_OUTBREAK, outbreaks=OUTBREAKS, start=2, area_weeks=40)
    assert m.pod == 1.0
    assert m.pod_first_week == 0.5
    assert m.fpr == pytest.approx(1 / 4)
    assert m.specificity == pytest.approx(3 / 4)
    assert m.sensitivity == pytest.approx(3 / 6)
    assert m.ppv == pytest.approx(3 / 4)
    assert m.npv == pytest.approx(3 / 6)
    assert m.f1 == pytest.approx(2 * 3 / (2 * 3 + 1 + 3))  # = 2·PPV·sens/(PPV + sens) = 0.6
    assert m.f1 == pytest.approx(2 * m.ppv * m.sensitivity / (m.ppv + m.sensitivity))
    assert m.mean_delay == 0.5 and m.median_delay == 0.5
    assert m.false_alarms_per_area_week == pytest.approx(1 / 40)
    assert set(m.summary()) >= {"pod", "pod_first_week", "fpr", "sensitivity", "specificity", "ppv", "f1"}


def test_empty_denominators_are_nan() -> None:
    quiet = evaluate_alarms(np.zeros(5, dtype=bool), in_outbreak=np.zeros(5, dtype=bool), outbreaks=[])
    assert math.isnan(quiet.pod) and math.isnan(quiet.ppv) and math.isnan(quiet.sensitivity)
    assert math.isnan(quiet.mean_delay) and math.isnan(quiet.f1)
    assert quiet.fpr == 0.0 and quiet.specificity == 1.0


def test_combine_pools_the_counts() -> None:
    a = evaluate_alarms(ALARM, in_outbreak=IN_OUTBREAK, outbreaks=OUTBREAKS, start=2)
    b = evaluate_alarms(ALARM, in_outbreak=IN_OUTBREAK, outbreaks=OUTBREAKS, start=0)
    both = combine([a, b])
    assert (both.outbreaks, both.detected, both.true_positives, both.false_positives) == (5, 4, 6, 3)
    assert both.delays == (0, 1, 0, 1) and both.area_weeks == 22 and both.series == 2
    assert both.fpr == pytest.approx(3 / (3 + 6))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alarm": np.ones(3, dtype=bool)}, "alarm has 3 points"),
        ({"alarm": np.ones(12)}, "booleans"),
        ({"start": 5, "stop": 3}, "evaluated range"),
        ({"stop": 13}, "evaluated range"),
        ({"outbreaks": [(4, 2)]}, "not an interval"),
        ({"outbreaks": [(10, 12)]}, "not an interval"),
        ({"area_weeks": -1}, "area_weeks"),
    ],
)
def test_bad_input(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"alarm": ALARM, "in_outbreak": IN_OUTBREAK, "outbreaks": OUTBREAKS, **kwargs}
    with pytest.raises(ValueError, match=message):
        evaluate_alarms(**arguments)  # type: ignore[arg-type]


def test_evaluate_series_maps_a_detection_onto_the_series() -> None:
    series = simulate(scenario(30), rng=np.random.default_rng(4))
    observed = series.observed.astype(np.float64)
    got = evaluate_series(above_ten(observed, series.evaluation_start), series)
    alarm = observed > 10
    alarm[: series.evaluation_start] = False
    want = evaluate_alarms(
        alarm,
        in_outbreak=series.in_outbreak,
        outbreaks=[(o.start, o.end) for o in series.outbreaks],
        start=series.evaluation_start,
    )
    assert got == want
    assert got.true_positives + got.false_negatives + got.false_positives + got.true_negatives == 49
    full = above_ten(observed, series.evaluation_start)
    gappy = Detection(
        index=np.delete(full.index, 3),
        observed=np.delete(full.observed, 3),
        threshold=np.delete(full.threshold, 3),
        alarm=np.delete(full.alarm, 3),
        expected=np.delete(full.expected, 3),
        score=np.delete(full.score, 3),
    )
    with pytest.raises(ValueError, match="cover indices"):
        evaluate_series(gappy, series)


def test_harness_matches_scoring_each_series_by_hand() -> None:
    chosen = [scenario(14), scenario(27)]
    table = evaluate_noufaily({"above 10": above_ten}, scenarios=chosen, replicates=6, seed=8)
    for s in chosen:
        rng = np.random.default_rng(np.random.SeedSequence([8, s.id]))
        by_hand = []
        for _ in range(6):
            series = simulate(s, rng=rng)
            alarm = series.observed > 10
            alarm[: series.evaluation_start] = False
            by_hand.append(
                evaluate_alarms(
                    alarm,
                    in_outbreak=series.in_outbreak,
                    outbreaks=[(o.start, o.end) for o in series.outbreaks if o.size],
                    start=series.evaluation_start,
                )
            )
        assert table.metrics("above 10", s.id) == combine(by_hand)
    overall = table.overall("above 10")
    assert overall == combine([table.metrics("above 10", 14), table.metrics("above 10", 27)])
    assert overall.series == 12 and overall.area_weeks == 12 * 49
    assert [r["scenario"] for r in table.records()] == [14, 27, None]


def test_harness_with_detectors_whose_measures_are_known() -> None:
    chosen = [scenario(3), scenario(40)]
    table = evaluate_noufaily({"always": always, "never": never}, scenarios=chosen, replicates=5, seed=1)
    yes, no = table.overall("always"), table.overall("never")
    # an alarm every week: every judged outbreak caught in its first week, every quiet week a false alarm
    assert yes.pod == yes.pod_first_week == 1.0 and yes.mean_delay == 0.0
    assert yes.fpr == 1.0 and yes.sensitivity == 1.0 and math.isnan(yes.npv)
    outbreak_weeks = yes.true_positives
    assert yes.ppv == pytest.approx(outbreak_weeks / (10 * 49))
    # never an alarm
    assert no.pod == 0.0 and no.fpr == 0.0 and no.sensitivity == 0.0 and math.isnan(no.ppv)
    assert no.false_negatives == outbreak_weeks
    assert yes.outbreaks == no.outbreaks >= 9  # one current outbreak per series (rarely none observed)


def test_parallel_harness_gives_the_same_table() -> None:
    chosen = [scenario(5), scenario(21), scenario(33)]
    serial = evaluate_noufaily({"above 10": above_ten, "never": never}, scenarios=[5, 21, 33], replicates=3, seed=2)
    parallel = evaluate_noufaily(
        {"above 10": above_ten, "never": never}, scenarios=chosen, replicates=3, seed=2, workers=2
    )
    assert serial == parallel


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"replicates": 0}, "replicates"), ({"workers": 0}, "workers")],
)
def test_harness_arguments(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate_noufaily({"never": never}, scenarios=[scenario(1)], **kwargs)
    with pytest.raises(ValueError, match="no method"):
        evaluate_noufaily({}, scenarios=[scenario(1)])
