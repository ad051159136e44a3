r"""Blocks shared by the steady state and the transition: household types, policy arrays per
cohort, firms, pensions and incomes along each cohort's life.

Household *kinds* ``k = 0..5``: group (``employee`` = covered by the employee scheme,
``resident`` = residents' scheme) × retirement-age category (``men``, ``women_cadre``,
``women_worker``); men are male, the two women's categories female. Categories only matter for
employees (statutory ages); residents of both women's categories are identical.

Cohort arrays are ``[P, C, K, J]``: Monte Carlo path (or Jacobian perturbation) ``P``,
cohort ``C``, kind ``K``, economic age index ``J`` (``age = first_age + i``, age on 1 January).

Equations (a cohort of kind ``k``; ``t`` the calendar year of age ``i``)
------------------------------------------------------------------------
* Labour: works the share ``ℓ_i`` of year ``t`` before its statutory age (months, birthdays
  spread over the year as in :func:`models.pension.rules.retired_share`) and supplies
  ``ℓ_i e_i θ_k`` efficiency units (``e`` age profile, ``θ`` = 1 employees,
  ``uncovered_productivity`` residents). Residents stop at ``uncovered_exit_age``.
* Firms (Cobb–Douglas, labour-augmenting technology ``A_t``): ``Y = Z K^α (A L)^{1−α}``;
  with ``κ = K/(A L)``: ``r = α Z κ^{α−1} − δ``, ``w = (1−α) Z κ^α A`` per efficiency unit.
* Average covered wage ``W̄_t = w_t ē_t``, ``ē_t`` the mean efficiency of covered workers
  (full-time equivalents).
* Contributions (employees): ``(τ_pool + τ_IA) ρ χ · ℓ w e θ`` (``ρ`` contribution index,
  ``χ`` compliance), the individual account receiving ``τ_IA ρ χ ℓ w e θ`` credited at the
  growth of ``W̄`` (as :mod:`models.pension.accounts`).
* Pension at retirement (Guofa [2005] No. 38, :func:`models.pension.rules.basic_pension`):
  ``P_new = (1+ρ)/2 · accrual · years · W̄_{t_R−1} + 12 · IA(t_R)/divisor(R̄)``, ``years =
  max(density (R̄ − entry age), minimum years in t_R)``, ``t_R`` the year the cohort reaches
  ``R̄`` (its mean statutory age); in payment indexed by ``1 + λ g_W``; received in proportion to
  the retired share of the year.
* Residents' pension from the eligibility age: ``ratio_t · W̄_t`` (``ratio`` falls with
  ``λ_res`` < 1 until ``residents_indexation_until``, then constant; with the equity reform
  it moves to a share of the average employee pension, see :func:`residents_ratio`).
* Income: ``y = (ℓ w e θ + pensions)(1 − τ) − contributions + bequest``, ``τ`` the
  government's proportional tax on labour and pension income.
* With ``params.pension_book`` set (:mod:`models.pension.book`), the transition replaces the
  employee kinds' contributions and pensions of the rules above by the pension block's cell
  flows per person of the kind (one pension system with the accounts); the rules above then
  serve the steady states and the years after the transition's horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.config import CATEGORIES
from models.economy.parameters import EconomyParameters
from models.economy.policy import Policy
from models.pension import rules

GROUPS: tuple[str, ...] = ("employee", "resident")
N_KINDS = len(GROUPS) * len(CATEGORIES)
KIND_GROUP = np.repeat(np.arange(len(GROUPS)), len(CATEGORIES))
KIND_CATEGORY = np.tile(np.arange(len(CATEGORIES)), len(GROUPS))
KIND_SEX = np.array([1 if CATEGORIES[c] == "men" else 0 for c in KIND_CATEGORY])  # 0 f, 1 m
COVERED = KIND_GROUP == 0


def kind_weights(params: EconomyParameters, birth_years) -> np.ndarray:
    """Share of a sex's cohort in each kind, ``[..., K]`` (sums to 1 per sex)."""
    b = np.asarray(birth_years, dtype=float)
    cov_m = params.covered_share(b)
    cov_f = np.clip(cov_m * params.coverage_female_relative, 0.0, 1.0)
    cadre = params.women_cadre_share
    cat_w = np.array([1.0, cadre, 1.0 - cadre])[KIND_CATEGORY]
    cov = np.where(KIND_SEX == 1, cov_m[..., None], cov_f[..., None])
    return cat_w * np.where(COVERED, cov, 1.0 - cov)


