r"""Balanced-growth steady state.

With a stable population (constant survival ``s_i``, entrant cohorts growing at ``n``) and
technology growing at ``g``, every cohort's life is the same up to the factor ``(1+g)`` per
year of birth: one problem per household kind. Aggregates are per person aged
``first_age..last_age`` and detrended by the year's technology level.

Equations (detrended, per capita; ``N̂`` stable weights summing to 1, ``x̂_i = x_i/(1+g)^i``
for cohort levels ``x_i``)::

    r = α Z κ^{α−1} − δ,  ŵ = (1−α) Z κ^α,  L̂ = Σ N̂ ℓ e θ,  Ŷ = Z κ^α L̂
    fund:     B̂ = fund_months/12 · Bên
    subsidy:  Sûb = B̂ (1+g)(1+n) − (1+r) B̂ − Ĉon + Bên
    budget:   τ (ŵ L̂ + Bên + Rês) = g_y Ŷ + Rês + Sûb
    assets:   κ L̂ (1+g)(1+n) = Σ N̂ â'_i + B̂ (1+g)(1+n)                (closed economy)
    bequests: b̂ (1+g)(1+n) = (1 + r) Σ N̂_i (1 − s_i) â'_i

Unknowns ``κ`` (closed economy only) and the bequest per capita relative to the average
covered wage ``b̂/W̄``; solved by Brent's method on ``κ`` (bracketing interest rates from
``−min(δ, 0.05)`` to 0.5, widened up to 4 if needed)
with a secant iteration on the bequest equation inside.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import xarray as xr
from scipy.optimize import brentq, root

from models.config import CATEGORIES
from models.demography.projection import one_year_survival
from models.economy import core
from models.economy.household import (
    HouseholdInputs,
    HoursInputs,
    euler_errors_hours,
    kuhn_tucker_residuals,
    lifetime_utility_hours,
    solve_households,
    solve_households_hours,
)
from models.economy.parameters import EconomyParameters
from models.economy.policy import Policy

__all__ = ["DemographySteadyState", "SteadyState", "SteadyStateError",
           "demography_steady_state", "solve_steady_state"]


class SteadyStateError(RuntimeError):
    """The steady-state equations could not be solved."""


@dataclass(frozen=True)
class DemographySteadyState:
    """A stable population: survival ``[sex(female, male), J]`` (from age ``i`` to ``i + 1``),
    entrant growth ``population_growth`` per year and the male share of entrants."""

    survival: np.ndarray
    population_growth: float
    male_share: float = 0.5

    def weights(self) -> np.ndarray:
        """Stable population by sex and age, ``[2, J]``, summing to 1."""
        s = np.asarray(self.survival, dtype=float)
        J = s.shape[1]
        surv = np.ones((2, J))
        surv[:, 1:] = np.cumprod(s[:, :-1], axis=1)
        w = surv * (1.0 + self.population_growth) ** -np.arange(J)
        w *= np.array([1.0 - self.male_share, self.male_share])[:, None]
        return w / w.sum()


def demography_steady_state(population: xr.DataArray, mortality: xr.DataArray, year: int,
                            params: EconomyParameters,
                            population_growth: float | None = None) -> DemographySteadyState:
    """Stable population with the survival of ``year`` (``exp(−m)``, as the projection) and
    the given entrant growth (default: the growth of the population younger than
    ``first_age`` over the ten years to ``year``, or 0 if those years are not there)."""
    ages = np.arange(params.first_age, params.last_age + 1)
    mx = mortality.sel(year=year, age=ages).transpose("sex", "age").values
    s = one_year_survival(mx)
    young = population.sel(age=population["age"] < params.first_age).sum(["age", "sex"])
    if population_growth is None:
        years = population["year"].values
        if year - 10 in years and year in years:
            population_growth = float((young.sel(year=year) / young.sel(year=year - 10))
                                      ** 0.1 - 1.0)
        else:
            population_growth = 0.0
    entrants = population.sel(year=year, age=params.first_age)
    male = float(entrants.sel(sex="male") / entrants.sum())
    return DemographySteadyState(survival=s, population_growth=float(population_growth),
                                 male_share=male)


@dataclass(frozen=True)
class SteadyState:
    """A solved balanced-growth steady state (model money units, detrended by technology).

    Profiles are ``[K, J]`` (kind, age) per capita, each at the household's own year
    (detrended by that year's technology): ``assets`` on 1 January, ``consumption``,
    ``pension`` (entitlement in force), ``ia_balance`` (individual account on 1 January),
    ``income``. ``weights`` are the stable population shares ``[K, J]``.
    """

    params: EconomyParameters
    policy: Policy
    demography: DemographySteadyState
    year: int
    technology_growth: float
    population_growth: float
    kappa: float
    interest_rate: float
    wage: float  # per efficiency unit
    average_wage: float  # average covered wage
    bequest_ratio: float  # bequest per capita / average covered wage
    income_tax_rate: float
    residents_ratio: float
    weights: np.ndarray
    survival: np.ndarray  # [K, J]
    assets: np.ndarray
    consumption: np.ndarray
    pension: np.ndarray
    ia_balance: np.ndarray
    income: np.ndarray
    retired: np.ndarray  # share of the year drawing the employee pension [K, J]
    aggregates: dict = field(default_factory=dict)
    residual: float = 0.0
    # elastic labour only: hours, employment, retirement-option probabilities and values,
    # Kuhn-Tucker and Euler residuals of the reference cohort (see _evaluate_elastic)
    choice: SimpleNamespace | None = None

    def to_dataset(self) -> xr.Dataset:
        """Aggregates (per capita aged first..last age, detrended) and profiles as labelled data."""
        p = self.params
        kinds = {"group": list(core.GROUPS), "category": list(CATEGORIES)}
        ages = np.arange(p.first_age, p.last_age + 1)

        def by_kind(x):
            return (("group", "category", "age"), np.asarray(x).reshape(2, 3, -1))

        ds = xr.Dataset(
            {
                "assets_per_capita": by_kind(self.assets),
                "consumption_per_capita": by_kind(self.consumption),
                "pension_in_force": by_kind(self.pension),
                "population_share": by_kind(self.weights),
            },
            coords={"age": ages, **kinds},
        )
        for name in ("assets_per_capita", "consumption_per_capita", "pension_in_force"):
            ds[name].attrs.update(units="model money units per person, detrended",
                                  long_name=name.replace("_", " "))
        ds["population_share"].attrs.update(units="1", long_name="stable population share")
        for key, value in self.aggregates.items():
            ds[key] = value
            ds[key].attrs.update(units="per capita, detrended" if key not in _RATIOS else "1",
                                 long_name=key.replace("_", " "))
        ds.attrs.update(year=self.year, technology_growth=self.technology_growth,
                        population_growth=self.population_growth,
                        interest_rate=self.interest_rate, residual=self.residual)
        return ds


_RATIOS = {"interest_rate", "capital_output_ratio", "income_tax_rate",
           "household_saving_rate", "pension_spending_gdp", "replacement_rate",
           "bequest_ratio"}


def _reference_entry_year(params: EconomyParameters, year: int) -> int:
    """Entry year of the cohort whose statutory ages define the steady state of ``year``:
    the cohort born 61 years before (men of the original age 60 retire in ``year``)."""
    return year - 61 + params.first_age + 1


def _evaluate(params: EconomyParameters, policy: Policy, demo: DemographySteadyState,
              year: int, g: float, res_ratio: float, kappa: float, bequest_ratio: float,
              full: bool = False, state: dict | None = None):
    """Residuals (asset market, bequests) of the steady state at ``κ`` and the bequest ratio
    (``full``: every aggregate too); elastic labour: :func:`_evaluate_elastic`.

    Long because it is the steady state's one pass through the equations of the module
    docstring (prices, pensions, the budget, households, markets) in their order."""
    if params.elastic:
        return _evaluate_elastic(params, policy, demo, year, g, res_ratio, kappa,
                                 bequest_ratio, full, state)
    J = params.n_ages
    n = demo.population_growth
    cp = core.cohort_policy(params, policy, [_reference_entry_year(params, year)])
    eff = core.efficiency_by_kind(params)
    birth = _reference_entry_year(params, year) - params.first_age - 1
    kw = core.kind_weights(params, birth)  # [K]
    pop = demo.weights()[core.KIND_SEX] * kw[:, None]  # [K, J]
    surv = np.asarray(demo.survival)[core.KIND_SEX]  # [K, J]
    if params.closure == "small_open":
        r = params.world_interest_rate
        kappa = float(core.kappa_from_rate(params, r))
    r, w = core.firm_prices(params, kappa)
    work = cp.work[0]
    labour = float((pop * work * eff).sum())
    cov_eff = float((pop * work * eff)[core.COVERED].sum())
    cov_fte = float((pop * work)[core.COVERED].sum())
    ebar = cov_eff / cov_fte if cov_fte > 0 else labour / float((pop * work).sum())
    wbar = w * ebar
    output = params.tfp * kappa ** params.capital_share * labour
    growth = (1.0 + g) ** np.arange(J)
    lam = float(policy.indexation_share_in(year))

    def prices(tax):
        return core.CohortPrices(
            wage=w * growth, average_wage=wbar * growth,
            average_wage_before=wbar * growth / (1.0 + g),
            index=(1.0 + lam * g) ** np.arange(J),
            pooled_rate=policy.pooled_rate_in(year), income_tax=tax,
            bequest=bequest_ratio * wbar * growth, residents_ratio=res_ratio,
            gross_return=1.0 + r)

    zero = np.zeros((1, core.N_KINDS))
    start = core.CohortStart(age=np.zeros(1, dtype=np.int64), assets=zero, ia_balance=zero,
                             pension=zero)
    flows = core.cohort_budget(params, policy, cp, eff, prices(0.0), start)

    def agg(x):
        return float((pop * x[0] / growth).sum())

    benefits, contributions, residents = (agg(flows[k]) for k in
                                          ("benefits", "contributions", "residents"))
    fund = policy.fund_months / 12.0 * benefits
    gn = (1.0 + g) * (1.0 + n)
    subsidy = fund * gn - (1.0 + r) * fund - contributions + benefits
    gov = params.government_consumption_share * output
    tax = (gov + residents + subsidy) / (w * labour + benefits + residents)
    flows = core.cohort_budget(params, policy, cp, eff, prices(tax), start)
    K = core.N_KINDS
    hh = HouseholdInputs(
        gross_return=np.full((K, J), 1.0 + r), income=flows["income"][0],
        survival=surv,
        borrowing_limit=params.borrowing_limit * wbar * np.broadcast_to(growth, (K, J)),
        start=np.zeros(K, dtype=np.int64), initial_assets=np.zeros(K),
        discount_factor=params.discount_factor, crra=params.crra,
        taste=core.taste(params, work))
    sol = solve_households(hh)
    a_next = sol.assets_next / growth
    assets_next = float((pop * a_next).sum())
    pool = (1.0 + r) * float((pop * (1.0 - surv) * a_next).sum()) / gn
    if params.closure == "closed":
        res_assets = (assets_next + fund * gn - kappa * labour * gn) / output
    else:
        res_assets = 0.0
    res_beq = (bequest_ratio * wbar - pool) / wbar
    if not full:
        return np.array([res_assets, res_beq])
    assets = np.zeros((K, J))
    assets[:, 1:] = sol.assets_next[:, :-1] / growth[1:]
    consumption = sol.consumption / growth
    capital = kappa * labour
    cons = float((pop * consumption).sum())
    assets_start = float((pop * assets).sum()) + pool / (1.0 + r)
    disposable = (agg(flows["earnings"]) + benefits + residents) * (1 - tax) - contributions \
        + r * assets_start
    retirees = float((pop * cp.retired[0]).sum())
    details = dict(
        kappa=kappa, r=r, w=w, wbar=wbar, tax=tax, sol=sol, flows=flows, cp=cp, pop=pop,
        surv=surv, assets=assets, consumption=consumption,
        aggregates={
            **_aggregates(params, output=output, capital=capital, labour=labour, cons=cons,
                          gov=gov, gn=gn, assets_start=assets_start, fund=fund,
                          contributions=contributions, benefits=benefits, residents=residents,
                          subsidy=subsidy, r=r, tax=tax, disposable=disposable,
                          retirees=retirees, wbar=wbar, bequest_ratio=bequest_ratio),
        },
        residuals=np.array([res_assets, res_beq]),
    )
    return details


def _aggregates(params: EconomyParameters, *, output, capital, labour, cons, gov, gn,
                assets_start, fund, contributions, benefits, residents, subsidy, r, tax,
                disposable, retirees, wbar, bequest_ratio) -> dict[str, float]:
    """The steady state's reported aggregates (per efficiency unit of the plan's first year),
    the same for the inelastic and the elastic household: investment ``K (g n − 1 + δ)``,
    the saving rate ``(disposable − C) / disposable``, the replacement rate ``(B / retirees)
    / w̄`` and, closed economy only, the goods-market residual ``Y − C − G − I``."""
    investment = capital * (gn - 1.0 + params.depreciation)
    return {
        "output": output, "capital": capital, "labour_efficiency_units": labour,
        "consumption": cons, "government_consumption": gov, "investment": investment,
        "household_assets": assets_start, "fund_balance": fund,
        "pension_contributions": contributions, "pension_benefits": benefits,
        "residents_pensions": residents, "fiscal_subsidy": subsidy,
        "interest_rate": r, "capital_output_ratio": capital / output,
        "income_tax_rate": tax, "household_saving_rate": (disposable - cons) / disposable,
        "pension_spending_gdp": benefits / output,
        "replacement_rate": (benefits / retirees) / wbar if retirees > 0 else np.nan,
        "bequest_ratio": bequest_ratio,
        "goods_market_residual": (output - cons - gov - investment
                                  if params.closure == "closed" else np.nan),
    }


def _mix(x: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """``Σ_o P_o x_o``: ``x[O, K, J]``, ``probs[O, K]`` -> ``[K, J]``."""
    return (np.asarray(x) * probs[:, :, None]).sum(axis=0)


@dataclass(frozen=True)
class _ElasticSetup:
    """What an elastic steady state's evaluations share (one year, one policy): the options'
    policy arrays ``[O, K, J]``, which options are valid ``[O, K]``, the stable population and
    survival ``[K, J]``, growth factors ``(1+g)^i`` and the leisure scaling ``A_i^{1−σ}``."""

    cp: core.CohortPolicy
    valid: np.ndarray
    eff: np.ndarray
    pop: np.ndarray
    surv: np.ndarray
    growth: np.ndarray
    scale_u: np.ndarray
    indexation: float
    gn: float
    start: core.CohortStart


def _elastic_setup(params: EconomyParameters, policy: Policy, demo: DemographySteadyState,
                   year: int, g: float) -> _ElasticSetup:
    J = params.n_ages
    entry = _reference_entry_year(params, year)
    cp, valid = core.option_policy(params, policy, [entry])  # [O, K, J], valid [1, K, O]
    O = cp.work.shape[0]
    birth = entry - params.first_age - 1
    kw = core.kind_weights(params, birth)
    growth = (1.0 + g) ** np.arange(J)
    zero = np.zeros((O, core.N_KINDS))
    return _ElasticSetup(
        cp=cp, valid=valid[0].T, eff=core.efficiency_by_kind(params),
        pop=demo.weights()[core.KIND_SEX] * kw[:, None],
        surv=np.asarray(demo.survival)[core.KIND_SEX], growth=growth,
        scale_u=growth ** (1.0 - params.crra),
        indexation=float(policy.indexation_share_in(year)),
        gn=(1.0 + g) * (1.0 + demo.population_growth),
        start=core.CohortStart(age=np.zeros(O, dtype=np.int64), assets=zero, ia_balance=zero,
                               pension=zero))


def _elastic_households(params: EconomyParameters, policy: Policy, su: _ElasticSetup,
                        year: int, g: float, res_ratio: float, kappa: float,
                        bequest_ratio: float, ebar: float, tax: float, state: dict) -> dict:
    """Households' hours and retirement choices at given prices, and what they imply.

    Prices: ``κ`` (so ``r``, ``w``), the covered workers' mean efficiency ``ē`` (so the
    average covered wage ``W̄ = w ē``), the income tax ``τ`` and the bequest ratio. Every
    option's problem is solved exactly (:func:`models.economy.household.
    solve_households_hours`, warm-started from ``state["hours"]``); the logit gives the
    probabilities. Returns the aggregates and the four residuals of the elastic steady state:
    asset market and bequests (as :func:`_evaluate`), ``(ē − ē(h))/ē(h)`` (the average covered
    wage is the one the chosen hours imply) and ``τ − τ(h)`` (the budget balances at the chosen
    hours).

    Long because it is one pass from prices to the four residuals (budget flows, households,
    choice, aggregation), returning the pieces :func:`_elastic_details` reports.
    """
    J, K = params.n_ages, core.N_KINDS
    cp, valid_ok, growth = su.cp, su.valid, su.growth
    O = cp.work.shape[0]
    r, w = core.firm_prices(params, kappa)
    wbar = w * ebar
    prices = core.CohortPrices(
        wage=w * growth, average_wage=wbar * growth,
        average_wage_before=wbar * growth / (1.0 + g),
        index=(1.0 + su.indexation * g) ** np.arange(J),
        pooled_rate=policy.pooled_rate_in(year), income_tax=tax,
        bequest=bequest_ratio * wbar * growth, residents_ratio=res_ratio,
        gross_return=1.0 + r)
    full_flows = core.cohort_budget(params, policy, cp, su.eff, prices, su.start)
    z, a, pi = core.hours_margin(cp, prices, full_flows, su.start)
    sel = valid_ok.ravel()  # the problems solved: valid options only
    n_sel = int(sel.sum())
    flat = lambda x: np.broadcast_to(x, (O, K, J)).reshape(O * K, J)[sel]  # noqa: E731
    m_taste = core.taste(params, cp.work)
    hh = HouseholdInputs(
        gross_return=np.full((n_sel, J), 1.0 + r), income=flat(full_flows["income"]),
        survival=flat(su.surv), borrowing_limit=params.borrowing_limit * wbar * flat(growth),
        start=np.zeros(n_sel, dtype=np.int64), initial_assets=np.zeros(n_sel),
        discount_factor=params.discount_factor, crra=params.crra,
        taste=None if m_taste is None else flat(m_taste))
    lab = HoursInputs(
        hours_weight=flat(params.hours_disutility * cp.work * su.scale_u),
        net_earnings=flat(z), account_credit=flat(a), account_payout=flat(pi),
        frisch=params.frisch_elasticity,
        utility_shift=flat(-params.participation_disutility * cp.work * su.scale_u))
    hours0 = state.get("hours")
    sol = solve_households_hours(hh, lab, hours0=None if hours0 is None else flat(hours0))
    values = np.full(O * K, -np.inf)
    values[sel] = lifetime_utility_hours(hh, lab, sol)
    values = values.reshape(O, K)
    probs = core.choice_probabilities(values.T, params.retirement_taste_scale, valid_ok.T).T
    hours = np.ones((O * K, J))
    hours[sel] = sol.hours
    hours = hours.reshape(O, K, J)
    state["hours"] = hours
    pop = su.pop
    worked = cp.work * hours
    work_mix = (cp.work * probs[:, :, None]).sum(0)
    eff_mix = _mix(worked, probs) * su.eff
    labour = float((pop * eff_mix).sum())
    cov_eff = float((pop * eff_mix)[core.COVERED].sum())
    cov_fte = float((pop * work_mix)[core.COVERED].sum())
    ebar_h = cov_eff / cov_fte if cov_fte > 0 else labour / float((pop * work_mix).sum())
    flows = core.cohort_budget(params, policy, dataclasses.replace(cp, work=worked), su.eff,
                               prices, su.start)

    def agg(x):
        return float((pop * _mix(x, probs) / growth).sum())

    benefits, contributions, residents, earnings = (
        agg(flows[k]) for k in ("benefits", "contributions", "residents", "earnings"))
    output = params.tfp * kappa ** params.capital_share * labour
    fund = policy.fund_months / 12.0 * benefits
    subsidy = fund * su.gn - (1.0 + r) * fund - contributions + benefits
    gov = params.government_consumption_share * output
    tax_h = (gov + residents + subsidy) / (w * labour + benefits + residents)
    full_sol = np.zeros((2, O * K, J))
    full_sol[0, sel], full_sol[1, sel] = sol.assets_next, sol.consumption
    a_next = _mix(full_sol[0].reshape(O, K, J), probs) / growth
    pool = (1.0 + r) * float((pop * (1.0 - su.surv) * a_next).sum()) / su.gn
    res_assets = ((float((pop * a_next).sum()) + fund * su.gn - kappa * labour * su.gn) / output
                  if params.closure == "closed" else 0.0)
    residuals = np.array([res_assets, (bequest_ratio * wbar - pool) / wbar,
                          (ebar - ebar_h) / ebar_h, tax - tax_h])
    return dict(
        r=r, w=w, wbar=wbar, tax=tax, output=output, labour=labour, fund=fund,
        subsidy=subsidy, gov=gov, benefits=benefits, contributions=contributions,
        residents=residents, earnings=earnings, pool=pool, a_next=a_next,
        consumption=_mix(full_sol[1].reshape(O, K, J), probs) / growth, flows=flows,
        probs=probs, values=values, hours=hours, worked=worked, work_mix=work_mix,
        hh=hh, lab=lab, sol=sol, residuals=residuals, ebar_implied=ebar_h, tax_implied=tax_h)


def _evaluate_elastic(params: EconomyParameters, policy: Policy, demo: DemographySteadyState,
                      year: int, g: float, res_ratio: float, kappa: float, bequest_ratio: float,
                      full: bool = False, state: dict | None = None, tol: float = 1e-13,
                      max_iter: int = 500):
    """:func:`_evaluate` with elastic hours and the retirement choice (``params.elastic``).

    At given ``κ`` and bequest ratio, the average covered wage and the tax that the chosen
    hours imply are a fixed point (:func:`_elastic_households` at ``ē`` and ``τ`` gives
    ``ē(h)`` and ``τ(h)``), iterated from ``state`` (the last solution) until both change by
    less than ``tol``. :func:`solve_steady_state` solves the four equations together instead
    (Powell's hybrid method) and calls this only where ``κ`` is bracketed and at the solution.
    """
    state = {} if state is None else state
    if "setup" not in state:
        state["setup"] = _elastic_setup(params, policy, demo, year, g)
    su = state["setup"]
    if params.closure == "small_open":
        kappa = float(core.kappa_from_rate(params, params.world_interest_rate))
    if "ebar" not in state:
        state.update(ebar=float(np.average(su.eff[core.COVERED],
                                           weights=(su.pop * su.cp.work[su.cp.work.shape[0]
                                                                        // 2])[core.COVERED])),
                     tax=0.1)
    for _ in range(max_iter):
        d = _elastic_households(params, policy, su, year, g, res_ratio, kappa, bequest_ratio,
                                state["ebar"], state["tax"], state)
        change = max(abs(d["residuals"][2]), abs(d["residuals"][3]))
        state.update(ebar=d["ebar_implied"], tax=d["tax_implied"])
        if change < tol:
            break
    else:
        raise SteadyStateError(f"the average covered wage and the tax of {year} with elastic "
                               f"labour did not settle (last change {change:.2e})")
    if not full:
        return d["residuals"][:2]
    return _elastic_details(params, su, kappa, bequest_ratio, d)


def _elastic_details(params: EconomyParameters, su: _ElasticSetup, kappa: float,
                     bequest_ratio: float, d: dict) -> dict:
    """The reported steady state of :func:`_evaluate_elastic` at its solution."""
    cp, pop, probs, growth = su.cp, su.pop, d["probs"], su.growth
    K, J = pop.shape
    assets = np.zeros((K, J))
    assets[:, 1:] = d["a_next"][:, :-1] * growth[:-1] / growth[1:]
    capital = kappa * d["labour"]
    cons = float((pop * d["consumption"]).sum())
    assets_start = float((pop * assets).sum()) + d["pool"] / (1.0 + d["r"])
    tax = d["tax"]
    disposable = (d["earnings"] + d["benefits"] + d["residents"]) * (1 - tax) \
        - d["contributions"] + d["r"] * assets_start
    retired_mix = _mix(cp.retired, probs)
    retirees = float((pop * retired_mix).sum())
    ret_age = (probs * cp.statutory_age).sum(0)  # [K]
    hh, lab, sol = d["hh"], d["lab"], d["sol"]
    work_mix = d["work_mix"]
    choice = SimpleNamespace(
        retired=retired_mix[None], probabilities=probs, option_ages=cp.statutory_age,
        valid=su.valid, values=d["values"], hours=d["hours"], work=cp.work,
        employment=work_mix, hours_mean=np.divide(
            _mix(d["worked"], probs), work_mix, out=np.zeros((K, J)), where=work_mix > 0),
        kt=kuhn_tucker_residuals(hh, lab, sol), euler=euler_errors_hours(hh, sol),
        household=hh, labour_inputs=lab, solution=sol, iterations=1)
    mixed = {k: _mix(v, probs)[None] for k, v in d["flows"].items() if np.ndim(v) == 3}
    return dict(
        kappa=kappa, r=d["r"], w=d["w"], wbar=d["wbar"], tax=tax, sol=sol, flows=mixed,
        cp=choice, pop=pop, surv=su.surv, assets=assets, consumption=d["consumption"],
        aggregates={
            **_aggregates(params, output=d["output"], capital=capital, labour=d["labour"],
                          cons=cons, gov=d["gov"], gn=su.gn, assets_start=assets_start,
                          fund=d["fund"], contributions=d["contributions"],
                          benefits=d["benefits"], residents=d["residents"],
                          subsidy=d["subsidy"], r=d["r"], tax=tax, disposable=disposable,
                          retirees=retirees, wbar=d["wbar"], bequest_ratio=bequest_ratio),
            "mean_retirement_age_employees": float(
                (ret_age * (pop * retired_mix).sum(1))[core.COVERED].sum()
                / (pop * retired_mix).sum(1)[core.COVERED].sum()),
        },
        residuals=d["residuals"][:2],
        choice=choice,
    )


def _solve_elastic_jointly(params: EconomyParameters, policy: Policy,
                           demo: DemographySteadyState, year: int, g: float, res_ratio: float,
                           guess: tuple[float, float, float, float], state: dict, tol: float
                           ) -> tuple[float, float] | None:
    """The elastic steady state's equations together (asset market, bequests, the average
    covered wage and the budget) in ``(log κ, b, ē, τ)`` by Powell's hybrid method from
    ``guess = (κ, b, ē, τ)`` (closed economy; small open: ``κ`` fixed). Returns ``(κ, b)``
    with ``state`` at the solution, or None if it fails (the caller brackets ``κ``)."""
    if "setup" not in state:
        state["setup"] = _elastic_setup(params, policy, demo, year, g)
    su = state["setup"]
    closed = params.closure == "closed"
    kappa_open = float(core.kappa_from_rate(params, params.world_interest_rate))

    def unpack(x):
        return (float(np.exp(x[0])), *x[1:]) if closed else (kappa_open, *x)

    def fun(x):
        kappa, b, ebar, tax = unpack(x)
        res = _elastic_households(params, policy, su, year, g, res_ratio, kappa, b, ebar, tax,
                                  state)["residuals"]
        return res if closed else res[1:]

    x0 = np.array([np.log(guess[0]), *guess[1:]]) if closed else np.array(guess[1:])
    try:
        sol = root(fun, x0, method="hybr", tol=tol)
    except (ValueError, FloatingPointError, RuntimeError):
        return None
    if not sol.success or np.max(np.abs(fun(sol.x))) > 1e-10:
        return None
    kappa, b, ebar, tax = unpack(sol.x)
    state.update(ebar=float(ebar), tax=float(tax))
    return kappa, float(b)


def _bracket_kappa(params: EconomyParameters, year: int, bequest_fixed) -> float:
    """``κ`` by Brent's method on the asset market, bracketing interest rates from
    ``−min(δ, 0.05)`` to 0.5 (widened up to 4 for long model periods), the bequest equation
    solved inside (``bequest_fixed(κ) -> (b, asset-market residual)``)."""
    lo_r, hi_r = -min(params.depreciation, 0.05) + 1e-4, 0.5
    k_hi = float(core.kappa_from_rate(params, lo_r))
    f_hi = bequest_fixed(k_hi)[1]
    for hi_r in (0.5, 1.0, 2.0, 4.0):  # widen the bracket (long model periods)
        k_lo = float(core.kappa_from_rate(params, hi_r))
        f_lo = bequest_fixed(k_lo)[1]
        if np.isfinite(f_lo) and f_lo * f_hi <= 0:
            break
    if not (np.isfinite(f_lo) and np.isfinite(f_hi)) or f_lo * f_hi > 0:
        raise SteadyStateError(
            f"steady state of {year}: no interest rate in [{lo_r:.3f}, {hi_r:.3f}] clears "
            f"the asset market (asset-market residual / output {f_hi:.3e} at r = {lo_r:.3f}"
            f", {f_lo:.3e} at r = {hi_r:.3f}); check the discount factor and growth rates")
    return brentq(lambda k: bequest_fixed(k)[1], k_lo, k_hi, xtol=1e-14, rtol=1e-14,
                  maxiter=200)


def _elastic_guess(params: EconomyParameters, demography: DemographySteadyState,
                   policy: Policy, year: int, g: float, residents_ratio: float, tol: float
                   ) -> tuple[float, float, float, float]:
    """``(κ, b, ē, τ)`` of the same economy with inelastic labour (the elastic solve's start)."""
    fixed = params.replace(hours_disutility=0.0, participation_disutility=0.0,
                           retirement_choice=False)
    ss = solve_steady_state(fixed, demography, policy, year=year, technology_growth=g,
                            residents_ratio=residents_ratio, tol=tol)
    return ss.kappa, ss.bequest_ratio, ss.average_wage / ss.wage, ss.income_tax_rate


def solve_steady_state(params: EconomyParameters, demography: DemographySteadyState,
                       policy: Policy, *, year: int, technology_growth: float | None = None,
                       residents_ratio: float | None = None, base_year: int | None = None,
                       tol: float = 1e-11, guess: tuple[float, float] | None = None
                       ) -> SteadyState:
    """Solve the balanced-growth steady state of ``year``'s policy and technology growth.

    Parameters
    ----------
    params : economy parameters (money in model units).
    demography : the stable population (:func:`demography_steady_state`).
    policy : pension policy; its values for ``year`` apply (pooled rate in ``year``, statutory
        ages of the cohort born in ``year − 61``, minimum years of its retirement year).
    year : calendar year whose policy and technology growth define the steady state.
    technology_growth : override of ``params.technology_growth_rate(year)``.
    residents_ratio : residents' pension / average covered wage (default: its value in
        ``year`` from :func:`models.economy.core.residents_ratio` with ``base_year``).
    guess : optional ``(κ, bequest ratio)`` to start from (e.g. a nearby steady state).

    Method: Powell's hybrid method from the guess (elastic labour: the four equations of
    :func:`_solve_elastic_jointly` from the inelastic economy's solution); if it fails,
    Brent's method on ``κ`` with the bequest equation solved inside.

    Long because of its documented parameters and the two small closures (the residuals
    and the bequest equation at given ``κ``) that the methods share.

    Raises
    ------
    SteadyStateError naming the equation with the largest residual.
    """
    g = float(params.technology_growth_rate(year) if technology_growth is None
              else technology_growth)
    if residents_ratio is None:
        residents_ratio = float(core.residents_ratio(params, base_year or year, [year])[0])
    closed = params.closure == "closed"
    state = {"b": 0.02}
    choices: dict = {}  # elastic labour: the setup, the last hours, covered wage and tax

    def residuals(kappa: float, b: float) -> np.ndarray:
        return _evaluate(params, policy, demography, year, g, residents_ratio, kappa, b,
                         state=choices)

    def bequest_fixed(kappa: float) -> tuple[float, float]:
        """Secant iteration on the bequest equation at a given ``κ`` (nearly linear in b)."""
        b0 = state["b"]
        r0 = residuals(kappa, b0)
        if abs(r0[1]) < tol:
            return b0, r0[0]
        b1 = max(b0 - r0[1], 0.0)  # one fixed-point step: b = pool / W̄ >= 0
        for _ in range(50):
            r1 = residuals(kappa, b1)
            if abs(r1[1]) < tol:
                break
            slope = (r1[1] - r0[1]) / (b1 - b0) if b1 != b0 else 1.0
            b0, r0, b1 = b1, r1, max(b1 - r1[1] / (slope if slope != 0 else 1.0), 0.0)
        state["b"] = b1
        return b1, r1[0]

    kappa = None
    if params.elastic:  # all four equations at once, from the inelastic economy
        start = _elastic_guess(params, demography, policy, year, g, residents_ratio, tol)
        if guess is not None:
            start = (*guess, *start[2:])
        found = _solve_elastic_jointly(params, policy, demography, year, g, residents_ratio,
                                       start, choices, tol)
        if found is not None:
            kappa, state["b"] = found
    elif closed:  # Newton-type steps from the guess first; the bracket below if they fail
        guess = guess or (float(core.kappa_from_rate(params, 0.05)), 0.03)
        try:
            state["b"] = guess[1]
            sol = root(lambda x: residuals(np.exp(x[0]), x[1]),  # log κ keeps κ > 0
                       np.array([np.log(guess[0]), guess[1]]), method="hybr", tol=tol)
            if sol.success and np.max(np.abs(residuals(np.exp(sol.x[0]), sol.x[1]))) < 1e-10:
                kappa, state["b"] = float(np.exp(sol.x[0])), float(sol.x[1])
        except (ValueError, FloatingPointError):
            kappa = None
    if kappa is None:
        kappa = _bracket_kappa(params, year, bequest_fixed) if closed else \
            float(core.kappa_from_rate(params, params.world_interest_rate))
    b_star, _ = bequest_fixed(kappa)
    resid = residuals(kappa, b_star)
    if not closed:
        resid = resid[1:]
    if not np.all(np.isfinite(resid)) or np.max(np.abs(resid)) > 1e-8:
        names = ["asset market", "bequests"] if closed else ["bequests"]
        worst = int(np.nanargmax(np.abs(resid)))
        raise SteadyStateError(
            f"steady state of {year} did not converge: largest residual "
            f"{names[worst]} = {resid[worst]:.3e} at kappa = {kappa:.6g}")
    d = _evaluate(params, policy, demography, year, g, residents_ratio, kappa, b_star,
                  full=True, state=choices)
    return _steady_state(params, policy, demography, year, g, residents_ratio, b_star, d,
                         float(np.max(np.abs(resid))))


def _steady_state(params: EconomyParameters, policy: Policy, demography: DemographySteadyState,
                  year: int, g: float, residents_ratio: float, bequest_ratio: float, d: dict,
                  residual: float) -> SteadyState:
    """The :class:`SteadyState` of an evaluation ``d`` at the solution (``full=True``)."""
    flows = d["flows"]
    growth = (1.0 + g) ** np.arange(params.n_ages)
    ia = np.zeros_like(d["assets"])
    credit = np.cumsum(flows["ia_flow"][0] / growth, axis=-1)
    ia[:, 1:] = credit[:, :-1]
    return SteadyState(
        params=params, policy=policy, demography=demography, year=int(year),
        technology_growth=g,
        population_growth=demography.population_growth, kappa=float(d["kappa"]),
        interest_rate=float(d["r"]), wage=float(d["w"]), average_wage=float(d["wbar"]),
        bequest_ratio=float(bequest_ratio), income_tax_rate=float(d["tax"]),
        residents_ratio=float(residents_ratio), weights=d["pop"], survival=d["surv"],
        assets=d["assets"], consumption=d["consumption"],
        pension=flows["pension_in_force"][0] / growth, ia_balance=ia,
        income=flows["income"][0] / growth, retired=d["cp"].retired[0],
        aggregates=d["aggregates"], residual=residual,
        choice=d.get("choice"),
    )
