"""Farrington flexible (改进 Farrington 法): R ``surveillance::farringtonFlexible``, ported.

Sources: Noufaily A. et al., "An improved algorithm for outbreak detection in multiple surveillance
systems", Stat Med 2013;32:1206–22 (the settings used by default here); Farrington C.P. et al.,
J R Stat Soc A 1996;159:547–63. The code follows R ``surveillance`` 1.20.3: ``farringtonFlexible``,
``algo.farrington.referencetimepoints``, ``blocks``, ``algo.farrington.data.glm``,
``algo.farrington.glm``, ``algo.farrington.fitGLM.flexible``, ``anscombe.residuals``,
``algo.farrington.assign.weights``, ``algo.farrington.threshold.farrington`` (``"delta"``) and
``algo.farrington.threshold.noufaily`` (``"nbPlugin"``, ``"muan"``).

For each evaluated week ``k``: the reference weeks are ``k - j*freq`` (j = 1..b) — or, when the
series carries dates, the same date j years back moved to the nearest same weekday, as R does
for ``epochAsDate`` series; the weeks around them (±w) form the seasonal level ``noPeriods`` and
the weeks in between are cut into ``noPeriods - 1`` blocks; the last ``pastWeeksNotIncluded``
weeks are left out. A quasi-Poisson GLM (with a linear trend, kept only if significant at
``pThresholdTrend``, the prediction does not extrapolate beyond the data, and b ≥ 3) is fitted,
refitted with Anscombe-residual weights that down-weight past outbreaks, and the threshold is
the negative-binomial (1 - alpha) quantile at the predicted mean (``nbPlugin``).

R behaviours kept on purpose: the threshold is NA (NaN) when fewer than ``limit54[0]`` cases
fell in the last ``limit54[1]`` weeks, and the alarm is then FALSE; with ``nbPlugin``/``muan``
R's score is ``(y - eta0) / (U - eta0)`` with ``eta0`` on the log scale, and so is ours;
``predict.glm`` receives the dispersion inside ``newdata`` (an R quirk), so standard errors use
the unfloored dispersion while the threshold uses ``phi = max(dispersion, 1)``. Where R gives no
model (no convergence with or without trend) the threshold is NaN and the alarm False (R: NA).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray
from scipy import special

from healthbrain.surveillance.detectors.base import BoolArray, Detection, FloatArray, InsufficientHistory
from healthbrain.surveillance.detectors.glm import (
    EPS,
    FactorTrendDesigns,
    QuasiPoissonFit,
    fit_quasipoisson,
    hat_values,
    linkinv,
)

PowerTransform = Literal["2/3", "1/2", "none"]
ThresholdMethod = Literal["nbPlugin", "delta", "muan"]

METHOD = "farrington-flexible"
_EXPONENT: dict[str, float] = {"2/3": 2 / 3, "1/2": 1 / 2, "none": 1.0}
# R's qDiscrete search fuzz for lower-tail quantiles (qnbinom/qpois, R ≥ 4.2): p * (1 - 8 eps).
_QUANTILE_FUZZ = 1 - 8 * EPS


def min_history(*, b: int, w: int, freq: int) -> int:
    """Points needed before the first evaluable one: b years back plus the ±w window (R's default range)."""
    return b * freq + w


# --- which weeks enter the model -------------------------------------------------------------


def _assign(factors: dict[int, int], lo: int, hi: int, value: int) -> None:
    """R ``v[lo:hi] <- value`` (0-based here): ``lo:hi`` runs downwards when lo > hi, and
    positions before the series are dropped (R silently drops index 0)."""
    step = 1 if lo <= hi else -1
    for i in range(lo, hi + step, step):
        if i >= 0:
            factors[i] = value


@cache
def _blocks(offsets: tuple[int, ...], w: int, p: int, excluded: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """R ``blocks()`` + the selection of ``algo.farrington.data.glm`` relative to ``k``.

    ``offsets`` are the reference weeks as non-negative distances back from ``k`` (the first is 0,
    ``k`` itself). Returns the distances back of the weeks used and their seasonal level (1..p).
    Computed on positions shifted so that none is negative; the caller drops weeks before the
    series start, as R drops index 0.
    """
    shift = offsets[-1] + w + 1
    k = shift
    refs = [k - o for o in offsets]
    factors: dict[int, int] = {}
    _assign(factors, k - w, k, p)
    for i in range(1, len(refs)):
        ref = refs[i]
        _assign(factors, ref - w, ref + w, p)
        if p != 1:
            period = refs[i - 1] - 2 * w - 1 - ref
            if period < p - (2 * w + 1):
                raise ValueError(
                    f"{METHOD}: no_periods={p} is too large for w={w} and these reference weeks "
                    "(R: 'Number of factors too big!')"
                )
            length, rest = divmod(period, p - 1)
            cumulative = [0]
            for j in range(p - 1):
                cumulative.append(cumulative[-1] + length + (1 if j < rest else 0))
            for j in range(1, p):
                _assign(factors, ref + w + 1 + cumulative[j - 1], ref + w + 1 + cumulative[j] - 1, j)
    for i in range(k - excluded, k + 1):
        factors.pop(i, None)
    used = sorted(factors)
    return tuple(k - i for i in used), tuple(factors[i] for i in used)


def _r_year_back(day: date, years: int) -> date:
    """R ``seq(day, by = "-1 year")``: same month and day; 29 February becomes 1 March."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return date(day.year - years, 3, 1)


def _r_weekday(day: date) -> int:
    return (day.weekday() + 1) % 7  # R format(x, "%w"): Sunday = 0


def _reference_dates(day: date, b: int, epoch: str) -> list[date]:
    """R ``algo.farrington.referencetimepoints`` for ``epochAsDate`` series."""
    refs = [_r_year_back(day, j) for j in range(b + 1)]
    if epoch != "week":
        return refs
    wanted = _r_weekday(day)
    snapped = []
    for ref in refs:
        a = ref - timedelta(days=_r_weekday(ref) - wanted)
        other = a + timedelta(days=-7 if a > ref else 7)
        snapped.append(a if abs((a - ref).days) <= abs((other - ref).days) else other)
    return snapped


_EPOCH_OF_FREQ = {12: "month", 52: "week", 365: "day"}


class _Design:
    """Per evaluated time point: the weeks used, the design matrix and the prediction row."""

    def __init__(
        self,
        observed: FloatArray,
        ks: NDArray[np.intp],
        *,
        b: int,
        w: int,
        freq: int,
        no_periods: int,
        excluded: int,
        dates: NDArray[np.datetime64] | None,
    ) -> None:
        p = no_periods
        # per evaluated point: the weeks used (sorted by level, as FactorTrendDesigns wants) and
        # their time relative to k; the layout depends only on the reference weeks' distances
        per_k: list[tuple[NDArray[np.intp], NDArray[np.intp], FloatArray]] = []
        layouts: dict[tuple[int, ...], tuple[NDArray[np.intp], NDArray[np.intp]]] = {}

        def layout(offsets: tuple[int, ...]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
            if offsets not in layouts:
                back, levels = _blocks(offsets, w, p, excluded)
                order = np.argsort(levels, kind="stable")
                layouts[offsets] = (np.asarray(back, dtype=np.intp)[order], np.asarray(levels, dtype=np.intp)[order])
            return layouts[offsets]

        if dates is None:
            back, levels = layout(tuple(j * freq for j in range(b + 1)))
            wtime = -back.astype(np.float64)
            per_k = [(k - back, levels, wtime) for k in ks]  # k ≥ b·freq + w: nothing before the start
        else:
            epoch = _EPOCH_OF_FREQ.get(freq)
            if epoch is None:
                raise ValueError(f"{METHOD}: dated series need freq 12, 52 or 365 (as R), not {freq}")
            days = dates.astype("datetime64[D]").astype(np.int64)
            lookup = {int(d): i for i, d in enumerate(days)}
            step = float(days[1] - days[0]) if len(days) > 1 else 1.0  # R: diff(vectorOfDates)[1]
            epoch0 = date(1970, 1, 1)
            for k in ks:
                day = epoch0 + timedelta(days=int(days[k]))
                refs = []
                for ref in _reference_dates(day, b, epoch):
                    index = lookup.get((ref - epoch0).days)
                    if index is None:
                        raise InsufficientHistory(METHOD, needed=b * freq + w, available=int(k), start=int(k))
                    refs.append(index)
                back, levels = layout(tuple(int(k) - r for r in refs))
                rows = int(k) - back
                keep = rows >= 0  # R drops index 0 (a window reaching before the series)
                rows = rows[keep]
                per_k.append((rows, levels[keep], (days[rows] - days[k]).astype(np.float64) / step))
        t = len(ks)
        width = max(len(r) for r, _, _ in per_k)
        self.rows = np.zeros((t, width), dtype=np.intp)
        self.valid = np.zeros((t, width), dtype=bool)
        group = np.empty(t, dtype=np.intp)
        times = np.zeros((t, width))
        seen: dict[bytes, int] = {}
        design_levels: list[NDArray[np.intp]] = []
        for i, (k_rows, k_levels, k_wtime) in enumerate(per_k):
            m = len(k_rows)
            self.rows[i, :m] = k_rows
            self.valid[i, :m] = True
            times[i, :m] = k_wtime
            key = k_levels.tobytes()
            if key not in seen:
                seen[key] = len(design_levels)
                design_levels.append(np.concatenate([k_levels - 1, np.full(width - m, -1, dtype=np.intp)]))
            group[i] = seen[key]
        self.designs = FactorTrendDesigns(np.stack(design_levels), times, p, group)
        y = np.where(self.valid, observed[self.rows], np.nan)
        self.prior = (self.valid & np.isfinite(y)).astype(np.float64)
        self.y = np.where(self.prior > 0, y, 0.0)
        # R's factor keeps only the levels seen among the responses used
        self.colmask = np.ones((t, p + 1), dtype=bool)
        self.colmask[:, :p] = self.designs.level_counts(self.prior) > 0
        self.x0 = np.zeros((t, p + 1))
        self.x0[:, p - 1] = 1.0  # predict for seasgroups = noPeriods, at wtime = k (0 here)
        self.wcol = p


# --- the fits ----------------------------------------------------------------------------------


def _assign_weights(s: FloatArray, used: BoolArray, threshold: float) -> FloatArray:
    """R ``algo.farrington.assign.weights``: residuals above the threshold get weight ∝ s^-2."""
    with np.errstate(divide="ignore", invalid="ignore"):
        big = used & (s > threshold)
        inv2 = np.where(big, s**-2.0, 1.0)
        gamma = used.sum(axis=1) / np.where(used, inv2, 0.0).sum(axis=1)
        omega = np.where(big, gamma[:, None] * inv2, gamma[:, None])
    return np.where(used, omega, 0.0)


def _anscombe(y: FloatArray, mu: FloatArray, phi: FloatArray, hat: FloatArray) -> FloatArray:
    """R ``surveillance:::anscombe.residuals``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = 1.5 * (y ** (2 / 3) * mu ** (-1 / 6) - np.sqrt(mu))
        return np.asarray(a / np.sqrt(phi[:, None] * (1 - hat)), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class _Chain:
    """``algo.farrington.fitGLM.flexible`` for a batch of models: the first fit's convergence
    (R returns NULL without it), and the final (reweighted) fit with its phi and the dispersion
    that ``summary.glm`` / ``predict.glm`` see."""

    converged: BoolArray
    fit: QuasiPoissonFit
    phi: FloatArray
    summary_dispersion: FloatArray


def _fit_chain(
    designs: FactorTrendDesigns,
    y: FloatArray,
    prior: FloatArray,
    colmask: BoolArray,
    *,
    reweight: bool,
    threshold: float,
) -> _Chain:
    fit = fit_quasipoisson(designs, y, prior, colmask)
    converged = fit.converged.copy()
    phi = np.maximum(fit.dispersion, 1.0)
    summary_dispersion = fit.dispersion
    if reweight:
        s = _anscombe(y, fit.mu, phi, hat_values(fit, designs))
        omega = _assign_weights(s, prior > 0, threshold)
        fit = fit_quasipoisson(designs, y, omega, colmask)  # R does not check this fit's convergence
        phi = np.maximum(fit.dispersion, 1.0)
        # R then sets model$weights <- omega, so summary.glm (the trend's p-value) and predict.glm
        # (se.fit) see sum(omega * r^2) / df with working residuals r, not the Pearson dispersion
        # behind phi. Kept for parity.
        resid = (y - fit.mu) / fit.mu
        with np.errstate(invalid="ignore", divide="ignore"):
            summary_dispersion = np.where(omega > 0, omega * resid**2, 0.0).sum(axis=1) / fit.df_residual
    return _Chain(converged, fit, phi, summary_dispersion)


def _pick(use_a: BoolArray, a: FloatArray, b: FloatArray) -> FloatArray:
    shape = (-1,) + (1,) * (a.ndim - 1)
    return np.where(use_a.reshape(shape), a, b)


class _Models:
    """The final model of every time point, as ``algo.farrington.glm`` chooses it.

    R fits the model with trend, and refits without trend where the trend fit does not converge
    or the trend is not kept; most weeks end without trend. Both chains are fitted here for every
    week in one batch (twice the models, half the sequential IRLS rounds), then each week takes
    the chain R would have ended with — the same fits R makes, in a different order.
    """

    def __init__(
        self, design: _Design, *, b: int, trend: bool, reweight: bool, threshold: float, p_trend: float
    ) -> None:
        d = design
        t = len(d.y)
        no_trend = d.colmask.copy()
        no_trend[:, d.wcol] = False
        if trend:
            both = np.concatenate([np.arange(t), np.arange(t)])
            colmask = np.concatenate([d.colmask, no_trend])
            chain = _fit_chain(
                d.designs.take(both), d.y[both], d.prior[both], colmask, reweight=reweight, threshold=threshold
            )
            a, b_ = np.arange(t), np.arange(t, 2 * t)
            use_a = chain.converged[a].copy()  # "No convergence with timeTrend -- trying without."
            # keep the trend only if significant, b ≥ 3 and no extrapolation (algo.farrington.glm)
            f = chain.fit
            wc = d.wcol
            eta0 = np.einsum("tp,tp->t", d.x0, f.coef[a])
            with np.errstate(divide="ignore", invalid="ignore"):
                se = np.sqrt(chain.summary_dispersion[a] * f.cov_unscaled[a, wc, wc])
                p_value = 2 * special.stdtr(f.df_residual[a], -np.abs(f.coef[a, wc] / se))
            y_max = np.where(d.prior > 0, d.y, -np.inf).max(axis=1)
            use_a &= (b >= 3) & (p_value < p_trend) & (linkinv(eta0) <= y_max)
            self.coef = _pick(use_a, f.coef[a], f.coef[b_])
            self.cov = _pick(use_a, f.cov_unscaled[a], f.cov_unscaled[b_])
            self.summary_dispersion = _pick(use_a, chain.summary_dispersion[a], chain.summary_dispersion[b_])
            self.phi = _pick(use_a, chain.phi[a], chain.phi[b_])
            self.ok = use_a | chain.converged[b_]  # R: NULL when neither converges
        else:
            chain = _fit_chain(d.designs, d.y, d.prior, no_trend, reweight=reweight, threshold=threshold)
            self.coef, self.cov = chain.fit.coef, chain.fit.cov_unscaled
            self.summary_dispersion, self.phi, self.ok = chain.summary_dispersion, chain.phi, chain.converged
        self.design = d

    def predict_link(self) -> tuple[FloatArray, FloatArray]:
        """``predict.glm(type = "link", se.fit = TRUE)`` at k: eta0 and its standard error."""
        x0 = self.design.x0
        eta0 = np.einsum("tp,tp->t", x0, self.coef)
        var = np.einsum("tp,tpq,tq->t", x0, self.cov, x0) * self.summary_dispersion
        with np.errstate(invalid="ignore"):
            se = np.sqrt(var)
        absent = ~self.design.colmask[:, self.design.wcol - 1]  # R cannot predict an unseen level
        return np.where(absent, np.nan, eta0), se


# --- thresholds -----------------------------------------------------------------------------


class _Cdf:
    """A vectorised discrete CDF at integer points (a small callable object, for typing)."""

    def __init__(self, kind: Literal["nbinom", "poisson"], a: FloatArray, b: FloatArray | None = None) -> None:
        self.kind, self.a, self.b = kind, a, b

    def __call__(self, y: FloatArray) -> FloatArray:
        if self.kind == "poisson":
            # R ppois(y, lambda) = pgamma(lambda, y + 1, lower = FALSE)
            return np.asarray(special.gammaincc(y + 1, self.a), dtype=np.float64)
        assert self.b is not None
        # R pnbinom(y, size, prob) = pbeta(prob, size, y + 1)
        return np.asarray(special.betainc(self.a, y + 1, self.b), dtype=np.float64)


def _discrete_quantile(p: float, mean: FloatArray, sd: FloatArray, skew: FloatArray, cdf: _Cdf) -> FloatArray:
    """Smallest integer y ≥ 0 with cdf(y) ≥ p (1 - 8 eps), as R's discrete quantile search.

    Starts, like R, from the Cornish–Fisher approximation, then brackets the answer by doubling
    steps and bisects (vectorised; a few dozen CDF evaluations at most).
    """
    target = p * _QUANTILE_FUZZ
    z = float(special.ndtri(p))
    guess = np.floor(mean + sd * (z + skew * (z * z - 1) / 6) + 0.5)  # R_forceint
    guess = np.where(np.isfinite(guess) & (guess > 0), guess, 0.0)
    down = cdf(guess) >= target  # the answer is the guess or below it, else above it
    # invariant once settled: cdf(lo) < target (lo = -1 means "below 0") and cdf(hi) ≥ target
    lo = np.where(down, guess - 1, guess)
    hi = np.where(down, guess, guess + 1)
    step = 1.0
    while True:
        lo_wrong = down & (lo >= 0) & (cdf(np.maximum(lo, 0.0)) >= target)
        hi_wrong = ~down & (cdf(hi) < target)
        if not (lo_wrong.any() or hi_wrong.any()):
            break
        step *= 2  # widen by doubling steps; the bound passed over becomes the other end
        hi, lo = np.where(lo_wrong, lo, hi), np.where(lo_wrong, lo - step, lo)
        lo, hi = np.where(hi_wrong, hi, lo), np.where(hi_wrong, hi + step, hi)
    lo = np.maximum(lo, -1.0)
    while (hi - lo > 1).any():
        mid = np.floor((lo + hi) / 2)
        above = cdf(np.maximum(mid, 0.0)) >= target
        wide = hi - lo > 1
        hi = np.where(wide & above, mid, hi)
        lo = np.where(wide & ~above, mid, lo)
    return hi


def qnbinom(p: float, size: FloatArray, prob: FloatArray) -> FloatArray:
    """R ``qnbinom(p, size, prob)`` (lower tail), vectorised over ``size`` and ``prob``."""
    size, prob = np.broadcast_arrays(np.asarray(size, dtype=np.float64), np.asarray(prob, dtype=np.float64))
    out = np.full(size.shape, np.nan)
    out[(size == 0) | (prob == 1)] = 0.0
    ok = np.isfinite(size) & (size > 0) & (prob > 0) & (prob < 1)
    if ok.any():
        s, q = size[ok], prob[ok]
        big_q = 1 / q
        big_p = (1 - q) * big_q
        sd = np.sqrt(s * big_p * big_q)
        out[ok] = _discrete_quantile(p, s * big_p, sd, (big_q + big_p) / sd, _Cdf("nbinom", s, q))
    return out


def qpois(p: float, lam: FloatArray) -> FloatArray:
    """R ``qpois(p, lambda)`` (lower tail), vectorised."""
    lam = np.asarray(lam, dtype=np.float64)
    out = np.full(lam.shape, np.nan)
    out[lam == 0] = 0.0
    ok = np.isfinite(lam) & (lam > 0)
    if ok.any():
        mu = lam[ok]
        sd = np.sqrt(mu)
        out[ok] = _discrete_quantile(p, mu, sd, 1 / sd, _Cdf("poisson", mu))
    return out


def _threshold_noufaily(
    eta0: FloatArray, se_eta0: FloatArray, phi: FloatArray, y: FloatArray, *, alpha: float, method: str
) -> tuple[FloatArray, FloatArray]:
    """R ``algo.farrington.threshold.noufaily``: (upper, score)."""
    # nbPlugin: the plug-in mean; muan: the (1 - alpha) upper confidence limit of the mean
    linear = eta0 if method == "nbPlugin" else eta0 + float(special.ndtri(1 - alpha)) * se_eta0
    with np.errstate(over="ignore", invalid="ignore"):
        mu_q = np.exp(linear)
    upper = np.full(eta0.shape, np.nan)
    finite = np.isfinite(mu_q) & np.isfinite(phi)
    nb = finite & (phi > 1)
    pois = finite & (phi <= 1)
    if nb.any():
        upper[nb] = qnbinom(1 - alpha, mu_q[nb] / (phi[nb] - 1), 1 / phi[nb])
    if pois.any():
        upper[pois] = qpois(1 - alpha, mu_q[pois])
    with np.errstate(divide="ignore", invalid="ignore"):
        score = (y - eta0) / (upper - eta0)
    return upper, score


def _threshold_delta(
    mu0: FloatArray, se_mu0: FloatArray, phi: FloatArray, y: FloatArray, *, alpha: float, powertrans: str
) -> tuple[FloatArray, FloatArray]:
    """R ``algo.farrington.threshold.farrington``: (upper, score)."""
    e = _EXPONENT[powertrans]
    tau = phi + se_mu0**2 / mu0
    if powertrans == "none":
        se = np.sqrt(mu0 * tau)
    elif powertrans == "1/2":
        se = np.sqrt(tau / 4)
    else:
        se = np.sqrt(4 / 9 * mu0 ** (1 / 3) * tau)
    with np.errstate(invalid="ignore", divide="ignore"):
        upper = (mu0**e + float(special.ndtri(1 - alpha)) * se) ** (1 / e)
        score = (y - mu0) / (upper - mu0)
    return np.asarray(upper, dtype=np.float64), np.asarray(score, dtype=np.float64)


# --- the detector ---------------------------------------------------------------------------------


def farrington_flexible(
    observed: ArrayLike,
    *,
    freq: int,
    start: int | None = None,
    b: int = 5,
    w: int = 3,
    no_periods: int = 10,
    past_weeks_not_included: int | None = 26,
    weights_threshold: float = 2.58,
    reweight: bool = True,
    trend: bool = True,
    p_threshold_trend: float = 0.05,
    powertrans: PowerTransform = "2/3",
    threshold_method: ThresholdMethod = "nbPlugin",
    alpha: float = 0.01,
    limit54: tuple[int, int] = (5, 4),
    dates: NDArray[np.datetime64] | None = None,
) -> Detection:
    """Farrington flexible over ``observed[start:]`` (0-based ``start``, default the first point
    with b years of history: ``b * freq + w``).

    Defaults are Noufaily et al.'s settings (R's own defaults differ: noPeriods 1,
    pastWeeksNotIncluded = w, thresholdMethod "delta", alpha 0.05). ``past_weeks_not_included``
    None means ``w``, as in R. ``dates`` (one per point) switches to R's ``epochAsDate``
    reference weeks (freq 52, 12 or 365): needed to reproduce R on series that R holds with
    dates; the registry runs without (ISO weeks, j·freq points back). Missing counts (NaN) are
    left out of the fits, as R drops NA responses.
    """
    x = np.asarray(observed, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{METHOD}: observed must be one-dimensional")
    if freq < 1 or b < 1 or w < 0 or no_periods < 1:
        raise ValueError(f"{METHOD}: freq and b must be ≥ 1, w ≥ 0, no_periods ≥ 1")
    if limit54[0] < 0 or limit54[1] < 1:
        raise ValueError(f"{METHOD}: limit54 must be (cases ≥ 0, period > 0)")
    if dates is not None and len(dates) != len(x):
        raise ValueError(f"{METHOD}: dates and observed differ in length")
    first = min_history(b=b, w=w, freq=freq)
    if start is None:
        start = first
    if start < first:
        raise InsufficientHistory(METHOD, needed=first, available=start, start=start)
    if len(x) <= start:
        raise InsufficientHistory(METHOD, needed=start + 1, available=len(x))
    excluded = w if past_weeks_not_included is None else past_weeks_not_included
    ks = np.arange(start, len(x), dtype=np.intp)
    design = _Design(x, ks, b=b, w=w, freq=freq, no_periods=no_periods, excluded=excluded, dates=dates)
    models = _Models(
        design, b=b, trend=trend, reweight=reweight, threshold=weights_threshold, p_trend=p_threshold_trend
    )
    eta0, se_eta0 = models.predict_link()
    y_now = x[ks]
    phi = models.phi
    if threshold_method == "delta":
        mu0 = linkinv(eta0)
        upper, score = _threshold_delta(mu0, se_eta0 * mu0, phi, y_now, alpha=alpha, powertrans=powertrans)
        expected = mu0
    else:
        upper, score = _threshold_noufaily(eta0, se_eta0, phi, y_now, alpha=alpha, method=threshold_method)
        with np.errstate(over="ignore"):
            expected = np.exp(eta0)

    cases, period = limit54
    padded = np.concatenate([np.zeros(period - 1), x])
    recent = sliding_window_view(padded, period)[ks].sum(axis=1)  # x[k - period + 1 … k]
    enough = recent >= cases  # a missing count in the window gives NaN → False, like R's NA
    usable = enough & models.ok
    threshold = np.where(usable, upper, np.nan)
    score = np.where(usable, score, np.nan)
    alarm = usable & ~np.isnan(score) & (score > 1) & (y_now != 0)
    expected = np.where(usable & ~np.isnan(upper), expected, np.nan)
    return Detection(
        index=ks.astype(np.int64),
        observed=y_now,
        threshold=threshold,
        alarm=alarm,
        expected=expected,
        score=score,
    )
