"""Monte Carlo demography: stochastic Lee–Carter mortality, stochastic fertility, noisy migration.

Every path starts from the same base population and the same estimated years (to the WPP
jump-off year :data:`JUMP_OFF_YEAR`, the last year of estimates); shocks begin the year after.
``h = t − JUMP_OFF_YEAR`` is the forecast horizon in years.

Mortality (Lee & Carter 1992, with the drift uncertainty of their appendix)
    ``k_s(t) = k̃_s(t) + d_s(t)`` by sex ``s``, around the median path ``k̃`` (the calibration's
    ``lc_kt``, solved so that e0 equals the WPP 2024 median; ``mortality_drift_scale`` c
    multiplies its improvement from the jump-off: ``k̃ = k*(t0) + c (k*(t) − k*(t0))``).
    The deviation is a random walk whose drift is itself uncertain,

        X_s(h) = σ_s Σ_{j=1..h} ε_s(j) + h σ_{d,s} δ_s,         ε, δ ~ N(0, 1),
        sd_s(h) = sqrt(h σ_s² + h² σ_{d,s}²),

    so the spread grows like ``sqrt(h)`` from year-to-year noise and like ``h`` from not
    knowing the drift — the term that keeps long-run bands from being too narrow (Lee & Carter
    1992, appendix B). A fixed age pattern b(x) makes e0 concave in k: a symmetric k gives e0 a
    short upper tail, shorter than WPP's. The deviation therefore stretches the
    high-longevity (low-k) side by a median-preserving monotone map,

        d_s(t) = sd_s(h) g_s(X_s(h) / sd_s(h)),   g(u) = u for u ≥ 0,  u (1 − λ_s u) for u < 0,

    so ``k`` is an increasing transform of a Gaussian random walk with uncertain drift:
    ``λ = 0`` is the plain Lee–Carter walk; the median of k is ``k̃`` exactly, and the
    quantiles of k and of e0 (decreasing in k) are closed form:
    ``q_p(e0) = e0(k̃ + sd g(z_{1−p}))``.

    The sexes move together: ``corr(ε_f, ε_m) = corr(δ_f, δ_m) = ρ``, the correlation of the
    historical 5-year changes of k (0.95; the drift estimates' errors share it because both
    are means of the same correlated innovations). The deviations of k are then correlated
    ``ρ (h σ_f σ_m + h² σ_{d,f} σ_{d,m}) / (sd_f sd_m)`` (0.94 in 2050: ρ itself only if
    σ/σ_d were the same for both sexes). WPP projects male e0 from female e0 through a
    gap model, so its male and female e0 are also close to perfectly correlated.

Fertility
    ``TFR(t) = φ⁺(TFR̃(t) + x(t))`` with ``x(t) = φ x(t−1) + σ_f η(t)``, ``x(t0) = 0``:
    a mean-reverting AR(1) on the *level* of TFR around the median TFR̃ (WPP median plus
    ``tfr_shift``, phased in linearly over :data:`TFR_SHIFT_PHASE_IN_YEARS` years). The level
    (not the log) because WPP's TFR bounds are close to symmetric in children per woman
    (2100: median 1.35, 80 % 0.85..1.79); a log-AR(1) puts the upper bounds 0.1-0.25 too high.
    ``φ⁺`` keeps TFR positive: the identity above :data:`TFR_FLOOR_KNEE` and
    ``a exp((u − a)/a)`` below it (continuous with slope one at ``a``, increasing, > 0).
    It is monotone, so the median TFR is TFR̃ and the quantiles are closed form.
    Age pattern: the median ASFR scaled, ``f(x, t) = f̃(x, t) TFR(t) / TFR̃*(t)``.
    Sex ratio at birth: the calibration's (WPP) path on every path.

Migration
    ``M(t, x, s) = M̃(t, x, s) (1 + σ_m ξ(t))``, ``ξ ~ N(0, 1)`` i.i.d. by path and year, one
    factor for all ages and sexes; ``σ_m = migration_noise_sd`` (0: the median on every path).

Calibration (:func:`calibrate_spread`, a pure function of the calibration arrays, < 1 s)
    History: the 5-year period k's give the drift, the annual innovation s.d. (the variance
    of changes between consecutive 5-year means is ``(2n² + 1)/(3n) σ² = 3.4 σ²`` for
    ``n = 5``) and the s.d. of the estimated drift (``σ sqrt(W)/T`` with ``W`` the summed
    squared weights of the innovations in the difference of the first and last means ``T``
    years apart). These history values are reported; they give bands about four times too
    narrow beside WPP's (a 50-year history of steady decline), so the spread is calibrated:
    ``(σ_s, σ_{d,s}, λ_s)`` minimise the squared gaps between the model's and WPP's 80 % and
    95 % e0 bounds in :data:`CALIBRATION_YEARS` (nonlinear least squares), and ``(φ, σ_f)``
    those of TFR. Closed-form quantiles make it fast and exact (no simulation noise).
    Tolerances: :data:`E0_TOLERANCE_YEARS`, :data:`TFR_TOLERANCE`.

Monte Carlo (:func:`iter_path_chunks`)
    Seeds: the demography takes a ``numpy.random.SeedSequence``; child ``i`` of it is the
    purpose ``PURPOSES[i]`` (mortality, fertility, migration), and child ``p`` of a purpose is
    path ``p`` (exactly what ``SeedSequence.spawn`` makes), so a path's numbers depend only on
    the seed, the purpose and the path number: never on the chunk size or the number of paths,
    and turning migration noise on leaves the mortality and fertility draws unchanged.
    Paths are projected in chunks (vectorised over the chunk's paths, a loop over years) with
    the cohort-component equations of :func:`models.demography.projection.project_cohort_component`
    in the same order (at float64 a zero-shock path equals :func:`models.demography.project`
    bit for bit); death rates are computed year by year, so memory is one chunk's population.

References
----------
Lee, R. D. & Carter, L. R. (1992). Modeling and forecasting U.S. mortality. *JASA* 87, 659-671.
United Nations (2024). *World Population Prospects 2024: Methodology of the United Nations
population estimates and projections* (probabilistic e0 and TFR projections).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.optimize import least_squares
from scipy.stats import norm

from models.config import (
    FIRST_PUBLISHED_PROJECTION_YEAR,
    SEXES,
    StochasticDemographySettings,
)
from models.demography import mortality_rates, project
from models.demography.lee_carter import lee_carter_mx
from models.demography.lifetable import life_expectancy
from models.parallel import map_chunks, path_chunks

__all__ = [
    "BOUNDS",
    "BOUND_PROBABILITIES",
    "CALIBRATION_YEARS",
    "JUMP_OFF_YEAR",
    "MedianInputs",
    "MortalitySpread",
    "FertilitySpread",
    "SpreadCalibration",
    "PathChunk",
    "historical_k_variation",
    "calibrate_spread",
    "median_inputs",
    "median_demography",
    "draw_path_inputs",
    "project_paths",
    "iter_path_chunks",
    "simulate_path_chunk",
    "path_seed",
    "population_indicators",
    "e0_of_k",
]

#: Last year of WPP estimates: shocks start the year after (WPP 2024 projects from 2024).
JUMP_OFF_YEAR = FIRST_PUBLISHED_PROJECTION_YEAR - 1
#: Purposes of the demography's random numbers: child i of its SeedSequence is PURPOSES[i].
PURPOSES = ("mortality", "fertility", "migration")
BOUNDS = ("lower95", "lower80", "median", "upper80", "upper95")
BOUND_PROBABILITIES = (0.025, 0.10, 0.50, 0.90, 0.975)
#: Years whose published 80 % and 95 % bounds the spread is fitted to.
CALIBRATION_YEARS = (2050, 2100)
#: Further years shown beside the fit (not fitted).
CHECK_YEARS = (2030, 2075)
#: Largest gap (years) between a model and a WPP e0 bound in a calibration year.
E0_TOLERANCE_YEARS = 1.0
#: Largest gap (children per woman) between a model and a WPP TFR bound in a calibration year.
TFR_TOLERANCE = 0.075
#: TFR below which the positivity map bends (children per woman); far below WPP's lowest
#: published bound (0.60), so the calibration does not feel it.
TFR_FLOOR_KNEE = 0.3
#: Years over which a ``tfr_shift`` of the median is phased in linearly from the jump-off.
TFR_SHIFT_PHASE_IN_YEARS = 5
#: Length of the periods of the k history (years).
HISTORY_PERIOD_YEARS = 5
#: Working ages (inclusive) of the summaries: 20-64, the ages that carry the pension system
#: once the 2024 law and any further delay take effect (and the optimizer's tree observable).
WORKING_AGES = (20, 64)
#: Old age of the old-age dependency ratio (65+ / 20-64, the UN convention's old age).
OLD_AGE = 65


# ---------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class MortalitySpread:
    """Spread of the Lee–Carter k by sex (arrays ordered as :data:`models.config.SEXES`)."""

    innovation_sd: np.ndarray  #: σ, s.d. of the annual change of k (k units per year)
    drift_sd: np.ndarray  #: σ_d, s.d. of the drift (k units per year)
    longevity_stretch: np.ndarray  #: λ, stretch of the low-k (long-life) side, 1
    sex_correlation: float  #: ρ, correlation of the female and male shocks

    def scaled(self, factor: float) -> MortalitySpread:
        """The spread with σ and σ_d multiplied by ``factor`` (deviations of k scale with it)."""
        return MortalitySpread(self.innovation_sd * factor, self.drift_sd * factor,
                               self.longevity_stretch, self.sex_correlation)


@dataclass(frozen=True)
class FertilitySpread:
    """AR(1) of the TFR level around its median."""

    persistence: float  #: φ, per year
    innovation_sd: float  #: σ_f, children per woman

    def scaled(self, factor: float) -> FertilitySpread:
        return FertilitySpread(self.persistence, self.innovation_sd * factor)


@dataclass(frozen=True)
class SpreadCalibration:
    """Calibrated spread parameters and the fit table (model vs published bounds)."""

    mortality: MortalitySpread
    fertility: FertilitySpread
    history: xr.Dataset  #: drift, innovation and drift s.d. of k estimated from the history
    fit: xr.Dataset  #: e0 and TFR bounds, model vs published, with the parameters


@dataclass(frozen=True)
class MedianInputs:
    """The median (zero-shock) inputs of the projection, NumPy arrays over ``years``."""

    years: np.ndarray  #: (T,) calendar years
    ages: np.ndarray  #: (A,) ages 0..100
    base_population: np.ndarray  #: (A, 2) persons, 1 January of the base year
    ax: np.ndarray  #: (A, 2) Lee–Carter a(x)
    bx: np.ndarray  #: (A, 2) Lee–Carter b(x)
    k: np.ndarray  #: (T, 2) median k (with the drift scale)
    tfr: np.ndarray  #: (T,) median TFR (with the shift), children per woman
    asfr: np.ndarray  #: (T, F) WPP median ASFR (no shift), births per woman per year
    tfr_wpp: np.ndarray  #: (T,) WPP median TFR, the sum of ``asfr``
    first_fertility_age: int
    sex_ratio_at_birth: np.ndarray  #: (T,) male per female births
    net_migration: np.ndarray  #: (T, A, 2) persons per year

    @property
    def horizon(self) -> np.ndarray:
        """Years since the jump-off (0 up to and including it), (T,)."""
        return np.maximum(self.years - JUMP_OFF_YEAR, 0)


# ---------------------------------------------------------------------------- history
def _mean_difference_weight(n: int) -> float:
    """Summed squared weights of the annual innovations in the difference of two consecutive
    ``n``-year means of a random walk: ``(Σ_{j≤n} j² + Σ_{j<n} j²)/n² = (2n² + 1)/(3n)``."""
    return (2.0 * n * n + 1.0) / (3.0 * n)


def historical_k_variation(kt_history: xr.DataArray,
                           period_years: int = HISTORY_PERIOD_YEARS) -> xr.Dataset:
    """Drift, innovation s.d. and drift s.d. of k from the 5-year period history, by sex.

    ``kt_history[history_year, sex]`` are the k's of consecutive ``period_years``-year
    periods (each the mean over its years of an annual random walk with drift θ and
    innovation s.d. σ). With ``Δ_p`` the changes between consecutive periods:
    ``θ̂ = mean(Δ) / n``; ``Var(Δ) = (2n² + 1)/(3n) σ²`` gives σ; the drift estimate
    ``(k̄_last − k̄_first)/T`` has s.d. ``σ sqrt(T − n + (2n² + 1)/(3n)) / T``; ρ is the
    correlation of the female and male ``Δ``.
    """
    k = kt_history.transpose("history_year", "sex").sel(sex=list(SEXES)).values
    n = period_years
    diffs = np.diff(k, axis=0)
    span = n * diffs.shape[0]
    innovation_sd = diffs.std(axis=0, ddof=1) / np.sqrt(_mean_difference_weight(n))
    drift_sd = innovation_sd * np.sqrt(span - n + _mean_difference_weight(n)) / span
    rho = float(np.corrcoef(diffs[:, 0], diffs[:, 1])[0, 1])
    coords = {"sex": list(SEXES)}
    return xr.Dataset(
        {
            "mortality_drift_history": ("sex", diffs.mean(axis=0) / n,
                                        {"units": "k per year",
                                         "long_name": "historical drift of the Lee-Carter k"}),
            "mortality_innovation_sd_history": (
                "sex", innovation_sd,
                {"units": "k per year", "long_name": "historical s.d. of the annual change of k"}),
            "mortality_drift_sd_history": (
                "sex", drift_sd,
                {"units": "k per year", "long_name": "s.d. of the historical drift estimate"}),
            "mortality_sex_correlation": ((), rho, {
                "units": "1",
                "long_name": "correlation of female and male changes of k (history)"}),
        },
        coords=coords,
        attrs={"history_years": f"{int(kt_history['history_year'][0])}-"
                                f"{int(kt_history['history_year'][-1]) + n - 1}"},
    )


# ---------------------------------------------------------------------------- closed forms
def _stretch(u: np.ndarray, stretch: np.ndarray | float) -> np.ndarray:
    """``g(u) = u`` for ``u ≥ 0``, ``u (1 − λ u)`` for ``u < 0``: increasing, ``g(0) = 0``."""
    return np.where(u < 0.0, u * (1.0 - stretch * u), u)


def mortality_sd(horizon: np.ndarray, innovation_sd, drift_sd) -> np.ndarray:
    """``sd(h) = sqrt(h σ² + h² σ_d²)``, the s.d. of the Gaussian walk at horizon ``h``."""
    h = np.asarray(horizon, dtype=float)
    return np.sqrt(h * np.square(innovation_sd) + h * h * np.square(drift_sd))


def fertility_sd(horizon: np.ndarray, persistence: float, innovation_sd: float) -> np.ndarray:
    """``sd(h) = σ sqrt((1 − φ^{2h}) / (1 − φ²))`` of the AR(1) started at 0 (``σ√h`` at
    φ = 1)."""
    h = np.asarray(horizon, dtype=float)
    phi2 = persistence * persistence
    if abs(1.0 - phi2) < 1e-12:
        return innovation_sd * np.sqrt(h)
    return innovation_sd * np.sqrt((1.0 - phi2**h) / (1.0 - phi2))


def tfr_floor(u: np.ndarray, knee: float = TFR_FLOOR_KNEE) -> np.ndarray:
    """Positivity map of the TFR: ``u`` above ``knee``, ``knee exp((u − knee)/knee)`` below."""
    u = np.asarray(u)
    return np.where(u >= knee, u, knee * np.exp((np.minimum(u, knee) - knee) / knee))


def e0_of_k(ax: np.ndarray, bx: np.ndarray, k: np.ndarray, sex: str,
            block: int = 20_000) -> np.ndarray:
    """Life-table e0 (years) of ``exp(a + b k)`` for every k (any shape), in blocks of k's."""
    flat = np.asarray(k, dtype=float).ravel()
    out = np.empty(flat.shape)
    for start in range(0, flat.size, block):
        part = flat[start:start + block]
        out[start:start + block] = life_expectancy(lee_carter_mx(ax, bx, part), sex)
    return out.reshape(np.shape(k))


