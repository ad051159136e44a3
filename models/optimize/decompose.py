"""L-shaped (Benders) decomposition of the inner problem, with a box trust region.

The problem of :mod:`models.optimize.model` has the structure ``min c'x + Σ_p Q_p(x)`` with
``x = (τ, v)`` the pooled rates of the tree's (node, year) pairs and their smoothing helpers
(the rows ``τ_up``, ``τ_down`` and the bounds of :mod:`models.optimize.lp`), and ``Q_p(x)``
path ``p``'s recourse: the cheapest reserve draws, extra transfers (and rescue money in the
rescue problem) that keep its fund and reserve within the limits when the rates are ``x``,

    Q_p(x) = min π_p Σ_t δ_t (w_r D_t + w_x X_t + w_e R_t)  s.t.  path p's rows with
             rhs_t = CB[p,t] (τ[k(p,t)] + τ_IA) + S_t − E[p,t] (+ the opening balances).

``Q_p`` is convex and piecewise linear in ``τ``; its subgradient is
``∂Q_p/∂τ[k] = Σ_{t: k(p,t)=k} y[p,t] CB[p,t]`` with ``y`` the balance rows' duals (LP
duality). The master keeps ``x`` and one variable ``θ_g ≥ 0`` per cut group (recourse costs are
non-negative), and adds after each evaluation at ``x̂`` the optimality cut
``θ_g ≥ Σ_{p∈g} Q_p(x̂) + a_g'(τ − τ̂)``; a path whose recourse is infeasible at ``x̂`` (possible
only with extra transfers switched off: with a fiscal capacity the excess ``R`` over it,
priced ``w_e``, keeps every recourse feasible, :mod:`models.optimize.data`) gives instead a
feasibility cut ``φ_g(x̂) + a_g'(τ − τ̂) ≤ 0`` from the phase-one problem (``φ``: the smallest expected
discounted rescue money, zero exactly where ``x`` is feasible) (Van Slyke & Wets 1969;
Birge & Louveaux 2011, ch. 5).

Regularisation: a box trust region ``|τ − τ_c| ≤ Δ`` around the incumbent ``τ_c`` (the best
policy found), serious step when the true cost falls by at least ``1e-4`` of the fall the
model predicts, the radius doubled after a serious step that reached the box and halved after
a step that did not lower the cost (Linderoth & Wright 2003). Bounds: the upper bound is the
incumbent's exact cost (every recourse solved), the lower bound the master's minimum without
the box (the cuts under-estimate ``Q``); the method stops when they are within the relative
tolerance ``[optimization.solver] tolerance``. The incumbent's recourse solutions give the
balances, draws and the duals the outer delay search needs (at the incumbent they are duals
of the extensive form: the master's ``τ`` is fixed there, so the recourse rows and their
multipliers are those of the full problem).

Cut groups, chosen by measurement (``benchmarks/bench_optimize.py``): one cut per *leaf node*
of the tree (:data:`CUT_GROUPS`; the paths of a leaf share every rate, so their recourse is
one function of that leaf's chain of rates). On the 2 × 2 × 2 tree with 200 paths and a first
stage that matters (cheap transfers, no reserve) the bounds met the tolerance 1e-8 in 15
iterations (4.7 s) with leaf cuts, 28 (10.9 s) with one aggregated cut and 28 (10.0 s) with
one cut per chunk of 100 paths; at a tolerance of 1e-9 the aggregated cut took 500 iterations
against 17. A two-stage tree has one leaf: one aggregated cut.

Subproblems: the paths are cut into chunks of :data:`CHUNK_PATHS`; a chunk is one LP, the
block-diagonal union of its paths' recourse LPs (one ``kron`` of the path's rows), solved by
dual simplex from the optimal basis of the *mean path's* recourse at the same rates, repeated
for every path of the chunk (:func:`template_basis`; the paths' LPs have the same rows and
their optimal bases differ little: measured on the study's paths, 0.2 simplex iterations per
path from it against about 150 from a cold start). The template is computed in the calling
process and travels with the chunk, so a chunk's answer depends on its inputs only and the
chunks can run anywhere: :func:`models.parallel.map_chunks` runs them in ``workers``
processes with results identical to one worker's (cuts are summed in path order).

Across machines: with an MPI communicator (``comm``, mpi4py under ``mpiexec``; ``make
distributed``, :func:`models.optimize.mpisppy_adapter.main` with ``--method lshaped``) every
rank runs this loop on the same data; the chunks are dealt over the ranks (rank ``r`` solves
chunks ``r, r + R, …``, :func:`models.parallel.map_chunks_mpi`) and gathered on every rank in
chunk order, every rank adds the same cuts to its own master, and the master's answers are
taken from rank 0 (broadcast) so the ranks cannot drift apart by rounding: the same numbers
for any rank count (tested on 2 ranks against one process, to the last bit). mpi-sppy's own
L-shaped method builds a Pyomo model per scenario (Pyomo's build and hand-off were 85 % of an
inner solve, issue 15), so ours is kept; mpi-sppy's progressive hedging
(:mod:`models.optimize.mpisppy_adapter`, ``--method ph``) remains available and agrees with
this one (``tests/test_mpisppy.py`` compares it with
:func:`models.optimize.solve.solve_inner`). Worker processes are kept for the whole loop
(:class:`models.parallel.WorkerPool`: a new pool per round cost about 0.16 s on this 2-core
machine).

Multi-stage trees decompose *by scenario*: every node's rates (non-anticipative by
construction: one ``τ[k]`` per (node, year) pair, shared by the node's paths) sit in the
master; each path's recourse sees the rates of its own chain of nodes, and its cut's gradient
falls on those pairs. The master grows with the nodes (the 3×3×3×3 tree has about 4,700
pairs), not with the paths.

Reserve draws by a decision rule (:mod:`models.optimize.rules`, ``D[p,t] = Σ_j Φ[p,t,j]
ϑ[t,j]`` with coefficients ``ϑ`` common to all paths): the coefficients are first-stage
variables like the node rates, so the master holds ``z = (τ, ϑ)``. A path's recourse sees its
draws fixed, ``D = Φ_p ϑ̂`` (the columns' bounds), and its cut's gradient in ``ϑ`` is
``Σ_t ∂Q_p/∂D[p,t] Φ[p,t,j]`` with ``∂Q_p/∂D`` the fixed draws' reduced costs. The limits that
involve the draws alone — ``D ≥ 0`` (``D = 0`` with the reserve lever off) and the reserve
``A[p,t] = (1 + r_t) A[p,t−1] − D[p,t] ≥ 0`` — are linear in ``ϑ`` alone: they are rows of the
master, and in the recourse ``A`` is free (it follows from the draws). There are ``2PT`` of
them; the master starts with a subset that implies them all (:func:`initial_rule_rows`, exact):
``D ≥ 0`` for the paths whose observed states are the vertices of their convex hull that year
(the others' draws are convex combinations of theirs) and the reserve of the last year only
(with draws non-negative the reserve of an earlier year is at least the later one's
discounted), about ``12T + P`` rows; a row the master's answer still breaks by more than
:data:`RULE_ROW_TOLERANCE` (an LP answer meets its rows within HiGHS's feasibility tolerance,
1e-7, so a draw may be −1e-7) is added as it is found (per year the path that breaks each
most, :meth:`Run.add_rule_rows`). Adding them only as they were found ("lazy",
:data:`RULE_ROWS`) re-solved the master about 50 times per solve and took 86 % of it: on the
study's multi-stage settings at 50 paths (loaded machine, ``benchmarks/bench_optimize.py``)
a cold solve took 3.7 s lazily and 0.5 s with the initial rows, the objectives equal to
1.6e-14 relative. ``ϑ`` is boxed by :func:`rule_box` (valid: every feasible rule has a
representative inside) so the master is bounded before any cut, and the trust region on
``ϑ`` is that share of its box. Measured earlier on the study's multi-stage settings (2 × 2 × 2
tree, affine rule on two observables, 60 paths, loaded machine): the same objective as the
extensive form to 3e-16 relative and the same rates.

Warm start (the search's moves, :mod:`models.optimize.search`): a solve may start from a
nearby solve's :class:`WarmStart` — its best first stage ``z`` (the first point evaluated)
and its cuts. A cut ``θ_g ≥ Σ_{p∈g} Q_p(ẑ) + a_g'(z − ẑ)`` depends only on the data of the
group's paths (their contribution base and expenditure, which a knot move changes) and on
the data every path shares, so it is kept exactly when both are bit-for-bit those it was made
from (:func:`data_keys`: a hash of the shared arrays and settings, and one of each group's
paths' arrays); the draw rule's rows of the master depend on the shared data only. A kept cut
under-estimates the group's recourse as in the solve that made it, so the bounds, the stopping
rule and the answer's tolerance are unchanged; a move of a leaf node's knot changes one
leaf's paths and keeps the other leaves' cuts.

Variants: the hard variant and the rescue problem decompose. The CVaR limit is an expectation
over paths that couples them (solved as the extensive form from arrays,
:func:`models.optimize.lp.solve_extensive`), the chance constraint is a MILP (Pyomo).

References
----------
Van Slyke, R. M. & Wets, R. J.-B. (1969). L-shaped linear programs with applications to
optimal control and stochastic programming. *SIAM J. Appl. Math.* 17, 638-663.
Linderoth, J. & Wright, S. (2003). Decomposition algorithms for stochastic programming on a
computational grid. *Computational Optimization and Applications* 24, 207-250.
Birge, J. R. & Louveaux, F. (2011). *Introduction to Stochastic Programming*, 2nd ed. Springer.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, replace
from functools import lru_cache

import highspy
import numpy as np
import scipy.sparse as sp

from models.config import OptimizationSettings
from models.optimize.data import (
    MONEY_SCALE,
    PATH_ARRAYS,
    ScenarioData,
    capacity_applies,
    mean_of_paths,
    reserve_returns,
    take_paths,
)
from models.optimize.lp import (
    INF,
    INFEASIBLE,
    InnerSolution,
    RatePairs,
    SolverFailure,
    new_highs,
    pass_model,
    path_cols_bounds,
    path_costs,
    path_matrix,
    path_rows_bounds,
    rate_bounds,
    rate_costs,
    rate_pairs,
    rate_rows,
    run_highs,
    solve_extensive,
)
from models.optimize.rules import generating_paths, rule_applies, rule_decisions
from models.parallel import WorkerPool, map_chunks, map_chunks_mpi, path_chunks

#: paths per subproblem (one LP, warm-started)
CHUNK_PATHS = 100
#: cut groups (:func:`cut_group_of_paths`): "leaf" measured best (module docstring)
CUT_GROUPS = "leaf"
#: trust region: first, largest and smallest radius (pooled rate, fraction)
RADIUS_START, RADIUS_MAX, RADIUS_MIN = 0.01, 0.1, 1e-7
MAX_ITERATIONS = 500
#: share of the predicted fall a serious step must achieve
SERIOUS = 1e-4

_STATUS = tuple(highspy.HighsBasisStatus(i) for i in range(5))


# ----------------------------------------------------------------------------- one chunk
@dataclass
class ChunkResult:
    feasible: bool
    value: np.ndarray  # [n] Q_p (or φ_p when infeasible)
    grad: np.ndarray  # [n, T] ∂value/∂τ governing (p, t)
    solution: dict | None  # B, D, A, X, U, R [n, T]; dual_balance, dual_liquidity [n, T],
    # dual_horizon [n]
    simplex_iterations: int
    # under a draw rule: ∂value/∂D[p,t], the reduced cost of the draw fixed by the rule
    grad_draw: np.ndarray | None = None


def _tiled_basis(template: tuple[np.ndarray, np.ndarray], n: int) -> highspy.HighsBasis:
    """One path's basis (column and row status codes) repeated for ``n`` paths."""
    lut = np.array(_STATUS, dtype=object)
    b = highspy.HighsBasis()
    b.col_status = list(lut[np.tile(template[0], n)])
    b.row_status = list(lut[np.tile(template[1], n)])
    b.valid = True
    return b


