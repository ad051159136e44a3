"""Non-anticipative recourse: decision rules for the reserve draws, forced fiscal transfers.

In the extensive form (:mod:`models.optimize.lp`, :mod:`models.optimize.model`) the recourse
``D[p,t]`` (reserve draw), ``X[p,t]`` (extra transfer) and ``B[p,t]`` (fund balance) has one
variable per path and year, so the solver may draw the reserve in 2030 knowing that path's
2100. Here the recourse is decided from what is observed up to the year of the decision.

**Reserve draws: a decision rule.** ``D[p,t] = Σ_j Φ[p,t,j] θ[t,j]`` with a basis ``Φ`` that
uses only what is observed up to the year before ``t`` and coefficients ``θ`` common to all
paths (chosen by the optimizer, like the pooled rate):

* ``"affine"`` — a linear decision rule (Ben-Tal et al., *Math. Program.* 99, 2004; Kuhn,
  Wiesemann and Georghiou, *Math. Program.* 130, 2011): ``Φ[p,t] = (1, z_1[p,t−1], …,
  z_J[p,t−1])`` with ``z_j`` the observed demographic state (old-age dependency ratio,
  population 60+, births) standardised across paths in that year. The state is exogenous to
  the policy (the population does not depend on the levers), so the rule stays linear in
  ``θ`` and the problem an LP. The fund ratio ``B/E`` is endogenous: a rule on it would
  multiply ``θ`` by a decision (bilinear), so it is left out;
* ``"node"`` — one draw per node of the scenario tree (:mod:`models.optimize.tree`) and year:
  ``Φ[p,t,n] = 1`` when node ``n`` governs ``(p,t)``; the node of year ``t`` is fixed by what
  was observed before its stage began.

``D ≥ 0`` and the reserve ``A ≥ 0`` still hold on every path (they are the column bounds of
the path blocks), so the rule is feasible on every path of the sample.

**Transfers: forced by the shortfall, hence non-anticipative.** Given the pooled rate and the
draws, the cheapest transfers are the "just in time" ones (:func:`forced_transfers`):
``X[p,t] = max(0, floor/12 · E[p,t] − B⁻[p,t])`` with ``B⁻ = (1 + r_t) B[p,t−1] + CB (τ + τ_IA)
+ S + D − E`` the balance before the transfer (in the last year also what the horizon target
``B + A ≥ target/12 · E`` needs). They depend on the path's history and the year's flows only.
They are optimal whenever the discount rate is at least the fund's return in every year,
``δ_{t−1} ≥ δ_t (1 + r_t)``: moving a yuan of transfer one year earlier raises the next
year's balance by ``1 + r_t`` at the cost ``δ_{t−1}`` instead of ``δ_t`` — never cheaper, so
any feasible transfer path can be postponed to the forced one without raising its cost.
The solver's transfers are replaced by the forced ones (same cost when the condition holds;
:func:`forced_transfer_excess` measures any difference). With a fiscal capacity the forced
money splits into the transfer within the capacity and the excess beyond it
(:func:`split_by_capacity`); the argument above then no longer holds when the capacity binds
(an earlier transfer within the capacity avoids a later excess priced far higher), so the
forced money can cost more than the solver's pre-funding: a limit of the just-in-time rule,
measured by :func:`forced_transfer_excess` and logged.

**Pre-funding within the capacity** (the remedy, issue 16). The transfer may then be more
than the forced one: ``X[p,t] = max(forced[p,t], κ_t · cap[p,t])`` with ``κ_t ∈ [0, 1]`` a
share of that year's capacity common to all paths (``cap[p,t] = c · GDP[p,t]`` is observed in
year ``t``, so the rule stays non-anticipative) and the excess only the forced money beyond
the capacity. ``κ`` is read from the solver's pre-funding, ``κ_t = Σ_p π_p X_lp[p,t] /
Σ_p π_p cap[p,t]`` (:func:`prefund_shares`: the share of the capacity the anticipative
solution uses on average that year), and kept only where it lowers the in-sample cost
(:func:`models.optimize.solve.with_forced_transfers` compares the two and keeps the cheaper,
``InnerSolution.prefund``; the same ``κ`` then applies on fresh paths). It is a heuristic
rule, not the optimum over ``κ``: the solver's transfers are anticipative (a path that will
need money beyond the capacity pre-funds, one that will not does not), and ``κ`` averages
them over the paths.

The balance ``B`` is the state: once the rate, the draws and the transfers are decided it
follows from the accounts, so it is as non-anticipative as they are. Unpaid pensions ``U``
in the chance and CVaR variants stay per path (not covered here).
"""

