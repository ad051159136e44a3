"""Monte Carlo demography: estimators, calibration, closed forms vs simulation, invariants.

(The Lee-Carter fit reproducing historical e0 is tested in test_lee_carter.py.)
"""

import numpy as np
import pytest
import xarray as xr

from models.config import StochasticDemographySettings
from models.demography import project_median
from models.demography import stochastic as st

SEED = 20241113
#: Sample medians and s.d.s are compared with theory within this many standard errors.
N_STANDARD_ERRORS = 4.0


@pytest.fixture(scope="module")
def spread(arrays):
    return st.calibrate_spread(arrays)


def settings(**kw) -> StochasticDemographySettings:
    return StochasticDemographySettings(**kw)


def zero_spread(**kw) -> StochasticDemographySettings:
    return settings(mortality_spread_scale=0.0, fertility_spread_scale=0.0,
                    migration_noise_sd=0.0, **kw)


def run_paths(arrays, spread, s: StochasticDemographySettings, seed=SEED, dtype=np.float32):
    inputs = st.median_inputs(arrays, s)
    chunks = list(st.iter_path_chunks(inputs, spread, s, np.random.SeedSequence(seed), dtype))
    return {name: np.concatenate([getattr(c, name) for c in chunks])
            for name in ("population", "population_end", "births", "deaths", "k", "tfr",
                         "migration_factor")}


# ---------------------------------------------------------------------------- history estimators
def test_mean_difference_weight_matches_brute_force():
    """Σ w² of the annual innovations in the difference of consecutive n-year means."""
    for n in (1, 2, 5, 7):
        # k_j = Σ_{i<=j} ε_i for years 0..2n-1; means of years [0, n) and [n, 2n)
        cumulative = np.tril(np.ones((2 * n, 2 * n)))
        diff = cumulative[n:].mean(axis=0) - cumulative[:n].mean(axis=0)
        assert st._mean_difference_weight(n) == pytest.approx(np.sum(diff**2))


def test_history_estimators_recover_a_simulated_walk():
    """5-year means of an annual random walk with drift -2.5 and s.d. 1.5 (many periods)."""
    rng = np.random.default_rng(np.random.SeedSequence(SEED))
    n_periods, n = 4000, st.HISTORY_PERIOD_YEARS
    rho = 0.8
    z = rng.standard_normal((n_periods * n, 2))
    z[:, 1] = rho * z[:, 0] + np.sqrt(1 - rho**2) * z[:, 1]
    k = np.cumsum(-2.5 + 1.5 * z, axis=0)
    means = k.reshape(n_periods, n, 2).mean(axis=1)
    history = xr.DataArray(means, dims=("history_year", "sex"),
                           coords={"history_year": 1970 + n * np.arange(n_periods),
                                   "sex": ["female", "male"]})
    est = st.historical_k_variation(history)
    np.testing.assert_allclose(est["mortality_drift_history"], -2.5, atol=0.01)
    np.testing.assert_allclose(est["mortality_innovation_sd_history"], 1.5, rtol=0.04)
    assert float(est["mortality_sex_correlation"]) == pytest.approx(rho, abs=0.03)
    # drift s.d.: σ sqrt(T - n + 3.4) / T with T = 5 (P - 1)
    span = n * (n_periods - 1)
    np.testing.assert_allclose(est["mortality_drift_sd_history"],
                               est["mortality_innovation_sd_history"]
                               * np.sqrt(span - n + 3.4) / span)


# ---------------------------------------------------------------------------- calibration
def test_calibrated_bounds_match_published_within_tolerance(spread):
    fit = spread.fit
    cal_years = fit["fit_year"].where(fit["fit_year_calibrated"], drop=True).values
    assert list(cal_years) == list(st.CALIBRATION_YEARS)
    tails = ["lower95", "lower80", "upper80", "upper95"]
    e0_gap = (fit["e0_fit_model"] - fit["e0_fit_published"]).sel(fit_year=cal_years, bound=tails)
    tfr_gap = (fit["tfr_fit_model"] - fit["tfr_fit_published"]).sel(fit_year=cal_years, bound=tails)
    assert float(abs(e0_gap).max()) <= st.E0_TOLERANCE_YEARS
    assert float(abs(tfr_gap).max()) <= st.TFR_TOLERANCE
    # medians are the calibration's: e0 to the precision of the stored k (test_lee_carter)
    assert float(abs(fit["e0_fit_model"] - fit["e0_fit_published"]).sel(bound="median").max()) < 0.01
    assert float(abs(fit["tfr_fit_model"] - fit["tfr_fit_published"]).sel(bound="median").max()) < 1e-6


