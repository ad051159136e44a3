"""Efficient policies between three objectives, traced by the ε-constraint method.

For a fixed retirement-delay path (an outer lever; the inner problem is the exact LP of
:mod:`models.optimize.lp`, hard variant, with the reserve-draw rule when one is set) the three
objectives are linear in the inner decisions ``x`` (money in trillions of yuan, expected and
discounted with the problem's ``δ_t``):

* **fiscal burden** ``F(x) = Σ_p π_p Σ_t δ_t (X[p,t] + R[p,t])`` — extra transfers from the
  budget, within the fiscal capacity (``X``) and beyond it (the excess ``R``, zero without a
  capacity): money the budget pays either way;
* **cost to cohorts** ``C(x) = Σ_p π_p Σ_t δ_t CB[p,t] τ[p,t] + K_delay`` — the pooled
  contributions workers and employers pay, plus the (constant) cost of the delay path to the
  cohorts who retire later (``ScenarioData.delay_cost``, priced by
  :mod:`models.optimize.objective`);
* **risk** ``Risk(x) = CVaR_β(Σ_t δ_t (X + R)[p,t])`` — the mean of the worst ``1 − β`` tail of the
  paths' transfers, linear by Rockafellar and Uryasev (*J. Risk* 2, 2000):
  ``Risk = min_η η + Σ_p π_p ξ_p / (1 − β)``, ``ξ_p ≥ Σ_t δ_t (X + R)[p,t] − η``, ``ξ ≥ 0``.

ε-constraint (Haimes, Lasdon and Wismer, *IEEE Trans. SMC* 1, 1971), augmented so that every
point is efficient, not only weakly (AUGMECON, Mavrotas, *Appl. Math. Comput.* 213, 2009):
``min F + ρ (C / ΔC + R / ΔR)`` s.t. ``C ≤ ε_C``, ``R ≤ ε_R``, with ``ΔC, ΔR`` the ranges of
the payoff table (each objective minimised alone, the others then minimised lexicographically)
and ``ρ = 10⁻³``; ``ε`` runs over an even grid of each range. Delay paths are a discrete
choice: the frontier of each candidate is traced and the union filtered to its non-dominated
points (:func:`non_dominated`), so the reported set is efficient over the delay candidates
too (the whole-month delay lattice is not searched exhaustively: a documented limit).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import highspy
import numpy as np
import scipy.sparse as sp
import xarray as xr

from models.optimize.data import MONEY_SCALE, ScenarioData, constraint_variant
from models.optimize.lp import INF, INFEASIBLE, extensive_form, new_highs, pass_model, run_highs
from models.optimize.solve import Levers, PolicyProblem, PolicySolution, scenario_data

OBJECTIVES = ("fiscal_burden", "cohort_cost", "risk")
#: HiGHS ``simplex_strategy`` values: dual and primal simplex
DUAL, PRIMAL = 1, 4
#: a warm solve stops after this many times the first solve's simplex iterations (and is
#: solved again from scratch): measured at 50 paths, one warm solve proving a grid point
#: infeasible ran over a minute against 2.6 s for the first (cold) solve
WARM_ITERATIONS = 2
ITERATIONS_UNLIMITED = 2_147_483_647
AUGMENTATION = 1e-3
#: HiGHS ``solver`` of the from-scratch ε-constraint solves: the interior point method, with
#: its crossover to a basic solution (HiGHS's default ``run_crossover``). Measured on
#: ``optimal_multi_stage``'s LP (2 x 2 x 2 tree, affine draw rule, no pairing; one delay
#: candidate, 3 levels, 2 cores, 2026-12-01): 181 s against 641 s by the default simplex at
#: 200 paths, 15.9 s against 47.9 s at 50, 11.1 s against 8.8 s at 20 (load 1-2); the same
#: points to 6e-11 relative in the three objectives (a point's mean pooled rate, of a
#: degenerate optimum, to 2.5e-5). ``benchmarks/bench_optimize.py --frontier-paths N``
COLD_SOLVER = "ipm"


@dataclass(frozen=True)
class Scalarized:
    """The extensive form extended by the CVaR columns and the three objectives' vectors
    over its columns (``F, C, R``; ``C`` without the constant delay cost)."""

    arrays: tuple  # (cost, col_lower, col_upper, matrix, row_lower, row_upper, offset)
    objectives: np.ndarray  # [3, n_cols]
    constant: np.ndarray  # [3] constants of the objectives (the delay cost in C)
    tau_cols: np.ndarray  # [P, T] column of the pooled rate governing each path-year
    x_cols: np.ndarray  # [P, T] column of X[p,t]
    r_cols: np.ndarray  # [P, T] column of R[p,t] (the excess over the capacity)


def scalarized(data: ScenarioData, beta: float) -> Scalarized:
    """The LP's columns and rows, with ``η, ξ[p]`` and the rows ``ξ_p + η − Σ δ X ≥ 0``
    appended after every other (module docstring)."""
    if constraint_variant(data) != "hard":
        raise ValueError("the frontier is traced on the hard variant (every pension paid)")
    (cost, col_lo, col_hi, matrix, row_lo, row_hi, offset), pairs = extensive_form(data)
    P, T = data.n_paths, len(data.years)
    K = pairs.size
    n = matrix.shape[1]
    x_cols = 2 * K + np.arange(P)[:, None] * 6 * T + 3 * T + np.arange(T)[None, :]
    r_cols = x_cols + 2 * T
    rows = np.concatenate([np.arange(P), np.arange(P), np.repeat(np.arange(P), 2 * T)])
    cols = np.concatenate([n + 1 + np.arange(P), np.full(P, n),
                           np.concatenate([x_cols, r_cols], axis=1).ravel()])
    vals = np.concatenate([np.ones(2 * P), -np.tile(np.tile(data.discount, 2), P)])
    xi_def = sp.csr_matrix((vals, (rows, cols)), shape=(P, n + 1 + P))
    matrix = sp.vstack([sp.hstack([matrix, sp.csr_matrix((matrix.shape[0], 1 + P))]), xi_def],
                       format="csr")
    width = n + 1 + P
    objectives = np.zeros((3, width))
    pd = data.probability[:, None] * data.discount[None, :]
    np.add.at(objectives[0], x_cols.ravel(), pd.ravel())
    np.add.at(objectives[0], r_cols.ravel(), pd.ravel())
    np.add.at(objectives[1], pairs.of_path_year.ravel(), (pd * data.contribution_base).ravel())
    objectives[2, n] = 1.0
    objectives[2, n + 1:] = data.probability / (1.0 - beta)
    arrays = (np.zeros(width), np.concatenate([col_lo, [-INF], np.zeros(P)]),
              np.concatenate([col_hi, [INF], np.full(P, INF)]), matrix,
              np.concatenate([row_lo, np.zeros(P)]), np.concatenate([row_hi, np.full(P, INF)]),
              0.0)
    constant = np.array([0.0, data.delay_cost / MONEY_SCALE, 0.0])
    return Scalarized(arrays, objectives, constant, pairs.of_path_year, x_cols, r_cols)


def solve_scalarized(model: Scalarized, weights: np.ndarray,
                     limits: np.ndarray | None = None, threads: int = 2
                     ) -> tuple[np.ndarray, np.ndarray] | None:
    """``min weights · (F, C, R)`` subject to ``(F, C, R) ≤ limits`` (None or ``inf``: no
    limit). Returns the objectives (with their constants) and the columns, or None when the
    limits cannot be met. ``threads``: HiGHS keeps the count of a process's first solve, so
    pass the settings' ``solver.threads`` (the default, 2, is the settings' default)."""
    cost, col_lo, col_hi, matrix, row_lo, row_hi, _ = model.arrays
    limits = np.full(3, np.inf) if limits is None else np.asarray(limits, dtype=float)
    bound = np.isfinite(limits)
    if bound.any():
        matrix = sp.vstack([matrix, sp.csr_matrix(model.objectives[bound])], format="csr")
        row_lo = np.concatenate([row_lo, np.full(bound.sum(), -INF)])
        row_hi = np.concatenate([row_hi, limits[bound] - model.constant[bound]])
    h = new_highs(threads, 600.0)
    h.setOptionValue("solver", COLD_SOLVER)
    pass_model(h, np.asarray(weights, dtype=float) @ model.objectives, col_lo, col_hi, matrix,
               row_lo, row_hi)
    run_highs(h)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    x = np.asarray(h.getSolution().col_value)
    return model.objectives @ x + model.constant, x


class WarmScalarized:
    """One HiGHS instance for all the ε-constraint solves of one delay candidate: the model
    and the three objectives' rows (free when not limited) are handed over once, and each
    solve changes only the column costs (the weights) and the objective rows' upper bounds
    (the limits), so HiGHS re-optimises from the previous solve's basis (a change of bounds
    keeps it dual feasible, a change of costs primal feasible). The optimum is the cold
    solve's (:func:`solve_scalarized`); only the path to it changes. Measured on
    ``optimal_multi_stage`` at 20 paths (one delay candidate, 18 solves, load 1-2): 22.6 s
    from scratch, 7.2 s warm, the same points to 1e-11 relative; at 50 paths slower than
    from scratch (:func:`epsilon_frontier`), so not the default."""

    def __init__(self, model: Scalarized, threads: int = 2):
        cost, col_lo, col_hi, matrix, row_lo, row_hi, _ = model.arrays
        self.model = model
        self.n_cols = matrix.shape[1]
        self.rows = matrix.shape[0] + np.arange(3, dtype=np.int32)
        self.h = new_highs(threads, 600.0)
        pass_model(self.h, cost, col_lo, col_hi,
                   sp.vstack([matrix, sp.csr_matrix(model.objectives)], format="csr"),
                   np.concatenate([row_lo, np.full(3, -INF)]),
                   np.concatenate([row_hi, np.full(3, INF)]))
        self.columns = np.arange(self.n_cols, dtype=np.int32)
        self.weights: np.ndarray | None = None
        self.optimal = False  # the last solve ended at an optimal basis
        self.first_iterations = 0  # simplex iterations of the first solve

    def solve(self, weights: np.ndarray, limits: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray] | None:
        """As :func:`solve_scalarized`, from the last solve's basis."""
        model = self.model
        limits = np.full(3, np.inf) if limits is None else np.asarray(limits, dtype=float)
        upper = np.where(np.isfinite(limits), limits - model.constant, INF)
        self.h.changeRowsBounds(3, self.rows, np.full(3, -INF), upper)
        weights = np.asarray(weights, dtype=float)
        changed = self.weights is None or not np.array_equal(weights, self.weights)
        if changed:
            self.h.changeColsCost(self.n_cols, self.columns, weights @ model.objectives)
            self.weights = weights.copy()
        # new costs keep an optimal basis primal feasible (primal simplex), new limits keep it
        # dual feasible (dual simplex); the first solve (no basis yet) dual
        self.h.setOptionValue("simplex_strategy", PRIMAL if changed and self.optimal else DUAL)
        # a warm solve may take at most WARM_ITERATIONS times the first solve's iterations
        # (a count, not a time: the same path on every machine), then once more from scratch
        self.h.setOptionValue("simplex_iteration_limit", WARM_ITERATIONS * self.first_iterations
                              if self.first_iterations else ITERATIONS_UNLIMITED)
        run_highs(self.h)
        status = self.h.getModelStatus()
        if not self.first_iterations:
            self.first_iterations = max(int(self.h.getInfo().simplex_iteration_count), 1000)
        if status not in (highspy.HighsModelStatus.kOptimal, *INFEASIBLE):
            self.h.clearSolver()  # no answer from the basis: once more from scratch
            self.h.setOptionValue("simplex_strategy", DUAL)
            self.h.setOptionValue("simplex_iteration_limit", ITERATIONS_UNLIMITED)
            run_highs(self.h)
        self.optimal = self.h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        if not self.optimal:
            return None
        x = np.asarray(self.h.getSolution().col_value)
        return model.objectives @ x + model.constant, x


