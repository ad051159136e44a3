"""One pension system: under the same prices (the economy's average wage path, the same
population, pooled rate and indexation) the OLG economy's pensioners, contributions and
expenditure are the accounts' (issue 13), and the fiscal closure is stated once (the
calibrated subsidy rule plus an explicit extra transfer).

With elastic hours (issue 14, the calibrated option; shipped off) the economy's contributions are the
accounts' full-time ones times its households' hours: the exact agreement is checked on the
same economy at full time (no disutility of work), and the elastic one agrees on pensioners
and expenditure and pays less in contributions, by no more than its hours allow."""

import dataclasses
import pickle

import numpy as np
import pytest

from models.coupling import economy_context, model_prices, regime_fit, transition_under
from models.pension import calibrate_base_year, project_accounts, retirement_schedule
from models.pension.book import book_flows, pension_book

YEARS = (2030, 2050, 2100)


@pytest.fixture(scope="module")
def context(calibration, arrays, median_demography):
    pop = median_demography["population"]
    return economy_context(calibration, arrays, pop,
                           regime_fit_for(calibration, pop).contribution_index)


@pytest.fixture(scope="module")
def paired(context, calibration, median_demography):
    """The economy at full time (no disutility of work) under the 2024 law and the accounts at
    its prices."""
    full_time = context.params.replace(hours_disutility=0.0, participation_disutility=0.0,
                                       retirement_choice=False)
    assert not full_time.elastic
    return paired_with(dataclasses.replace(context, params=full_time), calibration,
                       median_demography)


@pytest.fixture(scope="module")
def paired_hours(context, calibration, median_demography):
    """The economy with the calibrated elastic hours (shipped) under the 2024 law and the
    accounts at its prices."""
    hours = calibration.economy.households.labour_supply
    params = context.params.replace(hours_disutility=hours.hours_disutility.value,
                                    participation_disutility=hours.participation_disutility.value)
    assert params.hours_disutility > 0 and not params.retirement_choice
    return paired_with(dataclasses.replace(context, params=params), calibration,
                       median_demography)


def paired_with(ctx, calibration, median_demography):
    pop = median_demography["population"]
    years, ages = pop["year"].values, pop["age"].values
    transition = transition_under(ctx, calibration, "law_2024")
    fit = regime_fit(ctx, calibration, "law_2024")
    schedule = retirement_schedule(years, ages, "law_2024", calibration.pension)
    index, _ = model_prices(transition, years, calibration)
    first = ctx.params.first_age
    # the economy's households start at first_age: the accounts on the same ages
    adults = pop.where(pop["age"] >= first, 0.0)
    accounts = project_accounts(adults, schedule, fit, calibration.pension, calibration.finances,
                                wage_index=index)
    whole = project_accounts(pop, schedule, fit, calibration.pension, calibration.finances,
                             wage_index=index)
    return transition, accounts, whole


def regime_fit_for(calibration, pop):
    sched = retirement_schedule(pop["year"].values[:2], pop["age"].values, "law_2024",
                                calibration.pension)
    return calibrate_base_year(pop, sched, calibration.pension, calibration.finances)


@pytest.mark.parametrize("year", YEARS)
def test_economy_and_accounts_agree(paired, year):
    """Pensioners, expenditure and contributions within 1e-6 relative."""
    transition, accounts, whole = paired
    econ, acc = transition.sel(year=year), accounts.sel(year=year)
    pairs = {
        "pensioners": (float(econ["employee_pensioners"]), float(acc["pensioners"].sum())),
        "expenditure": (float(econ["pension_benefits_cny"]), float(acc["expenditure_cny"])),
        "contributions": (float(econ["pension_contributions_cny"]),
                          float(acc["contributions_cny"])),
    }
    for name, (e, a) in pairs.items():
        assert e == pytest.approx(a, rel=1e-6), (name, year, e, a)
    # pensioners are all adults: the whole accounts hold the same ones
    assert float(whole.sel(year=year)["pensioners"].sum()) == pytest.approx(
        pairs["pensioners"][1], rel=1e-12)


