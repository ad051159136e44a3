"""The elastic transition's Jacobian with the labour market among the unknowns (issue 14).

* labour's columns, perturbed all at once (each year's labour moves only its own year's
  residuals), are the columns computed one by one;
* the households' first-order response kept for the Jacobian (:meth:`TransitionModel.respond`)
  moves each retirement option's value by the envelope theorem, ``dV = Σ μ dy``: the logit
  probabilities it gives have the derivative of the probabilities re-solved exactly.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from models.economy import (Policy, demography_steady_state, initial_state, solve_steady_state,
                            solve_transition)
from models.economy import core
from models.economy import transition
from models.economy.transition import build_model, solve_newton
from test_economy import BASE, china_like_params, synthetic_demography

ELASTIC = dict(hours_disutility=5.0, participation_disutility=1.0, retirement_choice=True)
HORIZON = 25


@pytest.fixture(scope="module")
def elastic_model():
    """An elastic model (hours and the retirement choice) at the prices of the inelastic
    transition, its households' choices solved there (any prices serve: the identities
    hold for households optimising at given prices)."""
    params = china_like_params()
    pop, mx = synthetic_demography(n_years=HORIZON, mortality_trend=0.01)
    demo = demography_steady_state(pop, mx, BASE, params, population_growth=0.0)
    ss = solve_steady_state(params, demo, Policy(retirement_regime="pre_2024"), year=BASE)
    init = initial_state(ss, pop.sel(year=BASE), BASE)
    policy = Policy(retirement_regime="law_2024")
    plain = build_model(params, pop, mx, policy, init, horizon=HORIZON,
                        terminal_population_growth=0.0)
    u0, *_ = solve_newton(plain, plain.guess(), 1e-10, 40)
    model = build_model(params.replace(**ELASTIC), pop, mx, policy, init, horizon=HORIZON,
                        terminal=plain.terminal)
    u = model.full_unknowns(u0)
    res, seg = model.evaluate(u)  # households choose (the kept response)
    return model, u, res


def _per_option(model, pr: dict):
    """The cohorts' prices and starts at the model's prices ``pr``, repeated over the ``O``
    retirement options (one household per cohort and option, as the transition solves them)."""
    O = model.O
    prices = model.cohort_prices(pr)
    prices = type(prices)(*(np.repeat(x, O, axis=1) if np.ndim(x) == 4 else x
                            for x in (getattr(prices, f) for f in
                                      prices.__dataclass_fields__)))
    start = core.CohortStart(age=np.repeat(model.start, O),
                             assets=np.repeat(model.start_assets, O, axis=0),
                             ia_balance=np.repeat(model.start_ia, O, axis=0),
                             pension=np.repeat(model.start_pension, O, axis=0))
    return prices, start


def test_labour_columns_at_once_are_the_columns_one_by_one(elastic_model):
    model, u, _ = elastic_model
    local = model._local_columns()
    assert local.size == model.T - 1
    together = model.jacobian(u, None, stride=HORIZON, frozen=True)
    base, seg = model.evaluate(u, frozen=True)
    h = 1e-6 * np.maximum(1.0, np.abs(u[0]))
    for col in local[::6]:
        pert = u.copy()
        pert[0, col] += h[col]
        one = (model.evaluate(pert, seg, frozen=True)[0] - base)[0] / h[col]
        assert np.abs(one).max() > 0.1  # the column is not empty
        np.testing.assert_allclose(together[:, col], one, rtol=1e-9, atol=1e-8)


def _choices_at(model, u, tax_change, exact):
    """Probabilities ``[C, K, O]`` with the income tax of year 5 raised by ``tax_change``:
    re-solved (``exact``) or from the kept first-order response."""
    v = u.copy()
    v[0, model.blocks()[-1][0] + 5] += tax_change
    kappa, beq_ratio = model.unpack(v)
    clear = model.clearing_unknowns(v)
    pr = model.prices(kappa, clear["labour"], clear["ebar"])
    bequest = beq_ratio * pr["wbar"]
    bequest[:, 0] = (1.0 + pr["r"][:, 0]) * model.initial.estate_per_capita
    tax = np.concatenate([clear["tax"], np.full((1, model.Tx - model.T),
                                                 model.terminal.income_tax_rate)], axis=1)
    prices, start = _per_option(model, pr)
    if exact:
        kept = model.response, model.chosen
        _, probs, _ = model.choose(prices, start, tax, bequest)
        model.response, model.chosen = kept
        return probs[0]
    return model.respond(prices, start, tax, bequest)[1][0]


def test_response_moves_the_probabilities_by_the_envelope_theorem(elastic_model):
    model, u, _ = elastic_model
    h = 1e-6
    base = _choices_at(model, u, 0.0, exact=True)
    exact = (_choices_at(model, u, h, exact=True) - base) / h
    first_order = (_choices_at(model, u, h, exact=False) - base) / h
    moved = np.abs(exact) > 1e-3 * np.abs(exact).max()
    assert np.abs(exact).max() > 1e-3 and moved.sum() > 10
    np.testing.assert_allclose(first_order[moved], exact[moved], rtol=2e-3,
                               atol=1e-5 * np.abs(exact).max())


def test_elastic_equilibrium_does_not_depend_on_the_start_tolerance(monkeypatch):
    """The elastic solve's inelastic start stops early (``START_TOL_ELASTIC``, with a coarser
    Jacobian): only the start moves, the elastic equilibrium is the one from a tight start to
    the solve's tolerance (hours only, on the small synthetic economy)."""
    params = china_like_params()
    pop, mx = synthetic_demography(n_years=HORIZON, mortality_trend=0.01)
    demo = demography_steady_state(pop, mx, BASE, params, population_growth=0.0)
    ss = solve_steady_state(params, demo, Policy(retirement_regime="pre_2024"), year=BASE)
    init = initial_state(ss, pop.sel(year=BASE), BASE)
    q = params.replace(hours_disutility=5.0)
    law = Policy(retirement_regime="law_2024")
    solve = lambda: solve_transition(q, pop, mx, law, init, horizon=HORIZON,  # noqa: E731
                                     terminal_population_growth=0.0, tol=1e-11)
    loose = solve()
    monkeypatch.setattr(transition, "START_TOL_ELASTIC", 1e-11)
    tight = solve()
    assert loose.attrs["iterations"] != tight.attrs["iterations"]  # the starts differ
    for name in ("interest_rate", "labour_efficiency_units", "income_tax_rate",
                 "household_assets_cny"):
        np.testing.assert_allclose(loose[name], tight[name], rtol=1e-8, atol=1e-12)


