"""The search that certifies its answer (issue 16, item 5): pushed knot moves stay on the
lever's polytope, the certificate fails when a better neighbour exists, and the polish
improves a deliberately bad start until the certificate passes."""

from dataclasses import replace

import numpy as np
import pytest

from models.config import CATEGORIES
from models.optimize.search import (
    UNSOLVED,
    certificate_dataset,
    neighbour_moves,
    polish_and_certify,
    push_delay,
)
from models.optimize.solve import Levers, setup_problem
from models.report.optimization import certificate_text
from tests.scenarios import latest_retirement, search_problem, search_settings, solved_start

SETTINGS = search_settings([6])


@pytest.fixture(scope="module")
def problem(calibration, populations, fit):
    return search_problem(calibration, populations, fit, SETTINGS)


@pytest.fixture(scope="module")
def tight(calibration, populations, fit):
    """Knots every 5 years at a pace of 1 month a year: a 6-month move must push others."""
    settings = SETTINGS.model_copy(update={"retirement": SETTINGS.retirement.model_copy(
        update={"knot_every_years": 5, "pace_months_per_year": 1})})
    return setup_problem(calibration, settings, populations.isel(path=[0]), fit)


def _feasible(problem, delay: np.ndarray) -> bool:
    """The lever's rules (models.config.RetirementLever) on knots ``[node, knot, category]``."""
    first_gap = problem.knot_yrs[0] - (problem.settings.tree.first_decision_year - 1)
    gaps = np.diff(problem.knot_yrs, prepend=problem.knot_yrs[0] - first_gap)
    pace = problem.settings.retirement.pace_months_per_year * gaps
    d = delay[0]  # two-stage: the root owns every knot
    return bool(np.all(d >= 0) and np.all(d <= problem.max_knot_delay + 1e-9)
                and np.all(d[0] <= pace[0]) and np.all(np.diff(d, axis=0) >= 0)
                and np.all(np.diff(d, axis=0) <= pace[1:, None]))


def test_pushed_moves_stay_within_the_levers_rules(tight):
    """Random feasible knots, every ±1 and ±6 month move: the pushed knots obey the bounds,
    the pace and the order, and keep the moved knot at its target; with a pace of 5 months
    between knots, some 6-month moves move other knots too."""
    problem = tight
    rng = np.random.default_rng(np.random.SeedSequence(5))
    pushed_others = 0
    K = len(problem.knot_yrs)
    checked = 0
    for _ in range(20):
        steps = rng.integers(0, 6, size=(K, len(CATEGORIES))).astype(float)
        delay = np.minimum(np.cumsum(steps, axis=0), problem.max_knot_delay)[None]
        if not _feasible(problem, delay):
            continue
        levers = Levers(delay, np.zeros((1, 0)))
        for move in neighbour_moves(problem, levers, [1, 6]):
            if move.levers is None:
                continue
            assert _feasible(problem, move.levers.delay), move
            checked += 1
            pushed_others += int(np.sum(move.levers.delay != delay) > 1)
        k, c = int(rng.integers(K)), int(rng.integers(len(CATEGORIES)))
        target = max(delay[0, k, c] - 6, 0.0)
        pushed = push_delay(problem, delay, 0, k, c, target)
        assert pushed is not None and pushed[0, k, c] == target
        assert np.all(pushed[0, :k, c] <= target)  # lowering a knot lowers the earlier ones
    assert checked > 100 and pushed_others > 10


def test_certificate_fails_when_a_better_neighbour_exists(problem):
    """Start from the latest retirement the rules allow: shortening a delay is cheaper (the
    delay price is paid per person-month), so the certificate, taken with no polish, says
    that moves improve and is not passed."""
    start = solved_start(problem, latest_retirement(problem))
    no_polish = problem.settings.model_copy(update={"search": problem.settings.search
                                                    .model_copy(update={"max_polish_moves": 0})})
    psol, certificate = polish_and_certify(replace(problem, settings=no_polish), start)
    assert psol.inner.objective == start.inner.objective
    assert not certificate.passed and certificate.improving.any()
    ds = certificate_dataset(certificate)
    assert int(ds["certificate_passed"]) == 0
    assert "improves" in set(ds["certificate_status"].values.astype(str))


def test_polish_improves_a_bad_start_until_it_is_certified(problem):
    start = solved_start(problem, latest_retirement(problem))
    before = start.inner.objective
    psol, certificate = polish_and_certify(problem, start)
    assert psol.inner.objective < before - 1e-6 * abs(before)
    assert certificate.passed and certificate.polish_moves > 0
    tried = np.isfinite(certificate.change_cny)
    assert tried.any()
    assert np.all(certificate.change_cny[tried] >= -certificate.tolerance_cny)
    assert any(h["step"].startswith("polish") for h in psol.history)


def test_a_spent_solve_budget_leaves_the_certificate_unpassed_and_says_so(problem):
    """With ``max_solves`` smaller than the neighbours within the limits, the search solves
    exactly that many moves, the rest are marked unsolved, the certificate is not passed (even
    at the certified optimum's levers) and the report's line names the budget."""
    start = solved_start(problem, latest_retirement(problem))
    full, certified = polish_and_certify(problem, start)
    assert certified.passed and certified.n_unsolved == 0
    within = sum(m.levers is not None for m in certified.moves)
    budget = 3
    settings = problem.settings.model_copy(update={"search": problem.settings.search
                                                   .model_copy(update={"max_solves": budget,
                                                                       "max_polish_moves": 0})})
    psol, certificate = polish_and_certify(replace(problem, settings=settings), full)
    assert np.isfinite(certificate.change_cny).sum() == budget
    assert certificate.n_unsolved == within - budget > 0
    assert not certificate.passed
    ds = certificate_dataset(certificate)
    status = ds["certificate_status"].values.astype(str)
    assert int(np.sum(status == UNSOLVED)) == within - budget
    assert int(ds["certificate_passed"]) == 0
    line = certificate_text(ds)
    assert "max_solves" in line and f"{within - budget} move(s) unsolved" in line
