"""The OLG economy (issue 4): analytic cases first, then invariants, on synthetic demography.

* the household kernel against a brute-force optimiser, and its Euler equation;
* the two-period Diamond model (log utility, Cobb-Douglas, full depreciation): closed-form
  steady-state capital, its response to a pay-as-you-go contribution, and the closed-form
  law of motion along a transition;
* markets clear every year; the steady state is a fixed point of the transition solver;
* the welfare change of a policy against itself is zero; Monte Carlo at the median is the
  median.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.optimize import minimize

from models.economy import (
    DemographySteadyState,
    EconomyParameters,
    InitialState,
    Policy,
    demography_steady_state,
    initial_state,
    solve_steady_state,
    solve_transition,
    welfare_cev,
)
from models.economy import core
from models.economy.household import (
    HouseholdInputs,
    euler_errors,
    evaluate_segments,
    solve_households,
)
from models.economy.monte_carlo import (
    linearize_median,
    monte_carlo_error,
    price_paths_monte_carlo,
)
from models.economy.transition import build_model, unknowns_from_dataset
from models.pension import rules

BASE = 2021


# ------------------------------------------------------------------------------ fixtures
def synthetic_demography(n_years: int = 140, growth: float = 0.0, mortality_trend: float = 0.0,
                         base: int = BASE):
    """Population on 1 January ``[year, age 0..100, sex]`` and death rates: births growing at
    ``growth`` since long ago (a stable population when ``mortality_trend`` is 0), Gompertz
    mortality falling by ``mortality_trend`` a year; no migration, no open-age accumulation."""
    ages = np.arange(101)
    years = base + np.arange(n_years)
    mx0 = 0.0003 * np.exp(0.085 * np.maximum(ages - 20, 0)) + 0.002 * np.exp(-ages)
    trend = np.exp(-mortality_trend * np.arange(n_years))
    mx = mx0[None, :, None] * np.array([0.8, 1.0])[None, None, :] * trend[:, None, None]
    s = np.exp(-mx)
    pop = np.zeros((n_years, ages.size, 2))
    surv = np.ones((ages.size, 2))
    surv[1:] = np.cumprod(s[0, :-1], axis=0)
    pop[0] = 1e7 * np.array([0.48, 0.52]) * surv * (1 + growth) ** (-ages[:, None])
    for t in range(1, n_years):
        pop[t, 0] = pop[t - 1, 0] * (1 + growth)
        pop[t, 1:] = pop[t - 1, :-1] * s[t - 1, :-1]
    coords = dict(year=years, age=ages, sex=["female", "male"])
    return (xr.DataArray(pop, dims=("year", "age", "sex"), coords=coords),
            xr.DataArray(mx, dims=("year", "age", "sex"), coords=coords))


def china_like_params(**changes) -> EconomyParameters:
    base = EconomyParameters(discount_factor=0.99, technology_growth=((BASE, 0.02),),
                             coverage_old_share=0.5, coverage_young_share=0.5)
    return base.replace(**changes)


@pytest.fixture(scope="module")
def stationary_economy():
    """A stable population, constant policy and coverage: the steady state and a transition
    started on it."""
    params = china_like_params(residents_indexation_wage_share=1.0)
    pop, mx = synthetic_demography()
    policy = Policy(retirement_regime="pre_2024")
    demo = demography_steady_state(pop, mx, BASE, params, population_growth=0.0)
    ss = solve_steady_state(params, demo, policy, year=BASE)
    init = initial_state(ss, pop.sel(year=BASE), BASE)
    return params, pop, mx, policy, ss, init


@pytest.fixture(scope="module")
def ageing_transition():
    """Falling mortality and the 2024 retirement law from a steady state: the transition."""
    params = china_like_params()
    pop, mx = synthetic_demography(n_years=80, mortality_trend=0.01)
    demo = demography_steady_state(pop, mx, BASE, params, population_growth=0.0)
    ss = solve_steady_state(params, demo, Policy(retirement_regime="pre_2024"), year=BASE)
    init = initial_state(ss, pop.sel(year=BASE), BASE)
    policy = Policy(retirement_regime="law_2024")
    ds = solve_transition(params, pop, mx, policy, init, horizon=120,
                          terminal_population_growth=0.0)
    return params, pop, mx, policy, init, ds


# ------------------------------------------------------------------------------ household kernel
def random_problems(seed: int = 0, n: int = 6, J: int = 12):
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    R = 1 + rng.uniform(0.0, 0.08, (n, J))
    y = np.exp(rng.normal(0, 0.5, (n, J)))
    y[:, 8:] *= 0.3
    y[:, :3] *= 0.2
    s = rng.uniform(0.9, 1.0, (n, J))
    limit = np.full((n, J), 0.3)
    limit[0] = 0.0
    start = rng.integers(0, J // 2, n)
    start[:6] = [0, 0, 2, 5, 0, J - 1][:n]
    a0 = rng.uniform(0.0, 2.0, n)
    a0[:6] = [0.0, 0.5, 1.0, 2.0, 0.0, 0.4][:n]
    return HouseholdInputs(R, y, s, limit, start, a0, 0.97, 2.0)


def test_household_solution_is_the_constrained_optimum():
    """Segment jumping equals a brute-force optimiser of the same problem (SLSQP)."""
    h = random_problems()
    sol = solve_households(h)
    for p in range(h.income.shape[0]):
        j0 = h.start[p]
        J = h.income.shape[1]

        def assets(c):
            a, out = h.initial_assets[p], []
            for i in range(j0, J):
                a = h.gross_return[p, i] * a + h.income[p, i] - c[i - j0]
                out.append(a)
            return np.array(out)

        def minus_utility(c):
            w, u = 1.0, 0.0
            for i in range(j0, J):
                u += w * (-1.0 / c[i - j0])
                w *= h.discount_factor * h.survival[p, i]
            return -u

        cons = [{"type": "ineq", "fun": lambda c: assets(c)[:-1] + h.borrowing_limit[p, j0:J - 1]},
                {"type": "eq", "fun": lambda c: assets(c)[-1]}]
        best = minimize(minus_utility, sol.consumption[p, j0:] * 0.9, constraints=cons,
                        bounds=[(1e-6, None)] * (J - j0), method="SLSQP",
                        options={"ftol": 1e-14, "maxiter": 1000})
        assert minus_utility(sol.consumption[p, j0:]) <= best.fun + 1e-9
        np.testing.assert_allclose(sol.consumption[p, j0:], best.x, rtol=1e-5, atol=1e-6)
        assert sol.assets_next[p, -1] == pytest.approx(0.0, abs=1e-12)
        assert np.all(sol.assets_next[p, j0:] >= -h.borrowing_limit[p, j0:] - 1e-12)


def test_work_disutility_enters_the_euler_equation_and_utility():
    """With period utility u(c m) the solution maximises the same brute-force objective."""
    h0 = random_problems(seed=5, n=3)
    J = h0.income.shape[1]
    m = np.where(np.arange(J) < 8, 0.7, 1.0)[None, :].repeat(3, 0)  # work costs 30 %
    h = HouseholdInputs(h0.gross_return, h0.income, h0.survival, h0.borrowing_limit,
                        np.zeros(3, dtype=int), np.zeros(3), 0.97, 2.0, taste=m)
    sol = solve_households(h)
    assert np.max(np.abs(euler_errors(h, sol))) < 1e-12
    for p in range(3):
        def minus_utility(c, p=p):
            w, u = 1.0, 0.0
            for i in range(J):
                u += w * (-1.0 / (c[i] * m[p, i]))
                w *= h.discount_factor * h.survival[p, i]
            return -u

        def assets(c, p=p):
            a, out = 0.0, []
            for i in range(J):
                a = h.gross_return[p, i] * a + h.income[p, i] - c[i]
                out.append(a)
            return np.array(out)

        cons = [{"type": "ineq", "fun": lambda c: assets(c)[:-1] + h.borrowing_limit[p, :-1]},
                {"type": "eq", "fun": lambda c: assets(c)[-1]}]
        best = minimize(minus_utility, sol.consumption[p] * 0.9, constraints=cons,
                        bounds=[(1e-6, None)] * J, method="SLSQP",
                        options={"ftol": 1e-14, "maxiter": 1000})
        assert minus_utility(sol.consumption[p]) <= best.fun + 1e-9


def test_euler_residuals_vanish_where_the_limit_is_slack():
    h = random_problems(seed=3, n=40, J=30)
    sol = solve_households(h)
    assert np.max(np.abs(euler_errors(h, sol))) < 1e-12
    # segments held fixed reproduce the solution (the local solution used by the Jacobian)
    again = evaluate_segments(h, sol.segments)
    np.testing.assert_allclose(again.consumption, sol.consumption, rtol=1e-13)


# ------------------------------------------------------------------------------ Diamond model
def diamond_setup(beta: float, alpha: float, n: float, payg: float):
    """Two periods (ages 20 and 21), everyone born in January so the young work the whole year
    and the old are retired the whole year, nobody covered by the employee scheme; the
    residents' pension ``p`` times the wage, financed by the tax on labour and pension income,
    is a pay-as-you-go scheme with contribution ``θ = p / (1 + n + p)``."""
    p = payg * (1 + n) / (1 - payg)  # pension/wage ratio giving contribution theta = payg
    params = EconomyParameters(
        crra=1.0, discount_factor=beta, first_age=20, last_age=21, borrowing_limit=0.0,
        efficiency_linear=0.0, efficiency_quadratic=0.0, uncovered_productivity=1.0,
        uncovered_exit_age=22.0, birth_month_weights=(1.0,) + (0.0,) * 11,
        coverage_old_share=0.0, coverage_young_share=0.0, capital_share=alpha,
        depreciation=1.0, technology_growth=((BASE, 0.0),), government_consumption_share=0.0,
        residents_pension_ratio=p, residents_indexation_wage_share=1.0,
        residents_eligibility_age=22.0)
    policy = Policy(retirement_regime="pre_2024", fund_months=0.0)
    demo = DemographySteadyState(survival=np.array([[1.0, 0.0], [1.0, 0.0]]),
                                 population_growth=n, male_share=0.5)
    return params, policy, demo


def diamond_capital(beta, alpha, n, theta):
    """Closed form: ``k^{1−α} = β (1−θ)(1−α) α / [(1+n)(α(1+β) + θ(1−α))]``."""
    return (beta * (1 - theta) * (1 - alpha) * alpha
            / ((1 + n) * (alpha * (1 + beta) + theta * (1 - alpha)))) ** (1 / (1 - alpha))


@pytest.mark.parametrize("theta", [0.0, 0.1])
def test_two_period_diamond_steady_state(theta):
    beta, alpha, n = 0.6, 0.33, 0.3
    params, policy, demo = diamond_setup(beta, alpha, n, theta)
    ss = solve_steady_state(params, demo, policy, year=BASE)
    assert ss.kappa == pytest.approx(diamond_capital(beta, alpha, n, theta), rel=1e-9)
    assert ss.income_tax_rate == pytest.approx(theta, rel=1e-9)
    assert ss.interest_rate == pytest.approx(alpha * ss.kappa ** (alpha - 1) - 1, rel=1e-12)


def test_payg_contribution_crowds_out_capital_as_the_closed_form():
    beta, alpha, n = 0.6, 0.33, 0.3
    k = {}
    for theta in (0.0, 0.05, 0.15):
        params, policy, demo = diamond_setup(beta, alpha, n, theta)
        k[theta] = solve_steady_state(params, demo, policy, year=BASE).kappa
    for theta in (0.05, 0.15):
        expected = diamond_capital(beta, alpha, n, theta) / diamond_capital(beta, alpha, n, 0.0)
        assert k[theta] / k[0.0] == pytest.approx(expected, rel=1e-9)
    assert k[0.15] < k[0.05] < k[0.0]


@pytest.mark.parametrize("theta", [0.0, 0.1])
def test_two_period_diamond_transition_follows_the_law_of_motion(theta):
    """From capital below the steady state the transition follows
    ``k' (1+n)(1 + θ(1−α)/(α(1+β))) = β (1−θ)(1−α) k^α / (1+β)``."""
    beta, alpha, n = 0.6, 0.33, 0.3
    params, policy, demo = diamond_setup(beta, alpha, n, theta)
    ss = solve_steady_state(params, demo, policy, year=BASE)
    horizon = 40
    years = BASE + np.arange(horizon + 3)
    pop = np.zeros((years.size, 101, 2))
    young = 1e6 * (1 + n) ** np.arange(years.size)
    pop[:, 20, :] = young[:, None] / 2
    pop[1:, 21, :] = young[:-1, None] / 2
    pop[0, 21, :] = young[0] / (1 + n) / 2
    mx = np.full_like(pop, 1.0)
    mx[:, 20, :] = 0.0
    coords = dict(year=years, age=np.arange(101), sex=["female", "male"])
    population = xr.DataArray(pop, dims=("year", "age", "sex"), coords=coords)
    mortality = xr.DataArray(mx, dims=("year", "age", "sex"), coords=coords)
    k0 = 0.5 * ss.kappa
    assets = np.zeros((core.N_KINDS, 2))
    assets[:, 1] = k0 * (1 + n)  # the old own the capital: K_0 / L_0 = a_old N_old / N_young
    init = InitialState(base_year=BASE, assets=assets, ia_balance=np.zeros_like(assets),
                        pension=np.zeros_like(assets), estate_per_capita=0.0, fund_balance=0.0,
                        wage_growth=0.0)
    ds = solve_transition(params, population, mortality, policy, init, horizon=horizon,
                          terminal=ss, tol=1e-12)
    k = (ds["capital_cny"] / ds["labour_efficiency_units"]).values
    factor = (1 + n) * (1 + theta * (1 - alpha) / (alpha * (1 + beta)))
    expected = beta * (1 - theta) * (1 - alpha) * k[:-1] ** alpha / ((1 + beta) * factor)
    assert k[0] == pytest.approx(k0, rel=1e-12)
    np.testing.assert_allclose(k[1:], expected, rtol=1e-9)


