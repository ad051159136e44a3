"""Typed, validated calibration and experiment schemas.

A calibration is a folder (default ``calibration/china``) of TOML files, one per domain
(``demography.toml``, ``pension.toml``, ``finances.toml``). Every number is a :class:`Param`
carrying its ``value``, ``unit`` and ``source``; arrays are CSV files named in the TOML with
their sha256 (:class:`ArrayFile`). An experiment (``experiments/<name>.toml``) names a
calibration, optional overrides (dotted key -> value) and what to run.

Schemas are pydantic v2 models, frozen, with unknown keys forbidden and strict types: a number
must be written as a number (``"0.80"``, ``true`` or ``"42"`` are refused, never coerced) and be
finite (``inf``, ``nan`` and overflowing literals such as ``1e400`` are refused). Loading is the
only place these files are read; it happens when a ``load_*`` function is called, never at import.
Every failure raises :class:`ConfigError` naming the file, the key path, the value and what
was expected (with the closest valid name for an unknown key).
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import io
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar, get_args, get_origin

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from models.constants import CATEGORIES, REGIMES, SEXES  # defined once; re-exported here

T = TypeVar("T")

DOMAINS = ("demography", "pension", "finances", "economy", "checks")
MAX_AGE = 100
FERTILITY_AGES = range(10, 55)
FIRST_PUBLISHED_PROJECTION_YEAR = 2024  # WPP 2024: estimates to 2023, projections from 2024


class ConfigError(ValueError):
    """A calibration or experiment file is malformed, incomplete or out of range."""


class RuleError(ValueError):
    """A cross-field rule broken inside a schema: ``key`` is the dotted key path (from the model
    that raised it) of the value to blame, so the message names that key and its file."""

    def __init__(self, key: str, value: Any, expected: str):
        super().__init__(f"key '{key}' = {value!r}: expected {expected}")
        self.key, self.value, self.expected = key, value, expected


class Strict(BaseModel):
    # strict: no coercion of strings or booleans to numbers (an int is still a valid float);
    # allow_inf_nan=False: no inf or NaN unless a field says otherwise
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class Param(Strict, Generic[T]):
    """One calibration value with its unit and its source (document, table, year)."""

    value: T
    unit: Annotated[str, Field(min_length=1)]
    source: Annotated[str, Field(min_length=3)]
    note: str | None = None
    # a parameter the base-year fit does not pin: its plausible range (parameter uncertainty,
    # models.pension.uncertainty) and what would pin it
    low: float | None = None
    high: float | None = None
    pinned_by: str | None = None

    @model_validator(mode="after")
    def _range(self) -> Param:
        """A plausible range is given whole and is not empty: ``low <= high``. (The value may
        lie outside it: an experiment may explore beyond the stated range.)"""
        if (self.low is None) != (self.high is None):
            raise ValueError("low and high go together")
        if self.low is not None and not self.low <= self.high:
            raise ValueError(f"expected low <= high, got low = {self.low} > high = {self.high}")
        return self
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            raise RuleError("low", self.low, "no range on a value that is not a number")
        if not self.low <= self.value:
            raise RuleError("low", self.low, f"a number <= value = {self.value}")
        if not self.value <= self.high:
            raise RuleError("high", self.high, f"a number >= value = {self.value}")
        return self


Fraction = Param[Annotated[float, Field(ge=0.0, le=1.0)]]
Rate = Param[Annotated[float, Field(ge=-0.5, le=0.5)]]
PositiveFloat = Param[Annotated[float, Field(gt=0.0)]]
NonNegativeFloat = Param[Annotated[float, Field(ge=0.0)]]
Year = Param[Annotated[int, Field(ge=1950, le=2300)]]
Age = Param[Annotated[float, Field(ge=0.0, le=MAX_AGE)]]


class ArrayFile(Strict):
    """A CSV array shipped with the calibration, pinned by its sha256."""

    file: Annotated[str, Field(min_length=1)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    unit: Annotated[str, Field(min_length=1)]
    source: Annotated[str, Field(min_length=3)]


# ---------------------------------------------------------------------------- demography
class DemographyArrays(Strict):
    base_population: ArrayFile
    mortality_lee_carter: ArrayFile
    mortality_kt: ArrayFile
    mortality_kt_history: ArrayFile
    mortality_history: ArrayFile
    fertility_asfr: ArrayFile
    sex_ratio_at_birth: ArrayFile
    net_migration: ArrayFile
    tfr_published: ArrayFile
    e0_published: ArrayFile


class DemographyCalibration(Strict):
    base_year: Year
    last_year: Year
    arrays: DemographyArrays

    @model_validator(mode="after")
    def _years_ordered(self) -> DemographyCalibration:
        if self.last_year.value <= self.base_year.value:
            raise RuleError("last_year.value", self.last_year.value,
                            f"a year after base_year.value = {self.base_year.value}")
        return self


# ---------------------------------------------------------------------------- pension
class DivisorTable(Strict):
    """Individual-account divisor (months) by retirement age, Guofa [2005] No. 38 annex."""

    ages: list[Annotated[int, Field(ge=40, le=70)]]
    months: list[Annotated[float, Field(gt=0)]]
    unit: str
    source: str

    @model_validator(mode="after")
    def _consistent(self) -> DivisorTable:
        if len(self.ages) != len(self.months):
            raise ValueError(f"ages has {len(self.ages)} entries but months has {len(self.months)}")
        if any(b - a != 1 for a, b in zip(self.ages, self.ages[1:])):
            raise ValueError("ages must be consecutive whole years")
        if any(b >= a for a, b in zip(self.months, self.months[1:])):
            raise ValueError("months must decrease with the retirement age")
        return self


class Contribution(Strict):
    employer_pooled_rate: Fraction
    individual_account_rate: Fraction
    compliance: Fraction
    # flexible workers (灵活就业人员): their share of paying contributors, their base relative
    # to the all-unit average wage and their total rate (models.pension.block)
    flexible_worker_share: Fraction
    flexible_base_relative: Param[Annotated[float, Field(ge=0.6, le=3.0)]]
    flexible_rate: Fraction


class Benefit(Strict):
    accrual_rate: Fraction
    indexation_wage_share: Param[Annotated[float, Field(ge=0.0, le=1.5)]]
    individual_account_divisor: DivisorTable
    # transitional pension for service before the individual accounts (models.pension.block)
    transitional_accrual_rate: Param[Annotated[float, Field(ge=0.0, le=0.05)]]
    individual_account_start_year: Year
    historical_indexation_wage_share: Param[Annotated[float, Field(ge=0.0, le=1.5)]]


class PerCategory(Strict, Generic[T]):
    men: T
    women_cadre: T
    women_worker: T


class Retirement(Strict):
    women_cadre_share: Fraction
    entry_age: PerCategory[Age]
    contribution_density: Fraction
    contribution_years_sd: PositiveFloat
    award_lag_months: Param[Annotated[int, Field(ge=0, le=12)]]
    # retirement ages as a distribution (models.pension.accounts.retirement_components)
    special_early_share: PerCategory[Fraction]
    special_early_years: Param[Annotated[float, Field(ge=0.0, le=10.0)]]
    flexible_early_share: Fraction
    flexible_late_share: Fraction
    flexible_late_months: Param[Annotated[float, Field(ge=0.0, le=36.0)]]

    @model_validator(mode="after")
    def _shares(self) -> Retirement:
        for cat in ("men", "women_cadre", "women_worker"):
            total = (getattr(self.special_early_share, cat).value
                     + self.flexible_early_share.value + self.flexible_late_share.value)
            if total > 1.0:
                raise ValueError(f"special_early_share.{cat} + flexible_early_share + "
                                 f"flexible_late_share = {total:.3f} must be <= 1")
        return self


class Coverage(Strict):
    entry_age_start: Age
    entry_age_full: Age
    female_relative: Param[Annotated[float, Field(gt=0.0, le=1.5)]]
    long_run_level_relative: Param[Annotated[float, Field(ge=1.0, le=3.0)]]
    convergence_rate: Fraction

    @model_validator(mode="after")
    def _ages(self) -> Coverage:
        if self.entry_age_full.value <= self.entry_age_start.value:
            raise ValueError(
                f"entry_age_full.value = {self.entry_age_full.value} must exceed "
                f"entry_age_start.value = {self.entry_age_start.value}"
            )
        return self


class Residents(Strict):
    """Urban and rural residents' scheme: a flat basic pension from the budget, and optionally
    the equity reform (a study scenario): from ``reform_year`` the pension moves linearly over
    ``phase_in_years`` to ``target_share_of_employee_pension`` times the average employee
    pension (:func:`models.pension.rules.residents_reformed_pension`). The three reform keys go
    together; absent (the default), the status quo applies."""

    basic_pension_monthly_cny: PositiveFloat
    indexation_wage_share: Param[Annotated[float, Field(ge=0.0, le=1.5)]]
    eligibility_age: Age
    target_share_of_employee_pension: Param[Annotated[float, Field(gt=0.0, le=1.0)]] | None = None
    reform_year: Year | None = None
    phase_in_years: Param[Annotated[int, Field(ge=0, le=50)]] | None = None

    @model_validator(mode="after")
    def _reform_keys_together(self) -> Residents:
        keys = ("target_share_of_employee_pension", "reform_year", "phase_in_years")
        given = [k for k in keys if getattr(self, k) is not None]
        if given and len(given) < len(keys):
            missing = [k for k in keys if k not in given]
            raise ValueError(f"the equity reform needs {', '.join(keys)} together: "
                             f"{', '.join(given)} given, {', '.join(missing)} missing")
        return self

    @property
    def reformed(self) -> bool:
        """Whether the equity reform is set."""
        return self.target_share_of_employee_pension is not None


class BaseYearTargets(Strict):
    """Reported figures the base year must reproduce (MOHRSS statistical bulletin)."""

    year: Year
    insured_workers: PositiveFloat
    retirees: PositiveFloat
    revenue_cny: PositiveFloat
    expenditure_cny: PositiveFloat
    balance_end_cny: NonNegativeFloat
    residents_recipients: PositiveFloat
    residents_expenditure_cny: PositiveFloat


class PensionCalibration(Strict):
    contribution: Contribution
    benefit: Benefit
    retirement: Retirement
    coverage: Coverage
    residents: Residents
    targets: BaseYearTargets


# ---------------------------------------------------------------------------- finances
class GrowthSegment(Strict):
    from_year: Annotated[int, Field(ge=1950, le=2300)]
    rate: Annotated[float, Field(ge=-0.2, le=0.2)]


class GrowthPath(Strict):
    """A piecewise-constant annual growth rate: each segment holds from its year on."""

    segments: Annotated[list[GrowthSegment], Field(min_length=1)]
    unit: str
    source: str

    @model_validator(mode="after")
    def _ordered(self) -> GrowthPath:
        years = [s.from_year for s in self.segments]
        if years != sorted(set(years)):
            raise ValueError(f"segments must have strictly increasing from_year, got {years}")
        return self

    def rate(self, years: np.ndarray) -> np.ndarray:
        """Growth rate in force in each year (the first segment also covers earlier years)."""
        starts = np.array([s.from_year for s in self.segments])
        rates = np.array([s.rate for s in self.segments])
        idx = np.clip(np.searchsorted(starts, np.asarray(years), side="right") - 1, 0, None)
        return rates[idx]


class Wages(Strict):
    average_wage_cny: PositiveFloat
    real_growth: GrowthPath
    # the benefit formula's wage since 2019 relative to average_wage_cny, and the wage history
    # behind the pensions in payment in the base year (models.pension.block)
    all_unit_wage_relative: Param[Annotated[float, Field(gt=0.3, le=1.5)]]
    all_unit_benefit_base_from_year: Year
    historical_real_growth: Rate


class Fund(Strict):
    real_return: Rate


class FiscalSubsidy(Strict):
    base_year_cny: NonNegativeFloat
    # the fiscal capacity for extra transfers beyond the subsidy rule, a share of GDP per year
    # (models.optimize.data.transfer_capacity); None: unlimited
    extra_capacity_gdp_share: Fraction | None = None


class Reserve(Strict):
    assets_end_base_year_cny: PositiveFloat
    base_year_return: Rate
    real_return: Rate


class Returns(Strict):
    """Bounds of a plausible real return: outside them the return rule warns
    (models.pension.returns)."""

    warn_below: Rate
    warn_above: Rate


class FinancesCalibration(Strict):
    wages: Wages
    fund: Fund
    fiscal_subsidy: FiscalSubsidy
    reserve: Reserve
    returns: Returns


# ---------------------------------------------------------------------------- economy
class EfficiencyProfile(Strict):
    """Age-efficiency profile ``log e(x) = linear · x + quadratic · x²``, ``x = age −
    first_age``."""

    linear: Param[Annotated[float, Field(ge=-0.2, le=0.2)]]
    quadratic: Param[Annotated[float, Field(ge=-0.01, le=0.0)]]


class LabourSupply(Strict):
    """Elastic hours and the retirement choice (issue 14; see
    :class:`models.economy.EconomyParameters` for the utility function)."""

    hours_disutility: NonNegativeFloat
    frisch_elasticity: Param[Annotated[float, Field(gt=0.0, le=5.0)]]
    participation_disutility: NonNegativeFloat
    retirement_choice: Param[bool]
    retirement_options: Param[Annotated[int, Field(ge=1, le=73)]]
    retirement_taste_scale: PositiveFloat


class Households(Strict):
    risk_aversion: Param[Annotated[float, Field(gt=0.0, le=10.0)]]
    discount_factor: Param[Annotated[float, Field(gt=0.5, lt=1.5)]]
    first_age: Param[Annotated[int, Field(ge=15, le=30)]]
    last_age: Param[Annotated[int, Field(ge=60, le=100)]]
    borrowing_limit: NonNegativeFloat
    efficiency: EfficiencyProfile
    uncovered_relative_productivity: PositiveFloat
    uncovered_labour_exit_age: Age
    work_disutility: Param[Annotated[float, Field(ge=0.0, lt=1.0)]]
    labour_supply: LabourSupply | None = None

    @model_validator(mode="after")
    def _ages(self) -> Households:
        if self.last_age.value - self.first_age.value < 10:
            raise ValueError(
                f"last_age.value = {self.last_age.value} must exceed first_age.value = "
                f"{self.first_age.value} by at least 10 years")
        return self


class EconomyCoverage(Strict):
    """Share of each birth cohort covered by the employee scheme (the rest: residents' scheme),
    linear in the birth year between two anchor cohorts and constant outside them; women's share
    is ``female_relative`` times men's."""

    old_cohort_birth_year: Year
    old_cohort_share: Fraction
    young_cohort_birth_year: Year
    young_cohort_share: Fraction
    female_relative: Param[Annotated[float, Field(gt=0.0, le=1.5)]]

    @model_validator(mode="after")
    def _order(self) -> EconomyCoverage:
        if self.young_cohort_birth_year.value <= self.old_cohort_birth_year.value:
            raise ValueError(
                f"young_cohort_birth_year.value = {self.young_cohort_birth_year.value} must be "
                f"after old_cohort_birth_year.value = {self.old_cohort_birth_year.value}")
        return self


class Firms(Strict):
    capital_share: Param[Annotated[float, Field(gt=0.0, lt=1.0)]]
    depreciation: Fraction
    technology_growth: GrowthPath
    closure: Param[Literal["closed", "small_open"]]
    world_interest_rate: Rate


class Government(Strict):
    consumption_share_gdp: Fraction
    fund_months: NonNegativeFloat


class InitialSteadyState(Strict):
    population_growth: Rate
    indexation_wage_share: Param[Annotated[float, Field(ge=0.0, le=1.5)]]


class EconomyTargets(Strict):
    """Base-year figures: the capital-output ratio is fitted (by the discount factor), the
    others are printed beside the model (never fitted)."""

    year: Year
    gdp_cny: PositiveFloat
    capital_output_ratio: PositiveFloat
    interest_rate: Rate
    household_saving_rate: Fraction
    pension_spending_gdp: Fraction
    replacement_rate: Fraction
    # gross national saving / GDP (printed beside the model, not fitted; issue 14)
    national_saving_rate: Fraction | None = None


#: The labour moments the economy's labour supply is fitted to (issue 14;
#: models.economy.calibrate.LABOUR_MOMENTS holds the same names in the same order).
LABOUR_TARGET_NAMES = (
    "employment_male_20plus", "employment_female_20plus", "employment_urban_women_50",
    "employment_urban_men_60", "employment_rural_65", "employment_urban_women_55_64",
    "mean_retirement_age_employees", "law_window_retirement_gap", "law_window_statutory_share",
)


class EconomyCalibration(Strict):
    households: Households
    coverage: EconomyCoverage
    firms: Firms
    government: Government
    initial_steady_state: InitialSteadyState
    targets: EconomyTargets
    # labour moments with their plausible ranges (the fit weighs each by 1 / half its range)
    labour_targets: dict[Literal[LABOUR_TARGET_NAMES], Param[float]] | None = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _labour_ranges(self) -> EconomyCalibration:
        """Every labour target states its range (``low < high``: the fit's weights) and lies
        in it."""
        for name, target in (self.labour_targets or {}).items():
            if target.low is None or target.high is None or not target.low < target.high:
                raise RuleError(f"labour_targets.{name}.low", target.low,
                                "a range low < high (the fit's weight)")
            if not target.low <= target.value <= target.high:
                raise RuleError(f"labour_targets.{name}.value", target.value,
                                f"a value within its stated range [{target.low}, {target.high}]")
        return self


# ---------------------------------------------------------------------------- checks
CHECK_VARIABLES = (
    "births", "deaths", "population_year_end", "population_60plus_year_end",
    "population_65plus_year_end", "pensioners", "insured_workers_plus_pensioners",
)


class Fact(Strict):
    """A reported figure the projection is compared with (never fitted to)."""

    variable: Literal[CHECK_VARIABLES]  # type: ignore[valid-type]
    year: Annotated[int, Field(ge=1950, le=2300)]
    value: Annotated[float, Field(gt=0)]
    unit: str
    source: Annotated[str, Field(min_length=3)]


VALIDATION_VARIABLES = (
    "pensioners_year_end", "participants_year_end", "balance_end_cny", "reserve_assets_end_cny",
)


class ValidationFact(Strict):
    """A reported figure after the base year the pension projection is set beside (never fitted
    to): ``models.pension.validation``. Money in nominal yuan when ``nominal``."""

    variable: Literal[VALIDATION_VARIABLES]  # type: ignore[valid-type]
    year: Annotated[int, Field(ge=1950, le=2300)]
    value: Annotated[float, Field(gt=0)]
    unit: str
    nominal: bool = False
    source: Annotated[str, Field(min_length=3)]
    note: str | None = None


class PriceLevel(Strict):
    """Consumer price level relative to the base year (the deflator of nominal figures)."""

    year: Annotated[int, Field(ge=1950, le=2300)]
    value: Annotated[float, Field(gt=0)]
    source: Annotated[str, Field(min_length=3)]


class ChecksCalibration(Strict):
    facts: list[Fact] = Field(default_factory=list)
    validation: list[ValidationFact] = Field(default_factory=list)
    price_level: list[PriceLevel] = Field(default_factory=list)


class Calibration(Strict):
    demography: DemographyCalibration
    pension: PensionCalibration
    finances: FinancesCalibration
    economy: EconomyCalibration
    checks: ChecksCalibration

    @model_validator(mode="after")
    def _cross_domain(self) -> Calibration:
        base = self.demography.base_year.value
        if self.pension.targets.year.value != base:
            year = self.pension.targets.year.value
            raise RuleError("pension.targets.year.value", year,
                            f"the base year: targets.year.value = {year} must equal "
                            f"demography.base_year.value = {base}")
        if self.economy.targets.year.value != base:
            year = self.economy.targets.year.value
            raise RuleError("economy.targets.year.value", year,
                            f"the base year: targets.year.value = {year} must equal "
                            f"demography.base_year.value = {base}")
        residents = self.pension.residents
        last = self.demography.last_year.value
        if residents.reform_year is not None and not base < residents.reform_year.value <= last:
            raise RuleError("pension.residents.reform_year.value", residents.reform_year.value,
                            f"a year after demography.base_year.value = {base} and at most "
                            f"demography.last_year.value = {last}")
        first_growth = self.finances.wages.real_growth.segments[0].from_year
        if first_growth > base:
            raise RuleError("finances.wages.real_growth.segments.0.from_year", first_growth,
                            f"a year <= demography.base_year.value = {base}")
        return self


# ---------------------------------------------------------------------------- experiment
class ProjectionSettings(Strict):
    regimes: Annotated[list[Literal["pre_2024", "law_2024"]], Field(min_length=1)] = list(REGIMES)
    report_every: Annotated[int, Field(ge=1, le=50)] = 5
    # the pension block's tornado table (each unpinned parameter at its low and high value,
    # models.pension.uncertainty.tornado_table) under the 2024 law: about 40 projections
    tornado: bool = False


#: Most Monte Carlo paths an optimizing experiment may draw: results.nc keeps every path's
#: population (which the optimizer reads) only up to this many paths.
OPTIMIZATION_MAX_PATHS = 2000


class StochasticDemographySettings(Strict):
    """Monte Carlo demography knobs of an experiment (issue 3)."""

    paths: Annotated[int, Field(ge=0, le=1_000_000)] = 0  # 0: the median path only
    chunk_size: Annotated[int, Field(ge=1, le=100_000)] = 1000
    tfr_shift: Annotated[float, Field(ge=-1.0, le=2.0)] = 0.0  # children per woman added to the median
    mortality_drift_scale: Annotated[float, Field(ge=0.0, le=3.0)] = 1.0  # x median improvement
    mortality_spread_scale: Annotated[float, Field(ge=0.0, le=5.0)] = 1.0
    fertility_spread_scale: Annotated[float, Field(ge=0.0, le=5.0)] = 1.0
    migration_noise_sd: Annotated[float, Field(ge=0.0, le=2.0)] = 0.0  # relative sd of net migration


class RetirementLever(Strict):
    """Statutory retirement age beyond the 2024 law: an extra delay per category, in whole
    months, for the cohorts reaching the law's age in each year; piecewise linear between knot
    years, never below the law (delay >= 0), never falling, at most ``pace_months_per_year``
    more each year, and the age never above ``cap_age``."""

    enabled: bool = True
    knot_every_years: Annotated[int, Field(ge=1, le=25)] = 5
    pace_months_per_year: Annotated[int, Field(ge=0, le=12)] = 3
    cap_age: PerCategory[Annotated[float, Field(ge=40, le=75)]] = PerCategory(
        men=65.0, women_cadre=60.0, women_worker=58.0)
    max_outer_iterations: Annotated[int, Field(ge=0, le=200)] = 12


class ContributionLever(Strict):
    """Employer pooled contribution rate per year (fraction of the contribution base)."""

    enabled: bool = True
    min_rate: Annotated[float, Field(ge=0.0, le=0.5)] = 0.12
    max_rate: Annotated[float, Field(ge=0.0, le=0.5)] = 0.20
    pace_per_year: Annotated[float, Field(ge=0.0, le=0.5)] = 0.005

    @model_validator(mode="after")
    def _bounds(self) -> ContributionLever:
        if self.max_rate < self.min_rate:
            raise ValueError(f"max_rate = {self.max_rate} must be >= min_rate = {self.min_rate}")
        return self


class IndexationLever(Strict):
    """Real indexation of pensions in payment, as a share of the real growth of the average
    wage (the calibration's ``pension.benefit.indexation_wage_share`` is the status quo): a
    path piecewise linear between knot years (every ``knot_every_years`` from the first
    decision year, flat after the last), between ``floor_wage_share`` (0: pensions in payment
    keep their real value) and ``ceiling_wage_share`` (None: the calibrated share). Off by
    default. Lowering it is a cut in pensions in payment; the objective prices each yuan cut
    at ``ObjectiveWeights.indexation_cut``."""

    enabled: bool = False
    knot_every_years: Annotated[int, Field(ge=1, le=25)] = 5
    floor_wage_share: Annotated[float, Field(ge=0.0, le=2.0)] = 0.0
    ceiling_wage_share: Annotated[float, Field(ge=0.0, le=2.0)] | None = None

    @model_validator(mode="after")
    def _bounds(self) -> IndexationLever:
        if self.ceiling_wage_share is not None and self.ceiling_wage_share < self.floor_wage_share:
            raise ValueError(f"ceiling_wage_share = {self.ceiling_wage_share} must be >= "
                             f"floor_wage_share = {self.floor_wage_share}")
        return self


class OnOff(Strict):
    enabled: bool = True


class OptimizationConstraints(Strict):
    liquidity_floor_months: Annotated[float, Field(ge=0.0, le=120.0)] = 3.0
    horizon_months_target: Annotated[float, Field(ge=0.0, le=240.0)] = 12.0
    chance_alpha: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    cvar_beta: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    cvar_limit_cny: Annotated[float, Field(ge=0.0)] | None = None
    # extra transfers per path and year within a fiscal capacity (a share of GDP): the
    # experiment's share, or None for the calibration's finances.fiscal_subsidy.
    # extra_capacity_gdp_share; fiscal_capacity = false: unlimited (models.optimize.data)
    fiscal_capacity: bool = True
    fiscal_capacity_gdp_share: Annotated[float, Field(ge=0.0, le=1.0)] | None = None

    @model_validator(mode="after")
    def _cvar(self) -> OptimizationConstraints:
        if (self.cvar_beta is None) != (self.cvar_limit_cny is None):
            raise ValueError("cvar_beta and cvar_limit_cny go together")
        if self.chance_alpha is not None and self.cvar_beta is not None:
            raise ValueError("choose either chance_alpha or the CVaR limit, not both")
        return self


class ObjectiveWeights(Strict):
    """Weights of the expected discounted cost (yuan-equivalent per yuan, or per person-month)."""

    discount_rate: Annotated[float, Field(ge=0.0, le=0.2)] = 0.03
    contributions: Annotated[float, Field(ge=0.0)] = 1.0
    delay_cny_per_person_month: Annotated[float, Field(ge=0.0)] = 1500.0
    reserve_draw: Annotated[float, Field(ge=0.0)] = 0.3
    extra_transfer: Annotated[float, Field(ge=0.0)] = 1.3
    smoothing_cny_per_point: Annotated[float, Field(ge=0.0)] = 1.0e9
    shortfall: Annotated[float, Field(ge=0.0)] = 10.0
    # penalty per yuan of money beyond the fiscal capacity (models.optimize.data, "Excess")
    excess_over_capacity: Annotated[float, Field(ge=0.0)] = 1000.0
    # yuan of cost per yuan of pensions in payment cut by indexing below the calibrated share
    indexation_cut: Annotated[float, Field(ge=0.0)] = 1.0
    # discount at discount_rate ("fixed") or at the economy's real interest rate
    # ("interest_rate": the paired transition's, else economy.targets.interest_rate);
    # the delay price: the economy's welfare (leisure) price of a month of delay in runs paired
    # with it (issue 14, the default: the shipped economy has elastic hours; a run not paired
    # with the economy falls back to wage-indexed and says so), or, as marked options,
    # delay_cny_per_person_month as a fixed 2021-yuan amount or wage-indexed
    # (models/optimize/objective.py)
    discount: Literal["fixed", "interest_rate"] = "interest_rate"
    delay_price: Literal["fixed", "wage_indexed", "economy"] = "economy"
    # squared knot-to-knot changes of the delay and indexation paths penalised ("gbh":
    # Godinez-Olivares, Boado-Penas and Haberman 2016), yuan per month^2 and per share^2
    lever_smoothing: Literal["none", "gbh"] = "none"
    gbh_cny_per_month2: Annotated[float, Field(ge=0.0)] = 1.0e10
    gbh_cny_per_share2: Annotated[float, Field(ge=0.0)] = 1.0e13


class TreeSettings(Strict):
    first_decision_year: Annotated[int, Field(ge=2022, le=2200)] = 2026
    stage_every_years: Annotated[int, Field(ge=1, le=50)] = 5
    branching: list[Annotated[int, Field(ge=1, le=100)]] = Field(default_factory=list)
    observable: Literal["old_age_dependency", "population_60plus", "births"] = "old_age_dependency"
    # how a node's paths are split at a decision (models/optimize/tree.py): "rank" on the
    # observable, or "kmeans" on the observable and the extra observables below
    grouping: Literal["rank", "kmeans"] = "rank"
    extra_observables: list[Literal["old_age_dependency", "population_60plus", "births"]] = (
        Field(default_factory=list))


class RecourseSettings(Strict):
    """How the reserve draws are decided (models/optimize/rules.py): ``"path"`` — one draw per
    path and year, free (the extensive form's recourse: a draw may use that path's future);
    ``"affine"`` — a linear decision rule on the demographic state observed the year before
    (``observables``); ``"node"`` — one draw per node of the scenario tree and year."""

    reserve_draws: Literal["path", "affine", "node"] = "path"
    observables: list[Literal["old_age_dependency", "population_60plus", "births"]] = Field(
        default_factory=lambda: ["old_age_dependency", "population_60plus"])


class FrontierSettings(Strict):
    """The ε-constraint frontier between fiscal burden, cost to cohorts and risk
    (models/optimize/frontier.py), traced after the solve around the chosen policy: its delay
    knots scaled by each of ``delay_scales`` (whole months, within the caps) are the delay
    candidates; ``levels`` ε values per limited objective; risk is the CVaR at ``cvar_beta``
    of the paths' discounted transfers."""

    enabled: bool = False
    levels: Annotated[int, Field(ge=2, le=20)] = 3
    cvar_beta: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.9
    delay_scales: list[Annotated[float, Field(ge=0.0, le=5.0)]] = Field(
        default_factory=lambda: [0.0, 1.0, 1.5], min_length=1)


class SolverSettings(Strict):
    time_limit_s: Annotated[float, Field(gt=0)] = 600.0
    mip_gap: Annotated[float, Field(ge=0.0, le=1.0)] = 1e-4
    threads: Annotated[int, Field(ge=1, le=64)] = 2
    # the inner problem: "decomposition" (L-shaped over the paths, models/optimize/
    # decompose.py), "extensive" (the extensive form from arrays, models/optimize/lp.py) or
    # "pyomo" (the reference model); CVaR runs as "extensive", the chance MILP on Pyomo
    method: Literal["decomposition", "extensive", "pyomo"] = "decomposition"
    # relative gap between the decomposition's lower bound and its best policy's cost
    tolerance: Annotated[float, Field(gt=0.0, le=0.1)] = 1e-8


class SearchSettings(Strict):
    """The outer search's derivative-free polish and its certificate (issue 16, item 5): after
    the dual-gradient steps, knot moves of ``steps_months`` (delay knots; the indexation
    knots by ``steps_months`` times ``models.optimize.search.SHARE_PER_MONTH``) are solved
    exactly, the best-predicted first, until none improves beyond the solver tolerance.
    ``max_solves`` bounds the moves solved in all (polish and certificate): a count, not a
    time, so that a run's tables do not depend on the machine; when it is spent the
    certificate lists the moves left unsolved and is not passed."""

    polish: bool = True
    steps_months: Annotated[list[Annotated[int, Field(ge=1, le=60)]],
                            Field(min_length=1)] = Field(default_factory=lambda: [1, 6])
    max_polish_moves: Annotated[int, Field(ge=0, le=1000)] = 40
    max_solves: Annotated[int, Field(ge=1, le=100_000)] = 300


class EvaluationSettings(Strict):
    """Out-of-sample evaluation of the chosen policy (issue 16, item 6): fresh paths from their
    own seed branch, ``out_of_sample_factor`` times the optimized paths (at least
    ``min_out_of_sample_paths``), and ``replications`` replications of ``replication_paths``
    paths (None: as many as optimized) for the Mak-Morton-Wood bound on the optimality gap."""

    enabled: bool = True
    out_of_sample_factor: Annotated[int, Field(ge=1, le=100)] = 10
    min_out_of_sample_paths: Annotated[int, Field(ge=2, le=100_000)] = 200
    replications: Annotated[int, Field(ge=0, le=100)] = 5
    replication_paths: Annotated[int, Field(ge=1, le=10_000)] | None = None
    confidence_level: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95


class OptimizationSettings(Strict):
    regime: Literal["pre_2024", "law_2024"] = "law_2024"
    # Monte Carlo paths the optimizer uses (the first ones); None: all of them, or the median
    # path when the experiment has no Monte Carlo demography
    paths: Annotated[int, Field(ge=1, le=100_000)] | None = None
    retirement: RetirementLever = RetirementLever()
    contribution: ContributionLever = ContributionLever()
    reserve: OnOff = OnOff()
    extra_transfer: OnOff = OnOff()
    indexation: IndexationLever = IndexationLever()
    constraints: OptimizationConstraints = OptimizationConstraints()
    objective: ObjectiveWeights = ObjectiveWeights()
    tree: TreeSettings = TreeSettings()
    recourse: RecourseSettings = RecourseSettings()
    frontier: FrontierSettings = FrontierSettings()
    solver: SolverSettings = SolverSettings()
    compute_vss_evpi: bool = True
    # the search's polish and certificate, and the out-of-sample statistics (issue 16)
    search: SearchSettings = SearchSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    # Pair with the OLG economy (when the experiment solves it): re-solve the economy under
    # the chosen policy, feed its wages and fund return to the next solve, until the prices
    # move less than the tolerance (relative wage, absolute return) or the iterations run out
    economy_pairing: bool = True
    pairing_max_iterations: Annotated[int, Field(ge=1, le=50)] = 6
    pairing_tolerance: Annotated[float, Field(gt=0.0, le=0.1)] = 1e-4
    # the next solve's prices: old + damping x (new - old); 1 = plain fixed-point iteration,
    # lower values settle oscillating pairings
    pairing_damping: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0


class EconomySettings(Strict):
    """Whether the experiment solves the OLG economy on the median path (issue 4), and whether
    every Monte Carlo path gets its own prices (first-order sequence-space response around the
    median, checked against exact solves on a sample of paths)."""

    enabled: bool = True
    monte_carlo_prices: bool = False
    error_sample_paths: Annotated[int, Field(ge=0, le=100)] = 5


class ParallelSettings(Strict):
    """Processes for the Monte Carlo paths (demography, pension accounts, economy prices):
    ``workers = 1`` runs them in the calling process, ``n > 1`` in ``n`` processes, chunk by
    chunk of ``demography.chunk_size`` paths (:func:`models.parallel.map_chunks`). The numbers
    are the same whatever ``workers``: it is how the run uses the machine, not part of the
    experiment (it is left out of the config hash). Parallel speed needs at least as many
    chunks as workers (``chunk_size <= paths / workers``); keep 1 under ``mpiexec``."""

    workers: Annotated[int, Field(ge=1, le=256)] = 1


class UncertaintySettings(Strict):
    """Parameter uncertainty (issue 13): the pension and finances parameters the base-year fit
    does not pin (their ``low``/``high`` range in the calibration) are drawn per Monte Carlo path
    from the experiment's seed tree (:func:`models.pension.uncertainty.draw_parameters`).
    ``parameter_sets`` caps the distinct draws: with more paths than sets, consecutive paths
    share a set (path ``p`` takes set ``p`` up to ``parameter_sets`` paths, else
    ``p * sets // N``), so the cost of the drawn pension blocks (about 0.4 s a set) does not
    grow with the paths. ``median_draws > 0``: a run of the median path only (``demography.paths
    = 0``) evaluates the fund under that many draws on it (parameter uncertainty alone).
    ``parameters = false`` switches both off."""

    parameters: bool = True
    parameter_sets: Annotated[int, Field(ge=1, le=100_000)] = 100
    median_draws: Annotated[int, Field(ge=0, le=100_000)] = 0


class Experiment(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]+$")]
    description: str = ""
    calibration: str = "calibration/china"
    seed: Annotated[int, Field(ge=0)] = 0
    # dotted calibration key -> value (a number, string, boolean, or a list such as a growth
    # path's segments); applied before validation, so the calibration schema checks it
    overrides: dict[str, Any] = Field(default_factory=dict)
    projection: ProjectionSettings = ProjectionSettings()
    demography: StochasticDemographySettings = StochasticDemographySettings()
    optimization: OptimizationSettings | None = None
    economy: EconomySettings = EconomySettings()
    parallel: ParallelSettings = ParallelSettings()
    uncertainty: UncertaintySettings = UncertaintySettings()

    @model_validator(mode="after")
    def _paths(self) -> Experiment:
        if self.optimization is None:
            return self
        wanted, have = self.optimization.paths, self.demography.paths
        if have == 0 and wanted not in (None, 1):
            raise RuleError("optimization.paths", wanted, "1 or no value when demography.paths "
                            "= 0 (the median path is the only path)")
        if have > 0 and wanted is not None and wanted > have:
            raise RuleError("optimization.paths", wanted,
                            f"at most demography.paths = {have}")
        if have > OPTIMIZATION_MAX_PATHS:
            raise RuleError("demography.paths", have,
                            f"at most {OPTIMIZATION_MAX_PATHS} when the experiment has an "
                            "[optimization] table (the optimizer needs every path's population,"
                            f" kept only up to {OPTIMIZATION_MAX_PATHS} paths): lower "
                            "demography.paths, or run the Monte Carlo status quo without "
                            "[optimization] in another experiment")
        return self


# ---------------------------------------------------------------------------- errors
def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model class reached by following ``loc`` from ``model`` (None if not one)."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return None
        current = field.annotation
        # unwrap Optional (typing.Optional and ``X | None``) / Annotated / list
        while get_origin(current) is not None and not (
            isinstance(current, type) and issubclass(current, BaseModel)
        ):
            args = [a for a in get_args(current) if a is not type(None)]
            if not args:
                break
            current = args[0]
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _expected(err: dict) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"a number {bounds[kind]} {limit}"
    if kind == "missing":
        return "this key to be present"
    if kind == "string_pattern_mismatch":
        return f"a string matching {ctx.get('pattern')}"
    if kind in _TYPE_EXPECTED:
        return _TYPE_EXPECTED[kind]
    if kind == "literal_error":
        return f"one of {ctx.get('expected')}"
    return err["msg"].rstrip(".").lower()


#: What a value of the wrong type should have been (pydantic's strict error types).
_TYPE_EXPECTED = {
    "float_type": "a number written without quotes (not a string or a boolean)",
    "int_type": "a whole number written without quotes or decimals (not a string, a boolean "
                "or a float)",
    "finite_number": "a finite number (not inf or nan; a literal too large for a float, "
                     "such as 1e400, is inf)",
    "bool_type": "true or false (without quotes)",
    "string_type": "a string in quotes",
    "list_type": "a list [...]",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}


def _format_errors(exc: ValidationError, model: type[BaseModel], file_of) -> ConfigError:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        rule = (err.get("ctx") or {}).get("error")
        if isinstance(rule, RuleError):  # a cross-field rule: blame the key it names
            loc = loc + tuple(int(p) if p.isdigit() else p for p in rule.key.split("."))
        file, key_loc = file_of(loc)
        key = ".".join(str(p) for p in key_loc) or "(top level)"
        if isinstance(rule, RuleError):
            lines.append(f"{file}: key '{key}' = {_describe(rule.value)}: expected "
                         f"{rule.expected}")
        elif err["type"] == "value_error":  # a rule over a whole table: no dump of the table
            message = str(rule) if rule is not None else err["msg"]
            lines.append(f"{file}: key '{key}': {message}")
        elif err["type"] == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            valid = list(parent.model_fields) if parent else []
            close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            lines.append(
                f"{file}: unknown key '{key}'{hint} (valid keys here: {', '.join(valid)})"
            )
        elif err["type"] == "missing":
            lines.append(f"{file}: missing key '{key}'")
        else:
            lines.append(
                f"{file}: key '{key}' = {_describe(err.get('input'))}: expected {_expected(err)}"
            )
    return ConfigError("\n".join(lines))


def _read_toml(path: Path) -> dict:
    """A TOML file as a dict; a UTF-8 byte-order mark (some Windows editors write one) is
    accepted and dropped."""
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    data = path.read_bytes()
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); TOML files must be "
                          "saved as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None


