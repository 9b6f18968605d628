"""Quasi-Poisson GLMs ``log mu = beta[level] + gamma * t``, fitted by IRLS, many at once.

The model of R ``surveillance``'s ``formulaGLM()`` (``response ~ 1 + wtime + seasgroups``:
one factor and a linear time trend; the factor coded one coefficient per level, which spans the
same space as R's intercept + treatment contrasts, so fitted values, the trend coefficient and
its test are the same). A port of R ``stats::glm.fit`` with ``quasipoisson(link = "log")`` and
``glm.control()`` defaults (``epsilon = 1e-8``, ``maxit = 25``), and of what ``summary.glm``,
``predict.glm`` and ``hatvalues`` read from its result.

Why by hand: Farrington flexible fits two to four models per evaluated week, each of ~240
observations; statsmodels spends milliseconds per fit on formula and object overhead, far too
slow for thousands of weeks. Here every week's model is fitted together: per IRLS iteration one
matrix product per shared design gives the weighted sums, and the normal equations, whose matrix
is diagonal apart from the trend's row and column, are solved in closed form (Schur complement).
Each model stops at the iteration where R's ``glm.fit`` would stop.

Kept as in R: starting values ``mu = y + 0.1``; ``mu = pmax(exp(eta), eps)``; the convergence
test ``|dev - devold| / (|dev| + 0.1) < epsilon``; step halving when the deviance is not finite;
the working weights and unscaled covariance from the last iteration's weighted least squares
(they lag the final ``mu`` by one step, like R's ``model$weights`` and ``model$qr``); the
dispersion ``sum(w * r^2) / df.residual`` with working residuals ``r``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from healthbrain.surveillance.detectors.base import BoolArray, FloatArray

EPS = float(np.finfo(np.float64).eps)  # R's .Machine$double.eps
_LOG_EPS = float(np.log(EPS))


@dataclass(frozen=True, slots=True)
class QuasiPoissonFit:
    """Fits of ``m`` models (leading axis). Coefficients: one per level, then the trend's;
    those not in a model (absent level, no trend) are 0."""

    coef: FloatArray  # (m, p)
    converged: BoolArray  # (m,)
    eta: FloatArray  # (m, n) linear predictor
    mu: FloatArray  # (m, n) fitted means, R ``fitted.values``
    working_weights: FloatArray  # (m, n) R ``model$weights`` (0 for rows not in the fit)
    cov_unscaled: FloatArray  # (m, p, p) R ``summary.glm(...)$cov.unscaled``
    dispersion: FloatArray  # (m,) R ``summary.glm(...)$dispersion`` (not floored at 1)
    df_residual: FloatArray  # (m,)


def linkinv(eta: FloatArray) -> FloatArray:
    """R ``make.link("log")$linkinv``: ``pmax(exp(eta), .Machine$double.eps)``."""
    with np.errstate(over="ignore"):
        mu = np.exp(eta)
    return np.maximum(mu, EPS, out=mu)


def xlogx(y: FloatArray) -> FloatArray:
    """``y * log(y)`` with 0 at 0."""
    return np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0)


class _DevianceTerms:
    """R ``quasipoisson()$dev.resids`` summed per model: 2 wt (y log(y/mu) - (y - mu)), and
    2 wt mu where y = 0 — rearranged as 2 [sum wt (y log y - y) - sum wt y log mu + sum wt mu]
    with log mu = max(eta, log eps) (mu = pmax(exp(eta), eps)): the first sum is fixed per
    model, so an iteration costs two dot products. Equal to R's form up to rounding."""

    def __init__(self, y: FloatArray, prior: FloatArray) -> None:
        self.fixed = (prior * (xlogx(y) - y)).sum(axis=1)
        self.prior_y = prior * y
        self.prior = prior

    def take(self, rows: BoolArray) -> _DevianceTerms:
        view = _DevianceTerms.__new__(_DevianceTerms)
        view.fixed, view.prior_y, view.prior = self.fixed[rows], self.prior_y[rows], self.prior[rows]
        return view

    def __call__(self, eta: FloatArray, mu: FloatArray) -> FloatArray:
        log_mu = np.maximum(eta, _LOG_EPS)
        with np.errstate(invalid="ignore", over="ignore"):
            return np.asarray(
                2.0
                * (self.fixed - np.einsum("ij,ij->i", self.prior_y, log_mu) + np.einsum("ij,ij->i", self.prior, mu)),
                dtype=np.float64,
            )

    def one(self, i: int, eta: FloatArray, mu: FloatArray) -> float:
        log_mu = np.maximum(eta, _LOG_EPS)
        with np.errstate(invalid="ignore", over="ignore"):
            return float(2.0 * (self.fixed[i] - self.prior_y[i] @ log_mu + self.prior[i] @ mu))


