"""The economy's retirement distribution in the accounts (issue 14, item 5): in a run paired
with an economy whose households choose their retirement age in the 2024 law's flexible
window, the shares of each cohort and category retiring at each age of the window replace
the law's window parts of the accounts' retirement schedule
(:func:`models.pension.retirement_schedule` ``retirement_distribution``).

* a distribution that reproduces the law's own window (a point mass at the statutory age
  where the law has no window, the law's early/statutory/late shares where it has one) gives
  today's schedule: bit for bit at a point mass, to rounding otherwise;
* moving a share of one cohort's mass one year later moves its new pensioners and its
  contribution years by the amounts of a hand calculation;
* in a paired run with the choice on, the accounts' mean retirement age is the economy's.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from models.config import CATEGORIES, load_calibration
from models.pension import retirement_schedule
from models.pension import rules
from models.pension.accounts import reach_year
from tests.conftest import CALIBRATION

YEARS = np.arange(2021, 2101)
AGES = np.arange(0, 101)
BIRTHS = np.arange(1930, 2081)
VARIABLES = ("pension_share", "pension_share_jan", "statutory_age", "retirement_age",
             "contribution_years", "coverage_freeze_year")


def distribution(shares: dict[float, np.ndarray], births=BIRTHS) -> xr.DataArray:
    """``[birth_year, category, offset]`` from ``{offset (years): shares[birth_year,
    category]}``."""
    offsets = sorted(shares)
    values = np.stack([np.broadcast_to(shares[o], (births.size, len(CATEGORIES)))
                       for o in offsets], axis=-1)
    return xr.DataArray(values, dims=("birth_year", "category", "offset"),
                        coords={"birth_year": births, "category": list(CATEGORIES),
                                "offset": np.asarray(offsets, dtype=float)})


def point_mass() -> xr.DataArray:
    return distribution({-3.0: 0.0, 0.0: 1.0, 3.0: 0.0})


def assert_same(a: xr.Dataset, b: xr.Dataset, exact: bool = True) -> None:
    for name in VARIABLES:
        if exact:
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
        else:
            np.testing.assert_allclose(a[name].values, b[name].values, rtol=0, atol=1e-12,
                                       err_msg=name)


@pytest.fixture(scope="module")
def no_window():
    """The shipped calibration with no take-up of the flexible window assumed (the law's
    window parts are then a point mass at the statutory age)."""
    return load_calibration(CALIBRATION, {"pension.retirement.flexible_early_share.value": 0.0,
                                          "pension.retirement.flexible_late_share.value": 0.0})


@pytest.mark.parametrize("regime", ["pre_2024", "law_2024"])
def test_a_point_mass_at_the_statutory_age_is_the_law_bit_for_bit(no_window, regime):
    law = retirement_schedule(YEARS, AGES, regime, no_window.pension)
    paired = retirement_schedule(YEARS, AGES, regime, no_window.pension,
                                 retirement_distribution=point_mass())
    assert_same(paired, law)


def test_a_point_mass_is_the_shipped_law_before_the_window(calibration):
    """The shipped calibration's ``pre_2024`` regime has no window: a point mass is the law."""
    law = retirement_schedule(YEARS, AGES, "pre_2024", calibration.pension)
    paired = retirement_schedule(YEARS, AGES, "pre_2024", calibration.pension,
                                 retirement_distribution=point_mass())
    assert_same(paired, law)


def test_a_the_laws_own_window_as_a_distribution_is_the_law(calibration):
    """The law's assumed take-up written as a distribution over offsets (−3 years: the
    window's earliest age, never below the original; 0; +1 year: the late retirees'
    ``flexible_late_months``) for the cohorts reaching their age under the law, nothing for
    the others: today's schedule to rounding."""
    ret = calibration.pension.retirement
    assert ret.flexible_late_months.value == 12.0
    law = retirement_schedule(YEARS, AGES, "law_2024", calibration.pension)
    special = np.array([getattr(ret.special_early_share, c).value for c in CATEGORIES])
    early = ret.flexible_early_share.value / (1.0 - special)
    late = ret.flexible_late_share.value / (1.0 - special)
    stat = np.stack([np.asarray(rules.statutory_retirement_age_months(
        np.repeat(BIRTHS, 12), np.tile(np.arange(1, 13), BIRTHS.size), c, "law_2024"),
        dtype=float).reshape(-1, 12).mean(-1) / 12.0 for c in CATEGORIES], -1)
    under_law = reach_year(BIRTHS[:, None], stat) >= rules.LAW_2024_START_YEAR
    nan = np.where(under_law, 1.0, np.nan)
    dist = distribution({-3.0: early * nan, 0.0: (1.0 - early - late) * nan, 1.0: late * nan})
    assert_same(retirement_schedule(YEARS, AGES, "law_2024", calibration.pension,
                                    retirement_distribution=dist), law, exact=False)


