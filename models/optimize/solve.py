"""Solve the policy problem: the inner LP (decomposed, or whole from arrays, or the Pyomo
reference) under an outer search over retirement delays and the indexation of pensions in
payment.

Method (and why it is exact):

1. *Inner problem.* For a fixed whole-month retirement-delay path, every account flow is
   linear in the pooled rate, the reserve draws and the transfers (:mod:`models.optimize.data`),
   so the extensive form (:mod:`models.optimize.model`) is an exact linear program (a MILP in
   the chance-constrained variant). HiGHS solves it (:func:`solve_inner`): by default by
   L-shaped decomposition over the paths (:mod:`models.optimize.decompose`) to the relative
   gap ``[optimization.solver] tolerance``, or as one extensive form assembled from arrays
   (:mod:`models.optimize.lp`), or through the Pyomo reference (:mod:`models.optimize.model`),
   which the tests compare both against. The chosen policy re-simulated with the pension
   accounts reproduces the model's fund and reserve path to solver precision.
2. *Outer search over delays.* The expected cost ``V(δ)`` of the best inner decisions is a
   function of the delay knots ``δ[node, knot, category]``. Its gradient comes from the inner
   duals by the envelope theorem — ``∂V/∂CB = y (τ + τ_IA) + w_c δ_t τ`` and
   ``∂V/∂E = −y + μ floor/12`` — chained with the change of the per-person rates when every
   cohort's delay rises by one month (cohorts are separable, so one re-computation gives the
   whole gradient). A trust-region step solves a small LP over the knot polytope (bounds, caps,
   non-decreasing, pace), whose vertices are whole months (interval constraints with integer
   data are totally unimodular); a step is kept only if the exactly re-solved ``V`` falls.
   The duals' derivative can mislead for a finite move (``V`` is not convex in the knots):
   :func:`models.optimize.search.polish_and_certify` then polishes the knots by a pattern
   search and certifies the result (every knot's ±1 and ±6 month moves solved exactly).
3. *Indexation (optional lever).* Expenditure is non-linear in the indexation share
   ``s(t)`` (pensions in payment compound ``Π(1 + s g)``), so the share path is an outer
   lever too: knots ``s[node, knot]`` (non-anticipative like the delays) in the same
   trust-region step, within ``[floor, ceiling]``. For fixed knots the inner problem stays an
   exact LP; the gradient is the duals' ``∂V/∂E`` less the cut's price ``w π δ`` times the
   exact forward sensitivity ``∂E/∂s`` of the accounts' pension recursion
   (:func:`models.pension.accounts.indexation_sensitivity`). The cut's cost
   ``w Σ π δ (E_calibrated − E)`` is a constant of the LP (``ScenarioData.indexation_cost``).
"""

from __future__ import annotations

import io
import logging
import time
from contextlib import redirect_stdout
from dataclasses import dataclass, field, replace

import numpy as np
import pyomo.environ as pyo
import xarray as xr
from pyomo.contrib.solver.common.factory import SolverFactory
from scipy.optimize import linprog

from models.config import CATEGORIES, Calibration, OptimizationSettings
from models.optimize.data import (
    CATEGORY_BLOCK_PATHS,
    MONEY_SCALE,
    CategoryPopulation,
    PolicyRates,
    ScenarioData,
    capacity_applies,
    capacity_share,
    constraint_variant,
    delay_by_year,
    flows_by_blocks,
    gdp_by_path_year,
    interpolation_weights,
    knot_years,
    max_delay_by_year,
    new_retirees_by_blocks,
    new_retirees,
    policy_rates,
    transfer_capacity,
)
from models.optimize.decompose import WarmStart, solve_decomposed
from models.optimize.lp import InnerSolution, SolverFailure, solve_extensive
from models.optimize.model import build_extensive_form
from models.optimize.objective import (
    delay_price,
    discount_factors,
    discount_rates,
    squared_change_cost,
)
from models.optimize.rules import (
    forced_transfer_excess,
    forced_transfers,
    prefund_shares,
    recourse_basis,
    rule_applies,
    split_by_capacity,
)
from models.optimize.tree import ScenarioTree, build_tree
from models.pension.accounts import (
    BaseYearFit,
    indexation_sensitivity,
    project_accounts,
    reach_year,
)

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- inner solve
def _solver(settings: OptimizationSettings):
    return SolverFactory("highs")


def _values(var, shape) -> np.ndarray:
    out = np.zeros(shape)
    for idx, v in var.items():
        out[idx] = v.value if v.value is not None else np.nan
    return out


def decomposes(data: ScenarioData, method: str | None = None) -> bool:
    """Whether :func:`solve_inner` solves ``data`` by the L-shaped decomposition: that
    ``method`` (default: the setting), the hard variant and more than one path."""
    method = method or data.settings.solver.method
    return method == "decomposition" and constraint_variant(data) == "hard" \
        and data.n_paths > 1


def solve_inner(data: ScenarioData, rescue: bool = False, duals: bool = True,
                fixed_z: np.ndarray | None = None, workers: int = 1,
                method: str | None = None, warm: WarmStart | None = None) -> InnerSolution:
    """The inner problem for a fixed delay path, by ``method`` (default: the setting
    ``[optimization.solver] method``):

    * ``"decomposition"``: L-shaped over the paths (:mod:`models.optimize.decompose`), the
      recourse chunks on ``workers`` processes; the hard variant and the rescue problem of
      more than one path (one path, as in the value of information's wait-and-see solves, is
      one small LP: solved whole);
    * ``"extensive"``: the extensive form from arrays (:mod:`models.optimize.lp`); also what
      the decomposition routes the CVaR variant and the chance variant with fixed binaries to;
    * ``"pyomo"``: the Pyomo reference (:func:`solve_inner_pyomo`); also the chance MILP.

    ``warm``: a nearby decomposition's :class:`models.optimize.decompose.WarmStart`
    (``InnerSolution.warm``), used when this solve decomposes too (the search's moves).
    """
    method = method or data.settings.solver.method
    kind = constraint_variant(data)
    if method == "pyomo" or (kind == "chance" and fixed_z is None):
        return with_forced_transfers(data, solve_inner_pyomo(data, rescue, duals, fixed_z),
                                     rescue)
    if decomposes(data, method):
        # under a draw rule its coefficients are first-stage variables of the master
        return with_forced_transfers(data, solve_decomposed(data, rescue=rescue,
                                                            workers=workers, warm=warm),
                                     rescue)
    return with_forced_transfers(data, solve_extensive(data, rescue=rescue, duals=duals,
                                                       fixed_z=fixed_z), rescue)