def payoff_table(model: Scalarized, threads: int = 2,
                 solver: WarmScalarized | None = None) -> np.ndarray:
    """``table[i, j]``: objective ``j`` at the lexicographic minimum of objective ``i`` (then
    the others, in order, each held at its minimum); the diagonal holds the ideal point.
    ``solver``: warm-started solves (:class:`WarmScalarized`); None: each solve from scratch."""
    table = np.zeros((3, 3))
    for i in range(3):
        limits = np.full(3, np.inf)
        order = [i] + [j for j in range(3) if j != i]
        for j in order:
            weights = np.zeros(3)
            weights[j] = 1.0
            values, _ = (solver.solve(weights, limits) if solver is not None
                         else solve_scalarized(model, weights, limits, threads))
            limits[j] = values[j] + 1e-9 * max(1.0, abs(values[j]))
        table[i] = values
    return table


def epsilon_frontier(data: ScenarioData, beta: float = 0.9, levels: int = 4,
                     warm: bool = False) -> list[dict]:
    """Efficient points ``{"fiscal_burden", "cohort_cost", "risk"}`` (trillions of yuan) and
    their decisions' summary, for the delay path of ``data`` (module docstring): the payoff
    table's three points and ``min F + ρ(C/ΔC + R/ΔR)`` s.t. ``C ≤ ε_C``, ``R ≤ ε_R`` on a
    ``levels × levels`` grid between the ideal and the worst payoff of ``C`` and ``R``.
    ``warm``: every solve from the last one's basis in one HiGHS instance
    (:class:`WarmScalarized`, the simplex), else each from scratch (the default, by
    :data:`COLD_SOLVER`; against the simplex from scratch, at 50 paths of
    ``optimal_multi_stage`` the warm solves took 204 s against 92.7 s from scratch for one
    candidate, two warm solves proving a tight grid point infeasible taking 175 s and 6 s,
    and two points differed by 1.25e-6 relative; at 20 paths warm was 3x faster)."""
    model = scalarized(data, beta)
    threads = data.settings.solver.threads
    solver = WarmScalarized(model, threads) if warm else None
    table = payoff_table(model, threads, solver)
    ideal, nadir = table.diagonal(), table.max(axis=0)
    span = np.maximum(nadir - ideal, 1e-9 * np.maximum(1.0, np.abs(nadir)))
    weights = np.array([1.0, AUGMENTATION / span[1], AUGMENTATION / span[2]])
    grid = [(eps_c, eps_r) for eps_c in np.linspace(ideal[1], nadir[1], levels)
            for eps_r in np.linspace(ideal[2], nadir[2], levels)]
    points = []
    # solved loosest limits first (the first is met by the payoff table's last point, the
    # tightest are often infeasible): warm solves then start near an answer; listed in grid
    # order
    for eps_c, eps_r in reversed(grid):
        limits = np.array([np.inf, eps_c + 1e-9 * span[1], eps_r + 1e-9 * span[2]])
        found = (solver.solve(weights, limits) if solver is not None
                 else solve_scalarized(model, weights, limits, threads))
        if found is not None:
            points.append(_point(data, model, *found, eps=(eps_c, eps_r)))
    return points[::-1]


