"""Solve the policy problem: HiGHS through Pyomo, an outer search over retirement delays.

Method (and why it is exact):

1. *Inner problem.* For a fixed whole-month retirement-delay path, every account flow is
   linear in the pooled rate, the reserve draws and the transfers (:mod:`models.optimize.data`),
   so the extensive form (:mod:`models.optimize.model`) is an exact linear program (a MILP in
   the chance-constrained variant). HiGHS solves it; the chosen policy re-simulated with the
   pension accounts reproduces the model's fund and reserve path to solver precision.
2. *Outer search over delays.* The expected cost ``V(δ)`` of the best inner decisions is a
   function of the delay knots ``δ[node, knot, category]``. Its gradient comes from the inner
   duals by the envelope theorem — ``∂V/∂CB = y (τ + τ_IA) + w_c δ_t τ`` and
   ``∂V/∂E = −y + μ floor/12`` — chained with the change of the per-person rates when every
   cohort's delay rises by one month (cohorts are separable, so one re-computation gives the
   whole gradient). A trust-region step solves a small LP over the knot polytope (bounds, caps,
   non-decreasing, pace), whose vertices are whole months (interval constraints with integer
   data are totally unimodular); a step is kept only if the exactly re-solved ``V`` falls.
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
from scipy.optimize import linprog

from models.config import CATEGORIES, Calibration, OptimizationSettings
from models.optimize.data import (
    MONEY_SCALE,
    ScenarioData,
    delay_by_year,
    flows_from_rates,
    interpolation_weights,
    knot_years,
    max_delay_by_year,
    new_retirees,
    policy_rates,
)
from models.optimize.model import build_extensive_form
from models.optimize.tree import ScenarioTree, build_tree
from models.pension.accounts import (
    BaseYearFit,
    category_population,
    project_accounts,
    reach_year,
)

log = logging.getLogger(__name__)


class SolverFailure(RuntimeError):
    """HiGHS stopped without an optimal or feasible answer for a reason other than infeasibility."""


# ----------------------------------------------------------------------------- inner solve
@dataclass
class InnerSolution:
    status: str  # "optimal", "time_limit_feasible" or "infeasible"
    objective: float  # trillions of yuan
    tau: np.ndarray  # [P, T] pooled rate governing each path-year
    tau_node: dict  # (node, t) -> rate
    B: np.ndarray  # [P, T] year-end balances (trillions)
    A: np.ndarray
    D: np.ndarray
    X: np.ndarray
    U: np.ndarray
    R: np.ndarray | None
    dual_balance: np.ndarray | None  # [P, T]
    dual_liquidity: np.ndarray | None
    dual_horizon: np.ndarray | None  # [P]
    build_s: float
    solve_s: float
    log: str
    mip: bool


def _solver(settings: OptimizationSettings):
    from pyomo.contrib.solver.common.factory import SolverFactory

    return SolverFactory("highs")


def _values(var, shape) -> np.ndarray:
    out = np.zeros(shape)
    for idx, v in var.items():
        out[idx] = v.value if v.value is not None else np.nan
    return out


def solve_inner(data: ScenarioData, rescue: bool = False, duals: bool = True,
                fixed_z: np.ndarray | None = None) -> InnerSolution:
    """Build and solve the extensive form for a fixed delay path."""
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
                             None, None, None, None, build_s, solve_s, buffer.getvalue(), mip)
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
        U=block_values("U"), R=block_values("R") if rescue else None, dual_balance=dual_b,
        dual_liquidity=dual_l, dual_horizon=dual_h, build_s=build_s, solve_s=solve_s,
        log=buffer.getvalue(), mip=mip)


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
    pop_c: np.ndarray  # [P, Y, A, C]
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
    cache: dict = field(default_factory=dict)

    @property
    def opt_years(self) -> np.ndarray:
        return self.years[self.opt_mask]


def observable_indicator(population: xr.DataArray, name: str) -> np.ndarray:
    """``[path, year]`` indicator ranked by the tree rule."""
    if "path" not in population.dims:
        population = population.expand_dims(path=[0])
    pop = population.sum("sex")
    if name == "old_age_dependency":
        old = pop.sel(age=pop["age"] >= 65).sum("age")
        work = pop.sel(age=(pop["age"] >= 20) & (pop["age"] <= 64)).sum("age")
        return (old / work).transpose("path", "year").values
    if name == "population_60plus":
        return pop.sel(age=pop["age"] >= 60).sum("age").transpose("path", "year").values
    return pop.sel(age=0).transpose("path", "year").values  # survivors of the year's births


def setup_problem(cal: Calibration, settings: OptimizationSettings, population: xr.DataArray,
                  fit: BaseYearFit, prices: tuple[xr.DataArray, xr.DataArray] | None = None
                  ) -> PolicyProblem:
    """Tree, knots, start balances and populations for the policy problem.

    ``prices = (wage_index[year], fund_return[year])`` from the OLG economy replace the
    calibration's wage path and fund return (the same on every path)."""
    if "path" not in population.dims:
        population = population.expand_dims(path=[0])
    years = population["year"].values
    ages = population["age"].values
    first = settings.tree.first_decision_year
    if not years[0] < first <= years[-1]:
        raise ValueError(f"first_decision_year {first} must lie in ({years[0]}, {years[-1]}]")
    n_stages = len(settings.tree.branching) + 1
    stage_years = first + settings.tree.stage_every_years * np.arange(n_stages)
    if stage_years[-1] > years[-1]:
        raise ValueError(f"the last stage would start in {stage_years[-1]}, after the horizon")
    tree = build_tree(observable_indicator(population, settings.tree.observable), years,
                      stage_years, settings.tree.branching)
    pop_c_da = category_population(population, cal.pension)
    weights = pop_c_da.mean("path").transpose("year", "age", "category")
    pop_c = pop_c_da.transpose("path", "year", "age", "category").values
    knots = knot_years(settings, int(years[-1]))
    opt_mask = years >= first
    opt_years = years[opt_mask]
    max_delay = max_delay_by_year(knots, settings)
    # status quo (the regime, no extra delay) up to the first decision year
    wage_index, fund_return = prices if prices is not None else (None, None)
    r_fund = (np.full(len(years), cal.finances.fund.real_return.value) if fund_return is None
              else fund_return.sel(year=years).values)
    zero = policy_rates(np.zeros((len(years), len(CATEGORIES))), years, ages, cal, fit,
                        settings.regime, weights, wage_index)
    before = project_accounts(population.sel(year=years[~opt_mask]), zero.schedule.sel(
        year=years[~opt_mask]), fit, cal.pension, cal.finances,
        rates=zero.rates.sel(year=years[~opt_mask]),
        fund_return=xr.DataArray(r_fund[~opt_mask], dims="year",
                                 coords={"year": years[~opt_mask]}))
    balance_start = before["balance_end_cny"].isel(year=-1).values / MONEY_SCALE
    reserve_start = before["reserve_assets_end_cny"].isel(year=-1).values / MONEY_SCALE
    rate = settings.objective.discount_rate
    discount = (1.0 + rate) ** -(opt_years - first).astype(float)
    problem = PolicyProblem(
        cal=cal, settings=settings, fit=fit, tree=tree, years=years, ages=ages,
        opt_mask=opt_mask, pop_c=pop_c, weights_population=weights, population=population,
        knot_yrs=knots, knot_owner_stage=np.maximum(tree.stage_of_year(knots), 0),
        max_knot_delay=max_delay, interp=interpolation_weights(knots, opt_years),
        balance_start=np.broadcast_to(balance_start, (tree.n_paths,)).copy(),
        reserve_start=np.broadcast_to(reserve_start, (tree.n_paths,)).copy(),
        discount=discount, fund_return=r_fund, wage_index=wage_index)
    problem.cache["zero_rates"] = zero
    return problem


