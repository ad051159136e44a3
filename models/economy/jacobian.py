r"""The elastic transition's sequence-space Jacobian by the fake-news algorithm, adapted to
deterministic cohorts (issue 14).

Auclert, Bardóczy, Rognlie and Straub (2021), "Using the Sequence-Space Jacobian to Solve and
Estimate Heterogeneous-Agent Models", *Econometrica* 89(5), 2375–2408: a model is a chain of
blocks; the household block's Jacobian of aggregates with respect to price paths is built from
one perturbation per input around a steady state, because there the response at date ``t`` to
news about date ``s`` depends only on ``t − s`` (their sec. 3, the "fake-news" matrix), and
the total Jacobian is the chain rule through the cheap aggregate blocks.

The OLG version (this module). The household block maps five price paths seen by households,
``X = (r, w, W̄, τ, b)`` (interest rate, wage per efficiency unit, average covered wage, the
income tax, the bequest per person; years ``0..T−1``) to seven aggregates ``H`` per year:
household assets ``A_{t+1} = Σ N_t a'_t``, estates ``S_t = Σ (N_{t,i} − N_{t+1,i+1}) a'_{t,i}``,
labour supplied ``Σ N ℓ h e θ``, covered efficiency ``Σ N ℓ h e`` and covered full-time
equivalents ``Σ N ℓ`` of employees, employee pensions ``Ben_t`` and contributions ``Con_t``
(per-capita outputs mixed over retirement options with the logit probabilities). A date-``s``
price moves only the cohorts alive at ``s``. Fake news for cohorts: the per-capita response of
the person aged ``i`` in year ``t`` to a price change in year ``s`` is taken as that of the
person aged ``i`` in year ``s* + (t − s)`` to the same price change in the reference year
``s*`` (a cohort's response depends on its age at the news and the lag, not the calendar year,
when cohorts are alike), so

.. math::  \frac{∂H_t}{∂X_s} ≈ \sum_{k,i} W_{t,k,i}\,
           \frac{∂y_{k,i}(s^* + t − s)}{∂X_{s^*}},

``W`` the aggregate's weights in year ``t`` (persons by kind and age, the actual demography,
so the population's ageing is exact; only the per-capita responses are shifted), ``y`` the
per-capita output of kind ``k`` at age ``i``. The shift is made on detrended quantities
(balanced growth: money outputs over technology ``A_t`` of their year, money inputs ``w``,
``W̄``, ``b`` over ``A_s``), so in levels the entry carries ``A_t/A_s`` (money in, money out),
``A_t`` (a rate in, money out), ``1/A_s`` (money in, a share out) or 1, as the reference's
``A_{s*+t−s}/A_{s*}`` would with constant growth. One perturbation per input at ``s*`` (each
re-solving only the ``J`` cohorts alive then, hours and retirement options exactly) gives every
column. The reference year is ``s* = T − J`` (at least ``J − 1``): late in the horizon, where
the economy is near its terminal steady state, but with every response inside the horizon
(measured on the China calibration: the last year ``T − 1`` sits at the jump of the covered
wage to the terminal steady state's while the Newton method is far from the solution, and
its responses were then up to 10 times off); the path's early cohorts (other statutory ages, other prices,
and those alive in the base year, whose assets then are given) are approximated by it: the
result is the quasi-Newton method's first Jacobian, and the residual stays exact.

The aggregate blocks (firms, the fund rule, the budget's tax, the market-clearing residuals)
are :func:`residuals_from_aggregates`, the last part of
:meth:`models.economy.transition.TransitionModel.evaluate` written on the aggregates (a test
checks they agree); the total Jacobian differentiates it with the households' aggregates
linearised, ``H ≈ H_0 + Σ_x (∂H/∂X_x) ΔX_x``.

Measured (``benchmarks/bench_economy.py --only-elastic``, China calibration with the bench's
illustrative preferences, 200 years, load about 0.1–1): hours only 5.8 s wall, 13 elastic
Broyden steps (finite-difference first Jacobian 9.0 s, 18 steps); hours and the retirement
choice 21.6 s, 16 steps (35.2 s, 20 steps). After the households' solve was made cheaper
(issue 14's benchmark; ``--only-elastic --no-finite-differences``, load 2.1–2.2, the
calibrated preferences of ``experiments/options/elastic_labour.toml``): hours only 4.0 s wall
(4.6 s CPU), hours and the choice 10.9 s wall (11.6 s CPU), 13 elastic steps after a 5-step
start; the illustrative preferences 13.2 s wall (13.9 s CPU).

Scope: a closed elastic economy without the pension block's books and with a horizon of at
least ``J`` years (the reference year's cohorts all born in the horizon);
:func:`applicable` says so, and the transition keeps its finite-difference Jacobian otherwise.
"""

