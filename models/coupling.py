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
import pandas as pd
import xarray as xr

from models.config import CATEGORIES, Calibration, OptimizationSettings
from models.constants import TRILLION
from models.demography import mortality_rates
from models.economy import (
    Policy,
    base_year_economy,
    calibrate_economy,
    cohort_choices,
    delay_price_by_year,
    economy_parameters,
    price_of_delay,
    solve_transition,
    with_residents_reform,
)
from models.economy.calibrate import LabourFit, labour_fit_at
from models.economy.choices import retirement_distribution
from models.economy.transition import build_model, unknowns_from_dataset
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
    labour_fit: LabourFit | None = None  # the labour moments beside their targets
    # the capital-output ratio, pension spending / GDP and GDP (yuan) the initial steady state
    # is fitted to (None: economy.targets'; elastic: first_year_calibrated's)
    steady_targets: tuple[float, float, float] | None = None


def economy_context(cal: Calibration, arrays: xr.Dataset, population: xr.DataArray,
                    contribution_index: float) -> EconomyContext:
    """Calibrate the OLG economy (to the base year, under the earlier retirement ages)."""
    base = cal.demography.base_year.value
    mx = mortality_rates(arrays["lc_ax"], arrays["lc_bx"], arrays["lc_kt"])
    months = cal.economy.government.fund_months.value
    params = economy_parameters(cal.economy, cal.pension, cal.finances, contribution_index,
                                cal.demography.last_year.value)
    before = Policy.from_calibration(cal.pension, "pre_2024", months, base)

    def calibrated(steady_targets=None) -> EconomyContext:
        p = calibrate_economy(params, cal.economy, before, population, mx,
                              steady_targets=steady_targets)
        initial = base_year_economy(p, before, population, mx, base).initial
        labour = (labour_fit_at(p, cal.economy, before, population, mx)
                  if cal.economy.labour_targets else None)
        return EconomyContext(p, initial, population, mx, months, base, labour,
                              steady_targets)

    ctx = calibrated()
    return first_year_calibrated(ctx, cal, calibrated) if ctx.params.elastic else ctx


#: Relative tolerance on the base-year targets met by the transition's first year
#: (:func:`first_year_calibrated`) and the most re-calibrations it makes.
FIRST_YEAR_TOLERANCE, FIRST_YEAR_ROUNDS = 1e-4, 8


def first_year_calibrated(ctx: EconomyContext, cal: Calibration, calibrated) -> EconomyContext:
    """The economy re-calibrated so the first year of its transition under the earlier
    retirement ages and without the residents' reform (the status quo of the base year, what the
    base-year fit table shows) meets
    the base-year targets ``economy.targets`` of the capital-output ratio ``K/Y`` and of GDP
    ``Y`` (yuan).

    With elastic hours the households re-choose their hours in the transition's first year on
    the news of the future path (ageing, prices), so that year's labour, hence ``Y``, differs
    from the initial steady state the calibration fits (2021 on the China calibration: ``Y``
    3.8 % above it, ``K/Y`` 2.89 against 3). Capital in that year is the steady state's, so the
    steady state's targets ``x_ss`` are moved by the fixed point
    ``x_ss ← x_ss · x_target / x_first`` (each round a calibration, ``calibrated`` with
    ``steady_targets``, and a transition; 2 rounds on the China calibration) until both
    first-year values are within :data:`FIRST_YEAR_TOLERANCE` of their targets. Pension
    spending / GDP is left as the steady state fits it: in the transition the pensions are the
    pension book's (:func:`with_pension_book`, fitted to the accounts' base year), so that
    year's spending share moves with ``Y`` alone and is printed as a check of the fit. The
    labour moments stay the steady state's. An inelastic economy's first year is its steady
    state (no round needed)."""
    tg = cal.economy.targets
    want = np.array([tg.capital_output_ratio.value, tg.gdp_cny.value])
    spending = tg.pension_spending_gdp.value
    aim = want.copy()
    # the status quo of the base year: the earlier ages, no residents' reform (so a reform
    # experiment keeps the calibration, and the welfare comparison, of its baseline)
    policy = regime_policy(ctx, cal, "pre_2024")
    for _ in range(FIRST_YEAR_ROUNDS):
        params = with_pension_book(ctx.params, ctx, cal, policy)
        first = solve_transition(params, ctx.population, ctx.mortality, policy, ctx.initial,
                                 horizon=TRANSITION_HORIZON).isel(year=0)
        got = np.array([float(first["capital_output_ratio"]), float(first["output_cny"])])
        if np.max(np.abs(got / want - 1.0)) <= FIRST_YEAR_TOLERANCE:
            return ctx
        aim = aim * want / got
        ctx = calibrated((float(aim[0]), spending, float(aim[1])))
    raise ValueError(
        f"economy calibration: the transition's first year does not meet the base-year "
        f"targets (economy.toml targets.capital_output_ratio, gdp_cny = {want.tolist()}) "
        f"after {FIRST_YEAR_ROUNDS} re-calibrations: it reaches {got.tolist()}")


