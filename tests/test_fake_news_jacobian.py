"""The elastic transition's fake-news Jacobian (issue 14; :mod:`models.economy.jacobian`).

On an economy at constant detrended prices (stable population, constant policy, 2 % growth,
hours and the retirement choice; horizon 90 years, at least the 81 economic ages):

* the residuals written on the households' aggregates are the model's own residuals;
* the households' Jacobian built by the cohort fake-news algorithm from one perturbation per
  input in the reference year matches forward differences of the households re-solved
  exactly, for news in years whose cohorts are all born in the horizon (where the shift is
  exact at a steady state);
* the total Jacobian (the chain rule through the aggregate blocks) matches forward differences
  of the whole model in those years' columns;
* an elastic transition solved from the fake-news Jacobian is the one solved from the
  finite-difference Jacobian (the same equilibrium, to the solver's tolerance).
"""

from __future__ import annotations

import numpy as np
import pytest

from models.economy import (Policy, demography_steady_state, initial_state, solve_steady_state,
                            solve_transition)
from models.economy import jacobian as fj
from models.economy.transition import build_model
from test_economy import BASE, china_like_params, synthetic_demography

ELASTIC = dict(hours_disutility=5.0, participation_disutility=1.0, retirement_choice=True)
HORIZON = 90
#: news years whose affected cohorts are all born within the horizon (J - 1 = 80 <= s < T)
LATE = (82, 87)


@pytest.fixture(scope="module")
def stationary_elastic():
    """The elastic steady state as initial and terminal state, and unknowns that hold every
    price households see at its detrended values (the markets need not clear: the shift
    identity only needs cohorts alike and prices constant)."""
    params = china_like_params(residents_indexation_wage_share=1.0).replace(**ELASTIC)
    pop, mx = synthetic_demography(n_years=HORIZON + 10)
    policy = Policy(retirement_regime="pre_2024")
    demo = demography_steady_state(pop, mx, BASE, params, population_growth=0.0)
    ss = solve_steady_state(params, demo, policy, year=BASE)
    init = initial_state(ss, pop.sel(year=BASE), BASE)
    model = build_model(params, pop, mx, policy, init, horizon=HORIZON, terminal=ss)
    T, Tx = model.T, model.Tx
    assert fj.applicable(model)
    kappa = np.full((1, Tx), ss.kappa)
    beq = np.full((1, Tx), ss.bequest_ratio)
    ebar = ss.average_wage / ss.wage / model.ebar_full[0]
    clearing = np.concatenate([np.full(T, 0.9), ebar, np.full(T, ss.income_tax_rate)])[None]
    u = model.pack(kappa, beq, clearing)
    model.evaluate(u)  # households choose at u (the warm start)
    return model, u


def _fd_household(model, u, s, step=1e-6):
    """``∂H/∂X_s`` for every input by forward differences, households re-solved exactly."""
    base = fj.price_paths(model, u)
    n_in = len(fj.INPUTS)
    rows = {name: np.repeat(base[name], 1 + n_in, axis=0) for name in fj.INPUTS}
    steps = np.array([step * max(abs(base[name][0, s]), 1e-2) for name in fj.INPUTS])
    for k, name in enumerate(fj.INPUTS):
        rows[name][1 + k, s] += steps[k]
    paths = fj.price_paths(model, np.repeat(u, 1 + n_in, axis=0))
    paths.update(rows)
    paths["pr"] = dict(paths["pr"], r=rows["r"], wage=rows["wage"], wbar=rows["wbar"])
    h = fj.aggregates(model, fj.household_outputs(model, paths))
    return {(agg, name): (h[agg][1 + k] - h[agg][0]) / steps[k]
            for agg in fj.AGGREGATES for k, name in enumerate(fj.INPUTS)}


def test_residuals_on_aggregates_are_the_models(stationary_elastic):
    model, u = stationary_elastic
    paths = fj.price_paths(model, u)
    h = fj.aggregates(model, fj.household_outputs(model, paths))
    res, _ = model.evaluate(u)
    assert np.abs(res).max() > 1e-3  # not a trivial point: the markets do not clear at u
    kept_u, kept = model.last_aggregates  # the evaluation's own aggregates
    assert np.array_equal(kept_u, u)
    np.testing.assert_allclose(fj.residuals_from_aggregates(model, u, kept), res,
                               rtol=0, atol=1e-13)
    for name in fj.AGGREGATES:  # re-solved by the module's households: the same aggregates
        np.testing.assert_allclose(h[name], kept[name], rtol=1e-11, err_msg=name)


def test_household_jacobian_matches_finite_differences(stationary_elastic):
    """Late news (every affected cohort born in the horizon): the fake-news columns are the
    re-solved households' derivatives to 1e-4 of each column's largest entry."""
    model, u = stationary_elastic
    jac = fj.household_jacobian(model, u)
    for s in LATE:
        fd = _fd_household(model, u, s)
        for key, col in fd.items():
            scale = np.abs(col).max()
            if scale == 0.0:
                assert np.abs(jac[key][:, s]).max() == 0.0, key
                continue
            np.testing.assert_allclose(jac[key][:, s], col, rtol=0, atol=1e-4 * scale,
                                       err_msg=f"{key} news in year {s}")


def test_total_jacobian_matches_finite_differences(stationary_elastic):
    """The chain rule through the aggregate blocks: late columns of every block of unknowns
    against forward differences of the whole model (households re-solved)."""
    model, u = stationary_elastic
    jac = fj.fake_news_jacobian(model, u)
    base, _ = model.evaluate(u)
    layout = model.blocks()
    first = model._first_years()
    cols = [off + s - y0 for (off, _), y0 in zip(layout, first) for s in LATE]
    h = 1e-6 * np.maximum(1.0, np.abs(u[0]))
    for col in cols:
        pert = u.copy()
        pert[0, col] += h[col]
        fd = (model.evaluate(pert)[0] - base)[0] / h[col]
        scale = np.abs(fd).max()
        assert scale > 0
        np.testing.assert_allclose(jac[:, col], fd, rtol=0, atol=1e-4 * scale,
                                   err_msg=f"column {col}")


@pytest.mark.slow
def test_transition_is_the_same_with_either_first_jacobian():
    """Hours only, an ageing population and the 2024 law: the elastic transition solved from
    the fake-news Jacobian is the finite-difference one's (rtol 1e-8 on prices)."""
    params = china_like_params()
    pop, mx = synthetic_demography(n_years=HORIZON + 10, mortality_trend=0.01)
    demo = demography_steady_state(pop, mx, BASE, params, population_growth=0.0)
    ss = solve_steady_state(params, demo, Policy(retirement_regime="pre_2024"), year=BASE)
    init = initial_state(ss, pop.sel(year=BASE), BASE)
    policy = Policy(retirement_regime="law_2024")
    q = params.replace(hours_disutility=5.0)
    runs = {how: solve_transition(q, pop, mx, policy, init, horizon=HORIZON,
                                  terminal_population_growth=0.0, jacobian=how)
            for how in ("finite_differences", "fake_news")}
    for name in ("interest_rate", "wage_cny", "average_wage_cny", "income_tax_rate",
                 "labour_efficiency_units"):
        np.testing.assert_allclose(runs["fake_news"][name], runs["finite_differences"][name],
                                   rtol=1e-8, err_msg=name)
