r"""Households' hours and retirement choices at given prices, and the price of delay.

Every cohort of every kind alive in a solved transition is re-solved at that transition's
prices (wages, interest, the average covered wage and its indexation, the tax and the
bequests), with elastic hours (:func:`models.economy.household.solve_households_hours`) and,
with ``params.retirement_choice``, a choice among the retirement ages of the legal window
(:func:`models.economy.core.retirement_options`).

Timing of the retirement choice (a stated modelling assumption): each household draws
extreme-value type I taste shocks ``ε_o`` of scale ``s = s_0 A_{start}^{1−σ}``, one per
retirement option, when its plan starts (entry at ``first_age``, or the base year for
cohorts alive then) and then plans its whole life; with no other risk, its problem given
``o`` is deterministic and solved exactly. The option is the one with the largest
``V_o + ε_o``: probabilities ``P_o = exp(V_o/s)/Σ exp(V/s)`` and expected value
``s log Σ exp(V_o/s)`` (McFadden 1973; Rust 1987). Households do not face uncertainty about
their own retirement date before it (no precautionary saving against it), unlike the
per-period shocks of Iskhakov, Jørgensen, Rust and Schjerning (2017, *Quantitative
Economics* 8, DC-EGM), which would need a wealth grid. Options whose retirement year falls
before the plan starts are not available (already decided); cohorts with one option keep the
statutory age.

Welfare per cohort and kind is the expected value; its change is split into consumption and
leisure parts (:func:`cohort_choices` returns both). The **price of delay**
(:func:`price_of_delay`): the fall in expected value from one more month of statutory age
for the category, at fixed prices (partial equilibrium), in yuan of the plan's first year
that would compensate it (``ΔV / u'(c_start)``), and as a share of that year's average
covered wage (wage-indexed).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from models.config import CATEGORIES
from models.economy import core
from models.economy.household import (
    HouseholdInputs,
    HoursInputs,
    euler_errors_hours,
    kuhn_tucker_residuals,
    lifetime_utility,
    lifetime_utility_hours,
    solve_households_hours,
)
from models.economy.parameters import EconomyParameters
from models.economy.policy import Policy

__all__ = ["cohort_choices", "price_of_delay", "delay_policy", "delay_price_by_year",
           "retirement_distribution"]


def retirement_distribution(transition: xr.Dataset, params: EconomyParameters
                            ) -> xr.DataArray | None:
    """The employees' retirement ages as the economy's households choose them: the share of
    each birth cohort and category retiring at each option, ``[birth_year, category,
    offset]``, ``offset`` the option's years from the statutory age (``36 (2o/(O−1) − 1)``
    months, :func:`models.economy.core.retirement_options`; an option below the original age
    is taken at the original age). The solved transition's equilibrium choice probabilities
    (``retirement_probability``) of the employee group (the accounts' scheme; residents have
    no choice in it). None when the retirement choice is off (ages set by the law)."""
    if not params.retirement_choice or "retirement_probability" not in transition:
        return None
    prob = transition["retirement_probability"].sel(group="employee").transpose(
        "birth_year", "category", "option")
    n_opt = prob.sizes["option"]
    offsets = (core.FLEXIBLE_MONTHS * np.linspace(-1.0, 1.0, n_opt) / 12.0 if n_opt > 1
               else np.zeros(1))
    return xr.DataArray(
        prob.values, dims=("birth_year", "category", "offset"),
        coords={"birth_year": prob["birth_year"].values,
                "category": prob["category"].values, "offset": offsets},
        name="retirement_distribution",
        attrs={"units": "1", "long_name": "share of the employees of a cohort retiring at "
               "each offset (years) from the statutory age (the economy's retirement choice)"})


def delay_policy(policy: Policy, category: str, months: float, from_year: int) -> Policy:
    """``policy`` with ``months`` more statutory age for ``category``, for the cohorts reaching
    it from ``from_year`` on (added to any extra delay already there)."""
    years = np.array([from_year])
    base = np.zeros((1, len(CATEGORIES)))
    if policy.extra_delay_months is not None:
        old = policy.extra_delay_months
        years = np.union1d(old["year"].values, years)
        base = old.reindex(year=years, method="ffill").fillna(0.0).transpose(
            "year", "category").values
    j = CATEGORIES.index(category)
    add = np.zeros_like(base)
    add[years >= from_year, j] = months
    lever = xr.DataArray(base + add, dims=("year", "category"),
                         coords={"year": years, "category": list(CATEGORIES)})
    return policy.replace(extra_delay_months=lever)


def cohort_choices(model, u: np.ndarray, policy: Policy | None = None) -> xr.Dataset:
    """Hours and retirement choices of every cohort and kind of a transition at its prices.

    Long because it lays the one vectorised solve of every cohort, kind and option out as a
    labelled dataset of twenty documented variables; each step is a call or one array line.

    Parameters
    ----------
    model : the transition's arrays (:func:`models.economy.transition.build_model`).
    u : its solved unknowns ``[1, n]`` (e.g. :func:`models.economy.transition.
        unknowns_from_dataset`; an elastic model also takes the asset market's and bequests'
        alone: :meth:`~models.economy.transition.TransitionModel.full_unknowns`).
    policy : the pension policy households face (default: the model's); prices, the tax and
        bequests stay those of ``u``.

    Returns
    -------
    Dataset over ``birth_year``, ``group``, ``category`` (and ``option``, ``age``):
    ``expected_value`` (utils), ``consumption_utility`` and ``leisure_utility`` (the
    expected utility of consumption and of work over the options; the rest of the expected
    value is the taste shocks' option value), ``probability[option]``, ``retirement_age[option]``,
    ``mean_retirement_age``, ``hours[age]`` and ``employment[age]`` (expected), the largest
    ``kuhn_tucker_residual``, ``euler_residual``, ``marginal_utility_start`` (``u'`` of the
    first planned year, utils per model money unit) and ``average_wage_start``; attributes
    ``taste_scale``.
    """
    params: EconomyParameters = model.params
    policy = model.policy if policy is None else policy
    J, K, C, pad = model.J, model.K, model.C, model.pad
    u = model.full_unknowns(u)
    _, _, out = model.evaluate(u, full=True)
    kappa, beq_ratio = model.unpack(u)
    clear = model.clearing_unknowns(u) if model.elastic else {}
    pr = model.prices(kappa, clear.get("labour"), clear.get("ebar"))
    prices = model.cohort_prices(pr)
    tax = np.empty((1, model.Tx))
    tax[:, :model.T] = out["income_tax"]
    tax[:, model.T:] = model.terminal.income_tax_rate
    bequest = beq_ratio * pr["wbar"]
    bequest[:, 0] = (1.0 + pr["r"][:, 0]) * model.initial.estate_per_capita
    entry = model.base_year - pad + np.arange(C)
    cp, valid = core.option_policy(params, policy, entry)  # [C·O, K, J], [C, K, O]
    O = valid.shape[-1]
    start_age = np.repeat(model.start, O)
    valid = valid & ((cp.retire_index.reshape(C, O, K).transpose(0, 2, 1)
                      >= model.start[:, None, None]) | (np.arange(O) == O // 2))
    rep = lambda x: np.repeat(x, O, axis=1)  # noqa: E731  [B, C, ...] -> [B, C·O, ...]
    pr_o = core.CohortPrices(*(rep(np.asarray(getattr(prices, f)))
                               if np.ndim(getattr(prices, f)) == 4 else getattr(prices, f)
                               for f in core.CohortPrices.__dataclass_fields__))
    pr_o = dataclasses.replace(pr_o, income_tax=rep(model.to_cohorts(model.pad_front(tax))),
                               bequest=rep(model.to_cohorts(model.pad_front(bequest))))
    start = core.CohortStart(age=start_age, assets=np.repeat(model.start_assets, O, axis=0),
                             ia_balance=np.repeat(model.start_ia, O, axis=0),
                             pension=np.repeat(model.start_pension, O, axis=0))
    flows = core.cohort_budget(params, policy, cp, model.eff, pr_o, start)
    if model.book is not None:  # the pension block's books (retirement by policy, O = 1):
        # full-time book flows, whose awards do not move with a household's own hours
        flows = model.book_household_flows(model.book_cells(pr["wbar"]), flows)
        flows["income"] = (flows["earnings"] + flows["benefits"] + flows["residents"]) \
            * (1.0 - pr_o.income_tax) - flows["contributions"] + pr_o.bequest
    z, a, pi = core.hours_margin(cp, pr_o, flows, start)
    if model.book is not None:
        a, pi = np.zeros_like(a), np.zeros_like(pi)
    tech = model.to_cohorts(model.tech[None, :model.idx.max() + 1])  # [1, C, 1, J]
    scale_u = rep(tech) ** (1.0 - params.crra)
    shape = (1, C * O, K, J)
    sel = valid.transpose(0, 2, 1).reshape(-1)  # (C, O, K) order
    flat = lambda x: np.broadcast_to(x, shape).reshape(-1, J)[sel]  # noqa: E731
    surv = np.repeat(model.surv[:1], O, axis=1)
    m_taste = core.taste(params, cp.work)
    n_sel = int(sel.sum())
    hh = HouseholdInputs(
        gross_return=flat(pr_o.gross_return), income=flat(flows["income"]),
        survival=flat(surv),
        borrowing_limit=flat(params.borrowing_limit * pr_o.average_wage),
        start=np.broadcast_to(start_age[:, None], (C * O, K)).reshape(-1)[sel],
        initial_assets=np.broadcast_to(start.assets, (C * O, K)).reshape(-1)[sel],
        discount_factor=params.discount_factor, crra=params.crra,
        taste=None if m_taste is None else flat(m_taste))
    lab = HoursInputs(
        hours_weight=flat(params.hours_disutility * cp.work * scale_u), net_earnings=flat(z),
        account_credit=flat(a), account_payout=flat(pi), frisch=params.frisch_elasticity,
        utility_shift=flat(-params.participation_disutility * cp.work * scale_u))
    hours0 = getattr(model, "hours_opt", None)  # warm start: the model's current hours
    if hours0 is not None and hours0.shape[2] == O:
        hours0 = hours0.transpose(0, 2, 1, 3).reshape(-1, J)[sel]
    else:
        hours0 = None
    sol = solve_households_hours(hh, lab, hours0=hours0)
    v = lifetime_utility_hours(hh, lab, sol)
    v_c = lifetime_utility(dataclasses.replace(hh, income=sol.income), sol)

    def unflat(x, fill=0.0):
        full = np.full((C * O * K,) + np.shape(x)[1:], fill, dtype=float)
        full[sel] = x
        return full.reshape((C, O, K) + np.shape(x)[1:])

    values = unflat(v, -np.inf).transpose(0, 2, 1)  # [C, K, O]
    start_idx = np.minimum(model.start, J - 1)
    scale = params.retirement_taste_scale * tech[0, :, 0, :][np.arange(C), start_idx] \
        ** (1.0 - params.crra)  # [C]
    scale_ck = np.broadcast_to(scale[:, None], (C, K))
    probs = core.choice_probabilities(values, scale_ck, valid)
    ev = core.expected_value(values, scale_ck, valid)
    cons_u = (probs * unflat(v_c).transpose(0, 2, 1)).sum(-1)
    leisure_u = (probs * unflat(v - v_c).transpose(0, 2, 1)).sum(-1)
    hours = unflat(sol.hours).transpose(0, 2, 1, 3)  # [C, K, O, J]
    work = cp.work.reshape(C, O, K, J).transpose(0, 2, 1, 3)
    employment = (probs[..., None] * work).sum(2)
    hours_mean = np.divide((probs[..., None] * work * hours).sum(2), employment,
                           out=np.zeros_like(employment), where=employment > 0)
    ret_age = cp.statutory_age.reshape(C, O, K).transpose(0, 2, 1)
    c0 = unflat(sol.consumption[np.arange(n_sel), hh.start]).transpose(0, 2, 1)
    m0 = 1.0 if m_taste is None else unflat(
        np.asarray(hh.taste)[np.arange(n_sel), hh.start]).transpose(0, 2, 1)
    mu0 = (probs * np.where(valid, np.where(c0 > 0, c0, 1.0) ** -params.crra
                            * m0 ** (1.0 - params.crra), 0.0)).sum(-1)
    wbar0 = pr["wbar"][0, np.maximum(np.arange(C) - pad, 0)]
    kt = unflat(np.abs(kuhn_tucker_residuals(hh, lab, sol)).max(axis=1)).max(axis=1)
    eu = unflat(np.abs(euler_errors_hours(hh, sol)).max(axis=1)).max(axis=1)
    birth = entry - params.first_age - 1
    by = lambda x: x.reshape((C, 2, 3) + x.shape[2:])  # noqa: E731
    ages = params.first_age + np.arange(J)
    dims = ("birth_year", "group", "category")
    ds = xr.Dataset(
        {
            "expected_value": (dims, by(ev), {"units": "utils", "long_name":
                                              "expected lifetime utility (log-sum)"}),
            "consumption_utility": (dims, by(cons_u), {"units": "utils"}),
            "leisure_utility": (dims, by(leisure_u), {"units": "utils", "long_name":
                                "expected disutility of work (hours and participation)"}),
            "probability": (dims + ("option",), by(probs), {"units": "1"}),
            "retirement_age": (dims + ("option",), by(ret_age), {"units": "years"}),
            "mean_retirement_age": (dims, by((probs * ret_age).sum(-1)), {"units": "years"}),
            "option_value": (dims + ("option",), by(values), {"units": "utils"}),
            "option_consumption_utility": (dims + ("option",),
                                           by(unflat(v_c, np.nan).transpose(0, 2, 1)),
                                           {"units": "utils"}),
            "valid": (dims + ("option",), by(valid)),
            "employment": (dims + ("age",), by(employment), {"units": "share of the year"}),
            "hours": (dims + ("age",), by(hours_mean), {"units": "share of full time"}),
            "option_hours": (dims + ("option", "age"), by(hours),
                             {"units": "share of full time", "long_name":
                              "hours by retirement option (0 where not working or invalid)"}),
            "kuhn_tucker_residual": (dims, by(kt), {"units": "1"}),
            "euler_residual": (dims, by(eu), {"units": "1"}),
            "marginal_utility_start": (dims, by(mu0), {"units": "utils per model unit"}),
            "average_wage_start": (("birth_year",), wbar0, {"units": "model units per year"}),
            "taste_scale": (("birth_year",), scale, {"units": "utils", "long_name":
                            "scale of the retirement taste shocks, s0 A^(1-sigma)"}),
            "first_age_in_plan": (("birth_year",), params.first_age + model.start,
                                  {"units": "years"}),
        },
        coords={"birth_year": birth, "group": list(core.GROUPS), "category": list(CATEGORIES),
                "option": np.arange(O), "age": ages},
    )
    ds.attrs.update(taste_scale=params.retirement_taste_scale)
    return ds


def price_of_delay(model, u: np.ndarray, from_year: int, months: float = 1.0,
                   policy: Policy | None = None,
                   categories: tuple[str, ...] = CATEGORIES) -> xr.Dataset:
    """Welfare cost of ``months`` more statutory age, per month, by cohort and kind, at the
    prices of a solved transition (partial equilibrium).

    For each category the delay applies to that category's cohorts reaching the statutory
    age from ``from_year`` on (:func:`delay_policy`); the cost to a cohort and kind is
    ``−ΔV / months`` in utils, ``−ΔV / (months · u'(c_start))`` in model money units of its
    plan's first year (``cost_money``; × ``yuan_per_unit`` for yuan:
    ``cost_cny``), and that over the average covered wage of the year
    (``cost_wage_share``: wage-indexed). Leisure and consumption parts are split
    (``leisure_cost_utils``, the fall in the leisure part). Returns ``[category (of the
    delay), birth_year, group, category_of_kind]`` arrays with the last named ``kind_category``.
    """
    base = cohort_choices(model, u, policy)
    policy = model.policy if policy is None else policy
    out = []
    for cat in categories:
        alt = cohort_choices(model, u, delay_policy(policy, cat, months, from_year))
        dv = (alt["expected_value"] - base["expected_value"]) / months
        dl = (alt["leisure_utility"] - base["leisure_utility"]) / months
        money = -dv / base["marginal_utility_start"]
        out.append(xr.Dataset({
            "cost_utils": -dv, "leisure_cost_utils": -dl, "cost_money": money,
            "cost_cny": money * model.params.yuan_per_unit,
            "cost_wage_share": money / base["average_wage_start"],
        }))
    ds = xr.concat(out, dim=xr.DataArray(list(categories), dims="delayed_category"))
    ds = ds.rename(category="kind_category")
    for name, units in (("cost_utils", "utils per month"),
                        ("leisure_cost_utils", "utils per month"),
                        ("cost_money", "model money units per month, plan's first year"),
                        ("cost_cny", "yuan per month of delay, plan's first year prices"),
                        ("cost_wage_share", "years of the average covered wage per month")):
        ds[name].attrs.update(units=units, long_name=f"welfare cost of delay ({name})")
    ds.attrs.update(from_year=int(from_year), months=float(months),
                    method="fixed prices (partial equilibrium), finite difference")
    return ds


def delay_price_by_year(delay: xr.Dataset, transition: xr.Dataset, policy: Policy
                        ) -> xr.DataArray:
    """The price of delay as the optimizer uses it: yuan per person-month of delay for the
    employees of each category reaching the statutory age in each year, ``[year, category]``.

    For year ``t`` and category ``c`` the cohort is the one born ``b = t − R_c(b)`` (mean
    statutory age of the regime, :meth:`Policy.statutory_age_months`, rounded down to the
    year it is reached, as :func:`models.pension.reach_year`); its cost
    ``cost_wage_share`` (years of the average covered wage per month, from
    :func:`price_of_delay`) times the year's average covered wage ``average_wage_cny[t]``
    (wage-indexed yuan of year ``t``). Years whose cohort is outside ``delay`` (or whose
    category ``delay`` does not hold) are NaN.
    """
    years = transition["year"].values
    births = delay["birth_year"].values
    stat = policy.statutory_age_months(births).mean(axis=-1) / 12.0  # [B, 3]
    reach = np.floor(births[:, None] + 0.5 + stat + 1e-9).astype(int)
    wage = transition["average_wage_cny"].values
    out = np.full((years.size, len(CATEGORIES)), np.nan)
    for j, cat in enumerate(CATEGORIES):
        if cat not in delay["delayed_category"].values:
            continue
        share = delay["cost_wage_share"].sel(delayed_category=cat, kind_category=cat,
                                             group="employee").values
        for i, t in enumerate(years):
            hit = np.nonzero(reach[:, j] == t)[0]
            if hit.size:
                out[i, j] = float(np.mean(share[hit])) * wage[i]
    da = xr.DataArray(out, dims=("year", "category"),
                      coords={"year": years, "category": list(CATEGORIES)},
                      name="delay_price_cny_per_person_month")
    da.attrs.update(units="yuan per person-month of delay (wage-indexed, year t)",
                    long_name="welfare cost of one more month of statutory age to the "
                              "employees reaching it in the year, from the economy")
    return da
