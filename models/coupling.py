"""Where the blocks meet: the economy's prices in the pension accounts, the optimizer's policy
in the economy, and the pairing of the two as one damped fixed point.

* **Prices into the accounts** (:func:`model_prices`, :func:`paired_prices`): the accounts'
  wage index and the fund's and NSSF's returns (one rule, :func:`model_returns`) from an OLG
  transition.
* **One pension system** (:func:`regime_params`, :func:`with_pension_book`): the economy's
  government keeps the pension block's books (:mod:`models.pension.book`) under the regime,
  its delays and the regime's base-year fit.
* **Policy into the economy** (:func:`transition_under`, :func:`expected_policy`): the economy's
  transition under a regime and the optimizer's levers (pooled-rate path, retirement delays,
  indexation share), the levers taken as their probability-weighted mean over the tree.
* **The pairing loop** (:func:`pair_with_economy`): solve the policy problem at given prices,
  re-solve the economy under the expected policy, move the prices a damped step toward the
  economy's, until they move less than the tolerance:
  ``p_{k+1} = p_k + θ (F(p_k) − p_k)`` with ``θ = pairing_damping`` (a Mann iteration;
  ``θ = 1`` is plain successive substitution).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from models.config import CATEGORIES, Calibration, OptimizationSettings
from models.constants import TRILLION
from models.demography import mortality_rates
from models.economy import (
    Policy,
    base_year_economy,
    calibrate_economy,
    economy_parameters,
    solve_transition,
    with_residents_reform,
)
from models.optimize.solve import leaf_paths, optimize_policy, setup_problem
from models.pension import (
    calibrate_base_year,
    category_population,
    project_accounts,
    retirement_schedule,
)
from models.pension.accounts import BaseYearFit
from models.pension.book import pension_book
from models.pension.returns import fund_returns

log = logging.getLogger(__name__)


def model_returns(transition: xr.Dataset, years, cal: Calibration) -> xr.Dataset:
    """The fund's and the NSSF's real returns ``[..., year]`` from the economy's interest rate
    by the one return rule (:func:`models.pension.returns.fund_returns`: each a calibrated share
    of the economy's rate, warning where a return is implausible)."""
    rate = transition["interest_rate"].sel(year=years)
    return fund_returns(rate, cal.finances, int(np.asarray(years)[0]))


def model_prices(transition: xr.Dataset, years, cal: Calibration) -> tuple[xr.DataArray,
                                                                             xr.DataArray]:
    """The accounts' wage index and fund return from an economy transition.

    ``wage_index = w̄(t) / w̄(base)`` (the model's average covered wage); the fund return from
    the one return rule (:func:`model_returns`): ``r_fund(t) = (r_fund⁰ / r(base)) · r(t)``.
    The NSSF's return of the same rule: :func:`model_returns`.
    """
    wage = transition["average_wage_cny"].sel(year=years)
    index = wage / wage.isel(year=0)
    index.attrs.update(units="1", long_name="average wage relative to the base year")
    fund = model_returns(transition, years, cal)["fund_return"]
    fund.attrs.update(units="1 per year", long_name="fund return from the economy (return rule)")
    return index, fund


def paired_prices(transition: xr.Dataset, years, cal: Calibration
                  ) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """The optimizer's prices from a transition: wage index, fund return and NSSF return
    (:func:`model_prices`, :func:`model_returns`)."""
    index, fund = model_prices(transition, years, cal)
    return index, fund, model_returns(transition, years, cal)["reserve_return"]


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
    base = cal.demography.base_year.value
    mx = mortality_rates(arrays["lc_ax"], arrays["lc_bx"], arrays["lc_kt"])
    months = cal.economy.government.fund_months.value
    params = economy_parameters(cal.economy, cal.pension, cal.finances, contribution_index,
                                cal.demography.last_year.value)
    before = Policy.from_calibration(cal.pension, "pre_2024", months, base)
    params = calibrate_economy(params, cal.economy, before, population, mx)
    initial = base_year_economy(params, before, population, mx, base).initial
    return EconomyContext(params, initial, population, mx, months, base)


def regime_policy(ctx: EconomyContext, cal: Calibration, regime: str) -> Policy:
    """The economy's pension policy under a retirement regime, as calibrated."""
    return Policy.from_calibration(cal.pension, regime, ctx.fund_months, ctx.base_year)


def transition_under(ctx: EconomyContext, cal: Calibration, regime: str,
                     pooled_rate: xr.DataArray | None = None,
                     extra_delay_months: xr.DataArray | None = None,
                     indexation_share: xr.DataArray | None = None) -> xr.Dataset:
    """The economy's transition under a regime and, optionally, a pooled-rate path
    ``[year]``, retirement delays ``[year, category]`` and the indexation share of pensions
    in payment ``[year]`` (the optimizer's levers)."""
    policy = regime_policy(ctx, cal, regime)
    if pooled_rate is not None:
        steps = [(ctx.base_year, cal.pension.contribution.employer_pooled_rate.value)]
        steps += [(int(y), float(r)) for y, r in zip(pooled_rate["year"].values,
                                                     pooled_rate.values) if y > ctx.base_year]
        policy = policy.replace(pooled_rate=tuple(steps))
    if extra_delay_months is not None:
        policy = policy.replace(extra_delay_months=extra_delay_months)
    if indexation_share is not None:
        policy = policy.with_indexation(indexation_share)
    params = regime_params(ctx, cal, regime)
    if extra_delay_months is not None:  # the delays move the book's retirement schedule
        params = with_pension_book(params, ctx, cal, policy)
    return solve_transition(params, ctx.population, ctx.mortality, policy, ctx.initial,
                            horizon=TRANSITION_HORIZON)


#: years the economy's transitions solve before the terminal steady state
TRANSITION_HORIZON = 200


def regime_fit(ctx: EconomyContext, cal: Calibration, regime: str) -> BaseYearFit:
    """The accounts' base-year fit under ``regime`` on the context's (median) population."""
    years, ages = ctx.population["year"].values, ctx.population["age"].values
    schedule = retirement_schedule(years[:2], ages, regime, cal.pension)
    return calibrate_base_year(ctx.population, schedule, cal.pension, cal.finances)


def with_pension_book(params, ctx: EconomyContext, cal: Calibration, policy: Policy):
    """``params`` whose government keeps the pension block's books
    (:mod:`models.pension.book`) under ``policy``'s regime and delays, over the transition's
    years and the economy's ages, with the regime's base-year fit (one pension system)."""
    regime = policy.retirement_regime
    years = ctx.base_year + np.arange(TRANSITION_HORIZON + 1)
    ages = np.arange(params.first_age, params.last_age + 1)
    book = pension_book(years, ages, regime, regime_fit(ctx, cal, regime), cal.pension,
                        cal.finances, policy.extra_delay_months,
                        weights=category_population(ctx.population, cal.pension))
    return params.replace(pension_book=book)


def employee_pension_ratio(population: xr.DataArray, cal: Calibration,
                           regime: str) -> xr.DataArray:
    """Average employee-scheme pension per pensioner / average wage ``[year]``: the pension
    accounts under ``regime`` on ``population`` with the calibration's prices (what the
    residents' equity reform targets a share of)."""
    years, ages = population["year"].values, population["age"].values
    schedule = retirement_schedule(years, ages, regime, cal.pension)
    fit = calibrate_base_year(population, schedule, cal.pension,
                              cal.finances)
    acc = project_accounts(population, schedule, fit, cal.pension, cal.finances)
    ratio = acc["average_pension_cny"] / acc["average_wage_cny"]
    ratio.attrs.update(units="1", long_name="average employee pension / average wage")
    return ratio


def regime_params(ctx: EconomyContext, cal: Calibration, regime: str):
    """The economy's parameters under ``regime``: the calibrated ones with the pension block's
    books under the regime (:func:`with_pension_book`), with the residents' equity reform
    when the calibration sets it (its target is a share of the accounts' average employee
    pension under the regime, :func:`employee_pension_ratio`)."""
    params = with_pension_book(ctx.params, ctx, cal, regime_policy(ctx, cal, regime))
    if not cal.pension.residents.reformed:
        return params
    return with_residents_reform(params, cal.pension,
                                 employee_pension_ratio(ctx.population, cal, regime))


def expected_policy(problem, psol) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray | None]:
    """Probability-weighted pooled rate ``[year]`` (optimized years), delays ``[year,
    category]`` (months) and indexation share ``[year]`` (None when the lever is off) of a
    solution over the simulated years: what the economy on the median path is given."""
    tree, years = problem.tree, problem.opt_years
    inner = psol.rescue if psol.infeasible else psol.inner
    rate = xr.DataArray(tree.probability @ inner.tau, dims="year", coords={"year": years})
    delay = np.zeros((len(problem.years), len(CATEGORIES)))
    index = np.zeros(len(problem.years)) if problem.indexation_enabled else None
    for _, paths, full_delay, share in leaf_paths(problem, psol.levers):
        weight = tree.probability[paths].sum()
        delay += weight * full_delay
        if index is not None:
            index += weight * share
    delay_da = xr.DataArray(delay, dims=("year", "category"),
                            coords={"year": problem.years, "category": list(CATEGORIES)})
    index_da = (None if index is None
                else xr.DataArray(index, dims="year", coords={"year": problem.years}))
    return rate, delay_da, index_da