def path_basis(h: highspy.Highs) -> tuple[np.ndarray, np.ndarray]:
    """Status codes ``(columns, rows)`` of a solved one-path LP's basis."""
    b = h.getBasis()
    cols, rows = b.col_status, b.row_status
    return (np.fromiter(map(int, cols), np.int8, len(cols)),
            np.fromiter(map(int, rows), np.int8, len(rows)))


def _chunk_highs(data: ScenarioData, tau: np.ndarray, rescue: bool, phase_one: bool = False,
                 draws: np.ndarray | None = None) -> tuple[highspy.Highs, np.ndarray]:
    """A chunk's recourse LP handed to HiGHS; returns it and the cost ``[n, 6T]``.
    ``draws[n, T]``: the reserve draws a decision rule sets (the columns ``D`` fixed there,
    the reserve ``A`` then a function of the first stage, its bound ``A ≥ 0`` a row of the
    master: :meth:`Run.rule_rows`)."""
    n = data.n_paths
    paths = np.arange(n)
    T = len(data.years)
    matrix = sp.kron(sp.identity(n, format="csr"), path_matrix(data), format="csc")
    c_lo, c_hi = path_cols_bounds(data, paths, rescue or phase_one)
    if draws is not None:
        c_lo[:, T:2 * T] = c_hi[:, T:2 * T] = draws
        c_lo[:, 2 * T:3 * T] = -INF
    r_lo, r_hi = path_rows_bounds(data, paths, tau)
    cost = path_costs(data, paths, rescue or phase_one)
    # HiGHS keeps the thread count of a process's first solve: every solve uses the setting's
    h = new_highs(data.settings.solver.threads, data.settings.solver.time_limit_s)
    pass_model(h, cost.ravel(), c_lo.ravel(), c_hi.ravel(), matrix, r_lo.ravel(), r_hi.ravel())
    return h, cost