def _retired_share(age_years: np.ndarray, age_months: np.ndarray, weights: np.ndarray
                   ) -> np.ndarray:
    """Share of the year (persons aged ``age`` on 1 January) spent past a statutory age.

    ``age_months[..., 12]`` by birth month January..December; months retired
    ``clip(12 (age + 1) + 13 − m − R_m, 0, 12)`` (the convention of
    :func:`models.pension.rules.retired_share`), averaged with the birth-month ``weights``.
    Returns ``[..., J]`` for ``age_years[J]``.
    """
    m = np.arange(1, 13)
    months = np.clip(12.0 * (age_years[:, None] + 1) + 13 - m - age_months[..., None, :], 0, 12)
    return (months * weights).sum(axis=-1) / 12.0


@dataclass(frozen=True)
class CohortPolicy:
    """Policy arrays of ``C`` cohorts: shares ``[C, K, J]``, retirement data ``[C, K]``."""

    work: np.ndarray  # ℓ: share of the year worked
    retired: np.ndarray  # employees: share of the year drawing the employee pension
    residents: np.ndarray  # residents: share of the year eligible for the residents' pension
    retire_index: np.ndarray  # int: age index of the year t_R the cohort retires
    years_credited: np.ndarray  # contribution years in the benefit formula
    divisor: np.ndarray  # individual-account divisor (months)
    statutory_age: np.ndarray  # mean statutory age R̄ (years)


def cohort_policy(params: EconomyParameters, policy: Policy, entry_years,
                  retirement_months: np.ndarray | None = None) -> CohortPolicy:
    """Policy arrays for cohorts aged ``first_age`` on 1 January of ``entry_years``.

    Birth year ``b = entry − first_age − 1`` (the convention of the rules module).
    ``retirement_months[C, 3, 12]`` replaces the statutory ages (months, by category and
    birth month) by the ages at which the cohort retires (a choice within the window).
    """
    entry = np.asarray(entry_years, dtype=np.int64)
    birth = entry - params.first_age - 1
    J = params.n_ages
    ages = params.first_age + np.arange(J, dtype=float)
    w = np.asarray(params.birth_month_weights, dtype=float)
    stat = policy.statutory_age_months(birth) if retirement_months is None \
        else np.asarray(retirement_months, dtype=float)  # [C, 3, 12]
    retired_cat = _retired_share(ages, stat, w)  # [C, 3, J]
    exit_months = np.full((entry.size, 12), 12.0 * params.uncovered_exit_age)
    exit_share = _retired_share(ages, exit_months, w)  # [C, J]
    elig_months = np.full((entry.size, 12), 12.0 * params.residents_eligibility_age)
    elig_share = _retired_share(ages, elig_months, w)

    retired = np.zeros((entry.size, N_KINDS, J))
    residents = np.zeros_like(retired)
    work = np.zeros_like(retired)
    for k in range(N_KINDS):
        if COVERED[k]:
            retired[:, k] = retired_cat[:, KIND_CATEGORY[k]]
            work[:, k] = 1.0 - retired[:, k]
        else:
            residents[:, k] = elig_share
            work[:, k] = 1.0 - exit_share

    mean_month = (w * (12.0 * birth[:, None, None] + np.arange(12) + stat)).sum(-1)  # [C, 3]
    year_r = np.floor(mean_month / 12.0 + 1e-9).astype(np.int64)
    r_bar = (w * stat).sum(-1) / 12.0
    entry_age = np.asarray(params.entry_age)[None, :]
    density_years = params.contribution_density * np.maximum(r_bar - entry_age, 0.0)
    y_min = policy.minimum_contribution_years(year_r)
    credited = np.maximum(density_years, y_min)
    table_a = np.asarray(params.divisor_ages)
    table_m = np.asarray(params.divisor_months)
    divisor = np.interp(np.clip(r_bar, table_a[0], table_a[-1]), table_a, table_m)
    idx = np.clip(year_r - entry[:, None], 1, J - 1)
    cat_to_kind = lambda x: x[:, KIND_CATEGORY] * COVERED  # noqa: E731
    return CohortPolicy(
        work=work, retired=retired, residents=residents,
        retire_index=np.where(COVERED, idx[:, KIND_CATEGORY], J - 1).astype(np.int64),
        years_credited=cat_to_kind(credited),
        divisor=np.where(COVERED, divisor[:, KIND_CATEGORY], 1.0),
        statutory_age=np.where(COVERED, r_bar[:, KIND_CATEGORY], params.uncovered_exit_age),
    )


