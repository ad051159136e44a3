"""The inner (fixed retirement-delay) problem as sparse matrices, solved by HiGHS directly.

The same linear program as the Pyomo reference (:mod:`models.optimize.model`, whose docstring
states every row), assembled with ``scipy.sparse`` straight from :class:`ScenarioData` and
handed to HiGHS through ``highspy.Highs.passModel``: no modelling layer between the arrays and
the solver (timed on the study's paths: Pyomo's build, solve call and extraction were about
85 % of an inner solve).

Layout (money in trillions of yuan, ``T`` optimized years, ``K`` (node, year) rate pairs)
    columns: ``τ[k]``, ``v[k]`` (``k`` in the order of :func:`rate_pairs`), then one block of
    ``6T`` per path: ``B, D, A, X, U, R`` (balance, reserve draw, reserve assets, extra
    transfer, unpaid pensions, rescue transfer or excess over the fiscal capacity), each
    ``[t]``; CVaR adds ``η`` and ``ξ[p]``.
    rows: ``τ_up[k]``, ``τ_down[k]``, then ``2T + 1`` per path: balance ``[t]``, reserve
    ``[t]``, horizon; CVaR adds ``ξ_def[p]`` and the limit.

Rows that are a bound on one variable are bounds here, not rows: the pace limit
``v ≤ pace``, the liquidity floor ``B[t] ≥ floor/12 · E[t]`` (its multiplier is ``B[t]``'s
reduced cost), the cap ``U ≤ E`` and the fiscal capacity ``X ≤ c · GDP``
(:mod:`models.optimize.data`; ``R`` is then the excess over it, priced ``w_e``). The balance row is written
``B[t] − (1 + r_t) B[t−1] − D − X − U − R − CB τ = CB τ_IA + S − E`` so that its dual is
``∂V/∂rhs``, the sign of the Pyomo reference's dual. Columns fixed at zero (``U`` in the hard
variant, ``R`` outside the rescue problem without a capacity, ``D`` or ``X`` when the lever
is off) keep the layout
the same in every variant.

The chance-constrained MILP (a binary per path) stays on the Pyomo reference; with its
binaries fixed (``fixed_z``) it is an LP and is solved here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import highspy
import numpy as np
import scipy.sparse as sp

from models.optimize.data import (
    MONEY_SCALE,
    ScenarioData,
    capacity_applies,
    constraint_variant,
    reserve_returns,
)
from models.optimize.rules import rule_applies, with_rule_rows

RATE_POINT = 0.01  # one percentage point of the pooled rate (as in the Pyomo model)
INF = highspy.kHighsInf
#: column blocks of one path, in order
BLOCKS = ("B", "D", "A", "X", "U", "R")


class SolverFailure(RuntimeError):
    """HiGHS stopped without an optimal or feasible answer for a reason other than infeasibility."""


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
    # decomposition only: iterations, lower bound and relative gap at the end
    iterations: int = 0
    lower_bound: float = float("nan")
    gap_rel: float = 0.0
    method: str = "extensive"
    history: list = field(default_factory=list)  # decomposition: bounds per iteration
    # under a draw rule with a capacity: the pre-funded share of the capacity by year, when
    # it beats just-in-time transfers in sample (models.optimize.rules.prefund_shares)
    prefund: np.ndarray | None = None
    # decomposition only: its first stage and cuts, for warm-starting a nearby solve
    # (models.optimize.decompose.WarmStart; the search's moves)
    warm: object | None = None


# ----------------------------------------------------------------------------- first stage
@dataclass(frozen=True)
class RatePairs:
    """The (node, year-position) pairs with a pooled-rate decision, t-major, nodes ascending
    (the order of the Pyomo reference's ``rate_index``)."""

    node: np.ndarray  # [K]
    year: np.ndarray  # [K] year position
    prev: np.ndarray  # [K] pair governing the year before (−1: the rate before the horizon)
    probability: np.ndarray  # [K] probability of the pair's paths
    of_path_year: np.ndarray  # [P, T] pair governing each path-year

    @property
    def size(self) -> int:
        return self.node.size

    def keys(self) -> list[tuple[int, int]]:
        return list(zip(self.node.tolist(), self.year.tolist()))


def rate_pairs(data: ScenarioData) -> RatePairs:
    P, T = data.node_of_year.shape
    of = np.empty((P, T), dtype=np.int64)
    node, year, prev, prob = [], [], [], []
    for t in range(T):
        nodes, first, inverse = np.unique(data.node_of_year[:, t], return_index=True,
                                          return_inverse=True)
        offset = len(node)
        of[:, t] = offset + inverse
        node.extend(nodes.tolist())
        year.extend([t] * nodes.size)
        prev.extend((of[first, t - 1] if t > 0 else np.full(nodes.size, -1)).tolist())
        prob.extend(np.bincount(inverse, weights=data.probability, minlength=nodes.size))
    return RatePairs(np.array(node, dtype=np.int64), np.array(year, dtype=np.int64),
                     np.array(prev, dtype=np.int64), np.array(prob, dtype=float), of)


def rate_bounds(data: ScenarioData, pairs: RatePairs) -> tuple[np.ndarray, np.ndarray, float]:
    """Bounds of ``τ[k]`` (the contribution lever's range, or the rate before when the lever
    is off; the root's years pinned by ``fixed_rates``) and the pace limit of ``v``."""
    c = data.settings.contribution
    lo, hi = (c.min_rate, c.max_rate) if c.enabled else (data.pooled_rate_before,) * 2
    lower, upper = np.full(pairs.size, lo), np.full(pairs.size, hi)
    for t, value in (data.fixed_rates or {}).items():
        k = np.flatnonzero((pairs.node == 0) & (pairs.year == t))
        lower[k] = upper[k] = value
    return lower, upper, (c.pace_per_year if c.enabled else 0.0)


def rate_rows(data: ScenarioData, pairs: RatePairs) -> tuple[sp.csr_matrix, np.ndarray]:
    """``τ_up``, ``τ_down`` over the columns ``[τ, v]``: ``±(τ[k] − τ[prev]) − v[k] ≤ rhs``
    with ``rhs = ±τ_before`` where there is no previous pair."""
    K = pairs.size
    k = np.arange(K)
    has = pairs.prev >= 0
    rows, cols, vals = [], [], []
    for sign, offset in ((1.0, 0), (-1.0, K)):
        rows += [offset + k, offset + k[has], offset + k]
        cols += [k, pairs.prev[has], K + k]
        vals += [np.full(K, sign), np.full(has.sum(), -sign), np.full(K, -1.0)]
    mat = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(2 * K, 2 * K))
    before = np.where(has, 0.0, data.pooled_rate_before)
    return mat, np.concatenate([before, -before])


