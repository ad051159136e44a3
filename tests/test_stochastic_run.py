"""Monte Carlo runs end to end: pension accounts on every path, results.nc, tables and figures."""

from pathlib import Path

import numpy as np
import pytest

from models.config import EconomySettings, Experiment, StochasticDemographySettings
from models.pipeline import monte_carlo, run
from models.report import render
from models.report import tables as report
from models.pipeline.results import read_results

CALIBRATION = Path(__file__).resolve().parents[1] / "calibration" / "china"

SEED = 7


def experiment(parameters: bool = True, **demography) -> Experiment:
    """A Monte Carlo run of the demography and the accounts (the economy off: these tests are
    about the paths, and the elastic economy's calibration and transitions took most of
    their time)."""
    return Experiment(name="mc_test", calibration=str(CALIBRATION), seed=SEED,
                      demography=StochasticDemographySettings(**demography),
                      uncertainty={"parameters": parameters},
                      economy=EconomySettings(enabled=False))


@pytest.fixture(scope="module")
def mc_result(calibration, arrays):
    return run.simulate(experiment(paths=24, chunk_size=10), calibration, arrays)


def test_monte_carlo_variables_are_labelled_and_shaped(mc_result):
    ds = mc_result
    n_years = ds.sizes["year"]
    assert ds["population_paths"].dims == ("path", "year", "age", "sex")
    assert ds["population_paths"].shape == (24, n_years, 101, 2)
    assert ds["population_paths"].dtype == np.float32
    assert ds["months_payable_paths"].dims == ("regime", "path", "year")
    assert ds["depletion_year_paths"].dims == ("regime", "path")
    for name in ("population_paths", "e0_paths", "tfr_paths", "months_payable_paths",
                 "old_age_dependency_ratio_paths", "e0_fit_model", "tfr_fit_published"):
        assert ds[name].attrs.get("units"), name
    # the deterministic variables are still there, unchanged in shape
    assert ds["population"].dims == ("year", "age", "sex")
    assert ds["months_payable"].dims == ("regime", "year")
    # stored indicators agree with the stored paths
    total = ds["population_paths"].astype(np.float64).sum(("age", "sex"))
    np.testing.assert_allclose(ds["total_population_paths"], total, rtol=1e-12)


def test_zero_spread_paths_reproduce_the_deterministic_accounts(calibration, arrays):
    """Without parameter draws, every zero-spread path is the median's fund; with them, the
    demography-only milestones are."""
    for parameters in (False, True):
        exp = experiment(parameters, paths=3, chunk_size=2, mortality_spread_scale=0.0,
                         fertility_spread_scale=0.0)
        ds = run.simulate(exp, calibration, arrays)
        suffix = "_demography_only" if parameters else ""
        for p in range(3):
            if not parameters:
                np.testing.assert_allclose(ds["months_payable_paths"].isel(path=p),
                                           ds["months_payable"], rtol=1e-4, atol=1e-3)
            np.testing.assert_array_equal(ds[f"depletion_year_paths{suffix}"].isel(path=p),
                                          ds["depletion_year"])
            np.testing.assert_array_equal(ds[f"first_deficit_year_paths{suffix}"].isel(path=p),
                                          ds["first_deficit_year"])


def test_above_the_storage_limit_only_snapshots_are_kept(calibration, arrays, monkeypatch,
                                                         mc_result):
    monkeypatch.setattr(monte_carlo, "STORE_POPULATION_MAX_PATHS", 10)
    ds = run.simulate(experiment(paths=24, chunk_size=10), calibration, arrays)
    assert "population_paths" not in ds
    np.testing.assert_array_equal(ds["population_snapshot"], mc_result["population_snapshot"])
    np.testing.assert_array_equal(ds["months_payable_paths"], mc_result["months_payable_paths"])
    text = render.render(ds)
    assert "Probability" in text


def test_quantile_columns_are_ordered(mc_result):
    for table in (report.population_quantiles_frame(mc_result),
                  report.months_payable_frame(mc_result)):
        q = table.frame[list(report.QUANTILE_LABELS)].to_numpy(dtype=float)
        assert np.all(np.diff(q, axis=1) >= 0), table.name
    ordered = report.path_quantiles(mc_result["e0_paths"])
    assert (ordered.diff("quantile") >= 0).all()


def _write_experiment(folder, name, paths, economy: bool = True):
    path = folder / "experiments" / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'name = "{name}"\ncalibration = "{CALIBRATION}"\nseed = {SEED}\n'
        f"[demography]\npaths = {paths}\nchunk_size = 16\n"
        + ("" if economy else "[economy]\nenabled = false\n"))
    return path


def test_run_writes_results_tables_and_figures(tmp_path):
    exp_file = _write_experiment(tmp_path, "mc_small", 40, economy=False)
    run_dir = run.run_experiment(exp_file, results_root=tmp_path / "results",
                                 outputs=render.write_outputs)
    ds = read_results(run_dir)
    assert ds.sizes["path"] == 40
    tables = {p.name for p in (run_dir / "tables").iterdir()}
    for name in ("e0_calibration", "tfr_calibration", "population_quantiles",
                 "fund_milestones_distribution", "depletion_probability",
                 "months_payable_quantiles", "base_year_fit", "milestones"):
        assert f"{name}.md" in tables and f"{name}.csv" in tables, name
    figures = {p.name for p in (run_dir / "figures").iterdir()}
    for name in ("fan_total_population.png", "fan_working_age_population.png",
                 "fan_share_60plus.png", "fan_share_65plus.png",
                 "fan_old_age_dependency_ratio.png", "fan_e0.png", "fan_tfr.png",
                 "fan_months_payable.png", "prob_depletion.png", "pyramid_2021.png",
                 "pyramid_2050.png", "pyramid_2100.png"):
        assert name in figures, name
        assert (run_dir / "figures" / name).stat().st_size > 10_000
    text = render.render(ds)
    for title in ("Calibration of the spread", "Population across 40 paths",
                  "Employee fund milestones across paths", "Probability"):
        assert title in text


def test_deterministic_run_still_writes_its_tables(tmp_path):
    exp_file = _write_experiment(tmp_path, "det_small", 0)
    run_dir = run.run_experiment(exp_file, results_root=tmp_path / "results",
                                 outputs=render.write_outputs)
    ds = read_results(run_dir)
    assert "path" not in ds.dims
    assert [t.name for t in render.run_tables(ds)] == [
        "base_year_fit", "checks", "validation", "identification", "finances_pre_2024",
        "finances_law_2024", "milestones",
        "economy_base_year_fit", "economy_paths", "milestones_both_prices", "welfare_cev"]
    assert (run_dir / "tables" / "finances_law_2024.csv").is_file()
    assert (run_dir / "figures" / "months_payable.png").is_file()
    assert "Monte Carlo" not in render.render(ds)
