"""The base-year fit and the rates computed NumPy inside (issue 15: the Monte Carlo accounts
with parameter draws) equal their element-by-element reference on a short case (2021-2030).

* the coverage rate is ``L(min(t, t_f)) · ramp(a) · sex(c)`` evaluated cell by cell with the
  ``math`` module (the code evaluates ``L`` once per whole calendar year and looks it up);
* the average pension follows its recursion cell by cell, with the open age group the
  weighted mean of the two oldest ages (the code makes every year's weights at once), with
  per-path wages and a yearly indexation share;
* the fit reads the population by position whatever the order of its dimensions, and with
  the base year alone ages it one year without deaths exactly as xarray's ``shift`` does;
* the drawn parameter sets' blocks, sharing one category weighting per set, equal a block
  made alone.
"""

import math

import numpy as np
import pytest
import xarray as xr

from models.constants import CATEGORIES
from models.pension.accounts import (
    CATEGORY_SEX,
    account_rates,
    calibrate_base_year,
    category_population,
    retirement_schedule,
)
from models.pension.uncertainty import drawn_pension_blocks, pension_block

YEARS = np.arange(2021, 2031)
REL = 1e-12
SEED = 20261130


@pytest.fixture(scope="module")
def short(calibration, median_demography):
    """Population, schedule, fit and category weights over :data:`YEARS` (law 2024)."""
    pop = median_demography["population"].sel(year=YEARS)
    pension, finances = calibration.pension, calibration.finances
    sched = retirement_schedule(YEARS, pop["age"].values, "law_2024", pension)
    fit = calibrate_base_year(pop, sched, pension, finances)
    return pop, sched, fit, category_population(pop, pension)


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(np.abs(a - b) <= REL * np.maximum(np.abs(b), 1e-300)))


def test_coverage_is_the_level_of_the_frozen_year_cell_by_cell(calibration, short):
    pop, sched, fit, weights = short
    cov = calibration.pension.coverage
    rates = account_rates(sched, fit, calibration.pension, calibration.finances, weights)
    freeze = sched["coverage_freeze_year"].values
    ages = sched["age"].values
    base = int(YEARS[0])
    expected = np.empty(freeze.shape)
    for t, year in enumerate(YEARS):
        for a, age in enumerate(ages):
            ramp = min(max((age - cov.entry_age_start.value)
                           / (cov.entry_age_full.value - cov.entry_age_start.value), 0.0), 1.0)
            for c, cat in enumerate(CATEGORIES):
                y = min(float(year), float(freeze[t, a, c]))
                if y < base:
                    level = fit.coverage_level * math.exp(
                        fit.historical_coverage_growth * (y - base))
                else:
                    level = fit.coverage_level * (1.0 + (cov.long_run_level_relative.value - 1.0)
                                                  * (1.0 - (1.0 - cov.convergence_rate.value)
                                                     ** (y - base)))
                sex = 1.0 if CATEGORY_SEX[cat] == "male" else cov.female_relative.value
                expected[t, a, c] = level * ramp * sex
    assert (freeze < base).any() and (freeze > YEARS[-1]).any()  # both branches of L are used
    assert _close(rates["coverage_rate"].values, expected)


def test_average_pension_follows_its_recursion_cell_by_cell(calibration, short):
    pop, sched, fit, weights = short
    rng = np.random.default_rng(SEED)
    wage = np.cumprod(1.0 + 0.03 + 0.02 * rng.standard_normal((2, len(YEARS))), axis=1)
    wage_index = xr.DataArray(wage / wage[:, :1], dims=("path", "year"),
                              coords={"path": [3, 8], "year": YEARS})
    share = xr.DataArray(rng.uniform(0.3, 1.0, len(YEARS)), dims="year", coords={"year": YEARS})
    rates = account_rates(sched, fit, calibration.pension, calibration.finances, weights,
                          wage_index=wage_index, indexation_share=share)
    avg = rates["pension_cny"].values  # [path, year, age, category]
    new = rates["new_award_cny"].values
    nu = rates["new_pensioner_share"].values
    idx = rates["indexation_rate"].values  # [path, year]
    w = weights.values * rates["pensioner_rate"].values
    n_ages = avg.shape[2]
    expected = np.empty(avg.shape)
    expected[:, 0] = avg[:, 0]
    for p in range(avg.shape[0]):
        for t in range(1, len(YEARS)):
            for c in range(avg.shape[3]):
                for a in range(n_ages):
                    prev = [expected[p, t - 1, b, c] * (1.0 + idx[p, t]) for b in range(n_ages)]
                    if a == 0:
                        carried = 0.0
                    elif a < n_ages - 1:
                        carried = prev[a - 1]
                    else:
                        w99, w100 = w[t - 1, -2, c], w[t - 1, -1, c]
                        carried = ((prev[-2] * w99 + prev[-1] * w100) / (w99 + w100)
                                   if w99 + w100 > 0 else prev[-1])
                    expected[p, t, a, c] = ((1.0 - nu[t, a, c]) * carried
                                            + nu[t, a, c] * new[p, t, a, c])
    assert (w[:-1, -2:] > 0).all()  # the open age group's mean is exercised
    assert _close(avg, expected)


def test_fit_reads_the_population_by_position_and_ages_the_base_year_alone(calibration, short):
    pop, sched, fit, _ = short
    pension, finances = calibration.pension, calibration.finances
    base = int(YEARS[0])
    assert calibrate_base_year(pop.transpose("sex", "age", "year"), sched, pension,
                               finances) == fit
    assert calibrate_base_year(pop.sel(year=YEARS[::-1]), sched, pension, finances) == fit
    # the base year alone: the next year is the base year aged by xarray's shift, no deaths
    alone = pop.sel(year=base)
    aged = alone.shift(age=1, fill_value=0.0)
    aged[{"age": -1}] = alone.isel(age=-1) + alone.isel(age=-2)
    two = xr.concat([alone, aged.assign_coords(year=base + 1)], dim="year")
    expected = calibrate_base_year(two, sched, pension, finances)
    assert calibrate_base_year(alone, sched, pension, finances) == expected
    assert calibrate_base_year(alone.transpose("sex", "age"), sched, pension,
                               finances) == expected
    assert expected != fit


def test_drawn_blocks_equal_a_block_made_alone(calibration, median_demography):
    pop = median_demography["population"].sel(year=YEARS)
    seed = np.random.SeedSequence(SEED)
    blocks = drawn_pension_blocks(calibration, seed, np.array([4]), pop, ["law_2024"])
    drawn = blocks[4]["law_2024"]
    alone = pension_block(drawn.calibration, pop, "law_2024")
    assert drawn.fit == alone.fit
    xr.testing.assert_identical(drawn.rates, alone.rates)
    np.testing.assert_array_equal(drawn.fund.expenditure, alone.fund.expenditure)
    np.testing.assert_array_equal(drawn.fund.insured, alone.fund.insured)