from __future__ import annotations

import copy

import numpy as np
from scipy import sparse

from models.economy import core
from models.economy.household import Segments

__all__ = ["INPUTS", "AGGREGATES", "applicable", "price_paths", "household_outputs",
           "aggregates", "residuals_from_aggregates", "household_jacobian",
           "fake_news_jacobian"]

#: household inputs (year paths): interest rate, wage per efficiency unit, average covered
#: wage, income tax, bequest per person
INPUTS: tuple[str, ...] = ("r", "wage", "wbar", "tax", "bequest")
#: inputs in money (they grow with technology ``A``); the others are rates
LEVEL_INPUTS = frozenset({"wage", "wbar", "bequest"})
#: per-capita outputs in money (the others are shares of the year)
LEVEL_OUTPUTS = frozenset({"a_next", "benefits", "contributions"})
#: household aggregates the residuals need (module docstring)
AGGREGATES: tuple[str, ...] = ("assets", "estates", "labour", "cov_eff", "cov_fte",
                               "benefits", "contributions")


def applicable(model) -> bool:
    """Whether :func:`fake_news_jacobian` covers the model (module docstring: scope)."""
    return bool(model.elastic and model.closed and model.book is None and model.T >= model.J
                and model.P == 1)


def price_paths(model, u: np.ndarray) -> dict:
    """The prices households see for unknowns ``u[B, n]`` (as
    :meth:`~models.economy.transition.TransitionModel.evaluate`): the firm's ``pr``
    (:meth:`prices`), the unknowns' ``kappa``, ``beq_ratio`` and ``clear``, and year paths
    ``[B, Tx]`` ``r``, ``wage``, ``wbar``, ``tax`` (the unknown, terminal after ``T``) and
    ``bequest`` (``b/W̄`` times ``W̄``; year 0 the initial estates with interest)."""
    T, Tx = model.T, model.Tx
    kappa, beq_ratio = model.unpack(u)
    clear = model.clearing_unknowns(u)
    pr = model.prices(kappa, clear["labour"], clear["ebar"])
    bequest = beq_ratio * pr["wbar"]
    bequest[:, 0] = (1.0 + pr["r"][:, 0]) * model.initial.estate_per_capita
    tax = np.empty((kappa.shape[0], Tx))
    tax[:, :T] = clear["tax"]
    tax[:, T:] = model.terminal.income_tax_rate
    return dict(pr=pr, kappa=kappa, beq_ratio=beq_ratio, clear=clear, r=pr["r"],
                wage=pr["wage"], wbar=pr["wbar"], tax=tax, bequest=bequest)


def _with_paths(paths: dict, x: dict) -> dict:
    """``paths`` with the year paths ``x`` (some of :data:`INPUTS`) replaced."""
    out = dict(paths)
    out.update(x)
    out["pr"] = dict(paths["pr"], r=out["r"], wage=out["wage"], wbar=out["wbar"])
    return out


def cohort_subset(model, cohorts: np.ndarray):
    """A shallow copy of an elastic model restricted to ``cohorts`` (indices): its cohort
    arrays sliced, everything by year shared; enough for :func:`household_outputs`."""
    sub = copy.copy(model)
    cohorts = np.asarray(cohorts, dtype=np.int64)
    O = model.O
    rows = (cohorts[:, None] * O + np.arange(O)[None, :]).reshape(-1)
    sub.C = cohorts.size
    sub.idx = model.idx[cohorts]
    sub.cp_opt = core.CohortPolicy(*(getattr(model.cp_opt, f)[rows]
                                     for f in core.CohortPolicy.__dataclass_fields__))
    sub.option_valid = model.option_valid[cohorts]
    sub.surv = model.surv[:, cohorts]
    sub.utility_scale = model.utility_scale[:, rows]
    sub.taste_scale = model.taste_scale[cohorts]
    sub.hours_opt, sub.probs = model.hours_opt[cohorts], model.probs[cohorts]
    sub.chosen = None if model.chosen is None else (model.chosen[0][cohorts],
                                                    model.chosen[1][cohorts])
    sub.response = None
    sub.price_free = {}  # the model's are by its cohorts
    sub.chosen_segments = None
    if model.chosen_segments is not None:  # the model's, by its solved rows: those of cohorts
        K = model.K
        pos = ((cohorts[:, None, None] * O + np.arange(O)[None, :, None]) * K
               + np.arange(K)[None, None, :]).reshape(-1)  # the cohorts' rows in the model's
        solved = model.solved_rows((1, model.C * O, K, model.J))
        row = (np.cumsum(solved) - 1)[pos[solved[pos]]]
        seg = model.chosen_segments
        sub.chosen_segments = Segments(seg.first[row], seg.last[row])
    for name in ("start", "start_assets", "start_ia", "start_pension"):
        setattr(sub, name, getattr(model, name)[cohorts])
    return sub


