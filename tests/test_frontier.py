"""The ε-constraint frontier (models/optimize/frontier.py): every point is efficient — no
other point and no weighted-sum optimum is at least as good in fiscal burden, cost to cohorts
and risk and better in one — each point keeps its ε limits, and the set shows a trade-off."""

import numpy as np

from models.catalogue import annotate
from models.config import OptimizationSettings
from models.optimize.data import MONEY_SCALE, ScenarioData
from models.optimize.frontier import (
    OBJECTIVES,
    epsilon_frontier,
    frontier_dataset,
    non_dominated,
    problem_frontier,
    scalarized,
    solve_scalarized,
)
from models.optimize.solve import optimize_policy, setup_problem
from models.report.optimization import frontier_frame
from tests.scenarios import frontier_criteria, growing_expenditure

P, T = 8, 12


def _data(seed: int, delay_cost: float = 0.0) -> ScenarioData:
    return growing_expenditure(seed, P, T, delay_cost)


def test_every_frontier_point_is_efficient_and_keeps_its_limits():
    data = _data(11)
    points = epsilon_frontier(data, beta=0.75, levels=3)
    kept = frontier_criteria(points)  # every point the ε-constraint returns, equal ones included
    scale = np.abs(kept).max(axis=0)
    tol = 1e-6 * scale
    for row in kept:  # no point dominates another
        assert not np.any(np.all(kept <= row + tol, axis=1) & np.any(kept < row - tol, axis=1))
    assert np.unique(kept.round(6), axis=0).shape[0] >= 3
    for p in points:
        assert p["cohort_cost"] <= p["eps_cohort_cost"] + 1e-6 * scale[1]
        assert p["risk"] <= p["eps_risk"] + 1e-6 * scale[2]
    # a trade-off: the cheapest point for the budget is not the cheapest for the cohorts
    assert np.argmin(kept[:, 0]) != np.argmin(kept[:, 1])
    # no weighted-sum optimum dominates a frontier point (each one is Pareto optimal)
    model = scalarized(data, 0.75)
    rng = np.random.default_rng(np.random.SeedSequence(5))
    for weights in rng.dirichlet(np.ones(3), size=6):
        values, _ = solve_scalarized(model, weights)
        dominated = np.all(values <= kept + tol, axis=1) & np.any(values < kept - tol, axis=1)
        assert not dominated.any()


def test_the_union_over_delay_paths_keeps_only_non_dominated_points():
    """A delay path that costs the cohorts more and saves nothing drops out entirely."""
    cheap, dear = _data(11), _data(11, delay_cost=5e12)
    ds = frontier_dataset([("no delay", cheap), ("costly delay", dear)], beta=0.75, levels=3)
    assert set(ds["frontier_delay_path"].values) == {"no delay"}
    crit = np.stack([ds[f"frontier_{k}_cny"].values for k in OBJECTIVES], axis=1)
    assert non_dominated(crit).all()


def test_non_dominated_on_a_hand_made_set():
    pts = np.array([[1.0, 3.0], [2.0, 2.0], [2.0, 3.0], [3.0, 1.0], [1.0, 3.0]])
    assert non_dominated(pts).tolist() == [True, True, False, True, False]


def test_a_solved_study_problem_gets_its_frontier_in_results_and_report(calibration,
                                                                       populations, fit):
    """Two paths, no outer search: the frontier over the delay candidates is a catalogued
    dataset of non-dominated points and the run report renders it."""
    settings = OptimizationSettings.model_validate({
        "retirement": {"max_outer_iterations": 0}, "solver": {"method": "extensive"},
        "frontier": {"enabled": True, "levels": 2, "delay_scales": [0.0]}})
    problem = setup_problem(calibration, settings, populations.isel(path=[0, 1]), fit)
    psol = optimize_policy(problem)
    ds = annotate(problem_frontier(problem, psol))
    crit = np.stack([ds[f"frontier_{k}_cny"].values for k in OBJECTIVES], axis=1)
    assert ds.sizes["frontier_point"] >= 2 and non_dominated(crit).all()
    # the point cheapest for the budget costs at most the chosen policy's transfers (within
    # the fiscal capacity and beyond it)
    budget = psol.inner.X + (0.0 if psol.inner.R is None else psol.inner.R)
    chosen = float(psol.data.probability @ (budget @ psol.data.discount)) * MONEY_SCALE
    assert crit[:, 0].min() <= chosen * (1 + 1e-7)
    table = frontier_frame(ds)
    assert table.frame.shape[0] == ds.sizes["frontier_point"]