from __future__ import annotations

import highspy
import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from scipy.spatial import ConvexHull, QhullError

from models.optimize.data import capacity_applies, reserve_returns
from models.optimize.objective import early_transfer_years
from models.optimize.tree import standardised

KINDS = ("path", "affine", "node")
INF = highspy.kHighsInf


# ----------------------------------------------------------------------------- bases
def lagged_state(observed: np.ndarray, observed_years: np.ndarray, years: np.ndarray,
                 lag: int = 1) -> np.ndarray:
    """The state observed ``lag`` years before each decision year, ``[path, year, feature]``
    from ``observed[path, observed_year, feature]``."""
    index = {int(y): i for i, y in enumerate(observed_years)}
    missing = [int(y) - lag for y in years if int(y) - lag not in index]
    if missing:
        raise ValueError(f"no observed state for the years {missing[:3]} (lag {lag})")
    return observed[:, [index[int(y) - lag] for y in years], :]


def affine_basis(observed: np.ndarray, observed_years: np.ndarray, years: np.ndarray,
                 lag: int = 1, reference: np.ndarray | None = None) -> np.ndarray:
    """``Φ[path, year, 1 + feature]``: a constant and the lagged state standardised across
    paths in each year (``(x − mean) / sd``, sd 0 → 1): a constant feature adds nothing.
    ``reference[path, observed_year, feature]``: the mean and sd are the reference paths'
    (a rule fitted on them applied to other paths, each on its own state alone)."""
    state = lagged_state(observed, observed_years, years, lag)
    z = standardised(state, None if reference is None
                     else lagged_state(reference, observed_years, years, lag))
    return np.concatenate([np.ones(state.shape[:2] + (1,)), z], axis=2)


def node_basis(node_of_year: np.ndarray, n_nodes: int | None = None) -> np.ndarray:
    """``Φ[path, year, node]`` = 1 where the node governs the path-year (one draw per node);
    ``n_nodes``: the tree's node count (default: the largest node seen plus one)."""
    n_nodes = int(node_of_year.max()) + 1 if n_nodes is None else n_nodes
    return (node_of_year[:, :, None] == np.arange(n_nodes)[None, None, :]).astype(float)


def recourse_basis(kind: str, observed: np.ndarray | None, observed_years: np.ndarray | None,
                   years: np.ndarray, node_of_year: np.ndarray) -> np.ndarray | None:
    """The basis of the reserve-draw rule ``kind`` (``"path"``: None, the free recourse)."""
    if kind == "path":
        return None
    if kind == "affine":
        return affine_basis(observed, observed_years, years)
    if kind == "node":
        return node_basis(node_of_year)
    raise ValueError(f"reserve-draw rule must be one of {KINDS}, got {kind!r}")


def rule_applies(data) -> bool:
    """Whether ``data`` carries a draw rule that binds: a basis and more than one path (with
    one path a rule with a constant reaches every draw path; the wait-and-see and mean-value
    problems of the value of information are one path)."""
    basis = getattr(data, "recourse_basis", None)
    if basis is None or data.n_paths <= 1:
        return False
    if basis.shape[:2] != (data.n_paths, len(data.years)):
        raise ValueError(f"the reserve-draw basis has shape {basis.shape[:2]}, the data "
                         f"{(data.n_paths, len(data.years))} paths x years")
    return True


