"""Lee-Carter fit: recovery of a synthetic model, e0 re-estimation on the derived history."""

import numpy as np
import pandas as pd
import pytest

from models.demography.lee_carter import fit_lee_carter, k_for_e0, lee_carter_mx
from models.demography.lifetable import life_expectancy
from models.demography.derive import DEFAULT_OUT_DIR

N_AGES = 101
#: e0 tolerance of the fitted history (years): the second stage solves e0 to ~1e-12; the CSV's
#: 10 significant digits of a, b, k move e0 by far less than this.
E0_TOLERANCE_YEARS = 0.01


def synthetic_lee_carter() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ages = np.arange(N_AGES)
    ax = np.log(0.0003 + 0.00005 * np.exp(0.095 * ages) + 0.02 * np.exp(-1.5 * ages))
    bx = np.exp(-((ages - 20.0) / 45.0) ** 2) + 0.1
    bx /= bx.sum()
    kt = np.linspace(30.0, -30.0, 9) + np.array([0.0, 2.0, -1.0, 0.5, 0.0, -0.5, 1.0, -2.0, 0.0])
    return ax, bx, kt - kt.mean()


def test_noise_free_data_recovers_a_b_k():
    ax, bx, kt = synthetic_lee_carter()
    periods = np.arange(1980, 2025, 5)
    fit = fit_lee_carter(lee_carter_mx(ax, bx, kt), periods, "female", fit_from=1980)
    np.testing.assert_allclose(fit.ax, ax, atol=1e-12)
    np.testing.assert_allclose(fit.bx, bx, atol=1e-12)
    np.testing.assert_allclose(fit.kt_svd, kt, atol=1e-9)
    np.testing.assert_allclose(fit.kt, kt, atol=1e-8)  # the e0 re-estimation changes nothing here
    assert fit.explained_variance_share == pytest.approx(1.0)
    np.testing.assert_array_equal(fit.periods, periods)


def test_fitting_window_selects_periods():
    ax, bx, kt = synthetic_lee_carter()
    periods = np.arange(1980, 2025, 5)
    fit = fit_lee_carter(lee_carter_mx(ax, bx, kt), periods, "male", fit_from=1990, fit_to=2010)
    np.testing.assert_array_equal(fit.periods, [1990, 1995, 2000, 2005, 2010])
    assert fit.bx.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("sex", ["female", "male"])
def test_k_for_e0_round_trips(sex):
    ax, bx, _ = synthetic_lee_carter()
    k_true = np.array([-150.0, -40.0, 0.0, 25.0, 80.0])
    e0 = life_expectancy(lee_carter_mx(ax, bx, k_true), sex)
    np.testing.assert_allclose(k_for_e0(ax, bx, e0, sex), k_true, atol=1e-8)


def test_second_stage_reproduces_e0_of_noisy_data():
    ax, bx, kt = synthetic_lee_carter()
    rng = np.random.default_rng(np.random.SeedSequence(1992))
    mx = lee_carter_mx(ax, bx, kt) * np.exp(rng.normal(0.0, 0.05, size=(kt.size, N_AGES)))
    fit = fit_lee_carter(mx, np.arange(1980, 2025, 5), "male", fit_from=1980)
    np.testing.assert_allclose(fit.e0_fitted, life_expectancy(mx, "male"), atol=1e-9)
    assert np.max(np.abs(fit.e0_fitted - fit.e0_data)) < 1e-9


def read_derived(name: str) -> pd.DataFrame:
    path = DEFAULT_OUT_DIR / name
    assert path.is_file(), f"{path} is missing: run `python -m models.demography.derive`"
    return pd.read_csv(path)


def lee_carter_pattern(sex: str) -> tuple[np.ndarray, np.ndarray]:
    pattern = read_derived("mortality_lee_carter.csv").query("sex == @sex").sort_values("age")
    assert len(pattern) == N_AGES
    assert pattern["bx"].sum() == pytest.approx(1.0, abs=1e-9)
    return pattern["ax"].to_numpy(), pattern["bx"].to_numpy()


@pytest.mark.parametrize("sex", ["female", "male"])
def test_derived_history_e0_is_matched_by_the_fit(sex):
    history = read_derived("mortality_history.csv").query("sex == @sex")
    history = history.pivot(index="year", columns="age", values="mx")
    ax, bx = lee_carter_pattern(sex)
    kt = read_derived("mortality_kt_history.csv").query("sex == @sex").set_index("year")["kt"]
    e0_data = life_expectancy(history.loc[kt.index].to_numpy(), sex)
    e0_fitted = life_expectancy(lee_carter_mx(ax, bx, kt.to_numpy()), sex)
    assert np.max(np.abs(e0_fitted - e0_data)) < E0_TOLERANCE_YEARS


@pytest.mark.parametrize("sex", ["female", "male"])
def test_derived_kt_reproduces_published_median_e0(sex):
    ax, bx = lee_carter_pattern(sex)
    kt = read_derived("mortality_kt.csv").query("sex == @sex").set_index("year")["kt"]
    published = read_derived("e0_published.csv").query("sex == @sex").set_index("year")["median"]
    years = published.index.intersection(kt.index)
    assert len(years) > 0
    e0 = life_expectancy(lee_carter_mx(ax, bx, kt.loc[years].to_numpy()), sex)
    assert np.max(np.abs(e0 - published.loc[years].to_numpy())) < E0_TOLERANCE_YEARS
