"""Graduation of age-grouped schedules to single years of age.

One method is used for every grouped schedule in the project (mortality, fertility, migration):
interpolate the *cumulative* schedule at the group boundaries with a piecewise cubic Hermite
interpolant (PCHIP) and difference it at integer ages,

    C(b_0) = 0,   C(b_j) = sum_{i < j} T_i                    (T_i: total of group i)
    y(x)   = C_hat(x + 1) - C_hat(x),   x = b_0, ..., b_G - 1,   C_hat = PCHIP through (b_j, C(b_j)).

Because ``C_hat`` passes through every knot, the single-age values of a group add up to the
group total exactly (up to floating-point rounding): the method is *group-preserving*. The
derivative rule of Fritsch & Carlson (1980) keeps the interpolant monotone wherever the knot
data are monotone, so a non-negative schedule (cumulative non-decreasing) graduates to
non-negative single-age values. Signed data (net migration) are treated with the same
interpolant: totals are still preserved at the knots, monotonicity simply no longer applies.

Grouped *rates* (events per person-year, e.g. m(x) over 5-year groups) are turned into group
totals as ``rate * width`` before cumulating, i.e. exposure is taken as uniform within a group;
the single-age result is then again a rate, because every single-age interval has width 1.

References
----------
Fritsch, F. N. & Carlson, R. E. (1980). Monotone piecewise cubic interpolation. *SIAM Journal
on Numerical Analysis* 17(2), 238-246. (scipy.interpolate.PchipInterpolator implements the
Fritsch-Butland (1984) variant of the derivative estimate, which has the same monotonicity
guarantee.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.interpolate import PchipInterpolator

#: Boundaries of the closed WPP mortality groups 0, 1-4, 5-9, ..., 95-99 (the open group 100+
#: is handled separately).
MORTALITY_GROUP_BOUNDARIES: tuple[int, ...] = (0, 1, *range(5, 101, 5))
#: Boundaries of the WPP fertility groups 10-14, ..., 50-54.
FERTILITY_GROUP_BOUNDARIES: tuple[int, ...] = tuple(range(10, 56, 5))
#: Boundaries of the closed WPP migration groups 0-4, ..., 95-99 (open group 100+ separate).
MIGRATION_GROUP_BOUNDARIES: tuple[int, ...] = tuple(range(0, 101, 5))
#: Single ages of the projection: 0..100, where 100 stands for the open group 100+.
OPEN_AGE = 100


def _validated_boundaries(boundaries: Sequence[int] | np.ndarray, n_groups: int) -> np.ndarray:
    edges = np.asarray(boundaries)
    if edges.ndim != 1 or edges.size != n_groups + 1:
        raise ValueError(
            f"boundaries must be a 1-D sequence of length n_groups + 1 = {n_groups + 1}, "
            f"got shape {edges.shape}"
        )
    if not np.all(edges == np.round(edges)):
        raise ValueError(f"boundaries must be whole ages, got {edges.tolist()}")
    edges = edges.astype(int)
    if np.any(np.diff(edges) <= 0):
        raise ValueError(f"boundaries must be strictly increasing, got {edges.tolist()}")
    return edges


def graduate_grouped(group_totals: np.ndarray, boundaries: Sequence[int] | np.ndarray) -> np.ndarray:
    """Split group totals into single years of age, preserving every group total.

    ``y(x) = C_hat(x + 1) - C_hat(x)`` with ``C_hat`` the PCHIP interpolant of the cumulative
    totals ``C(b_j) = sum_{i<j} T_i`` at the boundaries ``b_0 < b_1 < ... < b_G`` (Fritsch &
    Carlson 1980). Then ``sum_{x=b_i}^{b_{i+1}-1} y(x) = T_i`` exactly (to rounding), and
    ``T_i >= 0`` for all ``i`` implies ``y(x) >= 0`` for all ``x``.

    Parameters
    ----------
    group_totals : array, shape (..., G)
        Total of each age group along the last axis (events, persons, or rate x width), any
        unit; leading axes (year, sex, ...) are graduated independently in one call.
    boundaries : sequence of G + 1 increasing whole ages
        Group ``i`` covers ages ``[boundaries[i], boundaries[i+1])``.

    Returns
    -------
    array, shape (..., boundaries[-1] - boundaries[0])
        Value per single year of age ``boundaries[0], ..., boundaries[-1] - 1``, in the unit of
        ``group_totals``.
    """
    totals = np.asarray(group_totals, dtype=float)
    if totals.ndim == 0:
        raise ValueError("group_totals must have at least one axis (the age-group axis, last)")
    edges = _validated_boundaries(boundaries, totals.shape[-1])
    if totals.shape[-1] == 1:  # one group: nothing to interpolate, spread evenly
        width = edges[1] - edges[0]
        return np.repeat(totals / width, width, axis=-1)
    cumulative = np.concatenate(
        [np.zeros(totals.shape[:-1] + (1,)), np.cumsum(totals, axis=-1)], axis=-1
    )
    interpolant = PchipInterpolator(edges, cumulative, axis=-1, extrapolate=False)
    single_age_edges = np.arange(edges[0], edges[-1] + 1)
    cumulative_single = interpolant(single_age_edges)
    # Re-impose the knot values exactly (the interpolant reproduces them up to rounding).
    cumulative_single[..., edges - edges[0]] = cumulative
    return np.diff(cumulative_single, axis=-1)


def graduate_rates(grouped_rates: np.ndarray, boundaries: Sequence[int] | np.ndarray) -> np.ndarray:
    """Graduate grouped rates to single-age rates by the group-preserving PCHIP method.

    Group totals are ``rate_i * width_i`` (uniform exposure within the group); the single-age
    results, each over a width of one year, are rates in the same unit, with
    ``sum_{x in group i} r(x) = width_i * rate_i``.

    Parameters
    ----------
    grouped_rates : array, shape (..., G)
        Average rate per year of age in each group (e.g. deaths per person-year, births per
        woman per year).
    boundaries : sequence of G + 1 increasing whole ages

    Returns
    -------
    array, shape (..., boundaries[-1] - boundaries[0]) : single-age rates.
    """
    rates = np.asarray(grouped_rates, dtype=float)
    edges = _validated_boundaries(boundaries, rates.shape[-1] if rates.ndim else 0)
    return graduate_grouped(rates * np.diff(edges), edges)


def graduate_mortality(grouped_mx: np.ndarray) -> np.ndarray:
    """Single-age central death rates m(x), x = 0..100, from the WPP abridged schedule.

    Groups 0, 1-4, 5-9, ..., 95-99 are graduated with :func:`graduate_rates` (cumulative
    ``m * width`` through PCHIP, Fritsch & Carlson 1980). Old-age extension: the open group
    100+ keeps its own rate, ``m(100) = m(100+)``, which is what a single-age projection with
    an open group 100+ needs (no extrapolation beyond 100 is made).

    Parameters
    ----------
    grouped_mx : array, shape (..., 22)
        Deaths per person-year for groups 0, 1-4, 5-9, ..., 95-99, 100+ along the last axis.

    Returns
    -------
    array, shape (..., 101) : m(x) in deaths per person-year, ages 0..100 (100 = 100+).
    """
    mx = np.asarray(grouped_mx, dtype=float)
    n_closed = len(MORTALITY_GROUP_BOUNDARIES) - 1
    if mx.ndim == 0 or mx.shape[-1] != n_closed + 1:
        raise ValueError(f"grouped_mx needs {n_closed + 1} age groups on its last axis, got {mx.shape}")
    single = graduate_rates(mx[..., :n_closed], MORTALITY_GROUP_BOUNDARIES)
    return np.concatenate([single, mx[..., n_closed:]], axis=-1)


def graduate_fertility(grouped_asfr: np.ndarray) -> np.ndarray:
    """Single-age fertility rates f(x), x = 10..54, from the 5-year WPP schedule.

    ``sum_{x=10}^{54} f(x) = 5 * sum_i ASFR5_i = TFR`` exactly, by group preservation.

    Parameters
    ----------
    grouped_asfr : array, shape (..., 9)
        Births per woman per year for mothers aged 10-14, ..., 50-54 (the group average rate).

    Returns
    -------
    array, shape (..., 45) : births per woman per year at single ages 10..54.
    """
    asfr = np.asarray(grouped_asfr, dtype=float)
    n_groups = len(FERTILITY_GROUP_BOUNDARIES) - 1
    if asfr.ndim == 0 or asfr.shape[-1] != n_groups:
        raise ValueError(f"grouped_asfr needs {n_groups} age groups on its last axis, got {asfr.shape}")
    return graduate_rates(asfr, FERTILITY_GROUP_BOUNDARIES)


def graduate_migration(grouped_net_migrants: np.ndarray) -> np.ndarray:
    """Single-age net migrants, ages 0..100, from 5-year group totals (signed counts).

    Groups 0-4, ..., 95-99 are split with :func:`graduate_grouped` (cumulative PCHIP; totals
    preserved at the knots, sign changes allowed); the open group 100+ goes to age 100 as is.

    Parameters
    ----------
    grouped_net_migrants : array, shape (..., 21)
        Net migrants (any count unit) in groups 0-4, ..., 95-99, 100+ along the last axis.

    Returns
    -------
    array, shape (..., 101) : net migrants per single year of age 0..100, same unit.
    """
    counts = np.asarray(grouped_net_migrants, dtype=float)
    n_closed = len(MIGRATION_GROUP_BOUNDARIES) - 1
    if counts.ndim == 0 or counts.shape[-1] != n_closed + 1:
        raise ValueError(
            f"grouped_net_migrants needs {n_closed + 1} age groups on its last axis, "
            f"got {counts.shape}"
        )
    single = graduate_grouped(counts[..., :n_closed], MIGRATION_GROUP_BOUNDARIES)
    return np.concatenate([single, counts[..., n_closed:]], axis=-1)