# ----------------------------------------------------------------------------- delays
def leaf_knots(problem: PolicyProblem, knots: np.ndarray) -> dict[int, np.ndarray]:
    """Knot values along each leaf's chain of nodes: ``{leaf: [knot, category]}``."""
    out = {}
    for leaf in problem.tree.leaves():
        chain = problem.tree.ancestors(int(leaf))
        out[int(leaf)] = np.stack([knots[chain[s]][k] for k, s in
                                   enumerate(problem.knot_owner_stage)])
    return out


def _full_delay(problem: PolicyProblem, knots_leaf: np.ndarray) -> np.ndarray:
    """Whole-month delay for every simulated year (zero before the first decision year)."""
    delay = np.zeros((len(problem.years), len(CATEGORIES)))
    delay[problem.opt_mask] = delay_by_year(knots_leaf, problem.knot_yrs, problem.opt_years)
    return delay


def _rates_for(problem: PolicyProblem, delay: np.ndarray):
    key = delay.astype(np.int64).tobytes()
    if key not in problem.cache:
        if len(problem.cache) > 64:
            problem.cache.clear()
        problem.cache[key] = policy_rates(delay, problem.years, problem.ages, problem.cal,
                                          problem.fit, problem.settings.regime,
                                          problem.weights_population, problem.wage_index)
    return problem.cache[key]


