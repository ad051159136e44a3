"""Economy calibration schema (``calibration/china/economy.toml``) and the plain-number
parameters the economy's kernels use.

:class:`EconomyCalibration` is the fifth calibration domain (every value a
:class:`models.config.Param` with value, unit and source). :func:`economy_parameters` turns it,
with the pension calibration it shares numbers with, into :class:`EconomyParameters`: a frozen
dataclass of plain floats and tuples that the solvers take. Nothing here reads files.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from models.config import (  # the schema lives in config.py (the fifth calibration domain)
    CATEGORIES,
    EconomyCalibration,
    FinancesCalibration,
    PensionCalibration,
)

__all__ = [
    "EconomyCalibration",
    "EconomyParameters",
    "economy_parameters",
    "with_residents_reform",
]


# ---------------------------------------------------------------------------------- plain numbers
@dataclass(frozen=True)
class EconomyParameters:
    """Every number the economy's kernels use, as plain floats (see ``economy.toml`` and
    ``pension.toml`` for units and sources). Built by :func:`economy_parameters`; tests may
    build one directly. ``yuan_per_unit`` converts model money units to yuan (set by
    :func:`models.economy.calibrate_economy`; 1.0 means outputs are in model units)."""

    # households
    crra: float = 2.0
    discount_factor: float = 0.98
    first_age: int = 20
    last_age: int = 100
    borrowing_limit: float = 0.0  # multiple of the year's average covered wage
    efficiency_linear: float = 0.035
    efficiency_quadratic: float = -0.0006
    uncovered_productivity: float = 0.40
    uncovered_exit_age: float = 65.0
    # period utility u(c (1 − ψ ℓ)): a full year of work costs the share ψ of the year's
    # consumption (labour stays set by policy; ψ only enters choices and welfare)
    work_disutility: float = 0.0
    # elastic labour (household.solve_households_hours): period utility
    # u(c) − ℓ A_t^{1−σ} [φ h^{1+1/ν}/(1+1/ν) + κ] with hours h ∈ [0, 1] while working the
    # share ℓ of the year (A_t technology: balanced growth); φ = hours_disutility,
    # ν = frisch_elasticity, κ = participation_disutility
    hours_disutility: float = 0.0
    frisch_elasticity: float = 0.5
    participation_disutility: float = 0.0
    # retirement/claiming choice among retirement_options ages spread evenly over the legal
    # window (core.retirement_options), Gumbel taste shocks of scale
    # retirement_taste_scale × A^{1−σ} (utils); off: everyone retires at the statutory age
    retirement_choice: bool = False
    retirement_options: int = 7
    retirement_taste_scale: float = 0.05
    # within-year distribution of birthdays (January..December); uniform as in the rules
    birth_month_weights: tuple[float, ...] = (1.0 / 12,) * 12
    # coverage of the employee scheme by birth cohort
    coverage_old_birth_year: int = 1950
    coverage_old_share: float = 0.38
    coverage_young_birth_year: int = 1995
    coverage_young_share: float = 0.58
    coverage_female_relative: float = 0.85
    women_cadre_share: float = 0.35
    # firms
    capital_share: float = 0.5
    depreciation: float = 0.096
    tfp: float = 1.0
    technology_growth: tuple[tuple[int, float], ...] = ((2021, 0.02),)
    closure: str = "closed"
    world_interest_rate: float = 0.04
    # government
    government_consumption_share: float = 0.16
    # employee scheme (pension.toml and the accounts' base-year fit)
    contribution_index: float = 0.7
    compliance: float = 0.8
    accrual_rate: float = 0.01
    contribution_density: float = 0.85
    entry_age: tuple[float, float, float] = (22.0, 23.0, 21.0)  # men, women_cadre, women_worker
    divisor_ages: tuple[float, ...] = tuple(range(40, 71))
    divisor_months: tuple[float, ...] = (
        233, 230, 226, 223, 220, 216, 212, 207, 204, 199, 195, 190, 185, 180, 175, 170, 164, 158,
        152, 145, 139, 132, 125, 117, 109, 101, 93, 84, 75, 65, 56)
    # residents' scheme
    residents_pension_ratio: float = 0.02  # annual pension / average covered wage, base year
    residents_indexation_wage_share: float = 0.6
    residents_indexation_until: int = 2100  # full wage indexation afterwards (steady state)
    residents_eligibility_age: float = 60.0
    # equity reform of the residents' pension (None: the status quo): from the reform year
    # the ratio moves linearly over the phase-in to target_share x (average employee pension /
    # average wage), that ratio given by year in employee_pension_ratio (constant outside it);
    # see core.residents_ratio and with_residents_reform
    residents_target_share: float | None = None
    residents_reform_year: int = 0
    residents_phase_in_years: int = 0
    employee_pension_ratio: tuple[tuple[int, float], ...] = ()
    # initial steady state
    initial_population_growth: float = 0.005
    initial_indexation_wage_share: float = 0.8
    # pensions in force in the base year = steady-state profile x this factor (calibrated so
    # base-year pension spending / GDP is the reported one; 1.0 = the steady state's)
    legacy_pension_factor: float = 1.0
    # money
    yuan_per_unit: float = 1.0
    # the pension block's books (models.pension.book.PensionBook): when set, the transition's
    # government takes the employee scheme's pensioners, contributions and expenditure from the
    # accounts' per-person rates (one pension system); None: the economy's own cohort rules
    pension_book: object | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.crra <= 0:
            raise ValueError(f"crra must be > 0, got {self.crra}")
        if len(self.birth_month_weights) != 12 or abs(sum(self.birth_month_weights) - 1) > 1e-9:
            raise ValueError("birth_month_weights must be 12 weights summing to 1")
        if self.closure not in ("closed", "small_open"):
            raise ValueError(f"closure must be 'closed' or 'small_open', got {self.closure!r}")
        if self.frisch_elasticity <= 0 or self.retirement_taste_scale <= 0:
            raise ValueError("frisch_elasticity and retirement_taste_scale must be > 0")
        if self.hours_disutility < 0 or self.participation_disutility < 0:
            raise ValueError("hours_disutility and participation_disutility must be >= 0")
        if self.retirement_options < 1 or self.retirement_options % 2 == 0:
            raise ValueError("retirement_options must be odd (the statutory age in the "
                             f"middle), got {self.retirement_options}")
        if self.last_age <= self.first_age:
            raise ValueError("last_age must exceed first_age")
        if self.residents_target_share is not None and not self.employee_pension_ratio:
            raise ValueError("the residents' reform (residents_target_share) needs the "
                             "employee_pension_ratio path it is a share of")

    @property
    def elastic(self) -> bool:
        """Whether households choose hours or a retirement age (else labour is set by policy)."""
        return (self.hours_disutility > 0 or self.participation_disutility > 0
                or self.retirement_choice)

    @property
    def n_ages(self) -> int:
        return self.last_age - self.first_age + 1

    def replace(self, **changes) -> EconomyParameters:
        return dataclasses.replace(self, **changes)

    def technology_growth_rate(self, years) -> np.ndarray:
        """Labour-augmenting technology growth in force in each calendar year."""
        starts = np.array([s for s, _ in self.technology_growth])
        rates = np.array([r for _, r in self.technology_growth])
        idx = np.clip(np.searchsorted(starts, np.asarray(years), side="right") - 1, 0, None)
        return rates[idx]

    def efficiency(self) -> np.ndarray:
        """Age-efficiency profile ``e(age)`` for ages first_age..last_age (1 at first_age)."""
        x = np.arange(self.n_ages, dtype=float)
        return np.exp(self.efficiency_linear * x + self.efficiency_quadratic * x * x)

    def covered_share(self, birth_year) -> np.ndarray:
        """Men's employee-scheme coverage of a birth cohort (women: times female_relative)."""
        return np.interp(np.asarray(birth_year, dtype=float),
                         [self.coverage_old_birth_year, self.coverage_young_birth_year],
                         [self.coverage_old_share, self.coverage_young_share])


