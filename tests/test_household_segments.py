"""The elastic hours solve's warm start from given Euler segments (issue 14, speed).

:func:`models.economy.household.solve_households_hours` starts each outer iteration (and,
with ``segments0``, its first) from known borrowing-limit segments and keeps them only where
the Kuhn-Tucker conditions say they still solve the problem. Wrong segments must therefore
never change the answer:

* one Euler segment over the whole life where the borrowing limit binds (the plan would
  borrow past the limit) and a segment at every age (the limit forced where it does not
  bind) both give the solution found from scratch, segments included;
* the solution's own segments give it back at once (one outer iteration).

And the per-segment Newton iterations, which run on the ages with an hours choice only, count
the earnings of working ages without one (no disutility weight: full time) in their
segment's budget: such a problem has the solution of the same problem with those earnings
moved into the fixed income.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from models.economy.household import (
    Segments,
    euler_errors_hours,
    kuhn_tucker_residuals,
    solve_households_hours,
)
from test_economy_choice import random_hours_problems


def whole_life(start: np.ndarray, J: int) -> Segments:
    """One segment from each problem's start to its last age (0 before the start)."""
    ages = np.arange(J)[None, :]
    live = ages >= start[:, None]
    return Segments(first=np.where(live, start[:, None], 0), last=np.where(live, J - 1, 0))


def every_age(start: np.ndarray, J: int) -> Segments:
    """A segment at every age: the borrowing limit binds every year."""
    ages = np.broadcast_to(np.arange(J)[None, :], (start.size, J))
    live = ages >= start[:, None]
    return Segments(first=np.where(live, ages, 0), last=np.where(live, ages, 0))


def assert_optimal(hh, lab, sol) -> None:
    """The optimality conditions, computed from the plan alone: hours' Kuhn-Tucker
    residuals, Euler errors where the limit does not bind, and the limit met."""
    assert np.max(np.abs(kuhn_tucker_residuals(hh, lab, sol))) < 1e-10
    assert np.max(np.abs(euler_errors_hours(hh, sol))) < 1e-10
    assert np.all(sol.assets_next >= -hh.borrowing_limit - 1e-12)


@pytest.mark.parametrize("wrong", [whole_life, every_age])
def test_wrong_starting_segments_give_the_exact_solution(wrong):
    hh, lab, _ = random_hours_problems(seed=3, n=12)
    exact = solve_households_hours(hh, lab)
    assert_optimal(hh, lab, exact)
    n, J = exact.hours.shape
    several = (exact.segments.first == np.arange(J)).sum(axis=1) > 1 + (hh.start > 0)
    assert several.sum() >= 3 and (~several).sum() >= 1  # binding limits, and rows without
    guess = wrong(np.asarray(hh.start), J)
    for hours0 in (None, exact.hours):
        sol = solve_households_hours(hh, lab, hours0=hours0, segments0=guess)
        np.testing.assert_allclose(sol.hours, exact.hours, rtol=0, atol=1e-12)
        np.testing.assert_allclose(sol.consumption, exact.consumption, rtol=1e-12)
        np.testing.assert_allclose(sol.assets_next, exact.assets_next, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(sol.segments.last, exact.segments.last)
        assert_optimal(hh, lab, sol)


def test_own_segments_are_kept():
    hh, lab, _ = random_hours_problems(seed=3, n=12)
    exact = solve_households_hours(hh, lab)
    again = solve_households_hours(hh, lab, hours0=exact.hours, segments0=exact.segments)
    assert again.outer_iterations == 1
    np.testing.assert_allclose(again.hours, exact.hours, rtol=0, atol=1e-13)
    np.testing.assert_allclose(again.consumption, exact.consumption, rtol=1e-13)


def test_ages_without_an_hours_choice_count_at_full_time():
    hh, lab, _ = random_hours_problems(seed=5, n=12)
    fixed = np.zeros(lab.hours_weight.shape, dtype=bool)
    fixed[:, [1, 4]] = True  # working ages (net earnings > 0) without an hours choice
    assert np.all(lab.net_earnings[fixed] > 0)
    lab_a = dataclasses.replace(lab, hours_weight=np.where(fixed, 0.0, lab.hours_weight))
    sol = solve_households_hours(hh, lab_a)
    assert np.all(sol.hours[fixed] == 1.0)
    assert_optimal(hh, lab_a, sol)
    # the same households with those ages' earnings and account credit in the fixed income
    lab_b = dataclasses.replace(lab_a, net_earnings=np.where(fixed, 0.0, lab.net_earnings),
                                account_credit=np.where(fixed, 0.0, lab.account_credit))
    ref = solve_households_hours(hh, lab_b)
    np.testing.assert_allclose(sol.hours, ref.hours, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sol.consumption, ref.consumption, rtol=1e-12)