def scenario_data(problem: PolicyProblem, knots: np.ndarray,
                  settings: OptimizationSettings | None = None) -> ScenarioData:
    """The inner problem's data for delay knots ``[node, knot, category]``."""
    settings = settings or problem.settings
    tree = problem.tree
    P, T = tree.n_paths, int(problem.opt_mask.sum())
    base, expenditure = np.zeros((P, T)), np.zeros((P, T))
    delay_cost = 0.0
    w_delay = settings.objective.delay_cny_per_person_month
    for leaf, kn in leaf_knots(problem, knots).items():
        paths = tree.node_of[:, -1] == leaf
        delay = _full_delay(problem, kn)
        pr = _rates_for(problem, delay)
        cb, ex = flows_from_rates(problem.pop_c[paths], pr.rates, problem.fit, problem.cal)
        base[paths] = cb[:, problem.opt_mask] / MONEY_SCALE
        expenditure[paths] = ex[:, problem.opt_mask] / MONEY_SCALE
        zero = problem.cache["zero_rates"]
        retiring = new_retirees(problem.pop_c[paths], zero.rates,
                                problem.years)[problem.opt_mask]  # [T, C]
        share = tree.probability[paths].sum()
        delay_cost += share * w_delay * float(np.sum(problem.discount[:, None] * retiring
                                                     * delay[problem.opt_mask]))
    subsidy = problem.cache["zero_rates"].rates["fiscal_subsidy_cny"].values[problem.opt_mask]
    return ScenarioData(
        years=problem.opt_years, probability=tree.probability,
        node_of_year=tree.node_of_path_year(problem.opt_years),
        contribution_base=base, expenditure=expenditure, subsidy=subsidy / MONEY_SCALE,
        balance_start=problem.balance_start, reserve_start=problem.reserve_start,
        fund_return=problem.fund_return[problem.opt_mask],
        reserve_return=problem.cal.finances.reserve.real_return.value,
        individual_account_rate=problem.cal.pension.contribution.individual_account_rate.value,
        pooled_rate_before=problem.cal.pension.contribution.employer_pooled_rate.value,
        discount=problem.discount, delay_cost=delay_cost, settings=settings)