def rule_decisions(basis: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """``D[p,t] = Σ_j Φ[p,t,j] θ[t,j]``."""
    return np.einsum("ptj,tj->pt", basis, theta)


#: relative size below which a direction of the observed states counts as flat (no spread)
FLAT = 1e-12


def generating_paths(basis_year: np.ndarray) -> np.ndarray:
    """Paths whose rows ``Φ[p]`` (``basis_year[path, j]``, one year) imply every path's
    ``Φ[p] θ ≥ 0``: sorted path indices, the first of each set of equal rows.

    When the first column is the constant 1 (the affine rule), ``Φ[p] = (1, z_p)`` and a
    path whose state ``z_p`` is a convex combination ``Σ_i λ_i z_i`` of others has
    ``Φ[p] θ = Σ_i λ_i Φ[i] θ``, so it suffices that the rows of the vertices of the
    convex hull of the states hold (exact, Rockafellar 1970, §2, §17): the vertices are
    taken in the span of the states' spread (a direction whose spread is below :data:`FLAT`
    times the largest is dropped), by Qhull (Barber, Dobkin and Huhdanpaa 1996) in two or more
    dimensions, the two ends in one, one path in none; every distinct row when Qhull fails.
    Otherwise (e.g. the node rule's indicator rows) every distinct row."""
    rows, first = np.unique(basis_year, axis=0, return_index=True)
    if rows.shape[0] <= 1 or not np.all(basis_year[:, 0] == 1.0):
        return np.sort(first)
    z = rows[:, 1:] - rows[:, 1:].mean(axis=0)
    _, sing, vt = np.linalg.svd(z, full_matrices=False)
    rank = int(np.sum(sing > FLAT * max(sing.max(initial=0.0), 1.0)))
    if rank == 0:
        return np.sort(first[:1])
    coords = z @ vt[:rank].T
    if rank == 1:
        ends = {int(np.argmin(coords[:, 0])), int(np.argmax(coords[:, 0]))}
        return np.sort(first[sorted(ends)])
    try:
        vertices = ConvexHull(coords).vertices
    except QhullError:
        return np.sort(first)
    return np.sort(first[vertices])


# ----------------------------------------------------------------------------- the LP rows
def with_rule_rows(arrays: tuple, data, first_path_col: int) -> tuple:
    """The extensive form's arrays ``(cost, col_lower, col_upper, matrix, row_lower,
    row_upper, offset)`` with the draw rule: free columns ``θ[t,j]`` appended after every
    other column, and rows ``D[p,t] − Σ_j Φ[p,t,j] θ[t,j] = 0`` appended after every other
    row (so the layout of :mod:`models.optimize.lp` before them is unchanged). The path
    blocks of ``6T`` columns start at ``first_path_col``; ``D`` is the second block."""
    cost, col_lower, col_upper, matrix, row_lower, row_upper, offset = arrays
    basis = data.recourse_basis
    P, T, J = basis.shape
    n = matrix.shape[1]
    p, t = np.meshgrid(np.arange(P), np.arange(T), indexing="ij")
    row = (p * T + t).ravel()
    d_col = (first_path_col + p * 6 * T + T + t).ravel()
    phi = basis.reshape(P * T, J)
    nz_row, nz_j = np.nonzero(phi)
    theta_col = n + t.ravel()[nz_row] * J + nz_j
    rows = sp.csr_matrix((np.concatenate([np.ones(P * T), -phi[nz_row, nz_j]]),
                          (np.concatenate([row, nz_row]), np.concatenate([d_col, theta_col]))),
                         shape=(P * T, n + T * J))
    matrix = sp.vstack([sp.hstack([matrix, sp.csr_matrix((matrix.shape[0], T * J))]), rows],
                       format="csr")
    return (np.concatenate([cost, np.zeros(T * J)]),
            np.concatenate([col_lower, np.full(T * J, -INF)]),
            np.concatenate([col_upper, np.full(T * J, INF)]), matrix,
            np.concatenate([row_lower, np.zeros(P * T)]),
            np.concatenate([row_upper, np.zeros(P * T)]), offset)


def add_rule_pyomo(m: pyo.ConcreteModel, data) -> None:
    """The same rule on the Pyomo reference: ``θ[t,j]`` free and
    ``paths[p].D[t] == Σ_j Φ[p,t,j] θ[t,j]``."""
    basis = data.recourse_basis
    P, T, J = basis.shape
    m.draw_rule_theta = pyo.Var(range(T), range(J))
    m.draw_rule = pyo.Constraint(range(P), range(T), rule=lambda m, p, t: m.paths[p].D[t] == sum(
        float(basis[p, t, j]) * m.draw_rule_theta[t, j] for j in range(J) if basis[p, t, j]))


# ----------------------------------------------------------------------------- transfers
def forced_transfers(data, tau: np.ndarray, draws: np.ndarray,
                     prefund: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transfers forced by the shortfall, year by year (module docstring), and the fund and
    reserve they leave: ``(X, B, A)``, each ``[path, year]`` (money in model units).

    ``X[t] = max(0, need_t − B⁻[t], κ_t cap[t])`` with ``need_t = floor/12 · E[t]`` and, in the
    last year, ``max(need_T, target/12 · E[T] − A[T])``; ``κ = prefund[year]`` the pre-funded
    share of the fiscal capacity (None or no capacity: 0); only years up to ``t`` enter
    ``X[t]``."""
    con = data.settings.constraints
    P, T = data.expenditure.shape
    cb, ex = data.contribution_base, data.expenditure
    X, B, A = np.zeros((P, T)), np.zeros((P, T)), np.zeros((P, T))
    b_prev, a_prev = data.balance_start.astype(float), data.reserve_start.astype(float)
    r_reserve = reserve_returns(data)
    for t in range(T):
        A[:, t] = (1.0 + r_reserve[t]) * a_prev - draws[:, t]
        pre = ((1.0 + data.fund_return[t]) * b_prev + cb[:, t] * (
            tau[:, t] + data.individual_account_rate) + data.subsidy[t] + draws[:, t] - ex[:, t])
        need = con.liquidity_floor_months / 12.0 * ex[:, t]
        if t == T - 1:
            need = np.maximum(need, con.horizon_months_target / 12.0 * ex[:, t] - A[:, t])
        X[:, t] = np.maximum(need - pre, 0.0)
        if prefund is not None and capacity_applies(data):
            X[:, t] = np.maximum(X[:, t], prefund[t] * data.transfer_capacity[:, t])
        B[:, t] = pre + X[:, t]
        b_prev, a_prev = B[:, t], A[:, t]
    return X, B, A


def split_by_capacity(data, money: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Forced money ``[path, year]`` split into the extra transfer within the fiscal capacity
    ``X = min(money, c·GDP)`` and the excess beyond it ``R = money − X`` (None without a
    capacity: all of it is ``X``)."""
    if not capacity_applies(data):
        return money, None
    within = np.minimum(money, data.transfer_capacity)
    return within, money - within


def prefund_shares(data, transfers: np.ndarray) -> np.ndarray | None:
    """The share of the fiscal capacity pre-funded each year, ``κ_t = Σ_p π_p X[p,t] /
    Σ_p π_p cap[p,t]`` clipped to [0, 1], from the solver's transfers ``X[path, year]``
    (module docstring); None without a capacity."""
    if not capacity_applies(data):
        return None
    cap = data.probability @ data.transfer_capacity
    used = data.probability @ transfers
    return np.clip(np.divide(used, cap, out=np.zeros_like(used), where=cap > 0), 0.0, 1.0)


def forced_transfer_excess(data, lp_transfers: np.ndarray, forced: np.ndarray,
                           lp_excess: np.ndarray | None = None,
                           forced_excess: np.ndarray | None = None) -> float:
    """Expected discounted cost (model units) of the forced money over the solver's:
    ``Σ_p π_p Σ_t δ_t [w_x (X_forced − X_lp) + w_e (R_forced − R_lp)]`` (``R``: the excess over
    the fiscal capacity, when there is one); ≤ 0 up to rounding when the discount rate is at
    least the fund's return (module docstring)."""
    w = data.settings.objective
    money = w.extra_transfer * (forced - lp_transfers)
    if lp_excess is not None and forced_excess is not None:
        money = money + w.excess_over_capacity * (forced_excess - lp_excess)
    return float(data.probability @ (money @ data.discount))


def early_transfers_pay(data) -> np.ndarray:
    """Years (positions) where the fund's return beats the discount rate,
    ``δ_{t−1} < δ_t (1 + r_t)``: there an early transfer is cheaper than a forced one."""
    return early_transfer_years(data.discount, data.fund_return)


# ----------------------------------------------------------------------------- the policy
def rule_coefficients(basis: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """``θ[t, j]`` of a solved rule, recovered from its draws ``D = Φ θ`` by least squares
    year by year (exact when ``D`` satisfies the rule; the minimum-norm ``θ`` when ``Φ`` has
    dependent columns, which gives the same draws)."""
    return np.stack([np.linalg.lstsq(basis[:, t, :], draws[:, t], rcond=None)[0]
                     for t in range(basis.shape[1])])


def apply_policy(data, tau: np.ndarray, theta: np.ndarray, prefund: np.ndarray | None = None
                 ) -> dict[str, np.ndarray]:
    """The recourse a fixed policy takes on the paths of ``data`` (which may be fresh paths:
    an out-of-sample evaluation): pooled rate ``tau[path, year]``, draws ``D = Φ θ`` from the
    data's basis, the forced transfers, the fund and the reserve; every entry of year ``t``
    uses the paths' data up to ``t`` only (``prefund``: the pre-funded share of the capacity
    by year, :func:`forced_transfers`). A rule draw the reserve cannot pay on some path
    (``A < 0``) is reported as such, not hidden: ``reserve_short[path, year]``."""
    draws = rule_decisions(data.recourse_basis, theta)
    money, B, A = forced_transfers(data, tau, draws, prefund)
    X, R = split_by_capacity(data, money)
    return {"D": draws, "X": X, "R": np.zeros_like(X) if R is None else R, "B": B, "A": A,
            "reserve_short": np.maximum(-A, 0.0)}