def rate_costs(data: ScenarioData, pairs: RatePairs, rescue: bool) -> np.ndarray:
    """Objective coefficients of ``[τ, v]``: ``Σ π_p δ_t w_c CB[p,t]`` over the pair's
    path-years, and the smoothing weight times the pair's probability."""
    if rescue:
        return np.zeros(2 * pairs.size)
    w = data.settings.objective
    tau = np.bincount(pairs.of_path_year.ravel(), minlength=pairs.size, weights=(
        w.contributions * data.probability[:, None] * data.discount[None, :]
        * data.contribution_base).ravel())
    smoothing = w.smoothing_cny_per_point / MONEY_SCALE / RATE_POINT
    return np.concatenate([tau, smoothing * pairs.probability])


# ----------------------------------------------------------------------------- path blocks
def path_matrix(data: ScenarioData) -> sp.csr_matrix:
    """One path's rows ``[balance (T), reserve (T), horizon]`` over its ``6T`` columns, the
    pooled-rate term left out (it goes to the right-hand side or to the ``τ`` columns)."""
    T = len(data.years)
    t = np.arange(T)
    col = {name: i * T + t for i, name in enumerate(BLOCKS)}
    rows, cols, vals = [], [], []

    def put(r, c, v):
        rows.append(r)
        cols.append(c)
        vals.append(np.broadcast_to(np.asarray(v, dtype=float), np.shape(r)))

    put(t, col["B"], 1.0)
    put(t[1:], col["B"][:-1], -(1.0 + data.fund_return[1:]))
    for name in ("D", "X", "U", "R"):
        put(t, col[name], -1.0)
    put(T + t, col["A"], 1.0)
    put(T + t[1:], col["A"][:-1], -(1.0 + reserve_returns(data)[1:]))
    put(T + t, col["D"], 1.0)
    put(np.array([2 * T, 2 * T]), np.array([col["B"][-1], col["A"][-1]]), 1.0)
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(2 * T + 1, 6 * T))


