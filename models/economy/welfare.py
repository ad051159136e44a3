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
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["welfare_cev"]


def welfare_cev(base: xr.Dataset, reform: xr.Dataset) -> xr.DataArray:
    """CEV of ``reform`` relative to ``base``, ``[birth_year, group, category]``.

    Both arguments are :func:`models.economy.solve_transition` results on the same demography,
    horizon and preferences. Positive: the reform is better for that cohort and type.
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
    else:
        cev = (v1 / v0) ** (1.0 / (1.0 - sigma)) - 1.0
    cev = cev.rename("welfare_cev")
    cev.attrs.update(units="fraction of consumption in every remaining year",
                     long_name="consumption-equivalent variation of the reform (remaining "
                               "lifetime from the base year or first_age)")
    return cev