def e0_bounds(ax: np.ndarray, bx: np.ndarray, k_median: np.ndarray, horizon: np.ndarray,
              sex: str, innovation_sd: float, drift_sd: float, stretch: float,
              probabilities=BOUND_PROBABILITIES) -> np.ndarray:
    """Model quantiles of e0, ``e0(k̃ + sd(h) g(z_{1−p}))``, shape (year, probability)."""
    z = norm.ppf(1.0 - np.asarray(probabilities))
    sd = mortality_sd(horizon, innovation_sd, drift_sd)
    k = np.asarray(k_median)[:, None] + sd[:, None] * _stretch(z[None, :], stretch)
    return e0_of_k(ax, bx, k, sex)


def tfr_bounds(tfr_median: np.ndarray, horizon: np.ndarray, persistence: float,
               innovation_sd: float, probabilities=BOUND_PROBABILITIES) -> np.ndarray:
    """Model quantiles of the TFR, ``φ⁺(TFR̃ + z_p sd(h))``, shape (year, probability)."""
    z = norm.ppf(np.asarray(probabilities))
    sd = fertility_sd(horizon, persistence, innovation_sd)
    return tfr_floor(np.asarray(tfr_median)[:, None] + sd[:, None] * z[None, :])


# ---------------------------------------------------------------------------- calibration
def _published(arr: xr.DataArray, years, bounds=BOUNDS) -> np.ndarray:
    return arr.sel(published_year=list(years), bound=list(bounds)).values


