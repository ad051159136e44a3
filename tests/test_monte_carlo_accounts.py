"""The fund on many paths (models.pension.paths) and per-path parameter draws in the Monte
Carlo stage (issue 15 item 4, issue 13 item 4): the batched kernel agrees with the labelled
accounts, does not depend on how paths are batched, and a path's drawn fund equals the
deterministic projection of its calibration."""

import numpy as np
import pytest
import xarray as xr

from models.config import (
    EconomySettings,
    Experiment,
    ProjectionSettings,
    StochasticDemographySettings,
)
from models.demography import stochastic
from models.pension import (
    calibrate_base_year,
    category_population,
    fund_milestones,
    project_accounts,
    retirement_schedule,
)
from models.pension.accounts import account_rates
from models.pension.paths import fund_block, fund_paths
from models.pension.uncertainty import (
    draw_parameters,
    parameter_set_of_path,
    parameter_uncertainty,
    with_parameters,
)
from models.pipeline import monte_carlo
from models.report.tables import depletion_statement, depletion_uncertainty_frame
from tests.conftest import CALIBRATION

SEED = 20261130
REGIME = "law_2024"


@pytest.fixture(scope="module")
def paths_population(arrays):
    """Six seeded Monte Carlo paths ``[path, year, age, sex]`` (float64 of the float32 engine)."""
    settings = StochasticDemographySettings(paths=6, chunk_size=6)
    chunk = stochastic.simulate_path_chunk(
        stochastic.median_inputs(arrays, settings), stochastic.calibrate_spread(arrays),
        settings, np.random.SeedSequence(SEED), np.arange(6))
    return xr.DataArray(chunk.population.astype(np.float64), dims=("path", "year", "age", "sex"),
                        coords={"path": np.arange(6), "year": arrays["year"].values,
                                "age": arrays["age"].values, "sex": ["female", "male"]})


@pytest.fixture(scope="module")
def block_inputs(calibration, median_demography):
    median = median_demography["population"]
    schedule = retirement_schedule(median["year"].values, median["age"].values, REGIME,
                                   calibration.pension)
    fit = calibrate_base_year(median, schedule, calibration.pension, calibration.finances)
    rates = account_rates(schedule, fit, calibration.pension, calibration.finances,
                          category_population(median, calibration.pension))
    return schedule, fit, rates


def test_fund_paths_agree_with_the_labelled_accounts(calibration, paths_population,
                                                     block_inputs):
    """Same rates, same books: balance within 1e-12 of its scale, every flow within 1e-12
    relative, the same first-deficit and depletion years."""
    schedule, fit, rates = block_inputs
    acc = project_accounts(paths_population, schedule, fit, calibration.pension,
                           calibration.finances, rates=rates)
    years = paths_population["year"].values
    fund = fund_paths(paths_population.values,
                      fund_block(rates, fit, calibration.pension, calibration.finances), years)
    for name in ("expenditure_cny", "contributions_cny", "fiscal_subsidy_cny"):
        np.testing.assert_allclose(fund[name], acc[name].values, rtol=1e-12, err_msg=name)
    scale = np.abs(acc["balance_end_cny"].values).max(axis=-1, keepdims=True)
    assert np.max(np.abs(fund["balance_end_cny"] - acc["balance_end_cny"].values) / scale) < 1e-12
    miles = fund_milestones(acc)
    for name in ("first_deficit_year", "depletion_year"):
        np.testing.assert_array_equal(fund[name], miles[name].values)


def test_fund_paths_agree_under_per_path_prices(calibration, paths_population, block_inputs):
    """Per-path wages and fund returns (the Monte Carlo prices' case): the same books."""
    schedule, fit, _ = block_inputs
    years = paths_population["year"].values
    rng = np.random.default_rng(SEED)
    growth = 0.03 + 0.01 * rng.standard_normal((6, len(years)))
    growth[:, 0] = 0.0
    index = xr.DataArray(np.cumprod(1.0 + growth, axis=1), dims=("path", "year"),
                         coords={"path": np.arange(6), "year": years})
    fund_return = xr.DataArray(0.02 + 0.01 * rng.standard_normal((6, len(years))),
                               dims=("path", "year"), coords=index.coords)
    weights = category_population(paths_population.mean("path"), calibration.pension)
    rates = account_rates(schedule, fit, calibration.pension, calibration.finances, weights,
                          wage_index=index)
    acc = project_accounts(paths_population, schedule, fit, calibration.pension,
                           calibration.finances, rates=rates, fund_return=fund_return)
    fund = fund_paths(paths_population.values,
                      fund_block(rates, fit, calibration.pension, calibration.finances,
                                 fund_return=fund_return, lead=("path",)), years)
    np.testing.assert_allclose(fund["expenditure_cny"], acc["expenditure_cny"].values,
                               rtol=1e-12)
    scale = np.abs(acc["balance_end_cny"].values).max(axis=-1, keepdims=True)
    assert np.max(np.abs(fund["balance_end_cny"] - acc["balance_end_cny"].values) / scale) < 1e-12
    np.testing.assert_array_equal(fund["depletion_year"],
                                  fund_milestones(acc)["depletion_year"].values)


