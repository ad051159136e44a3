"""The per-person pension block: hand cases of the benefit formula through the accounts' rates,
covered persons conserved from work into retirement (property test), and a base-year fit that
moves with its targets.

Each hand case is worked out from the legal text (Guofa [2005] No. 38 Art. 6, Guofa [1997]
No. 26, the 2024 Measures' annex table 4) with round numbers, independently of the code.
"""

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from models.config import CATEGORIES
from models.pension import calibrate_base_year, project_accounts, retirement_schedule, rules
from models.pension.accounts import BaseYearFit, account_rates, category_population

AGES = np.arange(0, 101)


def _schedule(years, stat_age: float, contribution_years: float, drawing_from: int,
              regime: str = "law_2024") -> xr.Dataset:
    """A hand-made schedule: everyone aged ``drawing_from`` or older draws a full pension (so
    only the cells aged exactly ``drawing_from`` in a year are new pensioners)."""
    years = np.asarray(years)
    shape = (len(years), len(AGES), len(CATEGORIES))
    drawing = np.broadcast_to((AGES >= drawing_from)[None, :, None], shape).astype(float)
    birth = years[:, None, None] - AGES[None, :, None] - 1
    dims = ("year", "age", "category")
    return xr.Dataset(
        {"pension_share": (dims, drawing), "pension_share_jan": (dims, drawing),
         "statutory_age": (dims, np.full(shape, stat_age)),
         "retirement_age": (dims, np.full(shape, stat_age)),
         "contribution_years": (dims, np.full(shape, contribution_years)),
         # reaching the age at drawing_from: coverage kept from then on
         "coverage_freeze_year": (dims, np.broadcast_to(birth + drawing_from + 1, shape)
                                  .astype(float))},
        coords={"year": years, "age": AGES, "category": list(CATEGORIES)},
        attrs={"regime": regime})


def _fit(own_base: float = 0.7) -> BaseYearFit:
    return BaseYearFit(coverage_level=0.5, historical_coverage_growth=0.0, contribution_index=0.7,
                       pension_scale=1.0, residents_uptake=0.9, fund_balance_start_cny=0.0,
                       reserve_assets_start_cny=0.0, employee_contribution_index=own_base,
                       own_base_index=own_base)


def _weights(years) -> xr.DataArray:
    return xr.DataArray(np.ones((len(years), len(AGES), len(CATEGORIES))),
                        dims=("year", "age", "category"),
                        coords={"year": years, "age": AGES, "category": list(CATEGORIES)})


def _rates(calibration, years, sched, fit=None):
    return account_rates(sched, fit or _fit(), calibration.pension, calibration.finances,
                         _weights(years))


def test_new_award_by_hand(calibration):
    """A man aged 60 on 1 January 2022 (born 1961), retiring at 60 after 30 credited years,
    entry at 22 (work from mid-1983): 0.85 × 13.5 = 11.475 deemed years before 1997, 18.525
    with an individual account. Last year's wage w1 = 106,837 (2021), this year's w2 = 1.05 w1;
    the benefit formula's wage of 2021 is the all-unit average 0.815 w1 (Guobanfa [2019] 13):

        basic        = (0.815 w1 + 0.7 w1)/2 × 1 % × 30
        transitional = 0.7 w1 × 1.2 % × 11.475
        account      = 12 × 8 % × 0.7 w2 × 18.525 / 139      (divisor at 60: 139 months)
    """
    years = np.array([2021, 2022])
    rates = _rates(calibration, years, _schedule(years, 60.0, 30.0, 60))
    w1, w2 = 106837.0, 106837.0 * 1.05
    deemed = 0.85 * (1997 - (1961.5 + 22))
    assert deemed == pytest.approx(11.475)
    basic = (0.815 * w1 + 0.7 * w1) / 2 * 0.01 * 30
    transitional = 0.7 * w1 * 0.012 * deemed
    account = 12 * 0.08 * 0.7 * w2 * (30 - deemed) / 139
    got = float(rates["new_award_cny"].sel(year=2022, age=60, category="men"))
    assert got == pytest.approx(basic + transitional + account, rel=1e-12)


