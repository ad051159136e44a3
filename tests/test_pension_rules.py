"""Tests of ``models.pension.rules``: China's employee-scheme rules.

Every expected number below is derived by hand from the legal text (2024 Measures on the
gradual delay of the statutory retirement age, Guofa [1978] No. 104, Guofa [2005] No. 38) in the
test's docstring or comment, never copied from a run.
"""

from __future__ import annotations

import numpy as np
import pytest

from models.pension import rules

Y = 12  # months per year

# (category, original age in years, first delayed cohort (year, month), step, cap in months)
LAW = {
    "men": (60, (1965, 1), 4, 36),
    "women_cadre": (55, (1970, 1), 4, 36),
    "women_worker": (50, (1975, 1), 2, 60),
}


def age(cat, year, month, regime="law_2024"):
    return int(rules.statutory_retirement_age_months(year, month, cat, regime))


def ym(index):
    """(year, month 1..12) of a month index."""
    y, m = divmod(int(index), 12)
    return y, m + 1


# --------------------------------------------------------------------------------------------
# 1. Statutory retirement age
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cat", list(LAW))
def test_cohort_before_first_step_has_no_delay(cat):
    """The birth month just before the first affected cohort keeps the original age."""
    original, (y0, _), _, _ = LAW[cat]
    assert age(cat, y0 - 1, 12) == original * Y


@pytest.mark.parametrize("cat", list(LAW))
def test_first_cohort_delayed_one_month_and_retires_february_2025(cat):
    """First cohort (Jan 1965 / Jan 1970 / Jan 1975): +1 month, so they reach the new age in
    February 2025 (birth month + original age = January 2025, plus one month)."""
    original, (y0, m0), _, _ = LAW[cat]
    assert age(cat, y0, m0) == original * Y + 1
    assert ym(rules.retirement_month_index(y0, m0, cat, "law_2024")) == (2025, 2)


@pytest.mark.parametrize(
    ("cat", "last_of_step1", "first_of_step2"),
    [
        ("men", (1965, 4), (1965, 5)),  # one month per four birth months
        ("women_cadre", (1970, 4), (1970, 5)),
        ("women_worker", (1975, 2), (1975, 3)),  # one month per two birth months
    ],
)
def test_second_step_boundary(cat, last_of_step1, first_of_step2):
    original = LAW[cat][0] * Y
    assert age(cat, *last_of_step1) == original + 1
    assert age(cat, *first_of_step2) == original + 2


@pytest.mark.parametrize(
    ("cat", "before_last", "last", "final_age", "retire_ym"),
    [
        # men: m = (1976-1965)*12 + 8 = 140 -> 140 // 4 + 1 = 36 = cap; Aug 1976: m = 139 -> 35
        ("men", (1976, 8), (1976, 9), 63, (2039, 9)),
        # women cadres: m = (1981-1970)*12 + 8 = 140 -> 36
        ("women_cadre", (1981, 8), (1981, 9), 58, (2039, 9)),
        # women workers: m = (1984-1975)*12 + 10 = 118 -> 118 // 2 + 1 = 60 = cap; Oct: 59
        ("women_worker", (1984, 10), (1984, 11), 55, (2039, 11)),
    ],
)
def test_last_step_and_beyond(cat, before_last, last, final_age, retire_ym):
    assert age(cat, *before_last) == final_age * Y - 1
    assert age(cat, *last) == final_age * Y
    assert ym(rules.retirement_month_index(*last, cat, "law_2024")) == retire_ym
    for later in [(last[0], 12), (last[0] + 1, 1), (2000, 6), (2020, 12)]:
        assert age(cat, *later) == final_age * Y


@pytest.mark.parametrize(
    ("cat", "years"), [("men", 60), ("women_cadre", 55), ("women_worker", 50)]
)
def test_pre_2024_regime_keeps_original_ages(cat, years):
    birth_year = np.arange(1940, 2011)[:, None]
    birth_month = np.arange(1, 13)[None, :]
    got = rules.statutory_retirement_age_months(birth_year, birth_month, cat, "pre_2024")
    assert got.shape == (71, 12)
    assert np.all(got == years * Y)