def test_fund_paths_do_not_depend_on_the_batch(calibration, paths_population, block_inputs):
    """A path's fund alone, among others, and from a copy shifted by one float in memory:
    the same bits."""
    _, fit, rates = block_inputs
    block = fund_block(rates, fit, calibration.pension, calibration.finances)
    years = paths_population["year"].values
    pop = paths_population.values
    together = fund_paths(pop, block, years)
    buffer = np.empty(pop.size + 1)
    shifted = buffer[1:].reshape(pop.shape)
    shifted[...] = pop
    for p in (0, 3, 5):
        alone = fund_paths(pop[p:p + 1], block, years)
        moved = fund_paths(shifted[p:p + 2], block, years)
        for name, values in alone.items():
            np.testing.assert_array_equal(values[0], together[name][p], err_msg=name)
            np.testing.assert_array_equal(moved[name][0], together[name][p], err_msg=name)


def test_parameter_sets_of_paths():
    np.testing.assert_array_equal(parameter_set_of_path(np.arange(7), 7, 100), np.arange(7))
    sets = parameter_set_of_path(np.arange(1000), 1000, 30)
    assert set(sets.tolist()) == set(range(30))
    assert np.all(np.diff(sets) >= 0)
    counts = np.bincount(sets)
    assert counts.min() >= 1000 // 30 and counts.max() <= -(-1000 // 30)
    # a chunk's sets are the whole run's
    np.testing.assert_array_equal(parameter_set_of_path(np.arange(400, 500), 1000, 30),
                                  sets[400:500])


def _simulate(calibration, arrays, median, regimes, n, chunk_size, workers=1, sets=100):
    exp = Experiment(name="mc_accounts_test", calibration=str(CALIBRATION), seed=SEED,
                     economy=EconomySettings(enabled=False),
                     projection=ProjectionSettings(regimes=list(regimes)),
                     demography=StochasticDemographySettings(paths=n, chunk_size=chunk_size),
                     parallel={"workers": workers},
                     uncertainty={"parameters": True, "parameter_sets": sets})
    return monte_carlo.simulate_paths(exp, calibration, arrays, median, regimes, {},
                                      progress=False)


@pytest.fixture(scope="module")
def drawn_runs(calibration, arrays, median_demography, block_inputs):
    """Five paths with parameter draws, shared by pairs (3 sets): one chunk, and chunks of 2."""
    schedule, fit, _ = block_inputs
    median = median_demography["population"]
    regimes = {REGIME: (schedule, fit)}
    return {cs: _simulate(calibration, arrays, median, regimes, 5, cs, sets=3) for cs in (5, 2)}


def test_parameter_draws_are_the_same_at_any_chunk_size(calibration, drawn_runs):
    one, chunked = drawn_runs[5], drawn_runs[2]
    for name in ("parameter_draws_paths", "parameter_set_paths", "depletion_year_paths",
                 "first_deficit_year_paths", "months_payable_paths",
                 "depletion_year_paths_demography_only"):
        np.testing.assert_array_equal(one[name].values, chunked[name].values, err_msg=name)
    sets = one["parameter_set_paths"].values
    np.testing.assert_array_equal(sets, [0, 0, 1, 1, 2])
    draws = draw_parameters(calibration, np.random.SeedSequence(SEED), np.arange(3))
    np.testing.assert_array_equal(one["parameter_draws_paths"].values, draws.values[sets])