# ------------------------------------------------------------------------------ steady state
def test_steady_state_clears_markets_and_satisfies_euler(stationary_economy):
    params, pop, mx, policy, ss, init = stationary_economy
    agg = ss.aggregates
    assert abs(agg["goods_market_residual"]) < 1e-10 * agg["output"]
    assert ss.residual < 1e-9
    assert agg["capital_output_ratio"] == pytest.approx(agg["capital"] / agg["output"])
    # households at the steady-state prices: Euler equation and zero terminal wealth
    assert np.all(ss.assets[:, 0] == 0.0)
    assert np.all(ss.consumption > 0)
    assert 0.0 < agg["pension_spending_gdp"] < 0.2


def test_steady_state_is_a_fixed_point_of_the_transition(stationary_economy):
    params, pop, mx, policy, ss, init = stationary_economy
    model = build_model(params, pop, mx, policy, init, horizon=120, terminal=ss)
    assert float(model.kappa0[0]) == pytest.approx(ss.kappa, rel=1e-12)
    u = model.pack(np.full((1, model.Tx), ss.kappa), np.full((1, model.Tx), ss.bequest_ratio))
    res, _ = model.evaluate(u)
    assert np.max(np.abs(res)) < 1e-10
    ds = solve_transition(params, pop, mx, policy, init, horizon=120, terminal=ss)
    assert ds.attrs["iterations"] == 0
    np.testing.assert_allclose(ds["interest_rate"], ss.interest_rate, rtol=1e-10)
    np.testing.assert_allclose(ds["income_tax_rate"], ss.income_tax_rate, rtol=1e-9)


