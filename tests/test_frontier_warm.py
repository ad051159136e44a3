"""The frontier's warm-started solves (models/optimize/frontier.py, ``WarmScalarized``: one
HiGHS instance per delay candidate, costs and limit rows changed between solves) reach the
cold solves' optima: the payoff table and every ε-constraint point within 1e-7 relative, on a
problem whose frontier has a trade-off (seeded paths)."""

import numpy as np
import pytest

from models.config import OptimizationSettings
from models.optimize.data import ScenarioData
from models.optimize import frontier
from models.optimize.frontier import (
    OBJECTIVES,
    WarmScalarized,
    epsilon_frontier,
    payoff_table,
    scalarized,
    solve_scalarized,
)

SETTINGS = OptimizationSettings.model_validate({
    "contribution": {"min_rate": 0.12, "max_rate": 0.20, "pace_per_year": 0.01},
    "constraints": {"liquidity_floor_months": 3.0, "horizon_months_target": 12.0},
    "solver": {"method": "extensive"},
})
P, T = 10, 14


def _data(seed: int) -> ScenarioData:
    """Paths whose expenditure grows at different random rates (seeded)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    growth = 1.0 + rng.uniform(0.01, 0.06, (P, 1)) + rng.normal(0.0, 0.01, (P, T))
    return ScenarioData(
        years=np.arange(2030, 2030 + T), probability=np.full(P, 1.0 / P),
        node_of_year=np.zeros((P, T), int), contribution_base=np.full((P, T), 22.0),
        expenditure=5.0 * np.cumprod(growth, axis=1), subsidy=np.full(T, 0.5),
        balance_start=np.full(P, 4.0), reserve_start=np.full(P, 1.0),
        fund_return=np.full(T, 0.02), reserve_return=0.04, individual_account_rate=0.0,
        pooled_rate_before=0.16, discount=1.03 ** -np.arange(T, dtype=float),
        delay_cost=0.0, settings=SETTINGS)


def _criteria(points) -> np.ndarray:
    return np.array([[p[k] for k in OBJECTIVES] for p in points])


@pytest.mark.parametrize("seed", [11, 23])
def test_warm_frontier_equals_the_cold_one(seed):
    data = _data(seed)
    model = scalarized(data, 0.8)
    cold_table = payoff_table(model)
    warm_table = payoff_table(model, solver=WarmScalarized(model))
    np.testing.assert_allclose(warm_table, cold_table, rtol=1e-7, atol=1e-9)
    cold = _criteria(epsilon_frontier(data, beta=0.8, levels=3, warm=False))
    warm = _criteria(epsilon_frontier(data, beta=0.8, levels=3, warm=True))
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
    cold = _criteria(epsilon_frontier(data, beta=0.8, levels=3, warm=False))
    warm = _criteria(epsilon_frontier(data, beta=0.8, levels=3, warm=True))
    np.testing.assert_allclose(warm, cold, rtol=1e-7, atol=1e-9)