def household_outputs(model, paths: dict, hours_tol: float = 1e-13) -> dict:
    """Households' choices at the prices ``paths`` (:func:`price_paths`) and their per-capita
    outputs by cohort, kind and age ``[B, C, K, J]``, mixed over retirement options with the
    choice probabilities: ``a_next`` (assets chosen), ``work_h`` (share of the year worked
    times hours), ``work_p`` (share worked), ``benefits`` and ``contributions`` (the steps of
    :meth:`~models.economy.transition.TransitionModel.evaluate`'s elastic branch)."""
    O, J = model.O, model.J
    prices = model.cohort_prices(paths["pr"])
    rep = lambda x: np.repeat(x, O, axis=1) if np.ndim(x) == 4 else x  # noqa: E731
    prices = core.CohortPrices(*(rep(getattr(prices, f))
                                 for f in core.CohortPrices.__dataclass_fields__))
    start = core.CohortStart(age=np.repeat(model.start, O),
                             assets=np.repeat(model.start_assets, O, axis=0),
                             ia_balance=np.repeat(model.start_ia, O, axis=0),
                             pension=np.repeat(model.start_pension, O, axis=0))
    inputs = model.option_inputs(prices, start, paths["tax"], paths["bequest"])
    hours, probs, sol = model.choose(prices, start, paths["tax"], paths["bequest"], hours_tol,
                                     inputs)
    flows = model.flows_at_hours(inputs[-1], hours)
    shape = hours.shape  # [B, C·O, K, J]
    rows = model.solved_rows(shape)
    a_next = np.zeros((rows.size, J))
    a_next[rows] = sol.assets_next
    a_next = a_next.reshape(shape)
    work_o = np.broadcast_to(model.cp_opt.work, shape)
    mix = lambda x: model.mix(x, probs)  # noqa: E731
    return dict(a_next=mix(a_next), work_h=mix(work_o * hours), work_p=mix(work_o),
                benefits=mix(flows["benefits"]), contributions=mix(flows["contributions"]))


def _weights(model) -> dict:
    """Each aggregate's per-capita output and weights by year, kind and age
    ``[T or T+1, K, J]`` (:data:`AGGREGATES`)."""
    T = model.T
    n_k = model.pop_kind[0]  # [Tx+1, K, J]
    leaving = n_k[:T].copy()
    leaving[..., :-1] -= n_k[1:T + 1, :, 1:]
    cov = core.COVERED[:, None]
    return {"assets": ("a_next", n_k[:T]), "estates": ("a_next", leaving),
            "labour": ("work_h", n_k[:T] * model.eff),
            "cov_eff": ("work_h", n_k[:T] * model.eff * cov),
            "cov_fte": ("work_p", n_k[:T] * cov), "benefits": ("benefits", n_k[:T + 1]),
            "contributions": ("contributions", n_k[:T])}


def aggregates(model, outputs: dict) -> dict:
    """The households' aggregates ``[B, T or T+1]`` (:data:`AGGREGATES`) from the per-capita
    outputs of every cohort (:func:`household_outputs`)."""
    years = {key: model.to_years(x) for key, x in outputs.items()}
    return {name: (w[None] * years[key][:, :w.shape[0]]).sum(axis=(-2, -1))
            for name, (key, w) in _weights(model).items()}


