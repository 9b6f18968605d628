"""The one registry of temporal detectors (时间序列预警方法): configuration pages, the alert engine
and the CLI all go through :data:`METHODS` and :func:`run_method`.

Each :class:`Method` has a slug, its names in Chinese and English, a Pydantic model of its
parameters (typed, bounded, with defaults; unknown keys refused), ``run`` and ``min_history`` —
the number of points needed before the first evaluable one, for a series of ``freq`` points per
year (52 weekly; 7 or 364/365 daily; 12 monthly).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Literal, Protocol, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from healthbrain.surveillance.detectors import cusum as cusum_module
from healthbrain.surveillance.detectors import ears as ears_module
from healthbrain.surveillance.detectors import farrington as farrington_module
from healthbrain.surveillance.detectors import percentile as percentile_module
from healthbrain.surveillance.detectors import threshold as threshold_module
from healthbrain.surveillance.detectors.base import Detection, FloatArray, InsufficientHistory

# --- errors -------------------------------------------------------------------------------------


class UnknownMethod(ValueError):
    """No detector has this slug."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        super().__init__(f"unknown detection method {slug!r}; known: {', '.join(METHODS)}")


class InvalidParams(ValueError):
    """Parameters a method refuses: ``problems`` lists (field, message) pairs."""

    def __init__(self, method: str, problems: list[tuple[str, str]]) -> None:
        self.method = method
        self.problems = problems
        super().__init__(f"{method}: " + "; ".join(f"{field}: {message}" for field, message in problems))

    @classmethod
    def from_validation(cls, method: str, error: ValidationError) -> InvalidParams:
        problems = [(".".join(str(part) for part in e["loc"]) or "params", e["msg"]) for e in error.errors()]
        return cls(method, problems)


class InvalidSeries(ValueError):
    """Counts a detector cannot take (not one-dimensional, not finite, negative)."""


# --- parameters ---------------------------------------------------------------------------------


class MethodParams(BaseModel):
    """Base of every method's parameters: frozen, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FixedParams(MethodParams):
    threshold: float = Field(threshold_module.ONE_CASE, gt=0, le=1e9, description="alarm when the count ≥ threshold")


class WindowParams(MethodParams):
    days: int = Field(
        threshold_module.SCHOOL_CLASS_3_DAYS[0], ge=1, le=366, description="points summed (days for daily data)"
    )
    min_count: float = Field(
        threshold_module.SCHOOL_CLASS_3_DAYS[1],
        gt=0,
        le=1e9,
        description="alarm when the sum over the window ≥ min_count",
    )


class PercentileParams(MethodParams):
    percentile: float = Field(percentile_module.DEFAULT_PERCENTILE, gt=0, lt=100, description="P of the threshold Px")
    b: int = Field(percentile_module.DEFAULT_YEARS, ge=1, le=20, description="earlier years compared")
    w: int | None = Field(None, ge=0, le=60, description="± points around the same date (default 2 weeks)")
    window: int | None = Field(
        None, ge=1, le=31, description="points summed into the count (default 7 daily, 1 weekly)"
    )
    period: int | None = Field(None, ge=2, le=400, description="points back per year (default freq; 364 for freq 7)")

    def resolved(self, freq: int) -> tuple[int, int, int]:
        """(period, w, window) with the defaults for ``freq`` filled in."""
        return (
            self.period if self.period is not None else percentile_module.default_period(freq),
            self.w if self.w is not None else percentile_module.default_half_width(freq),
            self.window if self.window is not None else percentile_module.default_window(freq),
        )


class EarsParams(MethodParams):
    baseline: int = Field(
        ears_module.DEFAULT_BASELINE, ge=ears_module.MIN_BASELINE, le=365, description="points in the baseline"
    )
    alpha: float = Field(ears_module.DEFAULT_ALPHA, gt=0, lt=0.5, description="threshold = mean + z(1 - alpha) sd")
    min_sigma: float = Field(0.0, ge=0, le=1e6, description="floor of the standard deviation (R minSigma)")


def _camel(name: str, camel: str) -> AliasChoices:
    return AliasChoices(name, camel)


class FarringtonParams(MethodParams):
    """Noufaily et al. (2013) settings by default (R's own defaults differ: see farrington.py)."""

    b: int = Field(5, ge=1, le=20, description="years back")
    w: int = Field(3, ge=0, le=26, description="± weeks around the same week in earlier years")
    no_periods: int = Field(
        10, ge=1, le=52, validation_alias=_camel("no_periods", "noPeriods"), description="seasonal levels"
    )
    past_weeks_not_included: int = Field(
        26,
        ge=0,
        le=156,
        validation_alias=_camel("past_weeks_not_included", "pastWeeksNotIncluded"),
        description="recent weeks left out",
    )
    weights_threshold: float = Field(
        2.58,
        gt=0,
        le=100,
        validation_alias=_camel("weights_threshold", "weightsThreshold"),
        description="Anscombe residual above which a week is down-weighted",
    )
    reweight: bool = Field(True, description="down-weight past outbreaks")
    trend: bool = Field(True, description="fit a time trend (kept only if significant)")
    p_threshold_trend: float = Field(
        0.05,
        gt=0,
        lt=1,
        validation_alias=_camel("p_threshold_trend", "pThresholdTrend"),
        description="significance of the trend",
    )
    powertrans: Literal["2/3", "1/2", "none"] = Field(
        "2/3", description="power transformation (threshold_method delta)"
    )
    threshold_method: Literal["nbPlugin", "delta", "muan"] = Field(
        "nbPlugin",
        validation_alias=_camel("threshold_method", "thresholdMethod"),
        description="how the threshold is computed",
    )
    alpha: float = Field(0.01, gt=0, lt=0.5, description="threshold = (1 - alpha) quantile")
    limit54: tuple[Annotated[int, Field(ge=0, le=1000)], Annotated[int, Field(ge=1, le=52)]] = Field(
        (5, 4), description="no threshold unless ≥ cases in the last weeks (cases, weeks)"
    )

    @field_validator("limit54", mode="before")
    @classmethod
    def _pair_from_text(cls, value: object) -> object:
        # "--param limit54=5,4" on the command line
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(","))
        return value


