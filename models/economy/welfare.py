r"""Consumption-equivalent variation (CEV) of a reform, by birth cohort and household type.

For a cohort of a given kind, ``V`` is its expected discounted lifetime utility from the base
year (cohorts alive then) or from ``first_age`` (later cohorts), as stored by
:func:`models.economy.solve_transition` (``lifetime_utility``). The CEV ``λ`` is the
proportional change in consumption, in every remaining year of the baseline life, that makes
the household as well off as under the reform:

* CRRA ``σ ≠ 1``: ``V(c (1 + λ)) = (1 + λ)^{1−σ} V(c)``, so
  ``λ = (V_reform / V_base)^{1/(1−σ)} − 1``;
* ``σ = 1`` (log): ``λ = exp((V_reform − V_base) / Σ β^a Π s) − 1``.

Survival is the same under both policies (one demographic path), so the comparison is exact.

**Leisure** (elastic labour, issue 14). ``V = C + L`` with ``C`` the lifetime utility of
consumption and ``L`` the (negative) disutility of hours and participation, plus the taste
shocks' option value, all held at the baseline's hours and retirement: scaling consumption by
``1 + λ`` gives ``(1 + λ)^{1−σ} C_base + L_base = V_reform``, so
``λ = ((V_reform − L_base) / C_base)^{1/(1−σ)} − 1`` (``σ = 1``: as above, the scaling adds
``log(1 + λ) Σ β^a Π s`` whatever ``L``). A reform that makes people work more or longer
lowers ``V_reform`` through ``L`` and so the CEV. With no disutility of work ``L = 0`` and it
is the formula above. Exact with one retirement option (the choice off); with the choice on
the baseline's option value is held too (:func:`welfare_cev_with_leisure` re-makes the
choice).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from models.economy import core

__all__ = ["welfare_cev", "welfare_cev_with_leisure"]


def welfare_cev(base: xr.Dataset, reform: xr.Dataset) -> xr.DataArray:
    """CEV of ``reform`` relative to ``base``, ``[birth_year, group, category]``.

    Both arguments are :func:`models.economy.solve_transition` results on the same demography,
    horizon and preferences. Positive: the reform is better for that cohort and type. When
    ``base`` holds ``consumption_utility`` (an elastic economy's welfare,
    :func:`models.coupling.with_leisure_welfare`) the CEV nets leisure (module docstring).
    """
    for key in ("crra", "base_year", "horizon"):
        if base.attrs.get(key) != reform.attrs.get(key):
            raise ValueError(f"the two transitions differ in {key}: "
                             f"{base.attrs.get(key)} vs {reform.attrs.get(key)}")
    if not np.array_equal(base["birth_year"].values, reform["birth_year"].values):
        raise ValueError("the two transitions have different cohorts (birth_year)")
    sigma = float(base.attrs["crra"])
    v0, v1 = base["lifetime_utility"], reform["lifetime_utility"]
    if abs(sigma - 1.0) < 1e-12:
        cev = np.exp((v1 - v0) / base["discounted_survival"]) - 1.0
    elif "consumption_utility" in base:  # nets leisure: (V1 - L0) / C0, L0 = V0 - C0
        c0 = base["consumption_utility"]
        cev = ((v1 - (v0 - c0)) / c0) ** (1.0 / (1.0 - sigma)) - 1.0
    else:
        cev = (v1 / v0) ** (1.0 / (1.0 - sigma)) - 1.0
    cev = cev.rename("welfare_cev")
    cev.attrs.update(units="fraction of consumption in every remaining year",
                     long_name="consumption-equivalent variation of the reform (remaining "
                               "lifetime from the base year or first_age)")
    return cev


def welfare_cev_with_leisure(base: xr.Dataset, reform: xr.Dataset, crra: float,
                             iterations: int = 200) -> xr.DataArray:
    r"""CEV that nets leisure, ``[birth_year, group, category]``, from two
    :func:`models.economy.choices.cohort_choices` results (same cohorts and taste scale).

    The base's consumption in every remaining year of every retirement option is scaled by
    ``1 + λ`` (hours and the plan given each option held, the choice re-made): option values
    become ``(1+λ)^{1−σ} C_o + L_o`` (``C_o`` consumption utility, ``L_o = V_o − C_o`` the
    disutility of work) and ``λ`` solves
    ``s log Σ_o exp(((1+λ)^{1−σ} C_o + L_o)/s) = EV_reform`` (bisection; the left side rises
    with ``λ``). With no disutility of work and one option it is :func:`welfare_cev`.
    Requires ``σ ≠ 1``.
    """
    if abs(crra - 1.0) < 1e-12:
        raise ValueError("welfare_cev_with_leisure needs crra != 1")
    if not np.array_equal(base["birth_year"].values, reform["birth_year"].values):
        raise ValueError("the two results have different cohorts (birth_year)")
    valid = base["valid"].values
    cons = np.where(valid, base["option_consumption_utility"].values, 0.0)
    leisure = np.where(valid, base["option_value"].values - cons, 0.0)
    ev = base["expected_value"].values
    scale = np.broadcast_to(base["taste_scale"].values[:, None, None], ev.shape)
    target = reform["expected_value"].values
    lo = np.full(ev.shape, -0.99)
    hi = np.full(ev.shape, 20.0)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        val = core.expected_value(cons * (1.0 + mid[..., None]) ** (1.0 - crra) + leisure,
                                  scale, valid)
        below = val < target
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    cev = xr.DataArray(0.5 * (lo + hi), dims=base["expected_value"].dims,
                       coords=base["expected_value"].coords, name="welfare_cev_leisure")
    cev.attrs.update(units="fraction of consumption in every remaining year",
                     long_name="consumption-equivalent variation net of leisure (hours and "
                               "retirement choice)")
    return cev