def residuals_from_aggregates(model, u: np.ndarray, h: dict, paths: dict | None = None
                              ) -> np.ndarray:
    """Market-clearing residuals ``[B, n]`` of a closed elastic economy from its unknowns and
    the households' aggregates ``h`` (:func:`aggregates`), with the equations of
    :meth:`~models.economy.transition.TransitionModel.evaluate`: the fund holds
    ``m/12`` of next year's pensions, the subsidy closes it, the tax that balances the budget
    ``(g Y + Res + Sub)/(w L + Ben + Res)``; residuals asset market ``(A + B − K)/Y``,
    bequests ``(b − (1 + r) S/N)/W̄``, labour, covered wage ``ē − cov_eff/cov_fte`` (relative
    to full time) and tax."""
    p, pol, T = model.params, model.policy, model.T
    paths = price_paths(model, u) if paths is None else paths
    pr, kappa, clear = paths["pr"], paths["kappa"], paths["clear"]
    r, wage, wbar, output, tech = (pr[k] for k in ("r", "wage", "wbar", "output", "tech"))
    labour = clear["labour"]
    B = kappa.shape[0]
    ben_y, con_y = h["benefits"], h["contributions"]
    res_y = model.res_ratio[model.pad:model.pad + T] * wbar[:, :T] * model.res_count
    fund = np.empty((B, T + 1))
    fund[:, 0] = model.initial.fund_balance
    fund[:, 1:] = pol.fund_months / 12.0 * ben_y[:, 1:T + 1]
    subsidy = fund[:, 1:] - (1.0 + r[:, :T]) * fund[:, :T] - con_y + ben_y[:, :T]
    gov = p.government_consumption_share * output
    tax_implied = (gov + res_y + subsidy) / (wage[:, :T] * labour + ben_y[:, :T] + res_y)
    implied = (1.0 + r[:, 1:T + 1]) * h["estates"] / model.n_total[:, 1:T + 1]
    labour_T = model.labour_T_full * labour[:, -1] / model.labour_full[:, -1]
    capital = kappa[:, :T + 1] * tech[:T + 1] * np.concatenate([labour, labour_T[:, None]],
                                                               axis=1)
    res_assets = (h["assets"][:, :T - 1] + fund[:, 1:T] - capital[:, 1:T]) / output[:, 1:T]
    res_beq = (paths["bequest"][:, 1:T] - implied[:, :T - 1]) / wbar[:, 1:T]
    cov_fte = h["cov_fte"]
    with np.errstate(invalid="ignore", divide="ignore"):
        ebar = np.where(cov_fte > 0, h["cov_eff"] / cov_fte, 0.0)
    return np.concatenate([res_assets, res_beq, (labour - h["labour"]) / model.labour_full,
                           (clear["ebar"] - ebar) / model.ebar_full,
                           clear["tax"] - tax_implied], axis=1)


def household_jacobian(model, u: np.ndarray, reference: int | None = None, step: float = 1e-6,
                       hours_tol: float = 1e-12) -> dict:
    """``∂H/∂X`` by the cohort fake-news algorithm (module docstring): a dict over
    ``(aggregate, input)`` of ``[T or T+1, T]`` matrices (rows years of the aggregate, columns
    years ``0..T−1`` of the input), from one forward difference per input in the reference
    year ``s*`` (default ``max(J − 1, T − J)``: its responses stay within the horizon, away
    from the jump to the terminal steady state's prices; at least ``J − 1``), re-solving only the cohorts alive in
    ``s*`` (hours and retirement options exactly, to ``hours_tol``)."""
    T, J, pad = model.T, model.J, model.pad
    s_ref = max(J - 1, T - J) if reference is None else int(reference)
    if not (J - 1 <= s_ref < T):
        raise ValueError(f"the reference year must lie in [{J - 1}, {T - 1}], got {s_ref}")
    base = price_paths(model, u)
    cohorts = s_ref + pad - np.arange(J)[::-1]  # alive in s*: born in the horizon
    sub = cohort_subset(model, cohorts)
    # row 0 the base; row 1 + k: input k raised in s* (the others at the base)
    rows = {name: np.repeat(base[name], 1 + len(INPUTS), axis=0) for name in INPUTS}
    steps = np.array([step * max(abs(base[name][0, s_ref]), 1e-2) for name in INPUTS])
    for k, name in enumerate(INPUTS):
        rows[name][1 + k, s_ref] += steps[k]
    outs = household_outputs(sub, _with_paths(base, rows), hours_tol)
    weights = _weights(model)
    lags = np.arange(-(J - 1), J)  # t - s
    t_ref = s_ref + lags  # the reference year of each lag (within [0, Tx))
    tech = model.tech[pad:]  # A_t, years 0..Tx-1
    in_level = np.array([name in LEVEL_INPUTS for name in INPUTS])
    jac = {}
    for key in {k for k, _ in weights.values()}:
        full = np.zeros((len(INPUTS), model.C, model.K, J))
        full[:, cohorts] = (outs[key][1:] - outs[key][:1]) / steps[:, None, None, None]
        years = model.to_years(full)[:, t_ref]  # [X, lag, K, J]
        # detrended: outputs in levels over A of their year, level inputs over A of s*
        years = years * np.where(in_level, tech[s_ref], 1.0)[:, None, None, None]
        if key in LEVEL_OUTPUTS:
            years = years / tech[t_ref][None, :, None, None]
        years = years.reshape(len(INPUTS), lags.size, -1)
        for agg, (k2, w) in weights.items():
            if k2 != key:
                continue
            n_t = w.shape[0]
            by_lag = np.einsum("tm,xdm->xtd", w.reshape(n_t, -1), years)  # [X, t, lag]
            t = np.arange(n_t)[:, None]
            lag = t - np.arange(T)[None, :]
            inside = np.abs(lag) <= J - 1
            pos = np.clip(lag + J - 1, 0, lags.size - 1)
            scale_t = tech[:n_t, None] if key in LEVEL_OUTPUTS else np.ones((n_t, 1))
            for x, name in enumerate(INPUTS):
                scale = scale_t / tech[None, :T] if in_level[x] else scale_t
                jac[agg, name] = np.where(inside, by_lag[x][t, pos] * scale, 0.0)
    return jac