# ------------------------------------------------------------------------------ transition
def test_markets_clear_every_year(ageing_transition):
    params, pop, mx, policy, init, ds = ageing_transition
    assert float(abs(ds["asset_market_residual"]).max()) < 1e-8
    assert float(abs(ds["bequest_residual"]).max()) < 1e-8
    goods = (ds["goods_market_residual_cny"] / ds["output_cny"]).isel(year=slice(0, -1))
    assert float(abs(goods).max()) < 1e-8
    # the residual history ends below the tolerance
    assert ds["newton_max_residual"].values[-1] < 1e-9
    for name in ("wage_cny", "interest_rate", "output_cny", "capital_cny",
                 "labour_efficiency_units", "average_wage_cny"):
        assert ds[name].attrs["units"] and ds[name].attrs["long_name"]


def test_transition_euler_residuals_are_zero(ageing_transition):
    """Every household of every cohort satisfies its Euler equation where its borrowing limit
    does not bind, and the stored solution reproduces zero market residuals."""
    params, pop, mx, policy, init, ds = ageing_transition
    assert ds.attrs["max_euler_error"] < 1e-10
    model = build_model(params, pop, mx, policy, init, horizon=120,
                        terminal_population_growth=0.0)
    res, _ = model.evaluate(unknowns_from_dataset(model, ds))
    assert np.max(np.abs(res)) < 1e-8


