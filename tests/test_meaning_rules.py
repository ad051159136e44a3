"""What the pension rules MEAN, by hand (survivors of issue 17's mutants of rules.py).

* 2024 Measures Art. 2: the men's age rises one month per four birth months from January 1965
  (60 y 1 m for January-April 1965, 60 y 2 m for May-August, ...): whole months only.
* Art. 3 (弹性退休): at most three years early, never before the original age.
* A policy's extra months delay the cohort it names: men aged 60 on 1 January 2030 (born
  1969) retire at 61 y 1-3 m under the law, 9 of 12 birth months within 2030; twelve extra
  months push them all into 2031.
* The residents' reform weight is the stated linear phase-in; the reformed pension moves
  from the status quo to ``s`` times the employee pension.
* Every input check names what it checks.
"""

import re

import numpy as np
import pytest

from models.pension import rules as r


def test_the_law_adds_one_month_per_four_birth_months_in_whole_months():
    months = r.statutory_retirement_age_months(1965, np.arange(1, 13), "men", "law_2024")
    assert months.dtype.kind == "i"
    np.testing.assert_array_equal(months, [721] * 4 + [722] * 4 + [723] * 4)
    # women workers: one month per two birth months from January 1975, from 50 years
    women = r.statutory_retirement_age_months(1975, np.arange(1, 7), "women_worker", "law_2024")
    np.testing.assert_array_equal(women, [601, 601, 602, 602, 603, 603])
    pre = r.statutory_retirement_age_months(1990, 6, "men", "pre_2024")
    assert pre == 720 and np.asarray(pre).dtype == np.int64


def test_flexible_window_is_three_years_early_but_not_before_the_original_age():
    # women workers born 1990: statutory 55 (660 months) -> earliest 52 (624), latest 58 (696)
    assert r.flexible_retirement_window_months(1990, 1, "women_worker", "law_2024") == (624, 696)
    # men born 1980: statutory 63 -> earliest 60 (the original age), latest 66
    assert r.flexible_retirement_window_months(1980, 1, "men", "law_2024") == (720, 792)


def test_extra_months_delay_the_cohort_they_name():
    base = r.retired_share_end_of_year(2030, 60, "men", "law_2024")
    later = r.retired_share_end_of_year(2030, 60, "men", "law_2024", extra_months=12)
    assert float(base[0, 0]) == pytest.approx(9 / 12, abs=0)
    assert float(later[0, 0]) == 0.0
    share = r.retired_share(2030, 60, "men", "law_2024", extra_months=12)
    assert float(share[0, 0]) == 0.0


def test_scalars_in_give_scalars_out():
    assert not isinstance(r.month_index(2024, 5), np.ndarray)
    assert r.month_index(2024, 5) == 2024 * 12 + 4
    assert isinstance(r.month_index([2024], [5]), np.ndarray)


def test_the_divisor_table_passed_is_the_one_used():
    table = (np.array([50.0, 55.0, 70.0]), np.array([200.0, 175.0, 100.0]))
    assert r.individual_account_pension(1500.0, 60.0, table) == pytest.approx(1500.0 / 150.0)
    assert r.individual_account_pension(1390.0, 60.0) == pytest.approx(10.0)  # official: 139
    with pytest.raises(ValueError, match=r"outside the divisor table \[50, 70\] years"):
        r.ia_divisor_months(71.0, table)


def test_residents_reform_weight_is_the_linear_phase_in():
    years = np.arange(2028, 2036)
    np.testing.assert_allclose(r.residents_reform_weight(years, 2030, 4),
                               [0, 0, 0.25, 0.5, 0.75, 1, 1, 1])
    np.testing.assert_allclose(r.residents_reform_weight(years, 2030, 0),
                               [0, 0, 1, 1, 1, 1, 1, 1])
    np.testing.assert_allclose(r.residents_reform_weight(years, 2030, 1),
                               [0, 0, 1, 1, 1, 1, 1, 1])
    sq, emp = np.full(8, 2000.0), np.full(8, 40000.0)
    out = r.residents_reformed_pension(sq, emp, years, 0.25, 2030, 4)
    # 2 000 before 2030, then a quarter of the way per year to 0.25 x 40 000 = 10 000
    np.testing.assert_allclose(out, [2000, 2000, 4000, 6000, 8000, 10000, 10000, 10000])


@pytest.mark.parametrize("kwargs, message", [
    (dict(first_cohort_month=13), "first_cohort_month must be 1..12, got 13"),
    (dict(cap_months=-1), "cap_months and original_age_months must be >= 0"),
    (dict(original_age_months=-1), "cap_months and original_age_months must be >= 0"),
])
def test_every_rule_check_names_its_key(kwargs, message):
    good = dict(original_age_months=720, first_cohort_year=1965, first_cohort_month=1,
                step_months=4, cap_months=36)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        r.RetirementAgeRule(**{**good, **kwargs})
    r.RetirementAgeRule(**{**good, "original_age_months": 0, "cap_months": 0})  # bounds allowed


def test_every_input_check_names_its_input():
    with pytest.raises(ValueError, match="year must hold whole numbers"):
        r.month_index(2024.5, 1)
    with pytest.raises(ValueError, match="year must hold whole numbers"):
        r.retired_share(2024.5, 60, "men", "law_2024")
    with pytest.raises(ValueError, match="^year and age must be scalars or 1-D arrays$"):
        r.retired_share(np.array([[2024]]), [60], "men", "law_2024")
    with pytest.raises(ValueError, match="^year and age must be scalars or 1-D arrays$"):
        r.retired_share([2024], np.array([[60]]), "men", "law_2024")
    with pytest.raises(ValueError,
                       match=r"^extra_months must be whole months \(an integer array\)$"):
        r.retired_share(2030, 60, "men", "law_2024", extra_months=1.5)
