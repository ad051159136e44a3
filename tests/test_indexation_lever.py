"""The indexation lever: exact sensitivity of the average pensions, the gradient of the
optimal cost, the outer search with the lever, exactness, and the economy's indexation path."""

import numpy as np
import pytest
import xarray as xr

from models.config import OptimizationSettings
from models.economy import Policy
from models.optimize.report import exactness, resimulate
from models.optimize.solve import (
    Levers,
    indexation_gradient,
    optimize_policy,
    scenario_data,
    setup_problem,
    solve_inner,
    start_levers,
)
from models.pension.accounts import account_rates, indexation_sensitivity, retirement_schedule
from tests.test_optimize import _settings


@pytest.fixture(scope="module")
def rates_setup(calibration, arrays, fit):
    from models.demography import mortality_rates, project
    from models.pension.accounts import category_population

    mx = mortality_rates(arrays["lc_ax"], arrays["lc_bx"], arrays["lc_kt"])
    pop = project(arrays["base_population"], mx, arrays["asfr"], arrays["sex_ratio_at_birth"],
                  arrays["net_migration"])["population"]
    years, ages = pop["year"].values, pop["age"].values
    schedule = retirement_schedule(years, ages, "law_2024", calibration.pension)
    weights = category_population(pop, calibration.pension).transpose("year", "age", "category")
    return schedule, weights


def _rates(calibration, fit, schedule, weights, share=None):
    return account_rates(schedule, fit, calibration.pension, calibration.finances, weights,
                         indexation_share=share)


def test_calibrated_share_as_a_path_reproduces_the_default_rates(calibration, fit, rates_setup):
    schedule, weights = rates_setup
    years = schedule["year"].values
    default = _rates(calibration, fit, schedule, weights)
    share = xr.DataArray(np.full(years.size, calibration.pension.benefit.indexation_wage_share
                                 .value), dims="year", coords={"year": years})
    same = _rates(calibration, fit, schedule, weights, share)
    np.testing.assert_array_equal(default["pension_cny"].values, same["pension_cny"].values)


def test_zero_indexation_keeps_pensions_in_payment_constant(calibration, fit, rates_setup):
    """With share 0 a pensioner's pension carries unchanged to the next age (cells with no new
    pensioners, below the open age group)."""
    schedule, weights = rates_setup
    years = schedule["year"].values
    zero = _rates(calibration, fit, schedule, weights,
                  xr.DataArray(np.zeros(years.size), dims="year", coords={"year": years}))
    p = zero["pension_cny"].values
    nu = zero["new_pensioner_share"].values
    t = 30
    cells = np.argwhere((nu[t, 1:-1] == 0.0) & (p[t - 1, :-2] > 0))  # nobody new, below 99
    assert len(cells) > 50
    a, c = cells[:, 0] + 1, cells[:, 1]
    np.testing.assert_allclose(p[t, a, c], p[t - 1, a - 1, c], rtol=1e-14)


def test_indexation_sensitivity_matches_finite_differences(calibration, fit, rates_setup):
    schedule, weights = rates_setup
    years = schedule["year"].values
    base_share = np.full(years.size, 0.5)
    rates = _rates(calibration, fit, schedule, weights,
                   xr.DataArray(base_share, dims="year", coords={"year": years}))
    sens = indexation_sensitivity(rates, weights)
    h = 1e-4
    for u in (5, 20, 60):
        bumped = base_share.copy()
        bumped[u] += h
        moved = _rates(calibration, fit, schedule, weights,
                       xr.DataArray(bumped, dims="year", coords={"year": years}))
        fd = (moved["pension_cny"].values - rates["pension_cny"].values) / h
        np.testing.assert_allclose(sens[u], fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())
        assert np.all(sens[u, :u] == 0.0)  # a year's indexation never moves earlier pensions
        assert sens[u, u:].max() > 0.0


def _index_settings(**objective):
    return _settings(indexation={"enabled": True, "floor_wage_share": 0.0},
                     retirement={"enabled": False}, objective=objective)