def test_a_paths_drawn_fund_is_the_deterministic_projection_of_its_draw(calibration,
                                                                      median_demography,
                                                                      drawn_runs):
    """Path p under its draw: the schedule, base-year fit (median population) and rates of
    ``with_parameters(draw)``, projected on the path's population, give its months payable
    and depletion year; with the calibrated parameters, the demography-only milestones."""
    run = drawn_runs[5]
    median = median_demography["population"]
    years, ages = median["year"].values, median["age"].values
    for p in (1, 4):
        values = dict(zip(run["parameter"].values.tolist(),
                          run["parameter_draws_paths"].sel(path=p).values.tolist()))
        cal_p = with_parameters(calibration, values)
        schedule = retirement_schedule(years, ages, REGIME, cal_p.pension)
        fit = calibrate_base_year(median, schedule, cal_p.pension, cal_p.finances)
        rates = account_rates(schedule, fit, cal_p.pension, cal_p.finances,
                              category_population(median, cal_p.pension))
        pop = run["population_paths"].sel(path=p).astype(np.float64)
        acc = project_accounts(pop, schedule, fit, cal_p.pension, cal_p.finances, rates=rates)
        assert float(run["depletion_year_paths"].sel(regime=REGIME, path=p)) == float(
            fund_milestones(acc)["depletion_year"])
        np.testing.assert_allclose(run["months_payable_paths"].sel(regime=REGIME, path=p),
                                   acc["months_payable"].values, rtol=1e-9)
    # the draws move the fund: not every path's year equals its demography-only year
    assert not np.array_equal(run["depletion_year_paths"].values,
                              run["depletion_year_paths_demography_only"].values)


def test_median_draws_equal_the_parameter_uncertainty_of_each_draw(calibration,
                                                                   median_demography):
    """The run's parameter draws on the median path (two workers) equal
    :func:`parameter_uncertainty` (schedule, fit and projection anew per draw)."""
    median = median_demography["population"]
    exp = Experiment(name="median_draws_test", calibration=str(CALIBRATION), seed=SEED,
                     projection=ProjectionSettings(regimes=[REGIME]),
                     parallel={"workers": 2}, uncertainty={"median_draws": 3})
    ds = monte_carlo.parameter_draws_median(exp, calibration, median, {})
    draws = draw_parameters(calibration, np.random.SeedSequence(SEED), np.arange(3))
    np.testing.assert_array_equal(ds["parameter_draws"].values, draws.values)
    expected = parameter_uncertainty(median, calibration, REGIME, draws)
    for name in ("depletion_year", "first_deficit_year"):
        np.testing.assert_array_equal(ds[f"{name}_parameter_draws"].sel(regime=REGIME).values,
                                      expected[name].values)


def test_depletion_statement_gives_the_median_and_the_90_percent_band():
    """20 draws 2030..2049 and the paths' years: median (inverted CDF) 2039, 5 % 2030, 95 %
    2048; a path never depleted counts as later than any year."""
    years = np.arange(2030, 2050, dtype=float)
    paths = np.array([2031.0, 2032.0, np.nan, 2033.0])
    ds = xr.Dataset({"depletion_year": ("regime", [2035.0]),
                     "depletion_year_parameter_draws": (("regime", "draw"), years[None]),
                     "depletion_year_paths": (("regime", "path"), paths[None]),
                     "depletion_year_paths_demography_only": (("regime", "path"),
                                                              np.full((1, 4), 2034.0))},
                    coords={"regime": ["law_2024"]}, attrs={"mc_parameter_uncertainty": 1})
    frame = depletion_uncertainty_frame(ds).frame.set_index("uncertainty")
    assert frame.loc["median path, calibrated parameters", "median"] == "2035"
    row = frame.loc["median path, parameter draws"]
    assert (row["5 %"], row["median"], row["95 %"]) == ("2030", "2039", "2048")
    row = frame.loc["paths, demography and parameters"]
    assert (row["median"], row["95 %"], row["never to the horizon (%)"]) == ("2032", "never",
                                                                             25.0)
    assert frame.loc["paths, demography alone", "median"] == "2034"
    lines = depletion_statement(depletion_uncertainty_frame(ds))
    assert lines == ["law_2024: the fund is depleted in 2035 on the median path; median path, "
                     "parameter draws (20): median 2039, 90 % band 2030-2048; paths, demography "
                     "alone (4): median 2034, 90 % band 2034-2034; paths, demography and "
                     "parameters (4): median 2032, 90 % band 2031-never."]