def path_rows_bounds(data: ScenarioData, paths: np.ndarray, tau: np.ndarray | None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Row bounds ``[n, 2T+1]`` of the paths' rows. ``tau[n, T]``: the pooled rates (fixed, as
    in a recourse subproblem) moved to the right-hand side; None: they are columns."""
    T = len(data.years)
    cb, ex = data.contribution_base[paths], data.expenditure[paths]
    rhs = np.zeros((paths.size, 2 * T + 1))
    rate = data.individual_account_rate + (0.0 if tau is None else tau)
    rhs[:, :T] = cb * rate + data.subsidy[None, :] - ex
    rhs[:, 0] += (1.0 + data.fund_return[0]) * data.balance_start[paths]
    rhs[:, T] = (1.0 + reserve_returns(data)[0]) * data.reserve_start[paths]
    lower, upper = rhs.copy(), rhs.copy()
    lower[:, 2 * T] = data.settings.constraints.horizon_months_target / 12.0 * ex[:, -1]
    upper[:, 2 * T] = INF
    return lower, upper


def path_cols_bounds(data: ScenarioData, paths: np.ndarray, rescue: bool,
                     fixed_z: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Column bounds ``[n, 6T]``: the liquidity floor on ``B``, the levers' switches, the
    fiscal capacity on ``X`` (its excess ``R`` free), the cap ``U ≤ E`` in the variants with
    unpaid pensions (``E z_p`` with the binaries fixed)."""
    s = data.settings
    T = len(data.years)
    ex = data.expenditure[paths]
    lower = np.zeros((paths.size, 6 * T))
    upper = np.zeros((paths.size, 6 * T))
    lower[:, :T] = s.constraints.liquidity_floor_months / 12.0 * ex
    upper[:, :T] = INF
    upper[:, T:2 * T] = INF if s.reserve.enabled else 0.0
    upper[:, 2 * T:3 * T] = INF
    upper[:, 3 * T:4 * T] = INF if s.extra_transfer.enabled else 0.0
    limited = capacity_applies(data)
    if limited:
        upper[:, 3 * T:4 * T] = data.transfer_capacity[paths]
    if constraint_variant(data) != "hard":
        cap = ex if fixed_z is None else ex * np.round(np.asarray(fixed_z)[paths])[:, None]
        upper[:, 4 * T:5 * T] = cap
    upper[:, 5 * T:] = INF if rescue or limited else 0.0
    return lower, upper


def path_costs(data: ScenarioData, paths: np.ndarray, rescue: bool) -> np.ndarray:
    """Objective coefficients ``[n, 6T]``: ``π δ (w_r D + w_x X + w_u U + w_e R)`` (``R``: the
    excess over the fiscal capacity), or ``π δ R`` in the rescue problem (phase one: the
    smallest expected discounted rescue money)."""
    T = len(data.years)
    w = data.settings.objective
    pd = data.probability[paths, None] * data.discount[None, :]
    cost = np.zeros((paths.size, 6 * T))
    if rescue:
        cost[:, 5 * T:] = pd
    else:
        cost[:, T:2 * T] = w.reserve_draw * pd
        cost[:, 3 * T:4 * T] = w.extra_transfer * pd
        cost[:, 4 * T:5 * T] = w.shortfall * pd
        if capacity_applies(data):
            cost[:, 5 * T:] = w.excess_over_capacity * pd
    return cost


# ----------------------------------------------------------------------------- HiGHS plumbing
def pass_model(h: highspy.Highs, cost, col_lower, col_upper, matrix: sp.spmatrix, row_lower,
               row_upper, offset: float = 0.0) -> None:
    """Hand an LP (minimise) to HiGHS from arrays, the matrix column-wise
    (``Highs.passModel``'s array form: no copy through Python lists)."""
    a = sp.csc_matrix(matrix)
    n_col, n_row = a.shape[1], a.shape[0]
    status = h.passModel(
        n_col, n_row, a.nnz, int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMinimize), float(offset),
        np.ascontiguousarray(cost, dtype=float), np.ascontiguousarray(col_lower, dtype=float),
        np.ascontiguousarray(col_upper, dtype=float), np.ascontiguousarray(row_lower, dtype=float),
        np.ascontiguousarray(row_upper, dtype=float), a.indptr[:-1].astype(np.int32),
        a.indices.astype(np.int32), a.data.astype(float), np.zeros(n_col, dtype=np.int32))
    if status != highspy.HighsStatus.kOk:
        raise SolverFailure(f"HiGHS refused the model ({status})")


