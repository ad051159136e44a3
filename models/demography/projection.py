"""Single-age, two-sex cohort-component projection.

Conventions (one calendar year, Lexis parallelogram):

* ``P[t, x, s]`` is the population on 1 January of year ``t`` aged ``x`` completed years
  (``x = 0..100``, 100 = 100+), sex ``s``.
* Survival over the year of persons aged ``x`` on 1 January: ``s(x, t) = exp(-m(x, t))``,
  the constant-hazard survival with the central death rate of their age (Preston, Heuveline &
  Guillot 2001, *Demography*, ch. 3). The open group 100+ keeps its own rate.
* Births of year ``t`` alive on 1 January ``t+1`` (then aged 0): ``B(t) exp(-m(0, t) / 2)``:
  births spread evenly over the year are exposed on average half a year.
"""

from __future__ import annotations

import numpy as np

NEWBORN_EXPOSURE_YEARS = 0.5


def one_year_survival(mx: np.ndarray) -> np.ndarray:
    """Probability of surviving one calendar year, ``s = exp(-m)``.

    Parameters
    ----------
    mx : array of central death rates (deaths per person-year), any shape.
    """
    return np.exp(-np.asarray(mx, dtype=float))


def newborn_survival(m0: np.ndarray) -> np.ndarray:
    """Share of the year's births alive on the next 1 January, ``exp(-m0 / 2)``."""
    return np.exp(-NEWBORN_EXPOSURE_YEARS * np.asarray(m0, dtype=float))