@lru_cache(maxsize=8)
def settings_from_json(text: str) -> OptimizationSettings:
    """The settings from their JSON dump (they travel to worker processes as text: a
    validated settings object holds generic classes that do not pickle)."""
    return OptimizationSettings.model_validate(json.loads(text))


def chunk_item(data: ScenarioData, paths: np.ndarray) -> tuple[ScenarioData, str]:
    """A chunk's data without its settings, and the settings as JSON (see
    :func:`settings_from_json`)."""
    return (replace(chunk_data(data, paths), settings=None),
            json.dumps(data.settings.model_dump(mode="json"), sort_keys=True))


def solve_chunk(shared: None, item: tuple) -> ChunkResult:
    """Recourse of a chunk of paths at fixed rates: ``item = ((data, settings JSON),
    tau[n, T], template, rescue[, theta[T, J]])`` with ``data`` the chunk's paths only
    (:func:`chunk_item`), ``template`` one path's basis (status codes) that every path of
    the chunk starts from (None: a cold start) and ``theta`` the draw rule's coefficients
    (the draws ``Φ θ`` of the chunk's basis; absent or None: free draws). A pure function of
    its inputs."""
    (data, settings), tau, template, rescue, *rest = item
    theta = rest[0] if rest else None
    data = replace(data, settings=settings_from_json(settings))
    n, T = data.n_paths, len(data.years)
    draws = None if theta is None else rule_decisions(data.recourse_basis, theta)
    h, cost = _chunk_highs(data, tau, rescue, draws=draws)
    if template is not None:
        h.setBasis(_tiled_basis(template, n))
    run_highs(h)
    feasible = h.getModelStatus() not in INFEASIBLE
    if not feasible:  # phase one: the smallest rescue money, its duals give a feasibility cut
        h, cost = _chunk_highs(data, tau, rescue, phase_one=True, draws=draws)
        run_highs(h)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise SolverFailure(f"recourse chunk: HiGHS stopped with "
                            f"{h.modelStatusToString(h.getModelStatus())}")
    sol = h.getSolution()
    x = np.asarray(sol.col_value).reshape(n, 6 * T)
    y = np.asarray(sol.row_dual).reshape(n, 2 * T + 1)
    value = (cost * x).sum(axis=1)
    grad = y[:, :T] * data.contribution_base
    iters = int(h.getInfo().simplex_iteration_count)
    d = np.asarray(sol.col_dual).reshape(n, 6, T)
    grad_draw = None if draws is None else d[:, 1].copy()
    if not feasible:
        return ChunkResult(False, value, grad, None, iters, grad_draw)
    blocks = x.reshape(n, 6, T)
    solution = {"B": blocks[:, 0].copy(), "D": blocks[:, 1].copy(), "A": blocks[:, 2].copy(),
                "X": blocks[:, 3].copy(), "U": blocks[:, 4].copy(), "R": blocks[:, 5].copy(),
                "dual_balance": y[:, :T].copy(), "dual_liquidity": d[:, 0].copy(),
                "dual_horizon": y[:, 2 * T].copy()}
    return ChunkResult(True, value, grad, solution, iters, grad_draw)


def chunk_data(data: ScenarioData, paths: np.ndarray) -> ScenarioData:
    """The scenario data of some paths (their own probabilities kept)."""
    return replace(data, probability=data.probability[paths],
                   node_of_year=data.node_of_year[paths], fixed_rates=None,
                   **take_paths(data, paths))


# ----------------------------------------------------------------------------- warm start
#: cuts a warm start keeps per cut group (the newest), so the master stays small along a search
WARM_CUTS_PER_GROUP = 40


@dataclass(frozen=True)
class WarmStart:
    """What a later, nearby solve may reuse (module docstring): the best first stage ``z``,
    the optimality cuts ``(group key, value, gradient, ẑ)`` and the draw rule's master rows
    ``((kind, path, year), lower, upper, entries, values)``, valid while the shared data's key is ``shared_key``."""

    z: np.ndarray
    shared_key: bytes
    cuts: tuple = ()
    rule_rows: tuple = ()


def data_keys(data: ScenarioData, rescue: bool, group: np.ndarray, n_groups: int
              ) -> tuple[bytes, list[bytes]]:
    """``(shared key, [key of each cut group])``: hashes of the data a group's recourse
    ``Σ_{p∈g} Q_p`` depends on — every path-independent array, scalar and setting, then each
    group's paths with all their per-path arrays (:data:`models.optimize.data.PATH_ARRAYS`)."""
    shared = hashlib.blake2b(digest_size=20)
    shared.update(json.dumps(data.settings.model_dump(mode="json"), sort_keys=True).encode())
    shared.update(repr((rescue, float(data.reserve_return), float(data.individual_account_rate),
                        float(data.pooled_rate_before), data.fixed_rates)).encode())
    for name in ("years", "probability", "node_of_year", "subsidy", "fund_return", "discount",
                 "reserve_return_path"):
        value = getattr(data, name)
        shared.update(b"-" if value is None else np.ascontiguousarray(value).tobytes())
    shared_key = shared.digest()
    keys = []
    for g in range(n_groups):
        paths = np.flatnonzero(group == g)
        h = hashlib.blake2b(shared_key, digest_size=20)
        h.update(paths.tobytes())
        for name in PATH_ARRAYS:
            value = getattr(data, name)
            h.update(b"-" if value is None else np.ascontiguousarray(value[paths]).tobytes())
        keys.append(h.digest())
    return shared_key, keys