class CusumParams(MethodParams):
    k: float = Field(cusum_module.DEFAULT_K, ge=0, le=100, description="reference value")
    h: float = Field(cusum_module.DEFAULT_H, gt=0, le=1000, description="decision interval")
    m: float | None = Field(
        None, ge=0, le=1e9, description="in-control mean (default: mean before the first evaluated point)"
    )
    trans: Literal["standard", "rossi", "anscombe", "anscombe2nd", "pearsonNegBin"] = Field(
        "standard", description="standardisation of the counts"
    )
    alpha: float = Field(cusum_module.DEFAULT_NB_ALPHA, gt=0, le=10, description="overdispersion for pearsonNegBin")


# --- the registry ---------------------------------------------------------------------------------

P = TypeVar("P", bound=MethodParams)
P_contra = TypeVar("P_contra", bound=MethodParams, contravariant=True)


class Runner(Protocol[P_contra]):
    def __call__(self, observed: FloatArray, params: P_contra, *, freq: int, start: int | None) -> Detection: ...


@dataclass(frozen=True, slots=True)
class Method(Generic[P]):
    """A registered detector."""

    slug: str
    name_zh: str
    name_en: str
    params: type[P]
    run: Runner[P]
    min_history: Callable[[P, int], int]
    check: Callable[[P, int], None] | None = None  # constraints that depend on freq


def _run_fixed(observed: FloatArray, params: FixedParams, *, freq: int, start: int | None) -> Detection:
    return threshold_module.fixed_threshold(observed, threshold=params.threshold, start=start or 0)


def _run_window(observed: FloatArray, params: WindowParams, *, freq: int, start: int | None) -> Detection:
    return threshold_module.window_count(observed, days=params.days, min_count=params.min_count, start=start)


def _percentile_history(params: PercentileParams, freq: int) -> int:
    period, w, window = params.resolved(freq)
    return percentile_module.min_history(period=period, w=w, window=window)


def _percentile_check(params: PercentileParams, freq: int) -> None:
    period, w, window = params.resolved(freq)
    if period <= w + window - 1:
        raise InvalidParams("percentile", [("period", f"must exceed w + window - 1 = {w + window - 1} (got {period})")])


def _run_percentile(observed: FloatArray, params: PercentileParams, *, freq: int, start: int | None) -> Detection:
    period, w, window = params.resolved(freq)
    return percentile_module.moving_percentile(
        observed, period=period, w=w, window=window, b=params.b, percentile=params.percentile, start=start
    )


def _ears(method: ears_module.EarsMethod) -> tuple[Runner[EarsParams], Callable[[EarsParams, int], int]]:
    def run(observed: FloatArray, params: EarsParams, *, freq: int, start: int | None) -> Detection:
        return ears_module.ears(
            observed,
            method=method,
            baseline=params.baseline,
            alpha=params.alpha,
            min_sigma=params.min_sigma,
            start=start,
        )

    def history(params: EarsParams, freq: int) -> int:
        return ears_module.min_history(method, params.baseline)

    return run, history


def _farrington_history(params: FarringtonParams, freq: int) -> int:
    return farrington_module.min_history(b=params.b, w=params.w, freq=freq)


def _farrington_check(params: FarringtonParams, freq: int) -> None:
    # R blocks(): the weeks between two reference windows must hold the noPeriods - 1 blocks
    between = freq - 2 * params.w - 1
    if between < 0 or (params.no_periods > 1 and between < params.no_periods - (2 * params.w + 1)):
        raise InvalidParams(
            "farrington-flexible",
            [("no_periods", f"too many seasonal levels (or too wide a window) for {freq} points a year")],
        )