UTF8_BOM = b"\xef\xbb\xbf"


# ---------------------------------------------------------------------------- overrides
def apply_overrides(raw: dict, overrides: dict[str, Any], source: str,
                    schema: type[BaseModel] | None = None) -> dict:
    """Return a copy of ``raw`` with each dotted key replaced; unknown keys are an error.

    With ``schema`` (the model ``raw`` validates against), an override may also add a key the
    files leave out when the schema declares it (an optional entry such as
    ``pension.residents.reform_year``) and the value is a whole table (``{value, unit,
    source}``)."""
    out = copy.deepcopy(raw)
    for dotted, value in overrides.items():
        node = out
        parts = dotted.split(".")
        for i, part in enumerate(parts):
            if (schema is not None and i == len(parts) - 1 and isinstance(node, dict)
                    and part not in node and isinstance(value, dict)):
                parent = _model_at(schema, tuple(parts[:i]))
                if parent is not None and part in parent.model_fields:
                    node[part] = value
                    break
            if not isinstance(node, dict) or part not in node:
                valid = list(node) if isinstance(node, dict) else []
                parent = _model_at(schema, tuple(parts[:i])) if schema is not None else None
                valid += [f for f in (parent.model_fields if parent else ()) if f not in valid]
                close = difflib.get_close_matches(part, valid, n=1, cutoff=0.5)
                hint = f"; did you mean '{'.'.join(parts[:i] + [close[0]])}'?" if close else ""
                if parent is not None and part in parent.model_fields:
                    whole = ".".join(parts[: i + 1])
                    hint = (f" in the calibration files (an optional entry: set it whole, "
                            f'"{whole}" = {{ value = ..., unit = "...", source = "..." }})')
                raise ConfigError(
                    f"{source}: override key 'overrides.{dotted}': no such calibration key "
                    f"'{'.'.join(parts[: i + 1])}'{hint}"
                )
            if i == len(parts) - 1:
                node[part] = value
            else:
                node = node[part]
    return out


