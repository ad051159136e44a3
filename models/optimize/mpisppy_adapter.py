"""The inner (fixed retirement-delay) stochastic program on mpi-sppy: EF and progressive hedging.

The retirement-delay outer search stays serial (:func:`models.optimize.solve.optimize_policy`);
what scales past one machine is the inner problem, the stochastic program over the pooled-rate
path with per-path recourse. This module hands it to mpi-sppy (Knueven et al. 2023) with the
optimizer's own builder: each scenario is one Monte Carlo path, built by
:func:`models.optimize.model.add_path` and priced by :func:`models.optimize.model.path_cost`.

Scenario ``p`` (money in trillions of yuan, year positions ``t``)
    its own pooled rate ``τ[t]`` and change ``v[t] ≥ |τ[t] − τ[t−1]|`` (``τ[−1]`` the rate
    before the first optimized year), ``v[t] ≤ pace``; the path's rows of ``add_path``; cost
    ``path_cost + w_s Σ_t v[t] + delay cost``. The expectation over paths of these costs is
    the objective of :func:`models.optimize.model.build_extensive_form` term by term (a
    node's smoothing weight there is the probability of its paths).

Non-anticipativity (from :class:`models.optimize.tree.ScenarioTree`)
    Stage ``k`` of our tree is mpi-sppy stage ``k + 1``; its nonants are ``τ[t]`` and the
    helper ``v[t]`` of the years ``t`` that stage ``k`` governs (the ``|Δτ|`` helpers are
    nonants too: DESIGN, toolchain notes). Node names follow the children's order in our
    tree: ``ROOT``, ``ROOT_0``, ``ROOT_0_1``, …; a multi-stage tree adds one leaf per path under
    its last-stage node (``ROOT_0_1_2`` = third path of node ``ROOT_0_1``), and the scenario
    names are listed leaf by leaf so every node's paths are contiguous, as mpi-sppy requires.
    Two-stage trees (no branching) need no node list. Conditional probabilities are path
    probabilities summed over a node, divided by its parent's.

Variants
    *Hard* (every pension paid): as above. *CVaR* (``cvar_beta``, ``cvar_limit_cny``): the
    Rockafellar–Uryasev VaR level ``η`` is a first-stage (ROOT) nonant of every scenario, the
    excess ``ξ_p ≥ Σ_t δ_t U[p,t] − η``, ``ξ_p ≥ 0`` is per path. The limit
    ``η + Σ_p π_p ξ_p / (1 − β) ≤ L`` is an expectation over paths, so it couples the
    scenarios: the EF here adds it as one row across the scenario blocks (exactly our EF), and
    PH prices it with a multiplier ``λ ≥ 0``, each scenario's cost gaining
    ``λ (η + ξ_p / (1 − β) − L)``; with ``λ`` the EF's dual of the limit the two problems have
    the same optimal value (LP duality), and any ``λ ≥ 0`` gives a valid lower bound.
    *Chance constraints* (a binary per path and a budget over paths) do not decompose and are
    refused.

Solver
    ``highs`` through Pyomo's legacy ``SolverFactory``, which Pyomo 6.10 serves with the new
    ``pyomo.contrib.solver`` HiGHS interface: it accepts PH's quadratic proximal term
    (``appsi_highs`` rejects it), loads solutions the way mpi-sppy expects and takes HiGHS
    options through ``solver.options``.

Progressive hedging
    :func:`run_ph` runs a PH hub with a Lagrangian outer-bound spoke and an xhatshuffle
    inner-bound spoke through ``WheelSpinner``. WheelSpinner gives every cylinder the same
    number of ranks, so three cylinders need a multiple of three ranks; on 2 ranks (or any
    even number that is not a multiple of three) the hub has the Lagrangian spoke and finds
    inner bounds itself (``XbarInnerBound``: the rates fixed at their node averages ``x̄``,
    repaired to the pace limit by :func:`xbar_rates`, the paths re-solved without W and prox
    terms); on 1 rank the hub is alone and its outer bound is PH's iteration-0 (wait-and-see)
    bound. ``ρ`` is scaled to the expected cost coefficients and is the same in every
    scenario (:func:`cost_scaled_rho`): the default of 1 barely moves rates worth tens of
    trillions per unit, and a per-path ``ρ`` breaks the Lagrangian bound.

References
----------
Rockafellar, R. T. & Uryasev, S. (2000). Optimization of conditional value-at-risk.
*Journal of Risk* 2, 21-41.
Watson, J.-P. & Woodruff, D. L. (2011). Progressive hedging innovations for a class of
stochastic mixed-integer resource allocation problems. *Computational Management Science* 8,
355-370 (cost-proportional ρ).
Knueven, B., Mildebrath, D., Muir, C., Siirola, J. D., Watson, J.-P. & Woodruff, D. L. (2023).
A parallel hub-and-spoke system for large-scale scenario-based optimization under uncertainty.
*Mathematical Programming Computation* 15, 591-619.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import xarray as xr

from models.config import (
    CATEGORIES,
    SEXES,
    OptimizationSettings,
    load_arrays,
    load_experiment,
)
from models.demography import stochastic
from models.optimize.data import MONEY_SCALE, ScenarioData, constraint_variant
from models.optimize.decompose import CHUNK_PATHS, solve_decomposed
from models.optimize.model import RATE_POINT, add_path, path_cost
from models.optimize.rules import rule_applies, rule_coefficients
from models.optimize.solve import scenario_data, setup_problem
from models.optimize.tree import ScenarioTree
from models.pension import calibrate_base_year, retirement_schedule

log = logging.getLogger(__name__)

#: Pyomo solver name handed to mpi-sppy (legacy factory, new HiGHS interface; see docstring).
SOLVER = "highs"
#: HiGHS threads per rank under mpiexec. HiGHS builds its thread pool at the first solve of a
#: process and fails later solves that ask for another count (status "unknown"), so every
#: solve of an MPI process uses this.
PH_THREADS = 1
#: HiGHS options of every PH solve: the Lagrangian bound is valid for subproblems solved to
#: optimality, and the gaps PH reports are ~1e-6 of costs of ~850 trillion yuan, so the
#: feasibility tolerances are tightened from HiGHS's 1e-7 (a precaution: cheap on these LPs).
PH_SOLVER_OPTIONS = {"primal_feasibility_tolerance": 1e-9, "dual_feasibility_tolerance": 1e-9}
#: PH's default stopping gap (relative): most of the expected cost is common to every policy.
PH_REL_GAP = 1e-6
#: Relative tolerance within which a PH run is said to agree with the extensive form.
AGREEMENT_TOLERANCE = 0.005


def _keep_mpisppy_logs_off_disk() -> None:
    """mpi-sppy opens ``hub.log``, ``xhatclp.log``, ``xhateval.log`` in the working
    directory when its cylinder modules are imported; send those loggers to stderr instead
    (they log at CRITICAL). Call before importing ``mpisppy.cylinders`` or ``mpisppy.utils``."""
    import mpisppy.log

    if getattr(mpisppy.log.setup_logger, "_pension_patched", False):
        return

    def setup_logger(name, out, level=logging.DEBUG, mode="w", fmt=None):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.propagate = False
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter(fmt or "(%(asctime)s) %(message)s"))
            logger.addHandler(handler)

    setup_logger._pension_patched = True
    mpisppy.log.setup_logger = setup_logger


# ----------------------------------------------------------------------------- tree names
@dataclass(frozen=True)
class TreeNames:
    """Our :class:`ScenarioTree` in mpi-sppy's vocabulary."""

    scenario_names: list[str]  # leaf order: every node's paths contiguous
    path_of: dict[str, int]  # scenario name -> path index
    node_name: dict[int, str]  # our node id -> "ROOT", "ROOT_0", "ROOT_0_1", ...
    all_nodenames: list[str] | None  # None for a two-stage tree
    node_probability: dict[int, float]  # our node id -> probability of its paths
    branching_factors: list[int] | None  # when every node of a stage has as many children

    @property
    def multistage(self) -> bool:
        return self.all_nodenames is not None


