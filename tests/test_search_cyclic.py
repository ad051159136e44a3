"""The search's cyclic sweep (models/optimize/search.py): no levers is solved twice in a
search (the start, the pattern step's moves, the way back to an earlier incumbent are known),
and the certificate holds the exact changes at the reported levers, each the one a fresh
solve of the move there gives."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from models.optimize import search
from models.optimize.data import MONEY_SCALE
from models.optimize.search import levers_key, polish_and_certify, solve_move
from models.optimize.solve import Levers, PolicySolution
from tests.scenarios import latest_retirement, search_problem, search_settings, solved_start

SETTINGS = search_settings([1, 6])


@pytest.fixture(scope="module")
def problem(calibration, populations, fit):
    return search_problem(calibration, populations, fit, SETTINGS)


def _start(problem) -> PolicySolution:
    """The latest retirement the rules allow, solved (the polish has moves to take)."""
    return solved_start(problem, latest_retirement(problem))


@pytest.fixture(scope="module")
def searched(problem):
    """The polish from the latest retirement, every solve recorded as (incumbent's levers,
    move's levers), the start first."""
    start = _start(problem)
    solved = [(None, levers_key(start.levers))]

    def recording(problem_, psol, levers):
        solved.append((levers_key(psol.levers), levers_key(levers)))
        return solve_move(problem_, psol, levers)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(search, "solve_move", recording)
        psol, certificate = polish_and_certify(problem, start)
    return psol, certificate, solved


def test_no_levers_is_solved_twice(searched):
    psol, certificate, solved = searched
    assert certificate.polish_moves >= 2 and certificate.passed
    levers = [s[1] for s in solved]
    assert len(levers) == len(set(levers))
    # the certificate's moves are known at the final levers, some solved before it was reached
    final = {levers_key(m.levers) for m in certificate.moves if m.levers is not None}
    assert final <= set(levers) and len(final) > 0


def test_the_certificate_holds_each_moves_change_at_the_reported_levers(problem, searched):
    psol, certificate, _ = searched
    tried = 0
    for move, change in zip(certificate.moves, certificate.change_cny):
        if move.levers is None:
            assert np.isnan(change)
            continue
        _, sol = solve_move(problem, psol, move.levers)
        fresh = (sol.objective - psol.inner.objective) * MONEY_SCALE
        assert change == pytest.approx(fresh, rel=1e-9, abs=certificate.tolerance_cny)
        tried += 1
    assert tried >= 2


def test_a_spent_budget_mid_sweep_leaves_the_rest_unsolved(problem):
    """With a budget spent during the polish, the certificate marks every move not solved at
    the incumbent (not those solved at an earlier one) as unsolved."""
    settings = problem.settings.model_copy(update={"search": problem.settings.search
                                                   .model_copy(update={"max_solves": 5})})
    psol, certificate = polish_and_certify(replace(problem, settings=settings),
                                           _start(problem))
    within = np.array([m.levers is not None for m in certificate.moves])
    known = np.isfinite(certificate.change_cny)
    assert not certificate.passed and certificate.n_unsolved > 0
    assert np.array_equal(known | certificate.unsolved, within)
    assert known.sum() <= 5


def _fake_search(problem, target: np.ndarray):
    """The polish on a stand-in for the inner problem: the cost of levers is
    ``1 + Σ (delay − target)² / 10⁴`` (no LP), every solve recorded; the duals' order is
    replaced by zeros (the module's ``_gradient``)."""
    solved = []

    def cost(levers):
        return 1.0 + float(np.sum((levers.delay - target) ** 2)) / 1e4

    def fake_solve(problem_, psol, levers):
        solved.append(levers_key(levers))
        return None, SimpleNamespace(objective=cost(levers), status="optimal", build_s=0.0,
                                     solve_s=0.0, method="fake", iterations=1, gap_rel=0.0,
                                     log="", warm=None)

    start = _start(problem).levers
    psol = PolicySolution(start, None, fake_solve(problem, None, start)[1], [], False, None,
                          [])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(search, "solve_move", fake_solve)
        mp.setattr(search, "_gradient", lambda problem_, psol_: Levers(
            np.zeros_like(psol_.levers.delay), psol_.levers.indexation))
        out, certificate = polish_and_certify(problem, psol)
    return out, certificate, solved, cost


def test_on_a_stand_in_cost_no_levers_is_solved_twice_and_the_certificate_is_exact(problem):
    """Half the latest retirement as the target: the sweep takes moves (with pattern steps
    that fail), every levers is solved once, and the certificate's changes are the cost's."""
    start = _start(problem).levers
    target = np.floor(start.delay / 2.0)
    psol, certificate, solved, cost = _fake_search(problem, target)
    assert certificate.passed and certificate.polish_moves >= 3
    assert len(solved) == len(set(solved))
    assert cost(psol.levers) < cost(start)
    for move, change in zip(certificate.moves, certificate.change_cny):
        if move.levers is not None:
            assert change == pytest.approx((cost(move.levers) - cost(psol.levers))
                                           * MONEY_SCALE, rel=1e-12)