#: first month (index year*12 + month-1) of the 2024 law's flexible window (Measures Art. 3,
#: in force 1 January 2025)
LAW_IN_FORCE_MONTH = 2025 * 12
FLEXIBLE_MONTHS = 36  # three years before (not below the original age) and after: Art. 3


def retirement_options(params: EconomyParameters, policy: Policy, entry_years
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Retirement ages a cohort may choose, ``months[C, 3, O, 12]`` (category, option, birth
    month) and ``valid[C, 3, O]``.

    Rule (2024 Measures, Art. 3, flexible retirement): from the original age (60/55/50, never
    earlier) or three years before the statutory age, whichever is later, to three years after
    it, for retirements from January 2025 on; before the law (``pre_2024``) and for
    retirements before 2025, the statutory age only (early retirement for arduous jobs or
    ill health is not modelled). The window is the same as
    :func:`models.pension.rules.flexible_retirement_window_months` (which also takes it as
    ``[original, original + 36]`` before the law).

    Options (a modelling choice): ``O = params.retirement_options`` ages at fixed offsets
    from the statutory age, ``36 · (2o/(O−1) − 1)`` months (O = 7: −3, −2, …, +3 years), so
    the distribution of retirement ages moves with the statutory age; an offset below the
    earliest age is moved up to it if it is the last one below (that option is then "as
    early as allowed"), and invalid otherwise. With ``retirement_choice`` off, ``O = 1``
    (the statutory age).
    """
    entry = np.asarray(entry_years, dtype=np.int64)
    birth = entry - params.first_age - 1
    stat = policy.statutory_age_months(birth)  # [C, 3, 12]
    if not params.retirement_choice:
        return stat[:, :, None, :], np.ones(stat.shape[:2] + (1,), dtype=bool)
    n_opt = params.retirement_options
    table = policy.retirement_rules or rules.LAW_2024_RETIREMENT_AGE
    original = np.array([table[c].original_age_months for c in CATEGORIES], dtype=float)
    month_of_birth = 12.0 * birth[:, None, None] + np.arange(12)[None, None, :]
    in_force = (policy.retirement_regime == "law_2024") \
        & (month_of_birth + stat >= LAW_IN_FORCE_MONTH)
    earliest = np.where(in_force, np.maximum(original[None, :, None], stat - FLEXIBLE_MONTHS),
                        stat)
    latest = np.where(in_force, stat + FLEXIBLE_MONTHS, stat)
    offsets = FLEXIBLE_MONTHS * np.linspace(-1.0, 1.0, n_opt) if n_opt > 1 else np.zeros(1)
    step = offsets[1] - offsets[0] if n_opt > 1 else 1.0
    raw = stat[:, :, None, :] + offsets[None, None, :, None]
    months = np.clip(raw, earliest[:, :, None, :], latest[:, :, None, :])
    mean = lambda x: x.mean(axis=-1)  # noqa: E731  (over birth months)
    valid = (mean(raw + step) > mean(earliest)[:, :, None] + 1e-9) \
        & (mean(raw) <= mean(latest)[:, :, None] + 1e-9)
    valid &= in_force.all(axis=-1)[..., None] | (offsets == 0)[None, None, :]
    return months, valid


def option_policy(params: EconomyParameters, policy: Policy, entry_years
                  ) -> tuple[CohortPolicy, np.ndarray]:
    """:func:`cohort_policy` for every retirement option: arrays ``[C·O, K, J]`` (cohort
    major, option minor) and ``valid[C, K, O]`` (residents: the statutory option ``O // 2``
    only; they have no claiming choice in the employee scheme)."""
    entry = np.asarray(entry_years, dtype=np.int64)
    months, valid = retirement_options(params, policy, entry)
    C, _, O, _ = months.shape
    flat = months.transpose(0, 2, 1, 3).reshape(C * O, len(CATEGORIES), 12)
    cp = cohort_policy(params, policy, np.repeat(entry, O), retirement_months=flat)
    valid_k = valid[:, KIND_CATEGORY, :] & np.where(COVERED[:, None], True,
                                                     np.arange(O)[None, :] == O // 2)
    return cp, valid_k


def taste(params: EconomyParameters, work: np.ndarray) -> np.ndarray | None:
    """Taste shifter ``1 − ψ ℓ`` of the household kernel (None when ``ψ = 0``)."""
    if params.work_disutility == 0.0:
        return None
    return 1.0 - params.work_disutility * work


def efficiency_by_kind(params: EconomyParameters) -> np.ndarray:
    """``e_i θ_k`` as ``[K, J]``."""
    theta = np.where(COVERED, 1.0, params.uncovered_productivity)
    return theta[:, None] * params.efficiency()[None, :]


def firm_prices(params: EconomyParameters, kappa):
    """Interest rate and wage per efficiency unit (detrended by ``A``) from ``κ = K/(A L)``."""
    kappa = np.asarray(kappa, dtype=float)
    alpha, z = params.capital_share, params.tfp
    r = alpha * z * kappa ** (alpha - 1.0) - params.depreciation
    w = (1.0 - alpha) * z * kappa ** alpha
    return r, w


def kappa_from_rate(params: EconomyParameters, r) -> np.ndarray:
    """``κ`` at which the marginal product of capital net of depreciation equals ``r``."""
    alpha, z = params.capital_share, params.tfp
    return (alpha * z / (np.asarray(r, dtype=float) + params.depreciation)) ** (1.0 / (1.0 - alpha))


def residents_ratio(params: EconomyParameters, base_year: int, years) -> np.ndarray:
    """Residents' pension / average covered wage in each year.

    Status quo: the base-year ratio times ``Π (1 + λ_res g_u)/(1 + g_u)`` over ``u = base+1 ..
    min(t, until)`` (``g`` technology growth). With the equity reform
    (``params.residents_target_share`` = ``s``), :func:`models.pension.rules.
    residents_reformed_pension` applied to the ratios: ``ratio_sq(t) + λ(t) (s · e(t) −
    ratio_sq(t))``, ``e`` the average employee pension / average wage
    (``params.employee_pension_ratio``, constant beyond its years) and ``λ`` the linear
    phase-in from the reform year.
    """
    years = np.asarray(years, dtype=np.int64)
    lo, hi = base_year + 1, max(params.residents_indexation_until, base_year + 1)
    span = np.arange(lo, hi + 1)
    g = params.technology_growth_rate(span)
    lam = params.residents_indexation_wage_share
    logs = np.concatenate([[0.0], np.cumsum(np.log1p(lam * g) - np.log1p(g))])
    pos = np.clip(years - base_year, 0, span.size)
    status_quo = params.residents_pension_ratio * np.exp(logs[pos])
    if params.residents_target_share is None:
        return status_quo
    known = np.array(params.employee_pension_ratio, dtype=float)
    employee = np.interp(years, known[:, 0], known[:, 1])
    return rules.residents_reformed_pension(status_quo, employee, years,
                                      params.residents_target_share,
                                      params.residents_reform_year,
                                      params.residents_phase_in_years)


@dataclass(frozen=True)
class CohortPrices:
    """Prices along cohorts' lives, broadcastable to ``[P, C, K, J]``."""

    wage: np.ndarray  # per efficiency unit (level)
    average_wage: np.ndarray  # W̄ (level)
    average_wage_before: np.ndarray  # W̄ of the previous calendar year (level)
    index: np.ndarray  # cumulative indexation factor Π (1 + λ g_W) (any normalisation)
    pooled_rate: np.ndarray
    income_tax: np.ndarray  # on labour and pension income
    bequest: np.ndarray  # per capita (level)
    residents_ratio: np.ndarray
    gross_return: np.ndarray  # 1 + r


@dataclass(frozen=True)
class CohortStart:
    """Where each cohort's plan starts: age index ``[C]`` and, for cohorts already alive,
    their assets, individual-account balance and pension in force ``[P or 1, C, K]``."""

    age: np.ndarray
    assets: np.ndarray
    ia_balance: np.ndarray
    pension: np.ndarray


def _at(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``x[..., idx]`` along the age axis with ``idx`` broadcast over the leading axes."""
    x = np.asarray(x)
    shape = np.broadcast_shapes(x.shape[:-1], idx.shape)
    xb = np.broadcast_to(x, shape + x.shape[-1:])
    ib = np.broadcast_to(idx, shape)
    return np.take_along_axis(xb, ib[..., None], axis=-1)[..., 0]


def cohort_budget(params: EconomyParameters, policy: Policy, cp: CohortPolicy,
                  eff: np.ndarray, prices: CohortPrices, start: CohortStart,
                  covered: np.ndarray | None = None) -> dict:
    """Per-capita flows along each cohort's life (levels), ``[P, C, K, J]``.

    ``covered[C, K]`` (default :data:`COVERED` by kind) says which households are in the
    employee scheme: with it any ``C × K`` selection of households is one call (e.g. the valid
    retirement options only, one per "cohort", ``K = 1``).

    Returns ``earnings`` (gross labour income), ``contributions``, ``benefits`` (employee
    pension received), ``residents`` (residents' pension received), ``income`` (the household's
    ``y``), ``pension_in_force`` (entitlement) and ``new_pension`` ``[P, C, K]``.
    """
    J = params.n_ages
    ages = np.arange(J)
    covered = COVERED[:, None] if covered is None else covered[..., None]
    earn = cp.work * eff * prices.wage
    rate = (prices.pooled_rate + policy.individual_account_rate) * params.contribution_index \
        * params.compliance
    contributions = np.where(covered, rate * earn, 0.0)
    ia_flow = np.where(covered, policy.individual_account_rate * params.contribution_index
                       * params.compliance * earn, 0.0)

    start_age = start.age[:, None, None]  # [C,1,1]
    alive = ages >= start_age
    wbar = np.broadcast_to(prices.average_wage, earn.shape)
    credit = np.cumsum(np.where(alive, ia_flow / wbar, 0.0), axis=-1)
    i_r = cp.retire_index  # [C, K]
    start_ck = np.broadcast_to(start.age[:, None], i_r.shape)
    wbar_r = _at(wbar, i_r)
    balance = wbar_r * (_at(credit, i_r) + start.ia_balance / _at(wbar, start_ck))
    wbar_before_r = _at(np.broadcast_to(prices.average_wage_before, earn.shape), i_r)
    basic = (1.0 + params.contribution_index) / 2.0 * params.accrual_rate \
        * cp.years_credited * wbar_before_r
    new_pension = basic + 12.0 * balance / cp.divisor
    retired_before = i_r < start_ck
    ref = np.where(retired_before, start_ck, i_r)
    p_ref = np.where(retired_before, start.pension, new_pension)
    index = np.broadcast_to(prices.index, earn.shape)
    in_force = (p_ref / _at(index, ref))[..., None] * index
    benefits = np.where(covered, cp.retired * in_force, 0.0)
    residents = np.where(covered, 0.0, cp.residents * prices.residents_ratio * wbar)
    income = (earn + benefits + residents) * (1.0 - prices.income_tax) - contributions \
        + prices.bequest
    return {
        "earnings": earn, "contributions": contributions, "benefits": benefits,
        "residents": residents, "income": income, "pension_in_force": in_force,
        "new_pension": new_pension, "ia_flow": ia_flow,
    }


def hours_margin(cp: CohortPolicy, prices: CohortPrices, flows: dict, start: CohortStart,
                 covered: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hours' terms of :class:`models.economy.household.HoursInputs` from full-time flows
    (:func:`cohort_budget` at ``h = 1``, ``covered`` as there), each ``[P, C, K, J]``:

    * ``z = earnings (1 − τ) − contributions``: net income per unit of hours that year;
    * ``a = IA contribution / W̄``: individual-account credit per unit of hours, from the
      plan's start to the retirement year, for those who retire within the plan;
    * ``π_k = (1 − τ_k) · retired_k · 12 W̄_{t_R} / divisor · index_k / index_{t_R}``: net
      pension paid at ``k`` per unit of credit (Guofa [2005] No. 38: account pension =
      balance / divisor; indexed in payment).
    """
    income = flows["income"]
    shape = income.shape
    J = shape[-1]
    ages = np.arange(J)
    tax = np.broadcast_to(prices.income_tax, shape)
    z = flows["earnings"] * (1.0 - tax) - flows["contributions"]
    wbar = np.broadcast_to(prices.average_wage, shape)
    i_r = cp.retire_index  # [C, K]
    start_ck = np.broadcast_to(start.age[:, None], i_r.shape)
    new = (i_r >= start_ck) & (COVERED[None, :] if covered is None else covered)
    credit_years = (ages <= i_r[..., None]) & (ages >= start.age[:, None, None]) & new[..., None]
    a = np.where(credit_years, flows["ia_flow"] / wbar, 0.0)
    index = np.broadcast_to(prices.index, shape)
    pay = _at(wbar, i_r) * 12.0 / cp.divisor / _at(index, i_r)
    pi = np.where(new[..., None], pay[..., None] * index * cp.retired * (1.0 - tax), 0.0)
    return z, a, pi


def budget_at_hours(cp: CohortPolicy, prices: CohortPrices, flows: dict, start: CohortStart,
                    hours: np.ndarray, covered: np.ndarray | None = None) -> dict:
    """:func:`cohort_budget` at hours ``h`` ``[P, C, K, J]`` (the share of the full-time year
    worked, scaling ``ℓ``) from its full-time ``flows`` (``h = 1``), without solving it again:

    * ``earnings``, ``contributions`` and ``ia_flow`` scale with ``h``; ``residents``' pension
      does not depend on hours;
    * for those who retire within the plan (covered, ``t_R`` not before the start), the
      account balance at ``t_R`` changes by ``W̄_{t_R} Δ``, ``Δ = Σ_{start ≤ i ≤ t_R}
      (h_i − 1) IA_i / W̄_i`` (the credit of :func:`hours_margin`), so the new pension by
      ``12 W̄_{t_R} Δ / divisor`` (Guofa [2005] No. 38) and the pension in force and received by
      that amount indexed, ``· index_k / index_{t_R}`` (times the retired share).

    Same keys as :func:`cohort_budget` except ``income`` (its tax and bequests are the
    caller's); equal to it at ``cp.work · h`` up to rounding (``covered`` as there)."""
    h = np.asarray(hours, dtype=float)
    earn = flows["earnings"] * h
    shape = earn.shape
    J = shape[-1]
    ages = np.arange(J)
    wbar = np.broadcast_to(prices.average_wage, shape)
    i_r = cp.retire_index  # [C, K]
    start_ck = np.broadcast_to(start.age[:, None], i_r.shape)
    cov = COVERED[None, :] if covered is None else covered
    new = (i_r >= start_ck) & cov
    credit_years = (ages <= i_r[..., None]) & (ages >= start.age[:, None, None]) & new[..., None]
    ia_full = flows["ia_flow"]
    delta = np.where(credit_years, (h - 1.0) * ia_full / wbar, 0.0).sum(axis=-1)  # [P, C, K]
    extra = 12.0 * _at(wbar, i_r) * delta / cp.divisor  # the new pension's change
    index = np.broadcast_to(prices.index, shape)
    in_force = flows["pension_in_force"] + np.where(
        new[..., None], (extra / _at(index, i_r))[..., None] * index, 0.0)
    return {
        "earnings": earn, "contributions": flows["contributions"] * h,
        "benefits": np.where(cov[..., None], cp.retired * in_force, 0.0),
        "residents": np.broadcast_to(flows["residents"], shape),
        "pension_in_force": in_force, "new_pension": flows["new_pension"] + extra,
        "ia_flow": ia_full * h,
    }


def choice_probabilities(values: np.ndarray, scale, valid: np.ndarray) -> np.ndarray:
    """Logit choice probabilities over the last axis, ``P_o = exp(V_o/s) / Σ_valid exp(V/s)``
    (extreme-value type I taste shocks of scale ``s``; McFadden 1973); 0 for invalid options."""
    x = np.where(valid, np.asarray(values) / np.asarray(scale)[..., None], -np.inf)
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def expected_value(values: np.ndarray, scale, valid: np.ndarray) -> np.ndarray:
    """``s log Σ_valid exp(V_o/s)``: expected maximum of ``V_o + ε_o`` (Gumbel shocks, location
    chosen so that one option's value is itself); its gradient is :func:`choice_probabilities`."""
    s = np.asarray(scale)
    x = np.where(valid, np.asarray(values) / s[..., None], -np.inf)
    top = x.max(axis=-1)
    return s * (top + np.log(np.exp(x - top[..., None]).sum(axis=-1)))