def tree_names(tree: ScenarioTree) -> TreeNames:
    """Node and scenario names for mpi-sppy (rules in the module docstring)."""
    children: dict[int, list[int]] = {n: [] for n in range(tree.n_nodes)}
    for n in range(tree.n_nodes):
        if tree.parent[n] >= 0:
            children[int(tree.parent[n])].append(n)
    node_name = {0: "ROOT"}
    order: list[int] = []  # nodes depth first
    stack = [0]
    while stack:
        n = stack.pop()
        order.append(n)
        for i, c in enumerate(children[n]):
            node_name[c] = f"{node_name[n]}_{i}"
        stack.extend(reversed(children[n]))
    last = tree.stage_years.size - 1
    scenario_paths: list[int] = []
    leaf_names: list[str] = []
    for n in order:
        if tree.stage_of_node[n] == last:
            paths = tree.paths_of_node(n)
            scenario_paths.extend(int(p) for p in paths)
            leaf_names.extend(f"{node_name[n]}_{j}" for j in range(paths.size))
    names = [f"path{p}" for p in scenario_paths]
    node_probability = {n: float(tree.probability[tree.paths_of_node(n)].sum())
                        for n in range(tree.n_nodes)}
    multistage = tree.stage_years.size > 1
    branching = None
    if multistage:
        per_stage = []
        for k in range(last):
            counts = {len(children[n]) for n in range(tree.n_nodes) if tree.stage_of_node[n] == k}
            per_stage.append(counts.pop() if len(counts) == 1 else None)
        branching = per_stage if None not in per_stage else None
    return TreeNames(
        scenario_names=names, path_of=dict(zip(names, scenario_paths)), node_name=node_name,
        all_nodenames=[node_name[n] for n in order] + leaf_names if multistage else None,
        node_probability=node_probability, branching_factors=branching)


# ----------------------------------------------------------------------------- scenarios
def _rate_bounds(data: ScenarioData) -> tuple[float, float, float]:
    c = data.settings.contribution
    if c.enabled:
        return c.min_rate, c.max_rate, c.pace_per_year
    return data.pooled_rate_before, data.pooled_rate_before, 0.0


def _check_decomposable(data: ScenarioData) -> str:
    variant = constraint_variant(data)
    if rule_applies(data):
        raise ValueError(
            f"optimization.recourse.reserve_draws: a reserve-draw rule (a basis of "
            f"{data.recourse_basis.shape[-1]} columns): its coefficients are shared by every path (first-stage variables) and mpi-sppy's per-path models do "
            "not carry them, so PH and mpi-sppy's extensive form would drop the rule; use "
            "--method lshaped (the decomposition keeps them in its master)")
    if variant == "chance":
        raise ValueError(
            "optimization.constraints.chance_alpha: a chance constraint (one binary per path "
            "and a probability budget over paths) does not decompose by scenario, so mpi-sppy "
            "cannot run it; use the CVaR variant (cvar_beta, cvar_limit_cny) or solve_inner")
    return variant