def regime_policy(ctx: EconomyContext, cal: Calibration, regime: str) -> Policy:
    """The economy's pension policy under a retirement regime, as calibrated."""
    return Policy.from_calibration(cal.pension, regime, ctx.fund_months, ctx.base_year)


def transition_under(ctx: EconomyContext, cal: Calibration, regime: str,
                     pooled_rate: xr.DataArray | None = None,
                     extra_delay_months: xr.DataArray | None = None,
                     indexation_share: xr.DataArray | None = None,
                     welfare: bool = False) -> xr.Dataset:
    """The economy's transition under a regime and, optionally, a pooled-rate path
    ``[year]``, retirement delays ``[year, category]`` and the indexation share of pensions
    in payment ``[year]`` (the optimizer's levers). ``welfare``: an elastic economy's cohort
    welfare that nets leisure (:func:`with_leisure_welfare`; an inelastic economy's
    ``lifetime_utility`` is already complete)."""
    params, policy = transition_inputs(ctx, cal, regime, pooled_rate, extra_delay_months,
                                       indexation_share)
    ds = solve_transition(params, ctx.population, ctx.mortality, policy, ctx.initial,
                          horizon=TRANSITION_HORIZON)
    if welfare and params.elastic:
        ds = with_leisure_welfare(ds, params, policy, ctx)
    return ds


def transition_inputs(ctx: EconomyContext, cal: Calibration, regime: str,
                      pooled_rate: xr.DataArray | None = None,
                      extra_delay_months: xr.DataArray | None = None,
                      indexation_share: xr.DataArray | None = None):
    """The parameters and the policy of :func:`transition_under`."""
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
    return params, policy


def solved_model(transition: xr.Dataset, params, policy: Policy, ctx: EconomyContext):
    """The transition model of a solved (elastic) transition at its solution: the model
    (:func:`models.economy.transition.build_model`) with the households' equilibrium hours
    and retirement probabilities, and its unknowns."""
    model = build_model(params, ctx.population, ctx.mortality, policy, ctx.initial,
                        horizon=TRANSITION_HORIZON)
    if "option_hours" in transition:
        C, J = model.C, model.J
        model.set_choices(transition["option_hours"].values.reshape(C, model.K, model.O, J),
                          transition["retirement_probability"].values.reshape(
                              C, model.K, model.O))
    return model, unknowns_from_dataset(model, transition)


def with_leisure_welfare(transition: xr.Dataset, params, policy: Policy,
                         ctx: EconomyContext) -> xr.Dataset:
    """An elastic transition with its cohorts' welfare that nets leisure
    (:func:`models.economy.cohort_choices` at its prices): ``lifetime_utility`` the
    expected lifetime utility (consumption less the disutility of hours and participation,
    plus the taste shocks' option value) and ``consumption_utility`` its consumption part,
    ``[birth_year, group, category]`` (what :func:`models.economy.welfare_cev` nets)."""
    model, u = solved_model(transition, params, policy, ctx)
    ch = cohort_choices(model, u).sel(birth_year=transition["birth_year"])
    out = transition.copy()
    out["lifetime_utility"] = ch["expected_value"].assign_attrs(
        transition["lifetime_utility"].attrs, long_name="expected lifetime utility, net of "
        "the disutility of work (remaining lifetime from the base year or first_age)")
    out["consumption_utility"] = ch["consumption_utility"].assign_attrs(
        units="utils", long_name="expected lifetime utility of consumption")
    return out


#: years the economy's transitions solve before the terminal steady state
TRANSITION_HORIZON = 200


def regime_fit(ctx: EconomyContext, cal: Calibration, regime: str) -> BaseYearFit:
    """The accounts' base-year fit under ``regime`` on the context's (median) population."""
    years, ages = ctx.population["year"].values, ctx.population["age"].values
    schedule = retirement_schedule(years[:2], ages, regime, cal.pension)
    return calibrate_base_year(ctx.population, schedule, cal.pension, cal.finances)


