"""Pension accounts: base-year targets, accounting identities, and the direction of reforms."""

import numpy as np
import pytest
import xarray as xr

from models.pension import (
    calibrate_base_year,
    fund_milestones,
    project_accounts,
    retirement_schedule,
)

BASE_TOLERANCE = 1e-9  # relative: the base year is calibrated in closed form


@pytest.fixture(scope="module")
def setup(calibration, median_demography):
    pop = median_demography["population"]
    years, ages = pop["year"].values, pop["age"].values
    out = {}
    for regime in ("pre_2024", "law_2024"):
        sched = retirement_schedule(years, ages, regime, calibration.pension)
        fit = calibrate_base_year(pop.sel(year=years[:2]), sched, calibration.pension,
                                  calibration.finances)
        acc = project_accounts(pop, sched, fit, calibration.pension, calibration.finances)
        out[regime] = (sched, fit, acc)
    return pop, out


def test_base_year_reproduces_reported_targets(setup, calibration):
    _, out = setup
    tg = calibration.pension.targets
    acc = out["law_2024"][2].sel(year=tg.year.value)
    for model, target in [
        (acc["insured_workers_year_end"].sum(), tg.insured_workers),
        (acc["pensioners_year_end"].sum(), tg.retirees),
        (acc["revenue_cny"], tg.revenue_cny),
        (acc["expenditure_cny"], tg.expenditure_cny),
        (acc["balance_end_cny"], tg.balance_end_cny),
        (acc["residents_recipients"], tg.residents_recipients),
    ]:
        assert float(model) == pytest.approx(target.value, rel=BASE_TOLERANCE)


def test_residents_expenditure_is_close_to_reported_without_fitting(setup, calibration):
    """Not calibrated: recipients x average pension should land within 10 % of the bulletin."""
    _, out = setup
    tg = calibration.pension.targets
    acc = out["law_2024"][2].sel(year=tg.year.value)
    assert float(acc["residents_expenditure_cny"]) == pytest.approx(
        tg.residents_expenditure_cny.value, rel=0.10)


def test_fund_balance_identity(setup):
    _, out = setup
    acc = out["law_2024"][2]
    start = out["law_2024"][1].fund_balance_start_cny
    balance = np.concatenate([[start], acc["balance_end_cny"].values])
    flows = (acc["contributions_cny"] + acc["fiscal_subsidy_cny"] + acc["interest_cny"]
             - acc["debt_interest_cny"] + acc["reserve_draw_cny"] - acc["expenditure_cny"]).values
    np.testing.assert_allclose(np.diff(balance), flows, rtol=1e-12, atol=1.0)
    np.testing.assert_allclose(acc["months_payable"],
                               acc["balance_end_cny"] / (acc["expenditure_cny"] / 12), rtol=1e-12)


def test_pension_shares_are_probabilities_and_never_fall_along_a_cohort(setup):
    _, out = setup
    for sched, _, _ in out.values():
        share = sched["pension_share"].values
        assert share.min() >= 0.0 and share.max() <= 1.0
        assert (share[1:, 1:] >= share[:-1, :-1] - 1e-12).all()


def test_pensioners_and_insured_never_exceed_population(setup, calibration):
    from models.pension import category_population

    pop, out = setup
    by_cat = category_population(pop, calibration.pension).sum("age")
    for _, _, acc in out.values():
        assert ((acc["insured_workers"] + acc["pensioners"]) <= by_cat).all()


def test_2024_law_means_fewer_pensioners_more_contributors_and_a_larger_fund(setup):
    _, out = setup
    pre, law = out["pre_2024"][2], out["law_2024"][2]
    before = dict(year=slice(None, 2024))
    after = dict(year=slice(2026, None))
    xr.testing.assert_allclose(pre["pensioners"].sel(**before), law["pensioners"].sel(**before))
    assert (law["pensioners"].sum("category").sel(**after)
            < pre["pensioners"].sum("category").sel(**after)).all()
    assert (law["insured_workers"].sum("category").sel(**after)
            > pre["insured_workers"].sum("category").sel(**after)).all()
    # the fund is larger for decades; late in the century the law's longer careers (more
    # credited years, a smaller account divisor) raise awards enough that the accumulated gap
    # can close, so the balance is compared to 2080
    until = dict(year=slice(2026, 2080))
    assert (law["balance_end_cny"].sel(**until) > pre["balance_end_cny"].sel(**until)).all()


def test_higher_pooled_rate_raises_the_balance_every_year(setup, calibration):
    pop, out = setup
    sched, fit, acc = out["law_2024"]
    rate = acc["pooled_rate"] + 0.01
    higher = project_accounts(pop, sched, fit, calibration.pension, calibration.finances,
                              pooled_rate=rate)
    assert (higher["balance_end_cny"] > acc["balance_end_cny"]).all()
    xr.testing.assert_allclose(higher["expenditure_cny"], acc["expenditure_cny"])


def test_reserve_draws_move_money_from_the_reserve_to_the_fund(setup, calibration):
    pop, out = setup
    sched, fit, acc = out["law_2024"]
    draw = xr.zeros_like(acc["expenditure_cny"]).where(acc["year"] != 2030, 1e11)
    drawn = project_accounts(pop, sched, fit, calibration.pension, calibration.finances,
                             reserve_draw=draw)
    r_fund = calibration.finances.fund.real_return.value
    r_res = calibration.finances.reserve.real_return.value
    years_after = drawn["year"] - 2030
    gain = (drawn["balance_end_cny"] - acc["balance_end_cny"]).where(drawn["year"] >= 2030)
    loss = (acc["reserve_assets_end_cny"] - drawn["reserve_assets_end_cny"]).where(
        drawn["year"] >= 2030)
    np.testing.assert_allclose(gain.dropna("year"), (1e11 * (1 + r_fund) ** years_after)
                               .where(drawn["year"] >= 2030).dropna("year"), rtol=1e-9)
    np.testing.assert_allclose(loss.dropna("year"), (1e11 * (1 + r_res) ** years_after)
                               .where(drawn["year"] >= 2030).dropna("year"), rtol=1e-9)


def test_milestones_are_first_years_of_their_conditions(setup):
    _, out = setup
    acc = out["pre_2024"][2]
    m = fund_milestones(acc)
    depletion = m["depletion_year"]
    if np.isfinite(depletion):
        y = int(depletion)
        assert float(acc["balance_end_cny"].sel(year=y)) < 0
        assert (acc["balance_end_cny"].sel(year=slice(None, y - 1)) >= 0).all()
    first = int(m["first_deficit_year"])
    gap = acc["expenditure_cny"] - acc["contributions_cny"] - acc["fiscal_subsidy_cny"]
    assert float(gap.sel(year=first)) > 0
    assert (gap.sel(year=slice(None, first - 1)) <= 0).all()