def test_ageing_raises_capital_per_worker(ageing_transition):
    *_, ds = ageing_transition
    r = ds["interest_rate"]
    assert float(r.isel(year=-1)) < float(r.isel(year=0))


def test_non_convergence_names_the_equation_and_year(stationary_economy):
    from models.economy import TransitionConvergenceError

    params, pop, mx, policy, ss, init = stationary_economy
    pop2, mx2 = synthetic_demography(mortality_trend=0.01)
    with pytest.raises(TransitionConvergenceError, match=r"largest residual is the .* in \d{4}"):
        solve_transition(params, pop2, mx2, policy, init, horizon=60, terminal=ss, max_iter=1)


def test_small_open_economy_holds_the_world_rate(ageing_transition):
    params, pop, mx, policy, init, _ = ageing_transition
    open_params = params.replace(closure="small_open", world_interest_rate=0.04)
    demo = demography_steady_state(pop, mx, BASE, open_params, population_growth=0.0)
    ss = solve_steady_state(open_params, demo, Policy(retirement_regime="pre_2024"), year=BASE)
    assert ss.interest_rate == pytest.approx(0.04, abs=1e-12)
    init_open = initial_state(ss, pop.sel(year=BASE), BASE)
    ds = solve_transition(open_params, pop, mx, policy, init_open, horizon=100,
                          terminal_population_growth=0.0)
    np.testing.assert_allclose(ds["interest_rate"], 0.04, atol=1e-12)
    assert float(abs(ds["bequest_residual"]).max()) < 1e-8
    # goods market with net exports: Y = C + I + G + NX, NFA_{t+1} = (1+r) NFA_t + NX_t
    goods = (ds["goods_market_residual_cny"] / ds["output_cny"]).isel(year=slice(0, -1))
    assert float(abs(goods).max()) < 1e-8
    assert float(abs(ds["net_foreign_assets_cny"]).max()) > 0.0


