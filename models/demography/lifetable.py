"""Period life table by single year of age with an open last age group.

Input: central death rates m(x) (deaths per person-year) at single ages x = 0..w, the last
one the open group w+ (w = 100 in this project). The standard conversion of Preston,
Heuveline & Guillot (2001, *Demography: Measuring and Modeling Population Processes*,
Blackwell, ch. 3) is used:

    q(x) = m(x) / (1 + (1 - a(x)) m(x))           probability of dying in [x, x+1)
    l(0) = 1,  l(x+1) = l(x) (1 - q(x))             survivors to exact age x (radix 1)
    d(x) = l(x) q(x)
    L(x) = l(x+1) + a(x) d(x) = d(x) / m(x)        person-years lived in [x, x+1)
    L(w) = l(w) / m(w)                              open group: everyone dies, L = l / m
    T(x) = sum_{y >= x} L(y),   e(x) = T(x) / l(x)  remaining life expectancy, years

with a(x) = 0.5 at ages x >= 1 (deaths spread evenly) and the infant separation factor a(0)
from the Coale-Demeny regression on m(0) reported in Preston et al. (2001, Table 3.3):

    males:   a(0) = 0.045 + 2.684 m(0)  if m(0) < 0.107,  else 0.330
    females: a(0) = 0.053 + 2.800 m(0)  if m(0) < 0.107,  else 0.350

With a = 0.5 throughout and a constant rate m the table gives e(0) = 1/m exactly (the
geometric survivorship and the open-group L = l/m add up to the constant-hazard value).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: Coale-Demeny a(0) coefficients (Preston et al. 2001, Table 3.3), for m(0) below the threshold:
#: a(0) = intercept + slope * m(0); at or above it a(0) = high_mortality_value.
COALE_DEMENY_A0: dict[str, tuple[float, float, float]] = {
    "male": (0.045, 2.684, 0.330),
    "female": (0.053, 2.800, 0.350),
}
COALE_DEMENY_M0_THRESHOLD = 0.107


class LifeTable(NamedTuple):
    """Single-age period life table; every array has the age axis last (ages 0..w)."""

    qx: np.ndarray  #: probability of dying between exact ages x and x+1 (1 in the open group)
    lx: np.ndarray  #: survivors to exact age x, radix l(0) = 1
    dx: np.ndarray  #: deaths between exact ages x and x+1, per unit radix
    Lx: np.ndarray  #: person-years lived between exact ages x and x+1, per unit radix
    Tx: np.ndarray  #: person-years lived above exact age x, per unit radix
    ex: np.ndarray  #: remaining life expectancy at exact age x, years


def infant_separation_factor(m0: np.ndarray, sex: str) -> np.ndarray:
    """Coale-Demeny a(0): mean fraction of the first year lived by infants who die.

    ``a(0) = alpha + beta m(0)`` for ``m(0) < 0.107``, else a constant (Preston, Heuveline &
    Guillot 2001, Table 3.3; coefficients in :data:`COALE_DEMENY_A0`).

    Parameters
    ----------
    m0 : array of infant central death rates (deaths per person-year), any shape.
    sex : "female" or "male".
    """
    try:
        intercept, slope, high_value = COALE_DEMENY_A0[sex]
    except KeyError:
        raise ValueError(f"sex must be one of {sorted(COALE_DEMENY_A0)}, got {sex!r}") from None
    m0 = np.asarray(m0, dtype=float)
    return np.where(m0 < COALE_DEMENY_M0_THRESHOLD, intercept + slope * m0, high_value)


def life_table(mx: np.ndarray, a0: np.ndarray | float, axis: int = -1) -> LifeTable:
    """Period life table from single-age central death rates, last age open.

    Equations in the module docstring (Preston, Heuveline & Guillot 2001, ch. 3).

    Parameters
    ----------
    mx : array, ages 0..w along ``axis`` (w = open group), deaths per person-year, > 0 in
        the open group. Other axes (year, sex, path, ...) are independent tables.
    a0 : infant separation factor a(0), a scalar or an array broadcastable to ``mx`` with the
        age axis removed (see :func:`infant_separation_factor`). a(x) = 0.5 at ages >= 1.
    axis : the age axis of ``mx``.

    Returns
    -------
    LifeTable with every column shaped like ``mx`` but with the age axis *last*.
    """
    m = np.moveaxis(np.asarray(mx, dtype=float), axis, -1)
    if m.shape[-1] < 2:
        raise ValueError("mx needs at least two ages (one closed age and the open group)")
    if np.any(m < 0) or np.any(~np.isfinite(m)):
        raise ValueError("mx must be finite and non-negative")
    if np.any(m[..., -1] <= 0):
        raise ValueError("the open-group death rate must be positive (L = l / m)")
    ax = np.full(m.shape, 0.5)
    ax[..., 0] = np.broadcast_to(np.asarray(a0, dtype=float), m.shape[:-1])
    qx = np.minimum(m / (1.0 + (1.0 - ax) * m), 1.0)
    qx[..., -1] = 1.0
    survival = np.cumprod(1.0 - qx[..., :-1], axis=-1)
    lx = np.concatenate([np.ones(m.shape[:-1] + (1,)), survival], axis=-1)
    dx = lx * qx
    Lx = np.empty_like(m)
    Lx[..., :-1] = lx[..., 1:] + ax[..., :-1] * dx[..., :-1]
    Lx[..., -1] = lx[..., -1] / m[..., -1]
    Tx = np.cumsum(Lx[..., ::-1], axis=-1)[..., ::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ex = np.where(lx > 0, Tx / lx, 0.0)
    return LifeTable(qx=qx, lx=lx, dx=dx, Lx=Lx, Tx=Tx, ex=ex)


def life_expectancy(mx: np.ndarray, sex: str, axis: int = -1) -> np.ndarray:
    """Life expectancy at birth e(0) in years, from single-age m(x) with the last age open.

    ``e(0) = sum_x L(x)`` (radix 1) of :func:`life_table`, with the sex-specific Coale-Demeny
    a(0) (Preston, Heuveline & Guillot 2001).

    Parameters
    ----------
    mx : array with ages 0..w along ``axis`` (deaths per person-year); other axes broadcast.
    sex : "female" or "male" (selects the a(0) coefficients).
    axis : the age axis.

    Returns
    -------
    array shaped like ``mx`` without the age axis : e(0), years.
    """
    m = np.moveaxis(np.asarray(mx, dtype=float), axis, -1)
    return life_table(m, infant_separation_factor(m[..., 0], sex)).ex[..., 0]


def life_expectancy_by_age(mx: np.ndarray, sex: str, axis: int = -1) -> np.ndarray:
    """Remaining life expectancy e(x) in years at every age, age axis returned last.

    Same table as :func:`life_expectancy` (Preston, Heuveline & Guillot 2001, ch. 3).
    """
    m = np.moveaxis(np.asarray(mx, dtype=float), axis, -1)
    return life_table(m, infant_separation_factor(m[..., 0], sex)).ex