def scenario_creator(scenario_name: str, data: ScenarioData, tree: ScenarioTree,
                     names: TreeNames | None = None, cvar_multiplier: float | None = None
                     ) -> pyo.ConcreteModel:
    """One path's Pyomo model with mpi-sppy's node list (see the module docstring).

    ``cvar_multiplier`` is the price ``λ`` of the CVaR limit in the CVaR variant (required
    there; 0 leaves the limit to the caller, as :func:`solve_extensive_form` does).
    """
    names = names or tree_names(tree)
    variant = _check_decomposable(data)
    p = names.path_of[scenario_name]
    s = data.settings
    T = range(len(data.years))
    lo, hi, pace = _rate_bounds(data)
    m = pyo.ConcreteModel(name=scenario_name)
    m.tau = pyo.Var(T, bounds=(lo, hi), initialize=data.pooled_rate_before)
    m.tau_change = pyo.Var(T, domain=pyo.NonNegativeReals)
    for t, value in (data.fixed_rates or {}).items():
        m.tau[t].fix(value)

    def before(t):
        return data.pooled_rate_before if t == 0 else m.tau[t - 1]

    m.tau_up = pyo.Constraint(T, rule=lambda m, t: m.tau[t] - before(t) <= m.tau_change[t])
    m.tau_down = pyo.Constraint(T, rule=lambda m, t: before(t) - m.tau[t] <= m.tau_change[t])
    m.tau_pace = pyo.Constraint(T, rule=lambda m, t: m.tau_change[t] <= pace)
    m.path = pyo.Block()
    rate = lambda t: m.tau[t]  # noqa: E731
    add_path(m.path, data, p, rate)

    smoothing = s.objective.smoothing_cny_per_point / MONEY_SCALE / RATE_POINT
    stage = tree.stage_of_year(data.years)
    n_stages = tree.stage_years.size

    def stage_cost(k: int):
        mask = (stage == k).astype(float)
        cost = path_cost(m.path, replace(data, discount=data.discount * mask), p, rate)
        cost = cost + smoothing * sum(m.tau_change[t] for t in T if stage[t] == k)
        return cost + data.outer_cost / MONEY_SCALE if k == 0 else cost

    m.stage_cost = pyo.Expression(range(n_stages), rule=lambda m, k: stage_cost(k))
    cost = path_cost(m.path, data, p, rate) + smoothing * sum(m.tau_change[t] for t in T) \
        + data.outer_cost / MONEY_SCALE
    root_extra = []
    if variant == "cvar":
        cost = cost + _add_cvar(m, data, cvar_multiplier)
        root_extra.append(m.eta)
    m.objective = pyo.Objective(expr=cost)
    m._mpisppy_probability = float(data.probability[p])
    m._pension_xhat = (data.pooled_rate_before, lo, hi, pace)  # for XbarInnerBound
    m._mpisppy_node_list = _node_list(m, tree, names, p, stage, root_extra)
    return m


def _add_cvar(m: pyo.ConcreteModel, data: ScenarioData, cvar_multiplier: float | None):
    """The CVaR variant's per-scenario part on ``m`` (``η``, ``ξ ≥ Σ_t δ_t U_t − η``) and its
    priced limit ``λ (η + ξ / (1 − β) − L)``, returned as a cost term."""
    if cvar_multiplier is None:
        raise ValueError(
            "the CVaR variant needs cvar_multiplier (the price of the CVaR limit, "
            "trillion yuan of cost per trillion of CVaR): take the EF's dual "
            "(solve_extensive_form(...).cvar_multiplier) or give one")
    con = data.settings.constraints
    T = range(len(data.years))
    # the VaR level lies between no loss and the largest possible one; the bounds keep
    # each scenario bounded when PH's W term prices eta
    worst = float(np.max(data.expenditure @ data.discount))
    m.eta = pyo.Var(bounds=(0.0, worst))
    m.xi = pyo.Var(domain=pyo.NonNegativeReals)
    m.xi_def = pyo.Constraint(expr=m.xi >= sum(data.discount[t] * m.path.U[t] for t in T)
                              - m.eta)
    limit = con.cvar_limit_cny / MONEY_SCALE
    return cvar_multiplier * (m.eta + m.xi / (1.0 - con.cvar_beta) - limit)


def _node_list(m: pyo.ConcreteModel, tree: ScenarioTree, names: TreeNames, p: int,
               stage: np.ndarray, root_extra: list) -> list:
    """mpi-sppy's node list of scenario ``p``: per stage its node, conditional probability,
    cost expression and nonants (``τ`` and ``v`` of the stage's years, plus ``root_extra``
    at the root)."""
    _keep_mpisppy_logs_off_disk()
    from mpisppy import scenario_tree

    T = range(stage.size)
    node_of = tree.node_of[p]
    nodes = []
    for k in range(tree.stage_years.size):
        node = int(node_of[k])
        years_k = [t for t in T if stage[t] == k]
        nonants = [m.tau[t] for t in years_k] + [m.tau_change[t] for t in years_k]
        if k == 0:
            nonants += root_extra
        parent = int(tree.parent[node])
        cond = names.node_probability[node] / names.node_probability[parent] if parent >= 0 \
            else 1.0
        nodes.append(scenario_tree.ScenarioNode(
            name=names.node_name[node], cond_prob=cond, stage=k + 1,
            cost_expression=m.stage_cost[k], nonant_list=nonants, scen_model=m,
            parent_name=names.node_name[parent] if parent >= 0 else None))
    return nodes


def scenario_names_creator(num_scens: int | None = None, start: int | None = None, *,
                           tree: ScenarioTree) -> list[str]:
    """Scenario names in leaf order (``num_scens`` of them from ``start``; all by default)."""
    names = tree_names(tree).scenario_names
    start = start or 0
    return names[start:] if num_scens is None else names[start:start + num_scens]


def kw_creator(data: ScenarioData, tree: ScenarioTree, cvar_multiplier: float | None = None
               ) -> dict:
    """Keyword arguments of :func:`scenario_creator` (the tree's names computed once)."""
    return {"data": data, "tree": tree, "names": tree_names(tree),
            "cvar_multiplier": cvar_multiplier}


def scenario_denouement(rank: int, scenario_name: str, scenario: pyo.ConcreteModel) -> None:
    """Nothing to do per scenario after a solve: results are read from the bounds."""