# ----------------------------------------------------------------------------- the master
class Master:
    """``min c'x + Σ_g θ_g`` over ``x = (τ, v)``, the draw rule's coefficients ``ϑ`` (when
    there is a rule; bounds ``rule_lower``, ``rule_upper``) and the cuts; ``θ_g ≥ 0``.
    Columns: ``τ`` (K), ``v`` (K), ``θ_g`` (groups), ``ϑ`` (rule). The *first stage* the cuts
    and the trust region see is ``z = (τ, ϑ)``."""

    def __init__(self, data: ScenarioData, pairs: RatePairs, groups: int, rescue: bool,
                 threads: int, rule_lower: np.ndarray | None = None,
                 rule_upper: np.ndarray | None = None):
        K = pairs.size
        n_rule = 0 if rule_lower is None else rule_lower.size
        self.K, self.groups, self.n_rule = K, groups, n_rule
        rows, rhs = rate_rows(data, pairs)
        self.lower, self.upper, pace = rate_bounds(data, pairs)
        if n_rule:
            self.lower = np.concatenate([self.lower, rule_lower])
            self.upper = np.concatenate([self.upper, rule_upper])
        cost = np.concatenate([rate_costs(data, pairs, rescue), np.ones(groups),
                               np.zeros(n_rule)])
        col_lo = np.concatenate([self.lower[:K], np.zeros(K), np.zeros(groups),
                                 self.lower[K:]])
        col_hi = np.concatenate([self.upper[:K], np.full(K, pace), np.full(groups, INF),
                                 self.upper[K:]])
        matrix = sp.hstack([rows, sp.csr_matrix((2 * K, groups + n_rule))])
        self.h = new_highs(threads, data.settings.solver.time_limit_s)
        pass_model(self.h, cost, col_lo, col_hi, matrix, np.full(2 * K, -INF), rhs)
        self.cost = cost[:2 * K]
        # master column of every first-stage entry z = (τ, ϑ)
        self.first_cols = np.concatenate([np.arange(K), 2 * K + groups + np.arange(n_rule)]
                                         ).astype(np.int32)

    def add_cut(self, group: int | None, value: float, grad: np.ndarray, z: np.ndarray):
        """Optimality cut ``θ_g − a'z ≥ value − a'ẑ`` (``group``), or feasibility cut
        ``a'z ≤ a'ẑ − value`` (``group`` None); ``a``, ``ẑ`` over the first stage ``z``."""
        self.add_rows([self.cut_row(group, value, grad, z)])

    def cut_row(self, group: int | None, value: float, grad: np.ndarray, z: np.ndarray
                ) -> tuple[float, float, np.ndarray, np.ndarray]:
        """:meth:`add_cut`'s row ``(lower, upper, columns, values)``."""
        nz = np.flatnonzero(grad)
        base = float(grad[nz] @ z[nz])
        cols = self.first_cols[nz]
        if group is None:
            idx, val = cols, grad[nz]
            lo, hi = -INF, base - value
        else:
            idx = np.concatenate([cols, [2 * self.K + group]])
            val = np.concatenate([-grad[nz], [1.0]])
            lo, hi = value - base, INF
        return lo, hi, idx.astype(np.int32), val.astype(float)

    def add_rule_row(self, lower: float, upper: float, entries: np.ndarray,
                     values: np.ndarray) -> None:
        """A row ``lower ≤ Σ values · ϑ[entries] ≤ upper`` on the rule's coefficients
        (``entries``: positions in ``ϑ``)."""
        self.add_rows([self.rule_row(lower, upper, entries, values)])

    def rule_row(self, lower: float, upper: float, entries: np.ndarray, values: np.ndarray
                 ) -> tuple[float, float, np.ndarray, np.ndarray]:
        """:meth:`add_rule_row`'s row ``(lower, upper, columns, values)``."""
        cols = self.first_cols[self.K + np.asarray(entries)]
        return lower, upper, cols.astype(np.int32), np.asarray(values, dtype=float)

    def add_rows(self, rows: list[tuple[float, float, np.ndarray, np.ndarray]]) -> None:
        """Rows ``(lower, upper, columns, values)`` added in one call, in order."""
        if not rows:
            return
        starts = np.cumsum([0] + [r[2].size for r in rows[:-1]]).astype(np.int32)
        self.h.addRows(len(rows), np.array([r[0] for r in rows], dtype=float),
                       np.array([r[1] for r in rows], dtype=float), int(starts[-1]
                                                                        + rows[-1][2].size),
                       starts, np.concatenate([r[2] for r in rows]).astype(np.int32),
                       np.concatenate([r[3] for r in rows]).astype(float))

    def solve(self, center: np.ndarray | None, radius: float, scale: np.ndarray | None = None
              ) -> tuple[np.ndarray, float]:
        """Minimise within the box ``|z − center| ≤ radius · scale`` (None: no box; ``scale``
        1 for ``τ`` by default); ``(z, value)``."""
        if center is None:
            lo, hi = self.lower, self.upper
        else:
            width = radius if scale is None else radius * scale
            lo = np.minimum(np.maximum(self.lower, center - width), self.upper)
            hi = np.maximum(np.minimum(self.upper, center + width), lo)
        self.h.changeColsBounds(self.first_cols.size, self.first_cols, lo, hi)
        run_highs(self.h)
        status = self.h.getModelStatus()
        if status in INFEASIBLE:
            return np.full(self.first_cols.size, np.nan), np.inf
        if status != highspy.HighsModelStatus.kOptimal:
            raise SolverFailure(f"master: HiGHS stopped with {self.h.modelStatusToString(status)}")
        x = np.asarray(self.h.getSolution().col_value)
        return x[self.first_cols].copy(), float(self.h.getInfo().objective_function_value)