def paired_schedule(ctx: EconomyContext, cal: Calibration, transition: xr.Dataset,
                    regime: str, years, ages,
                    extra_delay_months: xr.DataArray | None = None) -> xr.Dataset:
    """The accounts' retirement schedule in a run paired with the economy
    (:func:`models.pension.retirement_schedule`): with the economy's retirement choice on,
    the employees' shares retiring at each age of the flexible window by birth cohort and
    category (:func:`models.economy.choices.retirement_distribution`, the transition's
    equilibrium choice probabilities) replace the law's window parts; with it off, the law's
    schedule, unchanged."""
    return retirement_schedule(np.asarray(years), np.asarray(ages), regime, cal.pension,
                               extra_delay_months=extra_delay_months,
                               retirement_distribution=paired_distribution(ctx, transition))


def paired_distribution(ctx: EconomyContext, transition: xr.Dataset) -> xr.DataArray | None:
    """The economy's retirement distribution ``[birth_year, category, offset]`` of a solved
    transition, for the accounts of a paired run (:func:`paired_schedule`, and the
    optimizer's own accounts through :func:`models.optimize.solve.setup_problem`); None with
    the retirement choice off (the law's schedule)."""
    return retirement_distribution(transition, ctx.params)


def distribution_change(old: xr.DataArray | None, new: xr.DataArray | None) -> float:
    """The largest change of a retirement share between two distributions, ``max |new −
    old|`` over the birth years, categories and offsets both hold (0 when there is none)."""
    if old is None or new is None:
        return 0.0
    old, new = xr.align(old, new, join="inner")
    diff = np.abs(new.values - old.values)
    return float(np.nanmax(diff)) if diff.size and np.isfinite(diff).any() else 0.0


def with_pension_book(params, ctx: EconomyContext, cal: Calibration, policy: Policy):
    """``params`` whose government keeps the pension block's books
    (:mod:`models.pension.book`) under ``policy``'s regime and delays, over the transition's
    years and the economy's ages, with the regime's base-year fit (one pension system).

    With the households' retirement choice on, ``params`` unchanged: the book needs
    retirement set by policy, so the economy pays pensions by its own rules for each option
    (:func:`models.economy.core.cohort_budget`), and the accounts take the economy's
    retirement distribution instead (:func:`paired_schedule`)."""
    if params.retirement_choice:
        return params
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


def economy_delay_price(ctx: EconomyContext, cal: Calibration, regime: str,
                        transition: xr.Dataset, from_year: int,
                        part: str = "leisure", levers: tuple | None = None) -> xr.DataArray:
    """The optimizer's price of delay from the economy, yuan per person-month ``[year]``
    (issue 14, item 5).

    For each category ``c``, the welfare cost of one more month of statutory age to each
    cohort and type at the transition's prices (partial equilibrium, finite difference of the
    expected lifetime utility over ``u'(c)`` of the plan's first year:
    :func:`models.economy.price_of_delay`) for the cohorts reaching the statutory age from
    ``from_year`` on, as years of the average covered wage, times the year's average covered
    wage (:func:`models.economy.delay_price_by_year`): ``p_c(t)`` yuan of year ``t`` per
    person-month for the employees reaching the statutory age in ``t``. The price per year
    is their mean weighted by the persons of each category at its statutory age in ``t``
    (:func:`models.pension.category_population`); years from ``from_year`` that no cohort
    of the transition reaches carry the nearest such year's wage share times their own wage.

    **Years before** ``from_year`` **are 0, a genuine zero** (the zero prices seen with the
    retirement choice on): the delay reaches only the cohorts whose statutory age falls
    from ``from_year`` on (:func:`models.economy.choices.delay_policy`); an earlier cohort
    re-solves to the same choices, cost 0 up to rounding (option experiment, choice on,
    law_2024: exactly 0 for the cohorts reaching it in 2021–2024, below 1e-14 of a wage
    in 2025; 3,869–5,357 yuan per person-month in 2026–2032). The optimizer prices only
    its decision years (from ``from_year``); these zeros enter only the pairing's stopping
    rule. They are set, not computed, and the fill of years without a cohort never reaches
    back into them (else a decision year without a cohort would take their 0).

    The households re-solved here follow the economy's own pension rules (a delay moves
    their awards, contribution years and work window; the pension book, which keeps the
    regime's schedule, is left out) at the transition's hours.

    ``part``: ``"leisure"`` (the default, the optimizer's) prices only the fall in the
    leisure part of lifetime utility (the disutility of the extra hours and participation,
    positive for every cohort the delay reaches), in the same money; ``"total"`` the whole
    welfare change, which at fixed prices is a *gain* for most cohorts of the shipped
    calibration (the extra net earnings and the larger pension outweigh the leisure lost).
    The optimizer already counts the delay's money flows through the accounts (contributions
    and pensions), so the leisure part is what it lacks; the households' extra earnings net
    of contributions are not priced (a stated choice, issue 14).

    ``levers = (pooled_rate, extra_delay_months, indexation_share)``: the policy the
    ``transition`` was solved under (:func:`transition_under`; :func:`expected_policy` in
    the pairing loop), so the cohorts are re-solved under the same rules (default: the
    regime as calibrated).
    """
    if part not in ("leisure", "total"):
        raise ValueError(f"part must be 'leisure' or 'total', got {part!r}")
    params, policy = transition_inputs(ctx, cal, regime, *(levers or ()))
    model, u = solved_model(transition, params.replace(pension_book=None), policy, ctx)
    delay = price_of_delay(model, u, from_year)
    if part == "leisure":  # the disutility of the extra work only, in the same money
        base = cohort_choices(model, u).rename(category="kind_category")
        delay = delay.assign(cost_wage_share=delay["leisure_cost_utils"]
                             / base["marginal_utility_start"] / base["average_wage_start"])
    by_cat = delay_price_by_year(delay, transition, policy)  # [year, category]
    years = by_cat["year"].values
    births = delay["birth_year"].values
    stat = policy.statutory_age_months(births).mean(axis=-1) / 12.0  # [B, 3]
    reach = np.floor(births[:, None] + 0.5 + stat + 1e-9).astype(int)
    persons = category_population(ctx.population, cal.pension)
    ages = persons["age"].values
    weight = np.zeros(by_cat.shape)
    for i, t in enumerate(years):
        if t not in persons["year"].values:
            continue
        for j, cat in enumerate(CATEGORIES):
            age = np.floor(stat[reach[:, j] == t, j]).astype(int)
            if age.size:
                weight[i, j] = float(persons.sel(year=t, category=cat).sel(
                    age=np.clip(age, ages[0], ages[-1])).sum())
    wage = transition["average_wage_cny"].sel(year=years).values
    out = xr.DataArray(aggregate_delay_price(by_cat.values, weight, wage, years >= from_year),
                       dims="year", coords={"year": years}, name="economy_delay_price_cny")
    out.attrs.update(units="yuan per person-month of delay (year t, wage-indexed)",
                     long_name="welfare cost of one more month of statutory age to the "
                               "employees reaching it in the year, from the economy")
    return out