def cost_scaled_rho(data: ScenarioData, factor: float = 1.0):
    """A rho setter: ``ρ = factor · |c| / range`` per nonant (Watson & Woodruff 2011).

    ``c`` is the variable's expected cost coefficient — ``w_c δ_t E[CB[·, t]]`` for the
    pooled rate (trillions per unit of rate), the smoothing weight for its helper, the CVaR
    price for ``η`` — and ``range`` its width (the rate bounds; the pace for the helper), so
    that one unit of ``ρ (x − x̄)`` is worth about one unit of cost over the variable's range.
    ``ρ`` is the same in every scenario: PH's ``W`` keep ``Σ_p π_p W_p = 0`` at every node
    only then, and the Lagrangian bound is valid only with such ``W`` (a per-path ``ρ``
    gave a "lower" bound above the optimum).
    """
    s = data.settings
    lo, hi, pace = _rate_bounds(data)
    width = max(hi - lo, RATE_POINT)
    smoothing = s.objective.smoothing_cny_per_point / MONEY_SCALE / RATE_POINT
    floor = 1e-6
    coef = s.objective.contributions * data.discount * (data.probability @ data.contribution_base)
    rho_rate = factor * np.maximum(np.abs(coef), floor) / width
    rho_change = factor * max(smoothing, floor) / max(pace, RATE_POINT)

    def setter(scenario: pyo.ConcreteModel, **_kwargs) -> list[tuple[int, float]]:
        out = [(id(v), float(rho_rate[t])) for t, v in scenario.tau.items()]
        out += [(id(v), rho_change) for v in scenario.tau_change.values()]
        if hasattr(scenario, "eta"):
            out.append((id(scenario.eta), factor * 1.0))
        return out

    return setter


# ----------------------------------------------------------------------------- extensive form
@dataclass
class EFResult:
    objective: float  # trillions of yuan, same units as solve_inner
    status: str
    tau_root: np.ndarray  # [years of stage 0] root pooled rates
    cvar_multiplier: float | None  # dual of the CVaR limit (CVaR variant)
    build_s: float
    solve_s: float
    n_scenarios: int
    used: str  # "ExtensiveForm" or "create_EF"


def _world_size() -> int:
    from mpisppy import MPI

    return MPI.COMM_WORLD.Get_size()


def solve_extensive_form(data: ScenarioData, tree: ScenarioTree,
                         solver_options: dict | None = None) -> EFResult:
    """The extensive form through mpi-sppy, on the calling rank alone.

    In a one-rank world this is mpi-sppy's ``ExtensiveForm``. Under ``mpiexec -n N > 1``
    ``ExtensiveForm`` would build only the calling rank's share of the scenarios and return a
    wrong objective (DESIGN, toolchain notes), so there the same model is built with
    ``sputils.create_EF`` (what ``ExtensiveForm`` calls on one rank) over *all* scenarios.
    The CVaR limit is added as one row across the scenario blocks. Returns the objective in
    trillions of yuan, as :func:`models.optimize.solve.solve_inner`.
    """
    _keep_mpisppy_logs_off_disk()
    from mpisppy.opt.ef import ExtensiveForm
    from mpisppy.utils import sputils

    variant = _check_decomposable(data)
    names = tree_names(tree)
    kwargs = kw_creator(data, tree, cvar_multiplier=0.0 if variant == "cvar" else None)
    opts = {"time_limit": data.settings.solver.time_limit_s,
            "threads": data.settings.solver.threads, **(solver_options or {})}
    t0 = time.perf_counter()
    if _world_size() == 1:
        ef_obj = ExtensiveForm({"solver": SOLVER}, names.scenario_names, scenario_creator,
                               scenario_creator_kwargs=kwargs, all_nodenames=names.all_nodenames)
        ef, used = ef_obj.ef, "ExtensiveForm"
    else:
        ef = sputils.create_EF(names.scenario_names, scenario_creator,
                               scenario_creator_kwargs=kwargs, suppress_warnings=True)
        used = "create_EF"
    if variant == "cvar":
        con = data.settings.constraints
        scen = [getattr(ef, n) for n in names.scenario_names] if len(names.scenario_names) > 1 \
            else [ef]
        ef.cvar_limit = pyo.Constraint(expr=scen[0].eta + sum(
            sc._mpisppy_probability * sc.xi for sc in scen) / (1.0 - con.cvar_beta)
            <= con.cvar_limit_cny / MONEY_SCALE)
        ef.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    solver = pyo.SolverFactory(SOLVER)
    for key, value in opts.items():
        solver.options[key] = value
    results = solver.solve(ef, load_solutions=False, raise_exception_on_nonoptimal_result=False)
    solve_s = time.perf_counter() - t1
    term = str(results.solver.termination_condition)
    if sputils.not_good_enough_results(results):
        return EFResult(np.inf if "infeasible" in term else np.nan, term, np.array([]), None,
                        build_s, solve_s, len(names.scenario_names), used)
    ef.solutions.load_from(results)
    objective_comp = next(ef.component_data_objects(pyo.Objective, active=True))
    first = [getattr(ef, n) for n in names.scenario_names][0] if len(names.scenario_names) > 1 \
        else ef
    stage0 = tree.stage_of_year(data.years) == 0
    tau_root = np.array([first.tau[t].value for t in np.flatnonzero(stage0)])
    multiplier = None
    if variant == "cvar":
        multiplier = abs(float(ef.dual.get(ef.cvar_limit, 0.0)))
    return EFResult(float(pyo.value(objective_comp)), term, tau_root, multiplier, build_s,
                    solve_s, len(names.scenario_names), used)


# ----------------------------------------------------------------------------- PH
def xbar_rates(xbar: np.ndarray, before: float, lo: float, hi: float, pace: float
               ) -> np.ndarray:
    """A feasible pooled-rate path from node averages ``x̄[t]`` along one scenario's chain of
    nodes: ``τ[t] = clip(x̄[t], τ[t−1] ± pace) ∩ [lo, hi]`` from ``τ[−1] = before``.

    ``τ[t]`` depends only on the averages of the nodes governing years ``≤ t`` (the ones
    shared by every path through them), so the path is non-anticipative; averages are within
    the bounds but may break the pace where a stage starts (its node averages fewer paths
    than its parent), which the clipping repairs.
    """
    out = np.empty(len(xbar))
    prev = before
    for t, x in enumerate(xbar):
        prev = float(np.clip(np.clip(x, prev - pace, prev + pace), lo, hi))
        out[t] = prev
    return out