@pytest.fixture(scope="module")
def sharp():
    """Contribution years with a tiny spread: everybody has the minimum years, so a share's
    pension months are the rule's months alone (a hand case)."""
    return load_calibration(CALIBRATION,
                            {"pension.retirement.contribution_years_sd.value": 0.01})


def test_b_mass_one_year_later_moves_pensioners_and_years_by_hand(sharp):
    """Men born 1980, ``pre_2024`` (statutory age 60, reached in their birth month of 2040,
    the pension from the month after: ``award_lag_months`` = 1). Moving the share ``m`` of
    the cohort's window retirements to 61: in 2040 (aged 59 on 1 January) the share drawing
    falls by ``(1 − π_s) m · (6.5 − 1)/12`` (birth months uniform: ``12 − k`` months drawn
    after reaching 60 in month ``k``); in 2041 by ``(1 − π_s) m · (1 − 5.5/12)``; from 2042
    not at all. Mean retirement age ``+ (1 − π_s) m`` years, contribution years ``+ (1 −
    π_s) m · density``; other cohorts unchanged."""
    pension = sharp.pension
    ret = pension.retirement
    assert ret.award_lag_months.value == 1
    m, special = 0.3, ret.special_early_share.men.value
    births = np.array([1980])
    at_60 = retirement_schedule(YEARS, AGES, "pre_2024", pension,
                                retirement_distribution=distribution(
                                    {0.0: 1.0, 1.0: 0.0}, births))
    moved = retirement_schedule(YEARS, AGES, "pre_2024", pension,
                                retirement_distribution=distribution(
                                    {0.0: np.array([1.0 - m, 1.0, 1.0]),
                                     1.0: np.array([m, 0.0, 0.0])}, births))
    men = dict(category="men")
    diff = (moved - at_60).sel(**men)
    month_share = 5.5 / 12.0
    expected = {2039: 0.0, 2040: -(1 - special) * m * month_share,
                2041: -(1 - special) * m * (1.0 - month_share), 2042: 0.0, 2060: 0.0}
    for year, value in expected.items():
        np.testing.assert_allclose(float(diff["pension_share"].sel(year=year,
                                                                   age=year - 1981)),
                                   value, rtol=1e-12, atol=1e-15, err_msg=str(year))
    # the stock on 1 January 2041 (aged 60): all who reached 60 in 2040 drew by December
    # but those born in December (pension from January): 11/12 of the window part at 60,
    # none of the part moved to 61
    jan = float(at_60["pension_share_jan"].sel(year=2041, age=60, **men))
    np.testing.assert_allclose(jan, special + (1 - special) * 11 / 12, rtol=1e-12)
    np.testing.assert_allclose(float(diff["pension_share_jan"].sel(year=2041, age=60)),
                               -(1 - special) * m * 11 / 12, rtol=1e-12)
    cohort = dict(year=2050, age=2050 - 1981)
    np.testing.assert_allclose(float(diff["retirement_age"].sel(**cohort)),
                               (1 - special) * m, rtol=1e-12)
    np.testing.assert_allclose(float(diff["contribution_years"].sel(**cohort)),
                               (1 - special) * m * ret.contribution_density.value, rtol=1e-12)
    # nobody else moves: other cohorts and the other categories
    other = (YEARS[:, None] - AGES[None, :] - 1) != 1980
    for name in ("pension_share", "retirement_age", "contribution_years"):
        assert np.all(diff[name].values[other] == 0.0), name
        assert np.all((moved - at_60)[name].sel(category=["women_cadre", "women_worker"])
                      .values == 0.0), name


# ------------------------------------------------------------------ a paired elastic run
@pytest.fixture(scope="module")
def elastic_choice(calibration, arrays, median_demography):
    """The shipped elastic economy with the retirement choice on, three options
    (−3, 0, +3 years: small and fast), its 2024-law transition and the law's base-year fit."""
    import dataclasses

    from models.coupling import economy_context, regime_fit, transition_under

    cal = calibration
    pop = median_demography["population"]
    years, ages = pop["year"].values, pop["age"].values
    fit0 = regime_fit_on(pop, cal)
    ctx = economy_context(cal, arrays, pop, fit0.contribution_index)
    ctx = dataclasses.replace(ctx, params=ctx.params.replace(retirement_choice=True,
                                                             retirement_options=3))
    transition = transition_under(ctx, cal, "law_2024")
    return ctx, cal, pop, transition, regime_fit(ctx, cal, "law_2024"), years, ages