def test_budget_at_hours_is_the_budget_solved_at_those_hours(elastic_model):
    """:func:`models.economy.core.budget_at_hours` (the flows at chosen hours from the
    full-time ones, as the transition's evaluation uses them) is :func:`~models.economy.core.
    cohort_budget` re-run with ``ℓ h``, at random hours (seeded), for every retirement option
    and cohort, those alive in the base year included (their account pensions move with the
    hours worked before retiring); and the transition's own path to them
    (:meth:`TransitionModel.option_budget` over the valid options only, then
    :meth:`TransitionModel.flows_at_hours`) gives the same flows there."""
    model, u, _ = elastic_model
    kappa, beq_ratio = model.unpack(u)
    clear = model.clearing_unknowns(u)
    prices, start = _per_option(model, model.prices(kappa, clear["labour"], clear["ebar"]))
    p, cp = model.params, model.cp_opt
    full = core.cohort_budget(p, model.policy, cp, model.eff, prices, start)
    hours = np.random.default_rng(14).uniform(0.2, 1.0, full["earnings"].shape)
    exact = core.cohort_budget(p, model.policy, dataclasses.replace(cp, work=cp.work * hours),
                               model.eff, prices, start)
    derived = core.budget_at_hours(cp, prices, full, start, hours)
    moved = np.abs(exact["benefits"] - full["benefits"]).max()
    assert moved > 1e-3 * np.abs(full["benefits"]).max()  # the hours move the pensions
    for key in ("earnings", "contributions", "benefits", "residents", "pension_in_force",
                "new_pension", "ia_flow"):
        scale = np.abs(exact[key]).max()
        np.testing.assert_allclose(derived[key], exact[key], rtol=0, atol=1e-12 * scale,
                                   err_msg=key)
    # the model's own path: the valid options' households only, laid out by option
    zero = np.zeros((1, model.Tx))
    laid_out = model.flows_at_hours(model.option_budget(prices, start, zero, zero), hours)
    valid = model.solved_rows(hours.shape).reshape(hours.shape[:-1])
    assert 0 < valid.mean() < 1  # some options are not solved
    for key in ("earnings", "contributions", "benefits", "residents"):
        scale = np.abs(exact[key]).max()
        np.testing.assert_allclose(laid_out[key][valid], exact[key][valid], rtol=0,
                                   atol=1e-12 * scale, err_msg=key)
        assert np.all(laid_out[key][~valid] == 0.0)
