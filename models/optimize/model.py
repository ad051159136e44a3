"""The Pyomo model of the inner (fixed retirement-delay) problem, built from ScenarioData.

For path ``p`` and optimized year ``t`` (money in trillions of yuan):

* fund: ``B[p,t] = (1 + r_t) B[p,t−1] + (τ[n(p,t),t] + τ_IA) CB[p,t] + S[t] + X[p,t] + D[p,t]
  − (E[p,t] − U[p,t])`` with the pooled rate ``τ`` of the node governing ``(p, t)``,
  extra transfers ``X``, reserve draws ``D`` and unpaid pensions ``U`` (only in the chance and
  CVaR variants; zero otherwise: every pension paid in full);
* fiscal capacity (when given, :mod:`models.optimize.data`): ``X[p,t] ≤ c · GDP[p,t]``, and
  the money beyond it enters the fund as an excess ``R[p,t] ≥ 0`` priced ``w_e`` (the same
  variable as the rescue money of phase one, which has no capacity);
* reserve: ``A[p,t] = (1 + r_A) A[p,t−1] − D[p,t] ≥ 0``;
* liquidity: ``B[p,t] ≥ floor/12 · E[p,t]``; sustainability at the horizon: the fund and the
  strategic reserve together cover ``target`` months, ``B[p,T] + A[p,T] ≥ target/12 · E[p,T]``;
* pooled rate: bounds, ``|τ[n,t] − τ[n',t−1]| ≤ pace`` with ``n'`` the node governing the
  year before (an ancestor), and ``v[n,t] ≥ |τ[n,t] − τ[n',t−1]|`` for smoothing;
* chance variant: ``U[p,t] ≤ E[p,t] z[p]``, ``Σ_p π_p z_p ≤ α`` (z binary);
  CVaR variant: ``η + Σ_p π_p ξ_p / (1 − β) ≤ L``, ``ξ_p ≥ Σ_t δ_t U[p,t] − η``, ``ξ ≥ 0``.

Objective: ``Σ_p π_p Σ_t δ_t (w_c τ CB + w_r D + w_x X + w_u U + w_e R)
+ w_s Σ_{n,t} π_n v[n,t]``
plus the (constant) cost of the delay path and of any indexation cut (``outer_cost``).

:func:`add_path` writes one path's rows on any block, given how to reach the pooled-rate
variable of a year; the extensive form and the mpi-sppy scenario creator both use it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyomo.environ as pyo

from models.optimize.data import (
    MONEY_SCALE,
    ScenarioData,
    capacity_applies,
    constraint_variant,
    reserve_returns,
)
from models.optimize.rules import add_rule_pyomo, rule_applies

RATE_POINT = 0.01  # one percentage point of the pooled rate


def add_path(block: pyo.Block, data: ScenarioData, p: int, tau: Callable[[int], object],
             rescue: bool = False) -> None:
    """Variables and rows of path ``p`` on ``block`` (indexed by year position ``t``).

    ``tau(t)`` returns the pooled-rate variable (or a fixed number) governing year position
    ``t``. With ``rescue`` every year gets a non-negative "rescue transfer" (used to find the
    smallest extra money that makes the problem feasible); with a fiscal capacity, the same
    variable is the excess over it.
    """
    s = data.settings
    T = range(len(data.years))
    floor, target = s.constraints.liquidity_floor_months, s.constraints.horizon_months_target
    block.B = pyo.Var(T, domain=pyo.NonNegativeReals)
    block.D = pyo.Var(T, domain=pyo.NonNegativeReals, bounds=(0, None if s.reserve.enabled else 0))
    block.A = pyo.Var(T, domain=pyo.NonNegativeReals)
    limited = capacity_applies(data)
    cap = data.transfer_capacity[p] if limited else None
    block.X = pyo.Var(T, domain=pyo.NonNegativeReals, bounds=lambda b, t: (
        0, (cap[t] if limited else None) if s.extra_transfer.enabled else 0))
    unpaid = constraint_variant(data) != "hard"
    block.U = pyo.Var(T, domain=pyo.NonNegativeReals, bounds=(0, None if unpaid else 0))
    if rescue or limited:
        block.R = pyo.Var(T, domain=pyo.NonNegativeReals)
    cb, ex = data.contribution_base[p], data.expenditure[p]
    r, ra, tia = data.fund_return, reserve_returns(data), data.individual_account_rate

    def balance_rule(b, t):
        prev = (1.0 + r[t]) * (b.B[t - 1] if t > 0 else data.balance_start[p])
        inflow = cb[t] * (tau(t) + tia) + data.subsidy[t] + b.X[t] + b.D[t] + b.U[t]
        if rescue or limited:
            inflow = inflow + b.R[t]
        return b.B[t] == prev + inflow - ex[t]

    def reserve_rule(b, t):
        prev = (1.0 + ra[t]) * (b.A[t - 1] if t > 0 else data.reserve_start[p])
        return b.A[t] == prev - b.D[t]

    block.balance = pyo.Constraint(T, rule=balance_rule)
    block.reserve = pyo.Constraint(T, rule=reserve_rule)
    block.liquidity = pyo.Constraint(T, rule=lambda b, t: b.B[t] >= floor / 12.0 * ex[t])
    last = len(data.years) - 1
    block.horizon = pyo.Constraint(expr=block.B[last] + block.A[last] >= target / 12.0 * ex[-1])
    if unpaid:
        block.unpaid_cap = pyo.Constraint(T, rule=lambda b, t: b.U[t] <= ex[t])


def path_cost(block: pyo.Block, data: ScenarioData, p: int, tau: Callable[[int], object]):
    """Discounted cost of path ``p`` (trillions of yuan), without smoothing and delay."""
    w = data.settings.objective
    cb = data.contribution_base[p]
    excess = capacity_applies(data)
    return sum(data.discount[t] * (w.contributions * cb[t] * tau(t) + w.reserve_draw * block.D[t]
                                   + w.extra_transfer * block.X[t] + w.shortfall * block.U[t]
                                   + (w.excess_over_capacity * block.R[t] if excess else 0.0))
               for t in range(len(data.years)))


def _rate_nodes(data: ScenarioData) -> tuple[list[tuple[int, int]], dict, dict]:
    """The (node, year-position) pairs with a pooled-rate decision, each pair's predecessor
    pair (node governing the year before, or None for the first year) and probability."""
    pairs, prev, prob = [], {}, {}
    n_years = len(data.years)
    for t in range(n_years):
        for n in np.unique(data.node_of_year[:, t]):
            members = data.node_of_year[:, t] == n
            key = (int(n), t)
            pairs.append(key)
            prob[key] = float(data.probability[members].sum())
            prev[key] = (int(data.node_of_year[np.flatnonzero(members)[0], t - 1]), t - 1) \
                if t > 0 else None
    return pairs, prev, prob


def build_extensive_form(data: ScenarioData, rescue: bool = False) -> pyo.ConcreteModel:
    """The extensive form: node-level pooled rates (non-anticipative by construction) and one
    block of rows per path. With ``rescue`` the objective is the expected discounted rescue
    money only (phase one of the infeasibility analysis)."""
    s = data.settings
    m = pyo.ConcreteModel(name="pension_policy_extensive_form")
    pairs, prev, prob = _rate_nodes(data)
    m.rate_index = pyo.Set(initialize=pairs, dimen=2)
    c = s.contribution
    lo, hi = (c.min_rate, c.max_rate) if c.enabled else (data.pooled_rate_before,) * 2
    m.tau = pyo.Var(m.rate_index, bounds=(lo, hi), initialize=data.pooled_rate_before)
    m.tau_change = pyo.Var(m.rate_index, domain=pyo.NonNegativeReals)
    for t, value in (data.fixed_rates or {}).items():
        m.tau[0, t].fix(value)
    pace = c.pace_per_year if c.enabled else 0.0

    def before(key):
        return data.pooled_rate_before if prev[key] is None else m.tau[prev[key]]

    m.tau_up = pyo.Constraint(m.rate_index, rule=lambda m, n, t: m.tau[n, t] - before((n, t))
                              <= m.tau_change[n, t])
    m.tau_down = pyo.Constraint(m.rate_index, rule=lambda m, n, t: before((n, t)) - m.tau[n, t]
                                <= m.tau_change[n, t])
    m.tau_pace = pyo.Constraint(m.rate_index, rule=lambda m, n, t: m.tau_change[n, t] <= pace)

    m.paths = pyo.Block(range(data.n_paths))
    for p in range(data.n_paths):
        nodes = data.node_of_year[p]
        add_path(m.paths[p], data, p, lambda t, nodes=nodes: m.tau[int(nodes[t]), t], rescue)
    if rule_applies(data):  # reserve draws by a decision rule (models/optimize/rules.py)
        add_rule_pyomo(m, data)

    variant = constraint_variant(data)
    con = s.constraints
    if variant == "chance":
        m.z = pyo.Var(range(data.n_paths), domain=pyo.Binary)
        m.unpaid_switch = pyo.Constraint(
            range(data.n_paths), range(len(data.years)),
            rule=lambda m, p, t: m.paths[p].U[t] <= data.expenditure[p, t] * m.z[p])
        m.chance = pyo.Constraint(expr=sum(data.probability[p] * m.z[p]
                                           for p in range(data.n_paths)) <= con.chance_alpha)
    elif variant == "cvar":
        m.eta = pyo.Var()
        m.xi = pyo.Var(range(data.n_paths), domain=pyo.NonNegativeReals)
        m.xi_def = pyo.Constraint(range(data.n_paths), rule=lambda m, p: m.xi[p] >= sum(
            data.discount[t] * m.paths[p].U[t] for t in range(len(data.years))) - m.eta)
        m.cvar = pyo.Constraint(expr=m.eta + sum(data.probability[p] * m.xi[p]
                                                 for p in range(data.n_paths))
                                / (1.0 - con.cvar_beta) <= con.cvar_limit_cny / MONEY_SCALE)

    if rescue:
        m.objective = pyo.Objective(expr=sum(
            data.probability[p] * data.discount[t] * m.paths[p].R[t]
            for p in range(data.n_paths) for t in range(len(data.years))))
        return m
    smoothing = s.objective.smoothing_cny_per_point / MONEY_SCALE / RATE_POINT
    m.objective = pyo.Objective(expr=sum(
        data.probability[p] * path_cost(m.paths[p], data, p,
                                        lambda t, nodes=data.node_of_year[p]:
                                        m.tau[int(nodes[t]), t])
        for p in range(data.n_paths))
        + smoothing * sum(prob[k] * m.tau_change[k] for k in pairs)
        + data.outer_cost / MONEY_SCALE)
    return m
