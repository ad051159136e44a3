"""Identification, parameter draws, the tornado table and the validation table of the pension
accounts."""

import numpy as np
import pytest
import xarray as xr

from models.catalogue import annotate
from models.demography.stochastic import path_seed
from models.pension import calibrate_base_year, project_accounts, retirement_schedule
from models.pension.uncertainty import (
    draw_parameters,
    identification_table,
    parameter_seed,
    tornado_table,
    unpinned_parameters,
    with_parameters,
)
from models.pension.validation import validation_table
from models.pipeline.run import pension_tables
from models.report.tables import identification_frame, validation_frame

SEED = 20241113


def test_identification_table_lists_every_unpinned_parameter(calibration):
    table = identification_table(calibration)
    keys = list(table["parameter"].values)
    for key in ("pension.contribution.compliance", "pension.retirement.contribution_density",
                "pension.benefit.indexation_wage_share", "pension.coverage.convergence_rate",
                "pension.contribution.flexible_worker_share",
                "finances.wages.all_unit_wage_relative"):
        assert key in keys
    assert (table["low"] <= table["value"]).all() and (table["value"] <= table["high"]).all()
    assert all(len(text) > 10 for text in table["pinned_by"].values)


def test_draws_are_reproducible_at_any_chunk_size(calibration):
    seed = np.random.SeedSequence(SEED)
    whole = draw_parameters(calibration, seed, np.arange(10))
    parts = [draw_parameters(calibration, np.random.SeedSequence(SEED), np.arange(a, b))
             for a, b in ((0, 3), (3, 4), (4, 10))]
    np.testing.assert_array_equal(whole.values, np.concatenate([p.values for p in parts]))
    params = unpinned_parameters(calibration)
    for key in whole["parameter"].values:
        assert (whole.sel(parameter=key) >= params[key].low).all()
        assert (whole.sel(parameter=key) <= params[key].high).all()


def test_parameter_seeds_are_their_own_branch_of_the_demographys_tree():
    """Child PARAMETER_PURPOSE of the experiment's seed, then the path: what spawn makes, and
    not any of the demography's streams."""
    seed = np.random.SeedSequence(SEED)
    child = seed.spawn(101)[100].spawn(3)[2]
    np.testing.assert_array_equal(parameter_seed(np.random.SeedSequence(SEED), 2)
                                  .generate_state(4), child.generate_state(4))
    for purpose in ("mortality", "fertility", "migration"):
        assert not np.array_equal(parameter_seed(seed, 2).generate_state(4),
                                  path_seed(seed, purpose, 2).generate_state(4))


def test_draws_follow_the_triangular_distribution(calibration):
    """Mean of Tri(low, mode, high) is (low + mode + high)/3 (4,000 seeded draws)."""
    draws = draw_parameters(calibration, np.random.SeedSequence(SEED), np.arange(4000))
    params = unpinned_parameters(calibration)
    for key in draws["parameter"].values:
        p = params[key]
        mean = (p.low + float(p.value) + p.high) / 3
        assert float(draws.sel(parameter=key).mean()) == pytest.approx(
            mean, abs=0.03 * (p.high - p.low))


def test_with_parameters_replaces_values_and_validates(calibration):
    cal = with_parameters(calibration, {"pension.contribution.compliance": 0.9})
    assert cal.pension.contribution.compliance.value == 0.9
    assert cal.pension.contribution.employer_pooled_rate == \
        calibration.pension.contribution.employer_pooled_rate
    with pytest.raises(ValueError):
        with_parameters(calibration, {"pension.contribution.compliance": 1.5})


@pytest.fixture(scope="module")
def tornado(calibration, median_demography):
    return tornado_table(median_demography["population"], calibration, "law_2024")


def test_tornado_moves_the_fund_in_the_expected_direction(tornado):
    """Higher indexation of pensions in payment raises the 2050 deficit; faster convergence of
    coverage (more contributors now, more pensioners later) delays the depletion; every row
    is evaluated."""
    deficit = tornado["deficit_2050_cny"]
    share = deficit.sel(parameter="pension.benefit.indexation_wage_share")
    assert float(share.sel(bound="high")) > float(share.sel(bound="low"))
    conv = tornado["depletion_year"].sel(parameter="pension.coverage.convergence_rate")
    assert float(conv.sel(bound="high")) > float(conv.sel(bound="low"))
    assert np.isfinite(tornado["first_deficit_year"]).all()


def test_validation_table_deflates_nominal_figures(calibration, median_demography):
    pop = median_demography["population"].sel(year=slice(2021, 2026))
    sched = retirement_schedule(pop["year"].values, pop["age"].values, "law_2024",
                                calibration.pension)
    fit = calibrate_base_year(pop.sel(year=[2021, 2022]), sched, calibration.pension,
                              calibration.finances)
    acc = project_accounts(pop, sched, fit, calibration.pension, calibration.finances)
    table = validation_table(acc, calibration.checks)
    assert len(table["validation_check"]) == len(calibration.checks.validation)
    prices = {p.year: p.value for p in calibration.checks.price_level}
    for i in table["validation_check"].values:
        row = table.sel(validation_check=i)
        fact = calibration.checks.validation[int(i)]
        level = prices[fact.year] if fact.nominal else 1.0
        assert float(row["validation_reported_real"]) == pytest.approx(fact.value / level)
    nssf = table.where(table["validation_variable"] == "reserve_assets_end_cny", drop=True)
    first = nssf["validation_check"][0]
    assert float(nssf["validation_model"].sel(validation_check=first)) == pytest.approx(
        float(acc["reserve_assets_end_cny"].sel(year=2023)))
    pens = table.where(table["validation_variable"] == "pensioners_year_end", drop=True)
    assert float(pens["validation_model"][0]) == pytest.approx(
        float(acc["pensioners_year_end"].sel(year=2022).sum()))


def test_run_tables_carry_validation_by_regime_and_identification(calibration,
                                                                  median_demography):
    """The run's pension tables: each regime's model values are its own projection's
    (validation_table), the reported ones shared; the identification table renamed whole;
    both annotated by the catalogue and rendered."""
    pop = median_demography["population"].sel(year=slice(2021, 2026))
    years, ages = pop["year"].values, pop["age"].values
    per_regime = []
    for regime in ("pre_2024", "law_2024"):
        sched = retirement_schedule(years, ages, regime, calibration.pension)
        fit = calibrate_base_year(pop.sel(year=[2021, 2022]), sched, calibration.pension,
                                  calibration.finances)
        per_regime.append(project_accounts(pop, sched, fit, calibration.pension,
                                           calibration.finances))
    regimes = xr.DataArray(["pre_2024", "law_2024"], dims="regime", name="regime")
    ds = annotate(pension_tables(per_regime, regimes, calibration))
    for acc, regime in zip(per_regime, regimes.values):
        own = validation_table(acc, calibration.checks)
        np.testing.assert_array_equal(ds["validation_model"].sel(regime=regime),
                                      own["validation_model"])
    assert not np.array_equal(ds["validation_model"].sel(regime="pre_2024"),
                              ds["validation_model"].sel(regime="law_2024"))
    ident = identification_table(calibration)
    np.testing.assert_array_equal(ds["identification_high"], ident["high"])
    assert list(ds["identification_pinned_by"].values) == list(ident["pinned_by"].values)
    assert len(validation_frame(ds).frame) == ds.sizes["validation_check"]
    assert len(identification_frame(ds).frame) == ds.sizes["parameter"]