def _run_farrington(
    observed: FloatArray,
    params: FarringtonParams,
    *,
    freq: int,
    start: int | None,
    dates: NDArray[np.datetime64] | None = None,
) -> Detection:
    return farrington_module.farrington_flexible(
        observed,
        freq=freq,
        start=start,
        b=params.b,
        w=params.w,
        no_periods=params.no_periods,
        past_weeks_not_included=params.past_weeks_not_included,
        weights_threshold=params.weights_threshold,
        reweight=params.reweight,
        trend=params.trend,
        p_threshold_trend=params.p_threshold_trend,
        powertrans=params.powertrans,
        threshold_method=params.threshold_method,
        alpha=params.alpha,
        limit54=params.limit54,
        dates=dates,
    )


def _cusum_history(params: CusumParams, freq: int) -> int:
    # m = mean of everything before the first evaluated point: ask for a full year of it
    return freq if params.m is None else 0


def _run_cusum(observed: FloatArray, params: CusumParams, *, freq: int, start: int | None) -> Detection:
    return cusum_module.cusum(
        observed,
        start=_cusum_history(params, freq) if start is None else start,
        k=params.k,
        h=params.h,
        m=params.m,
        trans=params.trans,
        alpha=params.alpha,
    )


_C1, _C1_HISTORY = _ears("C1")
_C2, _C2_HISTORY = _ears("C2")
_C3, _C3_HISTORY = _ears("C3")

METHODS: dict[str, Method[Any]] = {
    m.slug: m
    for m in (
        Method("fixed", "固定阈值法", "Fixed threshold", FixedParams, _run_fixed, lambda p, f: 0),
        Method(
            "window",
            "时间窗口聚集规则",
            "Cluster rule (count in a time window)",
            WindowParams,
            _run_window,
            lambda p, f: threshold_module.window_min_history(p.days),
        ),
        Method(
            "percentile",
            "移动百分位数法（CIDARS）",
            "Moving percentile (CIDARS)",
            PercentileParams,
            _run_percentile,
            _percentile_history,
            _percentile_check,
        ),
        Method("ears-c1", "EARS C1 法", "EARS C1", EarsParams, _C1, _C1_HISTORY),
        Method("ears-c2", "EARS C2 法", "EARS C2", EarsParams, _C2, _C2_HISTORY),
        Method("ears-c3", "EARS C3 法", "EARS C3", EarsParams, _C3, _C3_HISTORY),
        Method(
            "farrington-flexible",
            "Farrington 改进法",
            "Farrington flexible",
            FarringtonParams,
            _run_farrington,
            _farrington_history,
            _farrington_check,
        ),
        Method("cusum", "累积和控制图（CUSUM）", "CUSUM", CusumParams, _run_cusum, _cusum_history),
    )
}


def validate_params(slug: str, params: Mapping[str, Any] | None = None, *, freq: int | None = None) -> MethodParams:
    """The method's parameter model for ``params`` (defaults filled in); :class:`InvalidParams` if refused."""
    method = METHODS.get(slug)
    if method is None:
        raise UnknownMethod(slug)
    try:
        model: MethodParams = method.params.model_validate(dict(params or {}))
    except ValidationError as error:
        raise InvalidParams.from_validation(slug, error) from None
    if freq is not None and method.check is not None:
        method.check(model, freq)
    return model


def run_method(
    slug: str,
    observed: ArrayLike,
    params: Mapping[str, Any] | None = None,
    *,
    freq: int,
    start: int | None = None,
    dates: NDArray[np.datetime64] | None = None,
) -> Detection:
    """Run the detector ``slug`` on ``observed`` (oldest first) from 0-based ``start`` (default: the
    first point with enough history). ``dates`` (one per point) make Farrington flexible take its
    reference weeks by date as R does for a series with dates (``epochAsDate``); the other
    methods do not use them.

    Raises :class:`UnknownMethod`, :class:`InvalidParams`, :class:`InvalidSeries`, or
    :class:`InsufficientHistory` when the series (or ``start``) leaves too little history.
    """
    if not isinstance(freq, int) or isinstance(freq, bool) or freq < 1:
        raise InvalidParams(slug, [("freq", "must be a positive integer")])
    model = validate_params(slug, params, freq=freq)
    method = METHODS[slug]
    x = np.asarray(observed, dtype=np.float64)
    if x.ndim != 1:
        raise InvalidSeries(f"{slug}: observed must be one-dimensional")
    bad = np.flatnonzero(~np.isfinite(x) | (x < 0))
    if bad.size:
        raise InvalidSeries(f"{slug}: observed[{bad[0]}] = {x[bad[0]]} is not a non-negative count")
    needed = method.min_history(model, freq)
    if len(x) <= needed:
        raise InsufficientHistory(slug, needed=needed + 1, available=len(x))
    if start is None:
        start = needed
    if start < needed:
        raise InsufficientHistory(slug, needed=needed, available=max(start, 0), start=start)
    if start >= len(x):
        raise InvalidParams(slug, [("start", f"{start} is past the end of the series ({len(x)} points)")])
    if dates is not None and isinstance(model, FarringtonParams):
        return _run_farrington(x, model, freq=freq, start=start, dates=dates)
    return method.run(x, model, freq=freq, start=start)