def test_calibrated_spread_is_wider_than_history_and_parameters_are_valid(spread):
    m, f = spread.mortality, spread.fertility
    assert np.all(m.innovation_sd > spread.history["mortality_innovation_sd_history"].values)
    assert np.all(m.drift_sd > spread.history["mortality_drift_sd_history"].values)
    assert np.all(m.longevity_stretch >= 0)
    assert 0.0 < m.sex_correlation < 1.0
    assert 0.0 <= f.persistence < 1.0 and f.innovation_sd > 0


def test_model_quantiles_are_ordered(spread):
    fit = spread.fit
    assert (fit["e0_fit_model"].diff("bound") > 0).all()
    assert (fit["tfr_fit_model"].diff("bound") > 0).all()
    assert (fit["e0_fit_published"].diff("bound") > 0).all()


# ---------------------------------------------------------------------------- closed forms
def test_stretch_is_increasing_and_keeps_zero():
    u = np.linspace(-6, 6, 2001)
    for lam in (0.0, 0.3, 1.0):
        g = st._stretch(u, lam)
        assert np.all(np.diff(g) > 0)
        assert st._stretch(np.array(0.0), lam) == 0.0
        np.testing.assert_array_equal(g[u >= 0], u[u >= 0])


def test_tfr_floor_is_positive_increasing_and_the_identity_above_the_knee():
    u = np.linspace(-3.0, 3.0, 6001)
    v = st.tfr_floor(u)
    assert np.all(v > 0) and np.all(np.diff(v) > 0)
    above = u >= st.TFR_FLOOR_KNEE
    np.testing.assert_array_equal(v[above], u[above])
    eps = 1e-7  # continuous with slope one at the knee
    knee = st.TFR_FLOOR_KNEE
    assert (st.tfr_floor(knee) - st.tfr_floor(knee - eps)) / eps == pytest.approx(1.0, rel=1e-5)


def test_simulated_spread_matches_closed_forms(arrays, spread):
    """Variance of the Gaussian walk (λ = 0), sex correlation and the AR(1) TFR s.d."""
    inputs = st.median_inputs(arrays, settings())
    n = 6000
    plain = st.MortalitySpread(spread.mortality.innovation_sd, spread.mortality.drift_sd,
                               np.zeros(2), spread.mortality.sex_correlation)
    drawn = st.draw_path_inputs(inputs, plain, spread.fertility, 0.0,
                                np.random.SeedSequence(SEED), np.arange(n))
    for year in (2050, 2100):
        t = list(inputs.years).index(year)
        h = year - st.JUMP_OFF_YEAR
        dev = drawn["k"][:, t, :] - inputs.k[t]
        sd = st.mortality_sd(h, plain.innovation_sd, plain.drift_sd)
        # s.d. of a sample s.d. of normals: sd / sqrt(2 (n - 1))
        np.testing.assert_allclose(dev.std(axis=0), sd,
                                   rtol=N_STANDARD_ERRORS / np.sqrt(2 * (n - 1)))
        # corr(X_f, X_m) = ρ (h σ_f σ_m + h² σ_d,f σ_d,m) / (sd_f sd_m): ρ when σ ∝ σ_d
        rho = plain.sex_correlation * (h * np.prod(plain.innovation_sd)
                                       + h * h * np.prod(plain.drift_sd)) / np.prod(sd)
        sample_rho = np.corrcoef(dev[:, 0], dev[:, 1])[0, 1]
        assert sample_rho == pytest.approx(rho, abs=N_STANDARD_ERRORS * (1 - rho**2) / np.sqrt(n))
        tfr_dev = drawn["tfr"][:, t] - inputs.tfr[t]
        tfr_sd = st.fertility_sd(h, spread.fertility.persistence, spread.fertility.innovation_sd)
        # the floor bends only below 0.3 children, > 3 s.d. below the median: ignore it here
        assert tfr_dev.std() == pytest.approx(tfr_sd, rel=N_STANDARD_ERRORS / np.sqrt(2 * (n - 1))
                                              + 0.01)


def test_simulated_bounds_are_the_closed_form_quantiles(arrays, spread):
    """The share of simulated paths below the closed-form quantile q_p (e0, TFR; calibrated
    spread, stretch included) is p within its binomial standard error."""
    inputs = st.median_inputs(arrays, settings())
    n = 6000
    drawn = st.draw_path_inputs(inputs, spread.mortality, spread.fertility, 0.0,
                                np.random.SeedSequence(SEED + 3), np.arange(n))
    probs = np.asarray(st.BOUND_PROBABILITIES)
    tolerance = N_STANDARD_ERRORS * np.sqrt(probs * (1 - probs) / n)
    for year in (2050, 2100):
        t = list(inputs.years).index(year)
        for s, sex in enumerate(("female", "male")):
            e0 = st.e0_of_k(inputs.ax[:, s], inputs.bx[:, s], drawn["k"][:, t, s], sex)
            q = spread.fit["e0_fit_model"].sel(fit_year=year, sex=sex).values
            share = (e0[:, None] <= q[None, :]).mean(axis=0)
            np.testing.assert_array_less(np.abs(share - probs), tolerance)
        q = spread.fit["tfr_fit_model"].sel(fit_year=year).values
        share = (drawn["tfr"][:, t, None] <= q[None, :]).mean(axis=0)
        np.testing.assert_array_less(np.abs(share - probs), tolerance)


