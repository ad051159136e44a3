r"""Transition path from the base-year state to the final balanced-growth steady state.

Timing and accounting (year ``t``; ``N`` persons by age and kind on 1 January)
-----------------------------------------------------------------------------
* Household wealth on 1 January ``A_t = Σ N_{t−1} a'_{t−1}``: everything chosen at the end of
  ``t−1`` by all of that year's households, including those who die; capital
  ``K_t = A_t + B_t`` (closed economy; ``B`` the employee fund) or net foreign assets
  ``A_t + B_t − K_t`` (small open economy, ``r_t = r*``).
* **Accidental bequests** (documented rule): each cohort member alive on 1 January of ``t+1``
  holds the per-capita assets ``a'_t`` its cohort chose; the rest of the cohort's wealth --
  the estates of the dead, net of the assets given to net immigrants (emigrants leave theirs) --
  forms a pool ``(1 + r_{t+1}) Σ (N_{t,i} − N_{t+1,i+1}) a'_{t,i}`` paid out in ``t+1`` as an
  equal lump sum to every person aged ``first_age..last_age``. Households foresee it.
* **Government** (documented rule): the employee fund holds ``fund_months`` months of the
  year's pension expenditure on 1 January (``B_t = m/12 · Ben_t``) and earns ``r_t``; the
  fiscal subsidy ``Sub_t = B_{t+1} − (1+r_t) B_t − Contrib_t + Ben_t`` (negative when the
  scheme runs a surplus) closes the fund; government consumption ``g_y Y_t``, the residents'
  pensions and the subsidy are financed by a proportional tax on labour and pension income
  (everything but capital income, so it is known from prices alone), set every year so that
  the budget balances: ``τ_t (w_t L_t + Ben_t + Res_t) = g_y Y_t + Res_t + Sub_t``. With
  inelastic labour the tax does not distort; it decides who pays (workers and pensioners
  alike, as a consumption tax would, but without taxing saving).
* Beyond the horizon ``T`` prices, the tax and the bequest ratio are those of the terminal
  steady state; the population is extended with the last year's survival and entrant growth.

Solution
--------
Unknowns ``κ_t = K_t/(A_t L_t)`` (closed economy) and the bequest ratio ``b_t/W̄_t`` for
``t = 1..T−1`` (year 0 is the initial state). Targets: asset market
``(A_t + B_t − K_t)/Y_t = 0`` and bequests ``(b_t − pool_t/N_t)/W̄_t = 0``. Quasi-Newton
method in sequence space: the Jacobian of the stacked targets with respect to the stacked
unknowns is computed by forward differences of the whole model with the households'
borrowing-limit segments held fixed (each column is then the exact local derivative,
evaluated in ``O(J)`` per household); by default every column of the first ten years and
every tenth year's column after that are computed and the others filled by shifting along
the diagonal (the sequence-space Jacobian of a slowly changing economy is nearly Toeplitz).
Its inverse is then improved by Broyden's rank-one updates after every step, with a
backtracking line search; the residual history is kept and, on non-convergence, the error
names the equation and the year with the largest residual.

Elastic labour and the retirement choice (issue 14): labour ``L_t``, the covered workers' mean
efficiency ``ē_t`` (hours included; ``W̄_t = w_t ē_t``) and the income tax ``τ_t`` for
``t = 0..T−1`` join the unknowns, with the targets labour supplied, ``ē`` supplied and the
budget's tax at the households' hours and retirement probabilities, which every evaluation
solves at its prices (exactly, to a tolerance that tightens with the residual: inexact
Newton). The first Jacobian is by default the fake-news Jacobian
(:mod:`models.economy.jacobian`: the households' aggregates' response to the price paths,
hours, wealth effects and retirement options included, from one perturbation per price in
one reference year (``max(J − 1, T − J)``, away from the jump to the terminal steady
state's prices at the horizon), shifted along cohorts and weighted by the actual population; the
aggregate blocks by the chain rule), where it applies (closed economy, no pension book,
horizon of at least ``J`` years); otherwise, and with ``jacobian="finite_differences"``,
finite differences that hold households' marginal utilities fixed and let their hours and
option probabilities respond to first order (Frisch hours, the envelope theorem for the
options' values), labour's columns (which move only their own year's residuals) in one
evaluation. Broyden's updates learn the rest. This replaces the earlier outer fixed point in
hours and probabilities around the Newton solve (same equilibrium).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import xarray as xr

from models.config import CATEGORIES
from models.demography.projection import one_year_survival
from models.economy import core
from models.economy import jacobian as fake_news
from models.economy.household import (
    HouseholdInputs,
    HoursInputs,
    Segments,
    income_at_hours,
    marginal_values,
    discounted_survival_sum,
    euler_errors,
    evaluate_segments,
    lifetime_utility,
    lifetime_utility_hours,
    solve_households,
    solve_households_hours,
)
from models.economy.parameters import EconomyParameters
from models.economy.policy import Policy
from models.economy.steady_state import (
    DemographySteadyState,
    SteadyState,
    solve_steady_state,
)
from models.pension.book import book_flows, per_kind_person

__all__ = ["InitialState", "TransitionConvergenceError", "initial_state", "solve_transition",
           "terminal_demography"]


#: households' hours tolerance in the elastic Newton: 1e-3 of the largest residual, between
#: 1e-13 and this (inexact Newton; measured: 1e-4 saves about 7 % against 1e-7, same steps)
HOURS_TOL_MAX = 1e-4
#: years whose Jacobian columns are all computed before the stride takes over (elastic
#: economy: 5 with stride 50 took 31 steps against 28 with 10 and 25, at 25 % less CPU)
FIRST_EXACT_ELASTIC = 5
#: Column stride of the finite-difference Jacobian :func:`solve_newton` falls back to when an
#: approximate Jacobian gives no descent step (households' responses included, not frozen).
ACCURATE_STRIDE = 5
#: an elastic economy's first Newton solve (full time at the statutory ages) stops at this
#: residual, with the labour market's Jacobian stride and FIRST_EXACT_ELASTIC: it is only the
#: start of the elastic solve (measured, hours only at the bench's settings: 13.8 -> 12.2 s
#: CPU, the same 18 elastic steps; the start's Jacobian was 2.1 s of it; then, hours and the
#: choice at the calibrated preferences, 1e-5 -> 1e-3 and 10 -> 5 exact years: the start
#: 1.6 -> 1.0 s CPU, 8 -> 5 steps, the same 13 elastic steps)
START_TOL_ELASTIC = 1e-3


class TransitionConvergenceError(RuntimeError):
    """Newton's method did not bring every market-clearing residual below the tolerance."""

    def __init__(self, message: str, history: list[float]):
        super().__init__(message)
        self.history = history


@dataclass(frozen=True)
class InitialState:
    """The economy on 1 January of the base year (model money units, base-year technology = 1).

    ``assets``, ``ia_balance``, ``pension``: per capita by kind and age ``[K, J]`` (assets
    held, individual-account balance, pension in force for those already retired);
    ``estate_per_capita``: last year's estates per person (paid out with interest in the
    base year); ``fund_balance``: the employee fund; ``wage_growth``: growth of the average
    covered wage into the base year.
    """

    base_year: int
    assets: np.ndarray
    ia_balance: np.ndarray
    pension: np.ndarray
    estate_per_capita: float
    fund_balance: float
    wage_growth: float


def population_by_kind(params: EconomyParameters, pop_years: np.ndarray, years: np.ndarray,
                        ) -> np.ndarray:
    """``[..., T, J, sex] -> [..., T, K, J]`` with each kind's share of its birth cohort."""
    ages = params.first_age + np.arange(params.n_ages)
    birth = years[:, None] - ages[None, :] - 1
    w = core.kind_weights(params, birth)  # [T, J, K]
    out = pop_years[..., core.KIND_SEX] * w  # [..., T, J, K]
    return np.moveaxis(out, -1, -2)


def initial_state(ss: SteadyState, population: xr.DataArray, base_year: int,
                  pension_factor: float = 1.0) -> InitialState:
    """The base-year state from a steady state's per-capita profiles (the economy is taken to
    be on the steady state's life cycles on 1 January of the base year).

    ``population[age, sex]`` on 1 January of the base year gives the fund balance
    (``fund_months`` of the pension expenditure profile applied to it); the pensions in force
    are the steady state's times ``pension_factor`` (the calibrated legacy level).
    """
    p = ss.params
    ages = np.arange(p.first_age, p.last_age + 1)
    pop = population.sel(age=ages).transpose("age", "sex").values  # [J, 2]
    n_k = population_by_kind(p, pop[None], np.array([base_year]))[0]  # [K, J]
    benefits = pension_factor * float((n_k * ss.retired * ss.pension).sum())
    estate = ss.bequest_ratio * ss.average_wage / (1.0 + ss.interest_rate)
    return InitialState(
        base_year=int(base_year), assets=ss.assets.copy(), ia_balance=ss.ia_balance.copy(),
        pension=pension_factor * ss.pension, estate_per_capita=float(estate),
        fund_balance=ss.policy.fund_months / 12.0 * benefits,
        wage_growth=float(ss.technology_growth))


def terminal_demography(population: np.ndarray, mortality: np.ndarray, params: EconomyParameters,
                        population_growth: float | None = None) -> DemographySteadyState:
    """Stable population after the last year of a (median) projection: the last year's
    survival and the entrant growth ``population_growth`` (default: growth of the population
    younger than ``first_age`` over the last ten years). Arrays ``[year, age 0..100, sex]``."""
    s_last = one_year_survival(mortality[-1, params.first_age:params.last_age + 1, :]).T
    if population_growth is None:
        young = population[:, :params.first_age, :].sum(axis=(1, 2))
        span = min(10, population.shape[0] - 1)
        population_growth = float((young[-1] / young[-1 - span]) ** (1.0 / span) - 1.0) \
            if span > 0 else 0.0
    entrants = population[-1, params.first_age, :]
    return DemographySteadyState(survival=s_last, population_growth=float(population_growth),
                                 male_share=float(entrants[1] / entrants.sum()))