def _xbar_inner_bound_class():
    from mpisppy import phbase
    from mpisppy.extensions.extension import Extension

    class XbarInnerBound(Extension):
        """Inner bounds in the hub: every ``every`` iterations fix each path's pooled rates at
        :func:`xbar_rates` of the node averages ``x̄`` (non-anticipative by construction),
        solve every path without the W and prox terms (the ``|Δτ|`` helpers and the
        recourse free) and offer the expected cost to the hub as its best solution."""

        def __init__(self, opt, every: int = 1):
            super().__init__(opt)
            self.every = max(int(every), 1)

        def _try_xbar(self) -> None:
            opt = self.opt
            opt._save_nonants()
            phbase._Compute_Xbar(opt)
            for s in opt.local_scenarios.values():
                before, lo, hi, pace = s._pension_xhat
                index = s._mpisppy_data.varid_to_nonant_index
                xbar = np.array([s._mpisppy_model.xbars[index[id(v)]]._value
                                 for v in s.tau.values()])
                for v, value in zip(s.tau.values(), xbar_rates(xbar, before, lo, hi, pace)):
                    if not v.fixed:
                        v.fix(value)
                if hasattr(s, "eta"):  # the VaR level is first-stage too
                    s.eta.fix(s._mpisppy_model.xbars[index[id(s.eta)]]._value)
            opt.disable_W_and_prox()
            opt.solve_loop(solver_options=opt._effective_solver_options(opt._PHIter),
                           need_solution=False)
            if opt.no_incumbent_prob() == 0.0:
                opt.update_best_solution_if_improving(opt.Eobjective())
            opt.reenable_W_and_prox()
            opt._restore_nonants()  # values and fixedness of every nonant

        def enditer(self):
            if self.opt._PHIter % self.every == 0:
                self._try_xbar()

        def post_everything(self):
            self._try_xbar()

    return XbarInnerBound


def _own_bounds_hub_class():
    from mpisppy.cylinders.hub import PHHub

    class PHHubOwnInnerBound(PHHub):
        """A PH hub that also stops on the gap when its inner bounds come from its own
        extension (:class:`XbarInnerBound`) rather than from an inner-bound spoke; mpi-sppy's
        hub only checks the gap when such a spoke exists."""

        def is_converged(self, screen_trace=True):
            if self.opt.best_bound_obj_val is not None:
                self.BestOuterBound = self.OuterBoundUpdate(self.opt.best_bound_obj_val)
            if self.opt.best_solution_obj_val is not None:
                self.BestInnerBound = self.InnerBoundUpdate(self.opt.best_solution_obj_val)
            if self.global_rank == 0 and screen_trace:
                self.screen_trace()
            return self.determine_termination(screen_trace)

    return PHHubOwnInnerBound


@dataclass
class PHResult:
    inner_bound: float  # best feasible expected cost (trillions), an upper bound
    outer_bound: float  # best lower bound (trillions)
    gap_abs: float
    gap_rel: float
    objective: float  # = inner_bound: the cost of the best non-anticipative policy found
    iterations: int
    n_ranks: int
    cylinders: list[str]
    ranks_per_cylinder: int
    wall_s: float
    rho_factor: float
    converged: bool  # the relative gap reached rel_gap
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {k: (float(v) if isinstance(v, (np.floating, float)) else v)
                for k, v in self.__dict__.items()}


def plan_cylinders(n_ranks: int) -> list[str]:
    """Cylinders for ``n_ranks`` (WheelSpinner gives each the same number of ranks)."""
    if n_ranks % 3 == 0:
        return ["ph", "lagrangian", "xhatshuffle"]
    if n_ranks % 2 == 0:
        return ["ph", "lagrangian"]
    if n_ranks == 1:
        return ["ph"]
    raise ValueError(f"{n_ranks} ranks: PH here runs on 1, 2 or a multiple of 2 or 3 ranks "
                     "(WheelSpinner gives every cylinder as many ranks)")