def test_median_of_paths_is_the_zero_shock_path(arrays, spread):
    """Theory: the Gaussian walk is symmetric about 0 and the stretch g and the TFR floor are
    increasing with g(0) = 0, so the median of k(t) is the zero-shock k̃(t) and the median of
    TFR(t) is TFR̃(t); e0 is a decreasing function of k, so its median is e0(k̃(t)). The sample
    median's standard error is sqrt(π/2) σ / sqrt(N) (σ: the spread at the median)."""
    inputs = st.median_inputs(arrays, settings())
    n = 6000
    drawn = st.draw_path_inputs(inputs, spread.mortality, spread.fertility, 0.0,
                                np.random.SeedSequence(SEED + 1), np.arange(n))
    se_factor = N_STANDARD_ERRORS * np.sqrt(np.pi / 2) / np.sqrt(n)
    for year in (2030, 2050, 2075, 2100):
        t = list(inputs.years).index(year)
        h = year - st.JUMP_OFF_YEAR
        sd_k = st.mortality_sd(h, spread.mortality.innovation_sd, spread.mortality.drift_sd)
        np.testing.assert_array_less(np.abs(np.median(drawn["k"][:, t], axis=0) - inputs.k[t]),
                                     se_factor * sd_k)
        sd_tfr = st.fertility_sd(h, spread.fertility.persistence, spread.fertility.innovation_sd)
        assert abs(np.median(drawn["tfr"][:, t]) - inputs.tfr[t]) < se_factor * sd_tfr
        for s, sex in enumerate(("female", "male")):
            e0 = st.e0_of_k(inputs.ax[:, s], inputs.bx[:, s], drawn["k"][:, t, s], sex)
            e0_zero = st.e0_of_k(inputs.ax[:, s], inputs.bx[:, s], inputs.k[t, s], sex)
            # slope of e0 in k at the median turns the k tolerance into years
            slope = abs(st.e0_of_k(inputs.ax[:, s], inputs.bx[:, s], inputs.k[t, s] + 1.0, sex)
                        - e0_zero)
            assert abs(np.median(e0) - e0_zero) < 1.5 * slope * se_factor * sd_k[s]


def test_median_population_is_close_to_the_zero_shock_path(arrays, spread):
    """Not exact (the population is a nonlinear function of every year's shocks), but over a
    decade it is close to linear in symmetric shocks, so its median should be within a few
    tenths of a percent of the zero-shock population."""
    paths = run_paths(arrays, spread, settings(paths=600, chunk_size=300))
    det = project_median(arrays)
    total = paths["population"].sum(axis=(-2, -1), dtype=np.float64)
    zero = det["population"].sum(("age", "sex")).values
    t = list(det["year"].values).index(2035)
    assert abs(np.median(total[:, t]) / zero[t] - 1.0) < 0.005


# ---------------------------------------------------------------------------- engine invariants
def test_default_median_demography_is_the_deterministic_projection(arrays):
    det = project_median(arrays)
    med = st.median_demography(arrays, settings())
    for name in det.data_vars:
        np.testing.assert_array_equal(med[name].values, det[name].values)


def test_zero_variance_reproduces_the_deterministic_projection_exactly(arrays, spread):
    det = project_median(arrays)
    out = run_paths(arrays, spread, zero_spread(paths=5, chunk_size=2), dtype=np.float64)
    for p in range(5):
        np.testing.assert_array_equal(out["population"][p], det["population"].values)
        np.testing.assert_array_equal(out["population_end"][p], det["population_end"].values)
        np.testing.assert_array_equal(out["births"][p], det["births"].values)
        np.testing.assert_array_equal(out["deaths"][p], det["deaths"].values)
    # float32 (the engine's default) agrees to single precision
    out32 = run_paths(arrays, spread, zero_spread(paths=2, chunk_size=2))
    np.testing.assert_allclose(out32["population"][1], det["population"].values, rtol=2e-5,
                               atol=1.0)