def _point(data: ScenarioData, model: Scalarized, values: np.ndarray, x: np.ndarray,
           eps: tuple[float, float]) -> dict:
    tau = x[model.tau_cols]
    return {"fiscal_burden": float(values[0]), "cohort_cost": float(values[1]),
            "risk": float(values[2]), "delay_cost": float(model.constant[1]),
            "contributions": float(values[1] - model.constant[1]),
            "mean_pooled_rate": float(data.probability @ tau.mean(axis=1)),
            "eps_cohort_cost": float(eps[0]), "eps_risk": float(eps[1])}


def non_dominated(points: np.ndarray, rtol: float = 1e-7) -> np.ndarray:
    """``True`` for the rows of ``points[n, k]`` (lower is better in every column) that no
    other row dominates (as good everywhere and better somewhere, beyond ``rtol`` of each
    column's scale); of equal rows the first is kept."""
    points = np.asarray(points, dtype=float)
    tol = rtol * np.maximum(np.abs(points).max(axis=0), 1e-12)
    keep = np.ones(points.shape[0], dtype=bool)
    for i in range(points.shape[0]):
        as_good = np.all(points <= points[i] + tol, axis=1)
        better = np.any(points < points[i] - tol, axis=1)
        same = np.all(np.abs(points - points[i]) <= tol, axis=1)
        earlier_same = same & (np.arange(points.shape[0]) < i)
        keep[i] = not np.any(as_good & better) and not np.any(earlier_same)
    return keep


