"""Sample-average approximation done properly (issue 16, item 6): the policy chosen on N paths
evaluated on fresh paths, with confidence intervals, and the Mak–Morton–Wood bound on its
optimality gap.

A policy is the outer levers (delay and indexation knots per node) and the pooled rates per
node and year. On a fresh path it is *fixed*: the path is placed in the tree by the tree's own
rule (:func:`assign_nodes`: by rank, or the nearest k-means centre of each stage on what the
path has observed up to the year before that stage), takes its nodes' rates and its leaf's
delays and indexation, and only the recourse (reserve draws, extra transfers, and the excess
over the fiscal capacity where there is one) is chosen for that path — exactly what the
two-stage problem lets adapt. With a reserve-draw rule (:mod:`models.optimize.rules`) the
recourse is not chosen either: the rule's coefficients ``θ`` fitted in sample are applied to
the fresh path's own observed state (standardised at the in-sample scale,
:func:`fresh_basis`), cut to what the reserve holds (:func:`rule_draws`, cuts counted), and the
transfers are the ones the shortfall forces — or, where the capacity binds and it was cheaper
in sample, at least the pre-funded share ``κ_t`` of the path's capacity fitted in sample
(:func:`models.optimize.rules.prefund_shares`, ``InnerSolution.prefund``) — split at the
capacity as the optimizer makes them (:func:`rule_paths`): every decision of year ``t`` on a
fresh path depends on that path's data up to ``t`` only, and on copies of the in-sample paths
the evaluation gives back the in-sample optimum (tests/test_evaluate_rules.py).
Every fresh path's cost is

    c_p = Σ_t δ_t (w_c CB_pt τ_pt + w_r D_pt + w_x X_pt + w_u U_pt + w_e R_pt)
          + w_s Σ_t |τ_pt − τ_p,t−1| / 0.01 + delay and indexation cost of the path

(:func:`path_costs`; the probability-weighted sum over the paths of a solved problem is its
objective). Three policies meet on the same fresh paths (common random numbers): the
stochastic solution (SP), the expected-value solution's rates (EV: the rates of the problem
on the mean path, with the SP's delays and indexation; under a draw rule, with the rule
re-fitted in sample at those rates, :func:`rule_for_rates`) and each path's
perfect-foresight optimum (WS: rates and recourse free on the path, the SP's delays):
VSS = E[c_EV − c_SP], EVPI = E[c_SP − c_WS], with paired t intervals
(:func:`models.optimize.statistics.paired_difference_interval`).

Money and penalty. With a fiscal capacity a yuan beyond it costs ``w_e`` (1,000 by default)
where a transfer within it costs ``w_x`` (1.3), so the objective's differences are dominated
by the excess. Each path's cost splits exactly into

    c_p = m_p + q_p,   q_p = (w_e − w_x) Σ_t δ_t R_pt   (:func:`excess_penalty`)

``m_p`` the *money* part — the objective with every yuan of fiscal money, within the capacity
or beyond it, priced as a transfer (``w_x``), plus contributions, draws, delays, indexation —
and ``q_p`` the *penalty* part, the premium the objective puts on money beyond the capacity
(0 without a capacity). VSS and EVPI are reported whole and split the same way
(``vss_money + vss_penalty = vss``), each with its paired interval, so that a reader can tell
a value of the stochastic solution in money from one in penalty units.

A fresh path's recourse pays every pension (the hard guarantee, also in the chance and CVaR
experiments, whose limits are on the whole sample): "paid in full within capacity" on a path:
no excess over the fiscal capacity and no unpaid
pension in any year when the problem has a capacity (``ScenarioData.transfer_capacity``);
until then, no extra transfer and no unpaid pension at all (the guarantee needs no money
beyond the levers and the rule's subsidy).

Optimality gap (Mak, Morton and Wood 1999): replication k draws N fresh paths, solves the
SAA problem on them (the outer search started at the candidate's levers; its value ``v_k`` is
the best that search finds, an upper bound on the SAA optimum, so the bound is on the gap to
the search's local optima) and evaluates the candidate on them with the tree built on those
paths; ``G_k = c̄_k(x̂) − v_k``. Under a chance constraint ``c̄_k(x̂)`` is the candidate's
value in that problem (:func:`chance_value`), not its hard-guarantee cost.

References: Mak, Morton, Wood (1999), Oper. Res. Lett. 24, 47–56; Birge, J. R. (1982), "The
value of the stochastic solution in stochastic linear programs with fixed recourse", Math.
Programming 24, 314–325; Shapiro, Dentcheva, Ruszczyński (2014), §5.6.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import SimpleNamespace

import numpy as np

from models.optimize.data import (
    MONEY_SCALE,
    ScenarioData,
    capacity_applies,
    constraint_variant,
    flows_from_rates,
    mean_of_paths,
    new_retirees,
    reserve_returns,
    take_paths,
)
from models.optimize.lp import RATE_POINT, solve_extensive
from models.optimize.rules import (
    affine_basis,
    forced_transfers,
    node_basis,
    prefund_shares,
    rule_applies,
    rule_coefficients,
    rule_decisions,
    split_by_capacity,
)
from models.optimize.solve import (
    Levers,
    PolicyProblem,
    PolicySolution,
    leaf_paths,
    observed_state,
    optimize_policy,
    rates_for,
    scenario_data,
    solve_inner,
)
from models.optimize.statistics import (
    mean_interval,
    optimality_gap_interval,
    paired_difference_interval,
    probability_interval,
)
from models.optimize.tree import ScenarioTree, standardised

#: Fresh paths per extensive-form solve (their blocks are independent once the rates are fixed).
CHUNK_PATHS = 100


# ----------------------------------------------------------------------------- the tree
def assign_nodes(tree: ScenarioTree, observable_in: np.ndarray, observable_out: np.ndarray,
                 years: np.ndarray, grouping: str = "rank") -> ScenarioTree:
    """Fresh paths placed in an existing tree by its own grouping rule, stage by stage, on
    what each fresh path has observed in the year before the stage (non-anticipative: a
    path's node at stage ``k`` depends on its own state up to ``d_k − 1`` only).
    ``observable_*[path, year]`` or ``[path, year, feature]`` (in-sample and fresh).

    * ``"rank"``: the children of a node hold consecutive ranks of the first observable; a
      fresh path goes to the first child whose largest in-sample value is at least the
      path's (the last child above them all);
    * ``"kmeans"``: a fresh path goes to the child whose centre is nearest,
      ``argmin_c ‖z − z̄_c‖²`` with ``z = (x − m) / s`` the observables standardised by the
      in-sample mean ``m`` and sd ``s`` of that year (as :func:`models.optimize.tree.
      standardised` does when building the tree) and ``z̄_c`` the mean of ``z`` over the
      child's in-sample paths (the k-means centre: Lloyd's algorithm stops when every
      in-sample path is nearest to its own cluster's centre, so an in-sample path placed
      again lands in its own node; :func:`misplaced_in_sample` counts any that do not).

    Probabilities equal."""
    obs_in, obs_out = _features(observable_in), _features(observable_out)
    n_out = obs_out.shape[0]
    node_of = np.zeros((n_out, tree.stage_years.size), dtype=int)
    col = {int(y): i for i, y in enumerate(years)}
    for k in range(1, tree.stage_years.size):
        seen = col[int(tree.stage_years[k]) - 1]
        state_in, state_out = obs_in[:, seen, :], obs_out[:, seen, :]
        if grouping == "kmeans":  # both on the in-sample scale
            state_in, state_out = standardised(state_in), standardised(state_out, state_in)
        for parent in np.unique(node_of[:, k - 1]):
            children = np.flatnonzero(tree.parent == parent)
            mine = np.flatnonzero(node_of[:, k - 1] == parent)
            if grouping == "kmeans":
                centres = np.stack([state_in[tree.paths_of_node(c)].mean(axis=0)
                                    for c in children])
                gap = ((state_out[mine, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
                node_of[mine, k] = children[np.argmin(gap, axis=1)]
                continue
            tops = np.array([state_in[tree.paths_of_node(c), 0].max() for c in children])
            pick = np.searchsorted(tops, state_out[mine, 0], side="left")
            node_of[mine, k] = children[np.minimum(pick, children.size - 1)]
    return ScenarioTree(stage_years=tree.stage_years, node_of=node_of, parent=tree.parent,
                        stage_of_node=tree.stage_of_node,
                        probability=np.full(n_out, 1.0 / n_out))


def _features(observable: np.ndarray) -> np.ndarray:
    """``[path, year]`` or ``[path, year, feature]`` as ``[path, year, feature]``."""
    observable = np.asarray(observable, dtype=float)
    return observable[:, :, None] if observable.ndim == 2 else observable


def misplaced_in_sample(tree: ScenarioTree, observable: np.ndarray, years: np.ndarray,
                        grouping: str) -> int:
    """In-sample paths that :func:`assign_nodes` would place in another node than the tree's
    (0 for the rank rule; for k-means, paths Lloyd's iterations left nearer another centre)."""
    again = assign_nodes(tree, observable, observable, years, grouping)
    return int(np.any(again.node_of != tree.node_of, axis=1).sum())


def tree_observables(settings) -> list[str]:
    """The observables the settings' tree is built on (first the ranked one)."""
    return [settings.tree.observable] + list(settings.tree.extra_observables)


def fresh_basis(problem: PolicyProblem, fresh: PolicyProblem, tree: ScenarioTree
                ) -> np.ndarray | None:
    """The reserve-draw rule's basis on the fresh paths, ``Φ[fresh path, year, j]``
    (:mod:`models.optimize.rules`): ``"affine"`` — each fresh path's own lagged state,
    standardised by the *in-sample* mean and sd of that year (the scale the coefficients
    ``θ`` were fitted on, so a fresh copy of an in-sample path gets that path's basis);
    ``"node"`` — the indicator of the node of ``tree`` (the fresh paths' placement in the
    in-sample tree, or their own tree) among its nodes; None without a rule."""
    kind = problem.settings.recourse.reserve_draws
    if problem.recourse_basis is None or kind == "path":
        return None
    if kind == "node":
        return node_basis(tree.node_of_path_year(problem.opt_years), tree.n_nodes)
    names = problem.settings.recourse.observables
    return affine_basis(observed_state(fresh.population, names), fresh.years,
                        fresh.opt_years, reference=observed_state(problem.population, names))


def fresh_problem(problem: PolicyProblem, fresh: PolicyProblem, same_tree: bool = False
                  ) -> PolicyProblem:
    """``fresh`` (set up on fresh paths) made to evaluate ``problem``'s policy: the same
    per-person rules (the in-sample open-age weights, status-quo rates and retirement
    distribution), unless
    ``same_tree`` the fresh paths placed in ``problem``'s tree (:func:`assign_nodes`, by the
    tree's grouping rule), and the draw rule's basis on the fresh paths' own state at the
    in-sample scale (:func:`fresh_basis`)."""
    tree = fresh.tree
    if not same_tree:
        names = tree_observables(problem.settings)
        tree = assign_nodes(problem.tree, observed_state(problem.population, names),
                            observed_state(fresh.population, names), problem.years,
                            problem.settings.tree.grouping)
    return replace(fresh, tree=tree, weights_population=problem.weights_population,
                   recourse_basis=fresh_basis(problem, fresh, tree),
                   cache={"zero_rates": problem.cache["zero_rates"]},
                   retirement_distribution=problem.retirement_distribution)


# ----------------------------------------------------------------------------- costs
def outer_cost_by_path(problem: PolicyProblem, levers: Levers) -> np.ndarray:
    """Each path's delay and indexation cost (yuan), the terms of ``ScenarioData.outer_cost``
    path by path (their probability-weighted sum is it):
    ``Σ_t w_d[t] δ_t Σ_c retiring[p,t,c] delay[t,c] + w_i Σ_t δ_t (E_calibrated − E)[p,t]``
    (``w_d[t]``: the problem's price of delay per year)."""
    s = problem.settings.objective
    w_delay = problem.delay_price_per_year(problem.settings)
    opt = problem.opt_mask
    zero = problem.cache["zero_rates"].rates
    out = np.zeros(problem.tree.n_paths)
    for _, paths, delay, share in leaf_paths(problem, levers):
        for p in paths:
            retiring = new_retirees(problem.pop_c[p:p + 1], zero, problem.years)[opt]
            out[p] = float(np.sum((w_delay * problem.discount)[:, None] * retiring
                                  * delay[opt]))
        if share is not None:
            pop = problem.pop_c[paths]
            _, ex = flows_from_rates(pop, rates_for(problem, delay, share).rates, problem.fit,
                                     problem.cal)
            _, ex_ref = flows_from_rates(pop, rates_for(problem, delay).rates, problem.fit,
                                         problem.cal)
            out[paths] += s.indexation_cut * ((ex_ref - ex)[:, opt] @ problem.discount)
    return out


def path_costs(data: ScenarioData, tau: np.ndarray, sol, outer_cny: np.ndarray) -> np.ndarray:
    """Each path's cost (yuan) under rates ``tau[path, year]`` and recourse ``sol`` (module
    docstring); ``outer_cny[path]`` from :func:`outer_cost_by_path`."""
    w = data.settings.objective
    money = (w.reserve_draw * sol.D + w.extra_transfer * sol.X + w.shortfall * sol.U
             + w.contributions * data.contribution_base * tau)
    if sol.R is not None:
        money = money + getattr(w, "excess_over_capacity", 0.0) * sol.R
    before = np.full((tau.shape[0], 1), data.pooled_rate_before)
    steps = np.abs(np.diff(np.concatenate([before, tau], axis=1), axis=1)).sum(axis=1)
    smoothing = w.smoothing_cny_per_point / MONEY_SCALE / RATE_POINT * steps
    return (money @ data.discount + smoothing) * MONEY_SCALE + outer_cny


def excess_penalty(data: ScenarioData, excess: np.ndarray | None) -> np.ndarray:
    """Each path's penalty part of the cost (yuan), ``q_p = (w_e − w_x) Σ_t δ_t R_pt`` with
    ``R[path, year]`` the money beyond the fiscal capacity (model units; None: no capacity,
    0) — the premium over a transfer within the capacity (module docstring)."""
    if excess is None:
        return np.zeros(data.n_paths)
    w = data.settings.objective
    premium = getattr(w, "excess_over_capacity", 0.0) - w.extra_transfer
    return premium * (excess @ data.discount) * MONEY_SCALE


def paid_in_full(data: ScenarioData, sol, rel_tol: float = 1e-7) -> np.ndarray:
    """Paths on which every pension is paid in full within the capacity (module docstring)."""
    tol = rel_tol * data.expenditure
    unpaid = np.any(sol.U > tol, axis=1)
    if getattr(data, "transfer_capacity", None) is not None and sol.R is not None:
        return ~(unpaid | np.any(sol.R > tol, axis=1))
    return ~(unpaid | np.any(sol.X > tol, axis=1))


# ----------------------------------------------------------------------------- policies
@dataclass
class Evaluation:
    """A fixed policy on some paths: per-path cost (yuan), paid in full, and the recourse
    ``[path, year]`` (yuan per year)."""

    cost_cny: np.ndarray
    paid: np.ndarray
    transfer_cny: np.ndarray
    draw_cny: np.ndarray
    excess_cny: np.ndarray
    tau: np.ndarray
    # path-years where the draw rule asked for a draw outside [0, the reserve] and was cut to
    # it (:func:`rule_draws`; 0 without a rule)
    draws_cut: int = 0
    # each path's penalty part of ``cost_cny`` (:func:`excess_penalty`; None: 0)
    penalty_cny: np.ndarray | None = None

    @property
    def penalty(self) -> np.ndarray:
        """The penalty part of each path's cost (yuan; zeros when none was recorded)."""
        return np.zeros_like(self.cost_cny) if self.penalty_cny is None else self.penalty_cny

    @property
    def money(self) -> np.ndarray:
        """The money part of each path's cost, ``c_p − q_p`` (yuan, module docstring)."""
        return self.cost_cny - self.penalty


def _subset(data: ScenarioData, paths: np.ndarray, fixed: np.ndarray | None,
            shortfall: bool = False) -> ScenarioData:
    """Some paths as their own problem: with ``fixed`` rates ``[year]`` pinned for every year
    (one node), else every path its own node (perfect foresight). The guarantee is the hard
    one, or with ``shortfall`` the chance variant's (to be solved with every path's binary
    fixed at 1: pensions may go unpaid on every path, at the shortfall weight)."""
    n, T = paths.size, len(data.years)
    per_path = take_paths(data, paths)
    node = (np.zeros((n, T), dtype=int) if fixed is not None
            else np.repeat(np.arange(n)[:, None], T, axis=1))
    guarantee = data.settings.constraints.model_copy(update={
        "chance_alpha": 1.0 if shortfall else None, "cvar_beta": None, "cvar_limit_cny": None})
    return replace(data, probability=np.full(n, 1.0 / n), node_of_year=node,
                   settings=data.settings.model_copy(update={"constraints": guarantee}),
                   fixed_rates=None if fixed is None else dict(enumerate(map(float, fixed))),
                   delay_cost=0.0, indexation_cost=0.0, **per_path)


def solve_paths(data: ScenarioData, groups: list[tuple[np.ndarray, np.ndarray | None]],
                outer: np.ndarray, shortfall: bool = False) -> Evaluation:
    """Each group of paths ``(paths, rates[year] or None)`` solved with those rates pinned (or
    free per path: perfect foresight), :data:`CHUNK_PATHS` at a time; ``outer[path]`` the
    paths' delay and indexation cost (yuan). ``shortfall``: each path may leave pensions
    unpaid (at the shortfall weight; :func:`_subset`), else every pension is paid."""
    P, T = data.n_paths, len(data.years)
    out = Evaluation(np.zeros(P), np.zeros(P, dtype=bool), np.zeros((P, T)), np.zeros((P, T)),
                     np.zeros((P, T)), np.zeros((P, T)), penalty_cny=np.zeros(P))
    for paths, fixed in groups:
        for lo in range(0, paths.size, CHUNK_PATHS):
            chunk = paths[lo:lo + CHUNK_PATHS]
            sub = _subset(data, chunk, fixed, shortfall)
            sol = solve_extensive(sub, duals=False,
                                  fixed_z=np.ones(chunk.size) if shortfall else None)
            if sol.status == "infeasible":
                raise ValueError("a fixed policy leaves a fresh path without a feasible "
                                 "recourse (extra transfers switched off?)")
            out.cost_cny[chunk] = path_costs(sub, sol.tau, sol, outer[chunk])
            out.paid[chunk] = paid_in_full(sub, sol)
            out.transfer_cny[chunk] = sol.X * MONEY_SCALE
            out.draw_cny[chunk] = sol.D * MONEY_SCALE
            out.excess_cny[chunk] = (0.0 if sol.R is None else sol.R) * MONEY_SCALE
            out.penalty_cny[chunk] = excess_penalty(sub, sol.R)
            out.tau[chunk] = sol.tau
    return out


def rule_draws(data: ScenarioData, theta: np.ndarray) -> tuple[np.ndarray, int]:
    """The reserve draws a fitted rule takes on the paths of ``data``: ``D = Φ θ``
    (:func:`models.optimize.rules.rule_decisions`, ``Φ`` each path's own basis) cut to what
    can be drawn, ``0 ≤ D[p,t] ≤ (1 + r_t) A[p,t−1]`` (``A`` the reserve, ``r`` its return;
    ``D = 0`` with the reserve lever off), year by year, so ``D[p,t]`` uses the path's state
    up to ``t − 1`` only. The in-sample problem imposes both bounds, so on in-sample paths
    nothing is cut; on fresh paths a cut is counted (second value: path-years cut by more
    than 1e-9 of the reserve) and reported, never hidden."""
    wanted = rule_decisions(data.recourse_basis, theta)
    if not data.settings.reserve.enabled:
        wanted = np.zeros_like(wanted)
    draws = np.zeros_like(wanted)
    reserve = data.reserve_start.astype(float)
    r = reserve_returns(data)
    cut = 0
    for t in range(wanted.shape[1]):
        available = (1.0 + r[t]) * reserve
        draws[:, t] = np.clip(wanted[:, t], 0.0, np.maximum(available, 0.0))
        cut += int(np.sum(np.abs(draws[:, t] - wanted[:, t])
                          > 1e-9 * (1.0 + np.abs(available))))
        reserve = available - draws[:, t]
    return draws, cut


def rule_paths(data: ScenarioData, groups: list[tuple[np.ndarray, np.ndarray]],
               theta: np.ndarray, outer: np.ndarray, prefund: np.ndarray | None = None
               ) -> Evaluation:
    """A policy with a reserve-draw rule on the paths of ``data``, no solve: each group of
    paths ``(paths, rates[year])`` at its rates, the draws by the rule (:func:`rule_draws`),
    the transfers the shortfall forces and their split at the fiscal capacity
    (:func:`models.optimize.rules.forced_transfers`, :func:`~models.optimize.rules.
    split_by_capacity`: as the optimizer makes them under a rule; ``prefund[year]`` the
    pre-funded share of the capacity, None: just in time), no unpaid pension (the hard
    guarantee); every entry of year ``t`` from the path's own data up to ``t``."""
    P, T = data.n_paths, len(data.years)
    tau = np.zeros((P, T))
    for paths, fixed in groups:
        tau[paths] = fixed
    draws, cut = rule_draws(data, theta)
    money, _, _ = forced_transfers(data, tau, draws, prefund)
    X, R = split_by_capacity(data, money)
    sol = SimpleNamespace(D=draws, X=X, U=np.zeros((P, T)), R=R)
    return Evaluation(path_costs(data, tau, sol, outer), paid_in_full(data, sol),
                      X * MONEY_SCALE, draws * MONEY_SCALE,
                      (np.zeros((P, T)) if R is None else R) * MONEY_SCALE, tau, cut,
                      excess_penalty(data, R))


def fitted_rule(data: ScenarioData, inner) -> np.ndarray | None:
    """The coefficients ``θ[year, j]`` of a solved draw rule (None without one), recovered
    from the solution's draws (:func:`models.optimize.rules.rule_coefficients`)."""
    if not rule_applies(data):
        return None
    return rule_coefficients(data.recourse_basis, inner.D)


def rule_prefund(problem: PolicyProblem, psol: PolicySolution, theta: np.ndarray | None
                 ) -> np.ndarray | None:
    """The pre-funded share of the fiscal capacity by year the rule's transfers use on fresh
    paths (:func:`models.optimize.rules.forced_transfers`): the hard variant's, chosen in
    sample by :func:`models.optimize.solve.with_forced_transfers`; the chance and CVaR
    variants force nothing in sample (their transfers stay per path), so the same choice is
    made here — the capacity's mean share of the solver's transfers
    (:func:`models.optimize.rules.prefund_shares`) when the rule with it costs less on the
    in-sample paths than just in time, else None."""
    inner = psol.inner
    if theta is None or constraint_variant(psol.data) == "hard" \
            or not capacity_applies(psol.data):
        return inner.prefund
    kappa = prefund_shares(psol.data, inner.X)
    cost = [float(problem.tree.probability @ evaluate_fixed(
        problem, psol.levers, inner.tau_node, theta=theta, prefund=k).cost_cny)
        for k in (None, kappa)]
    return kappa if cost[1] < cost[0] else None


def rule_for_rates(data: ScenarioData, rates: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """The draw rule re-fitted on the in-sample paths of ``data`` with the pooled rates
    ``rates[year]`` pinned on every path (the expected-value policy's rule): the LP over
    the rule's coefficients alone, transfers forced; ``(θ, the pre-funded share or None)``."""
    sol = solve_inner(_subset(data, np.arange(data.n_paths), rates), duals=False)
    return rule_coefficients(data.recourse_basis, sol.D), sol.prefund


def rate_series(tree: ScenarioTree, tau_node: dict, years: np.ndarray, leaf: int) -> np.ndarray:
    """The pooled rates ``[year]`` along one leaf's chain of nodes."""
    stage = tree.stage_of_year(years)
    chain = tree.ancestors(leaf)
    return np.array([tau_node[(chain[stage[t]], t)] for t in range(len(years))])


def evaluate_fixed(problem: PolicyProblem, levers: Levers, tau_node: dict | None,
                   rates: np.ndarray | None = None, theta: np.ndarray | None = None,
                   prefund: np.ndarray | None = None, shortfall: bool = False) -> Evaluation:
    """The policy ``levers`` with the pooled rates of its nodes ``tau_node`` (or one rate path
    ``rates[year]`` for every path) on ``problem``'s paths, the recourse per path — or, with
    the draw rule's coefficients ``theta``, the rule's draws and the forced transfers
    (:func:`rule_paths`, pre-funding the share ``prefund[year]`` of the capacity); with both
    rates None, the rates and the recourse free on every path (perfect foresight: no
    rule). ``shortfall`` (no rule): pensions may go unpaid on every path, at the shortfall
    weight (:func:`chance_value`)."""
    data = scenario_data(problem, levers)
    # a lever-smoothing cost (when the objective has one) is the policy's, the same on every path
    outer = outer_cost_by_path(problem, levers) + getattr(data, "smoothing_cost", 0.0)
    if tau_node is None and rates is None:
        return solve_paths(replace(data, recourse_basis=None),
                           [(np.arange(data.n_paths), None)], outer, shortfall)
    groups = []
    for leaf, paths, _, _ in leaf_paths(problem, levers):
        fixed = rates if rates is not None else rate_series(problem.tree, tau_node,
                                                            problem.opt_years, leaf)
        groups.append((paths, fixed))
    if theta is not None:
        if shortfall:
            raise ValueError("a shortfall evaluation under a draw rule is not implemented")
        return rule_paths(data, groups, theta, outer, prefund)
    return solve_paths(data, groups, outer, shortfall)


def mean_scenario(data: ScenarioData) -> ScenarioData:
    """All paths replaced by their probability-weighted mean (the expected-value problem)."""
    per_path = mean_of_paths(data)
    return replace(data, probability=np.ones(1),
                   node_of_year=np.zeros((1, data.node_of_year.shape[1]), dtype=int),
                   **per_path)


# ----------------------------------------------------------------------------- statistics
@dataclass
class OutOfSample:
    """The policy on fresh paths and the estimates with their intervals."""

    sp: Evaluation
    ev: Evaluation | None
    ws: Evaluation | None
    discount: np.ndarray
    level: float
    # in-sample paths the fresh paths' placement rule puts in another node than the tree's
    # (:func:`misplaced_in_sample`; 0 for the rank rule and for one-stage trees)
    misplaced: int = 0
    # under a draw rule, the pre-funded share of the capacity by year (:func:`rule_prefund`;
    # zeros: just in time); None without a rule
    prefund: np.ndarray | None = None

    def estimates(self) -> dict:
        """Point estimates with intervals (yuan; probability as a fraction); VSS and EVPI
        whole and split into their money and penalty parts (module docstring)."""
        out = {"cost": mean_interval(self.sp.cost_cny, self.level),
               "paid_in_full": probability_interval(int(self.sp.paid.sum()), self.sp.paid.size,
                                                    self.level),
               "transfers": mean_interval(self.sp.transfer_cny @ self.discount, self.level),
               "excess": mean_interval(self.sp.excess_cny @ self.discount, self.level)}
        for key, high, low in (("vss", self.ev, self.sp), ("evpi", self.sp, self.ws)):
            if high is None or low is None:
                continue
            out[key] = paired_difference_interval(high.cost_cny, low.cost_cny, self.level)
            out[f"{key}_money"] = paired_difference_interval(high.money, low.money, self.level)
            out[f"{key}_penalty"] = paired_difference_interval(high.penalty, low.penalty,
                                                               self.level)
        return out


def out_of_sample(problem: PolicyProblem, psol: PolicySolution, fresh: PolicyProblem,
                  level: float = 0.95, compare: bool = True) -> OutOfSample:
    """The chosen policy on the fresh paths of ``fresh`` (a problem set up on them by
    :func:`models.optimize.solve.setup_problem`), with the EV and WS policies beside it when
    ``compare`` (module docstring)."""
    inner = psol.inner
    on = fresh_problem(problem, fresh)
    theta = fitted_rule(psol.data, inner)
    prefund = rule_prefund(problem, psol, theta)
    sp = evaluate_fixed(on, psol.levers, inner.tau_node, theta=theta, prefund=prefund)
    ev = ws = None
    if compare:
        rates = solve_inner(mean_scenario(psol.data), duals=False).tau[0]
        ev_rule = (None, None) if theta is None else rule_for_rates(psol.data, rates)
        ev = evaluate_fixed(on, psol.levers, None, rates, *ev_rule)
        ws = evaluate_fixed(on, psol.levers, None)
    names = tree_observables(problem.settings)
    misplaced = misplaced_in_sample(problem.tree, observed_state(problem.population, names),
                                    problem.years, problem.settings.tree.grouping)
    shares = None if theta is None else (np.zeros(len(problem.opt_years)) if prefund is None
                                         else np.asarray(prefund, dtype=float))
    return OutOfSample(sp, ev, ws, problem.discount, level, misplaced, shares)


def chance_value(probability: np.ndarray, paid: np.ndarray, short: np.ndarray,
                 alpha: float) -> float:
    """A fixed first stage's value in the chance-constrained problem (``Σ_p π_p z_p ≤ α``,
    pensions unpaid only where ``z_p = 1``; :mod:`models.optimize.model`) on paths of equal
    probability: with the rates fixed the paths are coupled only by that count, so the
    optimum pays in full everywhere (``paid[p]``, cost) except on the ``⌊α P⌋`` paths where
    leaving pensions unpaid (``short[p] ≤ paid[p]``) saves the most:
    ``Σ_p π_p paid_p − Σ_{top ⌊αP⌋} π_p (paid_p − short_p)``."""
    probability = np.asarray(probability, dtype=float)
    if not np.allclose(probability, probability[0], rtol=1e-12, atol=0.0):
        raise ValueError("chance_value needs paths of equal probability")
    saving = np.sort(np.maximum(np.asarray(paid) - np.asarray(short), 0.0))[::-1]
    k = int(np.floor(alpha * probability.size + 1e-9))
    return float(probability @ paid - probability[0] * saving[:k].sum())


def replication_gap(problem: PolicyProblem, psol: PolicySolution, fresh: PolicyProblem
                    ) -> tuple[float, float]:
    """One Mak–Morton–Wood replication on the paths of ``fresh``: the candidate's mean cost
    there and the SAA value found by the search started at the candidate's levers (yuan),
    both on the same tree, so the candidate is a feasible point of that SAA problem. Ranked
    trees: the tree built on those paths (the same shape as the candidate's). k-means trees,
    whose shape depends on the paths (a cluster may be dropped): the paths placed in the
    candidate's tree (:func:`assign_nodes`; the policy class is the candidate's tree with
    its placement rule). Under a draw rule the SAA value is the LP's at the search's levers
    before its transfers are forced (:func:`models.optimize.solve.with_forced_transfers`):
    that LP lets transfers pre-fund, a relaxation of the forced-transfer policies the
    candidate is one of, so its value is no larger than theirs and the bound stays valid
    (more conservative by the forced transfers' extra cost, which
    :func:`models.optimize.rules.forced_transfer_excess` measures). The chance and CVaR
    variants force nothing in sample (their transfers stay per path), so their search's
    value is already the LP's (and their mixed-integer problem has no array form). Under the
    chance constraint the candidate's mean is its value in that problem
    (:func:`chance_value`), the SAA's objective. Its hard-guarantee cost (the out-of-sample
    statistics') is no smaller, so the bound would stay valid but loose, counting as a gap
    the α share of paths the SAA may leave short; that is the bound under a draw rule, whose
    evaluation has no shortfall variant."""
    on = fresh_problem(problem, fresh, same_tree=problem.settings.tree.grouping == "rank")
    theta = fitted_rule(psol.data, psol.inner)
    candidate = evaluate_fixed(on, psol.levers, psol.inner.tau_node, theta=theta,
                               prefund=rule_prefund(problem, psol, theta))
    mean = float(on.tree.probability @ candidate.cost_cny)
    if constraint_variant(psol.data) == "chance" and theta is None:
        short = evaluate_fixed(on, psol.levers, psol.inner.tau_node, shortfall=True)
        mean = chance_value(on.tree.probability, candidate.cost_cny, short.cost_cny,
                            psol.data.settings.constraints.chance_alpha)
    saa = optimize_policy(on, start=psol.levers)
    value = saa.inner.objective
    if theta is not None and constraint_variant(saa.data) == "hard":  # else nothing forced
        value = min(value, solve_extensive(scenario_data(on, saa.levers),
                                           duals=False).objective)
    return mean, value * MONEY_SCALE


def gap_interval(pairs: list[tuple[float, float]], level: float = 0.95):
    """The Mak–Morton–Wood upper bound from replications ``(candidate mean, SAA value)``."""
    means, values = zip(*pairs)
    return optimality_gap_interval(np.array(means), np.array(values), level)


__all__ = ["assign_nodes", "misplaced_in_sample", "fresh_basis", "rule_draws", "rule_paths",
           "fitted_rule", "rule_prefund", "rule_for_rates", "evaluate_fixed", "out_of_sample",
           "replication_gap", "chance_value", "gap_interval", "path_costs", "outer_cost_by_path",
           "paid_in_full", "mean_scenario", "excess_penalty", "Evaluation", "OutOfSample", "solve_paths"]