# ---------------------------------------------------------------------------- loading
def read_calibration_raw(folder: str | Path) -> dict:
    """The calibration folder's TOML files as one dict keyed by domain."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: calibration folder not found")
    return {d: _read_toml(folder / f"{d}.toml") for d in DOMAINS}


def validate_calibration(raw: dict, folder: str | Path, overrides: dict[str, Any] | None = None,
                         override_source: str = "overrides") -> Calibration:
    """Validate a raw calibration; an error in a value an override set (``overrides``: dotted
    key -> value) is blamed on the override's key in ``override_source`` (the experiment file),
    not on the calibration file that does not hold the value."""
    folder = Path(folder)
    overridden = [tuple(k.split(".")) for k in (overrides or {})]

    def file_of(loc: tuple) -> tuple[str, tuple]:
        path = tuple(str(p) for p in loc)
        for parts in overridden:
            if path[:len(parts)] == parts:
                return override_source, ("overrides",) + loc
            if len(path) >= 2 and parts[:len(path)] == path:
                # a rule over the table that holds an overridden key (e.g. a parameter's
                # low <= high): the override is what broke it
                return override_source, ("overrides",) + parts
        if loc and loc[0] in DOMAINS:
            return str(folder / f"{loc[0]}.toml"), loc[1:]
        return str(folder), loc

    try:
        return Calibration.model_validate(raw)
    except ValidationError as exc:
        raise _format_errors(exc, Calibration, file_of) from None


def load_calibration(folder: str | Path, overrides: dict[str, Any] | None = None,
                     override_source: str = "overrides") -> Calibration:
    """Read, override and validate a calibration folder (TOML only; arrays: :func:`load_arrays`)."""
    raw = read_calibration_raw(folder)
    if overrides:
        raw = apply_overrides(raw, overrides, override_source, Calibration)
    return validate_calibration(raw, folder, overrides, override_source)


def load_experiment(path: str | Path, project_root: str | Path | None = None
                    ) -> tuple[Experiment, Calibration, Path]:
    """Validate an experiment file and the calibration it names (with its overrides applied).

    Returns the experiment, the calibration and the calibration folder (resolved against
    ``project_root``, by default the nearest folder above the experiment file that holds it:
    ``experiments/x.toml`` and ``experiments/options/x.toml`` both find the project's).
    """
    path = Path(path)
    raw = _read_toml(path)
    try:
        exp = Experiment.model_validate(raw)
    except ValidationError as exc:
        raise _format_errors(exc, Experiment, lambda loc: (str(path), loc)) from None
    cal_dir = Path(exp.calibration)
    if project_root:
        root = Path(project_root)
    else:
        above = path.resolve().parents
        root = next((d for d in above[1:] if (d / cal_dir).is_dir()), above[1])
    if not cal_dir.is_absolute():
        cal_dir = root / cal_dir
    cal = load_calibration(cal_dir, exp.overrides, override_source=str(path))
    check_experiment(exp, cal, path)
    return exp, cal, cal_dir


def check_experiment(exp: Experiment, cal: Calibration, path: str | Path) -> None:
    """Rules between an experiment and its calibration, checked before any work: the decision
    years of the optimizer's tree within the projection's horizon, enough paths for the tree's
    leaves, and the indexation lever's ceiling (the calibrated share when unset) above its
    floor. Raises :class:`ConfigError` naming the experiment's key."""
    opt = exp.optimization
    if opt is None:
        return
    base, last = cal.demography.base_year.value, cal.demography.last_year.value
    problems = []
    first = opt.tree.first_decision_year
    if not base < first <= last:
        problems.append(("optimization.tree.first_decision_year", first,
                         f"a year after demography.base_year = {base} and at most "
                         f"demography.last_year = {last} (the calibration's horizon)"))
    else:
        last_stage = first + opt.tree.stage_every_years * len(opt.tree.branching)
        if last_stage > last:
            problems.append(("optimization.tree.stage_every_years", opt.tree.stage_every_years,
                             f"a spacing that puts the last of the {len(opt.tree.branching) + 1}"
                             f" decision years (from {first}) at most at demography.last_year "
                             f"= {last}; it would be {last_stage}"))
    leaves = int(np.prod(opt.tree.branching)) if opt.tree.branching else 1
    n_paths = opt.paths or max(exp.demography.paths, 1)
    if leaves > n_paths:
        problems.append(("optimization.tree.branching", opt.tree.branching,
                         f"a tree with at most {n_paths} leaves (one optimized path at least "
                         f"per leaf); it has {leaves}"))
    lever = opt.indexation
    ceiling = (cal.pension.benefit.indexation_wage_share.value
               if lever.ceiling_wage_share is None else lever.ceiling_wage_share)
    if lever.enabled and ceiling < lever.floor_wage_share:
        problems.append(("optimization.indexation.floor_wage_share", lever.floor_wage_share,
                         f"at most the ceiling {ceiling} (ceiling_wage_share, or the "
                         "calibration's pension.benefit.indexation_wage_share when unset)"))
    if problems:
        raise ConfigError("\n".join(f"{path}: key '{key}' = {_describe(value)}: expected "
                                     f"{expected}" for key, value, expected in problems))


# ---------------------------------------------------------------------------- arrays
#: CSV columns holding text (every other column must hold finite numbers) and whole numbers.
TEXT_COLUMNS = ("sex",)
INTEGER_COLUMNS = ("age", "year")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_csv(folder: Path, toml_name: str, key: str, spec: ArrayFile,
              columns: tuple[str, ...]) -> pd.DataFrame:
    path = folder / spec.file
    where = f"{folder / toml_name}: key 'arrays.{key}'"
    if not path.is_file():
        raise ConfigError(f"{where}.file = '{spec.file}': file not found at {path}")
    # read once, in Python: the hash and the parse use the same bytes, and a Ctrl-C during the
    # read interrupts as Ctrl-C (inside pandas' C reader it came out as a parse error, so an
    # interrupted run said "invalid input": test_interrupted_run, 2026-12-01)
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != spec.sha256:
        raise ConfigError(
            f"{where}.sha256 = '{spec.sha256}': expected the hash of {path}, which is '{actual}' "
            "(the CSV changed: re-derive it with `make calibrate` or update the hash)"
        )
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False,
                            encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: not a readable CSV table ({first})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"{path}: missing column(s) {missing}; expected columns {list(columns)}")
    for column in columns:
        cells = frame[column].str.strip()
        empty = np.flatnonzero((cells == "").to_numpy())
        if empty.size:
            raise ConfigError(f"{path}: line {empty[0] + 2}, column '{column}' is empty "
                              f"({empty.size} empty cell(s) in this column)")
        if column in TEXT_COLUMNS:
            frame[column] = cells
            continue
        numbers = pd.to_numeric(cells, errors="coerce")
        bad = np.flatnonzero(numbers.isna().to_numpy() | ~np.isfinite(numbers.to_numpy(float)))
        if bad.size:
            row, text = bad[0], cells.iloc[bad[0]]
            kind = "not a number" if np.isnan(numbers.iloc[row]) else "not finite"
            raise ConfigError(f"{path}: line {row + 2}, column '{column}' = {text!r}: expected a "
                              f"finite number ({kind}; {bad.size} such cell(s) in this column)")
        if column in INTEGER_COLUMNS:
            fractional = np.flatnonzero((numbers != np.floor(numbers)).to_numpy())
            if fractional.size:
                row = fractional[0]
                raise ConfigError(f"{path}: line {row + 2}, column '{column}' = "
                                  f"{cells.iloc[row]!r}: expected a whole number")
            numbers = numbers.astype(np.int64)
        frame[column] = numbers
    return frame


