"""The economy's price of delay is recomputed at each iteration of the pairing loop (issue 14,
item 5): from each re-solved transition under the policy it was solved with, moved by the
loop's damped step, and its change joins the stopping rule. The loop's parts (the policy
problem, its solution, the economy's transition and price of delay) are replaced by stand-ins
that record what they are given, so the loop's own logic is what is checked; the price itself
is checked in tests/test_economy_choice.py and tests/test_delay_price_economy.py."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

from models import coupling
from models.catalogue import annotate
from models.pipeline.optimization import pairing_history

YEARS = np.arange(2021, 2031)


def price(value: float) -> xr.DataArray:
    return xr.DataArray(np.full(YEARS.size, value), dims="year", coords={"year": YEARS},
                        name="economy_delay_price_cny", attrs={"units": "yuan"})


@pytest.fixture
def loop(monkeypatch):
    """The pairing loop with stand-ins: constant wage and return prices (they never move),
    the ``k``-th economy price of delay ``prices_of_delay[k]``."""
    seen = SimpleNamespace(setup=[], delay_calls=[], transitions=0, prices_of_delay=[],
                           distributions=[], setup_distribution=[])

    def transition_under(economy, cal, regime, *levers):
        seen.transitions += 1
        return xr.Dataset({"interest_rate": ("year", np.full(YEARS.size, 0.04))},
                          coords={"year": YEARS}, attrs={"solve": seen.transitions,
                                                         "levers": str(levers)})

    def paired_prices(transition, years, cal):
        one = xr.DataArray(np.ones(YEARS.size), dims="year", coords={"year": YEARS})
        return one, 0.03 * one, 0.02 * one

    def setup_problem(cal, settings, population, fit, prices, workers=1, interest_rate=None,
                      economy_delay_price=None, retirement_distribution=None):
        seen.setup.append(economy_delay_price)
        seen.setup_distribution.append(retirement_distribution)
        return SimpleNamespace(number=len(seen.setup))

    def optimize_policy(problem, start=None):
        return SimpleNamespace(levers=problem.number, inner=SimpleNamespace(objective=1.0))

    def expected_policy(problem, solution):
        return (f"rate{problem.number}", f"delay{problem.number}", None)

    def economy_delay_price(economy, cal, regime, transition, from_year, levers=None):
        seen.delay_calls.append((transition.attrs["solve"], levers, from_year))
        return price(seen.prices_of_delay[len(seen.delay_calls) - 1])

    def paired_distribution(economy, transition):  # the k-th transition's (None: choice off)
        k = transition.attrs["solve"] - 1
        return seen.distributions[k] if seen.distributions else None

    for name, fn in dict(transition_under=transition_under, paired_prices=paired_prices,
                         setup_problem=setup_problem, optimize_policy=optimize_policy,
                         expected_policy=expected_policy,
                         economy_delay_price=economy_delay_price,
                         paired_distribution=paired_distribution).items():
        monkeypatch.setattr(coupling, name, fn)

    def run(delay_price="economy", iterations=3, damping=0.5, tolerance=1e-3):
        settings = SimpleNamespace(
            economy_pairing=True, regime="law_2024", pairing_tolerance=tolerance,
            pairing_max_iterations=iterations, pairing_damping=damping,
            objective=SimpleNamespace(delay_price=delay_price),
            tree=SimpleNamespace(first_decision_year=2026))
        population = xr.DataArray(np.zeros(YEARS.size), dims="year", coords={"year": YEARS})
        return coupling.pair_with_economy(object(), None, settings, population, None)

    seen.run = run
    return seen


def test_the_price_of_delay_is_recomputed_and_damped_at_each_iteration(loop):
    loop.prices_of_delay = [2000.0, 1500.0, 1250.0, 1125.0]
    out = loop.run(iterations=3, damping=0.5)
    # the first price from the first transition, then one from each re-solved transition,
    # under the policy (levers) it was solved with
    assert loop.delay_calls == [(1, None, 2026), (2, ("rate1", "delay1", None), 2026),
                                (3, ("rate2", "delay2", None), 2026),
                                (4, ("rate3", "delay3", None), 2026)]
    # the problem of iteration k+1 gets d_k + θ (F_d − d_k)
    given = [float(d.values[0]) for d in loop.setup]
    assert given == [2000.0, 1750.0, 1500.0]
    # the change relative to the price's largest value (here the same in every year)
    np.testing.assert_allclose([h["delay_price_change"] for h in out.history],
                               [0.25, 1 - 1250 / 1750, 1 - 1125 / 1500], rtol=1e-12)
    assert not out.converged  # the wage and return never moved: the delay price did
    assert out.delay_price.name == "economy_delay_price_cny"
    assert out.delay_price.attrs["units"] == "yuan"


def test_the_loop_stops_when_the_price_of_delay_settles(loop):
    loop.prices_of_delay = [2000.0, 2000.0 * (1 + 1e-4), 999.0]
    out = loop.run(iterations=3, tolerance=1e-3)
    assert len(out.history) == 1 and out.converged
    loop.delay_calls.clear()
    loop.prices_of_delay = [2000.0, 2100.0, 2100.1]
    out = loop.run(iterations=5, tolerance=1e-3, damping=1.0)
    # θ = 1: the first re-solve moves it by 5 % (go on, d_1 = 2100), the second by 5e-5
    assert len(out.history) == 2 and out.converged
    np.testing.assert_allclose(out.delay_price.values, 2100.0)


def test_a_fixed_or_wage_indexed_price_never_asks_the_economy(loop):
    out = loop.run(delay_price="wage_indexed", iterations=2)
    assert loop.delay_calls == [] and all(d is None for d in loop.setup)
    assert all("delay_price_change" not in h for h in out.history)
    assert out.converged


def test_the_change_is_relative_to_the_largest_price_and_takes_zeros():
    """A price of 0 in some years (the leisure cost of a delay can vanish with the
    retirement choice on) gives a finite change: ``max |new − old| / max |old|``."""
    old = price(100.0).copy(data=[0.0, 0.0, 50.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0,
                                  100.0])
    new = old.copy(data=old.values + np.r_[5.0, 0.0, 0.0, -10.0, np.zeros(6)])
    assert coupling.delay_price_change(old, new) == pytest.approx(0.10, rel=1e-12)
    assert coupling.delay_price_change(old, old) == 0.0
    zero = price(0.0)
    assert coupling.delay_price_change(zero, zero) == 0.0
    assert coupling.delay_price_change(zero, price(1.0)) == float("inf")


def shares(late: float) -> xr.DataArray:
    """A retirement distribution ``[birth_year, category, offset]``: ``late`` of every
    cohort one year after the statutory age, the rest at it."""
    births, cats = np.arange(1960, 1963), ["men", "women_cadre", "women_worker"]
    values = np.empty((births.size, len(cats), 2))
    values[..., 0], values[..., 1] = 1.0 - late, late
    return xr.DataArray(values, dims=("birth_year", "category", "offset"),
                        coords={"birth_year": births, "category": cats, "offset": [0.0, 1.0]},
                        name="retirement_distribution")


def test_the_retirement_distribution_reaches_each_problem_damped(loop):
    """With the retirement choice on, each problem gets the economy's distribution: the
    first transition's, then ``d_k + θ (F_d − d_k)``; its largest change joins the stopping
    rule (issue 14, item 5)."""
    loop.distributions = [shares(0.2), shares(0.4), shares(0.3), shares(0.3)]
    out = loop.run(delay_price="fixed", iterations=3, damping=0.5)
    given = [float(d.sel(offset=1.0).values[0, 0]) for d in loop.setup_distribution]
    np.testing.assert_allclose(given, [0.2, 0.3], rtol=1e-12)
    for d in loop.setup_distribution:  # a mixture of distributions is one
        np.testing.assert_allclose(d.sum("offset"), 1.0, rtol=1e-12)
    np.testing.assert_allclose([h["distribution_change"] for h in out.history],
                               [0.2, 0.0], atol=1e-12)
    assert len(out.history) == 2 and out.converged  # stopped when the shares settled
    loop.setup_distribution.clear()
    loop.transitions = 0
    loop.distributions = [shares(0.2), shares(0.4), shares(0.4)]
    out = loop.run(delay_price="fixed", iterations=1)
    assert not out.converged  # the prices never moved: the shares did


def test_without_the_choice_no_distribution_and_no_change(loop):
    out = loop.run(delay_price="fixed", iterations=2)
    assert loop.setup_distribution == [None]
    assert all("distribution_change" not in h for h in out.history) and out.converged


def test_the_changes_are_saved_with_the_pairing_history(loop):
    """``delay_price_change`` (and ``distribution_change`` with the choice on) of every
    iteration go to results.nc as ``pairing_delay_price_change`` and
    ``pairing_distribution_change [pairing_iteration]`` with the catalogue's units and
    long_name (:func:`models.pipeline.optimization.pairing_history`); without them, no
    such variable."""
    loop.prices_of_delay = [2000.0, 1500.0, 1250.0, 1125.0]
    loop.distributions = [shares(0.2), shares(0.4), shares(0.3), shares(0.3)]
    out = loop.run(iterations=3, damping=0.5)
    ds = annotate(pairing_history(out))
    np.testing.assert_allclose(ds["pairing_delay_price_change"],
                               [h["delay_price_change"] for h in out.history], rtol=0)
    np.testing.assert_allclose(ds["pairing_distribution_change"],
                               [h["distribution_change"] for h in out.history], rtol=0)
    for name in ("pairing_delay_price_change", "pairing_distribution_change"):
        assert ds[name].dims == ("pairing_iteration",)
        assert ds[name].attrs["units"] == "1" and ds[name].attrs["long_name"]
    loop.transitions = 0
    loop.distributions = []
    off = annotate(pairing_history(loop.run(delay_price="fixed", iterations=2)))
    assert "pairing_delay_price_change" not in off
    assert "pairing_distribution_change" not in off