def aggregate_delay_price(price: np.ndarray, weight: np.ndarray, wage: np.ndarray,
                          priced: np.ndarray | None = None) -> np.ndarray:
    """Per-year price of delay from the categories' ``price[year, category]`` (NaN: no
    cohort of the category reaches its statutory age that year): the mean weighted by
    ``weight[year, category]`` (persons reaching it) over the categories with a price;
    years with none carry the nearest year's price in years of ``wage[year]`` times their
    own wage (:func:`nearest_fill`). ``priced[year]`` (default: every year): the years the
    delay reaches; the others are 0 and the fill uses only priced years."""
    price, weight = np.asarray(price, float), np.asarray(weight, float)
    priced = np.ones(price.shape[0], bool) if priced is None else np.asarray(priced, bool)
    ok = np.isfinite(price) & (weight > 0)
    total = (weight * ok).sum(1)
    mean = np.where(total > 0, (np.where(ok, price, 0.0) * weight).sum(1)
                    / np.where(total > 0, total, 1.0), np.nan)
    out = np.zeros(price.shape[0])
    out[priced] = nearest_fill((mean / wage)[priced]) * np.asarray(wage, float)[priced]
    return out


def nearest_fill(x: np.ndarray) -> np.ndarray:
    """``x`` with each NaN (or inf) replaced by the last finite value before it, or where
    there is none by the first after it (pandas' forward then backward fill)."""
    finite = np.isfinite(np.asarray(x, dtype=float))
    if not finite.any():
        raise ValueError("no year of the economy's price of delay is defined")
    return pd.Series(np.where(finite, x, np.nan)).ffill().bfill().to_numpy()