def _check_coords(path: Path, frame: pd.DataFrame, column: str, expected) -> None:
    present = set(frame[column].tolist())
    missing = [v for v in expected if v not in present]
    extra = sorted(present - set(expected), key=str)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {column} values {_describe(missing)}")
        if extra:
            parts.append(f"unexpected {column} values {_describe(extra)}")
        raise ConfigError(f"{path}: {'; '.join(parts)}; expected {column} "
                          f"{_describe(list(expected)[0])}..{_describe(list(expected)[-1])}")


def _to_array(folder: Path, toml_name: str, key: str, spec: ArrayFile, dims: dict[str, Any],
              value: str) -> xr.DataArray:
    """Read a long CSV into a DataArray with exactly the coordinates in ``dims``."""
    frame = _read_csv(folder, toml_name, key, spec, tuple(dims) + (value,))
    path = folder / spec.file
    for dim, coords in dims.items():
        _check_coords(path, frame, dim, coords)
    if frame.duplicated(list(dims)).any():
        raise ConfigError(f"{path}: duplicate rows for the same {', '.join(dims)}")
    series = frame.set_index(list(dims))[value]
    arr = xr.DataArray.from_series(series).reindex({d: list(c) for d, c in dims.items()})
    if arr.isnull().any():
        raise ConfigError(f"{path}: the table is not complete over {', '.join(dims)}")
    arr.attrs.update(units=spec.unit, source=spec.source)
    return arr


