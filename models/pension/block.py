"""The per-person pension block of the urban employee scheme: coverage followed through
retirement, the contribution base, and the award of a new pension by the benefit formula.

Pure NumPy functions of plain arrays (no configuration objects, no I/O); the accounts
(:mod:`models.pension.accounts`) compose them into per-person rates ``[year, age, category]``,
and the OLG economy's government can take the same rates (see :func:`models.pension.accounts.
account_rates`), so both keep one set of books.

Equations (``t`` calendar year, ``a`` age on 1 January, ``b = t − a − 1`` birth year, ``c``
category; wages in yuan a year at base-year prices):

* **Coverage followed through retirement.** A cohort's covered share is the working-age level
  ``L(t)`` (× the entry ramp and the sex factor) until the year ``t_f(b, c)`` in which it reaches
  its retirement age, and stays there afterwards: ``C(t, a, c) = L(min(t, t_f)) ramp(a) sex(c)``.
  Insured workers are ``C (1 − S)``, pensioners ``C S`` (``S`` the share drawing a pension), so
  covered persons move from work into retirement one for one (only deaths reduce them).
* **Contribution base.** Employees pay ``τ_pool + τ_IA`` on an average base ``ρ_e w``;
  flexible workers (share ``f`` of payers) pay ``r_flex`` on ``β_flex W`` with ``W = α w`` the
  all-unit average wage (Guobanfa [2019] No. 13). One effective index carries both into the
  revenue, ``contributions = (τ_pool + τ_IA) ρ χ w N`` with
  ``ρ = (1 − f) ρ_e + f β_flex α r_flex / (τ_pool + τ_IA)`` (:func:`effective_contribution_index`);
  the average own base relative to ``w``, which enters the benefit formula, is
  ``b̄ = (1 − f) ρ_e + f β_flex α`` (:func:`own_base_index`).
* **New award** (Guofa [2005] No. 38 Art. 6; Guofa [1997] No. 26; :func:`new_award`), yuan a year:
  ``P = s · [ (W(t−1) + b̄ w(t−1))/2 · accrual · Y                 (basic pension)
             + b̄ w(t−1) · κ · Y_pre                               (transitional pension)
             + 12 τ_IA b̄ w(t) · Y_post / divisor(R) ]`` (individual account, credited at wage growth)
  with ``Y`` the credited years, ``Y_pre`` the deemed years of service before the accounts'
  national start (1997), ``Y_post = Y − Y_pre``, ``W(t−1) = α w(t−1)`` from 2019 (the all-unit
  wage) and ``w(t−1)`` before, and ``s`` the one scale factor fitted to base-year expenditure.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "frozen_coverage_year",
    "effective_contribution_index",
    "own_base_index",
    "employee_contribution_index",
    "deemed_years_before_accounts",
    "benefit_wage_relative",
    "new_award",
]


def frozen_coverage_year(years: np.ndarray, freeze_year: np.ndarray) -> np.ndarray:
    """Year whose working-age coverage level a cell carries: ``min(t, t_f)``.

    ``years[T]`` and ``freeze_year[T, A, C]`` (the calendar year in which the cell's cohort
    reaches its retirement age). Returns float ``[T, A, C]``.
    """
    return np.minimum(np.asarray(years, dtype=float)[:, None, None],
                      np.asarray(freeze_year, dtype=float))


def effective_contribution_index(employee_index, flexible_share: float,
                                 flexible_base_relative: float, all_unit_relative: float,
                                 flexible_rate: float, full_rate: float):
    """``ρ = (1 − f) ρ_e + f β_flex α r_flex / τ``: contributions per paying contributor per
    unit of the full employee rate ``τ`` and of the average wage ``w`` (dimensionless)."""
    return ((1.0 - flexible_share) * np.asarray(employee_index, dtype=float)
            + flexible_share * flexible_base_relative * all_unit_relative * flexible_rate
            / full_rate)


def employee_contribution_index(effective_index, flexible_share: float,
                                flexible_base_relative: float, all_unit_relative: float,
                                flexible_rate: float, full_rate: float):
    """Inverse of :func:`effective_contribution_index`: the employees' ``ρ_e`` from ``ρ``."""
    flex = flexible_share * flexible_base_relative * all_unit_relative * flexible_rate / full_rate
    return (np.asarray(effective_index, dtype=float) - flex) / (1.0 - flexible_share)