def fake_news_jacobian(model, u: np.ndarray, step: float = 1e-6, chunk: int = 64,
                       household: dict | None = None, hours_tol: float = 1e-13
                       ) -> np.ndarray:
    """The total Jacobian ``∂ residuals / ∂ unknowns`` ``[n, n]`` of a closed elastic economy
    (:func:`applicable`): forward differences of :func:`residuals_from_aggregates` with the
    households' aggregates linear in the prices, ``H_0 + Σ_x (∂H/∂X_x) ΔX_x``
    (:func:`household_jacobian`; ``H_0`` the households' aggregates at ``u``: those the
    model's last evaluation kept if it was at ``u``, else solved to ``hours_tol``), ``chunk``
    columns at a time (no household is solved per
    column). The model's kept choices (``chosen``, ``response``) are left as they were."""
    T = model.T
    paths0 = price_paths(model, u)
    last = model.last_aggregates
    if last is not None and np.array_equal(last[0], u):  # the evaluation at u kept them
        h0 = last[1]
    else:
        kept = model.chosen, model.response, model.chosen_segments
        try:
            h0 = aggregates(model, household_outputs(model, paths0, hours_tol))
        finally:
            model.chosen, model.response, model.chosen_segments = kept
    dh = household_jacobian(model, u) if household is None else household
    base = residuals_from_aggregates(model, u, h0, paths0)
    sizes = [h0[agg].shape[1] for agg in AGGREGATES]
    cuts = np.cumsum([0] + sizes)
    # [Σ rows, X·T]: every aggregate's response to every input's year
    stacked = np.concatenate([np.concatenate([dh[agg, name] for name in INPUTS], axis=1)
                              for agg in AGGREGATES], axis=0)
    n = u.shape[1]
    hstep = step * np.maximum(1.0, np.abs(u[0]))
    jac = np.empty((n, n))
    for lo in range(0, n, chunk):
        cc = np.arange(lo, min(n, lo + chunk))
        pert = np.repeat(u, cc.size, axis=0)
        pert[np.arange(cc.size), cc] += hstep[cc]
        paths = price_paths(model, pert)
        dx = np.concatenate([paths[name][:, :T] - paths0[name][:, :T] for name in INPUTS],
                            axis=1)  # each unknown moves a year's prices: sparse rows
        dh_c = sparse.csr_matrix(dx) @ stacked.T
        h = {agg: h0[agg] + dh_c[:, cuts[k]:cuts[k + 1]] for k, agg in enumerate(AGGREGATES)}
        res = residuals_from_aggregates(model, pert, h, paths)
        jac[:, cc] = ((res - base) / hstep[cc][:, None]).T
    return jac