def test_individual_account_only_from_its_start(calibration):
    """A woman worker aged 50 in 2022 (born 1971), entry 21 (mid-1992): 0.85 × 4.5 deemed
    years before 1997. Raising the accounts' start year to 2007 moves 0.85 × 10 more years from
    the account (12 τ b̄ w2 / 195 per year) to the transitional pension (b̄ w1 κ per year)."""
    years = np.array([2021, 2022])
    sched = _schedule(years, 50.0, 25.0, 50)
    cell = dict(year=2022, age=50, category="women_worker")
    now = float(_rates(calibration, years, sched)["new_award_cny"].sel(**cell))
    later = calibration.pension.model_copy(update={"benefit": calibration.pension.benefit
                                                   .model_copy(update={
                                                       "individual_account_start_year":
                                                       calibration.pension.benefit
                                                       .individual_account_start_year
                                                       .model_copy(update={"value": 2007})})})
    moved = float(account_rates(sched, _fit(), later, calibration.finances,
                                _weights(years))["new_award_cny"].sel(**cell))
    w1, w2 = 106837.0, 106837.0 * 1.05
    per_year = 0.7 * w1 * 0.012 - 12 * 0.08 * 0.7 * w2 / 195
    assert moved - now == pytest.approx(0.85 * 10 * per_year, rel=1e-9)


def test_minimum_years_rise_to_20_in_the_awards(calibration):
    """Under the 2024 law a man reaching 63 in 2039 needs 20 years (annex table 4): with 10
    mean years his award counts 20; before the law, 15 (Social Insurance Law Art. 16)."""
    years = np.arange(2021, 2042)
    cell = dict(year=2040, age=63, category="men")
    law = _rates(calibration, years, _schedule(years, 63.0, 10.0, 63, "law_2024"))
    pre = _rates(calibration, years, _schedule(years, 63.0, 10.0, 63, "pre_2024"))
    assert int(rules.minimum_contribution_years(2039, "law_2024")) == 20
    wage = law["average_wage_cny"].sel(year=[2039, 2040]).values
    own, benefit_wage = 0.7, 0.815
    per_year = ((benefit_wage + own) / 2 * 0.01 * wage[0]
                + 12 * 0.08 * own * wage[1] / 117)  # divisor at 63: 117 months
    award = law["new_award_cny"].sel(**cell) - pre["new_award_cny"].sel(**cell)
    assert float(award) == pytest.approx(5 * per_year, rel=1e-9)


def test_pensions_in_payment_are_indexed_by_the_share_of_wage_growth(calibration):
    """A pensioner aged 70 in 2021 is 71 in 2022 with no new pensioners in the cell: the pension
    grows by λ g = 0.6 × 5 % = 3 %, not by the wage."""
    years = np.array([2021, 2022])
    rates = _rates(calibration, years, _schedule(years, 60.0, 30.0, 60))
    before = float(rates["pension_cny"].sel(year=2021, age=70, category="men"))
    after = float(rates["pension_cny"].sel(year=2022, age=71, category="men"))
    assert after / before == pytest.approx(1.0 + 0.6 * 0.05, rel=1e-12)


def test_base_year_pensions_follow_the_wage_history(calibration):
    """Men aged 60 and 70 in 2021, retired at 60: awarded 0.5 and 10.5 years ago at the wage
    ``w0 (1 + g_h)^{−e}`` (the non-private average wage as the formula's wage before 2019, the
    all-unit one from 2019), with their own pre-1997 service, then indexed by
    ``(1 + λ_h g_h)^e`` (g_h = 7 %, λ_h = 0.75, the historical indexation share)."""
    years = np.array([2021, 2022])
    sched = _schedule(years, 60.0, 30.0, 60, "pre_2024")
    pensions = _rates(calibration, years, sched)["pension_cny"].sel(year=2021, category="men")
    g, lam = 0.07, 0.75
    w0 = 106837.0
    for age, elapsed in ((60, 0.5), (70, 10.5)):
        award_wage = w0 * (1 + g) ** -elapsed
        prev = award_wage / (1 + g)
        year_prev = int(np.floor(2021 - elapsed - 1))
        benefit_wage = 0.815 if year_prev >= 2019 else 1.0
        birth = 2021 - age - 1
        deemed = 0.85 * min(max(1997 - (birth + 0.5 + 22), 0.0), 38.0)
        deemed = min(deemed, 30.0)
        award = ((benefit_wage * prev + 0.7 * prev) / 2 * 0.01 * 30 + 0.7 * prev * 0.012 * deemed
                 + 12 * 0.08 * 0.7 * award_wage * (30 - deemed) / 139)
        assert float(pensions.sel(age=age)) == pytest.approx(
            award * (1 + lam * g) ** elapsed, rel=1e-12)


def test_divisor_table_in_the_calibration_is_the_laws(calibration):
    """pension.toml's divisor table equals the table of Guofa [2005] No. 38 (rules.py), whose
    entries at 50/55/60 are the verified 195/170/139 months (china_facts.csv)."""
    table = calibration.pension.benefit.individual_account_divisor
    np.testing.assert_array_equal(table.ages, rules.IA_DIVISOR_AGES)
    np.testing.assert_array_equal(table.months, rules.IA_DIVISOR_MONTHS)
    assert [rules.ia_divisor_months(a) for a in (50, 55, 60)] == [195, 170, 139]