def _extend(population: np.ndarray, mortality: np.ndarray, params: EconomyParameters,
            n_years: int, terminal: DemographySteadyState) -> tuple[np.ndarray, np.ndarray]:
    """Population and survival on economic ages for ``n_years`` years, ``[P, n, J, 2]``.

    Inputs ``[P, Y, 101, 2]``. Beyond the last year: entrants are the last year's children
    survived with the last year's rates, then grow at the terminal growth; everyone else
    survives with the terminal survival (the median path's last year, so every path reaches
    the same steady state); the open age group is not carried.
    """
    P, Y = population.shape[:2]
    J, a0 = params.n_ages, params.first_age
    ages = slice(a0, params.last_age + 1)
    n_data = min(Y, n_years)
    pop = np.zeros((P, n_years, J, 2))
    surv = np.zeros((P, n_years, J, 2))
    pop[:, :n_data] = population[:, :n_data, ages, :]
    surv[:, :n_data] = one_year_survival(mortality[:, :n_data, ages, :])
    s_term = np.asarray(terminal.survival).T  # [J, 2]
    surv[:, n_data:] = s_term
    if n_data < n_years:
        youth = population[:, n_data - 1, :a0, :]  # [P, a0, 2]
        s_young = one_year_survival(mortality[:, n_data - 1, :a0, :])
        last_entrants = pop[:, n_data - 1, 0, :]
        for k in range(1, n_years - n_data + 1):
            t = n_data - 1 + k
            if k <= a0:
                entrants = youth[:, a0 - k, :] * np.prod(s_young[:, a0 - k:, :], axis=1)
            else:
                entrants = last_entrants * (1.0 + terminal.population_growth)
            last_entrants = entrants
            pop[:, t, 0, :] = entrants
            pop[:, t, 1:, :] = pop[:, t - 1, :-1, :] * s_term[None, :-1, :]
    return pop, surv