def with_forced_transfers(data: ScenarioData, sol: InnerSolution, rescue: bool
                          ) -> InnerSolution:
    """Under a reserve-draw rule (hard variant), the solver's transfers replaced by the ones
    the shortfall forces (:func:`models.optimize.rules.forced_transfers`: non-anticipative),
    the fund re-simulated, the objective moved by their cost difference (zero when the
    discount rate is at least the fund's return). With a fiscal capacity, also the transfers
    pre-funding the share of the capacity the solver uses on average each year
    (:func:`models.optimize.rules.prefund_shares`), kept (``sol.prefund``) when cheaper."""
    if rescue or sol.status == "infeasible" or not rule_applies(data) \
            or constraint_variant(data) != "hard":
        return sol
    kappa = prefund_shares(data, sol.X)  # None without a capacity
    best = None
    for prefund in [None] + ([] if kappa is None else [kappa]):
        money, B, A = forced_transfers(data, sol.tau, sol.D, prefund)
        X, R = split_by_capacity(data, money)
        excess = forced_transfer_excess(data, sol.X, X, sol.R, R)
        if best is None or excess < best[0] - 1e-12 * (1.0 + abs(sol.objective)):
            best = (excess, X, R, B, A, prefund)
    excess, X, R, B, A, prefund = best
    how = "just in time" if prefund is None else "pre-funding the capacity's mean share"
    return replace(sol, X=X, R=sol.R if R is None else R, B=B, A=A, prefund=prefund,
                   objective=sol.objective + excess,
                   log=sol.log + f"forced transfers ({how}): cost {excess:+.3g} trillion "
                                 "against the solver's\n")


def solve_inner_pyomo(data: ScenarioData, rescue: bool = False, duals: bool = True,
                      fixed_z: np.ndarray | None = None) -> InnerSolution:
    """Build the Pyomo extensive form (the reference) and solve it with HiGHS."""
    t0 = time.perf_counter()
    m = build_extensive_form(data, rescue=rescue)
    if fixed_z is not None and hasattr(m, "z"):
        for p, z in enumerate(fixed_z):  # a fixed binary is a continuous variable: an LP
            m.z[p].domain = pyo.Reals
            m.z[p].fix(round(float(z)))
    build_s = time.perf_counter() - t0
    opts = data.settings.solver
    mip = hasattr(m, "z") and fixed_z is None
    solver_options = {"time_limit": opts.time_limit_s, "threads": opts.threads}
    if mip:
        solver_options["mip_rel_gap"] = opts.mip_gap
    t1 = time.perf_counter()
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        results = _solver(data.settings).solve(
            m, tee=True, load_solutions=False, raise_exception_on_nonoptimal_result=False,
            solver_options=solver_options)
    solve_s = time.perf_counter() - t1
    term = str(results.termination_condition).split(".")[-1]
    P, T = data.n_paths, len(data.years)
    empty = np.full((P, T), np.nan)
    if term in ("provenInfeasible", "locallyInfeasible", "infeasibleOrUnbounded"):
        return InnerSolution("infeasible", np.inf, empty, {}, empty, empty, empty, empty, empty,
                             None, None, None, None, build_s, solve_s, buffer.getvalue(), mip,
                             method="pyomo")
    if str(results.solution_status).split(".")[-1] not in ("optimal", "feasible"):
        raise SolverFailure(f"HiGHS stopped with {term} and no usable solution")
    results.solution_loader.load_vars()
    status = "optimal" if term == "convergenceCriteriaSatisfied" else f"{term}_feasible"

    def block_values(name: str) -> np.ndarray:
        out = np.zeros((P, T))
        for p in range(P):
            comp = getattr(m.paths[p], name, None)
            if comp is None:
                return None  # type: ignore[return-value]
            out[p] = [comp[t].value or 0.0 for t in range(T)]
        return out

    tau_node = {k: v.value for k, v in m.tau.items()}
    tau = np.array([[tau_node[(int(data.node_of_year[p, t]), t)] for t in range(T)]
                    for p in range(P)])
    dual_b = dual_l = dual_h = None
    if duals and not mip and not rescue:
        d = results.solution_loader.get_duals()
        dual_b = np.array([[d[m.paths[p].balance[t]] for t in range(T)] for p in range(P)])
        dual_l = np.array([[d[m.paths[p].liquidity[t]] for t in range(T)] for p in range(P)])
        dual_h = np.array([d[m.paths[p].horizon] for p in range(P)])
    return InnerSolution(
        status=status, objective=float(pyo.value(m.objective)), tau=tau, tau_node=tau_node,
        B=block_values("B"), A=block_values("A"), D=block_values("D"), X=block_values("X"),
        U=block_values("U"), R=block_values("R") if rescue or capacity_applies(data) else None,
        dual_balance=dual_b,
        dual_liquidity=dual_l, dual_horizon=dual_h, build_s=build_s, solve_s=solve_s,
        log=buffer.getvalue(), mip=mip, method="pyomo")


# ----------------------------------------------------------------------------- problem setup
@dataclass
class PolicyProblem:
    """Everything fixed across the outer iterations."""

    cal: Calibration
    settings: OptimizationSettings
    fit: BaseYearFit
    tree: ScenarioTree
    years: np.ndarray  # all simulated years (base .. last)
    ages: np.ndarray
    opt_mask: np.ndarray  # [year] optimized years
    pop_c: CategoryPopulation  # [P, Y, A, C] on demand: pop_c[paths]
    weights_population: xr.DataArray  # [year, age, category]
    population: xr.DataArray  # [path, year, age, sex]
    knot_yrs: np.ndarray
    knot_owner_stage: np.ndarray  # [knot]
    max_knot_delay: np.ndarray  # [knot, category] months
    interp: np.ndarray  # [year(opt), knot]
    balance_start: np.ndarray  # [P]
    reserve_start: np.ndarray  # [P]
    discount: np.ndarray  # [T]
    fund_return: np.ndarray  # [year] all simulated years
    wage_index: xr.DataArray | None = None  # [year]: the economy's wages, or None
    # [year] all simulated years: the NSSF's real return (the return rule's with the
    # economy's prices, else the calibrated one)
    reserve_return: np.ndarray | None = None
    # the reserve-draw rule's basis Φ[path, year(opt), j] (models/optimize/rules.py)
    recourse_basis: np.ndarray | None = None
    # yuan per person-month of delay per optimized year (models/optimize/objective.py);
    # None: the fixed price of the settings
    delay_price: np.ndarray | None = None
    # the indexation lever: knot years, owning stages, interpolation weights [year(opt), knot]
    # and the share's bounds (fraction of real wage growth)
    index_knot_yrs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    index_owner_stage: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    index_interp: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    index_bounds: tuple[float, float] = (0.0, 0.0)
    cache: dict = field(default_factory=dict)
    # processes for the decomposition's recourse chunks (results identical for any count)
    workers: int = 1
    # fiscal capacity: GDP [path, year] (yuan, all simulated years) and the share of it extra
    # transfers may reach (None: unlimited), models.optimize.data
    gdp: np.ndarray | None = None
    capacity_share: float | None = None
    # the economy's retirement distribution [birth_year, category, offset] in the accounts'
    # schedule (models.optimize.data.policy_rates); None: the law's window shares
    retirement_distribution: xr.DataArray | None = None

    @property
    def opt_years(self) -> np.ndarray:
        return self.years[self.opt_mask]

    @property
    def calibrated_indexation(self) -> float:
        return self.cal.pension.benefit.indexation_wage_share.value

    @property
    def indexation_enabled(self) -> bool:
        return self.settings.indexation.enabled

    def delay_price_per_year(self, settings: OptimizationSettings) -> np.ndarray:
        """Yuan per person-month of delay per optimized year: the problem's (economy's or
        wage-indexed) when set up, else the fixed price of ``settings``."""
        if self.delay_price is not None and settings is self.settings:
            return self.delay_price
        return np.full(int(self.opt_mask.sum()), settings.objective.delay_cny_per_person_month)