def test_indexation_gradient_matches_finite_differences(calibration, populations, fit):
    """Envelope-theorem gradient (duals and the cut's price times the exact sensitivity)
    against re-solving with one indexation knot moved."""
    problem = setup_problem(calibration, _index_settings(indexation_cut=0.5), populations, fit)
    start = start_levers(problem)
    levers = Levers(start.delay, np.full_like(start.indexation, 0.3))
    data = scenario_data(problem, levers)
    sol = solve_inner(data)
    grad = indexation_gradient(problem, levers, data, sol)

    assert data.indexation_cost > 0.0  # the objective holds the cut's cost
    h = 1e-3
    for k in (1, 4, 8):
        moved = levers.indexation.copy()
        moved[0, k] += h
        fd = (solve_inner(scenario_data(problem, Levers(levers.delay, moved)),
                          duals=False).objective - sol.objective) / h
        assert fd == pytest.approx(grad[0, k], rel=1e-3)


def test_free_cuts_go_to_the_floor_and_costly_cuts_stay_at_the_status_quo(calibration,
                                                                          populations, fit):
    cheap = setup_problem(calibration, _index_settings(indexation_cut=0.0), populations, fit)
    sol_cheap = optimize_policy(cheap)
    assert sol_cheap.levers.indexation.max() < cheap.calibrated_indexation - 0.05
    assert sol_cheap.inner.objective < sol_cheap.history[0]["objective_cny"] / 1e12
    # dearer than any other money, the excess over the fiscal capacity (1,000 a yuan) included
    dear = setup_problem(calibration, _index_settings(indexation_cut=2000.0), populations, fit)
    sol_dear = optimize_policy(dear)
    np.testing.assert_allclose(sol_dear.levers.indexation, dear.calibrated_indexation)


def test_policy_with_the_indexation_lever_is_exact_and_costs_no_more(calibration, populations,
                                                                     fit):
    off = optimize_policy(setup_problem(calibration, _settings(retirement={"enabled": False}),
                                        populations, fit))
    problem = setup_problem(calibration, _index_settings(indexation_cut=0.8), populations, fit)
    on = optimize_policy(problem)
    assert on.inner.objective <= off.inner.objective * (1 + 1e-12)
    gaps = exactness(problem, on, resimulate(problem, on))
    assert max(gaps.values()) < 1e-6, gaps


def test_indexation_floor_above_the_ceiling_is_refused():
    with pytest.raises(ValueError, match="ceiling_wage_share"):
        OptimizationSettings.model_validate(
            {"indexation": {"enabled": True, "floor_wage_share": 0.5, "ceiling_wage_share": 0.2}})


def test_economy_policy_indexation_path():
    policy = Policy(indexation_wage_share=0.6, indexation_path=((2030, 0.2), (2040, 0.0)))
    np.testing.assert_array_equal(policy.indexation_share_in([2025, 2030, 2035, 2040, 2090]),
                                  [0.6, 0.2, 0.2, 0.0, 0.0])
    assert float(Policy().indexation_share_in(2050)) == 0.6
    share = xr.DataArray([0.2, 0.0], dims="year", coords={"year": [2030, 2040]})
    assert Policy(indexation_wage_share=0.6).with_indexation(share).indexation_path == (
        (2030, 0.2), (2040, 0.0))


def test_search_continues_from_a_previous_solution(calibration, populations, fit):
    """The economy pairing restarts the outer search from the last solution: it is evaluated
    first and the search never ends above it."""
    problem = setup_problem(calibration, _index_settings(indexation_cut=0.8), populations, fit)
    first = optimize_policy(problem)
    again = optimize_policy(problem, start=first.levers)
    assert again.history[0]["step"] == "start (previous solution)"
    assert again.history[0]["objective_cny"] == pytest.approx(first.inner.objective * 1e12,
                                                              rel=1e-9)
    assert again.inner.objective <= first.inner.objective * (1 + 1e-12)
