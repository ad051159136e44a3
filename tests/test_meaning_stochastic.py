"""What the Monte Carlo demography's inputs and summaries MEAN (hand cases and definitions).

* ``tfr_shift`` moves the median TFR linearly from the jump-off year: ``h/5`` of the shift
  ``h`` years after it, all of it from the fifth year on, nothing up to the jump-off
  (:func:`models.demography.stochastic.median_inputs`).
* ``mortality_drift_scale`` ``c`` stretches the median k's path after the jump-off:
  ``k̃ − k* = (c − 1)(k* − k*(t0))``.
* The closed-form spreads are the textbook ones (random walk with uncertain drift, AR(1)).
* The age-structure indicators count the persons of the stated ages.
"""

import numpy as np
import pytest

from models.config import StochasticDemographySettings
from models.demography import stochastic as st


@pytest.fixture(scope="module")
def base_inputs(arrays):
    return st.median_inputs(arrays, StochasticDemographySettings())


@pytest.mark.parametrize("shift", [0.5, -0.3])
def test_tfr_shift_is_phased_in_linearly_over_five_years(arrays, base_inputs, shift):
    shifted = st.median_inputs(arrays, StochasticDemographySettings(tfr_shift=shift))
    years = base_inputs.years
    h = years - st.JUMP_OFF_YEAR
    expected = shift * np.clip(h, 0, 5) / 5.0
    assert st.TFR_SHIFT_PHASE_IN_YEARS == 5
    assert (base_inputs.tfr > 0.8).all()  # far above the floor's knee: the shift is exact
    np.testing.assert_allclose(shifted.tfr - base_inputs.tfr, expected, rtol=0, atol=1e-12)
    first = int(np.flatnonzero(h == 1)[0])
    assert shifted.tfr[first] - base_inputs.tfr[first] == pytest.approx(shift / 5.0, abs=1e-12)
    # the ages' pattern is WPP's; only the level moves
    np.testing.assert_array_equal(shifted.asfr, base_inputs.asfr)
    np.testing.assert_array_equal(base_inputs.tfr, base_inputs.asfr.sum(axis=1))


def test_the_default_median_is_wpp_exactly(arrays, base_inputs):
    np.testing.assert_array_equal(base_inputs.tfr, base_inputs.tfr_wpp)
    k = arrays["lc_kt"].transpose("year", "sex").sel(sex=["female", "male"]).values
    np.testing.assert_array_equal(base_inputs.k, k)
    assert base_inputs.first_fertility_age == int(arrays["fertility_age"].values[0])
    np.testing.assert_array_equal(base_inputs.horizon,
                                  np.maximum(base_inputs.years - st.JUMP_OFF_YEAR, 0))


@pytest.mark.parametrize("scale", [1.5, 0.5])
def test_mortality_drift_scale_stretches_the_k_path_after_the_jump_off(arrays, base_inputs,
                                                                        scale):
    scaled = st.median_inputs(arrays, StochasticDemographySettings(mortality_drift_scale=scale))
    k = base_inputs.k
    anchor = k[list(base_inputs.years).index(st.JUMP_OFF_YEAR)]
    after = (base_inputs.years > st.JUMP_OFF_YEAR)[:, None]
    expected = np.where(after, k + (scale - 1.0) * (k - anchor), k)
    np.testing.assert_allclose(scaled.k, expected, rtol=0, atol=1e-12)


def test_a_tfr_pushed_below_the_knee_is_floored_not_negative(arrays, base_inputs):
    shifted = st.median_inputs(arrays, StochasticDemographySettings(tfr_shift=-1.0))
    raw = base_inputs.tfr - 1.0 * np.clip(base_inputs.horizon, 0, 5) / 5.0
    np.testing.assert_allclose(shifted.tfr, st.tfr_floor(raw))
    assert (shifted.tfr > 0).all()


def test_tfr_floor_by_hand():
    knee = st.TFR_FLOOR_KNEE
    assert st.tfr_floor(np.array([1.2]))[0] == 1.2
    assert st.tfr_floor(np.array([knee]))[0] == knee
    assert st.tfr_floor(np.array([0.0]))[0] == pytest.approx(knee * np.exp(-1.0))
    assert st.tfr_floor(np.array([-knee]))[0] == pytest.approx(knee * np.exp(-2.0))


def test_closed_form_spreads_by_hand():
    """Random walk with uncertain drift: Var(k_h) = h σ² + h² σ_d²; AR(1) from 0:
    Var = σ² (1 − φ^{2h}) / (1 − φ²), σ² h at φ = 1."""
    h = np.array([0.0, 1.0, 4.0, 25.0])
    np.testing.assert_allclose(st.mortality_sd(h, 2.0, 0.5),
                               np.sqrt(h * 4.0 + h**2 * 0.25))
    np.testing.assert_allclose(st.fertility_sd(h, 0.9, 0.1),
                               0.1 * np.sqrt((1 - 0.81**h) / (1 - 0.81)))
    np.testing.assert_allclose(st.fertility_sd(h, 1.0, 0.1), 0.1 * np.sqrt(h))
    assert st.fertility_sd(np.array([1.0]), 0.5, 0.2)[0] == pytest.approx(0.2)