@pytest.mark.parametrize("year", YEARS)
def test_elastic_hours_change_only_contributions(paired_hours, year):
    """Elastic hours: pensioners and expenditure are the accounts' (1e-6); contributions are
    the accounts' full-time ones times hours, so below them and above the smallest hours of
    the employees' working years times them."""
    transition, accounts, _ = paired_hours
    econ, acc = transition.sel(year=year), accounts.sel(year=year)
    assert float(econ["employee_pensioners"]) == pytest.approx(float(acc["pensioners"].sum()),
                                                               rel=1e-6)
    assert float(econ["pension_benefits_cny"]) == pytest.approx(float(acc["expenditure_cny"]),
                                                                rel=1e-6)
    hours = transition["option_hours"].sel(group="employee")
    ratio = float(econ["pension_contributions_cny"]) / float(acc["contributions_cny"])
    assert float(hours.min()) < ratio < 1.0


def test_fiscal_closure_stated_once(paired):
    """The economy's subsidy is the accounts' calibrated rule plus an explicit extra transfer."""
    transition, accounts, _ = paired
    rule = transition["fiscal_subsidy_rule_cny"].sel(year=list(YEARS))
    np.testing.assert_allclose(rule, accounts["fiscal_subsidy_cny"].sel(year=list(YEARS)),
                               rtol=1e-9)
    np.testing.assert_allclose(rule + transition["extra_transfer_cny"].sel(year=list(YEARS)),
                               transition["fiscal_subsidy_cny"].sel(year=list(YEARS)),
                               rtol=1e-9)


def test_households_receive_what_the_government_pays(paired):
    """The goods market clears (Walras): the book's flows are households' income."""
    transition, _, _ = paired
    residual = transition["goods_market_residual_cny"] / transition["output_cny"]
    assert float(np.abs(residual).max()) < 1e-6


def test_book_flows_hand_case(calibration, fit):
    """One cell by hand: contributions = (τ_pool + τ_IA) ρ χ w N_w; doubling the wage index
    doubles contributions; pensioners do not move with wages."""
    years = np.array([2021, 2022])
    ages = np.arange(20, 101)
    book = pension_book(years, ages, "law_2024", fit, calibration.pension,
                        calibration.finances)
    pop = np.ones((1, 2, ages.size, 3))
    one = book_flows(book, pop, np.ones((1, 2)), np.full(2, 0.16), np.full(2, 0.6))
    two = book_flows(book, pop, np.array([[1.0, 2.0]]), np.full(2, 0.16), np.full(2, 0.6))
    con = calibration.pension.contribution
    w0 = calibration.finances.wages.average_wage_cny.value
    cell = one["insured"][0, 0, 10, 0] * (0.16 + con.individual_account_rate.value) \
        * fit.contribution_index * con.compliance.value * w0
    assert one["contributions"][0, 0, 10, 0] == pytest.approx(cell, rel=1e-12)
    assert two["contributions"][0, 1].sum() == pytest.approx(2 * one["contributions"][0, 1].sum(),
                                                             rel=1e-12)
    np.testing.assert_array_equal(one["pensioners"], two["pensioners"])


def test_book_reaches_worker_processes(calibration, fit):
    """A book pickles (Monte Carlo price workers receive it) and gives the same flows."""
    years, ages = np.array([2021, 2022]), np.arange(20, 101)
    book = pension_book(years, ages, "law_2024", fit, calibration.pension, calibration.finances)
    again = pickle.loads(pickle.dumps(book))
    pop = np.ones((1, 2, ages.size, 3))
    args = (pop, np.array([[1.0, 1.05]]), np.full(2, 0.16), np.full(2, 0.6))
    for key, value in book_flows(book, *args).items():
        np.testing.assert_array_equal(book_flows(again, *args)[key], value)
