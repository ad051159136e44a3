"""The pension block's books for the OLG economy's government: one pension system.

The economy's government does not run pension rules of its own: it takes the accounts'
per-person rates (:func:`models.pension.accounts.account_rates`: coverage followed through
retirement, the retirement-age distribution from the month after the age, the award by the
benefit formula with the all-unit wage, the transitional pension and the individual accounts
from 1997, the one scale factor, indexation of pensions in payment) and applies them to its own
population and its own average wage path, cell by cell ``(t, a, c)``:

* insured workers ``N_w = pop · insured_rate``, pensioners ``N_p = pop · pensioner_rate``;
* contributions ``(τ_pool(t) + τ_IA) ρ χ w(t) N_w`` (``ρ`` the effective contribution index of
  the base-year fit, ``χ`` compliance, ``w(t) = w0 · W̄(t)/W̄(base)`` the accounts' average
  wage moved by the economy's average covered wage);
* expenditure ``N_p · P(t, a, c)`` with ``P`` the cohort's average pension in payment.

These are the equations of :func:`models.pension.accounts.project_accounts`, so under the same
prices (wage path, population, pooled rate, indexation) the economy's pensioners, contributions
and expenditure are the accounts' (``tests/test_agreement.py``). The economy's households of the
employee kind of category ``c`` receive and pay the cell's flows per person of that kind
(:func:`per_kind_person`), so what the government pays is what households receive.

Scope and what stays the economy's own:

* the economy's ages (``first_age``..``last_age``): the accounts' insured below ``first_age``
  (the coverage ramp from 16) are outside the economy's households (0.9–1.6 % of the
  accounts' contributions, 2021–2100);
* the years ``base .. base + T`` of the transition; the terminal steady state (and the cohorts'
  flows after ``T``) keep the economy's cohort rules (:func:`models.economy.core.
  cohort_budget`), as do the calibration of the base-year economy and its initial state;
* the economy's kinds keep their coverage by birth cohort, so per person of the employee kind
  the book's flows differ from the accounts' per covered person by the ratio of the two
  coverages (aggregates equal);
* retirement set by policy (the households' retirement choice off); with elastic hours a
  household's contributions are the book's full-time ones times its hours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from models.config import CATEGORIES, FinancesCalibration, PensionCalibration
from models.pension.accounts import BaseYearFit, account_rates, retirement_schedule

__all__ = ["PensionBook", "pension_book", "book_flows", "per_kind_person", "rebuild_book"]


@dataclass(frozen=True)
class PensionBook:
    """What the economy's government needs from the pension block: the retirement schedule of
    the policy's regime (and delays) over the economy's years and ages, the base-year fit and
    the calibrations holding the scheme's rates."""

    schedule: xr.Dataset
    fit: BaseYearFit
    pension: PensionCalibration
    finances: FinancesCalibration
    # [year, age, category] persons weighing the open age group's average pension (the median
    # demography, so a Monte Carlo path's flows do not depend on the other paths of its chunk);
    # None: the first path of the population given
    weights: np.ndarray | None = None

    def __reduce__(self):
        """Pickled with the calibrations as JSON (their generic ``Param`` fields do not pickle),
        so a book reaches worker processes (:mod:`models.parallel`)."""
        return (rebuild_book, (self.schedule, self.fit, type(self.pension),
                               self.pension.model_dump_json(), type(self.finances),
                               self.finances.model_dump_json(), self.weights))


def rebuild_book(schedule: xr.Dataset, fit: BaseYearFit, pension_type: type, pension_json: str,
                 finances_type: type, finances_json: str,
                 weights: np.ndarray | None = None) -> PensionBook:
    """The :class:`PensionBook` of :meth:`PensionBook.__reduce__`'s pickle."""
    return PensionBook(schedule, fit, pension_type.model_validate_json(pension_json),
                       finances_type.model_validate_json(finances_json), weights)


def pension_book(years, ages, regime: str, fit: BaseYearFit, pension: PensionCalibration,
                 finances: FinancesCalibration,
                 extra_delay_months: xr.DataArray | None = None,
                 weights: xr.DataArray | None = None) -> PensionBook:
    """The book of ``regime`` (with the policy's ``extra_delay_months[year, category]``) over
    ``years`` (the first is the base year) and ``ages`` (the economy's); ``weights[year, age,
    category]`` (e.g. the median population by category; years after its last hold its last)
    weigh the open age group (:attr:`PensionBook.weights`)."""
    years, ages = np.asarray(years), np.asarray(ages)
    schedule = retirement_schedule(years, ages, regime, pension, extra_delay_months)
    held = None
    if weights is not None:
        known = weights["year"].values
        held = weights.sel(year=np.clip(years, known[0], known[-1]), age=ages).transpose(
            "year", "age", "category").values
    return PensionBook(schedule=schedule, fit=fit, pension=pension, finances=finances,
                       weights=held)


def book_flows(book: PensionBook, population_c: np.ndarray, wage_index: np.ndarray,
               pooled_rate: np.ndarray, indexation_share: np.ndarray) -> dict[str, np.ndarray]:
    """Cell flows of the scheme, yuan a year at base-year prices, ``[B, T, A, C]``.

    ``population_c[P, T, A, C]`` persons by year, age (the schedule's) and category on 1
    January (``P`` is 1 or ``B``; the book's ``weights``, else path 0, weigh the open age
    group's average pension);
    ``wage_index[B, T]`` the average wage relative to the base year; ``pooled_rate[T]`` and
    ``indexation_share[T]`` the policy's. Returns ``insured``, ``pensioners`` (persons),
    ``contributions`` and ``expenditure`` (yuan) ``[B, T, A, C]`` and ``subsidy`` ``[B, T]``
    (the calibrated subsidy rule, yuan: base-year subsidy × wage index).
    """
    sched = book.schedule
    years = sched["year"].values
    pension = book.pension
    coords = {"year": years, "age": sched["age"].values, "category": list(CATEGORIES)}
    base_weights = (population_c[0] if book.weights is None
                    else book.weights[:len(years)])
    weights = xr.DataArray(base_weights, dims=("year", "age", "category"), coords=coords)
    index = xr.DataArray(np.asarray(wage_index, dtype=float), dims=("batch", "year"),
                         coords={"year": years})
    share = xr.DataArray(np.asarray(indexation_share, dtype=float), dims="year",
                         coords={"year": years})
    rates = account_rates(sched, book.fit, pension, book.finances, weights, wage_index=index,
                          indexation_share=share)
    con = pension.contribution
    insured = population_c * rates["insured_rate"].values
    pensioners = population_c * rates["pensioner_rate"].values
    wage = rates["average_wage_cny"].transpose("batch", "year").values  # [B, T]
    per_worker = ((np.asarray(pooled_rate, dtype=float) + con.individual_account_rate.value)
                  * book.fit.contribution_index * con.compliance.value * wage)
    return {
        "insured": insured,
        "pensioners": pensioners,
        "contributions": insured * per_worker[:, :, None, None],
        "expenditure": pensioners * rates["pension_cny"].transpose(
            "batch", "year", "age", "category").values,
        "subsidy": rates["fiscal_subsidy_cny"].transpose("batch", "year").values,
    }


def per_kind_person(cell: np.ndarray, persons_of_kind: np.ndarray) -> np.ndarray:
    """A cell's flow ``[..., C]`` per person of the kind that carries it ``[..., C]`` (0 where
    the kind has nobody: the caller checks that no flow is lost there)."""
    return np.divide(cell, persons_of_kind, out=np.zeros(np.broadcast_shapes(
        cell.shape, persons_of_kind.shape)), where=persons_of_kind > 0)
