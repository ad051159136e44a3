"""What the household kernel's answers MEAN, on problems solved with pencil and paper.

* Two or three ages, CRRA, no binding limit: consumption grows at ``(β s R')^{1/σ}`` (the
  Euler equation) and its present value equals wealth, ``R_0 a_0 + Σ y_i D_i`` (the budget), so
  ``c_0 = Ω / Σ_i G_i D_i``.
* A borrowing limit that binds: consumption equals cash on hand until the limit stops binding.
* Lifetime utility is ``Σ_i β^{i−start} Π s u(c_i m_i)`` and ``u`` is CRRA (log at σ = 1).
"""

import numpy as np
import pytest

from models.economy.household import (
    HouseholdInputs,
    HouseholdSolution,
    InfeasibleHouseholdError,
    discounted_survival_sum,
    euler_errors,
    lifetime_utility,
    solve_households,
    utility,
)


def _inputs(R, y, s, limit, start=0, a0=0.0, beta=0.96, crra=2.0, taste=None):
    row = lambda x: np.atleast_2d(np.asarray(x, dtype=float))  # noqa: E731
    return HouseholdInputs(row(R), row(y), row(s), row(limit), np.array([start]),
                           np.array([a0]), beta, crra, None if taste is None else row(taste))


@pytest.mark.parametrize("crra", [1.0, 2.0, 0.5])
def test_three_ages_unconstrained_closed_form(crra):
    """Ω = R_0 a_0 + y_0 + y_1/R_1 + y_2/(R_1 R_2); G_1 = (β s_0 R_1)^{1/σ},
    G_2 = G_1 (β s_1 R_2)^{1/σ}; c_0 = Ω / (1 + G_1/R_1 + G_2/(R_1 R_2)); c_i = G_i c_0."""
    R, y, s = [1.02, 1.05, 1.03], [1.0, 1.5, 0.4], [0.99, 0.95, 0.0]
    a0, beta = 0.7, 0.96
    h = _inputs(R, y, s, [5.0, 5.0, 0.0], a0=a0, beta=beta, crra=crra)
    sol = solve_households(h)
    omega = R[0] * a0 + y[0] + y[1] / R[1] + y[2] / (R[1] * R[2])
    g1 = (beta * s[0] * R[1]) ** (1 / crra)
    g2 = g1 * (beta * s[1] * R[2]) ** (1 / crra)
    c0 = omega / (1 + g1 / R[1] + g2 / (R[1] * R[2]))
    np.testing.assert_allclose(sol.consumption[0], [c0, g1 * c0, g2 * c0], rtol=1e-12)
    a1 = R[0] * a0 + y[0] - c0
    a2 = R[1] * a1 + y[1] - g1 * c0
    np.testing.assert_allclose(sol.assets_next[0], [a1, a2, 0.0], rtol=1e-12, atol=1e-12)
    assert np.max(np.abs(euler_errors(h, sol))) < 1e-12


