"""The economy's retirement distribution in the optimizer's own accounts (issue 14, item 5):
in a run paired with an economy whose households choose their retirement age, the shares of
each cohort retiring at each offset from the statutory age replace the law's window shares
in every schedule of the policy problem (:func:`models.optimize.solve.setup_problem`
``retirement_distribution``, :func:`models.optimize.data.policy_rates`), the offsets taken
from the statutory age **delayed** by the optimizer's lever.

* (a) choice off (no distribution): the problem's data are today's, bit for bit;
* (b) a point mass at offset 0 gives today's schedule and data, bit for bit, with and
  without a delay (so the offsets move with the delayed statutory age);
* (c) a hand case: 30 % of one cohort retiring a year after its delayed statutory age
  moves the optimizer's pensioners by the stated fractions;
* (d) a paired run with the choice on: the optimizer's accounts' mean retirement age of a
  cohort is the economy's (slow).
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

from models import coupling
from models.config import CATEGORIES, OptimizationSettings, load_calibration
from models.coupling import paired_distribution, regime_policy
from models.economy import core
from models.optimize.data import ScenarioData
from models.optimize.evaluate import fresh_problem
from models.optimize.solve import rates_for, scenario_data, setup_problem
from models.pension import calibrate_base_year, retirement_schedule, rules
from tests.conftest import CALIBRATION

BIRTHS = np.arange(1920, 2100)


def distribution(shares: dict[float, np.ndarray], births=BIRTHS) -> xr.DataArray:
    """``[birth_year, category, offset]`` from ``{offset (years): shares[birth_year,
    category]}`` (broadcast)."""
    offsets = sorted(shares)
    values = np.stack([np.broadcast_to(shares[o], (births.size, len(CATEGORIES)))
                       for o in offsets], axis=-1)
    return xr.DataArray(values, dims=("birth_year", "category", "offset"),
                        coords={"birth_year": births, "category": list(CATEGORIES),
                                "offset": np.asarray(offsets, dtype=float)},
                        name="retirement_distribution")


def point_mass() -> xr.DataArray:
    return distribution({-3.0: 0.0, 0.0: 1.0, 3.0: 0.0})


def settings(regime: str) -> OptimizationSettings:
    return OptimizationSettings.model_validate({"regime": regime,
                                                "retirement": {"max_outer_iterations": 1}})


def median(pop: xr.DataArray) -> xr.DataArray:
    return pop.expand_dims(path=[0])


def assert_same_data(a: ScenarioData, b: ScenarioData) -> None:
    for f in dataclasses.fields(ScenarioData):
        if f.name == "settings":
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=f.name)
        else:
            assert x == y, f.name


def delay_knots(problem, months: float) -> np.ndarray:
    """The same delay (months) at every knot and category: ``[node, knot, category]``."""
    return np.full((problem.tree.n_nodes, len(problem.knot_yrs), len(CATEGORIES)), months)


def full_delay(problem, months: float, category: str | None = None) -> np.ndarray:
    """``[year, category]``: ``months`` from the first decision year (one category, or all)."""
    delay = np.zeros((len(problem.years), len(CATEGORIES)))
    cols = slice(None) if category is None else CATEGORIES.index(category)
    delay[problem.opt_mask, cols] = months
    return delay


@pytest.fixture(scope="module")
def no_window():
    """The shipped calibration with no take-up of the flexible window assumed: the law's
    window parts are a point mass at the statutory age."""
    return load_calibration(CALIBRATION, {"pension.retirement.flexible_early_share.value": 0.0,
                                          "pension.retirement.flexible_late_share.value": 0.0})


def test_a_choice_off_gives_todays_problem_bit_for_bit(calibration, median_demography, fit):
    """No distribution (the choice off: :func:`models.coupling.paired_distribution` is None)
    leaves the problem as today's: its status-quo schedule is the law's, its data at the
    start and under a delay are those of a problem set up without the argument."""
    pop = median(median_demography["population"])
    today = setup_problem(calibration, settings("law_2024"), pop, fit)
    off = setup_problem(calibration, settings("law_2024"), pop, fit,
                        retirement_distribution=None)
    law = retirement_schedule(today.years, today.ages, "law_2024", calibration.pension)
    for name in ("pension_share", "retirement_age", "contribution_years"):
        np.testing.assert_array_equal(off.cache["zero_rates"].schedule[name], law[name])
    for months in (0.0, 6.0):
        assert_same_data(scenario_data(off, delay_knots(off, months)),
                         scenario_data(today, delay_knots(today, months)))


def test_a_the_choice_off_has_no_distribution():
    transition = xr.Dataset({"retirement_probability": (("birth_year", "group", "category",
                                                         "option"), np.ones((1, 2, 3, 1)))})
    off = SimpleNamespace(params=SimpleNamespace(retirement_choice=False))
    assert paired_distribution(off, transition) is None


@pytest.mark.parametrize("months", [0.0, 7.0])
def test_b_a_point_mass_at_offset_zero_is_todays_schedule(no_window, median_demography, fit,
                                                          months):
    """A point mass at offset 0, with and without a delay of the statutory age: the same
    schedule, rates and inner data as the law's, bit for bit (were the offsets taken from
    the undelayed statutory age, the delay would be undone)."""
    pop = median(median_demography["population"])
    law = setup_problem(no_window, settings("law_2024"), pop, fit)
    paired = setup_problem(no_window, settings("law_2024"), pop, fit,
                           retirement_distribution=point_mass())
    assert paired.retirement_distribution is not None
    knots = delay_knots(law, months)
    assert_same_data(scenario_data(paired, knots), scenario_data(law, knots))
    delay = full_delay(law, months)
    a, b = rates_for(paired, delay), rates_for(law, delay)
    for name in ("pension_share", "retirement_age", "statutory_age"):
        np.testing.assert_array_equal(a.schedule[name], b.schedule[name], err_msg=name)
    for name in ("pensioner_rate", "insured_rate", "pension_cny"):
        np.testing.assert_array_equal(a.rates[name], b.rates[name], err_msg=name)
    if months:  # the delay moved the schedule (the test has teeth)
        zero = rates_for(law, full_delay(law, 0.0))
        assert np.abs(a.schedule["retirement_age"] - zero.schedule["retirement_age"]).max() \
            > 0.5 * months / 12.0


def test_b_fresh_paths_keep_the_problems_distribution(no_window, median_demography, fit):
    """The policy evaluated on fresh paths (:func:`models.optimize.evaluate.fresh_problem`)
    keeps the in-sample problem's per-person rules, its retirement distribution included."""
    pop = median(median_demography["population"])
    dist = distribution({0.0: 0.6, 1.0: 0.4})
    problem = setup_problem(no_window, settings("law_2024"), pop, fit,
                            retirement_distribution=dist)
    on = fresh_problem(problem, setup_problem(no_window, settings("law_2024"), pop, fit),
                       same_tree=True)
    assert on.retirement_distribution is dist
    delay = full_delay(problem, 5.0)
    np.testing.assert_array_equal(rates_for(on, delay).rates["pensioner_rate"],
                                  rates_for(problem, delay).rates["pensioner_rate"])