def run_ph(data: ScenarioData, tree: ScenarioTree, *, comm=None, max_iterations: int = 200,
           rel_gap: float = 1e-6, rho_factor: float = 1.0, time_limit_s: float | None = None,
           cvar_multiplier: float | None = None, xbar_every: int = 1,
           solver_options: dict | None = None, verbose: bool = False) -> PHResult:
    """Progressive hedging with bound spokes on every rank of ``comm`` (MPI.COMM_WORLD).

    Call it on every rank (``mpiexec -n N python -m models.optimize.mpisppy_adapter ...``).
    Cylinders by rank count: :func:`plan_cylinders`. Stops when
    ``(inner − outer) / |inner| ≤ rel_gap``, after ``max_iterations`` or ``time_limit_s``.
    Solver threads default to one per rank (``threads=1``). Returns the same numbers on
    every rank.
    """
    _keep_mpisppy_logs_off_disk()
    from mpisppy import MPI
    from mpisppy.spin_the_wheel import WheelSpinner
    from mpisppy.utils import cfg_vanilla as vanilla
    from mpisppy.utils import config

    variant = _check_decomposable(data)
    if variant == "cvar" and cvar_multiplier is None:
        raise ValueError("run_ph: the CVaR variant needs cvar_multiplier (see scenario_creator)")
    comm = comm or MPI.COMM_WORLD
    n_ranks = comm.Get_size()
    cylinders = plan_cylinders(n_ranks)
    names = tree_names(tree)
    kwargs = kw_creator(data, tree, cvar_multiplier=cvar_multiplier)

    cfg = config.Config()
    cfg.popular_args()
    cfg.two_sided_args()
    cfg.ph_args()
    cfg.lagrangian_args()
    cfg.xhatshuffle_args()
    cfg.solver_name = SOLVER
    cfg.default_rho = 1.0
    cfg.max_iterations = max_iterations
    cfg.rel_gap = rel_gap
    cfg.abs_gap = 0.0
    cfg.max_solver_threads = PH_THREADS
    cfg.time_limit = time_limit_s
    cfg.display_progress = verbose
    cfg.intra_hub_conv_thresh = 0.0
    cfg.solver_options = " ".join(f"{k}={v}" for k, v in  # mpi-sppy's Config takes a string
                                  {**PH_SOLVER_OPTIONS, **(solver_options or {})}.items())
    rho_setter = cost_scaled_rho(data, rho_factor)
    common = dict(scenario_creator_kwargs=kwargs, all_nodenames=names.all_nodenames)
    extensions, ext_kwargs = None, None
    if "xhatshuffle" not in cylinders:
        extensions, ext_kwargs = _xbar_inner_bound_class(), {"every": xbar_every}
    hub = vanilla.ph_hub(cfg, scenario_creator, scenario_denouement, names.scenario_names,
                         rho_setter=rho_setter, ph_extensions=extensions,
                         extension_kwargs=ext_kwargs, **common)
    if "xhatshuffle" not in cylinders:
        hub["hub_class"] = _own_bounds_hub_class()
    spokes = []
    if "lagrangian" in cylinders:
        spokes.append(vanilla.lagrangian_spoke(cfg, scenario_creator, scenario_denouement,
                                               names.scenario_names, rho_setter=rho_setter,
                                               **common))
    if "xhatshuffle" in cylinders:
        spokes.append(vanilla.xhatshuffle_spoke(cfg, scenario_creator, scenario_denouement,
                                                names.scenario_names, **common))
        if names.branching_factors is not None:
            spokes[-1]["opt_kwargs"]["options"]["branching_factors"] = names.branching_factors
    t0 = time.perf_counter()
    ws = WheelSpinner(hub, spokes)
    ws.spin(comm_world=comm)
    wall_s = time.perf_counter() - t0
    inner = float(ws.BestInnerBound) if ws.BestInnerBound is not None else np.inf
    outer = float(ws.BestOuterBound) if ws.BestOuterBound is not None else -np.inf
    iterations = int(getattr(ws.spcomm.opt, "_PHIter", 0)) if ws.on_hub() else 0
    iterations = comm.allreduce(iterations, op=MPI.MAX)
    inner = comm.allreduce(inner, op=MPI.MIN)
    outer = comm.allreduce(outer, op=MPI.MAX)
    gap_abs = inner - outer
    gap_rel = gap_abs / abs(inner) if np.isfinite(inner) and inner != 0 else np.inf
    return PHResult(inner_bound=inner, outer_bound=outer, gap_abs=gap_abs, gap_rel=gap_rel,
                    objective=inner, iterations=iterations, n_ranks=n_ranks,
                    cylinders=cylinders, ranks_per_cylinder=n_ranks // len(cylinders),
                    wall_s=wall_s, rho_factor=rho_factor, converged=bool(gap_rel <= rel_gap))