def new_highs(threads: int, time_limit_s: float) -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("time_limit", float(time_limit_s))
    return h


def run_highs(h: highspy.Highs) -> None:
    """``h.run()``, and once more where HiGHS did not finish for a reason a restart removes:

    * refused (model status "Not Set"): HiGHS keeps one global scheduler per process, created
      with the first solve's ``threads``, and refuses a later solve asking for another thread
      count (HiGHS 1.16: solves with threads 1 then 2 in one process); the scheduler is reset;
    * "Unknown" after a warm start: the simplex, started from the previous solve's basis after
      rows were added or bounds moved, can end with residual infeasibilities it cannot clean
      up (seen on the decomposition's master, optimal_two_stage with the NSSF return at 5 %);
      the solve is repeated from scratch (``clearSolver``: no basis, no solution kept).
    A status still not optimal is the caller's to report."""
    h.run()
    if h.getModelStatus() == highspy.HighsModelStatus.kNotset:
        highspy.Highs.resetGlobalScheduler(True)
        h.run()
    if h.getModelStatus() == highspy.HighsModelStatus.kUnknown:
        h.clearSolver()
        h.run()


INFEASIBLE = {highspy.HighsModelStatus.kInfeasible,
              highspy.HighsModelStatus.kUnboundedOrInfeasible}


# ----------------------------------------------------------------------------- extensive form
def extensive_form(data: ScenarioData, rescue: bool = False,
                   fixed_z: np.ndarray | None = None) -> tuple[tuple, RatePairs]:
    """The extensive form of :func:`models.optimize.model.build_extensive_form` as arrays
    ``(cost, col_lower, col_upper, matrix, row_lower, row_upper, offset)`` for
    :func:`pass_model` (hard and CVaR variants; the chance variant with its binaries fixed)."""
    kind = constraint_variant(data)
    if kind == "chance" and fixed_z is None:
        raise ValueError("the chance-constrained MILP is solved on the Pyomo model")
    P, T = data.n_paths, len(data.years)
    pairs = rate_pairs(data)
    K = pairs.size
    paths = np.arange(P)
    n_path_cols, n_path_rows = 6 * T, 2 * T + 1
    first, first_rhs = rate_rows(data, pairs)
    blocks = sp.kron(sp.identity(P, format="csr"), path_matrix(data), format="csr")
    # the pooled-rate columns in the balance rows: −CB[p,t] at τ[k(p,t)]
    bal_rows = (paths[:, None] * n_path_rows + np.arange(T)[None, :]).ravel()
    tau_in_paths = sp.csr_matrix((-data.contribution_base.ravel(),
                                  (bal_rows, pairs.of_path_year.ravel())),
                                 shape=(P * n_path_rows, 2 * K))
    matrix = sp.bmat([[first, None], [tau_in_paths, blocks]], format="csr")
    t_lo, t_hi, pace = rate_bounds(data, pairs)
    c_lo, c_hi = path_cols_bounds(data, paths, rescue, fixed_z)
    r_lo, r_hi = path_rows_bounds(data, paths, None)
    col_lower = np.concatenate([t_lo, np.zeros(K), c_lo.ravel()])
    col_upper = np.concatenate([t_hi, np.full(K, pace), c_hi.ravel()])
    cost = np.concatenate([rate_costs(data, pairs, rescue), path_costs(data, paths,
                                                                       rescue).ravel()])
    row_lower = np.concatenate([np.full(2 * K, -INF), r_lo.ravel()])
    row_upper = np.concatenate([first_rhs, r_hi.ravel()])
    if kind == "cvar":  # η (free), ξ[p] ≥ 0; ξ_p + η − Σ_t δ_t U[p,t] ≥ 0; the limit
        con = data.settings.constraints
        n = matrix.shape[1]
        u_cols = (2 * K + paths[:, None] * n_path_cols + 4 * T + np.arange(T)[None, :]).ravel()
        xi_def = sp.csr_matrix((np.concatenate([np.ones(P), np.ones(P),
                                                np.tile(-data.discount, P)]),
                                (np.concatenate([paths, paths, np.repeat(paths, T)]),
                                 np.concatenate([n + 1 + paths, np.full(P, n), u_cols]))),
                               shape=(P, n + 1 + P))
        limit = sp.csr_matrix(np.concatenate([np.zeros(n), [1.0],
                                              data.probability / (1.0 - con.cvar_beta)])[None, :])
        matrix = sp.vstack([sp.hstack([matrix, sp.csr_matrix((matrix.shape[0], 1 + P))]),
                            xi_def, limit], format="csr")
        col_lower = np.concatenate([col_lower, [-INF], np.zeros(P)])
        col_upper = np.concatenate([col_upper, [INF], np.full(P, INF)])
        cost = np.concatenate([cost, np.zeros(1 + P)])
        row_lower = np.concatenate([row_lower, np.zeros(P), [-INF]])
        row_upper = np.concatenate([row_upper, np.full(P, INF),
                                    [con.cvar_limit_cny / MONEY_SCALE]])
    offset = 0.0 if rescue else data.outer_cost / MONEY_SCALE
    arrays = (cost, col_lower, col_upper, matrix, row_lower, row_upper, offset)
    if rule_applies(data):  # reserve draws by a decision rule: θ columns and rows at the end
        arrays = with_rule_rows(arrays, data, first_path_col=2 * K)
    return arrays, pairs


