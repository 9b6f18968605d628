"""The fixed threshold and the cluster (window) rules, and the registry that serves every method:
parameter validation, history checks, bad series."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from healthbrain.surveillance.detectors.base import Detection, InsufficientHistory
from healthbrain.surveillance.detectors.registry import (
    METHODS,
    FarringtonParams,
    InvalidParams,
    InvalidSeries,
    UnknownMethod,
    run_method,
    validate_params,
)
from healthbrain.surveillance.detectors.threshold import fixed_threshold, window_count


def test_one_case_is_a_signal() -> None:
    result = fixed_threshold(np.array([0, 1, 0, 3, 0], dtype=float))
    assert result.alarm.tolist() == [False, True, False, True, False]
    assert (result.threshold == 1).all()  # the alarm level: a count equal to it alarms
    assert result.score.tolist() == [0, 1, 0, 3, 0]


def test_fixed_threshold_is_reached_not_exceeded() -> None:
    result = run_method("fixed", [2, 3, 4], {"threshold": 3}, freq=7)
    assert result.alarm.tolist() == [False, True, True]


@pytest.mark.parametrize(
    ("days", "min_count", "counts", "alarms"),
    [
        (1, 3, [2, 3, 0, 4], [False, True, False, True]),  # ≥ 3 in a day
        (3, 5, [1, 2, 2, 0, 0, 5], [True, False, False, True]),  # ≥ 5 within 3 days: sums 5, 4, 2, 5
        (7, 10, [1] * 6 + [4, 0], [True, False]),  # ≥ 10 in 7 days: sums 10, 9
    ],
)
def test_cluster_rules(days: int, min_count: int, counts: list[int], alarms: list[bool]) -> None:
    result = window_count(np.array(counts, dtype=float), days=days, min_count=min_count)
    assert result.index[0] == days - 1
    assert result.alarm.tolist() == alarms
    assert (result.threshold == min_count).all()
    sums = [sum(counts[i - days + 1 : i + 1]) for i in range(days - 1, len(counts))]
    assert result.observed.tolist() == sums  # the compared count is the window's sum


def test_window_too_short() -> None:
    with pytest.raises(InsufficientHistory):
        window_count(np.ones(2), days=3, min_count=5)
    with pytest.raises(InsufficientHistory):
        run_method("window", [1, 1], {"days": 3, "min_count": 5}, freq=7)


# --- the registry ------------------------------------------------------------------------------


def test_the_registry_lists_every_method() -> None:
    assert list(METHODS) == [
        "fixed",
        "window",
        "percentile",
        "ears-c1",
        "ears-c2",
        "ears-c3",
        "farrington-flexible",
        "cusum",
    ]
    for slug, method in METHODS.items():
        assert method.slug == slug
        assert method.name_zh and method.name_en
        assert issubclass(method.params, BaseModel)
        assert method.params.model_config.get("extra") == "forbid"
        method.params()  # every parameter has a default
        assert method.params.model_json_schema()["properties"]


@pytest.mark.parametrize("slug", list(METHODS))
@pytest.mark.parametrize("freq", [7, 52, 364])
def test_every_method_refuses_too_short_a_series_cleanly(slug: str, freq: int) -> None:
    method = METHODS[slug]
    needed = method.min_history(method.params(), freq)
    if slug == "farrington-flexible" and freq == 7:
        return  # (a weekly cycle has no room for 10 seasonal levels: see the next test)
    for length in sorted({0, needed // 2, needed}):
        with pytest.raises(InsufficientHistory):
            run_method(slug, np.zeros(length), freq=freq)
    result = run_method(slug, np.zeros(needed + 1), freq=freq)
    assert isinstance(result, Detection)
    assert result.index.tolist() == [needed]
    assert not result.alarm.any()


def test_farrington_on_a_weekly_cycle_is_refused_with_a_clear_error() -> None:
    with pytest.raises(InvalidParams, match="no_periods"):
        run_method("farrington-flexible", np.zeros(100), freq=7)


@pytest.mark.parametrize(
    ("slug", "params", "field"),
    [
        ("ears-c1", {"alpha": 0}, "alpha"),
        ("ears-c1", {"baseline": 2}, "baseline"),
        ("ears-c2", {"bogus": 1}, "bogus"),
        ("farrington-flexible", {"powertrans": "3/4"}, "powertrans"),
        ("farrington-flexible", {"limit54": "5"}, "limit54"),
        ("cusum", {"h": -1}, "h"),
        ("percentile", {"percentile": 100}, "percentile"),
        ("window", {"days": 0}, "days"),
        ("fixed", {"threshold": "many"}, "threshold"),
    ],
)
def test_bad_parameters_name_the_field(slug: str, params: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidParams) as caught:
        run_method(slug, np.zeros(500), params, freq=52)
    assert field in [name.split(".")[0] for name, _ in caught.value.problems]
    assert field in str(caught.value)


def test_parameters_from_text_and_r_names() -> None:
    params = validate_params(
        "farrington-flexible", {"noPeriods": "5", "limit54": "3,2", "reweight": "false", "alpha": "0.05"}
    )
    assert isinstance(params, FarringtonParams)
    assert (params.no_periods, params.limit54, params.reweight, params.alpha) == (5, (3, 2), False, 0.05)


def test_unknown_method() -> None:
    with pytest.raises(UnknownMethod, match="ears-c4"):
        run_method("ears-c4", np.zeros(10), freq=7)


@pytest.mark.parametrize("observed", [[1.0, -1.0, 2.0], [1.0, float("nan"), 2.0], [[1.0, 2.0]]])
def test_bad_series(observed: list[Any]) -> None:
    with pytest.raises(InvalidSeries):
        run_method("fixed", observed, freq=7)


def test_start_is_checked() -> None:
    with pytest.raises(InsufficientHistory) as caught:
        run_method("ears-c1", np.zeros(30), freq=7, start=3)
    assert caught.value.needed == 7 and caught.value.start == 3
    with pytest.raises(InvalidParams, match="start"):
        run_method("ears-c1", np.zeros(30), freq=7, start=30)
    assert run_method("ears-c1", np.zeros(30), freq=7, start=20).index.tolist() == list(range(20, 30))


def test_bad_freq() -> None:
    with pytest.raises(InvalidParams, match="freq"):
        run_method("fixed", [1.0], freq=0)