def _spread_fit_table(fit_years: list, fitted: np.ndarray, e0_model: np.ndarray,
                      e0_pub: np.ndarray, tfr_model: np.ndarray, tfr_pub: np.ndarray,
                      mortality: MortalitySpread, fertility: FertilitySpread) -> xr.Dataset:
    """The fit table of :func:`calibrate_spread`: model and published bounds of e0
    ``(fit_year, sex, bound)`` and of the TFR ``(fit_year, bound)``, and the fitted parameters."""
    dims_e0, dims_tfr = ("fit_year", "sex", "bound"), ("fit_year", "bound")
    return xr.Dataset(
        {
            "e0_fit_model": (dims_e0, e0_model,
                             {"units": "years",
                              "long_name": "model quantile of e0 (calibrated spread)"}),
            "e0_fit_published": (dims_e0, e0_pub,
                                 {"units": "years", "long_name": "WPP 2024 bound of e0"}),
            "tfr_fit_model": (dims_tfr, tfr_model,
                              {"units": "children per woman",
                               "long_name": "model quantile of the TFR (calibrated spread)"}),
            "tfr_fit_published": (dims_tfr, tfr_pub, {"units": "children per woman",
                                                      "long_name": "WPP 2024 bound of the TFR"}),
            "mortality_innovation_sd": ("sex", mortality.innovation_sd,
                                        {"units": "k per year",
                                         "long_name": "calibrated s.d. of the annual change of k"}),
            "mortality_drift_sd": ("sex", mortality.drift_sd,
                                   {"units": "k per year",
                                    "long_name": "calibrated s.d. of the drift of k"}),
            "mortality_longevity_stretch": ("sex", mortality.longevity_stretch,
                                            {"units": "1", "long_name": "calibrated stretch of the "
                                             "low-k (long-life) side of the k distribution"}),
            "fertility_persistence": ((), fertility.persistence,
                                      {"units": "per year", "long_name": "AR(1) persistence of TFR"}),
            "fertility_innovation_sd": ((), fertility.innovation_sd,
                                        {"units": "children per woman",
                                         "long_name": "s.d. of the annual TFR innovation"}),
        },
        coords={"fit_year": fit_years, "sex": list(SEXES), "bound": list(BOUNDS),
                "bound_probability": ("bound", list(BOUND_PROBABILITIES)),
                "fit_year_calibrated": ("fit_year", fitted)},
        attrs={"e0_tolerance_years": E0_TOLERANCE_YEARS, "tfr_tolerance": TFR_TOLERANCE,
               "jump_off_year": JUMP_OFF_YEAR},
    )