def delay_gradient(problem: PolicyProblem, knots: np.ndarray, data: ScenarioData,
                   sol: InnerSolution) -> np.ndarray:
    """``∂V/∂knots[node, knot, category]`` (trillions of yuan per month) from the duals."""
    s = problem.settings
    tree = problem.tree
    opt = problem.opt_mask
    floor = s.constraints.liquidity_floor_months
    target = s.constraints.horizon_months_target
    tia = data.individual_account_rate
    # the objective weighs path p's contribution cost by its probability (the duals already
    # carry it)
    d_cb = sol.dual_balance * (sol.tau + tia) + (s.objective.contributions
                                                 * data.probability[:, None] * data.discount
                                                 * sol.tau)
    d_ex = -sol.dual_balance + sol.dual_liquidity * floor / 12.0
    d_ex[:, -1] += sol.dual_horizon * target / 12.0
    grad = np.zeros_like(knots, dtype=float)
    w_delay = s.objective.delay_cny_per_person_month / MONEY_SCALE
    compliance = problem.cal.pension.contribution.compliance.value
    for leaf, kn in leaf_knots(problem, knots).items():
        paths = np.flatnonzero(tree.node_of[:, -1] == leaf)
        delay = _full_delay(problem, kn)
        now = _rates_for(problem, delay)
        bumped = delay.copy()
        bumped[opt] += 1.0
        up = _rates_for(problem, bumped)
        d_ins = (up.rates["insured_rate"] - now.rates["insured_rate"]).values
        d_exp = (up.rates["pensioner_rate"] * up.rates["pension_cny"]
                 - now.rates["pensioner_rate"] * now.rates["pension_cny"]).values
        wage = now.rates["average_wage_cny"].values
        pop = problem.pop_c[paths][:, opt]  # [p, T, A, C]
        w_cb = np.einsum("pt,ptac->tac", d_cb[paths], pop) * (
            problem.fit.contribution_index * compliance * wage[opt])[:, None, None] / MONEY_SCALE
        w_ex = np.einsum("pt,ptac->tac", d_ex[paths], pop) / MONEY_SCALE
        cell = w_cb * d_ins[opt] + w_ex * d_exp[opt]  # [T, A, C]
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
    return grad


def _step(problem: PolicyProblem, knots: np.ndarray, grad: np.ndarray, radius: int
          ) -> np.ndarray:
    """Minimise ``grad · knots'`` over the delay polytope within ``|knots' − knots| ≤ radius``."""
    s = problem.settings.retirement
    tree = problem.tree
    owned = [(n, k) for n in range(tree.n_nodes) for k in range(len(problem.knot_yrs))
             if tree.stage_of_node[n] == problem.knot_owner_stage[k]]
    C = len(CATEGORIES)
    index = {(n, k, c): i for i, (n, k, c) in enumerate(
        (n, k, c) for (n, k) in owned for c in range(C))}
    nvar = len(index)
    cost = np.zeros(nvar)
    lo, hi = np.zeros(nvar), np.zeros(nvar)
    for (n, k, c), i in index.items():
        cost[i] = grad[n, k, c]
        cap = problem.max_knot_delay[k, c]
        lo[i] = max(0.0, knots[n, k, c] - radius)
        hi[i] = min(cap, knots[n, k, c] + radius)
        lo[i] = min(lo[i], hi[i])
    rows, ub = [], []
    first_gap = problem.knot_yrs[0] - (problem.settings.tree.first_decision_year - 1)
    for leaf in tree.leaves():
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
    out = knots.copy()
    if res.status != 0:
        return out
    for (n, k, c), i in index.items():
        out[n, k, c] = np.floor(res.x[i] + 1e-6)
    return out


@dataclass
class PolicySolution:
    knots: np.ndarray  # [node, knot, category] months
    data: ScenarioData
    inner: InnerSolution
    history: list[dict]
    infeasible: bool
    rescue: InnerSolution | None
    binding: list[str]


