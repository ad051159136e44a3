"""The economy step of an experiment: the OLG transition under each retirement regime, the
welfare change between regimes, and the pension accounts re-run with the model's prices."""

from __future__ import annotations

import xarray as xr

from models.config import Calibration, Experiment
from models.coupling import (
    EconomyContext,
    economy_context,
    paired_prices,
    paired_schedule,
    transition_under,
)
from models.economy import base_year_fit, welfare_cev
from models.pension import fund_milestones, project_accounts
from models.pension.accounts import BaseYearFit

#: Transition variables kept in results.nc (with an ``economy_`` prefix), over the projection
#: years.
KEEP = ("output_cny", "capital_cny", "wage_cny", "average_wage_cny", "interest_rate",
        "consumption_cny", "investment_cny", "income_tax_rate", "capital_output_ratio",
        "household_saving_rate", "pension_spending_gdp", "replacement_rate",
        "goods_market_residual_cny", "asset_market_residual", "fiscal_subsidy_cny",
        "pension_benefits_cny", "pension_contributions_cny", "residents_pensions_cny",
        "fiscal_subsidy_rule_cny", "extra_transfer_cny")
#: Welfare variables of a transition kept in results.nc (``economy_`` prefix, by regime; and
#: ``opt_economy_`` under an optimal policy), with the attributes :func:`welfare_cev` checks.
WELFARE_KEEP = ("lifetime_utility", "discounted_survival")
#: Kept too when the transition has it (an elastic economy: the CEV nets leisure).
WELFARE_OPTIONAL = ("consumption_utility",)
WELFARE_ATTRS = ("crra", "base_year", "horizon")


def lifetime_welfare(transition: xr.Dataset, prefix: str) -> xr.Dataset:
    """A transition's lifetime utility and discounted survival ``[birth_year, group,
    category]`` as ``<prefix>lifetime_utility`` and ``<prefix>discounted_survival``, carrying
    the attributes :func:`models.economy.welfare_cev` compares (``crra``, ``base_year``,
    ``horizon``), so two experiments' welfare can be compared from their results."""
    out = xr.Dataset()
    for name in WELFARE_KEEP + tuple(n for n in WELFARE_OPTIONAL if n in transition):
        var = transition[name].copy()
        var.attrs.update({k: transition.attrs[k] for k in WELFARE_ATTRS})
        out[f"{prefix}{name}"] = var
    return out


def run_economy(exp: Experiment, cal: Calibration, arrays: xr.Dataset,
                population: xr.DataArray, regimes: dict[str, tuple[xr.Dataset, BaseYearFit]],
                ctx: EconomyContext | None = None) -> xr.Dataset:
    """Economy results ``economy_*[regime, year]``, the base-year fit, welfare CEV between the
    regimes and the accounts under the model's prices (``model_prices_*``; with the
    households' retirement choice on, at the economy's retirement ages:
    :func:`models.coupling.paired_schedule`).

    ``regimes`` maps each regime to its ``(retirement schedule, base-year fit)``.
    """
    years = population["year"].values
    first_fit = next(iter(regimes.values()))[1]
    ctx = ctx or economy_context(cal, arrays, population, first_fit.contribution_index)
    params = ctx.params
    transitions = {regime: transition_under(ctx, cal, regime, welfare=True)
                   for regime in regimes}
    regime_dim = xr.DataArray(list(regimes), dims="regime", name="regime")
    econ = xr.concat([t[list(KEEP)].sel(year=years) for t in transitions.values()],
                     dim=regime_dim, data_vars="all", combine_attrs="override")
    econ = econ.rename({v: f"economy_{v}" for v in KEEP})
    econ.attrs = {}
    econ["economy_discount_factor"] = ((), params.discount_factor)
    parts = [econ, base_year_fit(transitions[next(iter(regimes))], cal.economy,
                                 prefix="economy_", labour=ctx.labour_fit)]
    welfare = xr.concat([lifetime_welfare(t, "economy_")
                         for t in transitions.values()], dim=regime_dim,
                        combine_attrs="override")
    parts.append(welfare)
    if "pre_2024" in transitions and "law_2024" in transitions:
        cev = welfare_cev(transitions["pre_2024"], transitions["law_2024"])
        parts.append(cev.rename("economy_welfare_cev").to_dataset())
    accounts = []
    ages = population["age"].values
    for regime, (schedule, fit) in regimes.items():
        index, fund, reserve = paired_prices(transitions[regime], years, cal)
        if params.retirement_choice:  # the households' retirement ages, not the law's
            schedule = paired_schedule(ctx, cal, transitions[regime], regime, years, ages)
        accounts.append(project_accounts(population, schedule, fit, cal.pension, cal.finances,
                                         wage_index=index, fund_return=fund,
                                         reserve_return=reserve))
    acc = xr.concat(accounts, dim=regime_dim, data_vars="all", combine_attrs="override")
    priced = xr.Dataset({f"model_prices_{v}": acc[v] for v in (
        "balance_end_cny", "months_payable", "expenditure_cny", "contributions_cny")})
    for name, value in fund_milestones(acc).items():
        priced[f"model_prices_{name}"] = value
    parts.append(priced)
    return xr.merge(parts, combine_attrs="override")