# ----------------------------------------------------------------------------- inputs on disk
def save_inputs(target, data: ScenarioData, tree: ScenarioTree) -> None:
    """Write one inner problem (data and tree) as ``.npz`` to a path or binary file object
    (for a run under ``mpiexec``, or to broadcast it: the settings do not pickle). Every array
    of the data is written, so a reserve-draw rule's basis ``recourse_basis[path, year, j]``
    travels with it and a rule run over MPI sees the one-machine problem
    (``tests/test_mpisppy.py``)."""
    arrays = {f"data_{k}": np.asarray(v) for k, v in data.__dict__.items()
              if isinstance(v, np.ndarray)}
    scalars = {k: v for k, v in data.__dict__.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    meta = {"scalars": scalars, "settings": data.settings.model_dump(mode="json"),
            "fixed_rates": {str(k): v for k, v in (data.fixed_rates or {}).items()}
            if data.fixed_rates is not None else None}
    tree_arrays = {f"tree_{k}": np.asarray(v) for k, v in tree.__dict__.items()}
    np.savez(target, meta=np.array(json.dumps(meta)), **arrays, **tree_arrays)


def load_inputs(source) -> tuple[ScenarioData, ScenarioTree]:
    """Read what :func:`save_inputs` wrote (a path or binary file object)."""
    with np.load(source, allow_pickle=False) as f:
        meta = json.loads(str(f["meta"]))
        arrays = {k.removeprefix("data_"): f[k] for k in f.files if k.startswith("data_")}
        tree = ScenarioTree(**{k.removeprefix("tree_"): f[k] for k in f.files
                               if k.startswith("tree_")})
    fixed = meta["fixed_rates"]
    data = ScenarioData(**arrays, **meta["scalars"],
                        settings=OptimizationSettings.model_validate(meta["settings"]),
                        fixed_rates={int(k): v for k, v in fixed.items()} if fixed else None)
    return data, tree


def _inputs_bytes(data: ScenarioData, tree: ScenarioTree) -> bytes:
    buffer = io.BytesIO()
    save_inputs(buffer, data, tree)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- command line
def _experiment_inputs(experiment: str | Path) -> tuple[ScenarioData, ScenarioTree, dict]:
    """The experiment's inner problem at the regime's delays (no extra delay).

    Paths as in ``make experiment`` (:func:`models.pipeline.run.simulate`): the first
    ``optimization.paths`` Monte Carlo paths (all ``demography.paths`` by default; projected
    at float32, seeded by ``seed``), or the median path alone. The retirement-delay lever is
    not searched here (that outer search is serial): with it switched off this is the whole
    policy problem.
    """
    exp, cal, cal_dir = load_experiment(experiment)
    if exp.optimization is None:
        raise ValueError(f"{experiment}: the experiment has no [optimization] table")
    arrays = load_arrays(cal, cal_dir)
    median = stochastic.median_demography(arrays, exp.demography)["population"]
    n_paths = exp.optimization.paths or exp.demography.paths
    if exp.demography.paths > 0:
        if n_paths > exp.demography.paths:
            raise ValueError(f"{experiment}: optimization.paths = {n_paths} is more than "
                             f"demography.paths = {exp.demography.paths}")
        settings = exp.demography.model_copy(update={"paths": n_paths})
        inputs = stochastic.median_inputs(arrays, settings)
        chunks = [c.population for c in stochastic.iter_path_chunks(
            inputs, stochastic.calibrate_spread(arrays), settings,
            np.random.SeedSequence(exp.seed))]
        population = xr.DataArray(np.concatenate(chunks).astype(float),
                                  dims=("path", "year", "age", "sex"),
                                  coords={"path": np.arange(n_paths), "year": inputs.years,
                                          "age": inputs.ages, "sex": list(SEXES)})
    else:
        population = median.expand_dims(path=[0])
    years, ages = median["year"].values, median["age"].values
    schedule = retirement_schedule(years, ages, exp.optimization.regime, cal.pension)
    fit = calibrate_base_year(median, schedule, cal.pension, cal.finances)
    problem = setup_problem(cal, exp.optimization, population, fit)
    knots = np.zeros((problem.tree.n_nodes, len(problem.knot_yrs), len(CATEGORIES)))
    data = scenario_data(problem, knots)
    info = {"experiment": exp.name, "paths": int(problem.tree.n_paths),
            "nodes": int(problem.tree.n_nodes),
            "decision_stages": int(problem.tree.stage_years.size),
            "years": [int(problem.opt_years[0]), int(problem.opt_years[-1])],
            "variant": constraint_variant(data),
            "delays": "regime, no extra delay (the delay search is serial)"}
    return data, problem.tree, info


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m models.optimize.mpisppy_adapter",
        description="Solve an experiment's inner stochastic program with mpi-sppy "
                    "(run under mpiexec; writes results/<experiment>/distributed.json).")
    parser.add_argument("experiment", nargs="?", help="experiment TOML")
    parser.add_argument("--inputs", help="an .npz written by save_inputs instead of an experiment")
    parser.add_argument("--out", help="JSON file to write (default results/<exp>/distributed.json)")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--max-iterations", type=int, default=200)
    parser.add_argument("--method", choices=("lshaped", "ph"), default="lshaped",
                        help="lshaped: our L-shaped decomposition, its recourse chunks dealt "
                             "over the ranks (default); ph: progressive hedging on mpi-sppy")
    parser.add_argument("--chunk-paths", type=int, default=CHUNK_PATHS,
                        help="lshaped: paths per recourse chunk (chunks are dealt over ranks)")
    parser.add_argument("--rel-gap", type=float, default=None,
                        help="stop at this relative gap (PH: default 1e-6, most of the "
                             "expected cost is common to every policy; lshaped: default the "
                             "experiment's [optimization.solver] tolerance)")
    parser.add_argument("--rho-factor", type=float, default=1.0)
    parser.add_argument("--time-limit", type=float, default=None, help="seconds for PH")
    parser.add_argument("--cvar-multiplier", type=float, default=None)
    parser.add_argument("--check-ef", action="store_true",
                        help="also solve the extensive form on rank 0 and compare")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python -m models.optimize.mpisppy_adapter`` under ``mpiexec``: rank 0 builds the
    inner problem and broadcasts it; every rank solves it by ``--method`` (the L-shaped
    decomposition with its chunks dealt over the ranks, or PH on mpi-sppy); rank 0 writes the
    report."""
    args = _parser().parse_args(argv)
    if not args.experiment and not args.inputs:
        _parser().error("give an experiment TOML or --inputs FILE.npz")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    # values loaded a hair (1e-13) outside their bounds are reported once per variable
    logging.getLogger("pyomo.core").setLevel(logging.ERROR)
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    t0 = time.perf_counter()
    inputs = _broadcast_inputs(args, comm)
    if isinstance(inputs, str):
        if comm.Get_rank() == 0:
            print(f"error: {inputs}", file=sys.stderr)
        return 2
    data, tree, info = inputs
    setup_s = time.perf_counter() - t0
    ef = _extensive_form_on_rank_0(args, comm, data, tree)
    solve = _report_lshaped if args.method == "lshaped" else _report_ph
    report = solve(args, comm, data, tree, ef)
    if comm.Get_rank() != 0:
        return 0
    report = {**info, "method": args.method,
              "mpi": MPI.Get_library_version().splitlines()[0].strip("\x00 "), **report}
    report["timings_s"]["setup"] = round(setup_s, 3)
    if ef is not None:
        report.update(_ef_comparison(ef, report))
    _write_report(args, info, report)
    return 0


def _broadcast_inputs(args, comm) -> tuple | str:
    """``(data, tree, info)`` on every rank, built on rank 0 (from ``--inputs`` or the
    experiment) and broadcast; the error's text instead if building them failed."""
    payload: tuple | str | None = None
    if comm.Get_rank() == 0:
        try:
            if args.inputs:
                data, tree = load_inputs(args.inputs)
                info = {"experiment": Path(args.inputs).stem, "inputs": str(args.inputs)}
            else:
                data, tree, info = _experiment_inputs(args.experiment)
            if args.method == "ph":
                _check_decomposable(data)
            payload = (_inputs_bytes(data, tree), info)
        except Exception as exc:  # every rank must leave, not wait for a broadcast
            log.exception("setting up the inner problem failed")
            payload = f"{type(exc).__name__}: {exc}"
    payload = comm.bcast(payload, root=0)
    if isinstance(payload, str):
        return payload
    blob, info = payload
    data, tree = load_inputs(io.BytesIO(blob))
    return data, tree, info