def _cells(
    part: NDArray[np.intp] | slice, columns: NDArray[np.intp]
) -> tuple[slice, NDArray[np.intp]] | tuple[NDArray[np.intp], ...]:
    """Index of the (models ``part``) × ``columns`` block of a 2-D array."""
    return (part, columns) if isinstance(part, slice) else np.ix_(part, columns)


def _size(part: NDArray[np.intp] | slice, total: int) -> int:
    return len(range(*part.indices(total))) if isinstance(part, slice) else int(part.size)


class FactorTrendDesigns:
    """The designs of ``m`` models: model ``j``'s row ``i`` has level ``levels[group[j], i]``
    (0..k-1; the level layouts are shared in groups) and time ``t[j, i]``. Coefficients: k
    levels, then the trend.

    Rows must be sorted by level, with padding rows (level -1, prior weight 0) at the end: the
    per-level sums are then sums over contiguous runs (``np.add.reduceat``), which beats a
    matrix product with a one-hot matrix for these sizes and needs no BLAS threads.
    """

    def __init__(self, levels: NDArray[np.intp], t: FloatArray, n_levels: int, group: NDArray[np.intp]) -> None:
        self.levels = levels
        self.t = t
        self.n_levels = n_levels
        self.group = group
        self._runs: list[tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp], int]] = []
        for row in levels:
            real = int((row >= 0).sum())
            if (row[real:] >= 0).any() or (np.diff(row[:real]) < 0).any():
                raise ValueError("design rows must be sorted by level, padding (-1) last")
            present, starts, counts = np.unique(row[:real], return_index=True, return_counts=True)
            self._runs.append((present, starts, counts, real))

    @property
    def n_coef(self) -> int:
        return self.n_levels + 1

    def level_counts(self, prior: FloatArray) -> FloatArray:
        """Per model and level, the sum of ``prior`` over the level's rows."""
        out = np.zeros((prior.shape[0], self.n_levels))
        for g, part in self._parts():
            present, starts, _, real = self._runs[g]
            out[_cells(part, present)] = np.add.reduceat(prior[part, :real], starts, axis=1)
        return out

    def take(self, rows: NDArray[np.intp] | BoolArray) -> FactorTrendDesigns:
        """The designs of the models ``rows`` (shares the matrices)."""
        view = FactorTrendDesigns.__new__(FactorTrendDesigns)
        view.levels, view.n_levels, view._runs = self.levels, self.n_levels, self._runs
        view.t, view.group = self.t[rows], self.group[rows]
        view._cached_parts = None
        return view

    _cached_parts: list[tuple[int, NDArray[np.intp] | slice]] | None = None

    def _parts(self) -> list[tuple[int, NDArray[np.intp] | slice]]:
        """(layout, its models) pairs; a slice when one layout serves every model."""
        if self._cached_parts is None:
            groups = self.group
            if groups.size == 0:
                self._cached_parts = []
            elif (groups == groups[0]).all():
                self._cached_parts = [(int(groups[0]), slice(None))]
            elif (np.diff(groups) >= 0).all():  # models sorted by layout: contiguous slices (views)
                edges = [0, *(np.flatnonzero(np.diff(groups)) + 1).tolist(), groups.size]
                self._cached_parts = [(int(groups[lo]), slice(lo, hi)) for lo, hi in itertools.pairwise(edges)]
            else:
                order = np.argsort(groups, kind="stable")
                bounds = np.flatnonzero(np.diff(groups[order])) + 1
                self._cached_parts = [(int(groups[part[0]]), part) for part in np.split(order, bounds)]
        return self._cached_parts

    def sums(self, w2: FloatArray, z: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        """Weighted sums per level of w, w t and w z, and totals of w t^2 and w z t, per model."""
        a, k = w2.shape[0], self.n_levels
        s0, s1, bl = np.zeros((a, k)), np.zeros((a, k)), np.zeros((a, k))
        stt, szt = np.empty(a), np.empty(a)
        for g, part in self._parts():
            present, starts, _, real = self._runs[g]
            t = self.t[part, :real]
            stacked = np.empty((3, _size(part, a), real))
            stacked[0] = w2[part, :real]
            np.multiply(stacked[0], t, out=stacked[1])
            np.multiply(stacked[0], z[part, :real], out=stacked[2])
            level_sums = np.add.reduceat(stacked, starts, axis=2)
            cells = _cells(part, present)
            s0[cells], s1[cells], bl[cells] = level_sums[0], level_sums[1], level_sums[2]
            stt[part] = np.einsum("mn,mn->m", stacked[1], t)
            szt[part] = np.einsum("mn,mn->m", stacked[2], t)
        return s0, s1, bl, stt, szt

    def _expand(self, per_level: FloatArray, per_trend: FloatArray) -> FloatArray:
        """Row values ``per_level[level] + per_trend * t`` per model (0 on padding rows)."""
        out = np.zeros((per_level.shape[0], self.levels.shape[1]))
        for g, part in self._parts():
            present, _, counts, real = self._runs[g]
            level_part = np.repeat(per_level[part][:, present], counts, axis=1)
            out[part, :real] = level_part + per_trend[part, None] * self.t[part, :real]
        return out

    def linear_predictor(self, coef: FloatArray) -> FloatArray:
        return self._expand(coef[:, : self.n_levels], coef[:, self.n_levels])

    def quadratic_form(self, cov: FloatArray) -> FloatArray:
        """``x_i' cov x_i`` for every row of every model (for the hat values)."""
        k = self.n_levels
        diagonal = np.arange(k)
        c_ll = self._expand(cov[:, diagonal, diagonal], np.zeros(cov.shape[0]))
        c_lt = self._expand(cov[:, :k, k], np.zeros(cov.shape[0]))
        t = self.t
        return np.asarray(c_ll + 2 * t * c_lt + t**2 * cov[:, k, k, None], dtype=np.float64)


def _arrow_solve(
    s0: FloatArray, s1: FloatArray, bl: FloatArray, stt: FloatArray, bt: FloatArray, colmask: BoolArray
) -> tuple[FloatArray, tuple[FloatArray, FloatArray, FloatArray]]:
    """Solve ``[[diag(s0), s1], [s1', stt]] [beta; gamma] = [bl; bt]``; also return the pieces
    of the inverse (for :func:`_arrow_inverse`).

    Levels not in a model (their sums are 0) and the trend when not fitted get coefficient 0 and a
    zero row and column in the inverse. A level whose weights sum to 0 makes the system singular:
    its coefficients come out non-finite (R: "non-finite coefficients", no convergence).
    """
    k = s0.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        dinv = np.where(colmask[:, :k], 1.0 / s0, 0.0)
        r = s1 * dinv  # weighted mean time of each level
        c_tt = np.where(colmask[:, k], 1.0 / (stt - (s1 * r).sum(axis=1)), 0.0)  # 1 / Schur complement
        gamma = (bt - (r * bl).sum(axis=1)) * c_tt
        coef = np.empty((s0.shape[0], k + 1))
        coef[:, :k] = dinv * (bl - s1 * gamma[:, None])
        coef[:, k] = gamma
    return coef, (dinv, r, c_tt)


def _arrow_inverse(dinv: FloatArray, r: FloatArray, c_tt: FloatArray) -> FloatArray:
    """The inverse of the arrow matrix from the pieces of :func:`_arrow_solve`."""
    m, k = dinv.shape
    cov = np.empty((m, k + 1, k + 1))
    diagonal = np.arange(k)
    with np.errstate(invalid="ignore"):
        cov[:, :k, :k] = r[:, :, None] * r[:, None, :] * c_tt[:, None, None]
        cov[:, diagonal, diagonal] += dinv
        cov[:, :k, k] = cov[:, k, :k] = -r * c_tt[:, None]
    cov[:, k, k] = c_tt
    return cov


def fit_quasipoisson(
    designs: FactorTrendDesigns,
    y: FloatArray,
    prior: FloatArray,
    colmask: BoolArray,
    *,
    maxit: int = 25,
    epsilon: float = 1e-8,
) -> QuasiPoissonFit:
    """Fit ``m`` quasi-Poisson log-link GLMs by IRLS, as R ``glm.fit`` does.

    ``y`` (m, n) responses, ``prior`` (m, n) prior weights (0 leaves a row out of the fit, as R
    does for zero weights; used for padding and missing responses), ``colmask`` (m, k + 1) the
    coefficients in each model (a factor level without rows, or the trend when not fitted).
    Models leave the working set as they stop, so late iterations only touch the slow ones.
    """
    order = np.argsort(designs.group, kind="stable")
    if (np.diff(order) < 0).any():
        # sorted by design, each design's models are a contiguous block: slices, not copies
        fit = fit_quasipoisson(
            designs.take(order), y[order], prior[order], colmask[order], maxit=maxit, epsilon=epsilon
        )
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        return _select(fit, inverse)
    m, n = y.shape
    p = designs.n_coef
    good = prior > 0
    y = np.where(good, y, 0.0)
    deviance = _DevianceTerms(y, prior)
    eta = np.log(y + 0.1)  # R quasipoisson()$initialize: mustart <- y + 0.1
    mu = linkinv(eta)
    out = QuasiPoissonFit(
        coef=np.zeros((m, p)),
        converged=np.zeros(m, dtype=bool),
        eta=eta.copy(),
        mu=mu.copy(),
        working_weights=np.zeros((m, n)),
        cov_unscaled=np.zeros((m, p, p)),
        dispersion=np.full(m, np.nan),
        df_residual=np.zeros(m),
    )
    # the working set: the models still iterating
    ids = np.arange(m)
    work = designs
    w_y, w_prior, w_mask = y, prior, colmask
    w_eta, w_mu = eta, mu
    devold = deviance(eta, mu)
    coefold = np.zeros((m, p))
    for iteration in range(1, maxit + 1):
        # for the log link R's mu.eta(eta) is pmax(exp(eta), eps), i.e. mu itself, and the
        # working weight prior * mu.eta^2 / V(mu) is prior * mu
        z = w_eta + (w_y - w_mu) / w_mu
        w2 = w_prior * w_mu
        beta, pieces = _arrow_solve(*work.sums(w2, z), w_mask)
        finite = np.asarray(np.isfinite(beta).all(axis=1))  # else R: "non-finite coefficients", stop
        safe_beta = np.where(finite[:, None], beta, 0.0)
        eta_new = work.linear_predictor(safe_beta)
        mu_new = linkinv(eta_new)
        dev = deviance(eta_new, mu_new)
        for i in np.flatnonzero(finite & ~np.isfinite(dev)):
            # R: "step size truncated due to divergence" — halve towards the previous coefficients.
            if iteration == 1:
                continue  # R stops with an error here; the model counts as not converged
            one = work.take(np.array([i]))
            for _halving in range(maxit):
                beta[i] = (beta[i] + coefold[i]) / 2
                eta_new[i] = one.linear_predictor(beta[i : i + 1])[0]
                mu_new[i] = linkinv(eta_new[i])
                dev[i] = deviance.one(int(i), eta_new[i], mu_new[i])
                if np.isfinite(dev[i]):
                    break
        moved = finite & np.isfinite(dev)
        conv = moved & (np.abs(dev - devold) / (np.abs(dev) + 0.1) < epsilon)
        stop: BoolArray = conv | ~moved if iteration < maxit else np.ones_like(moved)
        if stop.any():
            rows, j = ids[stop], stop
            # a model stopped by non-finite coefficients keeps its previous eta, mu and coef
            keep_new = moved[j]
            out.coef[rows] = np.where(keep_new[:, None], beta[j], coefold[j])
            out.eta[rows] = np.where(keep_new[:, None], eta_new[j], w_eta[j])
            out.mu[rows] = np.where(keep_new[:, None], mu_new[j], w_mu[j])
            out.working_weights[rows] = w2[j]
            out.cov_unscaled[rows] = _arrow_inverse(*(piece[j] for piece in pieces))
            out.converged[rows] = conv[j]
            go = ~stop
            ids, work = ids[go], work.take(go)
            w_y, w_prior, w_mask, deviance = w_y[go], w_prior[go], w_mask[go], deviance.take(go)
            w_eta, w_mu, devold = eta_new[go], mu_new[go], dev[go]
            coefold = beta[go]
            if ids.size == 0:
                break
        else:
            w_eta, w_mu, devold, coefold = eta_new, mu_new, dev, beta

    df = good.sum(axis=1) - colmask.sum(axis=1)
    resid = (y - out.mu) / out.mu  # working residuals (mu.eta = mu for the log link)
    with np.errstate(divide="ignore", invalid="ignore"):
        pearson = np.where(out.working_weights > 0, out.working_weights * resid**2, 0.0).sum(axis=1)
        out.dispersion[:] = np.where(df > 0, pearson / np.where(df > 0, df, 1), np.nan)
    out.df_residual[:] = df
    return out


def hat_values(fit: QuasiPoissonFit, designs: FactorTrendDesigns) -> FloatArray:
    """R ``hatvalues(model)`` (``lm.influence``) from the last IRLS weights; 1 where ≥ 1 - 10 eps."""
    h = fit.working_weights * designs.quadratic_form(fit.cov_unscaled)
    return np.where(h > 1 - 10 * EPS, 1.0, h)


def _select(fit: QuasiPoissonFit, rows: NDArray[np.intp]) -> QuasiPoissonFit:
    return QuasiPoissonFit(
        coef=fit.coef[rows],
        converged=fit.converged[rows],
        eta=fit.eta[rows],
        mu=fit.mu[rows],
        working_weights=fit.working_weights[rows],
        cov_unscaled=fit.cov_unscaled[rows],
        dispersion=fit.dispersion[rows],
        df_residual=fit.df_residual[rows],
    )