@dataclass
class Pairing:
    """The last policy problem and its solution, the pairing history (one dict per economy
    re-solve: iteration, objective, largest wage and return changes) and the search time."""

    problem: object
    solution: object
    tolerance: float
    history: list[dict] = field(default_factory=list)
    search_s: float = 0.0
    delay_price: xr.DataArray | None = None  # the economy's price of delay, when used

    @property
    def converged(self) -> bool:
        """The last re-solve moved the prices (and the economy's price of delay, when used)
        less than the tolerance."""
        last = self.history[-1]
        return max(last["wage_change"], last["return_change"],
                   last.get("delay_price_change", 0.0),
                   last.get("distribution_change", 0.0)) < self.tolerance


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

    With the economy's price of delay (``objective.delay_price = "economy"``,
    :func:`economy_delay_price`): computed from the first transition, then recomputed from
    each re-solved one under its policy (``F_d(p_k)``) and moved by the same damped step,
    ``d_{k+1} = d_k + θ (F_d − d_k)``; its largest change relative to its largest value
    (:func:`delay_price_change`, ``delay_price_change`` in the history) joins the stopping
    rule.
    With the retirement choice on, the economy's retirement distribution (from each
    transition, :func:`paired_distribution`, damped likewise; ``distribution_change`` joins
    the stopping rule) is the optimizer's accounts' (``setup_problem``); off, it is None.
    """
    years = population["year"].values
    paired = economy is not None and settings.economy_pairing
    transition = transition_under(economy, cal, settings.regime) if paired else None
    prices = paired_prices(transition, years, cal) if paired else None
    distribution = paired_distribution(economy, transition) if paired else None
    # the discount rate under objective.discount = "interest_rate": the economy's r(t)
    rate = transition["interest_rate"] if paired else None
    out = Pairing(problem=None, solution=None, tolerance=settings.pairing_tolerance)
    if paired and settings.objective.delay_price == "economy":  # at the first prices, kept
        out.delay_price = economy_delay_price(economy, cal, settings.regime, transition,
                                              settings.tree.first_decision_year)
    for iteration in range(settings.pairing_max_iterations if paired else 1):
        t0 = time.perf_counter()
        out.problem = setup_problem(cal, settings, population, fit, prices, workers=workers,
                                    interest_rate=rate, economy_delay_price=out.delay_price,
                                    retirement_distribution=distribution)
        start = out.solution.levers if out.solution is not None else None
        out.solution = optimize_policy(out.problem, start=start)
        out.search_s += time.perf_counter() - t0
        if not paired:
            break
        levers = expected_policy(out.problem, out.solution)
        transition = transition_under(economy, cal, settings.regime, *levers)
        new = paired_prices(transition, years, cal)
        step = {"iteration": iteration + 1,
                "objective_cny": out.solution.inner.objective * TRILLION,
                "wage_change": float(np.max(np.abs(new[0] / prices[0] - 1.0))),
                "return_change": float(np.max(np.abs(new[1] - prices[1])))}
        new_delay = None
        if out.delay_price is not None:  # the price of delay at this iteration's economy
            new_delay = economy_delay_price(economy, cal, settings.regime, transition,
                                            settings.tree.first_decision_year, levers=levers)
            step["delay_price_change"] = delay_price_change(out.delay_price, new_delay)
        new_distribution = paired_distribution(economy, transition)
        if distribution is not None:  # the households' retirement choice at this economy
            step["distribution_change"] = distribution_change(distribution, new_distribution)
        out.history.append(step)
        log.info("pairing %d: objective %.6g, wage change %.2e, return change %.2e%s",
                 iteration + 1, out.solution.inner.objective, step["wage_change"],
                 step["return_change"], "" if new_delay is None
                 else f", delay price change {step['delay_price_change']:.2e}")
        if out.converged:
            break
        theta = settings.pairing_damping
        prices = tuple(damped(p, n, theta) for p, n in zip(prices, new))
        rate = damped(rate, transition["interest_rate"], theta)
        if new_delay is not None:
            out.delay_price = damped(out.delay_price, new_delay, theta)
        if distribution is not None and new_distribution is not None:
            distribution = damped(distribution, new_distribution, theta)
    return out


def delay_price_change(old: xr.DataArray, new: xr.DataArray) -> float:
    """The largest change of the price of delay relative to its largest value, ``max_t
    |new(t) − old(t)| / max_t |old(t)|`` (a price may be 0 in some years: with the
    retirement choice on, the leisure cost of a delay can vanish; 0 when nothing moved, inf
    when a zero price became positive)."""
    diff = float(np.max(np.abs(new.values - old.sel(year=new["year"]).values)))
    scale = float(np.max(np.abs(old.values)))
    if diff == 0.0:
        return 0.0
    return diff / scale if scale > 0.0 else float("inf")


def damped(old: xr.DataArray, new: xr.DataArray, theta: float) -> xr.DataArray:
    """The pairing's damped step ``old + θ (new − old)`` on a price ``[year]`` (or a
    retirement distribution ``[birth_year, category, offset]``), ``new`` taken at ``old``'s
    coordinates, keeping ``old``'s name and attributes."""
    out = old + theta * (new.sel({dim: old[dim] for dim in old.dims}) - old)
    out.attrs = dict(old.attrs)
    return out.rename(old.name)