def test_a_binding_limit_means_consuming_cash_on_hand():
    """Income only at the last age and no borrowing: eat the little income at ages 0 and 1,
    everything else at age 2. With a limit of 0.5 a year the household borrows up to it."""
    y = [0.1, 0.2, 5.0]
    h = _inputs([1.0, 1.0, 1.0], y, [1.0, 1.0, 0.0], [0.0, 0.0, 0.0], beta=0.95, crra=2.0)
    sol = solve_households(h)
    np.testing.assert_allclose(sol.consumption[0], y, rtol=1e-12)
    np.testing.assert_allclose(sol.assets_next[0], 0.0, atol=1e-12)
    assert sol.segments.last[0].tolist() == [0, 1, 2]
    # a limit of 0.5 at each age: a_1 = −0.5, a_2 = −1.0 (R = 1), the rest at the last age
    h = _inputs([1.0, 1.0, 1.0], y, [1.0, 1.0, 0.0], [0.5, 1.0, 0.0], beta=0.95, crra=2.0)
    sol = solve_households(h)
    np.testing.assert_allclose(sol.assets_next[0], [-0.5, -1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(sol.consumption[0], [0.6, 0.7, 4.0], rtol=1e-12)


def test_a_problem_started_late_ignores_the_earlier_ages():
    """start = 1: ages before it are 0 in the answer; the plan from age 1 is the two-age one,
    c_1 = Ω/(1 + G/R_2) with Ω = R_1 a + y_1 + y_2/R_2."""
    R, y, s = [9.0, 1.04, 1.04], [99.0, 1.0, 0.5], [0.1, 0.98, 0.0]
    h = _inputs(R, y, s, [0.0, 0.0, 0.0], start=1, a0=0.3, beta=0.97, crra=2.0)
    sol = solve_households(h)
    omega = R[1] * 0.3 + y[1] + y[2] / R[2]
    g = (0.97 * s[1] * R[2]) ** 0.5
    c1 = omega / (1 + g / R[2])
    np.testing.assert_allclose(sol.consumption[0], [0.0, c1, g * c1], rtol=1e-12)
    assert sol.assets_next[0, 0] == 0.0


def test_taste_shifter_tilts_consumption_as_the_euler_equation_says():
    """u(c m): c_1/c_0 = (β s R_1 (m_1/m_0)^{1−σ})^{1/σ}."""
    R, s, m = [1.0, 1.05], [0.98, 0.0], [0.7, 1.0]
    h = _inputs(R, [2.0, 0.5], s, [0.0, 0.0], beta=0.96, crra=2.0, taste=m)
    sol = solve_households(h)
    growth = (0.96 * s[0] * R[1] * (m[1] / m[0]) ** (1 - 2.0)) ** 0.5
    assert sol.consumption[0, 1] / sol.consumption[0, 0] == pytest.approx(growth, rel=1e-12)
    assert sol.consumption[0] @ [1.0, 1 / R[1]] == pytest.approx(2.0 + 0.5 / R[1], rel=1e-12)


def test_no_positive_consumption_is_infeasible():
    h = _inputs([1.0, 1.0], [-1.0, 0.5], [1.0, 0.0], [0.0, 0.0])
    with pytest.raises(InfeasibleHouseholdError, match="problem 0: income cannot finance"):
        solve_households(h)
    with pytest.raises(InfeasibleHouseholdError, match="must be positive"):
        solve_households(_inputs([1.0, 1.0], [1.0, 0.5], [0.0, 0.0], [0.0, 0.0]))


@pytest.mark.parametrize("crra", [1.0, 3.0])
def test_lifetime_utility_is_the_discounted_expected_sum(crra):
    c = np.array([1.0, 1.2, 0.9, 0.8])
    s, beta = np.array([0.99, 0.9, 0.5, 0.0]), 0.95
    m = np.array([0.8, 0.9, 1.0, 1.0])
    h = _inputs(np.ones(4), np.ones(4), s, np.zeros(4), start=1, beta=beta, crra=crra, taste=m)
    sol = type("S", (), {"consumption": c[None, :]})()
    u = (lambda x: np.log(x)) if crra == 1.0 else (lambda x: x ** (1 - crra) / (1 - crra))
    w = np.array([1.0, beta * s[1], beta**2 * s[1] * s[2]])  # from the start age 1
    assert lifetime_utility(h, sol)[0] == pytest.approx(w @ u(c[1:] * m[1:]), rel=1e-12)
    assert discounted_survival_sum(h)[0] == pytest.approx(w.sum(), rel=1e-12)


def test_crra_utility_by_hand():
    assert utility(np.array([np.e]), 1.0)[0] == pytest.approx(1.0)
    assert utility(np.array([2.0]), 2.0)[0] == pytest.approx(-0.5)
    assert utility(np.array([4.0]), 0.5)[0] == pytest.approx(4.0)


def test_euler_errors_measure_the_departure_from_the_euler_equation():
    """Error at age i: ``(β s_i R_{i+1})^{1/σ} c_i / c_{i+1} − 1``, reported where the limit
    is slack, 0 where it binds (a_{i+1} at −b_i) and before the start age."""
    R, s, beta = [1.0, 1.05, 1.05, 1.05], [0.99, 0.98, 0.9, 0.0], 0.96
    h = _inputs(R, [1.0, 1.0, 1.0, 1.0], s, [2.0, 0.5, 0.3, 0.0], start=1, beta=beta, crra=2.0)
    h = HouseholdInputs(np.vstack([h.gross_return] * 2), np.vstack([h.income] * 2),
                        np.vstack([h.survival] * 2), np.vstack([h.borrowing_limit] * 2),
                        np.array([1, 0]), np.zeros(2), beta, 2.0)
    c = np.array([[0.0, 1.0, 1.1, 1.3], [1.0, 1.0, 1.1, 1.3]])
    a = np.array([[0.0, 0.2, -0.3, 0.0], [0.4, 0.2, -0.3, 0.0]])  # age 2: at the limit −0.3
    sol = HouseholdSolution(consumption=c, assets_next=a, segments=None)
    err = euler_errors(h, sol)
    growth = np.sqrt(beta * np.array(s[:-1]) * np.array(R[1:]))
    hand = growth * c[1, :-1] / c[1, 1:] - 1.0
    np.testing.assert_allclose(err[1], [hand[0], hand[1], 0.0], rtol=1e-12)
    np.testing.assert_allclose(err[0], [0.0, hand[1], 0.0], rtol=1e-12)  # age 0 before start
    assert abs(hand[1]) > 0.01 and abs(hand[0]) > 1e-4


def test_lifetime_utility_of_several_problems_keeps_them_apart():
    """Two problems at once: each gets its own discounting (no mixing across rows)."""
    s = np.array([[0.9, 0.9, 0.0], [0.5, 0.5, 0.0]])
    h = HouseholdInputs(np.ones((2, 3)), np.ones((2, 3)), s, np.zeros((2, 3)),
                        np.array([0, 0]), np.zeros(2), 0.9, 1.0)
    c = np.array([[np.e, np.e, np.e], [1.0, np.e, np.e ** 2]])
    sol = HouseholdSolution(consumption=c, assets_next=np.zeros((2, 3)), segments=None)
    w = np.array([[1.0, 0.81, 0.81 * 0.81], [1.0, 0.45, 0.45 * 0.45]])
    np.testing.assert_allclose(lifetime_utility(h, sol), (w * np.log(c)).sum(axis=1))
    np.testing.assert_allclose(discounted_survival_sum(h), w.sum(axis=1))
