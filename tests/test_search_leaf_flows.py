"""A move's scenario data from the leaves' kept flows (models/optimize/solve.py,
``leaf_flows``): the same bits as the data computed from nothing, for moves of knots of the
root, of an inner node and of a leaf of a multi-stage tree, with the indexation lever on."""

import numpy as np
import pytest

from models.config import OptimizationSettings
from models.optimize.search import neighbour_moves
from models.optimize.solve import scenario_data, setup_problem, start_levers

SETTINGS = OptimizationSettings.model_validate({
    "retirement": {"knot_every_years": 10, "pace_months_per_year": 3},
    "indexation": {"enabled": True},
    "tree": {"branching": [2, 3]},
})


@pytest.fixture(scope="module")
def problem(calibration, populations, fit):
    return setup_problem(calibration, SETTINGS, populations, fit)


def test_kept_leaf_flows_give_the_data_computed_from_nothing(problem):
    levers = start_levers(problem)
    scenario_data(problem, levers)  # the incumbent's leaves kept
    moves = [m for m in neighbour_moves(problem, levers, [6]) if m.levers is not None]
    nodes = {m.node for m in moves}
    assert {0} < nodes and len(nodes) >= 3  # the root's, inner nodes' and leaves' knots
    rng = np.random.default_rng(np.random.SeedSequence(21))
    picked = [moves[i] for i in rng.choice(len(moves), min(12, len(moves)), replace=False)]
    picked += [m for m in moves if m.lever == "indexation"][:2]
    kept = [scenario_data(problem, m.levers) for m in picked]
    assert problem.cache["leaf_flows"]
    for move, data in zip(picked, kept):
        problem.cache.pop("leaf_flows")
        fresh = scenario_data(problem, move.levers)
        assert np.array_equal(data.contribution_base, fresh.contribution_base), move
        assert np.array_equal(data.expenditure, fresh.expenditure), move
        assert data.delay_cost == fresh.delay_cost and data.indexation_cost == \
            fresh.indexation_cost, move