def economy_parameters(economy: EconomyCalibration, pension: PensionCalibration,
                       finances: FinancesCalibration, contribution_index: float,
                       last_year: int = 2100) -> EconomyParameters:
    """Plain-number parameters from the economy, pension and finances calibrations.

    ``contribution_index`` is the accounts' base-year fit (average contribution base / average
    wage, :class:`models.pension.BaseYearFit`); ``last_year`` the last projected year (the
    residents' pension is indexed by its calibrated share of wage growth until then, fully
    afterwards, so that a balanced-growth steady state exists).
    """
    hh, cov, fi, gov = economy.households, economy.coverage, economy.firms, economy.government
    ret, con = pension.retirement, pension.contribution
    ben, res = pension.benefit, pension.residents
    ls = hh.labour_supply
    labour = {} if ls is None else dict(
        hours_disutility=ls.hours_disutility.value, frisch_elasticity=ls.frisch_elasticity.value,
        participation_disutility=ls.participation_disutility.value,
        retirement_choice=bool(ls.retirement_choice.value),
        retirement_options=int(ls.retirement_options.value),
        retirement_taste_scale=ls.retirement_taste_scale.value)
    return EconomyParameters(
        **labour,
        crra=hh.risk_aversion.value,
        discount_factor=hh.discount_factor.value,
        first_age=hh.first_age.value,
        last_age=hh.last_age.value,
        borrowing_limit=hh.borrowing_limit.value,
        efficiency_linear=hh.efficiency.linear.value,
        efficiency_quadratic=hh.efficiency.quadratic.value,
        uncovered_productivity=hh.uncovered_relative_productivity.value,
        uncovered_exit_age=hh.uncovered_labour_exit_age.value,
        work_disutility=hh.work_disutility.value,
        coverage_old_birth_year=cov.old_cohort_birth_year.value,
        coverage_old_share=cov.old_cohort_share.value,
        coverage_young_birth_year=cov.young_cohort_birth_year.value,
        coverage_young_share=cov.young_cohort_share.value,
        coverage_female_relative=cov.female_relative.value,
        women_cadre_share=ret.women_cadre_share.value,
        capital_share=fi.capital_share.value,
        depreciation=fi.depreciation.value,
        technology_growth=tuple((s.from_year, s.rate) for s in fi.technology_growth.segments),
        closure=fi.closure.value,
        world_interest_rate=fi.world_interest_rate.value,
        government_consumption_share=gov.consumption_share_gdp.value,
        contribution_index=float(contribution_index),
        compliance=con.compliance.value,
        accrual_rate=ben.accrual_rate.value,
        contribution_density=ret.contribution_density.value,
        entry_age=tuple(getattr(ret.entry_age, c).value for c in CATEGORIES),
        divisor_ages=tuple(float(a) for a in ben.individual_account_divisor.ages),
        divisor_months=tuple(float(m) for m in ben.individual_account_divisor.months),
        residents_pension_ratio=res.basic_pension_monthly_cny.value * 12.0
        / finances.wages.average_wage_cny.value,
        residents_indexation_wage_share=res.indexation_wage_share.value,
        residents_indexation_until=int(last_year),
        residents_eligibility_age=res.eligibility_age.value,
        initial_population_growth=economy.initial_steady_state.population_growth.value,
        initial_indexation_wage_share=economy.initial_steady_state.indexation_wage_share.value,
    )


def with_residents_reform(params: EconomyParameters, pension: PensionCalibration,
                          employee_pension_ratio) -> EconomyParameters:
    """``params`` with the residents' equity reform of ``pension.residents`` (unchanged when
    the calibration sets none).

    ``employee_pension_ratio[year]`` is the average employee-scheme pension per pensioner over
    the average wage, e.g. from the pension accounts under the same regime
    (:func:`models.pension.project_accounts`: ``average_pension_cny / average_wage_cny``); the
    economy's residents' pension then moves, from the reform year over the phase-in, to the
    target share of it times the economy's own average covered wage
    (:func:`models.economy.core.residents_ratio`).
    """
    res = pension.residents
    if not res.reformed:
        return params
    years = np.asarray(employee_pension_ratio["year"].values, dtype=int)
    values = np.asarray(employee_pension_ratio.values, dtype=float)
    return params.replace(
        residents_target_share=float(res.target_share_of_employee_pension.value),
        residents_reform_year=int(res.reform_year.value),
        residents_phase_in_years=int(res.phase_in_years.value),
        employee_pension_ratio=tuple((int(y), float(v)) for y, v in zip(years, values)))
