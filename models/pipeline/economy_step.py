"""The economy step of an experiment: the OLG transition under each retirement regime, the
welfare change between regimes, and the pension accounts re-run with the model's prices."""

from __future__ import annotations

from dataclasses import dataclass

import xarray as xr

from models.config import Calibration, Experiment
from models.economy import (
    Policy,
    base_year_economy,
    base_year_fit,
    calibrate_economy,
    economy_parameters,
    solve_transition,
    welfare_cev,
    with_residents_reform,
)
from models.pension import (
    calibrate_base_year,
    fund_milestones,
    project_accounts,
    retirement_schedule,
)
from models.pension.accounts import BaseYearFit

#: Transition variables kept in results.nc (with an ``economy_`` prefix), over the projection
#: years.
KEEP = ("output_cny", "capital_cny", "wage_cny", "average_wage_cny", "interest_rate",
        "consumption_cny", "investment_cny", "income_tax_rate", "capital_output_ratio",
        "household_saving_rate", "pension_spending_gdp", "replacement_rate",
        "goods_market_residual_cny", "asset_market_residual", "fiscal_subsidy_cny",
        "pension_benefits_cny", "pension_contributions_cny", "residents_pensions_cny")
#: Welfare variables of a transition kept in results.nc (``economy_`` prefix, by regime; and
#: ``opt_economy_`` under an optimal policy), with the attributes :func:`welfare_cev` checks.
WELFARE_KEEP = ("lifetime_utility", "discounted_survival")
WELFARE_ATTRS = ("crra", "base_year", "horizon")


def model_prices(transition: xr.Dataset, years, cal: Calibration) -> tuple[xr.DataArray,
                                                                             xr.DataArray]:
    """The accounts' wage index and fund return from an economy transition.

    ``wage_index = w̄(t) / w̄(base)`` (the model's average covered wage); the fund earns the
    model's interest rate less the base-year spread between it and the calibrated fund return
    (the fund holds deposits and bonds, not capital): ``r_fund(t) = r(t) − (r(base) − r_cal)``.
    """
    wage = transition["average_wage_cny"].sel(year=years)
    rate = transition["interest_rate"].sel(year=years)
    spread = rate.isel(year=0, drop=True) - cal.finances.fund.real_return.value
    index = wage / wage.isel(year=0)
    index.attrs.update(units="1", long_name="average wage relative to the base year")
    fund = rate - spread
    fund.attrs.update(units="1 per year", long_name="fund return from the economy")
    return index, fund


@dataclass(frozen=True)
class EconomyContext:
    """The calibrated economy on the median demography, ready for transitions under any
    policy."""

    params: object
    initial: object
    population: xr.DataArray
    mortality: xr.DataArray
    fund_months: float
    base_year: int


def economy_context(cal: Calibration, arrays: xr.Dataset, population: xr.DataArray,
                    contribution_index: float) -> EconomyContext:
    """Calibrate the OLG economy (to the base year, under the earlier retirement ages)."""
    from models.demography import mortality_rates

    base = cal.demography.base_year.value
    mx = mortality_rates(arrays["lc_ax"], arrays["lc_bx"], arrays["lc_kt"])
    months = cal.economy.government.fund_months.value
    params = economy_parameters(cal.economy, cal.pension, cal.finances, contribution_index,
                                cal.demography.last_year.value)
    before = Policy.from_calibration(cal.pension, "pre_2024", months, base)
    params = calibrate_economy(params, cal.economy, before, population, mx)
    initial = base_year_economy(params, before, population, mx, base).initial
    return EconomyContext(params, initial, population, mx, months, base)


