"""Optimizer: hand-derived optimum, duals, non-anticipativity, monotonicity, variants,
infeasibility, exactness of the chosen policy, value of information."""

from dataclasses import replace

import numpy as np
import pytest

from models.config import CATEGORIES, OptimizationSettings
from models.optimize.data import ScenarioData
from models.optimize.report import exactness, resimulate, value_of_information
from models.optimize.solve import (
    optimize_policy,
    rates_for,
    setup_problem,
    solve_inner,
    solve_inner_pyomo,
)


def _tiny(settings: OptimizationSettings, **over) -> ScenarioData:
    base = dict(
        years=np.array([2026, 2027]), probability=np.ones(1), node_of_year=np.zeros((1, 2), int),
        contribution_base=np.array([[10.0, 10.0]]), expenditure=np.array([[5.0, 5.0]]),
        subsidy=np.zeros(2), balance_start=np.zeros(1), reserve_start=np.zeros(1),
        fund_return=np.full(2, 0.1), reserve_return=0.0, individual_account_rate=0.08,
        pooled_rate_before=0.16, discount=np.array([1.0, 1.0 / 1.03]), delay_cost=0.0,
        settings=settings)
    base.update(over)
    return ScenarioData(**base)


TINY_SETTINGS = OptimizationSettings.model_validate({
    "reserve": {"enabled": False},
    "contribution": {"min_rate": 0.12, "max_rate": 0.20, "pace_per_year": 0.05},
    "constraints": {"liquidity_floor_months": 0.0, "horizon_months_target": 12.0},
    "objective": {"contributions": 1.0, "extra_transfer": 1.3, "smoothing_cny_per_point": 0.0},
})


def test_tiny_problem_matches_the_hand_derived_optimum():
    """Two years, CB = 10, E = 5 (trillion), r = 10 %, discount 3 %, horizon B2 >= E = 5.

    Year-1 money is cheapest per yuan of year-2 balance (contributions 1/1.1, transfers
    1.3/1.1 = 1.18 against 1/1.03 and 1.3/1.03 = 1.26 in year 2), contributions cost less than
    transfers, so both rates go to the 20 % cap and the rest is a year-1 transfer:
    B1 = 10(0.2+0.08) + X1 − 5 and 1.1 B1 + 2.8 − 5 = 5 give B1 = 7.2/1.1 and
    X1 = 7.2/1.1 + 2.2; cost = 2 + 1.3 X1 + 2/1.03."""
    sol = solve_inner(_tiny(TINY_SETTINGS))
    x1 = 7.2 / 1.1 + 2.2
    assert sol.status == "optimal"
    np.testing.assert_allclose(sol.tau[0], [0.2, 0.2], atol=1e-9)
    np.testing.assert_allclose(sol.X[0], [x1, 0.0], atol=1e-7)
    assert sol.objective == pytest.approx(2 + 1.3 * x1 + 2 / 1.03, rel=1e-9)


def test_duals_are_derivatives_of_the_optimal_cost():
    """Envelope theorem: dV/dE_t = −y_t + μ_t floor/12 (+ horizon term), checked by finite
    differences of the re-solved cost."""
    settings = TINY_SETTINGS.model_copy(update={"constraints": TINY_SETTINGS.constraints
                                                .model_copy(update={"liquidity_floor_months": 2.0})})
    data = _tiny(settings, expenditure=np.array([[5.0, 6.0]]))
    sol = solve_inner(data)
    floor, target = 2.0, 12.0
    for t in range(2):
        bumped = data.expenditure.copy()
        bumped[0, t] += 1e-4
        fd = (solve_inner(replace(data, expenditure=bumped)).objective - sol.objective) / 1e-4
        analytic = -sol.dual_balance[0, t] + sol.dual_liquidity[0, t] * floor / 12
        if t == 1:
            analytic += sol.dual_horizon[0] * target / 12
        assert fd == pytest.approx(analytic, rel=1e-5, abs=1e-8)


def _settings(**over) -> OptimizationSettings:
    base = {"retirement": {"max_outer_iterations": 3}, "compute_vss_evpi": True}
    for key, value in over.items():
        base[key] = {**base.get(key, {}), **value}
    return OptimizationSettings.model_validate(base)


@pytest.fixture(scope="module")
def two_stage(calibration, populations, fit):
    problem = setup_problem(calibration, _settings(), populations, fit)
    return problem, optimize_policy(problem)


def test_chosen_policy_is_exact_when_re_simulated(two_stage):
    problem, psol = two_stage
    gaps = exactness(problem, psol, resimulate(problem, psol))
    assert max(gaps.values()) < 1e-6, gaps


def test_outer_search_never_ends_worse_than_it_started(two_stage):
    _, psol = two_stage
    start = psol.history[0]["objective_cny"]
    assert psol.inner.objective * 1e12 <= start * (1 + 1e-12)


def test_one_path_solution_equals_perfect_foresight(calibration, populations, fit):
    problem = setup_problem(calibration, _settings(retirement={"enabled": False}),
                            populations.isel(path=[2]), fit)
    psol = optimize_policy(problem)
    voi = value_of_information(problem, psol)
    assert voi["evpi_cny"] == pytest.approx(0.0, abs=1e-6 * abs(voi["rp_cny"]))
    assert voi["vss_cny"] == pytest.approx(0.0, abs=1e-6 * abs(voi["rp_cny"]))