def calibrate_spread(arrays: xr.Dataset, calibration_years=CALIBRATION_YEARS,
                     check_years=CHECK_YEARS) -> SpreadCalibration:
    """Fit the spread of k and of TFR to WPP's published 80 % and 95 % bounds.

    Per sex, ``(σ, σ_d, λ) ≥ 0`` minimise ``Σ (q_model − q_WPP)²`` over the four bounds
    (2.5, 10, 90, 97.5 %) of e0 in ``calibration_years`` (``scipy.optimize.least_squares``,
    trust-region reflective, started from the history values); ``(φ ∈ [0, 0.999], σ_f ≥ 0)``
    likewise for the TFR. The medians are the calibration's (model median = WPP median).
    Returns the parameters, the history estimates and a fit table over ``calibration_years``
    and ``check_years`` (model vs published, every bound).
    """
    history = historical_k_variation(arrays["lc_kt_history"])
    fit_years = sorted(set(calibration_years) | set(check_years))
    fitted = np.isin(fit_years, calibration_years)
    tail = [0, 1, 3, 4]  # the 80 % and 95 % bounds (the median is matched by construction)
    horizon = np.asarray(fit_years) - JUMP_OFF_YEAR

    params, e0_model, e0_pub = [], [], []
    for s, sex in enumerate(SEXES):
        ax = arrays["lc_ax"].sel(sex=sex).values
        bx = arrays["lc_bx"].sel(sex=sex).values
        k_med = arrays["lc_kt"].sel(sex=sex, year=fit_years).values
        published = _published(arrays["e0_published"].sel(sex=sex), fit_years)

        def gaps(p: np.ndarray) -> np.ndarray:
            model = e0_bounds(ax, bx, k_med[fitted], horizon[fitted], sex, *p)
            return (model - published[fitted])[:, tail].ravel()

        start = np.array([3.0 * history["mortality_innovation_sd_history"].values[s],
                          3.0 * history["mortality_drift_sd_history"].values[s], 0.2])
        sol = least_squares(gaps, start, bounds=(0.0, np.inf), x_scale=np.abs(start),
                            xtol=1e-10, ftol=1e-10)
        params.append(sol.x)
        e0_model.append(e0_bounds(ax, bx, k_med, horizon, sex, *sol.x))
        e0_pub.append(published)
    params = np.array(params)
    mortality = MortalitySpread(innovation_sd=params[:, 0], drift_sd=params[:, 1],
                                longevity_stretch=params[:, 2],
                                sex_correlation=float(history["mortality_sex_correlation"]))

    tfr_med = arrays["asfr"].sum("fertility_age").sel(year=fit_years).values
    tfr_pub = _published(arrays["tfr_published"], fit_years)

    def tfr_gaps(p: np.ndarray) -> np.ndarray:
        model = tfr_bounds(tfr_med[fitted], horizon[fitted], *p)
        return (model - tfr_pub[fitted])[:, tail].ravel()

    sol = least_squares(tfr_gaps, np.array([0.9, 0.1]), bounds=([0.0, 0.0], [0.999, np.inf]),
                        xtol=1e-12, ftol=1e-12)
    fertility = FertilitySpread(persistence=float(sol.x[0]), innovation_sd=float(sol.x[1]))
    tfr_model = tfr_bounds(tfr_med, horizon, fertility.persistence, fertility.innovation_sd)

    fit = _spread_fit_table(fit_years, fitted, np.stack(e0_model, axis=1), np.stack(e0_pub, axis=1),
                            tfr_model, tfr_pub, mortality, fertility)
    fit = xr.merge([fit, history], combine_attrs="override")
    return SpreadCalibration(mortality=mortality, fertility=fertility, history=history, fit=fit)