@pytest.fixture(scope="module")
def sharp():
    """Contribution years with a tiny spread: everybody has the minimum years, so a share's
    pension months are the rule's months alone (a hand case)."""
    return load_calibration(CALIBRATION,
                            {"pension.retirement.contribution_years_sd.value": 0.01})


def test_c_thirty_percent_a_year_later_moves_the_optimizers_pensioners(sharp,
                                                                       median_demography, fit):
    """Men born 1980, ``pre_2024`` (statutory age 60, reached in their birth month of
    2040), delayed by the optimizer 12 months to 61 (reached in 2041). With 30 % of the
    cohort's window retirements one year after the **delayed** age (62), against all at
    it: the men's pensioner rate (persons aged ``a`` on 1 January) falls by ``c (1 − π_s)
    0.3 · 5.5/12`` in 2041 (aged 60 on 1 January: reaching 61 in birth month ``k``, the
    pension from the month after, ``12 − k`` months drawn, 5.5 on average), by ``c (1 −
    π_s) 0.3 (1 − 5.5/12)`` in 2042
    and not at all from 2043 (``c`` the coverage rate); the optimizer's pensioners (persons
    × rate) by that times the cohort's persons; the mean retirement age rises by
    ``0.3 (1 − π_s)`` years (to ``61 + 0.3 (1 − π_s)`` for the window part)."""
    pension = sharp.pension
    ret = pension.retirement
    assert ret.award_lag_months.value == 1
    m, special = 0.3, ret.special_early_share.men.value
    births = np.array([1980])
    pop = median(median_demography["population"])
    at_age = setup_problem(sharp, settings("pre_2024"), pop, fit,
                           retirement_distribution=distribution({0.0: 1.0, 1.0: 0.0}, births))
    later = setup_problem(sharp, settings("pre_2024"), pop, fit,
                          retirement_distribution=distribution(
                              {0.0: np.array([1.0 - m, 1.0, 1.0]),
                               1.0: np.array([m, 0.0, 0.0])}, births))
    delay = full_delay(at_age, 12.0, "men")
    a, b = rates_for(at_age, delay), rates_for(later, delay)
    men = dict(category="men")
    diff = (b.rates["pensioner_rate"] - a.rates["pensioner_rate"]).sel(**men)
    cover = a.rates["coverage_rate"].sel(**men)
    month_share = 5.5 / 12.0
    expected = {2040: 0.0, 2041: -(1 - special) * m * month_share,
                2042: -(1 - special) * m * (1.0 - month_share), 2043: 0.0, 2060: 0.0}
    pop_men = at_age.pop_c[np.array([0])][0, ..., CATEGORIES.index("men")]  # [year, age]
    for year, value in expected.items():
        cell = dict(year=year, age=year - 1981)
        np.testing.assert_allclose(float(diff.sel(**cell)), float(cover.sel(**cell)) * value,
                                   rtol=1e-12, atol=1e-15, err_msg=str(year))
        i, j = year - int(at_age.years[0]), year - 1981 - int(at_age.ages[0])
        moved = float(np.sum(pop_men[i] * (b.rates["pensioner_rate"].sel(**men).values[i]
                                           - a.rates["pensioner_rate"].sel(**men).values[i])))
        np.testing.assert_allclose(moved, pop_men[i, j] * float(cover.sel(**cell)) * value,
                                   rtol=1e-9, atol=1e-6, err_msg=str(year))
    assert expected[2041] != 0.0 and float(diff.sel(year=2041, age=60)) < 0.0
    cohort = dict(year=2050, age=2050 - 1981, **men)
    np.testing.assert_allclose(float(b.schedule["retirement_age"].sel(**cohort)
                                     - a.schedule["retirement_age"].sel(**cohort)),
                               (1 - special) * m, rtol=1e-12)
    window = (float(b.schedule["retirement_age"].sel(**cohort))
              - special * (60.0 - ret.special_early_years.value)) / (1 - special)
    np.testing.assert_allclose(window, 61.0 + m, rtol=1e-12)
    # the status quo (no delay) carries the same shares from the undelayed age, 60
    zero = later.cache["zero_rates"].schedule["retirement_age"].sel(**cohort)
    np.testing.assert_allclose((float(zero) - special * (60.0 - ret.special_early_years
                                                          .value)) / (1 - special),
                               60.0 + m, rtol=1e-12)


