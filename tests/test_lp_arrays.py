"""The inner LP assembled from arrays (models/optimize/lp.py) against the Pyomo reference:
the same optimal value (1e-8 relative) and, where the LP is non-degenerate, the same duals, in
every variant the Pyomo model has (two-stage and multi-stage trees, CVaR, the chance LP with
its binaries fixed, the rescue problem, pinned first-stage rates)."""

from dataclasses import replace

import highspy
import numpy as np
import pytest

from models.config import CATEGORIES, OptimizationSettings
from models.optimize.lp import extensive_form, new_highs, rate_pairs, run_highs, solve_extensive
from models.optimize.model import _rate_nodes
from models.optimize.solve import scenario_data, setup_problem, solve_inner_pyomo


def _settings(**over) -> OptimizationSettings:
    base: dict = {"compute_vss_evpi": False, "solver": {"threads": 2}}
    for key, value in over.items():
        base[key] = {**base.get(key, {}), **value}
    return OptimizationSettings.model_validate(base)


def _data(calibration, populations, fit, **over):
    problem = setup_problem(calibration, _settings(**over), populations, fit)
    return scenario_data(problem, np.zeros((problem.tree.n_nodes, len(problem.knot_yrs),
                                            len(CATEGORIES))))


@pytest.fixture(scope="module")
def two_stage(calibration, populations, fit):
    return _data(calibration, populations, fit)


def _same(a, b, rel=1e-8):
    assert a.status == b.status == "optimal"
    assert a.objective == pytest.approx(b.objective, rel=rel)


def test_rate_pairs_follow_the_pyomo_models_index(calibration, populations, fit):
    data = _data(calibration, populations, fit, tree={"branching": [2, 3]})
    pairs = rate_pairs(data)
    keys, prev, prob = _rate_nodes(data)
    assert pairs.keys() == keys
    for k, key in enumerate(keys):
        assert (None if pairs.prev[k] < 0 else pairs.keys()[pairs.prev[k]]) == prev[key]
        assert pairs.probability[k] == pytest.approx(prob[key], rel=1e-12)


def test_two_stage_objective_and_duals_equal_the_pyomo_reference(two_stage):
    ref, ours = solve_inner_pyomo(two_stage), solve_extensive(two_stage)
    _same(ours, ref)
    np.testing.assert_allclose(ours.tau, ref.tau, atol=1e-9)
    np.testing.assert_allclose(ours.B, ref.B, rtol=1e-7, atol=1e-7)
    # duals: the balance rows carry the path probabilities (order 1e-3); compare on that scale
    np.testing.assert_allclose(ours.dual_balance, ref.dual_balance, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(ours.dual_horizon, ref.dual_horizon, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(ours.dual_liquidity, ref.dual_liquidity, rtol=1e-6, atol=1e-10)


def test_multistage_tree_equals_the_pyomo_reference(calibration, populations, fit):
    data = _data(calibration, populations, fit, tree={"branching": [2, 3]},
                 objective={"extra_transfer": 1.02}, reserve={"enabled": False})
    ref, ours = solve_inner_pyomo(data), solve_extensive(data)
    _same(ours, ref)
    for key, value in ref.tau_node.items():
        assert ours.tau_node[key] == pytest.approx(value, abs=1e-6)


def test_cvar_variant_equals_the_pyomo_reference(calibration, populations, fit):
    """Unpaid pensions cheaper than transfers (weight 1 < 1.3): the CVaR limit binds."""
    data = _data(calibration, populations, fit, objective={"shortfall": 1.0},
                 constraints={"cvar_beta": 0.5, "cvar_limit_cny": 1e12})
    ref, ours = solve_inner_pyomo(data), solve_extensive(data)
    _same(ours, ref)
    unpaid = (ours.U * data.discount).sum(axis=1)  # trillion yuan per path
    np.testing.assert_allclose(unpaid, 1.0, rtol=1e-7)  # at the limit on every path


def test_chance_lp_with_fixed_binaries_and_pinned_rates(calibration, populations, fit):
    data = _data(calibration, populations, fit, objective={"shortfall": 1.0},
                 constraints={"chance_alpha": 0.4})
    z = np.array([1, 0, 0, 1, 0, 0], dtype=float)
    data = replace(data, fixed_rates={0: 0.163, 1: 0.166})
    ref, ours = solve_inner_pyomo(data, fixed_z=z), solve_extensive(data, fixed_z=z)
    _same(ours, ref)
    assert ours.tau[:, 0] == pytest.approx(0.163) and ours.tau[:, 1] == pytest.approx(0.166)
    assert np.all(ours.U[z == 0] == 0.0) and np.max(ours.U[z == 1]) > 1.0
    with pytest.raises(ValueError, match="Pyomo"):
        extensive_form(data)  # the MILP itself stays on Pyomo


def test_rescue_problem_equals_the_pyomo_reference(calibration, populations, fit):
    data = _data(calibration, populations, fit, extra_transfer={"enabled": False},
                 reserve={"enabled": False}, contribution={"enabled": False})
    assert solve_extensive(data).status == "infeasible"
    ref, ours = solve_inner_pyomo(data, rescue=True), solve_extensive(data, rescue=True)
    _same(ours, ref)
    assert ours.objective > 0 and np.all(ours.R >= -1e-9)


def test_solves_with_different_thread_counts_in_one_process_both_run():
    """HiGHS keeps one thread scheduler per process (created by the first solve's
    ``threads``) and refuses a later solve with another count; ``run_highs`` restarts it."""
    for threads in (1, 2, 1):
        h = new_highs(threads, 60.0)
        h.addVar(0.0, 1.0)
        h.changeColCost(0, 1.0)
        run_highs(h)
        assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal, threads


class _StuckWarmStart:
    """A stand-in for ``highspy.Highs`` whose warm-started simplex ends "Unknown" (residual
    infeasibilities after added rows) and whose solve from scratch is optimal."""

    def __init__(self):
        self.warm, self.runs = True, 0

    def run(self):
        self.runs += 1

    def getModelStatus(self):
        return (highspy.HighsModelStatus.kUnknown if self.warm
                else highspy.HighsModelStatus.kOptimal)

    def clearSolver(self):
        self.warm = False


def test_a_warm_start_that_ends_unknown_is_solved_again_from_scratch():
    h = _StuckWarmStart()
    run_highs(h)
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal and h.runs == 2