def regime_fit_on(pop, cal):
    from models.pension import calibrate_base_year

    sched = retirement_schedule(pop["year"].values[:2], pop["age"].values, "law_2024",
                                cal.pension)
    return calibrate_base_year(pop, sched, cal.pension, cal.finances)


@pytest.mark.slow
def test_c_the_accounts_mean_retirement_age_is_the_economys(elastic_choice):
    """Per birth cohort (1960–2020) and category, the accounts' mean retirement age in the
    window (their mean less special early retirement, over ``1 − π_s``) equals the mean of
    the economy's employees' option ages (each the mean over birth months,
    :func:`models.economy.core.retirement_options`) weighted by their equilibrium choice
    probabilities, to 1e-9 years (measured: 1.4e-14). With three options no cohort's
    birth months straddle the original age at one option; with more (e.g. −2 years) the
    accounts clip an option at the original age by the cohort's mean statutory age and the
    economy birth month by birth month, which would differ by a fraction of a month."""
    from models.coupling import paired_schedule, regime_policy
    from models.economy import core

    ctx, cal, pop, transition, _, years, ages = elastic_choice
    schedule = paired_schedule(ctx, cal, transition, "law_2024", years, ages)
    births = np.arange(1960, 2021)
    entry = births + ctx.params.first_age + 1
    months, _ = core.retirement_options(ctx.params, regime_policy(ctx, cal, "law_2024"), entry)
    option_age = months.mean(axis=-1) / 12.0  # [B, 3, O]
    prob = transition["retirement_probability"].sel(group="employee", birth_year=births) \
        .transpose("birth_year", "category", "option").values
    economy = (prob * option_age).sum(-1)
    ret = cal.pension.retirement
    t = np.clip(births + 70, years[0], years[-1])
    accounts = schedule["retirement_age"].values[t - years[0], t - births - 1]  # [B, 3]
    for j, cat in enumerate(CATEGORIES):
        special = getattr(ret.special_early_share, cat).value
        early_age = rules.LAW_2024_RETIREMENT_AGE[cat].original_age_months / 12.0 \
            - ret.special_early_years.value
        window = (accounts[:, j] - special * early_age) / (1.0 - special)
        np.testing.assert_allclose(window, economy[:, j], rtol=0, atol=1e-9, err_msg=cat)
    # the economy's households do move off the statutory age (the test has teeth)
    law = retirement_schedule(years, ages, "law_2024", cal.pension)
    assert np.abs(schedule["retirement_age"] - law["retirement_age"]).max() > 0.1


@pytest.mark.slow
def test_c_the_paired_run_prices_the_accounts_at_the_economys_ages(elastic_choice,
                                                                    monkeypatch):
    """The economy step's accounts under the model's prices (``model_prices_*``) are the
    accounts on :func:`models.coupling.paired_schedule`, not on the law's schedule (the
    transition is the fixture's: the step's own solve is replaced by it)."""
    from models.coupling import paired_prices, paired_schedule
    from models.pension import project_accounts
    from models.pipeline import economy_step

    ctx, cal, pop, transition, fit, years, ages = elastic_choice
    monkeypatch.setattr(economy_step, "transition_under", lambda *a, **k: transition)
    law = retirement_schedule(years, ages, "law_2024", cal.pension)
    out = economy_step.run_economy(None, cal, None, pop, {"law_2024": (law, fit)}, ctx)
    index, fund, reserve = paired_prices(transition, years, cal)
    kw = dict(wage_index=index, fund_return=fund, reserve_return=reserve)
    paired = project_accounts(pop, paired_schedule(ctx, cal, transition, "law_2024", years,
                                                   ages), fit, cal.pension, cal.finances, **kw)
    unpaired = project_accounts(pop, law, fit, cal.pension, cal.finances, **kw)
    got = out["model_prices_expenditure_cny"].sel(regime="law_2024")
    np.testing.assert_allclose(got, paired["expenditure_cny"], rtol=1e-12)
    assert np.abs(got / unpaired["expenditure_cny"] - 1.0).max() > 1e-3