class TransitionModel:
    """Exogenous arrays of one transition (demography × policy × parameters × initial state)
    and the evaluation of its market-clearing residuals for given unknowns."""

    def __init__(self, params: EconomyParameters, population: np.ndarray, mortality: np.ndarray,
                 base_year: int, policy: Policy, initial: InitialState, terminal: SteadyState,
                 horizon: int):
        """Long because it builds every exogenous array of the transition once, in
        dependency order (technology and policy paths, population and survival by kind and
        cohort, labour and pensioners, the initial state), each a line or two."""
        self.params, self.policy, self.initial, self.terminal = params, policy, initial, terminal
        self._inputs = {"population": population, "mortality": mortality}
        self.base_year, self.T = int(base_year), int(horizon)
        J = self.J = params.n_ages
        self.pad = J - 1
        self.Tx = self.T + J - 1
        self.C = self.T + J - 1
        self.K = core.N_KINDS
        self.closed = params.closure == "closed"
        T, Tx, pad, C = self.T, self.Tx, self.pad, self.C
        years_all = base_year + np.arange(-pad, Tx)  # padded grid, index = t + pad
        self.years = base_year + np.arange(T)
        g = params.technology_growth_rate(years_all)
        log_a = np.zeros(years_all.size)
        log_a[pad + 1:] = np.cumsum(np.log1p(g[pad + 1:]))
        log_a[:pad] = -np.arange(pad, 0, -1) * np.log1p(initial.wage_growth)
        self.tech = np.exp(log_a)  # A_t, A_0 = 1
        self.pooled = policy.pooled_rate_in(years_all)
        self.indexation = policy.indexation_share_in(years_all)
        self.res_ratio = core.residents_ratio(params, base_year, years_all)

        pop, surv = _extend(population, mortality, params, Tx + 1, terminal.demography)
        self.P = pop.shape[0]
        # persons by kind [P, Tx+1, K, J]
        self.pop_kind = population_by_kind(params, pop, base_year + np.arange(Tx + 1))
        entry = base_year - pad + np.arange(C + 1)  # one more cohort: labour in year T
        cp_all = core.cohort_policy(params, policy, entry)
        self.cp = core.CohortPolicy(*(getattr(cp_all, f)[:C] for f in
                                      core.CohortPolicy.__dataclass_fields__))
        self.eff = core.efficiency_by_kind(params)
        self.idx = np.arange(C)[:, None] + np.arange(J)[None, :]  # padded year index [C, J]
        # cohort survival [P, C, K, J]
        year_of = np.clip(self.idx - pad, 0, Tx)  # pre-base years: base-year survival
        s = surv[:, year_of, np.arange(J)[None, :], :]  # [P, C, J, 2]
        self.surv = np.moveaxis(s[..., core.KIND_SEX], -1, -2)
        self.start = np.maximum(pad - np.arange(C), 0)
        # year layout (t in [0, Tx)): cohort of (t, i)
        t_grid = np.arange(Tx)[:, None]
        coh = t_grid + pad - np.arange(J)[None, :]
        self.valid = coh < C
        self.coh = np.minimum(coh, C - 1)
        self.age_grid = np.broadcast_to(np.arange(J)[None, :], coh.shape)

        n_k = self.pop_kind[:, :T]  # [P, T, K, J]
        work = self.to_years(self.cp.work[None])[:, :T]
        self.labour = (n_k * work * self.eff).sum(axis=(-2, -1))  # [P, T]
        work_T = cp_all.work[T + pad - np.arange(J), :, np.arange(J)]  # [J, K]: year T
        self.labour_T = (self.pop_kind[:, T] * work_T.T * self.eff).sum(axis=(-2, -1))
        cov = core.COVERED[:, None]
        self.cov_eff = (n_k * work * self.eff * cov).sum(axis=(-2, -1))
        self.cov_fte = (n_k * work * cov).sum(axis=(-2, -1))
        all_fte = (n_k * work).sum(axis=(-2, -1))
        with np.errstate(invalid="ignore", divide="ignore"):  # nobody covered: all workers
            self.ebar = np.where(self.cov_fte > 0, self.cov_eff / self.cov_fte,
                                 self.labour / all_fte)
        resid_share = self.to_years(self.cp.residents[None])[:, :T]
        self.res_count = (n_k * resid_share).sum(axis=(-2, -1))
        self.pensioners = (n_k * self.to_years(self.cp.retired[None])[:, :T]).sum(axis=(-2, -1))
        self.n_total = self.pop_kind.sum(axis=(-2, -1))  # [P, Tx+1]
        self.book = params.pension_book
        if self.book is not None:
            self._init_book()
        # initial state
        pen0 = initial.pension[None].repeat(C, 0)  # [C, K, J]
        start_idx = np.minimum(self.start, J - 1)
        take = lambda x: np.take_along_axis(  # noqa: E731
            x, np.broadcast_to(start_idx[:, None, None], (C, self.K, 1)), axis=-1)[..., 0]
        alive0 = (np.arange(C) < pad)[:, None]
        self.start_assets = np.where(alive0, take(initial.assets[None].repeat(C, 0)), 0.0)
        self.start_ia = np.where(alive0, take(initial.ia_balance[None].repeat(C, 0)), 0.0)
        self.start_pension = np.where(alive0, take(pen0), 0.0)
        n0 = self.pop_kind[:, 0]  # [P, K, J]
        self.household_assets0 = (n0 * initial.assets).sum(axis=(-2, -1)) \
            + initial.estate_per_capita * self.n_total[:, 0]
        self.capital0 = self.household_assets0 + initial.fund_balance
        self.kappa0 = self.capital0 / (self.tech[pad] * self.labour[:, 0])  # [P]
        if not self.closed:
            self.kappa0 = np.full(self.P, float(core.kappa_from_rate(params,
                                                                      params.world_interest_rate)))
        self.n_unknown = (2 if self.closed else 1) * (T - 1)
        self.elastic = params.elastic
        if self.elastic:  # hours and retirement options (set_choices; solve_transition)
            cp_opt, valid = core.option_policy(params, policy, entry[:C])
            O = self.O = valid.shape[-1]
            within = cp_opt.retire_index.reshape(C, O, self.K).transpose(0, 2, 1) \
                >= self.start[:, None, None]
            self.option_valid = valid & (within | (np.arange(O) == O // 2))
            self.cp_opt = cp_opt
            statutory = np.where(np.arange(O) == O // 2, 1.0, 0.0)
            self.set_choices(np.ones((C, self.K, O, J)),
                             np.broadcast_to(statutory, (C, self.K, O)).copy())
            # labour-market unknowns (labour, covered wage, tax) relative to full time
            self.labour_full, self.ebar_full = self.labour.copy(), self.ebar.copy()
            self.labour_T_full = self.labour_T.copy()
            self.n_clearing = 3 * T
            self.n_unknown += self.n_clearing
            tech_c = self.to_cohorts(self.tech[None, :self.idx.max() + 1])  # [1, C, 1, J]
            self.utility_scale = np.repeat(tech_c, O, axis=1) ** (1.0 - params.crra)
            start_idx = np.minimum(self.start, J - 1)
            self.hours_tol = 1e-13  # households' hours (inexact Newton: solve_newton)
            self.response = None  # first-order terms of the last choice (choose, respond)
            self.last_aggregates = None  # (u, households' aggregates) of the last choice
            self.chosen = None  # the last choice (hours [C, K, O, J], probabilities)
            self.chosen_segments = None  # its households' Euler segments (solved rows)
            self.price_free = {}  # option_inputs' price-free arrays by shape
            self.taste_scale = params.retirement_taste_scale * tech_c[0, np.arange(C), 0,
                                                                       start_idx] \
                ** (1.0 - params.crra)  # [C]

    def _init_book(self) -> None:
        """The pension block's books (:mod:`models.pension.book`): the population by category
        and the employee kinds' persons ``[P, T+1, J, C]`` over the years the government's
        pension lines need (base .. base + T)."""
        if self.params.retirement_choice:  # elastic hours are fine: contributions x hours
            raise NotImplementedError("the pension block's books (params.pension_book) need "
                                      "retirement set by policy (retirement_choice off)")
        T, n_cat = self.T, len(CATEGORIES)
        years = self.book.schedule["year"].values
        ages = self.book.schedule["age"].values
        want = self.base_year + np.arange(T + 1)
        if not (np.array_equal(years[:T + 1], want)
                and np.array_equal(ages, self.params.first_age + np.arange(self.J))):
            raise ValueError(f"the pension book covers years {years[0]}..{years[-1]} and ages "
                             f"{ages[0]}..{ages[-1]}; the transition needs {want[0]}..{want[-1]} "
                             f"and {self.params.first_age}..{self.params.last_age}")
        self.book_years = years[:T + 1]
        kinds = self.pop_kind[:, :T + 1]  # [P, T+1, K, J]
        self.book_employees = np.moveaxis(kinds[:, :, :n_cat], 2, 3)  # employee kinds
        self.book_population = self.book_employees + np.moveaxis(kinds[:, :, n_cat:], 2, 3)

    def book_cells(self, wbar: np.ndarray) -> dict:
        """The scheme's cell flows (:func:`models.pension.book.book_flows`, yuan) at the
        average covered wage path ``wbar[B, ≥T+1]`` (its ratio to the base year moves the
        accounts' wage)."""
        T, pad = self.T, self.pad
        book = dataclasses.replace(self.book, schedule=self.book.schedule.sel(
            year=self.book_years))
        return book_flows(book, self.book_population, wbar[:, :T + 1] / wbar[:, :1],
                          self.pooled[pad:pad + T + 1], self.indexation[pad:pad + T + 1])

    def book_household_flows(self, cells: dict, flows: dict,
                             hours: np.ndarray | None = None) -> dict:
        """``flows`` with the employee kinds' ``benefits`` and ``contributions`` (model units
        per person of the kind) taken from the book's cells in years base .. base + T (the
        terminal steady state's own rules after); with elastic hours ``hours`` ``[B, C, K, J]``
        (the households' hours of this evaluation, the retirement choice off so one option),
        contributions are the book's full-time ones times those hours (``None``: full time)."""
        T, J, n_cat = self.T, self.J, len(CATEGORIES)
        t = self.idx - self.pad  # calendar year offset of cohort c at age i, [C, J]
        inside = (t >= 0) & (t <= T)
        out = dict(flows)
        for key, cell in (("benefits", "expenditure"), ("contributions", "contributions")):
            lost = (self.book_employees <= 0) & (cells[cell] != 0)
            if np.any(lost):
                raise ValueError(f"the pension book has {key} in cells where the economy has no "
                                 f"covered persons ({int(lost.sum())} cells)")
            per = per_kind_person(cells[cell] / self.params.yuan_per_unit, self.book_employees)
            by_kind = np.zeros(per.shape[:2] + (self.K, J))
            by_kind[:, :, :n_cat] = np.moveaxis(per, 3, 2)
            picked = by_kind.transpose(1, 3, 0, 2)[np.clip(t, 0, T), np.arange(J)[None, :]]
            picked = picked.transpose(2, 0, 3, 1)
            if key == "contributions" and hours is not None:  # full-time rate x hours
                picked = picked * hours
            out[key] = np.where(inside[None, :, None, :], picked, flows[key])
        return out

    def set_choices(self, hours: np.ndarray, probabilities: np.ndarray) -> None:
        """Households' hours ``[C, K, O, J]`` and retirement-option probabilities
        ``[C, K, O]`` (elastic economy): labour supply, covered workers, their mean
        efficiency, pensioners and the base-year capital intensity follow from them."""
        C, K, O, J = self.C, self.K, self.O, self.J
        self.hours_opt, self.probs = np.asarray(hours, float), np.asarray(probabilities, float)
        s = self.supply(self.hours_opt.transpose(0, 2, 1, 3).reshape(1, C * O, K, J),
                        self.probs[None])
        labour_before = self.labour
        self.labour, self.cov_eff, self.cov_fte = s["labour"], s["cov_eff"], s["cov_fte"]
        self.labour_T = self.labour_T * self.labour[:, -1] / labour_before[:, -1]
        self.ebar, self.pensioners = s["ebar"], s["pensioners"]
        if self.closed:
            self.kappa0 = self.capital0 / (self.tech[self.pad] * self.labour[:, 0])

    def supply(self, hours: np.ndarray, probs: np.ndarray) -> dict:
        """What households' hours ``[B, C·O, K, J]`` (option minor) and option probabilities
        ``[B, C, K, O]`` supply, per year ``[B, T]``: ``labour`` (efficiency units
        ``Σ N P_o ℓ_o h_o e θ``), covered workers ``cov_fte`` (full-time equivalents
        ``Σ N P_o ℓ_o``), their efficiency ``cov_eff`` and mean ``ebar`` (hours included:
        the average covered wage is ``w ē``) and ``pensioners``."""
        C, K, O, J, T = self.C, self.K, self.O, self.J, self.T
        wp = np.asarray(probs).transpose(0, 1, 3, 2)[..., None]  # [B, C, O, K, 1]
        work_o = self.cp_opt.work.reshape(1, C, O, K, J)
        persons = (wp * work_o).sum(2)
        efficient = (wp * work_o * np.asarray(hours).reshape(-1, C, O, K, J)).sum(2)
        retired = (wp * self.cp_opt.retired.reshape(1, C, O, K, J)).sum(2)
        n_k = self.pop_kind[:, :T]
        work_h = self.to_years(efficient)[:, :T]
        work_p = self.to_years(persons)[:, :T]
        cov = core.COVERED[:, None]
        labour = (n_k * work_h * self.eff).sum(axis=(-2, -1))
        cov_eff = (n_k * work_h * self.eff * cov).sum(axis=(-2, -1))
        cov_fte = (n_k * work_p * cov).sum(axis=(-2, -1))
        with np.errstate(invalid="ignore", divide="ignore"):
            ebar = np.where(cov_fte > 0, cov_eff / cov_fte,
                            labour / (n_k * work_p).sum(axis=(-2, -1)))
        pensioners = (n_k * self.to_years(retired)[:, :T]).sum(axis=(-2, -1))
        return dict(labour=labour, cov_eff=cov_eff, cov_fte=cov_fte, ebar=ebar,
                    pensioners=pensioners)

    def mix(self, x: np.ndarray, probs: np.ndarray | None = None) -> np.ndarray:
        """``Σ_o P_o x_o``: ``[B, C·O, K, J]`` -> ``[B, C, K, J]`` (``probs[B or 1, C, K, O]``,
        default the model's)."""
        B = x.shape[0]
        probs = self.probs[None] if probs is None else probs
        xo = x.reshape(B, self.C, self.O, self.K, -1)
        return (xo * np.asarray(probs).transpose(0, 1, 3, 2)[..., None]).sum(2)

    def option_inputs(self, prices: core.CohortPrices, start: core.CohortStart,
                      tax: np.ndarray, bequest: np.ndarray):
        """The household problems of every valid option, cohort and kind (elastic economy) at
        per-option ``prices`` and ``start`` (``[B, C·O, ...]``, tax and bequests 0) and the
        tax and bequest paths ``[B, Tx]``: ``(HouseholdInputs at full-time income,
        HoursInputs, solved rows, shape [B, C·O, K, J], option budget)`` (as
        :func:`models.economy.cohort_choices`; the budget the full-time flows of the solved
        households, :meth:`option_budget`, which :meth:`flows_at_hours` takes to any
        hours)."""
        p, J = self.params, self.J
        budget = self.option_budget(prices, start, tax, bequest)
        flows, pr_t = budget["flows"], budget["prices"]
        z, a, pi = core.hours_margin(budget["cp"], pr_t, flows, budget["start"],
                                     budget["covered"])
        shape, rows = budget["shape"], budget["rows"]
        pick = lambda x: np.broadcast_to(x, flows["income"].shape).reshape(-1, J)  # noqa: E731
        fixed = self._price_free_inputs(shape, rows, start)
        hh = HouseholdInputs(
            gross_return=pick(pr_t.gross_return), income=pick(flows["income"]),
            survival=fixed["survival"],
            borrowing_limit=pick(p.borrowing_limit * pr_t.average_wage),
            start=fixed["start"], initial_assets=fixed["initial_assets"],
            discount_factor=p.discount_factor, crra=p.crra, taste=fixed["taste"])
        lab = HoursInputs(
            hours_weight=fixed["hours_weight"], net_earnings=pick(z),
            account_credit=pick(a), account_payout=pick(pi), frisch=p.frisch_elasticity,
            utility_shift=fixed["utility_shift"])
        return hh, lab, rows, shape, budget

    def option_budget(self, prices: core.CohortPrices, start: core.CohortStart,
                      tax: np.ndarray, bequest: np.ndarray) -> dict:
        """The full-time budget (:func:`models.economy.core.cohort_budget`) of the solved
        households only (:meth:`solved_rows`: the valid retirement options; the others have
        probability 0), at per-option ``prices`` and ``start`` ``[B, C·O, ...]`` and the tax
        and bequest paths ``[B, Tx]``: each valid (option, kind) one "cohort" of kind axis 1,
        ``[B, R, 1, J]`` in the order of the solved rows. Returns ``flows`` with what they
        were computed from (``cp``, ``prices``, ``start``, ``covered``), the full ``shape``
        ``[B, C·O, K, J]`` and its solved ``rows`` (:meth:`flows_at_hours` takes it)."""
        O, J = self.O, self.J
        co, k = self.option_rows
        B = max(np.shape(x)[0] for x in (tax, bequest, prices.wage) if np.ndim(x) >= 2)
        rep = lambda x: np.repeat(self.to_cohorts(self.pad_front(x)), O, axis=1)  # noqa: E731
        pr_t = dataclasses.replace(prices, income_tax=rep(tax), bequest=rep(bequest))

        def rows_of(x):  # [B, C·O, 1, J] -> [B, R, 1, J] (scalars kept)
            return x[:, co, 0][:, :, None] if np.ndim(x) == 4 else x

        pr_c = core.CohortPrices(*(rows_of(getattr(pr_t, f))
                                   for f in core.CohortPrices.__dataclass_fields__))
        cp = self.cp_opt
        cp_c = core.CohortPolicy(*(np.asarray(getattr(cp, f))[co, k][:, None]
                                   for f in core.CohortPolicy.__dataclass_fields__))
        cohort_k = lambda x: np.asarray(x)[..., co, k][..., None]  # noqa: E731
        start_c = core.CohortStart(age=np.asarray(start.age)[co],
                                   assets=cohort_k(start.assets),
                                   ia_balance=cohort_k(start.ia_balance),
                                   pension=cohort_k(start.pension))
        covered = core.COVERED[k][:, None]
        flows = core.cohort_budget(self.params, self.policy, cp_c, self.eff[k][:, None], pr_c,
                                   start_c, covered)
        shape = (B, self.C * O, self.K, J)
        return dict(flows=flows, prices=pr_c, cp=cp_c, start=start_c, covered=covered,
                    shape=shape, rows=self.solved_rows(shape))

    @property
    def option_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The valid (cohort·option, kind) pairs, row-major (:meth:`option_budget`'s
        households, in the order of :meth:`solved_rows`)."""
        return np.nonzero(self.option_valid.transpose(0, 2, 1).reshape(self.C * self.O,
                                                                       self.K))

    def flows_at_hours(self, budget: dict, hours: np.ndarray) -> dict:
        """The flows of :meth:`option_budget`'s households at ``hours`` ``[B or 1, C·O, K,
        J]`` (:func:`models.economy.core.budget_at_hours`), laid out ``[B, C·O, K, J]`` (0
        for the options not solved): ``earnings``, ``contributions``, ``benefits``,
        ``residents``."""
        shape, rows, J = budget["shape"], budget["rows"], self.J
        h = np.broadcast_to(hours, shape).reshape(-1, J)[rows]
        flows = core.budget_at_hours(budget["cp"], budget["prices"], budget["flows"],
                                     budget["start"], h.reshape(shape[0], -1, 1, J),
                                     budget["covered"])
        out = {}
        for key in ("earnings", "contributions", "benefits", "residents"):
            full = np.zeros((rows.size, J))
            full[rows] = np.broadcast_to(flows[key], h.reshape(shape[0], -1, 1, J).shape
                                         ).reshape(-1, J)
            out[key] = full.reshape(shape)
        return out

    def _price_free_inputs(self, shape: tuple, rows: np.ndarray, start: core.CohortStart
                           ) -> dict:
        """The parts of :meth:`option_inputs` that no price moves (survival, start, taste,
        the disutility of work), for the solved ``rows`` of ``shape``: built once per
        ``shape`` and kept (``start`` is the model's own, per option)."""
        if shape not in self.price_free:
            p, O, J = self.params, self.O, self.J
            pick = lambda x: np.broadcast_to(x, shape).reshape(-1, J)[rows]  # noqa: E731
            taste = core.taste(p, self.cp_opt.work)
            work_u = self.cp_opt.work * self.utility_scale
            self.price_free[shape] = dict(
                survival=pick(np.repeat(self.surv, O, axis=1)),
                start=np.broadcast_to(start.age[None, :, None], shape[:-1]).reshape(-1)[rows],
                initial_assets=np.broadcast_to(start.assets, shape[:-1]).reshape(-1)[rows],
                taste=None if taste is None else pick(taste),
                hours_weight=pick(p.hours_disutility * work_u),
                utility_shift=pick(-p.participation_disutility * work_u))
        return self.price_free[shape]

    def _probabilities(self, values: np.ndarray, rows: np.ndarray, shape) -> np.ndarray:
        """Logit probabilities ``[B, C, K, O]`` from the solved rows' values."""
        B, C, K, O = shape[0], self.C, self.K, self.O
        full = np.full(rows.size, -np.inf)
        full[rows] = values
        full = full.reshape(B, C, O, K).transpose(0, 1, 3, 2)
        return core.choice_probabilities(full, np.broadcast_to(
            self.taste_scale[:, None], (C, K)), np.broadcast_to(self.option_valid, full.shape))

    def _hours_layout(self, hours_rows: np.ndarray, rows: np.ndarray, shape) -> np.ndarray:
        hours = np.ones((rows.size, self.J))
        hours[rows] = hours_rows
        return hours.reshape(shape)

    def choose(self, prices: core.CohortPrices, start: core.CohortStart, tax: np.ndarray,
               bequest: np.ndarray, hours_tol: float = 1e-13, inputs: tuple | None = None):
        """Households' hours and retirement options at given prices (elastic economy).

        Every valid option of every cohort and kind (:meth:`option_inputs`) is solved exactly
        with elastic hours (:func:`models.economy.household.solve_households_hours`, to
        ``hours_tol``, warm-started from the model's hours) and the options' values give the
        logit probabilities (:func:`models.economy.core.choice_probabilities`, scale ``s_0
        A_{start}^{1−σ}``), as :func:`models.economy.cohort_choices`. Returns hours
        ``[B, C·O, K, J]`` (1 where not solved), probabilities ``[B, C, K, O]`` and the
        hours solution of the solved rows. With ``B = 1`` the model keeps them (``chosen``)
        and their first-order terms (:meth:`respond`): the next solve's warm start and the
        choices a Jacobian starts from (:meth:`set_choices` makes them the model's).
        ``inputs``: :meth:`option_inputs` at these prices if the caller has them."""
        C, K, O, J = self.C, self.K, self.O, self.J
        hh, lab, rows, shape, _ = inputs or self.option_inputs(prices, start, tax, bequest)
        warm = self.hours_opt if self.chosen is None else self.chosen[0]
        hours0 = np.broadcast_to(warm.transpose(0, 2, 1, 3).reshape(1, C * O, K, J),
                                 shape).reshape(-1, J)[rows]
        seg0 = None  # the last choice's segments, for every row of the batch
        if self.chosen is not None and self.chosen_segments is not None:
            seg0 = Segments(*(np.tile(x, (shape[0], 1)) for x in (
                self.chosen_segments.first, self.chosen_segments.last)))
        sol = solve_households_hours(hh, lab, hours0=hours0, tol=hours_tol, segments0=seg0)
        values = lifetime_utility_hours(hh, lab, sol)
        probs = self._probabilities(values, rows, shape)
        hours = self._hours_layout(sol.hours, rows, shape)
        if shape[0] == 1:
            self.chosen = (hours[0].reshape(C, O, K, J).transpose(0, 2, 1, 3), probs[0])
            self.chosen_segments = sol.segments  # the next choice's start (with the hours)
            # the first-order terms respond() needs, computed when first asked for
            self.response = dict(problem=(hh, lab, sol), hours=sol.hours, income=sol.income,
                                 values=values)
        return hours, probs, sol

    def _first_order_terms(self) -> dict:
        """The kept choice's first-order terms (:meth:`respond`): its households' discounted
        marginal utilities ``mu`` and hours values ``value``
        (:func:`models.economy.household.marginal_values`), computed once."""
        if "mu" not in self.response:
            mu, value = marginal_values(*self.response["problem"])
            self.response.update(mu=mu, value=value)
        return self.response

    def respond(self, prices: core.CohortPrices, start: core.CohortStart, tax: np.ndarray,
                bequest: np.ndarray, inputs: tuple | None = None):
        """First-order response of the households' choices kept by :meth:`choose` to other
        prices, at their marginal utilities (the cheap part of a Jacobian; wealth effects
        are left to the quasi-Newton updates): interior hours move with the hours value as
        the first-order condition says, ``h' = h (v'/v)^ν`` (Frisch), and each option's value
        by the envelope theorem, ``V'_o = V_o + Σ_i μ_i (y'_i(h) − y_i(h))`` (income at the
        kept hours), which moves the logit probabilities. Returns hours ``[B, C·O, K, J]``
        and probabilities ``[B, C, K, O]`` (``inputs`` as :meth:`choose`)."""
        hh, lab, rows, shape, _ = inputs or self.option_inputs(prices, start, tax, bequest)
        reps = shape[0]
        kept = {k: np.tile(v, (reps, 1)) if np.ndim(v) == 2 else np.tile(v, reps)
                for k, v in self._first_order_terms().items() if k != "problem"}
        mu, h0 = kept["mu"], kept["hours"]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(mu > 0, np.sum(lab.account_payout * mu, axis=1, keepdims=True)
                             / mu, 0.0)
            value = lab.net_earnings + lab.account_credit * ratio
            interior = (h0 > 0) & (h0 < 1) & (lab.hours_weight > 0) & (value > 0) \
                & (kept["value"] > 0)
            moved = np.clip(h0 * (value / kept["value"]) ** lab.frisch, 0.0, 1.0)
        hours = np.where(interior, moved, h0)
        dv = np.sum(mu * (income_at_hours(hh, lab, h0) - kept["income"]), axis=1)
        probs = self._probabilities(kept["values"] + dv, rows, shape)
        return self._hours_layout(hours, rows, shape), probs

    def solved_rows(self, shape) -> np.ndarray:
        """Which of the flattened households ``shape[:-1]`` (``[B, C·O, K]``) are solved: the
        valid retirement options (elastic economy; probability 0 for the others), else all."""
        if not self.elastic:
            return np.ones(int(np.prod(shape[:-1])), dtype=bool)
        sel = self.option_valid.transpose(0, 2, 1).reshape(self.C * self.O, self.K)
        return np.broadcast_to(sel, shape[:-1]).reshape(-1)

    # ------------------------------------------------------------------ layout helpers
    def to_years(self, x: np.ndarray) -> np.ndarray:
        """Cohort array ``[B, C, K, J]`` -> year layout ``[B, Tx, K, J]`` (0 where no cohort)."""
        xt = x.transpose(0, 2, 1, 3)[:, :, self.coh, self.age_grid]  # [B, K, Tx, J]
        return np.where(self.valid, xt, 0.0).transpose(0, 2, 1, 3)

    def to_cohorts(self, path: np.ndarray) -> np.ndarray:
        """Padded year path ``[B, Yp]`` -> ``[B, C, 1, J]``."""
        return path[:, self.idx][:, :, None, :]

    # ------------------------------------------------------------------ unknowns
    def unpack(self, u: np.ndarray):
        """Unknowns ``[B, n]`` -> (κ path, bequest-ratio path) over years ``[0, Tx)``."""
        B = u.shape[0]
        T, Tx = self.T, self.Tx
        kappa = np.empty((max(B, self.P), Tx))
        beq = np.empty_like(kappa)
        n0 = (2 if self.closed else 1) * (T - 1)
        if self.closed:
            kappa[:, 0] = self.kappa0
            if self.elastic:  # base-year capital over the labour supplied
                kappa[:, 0] = self.capital0 / (self.tech[self.pad]
                                               * self.clearing_unknowns(u)["labour"][:, 0])
            kappa[:, 1:T] = u[:, :T - 1]
            beq[:, 1:T] = u[:, T - 1:n0]
        else:
            kappa[:] = self.kappa0[0]
            beq[:, 1:T] = u[:, :n0]
        kappa[:, T:] = self.terminal.kappa
        beq[:, T:] = self.terminal.bequest_ratio
        beq[:, 0] = np.nan  # year 0: from the initial state
        return kappa, beq

    def pack(self, kappa: np.ndarray, beq: np.ndarray, clearing: np.ndarray | None = None
             ) -> np.ndarray:
        """Inverse of :meth:`unpack`; ``clearing[B, 3T]`` the labour-market unknowns of an
        elastic economy (:meth:`clearing_unknowns`; default: full time, the tax 0)."""
        T = self.T
        parts = ([kappa[:, 1:T]] if self.closed else []) + [beq[:, 1:T]]
        if self.elastic:
            parts.append(np.concatenate([np.ones((1, 2 * T)), np.zeros((1, T))], axis=1)
                         if clearing is None else clearing)
        return np.concatenate(parts, axis=1)

    def full_unknowns(self, u: np.ndarray) -> np.ndarray:
        """``u`` with the labour-market unknowns of an elastic economy appended when it has
        only the asset market's and bequests' (e.g. an inelastic economy's solution): the
        model's current labour and covered wage (:meth:`set_choices`) and the tax that
        balances the budget at the model's hours and probabilities."""
        if not self.elastic or u.shape[1] == self.n_unknown:
            return u
        T = self.T
        ext = np.concatenate([u, self.labour / self.labour_full, self.ebar / self.ebar_full,
                              np.zeros((1, T))], axis=1)
        kept, self.response = self.response, None
        try:
            res, _ = self.evaluate(ext, frozen=True)
        finally:
            self.response = kept
        ext[:, -T:] -= res[:, -T:]
        return ext

    def clearing_unknowns(self, u: np.ndarray) -> dict:
        """The labour-market unknowns of an elastic economy, years ``0..T−1`` ``[B, T]``: the
        last ``3T`` entries of ``u`` are labour relative to full time at the statutory ages
        (``L_t / L^full_t``), the covered workers' mean efficiency relative to full time
        (``ē_t / ē^full_t``) and the income tax ``τ_t``. Returns them as ``labour``
        (efficiency units), ``ebar`` and ``tax``."""
        T = self.T
        x = u[:, -self.n_clearing:]
        return dict(labour=x[:, :T] * self.labour_full, ebar=x[:, T:2 * T] * self.ebar_full,
                    tax=x[:, 2 * T:])

    def guess(self, half_life: float = 15.0) -> np.ndarray:
        """Starting point: capital from the actual population holding per-capita wealth
        (assets, estates, fund) that blends geometrically from the initial to the terminal
        steady-state profiles -- so the guess carries the ageing hump of wealth, and is the
        steady state itself when the economy starts there; the bequest ratio likewise."""
        T = self.T
        weight = 0.5 ** (np.arange(T) / half_life)
        w3 = weight[:, None, None]
        profile = w3 * self.initial.assets + (1 - w3) * self.terminal.assets
        n0 = float(self.n_total[0, 0])
        term = self.terminal
        extra0 = self.initial.estate_per_capita + self.initial.fund_balance / n0
        extra_t = (term.bequest_ratio * term.average_wage / (1.0 + term.interest_rate)
                   + term.aggregates["fund_balance"] / float(term.weights.sum()))
        extra = weight * extra0 + (1 - weight) * extra_t
        wealth = (self.pop_kind[0, :T] * profile).sum(axis=(-2, -1)) + extra * self.n_total[0, :T]
        kappa = np.empty(self.Tx)
        kappa[:T] = wealth / self.labour[0]
        kappa[0] = float(self.kappa0[0])
        kappa[T:] = term.kappa
        if not self.closed:
            kappa[:] = float(self.kappa0[0])
        r0, w0 = core.firm_prices(self.params, kappa[0])
        b0 = (1.0 + r0) * self.initial.estate_per_capita / (w0 * float(self.ebar[0, 0]))
        beq = np.empty(self.Tx)
        beq[:T] = weight * b0 + (1 - weight) * term.bequest_ratio
        beq[T:] = term.bequest_ratio
        return self.pack(kappa[None], beq[None])

    # ------------------------------------------------------------------ evaluation
    def prices(self, kappa: np.ndarray, labour: np.ndarray | None = None,
               ebar_path: np.ndarray | None = None) -> dict:
        """Firm-side prices for a ``κ`` path ``[B, Tx]`` (no household needed): interest
        rate, wage per efficiency unit, average covered wage (levels, ``[B, Tx]``) and output
        ``[B, T]``; ``labour`` and ``ebar_path`` ``[B, T]`` (the labour-market unknowns of an
        elastic economy) default to the model's."""
        p, T, Tx = self.params, self.T, self.Tx
        labour = self.labour if labour is None else labour
        r, w_hat = core.firm_prices(p, kappa)
        tech = self.tech[self.pad:]
        wage = w_hat * tech
        ebar = np.empty(np.broadcast_shapes(kappa.shape, (self.P, Tx)))
        ebar[:, :T] = self.ebar if ebar_path is None else ebar_path
        ebar[:, T:] = self.terminal.average_wage / self.terminal.wage
        output = p.tfp * kappa[:, :T] ** p.capital_share * tech[:T] * labour
        capital = kappa[:, :T] * tech[:T] * labour
        return {"r": r, "wage": wage, "wbar": wage * ebar, "output": output, "tech": tech,
                "capital": capital}

    def pad_front(self, x: np.ndarray) -> np.ndarray:
        """Year path ``[B, Tx]`` -> padded ``[B, pad + Tx]`` (years before the base year take
        the base year's value)."""
        return np.concatenate([np.repeat(x[:, :1], self.pad, axis=1), x], axis=1)

    def cohort_prices(self, pr: dict) -> core.CohortPrices:
        """Prices along every cohort's life (``[B, C, 1, J]``; tax and bequests 0) from the
        firm-side prices of :meth:`prices` (the average covered wage before the base year
        falls back at the initial wage growth)."""
        pad, wbar = self.pad, pr["wbar"]
        g0 = self.initial.wage_growth
        back = wbar[:, :1] * (1.0 + g0) ** -np.arange(pad, 0, -1)[None, :]
        wbar_pad = np.concatenate([back, wbar], axis=1)
        wbar_before = np.concatenate([wbar_pad[:, :1] / (1.0 + g0), wbar_pad[:, :-1]], axis=1)
        growth_w = wbar_pad / wbar_before - 1.0
        index = np.exp(np.cumsum(np.log1p(self.indexation * growth_w), axis=1))
        return core.CohortPrices(
            wage=self.to_cohorts(self.pad_front(pr["wage"])),
            average_wage=self.to_cohorts(wbar_pad),
            average_wage_before=self.to_cohorts(wbar_before), index=self.to_cohorts(index),
            pooled_rate=self.to_cohorts(np.broadcast_to(self.pooled, wbar_pad.shape)),
            income_tax=0.0, bequest=0.0,
            residents_ratio=self.to_cohorts(np.broadcast_to(self.res_ratio, wbar_pad.shape)),
            gross_return=1.0 + self.to_cohorts(self.pad_front(pr["r"])))

    def _households(self, flows: dict, prices: core.CohortPrices, tax: np.ndarray,
                    bequest: np.ndarray, shape: tuple, rows: np.ndarray) -> HouseholdInputs:
        """The household problems of :meth:`evaluate` (its solved ``rows`` of ``shape``
        ``[B, C·O, K, J]``) at the cohort ``flows`` and ``prices``, the tax and bequest paths
        ``[B, Tx]``."""
        p, O, J = self.params, (self.O if self.elastic else 1), self.J
        tax_c = self.to_cohorts(self.pad_front(tax))
        beq_c = self.to_cohorts(self.pad_front(bequest))
        if O > 1 or self.elastic:
            tax_c, beq_c = (np.repeat(x, O, axis=1) for x in (tax_c, beq_c))
        income = (flows["earnings"] + flows["benefits"] + flows["residents"]) \
            * (1.0 - tax_c) - flows["contributions"] + beq_c
        pick = lambda x: np.broadcast_to(x, shape).reshape(-1, J)[rows]  # noqa: E731
        rep_o = (lambda x: np.repeat(x, O, axis=1)) if self.elastic else (lambda x: x)
        start_o = np.repeat(self.start, O)
        taste = core.taste(p, self.cp_opt.work if self.elastic else self.cp.work)
        return HouseholdInputs(
            gross_return=pick(prices.gross_return), income=pick(income),
            survival=pick(rep_o(self.surv)),
            borrowing_limit=pick(p.borrowing_limit * prices.average_wage),
            start=np.broadcast_to(start_o[None, :, None], shape[:-1]).reshape(-1)[rows],
            initial_assets=np.broadcast_to(np.repeat(self.start_assets, O, axis=0),
                                           shape[:-1]).reshape(-1)[rows],
            discount_factor=p.discount_factor, crra=p.crra,
            taste=None if taste is None else pick(taste))

    def evaluate(self, u: np.ndarray, segments: Segments | None = None, full: bool = False,
                 frozen: bool = False):
        """Residuals ``[B, n]`` for unknowns ``u[B, n]`` (B = 1 or the number of paths).

        Long because it is the model's one pass from unknowns to residuals in the order of
        the module docstring (prices, pensions, the budget, households, the asset market and
        bequests); split, its dozen shared arrays would travel between the pieces.

        With ``segments`` the households keep those borrowing-limit segments (the local
        solution); otherwise they are solved exactly. ``full`` also returns every aggregate.
        Elastic economy: households choose hours and retirement options at the prices of
        ``u`` (:meth:`choose`; ``frozen``: they keep the model's, the cheap part of a
        Jacobian) and the labour market's residuals follow the asset market's and bequests'.
        """
        p, pol = self.params, self.policy
        T, Tx, pad, J, K = self.T, self.Tx, self.pad, self.J, self.K
        kappa, beq_ratio = self.unpack(u)
        Bt = kappa.shape[0]
        clear = self.clearing_unknowns(u) if self.elastic else None
        labour = self.labour if clear is None else clear["labour"]
        pr = self.prices(kappa, labour, None if clear is None else clear["ebar"])
        r, wage, wbar, output, tech = (pr[k] for k in ("r", "wage", "wbar", "output", "tech"))
        bequest = beq_ratio * wbar
        bequest[:, 0] = (1.0 + r[:, 0]) * self.initial.estate_per_capita

        prices = self.cohort_prices(pr)
        start = core.CohortStart(age=self.start, assets=self.start_assets,
                                 ia_balance=self.start_ia, pension=self.start_pension)
        chosen = None
        if self.elastic:  # every retirement option at the households' hours, then mixed
            O = self.O
            rep = lambda x: np.repeat(x, O, axis=1) if np.ndim(x) == 4 else x  # noqa: E731
            prices = core.CohortPrices(*(rep(getattr(prices, f)) for f in
                                         core.CohortPrices.__dataclass_fields__))
            start = core.CohortStart(age=np.repeat(self.start, O),
                                     assets=np.repeat(self.start_assets, O, axis=0),
                                     ia_balance=np.repeat(self.start_ia, O, axis=0),
                                     pension=np.repeat(self.start_pension, O, axis=0))
            tax_path = np.empty((Bt, Tx))
            tax_path[:, :T] = clear["tax"]
            tax_path[:, T:] = self.terminal.income_tax_rate
            if frozen and self.response is None:  # the model's hours and probabilities
                hours = self.hours_opt.transpose(0, 2, 1, 3).reshape(1, self.C * O, K, J)
                probs = self.probs[None]
                budget = self.option_budget(prices, start, tax_path, bequest)
            else:
                inputs = self.option_inputs(prices, start, tax_path, bequest)
                budget = inputs[-1]
                if frozen:  # the kept choices' first-order response (a Jacobian's cheap part)
                    hours, probs = self.respond(prices, start, tax_path, bequest, inputs)
                else:  # households choose at these prices, the tax and bequests
                    hours, probs, chosen = self.choose(prices, start, tax_path, bequest,
                                                       self.hours_tol, inputs)
            # the flows at the chosen hours from the full-time ones (no second budget)
            flows_o = self.flows_at_hours(budget, hours)
            flows = {k: self.mix(flows_o[k], probs)  # the flows used below, mixed
                     for k in ("earnings", "benefits", "residents", "contributions")}
        else:
            flows_o = flows = core.cohort_budget(p, pol, self.cp, self.eff, prices, start)
        if self.book is not None:  # the government's pension lines from the pension block
            cells = self.book_cells(wbar)
            flows_o = flows = self.book_household_flows(
                cells, flows, hours if self.elastic else None)

        n_k = self.pop_kind  # [P, Tx+1, K, J]
        ben_y = (n_k[:, :T + 1] * self.to_years(flows["benefits"])[:, :T + 1]).sum(axis=(-2, -1))
        con_y = (n_k[:, :T] * self.to_years(flows["contributions"])[:, :T]).sum(axis=(-2, -1))
        res_y = self.res_ratio[pad:pad + T] * wbar[:, :T] * self.res_count
        fund = np.empty((Bt, T + 1))
        fund[:, 0] = self.initial.fund_balance
        fund[:, 1:] = pol.fund_months / 12.0 * ben_y[:, 1:T + 1]
        subsidy = fund[:, 1:] - (1.0 + r[:, :T]) * fund[:, :T] - con_y + ben_y[:, :T]
        gov = p.government_consumption_share * output
        tax = np.empty((Bt, Tx))
        tax[:, :T] = (gov + res_y + subsidy) / (wage[:, :T] * labour + ben_y[:, :T] + res_y)
        tax[:, T:] = self.terminal.income_tax_rate
        tax_implied = tax
        if self.elastic:  # households pay the tax of the unknowns; its residual below
            tax = tax.copy()
            tax[:, :T] = clear["tax"]
        if np.any(tax >= 0.95):
            b_, t_ = np.unravel_index(int(np.argmax(tax)), tax.shape)
            raise ValueError(f"the income tax that balances the budget reaches "
                             f"{tax[b_, t_]:.2f} in {self.base_year + t_}: the budget cannot be "
                             f"financed (path/perturbation {b_})")
        O = self.O if self.elastic else 1
        shape = (Bt, self.C * O, K, J)
        rows = self.solved_rows(shape)  # elastic: the valid options only
        n = int(rows.sum())
        hh = None if chosen is not None and not full \
            else self._households(flows_o, prices, tax, bequest, shape, rows)
        if chosen is not None:  # the hours solution is the households' plan
            sol = chosen
        elif segments is None:
            sol = solve_households(hh)
        else:
            reps = n // segments.first.shape[0]
            seg = segments if reps == 1 else Segments(np.tile(segments.first, (reps, 1)),
                                                      np.tile(segments.last, (reps, 1)))
            sol = evaluate_segments(hh, seg)

        def unpick(x):  # solved rows -> [Bt, C·O, K, J...] (0 for options not solved)
            out = np.zeros((rows.size,) + np.shape(x)[1:])
            out[rows] = x
            return out.reshape(shape[:-1] + np.shape(x)[1:])

        a_next = unpick(sol.assets_next)
        if self.elastic:
            a_next = self.mix(a_next, probs)
        a_y = self.to_years(a_next)  # [Bt, Tx, K, J]
        assets = np.empty((Bt, T + 1))
        assets[:, 0] = self.household_assets0
        assets[:, 1:] = (n_k[:, :T] * a_y[:, :T]).sum(axis=(-2, -1))
        leaving = n_k[:, :T].copy()
        leaving[..., :-1] -= n_k[:, 1:T + 1, :, 1:]
        estates = (leaving * a_y[:, :T]).sum(axis=(-2, -1))
        pool = (1.0 + r[:, 1:T + 1]) * estates
        implied = pool / self.n_total[:, 1:T + 1]  # bequest per capita in years 1..T
        labour_T = self.labour_T if clear is None \
            else self.labour_T_full * clear["labour"][:, -1] / self.labour_full[:, -1]
        capital = kappa[:, :T + 1] * tech[:T + 1] * np.concatenate(
            [np.broadcast_to(labour, (Bt, T)), np.broadcast_to(labour_T, (Bt,))[:, None]],
            axis=1)
        res_assets = (assets[:, 1:T] + fund[:, 1:T] - capital[:, 1:T]) / output[:, 1:T]
        res_beq = (bequest[:, 1:T] - implied[:, :T - 1]) / wbar[:, 1:T]
        parts = ([res_assets] if self.closed else []) + [res_beq]
        if self.elastic:  # labour market: what households supply at these prices
            sup = self.supply(hours, probs)
            parts += [(clear["labour"] - sup["labour"]) / self.labour_full,
                      (clear["ebar"] - sup["ebar"]) / self.ebar_full,
                      clear["tax"] - tax_implied[:, :T]]
            if chosen is not None and Bt == 1:  # the households' aggregates at u, for the
                # fake-news Jacobian (models.economy.jacobian: its AGGREGATES)
                self.last_aggregates = (u.copy(), dict(
                    assets=assets[:, 1:], estates=estates, labour=sup["labour"],
                    cov_eff=sup["cov_eff"], cov_fte=sup["cov_fte"], benefits=ben_y,
                    contributions=con_y))
        resid = np.concatenate(parts, axis=1)
        if not full:
            return resid, sol.segments
        cons = unpick(sol.consumption)
        if self.elastic:
            cons = self.mix(cons, probs)
        c_y = self.to_years(cons)[:, :T]
        consumption = (n_k[:, :T] * c_y).sum(axis=(-2, -1))
        earn_y = (n_k[:, :T] * self.to_years(flows["earnings"])[:, :T]).sum(axis=(-2, -1))
        disposable = (earn_y + ben_y[:, :T] + res_y) * (1.0 - tax[:, :T]) - con_y \
            + r[:, :T] * assets[:, :T]
        nfa = assets + fund - capital
        investment = capital[:, 1:] - (1.0 - p.depreciation) * capital[:, :T]
        net_exports = nfa[:, 1:] - (1.0 + r[:, :T]) * nfa[:, :T]  # NFA' = (1+r) NFA + NX
        goods = output - consumption - investment - gov - net_exports
        util = unpick(lifetime_utility(hh, sol))
        euler = float(np.max(np.abs(euler_errors(hh, sol))))
        disc = unpick(discounted_survival_sum(hh))
        if self.elastic:  # welfare with leisure: models.economy.cohort_choices
            util = np.full((Bt, self.C, K), np.nan)
            disc = disc.reshape(Bt, self.C, O, K)[:, :, O // 2]
        # start-of-year assets of age i in year t = a'_{t-1, i-1}
        # the fiscal closure: the calibrated subsidy rule (the accounts'), the rest of the
        # fund rule's subsidy an explicit extra transfer (NaN without the pension book)
        rule = (np.full((Bt, T), np.nan) if self.book is None
                else np.broadcast_to(cells["subsidy"][:, :T] / p.yuan_per_unit, (Bt, T)))
        a_start = np.zeros((Bt, T, K, J))
        a_start[:, 0] = self.initial.assets
        a_start[:, 1:, :, 1:] = a_y[:, :T - 1, :, :-1]
        return resid, sol.segments, dict(
            kappa=kappa[:, :T], interest_rate=r[:, :T], wage=wage[:, :T],
            average_wage=wbar[:, :T], output=output, capital=capital[:, :T],
            labour=np.broadcast_to(labour, (Bt, T)), consumption=consumption,
            investment=investment, government_consumption=gov, household_assets=assets[:, :T],
            fund_balance=fund[:, :T], contributions=con_y, benefits=ben_y[:, :T],
            residents_pensions=res_y, fiscal_subsidy=subsidy, income_tax=tax[:, :T],
            subsidy_rule=rule, extra_transfer=subsidy - rule,
            bequests=bequest[:, :T] * self.n_total[:, :T], disposable=disposable,
            net_foreign_assets=nfa[:, :T], goods_residual=goods,
            pensioners=np.broadcast_to(
                (sup["pensioners"] if self.elastic else self.pensioners) if self.book is None
                else cells["pensioners"][:, :T].sum(axis=(-2, -1)), (Bt, T)),
            covered_workers=np.broadcast_to(sup["cov_fte"] if self.elastic else self.cov_fte,
                                            (Bt, T)),
            consumption_pc=c_y, assets_pc=a_start, utility=util, discount_sum=disc,
            technology=tech[:T], euler=euler)

    # ------------------------------------------------------------------ Jacobian
    def blocks(self) -> list[tuple[int, int]]:
        """``(offset, length)`` of each block of unknowns (and residuals): κ (closed economy)
        and bequests over years ``1..T−1``; elastic economy: labour, covered wage and tax over
        ``0..T−1``."""
        sizes = [self.T - 1] * (2 if self.closed else 1) + ([self.T] * 3 if self.elastic
                                                             else [])
        return [(int(o), s) for o, s in zip(np.cumsum([0] + sizes[:-1]), sizes)]

    def _first_years(self) -> list[int]:
        """Year (index from the base year) of each block's first unknown."""
        return [1] * (2 if self.closed else 1) + ([0] * 3 if self.elastic else [])

    def _local_columns(self) -> np.ndarray:
        """Unknowns whose residuals are all in their own year: labour in years ``1..T−1``
        (elastic economy; it moves capital, output and the tax base of its year, and no
        price households see). Year 0's also moves the base year's ``κ``."""
        if not self.elastic:
            return np.zeros(0, dtype=np.int64)
        return self.blocks()[-3][0] + np.arange(1, self.T)

    def jacobian(self, u: np.ndarray, segments: Segments, stride: int = 1, chunk: int = 4,
                 step: float = 1e-6, frozen: bool = False, first_exact: int = 10
                 ) -> np.ndarray:
        """``∂ residuals / ∂ unknowns`` by forward differences with the borrowing-limit
        segments fixed (each column the exact local derivative), columns batched ``chunk`` at a
        time. With ``stride > 1`` only every ``stride``-th year's columns (and the first
        ``first_exact`` years') are computed; the others are the nearest computed column shifted
        along the diagonal (the sequence-space Jacobian of a slowly changing economy is nearly
        Toeplitz: ``J[t+d, s+d] ≈ J[t, s]``); columns whose residuals are their own year's
        (:meth:`_local_columns`) are perturbed together. ``frozen`` (elastic economy): households keep
        their hours and retirement probabilities (:meth:`evaluate`), so the households'
        choice responses are left to the quasi-Newton updates."""
        if frozen:
            base, segments = self.evaluate(u, frozen=True)
        else:
            base, _ = self.evaluate(u, segments)
        n = u.shape[1]
        h = step * np.maximum(1.0, np.abs(u[0]))
        layout = self.blocks()
        local = self._local_columns()
        cols, shifts = [], []
        for off, m in layout:
            if local.size and off == local[0] - 1:  # the labour block: year 0 alone
                cols.append(np.array([off]))
                continue
            years = np.arange(m)
            computed = years if stride <= 1 else np.unique(np.concatenate(
                [years[:min(m, first_exact)], years[first_exact::stride], years[-1:]]))
            cols.append(off + computed)
            if computed.size < m:
                nearest = computed[np.clip(np.searchsorted(computed, years, side="right") - 1,
                                           0, None)]
                shifts += [(off + s, off + nearest[s], s - nearest[s])
                           for s in np.setdiff1d(years, computed)]
        cols = np.concatenate(cols)
        jac = np.zeros((n, n))
        for lo in range(0, cols.size, chunk):
            cc = cols[lo:lo + chunk]
            pert = np.repeat(u, cc.size, axis=0)
            pert[np.arange(cc.size), cc] += h[cc]
            res, _ = self.evaluate(pert, segments, frozen=frozen)
            jac[:, cc] = ((res - base) / h[cc][:, None]).T
        if local.size:  # columns whose residuals are their own year's: all at once
            pert = u.copy()
            pert[0, local] += h[local]
            d = (self.evaluate(pert, segments, frozen=frozen)[0] - base)[0]
            years = np.arange(1, self.T)
            for (off, m), y0 in zip(layout, self._first_years()):
                rows = off + years - y0
                ok = (years - y0 >= 0) & (years - y0 < m)
                jac[rows[ok], local[ok]] = d[rows[ok]] / h[local[ok]]
        for col, src, d in shifts:  # J[t + d, s + d] ≈ J[t, s] within each row block
            for off, m in layout:
                jac[off + d:off + m, col] = jac[off:off + m - d, src]
        return jac


def solve_newton(model: TransitionModel, u0: np.ndarray, tol: float, max_iter: int,
                  inverse: np.ndarray | None = None, stride: int = 10, first_exact: int = 10,
                  jacobian: str = "finite_differences"):
    """Quasi-Newton in sequence space: the finite-difference Jacobian (:meth:`TransitionModel.jacobian`)
    at the first point, then Broyden's ("good") rank-one updates of its inverse after every
    step, with a backtracking line search; the Jacobian is recomputed if a step fails.
    ``jacobian="fake_news"``: the fake-news Jacobian (:func:`models.economy.jacobian.
    fake_news_jacobian`) where it applies (:func:`models.economy.jacobian.applicable`),
    the finite-difference one otherwise.

    When even a freshly computed Jacobian gives no step that lowers the residual (the
    fake-news one, or a strided or frozen finite-difference one: approximations that can fail
    far from where they are good, e.g. an elastic economy under a policy of large retirement
    delays, 2026-12-01), the finite-difference Jacobian with the households' responses and
    every :data:`ACCURATE_STRIDE`-th column is computed at the current point and the search
    goes on from there; it gives up only when that one fails too.

    Returns ``(u, residuals, segments, inverse Jacobian, history, Jacobian evaluations)``.
    """
    u = u0.copy()
    res, seg = model.evaluate(u)
    history = [float(np.max(np.abs(res)))]
    inv = inverse
    n_jac, it, fresh, accurate = 0, 0, False, False
    while history[-1] > tol and it < max_iter:
        it += 1
        if model.elastic:  # inexact Newton: households' hours as precise as the step needs
            model.hours_tol = float(np.clip(1e-3 * history[-1], 1e-13, HOURS_TOL_MAX))
        if inv is None:
            if accurate:
                jac = model.jacobian(u, seg, stride=min(stride, ACCURATE_STRIDE),
                                     first_exact=first_exact)
            elif jacobian == "fake_news" and fake_news.applicable(model):
                jac = fake_news.fake_news_jacobian(model, u, hours_tol=model.hours_tol)
            else:
                jac = model.jacobian(u, seg, stride=stride, frozen=model.elastic,
                                     first_exact=first_exact)
            inv = np.linalg.inv(jac)
            n_jac += 1
            fresh = True
        step = -inv @ res[0]
        lam, accepted = 1.0, False
        while lam >= 1.0 / 64:
            trial = u + lam * step[None]
            try:
                r_new, seg_new = model.evaluate(trial)
            except ValueError:  # infeasible household plans: shorten the step
                lam /= 2
                continue
            if np.max(np.abs(r_new)) < (1.0 - 1e-4 * lam) * history[-1]:
                accepted = True
                break
            lam /= 2
        if not accepted:
            if fresh and accurate:
                break
            accurate = accurate or fresh  # the approximate Jacobian failed at once
            inv = None
            continue
        du = (trial - u)[0]
        dr = (r_new - res)[0]
        inv_dr = inv @ dr
        denom = du @ inv_dr
        if abs(denom) > 1e-300:
            inv = inv + np.outer(du - inv_dr, du @ inv) / denom
        u, res, seg, fresh = trial, r_new, seg_new, False
        history.append(float(np.max(np.abs(res))))
    if model.elastic:
        model.hours_tol = 1e-13
    return u, res, seg, inv, history, n_jac


def raise_not_converged(model: TransitionModel, res: np.ndarray, history: list[float], tol: float):
    names = (["asset market"] if model.closed else []) + ["bequests"] \
        + (["labour market", "covered wage", "income tax"] if model.elastic else [])
    worst = int(np.argmax(np.abs(res[0])))
    offsets = [off for off, _ in model.blocks()]
    eq = int(np.searchsorted(offsets, worst, side="right") - 1)
    t = worst - offsets[eq] + model._first_years()[eq] - 1
    raise TransitionConvergenceError(
        f"transition did not converge: largest residual is the {names[eq]} equation in "
        f"{model.base_year + 1 + t} = {res[0, worst]:.3e} (tolerance {tol:.1e}); "
        f"max residual by iteration: {', '.join(f'{h:.2e}' for h in history)}", history)


def unknowns_from_dataset(model: TransitionModel, ds: xr.Dataset) -> np.ndarray:
    """The unknowns ``[1, n]`` of a solved transition (to restart from it)."""
    T = model.T
    kappa = np.empty((1, model.Tx))
    kappa[0, :T] = (ds["capital_cny"] / (ds["technology_level"] * ds["labour_efficiency_units"]
                                         * model.params.yuan_per_unit)).values
    kappa[0, T:] = model.terminal.kappa
    beq = np.empty((1, model.Tx))
    beq[0, :T] = (ds["bequests_cny"] / model.n_total[0, :T] / ds["average_wage_cny"]).values
    beq[0, T:] = model.terminal.bequest_ratio
    clearing = None
    if model.elastic:
        ebar = (ds["average_wage_cny"] / ds["wage_cny"]).values
        clearing = np.concatenate([
            ds["labour_efficiency_units"].values / model.labour_full[0],
            ebar / model.ebar_full[0], ds["income_tax_rate"].values])[None]
    return model.pack(kappa, beq, clearing)


def _as_array(da: xr.DataArray, lead: list[str]) -> np.ndarray:
    return da.transpose(*lead, "year", "age", "sex").values


def build_model(params: EconomyParameters, population: xr.DataArray, mortality: xr.DataArray,
                policy: Policy, initial: InitialState, *, horizon: int = 200,
                terminal: SteadyState | None = None,
                terminal_population_growth: float | None = None) -> TransitionModel:
    """The transition's arrays (shared by :func:`solve_transition` and the Monte Carlo step)."""
    lead = [d for d in population.dims if d not in ("year", "age", "sex")]
    pop = _as_array(population, lead)
    mx = _as_array(mortality.sel(year=population["year"]), lead)
    pop = pop.reshape((-1,) + pop.shape[-3:])
    mx = mx.reshape((-1,) + mx.shape[-3:])
    base = int(population["year"].values[0])
    if base != initial.base_year:
        raise ValueError(f"population starts in {base} but the initial state is for "
                         f"{initial.base_year}")
    if terminal is None:
        demo = terminal_demography(pop[0], mx[0], params, terminal_population_growth)
        terminal = solve_steady_state(params, demo, policy, year=base + horizon,
                                      base_year=base)
    return TransitionModel(params, pop, mx, base, policy, initial, terminal, horizon)


def solve_transition(params: EconomyParameters, population: xr.DataArray,
                     mortality: xr.DataArray, policy: Policy, initial: InitialState, *,
                     horizon: int = 200, terminal: SteadyState | None = None,
                     terminal_population_growth: float | None = None, tol: float = 1e-9,
                     max_iter: int = 40, jacobian_stride: int = 10,
                     clearing_stride: int = 50, jacobian: str = "fake_news") -> xr.Dataset:
    """Perfect-foresight transition from the base-year state to the terminal steady state.

    Long because of its documented parameters; the Newton method and the dataset are
    calls.

    Parameters
    ----------
    params : economy parameters (money in model units; ``yuan_per_unit`` converts outputs).
    population : persons on 1 January ``[year, age, sex]`` (ages 0..100), first year = base.
    mortality : central death rates ``[year, age, sex]`` (survival ``exp(−m)``).
    policy : pension policy (:class:`models.economy.Policy`).
    initial : the base-year state (:func:`initial_state`).
    horizon : years solved; later years are the terminal steady state.
    terminal : the terminal steady state (default: solved from the last projected year's
        survival and entrant growth, and the policy's long-run values).
    tol : largest admissible residual (asset market as a share of output, bequests as a
        share of the average covered wage).
    max_iter : quasi-Newton iterations before giving up.
    jacobian_stride : compute every ``stride``-th year's Jacobian column (1: all).
    clearing_stride : the same for an elastic economy's Jacobian with the labour market
        (at least ``jacobian_stride``; its columns cost every option's households).
    jacobian : the elastic solve's first Jacobian: ``"fake_news"`` (default;
        :mod:`models.economy.jacobian`, where it applies) or ``"finite_differences"``
        (:meth:`TransitionModel.jacobian`); the inelastic solve always uses the latter.
    Elastic economies (``params.elastic``): households choose hours and retirement options
    at every evaluation's prices, and labour, the covered workers' mean efficiency and the
    tax are unknowns with the asset market (:func:`_clear_labour_market`).

    Returns
    -------
    Dataset over ``year`` (see the variables' ``long_name`` and ``units``), with per-capita
    profiles ``[year, age, group, category]``, cohort welfare ``[birth_year, group,
    category]`` and the residual history ``newton_max_residual[iteration]``.

    Raises
    ------
    TransitionConvergenceError naming the equation and year of the largest residual.
    """
    model = build_model(params, population, mortality, policy, initial, horizon=horizon,
                        terminal=terminal, terminal_population_growth=terminal_population_growth)
    if model.P != 1:
        raise ValueError("solve_transition takes one demographic path; see "
                         "price_paths_monte_carlo for many")
    start = model
    if model.elastic:  # the first Newton solve at full-time hours and statutory ages: the
        # same equations as the inelastic model, whose households are the options' 1/O
        start = build_model(params.replace(hours_disutility=0.0, participation_disutility=0.0,
                                           retirement_choice=False),
                            population, mortality, policy, initial, horizon=horizon,
                            terminal=model.terminal)
    # an elastic economy's inelastic start only has to be near: a coarser Jacobian and tolerance
    start_tol, start_stride, start_exact = (max(tol, START_TOL_ELASTIC),
                                            max(jacobian_stride, clearing_stride),
                                            FIRST_EXACT_ELASTIC) if model.elastic \
        else (tol, jacobian_stride, 10)
    u, res, seg, inv, history, n_jac = solve_newton(start, start.guess(), start_tol, max_iter,
                                                     stride=start_stride,
                                                     first_exact=start_exact)
    if history[-1] > start_tol:
        raise_not_converged(start, res, history, start_tol)
    if model.elastic:  # the labour market with the asset market, from the inelastic economy
        u, history = _clear_labour_market(model, start, u, tol, max_iter,
                                          max(jacobian_stride, clearing_stride), history,
                                          jacobian)
        n_jac += 1
    ds = transition_dataset(model, u)
    ds["newton_max_residual"] = ("iteration", np.array(history),
                                 {"units": "1", "long_name": "largest market-clearing residual"})
    ds.attrs.update(jacobian_evaluations=n_jac, iterations=len(history) - 1)
    if model.elastic:
        model.set_choices(*model.chosen)
        dims = ("birth_year", "group", "category", "option")
        ds["option_hours"] = (dims + ("age",), model.hours_opt.reshape(
            model.C, 2, 3, model.O, model.J), {"units": "share of full time", "long_name":
                                               "hours by retirement option (equilibrium)"})
        ds["retirement_probability"] = (dims, model.probs.reshape(model.C, 2, 3, model.O), {
            "units": "1", "long_name": "probability of each retirement option (equilibrium)"})
    return ds


def _clear_labour_market(model: TransitionModel, start: TransitionModel, u0: np.ndarray,
                         tol: float, max_iter: int, stride: int, history: list,
                         jacobian: str = "fake_news") -> tuple[np.ndarray, list]:
    """An elastic transition's markets together (:meth:`TransitionModel.evaluate`: asset
    market, bequests, labour, the covered wage and the budget's tax), by quasi-Newton in
    sequence space from the inelastic solution ``u0`` of ``start`` (full-time hours at the
    statutory ages, its tax): the first Jacobian is the fake-news one
    (``jacobian="fake_news"``, :func:`models.economy.jacobian.fake_news_jacobian`, where it
    applies) or holds households' hours and retirement probabilities at their first-order
    response at fixed marginal utility (:meth:`TransitionModel.jacobian` ``frozen``,
    :meth:`TransitionModel.respond`); Broyden's updates learn the rest. Returns the solution
    and the residual history (appended)."""
    _, _, out = start.evaluate(u0, full=True)
    T = model.T
    clearing = np.concatenate([np.ones((1, 2 * T)), out["income_tax"]], axis=1)
    u = np.concatenate([u0, clearing], axis=1)
    model.hours_tol = HOURS_TOL_MAX
    u, res, _, _, more, _ = solve_newton(model, u, tol, max_iter, stride=stride,
                                         first_exact=FIRST_EXACT_ELASTIC, jacobian=jacobian)
    history = history + more
    if more[-1] > tol:
        raise_not_converged(model, res, history, tol)
    return u, history


_YEAR_VARS = {
    # name: (key, units, long_name, money)
    "output_cny": ("output", "yuan per year", "output (GDP)", True),
    "capital_cny": ("capital", "yuan", "capital stock on 1 January", True),
    "labour_efficiency_units": ("labour", "efficiency units (person-years x efficiency)",
                                "labour supply in efficiency units", False),
    "wage_cny": ("wage", "yuan per efficiency unit per year", "wage per efficiency unit", True),
    "average_wage_cny": ("average_wage", "yuan per year",
                         "average wage of employee-scheme workers (full-time equivalent)", True),
    "interest_rate": ("interest_rate", "1 per year", "real interest rate (net return on capital)",
                      False),
    "consumption_cny": ("consumption", "yuan per year", "household consumption", True),
    "investment_cny": ("investment", "yuan per year", "gross investment", True),
    "government_consumption_cny": ("government_consumption", "yuan per year",
                                   "government consumption", True),
    "household_assets_cny": ("household_assets", "yuan",
                             "household wealth on 1 January (including estates)", True),
    "fund_balance_cny": ("fund_balance", "yuan", "employee pension fund on 1 January", True),
    "pension_contributions_cny": ("contributions", "yuan per year",
                                  "employee-scheme contributions", True),
    "pension_benefits_cny": ("benefits", "yuan per year", "employee-scheme pensions paid", True),
    "residents_pensions_cny": ("residents_pensions", "yuan per year",
                               "residents' pensions paid (budget)", True),
    "fiscal_subsidy_cny": ("fiscal_subsidy", "yuan per year",
                           "fiscal subsidy to the employee fund (fund rule)", True),
    "fiscal_subsidy_rule_cny": ("subsidy_rule", "yuan per year",
                                "fiscal subsidy by the calibrated rule (the accounts': base-year "
                                "subsidy x wage index)", True),
    "extra_transfer_cny": ("extra_transfer", "yuan per year",
                           "fiscal transfer to the employee fund beyond the subsidy rule (the "
                           "fund rule's subsidy less the rule), financed by the government",
                           True),
    "income_tax_rate": ("income_tax", "fraction of labour and pension income",
                        "tax on labour and pension income balancing the government budget",
                        False),
    "bequests_cny": ("bequests", "yuan per year", "accidental bequests paid out", True),
    "net_foreign_assets_cny": ("net_foreign_assets", "yuan",
                               "net foreign assets on 1 January (0 when closed)", True),
    "goods_market_residual_cny": ("goods_residual", "yuan per year",
                                  "output - consumption - investment - government - net exports",
                                  True),
    "covered_workers": ("covered_workers", "persons (full-time equivalent)",
                        "employee-scheme workers", False),
    "employee_pensioners": ("pensioners", "persons (person-years drawing a pension)",
                            "employee-scheme pensioners", False),
    "technology_level": ("technology", "1 (base year = 1)", "labour-augmenting technology", False),
}


def transition_dataset(model: TransitionModel, u: np.ndarray, path_dim: str | None = None,
                       paths=None) -> xr.Dataset:
    """Labelled results of a solved transition (``u`` ``[B, n]``); with ``path_dim`` a leading
    dimension over paths is kept (and per-capita profiles and welfare are left out).

    Long because it labels every variable with its units and long name in one place."""
    res, _, out = model.evaluate(u, full=True)
    p = model.params
    scale = p.yuan_per_unit
    years = model.years
    lead = [path_dim] if path_dim else []

    def pick(x):
        x = np.asarray(x)
        return x if path_dim else x[0]

    data = {}
    for name, (key, units, long_name, money) in _YEAR_VARS.items():
        x = np.broadcast_to(out[key], out["output"].shape) if key == "technology" else out[key]
        data[name] = (lead + ["year"], pick(x) * (scale if money else 1.0),
                      {"units": units, "long_name": long_name})
    ratios = {
        "capital_output_ratio": (out["capital"] / out["output"], "years of output",
                                 "capital-output ratio"),
        "household_saving_rate": ((out["disposable"] - out["consumption"]) / out["disposable"],
                                  "fraction of disposable income", "household saving rate"),
        "pension_spending_gdp": (out["benefits"] / out["output"], "fraction of GDP",
                                 "employee-scheme pension spending / GDP"),
        "replacement_rate": (np.divide(out["benefits"], out["pensioners"] * out["average_wage"],
                                       out=np.full(out["benefits"].shape, np.nan),
                                       where=out["pensioners"] > 0),
                             "fraction of the average covered wage",
                             "average employee pension / average covered wage"),
    }
    for name, (x, units, long_name) in ratios.items():
        data[name] = (lead + ["year"], pick(x), {"units": units, "long_name": long_name})
    n_res = model.T - 1
    layout = model.blocks()
    res_a = res[:, :n_res] if model.closed else np.zeros((res.shape[0], n_res))
    off_b = layout[1 if model.closed else 0][0]
    res_b = res[:, off_b:off_b + n_res]
    pad0 = np.zeros((res.shape[0], 1))
    data["asset_market_residual"] = (lead + ["year"], pick(np.concatenate([pad0, res_a], 1)),
                                     {"units": "fraction of output",
                                      "long_name": "asset-market residual (A + B - K) / Y"})
    data["bequest_residual"] = (lead + ["year"], pick(np.concatenate([pad0, res_b], 1)),
                                {"units": "fraction of the average covered wage",
                                 "long_name": "bequest residual"})
    if model.elastic:  # the labour market's residuals (years 0..T-1)
        for k, (name, long_name) in enumerate((
                ("labour_market_residual", "labour supplied - labour, over full-time labour"),
                ("covered_wage_residual", "covered workers' mean efficiency: chosen - assumed, "
                                          "over full time"),
                ("income_tax_residual", "income tax - the tax that balances the budget"))):
            off, m = layout[-3 + k]
            data[name] = (lead + ["year"], pick(res[:, off:off + m]),
                          {"units": "1", "long_name": long_name})
    coords = {"year": years}
    if path_dim:
        coords[path_dim] = paths if paths is not None else np.arange(res.shape[0])
    ds = xr.Dataset(data, coords=coords)
    if not path_dim:
        ages = np.arange(p.first_age, p.last_age + 1)
        shape = (model.T, 2, 3, model.J)
        for name, key, long_name in (
                ("consumption_per_capita_cny", "consumption_pc", "consumption per person"),
                ("assets_per_capita_cny", "assets_pc", "assets per person on 1 January")):
            arr = out[key][0].reshape(shape).transpose(0, 3, 1, 2) * scale
            ds[name] = (("year", "age", "group", "category"), arr,
                        {"units": "yuan per person" + (" per year" if "consumption" in key
                                                       else ""), "long_name": long_name})
        ds = ds.assign_coords(age=ages, group=list(core.GROUPS), category=list(CATEGORIES))
        birth = model.base_year - model.pad + np.arange(model.C) - p.first_age - 1
        util = out["utility"][0].reshape(model.C, 2, 3)
        disc = out["discount_sum"][0].reshape(model.C, 2, 3)
        ds["lifetime_utility"] = (("birth_year", "group", "category"), util,
                                  {"units": "utils (consumption in model units, base-year "
                                            "technology)",
                                   "long_name": "expected discounted utility from the base year "
                                                "or first_age"})
        ds["discounted_survival"] = (("birth_year", "group", "category"), disc,
                                     {"units": "years", "long_name":
                                      "sum of discount factor x survival over the remaining life"})
        ds["first_age_in_plan"] = (("birth_year",), p.first_age + model.start,
                                   {"units": "years", "long_name": "age at which the cohort's "
                                                                   "welfare is measured"})
        ds = ds.assign_coords(birth_year=birth)
    ds.attrs.update(
        crra=p.crra, closure=p.closure, horizon=model.T, base_year=model.base_year,
        money_units="yuan at base-year prices" if scale != 1.0 else "model units",
        terminal_interest_rate=model.terminal.interest_rate,
        terminal_population_growth=model.terminal.population_growth,
        max_residual=float(np.max(np.abs(res))), max_euler_error=out["euler"])
    return ds