# ------------------------------------------------------------------------------ welfare
def test_welfare_of_a_policy_against_itself_is_zero(ageing_transition):
    *_, ds = ageing_transition
    cev = welfare_cev(ds, ds)
    assert cev.dims == ("birth_year", "group", "category")
    assert float(abs(cev).max()) == 0.0


def test_welfare_of_a_higher_contribution_rate_is_signed(ageing_transition):
    params, pop, mx, policy, init, ds = ageing_transition
    reform = policy.replace(pooled_rate=((BASE, 0.16), (2030, 0.20)))
    ds2 = solve_transition(params, pop, mx, reform, init, horizon=120,
                           terminal_population_growth=0.0)
    cev = welfare_cev(ds, ds2)
    assert np.all(np.isfinite(cev.values))
    assert float(abs(cev).max()) > 1e-4
    # log utility: the same formula through the discounted-survival sum
    with pytest.raises(ValueError):
        welfare_cev(ds, ds2.assign_attrs(crra=1.0))


def test_leisure_value_lowers_the_welfare_gain_of_later_retirement(ageing_transition):
    """Later retirement (2024 law vs the earlier ages) raises lifetime income; with a
    disutility of work the consumption-equivalent gain of the cohorts it affects is smaller."""
    params, pop, mx, policy, init, ds = ageing_transition
    before = policy.replace(retirement_regime="pre_2024")
    gains = {}
    for psi in (0.0, 0.3):
        q = params.replace(work_disutility=psi)
        law = ds if psi == 0.0 else solve_transition(q, pop, mx, policy, init, horizon=120,
                                                     terminal_population_growth=0.0)
        old = solve_transition(q, pop, mx, before, init, horizon=120,
                               terminal_population_growth=0.0)
        gains[psi] = float(welfare_cev(old, law).sel(birth_year=1990, group="employee",
                                                     category="women_worker"))
    assert gains[0.0] > 0
    assert gains[0.3] < gains[0.0]


