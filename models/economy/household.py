r"""Life-cycle household kernel: CRRA utility, survival risk, a borrowing limit, known incomes.

One *problem* is one cohort of one household type over economic ages ``i = 0..J-1`` (from the
cohort's ``start`` age on), with

* gross returns ``R_i`` (``1 + r`` of the year the household is aged ``i``), applied to the
  assets ``a_i`` held on 1 January;
* income ``y_i`` (net labour income, pensions, bequests received);
* effective discounting ``β s_i`` (``s_i`` survival from age ``i`` to ``i + 1``);
* a borrowing limit ``a_{i+1} ≥ −b_i`` (``b_{J-1} = 0``: nobody dies in debt);
* period utility ``u(c_i m_i)`` with CRRA ``u`` and a known taste shifter ``m_i > 0`` (the
  consumption-equivalent cost of the year's work, ``m = 1 − ψ ℓ``; 1 when there is none).

Budget: ``a_{i+1} = R_i a_i + y_i − c_i``. Euler equation where the limit does not bind:
``c_{i+1} = (β s_i R_{i+1} (m_{i+1}/m_i)^{1−σ})^{1/σ} c_i``.

Method (exact, no grid). With no income risk, consumption at age ``j`` is the minimum over
horizons ``k ≥ j`` of the consumption that follows the Euler equation from ``j`` to ``k`` and
exhausts resources down to the limit at ``k``:

.. math::  c_j = \min_{k \ge j} \frac{W_j + \sum_{i=j}^{k} y_i D_{j,i} + b_k D_{j,k}}
                                     {\sum_{i=j}^{k} G_{j,i} D_{j,i}},

``W_j = R_j a_j``, ``D_{j,i} = \prod_{m=j+1}^{i} R_m^{-1}``, ``G_{j,i} = \prod_{m=j}^{i-1}
(β s_m R_{m+1})^{1/σ}`` (Deaton 1991, *Econometrica* 59(5), sec. 2, for the deterministic
case: any horizon shorter than the next binding date would over-spend, any longer one
under-spends). The minimising horizon ``k*`` ends a *segment* along which the Euler equation
holds; the next segment starts at ``k* + 1`` with ``a = −b_{k*}``. The solver jumps from segment
to segment (a handful of steps, each vectorised over all problems), and
:func:`evaluate_segments` evaluates the closed form for given segments in ``O(J)`` -- which is
also the local (first-order) solution used for sequence-space Jacobians.

All arrays are ``(n, J)`` (``n`` problems); entries before a problem's ``start`` are ignored.

Elastic hours (separable disutility of work), added to the kernel above.

Period utility ``u(c_i m_i) − ω_i h_i^{1+1/ν}/(1+1/ν) + ζ_i`` with hours ``h_i ∈ [0, 1]`` (a
share of full-time hours while working), hours weight ``ω_i ≥ 0`` (the disutility weight
times the share of the year worked, 0 when not working), Frisch elasticity ``ν`` and a known
utility shift ``ζ_i`` (e.g. the disutility of participation). Income is linear in hours:

.. math::  y_i(h) = \bar y_i − z_i (1 − h_i) − π_i \sum_{j} a_j (1 − h_j),

``\bar y`` the income at full-time hours (the inelastic model's), ``z_i`` the year's net
earnings per unit of hours (after the income tax and contributions), ``a_j`` the
individual-account credit per unit of hours at ``j`` and ``π_i`` the net pension paid at ``i``
per unit of credit (the account's annuity: later hours raise the pension).

First-order (Kuhn–Tucker) condition: with ``μ_i = β^{i−s} Π s · u'(c_i m_i) m_i`` the
discounted marginal utility of a yuan at ``i``,

.. math::  ω_i h_i^{1/ν} = u'(c_i m_i) m_i \Big(z_i + a_i \frac{\sum_k π_k μ_k}{μ_i}\Big)
           \quad\text{if } 0 < h_i < 1, \qquad ≤ \text{ if } h_i = 1.

Method (exact, no grid). Along an Euler segment consumption is ``c_i = G_i λ`` (the closed
form above), so hours there are a function of the segment's scalar ``λ`` and the segment's
budget ``F(λ) = X + Σ y_i(h(λ)) D_i + b_k D_k − λ Σ G_i D_i = 0`` is convex and decreasing in
``λ``: Newton's method converges monotonically after one step (the segment's income counts
its own hours' earnings and the account pension they earn when paid within the segment).
An outer loop re-solves the borrowing-limit segments and the terms that cross segments
(``Σ π μ`` beyond the segment and account credit earned in other segments) until hours
change by less than ``tol``. With ``ω = 0`` hours are 1 and the
inelastic solution is returned unchanged.

Cost (issue 14's benchmark): the Newton iterations run on each segment's ``λ`` over the ages
with an hours choice only (sums by segment with ``np.add.reduceat``), and every re-solve
starts from the last outer iteration's segments (or given ones, ``segments0``), keeping them
where the Kuhn–Tucker conditions hold -- ``λ > 0``, the limit met inside each segment, the
next segment's ``λ`` at least this one's where the limit binds (sufficient: the problem is
concave) -- and searching afresh only for the other problems.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

__all__ = [
    "HouseholdInputs",
    "Segments",
    "HouseholdSolution",
    "solve_households",
    "evaluate_segments",
    "euler_errors",
    "lifetime_utility",
    "discounted_survival_sum",
    "HoursInputs",
    "HoursSolution",
    "income_at_hours",
    "solve_households_hours",
    "kuhn_tucker_residuals",
    "lifetime_utility_hours",
    "euler_errors_hours",
    "marginal_values",
]


class InfeasibleHouseholdError(ValueError):
    """Income cannot finance positive consumption within the borrowing limit."""


@dataclass(frozen=True)
class HouseholdInputs:
    """Inputs of ``n`` life-cycle problems over ``J`` ages (see the module docstring)."""

    gross_return: np.ndarray  # R_i, (n, J)
    income: np.ndarray  # y_i, (n, J)
    survival: np.ndarray  # s_i, (n, J); the last age is never used
    borrowing_limit: np.ndarray  # b_i >= 0, (n, J); forced to 0 at the last age
    start: np.ndarray  # int (n,): first age planned
    initial_assets: np.ndarray  # a_start, (n,)
    discount_factor: float
    crra: float
    taste: np.ndarray | None = None  # m_i (n, J); None: 1


@dataclass(frozen=True)
class Segments:
    """Per age, the first and last age of the Euler segment containing it, ``(n, J)`` int."""

    first: np.ndarray
    last: np.ndarray


@dataclass(frozen=True)
class HouseholdSolution:
    consumption: np.ndarray  # c_i (n, J); 0 before start
    assets_next: np.ndarray  # a_{i+1} chosen at age i (n, J); 0 before start
    segments: Segments


@dataclass(frozen=True)
class _Prepared:
    log_g: np.ndarray
    disc: np.ndarray  # Dcum_i = prod_{m<=i} 1/R_m
    ycum: np.ndarray
    ycum_prev: np.ndarray
    q: np.ndarray
    q_prev: np.ndarray
    p: np.ndarray  # ycum_k + b_k Dcum_k
    limit: np.ndarray
    gross: np.ndarray


def _euler_step(h: HouseholdInputs, R: np.ndarray) -> np.ndarray:
    """``β s_i R_{i+1} (m_{i+1}/m_i)^{1−σ}``, ``(n, J−1)``."""
    step = h.discount_factor * np.asarray(h.survival, dtype=float)[:, :-1] * R[:, 1:]
    if h.taste is not None:
        m = np.asarray(h.taste, dtype=float)
        step = step * (m[:, 1:] / m[:, :-1]) ** (1.0 - h.crra)
    return step


@dataclass(frozen=True)
class _Fixed:
    """The parts of :class:`_Prepared` that do not depend on income."""

    before: np.ndarray
    log_g: np.ndarray
    disc: np.ndarray
    q: np.ndarray
    q_prev: np.ndarray
    limit: np.ndarray
    gross: np.ndarray


def _prepare_fixed(h: HouseholdInputs) -> _Fixed:
    R = np.asarray(h.gross_return, dtype=float)
    n, J = R.shape
    before = np.arange(J)[None, :] < np.asarray(h.start)[:, None]
    R = np.where(before, 1.0, R)
    limit = np.where(before, 0.0, np.asarray(h.borrowing_limit, dtype=float))
    limit[:, -1] = 0.0
    step = _euler_step(h, R)
    step = np.where(before[:, :-1], 1.0, step)
    if np.any(step <= 0):
        raise InfeasibleHouseholdError("beta * survival * gross return must be positive")
    log_g = np.zeros((n, J))
    np.cumsum(np.log(step) / h.crra, axis=1, out=log_g[:, 1:])
    disc = np.exp(-np.cumsum(np.log(R), axis=1))
    q = np.cumsum(np.exp(log_g) * disc, axis=1)
    q_prev = np.zeros((n, J))
    q_prev[:, 1:] = q[:, :-1]
    return _Fixed(before=before, log_g=log_g, disc=disc, q=q, q_prev=q_prev, limit=limit,
                  gross=R)


def _prepare(h: HouseholdInputs, fixed: _Fixed | None = None) -> _Prepared:
    """Cumulated discounted income and Euler growth (``fixed``: the income-free part, reused
    when only income changes)."""
    f = _prepare_fixed(h) if fixed is None else fixed
    y = np.where(f.before, 0.0, np.asarray(h.income, dtype=float))
    ycum = np.cumsum(y * f.disc, axis=1)
    ycum_prev = np.zeros_like(ycum)
    ycum_prev[:, 1:] = ycum[:, :-1]
    return _Prepared(log_g=f.log_g, disc=f.disc, ycum=ycum, ycum_prev=ycum_prev, q=f.q,
                     q_prev=f.q_prev, p=ycum + f.limit * f.disc, limit=f.limit, gross=f.gross)


def _start_values_at(pr: _Prepared, h: HouseholdInputs, flat_index: np.ndarray
                     ) -> np.ndarray:
    """``X_s = W_s Dcum_s − Ycum_{s−1}`` for a segment starting at age ``s``, at the flat
    positions ``flat_index`` of ``(n, J)`` (row-major): ``W_s = R_s a_start`` at the problem's
    start age, ``−R_s b_{s−1}`` after a binding limit (0 at age 0 otherwise)."""
    n, J = pr.q.shape
    rows, ages = np.divmod(flat_index, J)
    prev = np.maximum(ages - 1, 0)
    x = np.where(ages == 0, 0.0, -pr.limit[rows, prev] * pr.disc[rows, prev]
                 - pr.ycum[rows, prev])
    a0 = np.asarray(h.initial_assets, dtype=float)[rows]
    at_start = ages == np.asarray(h.start)[rows]
    return np.where(at_start, pr.gross[rows, ages] * a0 * pr.disc[rows, ages]
                    - pr.ycum_prev[rows, ages], x)


def evaluate_segments(h: HouseholdInputs, segments: Segments) -> HouseholdSolution:
    """Consumption and savings for given Euler segments (closed form, ``O(J)`` per problem).

    Exact when ``segments`` are those of :func:`solve_households` for the same inputs; for
    nearby inputs it is the solution with the same binding ages (first order in the inputs).
    """
    return _evaluate_prepared(h, _prepare(h), segments)


def _evaluate_prepared(h: HouseholdInputs, pr: _Prepared, segments: Segments
                       ) -> HouseholdSolution:
    return _evaluate_with_lambda(h, pr, segments)[0]


def _evaluate_with_lambda(h: HouseholdInputs, pr: _Prepared, segments: Segments
                          ) -> tuple[HouseholdSolution, np.ndarray]:
    """:func:`_evaluate_prepared` and each age's segment multiplier ``λ`` (``c_i = G_i λ``),
    ``(n, J)``."""
    n, J = pr.q.shape
    ix = _segment_index(segments)  # λ per segment, then each age's
    x_s = _start_values_at(pr, h, ix.starts)
    q_first_s = pr.q_prev.reshape(-1)[ix.starts]
    lam_s = (x_s + pr.p.reshape(-1)[ix.last]) / (pr.q.reshape(-1)[ix.last] - q_first_s)
    x, q_first, lam = (v[ix.of_age].reshape(n, J) for v in (x_s, q_first_s, lam_s))
    c = np.exp(pr.log_g) * lam
    a_next = (x + pr.ycum - lam * (pr.q - q_first)) / pr.disc
    before = np.arange(J)[None, :] < np.asarray(h.start)[:, None]
    c = np.where(before, 0.0, c)
    a_next = np.where(before, 0.0, a_next)
    return HouseholdSolution(consumption=c, assets_next=a_next, segments=segments), lam


def _segments_optimal(h: HouseholdInputs, pr: _Prepared, sol: HouseholdSolution,
                      lam: np.ndarray) -> np.ndarray:
    """Which problems ``(n,)`` the Euler segments of ``sol`` solve (Kuhn–Tucker conditions,
    sufficient for this concave problem): every segment's ``λ`` positive, the borrowing
    limit ``a_{i+1} ≥ −b_i`` met inside every segment (at its last age it holds with
    equality by construction) and, where a segment ends on the limit, the limit's multiplier
    non-negative: ``u'(c_k m_k) m_k ≥ β s_k R_{k+1} u'(c_{k+1} m_{k+1}) m_{k+1}``, i.e. the
    next segment's ``λ`` at least this one's (``c = G λ``)."""
    n, J = lam.shape
    ages = np.arange(J)[None, :]
    live = ages >= np.asarray(h.start)[:, None]
    end = sol.segments.last == ages
    ok = ~live | ((lam > 0) & np.isfinite(lam)
                  & (end | (sol.assets_next >= -pr.limit)))
    ok[:, :-1] &= ~(end[:, :-1] & live[:, :-1]) | (lam[:, 1:] >= lam[:, :-1])
    return ok.all(axis=1)


def _solve_prepared(h: HouseholdInputs, pr: _Prepared, guess: Segments | None = None
                    ) -> HouseholdSolution:
    """The exact solution from prepared inputs: the segments ``guess`` where they still
    solve the problem (:func:`_segments_optimal`; e.g. the last outer iteration's), the
    others found afresh (:func:`_find_segments`)."""
    if guess is None:
        return _evaluate_prepared(h, pr, _find_segments(h, pr))
    sol, lam = _evaluate_with_lambda(h, pr, guess)
    redo = ~_segments_optimal(h, pr, sol, lam)
    if not redo.any():
        return sol
    h_r, pr_r = _rows_of(h, redo), _rows_of(pr, redo)
    sol_r = _evaluate_prepared(h_r, pr_r, _find_segments(h_r, pr_r))
    out = {}
    for name in ("consumption", "assets_next"):
        out[name] = getattr(sol, name).copy()
        out[name][redo] = getattr(sol_r, name)
    first, last = guess.first.copy(), guess.last.copy()
    first[redo], last[redo] = sol_r.segments.first, sol_r.segments.last
    return HouseholdSolution(out["consumption"], out["assets_next"], Segments(first, last))


def solve_households(h: HouseholdInputs) -> HouseholdSolution:
    """Solve ``n`` problems exactly (segment jumping; see the module docstring).

    Raises
    ------
    InfeasibleHouseholdError if some problem cannot finance positive consumption.
    """
    pr = _prepare(h)
    return _evaluate_prepared(h, pr, _find_segments(h, pr))


def _find_segments(h: HouseholdInputs, pr: _Prepared) -> Segments:
    """The Euler segments of every problem: from each segment's start ``s`` the horizon ``k``
    minimising the consumption that exhausts resources at ``k`` (module docstring)."""
    n, J = pr.q.shape
    ages = np.arange(J)
    first = np.zeros((n, J), dtype=np.int64)
    last = np.zeros((n, J), dtype=np.int64)
    s = np.asarray(h.start, dtype=np.int64).copy()
    x = _start_values_at(pr, h, np.arange(n) * J + np.minimum(s, J - 1))
    active = np.nonzero(s < J)[0]
    while active.size:
        sa = s[active]
        denom = pr.q[active] - pr.q_prev[active, sa][:, None]
        ratio = (x[active][:, None] + pr.p[active]) / np.where(denom > 0, denom, 1.0)
        ratio = np.where(ages[None, :] >= sa[:, None], ratio, np.inf)
        k = np.argmin(ratio, axis=1)
        lam = ratio[np.arange(active.size), k]
        if np.any(~np.isfinite(lam)) or np.any(lam <= 0):
            bad = active[~(np.isfinite(lam) & (lam > 0))][0]
            raise InfeasibleHouseholdError(
                f"problem {bad}: income cannot finance positive consumption from age index "
                f"{s[bad]} within the borrowing limit")
        in_seg = (ages[None, :] >= sa[:, None]) & (ages[None, :] <= k[:, None])
        first[active] = np.where(in_seg, sa[:, None], first[active])
        last[active] = np.where(in_seg, k[:, None], last[active])
        s[active] = k + 1
        x[active] = -pr.limit[active, k] * pr.disc[active, k] - pr.ycum[active, k]
        active = active[s[active] < J]
    return Segments(first=first, last=last)


def euler_errors(h: HouseholdInputs, sol: HouseholdSolution, tol: float = 1e-9) -> np.ndarray:
    """Relative Euler-equation errors ``(β s_i R_{i+1} (m_{i+1}/m_i)^{1−σ})^{1/σ} c_i / c_{i+1}
    − 1``, ``(n, J−1)``,
    set to 0 where the borrowing limit binds (``a_{i+1} ≤ −b_i + tol · scale``) or before start."""
    c, a = sol.consumption, sol.assets_next
    R = np.asarray(h.gross_return, dtype=float)
    n, J = c.shape
    growth = _euler_step(h, R) ** (1.0 / h.crra)
    with np.errstate(divide="ignore", invalid="ignore"):
        err = growth * c[:, :-1] / c[:, 1:] - 1.0
    scale = np.maximum(np.abs(c).max(axis=1, keepdims=True), 1e-300)
    limit = np.asarray(h.borrowing_limit, dtype=float)[:, :-1]
    binding = a[:, :-1] <= -limit + tol * scale
    before = np.arange(J - 1)[None, :] < np.asarray(h.start)[:, None]
    return np.where(binding | before, 0.0, err)


def utility(c: np.ndarray, crra: float) -> np.ndarray:
    """CRRA period utility ``c^{1−σ}/(1−σ)`` (``log c`` for ``σ = 1``)."""
    c = np.asarray(c, dtype=float)
    if abs(crra - 1.0) < 1e-12:
        return np.log(c)
    return c ** (1.0 - crra) / (1.0 - crra)


def _discount_weights(survival: np.ndarray, start: np.ndarray, beta: float) -> np.ndarray:
    n, J = survival.shape
    ages = np.arange(J)
    before = ages[None, :] < np.asarray(start)[:, None]
    step = np.where(before[:, :-1], 1.0, beta * survival[:, :-1])
    w = np.ones((n, J))
    w[:, 1:] = np.cumprod(step, axis=1)
    w0 = w[np.arange(n), np.asarray(start)]
    return np.where(before, 0.0, w / w0[:, None])


def lifetime_utility(h: HouseholdInputs, sol: HouseholdSolution) -> np.ndarray:
    """Expected discounted utility from the start age, ``Σ_i β^{i−start} Π s · u(c_i m_i)``,
    (n,). Homogeneous of degree ``1 − σ`` in consumption (CEV formula)."""
    w = _discount_weights(np.asarray(h.survival, dtype=float), h.start, h.discount_factor)
    return _weighted_utility(h, sol, w)


def _weighted_utility(h: HouseholdInputs, sol, w: np.ndarray) -> np.ndarray:
    """``Σ_i w_i u(c_i m_i)`` over the ages with ``w > 0`` (:func:`lifetime_utility` with its
    weights ``w`` given)."""
    c = np.where(w > 0, sol.consumption, 1.0)
    if h.taste is not None:
        c = c * np.where(w > 0, np.asarray(h.taste, dtype=float), 1.0)
    return np.sum(w * utility(c, h.crra), axis=1)


def discounted_survival_sum(h: HouseholdInputs) -> np.ndarray:
    """``Σ_i β^{i−start} Π s`` from the start age, (n,) (log-utility CEV needs it)."""
    return _discount_weights(np.asarray(h.survival, dtype=float), h.start,
                             h.discount_factor).sum(axis=1)


# ------------------------------------------------------------------------------ elastic hours
@dataclass(frozen=True)
class HoursInputs:
    """Hours margin of ``n`` problems, ``(n, J)`` arrays (see the section's docstring)."""

    hours_weight: np.ndarray  # ω_i >= 0
    net_earnings: np.ndarray  # z_i: d y_i / d h_i
    account_credit: np.ndarray  # a_i: account credit per unit of hours at i
    account_payout: np.ndarray  # π_i: net income at i per unit of account credit
    frisch: float  # ν > 0
    utility_shift: np.ndarray | None = None  # ζ_i


@dataclass(frozen=True)
class HoursSolution:
    consumption: np.ndarray
    assets_next: np.ndarray
    segments: Segments
    hours: np.ndarray  # h_i (1 where the hours weight is 0)
    income: np.ndarray  # y_i(h)
    outer_iterations: int = 0


def income_at_hours(h: HouseholdInputs, lab: HoursInputs, hours: np.ndarray) -> np.ndarray:
    """``y_i(h) = ȳ_i − z_i (1 − h_i) − π_i Σ_j a_j (1 − h_j)``, ``(n, J)``."""
    short = 1.0 - hours
    lost_credit = np.sum(lab.account_credit * short, axis=1, keepdims=True)
    return np.asarray(h.income, dtype=float) - lab.net_earnings * short \
        - lab.account_payout * lost_credit


def _marginal_utility(h: HouseholdInputs, c: np.ndarray) -> np.ndarray:
    """``∂u(c m)/∂c = m^{1−σ} c^{−σ}``."""
    mu = np.power(np.where(c > 0, c, 1.0), -h.crra)
    if h.taste is not None:
        mu = mu * np.asarray(h.taste, dtype=float) ** (1.0 - h.crra)
    return mu


def _hours_value(h: HouseholdInputs, lab: HoursInputs, c: np.ndarray) -> np.ndarray:
    """``z_i + a_i Σ_k π_k μ_k / μ_i``: the marginal value of an hour in yuan of age ``i``."""
    w = _discount_weights(np.asarray(h.survival, dtype=float), h.start, h.discount_factor)
    mu = np.where(w > 0, w * _marginal_utility(h, np.where(w > 0, c, 1.0)), 0.0)
    pv = np.sum(lab.account_payout * mu, axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(mu > 0, pv / mu, 0.0)
    return lab.net_earnings + lab.account_credit * ratio


def _hours_from(h: HouseholdInputs, lab: HoursInputs, c: np.ndarray, value: np.ndarray
                ) -> np.ndarray:
    """Hours from the first-order condition at consumption ``c``, clipped to ``[0, 1]``."""
    wt = lab.hours_weight
    gain = _marginal_utility(h, c) * value
    with np.errstate(divide="ignore", invalid="ignore"):
        interior = np.power(np.maximum(gain, 0.0) / wt, lab.frisch)
    return np.where(wt > 0, np.clip(interior, 0.0, 1.0), 1.0)


def _with_income(h: HouseholdInputs, income: np.ndarray) -> HouseholdInputs:
    return HouseholdInputs(h.gross_return, income, h.survival, h.borrowing_limit, h.start,
                           h.initial_assets, h.discount_factor, h.crra, h.taste)


@dataclass(frozen=True)
class _SegmentIndex:
    """The Euler segments of ``n`` problems as a partition of their ``(n, J)`` ages flattened
    row-major: ``starts`` the flat index of each segment's first age (a problem's ages before
    its start form one segment of their own), ``of_age`` each age's segment, flat ``(n·J,)``,
    ``last`` each segment's last flat index."""

    starts: np.ndarray
    of_age: np.ndarray
    last: np.ndarray


def _segment_index(segments: Segments) -> _SegmentIndex:
    """:class:`_SegmentIndex` of ``segments`` (an age starts a segment where it is its
    segment's first age; age 0 always does)."""
    n, J = segments.first.shape
    opens = segments.first == np.arange(J)[None, :]
    opens[:, 0] = True
    opens = opens.reshape(-1)
    starts = np.flatnonzero(opens)
    rows = starts // J
    return _SegmentIndex(starts=starts, of_age=np.cumsum(opens) - 1,
                         last=rows * J + segments.last.reshape(-1)[starts])


def _segment_hours(h: HouseholdInputs, lab: HoursInputs, pr: _Prepared, sol: HouseholdSolution,
                   hours: np.ndarray, weights: np.ndarray, works: np.ndarray) -> np.ndarray:
    """One outer step of :func:`solve_households_hours`: on each Euler segment of ``sol``,
    Newton's method on the segment's ``λ`` (``c_i = G_i λ``) with hours ``h(λ)`` from the
    first-order condition ``ω h^{1/ν} = A λ^{−σ} + B``; ``A`` values an hour's net earnings
    and the account pension it buys within the segment, ``B`` the account pension paid
    outside it (at the current consumption). Returns the new hours.

    Long because it sets the segment budgets up and runs the Newton loop on them in one
    place; the loop works on the ages with an hours choice only (the others' hours are 1 and
    enter each segment's budget as a constant), segment by segment (``np.add.reduceat`` over
    the flattened ages), and a segment leaves the loop once its step is below ``1e-14`` of
    its ``λ`` (the segments are independent given the outer step's terms)."""
    sigma, nu = h.crra, lab.frisch
    n, J = pr.q.shape
    ix = _segment_index(sol.segments)
    fs, ls = ix.starts, ix.last
    flat = lambda a: np.asarray(a, dtype=float).reshape(-1)  # noqa: E731
    z, credit, pay, disc = (flat(x) for x in (lab.net_earnings, lab.account_credit,
                                               lab.account_payout, pr.disc))
    hrs_now, w_flat = flat(hours), flat(weights)
    mu_now = np.where(w_flat > 0, w_flat * flat(_marginal_utility(
        h, np.where(weights > 0, sol.consumption, 1.0))), 0.0)
    pay_mu = pay * mu_now
    sums = np.add.reduceat(np.stack([pay * disc, z * hrs_now * disc, credit * hrs_now,
                                     pay_mu]), fs, axis=1)
    pv_s = sums[0]
    resources = _start_values_at(pr, h, fs) + flat(pr.p)[ls]
    big_q = flat(pr.q)[ls] - flat(pr.q_prev)[fs]
    # the budget with hours at the ages without a choice (1) and λ still to find:
    # F(λ) = fixed + Σ_{chosen ages} coef_i h_i(λ) − λ Q, coef the budget's yuan per hour
    coef = z * disc + pv_s[ix.of_age] * credit
    chooses = np.asarray(works).reshape(-1) & (flat(lab.hours_weight) > 0)
    fixed = resources - sums[1] - pv_s * sums[2] \
        + np.add.reduceat(np.where(chooses, 0.0, coef), fs)
    seg_all = np.flatnonzero(chooses)  # the ages with an hours choice
    seg_of = ix.of_age[seg_all]
    out_mu = np.add.reduceat(pay_mu, np.arange(0, n * J, J))[seg_all // J] - sums[3][seg_of]
    wt = flat(lab.hours_weight)[seg_all]
    big_b = credit[seg_all] * out_mu / w_flat[seg_all]
    big_a = np.exp(-sigma * flat(pr.log_g)[seg_all]) \
        * (z[seg_all] + credit[seg_all] * pv_s[seg_of] / disc[seg_all])
    if h.taste is not None:
        big_a = big_a * flat(h.taste)[seg_all] ** (1.0 - sigma)
    coef = coef[seg_all]
    # the segments with a choice, renumbered 0..m-1 in flat order
    segs, local = np.unique(seg_of, return_inverse=True)
    lam = resources[segs] / big_q[segs]
    fixed, big_q = fixed[segs], big_q[segs]
    new_hours = np.ones(n * J)
    live = np.arange(segs.size)  # segments still iterating
    ages = np.arange(seg_all.size)  # their ages (positions in seg_all), in flat order
    a_, b_, w_, c_, loc = big_a, big_b, wt, coef, local
    for _ in range(100):
        lam_l = lam[live]
        lp = lam_l ** -sigma
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            gain = a_ * lp[loc] + b_
            ratio = np.maximum(gain, 0.0) / w_
            hrs = np.minimum(ratio ** nu, 1.0)
            # dh/dλ = −ν σ h A λ^{−σ−1} / gain where 0 < h < 1
            slope = np.where((hrs > 0) & (hrs < 1), c_ * hrs * a_ / gain, 0.0)
        opens = np.flatnonzero(np.diff(loc, prepend=-1))
        s = np.add.reduceat(np.stack([c_ * hrs, slope]), opens, axis=1)
        f = fixed[live] + s[0] - lam_l * big_q[live]
        df = -nu * sigma * lp / lam_l * s[1] - big_q[live]
        new = lam_l - f / df
        new = np.where(new > 0, new, lam_l / 10.0)
        lam[live] = new
        settled = np.abs(new - lam_l) < 1e-14 * lam_l
        if settled.all():
            break
        if settled.any():  # the settled segments leave with their ages
            keep_age = ~settled[loc]
            renumber = np.cumsum(~settled) - 1
            live = live[~settled]
            ages = ages[keep_age]
            a_, b_, w_, c_ = a_[keep_age], b_[keep_age], w_[keep_age], c_[keep_age]
            loc = renumber[loc[keep_age]]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        gain = big_a * lam[local] ** -sigma + big_b
        new_hours[seg_all] = np.minimum((np.maximum(gain, 0.0) / wt) ** nu, 1.0)
    return np.clip(new_hours.reshape(n, J), 0.0, 1.0)


def solve_households_hours(h: HouseholdInputs, lab: HoursInputs | None, tol: float = 1e-13,
                           max_outer: int = 200, hours0: np.ndarray | None = None,
                           strict: bool = True, segments0: Segments | None = None
                           ) -> HoursSolution:
    """Solve ``n`` problems with elastic hours exactly (see the section's docstring).

    The outer loop re-solves the Euler segments at the current hours' income and takes one
    :func:`_segment_hours` step, until hours change by less than ``tol``. Each re-solve starts
    from the last one's segments, kept where they still solve the problem
    (:func:`_segments_optimal`); ``segments0`` (e.g. a nearby problem's, with ``hours0``) is
    the first one's start.

    Raises
    ------
    InfeasibleHouseholdError as :func:`solve_households`; RuntimeError if the outer loop does
    not settle within ``max_outer`` iterations (``strict=False``: the last iterate is
    returned, for callers that iterate hours in their own fixed point from ``hours0``).
    """
    n, J = np.shape(h.income)
    if lab is None or not np.any(np.asarray(lab.hours_weight) > 0):
        sol = solve_households(h)
        return HoursSolution(sol.consumption, sol.assets_next, sol.segments, np.ones((n, J)),
                             np.asarray(h.income, dtype=float))
    before = np.arange(J)[None, :] < np.asarray(h.start)[:, None]
    works = (np.asarray(lab.hours_weight) > 0) & ~before
    weights = _discount_weights(np.asarray(h.survival, dtype=float), h.start,
                                h.discount_factor)
    fixed = _prepare_fixed(h)
    hours = np.ones((n, J)) if hours0 is None else np.asarray(hours0, dtype=float).copy()
    # the problems (rows) are independent: a row whose hours moved by less than tol leaves
    # the loop with them, the others go on
    # (each outer iteration starts from the last one's Euler segments: _solve_prepared)
    rows = np.arange(n)
    h_r, lab_r, fixed_r, weights_r, works_r = h, lab, fixed, weights, works
    first, last = (None, None) if segments0 is None else (segments0.first.copy(),
                                                          segments0.last.copy())
    for it in range(1, max_outer + 1):
        hours_r = hours[rows]
        hh = _with_income(h_r, income_at_hours(h_r, lab_r, hours_r))
        pr = _prepare(hh, fixed_r)
        sol = _solve_prepared(hh, pr, None if first is None
                              else Segments(first[rows], last[rows]))
        if first is None:
            first, last = sol.segments.first.copy(), sol.segments.last.copy()
        else:
            first[rows], last[rows] = sol.segments.first, sol.segments.last
        new_hours = _segment_hours(hh, lab_r, pr, sol, hours_r, weights_r, works_r)
        row_change = np.max(np.abs(new_hours - hours_r), axis=1)
        hours[rows] = new_hours
        change = float(row_change.max())
        if change < tol:
            break
        moving = row_change >= tol
        if not moving.all():
            rows = rows[moving]
            h_r, lab_r = _rows_of(h_r, moving), _rows_of(lab_r, moving)
            fixed_r, weights_r, works_r = (_rows_of(fixed_r, moving), weights_r[moving],
                                           works_r[moving])
    else:
        if strict:
            raise RuntimeError(f"hours did not settle in {max_outer} outer iterations "
                               f"(last change {change:.2e})")
    y = income_at_hours(h, lab, hours)
    hh = _with_income(h, y)
    pr = _prepare(hh, fixed)
    sol = _solve_prepared(hh, pr, Segments(first, last))
    return HoursSolution(sol.consumption, sol.assets_next, sol.segments, hours, y, it)


def _rows_of(x, keep: np.ndarray):
    """The problems ``keep`` (a row mask) of household, hours or prepared inputs: every
    per-problem array (first axis one entry per problem) sliced, the rest kept."""
    fields = {f.name: getattr(x, f.name) for f in dataclasses.fields(x)}
    per_problem = lambda v: np.ndim(v) >= 1 and np.shape(v)[0] == keep.size  # noqa: E731
    return type(x)(**{k: np.asarray(v)[keep] if per_problem(v) else v
                      for k, v in fields.items()})


def kuhn_tucker_residuals(h: HouseholdInputs, lab: HoursInputs, sol: HoursSolution
                          ) -> np.ndarray:
    """Hours' first-order residuals, ``(n, J)``: ``ω h^{1/ν} / (u'(c m) m · value) − 1`` where
    ``0 < h < 1`` (zero at the optimum); ``max(0, that ratio at h = 1 − 1)`` at the upper
    bound (positive only if an hour less would pay); ``max(0, 1 − ...)`` at 0; 0 where no
    work or before start."""
    wt = np.asarray(lab.hours_weight, dtype=float)
    value = _hours_value(h, lab, sol.consumption)
    gain = _marginal_utility(h, sol.consumption) * value
    hrs = sol.hours
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = wt * np.power(hrs, 1.0 / lab.frisch) / gain
    res = np.where(hrs >= 1.0, np.maximum(ratio - 1.0, 0.0),
                   np.where(hrs <= 0.0, np.maximum(-gain, 0.0), ratio - 1.0))
    J = wt.shape[1]
    before = np.arange(J)[None, :] < np.asarray(h.start)[:, None]
    return np.where((wt > 0) & ~before, res, 0.0)


def lifetime_utility_hours(h: HouseholdInputs, lab: HoursInputs | None, sol) -> np.ndarray:
    """``Σ_i β^{i−s} Π s · [u(c_i m_i) − ω_i h_i^{1+1/ν}/(1+1/ν) + ζ_i]`` from the start age,
    (n,). Equals :func:`lifetime_utility` when ``ω = ζ = 0``."""
    if lab is None:
        return lifetime_utility(h, sol)
    w = _discount_weights(np.asarray(h.survival, dtype=float), h.start, h.discount_factor)
    v = _weighted_utility(h, sol, w)
    k = 1.0 + 1.0 / lab.frisch
    hours = getattr(sol, "hours", np.ones_like(w))
    leisure = -np.asarray(lab.hours_weight) * hours ** k / k
    if lab.utility_shift is not None:
        leisure = leisure + np.asarray(lab.utility_shift)
    return v + np.sum(w * leisure, axis=1)


def euler_errors_hours(h: HouseholdInputs, sol: HoursSolution, tol: float = 1e-9) -> np.ndarray:
    """Euler errors of an hours solution (its income at the chosen hours)."""
    hh = HouseholdInputs(h.gross_return, sol.income, h.survival, h.borrowing_limit, h.start,
                         h.initial_assets, h.discount_factor, h.crra, h.taste)
    return euler_errors(hh, sol, tol)


def marginal_values(h: HouseholdInputs, lab: HoursInputs, sol) -> tuple[np.ndarray, np.ndarray]:
    """First-order terms of a solved plan, ``(n, J)`` each: ``μ_i = β^{i−s} Π s · u'(c_i m_i)
    m_i``, the discounted marginal utility of a yuan received at ``i`` (the envelope theorem:
    a small income change ``dy`` changes lifetime utility by ``Σ_i μ_i dy_i``; 0 before the
    start), and the hours value ``z_i + a_i Σ_k π_k μ_k / μ_i`` of the first-order condition
    (yuan of age ``i`` per unit of hours)."""
    c = sol.consumption
    w = _discount_weights(np.asarray(h.survival, dtype=float), h.start, h.discount_factor)
    mu = np.where(w > 0, w * _marginal_utility(h, np.where(w > 0, c, 1.0)), 0.0)
    return mu, _hours_value(h, lab, c)