# ------------------------------------------------------------------- the shipped calibration


@pytest.fixture(scope="module")
def shipped(calibration, median_demography):
    pop = median_demography["population"]
    out = {}
    for regime in ("pre_2024", "law_2024"):
        sched = retirement_schedule(pop["year"].values, AGES, regime, calibration.pension)
        fit = calibrate_base_year(pop.sel(year=[2021, 2022]), sched, calibration.pension,
                                  calibration.finances)
        rates = account_rates(sched, fit, calibration.pension, calibration.finances,
                              category_population(pop, calibration.pension))
        out[regime] = (sched, fit, rates)
    return pop, out


@settings(max_examples=60, derandomize=True, deadline=None)
@given(regime=st.sampled_from(["pre_2024", "law_2024"]), category=st.sampled_from(CATEGORIES),
       birth=st.integers(1930, 2000), start=st.integers(2021, 2080), span=st.integers(1, 20))
def test_covered_persons_are_conserved_through_retirement(shipped, regime, category, birth,
                                                         start, span):
    """Along a cohort, from the year it reaches its retirement age, insured workers plus
    pensioners per person stay the same: retirees move from work one for one."""
    _, out = shipped
    sched, _, rates = out[regime]
    cell = dict(category=category)
    freeze = sched["coverage_freeze_year"].sel(**cell)
    t0 = max(start, int(freeze.sel(year=2021, age=min(max(2021 - birth - 1, 0), 100))))
    path = [(t, t - birth - 1) for t in range(t0, t0 + span) if 0 <= t - birth - 1 <= 99
            and t <= 2100]
    if len(path) < 2:
        return
    total = [float((rates["insured_rate"] + rates["pensioner_rate"]).sel(year=t, age=a, **cell))
             for t, a in path]
    np.testing.assert_allclose(total, total[0], rtol=1e-12)
    np.testing.assert_allclose(
        [float(rates["coverage_rate"].sel(year=t, age=a, **cell)) for t, a in path], total,
        rtol=1e-12)


def test_men_born_1962_keep_their_coverage_into_retirement(shipped):
    """Men born 1962 reach their earliest retirement age (55, special jobs) in 2017 and 60 in
    2022 (pre-2024 ages): insured workers plus pensioners per person at 58 in 2021 (mostly still
    working) equal those at 61 in 2024 (all retired); the issue found −8.8 % when pensioners
    took their cohort's coverage at 55 and workers today's."""
    _, out = shipped
    _, _, rates = out["pre_2024"]
    men = dict(category="men")
    total = rates["insured_rate"] + rates["pensioner_rate"]
    working = float(total.sel(year=2021, age=58, **men))
    retired = float(total.sel(year=2024, age=61, **men))
    assert float(rates["insured_rate"].sel(year=2021, age=58, **men)) > 0.8 * working
    assert float(rates["pensioner_rate"].sel(year=2024, age=61, **men)) > 0.9 * retired
    assert retired == pytest.approx(working, rel=1e-12)


def test_base_year_pensions_differ_by_category_as_the_formula_says(shipped):
    """Pensions in payment in 2021 come from the formula: women workers (age 50, fewer years,
    a larger divisor) get 20-45 % less than men; the one scale factor is near 1."""
    pop, out = shipped
    _, fit, rates = out["law_2024"]
    weights = rates["pensioner_rate"].sel(year=2021) * 1.0
    mean = (rates["pension_cny"].sel(year=2021) * weights).sum("age") / weights.sum("age")
    ratio = float(mean.sel(category="women_worker") / mean.sel(category="men"))
    assert 0.55 <= ratio <= 0.8
    assert 0.7 <= fit.pension_scale <= 1.5