def observable_indicator(population: xr.DataArray, name: str) -> np.ndarray:
    """``[path, year]`` indicator ranked by the tree rule, per block of
    :data:`models.optimize.data.CATEGORY_BLOCK_PATHS` paths (a path's indicator is made of
    its own numbers: the same bits, a block's temporaries instead of all paths')."""
    if "path" not in population.dims:
        population = population.expand_dims(path=[0])
    n = population.sizes["path"]
    return np.concatenate([_indicator_block(population.isel(
        path=slice(lo, lo + CATEGORY_BLOCK_PATHS)), name)
        for lo in range(0, n, CATEGORY_BLOCK_PATHS)])


def _indicator_block(population: xr.DataArray, name: str) -> np.ndarray:
    """:func:`observable_indicator` of some paths (``population`` has the ``path`` dim)."""
    pop = population.sum("sex")
    if name == "old_age_dependency":
        old = pop.sel(age=pop["age"] >= 65).sum("age")
        work = pop.sel(age=(pop["age"] >= 20) & (pop["age"] <= 64)).sum("age")
        return (old / work).transpose("path", "year").values
    if name == "population_60plus":
        return pop.sel(age=pop["age"] >= 60).sum("age").transpose("path", "year").values
    return pop.sel(age=0).transpose("path", "year").values  # survivors of the year's births


def observed_state(population: xr.DataArray, names: list[str]) -> np.ndarray:
    """``[path, year, feature]``: the indicators ``names`` (:func:`observable_indicator`)."""
    if "path" not in population.dims:
        population = population.expand_dims(path=[0])
    shape = (population.sizes["path"], population.sizes["year"], 0)
    return (np.stack([observable_indicator(population, name) for name in names], axis=-1)
            if names else np.zeros(shape))


def _policy_tree(settings: OptimizationSettings, population: xr.DataArray) -> ScenarioTree:
    """The scenario tree of the settings on the paths of ``population`` (stages every
    ``stage_every_years`` from the first decision year; nodes grouped on the observables)."""
    years = population["year"].values
    first = settings.tree.first_decision_year
    if not years[0] < first <= years[-1]:
        raise ValueError(f"first_decision_year {first} must lie in ({years[0]}, {years[-1]}]")
    n_stages = len(settings.tree.branching) + 1
    stage_years = first + settings.tree.stage_every_years * np.arange(n_stages)
    if stage_years[-1] > years[-1]:
        raise ValueError(f"the last stage would start in {stage_years[-1]}, after the horizon")
    tree_observables = [settings.tree.observable] + list(settings.tree.extra_observables)
    return build_tree(observed_state(population, tree_observables), years,
                      stage_years, settings.tree.branching, settings.tree.grouping)


