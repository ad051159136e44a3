"""The employee fund on many Monte Carlo paths at once: a batched NumPy kernel of the accounts.

:func:`models.pension.accounts.project_accounts` keeps the labelled books of one population
(every flow by category, the reserve, the residents' scheme); a Monte Carlo run needs, on
thousands of paths, only the fund: its year-end balance, months payable, first-deficit and
depletion years. This module computes those from the same per-person rates
(:func:`models.pension.accounts.account_rates`) with the path as the leading dimension of plain
arrays (xarray only where a block is made), with the same fund recursion
(:func:`models.pension.accounts.fund_balance`), so both agree to rounding.

Equations (``n`` path, ``t`` year, ``a`` age, ``s`` sex, ``c`` category with sex ``s(c)`` and
weight ``ω_c`` within its sex: 1 for men, ``women_cadre_share`` and its complement for women):

* the categories fold into the sexes before any path is touched:
  ``R_x(t, a, s) = Σ_{c: s(c)=s} ω_c x(t, a, c)`` for ``x`` the insured rate and the expenditure
  per person ``pensioner_rate · pension_cny`` (a :class:`FundBlock`);
* head counts and flows are one contraction per path and year,
  ``N_w(n, t) = Σ_{a,s} pop(n, t, a, s) R_insured(t, a, s)``,
  ``E(n, t) = Σ_{a,s} pop(n, t, a, s) R_expenditure(t, a, s)`` (yuan a year),
  ``contributions = (τ_pool + τ_IA) · ρ w(t) χ N_w``;
* the fund ``B(t+1) = B(t) + r(t) max(B, 0) − r(t) max(−B, 0) + contributions + subsidy − E``,
  months payable ``B(t+1) / (E / 12)``.

Every per-path number depends only on that path's population and its block (each contraction
is one dot product of a contiguous row per path and year: a fixed order of summation), so results do not depend on how paths are batched, chunked or spread over
workers (tests/test_monte_carlo_accounts.py checks a path alone against a batch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from models.config import CATEGORIES, SEXES, FinancesCalibration, PensionCalibration
from models.pension.accounts import CATEGORY_SEX, BaseYearFit, fund_balance

__all__ = ["FundBlock", "fund_block", "fold_categories", "path_flows", "fund_of_flows", "fund_paths",
           "first_year_of"]


@dataclass(frozen=True)
class FundBlock:
    """The pension block of one policy and parameter set, as the fund of a path needs it.

    ``insured[T, A, S]`` insured workers per person; ``expenditure[..., T, A, S]`` pension
    expenditure per person (yuan a year); ``wage[..., T]`` the average wage and
    ``subsidy[..., T]`` the fiscal subsidy (yuan a year); ``fund_return[..., T]`` the fund's
    real return; ``contribution_rate`` ``τ_pool + τ_IA``; ``contribution_index`` ``ρ``;
    ``compliance`` ``χ``; ``balance_start_cny`` ``B(base)``. A leading dimension (paths, e.g.
    per-path prices) must match the populations it is applied to.
    """

    insured: np.ndarray
    expenditure: np.ndarray
    wage: np.ndarray
    subsidy: np.ndarray
    fund_return: np.ndarray
    contribution_rate: float
    contribution_index: float
    compliance: float
    balance_start_cny: float


def fold_categories(values: np.ndarray, women_cadre_share: float) -> np.ndarray:
    """``[..., category] -> [..., sex]``: ``Σ_{c: s(c)=s} ω_c values[..., c]`` (the population
    by category is its sex's population times ``ω_c``, :func:`models.pension.accounts.
    category_population`)."""
    weight = {"men": 1.0, "women_cadre": women_cadre_share,
              "women_worker": 1.0 - women_cadre_share}
    out = np.zeros(values.shape[:-1] + (len(SEXES),))
    for c, cat in enumerate(CATEGORIES):
        out[..., SEXES.index(CATEGORY_SEX[cat])] += weight[cat] * values[..., c]
    return out


def fund_block(rates: xr.Dataset, fit: BaseYearFit, pension: PensionCalibration,
               finances: FinancesCalibration, fund_return: xr.DataArray | None = None,
               lead: tuple[str, ...] = ()) -> FundBlock:
    """A :class:`FundBlock` from :func:`models.pension.accounts.account_rates` (whose
    ``pension_cny`` and wages may carry the leading dimensions ``lead``, e.g. ``path`` under
    per-path prices) and ``fund_return[..., year]`` (the calibrated return if None)."""
    tail = ("year", "age", "category")

    def values(name: str, dims: tuple[str, ...]) -> np.ndarray:
        arr = rates[name]
        return arr.transpose(*[d for d in lead if d in arr.dims], *dims).values

    share = pension.retirement.women_cadre_share.value
    pensioners = rates["pensioner_rate"].transpose(*tail).values
    years = rates["year"].values
    if fund_return is None:
        r_fund = np.full(len(years), finances.fund.real_return.value)
    else:
        arr = fund_return.sel(year=years)
        r_fund = arr.transpose(*[d for d in lead if d in arr.dims], "year").values
    con = pension.contribution
    return FundBlock(
        insured=fold_categories(rates["insured_rate"].transpose(*tail).values, share),
        expenditure=fold_categories(pensioners * values("pension_cny", tail), share),
        wage=values("average_wage_cny", ("year",)),
        subsidy=values("fiscal_subsidy_cny", ("year",)),
        fund_return=r_fund,
        contribution_rate=con.employer_pooled_rate.value + con.individual_account_rate.value,
        contribution_index=fit.contribution_index,
        compliance=con.compliance.value,
        balance_start_cny=fit.fund_balance_start_cny,
    )


def first_year_of(condition: np.ndarray, years: np.ndarray) -> np.ndarray:
    """First year along the last axis where ``condition[..., year]`` holds (NaN if never)."""
    hit = condition.any(axis=-1)
    return np.where(hit, np.asarray(years, dtype=float)[condition.argmax(axis=-1)], np.nan)


def _contract(population: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """``Σ_{a,s} population[n, t, a, s] rate[(n,) t, a, s]``: one dot product of contiguous
    rows per path and year (``numpy.vecdot``), whose order of summation depends on the row's
    length only, not on the rows beside it or their address (tested: a path alone, in a batch
    and shifted in memory give the same bits); a matrix product over paths, or ``einsum``,
    may change it with the number of paths."""
    rows = population.shape[:2] + (-1,)
    return np.vecdot(population.reshape(rows), rate.reshape(rate.shape[:-2] + (-1,)))


def path_flows(population: np.ndarray, block: FundBlock) -> tuple[np.ndarray, np.ndarray]:
    """Insured workers ``N_w`` and pension expenditure ``E`` (yuan a year) ``[path, year]`` of
    ``population[path, year, age, sex]`` (persons on 1 January) under ``block``."""
    pop = np.ascontiguousarray(population, dtype=np.float64)
    return _contract(pop, block.insured), _contract(pop, block.expenditure)


def fund_of_flows(n_insured: np.ndarray, expenditure: np.ndarray, block: FundBlock,
                  years: np.ndarray) -> dict:
    """The fund from :func:`path_flows` ``[path, year]``: ``balance_end_cny``,
    ``months_payable``, ``expenditure_cny``, ``contributions_cny``, ``fiscal_subsidy_cny``
    ``[path, year]`` and ``first_deficit_year``, ``depletion_year`` ``[path]`` (calendar years,
    NaN if none by the last year), as in :func:`models.pension.accounts.fund_milestones`."""
    wage = np.broadcast_to(block.wage, n_insured.shape)
    subsidy = np.broadcast_to(block.subsidy, n_insured.shape)
    contribution_base = block.contribution_index * wage * block.compliance * n_insured
    contributions = block.contribution_rate * contribution_base
    zeros = np.zeros_like(expenditure)
    balance, _, _ = fund_balance(block.balance_start_cny,
                                 np.broadcast_to(block.fund_return, n_insured.shape),
                                 contributions, subsidy, zeros, zeros, expenditure)
    balance_end = balance[..., 1:]
    return {
        "balance_end_cny": balance_end,
        "months_payable": balance_end / (expenditure / 12.0),
        "expenditure_cny": expenditure,
        "contributions_cny": contributions,
        "fiscal_subsidy_cny": subsidy,
        "first_deficit_year": first_year_of(expenditure > contributions + subsidy, years),
        "depletion_year": first_year_of(balance_end < 0, years),
    }


def fund_paths(population: np.ndarray, block: FundBlock, years: np.ndarray) -> dict:
    """The fund of every path, ``population[path, year, age, sex]`` (persons on 1 January):
    :func:`fund_of_flows` of :func:`path_flows`. The equations are in the module docstring."""
    return fund_of_flows(*path_flows(population, block), block, years)