def test_the_fit_moves_with_its_targets(calibration, median_demography):
    """Change a target and the fit follows: 3 % more retirees raise the historical coverage
    growth and reproduce the new count; 10 % more expenditure raises the scale by 10 %."""
    pop = median_demography["population"]
    sched = retirement_schedule(pop["year"].values, AGES, "law_2024", calibration.pension)
    base = calibrate_base_year(pop.sel(year=[2021, 2022]), sched, calibration.pension,
                               calibration.finances)

    def with_target(name: str, factor: float):
        tg = calibration.pension.targets
        entry = getattr(tg, name)
        pension = calibration.pension.model_copy(update={"targets": tg.model_copy(update={
            name: entry.model_copy(update={"value": entry.value * factor})})})
        fit = calibrate_base_year(pop.sel(year=[2021, 2022]), sched, pension,
                                  calibration.finances)
        return pension, fit

    pension, fit = with_target("retirees", 1.03)
    assert fit.historical_coverage_growth < base.historical_coverage_growth  # more old covered
    acc = project_accounts(pop.sel(year=slice(2021, 2023)), sched.sel(year=slice(2021, 2023)),
                           fit, pension, calibration.finances)
    assert float(acc["pensioners_year_end"].sel(year=2021).sum()) == pytest.approx(
        1.03 * calibration.pension.targets.retirees.value, rel=1e-9)
    pension, fit = with_target("expenditure_cny", 1.10)
    # about 10 % (the start balance B0 = end − revenue + expenditure moves the interest, hence
    # the contribution index and the own base of the formula, a little too)
    assert fit.pension_scale == pytest.approx(1.10 * base.pension_scale, rel=0.01)
    acc = project_accounts(pop.sel(year=slice(2021, 2023)), sched.sel(year=slice(2021, 2023)),
                           fit, pension, calibration.finances)
    assert float(acc["expenditure_cny"].sel(year=2021)) == pytest.approx(
        1.10 * calibration.pension.targets.expenditure_cny.value, rel=1e-9)


def test_pension_from_the_month_after_the_age(calibration):
    """Men aged 59 on 1 January 2021 (born 1961) reach 60 in their birth month k of 2021 and
    draw from month k + 1: 12 − k months, 5.5/12 of the year on average (6.5/12 if paid from the
    month of the birthday), times the share with 15 years: Φ((0.85 × 38 − 15)/7)."""
    from scipy.stats import norm

    ret = calibration.pension.retirement
    none = ret.special_early_share.men.model_copy(update={"value": 0.0})
    statutory_only = calibration.pension.model_copy(update={"retirement": ret.model_copy(update={
        "special_early_share": ret.special_early_share.model_copy(update={"men": none})})})
    sched = retirement_schedule(np.array([2021, 2022]), AGES, "pre_2024", statutory_only)
    share = float(sched["pension_share"].sel(year=2021, age=59, category="men"))
    assert share == pytest.approx(5.5 / 12 * norm.cdf((0.85 * 38 - 15) / 7), rel=1e-12)
    # on 1 January 2022 every one of them has drawn at least December's pension but those born
    # in December, who start in January 2022: 11/12 are drawing
    jan = float(sched["pension_share_jan"].sel(year=2022, age=60, category="men"))
    assert jan == pytest.approx(11 / 12 * norm.cdf((0.85 * 38 - 15) / 7), rel=1e-12)


def test_retirement_ages_are_a_distribution(calibration):
    """Women workers born 1990 under the 2024 law (statutory age 55, reached in 2045): on
    1 January 2043, aged 52, the special-jobs share (8 %, at 45 since 2035, 18 minimum years
    then) and the flexible-early share (20 %, at 55 − 3 = 52 in 2042, 20 years) draw all year;
    the statutory (55) and late parts not yet:
    ``0.08 Φ((0.85 (45 − 21) + 7.5 − 18)/7) + 0.2 Φ((0.85 (52 − 21) + 0.5 − 20)/7)``.
    Before the law only the special-jobs part retires early."""
    from scipy.stats import norm

    years = np.array([2043, 2044])
    law = retirement_schedule(years, AGES, "law_2024", calibration.pension)
    cell = dict(year=2043, age=52, category="women_worker")
    expected = (0.08 * norm.cdf((0.85 * 24 + 7.5 - 18) / 7)
                + 0.2 * norm.cdf((0.85 * 31 + 0.5 - 20) / 7))
    assert float(law["pension_share"].sel(**cell)) == pytest.approx(expected, rel=1e-12)
    assert float(law["retirement_age"].sel(**cell)) == pytest.approx(
        0.08 * 45 + 0.2 * 52 + 0.67 * 55 + 0.05 * 56, rel=1e-12)
    # men born 1975 (statutory age 62 y 8-9 m): the window's earliest age is the original 60,
    # not 3 years before the statutory age
    men = dict(year=2043, age=67, category="men")
    stat = float(law["statutory_age"].sel(**men))
    assert 62.5 < stat < 63
    assert float(law["retirement_age"].sel(**men)) == pytest.approx(
        0.10 * 55 + 0.2 * 60 + 0.65 * stat + 0.05 * (stat + 1), rel=1e-12)
    pre = retirement_schedule(years, AGES, "pre_2024", calibration.pension)
    assert float(pre["pension_share"].sel(year=2043, age=46, category="women_worker")) == \
        pytest.approx(0.08 * norm.cdf((0.85 * 24 + 1.5 - 15) / 7), rel=1e-12)