def transition_under(ctx: EconomyContext, cal: Calibration, regime: str,
                     pooled_rate: xr.DataArray | None = None,
                     extra_delay_months: xr.DataArray | None = None,
                     indexation_share: xr.DataArray | None = None) -> xr.Dataset:
    """The economy's transition under a regime and, optionally, a pooled-rate path
    ``[year]``, retirement delays ``[year, category]`` and the indexation share of pensions
    in payment ``[year]`` (the optimizer's levers)."""
    policy = Policy.from_calibration(cal.pension, regime, ctx.fund_months, ctx.base_year)
    if pooled_rate is not None:
        steps = [(ctx.base_year, cal.pension.contribution.employer_pooled_rate.value)]
        steps += [(int(y), float(r)) for y, r in zip(pooled_rate["year"].values,
                                                     pooled_rate.values) if y > ctx.base_year]
        policy = policy.replace(pooled_rate=tuple(steps))
    if extra_delay_months is not None:
        policy = policy.replace(extra_delay_months=extra_delay_months)
    if indexation_share is not None:
        policy = policy.with_indexation(indexation_share)
    return solve_transition(regime_params(ctx, cal, regime), ctx.population, ctx.mortality,
                            policy, ctx.initial)


def employee_pension_ratio(population: xr.DataArray, cal: Calibration,
                           regime: str) -> xr.DataArray:
    """Average employee-scheme pension per pensioner / average wage ``[year]``: the pension
    accounts under ``regime`` on ``population`` with the calibration's prices (what the
    residents' equity reform targets a share of)."""
    years, ages = population["year"].values, population["age"].values
    schedule = retirement_schedule(years, ages, regime, cal.pension)
    fit = calibrate_base_year(population.sel(year=int(years[0])), schedule, cal.pension,
                              cal.finances)
    acc = project_accounts(population, schedule, fit, cal.pension, cal.finances)
    ratio = acc["average_pension_cny"] / acc["average_wage_cny"]
    ratio.attrs.update(units="1", long_name="average employee pension / average wage")
    return ratio


def regime_params(ctx: EconomyContext, cal: Calibration, regime: str):
    """The economy's parameters under ``regime``: the calibrated ones, with the residents'
    equity reform when the calibration sets it (its target is a share of the accounts'
    average employee pension under the regime, :func:`employee_pension_ratio`)."""
    if not cal.pension.residents.reformed:
        return ctx.params
    return with_residents_reform(ctx.params, cal.pension,
                                 employee_pension_ratio(ctx.population, cal, regime))


def lifetime_welfare(transition: xr.Dataset, prefix: str, what: str) -> xr.Dataset:
    """A transition's lifetime utility and discounted survival ``[birth_year, group,
    category]`` as ``<prefix>lifetime_utility`` and ``<prefix>discounted_survival``, carrying
    the attributes :func:`models.economy.welfare_cev` compares (``crra``, ``base_year``,
    ``horizon``), so two experiments' welfare can be compared from their results."""
    out = xr.Dataset()
    for name in WELFARE_KEEP:
        var = transition[name].copy()
        var.attrs.update({k: transition.attrs[k] for k in WELFARE_ATTRS})
        var.attrs["long_name"] = f"{var.attrs.get('long_name', name)} ({what})"
        out[f"{prefix}{name}"] = var
    return out


def welfare_of(ds: xr.Dataset, prefix: str = "economy_", **sel) -> xr.Dataset:
    """The inverse of :func:`lifetime_welfare`: a Dataset :func:`models.economy.welfare_cev`
    takes, from results (``sel`` picks e.g. the regime)."""
    parts = {name: ds[f"{prefix}{name}"].sel(**sel) for name in WELFARE_KEEP}
    attrs = {k: parts["lifetime_utility"].attrs[k] for k in WELFARE_ATTRS}
    for k in ("crra", "horizon", "base_year"):  # netCDF may return numpy scalars
        attrs[k] = float(attrs[k]) if k == "crra" else int(attrs[k])
    return xr.Dataset(parts, attrs=attrs)