def test_value_of_information_is_non_negative(two_stage):
    problem, psol = two_stage
    voi = value_of_information(problem, psol)
    tol = 1e-7 * abs(voi["rp_cny"])
    assert voi["evpi_cny"] >= -tol and voi["vss_cny"] >= -tol
    assert voi["ws_cny"] <= voi["rp_cny"] + tol <= voi["eev_cny"] + 2 * tol


def test_non_anticipativity_in_a_multistage_tree(calibration, populations, fit):
    settings = _settings(tree={"branching": [2, 3]}, retirement={"max_outer_iterations": 2})
    problem = setup_problem(calibration, settings, populations, fit)
    psol = optimize_policy(problem)
    tree, sol = problem.tree, psol.inner
    years = problem.opt_years
    node_year = tree.node_of_path_year(years)
    for t in range(len(years)):
        for n in np.unique(node_year[:, t]):
            members = node_year[:, t] == n
            assert np.ptp(sol.tau[members, t]) == 0.0
    from models.optimize.solve import _full_delay, leaf_knots

    delays = {leaf: _full_delay(problem, kn) for leaf, kn in leaf_knots(problem, psol.knots).items()}
    for p in range(tree.n_paths):
        for q in range(tree.n_paths):
            for stage in range(tree.stage_years.size):
                if tree.node_of[p, stage] == tree.node_of[q, stage]:
                    own = tree.stage_of_year(problem.years) == stage
                    a = delays[tree.node_of[p, -1]][own]
                    b = delays[tree.node_of[q, -1]][own]
                    np.testing.assert_array_equal(a, b)
    assert tree.n_nodes == 1 + 2 + 6


def test_tightening_the_liquidity_floor_never_lowers_the_cost(calibration, populations, fit):
    costs = []
    for floor in (1.0, 3.0, 6.0):
        settings = _settings(retirement={"enabled": False},
                             constraints={"liquidity_floor_months": floor})
        problem = setup_problem(calibration, settings, populations, fit)
        costs.append(optimize_policy(problem).inner.objective)
    assert costs[0] <= costs[1] <= costs[2]


def test_lower_rate_cap_never_lowers_the_cost(calibration, populations, fit):
    costs = []
    for cap in (0.22, 0.18):
        settings = _settings(retirement={"enabled": False}, contribution={"max_rate": cap})
        problem = setup_problem(calibration, settings, populations, fit)
        costs.append(optimize_policy(problem).inner.objective)
    assert costs[0] <= costs[1]


def test_chance_constraint_with_alpha_zero_is_the_hard_problem(calibration, populations, fit):
    hard = setup_problem(calibration, _settings(retirement={"enabled": False}), populations, fit)
    chance = setup_problem(calibration, _settings(retirement={"enabled": False},
                                                  constraints={"chance_alpha": 0.0}),
                           populations, fit)
    a, b = optimize_policy(hard).inner, optimize_policy(chance).inner
    assert b.objective == pytest.approx(a.objective, rel=1e-7)
    assert np.all(b.U <= 1e-9)


def test_chance_constraint_allows_shortfall_on_at_most_alpha_of_paths(calibration, populations,
                                                                      fit):
    settings = _settings(retirement={"enabled": False}, extra_transfer={"enabled": False},
                         constraints={"chance_alpha": 1.0 / 3.0},
                         objective={"shortfall": 0.5})
    problem = setup_problem(calibration, settings, populations, fit)
    sol = optimize_policy(problem).inner
    short_paths = np.any(sol.U > 1e-7, axis=1)
    assert short_paths.mean() <= 1.0 / 3.0 + 1e-12


def test_infeasible_problem_returns_rescue_transfers_not_an_exception(calibration, populations,
                                                                      fit):
    settings = _settings(retirement={"enabled": False}, extra_transfer={"enabled": False},
                         reserve={"enabled": False}, contribution={"max_rate": 0.16})
    problem = setup_problem(calibration, settings, populations, fit)
    psol = optimize_policy(problem)
    assert psol.infeasible
    assert psol.rescue.R.sum() > 0
    assert any("maximum" in b for b in psol.binding)
    assert any("transfers switched off" in b for b in psol.binding)
    # the rescue money, re-simulated, pays every pension with the floor respected
    resim = resimulate(problem, psol)
    floor = settings.constraints.liquidity_floor_months
    opt = resim.sel(year=problem.opt_years)
    assert (opt["balance_end_cny"] >= floor / 12 * opt["expenditure_cny"] * (1 - 1e-9)).all()


