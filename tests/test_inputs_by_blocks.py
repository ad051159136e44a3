"""The optimizer's scenario inputs built block by block of paths (issue 15, memory at 20,000
paths): the category population on demand, its mean over the paths, the flows, the GDP and the
tree's indicators give the numbers of the whole arrays, bit for bit, whatever the block size."""

from __future__ import annotations

import numpy as np
import pytest

from models.config import CATEGORIES, OptimizationSettings
from models.optimize import data as data_module
from models.optimize import solve as solve_module
from models.optimize.data import CategoryPopulation, flows_from_rates, new_retirees
from models.optimize.solve import observable_indicator, scenario_data, setup_problem
from models.pension.accounts import category_population

SETTINGS = {"compute_vss_evpi": False, "tree": {"branching": [2]},
            "recourse": {"reserve_draws": "affine"}}


def _whole(population, calibration) -> np.ndarray:
    """The array kept before: every path's category population at once."""
    return category_population(population, calibration.pension).transpose(
        "path", "year", "age", "category").values


def _same(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_array_equal(a, b, strict=True)
    assert a.strides == b.strides


def test_category_population_on_demand_equals_indexing_the_whole_array(calibration,
                                                                        populations):
    whole = _whole(populations, calibration)
    pop_c = CategoryPopulation(populations, calibration.pension)
    for paths in (np.arange(6), np.array([4, 1, 5]), np.array([2])):
        _same(pop_c[paths], whole[paths])
    for rows in (slice(0, 6), slice(2, 3)):
        got, expected = pop_c[rows], whole[rows]
        np.testing.assert_array_equal(got, expected, strict=True)
        # a slice of the whole array: the same axis order in memory
        assert np.argsort(got.strides).tolist() == np.argsort(expected.strides).tolist()


@pytest.mark.parametrize("block", [2, 3, 2000])
def test_blocks_give_the_whole_arrays_numbers(calibration, populations, fit, monkeypatch,
                                              block):
    """Mean over paths (the open-age weights), flows and new retirees of all six paths with
    blocks of ``block`` paths against the whole array (new retirees: exact up to one block,
    a sum over paths; else to rounding)."""
    monkeypatch.setattr(data_module, "CATEGORY_BLOCK_PATHS", block)
    whole = _whole(populations, calibration)
    pop_c = CategoryPopulation(populations, calibration.pension)
    expected_weights = category_population(populations, calibration.pension).mean(
        "path").transpose("year", "age", "category")
    weights = pop_c.mean_over_paths()
    _same(weights.values, expected_weights.values)
    assert weights.dims == expected_weights.dims
    problem = setup_problem(calibration, OptimizationSettings.model_validate(SETTINGS),
                            populations, fit)
    rates = problem.cache["zero_rates"].rates
    paths = np.array([0, 2, 3, 5])
    got = data_module.flows_by_blocks(pop_c, paths, rates, fit, calibration)
    for a, b in zip(got, flows_from_rates(whole[paths], rates, fit, calibration)):
        _same(a, b)
    retirees = data_module.new_retirees_by_blocks(pop_c, paths, rates, problem.years)
    expected = new_retirees(whole[paths], rates, problem.years)
    if block >= paths.size - 1:  # one block (the last takes a lone path)
        _same(retirees, expected)
    else:
        np.testing.assert_allclose(retirees, expected, rtol=1e-13, atol=0.0)


def test_indicators_and_gdp_by_blocks_equal_one_block(calibration, populations, monkeypatch):
    """The tree's indicators and the GDP path per block of 4 paths equal them in one block."""
    names = ("old_age_dependency", "population_60plus", "births")
    one = {name: observable_indicator(populations, name) for name in names}
    values = populations.transpose("path", "year", "age", "sex").values
    ages = populations["age"].values
    wage = np.linspace(1.0, 2.0, populations.sizes["year"])
    gdp = data_module.gdp_by_path_year(values, ages, wage, 1e14)
    monkeypatch.setattr(data_module, "CATEGORY_BLOCK_PATHS", 4)
    monkeypatch.setattr(solve_module, "CATEGORY_BLOCK_PATHS", 4)
    for name in names:
        np.testing.assert_array_equal(observable_indicator(populations, name), one[name],
                                      strict=True)
    np.testing.assert_array_equal(data_module.gdp_by_path_year(values, ages, wage, 1e14), gdp,
                                  strict=True)


def test_scenario_data_does_not_depend_on_the_block_size(calibration, populations, fit,
                                                         monkeypatch):
    """The whole inner problem's data (two-stage: one leaf of six paths, an affine draw rule, a
    delay so the delay cost is not zero) with blocks of 2 paths equals it in one block."""
    settings = OptimizationSettings.model_validate({**SETTINGS, "tree": {"branching": []}})
    knots = None

    def build():
        nonlocal knots
        problem = setup_problem(calibration, settings, populations, fit)
        if knots is None:
            knots = np.full((problem.tree.n_nodes, len(problem.knot_yrs), len(CATEGORIES)),
                            6.0)
        return scenario_data(problem, knots)

    one = build()
    monkeypatch.setattr(data_module, "CATEGORY_BLOCK_PATHS", 2)
    monkeypatch.setattr(solve_module, "CATEGORY_BLOCK_PATHS", 2)
    blocks = build()
    assert one.delay_cost > 0
    for name in ("contribution_base", "expenditure", "balance_start", "reserve_start",
                 "recourse_basis", "node_of_year", "probability"):
        np.testing.assert_array_equal(getattr(blocks, name), getattr(one, name), strict=True,
                                      err_msg=name)
    # the delay cost sums over paths: block by block it is added in another order
    assert blocks.delay_cost == pytest.approx(one.delay_cost, rel=1e-13)
