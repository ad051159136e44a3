"""The search's moves solved two at a time on two processes (models/optimize/search.py) give
the one-at-a-time answer exactly: the same moves taken, the same certificate (every change to
the last bit, the same unsolved moves under a small solve budget) and the same history."""

from dataclasses import replace

import numpy as np
import pytest

from models.optimize.search import polish_and_certify
from models.optimize.solve import PolicySolution
from tests.scenarios import latest_retirement, search_problem, search_settings, solved_start

SETTINGS = search_settings([6])


@pytest.fixture(scope="module")
def problem(calibration, populations, fit):
    return search_problem(calibration, populations, fit, SETTINGS)


def _start(problem) -> PolicySolution:
    """The latest retirement the rules allow, solved (the polish has moves to take)."""
    return solved_start(problem, latest_retirement(problem))


def _run(problem, workers: int, max_solves: int):
    settings = problem.settings.model_copy(update={"search": problem.settings.search
                                                   .model_copy(update={"max_solves": max_solves})})
    return polish_and_certify(replace(problem, settings=settings, workers=workers),
                              _start(problem))


@pytest.mark.parametrize("max_solves", [7, 300])
def test_two_workers_give_the_one_worker_search(problem, max_solves):
    (one, c1), (two, c2) = _run(problem, 1, max_solves), _run(problem, 2, max_solves)
    assert c1.polish_moves > 0
    assert c1.polish_moves == c2.polish_moves
    np.testing.assert_array_equal(c1.change_cny, c2.change_cny)
    np.testing.assert_array_equal(c1.unsolved, c2.unsolved)
    assert c1.passed == c2.passed
    assert one.inner.objective == two.inner.objective
    assert [h["step"] for h in one.history] == [h["step"] for h in two.history]
    np.testing.assert_array_equal(one.levers.delay, two.levers.delay)