def test_cvar_limit_of_zero_is_the_hard_problem_and_looser_limits_cost_less(
        calibration, populations, fit):
    """Without transfers the hard problem needs rescue money; a CVaR limit of zero forbids
    every shortfall, so it is the same (infeasible) problem with the same rescue; a positive
    limit admits priced shortfall, and a looser limit never costs more."""
    base = dict(retirement={"enabled": False}, extra_transfer={"enabled": False},
                objective={"shortfall": 0.5})
    hard = optimize_policy(setup_problem(calibration, _settings(**base), populations, fit))
    runs = [optimize_policy(setup_problem(
        calibration, _settings(**base, constraints={"cvar_beta": 0.8, "cvar_limit_cny": limit}),
        populations, fit)) for limit in (0.0, 2e15, 2e16)]
    assert hard.infeasible and runs[0].infeasible
    assert runs[0].rescue.objective == pytest.approx(hard.rescue.objective, rel=1e-7)
    assert not runs[1].infeasible and not runs[2].infeasible
    assert runs[2].inner.objective <= runs[1].inner.objective
    beta, data, sol = 0.8, runs[1].data, runs[1].inner
    losses = (sol.U * data.discount).sum(axis=1) * 1e12
    var = np.quantile(losses, beta, method="inverted_cdf")
    cvar = var + np.mean(np.maximum(losses - var, 0.0)) / (1 - beta)
    assert cvar <= 2e15 * (1 + 1e-6)


def test_tree_groups_paths_by_rank_of_the_observable():
    from models.optimize.tree import build_tree

    years = np.arange(2020, 2040)
    obs = np.tile(np.arange(20.0), (12, 1)) + np.arange(12)[::-1, None] * 100  # path 11 lowest
    tree = build_tree(obs, years, [2026, 2031], [3])
    assert tree.n_nodes == 4
    sizes = np.bincount(tree.node_of[:, 1])[1:]
    assert sizes.tolist() == [4, 4, 4]
    # lowest observable -> first child
    assert set(np.flatnonzero(tree.node_of[:, 1] == 1)) == {8, 9, 10, 11}
    assert (tree.node_of[:, 0] == 0).all()
    assert tree.stage_of_year(np.array([2025, 2026, 2030, 2031, 2039])).tolist() == [-1, 0, 0, 1, 1]


def test_delay_gradient_matches_finite_differences_on_several_paths(calibration, populations,
                                                                    fit):
    """The envelope-theorem gradient (duals x rate changes, path probabilities included)
    against re-solving with one knot moved by one month."""
    from models.optimize.solve import delay_gradient, scenario_data

    problem = setup_problem(calibration, _settings(), populations, fit)
    knots = np.zeros((problem.tree.n_nodes, len(problem.knot_yrs), 3))
    knots[0, 4:, :] = 6.0  # an interior point: every knot from the fifth on at six months
    data = scenario_data(problem, knots)
    sol = solve_inner(data)
    grad = delay_gradient(problem, knots, data, sol)
    for k, c in ((5, 0), (6, 2)):
        moved = knots.copy()
        moved[0, k, c] += 1.0
        fd = solve_inner(scenario_data(problem, moved), duals=False).objective - sol.objective
        assert np.sign(fd) == np.sign(grad[0, k, c])
        assert fd == pytest.approx(grad[0, k, c], rel=0.25)


def test_a_delay_from_the_first_decision_year_never_moves_a_retirement_before_it(
        calibration, populations, fit):
    """The law's flexible window lets a cohort facing a later statutory age retire up to three
    years early; a delay decided in the first decision year must still leave every year before
    it as it was (the fund at the start of the optimized years is history), while the
    optimized years move."""
    problem = setup_problem(calibration, _settings(), populations.isel(path=[0]), fit)
    delay = np.zeros((len(problem.years), len(CATEGORIES)))
    delay[problem.opt_mask] = 36.0
    moved, zero = rates_for(problem, delay), problem.cache["zero_rates"]
    past = problem.years[~problem.opt_mask]
    for name in ("pension_share", "pension_share_jan", "retirement_age"):
        np.testing.assert_array_equal(moved.schedule[name].sel(year=past).values,
                                      zero.schedule[name].sel(year=past).values, err_msg=name)
    for name, values in moved.rates.data_vars.items():
        if "year" in values.dims:
            np.testing.assert_array_equal(values.sel(year=past).values,
                                          zero.rates[name].sel(year=past).values, err_msg=name)
    first = problem.opt_years[:5]
    assert not np.array_equal(moved.schedule["pension_share"].sel(year=first).values,
                              zero.schedule["pension_share"].sel(year=first).values)


def test_the_reserve_earns_the_return_rules_path_year_by_year():
    """No draws: the NSSF grows by the return of each year, A_t = (1 + r_A[t]) A_{t-1} from
    A_0 = 2 (r_A = 10 % then 50 %: A = 2.2, 3.3), in the arrays LP and the Pyomo reference;
    without a path the calibrated scalar holds every year."""
    data = _tiny(TINY_SETTINGS, reserve_start=np.array([2.0]), reserve_return=0.04,
                 reserve_return_path=np.array([0.1, 0.5]))
    for sol in (solve_inner(data), solve_inner_pyomo(data)):
        np.testing.assert_allclose(sol.A[0], [2.2, 3.3], rtol=1e-9)
    flat = solve_inner(replace(data, reserve_return_path=None))
    np.testing.assert_allclose(flat.A[0], [2.08, 2.08 * 1.04], rtol=1e-9)
