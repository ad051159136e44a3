"""Fund accounting of the urban employee scheme and the residents' scheme, year by year.

The accounts work on three retirement-age *categories* (men, women cadres, women workers);
each category's population is its sex's population times its share (all men are "men"; women
split by ``women_cadre_share``). Counts are the 1 January population times rates, so a
count stands for the average over the year. Money is in yuan at base-year prices.

Per year ``t``, age ``a``, category ``c`` (with ``S`` the share drawing a pension, from
:func:`retirement_schedule`, from the month after the retirement age; the per-person
equations are in :mod:`models.pension.block`):

* covered share ``C(t, a, c) = L(min(t, t_f)) · ramp(a) · sex(c)``: the working-age level
  ``L(t)`` until the cohort reaches its retirement age in ``t_f``, kept afterwards, so covered
  persons move from work into retirement one for one; ``L(t)`` converges from the base-year
  ``L0`` to ``long_run_level_relative · L0`` and was ``L0 exp(γ (t − base))`` before the base
  year; insured workers ``N_w = pop · C · (1 − S)``, pensioners ``N_p = pop · C · S`` (whole-year
  averages) and the year-end stocks with the 1 January shares of the next year;
* contributions ``(τ_pool + τ_IA) · ρ · w(t) · compliance · ΣN_w``, ``ρ`` the effective
  contribution index (employees and flexible workers) calibrated to base-year revenue;
* the average pension of a cohort evolves as
  ``P(t, a) = (1 − ν) P(t−1, a−1)(1 + idx(t)) + ν P_new(t, a)``, ``ν`` the share of the
  cohort's pensioners who start in ``t``; ``P_new`` is the benefit formula with the all-unit
  wage, the transitional pension for service before 1997 and the individual account for the
  years since (:func:`models.pension.block.new_award`), times one scale factor ``s`` fitted to
  base-year expenditure; ``P(base, a, c)`` is the same formula on the wage history
  (:func:`base_year_pensions`);
* fund ``B(t+1) = B(t)(1 + r) + contributions + subsidy + draw − expenditure`` (interest
  ``r B`` is revenue while ``B > 0``; on a negative balance it is the cost of the gap); months payable
  ``= B(t+1) / (expenditure / 12)``; reserve (NSSF) ``A(t+1) = A(t)(1 + r_A) − draw(t)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import xarray as xr
from scipy.optimize import brentq
from scipy.special import ndtr

from models.config import CATEGORIES, ConfigError, FinancesCalibration, PensionCalibration
from models.pension import block, rules

__all__ = [
    "BaseYearFit",
    "category_population",
    "retirement_schedule",
    "retirement_components",
    "calibrate_base_year",
    "project_accounts",
    "fund_balance",
    "account_rates",
    "indexation_sensitivity",
    "reach_year",
    "never_falls",
    "clear_schedule_memo",
    "base_year_pensions",
    "first_year",
    "fund_milestones",
]

CATEGORY_SEX = {"men": "male", "women_cadre": "female", "women_worker": "female"}


def category_population(population: xr.DataArray, pension: PensionCalibration) -> xr.DataArray:
    """Population by retirement-age category: ``[..., year, age, sex] -> [..., year, age, category]``."""
    data = _category_major(population.values, population.dims.index("sex"),
                           population["sex"].values.tolist(), pension)
    rest = [d for d in population.dims if d != "sex"]
    coords = {k: v for k, v in population.coords.items() if "sex" not in v.dims}
    coords["category"] = list(CATEGORIES)
    out = xr.DataArray(data, dims=["category"] + rest, coords=coords, name=population.name,
                       attrs={"units": "persons",
                              "long_name": "population by retirement-age category"})
    return out.transpose(*rest, "category")


def _category_major(arr: np.ndarray, axis: int, sexes: list, pension: PensionCalibration
                    ) -> np.ndarray:
    """The products ``pop(sex) · ω_c`` of ``arr`` (sex along ``axis``, labelled ``sexes``) by
    category, ``[category, ...the other axes]``: NumPy into one preallocated array, the same
    memory layout as concatenating them along a new first axis, at a fraction of xarray's
    concat time, with no copy beside it (:func:`category_population`; its transpose is the
    base-year fit's ``[age, category]``, so later sums add in the same order, bit for bit)."""
    share = pension.retirement.women_cadre_share.value
    weights = {"men": 1.0, "women_cadre": share, "women_worker": 1.0 - share}
    views = [np.moveaxis(arr, axis, -1)[..., sexes.index(CATEGORY_SEX[c])] for c in CATEGORIES]
    dtype = np.result_type(*(np.multiply(v.ravel()[:1], weights[c])
                             for v, c in zip(views, CATEGORIES)))
    data = np.empty((len(CATEGORIES),) + views[0].shape, dtype=dtype)
    for i, (view, c) in enumerate(zip(views, CATEGORIES)):
        np.multiply(view, weights[c], out=data[i])
    return data


def reach_year(birth_year: np.ndarray, statutory_age: np.ndarray) -> np.ndarray:
    """Calendar year in which a birth-year cohort (births spread over the year) reaches its
    statutory age on average: ``floor(b + 1/2 + R)``."""
    return np.floor(birth_year + 0.5 + statutory_age + 1e-9).astype(int)


def retirement_schedule(years: np.ndarray, ages: np.ndarray, regime: str,
                        pension: PensionCalibration,
                        extra_delay_months: xr.DataArray | None = None,
                        retirement_distribution: xr.DataArray | None = None) -> xr.Dataset:
    """Who draws a pension, by year, age on 1 January and category, under a retirement regime.

    * ``statutory_age[year, age, category]`` (years): the cohort's statutory retirement age
      (law of September 2024 or the earlier ages), averaged over birth months, plus any
      ``extra_delay_months[year, category]``: a policy's delay (months, may be fractional)
      for the cohorts that reach the regime's statutory age in that year (:func:`reach_year`);
      years after the last given one keep its value, years before the first have none;
    * retirement ages as a **distribution** (:func:`retirement_components`): a share retires
      early in special jobs or for illness (Guofa [1978] No. 104: five years before the
      original age), and under the 2024 law a share takes the flexible window's earliest age
      (three years before the statutory age, never below the original, Art. 3 of the Measures)
      and a share retires later; the rest at the statutory age. ``retirement_age`` is the
      mean of the parts, ``contribution_years`` their mean years ``density · (R_k − entry)``;
    * ``pension_share[...]``: share of the year's person-months spent drawing a pension,
      ``Σ_k π_k`` × the months past the part's age (from the month after it,
      :func:`rules.retired_share` with ``award_lag_months``) × the share who have the minimum
      contribution years of the part's reach year. Contribution years are normal with the
      calibrated spread; those short of the minimum keep contributing, one year per year past
      the age, until they qualify: ``eligible = Φ((Ȳ_k + max(0, a + 1/2 − R_k) − Y_min) / σ)``.
      Along a cohort every part's share never falls. A fractional age in months mixes the two
      whole months around it (exact at whole months). ``pension_share_jan``: the share
      drawing on 1 January (the stock);
    * ``coverage_freeze_year``: the year the cohort reaches its earliest part's age (its
      coverage is kept from then on, :mod:`models.pension.block`).

    ``retirement_distribution[birth_year, category, offset]`` (optional; the economy's
    retirement choice in a paired run, :func:`models.coupling.paired_schedule`):
    the share of a cohort's retirements in the flexible window at each ``offset`` (years from
    its statutory age, the ages never below the original age), summing to 1 over ``offset``.
    Where it is given (finite), it replaces the law's window parts (the earliest-age and late
    shares and the rest at the statutory age): ``(1 − π_s) d_o`` retire at ``max(R + o,
    original)``; special early retirement stays (:func:`retirement_components`). Cohorts it
    does not hold keep the law's parts; without it nothing changes.
    """
    years = np.asarray(years, dtype=int)
    ages = np.asarray(ages, dtype=int)
    out = {k: [] for k in ("share", "jan", "stat", "mean_age", "years", "freeze")}
    for cat in CATEGORIES:
        for key, value in _category_schedule(years, ages, cat, regime, pension,
                                             extra_delay_months,
                                             retirement_distribution).items():
            out[key].append(value)
    coords = {"year": years, "age": ages, "category": list(CATEGORIES)}
    dims = ("year", "age", "category")

    def stack(key: str) -> np.ndarray:
        return np.stack(out[key], -1)

    return xr.Dataset(
        {
            "pension_share": (dims, stack("share"),
                              {"units": "1", "long_name": "share of person-months drawing a pension"}),
            "statutory_age": (dims, stack("stat"),
                              {"units": "years", "long_name": "cohort's statutory retirement age"}),
            "retirement_age": (dims, stack("mean_age"),
                               {"units": "years",
                                "long_name": "cohort's mean retirement age (early, statutory "
                                             "and late retirement)"}),
            "contribution_years": (dims, stack("years"),
                                   {"units": "years",
                                    "long_name": "mean contribution years at retirement"}),
            "pension_share_jan": (dims, stack("jan"),
                                  {"units": "1", "long_name": "share drawing a pension on "
                                                             "1 January (stock)"}),
            "coverage_freeze_year": (dims, stack("freeze"),
                                     {"units": "calendar year",
                                      "long_name": "year the cohort reaches its earliest "
                                                   "retirement age (its coverage is kept from "
                                                   "then on)"}),
        },
        coords=coords,
        attrs={"regime": regime},
    )


def _category_schedule(years: np.ndarray, ages: np.ndarray, cat: str, regime: str,
                       pension: PensionCalibration,
                       extra_delay_months: xr.DataArray | None,
                       distribution: xr.DataArray | None = None) -> dict[str, np.ndarray]:
    """One category's arrays ``[year, age]`` of :func:`retirement_schedule` (keys ``share``,
    ``jan``, ``stat``, ``mean_age``, ``years``, ``freeze``; equations there)."""
    ret = pension.retirement
    birth_year = years[:, None] - ages[None, :] - 1
    lag = ret.award_lag_months.value
    sd = ret.contribution_years_sd.value
    before = np.maximum(ages - 1, 0)
    law_age = _law_age(years.tobytes(), ages.tobytes(), cat, regime)
    delay = np.zeros(birth_year.shape)
    if extra_delay_months is not None:
        lever = extra_delay_months.sel(category=cat)
        lever_years = lever["year"].values
        reach = reach_year(birth_year, law_age)
        idx = np.clip(np.searchsorted(lever_years, reach, side="right") - 1, 0, None)
        delay = np.where(reach >= lever_years[0], lever.values[idx], 0.0)
    stat_age = law_age + delay / 12.0
    share = np.zeros(birth_year.shape)
    share_jan = np.zeros(birth_year.shape)
    mean_age = np.zeros(birth_year.shape)
    mean_years = np.zeros(birth_year.shape)
    earliest = np.full(birth_year.shape, np.inf)
    original = rules.LAW_2024_RETIREMENT_AGE[cat].original_age_months / 12.0
    window = None if distribution is None else window_shares(distribution, cat, birth_year)
    for weight, age_k, fixed in retirement_components(birth_year, stat_age, cat, regime,
                                                       pension, window):
        # an age fixed relative to the original age counts months from the original age
        # of every birth month; the others from the regime's age of each birth month
        kernel = "pre_2024" if fixed else regime
        extra = (age_k - (original if fixed else law_age)) * 12.0
        lo = np.floor(extra + 1e-9)
        frac = np.clip(extra - lo, 0.0, 1.0)
        frac = np.where(frac < 1e-9, 0.0, frac)
        years_k = ret.contribution_density.value * np.maximum(
            age_k - getattr(ret.entry_age, cat).value, 0.0)
        y_min = np.asarray(rules.minimum_contribution_years(reach_year(birth_year, age_k),
                                                            regime), dtype=float)
        past = np.maximum(ages[None, :] + 0.5 - age_k, 0.0)
        retired = _mixed_months(rules.retired_share, years, ages, cat, kernel, lo, frac, lag)
        eligible = _normal_cdf_where(retired > 0, (years_k + past - y_min) / sd)
        share += weight * never_falls(retired * eligible)
        # on 1 January of t: drawn by 31 December of t − 1 at age a − 1 (same cohort)
        retired_jan = _mixed_months(rules.retired_share_end_of_year, years - 1, before, cat,
                                    kernel, lo, frac, lag)
        eligible_jan = _normal_cdf_where(
            retired_jan > 0, (years_k + np.maximum(ages[None, :] - age_k, 0.0) - y_min) / sd)
        share_jan += weight * never_falls(np.where(ages[None, :] > 0,
                                                    retired_jan * eligible_jan, 0.0))
        mean_age += weight * age_k
        mean_years += weight * years_k
        earliest = np.minimum(earliest, np.where(weight > 0, age_k, np.inf))
    return {"share": share, "jan": share_jan, "stat": stat_age, "mean_age": mean_age,
            "years": mean_years, "freeze": reach_year(birth_year, earliest).astype(float)}


def _normal_cdf_where(where: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``Φ(z)`` where ``where`` holds, 0 elsewhere (the schedule multiplies it by a share that
    is 0 there, so the product is the same; the normal CDF was most of a drawn parameter
    set's schedule, issue 15)."""
    out = np.zeros(np.shape(z))
    out[where] = ndtr(z[where])
    return out


def window_shares(distribution: xr.DataArray, category: str, birth_year: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """A category's window distribution on a grid of birth years: ``(offsets[O] (years),
    shares[..., O])``, ``shares`` NaN for the birth years ``distribution[birth_year,
    category, offset]`` does not hold."""
    dist = distribution.sel(category=category).transpose("birth_year", "offset")
    held = dist["birth_year"].values.astype(int)
    values = np.asarray(dist.values, dtype=float)
    idx = np.clip(np.searchsorted(held, birth_year), 0, held.size - 1)
    found = held[idx] == birth_year
    shares = np.where(found[..., None], values[idx], np.nan)
    return np.asarray(dist["offset"].values, dtype=float), shares


def retirement_components(birth_year: np.ndarray, stat_age: np.ndarray, category: str,
                          regime: str, pension: PensionCalibration,
                          window: tuple[np.ndarray, np.ndarray] | None = None
                          ) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """The distribution of retirement ages of the cohorts born in ``birth_year`` with the
    statutory age ``stat_age`` (years, same shape): ``[(share π_k, age R_k, fixed_k)]``,
    ``fixed_k`` when the age is set relative to the original age (the same for every birth
    month).

    * special jobs and illness (both regimes): ``π_s`` at the original age minus
      ``special_early_years`` (Guofa [1978] No. 104: men 55, women 45 in arduous or unhealthy
      jobs or on medical grounds);
    * 2024 law only (Art. 3 of the Measures, flexible retirement), for the cohorts that reach
      their statutory age from 2025 (:data:`rules.LAW_2024_START_YEAR`): ``π_e`` at the
      earliest age of the window, ``max(original, R − 3)``; ``π_l`` ``flexible_late_months``
      after ``R`` (at most 36);
    * the rest, ``1 − π_s − π_e − π_l``, at the statutory age ``R`` (``stat_age``).

    ``window = (offsets[O], shares[..., O])`` (:func:`window_shares`, the economy's choice):
    where ``shares`` is finite, the window parts (``π_e``, ``π_l`` and the rest) are replaced
    by ``(1 − π_s) d_o`` at ``R + o``, or at the original age where ``R + o`` is below it
    (the economy's options, :func:`models.economy.core.retirement_options`).
    """
    ret = pension.retirement
    original = rules.LAW_2024_RETIREMENT_AGE[category].original_age_months / 12.0
    special = getattr(ret.special_early_share, category).value
    special = np.full(stat_age.shape, special)
    parts = [(special, np.full(stat_age.shape, original - ret.special_early_years.value), True)]
    early = late = np.zeros(stat_age.shape)
    if regime == "law_2024":
        under_law = reach_year(birth_year, stat_age) >= rules.LAW_2024_START_YEAR
        early = np.where(under_law, ret.flexible_early_share.value, 0.0)
        late = np.where(under_law, ret.flexible_late_share.value, 0.0)
        # the window's earliest age: the original age while the delay is at most 3 years
        # (every birth month), 3 years before the statutory age beyond
        at_original = stat_age - 3.0 <= original + 1e-9
        parts.append((np.where(at_original, early, 0.0), np.full(stat_age.shape, original),
                      True))
        parts.append((np.where(at_original, 0.0, early), stat_age - 3.0, False))
        parts.append((late, stat_age + ret.flexible_late_months.value / 12.0, False))
    parts.append((1.0 - special - early - late, stat_age, False))
    if window is not None:
        parts = _with_window(parts, window, special, stat_age, original)
    return [(w, a, fixed) for w, a, fixed in parts if np.any(w > 0)]


def _with_window(parts: list, window: tuple[np.ndarray, np.ndarray], special: np.ndarray,
                 stat_age: np.ndarray, original: float) -> list:
    """The law's ``parts`` with the window parts (all but the first, special early
    retirement) replaced where ``window``'s shares are finite (:func:`retirement_components`)."""
    offsets, shares = window
    known = np.isfinite(shares).all(axis=-1)
    out = [parts[0]] + [(np.where(known, 0.0, w), a, fixed) for w, a, fixed in parts[1:]]
    for o, offset in enumerate(offsets):
        weight = (1.0 - special) * np.where(known, shares[..., o], 0.0)
        age = stat_age + offset
        below = age < original - 1e-9
        out.append((np.where(below, weight, 0.0), np.full(stat_age.shape, original), True))
        out.append((np.where(below, 0.0, weight), age, False))
    return out


def _mixed_months(share_fn, years, ages, category, regime, lo, frac, lag):
    """``share_fn`` (a :mod:`rules` share) with a whole-month delay ``lo`` mixed with ``lo + 1``
    by the fraction ``frac`` (exact at whole months). Remembered (:func:`_mixed_months_memo`):
    the law's shares depend on no calibrated parameter that the Monte Carlo draws (issue 15:
    recomputed per parameter set they were most of a drawn pension block's cost)."""
    years, ages = np.asarray(years, dtype=np.int64), np.asarray(ages, dtype=np.int64)
    lo, frac = np.asarray(lo, dtype=float), np.asarray(frac, dtype=float)
    return _mixed_months_memo(share_fn, years.tobytes(), ages.tobytes(), category, regime,
                              lo.shape, lo.tobytes(), frac.tobytes(), int(lag))


#: entries kept by the memos of the schedule's parameter-free parts (one entry is one
#: ``[year, age]`` array: 256 of 81 × 101 floats are about 17 MB)
MEMO_ENTRIES = 256


def clear_schedule_memo() -> None:
    """Forget the remembered parameter-free parts of the schedule (:func:`_mixed_months`,
    :func:`_law_age`): the next schedule computes them anew (the same numbers)."""
    _mixed_months_memo.cache_clear()
    _law_age.cache_clear()


def _from_bytes(raw: bytes, dtype, shape=None) -> np.ndarray:
    out = np.frombuffer(raw, dtype=dtype)
    return out if shape is None else out.reshape(shape)


@lru_cache(maxsize=MEMO_ENTRIES)
def _mixed_months_memo(share_fn, years: bytes, ages: bytes, category: str, regime: str,
                       shape: tuple, lo: bytes, frac: bytes, lag: int) -> np.ndarray:
    """:func:`_mixed_months` of arrays passed as bytes (hashable), read-only: a pure function
    of its arguments, computed once per distinct argument."""
    years_a, ages_a = _from_bytes(years, np.int64), _from_bytes(ages, np.int64)
    lo_a, frac_a = _from_bytes(lo, float, shape), _from_bytes(frac, float, shape)
    out = np.asarray(share_fn(years_a, ages_a, category, regime, lag_months=lag,
                              extra_months=lo_a.astype(np.int64)))
    if np.any(frac_a > 0):
        later = np.asarray(share_fn(years_a, ages_a, category, regime, lag_months=lag,
                                    extra_months=lo_a.astype(np.int64) + 1))
        out = (1.0 - frac_a) * out + frac_a * later
    out = np.array(out, dtype=float)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=MEMO_ENTRIES)
def _law_age(years: bytes, ages: bytes, category: str, regime: str) -> np.ndarray:
    """The regime's statutory age (years, mean over the 12 birth months) of the cohort aged
    ``a`` on 1 January of ``t``, ``[year, age]`` (``years``, ``ages``: int64 arrays as bytes;
    read-only, computed once per distinct argument: it depends on the law only)."""
    years_a, ages_a = _from_bytes(years, np.int64), _from_bytes(ages, np.int64)
    birth_year = years_a[:, None] - ages_a[None, :] - 1
    grid = birth_year.shape + (12,)
    months = rules.statutory_retirement_age_months(
        np.broadcast_to(birth_year[..., None], grid), np.broadcast_to(np.arange(1, 13), grid),
        category, regime)
    out = np.asarray(months, dtype=float).mean(axis=-1) / 12.0
    out.flags.writeable = False
    return out


def never_falls(share: np.ndarray) -> np.ndarray:
    """A cohort's share along ``[year, age]`` never falls (running maximum along diagonals):
    ``S'[t, a] = max(S[t, a], S'[t−1, a−1])``, every diagonal at once
    (:func:`_diagonal_order`; a maximum rounds nothing, so any order gives the same bits)."""
    n_years, n_ages = share.shape
    skew_at, cell = _diagonal_order(n_years, n_ages)
    skew = np.full(n_years * (n_years + n_ages - 1), -np.inf)
    skew[skew_at] = share.ravel()[cell]
    skew = skew.reshape(n_years, -1)
    np.maximum.accumulate(skew, axis=0, out=skew)
    out = np.empty(share.size)
    out[cell] = skew.ravel()[skew_at]
    return out.reshape(share.shape)


@lru_cache(maxsize=8)
def _diagonal_order(n_years: int, n_ages: int) -> tuple[np.ndarray, np.ndarray]:
    """Cohort diagonals of a ``[year, age]`` grid laid out as ``[step, diagonal]`` (diagonal
    ``d`` holds the cells with ``age − year = d − (n_years − 1)``, in year order): for every
    cell, its flat position in that layout and its flat index in the grid."""
    year, age = np.meshgrid(np.arange(n_years), np.arange(n_ages), indexing="ij")
    diagonal = age - year + (n_years - 1)
    step = year - np.maximum(year - age, 0)  # years since the diagonal entered the grid
    skew_at = (step * (n_years + n_ages - 1) + diagonal).ravel()
    cell = (year * n_ages + age).ravel()
    for arr in (skew_at, cell):
        arr.flags.writeable = False
    return skew_at, cell


@dataclass(frozen=True)
class BaseYearFit:
    """Scalars calibrated so the base year reproduces its reported targets."""

    coverage_level: float  # L0, male working-age coverage at full ramp (fraction)
    historical_coverage_growth: float  # γ, per year
    contribution_index: float  # ρ, contributions / (full rate · average wage · payers)
    pension_scale: float  # s, the one scale factor on the benefit formula (1 = formula alone)
    residents_uptake: float  # ω, share of non-employee-pensioners 60+ drawing a residents' pension
    fund_balance_start_cny: float  # B(base) on 1 January
    reserve_assets_start_cny: float  # A(base) on 1 January
    employee_contribution_index: float  # ρ_e, employees' average base / average wage
    own_base_index: float  # b̄, payers' average base / average wage (benefit formula)


def _ramp(ages: np.ndarray, pension: PensionCalibration) -> np.ndarray:
    cov = pension.coverage
    lo, hi = cov.entry_age_start.value, cov.entry_age_full.value
    return np.clip((ages - lo) / (hi - lo), 0.0, 1.0)


def _sex_factor(pension: PensionCalibration) -> np.ndarray:
    f = pension.coverage.female_relative.value
    return np.array([1.0 if CATEGORY_SEX[c] == "male" else f for c in CATEGORIES])


def _coverage_level(years: np.ndarray, base_year: int, level0: float, gamma: float,
                    pension: PensionCalibration) -> np.ndarray:
    """``L(t)``: ``L0 exp(γ (t − base))`` before the base year, then converging to ``ℓ L0``."""
    cov = pension.coverage
    years = np.asarray(years, dtype=float)
    ahead = np.maximum(years - base_year, 0.0)
    future = level0 * (1.0 + (cov.long_run_level_relative.value - 1.0)
                       * (1.0 - (1.0 - cov.convergence_rate.value) ** ahead))
    past = level0 * np.exp(gamma * np.minimum(years - base_year, 0.0))
    return np.where(years < base_year, past, future)


def _coverage(years: np.ndarray, ages: np.ndarray, freeze_year: np.ndarray, base_year: int,
              level0: float, gamma: float, pension: PensionCalibration) -> np.ndarray:
    """Covered share ``C(t, a, c) = L(min(t, t_f)) ramp(a) sex(c)``, ``[year, age, category]``
    (:func:`models.pension.block.frozen_coverage_year`). ``L`` is evaluated once per calendar
    year when the frozen years are whole (as the schedule's are), then looked up: the same
    values as element by element, at a fraction of the exponentials."""
    frozen = block.frozen_coverage_year(years, freeze_year)
    if frozen.size and np.array_equal(np.floor(frozen), frozen):
        first = frozen.min()
        table = _coverage_level(np.arange(first, frozen.max() + 1.0), base_year, level0, gamma,
                                pension)
        level = table[(frozen - first).astype(np.intp)]
    else:
        level = _coverage_level(frozen, base_year, level0, gamma, pension)
    return level * _ramp(ages, pension)[None, :, None] * _sex_factor(pension)[None, None, :]


def _wage_path(years: np.ndarray, base_year: int, finances: FinancesCalibration) -> np.ndarray:
    """Average wage ``w(t) = w0 Π_{s=base}^{t-1} (1 + g(s))``, yuan per year."""
    g = finances.wages.real_growth.rate(years)
    growth = np.concatenate([[1.0], np.cumprod(1.0 + g[:-1])])
    return finances.wages.average_wage_cny.value * growth * (
        1.0 + finances.wages.real_growth.rate(np.array([base_year]))[0]) ** (years[0] - base_year)


def _credited_years(birth_year: np.ndarray, stat_age: np.ndarray, mean_years: np.ndarray,
                    regime: str, pension: PensionCalibration) -> tuple[np.ndarray, np.ndarray]:
    """Credited years ``Y = max(Ȳ, Y_min(reach year))`` and the deemed years before the
    individual accounts ``Y_pre`` (:func:`models.pension.block.deemed_years_before_accounts`),
    for a category-last array of cells."""
    ret = pension.retirement
    y_min = np.asarray(rules.minimum_contribution_years(reach_year(birth_year, stat_age), regime),
                       dtype=float)
    entry = np.array([getattr(ret.entry_age, c).value for c in CATEGORIES])
    before = block.deemed_years_before_accounts(
        birth_year, entry, stat_age, ret.contribution_density.value,
        pension.benefit.individual_account_start_year.value)
    return np.maximum(mean_years, y_min), before


def _divisor(stat_age: np.ndarray, pension: PensionCalibration) -> np.ndarray:
    table = (np.asarray(pension.benefit.individual_account_divisor.ages),
             np.asarray(pension.benefit.individual_account_divisor.months))
    return rules.ia_divisor_months(np.clip(stat_age, table[0][0], table[0][-1]), table)


def _award(wage_prev, wage_now, year_prev, credited, before, stat_age, own_base: float,
           scale: float, pension: PensionCalibration, finances: FinancesCalibration):
    """:func:`models.pension.block.new_award` with the calibration's rates."""
    wages = finances.wages
    ben = pension.benefit
    benefit_wage = block.benefit_wage_relative(year_prev, wages.all_unit_wage_relative.value,
                                               wages.all_unit_benefit_base_from_year.value)
    return block.new_award(wage_prev, wage_now, benefit_wage * wage_prev, own_base, credited,
                           before, _divisor(stat_age, pension), ben.accrual_rate.value,
                           ben.transitional_accrual_rate.value,
                           pension.contribution.individual_account_rate.value, scale)


def base_year_pensions(schedule: xr.Dataset, own_base: float, scale: float,
                       pension: PensionCalibration, finances: FinancesCalibration) -> np.ndarray:
    """Pensions in payment in the base year by age and category, from the formula and the wage
    history, yuan a year, ``[age, category]``.

    A cell aged ``a`` with retirement age ``R`` was awarded ``e = max(a + 1/2 − R, 0)`` years
    before the base year, at the wage ``w(base − e) = w0 (1 + g_h)^{−e}`` (``g_h`` the historical
    real wage growth) by :func:`models.pension.block.new_award` (the all-unit wage only for
    awards from 2019), and indexed since by ``λ_h g_h`` a year (``λ_h`` the historical
    indexation share): ``P(base, a, c) = award · (1 + λ_h g_h)^e``; ``R`` is the cohort's mean
    retirement age (``retirement_age`` of :func:`retirement_schedule`). The arithmetic is
    :func:`_base_year_pension_values` on the schedule's first year.
    """
    return _base_year_pension_values(
        int(schedule["year"].values[0]), schedule["age"].values,
        schedule["retirement_age"].values[0], schedule["contribution_years"].values[0],
        schedule.attrs["regime"], own_base, scale, pension, finances)


def _base_year_pension_values(base: int, ages: np.ndarray, stat_age: np.ndarray,
                              ybar: np.ndarray, regime: str, own_base: float, scale: float,
                              pension: PensionCalibration, finances: FinancesCalibration
                              ) -> np.ndarray:
    """:func:`base_year_pensions` on arrays: the base year, ages, and the base year's mean
    retirement age and contribution years ``[age, category]``; yuan a year ``[age, category]``."""
    g_h = finances.wages.historical_real_growth.value
    lam = pension.benefit.historical_indexation_wage_share.value
    elapsed = np.maximum(ages[:, None] + 0.5 - stat_age, 0.0)
    birth = np.broadcast_to((base - ages - 1)[:, None], stat_age.shape)
    credited, before = _credited_years(birth, stat_age, ybar, regime, pension)
    w0 = finances.wages.average_wage_cny.value
    wage_award = w0 * (1.0 + g_h) ** (-elapsed)
    award = _award(wage_award / (1.0 + g_h), wage_award, np.floor(base - elapsed - 1.0),
                   credited, before, stat_age, own_base, scale, pension, finances)
    return award * (1.0 + lam * g_h) ** elapsed


def _age_sex_values(population: xr.DataArray, year: int) -> np.ndarray:
    """``population[(year,) age, sex]`` at ``year`` as a NumPy ``[age, sex]`` array (a view
    when the dimensions are already in that order; the year's slice if ``year`` is a
    dimension)."""
    arr, dims = population.values, list(population.dims)
    if "year" in dims:
        at = [slice(None)] * arr.ndim
        at[dims.index("year")] = population.get_index("year").get_loc(year)
        arr = arr[tuple(at)]
        dims.remove("year")
    return arr if dims == ["age", "sex"] else np.moveaxis(arr, [dims.index("age"),
                                                              dims.index("sex")], [0, 1])


def _next_year_values(population: xr.DataArray, base: int) -> np.ndarray:
    """Population on 1 January of ``base + 1`` by age and sex, ``[age, sex]``: the
    projection's, or, if it does not hold that year, the base year aged by one year without
    deaths (an upper bound)."""
    if "year" in population.dims and base + 1 in population.get_index("year"):
        return _age_sex_values(population, base + 1)
    base_pop = _age_sex_values(population, base)
    aged = np.zeros(base_pop.shape, dtype=base_pop.dtype)
    aged[1:] = base_pop[:-1]
    aged[-1] = base_pop[-1] + base_pop[-2]
    return aged


def _fit_coverage(pop_next: np.ndarray, years2: np.ndarray, ages: np.ndarray,
                  freeze: np.ndarray, share_jan: np.ndarray, pension: PensionCalibration
                  ) -> tuple[float, float]:
    """``(γ, L0)`` of :func:`calibrate_base_year`: the year-end stocks ``Σ pop(base+1) C (1 −
    S_jan)`` and ``Σ pop(base+1) C S_jan`` (``[age, category]`` arrays of the next year) are
    ``L0 ×`` a function of ``γ``; ``γ`` solves their ratio (Brent), then ``L0`` the workers."""
    tg = pension.targets
    base = int(years2[0])
    # the next year's part of :func:`_coverage` (the same products, element by element), with
    # what does not depend on γ made once
    frozen = block.frozen_coverage_year(years2[1:], freeze[1:])
    ramp, sex = _ramp(ages, pension)[None, :, None], _sex_factor(pension)[None, None, :]
    not_drawing = 1.0 - share_jan

    def stocks(gamma: float) -> tuple[float, float]:
        cov = (_coverage_level(frozen, base, 1.0, gamma, pension) * ramp * sex)[0]
        return (float(np.sum(pop_next * cov * not_drawing)),
                float(np.sum(pop_next * cov * share_jan)))

    target_ratio = tg.retirees.value / tg.insured_workers.value

    def gap(gamma: float) -> float:
        workers, retirees = stocks(gamma)
        return retirees / workers - target_ratio

    lo, hi = -0.2, 0.3
    if gap(lo) * gap(hi) > 0:
        raise ConfigError(
            f"pension.toml: key 'targets.retirees.value' = {tg.retirees.value:.4g}: cannot be "
            f"reproduced with a historical coverage growth in [{lo}, {hi}] (retirees per "
            f"insured worker {gap(lo) + target_ratio:.4g} .. {gap(hi) + target_ratio:.4g}, "
            f"target {target_ratio:.4g})")
    gamma = brentq(gap, lo, hi, xtol=1e-13)
    level0 = tg.insured_workers.value / stocks(gamma)[0]
    if level0 * pension.coverage.long_run_level_relative.value > 1.0:
        raise ConfigError(
            f"pension.toml: key 'coverage.long_run_level_relative.value' = "
            f"{pension.coverage.long_run_level_relative.value}: expected a value with base "
            f"coverage {level0:.3f} x it <= 1")
    return float(gamma), float(level0)


def calibrate_base_year(population: xr.DataArray, schedule: xr.Dataset,
                        pension: PensionCalibration, finances: FinancesCalibration
                        ) -> BaseYearFit:
    """Solve the scheme's scalars so the base year reproduces its targets.

    Long because the docstring states the equation of each fitted scalar (the coverage fit is
    :func:`_fit_coverage`).

    ``population`` is ``[year, age, sex]`` holding the base year and the next (or ``[age,
    sex]``, the base year only: the year-end stock then ignores the year's deaths);
    ``schedule`` a :func:`retirement_schedule` whose first year is the base year (if it holds
    only the base year, the next year's is made without a policy delay).

    * Insured workers and retirees are **year-end** stocks (MOHRSS bulletin): the stocks on
      1 January of the next year, ``Σ pop(base+1) C (1 − S_jan)`` and ``Σ pop(base+1) C S_jan``,
      both ``L0 ×`` a function of ``γ``: ``γ`` solves their ratio (Brent), then ``L0`` the
      workers.
    * ``ρ = (revenue − subsidy − r B0) / (τ w0 χ N_w)`` with ``B0 = balance_end − revenue +
      expenditure`` and ``N_w`` the whole-year insured workers; ``ρ_e`` and ``b̄`` from it
      (:mod:`models.pension.block`).
    * ``s = expenditure / Σ N_p P_formula`` (the one scale factor; ``N_p`` whole-year
      pensioners, ``P_formula`` from :func:`base_year_pensions` with ``s = 1``).
    * residents' uptake ``ω = recipients / (pop 60+ − employee pensioners 60+)``.
    """
    tg = pension.targets
    base = tg.year.value
    # NumPy from here on (xarray only to read the inputs: a fraction of the time per call)
    sexes = population["sex"].values.tolist()
    base_pop = _age_sex_values(population, base)  # [age, sex]
    ages = population["age"].values
    pop_c = _category_major(base_pop, 1, sexes, pension).T  # [age, category]
    pop_next = _category_major(_next_year_values(population, base), 1, sexes, pension).T
    years2 = np.array([base, base + 1])
    if base + 1 not in schedule.get_index("year"):  # a base-year schedule only: add the next
        schedule = retirement_schedule(years2, ages, schedule.attrs["regime"], pension)
    at = schedule.get_index("year").get_indexer(years2)
    freeze = schedule["coverage_freeze_year"].values[at]
    share = schedule["pension_share"].values[at[0]]
    share_jan = schedule["pension_share_jan"].values[at[1]]

    gamma, level0 = _fit_coverage(pop_next, years2, ages, freeze, share_jan, pension)
    cov0 = _coverage(years2, ages, freeze, base, level0, gamma, pension)[0]
    n_pensioners = pop_c * cov0 * share
    n_workers = float(np.sum(pop_c * cov0 * (1.0 - share)))

    balance_start = tg.balance_end_cny.value - tg.revenue_cny.value + tg.expenditure_cny.value
    interest = finances.fund.real_return.value * balance_start
    subsidy = finances.fiscal_subsidy.base_year_cny.value
    contributions = tg.revenue_cny.value - subsidy - interest
    con = pension.contribution
    rate = con.employer_pooled_rate.value + con.individual_account_rate.value
    paying = con.compliance.value * n_workers
    rho = contributions / (rate * finances.wages.average_wage_cny.value * paying)
    flex = (con.flexible_worker_share.value, con.flexible_base_relative.value,
            finances.wages.all_unit_wage_relative.value)
    rho_e = float(block.employee_contribution_index(rho, *flex, con.flexible_rate.value, rate))
    if not 0.2 <= rho_e <= 3.0:
        raise ConfigError(
            f"pension.toml/finances.toml: the base-year revenue implies an employees' "
            f"contribution index (average base / average wage) of {rho_e:.3f}; expected 0.2..3 "
            f"(check targets.revenue_cny, fiscal_subsidy.base_year_cny, contribution.compliance, "
            f"contribution.flexible_worker_share)")
    own_base = float(block.own_base_index(rho_e, *flex))
    formula = base_year_pensions(schedule, own_base, 1.0, pension, finances)
    scale = tg.expenditure_cny.value / float(np.sum(n_pensioners * formula))

    is_old = ages >= pension.residents.eligibility_age.value
    employee_old = n_pensioners[is_old].sum()
    eligible_residents = float(base_pop[is_old].sum()) - employee_old
    uptake = tg.residents_recipients.value / eligible_residents
    if not 0 < uptake <= 1:
        raise ConfigError(
            f"pension.toml: key 'targets.residents_recipients.value' = "
            f"{tg.residents_recipients.value:.4g}: expected at most the {eligible_residents:.4g} "
            f"persons aged 60+ outside the employee scheme")
    reserve = finances.reserve
    return BaseYearFit(
        coverage_level=float(level0),
        historical_coverage_growth=float(gamma),
        contribution_index=float(rho),
        pension_scale=float(scale),
        residents_uptake=float(uptake),
        fund_balance_start_cny=float(balance_start),
        reserve_assets_start_cny=reserve.assets_end_base_year_cny.value
        / (1.0 + reserve.base_year_return.value),
        employee_contribution_index=rho_e,
        own_base_index=own_base,
    )


def _wages_and_indexation(years: np.ndarray, pension: PensionCalibration,
                          finances: FinancesCalibration, wage_index: xr.DataArray | None,
                          indexation_share: xr.DataArray | None
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(w, g, idx)`` ``[..., year]`` of :func:`account_rates`: the average wage (the
    calibration's path, or ``w0 ×`` the wage index with its leading dimensions first), its
    growth into each year (the base year takes the calibration's rate) and the indexation of
    pensions in payment ``idx(t) = share(t) · g(t)``."""
    base = int(years[0])
    if wage_index is None:
        wage = _wage_path(years, base, finances)
    else:
        lead = [d for d in wage_index.dims if d != "year"]
        index = wage_index.sel(year=years).transpose(*lead, "year").values
        wage = finances.wages.average_wage_cny.value * index
    first = finances.wages.real_growth.rate(np.array([base]))
    growth = np.concatenate([np.broadcast_to(first, wage.shape[:-1] + (1,)),
                             wage[..., 1:] / wage[..., :-1] - 1.0], axis=-1)
    share_path = (np.full(len(years), pension.benefit.indexation_wage_share.value)
                  if indexation_share is None
                  else np.asarray(indexation_share.sel(year=years).values, dtype=float))
    return wage, growth, share_path * growth


def account_rates(schedule: xr.Dataset, fit: BaseYearFit, pension: PensionCalibration,
                  finances: FinancesCalibration, weights_population: xr.DataArray,
                  wage_index: xr.DataArray | None = None,
                  indexation_share: xr.DataArray | None = None) -> xr.Dataset:
    """Per-person rates of the accounts (the pension block), independent of the population path.

    Long because the returned Dataset lists every rate with its units and meaning (read by the
    accounts, the optimizer and the economy's books, :mod:`models.pension.book`); the wages and
    indexation are :func:`_wages_and_indexation`.

    Returns ``[year, age, category]``: ``insured_rate`` (insured workers per person, whole-year
    average), ``pensioner_rate`` (pensioners per person), ``insured_rate_jan`` and
    ``pensioner_rate_jan`` (the stocks on 1 January), ``coverage_rate`` (covered persons per
    person, :func:`models.pension.block.frozen_coverage_year`), ``pension_cny`` (average pension
    per pensioner, yuan per year), ``new_award_cny`` (a pension awarded in that year), and
    ``[year]``: ``average_wage_cny``, ``fiscal_subsidy_cny``. Every account flow is a
    population-weighted sum of these rates, so one policy's rates serve every Monte Carlo path,
    the optimizer's linear model, and (to come) the OLG economy's government: its pensioners,
    contributions and expenditure are ``Σ pop · rate`` with its own population and wage index.
    ``weights_population[year, age, category]`` only weighs the merge of ages 99 and 100+ in the
    open age group's average pension.

    ``wage_index[..., year]`` (1 in the base year), e.g. the OLG economy's average wage over
    its base-year value, replaces the calibration's wage-growth path: wages, their growth (for
    indexation and the residents' pension), the previous-year wage of the benefit formula and
    the subsidy follow it. Leading dimensions (e.g. ``path``) carry into ``pension_cny``,
    ``average_wage_cny`` and ``fiscal_subsidy_cny``; the head-count rates never depend on
    wages.

    ``indexation_share[year]`` (fraction of real wage growth) replaces the calibrated
    ``pension.benefit.indexation_wage_share`` year by year (the optimizer's indexation lever):
    pensions in payment grow by ``idx(t) = share(t) · g(t)`` in year ``t``. The dataset also
    keeps what :func:`indexation_sensitivity` needs: ``wage_growth[year]`` (``g``),
    ``indexation_rate[year]`` (``idx``) and ``new_pensioner_share[year, age, category]``
    (``ν``).
    """
    years = schedule["year"].values
    ages = schedule["age"].values
    base = int(years[0])
    share = schedule["pension_share"].values  # [T, A, C]
    share_jan = schedule["pension_share_jan"].values
    stat_age = schedule["retirement_age"].values
    ybar = schedule["contribution_years"].values
    regime = schedule.attrs["regime"]

    lead = [] if wage_index is None else [d for d in wage_index.dims if d != "year"]
    wage, growth, index_rate = _wages_and_indexation(years, pension, finances, wage_index,
                                                     indexation_share)
    coverage = _coverage(years, ages, schedule["coverage_freeze_year"].values, base,
                         fit.coverage_level, fit.historical_coverage_growth, pension)
    insured_rate = coverage * (1.0 - share)
    pensioner_rate = coverage * share

    # New pensions by (year, age, category): Guofa [2005] No. 38, Guofa [1997] No. 26
    birth = np.broadcast_to((years[:, None] - ages[None, :] - 1)[:, :, None], stat_age.shape)
    credited, before = _credited_years(birth, stat_age, ybar, regime, pension)
    wage_prev = np.concatenate([wage[..., :1] / (1.0 + growth[..., :1]), wage[..., :-1]], axis=-1)
    new_pension = _award(wage_prev[..., None, None], wage[..., None, None],
                         (years - 1)[:, None, None], credited, before, stat_age,
                         fit.own_base_index, fit.pension_scale, pension, finances)

    # Cohort average pensions, year by year (leading dims, if any, first)
    tail = ("year", "age", "category")
    weights = (weights_population.values if weights_population.dims == tail
               else weights_population.transpose(*tail).values) * pensioner_rate
    new_weight = _new_pensioner_share(share)
    avg = _cohort_averages(
        _base_year_pension_values(base, ages, stat_age[0], ybar[0], regime,
                                  fit.own_base_index, fit.pension_scale, pension, finances),
        new_pension, new_weight, index_rate, weights)

    dims = ("year", "age", "category")
    lead_dims = tuple(lead)
    if not lead and set(schedule.coords) == set(dims):
        coords = schedule.coords  # the same coordinates, their indexes reused (half the build)
    else:
        coords = {"year": years, "age": ages, "category": list(CATEGORIES)}
        coords.update({d: wage_index[d].values for d in lead})
    return xr.Dataset(
        {
            "insured_rate": (dims, insured_rate,
                             {"units": "insured workers per person", "long_name": "coverage of workers"}),
            "pensioner_rate": (dims, pensioner_rate,
                               {"units": "pensioners per person", "long_name": "pensioners per person"}),
            "insured_rate_jan": (dims, coverage * (1.0 - share_jan),
                                 {"units": "insured workers per person",
                                  "long_name": "insured workers per person on 1 January"}),
            "pensioner_rate_jan": (dims, coverage * share_jan,
                                   {"units": "pensioners per person",
                                    "long_name": "pensioners per person on 1 January"}),
            "coverage_rate": (dims, coverage,
                              {"units": "covered persons per person",
                               "long_name": "covered share (kept from the retirement age on)"}),
            "pension_cny": (lead_dims + dims, avg, {"units": "yuan per pensioner per year",
                                                    "long_name": "average pension of the cohort"}),
            "new_award_cny": (lead_dims + dims, np.broadcast_to(new_pension, avg.shape),
                              {"units": "yuan per pensioner per year",
                               "long_name": "pension awarded in the year (formula x scale)"}),
            "average_wage_cny": (lead_dims + ("year",), wage,
                                 {"units": "yuan per year (base-year prices)",
                                  "long_name": "average wage"}),
            "fiscal_subsidy_cny": (lead_dims + ("year",), finances.fiscal_subsidy.base_year_cny.value
                                   * wage / wage[..., :1],
                                   {"units": "yuan per year", "long_name": "fiscal subsidy to the fund"}),
            "wage_growth": (lead_dims + ("year",), growth,
                            {"units": "1 per year", "long_name": "real growth of the average wage"}),
            "indexation_rate": (lead_dims + ("year",), index_rate,
                                {"units": "1 per year",
                                 "long_name": "real indexation of pensions in payment"}),
            "new_pensioner_share": (dims, new_weight,
                                    {"units": "1", "long_name": "share of the cell's pensioners "
                                                                "who start drawing that year"}),
        },
        coords=coords,
        attrs={"regime": regime},
    )


def _cohort_averages(first: np.ndarray, new_pension: np.ndarray, new_weight: np.ndarray,
                     index_rate: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The average pension ``P[..., year, age, category]`` of :func:`account_rates`:
    ``P_0 = first``, ``P_t = (1 − ν_t) ⊙ C_t[P_{t−1} (1 + idx_t)] + ν_t P^new_t`` with ``C_t``
    :func:`_carry_cohorts` under ``weights[t − 1]``. What does not depend on ``P`` (the open
    age group's weights, ``1 − ν``, ``ν P^new``) is made for every year at once; each year's
    step then does the same products, element by element, as :func:`_carry_cohorts`."""
    avg = np.empty(new_pension.shape)
    avg[..., 0, :, :] = first
    w99, w100 = weights[:-1, -2], weights[:-1, -1]  # [year − 1, category]
    total = w99 + w100
    pooled = total > 0
    divisor = np.where(pooled, total, 1.0)
    keep = 1.0 - new_weight
    fresh = new_weight * new_pension
    grow = 1.0 + index_rate
    carried = np.zeros(new_pension.shape[:-3] + new_pension.shape[-2:])
    for t in range(1, new_pension.shape[-3]):
        prev = avg[..., t - 1, :, :] * grow[..., t, None, None]
        carried[..., 1:, :] = prev[..., :-1, :]
        carried[..., -1, :] = np.where(pooled[t - 1], (prev[..., -2, :] * w99[t - 1]
                                                       + prev[..., -1, :] * w100[t - 1])
                                       / divisor[t - 1], prev[..., -1, :])
        avg[..., t, :, :] = keep[t] * carried + fresh[..., t, :, :]
    return avg


def _new_pensioner_share(share: np.ndarray) -> np.ndarray:
    """``ν[year, age, category]``: the share of a cell's pensioners who start in that year, from
    the pension share ``S`` along the cohort (``ν = (S(t, a) − S(t−1, a−1)) / S(t, a)``, clipped
    to [0, 1]; zero in the first year and where nobody draws)."""
    out = np.zeros_like(share)
    before = np.zeros_like(share[1:])
    before[:, 1:] = share[:-1, :-1]
    before[:, -1] = share[:-1, -1]
    now = share[1:]
    out[1:] = np.clip(np.where(now > 0, (now - before) / np.where(now > 0, now, 1.0), 0.0),
                      0.0, 1.0)
    return out


def _carry_cohorts(values: np.ndarray, weights_before: np.ndarray) -> np.ndarray:
    """Move ``values[..., age, category]`` one age up (the youngest age gets zero); the open
    age group takes the ``weights_before``-weighted mean of the last two ages. Linear in
    ``values``."""
    carried = np.zeros_like(values)
    carried[..., 1:, :] = values[..., :-1, :]
    w99, w100 = weights_before[-2], weights_before[-1]
    total = w99 + w100
    carried[..., -1, :] = np.where(total > 0, (values[..., -2, :] * w99 + values[..., -1, :] * w100)
                                   / np.where(total > 0, total, 1.0), values[..., -1, :])
    return carried


def indexation_sensitivity(rates: xr.Dataset, weights_population: xr.DataArray) -> np.ndarray:
    """``∂P(t, a, c)/∂share(u)``, ``[u, t, age, category]``: how the average pension of each cell
    moves with the indexation share of year ``u`` (yuan per pensioner per unit share).

    Forward sensitivity of the recursion of :func:`account_rates`,
    ``P_t = (1 − ν_t) ⊙ C_t[P_{t−1}(1 + share_t g_t)] + ν_t P^new_t`` with ``C_t`` the linear
    move of cohorts one age up: ``S_u[t] = (1 − ν_t) ⊙ C_t[S_u[t−1](1 + idx_t) + 1{u=t}
    P_{t−1} g_t]``, ``S_u[0] = 0``. Exact (the recursion is linear in ``P`` given the shares).
    Rates with leading dimensions (per-path wages) are not supported.
    """
    pension = rates["pension_cny"]
    if pension.dims != ("year", "age", "category"):
        raise ValueError(f"indexation_sensitivity needs pension_cny[year, age, category], got "
                         f"{pension.dims}")
    avg = pension.values
    growth = rates["wage_growth"].values
    idx = rates["indexation_rate"].values
    nu = rates["new_pensioner_share"].values
    weights = (weights_population.transpose("year", "age", "category").values
               * rates["pensioner_rate"].values)
    n_years = avg.shape[0]
    sens = np.zeros((n_years,) + avg.shape)  # [u, t, a, c]
    for t in range(1, n_years):
        moved = sens[:, t - 1] * (1.0 + idx[t])
        moved[t] += avg[t - 1] * growth[t]
        sens[:, t] = (1.0 - nu[t]) * _carry_cohorts(moved, weights[t - 1])
    return sens


def fund_balance(start: float, fund_return: np.ndarray, contributions: np.ndarray,
                 subsidy: np.ndarray, transfers: np.ndarray, draws: np.ndarray,
                 expenditure: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fund year by year, ``[..., year]`` flows (yuan a year) and return (real, per year):
    ``B(t+1) = B(t) + r(t) max(B(t), 0) − r(t) max(−B(t), 0) + contributions + subsidy
    + transfers + draws − expenditure`` from ``B(0) = start``. Returns the balances
    ``[..., year + 1]`` (1 January of each year, then the last year's end), the interest earned
    on a positive balance and the interest paid on a negative one ``[..., year]``."""
    n_years = expenditure.shape[-1]
    balance = np.empty(expenditure.shape[:-1] + (n_years + 1,))
    balance[..., 0] = start
    interest = np.empty(expenditure.shape)
    debt_interest = np.empty(expenditure.shape)
    for t in range(n_years):
        interest[..., t] = fund_return[..., t] * np.maximum(balance[..., t], 0.0)
        debt_interest[..., t] = fund_return[..., t] * np.maximum(-balance[..., t], 0.0)
        balance[..., t + 1] = (balance[..., t] + interest[..., t] - debt_interest[..., t]
                               + contributions[..., t] + subsidy[..., t] + transfers[..., t]
                               + draws[..., t] - expenditure[..., t])
    return balance, interest, debt_interest


def _reserve_path(start: float, reserve_return: np.ndarray, base_year_return: float,
                  draws: np.ndarray) -> np.ndarray:
    """NSSF assets ``A(t+1) = A(t)(1 + r_A(t)) − draw(t)`` from ``A(0) = start``, the base year
    at ``base_year_return``: ``[..., year + 1]``."""
    n_years = draws.shape[-1]
    reserve = np.empty(draws.shape[:-1] + (n_years + 1,))
    reserve[..., 0] = start
    r_res = reserve_return.copy()
    r_res[..., 0] = base_year_return
    for t in range(n_years):
        reserve[..., t + 1] = reserve[..., t] * (1.0 + r_res[..., t]) - draws[..., t]
    return reserve


def _residents_scheme(population: xr.DataArray, lead: list[str], pensioners: np.ndarray,
                      expenditure: np.ndarray, wage: np.ndarray, years: np.ndarray,
                      fit: BaseYearFit, pension: PensionCalibration
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Residents' scheme: recipients ``ω (pop 60+ − employee pensioners 60+)`` and their flat
    pension (yuan a year, indexed by a share of wage growth; toward a share of the average
    employee pension under the equity reform), ``[..., year]``."""
    ages = population["age"].values
    old = ages >= pension.residents.eligibility_age.value
    pop_old = population.transpose(*lead, "year", "age", "sex").values[..., old, :].sum(
        axis=(-2, -1))
    recipients = fit.residents_uptake * (pop_old - pensioners[..., old, :].sum(axis=(-2, -1)))
    growth = wage[..., 1:] / wage[..., :-1] - 1.0
    res = pension.residents
    res_growth = res.indexation_wage_share.value * growth
    res_pension = (res.basic_pension_monthly_cny.value * 12.0 * np.concatenate(
        [np.ones(res_growth.shape[:-1] + (1,)), np.cumprod(1.0 + res_growth, axis=-1)], axis=-1))
    if res.reformed:  # equity reform: toward a share of the average employee pension
        res_pension = rules.residents_reformed_pension(
            res_pension, expenditure / pensioners.sum(axis=(-2, -1)), years,
            res.target_share_of_employee_pension.value, res.reform_year.value,
            res.phase_in_years.value)
    return recipients, res_pension


def _year_end(pop: np.ndarray, rate_jan: np.ndarray) -> np.ndarray:
    """Year-end stocks by category ``[..., year, category]``: the stocks on 1 January of the
    next year, NaN in the last year."""
    nan_year = np.full(pop.shape[:-3] + (1, pop.shape[-1]), np.nan)
    return np.concatenate([(pop * rate_jan)[..., 1:, :, :].sum(-2), nan_year], axis=-2)


def project_accounts(population: xr.DataArray, schedule: xr.Dataset, fit: BaseYearFit,
                     pension: PensionCalibration, finances: FinancesCalibration,
                     pooled_rate: xr.DataArray | None = None,
                     reserve_draw: xr.DataArray | None = None,
                     extra_transfer: xr.DataArray | None = None,
                     rates: xr.Dataset | None = None,
                     wage_index: xr.DataArray | None = None,
                     fund_return: xr.DataArray | None = None,
                     reserve_return: xr.DataArray | None = None) -> xr.Dataset:
    """Project the employee fund, the residents' scheme and the reserve, year by year.

    ``population[..., year, age, sex]`` (leading dims such as ``path`` are carried through);
    ``schedule`` from :func:`retirement_schedule` over the same years and ages;
    ``pooled_rate[..., year]`` overrides the employer pooled rate (fraction); ``reserve_draw[...,
    year]`` transfers from the reserve to the fund and ``extra_transfer[..., year]`` adds fiscal
    money beyond the subsidy rule (yuan). ``rates`` (from :func:`account_rates`) may be passed
    to reuse them; by default they are computed with the population averaged over the leading
    dimensions as open-age weights. ``wage_index[..., year]`` and ``fund_return[..., year]``
    (real, per year) replace the calibration's wage path and fund return, e.g. with the OLG
    economy's prices (see :func:`account_rates`); ``reserve_return[..., year]`` likewise
    replaces the NSSF's calibrated return from the year after the base year (both from one rule:
    :func:`models.pension.returns.fund_returns`). Returns a Dataset of labelled flows and
    stocks (see each variable's ``long_name`` and ``units``). The fund alone on many paths:
    :func:`models.pension.paths.fund_paths` (the same rates and :func:`fund_balance`).
    """
    years = population["year"].values
    lead = [d for d in population.dims if d not in ("year", "age", "sex")]
    pop_c = category_population(population, pension).transpose(*lead, "year", "age", "category")
    if rates is None:
        rates = account_rates(schedule.sel(year=years), fit, pension, finances,
                              pop_c.mean(lead) if lead else pop_c, wage_index=wage_index)
    pop = pop_c.values

    def rate(name: str, tail: tuple[str, ...]) -> np.ndarray:
        arr = rates[name]
        return arr.transpose(*[d for d in lead if d in arr.dims], *tail).values

    def per_year(arr: xr.DataArray | None, default: float) -> np.ndarray:
        if arr is None:
            return np.full(pop.shape[:-2], default)
        arr = arr.sel(year=years)
        return np.broadcast_to(arr.transpose(*[d for d in lead if d in arr.dims], "year").values
                               if arr.ndim > 1 else arr.values, pop.shape[:-2])

    flows = {"wage": rate("average_wage_cny", ("year",)),
             "subsidy": np.broadcast_to(rate("fiscal_subsidy_cny", ("year",)), pop.shape[:-2]),
             "insured": pop * rates["insured_rate"].values,
             "pensioners": pop * rates["pensioner_rate"].values,
             "pooled": per_year(pooled_rate, pension.contribution.employer_pooled_rate.value),
             "draws": per_year(reserve_draw, 0.0),
             "transfers": per_year(extra_transfer, 0.0)}
    flows["expenditure"] = (flows["pensioners"] * rate("pension_cny", ("year", "age",
                                                                      "category"))).sum(
        axis=(-2, -1))
    compliance = pension.contribution.compliance.value
    flows["n_insured"] = flows["insured"].sum(axis=(-2, -1))
    flows["contribution_base"] = (fit.contribution_index * flows["wage"] * compliance
                                  * flows["n_insured"])
    flows["contributions"] = ((flows["pooled"] + pension.contribution.individual_account_rate.value)
                              * flows["contribution_base"])
    balance, flows["interest"], flows["debt_interest"] = fund_balance(
        fit.fund_balance_start_cny, per_year(fund_return, finances.fund.real_return.value),
        flows["contributions"], flows["subsidy"], flows["transfers"], flows["draws"],
        flows["expenditure"])
    flows["balance"] = balance
    flows["reserve"] = _reserve_path(fit.reserve_assets_start_cny,
                                     per_year(reserve_return, finances.reserve.real_return.value),
                                     finances.reserve.base_year_return.value, flows["draws"])
    flows["residents"], flows["residents_pension"] = _residents_scheme(
        population, lead, flows["pensioners"], flows["expenditure"], flows["wage"], years, fit,
        pension)
    flows["insured_end"] = _year_end(pop, rates["insured_rate_jan"].values)
    flows["pensioners_end"] = _year_end(pop, rates["pensioner_rate_jan"].values)
    coords = {d: population[d] for d in lead}
    coords.update(year=years, category=list(CATEGORIES))
    return _accounts_dataset(flows, compliance, tuple(lead), coords, rates.attrs["regime"])


def _accounts_dataset(flows: dict, compliance: float, lead: tuple[str, ...], coords: dict,
                      regime: str) -> xr.Dataset:
    """The labelled books of :func:`project_accounts` from its arrays. Long because it only
    lists the variables, each with its units and long name."""
    dims_y = lead + ("year",)
    dims_yc = dims_y + ("category",)
    n_ins = flows["insured"].sum(axis=-2)
    n_pen = flows["pensioners"].sum(axis=-2)
    wage, expenditure, balance = flows["wage"], flows["expenditure"], flows["balance"]
    money = "yuan per year (base-year prices)"
    ds = xr.Dataset(
        {
            "insured_workers": (dims_yc, n_ins, {"units": "persons",
                                                 "long_name": "insured workers (employee scheme)"}),
            "pensioners": (dims_yc, n_pen, {"units": "persons",
                                            "long_name": "employee-scheme pensioners"}),
            "insured_workers_year_end": (dims_yc, flows["insured_end"],
                                         {"units": "persons",
                                          "long_name": "insured workers at year end (1 January "
                                                       "of the next year)"}),
            "pensioners_year_end": (dims_yc, flows["pensioners_end"],
                                    {"units": "persons",
                                     "long_name": "employee-scheme pensioners at year end "
                                                  "(1 January of the next year)"}),
            "contributors": (dims_y, compliance * flows["n_insured"],
                             {"units": "persons", "long_name": "insured workers paying contributions"}),
            "system_dependency_ratio": (dims_y, n_pen.sum(-1) / n_ins.sum(-1),
                                        {"units": "pensioners per insured worker",
                                         "long_name": "system dependency ratio"}),
            "average_wage_cny": (dims_y if wage.ndim > 1 else ("year",), wage,
                                 {"units": money, "long_name": "average wage"}),
            "pooled_rate": (dims_y, flows["pooled"], {"units": "fraction of contribution base",
                                                      "long_name": "employer pooled contribution rate"}),
            "contribution_base_cny": (dims_y, flows["contribution_base"],
                                      {"units": money,
                                       "long_name": "contribution base of paying contributors"}),
            "average_pension_cny": (dims_y, expenditure / n_pen.sum(-1),
                                    {"units": "yuan per pensioner per year (base-year prices)",
                                     "long_name": "average employee-scheme pension"}),
            "contributions_cny": (dims_y, flows["contributions"],
                                  {"units": money, "long_name": "contribution revenue"}),
            "fiscal_subsidy_cny": (dims_y, flows["subsidy"],
                                   {"units": money, "long_name": "fiscal subsidy to the fund"}),
            "extra_transfer_cny": (dims_y, np.array(flows["transfers"]),
                                   {"units": money,
                                    "long_name": "fiscal transfer beyond the subsidy rule"}),
            "interest_cny": (dims_y, flows["interest"],
                             {"units": money, "long_name": "return on a positive fund balance"}),
            "debt_interest_cny": (dims_y, flows["debt_interest"],
                                  {"units": money,
                                   "long_name": "interest on a negative fund balance (the "
                                                "unfunded gap carried forward)"}),
            "reserve_draw_cny": (dims_y, np.array(flows["draws"]),
                                 {"units": money, "long_name": "transfer from the reserve"}),
            "expenditure_cny": (dims_y, expenditure, {"units": money,
                                                      "long_name": "pension expenditure"}),
            "balance_end_cny": (dims_y, balance[..., 1:], {"units": "yuan (base-year prices)",
                                                           "long_name": "fund balance at year end"}),
            "months_payable": (dims_y, balance[..., 1:] / (expenditure / 12.0),
                               {"units": "months", "long_name": "year-end balance / monthly expenditure"}),
            "reserve_assets_end_cny": (dims_y, flows["reserve"][..., 1:],
                                       {"units": "yuan (base-year prices)",
                                        "long_name": "NSSF assets at year end"}),
            "residents_recipients": (dims_y, flows["residents"],
                                     {"units": "persons",
                                      "long_name": "residents' pension recipients"}),
            "residents_expenditure_cny": (dims_y, flows["residents"] * flows["residents_pension"],
                                          {"units": money,
                                           "long_name": "residents' pension expenditure (budget)"}),
        },
        coords=coords,
        attrs={"regime": regime},
    )
    ds["revenue_cny"] = (ds["contributions_cny"] + ds["fiscal_subsidy_cny"]
                         + ds["extra_transfer_cny"] + ds["interest_cny"])
    ds["revenue_cny"].attrs.update(
        units=money, long_name="fund revenue (contributions, subsidy, transfers, interest)")
    return ds


def first_year(condition: xr.DataArray) -> xr.DataArray:
    """First ``year`` where ``condition`` holds, along the ``year`` dimension (NaN if never)."""
    years = condition["year"]
    hit = condition.any("year")
    first = years.where(condition).min("year")
    return first.where(hit)


def fund_milestones(accounts: xr.Dataset) -> xr.Dataset:
    """First deficit year and depletion year of the employee fund.

    * ``first_deficit_year``: first year in which expenditure exceeds contributions plus the
      fiscal subsidy (the current balance before investment income turns negative);
    * ``depletion_year``: first year whose year-end balance is negative (the accumulated
      fund can no longer pay pensions in full without new money).
    """
    deficit = accounts["expenditure_cny"] > (accounts["contributions_cny"]
                                             + accounts["fiscal_subsidy_cny"])
    out = xr.Dataset({
        "first_deficit_year": first_year(deficit),
        "depletion_year": first_year(accounts["balance_end_cny"] < 0),
    })
    out["first_deficit_year"].attrs.update(
        units="calendar year", long_name="first year with expenditure > contributions + subsidy")
    out["depletion_year"].attrs.update(
        units="calendar year", long_name="first year with a negative year-end fund balance")
    return out
