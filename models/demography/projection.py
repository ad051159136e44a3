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


def project_cohort_component(
    base_population: np.ndarray,
    mx: np.ndarray,
    asfr: np.ndarray,
    first_fertility_age: int,
    sex_ratio_at_birth: np.ndarray,
    net_migration: np.ndarray,
) -> dict[str, np.ndarray]:
    """Project a single-age, two-sex population one calendar year at a time.

    Long because the docstring states the whole method; the code is one year loop of about
    45 lines whose steps (births, survivors, migrants, deaths) share the year's arrays.

    For each year ``t`` (sex index 0 = female, 1 = male; ages 0..A-1, the last open):

    * births ``B(t) = sum_x f̄(x,t) W(x,t) (1 + s_f(x,t)) / 2`` where ``W`` are women aged ``x``
      on 1 January, ``(1 + s)/2`` their person-years lived in the year, and
      ``f̄(x) = (f(x) + f(x+1)) / 2`` because women aged ``x`` on 1 January spend half the year,
      on average, at each of ages ``x`` and ``x+1``;
    * ``B_m = B · SRB / (1 + SRB)``, ``B_f = B / (1 + SRB)``;
    * ``P(0, t+1) = B(t) s_0(t)``, ``P(x+1, t+1) = P(x, t) s(x, t) + M(x, t)`` and the open group
      ``P(A-1, t+1) = P(A-2, t) s(A-2, t) + P(A-1, t) s(A-1, t) + M(A-2, t) + M(A-1, t)``,
      with net migrants ``M`` clipped so that no cell becomes negative;
    * deaths ``D(t) = sum_x P(x, t) (1 - s(x, t)) + B(t) (1 - s_0(t))``,

    so that ``sum P(t+1) = sum P(t) + B(t) - D(t) + M_applied(t)`` holds exactly.

    Parameters (leading dimensions ``...``, e.g. Monte Carlo paths, broadcast together)
    ----------
    base_population : (..., A, 2) persons on 1 January of the first year.
    mx : (..., T, A, 2) central death rates per person-year.
    asfr : (..., T, F) births per woman per year at single ages
        ``first_fertility_age .. first_fertility_age + F - 1``.
    sex_ratio_at_birth : (..., T) male births per female birth.
    net_migration : (..., T, A, 2) net migrants in the year by age on 1 January (persons).

    Returns
    -------
    dict with ``population`` (..., T+1, A, 2) stocks on 1 January of each year and the next,
    ``births`` (..., T, 2), ``deaths`` (..., T, 2) and ``net_migration`` (..., T, 2) applied.
    """
    mx = np.asarray(mx, dtype=float)
    lead = np.broadcast_shapes(np.shape(base_population)[:-2], mx.shape[:-3],
                               np.shape(asfr)[:-2], np.shape(sex_ratio_at_birth)[:-1],
                               np.shape(net_migration)[:-3])
    n_years, n_ages = mx.shape[-3], mx.shape[-2]
    n_fert = np.shape(asfr)[-1]
    pop = np.empty(lead + (n_years + 1, n_ages, 2))
    births = np.empty(lead + (n_years, 2))
    deaths = np.empty(lead + (n_years, 2))
    migration = np.empty(lead + (n_years, 2))
    pop[..., 0, :, :] = np.broadcast_to(base_population, lead + (n_ages, 2))
    mx = np.broadcast_to(mx, lead + mx.shape[-3:])
    asfr = np.broadcast_to(asfr, lead + np.shape(asfr)[-2:])
    srb = np.broadcast_to(sex_ratio_at_birth, lead + (n_years,))
    mig = np.broadcast_to(net_migration, lead + np.shape(net_migration)[-3:])
    lo = first_fertility_age
    for t in range(n_years):
        current = pop[..., t, :, :]
        survival = one_year_survival(mx[..., t, :, :])
        # f̄(x) for women aged x = lo-1 .. lo+F-1 on 1 January
        f = asfr[..., t, :]
        f_pad = np.concatenate([np.zeros(lead + (1,)), f, np.zeros(lead + (1,))], axis=-1)
        f_bar = 0.5 * (f_pad[..., :-1] + f_pad[..., 1:])
        ages = slice(lo - 1, lo + n_fert)
        women = current[..., ages, 0] * 0.5 * (1.0 + survival[..., ages, 0])
        total_births = np.sum(f_bar * women, axis=-1)
        male_share = srb[..., t] / (1.0 + srb[..., t])
        b = np.stack([total_births * (1.0 - male_share), total_births * male_share], axis=-1)
        s0 = newborn_survival(mx[..., t, 0, :])
        survivors = current * survival
        nxt = np.empty_like(current)
        nxt[..., 0, :] = b * s0
        nxt[..., 1:, :] = survivors[..., :-1, :]
        nxt[..., -1, :] += survivors[..., -1, :]
        m = np.empty_like(current)
        m[..., 0, :] = 0.0
        m[..., 1:, :] = mig[..., t, :-1, :]
        m[..., -1, :] += mig[..., t, -1, :]
        m = np.maximum(m, -nxt)
        pop[..., t + 1, :, :] = nxt + m
        births[..., t, :] = b
        deaths[..., t, :] = np.sum(current - survivors, axis=-2) + b * (1.0 - s0)
        migration[..., t, :] = np.sum(m, axis=-2)
    return {"population": pop, "births": births, "deaths": deaths, "net_migration": migration}
