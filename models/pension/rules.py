"""Rules of China's urban employee basic old-age insurance, as pure vectorized NumPy functions.

Scope: the statutory retirement age by category and birth cohort (before and after the 2024
law), the month and the within-year share of a cohort past that age, the minimum contribution
years for a monthly pension, the individual-account divisor table, and the benefit formula.
No I/O and no configuration objects: every function takes plain numbers or arrays, and the
law's parameters sit in small frozen tables whose defaults are the law, so a calibration file
can supply other values.

Legal sources (cited again in each docstring):

* **Pre-2024 statutory ages** -- State Council, 国务院关于安置老弱病残干部的暂行办法 and
  国务院关于工人退休、退职的暂行办法, both issued as Guofa [1978] No. 104: men 60, women cadres
  55, women workers 50.
* **2024 law** -- Decision of the Standing Committee of the 14th National People's Congress on
  Implementing the Gradual Delay of the Statutory Retirement Age (全国人民代表大会常务委员会关于
  实施渐进式延迟法定退休年龄的决定, adopted 13 September 2024, 11th session), and its annex, the
  Measures for the Gradual Delay of the Statutory Retirement Age (渐进式延迟法定退休年龄的办法),
  in force 1 January 2025. Art. 2 of the Measures: retirement-age schedule (annex tables 1-3);
  Art. 3: flexible early/late retirement; Art. 4 (annex table 4): minimum contribution years.
* **Benefit formula and divisor table** -- State Council Decision on Improving the Basic
  Old-Age Insurance System for Enterprise Employees (国务院关于完善企业职工基本养老保险制度的决定,
  Guofa [2005] No. 38), Art. 6 and its annex table of individual-account divisors (个人账户养老金
  计发月数表).
* **Minimum 15 years before the 2024 law** -- Social Insurance Law of the PRC (2010), Art. 16.

Conventions
-----------
* Categories: ``"men"``, ``"women_cadre"`` (women whose original statutory age was 55:
  原法定退休年龄为五十五周岁的女职工), ``"women_worker"`` (original age 50).
* Regimes: ``"pre_2024"`` (60/55/50 for every cohort) and ``"law_2024"``.
* Months are counted as integers since year 0: ``month_index = year * 12 + (month - 1)``,
  so January 2025 is ``2025 * 12``. Ages are in whole months unless a name says ``_years``.
* A person born in month ``b`` reaches an age of ``a`` months in month ``b + a`` (birthdays fall
  within the birth month; day-of-month is ignored). This reproduces the Measures' own table:
  a man born January 1965 reaches 60 years 1 month, and retires, in February 2025.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from models.constants import CATEGORIES, REGIMES

__all__ = [
    "CATEGORIES",
    "REGIMES",
    "RetirementAgeRule",
    "LAW_2024_RETIREMENT_AGE",
    "MinimumContributionRule",
    "LAW_2024_MINIMUM_CONTRIBUTION",
    "LAW_2024_START_YEAR",
    "IA_DIVISOR_AGES",
    "IA_DIVISOR_MONTHS",
    "month_index",
    "statutory_retirement_age_months",
    "retirement_month_index",
    "flexible_retirement_window_months",
    "retired_share",
    "retired_share_end_of_year",
    "minimum_contribution_years",
    "ia_divisor_months",
    "basic_pension",
    "individual_account_pension",
    "residents_reform_weight",
    "residents_reformed_pension",
]

MONTHS_PER_YEAR = 12


# ---------------------------------------------------------------------------------------------
# Parameter tables (defaults are the law)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetirementAgeRule:
    """Statutory retirement-age schedule of one category under the 2024 law.

    With ``m`` = months of birth elapsed since the first affected cohort (``m = 0`` for a person
    born in ``first_cohort_year``/``first_cohort_month``), the delay in months is
    ``0`` if ``m < 0`` and ``min(cap_months, m // step_months + 1)`` otherwise; the statutory age
    is ``original_age_months + delay``.

    Attributes
    ----------
    original_age_months : statutory age before the law (the ``pre_2024`` age), months.
    first_cohort_year, first_cohort_month : first birth month whose age is delayed (1..12).
    step_months : birth months sharing one delay step ("每四个月延迟一个月" -> 4).
    cap_months : largest delay, months (60 -> 63 is 36 months).
    """

    original_age_months: int
    first_cohort_year: int
    first_cohort_month: int
    step_months: int
    cap_months: int

    def __post_init__(self) -> None:
        if not 1 <= self.first_cohort_month <= 12:
            raise ValueError(f"first_cohort_month must be 1..12, got {self.first_cohort_month}")
        if self.step_months < 1:
            raise ValueError(f"step_months must be >= 1, got {self.step_months}")
        if self.cap_months < 0 or self.original_age_months < 0:
            raise ValueError("cap_months and original_age_months must be >= 0")


#: Art. 2 of the Measures annexed to the NPCSC Decision of 13 September 2024 (and the Measures'
#: annex tables 1-3): men 60 -> 63 and women with original age 55 -> 58, one month per four birth
#: months from the cohort born January 1965 / January 1970; women with original age 50 -> 55,
#: one month per two birth months from the cohort born January 1975. Original ages: Guofa [1978]
#: No. 104.
LAW_2024_RETIREMENT_AGE: Mapping[str, RetirementAgeRule] = MappingProxyType({
    "men": RetirementAgeRule(60 * 12, 1965, 1, 4, 36),
    "women_cadre": RetirementAgeRule(55 * 12, 1970, 1, 4, 36),
    "women_worker": RetirementAgeRule(50 * 12, 1975, 1, 2, 60),
})


@dataclass(frozen=True)
class MinimumContributionRule:
    """Minimum contribution years for a monthly basic pension, by calendar year of retirement.

    ``base_years`` before ``start_year``; from ``start_year`` on,
    ``min(cap_years, base_years + step_years * (year - start_year + 1))``.
    """

    base_years: float
    start_year: int
    step_years: float
    cap_years: float


#: The 2024 Measures are in force from 1 January 2025 (flexible retirement, Art. 3, from then).
LAW_2024_START_YEAR = 2025

#: Art. 4 of the Measures of 2024 and their annex table 4: 15 years, raised from 1 January 2030
#: by six months a year to 20 (2030: 15.5, ..., 2039: 20). The 15-year base: Social Insurance
#: Law (2010) Art. 16.
LAW_2024_MINIMUM_CONTRIBUTION = MinimumContributionRule(15.0, 2030, 0.5, 20.0)

#: Guofa [2005] No. 38, annex: 个人账户养老金计发月数表, retirement ages 40..70 (whole years).
IA_DIVISOR_AGES: np.ndarray = np.arange(40, 71)
IA_DIVISOR_MONTHS: np.ndarray = np.array(
    [233, 230, 226, 223, 220, 216, 212, 207, 204, 199,  # 40-49
     195, 190, 185, 180, 175, 170, 164, 158, 152, 145,  # 50-59
     139, 132, 125, 117, 109, 101, 93, 84, 75, 65,  # 60-69
     56],  # 70
    dtype=float,
)
IA_DIVISOR_AGES.setflags(write=False)
IA_DIVISOR_MONTHS.setflags(write=False)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _check_category(category: str) -> None:
    if category not in CATEGORIES:
        raise ValueError(f"category must be one of {CATEGORIES}, got {category!r}")


def _check_regime(regime: str) -> None:
    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {REGIMES}, got {regime!r}")


def _as_int_array(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        if not np.all(arr == np.floor(arr)):
            raise ValueError(f"{name} must hold whole numbers, got {x!r}")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be integer, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _scalar_or_array(x: np.ndarray):
    """Return a NumPy scalar for 0-d results, the array otherwise."""
    return x[()] if x.ndim == 0 else x


def month_index(year, month):
    """Months since year 0: ``year * 12 + (month - 1)`` (int array; month 1..12)."""
    year = _as_int_array(year, "year")
    month = _as_int_array(month, "month")
    if np.any((month < 1) | (month > 12)):
        raise ValueError("month must be in 1..12")
    return _scalar_or_array(np.asarray(year * MONTHS_PER_YEAR + month - 1))


# ---------------------------------------------------------------------------------------------
# 1-2. Statutory retirement age and month
# ---------------------------------------------------------------------------------------------


def _age_pre_2024(birth: np.ndarray, rule: RetirementAgeRule) -> np.ndarray:
    return np.full(birth.shape, rule.original_age_months, dtype=np.int64)


def _age_law_2024(birth: np.ndarray, rule: RetirementAgeRule) -> np.ndarray:
    m = birth - (rule.first_cohort_year * MONTHS_PER_YEAR + rule.first_cohort_month - 1)
    delay = np.where(m < 0, 0, np.minimum(rule.cap_months, m // rule.step_months + 1))
    return rule.original_age_months + delay.astype(np.int64)


# One dispatch from regime to kernel (kernels take birth month indices).
_AGE_KERNELS = {"pre_2024": _age_pre_2024, "law_2024": _age_law_2024}


def _statutory_age_from_birth_index(birth, category, regime, rules) -> np.ndarray:
    _check_category(category)
    _check_regime(regime)
    table = LAW_2024_RETIREMENT_AGE if rules is None else rules
    return _AGE_KERNELS[regime](np.asarray(birth, dtype=np.int64), table[category])


def statutory_retirement_age_months(
    birth_year,
    birth_month,
    category: str,
    regime: str,
    *,
    rules: Mapping[str, RetirementAgeRule] | None = None,
):
    """Statutory retirement age, in whole months, of persons born in a given year and month.

    Rule
    ----
    * ``pre_2024``: the original ages of Guofa [1978] No. 104 for every cohort:
      men 720 months (60 y), women cadres 660 (55 y), women workers 600 (50 y).
    * ``law_2024``: NPCSC Decision of 13 September 2024 and its annexed Measures, Art. 2 (in force
      1 January 2025). With ``m`` = birth months since the first affected cohort,
      ``delay = min(cap, m // step + 1)`` for ``m >= 0`` and 0 before:

      ==============  ==========  ==============  ====  ====  ===================
      category        original    first cohort    step  cap   final age (from)
      ==============  ==========  ==============  ====  ====  ===================
      men             60 y        Jan 1965        4     36    63 y (Sep 1976 on)
      women_cadre     55 y        Jan 1970        4     36    58 y (Sep 1981 on)
      women_worker    50 y        Jan 1975        2     60    55 y (Nov 1984 on)
      ==============  ==========  ==============  ====  ====  ===================

    Parameters
    ----------
    birth_year, birth_month : int arrays (broadcastable), month 1..12.
    category : "men", "women_cadre" or "women_worker".
    regime : "pre_2024" or "law_2024".
    rules : optional table category -> :class:`RetirementAgeRule` replacing the law's
        parameters (default :data:`LAW_2024_RETIREMENT_AGE`); under ``pre_2024`` only
        ``original_age_months`` is used.

    Returns
    -------
    int64 array of the broadcast shape (a NumPy scalar for scalar input): age in months.
    """
    birth = month_index(birth_year, birth_month)
    return _scalar_or_array(
        _statutory_age_from_birth_index(np.asarray(birth), category, regime, rules)
    )


def retirement_month_index(
    birth_year,
    birth_month,
    category: str,
    regime: str,
    *,
    rules: Mapping[str, RetirementAgeRule] | None = None,
):
    """Calendar month (``year * 12 + month - 1``) in which the statutory age is reached.

    Rule: birth month index + statutory age in months (see
    :func:`statutory_retirement_age_months`; same sources). A man born January 1965 reaches
    60 y 1 m in February 2025 (index ``2025 * 12 + 1``), as in table 1 of the 2024 Measures
    (改革后退休时间). Recover year and month with ``divmod(index, 12)`` (month = remainder + 1).
    Note: the pension itself is customarily paid from the month after the retirement month;
    :func:`retired_share` takes that as an option (``lag_months``).
    """
    birth = np.asarray(month_index(birth_year, birth_month))
    age = _statutory_age_from_birth_index(birth, category, regime, rules)
    return _scalar_or_array(birth + age)


def flexible_retirement_window_months(
    birth_year,
    birth_month,
    category: str,
    regime: str,
    *,
    rules: Mapping[str, RetirementAgeRule] | None = None,
    max_early_months: int = 36,
    max_late_months: int = 36,
):
    """Earliest and latest voluntary retirement ages, in months, around the statutory age.

    Rule (2024 Measures, Art. 3, 弹性退休): an employee who has reached the minimum
    contribution years may retire up to three years before the statutory age, but not before the
    original age (60/55/50); with the employer's agreement, up to three years after it.
    Under ``pre_2024`` the window is taken as ``[original age, original age + max_late_months]``
    (early retirement before 2025 existed only for special cases, not modelled).

    Returns
    -------
    (earliest, latest) : int64 arrays of ages in months.
    """
    birth = np.asarray(month_index(birth_year, birth_month))
    age = _statutory_age_from_birth_index(birth, category, regime, rules)
    table = LAW_2024_RETIREMENT_AGE if rules is None else rules
    original = table[category].original_age_months
    earliest = np.maximum(original, age - max_early_months)
    latest = age + max_late_months
    return _scalar_or_array(earliest), _scalar_or_array(latest)


# ---------------------------------------------------------------------------------------------
# 3. Share of a single-age group past the statutory age within a calendar year
# ---------------------------------------------------------------------------------------------


def _cohort_retirement_months(year, age, category, regime, rules, lag_months, extra_months=None):
    """Retirement month index for every (year, age, birth month); shape (n_years, n_ages, 12).

    ``extra_months`` (int, broadcastable to (n_years, n_ages)) adds a policy's delay beyond the
    regime's statutory age to the cohort aged ``age`` in ``year``.
    """
    year = _as_int_array(np.atleast_1d(year), "year")
    age = _as_int_array(np.atleast_1d(age), "age")
    if year.ndim != 1 or age.ndim != 1:
        raise ValueError("year and age must be scalars or 1-D arrays")
    if np.any(age < 0):
        raise ValueError("age must be >= 0")
    birth_year = year[:, None, None] - age[None, :, None] - 1
    birth = birth_year * MONTHS_PER_YEAR + np.arange(MONTHS_PER_YEAR)[None, None, :]
    age_months = _statutory_age_from_birth_index(birth, category, regime, rules)
    if extra_months is not None:
        extra = np.asarray(extra_months)
        if not np.issubdtype(extra.dtype, np.integer):
            raise ValueError("extra_months must be whole months (an integer array)")
        age_months = age_months + np.broadcast_to(extra, birth.shape[:2])[..., None]
    return year, birth + age_months + int(lag_months)


def retired_share(
    year,
    age,
    category: str,
    regime: str,
    *,
    rules: Mapping[str, RetirementAgeRule] | None = None,
    lag_months: int = 0,
    extra_months=None,
) -> np.ndarray:
    """Share of the person-months of calendar year ``year`` spent at or past the statutory age.

    Rule
    ----
    Persons aged ``age`` completed years on 1 January of ``year`` were born in calendar year
    ``year - age - 1``; their birth months are taken as uniform over January..December. A person
    whose retirement month (:func:`retirement_month_index`, statutory age per Guofa [1978]
    No. 104 and the 2024 Measures Art. 2) is ``R`` counts as retired from month ``R`` on,
    **including month R itself**; with ``lag_months = 1`` from the month after (the customary
    first month of pension payment). The months retired within the year are
    ``clip(12 * year + 12 - R, 0, 12)``, and the share is their mean over the 12 birth months
    divided by 12. Mortality within the year is ignored (exposure weights are equal).

    Example: men aged 59 on 1 January 2024, ``pre_2024``: born 1964, reach 60 in their birth
    month k = 1..12 of 2024 and are retired for 13 - k months: share = 6.5 / 12.

    Parameters
    ----------
    year : int scalar or 1-D array of calendar years (n_years).
    age : int scalar or 1-D array of completed ages on 1 January (n_ages), e.g. 0..100.
    category, regime : see :func:`statutory_retirement_age_months`.
    rules : optional replacement of :data:`LAW_2024_RETIREMENT_AGE`.
    lag_months : months between reaching the age and counting as retired (default 0).
    extra_months : optional int array broadcastable to (n_years, n_ages): months added to the
        statutory age of the cohort aged ``age`` in ``year`` (a reform beyond the regime).

    Returns
    -------
    float array, shape (n_years, n_ages), values in [0, 1] and non-decreasing in age.
    """
    year, retire = _cohort_retirement_months(year, age, category, regime, rules, lag_months,
                                             extra_months)
    year_end = (year * MONTHS_PER_YEAR + MONTHS_PER_YEAR)[:, None, None]
    months_retired = np.clip(year_end - retire, 0, MONTHS_PER_YEAR)
    return months_retired.mean(axis=-1) / MONTHS_PER_YEAR


def retired_share_end_of_year(
    year,
    age,
    category: str,
    regime: str,
    *,
    rules: Mapping[str, RetirementAgeRule] | None = None,
    lag_months: int = 0,
    extra_months=None,
) -> np.ndarray:
    """Share of persons aged ``age`` on 1 January of ``year`` who are retired by 31 December.

    Rule: same cohort, sources and convention as :func:`retired_share`; a person counts if the
    retirement month ``R`` (plus ``lag_months``) is no later than December of ``year``, i.e.
    ``R <= 12 * year + 11``. This is the retired share of the stock on 1 January of
    ``year + 1`` at age ``age + 1`` (the DESIGN's stocks are at 1 January).

    Returns
    -------
    float array, shape (n_years, n_ages), in [0, 1], a multiple of 1/12.
    """
    year, retire = _cohort_retirement_months(year, age, category, regime, rules, lag_months,
                                             extra_months)
    december = (year * MONTHS_PER_YEAR + MONTHS_PER_YEAR - 1)[:, None, None]
    return (retire <= december).mean(axis=-1)


# ---------------------------------------------------------------------------------------------
# 4. Minimum contribution years
# ---------------------------------------------------------------------------------------------


def _minimum_pre_2024(year: np.ndarray, rule: MinimumContributionRule) -> np.ndarray:
    return np.full(year.shape, rule.base_years, dtype=float)


def _minimum_law_2024(year: np.ndarray, rule: MinimumContributionRule) -> np.ndarray:
    steps = np.maximum(0, year - rule.start_year + 1)
    return np.minimum(rule.cap_years, rule.base_years + rule.step_years * steps)


_MINIMUM_KERNELS = {"pre_2024": _minimum_pre_2024, "law_2024": _minimum_law_2024}


def minimum_contribution_years(
    year,
    regime: str,
    *,
    rule: MinimumContributionRule = LAW_2024_MINIMUM_CONTRIBUTION,
):
    """Minimum contribution years to draw a monthly basic pension, by year of retirement.

    Rule
    ----
    * ``pre_2024``: 15 years (Social Insurance Law 2010, Art. 16).
    * ``law_2024``: 15 years to 2029; from 1 January 2030 six months more each year:
      2030: 15.5, 2031: 16, ..., 2039: 20, and 20 thereafter (2024 Measures, Art. 4 and their
      annex table 4). The year is the calendar year in which the person reaches the statutory age.

    Parameters
    ----------
    year : int array of calendar years (any shape).
    regime : "pre_2024" or "law_2024".
    rule : optional :class:`MinimumContributionRule` replacing the law's parameters.

    Returns
    -------
    float array (years of contribution), same shape as ``year``.
    """
    _check_regime(regime)
    year = _as_int_array(year, "year")
    return _scalar_or_array(_MINIMUM_KERNELS[regime](year, rule))


# ---------------------------------------------------------------------------------------------
# 5-6. Individual-account divisor and benefit formula
# ---------------------------------------------------------------------------------------------


def ia_divisor_months(retirement_age_years, table: tuple | None = None):
    """Individual-account divisor (计发月数), in months, at a retirement age in years.

    Rule: Guofa [2005] No. 38, annex table, whole ages 40..70 (60 -> 139, 55 -> 170,
    50 -> 195, 63 -> 117). The table lists whole years only; for an age with months (as the 2024
    law produces, e.g. 60 y 1 m = 60 + 1/12) this function interpolates linearly between the
    neighbouring whole-year entries -- **a modelling convention**, not a published rule.

    Parameters
    ----------
    retirement_age_years : float array of ages in years (months as twelfths).
    table : optional ``(ages, months)`` pair of 1-D arrays, ages strictly increasing, replacing
        the official table (:data:`IA_DIVISOR_AGES`, :data:`IA_DIVISOR_MONTHS`).

    Returns
    -------
    float array of months, same shape as the input.

    Raises
    ------
    ValueError if an age lies outside the table's range.
    """
    ages, months = (IA_DIVISOR_AGES, IA_DIVISOR_MONTHS) if table is None else table
    ages = np.asarray(ages, dtype=float)
    months = np.asarray(months, dtype=float)
    if ages.ndim != 1 or ages.shape != months.shape or ages.size < 1:
        raise ValueError("table must be two 1-D arrays (ages, months) of equal length")
    if np.any(np.diff(ages) <= 0):
        raise ValueError("table ages must be strictly increasing")
    age = np.asarray(retirement_age_years, dtype=float)
    # Tolerate round-off from month arithmetic such as 840 / 12.
    tol = 1e-9
    outside = (age < ages[0] - tol) | (age > ages[-1] + tol) | np.isnan(age)
    if np.any(outside):
        raise ValueError(
            f"retirement age outside the divisor table [{ages[0]:g}, {ages[-1]:g}] years: "
            f"{np.unique(age[outside])}"
        )
    return _scalar_or_array(np.asarray(np.interp(age, ages, months)))


def basic_pension(avg_wage, contribution_index, contribution_years, accrual_rate=0.01):
    """Basic (pooled) pension at retirement.

    Rule (Guofa [2005] No. 38, Art. 6)::

        basic_pension = (avg_wage + avg_wage * contribution_index) / 2
                        * accrual_rate * contribution_years

    with ``avg_wage`` the previous year's average wage of employees in the province (since 2019
    the all-unit average of non-private and private units, Guobanfa [2019] No. 13), the own
    indexed wage ``avg_wage * contribution_index`` (average contribution index, in practice
    0.6..3 by the contribution base band), and 1 % per year of contribution (actual plus deemed
    years, in years with months as fractions). Eligibility (minimum contribution years, see
    :func:`minimum_contribution_years`) is not checked here.

    Units: the formula is homogeneous of degree one in the wage -- monthly wages give yuan per
    month, annual wages give yuan per year.

    Parameters
    ----------
    avg_wage, contribution_index, contribution_years, accrual_rate : broadcastable arrays.

    Returns
    -------
    float array (broadcast shape), same wage units as ``avg_wage``.
    """
    avg_wage = np.asarray(avg_wage, dtype=float)
    indexed_wage = avg_wage * np.asarray(contribution_index, dtype=float)
    result = (avg_wage + indexed_wage) / 2 * np.asarray(accrual_rate, dtype=float) * np.asarray(
        contribution_years, dtype=float
    )
    return _scalar_or_array(np.asarray(result))


def individual_account_pension(balance, retirement_age_years, table: tuple | None = None):
    """Individual-account pension per month: ``balance / divisor(retirement age)``.

    Rule: Guofa [2005] No. 38, Art. 6 and its annex table (see :func:`ia_divisor_months`,
    including the interpolation convention for ages with months).

    Parameters
    ----------
    balance : account balance at retirement, yuan (any shape).
    retirement_age_years : retirement age in years (broadcastable with ``balance``).
    table : optional ``(ages, months)`` divisor table.

    Returns
    -------
    float array, yuan per month.
    """
    divisor = ia_divisor_months(retirement_age_years, table)
    return _scalar_or_array(np.asarray(np.asarray(balance, dtype=float) / divisor))


# ---------------------------------------------------------------------------------------------
# Urban and rural residents' scheme: the equity reform (a study scenario, not a law)
# ---------------------------------------------------------------------------------------------


def residents_reform_weight(years, reform_year: int, phase_in_years: int) -> np.ndarray:
    """Weight ``λ(t)`` of the target level in the residents' basic pension in year ``t``.

    Linear phase-in over ``P = phase_in_years`` years from the reform year ``Y``::

        λ(t) = 0                          t < Y
        λ(t) = min(1, (t − Y + 1) / P)    t ≥ Y   (P ≥ 1)
        λ(t) = 1                          t ≥ Y   (P = 0)

    so the first step is taken in ``Y`` and the target is reached in ``Y + P − 1`` (``P`` = 0
    or 1: the full target from ``Y``). The scheme is a study scenario ("narrowing the gap"
    between employees and residents, DESIGN.md policy context), not an announced rule.

    Parameters
    ----------
    years : calendar years (any shape, integers).
    reform_year : first year of the reform ``Y``.
    phase_in_years : ``P`` >= 0, years until the target is reached.

    Returns
    -------
    float array of the shape of ``years``, in [0, 1].
    """
    if phase_in_years < 0:
        raise ValueError(f"phase_in_years must be >= 0, got {phase_in_years}")
    t = np.asarray(years, dtype=float)
    steps = (t - reform_year + 1.0) / max(phase_in_years, 1)
    return np.where(t < reform_year, 0.0, np.clip(steps, 0.0, 1.0))


def residents_reformed_pension(status_quo, employee_pension, years, target_share: float,
                               reform_year: int, phase_in_years: int) -> np.ndarray:
    """Residents' basic pension under the equity reform, per recipient.

    ``P_res(t) = P_sq(t) + λ(t) · (s · P̄_emp(t) − P_sq(t))``, with ``P_sq`` the status-quo
    residents' pension, ``P̄_emp`` the average employee-scheme pension per pensioner in the same
    year, ``s`` the target share and ``λ`` from :func:`residents_reform_weight`: the status quo
    before the reform year, a linear move to ``s · P̄_emp`` over the phase-in, then ``s · P̄_emp``
    (so it follows the employee pension, i.e. wages and the employee scheme's indexation).

    Parameters
    ----------
    status_quo, employee_pension : same units (e.g. yuan per recipient per year), broadcastable,
        last axis over ``years``.
    years : calendar years of the last axis.
    target_share : ``s`` > 0, fraction of the average employee pension.
    reform_year, phase_in_years : see :func:`residents_reform_weight`.

    Returns
    -------
    float array, the units of ``status_quo``.
    """
    lam = residents_reform_weight(years, reform_year, phase_in_years)
    sq = np.asarray(status_quo, dtype=float)
    return sq + lam * (target_share * np.asarray(employee_pension, dtype=float) - sq)
