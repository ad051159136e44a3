"""The sequence-space quasi-Newton falls back to an accurate Jacobian when an approximate one
gives no descent step (:func:`models.economy.transition.solve_newton`).

Found in the full study on 2026-12-01: the elastic economy under a frontier policy with
large retirement delays stalled at a residual of 3.8e-2 with the strided, frozen
finite-difference Jacobian (every 50th column) and raised; a stand-in model here has the
same shape of failure: its strided Jacobian points uphill, its accurate one is exact.
"""

from __future__ import annotations

import numpy as np

from models.economy.transition import ACCURATE_STRIDE, solve_newton


class LinearMarkets:
    """Residuals ``r(u) = A u − b`` (one row of unknowns), whose Jacobian is exact with
    ``stride <= ACCURATE_STRIDE`` and households' responses (``frozen`` false) and
    sign-flipped otherwise (no step along it lowers the residual)."""

    elastic = False

    def __init__(self, n: int = 6, seed: int = 3):
        rng = np.random.default_rng(seed)
        self.A = np.eye(n) + 0.1 * rng.standard_normal((n, n))
        self.b = rng.standard_normal(n)
        self.calls: list[tuple[int, bool]] = []

    def evaluate(self, u, segments=None, frozen=False):
        return (u @ self.A.T - self.b[None]), None

    def jacobian(self, u, segments, stride=1, frozen=False, first_exact=10):
        self.calls.append((stride, frozen))
        accurate = stride <= ACCURATE_STRIDE and not frozen
        return self.A if accurate else -self.A


def test_an_uphill_jacobian_gives_way_to_the_accurate_one():
    model = LinearMarkets()
    u, res, _, _, history, n_jac = solve_newton(model, np.zeros((1, 6)), 1e-12, 20,
                                                stride=50)
    assert history[-1] <= 1e-12
    np.testing.assert_allclose(u[0], np.linalg.solve(model.A, model.b), rtol=1e-10)
    # the strided Jacobian first, then the accurate one at the same point, once
    assert model.calls == [(50, False), (ACCURATE_STRIDE, False)]
    assert n_jac == 2


def test_it_gives_up_when_the_accurate_jacobian_fails_too():
    model = LinearMarkets()
    model.jacobian = lambda u, seg, stride=1, frozen=False, first_exact=10: -model.A
    _, _, _, _, history, n_jac = solve_newton(model, np.zeros((1, 6)), 1e-12, 20, stride=50)
    assert history == [history[0]] and n_jac == 2  # no step taken, two Jacobians, no loop