def test_same_seed_gives_identical_paths_whatever_the_chunk_size(arrays, spread):
    reference = run_paths(arrays, spread, settings(paths=12, chunk_size=12, migration_noise_sd=0.3))
    for chunk in (1, 5, 7):
        other = run_paths(arrays, spread, settings(paths=12, chunk_size=chunk,
                                                    migration_noise_sd=0.3))
        for name, values in reference.items():
            np.testing.assert_array_equal(other[name], values, err_msg=f"{name}, chunk {chunk}")
    # the first paths of a larger run are the same paths
    more = run_paths(arrays, spread, settings(paths=20, chunk_size=8, migration_noise_sd=0.3))
    np.testing.assert_array_equal(more["population"][:12], reference["population"])
    different = run_paths(arrays, spread, settings(paths=12, chunk_size=12,
                                                   migration_noise_sd=0.3), seed=SEED + 7)
    assert not np.array_equal(different["k"], reference["k"])


def test_path_seed_is_what_spawn_makes():
    root = np.random.SeedSequence(SEED)
    for j, purpose in enumerate(st.PURPOSES):
        children = np.random.SeedSequence(SEED).spawn(len(st.PURPOSES))[j].spawn(9)
        for p in (0, 4, 8):
            np.testing.assert_array_equal(st.path_seed(root, purpose, p).generate_state(4),
                                          children[p].generate_state(4))


def test_purposes_have_separate_streams(arrays, spread):
    """Turning on migration noise leaves the mortality and fertility draws unchanged."""
    quiet = run_paths(arrays, spread, settings(paths=4, chunk_size=4))
    noisy = run_paths(arrays, spread, settings(paths=4, chunk_size=4, migration_noise_sd=0.5))
    np.testing.assert_array_equal(quiet["k"], noisy["k"])
    np.testing.assert_array_equal(quiet["tfr"], noisy["tfr"])
    assert not np.array_equal(quiet["population"], noisy["population"])


@pytest.fixture(scope="module")
def extreme(arrays, spread):
    """Wide spreads, noisy migration and a low TFR: the invariants must still hold."""
    s = settings(paths=60, chunk_size=25, tfr_shift=-0.8, mortality_spread_scale=3.0,
                 fertility_spread_scale=3.0, migration_noise_sd=1.5)
    return run_paths(arrays, spread, s, seed=SEED + 2)


def test_no_negative_population_and_tfr_stays_positive(extreme):
    assert (extreme["population"] >= 0).all() and (extreme["population_end"] >= 0).all()
    assert (extreme["births"] >= 0).all() and (extreme["deaths"] >= 0).all()
    assert (extreme["tfr"] > 0).all()


def test_deaths_never_exceed_the_population_at_risk(extreme):
    at_risk = extreme["population"].sum(axis=-2, dtype=np.float64) + extreme["births"]
    assert (extreme["deaths"] <= at_risk * (1 + 1e-6)).all()


def test_years_before_the_jump_off_are_the_same_on_every_path(extreme, arrays):
    years = arrays["year"].values
    before = years <= st.JUMP_OFF_YEAR
    k = extreme["k"][:, before]
    np.testing.assert_array_equal(k, np.broadcast_to(k[:1], k.shape))
    pop = extreme["population"][:, years <= st.JUMP_OFF_YEAR + 1]  # stocks to 1 Jan 2024
    np.testing.assert_array_equal(pop, np.broadcast_to(pop[:1], pop.shape))


def test_indicators_are_consistent(extreme, arrays):
    ind = st.population_indicators(extreme["population"], arrays["age"].values)
    assert np.all(ind["old_65plus"] <= ind["old_60plus"])
    assert np.all(ind["old_65plus"] + ind["working_age"] <= ind["total"] * (1 + 1e-12))
    np.testing.assert_allclose(ind["share_65plus"], ind["old_65plus"] / ind["total"])


def test_knobs_move_the_median_in_the_right_direction(arrays):
    base = st.median_inputs(arrays, settings())
    more_children = st.median_inputs(arrays, settings(tfr_shift=0.5))
    faster = st.median_inputs(arrays, settings(mortality_drift_scale=1.5))
    years = base.years
    after = years >= st.JUMP_OFF_YEAR + st.TFR_SHIFT_PHASE_IN_YEARS
    np.testing.assert_allclose((more_children.tfr - base.tfr)[after], 0.5)
    np.testing.assert_array_equal(more_children.tfr[years <= st.JUMP_OFF_YEAR],
                                  base.tfr[years <= st.JUMP_OFF_YEAR])
    assert np.all(faster.k[years > st.JUMP_OFF_YEAR + 1] < base.k[years > st.JUMP_OFF_YEAR + 1])
    np.testing.assert_array_equal(faster.k[years <= st.JUMP_OFF_YEAR],
                                  base.k[years <= st.JUMP_OFF_YEAR])