# ----------------------------------------------------------------------------- the loop
def _first_stage_cost(master: Master, pairs: RatePairs, tau: np.ndarray, before: float) -> float:
    """``c_τ'τ + c_v'v`` with the smallest helpers ``v = |τ − τ_prev|``."""
    prev = np.where(pairs.prev >= 0, tau[np.maximum(pairs.prev, 0)], before)
    return float(master.cost[:pairs.size] @ tau + master.cost[pairs.size:] @ np.abs(tau - prev))


def mean_path(data: ScenarioData) -> ScenarioData:
    """The expected-value scenario: every path replaced by the probability-weighted mean, as
    one path."""
    return replace(data, probability=np.ones(1),
                   node_of_year=np.zeros((1, len(data.years)), dtype=int),
                   **mean_of_paths(data))


def _start(data: ScenarioData, pairs: RatePairs, rescue: bool) -> np.ndarray:
    """First rates: the expected-value problem's (solved as one path), the same in every
    node; the rate before, within the bounds, if it has none."""
    ev = solve_extensive(mean_path(data), rescue=rescue, duals=False)
    lo, hi, _ = rate_bounds(data, pairs)
    if ev.status == "infeasible":
        return np.clip(np.full(pairs.size, data.pooled_rate_before), lo, hi)
    return np.clip(ev.tau[0][pairs.year], lo, hi)


