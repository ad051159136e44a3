"""One return rule for the employee fund and the national reserve (NSSF), tied to the economy's
real interest rate.

Rule (proportional): each fund earns a constant share of the economy's real rate ``r(t)``,
calibrated in the base year to its own calibrated real return::

    r_fund(t) = (r_fund⁰ / r(base)) · r(t),      r_NSSF(t) = (r_NSSF⁰ / r(base)) · r(t)

with ``r_fund⁰ = finances.fund.real_return`` (2 %: deposits and treasury bonds) and
``r_NSSF⁰ = finances.reserve.real_return`` (4 %). The shares (the calibrated "spread" as a
ratio) say how much of the return to capital each portfolio earns. A constant *difference*
(today's ``r(t) − 5.07`` points) cannot be calibrated the same way: when the economy's rate
falls by more than the difference the fund's real return turns negative (−2.75 % in 2050,
−4.85 % in 2075 on today's main), which no deposit-and-bond portfolio earns for decades. The
proportional rule keeps the sign of ``r`` and the ordering NSSF > fund.

Where a return falls outside ``[finances.returns.warn_below, warn_above]`` the rule warns
(:class:`ImplausibleReturnWarning`) and flags the year (``implausible_return``); it does not
clip, so the numbers stay what the rule says.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from models.config import FinancesCalibration

__all__ = ["ImplausibleReturnWarning", "fund_returns"]


class ImplausibleReturnWarning(RuntimeWarning):
    """A fund's real return outside the calibration's plausible bounds."""


def fund_returns(economy_rate: xr.DataArray, finances: FinancesCalibration,
                 base_year: int) -> xr.Dataset:
    """``fund_return`` and ``reserve_return`` ``[..., year]`` (real, per year) from the economy's
    real interest rate ``economy_rate[..., year]`` by the proportional rule (module docstring).

    Raises ValueError if the economy's base-year rate is not positive (no share can be
    calibrated); warns with :class:`ImplausibleReturnWarning` where a return leaves the bounds.
    """
    r0 = economy_rate.sel(year=base_year)
    if bool((r0 <= 0).any()):
        raise ValueError(f"the economy's real rate in {base_year} is {r0.values}: the fund "
                         f"return rule needs a positive base-year rate")
    fund_share = finances.fund.real_return.value / r0
    reserve_share = finances.reserve.real_return.value / r0
    fund = (fund_share * economy_rate).assign_attrs(
        units="1 per year", long_name="real return on the employee fund (share of the "
                                      "economy's rate)")
    reserve = (reserve_share * economy_rate).assign_attrs(
        units="1 per year", long_name="real return on NSSF assets (share of the economy's rate)")
    bounds = finances.returns
    lo, hi = bounds.warn_below.value, bounds.warn_above.value
    bad = ((fund < lo) | (fund > hi) | (reserve < lo) | (reserve > hi))
    if bool(bad.any()):
        years = np.unique(bad["year"].values[np.asarray(bad.any([d for d in bad.dims
                                                                  if d != "year"]))])
        warnings.warn(
            f"fund return rule: real returns outside [{lo:.2%}, {hi:.2%}] in {len(years)} "
            f"year(s) from {years[0]} (fund {float(fund.min()):.2%}..{float(fund.max()):.2%}, "
            f"NSSF {float(reserve.min()):.2%}..{float(reserve.max()):.2%})",
            ImplausibleReturnWarning, stacklevel=2)
    return xr.Dataset({
        "fund_return": fund,
        "reserve_return": reserve,
        "implausible_return": bad.assign_attrs(units="1", long_name="a return outside the "
                                                                    "plausible bounds"),
        "fund_return_share": xr.DataArray(fund_share).assign_attrs(
            units="1", long_name="fund return / economy's rate (calibrated in the base year)"),
        "reserve_return_share": xr.DataArray(reserve_share).assign_attrs(
            units="1", long_name="NSSF return / economy's rate (calibrated in the base year)"),
    })
