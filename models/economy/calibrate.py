"""Calibration of the economy to the base year, and the model-versus-target table.

Method: the economy on 1 January of the base year is taken to be on the life cycles of an
*initial steady state* (base-year survival, the calibrated population growth of the
preceding decades, base-year technology growth, the base-year policy with the historical
indexation of pensions); applied to the actual base-year population this gives the capital
stock, and with the base-year labour supply the capital-output ratio ``K/Y = κ^{1−α}/Z``. The
discount factor ``β`` is solved (Brent) so that it equals the target; the level of the
pensions in force is scaled to the reported pension spending / GDP. Money: model units are
converted to yuan so that base-year output equals reported GDP (the model is homogeneous of
degree one in money). Every other parameter comes from ``economy.toml`` / ``pension.toml``
with its source; the remaining base-year figures (interest rate, household saving rate,
replacement rate, the scheme's head counts and average wage) are printed beside the model,
not fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.optimize import brentq
from tabulate import tabulate

from models.economy import core
from models.economy.parameters import EconomyCalibration, EconomyParameters
from models.economy.policy import Policy
from models.economy.steady_state import SteadyState, demography_steady_state, solve_steady_state
from models.economy.transition import InitialState, initial_state, population_by_kind

__all__ = ["BaseYearEconomy", "initial_steady_state", "base_year_economy", "calibrate_economy",
           "base_year_fit", "fit_table"]


@dataclass(frozen=True)
class BaseYearEconomy:
    """The initial steady state, the initial state and base-year aggregates (model units)."""

    steady_state: SteadyState
    initial: InitialState
    capital: float
    labour: float
    output: float
    interest_rate: float
    pension_benefits: float  # pensions in force x retired shares, base-year population

    @property
    def capital_output_ratio(self) -> float:
        return self.capital / self.output


def initial_steady_state(params: EconomyParameters, policy: Policy, population: xr.DataArray,
                         mortality: xr.DataArray, base_year: int,
                         guess: tuple[float, float] | None = None) -> SteadyState:
    """The steady state the base-year economy is taken to be on: base-year survival, the
    calibrated population growth before the base year, base-year technology growth, the
    base-year policy with the historical indexation of pensions in payment."""
    demo = demography_steady_state(population, mortality, base_year, params,
                                   population_growth=params.initial_population_growth)
    hist = policy.replace(indexation_wage_share=params.initial_indexation_wage_share)
    return solve_steady_state(params, demo, hist, year=base_year, base_year=base_year,
                              guess=guess)


def base_year_economy(params: EconomyParameters, policy: Policy, population: xr.DataArray,
                      mortality: xr.DataArray, base_year: int,
                      steady_state: SteadyState | None = None) -> BaseYearEconomy:
    """Initial state (pensions in force scaled by ``params.legacy_pension_factor``) and the
    base-year capital, labour and output it implies."""
    ss = steady_state or initial_steady_state(params, policy, population, mortality, base_year)
    pop0 = population.sel(year=base_year)
    init = initial_state(ss, pop0, base_year, pension_factor=params.legacy_pension_factor)
    ages = np.arange(params.first_age, params.last_age + 1)
    pop = pop0.sel(age=ages).transpose("age", "sex").values
    n_k = population_by_kind(params, pop[None], np.array([base_year]))[0]  # [K, J]
    entry = base_year - np.arange(params.n_ages)  # cohort aged first_age + i in the base year
    cp = core.cohort_policy(params, policy, entry)
    diag = np.arange(params.n_ages)
    work = cp.work[diag, :, diag].T  # [K, J]
    retired = cp.retired[diag, :, diag].T
    labour = float((n_k * work * core.efficiency_by_kind(params)).sum())
    capital = float((n_k * init.assets).sum() + init.estate_per_capita * n_k.sum()
                    + init.fund_balance)
    if params.closure == "closed":
        kappa = capital / labour
        r, _ = core.firm_prices(params, kappa)
    else:
        r = params.world_interest_rate
        kappa = float(core.kappa_from_rate(params, r))
    output = params.tfp * kappa ** params.capital_share * labour
    benefits = float((n_k * retired * init.pension).sum())
    return BaseYearEconomy(ss, init, capital, labour, float(output), float(r), benefits)


def calibrate_economy(params: EconomyParameters, economy: EconomyCalibration, policy: Policy,
                      population: xr.DataArray, mortality: xr.DataArray,
                      bracket: tuple[float, float] = (0.85, 1.25)) -> EconomyParameters:
    """Calibrate to the base year (``economy.targets``); returns the calibrated parameters.

    * ``discount_factor``: Brent's method so the base-year capital-output ratio is the target;
    * ``legacy_pension_factor``: the pensions in force in the base year (the steady state's
      profile) are scaled so base-year pension spending / GDP is the target (they reflect
      history -- transitional pensions for pre-1997 service, past indexation -- that a steady
      state cannot);
    * ``yuan_per_unit``: base-year output equals reported GDP.
    """
    tg = economy.targets
    base = tg.year.value
    target = tg.capital_output_ratio.value
    spending = tg.pension_spending_gdp.value
    warm: dict = {}

    def at(beta: float) -> tuple[EconomyParameters, BaseYearEconomy]:
        p = params.replace(discount_factor=beta, legacy_pension_factor=1.0)
        ss = initial_steady_state(p, policy, population, mortality, base, warm.get("guess"))
        warm["guess"] = (ss.kappa, ss.bequest_ratio)
        b = base_year_economy(p, policy, population, mortality, base, ss)
        factor = 1.0
        for _ in range(6):  # the fund (and so capital) scales with the pensions in force
            factor = spending * b.output / (b.pension_benefits / factor)
            p = p.replace(legacy_pension_factor=factor)
            b = base_year_economy(p, policy, population, mortality, base, ss)
        return p, b

    lo, hi = bracket
    try:
        f_lo = at(lo)[1].capital_output_ratio - target
        warm.clear()
        f_hi = at(hi)[1].capital_output_ratio - target
    except Exception as exc:  # noqa: BLE001 - report the failing bracket end
        raise ValueError(f"economy calibration: the steady state fails at the discount-factor "
                         f"bracket {bracket}: {exc}") from exc
    if f_lo * f_hi > 0:
        raise ValueError(
            f"economy.toml: key 'targets.capital_output_ratio.value' = {target}: no discount "
            f"factor in {bracket} reaches it (capital-output ratio {f_lo + target:.3f} .. "
            f"{f_hi + target:.3f})")
    beta = brentq(lambda x: at(x)[1].capital_output_ratio - target, lo, hi, xtol=1e-12,
                  rtol=1e-12)
    calibrated, b = at(beta)
    return calibrated.replace(yuan_per_unit=tg.gdp_cny.value / b.output)


def base_year_fit(transition: xr.Dataset, economy: EconomyCalibration,
                  average_wage_cny: float | None = None, insured_workers: float | None = None,
                  retirees: float | None = None, prefix: str = "") -> xr.Dataset:
    """Model (first year of a solved transition) beside the base-year targets.

    Returns ``fit_model[target]``, ``fit_target[target]`` with ``fit_unit``, ``fit_source`` and
    ``fit_calibrated`` coordinates (every name preceded by ``prefix``, e.g. ``"economy_"``
    to store it beside other fits). Optional checks: the scheme's average wage, insured
    workers and retirees (from pension.toml / finances.toml).
    """
    tg = economy.targets
    first = transition.isel(year=0)
    rows = [
        ("capital_output_ratio", float(first["capital_output_ratio"]), tg.capital_output_ratio,
         True),
        ("interest_rate", float(first["interest_rate"]), tg.interest_rate, False),
        ("household_saving_rate", float(first["household_saving_rate"]),
         tg.household_saving_rate, False),
        ("pension_spending_gdp", float(first["pension_spending_gdp"]), tg.pension_spending_gdp,
         True),
        ("replacement_rate", float(first["replacement_rate"]), tg.replacement_rate, False),
        ("gdp_cny", float(first["output_cny"]), tg.gdp_cny, True),
    ]
    values = [(r[0], r[1], r[2].value, r[2].unit, r[2].source, r[3]) for r in rows]
    extra = [("average_wage_cny", "average_wage_cny", average_wage_cny,
              "yuan per year (base year)", "finances.toml wages.average_wage_cny"),
             ("insured_workers", "covered_workers", insured_workers, "persons",
              "pension.toml targets.insured_workers"),
             ("retirees", "employee_pensioners", retirees, "persons",
              "pension.toml targets.retirees")]
    for name, var, value, unit, source in extra:
        if value is not None:
            values.append((name, float(first[var]), float(value), unit, source, False))
    target = f"{prefix}target"
    return xr.Dataset(
        {
            f"{prefix}fit_model": (target, [v[1] for v in values],
                                   {"long_name": "model value in the base year"}),
            f"{prefix}fit_target": (target, [v[2] for v in values],
                                    {"long_name": "reported or target value in the base year"}),
        },
        coords={
            target: [v[0] for v in values],
            f"{prefix}fit_unit": (target, [v[3] for v in values]),
            f"{prefix}fit_source": (target, [v[4] for v in values]),
            f"{prefix}fit_calibrated": (target, [v[5] for v in values]),
        },
    )


def fit_table(fit: xr.Dataset, prefix: str = "") -> str:
    """The base-year fit as a plain-text table (for the CLI's report)."""
    rows = []
    for t in fit[f"{prefix}target"].values:
        row = fit.sel({f"{prefix}target": t})
        rows.append([str(t), f"{float(row[f'{prefix}fit_model']):.4g}",
                     f"{float(row[f'{prefix}fit_target']):.4g}",
                     "fitted" if bool(row[f"{prefix}fit_calibrated"]) else "check",
                     str(row[f"{prefix}fit_unit"].values)])
    return tabulate(rows, headers=["base year", "model", "target", "", "unit"])