def own_base_index(employee_index, flexible_share: float, flexible_base_relative: float,
                   all_unit_relative: float):
    """``b̄ = (1 − f) ρ_e + f β_flex α``: the payers' average contribution base relative to the
    average wage ``w`` (the own indexed wage of the benefit formula, in units of ``w``)."""
    return ((1.0 - flexible_share) * np.asarray(employee_index, dtype=float)
            + flexible_share * flexible_base_relative * all_unit_relative)


def deemed_years_before_accounts(birth_year, entry_age, retirement_age, density,
                                 accounts_start_year: int):
    """Contribution years served before the individual accounts' national start (deemed years
    of the transitional pension): ``density · clip(start − (b + 1/2 + entry), 0, R − entry)``.

    Births are spread over the year (mid-year ``b + 1/2``). Years, broadcast shape.
    """
    start_work = np.asarray(birth_year, dtype=float) + 0.5 + np.asarray(entry_age, dtype=float)
    span = np.maximum(np.asarray(retirement_age, dtype=float) - entry_age, 0.0)
    return density * np.clip(accounts_start_year - start_work, 0.0, span)


def benefit_wage_relative(year, all_unit_relative: float, from_year: int):
    """``W(t)/w(t)``: the benefit formula's average wage of year ``t`` relative to the accounts'
    average wage: ``α`` from ``from_year`` (the all-unit average, Guobanfa [2019] No. 13), 1
    before (the urban non-private average)."""
    return np.where(np.asarray(year) >= from_year, all_unit_relative, 1.0)


def new_award(wage_prev, wage_now, benefit_wage_prev, own_base, years_credited, years_before,
              divisor_months, accrual_rate: float, transitional_rate: float,
              individual_account_rate: float, scale: float = 1.0):
    """A new pension, yuan a year (Guofa [2005] No. 38 Art. 6; Guofa [1997] No. 26).

    ``P = s [ (W_{t−1} + b̄ w_{t−1})/2 · accrual · Y + b̄ w_{t−1} κ Y_pre
    + 12 τ_IA b̄ w_t (Y − Y_pre) / divisor ]``.

    Parameters (broadcastable arrays)
    ----------
    wage_prev, wage_now : the average wage ``w`` of the year before the award and of the award
        year, yuan a year.
    benefit_wage_prev : ``W_{t−1}``, the benefit formula's average wage of the year before.
    own_base : ``b̄``, the own indexed wage relative to ``w``.
    years_credited : ``Y``; years_before : ``Y_pre ≤ Y`` (deemed years before the accounts).
    divisor_months : the individual-account divisor at the retirement age (months).
    accrual_rate, transitional_rate, individual_account_rate : 1 %, ``κ``, ``τ_IA`` (fractions).
    scale : ``s``, the base-year scale factor (1: the formula alone).
    """
    wage_prev = np.asarray(wage_prev, dtype=float)
    years = np.asarray(years_credited, dtype=float)
    before = np.minimum(np.asarray(years_before, dtype=float), years)
    own_prev = own_base * wage_prev
    basic = (np.asarray(benefit_wage_prev, dtype=float) + own_prev) / 2.0 * accrual_rate * years
    transitional = own_prev * transitional_rate * before
    account = (12.0 * individual_account_rate * own_base * np.asarray(wage_now, dtype=float)
               * (years - before) / np.asarray(divisor_months, dtype=float))
    return scale * (basic + transitional + account)