def _evaluate(problem: PolicyProblem, knots: np.ndarray, history: list, label: str
              ) -> tuple[ScenarioData, InnerSolution]:
    data = scenario_data(problem, knots)
    sol = solve_inner(data)
    if sol.mip and sol.status != "infeasible":  # duals from the LP with the binaries fixed
        z = np.array([float(np.any(sol.U[p] > 1e-9)) for p in range(data.n_paths)])
        sol_lp = solve_inner(data, fixed_z=z)
        sol = replace(sol, dual_balance=sol_lp.dual_balance,
                      dual_liquidity=sol_lp.dual_liquidity, dual_horizon=sol_lp.dual_horizon,
                      log=sol.log + sol_lp.log)
    history.append({"step": label, "objective_cny": sol.objective * MONEY_SCALE,
                    "status": sol.status, "build_s": round(sol.build_s, 3),
                    "solve_s": round(sol.solve_s, 3),
                    "max_delay_months": float(knots.max()) if knots.size else 0.0,
                    "log": sol.log})
    log.info("%s: objective %.6g trillion yuan (%s)", label, sol.objective, sol.status)
    return data, sol


def binding_constraints(problem: PolicyProblem, data: ScenarioData, sol: InnerSolution,
                        knots: np.ndarray, tol: float = 1e-7) -> list[str]:
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
        hit = np.argwhere(knots >= caps - tol)
        if hit.size:
            cats = sorted({CATEGORIES[c] for _, _, c in hit})
            out.append(f"retirement age at its cap for {', '.join(cats)}")
    else:
        out.append("retirement-age lever switched off")
    if s.reserve.enabled:
        empty = np.argwhere(sol.A <= tol)
        if empty.size:
            out.append(f"reserve exhausted from {years[empty[:, 1].min()]} on some paths")
    else:
        out.append("reserve lever switched off")
    if not s.extra_transfer.enabled:
        out.append("extra fiscal transfers switched off")
    floor = s.constraints.liquidity_floor_months
    tight = np.argwhere(np.abs(sol.B - floor / 12.0 * data.expenditure) <= 1e-6 * (
        1 + data.expenditure))
    if tight.size:
        out.append(f"liquidity floor of {floor:g} months binding from {years[tight[:, 1].min()]}")
    return out


def optimize_policy(problem: PolicyProblem, progress: bool = False) -> PolicySolution:
    """Outer trust-region search over delays with exact inner solves (see module docstring)."""
    s = problem.settings
    tree = problem.tree
    knots = np.zeros((tree.n_nodes, len(problem.knot_yrs), len(CATEGORIES)))
    history: list[dict] = []
    data, sol = _evaluate(problem, knots, history, "start (regime, no extra delay)")
    if sol.status == "infeasible":
        # Without money beyond the levers the start is infeasible: try the most delay, then
        # report the smallest rescue transfers.
        if s.retirement.enabled:
            most = _step(problem, knots, -np.ones_like(knots), radius=10_000)
            data2, sol2 = _evaluate(problem, most, history, "largest delays")
            if sol2.status != "infeasible":
                knots, data, sol = most, data2, sol2
        if sol.status == "infeasible":
            rescue = solve_inner(data, rescue=True)
            return PolicySolution(knots, data, sol, history, True, rescue,
                                  binding_constraints(problem, data, rescue, knots))
    if s.retirement.enabled and s.retirement.max_outer_iterations > 0:
        radius = 6
        for it in range(s.retirement.max_outer_iterations):
            grad = delay_gradient(problem, knots, data, sol)
            trial = _step(problem, knots, grad, radius)
            if np.array_equal(trial, knots):
                if radius <= 1:
                    break
                radius = max(1, radius // 2)
                continue
            data_t, sol_t = _evaluate(problem, trial, history, f"outer {it + 1} (radius {radius})")
            if sol_t.status != "infeasible" and sol_t.objective < sol.objective - 1e-9 * abs(
                    sol.objective):
                knots, data, sol = trial, data_t, sol_t
                radius = min(radius * 2, 24)
            elif radius <= 1:
                break
            else:
                radius = max(1, radius // 2)
    return PolicySolution(knots, data, sol, history, False, None, [])