def template_basis(mean: ScenarioData, tau: np.ndarray, rescue: bool,
                   draws: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The optimal basis of the mean path's recourse at the rates ``tau[T]``: every path's
    recourse starts from it (the paths' LPs have the same rows, and their optimal bases
    differ little: measured, 0.2 simplex iterations per path from it against about 150 from
    a cold start). None when the mean path is infeasible there."""
    h, _ = _chunk_highs(mean, tau[None, :], rescue, draws=draws)
    run_highs(h)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return path_basis(h)


def cut_group_of_paths(data: ScenarioData, chunks: list[np.ndarray], kind: str) -> np.ndarray:
    """Cut group of every path: ``"aggregated"`` one group; ``"leaf"`` one per leaf node of
    the tree (the paths that share every rate; one group in a two-stage tree); ``"chunk"``
    one per chunk of paths; ``"path"`` one per path."""
    P = data.n_paths
    if kind == "aggregated":
        return np.zeros(P, dtype=np.int64)
    if kind == "leaf":
        return np.unique(data.node_of_year[:, -1], return_inverse=True)[1].astype(np.int64)
    if kind == "chunk":
        return np.concatenate([np.full(c.size, i) for i, c in enumerate(chunks)])
    if kind == "path":
        return np.arange(P, dtype=np.int64)
    raise ValueError(f"unknown cut groups {kind!r}")


@dataclass
class Evaluation:
    z: np.ndarray  # first stage: τ [K], then the rule's ϑ [T·J] under a draw rule
    cost: float  # exact cost c'x + Σ Q_p, inf when a path is infeasible
    results: list[ChunkResult]


#: a draw-rule row of the master is added when the first stage breaks it by more than this
#: (trillions of yuan)
RULE_ROW_TOLERANCE = 1e-9
#: the master's draw-rule rows: "initial" (rows implying all of them from the start,
#: :func:`initial_rule_rows`, and the separation as a safeguard) or "lazy" (separation only,
#: :meth:`Run.add_rule_rows`); the same feasible set, the same optimum within the tolerance
RULE_ROWS = "initial"


def rule_box(data: ScenarioData) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the draw rule's coefficients ``ϑ[t, j]`` (flattened) that keep a
    representative of every feasible rule: the draws lie in ``0 ≤ D[p,t] ≤ D̄[p,t]`` (the
    reserve with no earlier draw, ``(1 + r_t) A̅[p,t−1]``; 0 with the reserve lever off), and
    ``ϑ_t = Φ_t⁺ D_t`` (the pseudo-inverse of the year's basis ``Φ_t[p, j]``) is a
    coefficient vector giving ``D_t`` (the one of least norm), so
    ``Σ_p min(Φ⁺,0) D̄ ≤ ϑ_t ≤ Σ_p max(Φ⁺,0) D̄``. With this box the master is bounded."""
    basis = data.recourse_basis
    P, T, J = basis.shape
    if not data.settings.reserve.enabled:
        return np.zeros(T * J), np.zeros(T * J)
    growth = 1.0 + reserve_returns(data)
    top = np.asarray(data.reserve_start, dtype=float)[:, None] * np.cumprod(growth)[None, :]
    lower, upper = np.empty((T, J)), np.empty((T, J))
    for t in range(T):
        inverse = np.linalg.pinv(basis[:, t, :])  # [J, P]
        lower[t] = np.minimum(inverse, 0.0) @ top[:, t]
        upper[t] = np.maximum(inverse, 0.0) @ top[:, t]
    return lower.ravel(), upper.ravel()


def rule_row(data: ScenarioData, kind: str, p: int, t: int
             ) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Path ``p``'s row of year ``t`` of the draw rule's constraints on the first stage alone,
    ``(lower, upper, entries, values)`` with ``entries`` positions in ``ϑ[T·J]``: ``"low"``
    and ``"high"``, the draw within its bounds, ``0 ≤ Σ_j Φ[p,t,j] ϑ[t,j] (≤ 0 with the
    reserve lever off)``; ``"reserve"``, the reserve never negative,
    ``Σ_{s≤t} g_{t,s} Σ_j Φ[p,s,j] ϑ[s,j] ≤ A[p,−1] Π_{u≤t} (1 + r_u)`` with
    ``g_{t,s} = Π_{s<u≤t} (1 + r_u)`` (the reserve's rows with the draws fixed by the rule;
    in the recourse ``A`` is then free)."""
    basis = data.recourse_basis
    J = basis.shape[2]
    if kind != "reserve":
        top = INF if data.settings.reserve.enabled else 0.0
        return 0.0, float(top), t * J + np.arange(J), np.asarray(basis[p, t], dtype=float)
    growth = 1.0 + reserve_returns(data)
    weight = np.ones(t + 1)  # g_{t,s}, s = 0..t
    for s_ in range(t - 1, -1, -1):
        weight[s_] = weight[s_ + 1] * growth[s_ + 1]
    entries = (np.arange(t + 1)[:, None] * J + np.arange(J)[None, :]).ravel()
    values = (weight[:, None] * basis[p, :t + 1]).ravel()
    limit = float(data.reserve_start[p] * np.prod(growth[:t + 1]))
    return -INF, limit, entries, values


#: :func:`initial_rule_rows` of the newest data seen, by a hash of what they depend on (the
#: search's moves share them: they took 0.16 s a solve at 50 paths)
_INITIAL_ROWS: dict[bytes, list[tuple]] = {}


def initial_rule_rows(data: ScenarioData) -> list[tuple]:
    """:func:`compute_initial_rule_rows`, kept for the last few data it was asked for (the
    rows depend on the basis, the reserve's start and returns and whether the lever is on,
    compared by a hash)."""
    h = hashlib.blake2b(digest_size=20)
    h.update(repr(bool(data.settings.reserve.enabled)).encode())
    for value in (data.recourse_basis, data.reserve_start, reserve_returns(data)):
        h.update(np.ascontiguousarray(value, dtype=float).tobytes())
    key = h.digest()
    if key not in _INITIAL_ROWS:
        while len(_INITIAL_ROWS) >= 4:
            _INITIAL_ROWS.pop(next(iter(_INITIAL_ROWS)))
        _INITIAL_ROWS[key] = compute_initial_rule_rows(data)
    return _INITIAL_ROWS[key]


def compute_initial_rule_rows(data: ScenarioData) -> list[tuple]:
    """Rule rows ``((kind, path, year), row)`` (:func:`rule_row`) that imply every one of
    the ``2PT`` (exact: the same feasible ``ϑ``): ``D[p,t] ≥ 0`` for the paths that generate
    each year's rows (:func:`models.optimize.rules.generating_paths`: the vertices of the
    convex hull of the observed states, about a dozen of 200 paths), and the reserve of the
    last year only, ``A[p,T−1] ≥ 0``: with every draw non-negative and ``1 + r > 0``,
    ``A[p,t−1] = (A[p,t] + D[p,t]) / (1 + r_t) ≥ 0`` follows backwards. None with the reserve
    lever off (the box :func:`rule_box` holds ``ϑ`` at 0 there)."""
    if not data.settings.reserve.enabled:
        return []
    basis = data.recourse_basis
    P, T, _ = basis.shape
    rows = [(("low", int(p), t), rule_row(data, "low", int(p), t))
            for t in range(T) for p in generating_paths(basis[:, t])]
    return rows + [(("reserve", p, T - 1), rule_row(data, "reserve", p, T - 1))
                   for p in range(P)]


class Run:
    """One decomposition: the chunks, the cut groups, the master and how the chunks are
    solved (``workers`` processes here, and with ``comm`` an MPI communicator over which the
    chunks are dealt, :func:`models.parallel.map_chunks_mpi`). Under a draw rule the rule's
    coefficients are first-stage variables of the master (module docstring)."""

    def __init__(self, data: ScenarioData, rescue: bool, workers: int, chunk_paths: int,
                 cut_groups: str, comm=None, pool: WorkerPool | None = None,
                 warm: WarmStart | None = None, rule_rows: str = RULE_ROWS):
        if rule_rows not in ("initial", "lazy"):
            raise ValueError(f"rule_rows must be 'initial' or 'lazy', got {rule_rows!r}")
        self.data, self.rescue, self.workers, self.comm = data, rescue, workers, comm
        self.pool = pool
        self.pairs = rate_pairs(data)
        self.chunks = path_chunks(data.n_paths, chunk_paths)
        self.subsets = [chunk_item(data, c) for c in self.chunks]
        self.group = cut_group_of_paths(data, self.chunks, cut_groups)
        self.n_groups = int(self.group.max()) + 1
        self.rule = rule_applies(data)
        box = rule_box(data) if self.rule else (None, None)
        self.master = Master(data, self.pairs, self.n_groups, rescue,
                             data.settings.solver.threads, *box)
        K = self.pairs.size
        # trust region: the rates' radius; the rule's, that share of its box (all of it at
        # the largest radius)
        self.scale = np.ones(K) if not self.rule else np.concatenate(
            [np.ones(K), (box[1] - box[0]) / 2.0 / RADIUS_MAX])
        self.rule_rows_added: set = set()
        self.offset = 0.0 if rescue else data.outer_cost / MONEY_SCALE
        self.mean = mean_path(data)
        self.simplex = 0
        self.shared_key, self.group_keys = data_keys(data, rescue, self.group, self.n_groups)
        self.cuts: list[tuple] = []  # (group key, value, gradient, ẑ), for the warm start
        self.rule_row_list: list[tuple] = []
        self.warm_z = None
        self.kept_cuts = 0
        if self.rule and rule_rows == "initial":
            self.add_rule_rows_list(initial_rule_rows(data))
        self.initial_rows = len(self.rule_row_list)  # not carried by the warm start
        if warm is not None:
            self.take_warm(warm)

    def take_warm(self, warm: WarmStart) -> None:
        """A nearby solve's first stage as the start, and its cuts and rule rows where the data
        they were made from is this run's (module docstring)."""
        if warm.z.shape == self.master.lower.shape:
            self.warm_z = np.clip(warm.z, self.master.lower, self.master.upper)
        if warm.shared_key != self.shared_key:
            return
        group_of_key = {key: g for g, key in enumerate(self.group_keys)}
        rows = []
        for key, value, grad, z in warm.cuts:
            g = group_of_key.get(key)
            if g is not None and grad.shape == z.shape == self.master.lower.shape:
                rows.append(self.master.cut_row(g, value, grad, z))
                self.cuts.append((key, value, grad, z))
                self.kept_cuts += 1
        self.master.add_rows(rows)  # in one call (one by one cost 0.2 s for 1,700 rows)
        self.add_rule_rows_list([(key, tuple(row)) for key, *row in warm.rule_rows])

    def warm_start(self, best: Evaluation | None) -> WarmStart | None:
        """This run's :class:`WarmStart` (the newest cuts of each group, the rule rows)."""
        if best is None or not np.isfinite(best.cost):
            return None
        kept, count = [], {}
        for cut in reversed(self.cuts):
            if count.get(cut[0], 0) < WARM_CUTS_PER_GROUP:
                count[cut[0]] = count.get(cut[0], 0) + 1
                kept.append(cut)
        return WarmStart(best.z.copy(), self.shared_key, tuple(reversed(kept)),
                         tuple(self.rule_row_list[self.initial_rows:]))

    def split(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(τ[K], ϑ[T, J] or None)`` of a first stage ``z``."""
        K = self.pairs.size
        if not self.rule:
            return z[:K], None
        return z[:K], z[K:].reshape(len(self.data.years), -1)

    def start(self) -> np.ndarray:
        """First stage to start from: :func:`_start`'s rates and no draws (``ϑ = 0``, a
        feasible rule)."""
        if self.warm_z is not None:
            return self.warm_z
        tau = _start(self.data, self.pairs, self.rescue)
        return tau if not self.rule else np.concatenate([tau, np.zeros(self.master.n_rule)])

    def map(self, items: list) -> list[ChunkResult]:
        """The chunks' recourse, in chunk order, on every rank."""
        if self.comm is None:
            return list(map_chunks(solve_chunk, items, self.workers, pool=self.pool))
        return map_chunks_mpi(solve_chunk, items, self.comm, workers=self.workers,
                              pool=self.pool)

    def same_everywhere(self, value):
        """Rank 0's value on every rank (the master is solved on each; its answer is taken
        from rank 0 so the ranks cannot drift apart by rounding)."""
        return value if self.comm is None else self.comm.bcast(value, root=0)

    def master_solve(self, center: np.ndarray | None, radius: float
                     ) -> tuple[np.ndarray, float]:
        """The master's minimum (rank 0's) within the trust region around ``center`` (None: no
        box); under a draw rule, re-solved after adding the rule's rows the answer breaks
        (:meth:`add_rule_rows`) until it breaks none."""
        while True:
            z, value = self.same_everywhere(self.master.solve(center, radius, self.scale))
            if not self.rule or not np.isfinite(value) or not self.add_rule_rows(z):
                return z, value

    def add_rule_rows(self, z: np.ndarray) -> int:
        """The draw rule's constraints on the first stage alone (:func:`rule_row`), added to
        the master where ``z`` breaks them (per year, the path that breaks each most) and not
        already there. With :data:`RULE_ROWS` ``"initial"`` the master starts with rows that
        imply them all (:func:`initial_rule_rows`), so this adds a row only where the
        master's answer breaks one by more than :data:`RULE_ROW_TOLERANCE` within the LP's
        feasibility tolerance. Returns the number of rows added."""
        _, theta = self.split(z)
        data = self.data
        draws = rule_decisions(data.recourse_basis, theta)  # [P, T]
        growth = 1.0 + reserve_returns(data)
        reserve = np.asarray(data.reserve_start, dtype=float).copy()
        top = INF if data.settings.reserve.enabled else 0.0
        added = []
        for t in range(theta.shape[0]):
            reserve = growth[t] * reserve - draws[:, t]
            for kind, breach in (("low", -draws[:, t]), ("high", draws[:, t] - top),
                                 ("reserve", -reserve)):
                p = int(np.argmax(breach))
                if breach[p] > RULE_ROW_TOLERANCE and (kind, p, t) not in self.rule_rows_added:
                    added.append(((kind, p, t), rule_row(data, kind, p, t)))
        self.add_rule_rows_list(added)
        return len(added)

    def add_rule_rows_list(self, rows: list[tuple]) -> None:
        """Rule rows ``(key, (lower, upper, entries, values))`` added to the master in one
        call and kept, with their ``(kind, path, year)``, for the warm start."""
        rows = [(key, row) for key, row in rows if key not in self.rule_rows_added]
        self.rule_rows_added.update(key for key, _ in rows)
        self.master.add_rows([self.master.rule_row(*row) for _, row in rows])
        self.rule_row_list.extend((key, *row) for key, row in rows)

    def evaluate(self, z: np.ndarray) -> Evaluation:
        """Every path's recourse at the first stage ``z`` (rates ``τ[K]``, and the rule's
        ``ϑ``): the cuts added to the master and the exact cost (inf when a path is
        infeasible: then feasibility cuts)."""
        pairs, master = self.pairs, self.master
        tau, theta = self.split(z)
        tau_py = tau[pairs.of_path_year]
        mean_draws = (None if theta is None
                      else rule_decisions(self.mean.recourse_basis, theta))
        template = template_basis(self.mean, tau_py[0], self.rescue, mean_draws)
        items = [(sub, tau_py[c], template, self.rescue) + (() if theta is None else (theta,))
                 for sub, c in zip(self.subsets, self.chunks)]
        results = self.map(items)
        self.simplex += sum(r.simplex_iterations for r in results)
        infeasible = [i for i, r in enumerate(results) if not r.feasible]
        for i in infeasible:  # a feasibility cut per infeasible chunk
            grad = np.bincount(pairs.of_path_year[self.chunks[i]].ravel(),
                               weights=results[i].grad.ravel(), minlength=pairs.size)
            if theta is not None:
                grad = np.concatenate([grad, self.rule_gradient(
                    np.zeros(self.chunks[i].size, dtype=np.int64), self.chunks[i],
                    results[i].grad_draw, 1)[0]])
            master.add_cut(None, float(results[i].value.sum()), grad, z)
        if infeasible:
            return Evaluation(z, np.inf, results)
        # optimality cuts, one per group (sums in path order: the same whatever the workers)
        value = np.concatenate([r.value for r in results])
        grad = np.concatenate([r.grad for r in results])
        g_value = np.bincount(self.group, weights=value, minlength=self.n_groups)
        g_grad = sp.csr_matrix((grad.ravel(), (np.repeat(self.group, grad.shape[1]),
                                               pairs.of_path_year.ravel())),
                               shape=(self.n_groups, pairs.size)).toarray()
        if theta is not None:
            g_grad = np.hstack([g_grad, self.rule_gradient(
                self.group, np.arange(self.data.n_paths),
                np.concatenate([r.grad_draw for r in results]), self.n_groups)])
        for g in range(self.n_groups):
            master.add_cut(g, float(g_value[g]), g_grad[g], z)
            self.cuts.append((self.group_keys[g], float(g_value[g]), g_grad[g].copy(), z.copy()))
        cost = (_first_stage_cost(master, pairs, tau, self.data.pooled_rate_before)
                + float(value.sum()) + self.offset)
        return Evaluation(z, cost, results)

    def rule_gradient(self, group: np.ndarray, paths: np.ndarray, grad_draw: np.ndarray,
                      n_groups: int) -> np.ndarray:
        """``∂/∂ϑ[t,j]`` of each group's recourse, ``[group, T·J]``:
        ``Σ_{p∈g} ∂Q_p/∂D[p,t] · Φ[p,t,j]`` (the draws' reduced costs times the basis)."""
        basis = self.data.recourse_basis[paths]
        per_path = (grad_draw[:, :, None] * basis).reshape(paths.size, -1)
        member = sp.csr_matrix((np.ones(paths.size), (group, np.arange(paths.size))),
                               shape=(n_groups, paths.size))
        return np.asarray(member @ per_path)