def run_economy(exp: Experiment, cal: Calibration, arrays: xr.Dataset,
                population: xr.DataArray, regimes: dict[str, tuple[xr.Dataset, BaseYearFit]],
                ctx: EconomyContext | None = None) -> xr.Dataset:
    """Economy results ``economy_*[regime, year]``, the base-year fit, welfare CEV between the
    regimes and the accounts under the model's prices (``model_prices_*``).

    ``regimes`` maps each regime to its ``(retirement schedule, base-year fit)``.
    """
    years = population["year"].values
    first_fit = next(iter(regimes.values()))[1]
    ctx = ctx or economy_context(cal, arrays, population, first_fit.contribution_index)
    params = ctx.params
    transitions = {regime: transition_under(ctx, cal, regime) for regime in regimes}
    regime_dim = xr.DataArray(list(regimes), dims="regime", name="regime")
    econ = xr.concat([t[list(KEEP)].sel(year=years) for t in transitions.values()],
                     dim=regime_dim, data_vars="all", combine_attrs="override")
    econ = econ.rename({v: f"economy_{v}" for v in KEEP})
    econ.attrs = {}
    econ["economy_discount_factor"] = ((), params.discount_factor, {
        "units": "1", "long_name": "calibrated household discount factor"})
    parts = [econ, base_year_fit(transitions[next(iter(regimes))], cal.economy, prefix="economy_")]
    welfare = xr.concat([lifetime_welfare(t, "economy_", "under the regime")
                         for t in transitions.values()], dim=regime_dim,
                        combine_attrs="override")
    parts.append(welfare)
    if "pre_2024" in transitions and "law_2024" in transitions:
        cev = welfare_cev(transitions["pre_2024"], transitions["law_2024"])
        cev.attrs.update(units="fraction of lifetime consumption",
                         long_name="consumption-equivalent welfare gain of the 2024 law over "
                                   "the earlier ages, by birth cohort and type")
        parts.append(cev.rename("economy_welfare_cev").to_dataset())
    accounts = []
    for regime, (schedule, fit) in regimes.items():
        index, fund = model_prices(transitions[regime], years, cal)
        accounts.append(project_accounts(population, schedule, fit, cal.pension, cal.finances,
                                         wage_index=index, fund_return=fund))
    acc = xr.concat(accounts, dim=regime_dim, data_vars="all", combine_attrs="override")
    priced = xr.Dataset({f"model_prices_{v}": acc[v] for v in (
        "balance_end_cny", "months_payable", "expenditure_cny", "contributions_cny")})
    for name, value in fund_milestones(acc).items():
        priced[f"model_prices_{name}"] = value
    for v in priced.data_vars:
        priced[v].attrs["long_name"] = (priced[v].attrs.get("long_name", v)
                                        + " (accounts with the economy's wages and returns)")
    parts.append(priced)
    return xr.merge(parts, combine_attrs="override")


# ---------------------------------------------------------------------------- tables
def has_economy(ds: xr.Dataset) -> bool:
    return "economy_interest_rate" in ds


def economy_fit_frame(ds: xr.Dataset):
    import pandas as pd

    from models.report.table import Table

    rows = []
    for t in ds["economy_target"].values:
        r = ds.sel(economy_target=t)
        rows.append([str(t), float(r["economy_fit_model"]), float(r["economy_fit_target"]),
                     "fitted" if bool(r["economy_fit_calibrated"]) else "check",
                     str(r["economy_fit_unit"].values)])
    frame = pd.DataFrame(rows, columns=["quantity", "model", "target", "role", "unit"])
    return Table("economy_base_year_fit", "OLG economy, base year: model vs target "
                 f"(discount factor {float(ds['economy_discount_factor']):.4f})", frame,
                 ("", ".4g", ".4g", "", ""))


def economy_paths_frame(ds: xr.Dataset, every: int = 10):
    import pandas as pd

    from models.report.table import Table

    years = ds["year"].values
    pick = [y for y in years if (y - years[0]) % every == 0 or y == years[-1]]
    rows = []
    for regime in ds["regime"].values:
        for y in pick:
            e = ds.sel(regime=regime, year=y)
            rows.append([str(regime), int(y), 100 * float(e["economy_interest_rate"]),
                         float(e["economy_average_wage_cny"]),
                         float(e["economy_capital_output_ratio"]),
                         100 * float(e["economy_income_tax_rate"]),
                         100 * float(e["economy_pension_spending_gdp"]),
                         float(e["model_prices_months_payable"])])
    frame = pd.DataFrame(rows, columns=[
        "regime", "year", "interest rate (%)", "average covered wage (yuan/yr)",
        "capital/output", "income tax closing the budget (%)", "pension spending (% GDP)",
        "fund months payable with model prices"])
    return Table("economy_paths", "OLG economy on the median path, and the fund under its "
                 "prices (yuan at base-year prices)", frame,
                 ("", "d", ".2f", ".0f", ".2f", ".1f", ".1f", ".1f"))