@dataclass
class Pairing:
    """The last policy problem and its solution, the pairing history (one dict per economy
    re-solve: iteration, objective, largest wage and return changes) and the search time."""

    problem: object
    solution: object
    tolerance: float
    history: list[dict] = field(default_factory=list)
    search_s: float = 0.0

    @property
    def converged(self) -> bool:
        """The last re-solve moved the prices less than the tolerance."""
        last = self.history[-1]
        return max(last["wage_change"], last["return_change"]) < self.tolerance


def pair_with_economy(economy: EconomyContext | None, cal: Calibration,
                      settings: OptimizationSettings, population: xr.DataArray,
                      fit: BaseYearFit, workers: int = 1) -> Pairing:
    """Solve the policy problem, paired with the economy when one is given.

    Without ``economy`` (or with ``settings.economy_pairing`` off): one solve at the
    calibration's prices. With it: prices ``p_0`` from the economy under the regime; then
    repeatedly solve at ``p_k`` (the outer search continuing from the previous solution),
    re-solve the economy under the expected policy to get ``F(p_k)``, stop when
    ``max |F(p_k)/p_k − 1|`` (wage index) and ``max |F(p_k) − p_k|`` (fund return) are below
    ``settings.pairing_tolerance``, else ``p_{k+1} = p_k + θ (F(p_k) − p_k)``, at most
    ``settings.pairing_max_iterations`` solves. ``workers`` processes solve the
    decomposition's recourse subproblems (identical results whatever their number).
    """
    years = population["year"].values
    paired = economy is not None and settings.economy_pairing
    transition = transition_under(economy, cal, settings.regime) if paired else None
    prices = paired_prices(transition, years, cal) if paired else None
    # the discount rate under objective.discount = "interest_rate": the economy's r(t)
    rate = transition["interest_rate"] if paired else None
    out = Pairing(problem=None, solution=None, tolerance=settings.pairing_tolerance)
    for iteration in range(settings.pairing_max_iterations if paired else 1):
        t0 = time.perf_counter()
        out.problem = setup_problem(cal, settings, population, fit, prices, workers=workers,
                                    interest_rate=rate)
        start = out.solution.levers if out.solution is not None else None
        out.solution = optimize_policy(out.problem, start=start)
        out.search_s += time.perf_counter() - t0
        if not paired:
            break
        transition = transition_under(economy, cal, settings.regime,
                                      *expected_policy(out.problem, out.solution))
        new = paired_prices(transition, years, cal)
        wage_change = float(np.max(np.abs(new[0] / prices[0] - 1.0)))
        return_change = float(np.max(np.abs(new[1] - prices[1])))
        out.history.append({"iteration": iteration + 1,
                            "objective_cny": out.solution.inner.objective * TRILLION,
                            "wage_change": wage_change, "return_change": return_change})
        log.info("pairing %d: objective %.6g, wage change %.2e, return change %.2e",
                 iteration + 1, out.solution.inner.objective, wage_change, return_change)
        if out.converged:
            break
        theta = settings.pairing_damping
        prices = tuple(p + theta * (n - p) for p, n in zip(prices, new))
        rate = rate + theta * (transition["interest_rate"] - rate)
    return out
