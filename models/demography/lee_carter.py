"""Lee-Carter mortality model, fitted by sex, with the second-stage re-estimation of k(t).

Model (Lee & Carter 1992):

    log m(x, t) = a(x) + b(x) k(t) + e(x, t),      sum_x b(x) = 1.

Estimation:

1. ``a(x) = mean_t log m(x, t)`` over the fitting window;
2. the centred matrix ``Z(t, x) = log m(x, t) - a(x)`` is decomposed by SVD,
   ``Z = U S V'``; the rank-1 term gives ``b = V[:, 0] / sum V[:, 0]`` and
   ``k(t) = S[0] U[t, 0] sum V[:, 0]`` (so ``sum_x b = 1`` and ``sum_t k = 0``);
3. second stage: ``k(t)`` is re-estimated period by period so that the life expectancy at
   birth of the fitted schedule equals that of the data,
   ``e0(exp(a + b k(t))) = e0(m(., t))``, solved with Brent's method. This makes the fitted
   schedules reproduce the observed level of mortality, which the least-squares fit to log
   rates does not (it over-weights low rates at young ages).

Fitting window. The default is the 5-year periods starting in 1970 or later. China's
1950-1970 schedules carry the 1959-61 famine (a spike in k(t) that a random walk with drift
would read as a long-run trend reversal) and the rapid epidemiological transition of the
1950s, whose age pattern of decline (mostly infant and child mortality) differs from the one
since 1970 that the projection should extrapolate. ``fit_from`` makes the window a choice.

Life expectancies use :mod:`models.demography.lifetable` (Preston, Heuveline & Guillot 2001).

References
----------
Lee, R. D. & Carter, L. R. (1992). Modeling and forecasting U.S. mortality. *Journal of the
American Statistical Association* 87(419), 659-671.
Brent, R. P. (1973). *Algorithms for Minimization without Derivatives*, ch. 4 (scipy.optimize.brentq).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from models.demography.lifetable import life_expectancy

#: First period start of the default fitting window (see the module docstring for why).
DEFAULT_FIT_FROM = 1970


@dataclass(frozen=True)
class LeeCarterFit:
    """A fitted Lee-Carter model for one sex; ages 0..w (w open), periods in the window."""

    ax: np.ndarray  #: a(x), mean log central death rate, shape (age,)
    bx: np.ndarray  #: b(x), age response to k, sum 1, shape (age,)
    kt: np.ndarray  #: k(t) after the second-stage e0 re-estimation, shape (period,)
    kt_svd: np.ndarray  #: k(t) of the first-stage SVD, shape (period,)
    periods: np.ndarray  #: start year of each fitted period, shape (period,)
    e0_data: np.ndarray  #: life-table e0 of the data m(x, t), years, shape (period,)
    e0_fitted: np.ndarray  #: life-table e0 of exp(a + b k(t)), years, shape (period,)
    explained_variance_share: float  #: S[0]^2 / sum S^2 of the centred log rates


def lee_carter_mx(ax: np.ndarray, bx: np.ndarray, kt: np.ndarray | float) -> np.ndarray:
    """Central death rates ``m(x, t) = exp(a(x) + b(x) k(t))``.

    Parameters
    ----------
    ax, bx : arrays of shape (age,).
    kt : scalar or array of any shape (...,).

    Returns
    -------
    array, shape (..., age) : deaths per person-year.
    """
    k = np.asarray(kt, dtype=float)[..., np.newaxis]
    return np.exp(np.asarray(ax, dtype=float) + np.asarray(bx, dtype=float) * k)


def _e0_of_k(ax: np.ndarray, bx: np.ndarray, k: float, sex: str) -> float:
    with np.errstate(over="ignore"):
        return float(life_expectancy(lee_carter_mx(ax, bx, k), sex))


def k_for_e0(
    ax: np.ndarray,
    bx: np.ndarray,
    e0_target: np.ndarray | float,
    sex: str,
    *,
    initial_half_width: float = 10.0,
    max_half_width: float = 1.0e4,
    xtol: float = 1.0e-12,
) -> np.ndarray:
    """Solve ``e0(exp(a + b k)) = e0_target`` for k, one Brent root search per target.

    e0 falls as k rises when b(x) >= 0 (all rates rise together). The bracket starts at
    ``[-initial_half_width, initial_half_width]`` and doubles on the side that does not yet
    straddle the target, up to ``max_half_width``.

    Parameters
    ----------
    ax, bx : arrays of shape (age,), a Lee-Carter age pattern (ages 0..w, w open).
    e0_target : scalar or array (...,) of target life expectancies at birth, years.
    sex : "female" or "male" (infant a(0) of the life table).

    Returns
    -------
    array shaped like ``e0_target`` : k, in the units of the fit (sum b = 1).
    """
    targets = np.asarray(e0_target, dtype=float)
    solutions = np.empty(targets.shape)
    for index, target in np.ndenumerate(targets):
        if not np.isfinite(target):
            raise ValueError(f"e0 target at index {index} is not finite: {target}")

        def gap(k: float, target: float = float(target)) -> float:
            return _e0_of_k(ax, bx, k, sex) - target

        low, high = -initial_half_width, initial_half_width
        while gap(low) < 0.0:
            low *= 2.0
            if -low > max_half_width:
                raise ValueError(f"no k gives e0 as high as {target:.4f} (searched down to {low:g})")
        while gap(high) > 0.0:
            high *= 2.0
            if high > max_half_width:
                raise ValueError(f"no k gives e0 as low as {target:.4f} (searched up to {high:g})")
        solutions[index] = brentq(gap, low, high, xtol=xtol, rtol=4.0 * np.finfo(float).eps)
    return solutions


def fit_lee_carter(
    mx: np.ndarray,
    period_starts: np.ndarray,
    sex: str,
    *,
    fit_from: int = DEFAULT_FIT_FROM,
    fit_to: int | None = None,
) -> LeeCarterFit:
    """Fit ``log m(x,t) = a(x) + b(x) k(t)`` by SVD and re-estimate k(t) to match e0 (Lee & Carter 1992).

    Parameters
    ----------
    mx : array, shape (period, age)
        Single-age central death rates (deaths per person-year), ages 0..w with w open, all
        positive, one row per period.
    period_starts : array, shape (period,)
        Start year of each row's period (e.g. 1970 for 1970-1975).
    sex : "female" or "male" (life-table a(0) in the e0 re-estimation).
    fit_from, fit_to : first and last period start included (inclusive; ``fit_to=None``: all
        later periods). Default window: periods from 1970 (module docstring).

    Returns
    -------
    LeeCarterFit, with a, b over ages, k over the fitted periods.
    """
    rates = np.asarray(mx, dtype=float)
    starts = np.asarray(period_starts)
    if rates.ndim != 2 or starts.shape != (rates.shape[0],):
        raise ValueError(
            f"mx must be (period, age) and period_starts (period,), got {rates.shape}, {starts.shape}"
        )
    in_window = starts >= fit_from
    if fit_to is not None:
        in_window &= starts <= fit_to
    if in_window.sum() < 2:
        raise ValueError(
            f"the fitting window {fit_from}..{fit_to} holds {in_window.sum()} periods; need at least 2"
        )
    window = rates[in_window]
    if np.any(window <= 0) or not np.all(np.isfinite(window)):
        raise ValueError("all death rates in the fitting window must be positive and finite")

    log_rates = np.log(window)
    ax = log_rates.mean(axis=0)
    left, singular_values, right_t = np.linalg.svd(log_rates - ax, full_matrices=False)
    loading_sum = right_t[0].sum()
    bx = right_t[0] / loading_sum
    kt_svd = singular_values[0] * left[:, 0] * loading_sum
    explained = float(singular_values[0] ** 2 / np.sum(singular_values**2))

    e0_data = life_expectancy(window, sex)
    kt = k_for_e0(ax, bx, e0_data, sex)
    e0_fitted = life_expectancy(lee_carter_mx(ax, bx, kt), sex)
    return LeeCarterFit(
        ax=ax,
        bx=bx,
        kt=kt,
        kt_svd=kt_svd,
        periods=starts[in_window].copy(),
        e0_data=e0_data,
        e0_fitted=e0_fitted,
        explained_variance_share=explained,
    )