# ------------------------------------------------------------------ a paired run, choice on
@pytest.fixture(scope="module")
def paired_choice(calibration, arrays, median_demography):
    """A paired run (one iteration of :func:`models.coupling.pair_with_economy`) on the
    median path with the shipped elastic economy and the retirement choice on,
    three options (−3, 0, +3 years: small and fast), a fixed price of delay; the
    transitions the loop solved are kept."""
    cal = calibration
    pop = median_demography["population"]
    sched = retirement_schedule(pop["year"].values[:2], pop["age"].values, "law_2024",
                                cal.pension)
    fit = calibrate_base_year(pop, sched, cal.pension, cal.finances)
    ctx = coupling.economy_context(cal, arrays, pop, fit.contribution_index)
    ctx = dataclasses.replace(ctx, params=ctx.params.replace(retirement_choice=True,
                                                             retirement_options=3))
    opt = OptimizationSettings.model_validate({
        "regime": "law_2024", "pairing_max_iterations": 1,
        "retirement": {"max_outer_iterations": 1},
        "objective": {"delay_price": "fixed"}})
    solved = []
    original = coupling.transition_under

    def recording(*args, **kwargs):
        solved.append(original(*args, **kwargs))
        return solved[-1]

    mp = pytest.MonkeyPatch()
    mp.setattr(coupling, "transition_under", recording)
    try:
        out = coupling.pair_with_economy(ctx, cal, opt, pop, fit)
    finally:
        mp.undo()
    return ctx, cal, out, solved