# ---------------------------------------------------------------------------- median inputs
def median_inputs(arrays: xr.Dataset, settings: StochasticDemographySettings) -> MedianInputs:
    """The zero-shock inputs: WPP medians with the experiment's ``tfr_shift`` and
    ``mortality_drift_scale`` (both leave the years up to the jump-off unchanged).

    ``k̃ = k* + (c − 1)(k* − k*(t0))`` from the jump-off year ``t0`` (exactly ``k*`` at c = 1);
    ``TFR̃ = φ⁺(TFR* + shift · min(1, h / TFR_SHIFT_PHASE_IN_YEARS))``.
    """
    years = arrays["year"].values
    k_star = arrays["lc_kt"].transpose("year", "sex").sel(sex=list(SEXES)).values
    anchor_year = max(min(JUMP_OFF_YEAR, int(years[-1])), int(years[0]))
    anchor = k_star[list(years).index(anchor_year)]
    ahead = (years > JUMP_OFF_YEAR)[:, None]
    k = k_star + np.where(ahead, (settings.mortality_drift_scale - 1.0) * (k_star - anchor), 0.0)
    asfr = arrays["asfr"].transpose("year", "fertility_age").values
    tfr_wpp = asfr.sum(axis=1)
    horizon = np.maximum(years - JUMP_OFF_YEAR, 0)
    phase = np.minimum(1.0, horizon / TFR_SHIFT_PHASE_IN_YEARS)
    tfr = tfr_wpp + settings.tfr_shift * phase
    if settings.tfr_shift != 0.0:
        tfr = tfr_floor(tfr)
    return MedianInputs(
        years=years,
        ages=arrays["age"].values,
        base_population=arrays["base_population"].transpose("age", "sex")
        .sel(sex=list(SEXES)).values,
        ax=arrays["lc_ax"].transpose("age", "sex").sel(sex=list(SEXES)).values,
        bx=arrays["lc_bx"].transpose("age", "sex").sel(sex=list(SEXES)).values,
        k=k,
        tfr=tfr,
        asfr=asfr,
        tfr_wpp=tfr_wpp,
        first_fertility_age=int(arrays["fertility_age"].values[0]),
        sex_ratio_at_birth=arrays["sex_ratio_at_birth"].values,
        net_migration=arrays["net_migration"].transpose("year", "age", "sex")
        .sel(sex=list(SEXES)).values,
    )


def median_demography(arrays: xr.Dataset, settings: StochasticDemographySettings) -> xr.Dataset:
    """The zero-shock projection under the experiment's medians (labelled, float64).

    With the default settings this is :func:`models.demography.project_median` exactly.
    """
    inputs = median_inputs(arrays, settings)
    coords = {"year": inputs.years, "sex": list(SEXES)}
    kt = xr.DataArray(inputs.k, dims=("year", "sex"), coords=coords)
    asfr = arrays["asfr"] * xr.DataArray(inputs.tfr / inputs.tfr_wpp, dims="year",
                                         coords={"year": inputs.years})
    mx = mortality_rates(arrays["lc_ax"], arrays["lc_bx"], kt)
    return project(arrays["base_population"], mx, asfr.transpose("year", "fertility_age"),
                   arrays["sex_ratio_at_birth"], arrays["net_migration"])


