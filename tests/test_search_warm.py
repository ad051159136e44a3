"""The decomposition's warm start for the search's moves (models/optimize/decompose.py,
``WarmStart``): a move solved from the incumbent's first stage and cuts reaches the cold
solve's optimum (and the extensive form's) within 1e-7 relative; only the cuts of cut groups
whose paths' data the move leaves unchanged are kept, so a move that lowers a leaf's
expenditure (the old cuts over-estimate its recourse there) still finds the new optimum."""

from dataclasses import replace

import numpy as np
import pytest

from models.config import CATEGORIES, OptimizationSettings
from models.optimize.decompose import cut_group_of_paths, data_keys, solve_decomposed
from models.optimize.lp import solve_extensive
from models.optimize.search import solve_move
from models.optimize.solve import (
    Levers,
    PolicySolution,
    scenario_data,
    setup_problem,
    solve_inner,
)

TOL = 1e-9
# cheap transfers, no reserve, no capacity: the rates trade against each path's transfers, so
# the cut loop needs several iterations and a leaf's data moves its rates
SETTINGS = {"compute_vss_evpi": False, "solver": {"threads": 2, "tolerance": TOL},
            "objective": {"extra_transfer": 1.02, "discount": "fixed"},
            "reserve": {"enabled": False}, "constraints": {"fiscal_capacity": False},
            "tree": {"branching": [2, 3]}}


@pytest.fixture(scope="module")
def problem(calibration, populations, fit):
    return setup_problem(calibration, OptimizationSettings.model_validate(SETTINGS),
                         populations, fit)


@pytest.fixture(scope="module")
def base(problem):
    return scenario_data(problem, np.zeros((problem.tree.n_nodes, len(problem.knot_yrs),
                                            len(CATEGORIES))))


def _moved(data, leaf_share: float):
    """The expenditure of the paths of one leaf scaled from the tenth year on (a knot move of
    that leaf changes only its paths' flows)."""
    leaf = data.node_of_year[:, -1]
    paths = leaf == leaf.max()
    expenditure = data.expenditure.copy()
    expenditure[paths, 10:] *= leaf_share
    return replace(data, expenditure=expenditure), paths


@pytest.mark.parametrize("share", [0.9, 1.04])
def test_a_warm_move_reaches_the_cold_optimum(base, share):
    start = solve_decomposed(base)
    assert start.warm is not None and start.warm.cuts
    moved, _ = _moved(base, share)
    cold = solve_decomposed(moved)
    warm = solve_decomposed(moved, warm=start.warm)
    direct = solve_extensive(moved)
    assert warm.status == cold.status == "optimal"
    assert warm.objective == pytest.approx(cold.objective, rel=1e-7)
    assert warm.objective == pytest.approx(direct.objective, rel=1e-7)
    assert warm.lower_bound <= direct.objective * (1 + 1e-12)  # a valid bound
    assert "cuts kept" in warm.log


def test_only_the_unchanged_groups_cuts_are_kept(base):
    start = solve_decomposed(base)
    moved, paths = _moved(base, 0.9)
    group = cut_group_of_paths(moved, [np.arange(moved.n_paths)], "leaf")
    n = int(group.max()) + 1
    shared, keys = data_keys(moved, False, group, n)
    _, old_keys = data_keys(base, False, group, n)
    changed = set(np.unique(group[paths]).tolist())
    assert shared == start.warm.shared_key
    assert [keys[g] == old_keys[g] for g in range(n)] == [g not in changed for g in range(n)]
    warm = solve_decomposed(moved, warm=start.warm)
    kept = sum(cut[0] in keys for cut in start.warm.cuts)
    assert 0 < kept < len(start.warm.cuts)
    assert f"{kept} cuts kept" in warm.log


def test_a_search_move_is_solved_from_the_incumbents_warm_start(problem, base):
    """The search's move goes through the inner solve's dispatch (``solve_inner(warm=)``) and
    the decomposition starts from the incumbent's solve; the same optimum as a cold solve."""
    levers = Levers(np.zeros((problem.tree.n_nodes, len(problem.knot_yrs), len(CATEGORIES))),
                    np.zeros((problem.tree.n_nodes, len(problem.index_knot_yrs))))
    incumbent = solve_inner(base)
    assert incumbent.warm is not None
    psol = PolicySolution(levers, base, incumbent, [], False, None, [])
    moved = replace(levers, delay=levers.delay + 1.0)
    data, sol = solve_move(problem, psol, moved)
    assert "warm start" in sol.log
    assert sol.objective == pytest.approx(solve_inner(data).objective, rel=1e-7)