def load_arrays(cal: Calibration, folder: str | Path) -> xr.Dataset:
    """Read and check every CSV array named in the calibration.

    Checks: the file exists, its sha256 matches, its columns are present, and its ages, sexes
    and years are exactly those the model needs. Returns a Dataset with ``base_population[age,
    sex]``, Lee-Carter ``lc_ax[age, sex]``, ``lc_bx``, ``lc_kt[year, sex]``,
    ``lc_kt_history[history_year, sex]``, ``mx_history[history_year, age, sex]``,
    ``asfr[year, fertility_age]``, ``sex_ratio_at_birth[year]``, ``net_migration[year, age,
    sex]``, and the published bounds ``tfr_published[published_year, bound]`` and
    ``e0_published[published_year, sex, bound]``.
    """
    folder = Path(folder)
    spec = cal.demography.arrays
    base, last = cal.demography.base_year.value, cal.demography.last_year.value
    ages = list(range(MAX_AGE + 1))
    years = list(range(base, last + 1))
    sexes = list(SEXES)
    published_years = list(range(max(base, FIRST_PUBLISHED_PROJECTION_YEAR), last + 1))

    def array(key: str, dims: dict[str, Any], value: str) -> xr.DataArray:
        return _to_array(folder, "demography.toml", key, getattr(spec, key), dims, value)

    hist = _read_csv(folder, "demography.toml", "mortality_kt_history",
                     spec.mortality_kt_history, ("year", "sex", "kt"))
    hist_years = sorted(set(hist["year"].tolist()))
    ds = xr.Dataset(
        {
            "base_population": array("base_population", {"age": ages, "sex": sexes}, "persons"),
            "lc_ax": array("mortality_lee_carter", {"age": ages, "sex": sexes}, "ax"),
            "lc_bx": array("mortality_lee_carter", {"age": ages, "sex": sexes}, "bx"),
            "lc_kt": array("mortality_kt", {"year": years, "sex": sexes}, "kt"),
            "asfr": array("fertility_asfr", {"year": years, "age": list(FERTILITY_AGES)},
                          "asfr").rename(age="fertility_age"),
            "sex_ratio_at_birth": array("sex_ratio_at_birth", {"year": years}, "srb"),
            "net_migration": array("net_migration", {"year": years, "age": ages, "sex": sexes},
                                   "persons"),
            "lc_kt_history": array("mortality_kt_history", {"year": hist_years, "sex": sexes},
                                   "kt").rename(year="history_year"),
            "mx_history": array("mortality_history",
                                {"year": hist_years, "age": ages, "sex": sexes},
                                "mx").rename(year="history_year"),
        }
    )
    bounds = ["lower95", "lower80", "median", "upper80", "upper95"]
    bound = xr.DataArray(bounds, dims="bound", name="bound")
    tfr = xr.concat([array("tfr_published", {"year": published_years}, b) for b in bounds],
                    dim=bound)
    ds["tfr_published"] = tfr.rename(year="published_year").transpose("published_year", "bound")
    e0 = xr.concat(
        [array("e0_published", {"year": published_years, "sex": sexes}, b) for b in bounds],
        dim=bound,
    )
    ds["e0_published"] = e0.rename(year="published_year").transpose("published_year", "sex",
                                                                    "bound")
    _check_values(folder, spec, ds)
    return ds


