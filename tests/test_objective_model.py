"""Objectives from the model (models/optimize/objective.py): discount factors from a rate
path, the economy's interest rate as the discount rate, the wage-indexed price of delay."""

from dataclasses import replace

import numpy as np
import pytest
import xarray as xr

from models.config import CATEGORIES, OptimizationSettings
from models.optimize.objective import (
    delay_price,
    discount_factors,
    discount_rates,
    early_transfer_years,
    squared_change_cost,
)
from models.optimize.data import MONEY_SCALE
from models.optimize.solve import lever_smoothing, scenario_data, setup_problem, start_levers


def test_discount_factors_compound_the_years_rates():
    assert discount_factors(np.full(5, 0.03)) == pytest.approx(1.03 ** -np.arange(5.0), rel=1e-14)
    rates = np.array([0.9, 0.05, 0.02, 0.10])  # the first year's rate is not used
    assert discount_factors(rates) == pytest.approx(
        [1.0, 1 / 1.05, 1 / (1.05 * 1.02), 1 / (1.05 * 1.02 * 1.10)], rel=1e-14)


def test_the_discount_rate_is_the_economys_when_given_else_the_calibrations():
    path = np.linspace(0.06, 0.03, 4)
    np.testing.assert_array_equal(discount_rates("interest_rate", 0.03, 0.05, 4, path), path)
    np.testing.assert_array_equal(discount_rates("interest_rate", 0.03, 0.05, 4), np.full(4, .05))
    np.testing.assert_array_equal(discount_rates("fixed", 0.03, 0.05, 4, path), np.full(4, .03))
    with pytest.raises(ValueError, match="shape"):
        discount_rates("interest_rate", 0.03, 0.05, 3, path)


def test_early_transfers_pay_exactly_where_the_fund_beats_the_discount_rate():
    delta = discount_factors(np.full(4, 0.03))
    assert early_transfer_years(delta, np.array([0.0, 0.02, 0.04, 0.03])).tolist() == [2]


def test_the_wage_indexed_price_of_delay_grows_with_wages_and_the_economys_overrides():
    index = np.array([1.0, 1.1, 1.3])
    assert delay_price("wage_indexed", 1500.0, 3, index) == pytest.approx(1500.0 * index)
    assert delay_price("fixed", 1500.0, 3, index) == pytest.approx([1500.0] * 3)
    assert delay_price("fixed", 1500.0, 3, index, economy_price=np.array([1.0, 2.0, 3.0])
                       ) == pytest.approx([1.0, 2.0, 3.0])


def test_the_study_problem_discounts_at_the_interest_rate_and_indexes_the_delay_price(
        calibration, populations, fit):
    """At the calibration's 5 % interest rate the discount falls faster than at 3 %; a delay
    costs more with the wage-indexed price (wages grow); an economy's rate path is used as
    given."""
    def problem(**objective):
        return setup_problem(calibration, OptimizationSettings.model_validate(
            {"objective": objective}), populations.isel(path=[0, 1]), fit)

    fixed = problem(delay_price="fixed", discount="fixed")
    market = problem(discount="interest_rate")
    rate = calibration.economy.targets.interest_rate.value
    assert market.discount[1] == pytest.approx(1 / (1 + rate), rel=1e-12)
    assert fixed.discount[1] == pytest.approx(1 / 1.03, rel=1e-12)
    years = populations["year"].values
    r = xr.DataArray(np.linspace(0.06, 0.02, years.size), dims="year", coords={"year": years})
    paired = setup_problem(calibration, OptimizationSettings.model_validate(
        {"objective": {"discount": "interest_rate"}}), populations.isel(path=[0, 1]), fit,
        interest_rate=r)
    expected = discount_factors(r.sel(year=paired.opt_years).values)
    np.testing.assert_allclose(paired.discount, expected, rtol=1e-14)
    knots = np.full((1, len(fixed.knot_yrs), len(CATEGORIES)), 6.0)
    indexed = problem(delay_price="wage_indexed")
    assert np.all(np.diff(indexed.delay_price) > 0) and indexed.delay_price[0] > 1500.0
    assert scenario_data(indexed, knots).delay_cost > 1.2 * scenario_data(fixed, knots).delay_cost


def test_squared_change_cost_by_hand():
    """Knots 0 → 2 → 2 → 5 from a start of 0: changes 0, 2, 0, 3; cost w π (4 + 9)."""
    cost, grad = squared_change_cost({7: np.array([0.0, 2.0, 2.0, 5.0])}, {7: 0.5}, 0.0, 2.0)
    assert cost == pytest.approx(2.0 * 0.5 * 13.0)
    # d/dκ_k = 2 w π (Δ_k − Δ_{k+1}), Δ = (0, 2, 0, 3)
    np.testing.assert_allclose(grad[7], 2.0 * 2.0 * 0.5 * np.array([0 - 2, 2 - 0, 0 - 3, 3]))


def test_gbh_smoothing_gradient_matches_finite_differences_on_a_tree(calibration, populations,
                                                                     fit):
    settings = OptimizationSettings.model_validate({
        "objective": {"lever_smoothing": "gbh"}, "tree": {"branching": [2]}})
    problem = setup_problem(calibration, settings, populations.isel(path=[0, 1, 2, 3]), fit)
    rng = np.random.default_rng(np.random.SeedSequence(3))
    knots = np.cumsum(rng.integers(0, 4, (problem.tree.n_nodes, len(problem.knot_yrs), 3)),
                      axis=1).astype(float)
    levers = replace(start_levers(problem), delay=knots)
    cost, grad = lever_smoothing(problem, levers, settings)
    assert cost > 0
    for node, k, c in [(0, 0, 0), (1, 5, 2), (2, len(problem.knot_yrs) - 1, 1)]:
        if problem.tree.stage_of_node[node] != problem.knot_owner_stage[k]:
            continue
        up, down = knots.copy(), knots.copy()
        up[node, k, c] += 0.5
        down[node, k, c] -= 0.5  # central differences: exact for a quadratic
        fd = (lever_smoothing(problem, replace(levers, delay=up), settings)[0]
              - lever_smoothing(problem, replace(levers, delay=down), settings)[0]) / MONEY_SCALE
        assert grad.delay[node, k, c] == pytest.approx(fd, rel=1e-9, abs=1e-15)
    off = OptimizationSettings.model_validate({"tree": {"branching": [2]}})
    assert lever_smoothing(problem, levers, off)[0] == 0.0