def solve_decomposed(data: ScenarioData, rescue: bool = False, workers: int = 1,
                     tolerance: float | None = None, chunk_paths: int = CHUNK_PATHS,
                     cut_groups: str = CUT_GROUPS, max_iterations: int = MAX_ITERATIONS,
                     comm=None, warm: WarmStart | None = None,
                     rule_rows: str = RULE_ROWS) -> InnerSolution:
    """The inner problem by L-shaped decomposition (module docstring); an
    :class:`InnerSolution` with the incumbent's recourse, duals, iterations and final gap.
    ``comm``: an MPI communicator (mpi4py) over whose ranks the chunks are dealt; every rank
    runs this function and gets the same answer as one process. ``warm``: a nearby solve's
    :class:`WarmStart` (``InnerSolution.warm``; module docstring), the same optimum within the
    tolerance. ``rule_rows``: how the draw rule's rows enter the master (:data:`RULE_ROWS`)."""
    t0 = time.perf_counter()
    tol = data.settings.solver.tolerance if tolerance is None else tolerance
    with WorkerPool(workers, solve_chunk) as pool:  # kept across the iterations
        run = Run(data, rescue, workers, chunk_paths, cut_groups, comm, pool, warm, rule_rows)
        build_s = time.perf_counter() - t0
        best, lower, it, history = _iterate(run, tol, max_iterations, t0)
    if best is None or not np.isfinite(best.cost):
        return _infeasible(data, time.perf_counter() - t0, it, run.simplex)
    gap = (best.cost - lower) / max(abs(best.cost), 1e-12)
    sol = {k: np.concatenate([r.solution[k] for r in best.results])
           for k in best.results[0].solution}
    best_tau, _ = run.split(best.z)
    tau_py = best_tau[run.pairs.of_path_year]
    where = f"{workers} worker(s)" + ("" if comm is None else f" on {comm.Get_size()} ranks")
    return InnerSolution(
        status="optimal" if gap <= tol else "iteration_limit_feasible", objective=best.cost,
        tau=tau_py, tau_node=dict(zip(run.pairs.keys(), best_tau.tolist())), B=sol["B"],
        A=sol["A"], D=sol["D"], X=sol["X"], U=sol["U"],
        R=sol["R"] if rescue or capacity_applies(data) else None,
        dual_balance=None if rescue else sol["dual_balance"],
        dual_liquidity=None if rescue else sol["dual_liquidity"],
        dual_horizon=None if rescue else sol["dual_horizon"], build_s=build_s,
        solve_s=time.perf_counter() - t0 - build_s,
        log=(f"L-shaped ({cut_groups} cuts, {len(run.chunks)} chunks of <= {chunk_paths} "
             f"paths, {where}): {it} iterations, upper {best.cost:.12g}, lower "
             f"{lower:.12g}, gap {gap:.2e} (tolerance {tol:g}), {run.simplex} simplex "
             "iterations in the recourse"
             + ("" if warm is None else f"; warm start, {run.kept_cuts} cuts kept") + "\n"),
        mip=False, iterations=it, lower_bound=lower, gap_rel=gap, method="decomposition",
        history=history, warm=run.warm_start(best))


