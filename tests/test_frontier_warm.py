"""The frontier's warm-started solves (models/optimize/frontier.py, ``WarmScalarized``: one
HiGHS instance per delay candidate, costs and limit rows changed between solves) reach the
cold solves' optima: the payoff table and every ε-constraint point within 1e-7 relative, on a
problem whose frontier has a trade-off (seeded paths)."""

import numpy as np
import pytest

from models.optimize.data import ScenarioData
from models.optimize import frontier
from models.optimize.frontier import (
    WarmScalarized,
    epsilon_frontier,
    payoff_table,
    scalarized,
    solve_scalarized,
)
from tests.scenarios import frontier_criteria, growing_expenditure

P, T = 10, 14


def _data(seed: int) -> ScenarioData:
    return growing_expenditure(seed, P, T)


@pytest.mark.parametrize("seed", [11, 23])
def test_warm_frontier_equals_the_cold_one(seed):
    data = _data(seed)
    model = scalarized(data, 0.8)
    cold_table = payoff_table(model)
    warm_table = payoff_table(model, solver=WarmScalarized(model))
    np.testing.assert_allclose(warm_table, cold_table, rtol=1e-7, atol=1e-9)
    cold = frontier_criteria(epsilon_frontier(data, beta=0.8, levels=3, warm=False))
    warm = frontier_criteria(epsilon_frontier(data, beta=0.8, levels=3, warm=True))
    assert cold.shape == warm.shape and cold.shape[0] >= 3
    assert np.unique(cold.round(6), axis=0).shape[0] >= 3  # a frontier, not one point
    np.testing.assert_allclose(warm, cold, rtol=1e-7, atol=1e-9)


def test_a_warm_solve_after_others_equals_a_cold_one():
    """Limits and weights of earlier solves leave no trace: a limited solve, then an unlimited
    one with other weights, each as from scratch."""
    model = scalarized(_data(5), 0.8)
    warm = WarmScalarized(model)
    free, _ = solve_scalarized(model, np.array([0.0, 1.0, 0.0]))
    limits = np.array([np.inf, np.inf, free[2] * 0.999])
    for weights, lim in ((np.array([0.0, 1.0, 0.0]), limits), (np.array([1.0, 0.0, 0.0]), None),
                         (np.array([0.0, 1.0, 0.0]), None)):
        got, _ = warm.solve(weights, lim)
        want, _ = solve_scalarized(model, weights, lim)
        assert float(weights @ got) == pytest.approx(float(weights @ want), rel=1e-7)


def test_the_fallback_from_scratch_gives_the_same_frontier(monkeypatch):
    """Warm solves cut off at once (iteration limit 0) are solved again from scratch: the
    same points as the cold frontier."""
    monkeypatch.setattr(frontier, "WARM_ITERATIONS", 0)
    data = _data(11)
    cold = frontier_criteria(epsilon_frontier(data, beta=0.8, levels=3, warm=False))
    warm = frontier_criteria(epsilon_frontier(data, beta=0.8, levels=3, warm=True))
    np.testing.assert_allclose(warm, cold, rtol=1e-7, atol=1e-9)