def test_population_indicators_count_the_stated_ages():
    """One person of each sex at every age 0..100 (two per age): 0-100 = 202 persons,
    20-64 = 90, 60+ = 82, 65+ = 72."""
    ages = np.arange(101)
    pop = np.ones((101, 2))
    ind = st.population_indicators(pop, ages)
    assert ind["total"] == 202
    assert ind["working_age"] == 90
    assert ind["old_60plus"] == 82
    assert ind["old_65plus"] == 72
    assert ind["share_60plus"] == pytest.approx(82 / 202)
    assert ind["share_65plus"] == pytest.approx(72 / 202)
    assert ind["old_age_dependency_ratio"] == pytest.approx(72 / 90)
    # leading dimensions are kept, and each sex counts
    women_only = np.stack([pop, pop * np.array([1.0, 0.0])])
    out = st.population_indicators(women_only, ages)
    assert out["total"].tolist() == [202, 101]
    assert out["old_age_dependency_ratio"].tolist() == pytest.approx([72 / 90, 36 / 45])


def test_population_indicators_sum_in_double_precision():
    """A float32 population of 1.3 billion: the totals are float64 sums of the cells (float32
    accumulation would lose persons)."""
    ages = np.arange(101)
    pop = np.full((101, 2), 6_435_643.5, dtype=np.float32)
    ind = st.population_indicators(pop, ages)
    assert ind["total"].dtype == np.float64
    assert ind["total"] == pop.astype(np.float64).sum()


@pytest.fixture(scope="module")
def spread(arrays):
    return st.calibrate_spread(arrays)


def _sum_of_squares(arrays, spread, sex, params):
    s = ["female", "male"].index(sex)
    fit = spread.fit
    years = fit["fit_year"].where(fit["fit_year_calibrated"], drop=True).values.astype(int)
    tails = ["lower95", "lower80", "upper80", "upper95"]
    model = st.e0_bounds(arrays["lc_ax"].sel(sex=sex).values, arrays["lc_bx"].sel(sex=sex).values,
                         arrays["lc_kt"].sel(sex=sex, year=years).values,
                         years - st.JUMP_OFF_YEAR, sex, *params)
    published = fit["e0_fit_published"].sel(fit_year=years, bound=list(st.BOUNDS)).values[:, s]
    cols = [list(st.BOUNDS).index(b) for b in tails]
    return float(np.sum((model - published)[:, cols] ** 2))


@pytest.mark.parametrize("sex", ["female", "male"])
def test_the_mortality_spread_is_the_least_squares_fit_to_the_tail_bounds(arrays, spread, sex):
    """(σ, σ_d, λ) minimise the squared gaps to WPP's 2.5, 10, 90 and 97.5 % e0 bounds in the
    calibration years: moving any one of them by ±2 % makes the fit worse."""
    s = ["female", "male"].index(sex)
    m = spread.mortality
    best = np.array([m.innovation_sd[s], m.drift_sd[s], m.longevity_stretch[s]])
    at_best = _sum_of_squares(arrays, spread, sex, best)
    for i in range(3):
        if best[i] == 0.0:
            continue
        for step in (0.98, 1.02):
            moved = best.copy()
            moved[i] *= step
            assert _sum_of_squares(arrays, spread, sex, moved) >= at_best * (1 - 1e-9)


def test_the_returned_spread_is_the_one_the_fit_table_reports(arrays, spread):
    """The parameters handed to the simulation are those whose model bounds the fit table
    shows (not, say, σ in the place of σ_d), and ρ is the history's correlation."""
    fit = spread.fit
    years = fit["fit_year"].values.astype(int)
    m = spread.mortality
    for s, sex in enumerate(["female", "male"]):
        model = st.e0_bounds(arrays["lc_ax"].sel(sex=sex).values,
                             arrays["lc_bx"].sel(sex=sex).values,
                             arrays["lc_kt"].sel(sex=sex, year=years).values,
                             years - st.JUMP_OFF_YEAR, sex, m.innovation_sd[s], m.drift_sd[s],
                             m.longevity_stretch[s])
        np.testing.assert_allclose(fit["e0_fit_model"].sel(sex=sex).values, model, rtol=1e-12)
        assert float(fit["mortality_innovation_sd"].sel(sex=sex)) == m.innovation_sd[s]
        assert float(fit["mortality_drift_sd"].sel(sex=sex)) == m.drift_sd[s]
    assert m.innovation_sd[0] != m.drift_sd[0]
    assert m.sex_correlation == pytest.approx(
        float(spread.history["mortality_sex_correlation"]), abs=0)
    assert isinstance(m.sex_correlation, float)


def test_the_fit_table_is_labelled(spread):
    fit = spread.fit
    assert fit["e0_fit_model"].dims == ("fit_year", "sex", "bound")
    assert fit["tfr_fit_model"].dims == ("fit_year", "bound")
    assert fit["e0_fit_model"].attrs["units"] == "years"
    assert fit["e0_fit_model"].attrs["long_name"] == "model quantile of e0 (calibrated spread)"
    assert fit.attrs["e0_tolerance_years"] == st.E0_TOLERANCE_YEARS
    assert fit.attrs["tfr_tolerance"] == st.TFR_TOLERANCE
    assert fit.attrs["jump_off_year"] == st.JUMP_OFF_YEAR