def _iterate(run: Run, tol: float, max_iterations: int, t0: float
             ) -> tuple[Evaluation | None, float, int, list]:
    """The trust-region loop (module docstring): ``(incumbent, lower bound, iterations,
    history)``; the incumbent None when the feasibility cuts exclude every rate path."""
    offset = run.offset
    best = run.evaluate(run.same_everywhere(run.start()))
    radius, lower, it = RADIUS_START, -np.inf, 0
    history = []
    while it < max_iterations:
        it += 1
        _, lb = run.master_solve(None, radius)
        if not np.isfinite(lb):  # the feasibility cuts exclude every rate path
            return None, lower, it, history
        upper = best.cost
        lower = min(max(lower, lb + offset), upper)  # above the upper bound only by rounding
        gap = (upper - lower) / max(abs(upper), 1e-12) if np.isfinite(upper) else np.inf
        history.append({"iteration": it, "upper": upper, "lower": lower, "gap": gap,
                        "radius": radius, "seconds": time.perf_counter() - t0})
        if gap <= tol:
            break
        center = best.z if np.isfinite(best.cost) else None
        trial_z, model = run.master_solve(center, radius)
        if not np.isfinite(model):  # box around an infeasible center: drop it
            trial_z, model = run.master_solve(None, radius)
        trial = run.evaluate(trial_z)
        if not np.isfinite(best.cost):  # no feasible policy yet: take the first one found
            if np.isfinite(trial.cost):
                best = trial
            continue
        predicted = best.cost - (model + offset)
        if trial.cost <= best.cost - SERIOUS * predicted:
            moved = np.abs(trial_z - best.z)
            reached = np.max(np.where(run.scale > 0, moved / np.where(
                run.scale > 0, run.scale, 1.0), 0.0)) >= 0.999 * radius
            best = trial
            if reached:
                radius = min(2 * radius, RADIUS_MAX)
        elif trial.cost >= best.cost:
            radius = max(radius / 2, RADIUS_MIN)
    return best, lower, it, history


def _infeasible(data: ScenarioData, seconds: float, iterations: int, simplex: int
                ) -> InnerSolution:
    P, T = data.n_paths, len(data.years)
    empty = np.full((P, T), np.nan)
    return InnerSolution("infeasible", np.inf, empty, {}, empty, empty, empty, empty, empty,
                         None, None, None, None, 0.0, seconds,
                         f"L-shaped: no rate path keeps every path feasible ({iterations} "
                         f"iterations, {simplex} simplex iterations)\n", False,
                         iterations=iterations, method="decomposition")