@pytest.mark.parametrize("cat", list(LAW))
def test_vectorized_matches_the_formula_and_is_monotone(cat):
    """delay = min(cap, m // step + 1) for m >= 0, written out per element in Python."""
    original, (y0, m0), step, cap = LAW[cat]
    years = np.repeat(np.arange(1955, 1995), 12)
    months = np.tile(np.arange(1, 13), 40)
    got = rules.statutory_retirement_age_months(years, months, cat, "law_2024")
    expected = []
    for y, m in zip(years, months):
        k = (y - y0) * 12 + (m - m0)
        expected.append(original * Y + (0 if k < 0 else min(cap, k // step + 1)))
    np.testing.assert_array_equal(got, expected)
    assert np.all(np.diff(got) >= 0) and np.all(np.diff(got) <= 1)
    # the retirement month strictly increases with the birth month
    retire = rules.retirement_month_index(years, months, cat, "law_2024")
    assert np.all(np.diff(retire) >= 1)


def test_custom_rule_table_is_used():
    """A calibration may supply other parameters: e.g. men to 65 by one month per two months."""
    custom = dict(rules.LAW_2024_RETIREMENT_AGE)
    custom["men"] = rules.RetirementAgeRule(720, 1965, 1, 2, 60)
    got = rules.statutory_retirement_age_months(
        [1965, 1990], [3, 1], "men", "law_2024", rules=custom
    )
    # March 1965: m = 2 -> 2 // 2 + 1 = 2 months; January 1990: capped at 60 months
    assert got.tolist() == [722, 780]


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="category"):
        rules.statutory_retirement_age_months(1970, 1, "women", "law_2024")
    with pytest.raises(ValueError, match="regime"):
        rules.statutory_retirement_age_months(1970, 1, "men", "law_2030")
    with pytest.raises(ValueError, match="month"):
        rules.statutory_retirement_age_months(1970, 13, "men", "law_2024")


def test_flexible_window():
    """2024 Measures Art. 3: up to 3 years early but not below the original age; up to 3 late."""
    early, late = rules.flexible_retirement_window_months(1980, 1, "men", "law_2024")
    assert (int(early), int(late)) == (720, 756 + 36)
    early, late = rules.flexible_retirement_window_months(1965, 1, "men", "law_2024")
    assert (int(early), int(late)) == (720, 721 + 36)


# --------------------------------------------------------------------------------------------
# 3. Share retired within a calendar year
# --------------------------------------------------------------------------------------------


def test_retired_share_pre_2024_men_59():
    """Men aged 59 on 1 January 2024 were born in 1964; under pre_2024 the man born in month k
    reaches 60 in month k of 2024 and counts as retired in months k..12, i.e. 13 - k months.
    Mean over k = 1..12 of (13 - k)/12 = (12 + 11 + ... + 1)/144 = 78/144 = 6.5/12."""
    share = rules.retired_share(2024, 59, "men", "pre_2024")
    assert share.shape == (1, 1)
    assert share[0, 0] == pytest.approx(6.5 / 12)
    # the month of reaching the age excluded (pension from the next month): (12 - k) -> 5.5/12
    lagged = rules.retired_share(2024, 59, "men", "pre_2024", lag_months=1)
    assert lagged[0, 0] == pytest.approx(5.5 / 12)
    # 60-year-olds on 1 January 2024 (born 1963) retired during 2023: fully retired in 2024;
    # 58-year-olds (born 1965) not yet
    assert rules.retired_share(2024, [58, 60], "men", "pre_2024")[0].tolist() == [0.0, 1.0]


def test_retired_share_law_2024_men_born_1965():
    """Men aged 59 on 1 January 2025: born 1965 in month k, delay d = (k-1)//4 + 1
    (1,1,1,1, 2,2,2,2, 3,3,3,3), so they reach the statutory age in month k + d of 2025
    (13, 14, 15 spill into 2026). Months retired in 2025: 13 - (k + d), floored at 0:
    k=1..4: 11+10+9+8 = 38; k=5..8: 6+5+4+3 = 18; k=9: 1; k=10..12: 0.  Share = 57/144.
    In 2026, aged 60: k=1..10 all 12 months (120), k=11 retires Feb 2026 (11), k=12 Mar (10):
    141/144. Retired by 31 December 2025: k = 1..9, i.e. 9/12."""
    share = rules.retired_share([2025, 2026], [59, 60], "men", "law_2024")
    assert share[0, 0] == pytest.approx(57 / 144)
    assert share[1, 1] == pytest.approx(141 / 144)
    end = rules.retired_share_end_of_year(2025, 59, "men", "law_2024")
    assert end[0, 0] == pytest.approx(9 / 12)


def test_retired_share_law_2024_women_workers_born_1975():
    """Women workers aged 49 on 1 January 2025: born 1975 in month k, delay (k-1)//2 + 1
    (1,1,2,2,3,3,4,4,5,5,6,6), retirement month k + d = 2,3,5,6,8,9,11,12,14,15,17,18.
    Months retired in 2025: 11+10+8+7+5+4+2+1 = 48 -> 48/144 = 1/3; by year end: 8/12."""
    share = rules.retired_share(2025, 49, "women_worker", "law_2024")
    assert share[0, 0] == pytest.approx(1 / 3)
    end = rules.retired_share_end_of_year(2025, 49, "women_worker", "law_2024")
    assert end[0, 0] == pytest.approx(8 / 12)


@pytest.mark.parametrize("regime", rules.REGIMES)
@pytest.mark.parametrize("cat", rules.CATEGORIES)
def test_retired_share_invariants(cat, regime):
    years = np.arange(2020, 2061)
    ages = np.arange(0, 101)
    share = rules.retired_share(years, ages, cat, regime)
    end = rules.retired_share_end_of_year(years, ages, cat, regime)
    assert share.shape == end.shape == (years.size, ages.size)
    for s in (share, end):
        assert np.all((s >= 0) & (s <= 1))
        assert np.all(np.diff(s, axis=1) >= 0)  # non-decreasing in age
    assert np.all(share[:, :40] == 0) and np.all(share[:, 70:] == 1)
    # within the year a person is retired no longer than at its end
    assert np.all(share <= end + 1e-12)
    # follow a cohort (age a in year t -> age a+1 in year t+1): whoever is retired by
    # 31 December of t is retired all 12 months of t+1, and stays retired
    next_share = rules.retired_share(years + 1, ages, cat, regime)
    next_end = rules.retired_share_end_of_year(years + 1, ages, cat, regime)
    assert np.all(next_share[:, 1:] >= end[:, :-1] - 1e-12)
    assert np.all(next_end[:, 1:] >= end[:, :-1])


@pytest.mark.parametrize("cat", rules.CATEGORIES)
def test_retired_share_equals_explicit_sum_over_birth_months(cat):
    """Composed by hand: loop over the 12 birth months with the scalar functions."""
    for year, a in [(2025, 59), (2030, 52), (2031, 56), (2040, 62), (2045, 54)]:
        total = 0
        for k in range(1, 13):
            retire = int(rules.retirement_month_index(year - a - 1, k, cat, "law_2024"))
            total += min(12, max(0, year * 12 + 12 - retire))
        got = rules.retired_share(year, a, cat, "law_2024")[0, 0]
        assert got == pytest.approx(total / 144)


# --------------------------------------------------------------------------------------------
# 4. Minimum contribution years
# --------------------------------------------------------------------------------------------


def test_minimum_contribution_years():
    years = np.array([2024, 2029, 2030, 2031, 2035, 2039, 2040, 2060])
    np.testing.assert_allclose(
        rules.minimum_contribution_years(years, "law_2024"),
        [15, 15, 15.5, 16, 18, 20, 20, 20],
    )
    np.testing.assert_allclose(rules.minimum_contribution_years(years, "pre_2024"), 15)
    assert float(rules.minimum_contribution_years(2030, "law_2024")) == 15.5


# --------------------------------------------------------------------------------------------
# 5-6. Divisor and benefit formula
# --------------------------------------------------------------------------------------------


def test_divisor_table_entries():
    """Guofa [2005] No. 38 annex; 50/55/60 and 61/62/63 as in shared/data/china_facts.csv."""
    for a, months in [(40, 233), (50, 195), (55, 170), (58, 152), (60, 139), (61, 132),
                      (62, 125), (63, 117), (65, 101), (70, 56)]:
        assert rules.ia_divisor_months(a) == months
    assert rules.IA_DIVISOR_AGES.tolist() == list(range(40, 71))
    assert np.all(np.diff(rules.IA_DIVISOR_MONTHS) < 0)


def test_divisor_interpolation_and_range():
    assert rules.ia_divisor_months(60.5) == pytest.approx((139 + 132) / 2)
    # 60 years 1 month: one twelfth of the way from 139 to 132
    assert rules.ia_divisor_months(721 / 12) == pytest.approx(139 - 7 / 12)
    got = rules.ia_divisor_months(np.array([[50.0, 55.0], [60.0, 63.0]]))
    np.testing.assert_allclose(got, [[195, 170], [139, 117]])
    for bad in (39.99, 70.5, [60, 71]):
        with pytest.raises(ValueError, match="outside"):
            rules.ia_divisor_months(bad)
    # a table supplied by the calibration
    assert rules.ia_divisor_months(61, table=([60, 62], [140, 120])) == pytest.approx(130)


def test_basic_pension_hand_case():
    """(8000 + 8000 * 0.8) / 2 * 1 % * 30 = 7200 * 0.3 = 2160 yuan a month; with annual
    wages (96,000) the same formula gives 12 times as much, yuan a year."""
    assert rules.basic_pension(8000, 0.8, 30) == pytest.approx(2160)
    assert rules.basic_pension(96000, 0.8, 30) == pytest.approx(12 * 2160)
    got = rules.basic_pension(np.array([8000, 10000]), np.array([[1.0], [0.6]]), 15)
    # index 1.0: wage * (1 + 1)/2 * 0.15 = 1200, 1500; index 0.6: wage * 0.8 * 0.15 = 960, 1200
    np.testing.assert_allclose(got, [[1200, 1500], [960, 1200]])


def test_individual_account_pension_hand_case():
    """139,000 yuan at 60 over 139 months -> 1,000 a month; 117,000 at 63 -> 1,000."""
    np.testing.assert_allclose(
        rules.individual_account_pension([139_000, 117_000], [60, 63]), [1000, 1000]
    )