def frontier_dataset(candidates: list[tuple[str, ScenarioData]], beta: float = 0.9,
                     levels: int = 4) -> xr.Dataset:
    """The efficient set over several delay paths ``[(label, data)]``: each candidate's
    ε-constraint points, the union filtered by :func:`non_dominated`; ``frontier_*``
    variables over ``frontier_point`` in yuan (expected, discounted)."""
    rows = []
    for label, data in candidates:
        rows += [{**p, "delay_path": label} for p in epsilon_frontier(data, beta, levels)]
    if not rows:
        return xr.Dataset()
    crit = np.array([[r[k] for k in OBJECTIVES] for r in rows])
    rows = [r for r, keep in zip(rows, non_dominated(crit)) if keep]
    rows.sort(key=lambda r: (r["fiscal_burden"], r["cohort_cost"], r["risk"]))
    point = np.arange(len(rows))
    money = ("fiscal_burden", "cohort_cost", "risk", "delay_cost", "contributions")
    names = {"fiscal_burden": "extra fiscal transfers (fiscal burden)",
             "cohort_cost": "cost to cohorts: pooled contributions and delay",
             "risk": f"CVaR {beta:g} of the paths' transfers",
             "delay_cost": "cost of the delay path to the cohorts retiring later",
             "contributions": "pooled contributions"}
    ds = xr.Dataset(coords={"frontier_point": point})
    for key in money:
        ds[f"frontier_{key}_cny"] = ("frontier_point", np.array([r[key] for r in rows])
                                     * MONEY_SCALE, {"units": "yuan (expected, discounted)",
                                                     "long_name": names[key]})
    ds["frontier_mean_pooled_rate"] = ("frontier_point", np.array(
        [r["mean_pooled_rate"] for r in rows]), {"units": "1", "long_name":
                                                 "expected mean pooled rate over the years"})
    ds["frontier_delay_path"] = ("frontier_point", np.array([r["delay_path"] for r in rows]),
                                 {"long_name": "retirement-delay path of the point"})
    ds.attrs["frontier_cvar_beta"] = beta
    return ds