# ------------------------------------------------------------------------------ policy arrays
def test_working_share_matches_the_rules_module():
    params = EconomyParameters()
    policy = Policy(retirement_regime="law_2024")
    entry = np.array([1985, 2000, 2010, 2020])  # aged 20 on 1 January of these years
    cp = core.cohort_policy(params, policy, entry)
    ages = params.first_age + np.arange(params.n_ages)
    for c, e in enumerate(entry):
        for k in range(3):
            cat = rules.CATEGORIES[core.KIND_CATEGORY[k]]
            years = e + np.arange(params.n_ages)
            expected = np.array([rules.retired_share(y, a, cat, "law_2024")[0, 0]
                                 for y, a in zip(years, ages)])
            np.testing.assert_allclose(cp.retired[c, k], expected, atol=1e-12)


# ------------------------------------------------------------------------------ Monte Carlo
def test_monte_carlo_at_the_median_is_the_median(ageing_transition):
    params, pop, mx, policy, init, ds = ageing_transition
    lin = linearize_median(params, pop, mx, policy, init, horizon=120, jacobian_stride=10,
                           terminal_population_growth=0.0)
    lower_mortality = mx * np.exp(-0.002 * np.arange(mx.sizes["year"]))[:, None, None]
    paths_pop = xr.concat([pop, pop * 1.02], dim="path").assign_coords(path=[0, 1])
    paths_mx = xr.concat([mx, lower_mortality], dim="path").assign_coords(path=[0, 1])
    mc = price_paths_monte_carlo(lin, paths_pop, paths_mx)
    assert mc["interest_rate"].dims == ("path", "year")
    np.testing.assert_allclose(mc["interest_rate"].sel(path=0), ds["interest_rate"], atol=1e-9)
    np.testing.assert_allclose(mc["average_wage_cny"].sel(path=0), ds["average_wage_cny"],
                               rtol=1e-9)
    # a different path: the first-order answer is close to the exact solve
    err = monte_carlo_error(lin, paths_pop, paths_mx, sample=2)
    assert float(err["interest_rate_deviation_pp"].sel(path=1)) > 1e-3
    assert float(err["interest_rate_error_pp"].max()) < 0.15 * float(
        err["interest_rate_deviation_pp"].max())
