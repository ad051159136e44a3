"""What the Monte Carlo demography's kernel and labels MEAN (survivors of issue 17's mutants).

* The open age group of a path's projection receives the survivors and the (scaled) net
  migrants of the last two single ages: ``P(A-1, t+1) = P(A-2) s(A-2) + P(A-1) s(A-1)
  + f (M(A-2) + M(A-1))`` (the cohort-component definition,
  :func:`models.demography.projection.project_cohort_component`).
* ``project_paths`` computes in float32 unless told otherwise (its docstring's promise: the
  Monte Carlo's memory).
* The history's period ``history_years`` runs from the first period's first year to the last
  period's last year.
* Every variable of the spread's fit table and history is the catalogue's variable (its
  dimensions, units and long name): one definition of each result (issue 11).
"""

import numpy as np
import pytest
import xarray as xr

from models.catalogue import entry
from models.config import StochasticDemographySettings
from models.demography import stochastic as st


@pytest.fixture(scope="module")
def inputs(arrays):
    return st.median_inputs(arrays, StochasticDemographySettings())


def test_the_open_age_group_gets_the_scaled_migrants_of_the_last_two_ages(inputs):
    factor = np.full((1, inputs.years.size), 2.0)  # one path, twice the median migrants
    out = st.project_paths(inputs, inputs.k[None], inputs.tfr[None], migration_factor=factor,
                           dtype=np.float64)
    end = out["population"][0, 1]  # 1 January after the first year, (A, 2)
    m = np.exp(inputs.ax + inputs.bx * inputs.k[0])  # (A, 2) death rates of the first year
    s = np.exp(-m)
    mig = inputs.net_migration[0]  # (A, 2) migrants of the first year by age on 1 January
    p0 = inputs.base_population
    expected_open = p0[-2] * s[-2] + p0[-1] * s[-1] + 2.0 * (mig[-2] + mig[-1])
    expected_next = p0[-3] * s[-3] + 2.0 * mig[-3]  # an ordinary age, one step older
    assert np.all(expected_open > 0) and np.all(expected_next > 0)  # no clipping by hand
    np.testing.assert_allclose(end[-1], expected_open, rtol=1e-12)
    np.testing.assert_allclose(end[-2], expected_next, rtol=1e-12)


def test_project_paths_computes_in_float32_by_default(inputs):
    out = st.project_paths(inputs, inputs.k[None], inputs.tfr[None])
    assert {v.dtype for v in out.values()} == {np.dtype(np.float32)}


def test_history_years_run_from_the_first_period_start_to_the_last_period_end():
    years = np.arange(1950, 2021, 5)  # periods 1950-1954 .. 2020-2024
    rng = np.random.default_rng(3)
    k = xr.DataArray(np.cumsum(rng.normal(-1.0, 0.5, (years.size, 2)), axis=0),
                     dims=("history_year", "sex"),
                     coords={"history_year": years, "sex": ["female", "male"]})
    assert st.historical_k_variation(k).attrs["history_years"] == "1950-2024"
    assert st.historical_k_variation(k, period_years=10).attrs["history_years"] == "1950-2029"


@pytest.fixture(scope="module")
def spread(arrays):
    return st.calibrate_spread(arrays)


def test_the_spread_tables_are_the_catalogue_variables(spread):
    for table in (spread.fit, spread.history):
        for name, var in table.data_vars.items():
            item = entry(str(name))
            assert var.dims == item.dims, name
            assert var.attrs == item.attrs(), name
    fit = spread.fit
    assert list(fit["bound_probability"].values) == list(st.BOUND_PROBABILITIES)
    assert list(fit["bound"].values) == list(st.BOUNDS)
    np.testing.assert_array_equal(fit["mortality_longevity_stretch"].values,
                                  spread.mortality.longevity_stretch)
    assert float(fit["fertility_innovation_sd"]) == spread.fertility.innovation_sd
    assert float(fit["fertility_persistence"]) == spread.fertility.persistence
