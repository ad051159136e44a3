"""A search that certifies its answer: a derivative-free polish of the outer levers after the
dual-gradient steps, and the certificate of local optimality (issue 16, item 5).

Why. The dual-gradient trust-region steps (:func:`models.optimize.solve.optimize_policy`)
follow the envelope-theorem derivative of the expected cost ``V`` in the delay and indexation
knots. ``V`` is piecewise linear and not convex in the knots (a knot move changes which
constraints bind), so the derivative can point the wrong way for a finite move: at the
200-path optimum of main, 13 of 98 knot moves disagreed in sign with it, and a pattern search
found moves lowering ``V`` by about 0.14 trillion yuan.

Method (an opportunistic pattern search, Torczon 1997; Kolda, Lewis and Torczon 2003, §3):

* *Moves.* For every knot a node owns (delay knots per category, indexation knots), and every
  step ``s`` of ``[optimization.search] steps_months`` (default 1 and 6 months), the moves
  ``knot ± s`` (indexation: ``± s · SHARE_PER_MONTH`` of real wage growth), clipped to the
  lever's bounds. A delay move is *pushed* onto the lever's polytope: the other knots move as
  little as the rules demand (an earlier knot never above a later one; no faster than the pace;
  raising a knot raises the later ones it overtakes and the earlier ones the pace ties to it,
  lowering it the reverse), so a move of one knot can shift a whole ramp. A move that the cap
  forbids is recorded as outside the limits.
* *Polish.* The moves are visited in one cyclic order, fixed at the start (the duals'
  best-predicted first) and solved exactly (the inner LP, :func:`models.optimize.solve.
  evaluate_levers`); the first that lowers ``V`` by more than the tolerance is taken, the
  same knot is then moved again, twice as far first (the expanding pattern move), until
  that fails, and the sweep goes on from the next move at the new incumbent (a restart
  from the best-predicted move after each move taken cost about 34 solves per move taken
  on the 50-path multi-stage problem, most of them moves that had just failed). Once every
  move has been solved at some incumbent, the smallest change measured there is tried
  first (a move changes mostly its own leaves' cost, so the next improving move is most
  likely one that nearly improved before). At most ``max_polish_moves`` moves are taken.
* *What is solved once.* The inner problem's optimum at given levers does not depend on
  the incumbent the solve started from (the warm start changes the path, not the optimum,
  within the solver's tolerance), so every levers' cost is kept for the whole search: no
  levers is solved twice (the pattern step's moves, the way back to an earlier incumbent).
  A cost kept from an earlier incumbent never improves on a later one (it was no better
  than its incumbent less the tolerance, and every move taken since improved by more).
* *Certificate.* The sweep ends when every move within the limits is known at the
  incumbent: the policy is certified locally optimal when none lowers ``V`` by more than the
  tolerance ``2 · tol · |V|`` (two solves, each within the solver's relative ``tolerance``
  of its optimum). The certificate lists every move with its exact change of ``V``.

*Speed.* A move is solved by the L-shaped decomposition warm-started from the incumbent's
solve (:class:`models.optimize.decompose.WarmStart`): its first stage as the first point and
its cuts wherever the move leaves a cut group's data unchanged (a leaf node's knot changes one
leaf's paths only); the optimum is the cold solve's within the solver's tolerance. A move's
scenario data recomputes only the leaves under the moved knot
(:func:`models.optimize.solve.leaf_flows`). With ``[parallel] workers`` above 1 the moves
are solved that many at a time, one per process; the moves of a batch after its first
improving one are dropped and not counted, so the moves taken, the certificate and the
solve count are those of the one-at-a-time search for any number of workers. Measured on
the settings of ``experiments/optimal_multi_stage.toml`` at 50 paths from the dual-gradient
search's answer (``benchmarks/bench_optimize.py --search-paths 50``, machine shared, load
1-5): 1,300 solves, 39 moves taken, the certificate passed over 627 moves within the limits,
0.35 s a solve, 487 s in all; at 200 paths (load about 2): 1,248 solves, 32 moves taken,
passed over 625 moves, 0.48 s a solve, 621 s in all.

References: Torczon, V. (1997), "On the convergence of pattern search algorithms", SIAM J.
Optim. 7(1), 1–25; Kolda, T. G., Lewis, R. M., Torczon, V. (2003), "Optimization by direct
search: new perspectives on some classical and modern methods", SIAM Review 45(3), 385–482.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np
import xarray as xr

from models.config import CATEGORIES, SearchSettings
from models.optimize.data import MONEY_SCALE, ScenarioData
from models.optimize.decompose import chunk_item, settings_from_json
from models.optimize.lp import InnerSolution
from models.optimize.solve import (
    SHARE_PER_MONTH,
    Levers,
    PolicyProblem,
    PolicySolution,
    delay_gradient,
    evaluate_levers,
    indexation_gradient,
    scenario_data,
    solve_inner,
)
from models.parallel import WorkerPool, map_chunks

log = logging.getLogger(__name__)

#: The certificate status of a move left unsolved because ``search.max_solves`` was spent.
UNSOLVED = "not solved (solve budget spent)"


@dataclass(frozen=True)
class Move:
    """One neighbour of the levers: which knot, by how much, and the pushed levers (None when
    the lever's limits forbid the move)."""

    lever: str  # "delay" or "indexation"
    node: int
    knot_year: int
    category: str  # "" for the indexation
    step: float  # signed: months (delay) or share of real wage growth (indexation)
    levers: Levers | None


@dataclass
class Certificate:
    """The exact change of the expected cost (yuan) of every move at the reported levers."""

    moves: list[Move]
    change_cny: np.ndarray  # [move], NaN where the move is outside the limits
    tolerance_cny: float
    objective_cny: float
    polish_moves: int  # moves the polish took before the certificate
    unsolved: np.ndarray | None = None  # [move] True: left unsolved, the solve budget spent

    @property
    def improving(self) -> np.ndarray:
        """The moves that lower the cost by more than the tolerance."""
        return np.nan_to_num(self.change_cny, nan=np.inf) < -self.tolerance_cny

    @property
    def n_unsolved(self) -> int:
        """Moves within the limits left unsolved because the solve budget ran out."""
        return 0 if self.unsolved is None else int(np.sum(self.unsolved))

    @property
    def passed(self) -> bool:
        """No move improves beyond the tolerance, every move within the limits was solved,
        and at least one was."""
        return bool(np.isfinite(self.change_cny).any() and not self.improving.any()
                    and self.n_unsolved == 0)


def owned_knots(problem: PolicyProblem) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """``(node, knot)`` pairs of the delay knots and of the indexation knots that a node owns
    (the knot's stage is the node's)."""
    tree = problem.tree
    delay = [(n, k) for n in range(tree.n_nodes) for k in range(len(problem.knot_yrs))
             if tree.stage_of_node[n] == problem.knot_owner_stage[k]]
    index = [(n, k) for n in range(tree.n_nodes) for k in range(len(problem.index_knot_yrs))
             if tree.stage_of_node[n] == problem.index_owner_stage[k]]
    return delay, index


def _chains(problem: PolicyProblem) -> list[list[int]]:
    """For every leaf, the node owning each delay knot along its chain."""
    tree = problem.tree
    out = []
    for leaf in tree.leaves():
        chain = tree.ancestors(int(leaf))
        out.append([chain[stage] for stage in problem.knot_owner_stage])
    return out


def push_delay(problem: PolicyProblem, delay: np.ndarray, node: int, knot: int, category: int,
               target: float) -> np.ndarray | None:
    """Delay knots ``[node, knot, category]`` with knot ``(node, knot, category)`` set to
    ``target`` and the others of that category moved as little as the rules demand
    (non-decreasing along every chain, pace ``p`` months per year between knots ``g`` years
    apart: ``d_k − d_{k−1} ≤ p g``, and ``d_0 ≤ p g_0`` from the year before the first
    decision). Raising only raises, lowering only lowers, so the push is the smallest such
    move. None when the result breaks a cap or the first knot's pace, or does not keep the
    target."""
    s = problem.settings.retirement
    out = delay.copy()
    out[node, knot, category] = target
    up = target > delay[node, knot, category]
    first_gap = problem.knot_yrs[0] - (problem.settings.tree.first_decision_year - 1)
    gaps = np.diff(problem.knot_yrs, prepend=problem.knot_yrs[0] - first_gap)
    pace = s.pace_months_per_year * gaps
    chains = _chains(problem)
    for _ in range(4 * len(problem.knot_yrs) + 4):
        changed = False
        for chain in chains:
            x = np.array([out[chain[k], k, category] for k in range(len(chain))])
            y = x.copy()
            for k in range(1, len(y)):
                if up:
                    y[k] = max(y[k], y[k - 1])
                    y[k - 1] = max(y[k - 1], y[k] - pace[k])
                else:
                    y[k - 1] = min(y[k - 1], y[k])
                    y[k] = min(y[k], y[k - 1] + pace[k])
            for k in range(len(y) - 1, 0, -1):
                if up:
                    y[k - 1] = max(y[k - 1], y[k] - pace[k])
                else:
                    y[k] = min(y[k], y[k - 1] + pace[k])
            if not np.array_equal(x, y):
                changed = True
                for k in range(len(chain)):
                    out[chain[k], k, category] = y[k]
        if not changed:
            break
    caps = problem.max_knot_delay[None, :, category]
    if (out[node, knot, category] != target or np.any(out[..., category] > caps + 1e-9)
            or np.any(out[..., category] < -1e-9)
            or np.any(out[:, 0, category] > pace[0] + 1e-9)):
        return None
    return out


def knot_move(problem: PolicyProblem, levers: Levers, lever: str, node: int, knot: int,
              category: int, step: float) -> Move:
    """One knot moved by ``step`` (months for a delay knot, share of real wage growth for an
    indexation knot), clipped to the lever's bounds and (delay) pushed onto its polytope."""
    if lever == "delay":
        now = levers.delay[node, knot, category]
        target = float(np.clip(now + step, 0.0, problem.max_knot_delay[knot, category]))
        pushed = (push_delay(problem, levers.delay, node, knot, category, target)
                  if target != now else None)
        return Move("delay", node, int(problem.knot_yrs[knot]), CATEGORIES[category], step,
                    None if pushed is None else Levers(pushed, levers.indexation))
    floor, ceiling = problem.index_bounds
    now = levers.indexation[node, knot]
    target = float(np.clip(now + step, floor, ceiling))
    share = levers.indexation.copy()
    share[node, knot] = target
    return Move("indexation", node, int(problem.index_knot_yrs[knot]), "", step,
                None if abs(target - now) < 1e-12 else Levers(levers.delay, share))


def neighbour_moves(problem: PolicyProblem, levers: Levers, steps_months) -> list[Move]:
    """Every knot's ``±step`` moves (see the module docstring), duplicates dropped."""
    moves: list[Move] = []
    seen: set[bytes] = set()
    delay_owned, index_owned = owned_knots(problem)

    def add(move: Move) -> None:
        if move.levers is not None:
            key = move.levers.delay.tobytes() + np.round(move.levers.indexation, 12).tobytes()
            if key in seen or move.levers.same_as(levers):
                return
            seen.add(key)
        moves.append(move)

    for step in steps_months:
        for sign in (1, -1):
            if problem.settings.retirement.enabled:
                for n, k in delay_owned:
                    for c in range(len(CATEGORIES)):
                        add(knot_move(problem, levers, "delay", n, k, c, sign * step))
            for n, k in index_owned:
                add(knot_move(problem, levers, "indexation", n, k, 0,
                              sign * step * SHARE_PER_MONTH))
    return moves


def predicted_change(grad: Levers, levers: Levers, move: Move) -> float:
    """The duals' first-order prediction of a move's change of the cost (model units)."""
    if move.levers is None:
        return np.inf
    return float(np.sum(grad.delay * (move.levers.delay - levers.delay))
                 + np.sum(grad.indexation * (move.levers.indexation - levers.indexation)))


def tolerance_of(problem: PolicyProblem, objective: float) -> float:
    """The smallest change counted as an improvement (model units): twice the solver's
    relative tolerance times the cost (each of two solves is within it of its optimum)."""
    return 2.0 * problem.settings.solver.tolerance * max(abs(objective), 1.0)


def _gradient(problem: PolicyProblem, psol: PolicySolution) -> Levers:
    s = problem.settings
    return Levers(delay_gradient(problem, psol.levers, psol.data, psol.inner)
                  if s.retirement.enabled else np.zeros_like(psol.levers.delay),
                  indexation_gradient(problem, psol.levers, psol.data, psol.inner))


def _pattern_moves(problem: PolicyProblem, levers: Levers, last: Move) -> list[Move]:
    """After a move was taken: the same knot moved twice as far, then as far again (the
    expanding pattern move)."""
    if last.lever == "delay":
        k = int(np.flatnonzero(problem.knot_yrs == last.knot_year)[0])
        c = CATEGORIES.index(last.category)
    else:
        k, c = int(np.flatnonzero(problem.index_knot_yrs == last.knot_year)[0]), 0
    return [knot_move(problem, levers, last.lever, last.node, k, c, factor * last.step)
            for factor in (2, 1)]


def _record(psol: PolicySolution, move: Move, data, sol, taken: int) -> PolicySolution:
    label = (f"polish {taken}: {move.lever} {move.category or 'share'} knot "
             f"{move.knot_year} node {move.node} {move.step:+g}")
    psol.history.append({"step": label, "objective_cny": sol.objective * MONEY_SCALE,
                         "status": sol.status, "build_s": round(sol.build_s, 3),
                         "solve_s": round(sol.solve_s, 3), "method": sol.method,
                         "iterations": sol.iterations, "gap_rel": sol.gap_rel,
                         "log": sol.log})
    log.info("%s: objective %.6g", label, sol.objective)
    return PolicySolution(move.levers, data, sol, psol.history, False, None, psol.binding)


def solve_move(problem: PolicyProblem, psol: PolicySolution, levers: Levers
               ) -> tuple[ScenarioData, InnerSolution]:
    """The inner problem at a move's ``levers``, solved exactly
    (:func:`models.optimize.solve.evaluate_levers`); by the decomposition it starts from the
    incumbent's first stage and keeps the incumbent's cuts whose data the move leaves
    unchanged (:class:`models.optimize.decompose.WarmStart`: the same optimum within the
    solver's tolerance, fewer iterations)."""
    return evaluate_levers(problem, levers, [], "move", warm=psol.inner.warm)


def solve_move_item(shared: None, item: tuple) -> InnerSolution:
    """A move's inner problem, warm-started, in a worker process: ``item = ((data without
    settings, settings JSON), warm start)``; a pure function of its inputs
    (:func:`models.parallel.map_chunks`)."""
    (data, settings), warm = item
    return solve_inner(replace(data, settings=settings_from_json(settings)), warm=warm)


def _try_all(problem: PolicyProblem, psol: PolicySolution, moves: list[Move],
             pool: WorkerPool | None) -> list[tuple[float, tuple]]:
    """Moves solved exactly: each one's cost (model units; inf when infeasible) and its
    ``(data, solution)``. With ``[parallel] workers`` above 1 and more
    than one move, the moves' warm-started decompositions run on the workers, one move per
    process (each from the incumbent's warm start, so a move's answer does not depend on the
    others or on where it ran). A warm start exists only when the incumbent was solved by
    the decomposition, and the moves share its settings and paths, so they decompose too."""
    warm = psol.inner.warm
    if problem.workers > 1 and len(moves) > 1 and pool is not None and warm is not None:
        datas = [scenario_data(problem, m.levers) for m in moves]
        items = [(chunk_item(d, np.arange(d.n_paths)), warm) for d in datas]
        pairs = list(zip(datas, map_chunks(solve_move_item, items, problem.workers,
                                           pool=pool)))
    else:
        pairs = [solve_move(problem, psol, m.levers) for m in moves]
    return [(np.inf if sol.status == "infeasible" else sol.objective, (data, sol))
            for data, sol in pairs]


def polish_and_certify(problem: PolicyProblem, psol: PolicySolution
                       ) -> tuple[PolicySolution, Certificate | None]:
    """Polish ``psol`` by the pattern search and certify the result (module docstring).

    Returns the (possibly improved) solution, its search history extended by the polish's
    accepted moves, and the certificate (None for a problem without a feasible policy or
    without outer levers)."""
    settings = problem.settings.search
    searching = problem.settings.retirement.enabled or problem.indexation_enabled
    if psol.infeasible or not searching:
        return psol, None
    batch = max(1, problem.workers)  # moves solved together; the answer does not depend on it
    with WorkerPool(problem.workers if batch > 1 else 1, solve_move_item) as pool:
        return _polish_loop(problem, psol, settings, batch, pool)


def _first_improving(problem: PolicyProblem, psol: PolicySolution, moves: list[Move],
                     tol: float, budget: int, batch: int, pool: WorkerPool | None
                     ) -> tuple[list[float], tuple | None]:
    """Solve ``moves`` in order, ``batch`` at a time, until one lowers the cost by more than
    ``tol`` or ``budget`` solves are spent: the costs (model units) of the moves solved in
    order (up to and including the improving one; moves of its batch after it are dropped,
    uncounted, so the answer is the one-at-a-time search's) and ``(move, (data, solution))``
    of the improving move or None."""
    costs: list[float] = []
    while len(costs) < min(len(moves), budget):
        todo = moves[len(costs):len(costs) + min(batch, budget - len(costs))]
        for move, (cost, solved) in zip(todo, _try_all(problem, psol, todo, pool)):
            costs.append(cost)
            if cost - psol.inner.objective < -tol:
                return costs, (move, solved)
    return costs, None


def move_key(move: Move) -> tuple:
    """A move's identity across incumbents: which knot, which way, how far."""
    return (move.lever, move.node, move.knot_year, move.category, float(move.step))


def levers_key(levers: Levers) -> bytes:
    """Levers compared bit for bit (the indexation rounded to 1e-12, as in
    :func:`neighbour_moves`)."""
    return levers.delay.tobytes() + np.round(levers.indexation, 12).tobytes()


@dataclass
class _Sweep:
    """The cyclic sweep's state (:func:`_polish_loop`): the order of the moves, where the
    sweep stands in it, the exact cost of every levers solved so far (the incumbents too),
    the solves and the moves taken."""

    order: list  # move keys, the duals' best-predicted first at the start
    cost: dict  # levers key -> the inner problem's optimum there (model units; inf: none)
    position: int = 0
    solves: int = 0
    taken: int = 0
    #: move key -> its change of the cost at the incumbent it was last solved at
    last_change: dict = field(default_factory=dict)

    def unknown(self, moves: list[Move]) -> list[Move]:
        """The moves within the limits whose levers have not been solved."""
        return [m for m in moves if m.levers is not None
                and levers_key(m.levers) not in self.cost]

    def solve(self, problem: PolicyProblem, psol: PolicySolution, moves: list[Move],
              tol: float, budget_left: int, batch: int, pool) -> tuple | None:
        """:func:`_first_improving` over ``moves``, each cost kept; the improving move's
        ``(move, (data, solution))`` or None."""
        done, found = _first_improving(problem, psol, moves, tol, budget_left, batch, pool)
        self.solves += len(done)
        self.cost.update((levers_key(m.levers), c) for m, c in zip(moves, done))
        self.last_change.update((move_key(m), c - psol.inner.objective)
                                for m, c in zip(moves, done))
        return found

    def take(self, psol: PolicySolution, found: tuple) -> PolicySolution:
        """The improving move ``found = (move, (data, solution))`` taken: the new
        incumbent."""
        self.taken += 1
        return _record(psol, found[0], *found[1], self.taken)


def _pattern_step(problem: PolicyProblem, psol: PolicySolution, settings: SearchSettings,
                  sweep: _Sweep, last: Move, batch: int, pool) -> PolicySolution:
    """After a move was taken: the same knot moved twice as far, then as far again, taken
    while they improve (the expanding pattern move)."""
    while sweep.taken < settings.max_polish_moves:
        pattern = sweep.unknown(_pattern_moves(problem, psol.levers, last))
        found = sweep.solve(problem, psol, pattern, tolerance_of(problem, psol.inner.objective),
                            max(0, settings.max_solves - sweep.solves), batch, pool)
        if found is None:
            return psol
        psol, last = sweep.take(psol, found), found[0]
    return psol


def _polish_loop(problem: PolicyProblem, psol: PolicySolution, settings: SearchSettings,
                 batch: int,
                 pool: WorkerPool | None) -> tuple[PolicySolution, Certificate]:
    """The polish's cyclic sweep and the certificate (:func:`polish_and_certify`).

    The moves are visited in one fixed cyclic order (the duals' best-predicted first, at the
    start); an improving move is taken, then its knot moved further while that improves
    (:func:`_pattern_step`), and the sweep goes on from the next move at the new incumbent
    instead of starting again (Kolda, Lewis and Torczon 2003, §3.7: the order of the poll is
    free). The exact cost of every levers solved is kept for the whole search (it is the
    inner problem's optimum there, whichever incumbent the solve started from), so no levers
    is solved twice: the pattern step's moves, the way back to an earlier incumbent. The
    sweep ends when every move within the limits is known at the incumbent — the
    certificate, passed when none improves — or when ``max_solves`` is spent (the moves not
    known then are marked unsolved). After ``max_polish_moves`` moves taken an improving move
    is only recorded."""
    moves = neighbour_moves(problem, psol.levers, settings.steps_months)
    grad = _gradient(problem, psol)
    order = sorted(range(len(moves)), key=lambda i: predicted_change(grad, psol.levers, moves[i]))
    sweep = _Sweep([move_key(moves[i]) for i in order],
                   {levers_key(psol.levers): psol.inner.objective})
    listed = set(sweep.order)
    while True:
        moves = neighbour_moves(problem, psol.levers, settings.steps_months)
        for m in moves:  # a key new at this incumbent joins the end of the order
            if move_key(m) not in listed:
                sweep.order.append(move_key(m))
                listed.add(move_key(m))
        by_key = {move_key(m): m for m in moves}
        n = len(sweep.order)
        cycle = [by_key[k] for k in (sweep.order[(sweep.position + i) % n] for i in range(n))
                 if k in by_key]
        # the moves never solved first, in the cyclic order; then the others, the smallest
        # change at an earlier incumbent first (the next improving move is most likely one
        # that nearly improved: a move changes the cost of its own leaves mostly)
        cycle.sort(key=lambda m: (move_key(m) in sweep.last_change,
                                  sweep.last_change.get(move_key(m), 0.0)))
        # a known cost never improves on a later incumbent: it was no better than the
        # incumbent of its solve less the tolerance, and every move taken since improved more
        tol = tolerance_of(problem, psol.inner.objective)
        taking = sweep.taken < settings.max_polish_moves
        found = sweep.solve(problem, psol, sweep.unknown(cycle), tol if taking else np.inf,
                            max(0, settings.max_solves - sweep.solves), batch, pool)
        if found is None:
            return psol, _certificate(psol, moves, sweep, tol)
        sweep.position = (sweep.order.index(move_key(found[0])) + 1) % n
        psol = sweep.take(psol, found)
        psol = _pattern_step(problem, psol, settings, sweep, found[0], batch, pool)


def _certificate(psol: PolicySolution, moves: list[Move], sweep: _Sweep, tol: float
                 ) -> Certificate:
    """The certificate at the incumbent from the known costs (a move within the limits not
    known: unsolved, the budget spent)."""
    change = np.full(len(moves), np.nan)
    unsolved = np.zeros(len(moves), dtype=bool)
    for i, m in enumerate(moves):
        if m.levers is None:
            continue
        cost = sweep.cost.get(levers_key(m.levers))
        if cost is None:
            unsolved[i] = True
        else:
            change[i] = cost - psol.inner.objective
    certificate = Certificate(moves, change * MONEY_SCALE, tol * MONEY_SCALE,
                              psol.inner.objective * MONEY_SCALE, sweep.taken, unsolved)
    log.info("certificate: %d moves, %d solves, %d taken, %s", len(moves), sweep.solves,
             sweep.taken, "passed" if certificate.passed else "NOT passed")
    return certificate


def certificate_dataset(certificate: Certificate) -> xr.Dataset:
    """The certificate as ``certificate_*[certificate_move]`` variables and scalars."""
    moves = certificate.moves
    change = certificate.change_cny
    unsolved = (np.zeros(len(moves), dtype=bool) if certificate.unsolved is None
                else certificate.unsolved)
    status = ["outside the lever's limits" if m.levers is None
              else UNSOLVED if left
              else "no feasible policy" if np.isinf(c)
              else "improves" if c < -certificate.tolerance_cny else "no improvement"
              for m, c, left in zip(moves, change, unsolved)]
    return xr.Dataset({
        "certificate_lever": ("certificate_move", [m.lever for m in moves]),
        "certificate_node": ("certificate_move", np.array([m.node for m in moves], dtype=int)),
        "certificate_knot_year": ("certificate_move",
                                  np.array([m.knot_year for m in moves], dtype=int)),
        "certificate_category": ("certificate_move", [m.category for m in moves]),
        "certificate_step": ("certificate_move", np.array([m.step for m in moves], dtype=float)),
        "certificate_change_cny": ("certificate_move",
                                   np.where(np.isinf(change), np.nan, change)),
        "certificate_status": ("certificate_move", status),
        "certificate_passed": ((), int(certificate.passed)),
        "certificate_tolerance_cny": ((), certificate.tolerance_cny),
        "certificate_polish_moves": ((), int(certificate.polish_moves)),
    }, coords={"certificate_move": np.arange(len(moves))})