# ---------------------------------------------------------------------------- random numbers
def _purpose_seed(demography_seed: np.random.SeedSequence,
                  purpose: str) -> np.random.SeedSequence:
    """``demography_seed.spawn(len(PURPOSES))[PURPOSES.index(purpose)]``, built directly."""
    return np.random.SeedSequence(demography_seed.entropy,
                                  spawn_key=demography_seed.spawn_key + (PURPOSES.index(purpose),),
                                  pool_size=demography_seed.pool_size)


def _child_seed(parent: np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    """``parent.spawn(N)[index]`` for any ``N > index`` (what ``spawn`` makes), built directly."""
    return np.random.SeedSequence(parent.entropy, spawn_key=parent.spawn_key + (int(index),),
                                  pool_size=parent.pool_size)


def path_seed(demography_seed: np.random.SeedSequence, purpose: str,
              path: int) -> np.random.SeedSequence:
    """The SeedSequence of one path and purpose: ``demography_seed.spawn(3)[purpose]
    .spawn(N)[path]`` for any ``N > path``, built directly, so a chunk needs no sequences of
    the paths of other chunks."""
    return _child_seed(_purpose_seed(demography_seed, purpose), path)


def _normals(demography_seed: np.random.SeedSequence, purpose: str, paths: np.ndarray,
             shape: tuple[int, ...]) -> np.ndarray:
    """Standard normals ``(len(paths), *shape)``, each path from its own generator."""
    parent = _purpose_seed(demography_seed, purpose)
    out = np.empty((len(paths),) + shape)
    for i, p in enumerate(paths):
        out[i] = np.random.default_rng(_child_seed(parent, p)).standard_normal(shape)
    return out


def draw_path_inputs(inputs: MedianInputs, mortality: MortalitySpread,
                     fertility: FertilitySpread, migration_noise_sd: float,
                     demography_seed: np.random.SeedSequence, paths: np.ndarray
                     ) -> dict[str, np.ndarray]:
    """Stochastic inputs of the given paths: ``k[path, year, sex]``, ``tfr[path, year]``,
    ``migration_factor[path, year]`` (equations in the module docstring).

    Draws per path, whatever the spread (so a zero spread uses the same numbers): mortality
    ``H × 2`` innovations then 2 drift shocks, fertility ``H`` innovations, migration ``H``
    shocks, ``H = last year − jump-off``. Years up to the jump-off get the medians.
    """
    paths = np.asarray(paths, dtype=np.int64)
    n, n_years = len(paths), len(inputs.years)
    horizon_max = int(inputs.years[-1]) - JUMP_OFF_YEAR
    out = {
        "k": np.broadcast_to(inputs.k, (n, n_years, 2)).copy(),
        "tfr": np.broadcast_to(inputs.tfr, (n, n_years)).copy(),
        "migration_factor": np.ones((n, n_years)),
    }
    if horizon_max <= 0 or n == 0:
        return out
    ahead = inputs.years > JUMP_OFF_YEAR
    h_idx = inputs.years[ahead] - JUMP_OFF_YEAR - 1  # 0-based horizon of each projected year
    h = np.arange(1, horizon_max + 1, dtype=float)

    # mortality: correlated sexes, random walk + uncertain drift, then the stretch
    z = _normals(demography_seed, "mortality", paths, (horizon_max + 1, 2))
    rho = mortality.sex_correlation
    chol = np.array([[1.0, 0.0], [rho, np.sqrt(max(1.0 - rho * rho, 0.0))]])
    z = z @ chol.T
    innovations, drift = z[:, :-1, :], z[:, -1, :]
    walk = (np.cumsum(innovations, axis=1) * mortality.innovation_sd
            + h[None, :, None] * (drift * mortality.drift_sd)[:, None, :])
    sd = mortality_sd(h[:, None], mortality.innovation_sd, mortality.drift_sd)  # (H, 2)
    positive = sd > 0
    u = walk / np.where(positive, sd, 1.0)
    deviation = np.where(positive, sd * _stretch(u, mortality.longevity_stretch), 0.0)
    out["k"][:, ahead, :] = inputs.k[ahead] + deviation[:, h_idx, :]

    # fertility: AR(1) on the TFR level, then the positivity map
    eta = _normals(demography_seed, "fertility", paths, (horizon_max,)) * fertility.innovation_sd
    x = np.empty_like(eta)
    level = np.zeros(n)
    for j in range(horizon_max):
        level = fertility.persistence * level + eta[:, j]
        x[:, j] = level
    out["tfr"][:, ahead] = tfr_floor(inputs.tfr[ahead] + x[:, h_idx])

    xi = _normals(demography_seed, "migration", paths, (horizon_max,))
    out["migration_factor"][:, ahead] = 1.0 + migration_noise_sd * xi[:, h_idx]
    return out


# ---------------------------------------------------------------------------- projection
def project_paths(inputs: MedianInputs, k: np.ndarray, tfr: np.ndarray,
                  migration_factor: np.ndarray | None = None, dtype=np.float32
                  ) -> dict[str, np.ndarray]:
    """Cohort-component projection of a chunk of paths, death rates made year by year.

    Long because it is the Monte Carlo's inner kernel: one year loop over work arrays
    allocated once per chunk, each step writing into them in place; split into functions,
    every step would take and return a dozen of these buffers.

    The equations and their order are those of
    :func:`models.demography.projection.project_cohort_component`, with for path ``p``:
    ``m(x, t) = exp(a(x) + b(x) k_p(t))``, ``f(x, t) = f̃(x, t) TFR_p(t) / TFR*(t)`` and
    ``M_p(t) = M̃(t) factor_p(t)``. ``k[path, year, sex]``, ``tfr[path, year]``,
    ``migration_factor[path, year]`` (None: the median). Computed in ``dtype`` (float32:
    relative error about 1e-6 after 80 years; float64 reproduces the labelled projection bit
    for bit, deaths summed over ages in the same sequential order).

    Internally ages run along the last axis (``[path, sex, age]``) so every inner loop is a
    contiguous run of 101 ages, and all work arrays are allocated once per chunk (profiling
    showed fresh temporaries of a chunk's size costing more than the arithmetic).

    Returns views ``population (path, T, A, 2)`` on 1 January, ``population_end (path, A, 2)``,
    and ``births``, ``deaths`` ``(path, T, 2)``, all in ``dtype``.
    """
    dt = np.dtype(dtype)
    k = np.asarray(k, dtype=dt)
    n, n_years = k.shape[:2]
    n_ages, n_fert = inputs.ax.shape[0], inputs.asfr.shape[1]
    ax = np.ascontiguousarray(inputs.ax.T, dtype=dt)  # [sex, age]
    bx = np.ascontiguousarray(inputs.bx.T, dtype=dt)
    ratio = (np.asarray(tfr, dtype=float) / inputs.tfr_wpp).astype(dt)
    asfr = inputs.asfr.astype(dt)
    srb = inputs.sex_ratio_at_birth.astype(dt)
    mig = np.ascontiguousarray(inputs.net_migration.transpose(0, 2, 1), dtype=dt)  # [T, sex, age]
    factor = None if migration_factor is None else np.asarray(migration_factor, dtype=dt)
    one, half = dt.type(1.0), dt.type(0.5)
    sequential_sums = dt == np.float64

    pop = np.empty((n, n_years + 1, 2, n_ages), dtype=dt)
    births = np.empty((n, n_years, 2), dtype=dt)
    deaths = np.empty((n, n_years, 2), dtype=dt)
    pop[:, 0] = inputs.base_population.T.astype(dt)
    lo = inputs.first_fertility_age
    fert_ages = slice(lo - 1, lo + n_fert)
    shape = (n, 2, n_ages)
    mx, survival, survivors, nxt, m, work = (np.empty(shape, dtype=dt) for _ in range(6))
    f_pad = np.zeros((n, n_fert + 2), dtype=dt)
    f_bar = np.empty((n, n_fert + 1), dtype=dt)
    women = np.empty((n, n_fert + 1), dtype=dt)
    s0 = np.empty((n, 2), dtype=dt)
    b = np.empty((n, 2), dtype=dt)
    for t in range(n_years):
        current = pop[:, t]
        # m = exp(a + b k), s = exp(-m)
        np.multiply(bx, k[:, t, :, None], out=mx)
        np.add(ax, mx, out=mx)
        np.exp(mx, out=mx)
        np.negative(mx, out=survival)
        np.exp(survival, out=survival)
        # births: f̄(x) W(x) (1 + s_f(x)) / 2 summed over mothers' ages
        np.multiply(asfr[t], ratio[:, t, None], out=f_pad[:, 1:-1])
        np.add(f_pad[:, :-1], f_pad[:, 1:], out=f_bar)
        np.multiply(half, f_bar, out=f_bar)
        np.multiply(current[:, 0, fert_ages], half, out=women)
        women *= one + survival[:, 0, fert_ages]
        np.multiply(f_bar, women, out=women)
        total_births = np.sum(women, axis=-1)
        male_share = srb[t] / (one + srb[t])
        np.multiply(total_births, one - male_share, out=b[:, 0])
        np.multiply(total_births, male_share, out=b[:, 1])
        np.multiply(-half, mx[:, :, 0], out=s0)
        np.exp(s0, out=s0)
        # survivors age one year; the open group keeps its own
        np.multiply(current, survival, out=survivors)
        np.multiply(b, s0, out=nxt[:, :, 0])
        nxt[:, :, 1:] = survivors[:, :, :-1]
        nxt[:, :, -1] += survivors[:, :, -1]
        # net migrants, clipped so that no cell becomes negative
        m[:, :, 0] = 0.0
        if factor is None:
            m[:, :, 1:] = mig[t, :, :-1]
            m[:, :, -1] += mig[t, :, -1]
        else:
            np.multiply(mig[t], factor[:, t, None, None], out=work)
            m[:, :, 1:] = work[:, :, :-1]
            m[:, :, -1] += work[:, :, -1]
        np.negative(nxt, out=work)
        np.maximum(m, work, out=m)
        np.add(nxt, m, out=pop[:, t + 1])
        births[:, t] = b
        # deaths over ages: float64 sums in order (np.cumsum is sequential, like the reference
        # kernel, so it is reproduced bit for bit); float32 uses NumPy's pairwise sum (faster
        # and more accurate)
        np.subtract(current, survivors, out=work)
        if sequential_sums:
            np.cumsum(work, axis=-1, out=work)
            dead = work[:, :, -1]
        else:
            dead = np.sum(work, axis=-1)
        np.subtract(one, s0, out=s0)
        np.multiply(b, s0, out=s0)
        np.add(dead, s0, out=deaths[:, t])
    return {"population": pop[:, :-1].transpose(0, 1, 3, 2),
            "population_end": pop[:, -1].transpose(0, 2, 1), "births": births,
            "deaths": deaths}


@dataclass(frozen=True)
class PathChunk:
    """One chunk of Monte Carlo paths: inputs drawn and population projected."""

    paths: np.ndarray  #: (n,) path numbers
    k: np.ndarray  #: (n, T, 2) Lee–Carter k
    tfr: np.ndarray  #: (n, T) children per woman
    migration_factor: np.ndarray  #: (n, T) multiplier of the median net migration
    population: np.ndarray  #: (n, T, A, 2) persons on 1 January
    population_end: np.ndarray  #: (n, A, 2) persons on 1 January after the last year
    births: np.ndarray  #: (n, T, 2) persons per year
    deaths: np.ndarray  #: (n, T, 2) persons per year


def simulate_path_chunk(inputs: MedianInputs, spread: SpreadCalibration,
                        settings: StochasticDemographySettings,
                        demography_seed: np.random.SeedSequence, paths: np.ndarray,
                        dtype=np.float32) -> PathChunk:
    """Draw and project one chunk of paths (path numbers ``paths``, consecutive or not).

    The spread is the calibrated one times the experiment's ``mortality_spread_scale`` and
    ``fertility_spread_scale``; migration noise is ``migration_noise_sd``. A path's numbers
    depend on the seed and its path number only (see the module docstring on seeds).
    """
    paths = np.asarray(paths, dtype=np.int64)
    mortality = spread.mortality.scaled(settings.mortality_spread_scale)
    fertility = spread.fertility.scaled(settings.fertility_spread_scale)
    drawn = draw_path_inputs(inputs, mortality, fertility, settings.migration_noise_sd,
                             demography_seed, paths)
    noisy = settings.migration_noise_sd > 0.0
    out = project_paths(inputs, drawn["k"], drawn["tfr"],
                        drawn["migration_factor"] if noisy else None, dtype=dtype)
    return PathChunk(paths=paths, k=drawn["k"], tfr=drawn["tfr"],
                     migration_factor=drawn["migration_factor"], **out)


def _chunk_task(shared: tuple, paths: np.ndarray) -> PathChunk:
    """:func:`simulate_path_chunk` with the inputs common to every chunk packed in ``shared``
    (the form :func:`models.parallel.map_chunks` calls)."""
    inputs, spread, settings, demography_seed, dtype = shared
    return simulate_path_chunk(inputs, spread, settings, demography_seed, paths, dtype)


def iter_path_chunks(inputs: MedianInputs, spread: SpreadCalibration,
                     settings: StochasticDemographySettings,
                     demography_seed: np.random.SeedSequence, dtype=np.float32,
                     workers: int = 1) -> Iterator[PathChunk]:
    """Draw and project ``settings.paths`` paths, ``settings.chunk_size`` at a time, in order.

    ``workers > 1`` computes the chunks in that many processes
    (:func:`models.parallel.map_chunks`); the chunks and so every number are the same as with
    ``workers = 1``. A path's numbers do not depend on the chunk size either (see the module
    docstring on seeds).
    """
    chunks = path_chunks(settings.paths, settings.chunk_size)
    yield from map_chunks(_chunk_task, chunks, workers,
                          (inputs, spread, settings, demography_seed, dtype))


# ---------------------------------------------------------------------------- summaries
def population_indicators(population: np.ndarray, ages: np.ndarray) -> dict[str, np.ndarray]:
    """Age-structure indicators of ``population[..., age, sex]`` (summed in float64).

    ``total``; ``working_age`` (ages :data:`WORKING_AGES`, 20-64); ``old_60plus``;
    ``old_65plus``; ``share_60plus``, ``share_65plus`` (of the total);
    ``old_age_dependency_ratio`` = 65+ / 20-64.
    """
    ages = np.asarray(ages)
    population = np.asarray(population)
    by_age = np.add(population[..., 0], population[..., 1], dtype=np.float64)
    lo, hi = WORKING_AGES
    # sums over the age groups between the cut ages, in one pass (np.add.reduceat)
    cuts = sorted({0, *(int(np.searchsorted(ages, a)) for a in (lo, hi + 1, 60, OLD_AGE))}
                  - {len(ages)})
    groups = np.add.reduceat(by_age, cuts, axis=-1)

    def between(first: int, stop: int | None) -> np.ndarray:  # persons aged first .. stop-1
        i = cuts.index(int(np.searchsorted(ages, first)))
        j = len(cuts) if stop is None else cuts.index(int(np.searchsorted(ages, stop)))
        return groups[..., i:j].sum(axis=-1)

    total = between(0, None)
    working = between(lo, hi + 1)
    old60 = between(60, None)
    old65 = between(OLD_AGE, None)
    return {
        "total": total,
        "working_age": working,
        "old_60plus": old60,
        "old_65plus": old65,
        "share_60plus": old60 / total,
        "share_65plus": old65 / total,
        "old_age_dependency_ratio": old65 / working,
    }