def _start_balances(history: xr.DataArray, zero: PolicyRates, fit: BaseYearFit,
                    cal: Calibration, r_fund: np.ndarray, r_reserve: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The fund's and the NSSF's balances (trillions, per path) at the end of the years before
    the first decision year, from the accounts on ``history`` (the population of those
    years) under the status quo ``zero`` and the returns ``r_fund``, ``r_reserve`` [year]."""
    years = {"year": history["year"].values}
    before = project_accounts(history, zero.schedule.sel(year=years["year"]), fit, cal.pension,
                              cal.finances, rates=zero.rates.sel(year=years["year"]),
                              fund_return=xr.DataArray(r_fund, dims="year", coords=years),
                              reserve_return=xr.DataArray(r_reserve, dims="year",
                                                          coords=years))
    return (before["balance_end_cny"].isel(year=-1).values / MONEY_SCALE,
            before["reserve_assets_end_cny"].isel(year=-1).values / MONEY_SCALE)


def _indexation_lever(cal: Calibration, settings: OptimizationSettings, last_year: int
                      ) -> tuple[np.ndarray, tuple[float, float]]:
    """The indexation lever's knot years (none when it is off) and its bounds (floor, ceiling;
    fraction of real wage growth; the ceiling defaults to the calibrated share)."""
    lever = settings.indexation
    index_knots = (knot_years(settings, last_year, lever.knot_every_years)
                   if lever.enabled else np.zeros(0, dtype=int))
    calibrated = cal.pension.benefit.indexation_wage_share.value
    ceiling = calibrated if lever.ceiling_wage_share is None else lever.ceiling_wage_share
    if lever.enabled and ceiling < lever.floor_wage_share:
        raise ValueError(
            f"optimization.indexation: the ceiling {ceiling} (the calibration's "
            f"pension.benefit.indexation_wage_share when ceiling_wage_share is unset) is below "
            f"floor_wage_share = {lever.floor_wage_share}")
    return index_knots, (lever.floor_wage_share, ceiling)


def setup_problem(cal: Calibration, settings: OptimizationSettings, population: xr.DataArray,
                  fit: BaseYearFit, prices: tuple[xr.DataArray, xr.DataArray] | None = None,
                  workers: int = 1, interest_rate: xr.DataArray | None = None,
                  economy_delay_price: xr.DataArray | None = None,
                  retirement_distribution: xr.DataArray | None = None) -> PolicyProblem:
    """Tree, knots, start balances and populations for the policy problem.

    ``prices = (wage_index[year], fund_return[year])`` from the OLG economy replace the
    calibration's wage path and fund return (the same on every path); a third element
    ``reserve_return[year]`` (the return rule's NSSF return, :func:`models.coupling.
    model_returns`) replaces the NSSF's calibrated return (``PolicyProblem.reserve_return``,
    ``ScenarioData.reserve_return_path``). ``interest_rate[year]`` (the paired transition's)
    is the discount rate under ``objective.discount = "interest_rate"``;
    ``economy_delay_price[year]`` (yuan per person-month) replaces the fixed price of delay
    (:mod:`models.optimize.objective`). ``retirement_distribution`` (the economy's choice)
    replaces the law's window shares in every schedule (:func:`models.optimize.data.
    policy_rates`, which says how it meets a delay); None: the law's schedule."""
    if "path" not in population.dims:
        population = population.expand_dims(path=[0])
    years = population["year"].values
    ages = population["age"].values
    first = settings.tree.first_decision_year
    tree = _policy_tree(settings, population)
    pop_c = CategoryPopulation(population, cal.pension)  # built per block of paths
    weights = pop_c.mean_over_paths()
    knots = knot_years(settings, int(years[-1]))
    opt_mask = years >= first
    opt_years = years[opt_mask]
    max_delay = max_delay_by_year(knots, settings)
    # status quo (the regime, no extra delay) up to the first decision year
    wage_index, fund_return, *more = prices if prices is not None else (None, None)
    r_fund = (np.full(len(years), cal.finances.fund.real_return.value) if fund_return is None
              else fund_return.sel(year=years).values)
    # the NSSF's return of the same rule (models.pension.returns), when the prices carry it
    r_reserve = (np.full(len(years), cal.finances.reserve.real_return.value) if not more
                 else more[0].sel(year=years).values)
    zero = policy_rates(np.zeros((len(years), len(CATEGORIES))), years, ages, cal, fit,
                        settings.regime, weights, wage_index,
                        retirement_distribution=retirement_distribution)
    balance_start, reserve_start = _start_balances(population.sel(year=years[~opt_mask]),
                                                   zero, fit, cal, r_fund[~opt_mask],
                                                   r_reserve[~opt_mask])
    objective = settings.objective
    discount = discount_factors(discount_rates(
        objective.discount, objective.discount_rate, cal.economy.targets.interest_rate.value,
        opt_years.size, None if interest_rate is None
        else interest_rate.sel(year=opt_years).values))
    index_knots, index_bounds = _indexation_lever(cal, settings, int(years[-1]))
    problem = PolicyProblem(
        cal=cal, settings=settings, fit=fit, tree=tree, years=years, ages=ages,
        opt_mask=opt_mask, pop_c=pop_c, weights_population=weights, population=population,
        knot_yrs=knots, knot_owner_stage=knot_owner_stages(tree, knots),
        max_knot_delay=max_delay, interp=interpolation_weights(knots, opt_years),
        balance_start=np.broadcast_to(balance_start, (tree.n_paths,)).copy(),
        reserve_start=np.broadcast_to(reserve_start, (tree.n_paths,)).copy(),
        discount=discount, fund_return=r_fund, wage_index=wage_index,
        reserve_return=r_reserve,
        index_knot_yrs=index_knots,
        index_owner_stage=knot_owner_stages(tree, index_knots),
        index_interp=interpolation_weights(index_knots, opt_years) if index_knots.size
        else np.zeros((opt_years.size, 0)),
        index_bounds=index_bounds, workers=workers,
        recourse_basis=recourse_basis(
            settings.recourse.reserve_draws,
            observed_state(population, settings.recourse.observables), years, opt_years,
            tree.node_of_path_year(opt_years)),
        gdp=gdp_by_path_year(population.transpose("path", "year", "age", "sex").values, ages,
                             zero.rates["average_wage_cny"].values,
                             cal.economy.targets.gdp_cny.value),
        capacity_share=capacity_share(cal.finances, settings),
        retirement_distribution=retirement_distribution)
    problem.cache["zero_rates"] = zero
    wage = zero.rates["average_wage_cny"].values
    problem.delay_price = delay_price(
        objective.delay_price, objective.delay_cny_per_person_month, opt_years.size,
        wage_index=wage[opt_mask] / wage[0], economy_price=None if economy_delay_price is None
        else economy_delay_price.sel(year=opt_years).values)
    return problem


# ----------------------------------------------------------------------------- levers
@dataclass(frozen=True)
class Levers:
    """The outer search's decision: retirement-delay knots ``delay[node, knot, category]``
    (whole months beyond the law) and indexation-share knots ``indexation[node, knot]``
    (fraction of real wage growth; no knots when the lever is off)."""

    delay: np.ndarray
    indexation: np.ndarray

    def same_as(self, other: Levers) -> bool:
        return (np.array_equal(self.delay, other.delay)
                and np.allclose(self.indexation, other.indexation, rtol=0.0, atol=1e-9))


def start_levers(problem: PolicyProblem) -> Levers:
    """No extra delay; the indexation at the calibrated share (within the lever's bounds)."""
    lo, hi = problem.index_bounds
    share = float(np.clip(problem.calibrated_indexation, lo, hi))
    return Levers(np.zeros((problem.tree.n_nodes, len(problem.knot_yrs), len(CATEGORIES))),
                  np.full((problem.tree.n_nodes, len(problem.index_knot_yrs)), share))


def knot_owner_stages(tree: ScenarioTree, knot_yrs: np.ndarray) -> np.ndarray:
    """The stage that decides each knot of a piecewise-linear lever path: the stage of the
    first year the knot's value reaches, the year after the previous knot (the knot's own
    year for the first). A knot owned by the stage of its own year would reach back, through
    the interpolation, into the years of the stage before it, and a decision there would
    depend on a later node (see tests/test_optimize.py, non-anticipativity)."""
    knot_yrs = np.asarray(knot_yrs, dtype=int)
    if knot_yrs.size == 0:
        return np.zeros(0, dtype=int)
    reach = np.concatenate([knot_yrs[:1], knot_yrs[:-1] + 1])
    return np.maximum(tree.stage_of_year(reach), 0).astype(int)


def _chain_values(problem: PolicyProblem, values: np.ndarray, owner_stage: np.ndarray
                  ) -> dict[int, np.ndarray]:
    """Knot values ``values[node, knot, ...]`` along each leaf's chain of nodes: the knot ``k``
    is decided by the leaf's ancestor at stage ``owner_stage[k]``."""
    out = {}
    for leaf in problem.tree.leaves():
        chain = problem.tree.ancestors(int(leaf))
        out[int(leaf)] = (np.stack([values[chain[s]][k] for k, s in enumerate(owner_stage)])
                          if len(owner_stage) else values[0][:0])
    return out


def leaf_knots(problem: PolicyProblem, knots: np.ndarray) -> dict[int, np.ndarray]:
    """Delay knot values along each leaf's chain of nodes: ``{leaf: [knot, category]}``."""
    return _chain_values(problem, knots, problem.knot_owner_stage)


def leaf_indexation(problem: PolicyProblem, indexation: np.ndarray) -> dict[int, np.ndarray]:
    """Indexation knot values along each leaf's chain of nodes: ``{leaf: [knot]}``."""
    return _chain_values(problem, indexation, problem.index_owner_stage)


def _full_delay(problem: PolicyProblem, knots_leaf: np.ndarray) -> np.ndarray:
    """Whole-month delay for every simulated year (zero before the first decision year)."""
    delay = np.zeros((len(problem.years), len(CATEGORIES)))
    delay[problem.opt_mask] = delay_by_year(knots_leaf, problem.knot_yrs, problem.opt_years)
    return delay


def _full_indexation(problem: PolicyProblem, knots_leaf: np.ndarray) -> np.ndarray | None:
    """Indexation share for every simulated year (calibrated before the first decision year,
    linear between knots, flat after the last); None when the lever is off."""
    if not problem.indexation_enabled:
        return None
    share = np.full(len(problem.years), problem.calibrated_indexation)
    share[problem.opt_mask] = np.interp(problem.opt_years, problem.index_knot_yrs, knots_leaf)
    return share


def leaf_paths(problem: PolicyProblem, levers: Levers):
    """``(leaf, paths, delay[year, category], indexation share[year] or None)`` per leaf."""
    delays = leaf_knots(problem, levers.delay)
    shares = leaf_indexation(problem, levers.indexation)
    for leaf in problem.tree.leaves():
        leaf = int(leaf)
        yield (leaf, np.flatnonzero(problem.tree.node_of[:, -1] == leaf),
               _full_delay(problem, delays[leaf]), _full_indexation(problem, shares[leaf]))


def lever_smoothing(problem: PolicyProblem, levers: Levers, settings: OptimizationSettings
                    ) -> tuple[float, Levers]:
    """The GBH lever-smoothing cost (yuan; zero unless ``objective.lever_smoothing = "gbh"``)
    of the delay and indexation knots and its gradient by node (trillions of yuan per month
    and per unit share), :func:`models.optimize.objective.squared_change_cost`."""
    o = settings.objective
    grad = Levers(np.zeros_like(levers.delay, dtype=float),
                  np.zeros_like(levers.indexation, dtype=float))
    if o.lever_smoothing != "gbh":
        return 0.0, grad
    tree = problem.tree
    prob = {int(leaf): float(tree.probability[tree.node_of[:, -1] == leaf].sum())
            for leaf in tree.leaves()}
    total = 0.0
    parts = [(leaf_knots(problem, levers.delay), 0.0, o.gbh_cny_per_month2, grad.delay,
              problem.knot_owner_stage)]
    if problem.indexation_enabled:
        parts.append((leaf_indexation(problem, levers.indexation), problem.calibrated_indexation,
                      o.gbh_cny_per_share2, grad.indexation, problem.index_owner_stage))
    for chains, start, weight, out, owner in parts:
        cost, by_leaf = squared_change_cost(chains, prob, start, weight)
        total += cost
        for leaf, g in by_leaf.items():
            chain = tree.ancestors(leaf)
            for k, stage in enumerate(owner):
                out[chain[stage], k] += g[k] / MONEY_SCALE
    return total, grad


def rates_for(problem: PolicyProblem, delay: np.ndarray, share: np.ndarray | None = None):
    key = delay.astype(np.int64).tobytes() + (b"" if share is None else share.tobytes())
    if key not in problem.cache:
        if len(problem.cache) > 64:  # the rates dropped; the named entries kept
            named = {k: v for k, v in problem.cache.items() if isinstance(k, str)}
            problem.cache.clear()
            problem.cache.update(named)
        problem.cache[key] = policy_rates(delay, problem.years, problem.ages, problem.cal,
                                          problem.fit, problem.settings.regime,
                                          problem.weights_population, problem.wage_index,
                                          indexation_share=share, past=(
                                              problem.cache["zero_rates"].schedule,
                                              int(problem.opt_years[0])),
                                          retirement_distribution=problem
                                          .retirement_distribution)
    return problem.cache[key]


#: leaves' flows :func:`leaf_flows` keeps per problem (the newest used): three times the leaves
#: of the tree keeps a search's incumbent and the leaves its moves change
LEAF_FLOWS_PER_LEAF = 3


def leaf_flows(problem: PolicyProblem, leaf: int, paths: np.ndarray, delay: np.ndarray,
               share: np.ndarray | None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """A leaf's paths' flows under its chain's delay ``[year, category]`` and indexation share
    ``[year]`` (None: the lever off), over the optimized years: contribution base and
    expenditure ``[path, year]`` (yuan), the new retirees of the status quo ``[year,
    category]`` (they price the delay), and the expenditure the indexation cut saves
    ``[path, year]`` (yuan; None without the lever). Kept in ``problem.cache`` by leaf and
    levers (a search's move changes the leaves under the moved knot only; the newest
    :data:`LEAF_FLOWS_PER_LEAF` per leaf are kept), so a leaf's flows are computed once and
    are the same bits as a fresh computation."""
    key = (leaf, delay.tobytes(), b"" if share is None else share.tobytes())
    store = problem.cache.setdefault("leaf_flows", {})
    if key in store:
        store[key] = store.pop(key)  # the newest used last
        return store[key]
    opt = problem.opt_mask
    pr = rates_for(problem, delay, share)
    cb, ex = flows_by_blocks(problem.pop_c, paths, pr.rates, problem.fit, problem.cal)
    retiring = new_retirees_by_blocks(problem.pop_c, paths, problem.cache["zero_rates"].rates,
                                      problem.years)[opt]  # [T, C]
    cut = None
    if share is not None:
        _, ex_ref = flows_by_blocks(problem.pop_c, paths, rates_for(problem, delay).rates,
                                    problem.fit, problem.cal)
        cut = (ex_ref - ex)[:, opt]
    store[key] = (cb[:, opt], ex[:, opt], retiring, cut)
    while len(store) > LEAF_FLOWS_PER_LEAF * len(problem.tree.leaves()):
        store.pop(next(iter(store)))
    return store[key]


def scenario_data(problem: PolicyProblem, levers: Levers | np.ndarray,
                  settings: OptimizationSettings | None = None) -> ScenarioData:
    """The inner problem's data for the outer levers (or bare delay knots
    ``[node, knot, category]`` with the indexation at its start)."""
    if not isinstance(levers, Levers):
        levers = replace(start_levers(problem), delay=np.asarray(levers, dtype=float))
    settings = settings or problem.settings
    tree = problem.tree
    P, T = tree.n_paths, int(problem.opt_mask.sum())
    opt = problem.opt_mask
    base, expenditure = np.zeros((P, T)), np.zeros((P, T))
    delay_cost = index_cost = 0.0
    w_delay = problem.delay_price_per_year(settings)[:, None]
    w_index = settings.objective.indexation_cut
    for leaf, paths, delay, share in leaf_paths(problem, levers):
        cb, ex, retiring, cut = leaf_flows(problem, leaf, paths, delay, share)
        base[paths] = cb / MONEY_SCALE
        expenditure[paths] = ex / MONEY_SCALE
        prob = tree.probability[paths]
        delay_cost += prob.sum() * float(np.sum(w_delay * problem.discount[:, None] * retiring
                                                * delay[opt]))
        if share is not None:
            index_cost += w_index * float(prob @ (cut @ problem.discount))
    zero = problem.cache["zero_rates"]
    subsidy = zero.rates["fiscal_subsidy_cny"].values[opt]
    return ScenarioData(
        years=problem.opt_years, probability=tree.probability,
        node_of_year=tree.node_of_path_year(problem.opt_years),
        contribution_base=base, expenditure=expenditure, subsidy=subsidy / MONEY_SCALE,
        balance_start=problem.balance_start, reserve_start=problem.reserve_start,
        fund_return=problem.fund_return[opt],
        reserve_return=problem.cal.finances.reserve.real_return.value,
        reserve_return_path=(None if problem.reserve_return is None
                             else problem.reserve_return[opt]),
        individual_account_rate=problem.cal.pension.contribution.individual_account_rate.value,
        pooled_rate_before=problem.cal.pension.contribution.employer_pooled_rate.value,
        discount=problem.discount, delay_cost=delay_cost, settings=settings,
        indexation_cost=index_cost, recourse_basis=problem.recourse_basis,
        smoothing_cost=lever_smoothing(problem, levers, settings)[0], **_capacity(problem))


def _capacity(problem: PolicyProblem) -> dict:
    """GDP and the transfer capacity per path and optimized year (trillions), for
    :class:`ScenarioData` (none without a capacity)."""
    if problem.capacity_share is None or problem.gdp is None:
        return {}
    gdp = problem.gdp[:, problem.opt_mask] / MONEY_SCALE
    return {"gdp": gdp, "transfer_capacity": transfer_capacity(gdp, problem.capacity_share)}


def _flow_duals(problem: PolicyProblem, data: ScenarioData, sol: InnerSolution
                ) -> tuple[np.ndarray, np.ndarray]:
    """``(∂V/∂CB, ∂V/∂E)`` per path and optimized year (model units) from the inner duals,
    by the envelope theorem; the duals already carry the path probabilities."""
    s = problem.settings
    floor = s.constraints.liquidity_floor_months
    target = s.constraints.horizon_months_target
    d_cb = sol.dual_balance * (sol.tau + data.individual_account_rate) + (
        s.objective.contributions * data.probability[:, None] * data.discount * sol.tau)
    d_ex = -sol.dual_balance + sol.dual_liquidity * floor / 12.0
    d_ex[:, -1] += sol.dual_horizon * target / 12.0
    return d_cb, d_ex


def _expenditure_change(now, moved) -> np.ndarray:
    """Change of the expenditure per person ``pensioner_rate · pension`` ``[year, age,
    category]`` between two policies' rates."""
    return (moved.rates["pensioner_rate"] * moved.rates["pension_cny"]
            - now.rates["pensioner_rate"] * now.rates["pension_cny"]).values


def delay_gradient(problem: PolicyProblem, levers: Levers | np.ndarray, data: ScenarioData,
                   sol: InnerSolution) -> np.ndarray:
    """``∂V/∂knots[node, knot, category]`` (trillions of yuan per month) from the duals.

    With the indexation lever on, ``V`` also holds ``w Σ π δ (E_calibrated − E)``, and a month
    of delay moves both expenditures."""
    if not isinstance(levers, Levers):
        levers = replace(start_levers(problem), delay=np.asarray(levers, dtype=float))
    s = problem.settings
    tree = problem.tree
    opt = problem.opt_mask
    d_cb, d_ex = _flow_duals(problem, data, sol)
    grad = np.zeros_like(levers.delay, dtype=float)
    w_delay = problem.delay_price_per_year(s)[:, None] / MONEY_SCALE
    cut = s.objective.indexation_cut * data.probability[:, None] * data.discount[None, :]
    compliance = problem.cal.pension.contribution.compliance.value
    for leaf, paths, delay, share in leaf_paths(problem, levers):
        bumped = delay.copy()
        bumped[opt] += 1.0
        now, up = rates_for(problem, delay, share), rates_for(problem, bumped, share)
        d_ins = (up.rates["insured_rate"] - now.rates["insured_rate"]).values
        d_exp = _expenditure_change(now, up)
        wage = now.rates["average_wage_cny"].values
        pop = problem.pop_c[paths][:, opt]  # [p, T, A, C]
        w_cb = np.einsum("pt,ptac->tac", d_cb[paths], pop) * (
            problem.fit.contribution_index * compliance * wage[opt])[:, None, None] / MONEY_SCALE
        coef_ex = d_ex[paths] - (cut[paths] if share is not None else 0.0)
        w_ex = np.einsum("pt,ptac->tac", coef_ex, pop) / MONEY_SCALE
        cell = w_cb * d_ins[opt] + w_ex * d_exp[opt]  # [T, A, C]
        if share is not None:  # the calibrated-indexation expenditure moves too
            d_ref = _expenditure_change(rates_for(problem, delay), rates_for(problem, bumped))
            cell += np.einsum("pt,ptac->tac", cut[paths], pop) / MONEY_SCALE * d_ref[opt]
        # attribute each cell to the lever year of its cohort
        law_age = now.schedule["statutory_age"].values[opt] - delay[opt][:, None, :] / 12.0
        birth = problem.opt_years[:, None, None] - problem.ages[None, :, None] - 1
        lever_year = reach_year(birth, law_age)
        g_year = np.zeros((opt.sum(), len(CATEGORIES)))
        pos = lever_year - problem.opt_years[0]
        valid = (pos >= 0) & (pos < opt.sum())
        for c in range(len(CATEGORIES)):
            np.add.at(g_year[:, c], pos[..., c][valid[..., c]], cell[..., c][valid[..., c]])
        retiring = new_retirees(problem.pop_c[paths], problem.cache["zero_rates"].rates,
                                problem.years)[opt]
        g_year += (tree.probability[paths].sum() * w_delay * problem.discount[:, None]
                   * retiring)
        g_knot = problem.interp.T @ g_year  # [knot, C]
        chain = tree.ancestors(leaf)
        for k, stage in enumerate(problem.knot_owner_stage):
            grad[chain[stage], k] += g_knot[k]
    return grad + lever_smoothing(problem, levers, s)[1].delay


def indexation_gradient(problem: PolicyProblem, levers: Levers, data: ScenarioData,
                        sol: InnerSolution) -> np.ndarray:
    """``∂V/∂indexation[node, knot]`` (trillions of yuan per unit share) from the duals.

    ``∂E[p,t]/∂share(u) = Σ_{a,c} pop[p,t,a,c] · pensioner_rate[t,a,c] · ∂P[t,a,c]/∂share(u)``
    with the exact forward sensitivity of the average pensions
    (:func:`models.pension.accounts.indexation_sensitivity`); ``∂V/∂E`` is the inner duals'
    value less the cut's price ``w π_p δ_t``; chained to the knots by the interpolation
    weights."""
    grad = np.zeros_like(levers.indexation, dtype=float)
    if not problem.indexation_enabled:
        return grad
    tree = problem.tree
    opt = problem.opt_mask
    _, d_ex = _flow_duals(problem, data, sol)
    cut = (problem.settings.objective.indexation_cut * data.probability[:, None]
           * data.discount[None, :])
    for leaf, paths, delay, share in leaf_paths(problem, levers):
        pr = rates_for(problem, delay, share)
        sens = indexation_sensitivity(pr.rates, problem.weights_population)  # [u, t, a, c]
        pop = problem.pop_c[paths][:, opt]
        w = np.einsum("pt,ptac->tac", d_ex[paths] - cut[paths], pop) / MONEY_SCALE
        w *= pr.rates["pensioner_rate"].values[opt]
        g_year = np.einsum("tac,utac->u", w, sens[:, opt])[opt]  # [year(opt)]
        g_knot = problem.index_interp.T @ g_year
        chain = tree.ancestors(leaf)
        for k, stage in enumerate(problem.index_owner_stage):
            grad[chain[stage], k] += g_knot[k]
    return grad + lever_smoothing(problem, levers, problem.settings)[1].indexation


# share of real wage growth moved per month of trust radius in the joint step
SHARE_PER_MONTH = 0.05 / 6.0


def _step(problem: PolicyProblem, levers: Levers, grad: Levers, radius: int) -> Levers:
    """Minimise ``grad · levers'`` over the lever polytope within the trust region: delay knots
    within ``radius`` months (bounds, caps, non-decreasing, pace; whole months), indexation
    knots within ``radius · SHARE_PER_MONTH`` of their value and within the lever's bounds."""
    s = problem.settings.retirement
    tree = problem.tree
    knots = levers.delay
    owned = [(n, k) for n in range(tree.n_nodes) for k in range(len(problem.knot_yrs))
             if tree.stage_of_node[n] == problem.knot_owner_stage[k]] if s.enabled else []
    C = len(CATEGORIES)
    index = {(n, k, c): i for i, (n, k, c) in enumerate(
        (n, k, c) for (n, k) in owned for c in range(C))}
    owned_idx = [(n, k) for n in range(tree.n_nodes) for k in range(len(problem.index_knot_yrs))
                 if tree.stage_of_node[n] == problem.index_owner_stage[k]]
    index_idx = {key: len(index) + i for i, key in enumerate(owned_idx)}
    nvar = len(index) + len(index_idx)
    if nvar == 0:
        return levers
    cost = np.zeros(nvar)
    lo, hi = np.zeros(nvar), np.zeros(nvar)
    for (n, k, c), i in index.items():
        cost[i] = grad.delay[n, k, c]
        cap = problem.max_knot_delay[k, c]
        lo[i] = max(0.0, knots[n, k, c] - radius)
        hi[i] = min(cap, knots[n, k, c] + radius)
        lo[i] = min(lo[i], hi[i])
    floor, ceiling = problem.index_bounds
    for (n, k), i in index_idx.items():
        cost[i] = grad.indexation[n, k]
        lo[i] = max(floor, levers.indexation[n, k] - radius * SHARE_PER_MONTH)
        hi[i] = min(ceiling, levers.indexation[n, k] + radius * SHARE_PER_MONTH)
        lo[i] = min(lo[i], hi[i])
    rows, ub = [], []
    first_gap = problem.knot_yrs[0] - (problem.settings.tree.first_decision_year - 1)
    for leaf in tree.leaves() if index else []:
        chain = tree.ancestors(int(leaf))
        for c in range(C):
            prev = None
            for k, stage in enumerate(problem.knot_owner_stage):
                i = index[(chain[stage], k, c)]
                gap = first_gap if k == 0 else problem.knot_yrs[k] - problem.knot_yrs[k - 1]
                row_up = np.zeros(nvar)
                row_up[i] = 1.0
                if prev is not None:
                    row_up[prev] -= 1.0
                    row_down = -row_up.copy()
                    rows.append(row_down)  # non-decreasing
                    ub.append(0.0)
                rows.append(row_up)  # pace
                ub.append(s.pace_months_per_year * gap)
                prev = i
    res = linprog(cost, A_ub=np.array(rows) if rows else None, b_ub=np.array(ub) if ub else None,
                  bounds=list(zip(lo, hi)), method="highs")
    if res.status != 0:
        return levers
    delay, share = knots.copy(), levers.indexation.copy()
    for (n, k, c), i in index.items():
        delay[n, k, c] = np.floor(res.x[i] + 1e-6)
    for (n, k), i in index_idx.items():
        share[n, k] = float(np.clip(res.x[i], floor, ceiling))
    return Levers(delay, share)


@dataclass
class PolicySolution:
    levers: Levers
    data: ScenarioData
    inner: InnerSolution
    history: list[dict]
    infeasible: bool
    rescue: InnerSolution | None
    binding: list[str]

    @property
    def knots(self) -> np.ndarray:
        """Delay knots ``[node, knot, category]`` (months)."""
        return self.levers.delay


def evaluate_levers(problem: PolicyProblem, levers: Levers, history: list, label: str,
                    warm: WarmStart | None = None) -> tuple[ScenarioData, InnerSolution]:
    """The inner problem at ``levers`` solved exactly (with duals; for the chance MILP, the
    duals of the LP with its binaries fixed), the solve recorded in ``history``; ``warm``:
    a nearby solve's warm start (:func:`solve_inner`)."""
    data = scenario_data(problem, levers)
    sol = solve_inner(data, workers=problem.workers, warm=warm)
    if sol.mip and sol.status != "infeasible":  # duals from the LP with the binaries fixed
        z = np.array([float(np.any(sol.U[p] > 1e-9)) for p in range(data.n_paths)])
        sol_lp = solve_inner(data, fixed_z=z)
        sol = replace(sol, dual_balance=sol_lp.dual_balance,
                      dual_liquidity=sol_lp.dual_liquidity, dual_horizon=sol_lp.dual_horizon,
                      log=sol.log + sol_lp.log)
    history.append({"step": label, "objective_cny": sol.objective * MONEY_SCALE,
                    "status": sol.status, "build_s": round(sol.build_s, 3),
                    "solve_s": round(sol.solve_s, 3), "method": sol.method,
                    "iterations": sol.iterations, "gap_rel": sol.gap_rel,
                    "max_delay_months": float(levers.delay.max()) if levers.delay.size else 0.0,
                    "min_indexation_share": float(levers.indexation.min())
                    if levers.indexation.size else float("nan"),
                    "log": sol.log})
    log.info("%s: objective %.6g trillion yuan (%s)", label, sol.objective, sol.status)
    return data, sol


def binding_constraints(problem: PolicyProblem, data: ScenarioData, sol: InnerSolution,
                        levers: Levers, tol: float = 1e-7) -> list[str]:
    """Human-readable list of the limits the (rescue) solution presses against."""
    s = problem.settings
    out = []
    years = data.years
    if s.contribution.enabled:
        at_max = [years[t] for t in range(len(years)) if np.any(sol.tau[:, t]
                                                              >= s.contribution.max_rate - tol)]
        if at_max:
            out.append(f"pooled rate at its maximum {s.contribution.max_rate:.3f} in "
                       f"{at_max[0]}..{at_max[-1]} ({len(at_max)} years)")
    else:
        out.append("contribution-rate lever switched off")
    if s.retirement.enabled:
        caps = problem.max_knot_delay[None, :, :]
        hit = np.argwhere(levers.delay >= caps - tol)
        if hit.size:
            cats = sorted({CATEGORIES[c] for _, _, c in hit})
            out.append(f"retirement age at its cap for {', '.join(cats)}")
    else:
        out.append("retirement-age lever switched off")
    if problem.indexation_enabled:
        low = np.argwhere(levers.indexation <= problem.index_bounds[0] + tol)
        if low.size:
            out.append(f"indexation at its floor {problem.index_bounds[0]:g} of wage growth "
                       f"from {problem.index_knot_yrs[low[:, 1].min()]}")
    if s.reserve.enabled:
        empty = np.argwhere(sol.A <= tol)
        if empty.size:
            out.append(f"reserve exhausted from {years[empty[:, 1].min()]} on some paths")
    else:
        out.append("reserve lever switched off")
    if not s.extra_transfer.enabled:
        out.append("extra fiscal transfers switched off")
    elif capacity_applies(data):
        out += capacity_binding(data, sol, tol)
    floor = s.constraints.liquidity_floor_months
    tight = np.argwhere(np.abs(sol.B - floor / 12.0 * data.expenditure) <= 1e-6 * (
        1 + data.expenditure))
    if tight.size:
        out.append(f"liquidity floor of {floor:g} months binding from {years[tight[:, 1].min()]}")
    return out


def capacity_binding(data: ScenarioData, sol: InnerSolution, tol: float = 1e-7) -> list[str]:
    """The fiscal capacity's lines of :func:`binding_constraints`: the years where transfers
    reach it, and the paths and years with an excess over it."""
    years, out = data.years, []
    full = np.argwhere(sol.X >= data.transfer_capacity - tol * (1 + data.transfer_capacity))
    if full.size:
        out.append(f"extra transfers at the fiscal capacity from {years[full[:, 1].min()]} "
                   f"on some paths")
    over = sol.R > tol * (1 + data.expenditure)
    if over.any():
        hit = np.flatnonzero(over.any(axis=0))
        out.append(f"pensions paid in full only beyond the fiscal capacity on "
                   f"{int(over.any(axis=1).sum())} of {data.n_paths} paths, in "
                   f"{years[hit[0]]}..{years[hit[-1]]}")
    return out


def optimize_policy(problem: PolicyProblem, progress: bool = False,
                    start: Levers | None = None) -> PolicySolution:
    """Outer trust-region search over the delay and indexation knots with exact inner solves
    (see module docstring). ``start`` (e.g. the previous solution of an economy pairing)
    replaces the status quo as the starting point when it is feasible."""
    s = problem.settings
    history: list[dict] = []
    levers = start_levers(problem)
    if start is not None and start.delay.shape == levers.delay.shape \
            and start.indexation.shape == levers.indexation.shape:
        data, sol = evaluate_levers(problem, start, history, "start (previous solution)")
        if sol.status != "infeasible":
            levers = start
    if levers is not start:
        data, sol = evaluate_levers(problem, levers, history, "start (regime, no extra delay)")
    searching = s.retirement.enabled or problem.indexation_enabled
    if sol.status == "infeasible":
        # Without money beyond the levers the start is infeasible: try the most delay and the
        # lowest indexation, then report the smallest rescue transfers.
        if searching:
            most = _step(problem, levers, Levers(-np.ones_like(levers.delay),
                                                 np.ones_like(levers.indexation)),
                         radius=10_000)
            data2, sol2 = evaluate_levers(problem, most, history, "largest delays, lowest indexation")
            if sol2.status != "infeasible":
                levers, data, sol = most, data2, sol2
        if sol.status == "infeasible":
            rescue = solve_inner(data, rescue=True, workers=problem.workers)
            return PolicySolution(levers, data, sol, history, True, rescue,
                                  binding_constraints(problem, data, rescue, levers))
    max_iter = s.retirement.max_outer_iterations if searching else 0
    radius = 6
    for it in range(max_iter):
        grad = Levers(delay_gradient(problem, levers, data, sol) if s.retirement.enabled
                      else np.zeros_like(levers.delay),
                      indexation_gradient(problem, levers, data, sol))
        trial = _step(problem, levers, grad, radius)
        if trial.same_as(levers):
            if radius <= 1:
                break
            radius = max(1, radius // 2)
            continue
        data_t, sol_t = evaluate_levers(problem, trial, history,
                                        f"outer {it + 1} (radius {radius})")
        if sol_t.status != "infeasible" and sol_t.objective < sol.objective - 1e-9 * abs(
                sol.objective):
            levers, data, sol = trial, data_t, sol_t
            radius = min(radius * 2, 24)
        elif radius <= 1:
            break
        else:
            radius = max(1, radius // 2)
    return PolicySolution(levers, data, sol, history, False, None, [])