def solve_extensive(data: ScenarioData, rescue: bool = False, duals: bool = True,
                    fixed_z: np.ndarray | None = None) -> InnerSolution:
    """Build the extensive form from arrays and solve it with HiGHS (dual simplex)."""
    t0 = time.perf_counter()
    lp, pairs = extensive_form(data, rescue, fixed_z)
    opts = data.settings.solver
    h = new_highs(opts.threads, opts.time_limit_s)
    pass_model(h, *lp)
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    run_highs(h)
    solve_s = time.perf_counter() - t1
    status = h.getModelStatus()
    P, T = data.n_paths, len(data.years)
    if status in INFEASIBLE:
        empty = np.full((P, T), np.nan)
        return InnerSolution("infeasible", np.inf, empty, {}, empty, empty, empty, empty, empty,
                             None, None, None, None, build_s, solve_s,
                             "HiGHS (arrays): infeasible\n", False)
    if status == highspy.HighsModelStatus.kOptimal:
        label = "optimal"
    elif (status == highspy.HighsModelStatus.kTimeLimit
          and h.getInfo().primal_solution_status == highspy.kSolutionStatusFeasible):
        label = "time_limit_feasible"
    else:
        raise SolverFailure(f"HiGHS stopped with {h.modelStatusToString(status)} and no "
                            "usable solution")
    sol = h.getSolution()
    x = np.asarray(sol.col_value)
    K = pairs.size
    cols = x[2 * K:2 * K + P * 6 * T].reshape(P, 6, T)
    tau_k = x[:K]
    dual_b = dual_l = dual_h = None
    if duals and not rescue:
        y = np.asarray(sol.row_dual)[2 * K:2 * K + P * (2 * T + 1)].reshape(P, 2 * T + 1)
        d = np.asarray(sol.col_dual)[2 * K:2 * K + P * 6 * T].reshape(P, 6, T)
        dual_b, dual_h = y[:, :T].copy(), y[:, 2 * T].copy()
        dual_l = d[:, 0].copy()
    info = h.getInfo()
    return InnerSolution(
        status=label, objective=float(info.objective_function_value),
        tau=tau_k[pairs.of_path_year], tau_node=dict(zip(pairs.keys(), tau_k.tolist())),
        B=cols[:, 0].copy(), A=cols[:, 2].copy(), D=cols[:, 1].copy(), X=cols[:, 3].copy(),
        U=cols[:, 4].copy(), R=cols[:, 5].copy() if rescue or capacity_applies(data) else None,
        dual_balance=dual_b,
        dual_liquidity=dual_l, dual_horizon=dual_h, build_s=build_s, solve_s=solve_s,
        log=f"HiGHS (arrays): {h.modelStatusToString(status)}, {info.simplex_iteration_count} "
            f"simplex iterations, objective {info.objective_function_value:.10g}\n",
        mip=False)