def _check_values(folder: Path, spec: DemographyArrays, ds: xr.Dataset) -> None:
    """Range checks on array values: non-negative counts and rates, positive death rates, the
    sex ratio at birth within 0.9..1.3; each failure names the CSV file and the first cell."""
    checks = [  # variable, file key, value column, bad cells, expected
        ("base_population", "base_population", "persons", ds["base_population"] < 0, ">= 0"),
        ("asfr", "fertility_asfr", "asfr", ds["asfr"] < 0, ">= 0"),
        ("mx_history", "mortality_history", "mx", ds["mx_history"] <= 0, "> 0"),
        ("sex_ratio_at_birth", "sex_ratio_at_birth", "srb",
         (ds["sex_ratio_at_birth"] < 0.9) | (ds["sex_ratio_at_birth"] > 1.3),
         "within 0.9..1.3 males per female"),
    ]
    for name, key, column, bad, expected in checks:
        if bool(bad.any()):
            first = bad.where(bad, drop=True)
            where = {d: np.asarray(first[d].values[0]).item() for d in first.dims}
            value = ds[name].sel(where).item()
            at = ", ".join(f"{d} {v}" for d, v in where.items()).replace("fertility_age", "age")
            at = at.replace("history_year", "year")
            raise ConfigError(f"{folder / getattr(spec, key).file}: column '{column}' at {at} = "
                              f"{value!r}: expected {expected} ({int(bad.sum())} such cell(s))")