def delay_candidates(problem: PolicyProblem, levers: Levers, scales: list[float]
                     ) -> list[tuple[str, ScenarioData]]:
    """The chosen policy's delay knots scaled by each of ``scales`` (rounded down to whole
    months, within the caps; still non-decreasing), the indexation as chosen; one
    ``(label, data)`` per distinct delay path."""
    out, seen = [], set()
    caps = problem.max_knot_delay[None, :, :]
    for scale in scales:
        delay = np.minimum(np.floor(levers.delay * scale + 1e-9), caps)
        key = delay.tobytes()
        if key in seen:
            continue
        seen.add(key)
        out.append((f"{scale:g} x chosen delays",
                    scenario_data(problem, replace(levers, delay=delay))))
    return out


def problem_frontier(problem: PolicyProblem, psol: PolicySolution) -> xr.Dataset:
    """The ε-constraint frontier around a solved policy (settings ``optimization.frontier``),
    or an empty dataset when it is off or the problem had no feasible policy."""
    s = problem.settings.frontier
    if not s.enabled or psol.infeasible or constraint_variant(psol.data) != "hard":
        return xr.Dataset()
    return frontier_dataset(delay_candidates(problem, psol.levers, s.delay_scales),
                            beta=s.cvar_beta, levels=s.levels)