def economy_mean_age(ctx, cal, prob: np.ndarray, births: np.ndarray, delay=None):
    """The economy's option ages (mean over birth months) weighted by ``prob[B, 3, O]``,
    under the law and a delay ``[year, category]`` (months), and the cohorts whose birth
    months fall on both sides of the original age at an option (the accounts clip by the
    mean statutory age, the economy month by month: excluded)."""
    policy = regime_policy(ctx, cal, "law_2024")
    if delay is not None:
        policy = policy.replace(extra_delay_months=delay)
    entry = births + ctx.params.first_age + 1
    months, _ = core.retirement_options(ctx.params, policy, entry)  # [B, 3, O, 12]
    stat = policy.statutory_age_months(births)  # [B, 3, 12]
    offsets = core.FLEXIBLE_MONTHS * np.linspace(-1.0, 1.0, months.shape[2])
    raw = stat[:, :, None, :] + offsets[None, None, :, None]
    original = np.array([rules.LAW_2024_RETIREMENT_AGE[c].original_age_months
                         for c in CATEGORIES], dtype=float)[None, :, None, None]
    straddle = ((raw < original - 1e-9).any(-1) & (raw >= original - 1e-9).any(-1)
                & (prob > 0)).any(-1)
    return (prob * months.mean(-1) / 12.0).sum(-1), straddle


def accounts_window_age(schedule: xr.Dataset, cal, births: np.ndarray) -> np.ndarray:
    """The accounts' mean retirement age of each cohort's window part ``[B, 3]``: the mean
    less special early retirement, over ``1 − π_s``, read at age 70."""
    ret = cal.pension.retirement
    years = schedule["year"].values
    t = np.clip(births + 71, years[0], years[-1])
    age = schedule["retirement_age"].values[t - years[0], t - births - 1]
    out = np.empty(age.shape)
    for j, cat in enumerate(CATEGORIES):
        special = getattr(ret.special_early_share, cat).value
        early = rules.LAW_2024_RETIREMENT_AGE[cat].original_age_months / 12.0 \
            - ret.special_early_years.value
        out[:, j] = (age[:, j] - special * early) / (1.0 - special)
    return out


@pytest.mark.slow
def test_d_in_a_paired_run_the_optimizers_mean_age_is_the_economys(paired_choice):
    """The problem of a paired run with the choice on holds the first transition's
    distribution; its status-quo accounts' mean retirement age of every cohort born
    1960–2020 is the economy's equilibrium one (probability-weighted option ages), and
    under a delay of the optimizer (12 months from 2026) the economy's option ages under
    that delay weighted by the same shares, to 1e-9 years. The loop recorded the
    distribution's change."""
    ctx, cal, out, solved = paired_choice
    problem = out.problem
    births = np.arange(1960, 2021)
    prob = solved[0]["retirement_probability"].sel(group="employee", birth_year=births) \
        .transpose("birth_year", "category", "option").values
    xr.testing.assert_identical(problem.retirement_distribution,
                                paired_distribution(ctx, solved[0]))
    economy, straddle = economy_mean_age(ctx, cal, prob, births)
    accounts = accounts_window_age(problem.cache["zero_rates"].schedule, cal, births)
    np.testing.assert_allclose(accounts[~straddle], economy[~straddle], rtol=0, atol=1e-9)
    assert (~straddle).sum() > 0.8 * straddle.size
    law = retirement_schedule(problem.years, problem.ages, "law_2024", cal.pension)
    assert np.abs(problem.cache["zero_rates"].schedule["retirement_age"]
                  - law["retirement_age"]).max() > 0.1  # the households moved (teeth)
    months = full_delay(problem, 12.0)
    lever = xr.DataArray(months, dims=("year", "category"),
                         coords={"year": problem.years, "category": list(CATEGORIES)})
    economy_d, straddle_d = economy_mean_age(ctx, cal, prob, births, lever)
    accounts_d = accounts_window_age(rates_for(problem, months).schedule, cal, births)
    ok = ~(straddle_d | straddle)
    np.testing.assert_allclose(accounts_d[ok], economy_d[ok], rtol=0, atol=1e-9)
    assert ok.sum() > 0.5 * ok.size
    moved = (accounts_d - accounts)[ok]  # later for the cohorts the delay reaches
    assert moved.min() >= -1e-12 and moved.max() > 0.5
    assert "distribution_change" in out.history[-1]
    assert np.isfinite(out.history[-1]["distribution_change"])


@pytest.mark.slow
def test_the_economys_price_of_delay_is_zero_exactly_where_no_cohort_is_delayed(
        paired_choice):
    """Item 3 of the brief (the zero prices with the choice on): at the first transition's
    prices, the economy's leisure price of a month of delay from 2026 is 0 in the years
    before 2026 (no cohort reaching its statutory age then is delayed: a genuine zero,
    :func:`models.coupling.economy_delay_price`) and positive in every year from 2026."""
    ctx, cal, _, solved = paired_choice
    price = coupling.economy_delay_price(ctx, cal, "law_2024", solved[0], 2026)
    years = price["year"].values
    assert np.all(price.values[years < 2026] == 0.0)
    assert np.all(price.values[years >= 2026] > 0.0)
