"""Pension policy as the economy sees it: a small frozen object the optimizer can pass.

A :class:`Policy` holds the employer pooled contribution rate by year, the individual-account
rate, the statutory retirement-age regime (with optional replacement of the 2024 law's
parameters and an extra delay per category, as the optimizer's retirement lever), the
indexation of pensions in payment and the fund rule (months of expenditure held).
Its methods turn it into arrays with :mod:`models.pension.rules`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr

from models.config import CATEGORIES, PensionCalibration
from models.pension import rules

__all__ = ["Policy"]


@dataclass(frozen=True, eq=False)
class Policy:
    """Pension policy.

    Attributes
    ----------
    pooled_rate : ``((from_year, rate), ...)``: employer pooled contribution rate (fraction of
        the contribution base), piecewise constant from each year on (the first step also
        covers earlier years).
    individual_account_rate : employee individual-account rate (fraction of the base).
    retirement_regime : ``"pre_2024"`` or ``"law_2024"`` (:mod:`models.pension.rules`).
    retirement_rules : optional replacement of the 2024 law's parameters by category
        (:class:`models.pension.rules.RetirementAgeRule`).
    extra_delay_months : optional ``DataArray[year, category]``: months added to the statutory
        age of the cohorts that reach the regime's age in that year (later years keep the last
        value; years before the first have none) -- the same lever as
        :func:`models.pension.retirement_schedule`.
    indexation_wage_share : real indexation of pensions in payment as a share of the real
        growth of the average covered wage.
    indexation_path : optional ``((from_year, share), ...)``: the share from each year on
        (the optimizer's indexation lever); ``indexation_wage_share`` before the first step.
    fund_months : the fund rule: the employee fund holds this many months of the year's
        pension expenditure on 1 January; the fiscal subsidy makes up the rest.
    """

    pooled_rate: tuple[tuple[int, float], ...] = ((2021, 0.16),)
    individual_account_rate: float = 0.08
    retirement_regime: str = "law_2024"
    retirement_rules: Mapping[str, rules.RetirementAgeRule] | None = None
    extra_delay_months: xr.DataArray | None = None
    indexation_wage_share: float = 0.6
    fund_months: float = 11.0
    indexation_path: tuple[tuple[int, float], ...] | None = None

    def __post_init__(self) -> None:
        if self.retirement_regime not in rules.REGIMES:
            raise ValueError(f"retirement_regime must be one of {rules.REGIMES}, "
                             f"got {self.retirement_regime!r}")
        years = [y for y, _ in self.pooled_rate]
        if not years or years != sorted(set(years)):
            raise ValueError(f"pooled_rate steps need strictly increasing years, got {years}")
        if self.fund_months < 0:
            raise ValueError(f"fund_months must be >= 0, got {self.fund_months}")
        if self.extra_delay_months is not None:
            if set(self.extra_delay_months.dims) != {"year", "category"}:
                raise ValueError("extra_delay_months must have dims (year, category)")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_calibration(cls, pension: PensionCalibration, regime: str = "law_2024",
                         fund_months: float = 11.0, base_year: int = 2021) -> Policy:
        """The calibrated scheme (pension.toml) under a retirement regime."""
        return cls(
            pooled_rate=((int(base_year), pension.contribution.employer_pooled_rate.value),),
            individual_account_rate=pension.contribution.individual_account_rate.value,
            retirement_regime=regime,
            indexation_wage_share=pension.benefit.indexation_wage_share.value,
            fund_months=float(fund_months),
        )

    def replace(self, **changes) -> Policy:
        return dataclasses.replace(self, **changes)

    def with_pooled_rate(self, rate: xr.DataArray) -> Policy:
        """A copy whose pooled rate follows ``rate[year]`` (held after its last year)."""
        return self.replace(pooled_rate=_steps(rate))

    def with_indexation(self, share: xr.DataArray) -> Policy:
        """A copy whose indexation share follows ``share[year]`` (held after its last year;
        ``indexation_wage_share`` before its first)."""
        return self.replace(indexation_path=_steps(share))

    # ------------------------------------------------------------------ arrays
    def pooled_rate_in(self, years) -> np.ndarray:
        """Employer pooled rate in force in each calendar year."""
        starts = np.array([y for y, _ in self.pooled_rate])
        rates = np.array([r for _, r in self.pooled_rate], dtype=float)
        idx = np.clip(np.searchsorted(starts, np.asarray(years), side="right") - 1, 0, None)
        return rates[idx]

    def indexation_share_in(self, years) -> np.ndarray:
        """Indexation share (fraction of real wage growth) in force in each calendar year."""
        years = np.asarray(years)
        out = np.full(years.shape, float(self.indexation_wage_share))
        if self.indexation_path:
            starts = np.array([y for y, _ in self.indexation_path])
            shares = np.array([v for _, v in self.indexation_path], dtype=float)
            idx = np.searchsorted(starts, years, side="right") - 1
            out = np.where(idx >= 0, shares[np.clip(idx, 0, None)], out)
        return out

    def statutory_age_months(self, birth_years) -> np.ndarray:
        """Statutory retirement age in (possibly fractional) months, ``[birth_year, category,
        birth_month]`` (months January..December): the regime's age
        (:func:`models.pension.rules.statutory_retirement_age_months`) plus any extra delay for
        the cohort's reach year ``floor(b + 1/2 + R)`` (as :func:`models.pension.reach_year`)."""
        b = np.asarray(birth_years, dtype=np.int64)
        grid = (b.size, 12)
        months = np.broadcast_to(np.arange(1, 13), grid)
        out = np.empty((b.size, len(CATEGORIES), 12))
        for j, cat in enumerate(CATEGORIES):
            law = np.asarray(rules.statutory_retirement_age_months(
                np.broadcast_to(b[:, None], grid), months, cat, self.retirement_regime,
                rules=self.retirement_rules), dtype=float)
            delay = np.zeros(b.size)
            if self.extra_delay_months is not None:
                lever = self.extra_delay_months.sel(category=cat)
                lever_years = lever["year"].values
                reach = np.floor(b + 0.5 + law.mean(axis=1) / 12.0 + 1e-9).astype(int)
                idx = np.clip(np.searchsorted(lever_years, reach, side="right") - 1, 0, None)
                delay = np.where(reach >= lever_years[0], lever.values[idx], 0.0)
            out[:, j, :] = law + delay[:, None]
        return out

    def minimum_contribution_years(self, years) -> np.ndarray:
        """Minimum contribution years for a pension, by calendar year of retirement."""
        return np.asarray(rules.minimum_contribution_years(
            np.asarray(years, dtype=np.int64), self.retirement_regime), dtype=float)


def _steps(values: xr.DataArray) -> tuple[tuple[int, float], ...]:
    """``values[year]`` as ``((year, value), ...)`` steps."""
    return tuple((int(y), float(v)) for y, v in zip(values["year"].values, values.values))
