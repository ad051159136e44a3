"""The draw rule's master rows (models/optimize/decompose.py, ``initial_rule_rows``;
models/optimize/rules.py, ``generating_paths``): the rows the master starts with have the
feasible set of all ``2PT`` rows (the same minimum of random linear objectives over the
rule's box), the paths kept give every path's smallest draw, and a solve with them reaches
the lazy solve's optimum."""

import numpy as np
import pytest
from scipy.optimize import linprog

from models.config import OptimizationSettings
from models.optimize.data import ScenarioData
from models.optimize.decompose import (
    compute_initial_rule_rows,
    initial_rule_rows,
    rule_box,
    rule_row,
    solve_decomposed,
)
from models.optimize.rules import affine_basis, generating_paths, node_basis

P, T = 40, 12


def _data(seed: int = 3, reserve: bool = True) -> ScenarioData:
    """``P`` paths whose expenditure grows with an observed random-walk state, a reserve to
    draw on by an affine rule on two observed states, transfers at 1.3 a yuan."""
    settings = OptimizationSettings.model_validate({
        "contribution": {"min_rate": 0.12, "max_rate": 0.20, "pace_per_year": 0.01},
        "constraints": {"liquidity_floor_months": 3.0, "horizon_months_target": 12.0,
                        "fiscal_capacity": False},
        "objective": {"reserve_draw": 0.05, "extra_transfer": 1.3, "discount": "fixed"},
        "reserve": {"enabled": reserve}, "recourse": {"reserve_draws": "affine"},
        "solver": {"tolerance": 1e-9}})
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    obs_years = np.arange(2029, 2030 + T)
    observed = 1.0 + 0.05 * rng.normal(0.0, 1.0, (P, obs_years.size, 2)).cumsum(axis=1)
    years = np.arange(2030, 2030 + T)
    return ScenarioData(
        years=years, probability=np.full(P, 1.0 / P), node_of_year=np.zeros((P, T), int),
        contribution_base=np.full((P, T), 22.0),
        expenditure=5.0 * np.cumprod(1.0 + 0.05 * observed[:, 1:, 0], axis=1),
        subsidy=np.full(T, 0.5), balance_start=np.full(P, 4.0),
        reserve_start=rng.uniform(2.5, 3.5, P), fund_return=np.full(T, 0.02),
        reserve_return=0.025, individual_account_rate=0.0, pooled_rate_before=0.16,
        discount=1.03 ** -np.arange(T, dtype=float), delay_cost=0.0, settings=settings,
        recourse_basis=affine_basis(observed, obs_years, years))


def _rows_lp(rows: list, n: int) -> tuple:
    """``A_ub x ≤ b_ub`` of rows ``(lower, upper, entries, values)`` (each bound finite on one
    side only, as the rule's rows are)."""
    a, b = [], []
    for lower, upper, entries, values in rows:
        row = np.zeros(n)
        row[entries] = values
        if np.isfinite(upper) and upper < 1e30:
            a.append(row)
            b.append(upper)
        if np.isfinite(lower) and lower > -1e30:
            a.append(-row)
            b.append(-lower)
    return np.array(a), np.array(b)


def test_the_initial_rows_have_the_feasible_set_of_all_rows():
    """Minimise random linear objectives over the rule's coefficients within their box: with
    the initial rows (the hull's paths' draws non-negative, the reserve of the last year) and
    with all ``2PT`` rows, the same minimum; a draw-maximising objective makes the reserve
    bind, so dropping the last year's rows would change it."""
    data = _data()
    J = data.recourse_basis.shape[2]
    n = T * J
    initial = [row for _, row in compute_initial_rule_rows(data)]
    every = [rule_row(data, kind, p, t) for kind in ("low", "reserve")
             for p in range(P) for t in range(T)]
    assert len(initial) < len(every) / 2
    lower, upper = rule_box(data)
    bounds = list(zip(lower, upper))
    rng = np.random.default_rng(np.random.SeedSequence(8))
    a_i, b_i = _rows_lp(initial, n)
    a_e, b_e = _rows_lp(every, n)
    reserve_binds = 0
    for k in range(12):
        c = rng.normal(size=n)
        if k % 2 == 0:  # draw as much as possible: a mean-path draw of every year
            c = -np.abs(c) * (np.arange(n) % J == 0)
        got = linprog(c, A_ub=a_i, b_ub=b_i, bounds=bounds, method="highs")
        want = linprog(c, A_ub=a_e, b_ub=b_e, bounds=bounds, method="highs")
        assert got.status == want.status == 0
        assert got.fun == pytest.approx(want.fun, rel=1e-9, abs=1e-9)
        box_only = linprog(c, bounds=bounds, method="highs")
        reserve_binds += box_only.fun < want.fun - 1e-6 * abs(want.fun)
    assert reserve_binds >= 3  # the rows matter for these objectives


def test_the_generating_paths_give_every_paths_smallest_draw():
    """For random coefficients, the smallest ``Φ[p] θ`` over the generating paths is the
    smallest over all paths (the states' convex hull), with a handful of the 200 paths; a
    flat state, equal rows and the node rule's indicator rows are handled."""
    rng = np.random.default_rng(np.random.SeedSequence(4))
    z = rng.normal(size=(200, 2))
    basis = np.column_stack([np.ones(200), z])
    kept = generating_paths(basis)
    assert 3 <= kept.size < 30
    thetas = rng.normal(size=(500, 3))
    np.testing.assert_allclose((basis[kept] @ thetas.T).min(axis=0),
                               (basis @ thetas.T).min(axis=0), rtol=1e-12, atol=1e-12)
    flat = np.column_stack([np.ones(200), z[:, 0], np.zeros(200)])  # a feature without spread
    kept = generating_paths(flat)
    assert kept.tolist() == sorted({int(np.argmin(z[:, 0])), int(np.argmax(z[:, 0]))})
    assert generating_paths(np.ones((7, 3))).tolist() == [0]
    indicator = node_basis(np.array([[0], [1], [1], [2], [0]]))[:, 0]
    assert generating_paths(indicator).tolist() == [0, 1, 3]


def test_a_solve_with_the_initial_rows_reaches_the_lazy_optimum():
    """The decomposition with the initial rows and with rows added only as the master breaks
    them: the same optimum within the tolerance; the warm start carries only the rows the
    separation added (the initial ones are rebuilt, memoised by their inputs)."""
    data = _data()
    lazy = solve_decomposed(data, rule_rows="lazy")
    start = solve_decomposed(data, rule_rows="initial")
    assert lazy.status == start.status == "optimal"
    assert start.objective == pytest.approx(lazy.objective, rel=1e-8)
    assert np.abs(start.D).max() > 0.1  # the reserve is drawn: the rows matter
    assert start.A.min() >= -1e-6 and start.D.min() >= -1e-6
    assert len(start.warm.rule_rows) < len(lazy.warm.rule_rows)
    assert initial_rule_rows(data) is initial_rule_rows(data)
    with pytest.raises(ValueError):
        solve_decomposed(data, rule_rows="eager")


def test_without_the_reserve_lever_no_initial_rows():
    assert compute_initial_rule_rows(_data(reserve=False)) == []