def _extensive_form_on_rank_0(args, comm, data: ScenarioData, tree: ScenarioTree):
    """mpi-sppy's EF on rank 0 (broadcast) with ``--check-ef``, or for PH's CVaR multiplier
    when none is given; None otherwise."""
    cvar_needed = (args.method == "ph" and constraint_variant(data) == "cvar"
                   and args.cvar_multiplier is None)
    if not (args.check_ef or cvar_needed):
        return None
    ef = None
    if comm.Get_rank() == 0:
        ef = solve_extensive_form(data, tree, solver_options={"threads": PH_THREADS})
    return comm.bcast(ef, root=0)


def _report_lshaped(args, comm, data: ScenarioData, tree: ScenarioTree, ef) -> dict:
    """The L-shaped decomposition (:func:`models.optimize.decompose.solve_decomposed`) with
    its recourse chunks dealt over the ranks: the same answer on any rank count."""
    t0 = time.perf_counter()
    data = replace(data, settings=data.settings.model_copy(update={
        "solver": data.settings.solver.model_copy(update={"threads": PH_THREADS})}))
    tol = data.settings.solver.tolerance if args.rel_gap is None else args.rel_gap
    sol = solve_decomposed(data, tolerance=tol, max_iterations=args.max_iterations,
                           chunk_paths=args.chunk_paths, comm=comm)
    stage0 = tree.stage_of_year(data.years) == 0
    return {"ranks": comm.Get_size(), "solver": "highspy (L-shaped)",
            "objective_trillion_cny": sol.objective,
            "lower_bound_trillion_cny": sol.lower_bound, "gap_rel": sol.gap_rel,
            "converged": sol.status == "optimal", "rel_gap_target": tol,
            "iterations": sol.iterations, "chunk_paths": args.chunk_paths,
            "tau_root": sol.tau[0, stage0].tolist(),
            "fund_balance_last_year_trillion_cny": sol.B[:, -1].tolist(),
            **_rule_report(data, sol),
            "timings_s": {"lshaped": round(time.perf_counter() - t0, 3)}}


def _rule_report(data: ScenarioData, sol) -> dict:
    """Under a reserve-draw rule (its basis travels in the saved inputs, :func:`save_inputs`):
    the number of the rule's basis columns, its coefficients ``θ[year, j]`` (:func:`models.optimize.rules.
    rule_coefficients` of the draws) and the expected draws per year (trillions); empty
    without one."""
    if not rule_applies(data):
        return {}
    return {"draw_rule_columns": int(data.recourse_basis.shape[-1]),
            "draw_rule_coefficients": rule_coefficients(data.recourse_basis, sol.D).tolist(),
            "reserve_draws_mean_trillion_cny": (data.probability @ sol.D).tolist()}


def _report_ph(args, comm, data: ScenarioData, tree: ScenarioTree, ef) -> dict:
    """Progressive hedging on mpi-sppy (:func:`run_ph`)."""
    cvar = args.cvar_multiplier
    if cvar is None and ef is not None and ef.cvar_multiplier is not None:
        cvar = ef.cvar_multiplier
    rel_gap = PH_REL_GAP if args.rel_gap is None else args.rel_gap
    ph = run_ph(data, tree, comm=comm, max_iterations=args.max_iterations, rel_gap=rel_gap,
                rho_factor=args.rho_factor, time_limit_s=args.time_limit,
                cvar_multiplier=cvar, verbose=args.verbose)
    return {"solver": SOLVER, "ranks": ph.n_ranks, "cylinders": ph.cylinders,
            "ranks_per_cylinder": ph.ranks_per_cylinder,
            "objective_trillion_cny": ph.objective, "inner_bound_trillion_cny": ph.inner_bound,
            "outer_bound_trillion_cny": ph.outer_bound, "gap_abs_trillion_cny": ph.gap_abs,
            "gap_rel": ph.gap_rel, "converged": ph.converged, "rel_gap_target": rel_gap,
            "iterations": ph.iterations, "rho_factor": ph.rho_factor, "cvar_multiplier": cvar,
            "timings_s": {"ph": round(ph.wall_s, 3)}}


def _ef_comparison(ef, report: dict) -> dict:
    """The extensive form's objective beside the distributed one, and whether the bounds
    bracket it."""
    low = report.get("outer_bound_trillion_cny", report.get("lower_bound_trillion_cny"))
    high = report.get("inner_bound_trillion_cny", report["objective_trillion_cny"])
    return {"ef_objective_trillion_cny": ef.objective, "ef_status": ef.status,
            "timings_s": {**report["timings_s"], "ef_build": round(ef.build_s, 3),
                          "ef_solve": round(ef.solve_s, 3)},
            "vs_ef_rel": (report["objective_trillion_cny"] - ef.objective) / abs(ef.objective),
            "bounds_certify_ef": bool(low <= ef.objective * (1 + 1e-6) + 1e-9
                                      and ef.objective <= high * (1 + 1e-6) + 1e-9)}


def _write_report(args, info: dict, report: dict) -> None:
    out = Path(args.out) if args.out else Path(args.results_dir) / info["experiment"] / \
        "distributed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2, default=float) + "\n")
    tmp.replace(out)
    print(json.dumps(report, indent=2, default=float))
    print(f"wrote {out}")


def _main_or_abort() -> int:
    """:func:`main`, aborting every rank if one fails (otherwise the others wait forever)."""
    try:
        return main()
    except Exception:
        from mpisppy import MPI

        log.exception("rank %d failed", MPI.COMM_WORLD.Get_rank())
        if MPI.COMM_WORLD.Get_size() > 1:
            sys.stderr.flush()
            MPI.COMM_WORLD.Abort(1)
        raise


if __name__ == "__main__":
    sys.exit(_main_or_abort())