def milestones_both_prices_frame(ds: xr.Dataset):
    import math

    import pandas as pd

    from models.report.table import Table

    def year(v: float) -> str:
        return "never" if math.isnan(v) else str(int(v))

    rows = [[str(r), year(float(ds["first_deficit_year"].sel(regime=r))),
             year(float(ds["model_prices_first_deficit_year"].sel(regime=r))),
             year(float(ds["depletion_year"].sel(regime=r))),
             year(float(ds["model_prices_depletion_year"].sel(regime=r)))]
            for r in ds["regime"].values]
    frame = pd.DataFrame(rows, columns=["regime", "first deficit (calibrated prices)",
                                        "first deficit (economy's prices)",
                                        "depletion (calibrated prices)",
                                        "depletion (economy's prices)"])
    return Table("milestones_both_prices", "Fund milestones with the calibration's wage and "
                 "return paths and with the OLG economy's", frame, "g")


WELFARE_BIRTH_YEARS = (1950, 1960, 1965, 1970, 1975, 1980, 1990, 2000, 2010, 2020, 2030)


def welfare_frame(ds: xr.Dataset):
    import pandas as pd

    from models.report.table import Table

    cev = ds["economy_welfare_cev"]
    rows = []
    for b in [b for b in WELFARE_BIRTH_YEARS if b in cev["birth_year"].values]:
        c = cev.sel(birth_year=b)
        rows.append([b] + [100 * float(c.sel(group=g, category=k))
                           for g in cev["group"].values for k in cev["category"].values])
    cols = ["birth year"] + [f"{g} {k} (%)" for g in cev["group"].values
                             for k in cev["category"].values]
    return Table("welfare_cev", "Consumption-equivalent welfare change of the 2024 law over the "
                 "earlier retirement ages, by birth cohort and type (labour supply inelastic: "
                 "see the economy's notes before ranking retirement ages by it)",
                 pd.DataFrame(rows, columns=cols), ".2f")


def economy_tables(ds: xr.Dataset) -> list:
    out = [economy_fit_frame(ds), economy_paths_frame(ds), milestones_both_prices_frame(ds)]
    if "economy_welfare_cev" in ds:
        out.append(welfare_frame(ds))
    if "mc_prices_depletion_year" in ds:
        out.append(monte_carlo_prices_frame(ds))
    return out


def monte_carlo_prices_frame(ds: xr.Dataset):
    """Depletion years across paths with the calibration's prices and with each path's own
    economy prices, and the first-order price error measured against exact solves."""
    import numpy as np
    import pandas as pd

    from models.report.table import Table

    rows = []
    for regime in ds["regime"].values:
        for label, var in (("calibrated prices", "depletion_year_paths"),
                           ("path's own economy prices", "mc_prices_depletion_year")):
            years = ds[var].sel(regime=regime).values
            finite = years[np.isfinite(years)]
            q = np.quantile(finite, [0.1, 0.5, 0.9]) if finite.size else [np.nan] * 3
            rows.append([str(regime), label, *[float(v) for v in q],
                         float(np.mean(np.isfinite(years) & (years <= 2035))),
                         float(np.mean(np.isfinite(years) & (years <= 2050)))])
    frame = pd.DataFrame(rows, columns=["regime", "prices", "depletion year 10 %", "50 %",
                                        "90 %", "P(depleted by 2035)", "P(depleted by 2050)"])
    title = "Depletion across Monte Carlo paths: calibrated vs each path's own economy prices"
    if "mc_prices_interest_rate_error_pp" in ds:
        title += (f" (first-order prices vs exact on {ds.sizes['error_path']} paths: interest "
                  f"rate max error {float(ds['mc_prices_interest_rate_error_pp'].max()):.3f} pp, "
                  f"wage max relative error "
                  f"{float(ds['mc_prices_average_wage_relative_error'].max()):.2%})")
    return Table("monte_carlo_prices", title, frame, ("", "", ".0f", ".0f", ".0f", ".3f", ".3f"))