def refresh_array_hashes(folder: str | Path, toml_name: str = "demography.toml") -> list[str]:
    """Rewrite the ``sha256`` of every ``[arrays.*]`` entry of a calibration TOML in place.

    Used after the derived CSVs are regenerated (``pension calibrate``); keeps the file's
    comments and layout. Returns the array keys whose hash changed.
    """
    folder = Path(folder)
    path = folder / toml_name
    text = path.read_text()
    changed: list[str] = []
    section = re.compile(r"^\[arrays\.(\w+)\]\s*$(.*?)(?=^\[|\Z)", re.S | re.M)

    def fix(match: re.Match) -> str:
        key, body = match.group(1), match.group(2)
        file = re.search(r'^file\s*=\s*"([^"]+)"', body, re.M)
        if not file:
            raise ConfigError(f"{path}: key 'arrays.{key}.file' is missing")
        digest = _sha256(folder / file.group(1))
        new_body, n = re.subn(r'^(sha256\s*=\s*)"[0-9a-f]*"', rf'\g<1>"{digest}"', body,
                              flags=re.M)
        if n != 1:
            raise ConfigError(f"{path}: key 'arrays.{key}.sha256' is missing")
        if new_body != body:
            changed.append(key)
        return match.group(0).replace(body, new_body)

    path.write_text(section.sub(fix, text))
    return changed
