"""Scenario data: everything the optimization model needs, as plain arrays (no Pyomo here).

Following mpi-sppy's farmer example, one function builds the data and another (``model.py``)
builds the Pyomo model from it, holding no constants of its own.

Money is scaled to trillions of yuan (``MONEY_SCALE``) inside the model so HiGHS sees
coefficients of order one.

The retirement-age lever enters through the accounts' per-person rates
(:func:`models.pension.accounts.account_rates`), which depend on the delay path only; for a
fixed delay path every flow is linear in the pooled rate, the reserve draws and transfers, so
the inner problem is an exact linear program.

Fiscal capacity (issue 16). Extra transfers are limited per path and year by a share ``c`` of
that year's GDP, ``X[p,t] ≤ c · GDP[p,t]`` (:func:`transfer_capacity`; ``c`` from the
experiment or the calibration, :func:`capacity_share`). GDP per path and year is
:func:`gdp_by_path_year`: with Cobb–Douglas firms the labour share is constant, so output moves
with the average wage times labour, ``GDP[p,t] = GDP_0 · (w̄_t / w̄_0) · (N[p,t] / N[p,0])``
with ``N`` the population aged 20–64 on the path and ``w̄`` the accounts' average wage — the
calibration's wage path, or the economy transition's when the optimizer is paired with it
(then GDP follows the economy's wage; its labour input is the path's head count, not the
economy's efficiency units). Where the levers cannot pay every pension within the capacity,
the money beyond it is an *excess* ``R[p,t] ≥ 0`` in the fund's balance row, priced at a large
penalty ``w_e`` per yuan (``[optimization.objective] excess_over_capacity``, default 1,000
against 1.3 for a transfer): the inner problem is never infeasible, and its solution reports
the smallest excess per path and year (exact: the penalty is above every shadow price of the
levers seen on the study's problems, so the excess equals the phase-one minimum — the test
compares it with the rescue problem's) with the binding limits. Choice: one LP with an exact
penalty rather than a two-phase solve, so the outer search over delays keeps a gradient (the
balance rows' duals carry the penalty) and lowers the excess with the levers. With extra
transfers switched off there is no capacity (``X = 0``): the hard problem may be infeasible and
the rescue problem (phase one) gives the smallest money, as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from models.config import (
    CATEGORIES,
    Calibration,
    FinancesCalibration,
    OptimizationSettings,
    PensionCalibration,
)
from models.pension.accounts import (
    CATEGORY_SEX,
    BaseYearFit,
    account_rates,
    category_population,
    reach_year,
    retirement_schedule,
)
from models.pension import rules

MONEY_SCALE = 1e12  # yuan per model unit
#: ages of the labour input in the GDP path (completed years, inclusive)
WORKING_AGES = (20, 64)
#: paths per block of the per-path inputs built block by block (:class:`CategoryPopulation`,
#: :func:`gdp_by_path_year`): up to this many paths every number is the one of the whole
#: array, bit for bit (beyond, only sums over paths are added in another order)
CATEGORY_BLOCK_PATHS = 2000


@dataclass(frozen=True)
class ScenarioData:
    """Plain arrays of one inner (fixed-delay) problem. Money in trillions of yuan."""

    years: np.ndarray  # [T] optimized years
    probability: np.ndarray  # [P]
    node_of_year: np.ndarray  # [P, T] node governing the pooled rate
    contribution_base: np.ndarray  # [P, T] contribution base of paying contributors
    expenditure: np.ndarray  # [P, T] pension expenditure
    subsidy: np.ndarray  # [T] fiscal subsidy under the calibrated rule
    balance_start: np.ndarray  # [P] fund balance on 1 January of the first optimized year
    reserve_start: np.ndarray  # [P] NSSF assets on 1 January of the first optimized year
    fund_return: np.ndarray  # [T] real return on the fund each year
    reserve_return: float
    individual_account_rate: float
    pooled_rate_before: float  # pooled rate in the year before the first optimized year
    discount: np.ndarray  # [T] discount factors (1 in the first optimized year)
    delay_cost: float  # expected discounted cost of the delay path (constant in the LP)
    settings: OptimizationSettings = field(repr=False)
    fixed_rates: dict | None = None  # year position -> pooled rate pinned at the root (EEV)
    # expected discounted cost (yuan) of indexing pensions in payment below the calibrated
    # share: w · Σ_p π_p Σ_t δ_t (E_calibrated − E) (constant in the LP)
    indexation_cost: float = 0.0
    # [T] the NSSF's real return per optimized year from the return rule
    # (models.pension.returns.fund_returns); None: the scalar reserve_return every year
    reserve_return_path: np.ndarray | None = None
    # basis Φ[path, year, j] of the reserve-draw decision rule D = Σ_j Φ θ[year, j]
    # (models/optimize/rules.py); None: one free draw per path and year
    recourse_basis: np.ndarray | None = None
    # lever smoothing of the outer levers' knots (models/optimize/objective.py; yuan, constant
    # in the LP)
    smoothing_cost: float = 0.0
    # fiscal capacity: the largest extra transfer per path and year (trillions) and the GDP it
    # is a share of, [P, T]; None: unlimited transfers (module docstring)
    transfer_capacity: np.ndarray | None = None
    gdp: np.ndarray | None = None

    @property
    def n_paths(self) -> int:
        return self.probability.size

    @property
    def outer_cost(self) -> float:
        """Cost (yuan) of the outer levers, constant in the inner LP: delay and indexation."""
        return self.delay_cost + self.indexation_cost + self.smoothing_cost


def reserve_returns(data: ScenarioData) -> np.ndarray:
    """The NSSF's real return per optimized year ``[T]``: the return rule's path when the data
    has one, else the calibrated ``reserve_return`` every year."""
    if data.reserve_return_path is not None:
        return np.asarray(data.reserve_return_path, dtype=float)
    return np.full(len(data.years), float(data.reserve_return))


def constraint_variant(data: ScenarioData) -> str:
    """How the pension guarantee is imposed: ``"hard"`` (every pension paid on every path),
    ``"chance"`` (on at least 1 − α of paths) or ``"cvar"`` (a CVaR limit on the shortfall)."""
    con = data.settings.constraints
    if con.chance_alpha is not None:
        return "chance"
    if con.cvar_beta is not None:
        return "cvar"
    return "hard"


def capacity_applies(data: ScenarioData) -> bool:
    """Whether extra transfers are limited by a fiscal capacity, with the excess over it
    priced (module docstring): a capacity is given and the transfer lever is on."""
    return data.transfer_capacity is not None and data.settings.extra_transfer.enabled


#: per-path arrays of :class:`ScenarioData` (first axis ``path``), None where absent
PATH_ARRAYS = ("contribution_base", "expenditure", "balance_start", "reserve_start",
               "transfer_capacity", "gdp", "recourse_basis")


def take_paths(data: ScenarioData, paths: np.ndarray) -> dict[str, np.ndarray]:
    """The per-path arrays of some paths, for ``dataclasses.replace``."""
    return {name: getattr(data, name)[paths] for name in PATH_ARRAYS
            if getattr(data, name) is not None}


def mean_of_paths(data: ScenarioData) -> dict[str, np.ndarray]:
    """The per-path arrays' probability-weighted means, as one path."""
    out = {}
    for name in PATH_ARRAYS:
        value = getattr(data, name)
        if value is not None:
            out[name] = np.tensordot(data.probability, value, axes=1)[None, ...]
    return out


def capacity_share(finances: FinancesCalibration, settings: OptimizationSettings
                   ) -> float | None:
    """The fiscal capacity for extra transfers, a share of GDP: the experiment's
    ``[optimization.constraints] fiscal_capacity_gdp_share``, else the calibration's
    ``finances.fiscal_subsidy.extra_capacity_gdp_share``; None: unlimited (switched off with
    ``fiscal_capacity = false``, or no value anywhere)."""
    con = settings.constraints
    if not con.fiscal_capacity:
        return None
    if con.fiscal_capacity_gdp_share is not None:
        return con.fiscal_capacity_gdp_share
    param = finances.fiscal_subsidy.extra_capacity_gdp_share
    return None if param is None else float(param.value)


def gdp_by_path_year(population: np.ndarray, ages: np.ndarray, average_wage: np.ndarray,
                     gdp_base_cny: float) -> np.ndarray:
    """GDP (yuan per year) ``[path, year]``: ``GDP_0 · (w̄_t / w̄_0) · (N[p,t] / N[p,0])`` with
    ``N`` the population aged :data:`WORKING_AGES` (``population[path, year, age, sex]``,
    persons; the first year is the base year) and ``w̄[year]`` the average wage (yuan).
    Cobb–Douglas output with a constant labour share moves with the wage bill."""
    working = np.flatnonzero((ages >= WORKING_AGES[0]) & (ages <= WORKING_AGES[1]))
    # per block of paths (a path's sum is its own: the same bits, a block's copy at a time)
    n = np.concatenate([population[lo:lo + CATEGORY_BLOCK_PATHS][:, :, working, :].sum(
        axis=(2, 3)) for lo in range(0, population.shape[0], CATEGORY_BLOCK_PATHS)])
    return gdp_base_cny * (average_wage / average_wage[0])[None, :] * n / n[:, :1]


def transfer_capacity(gdp: np.ndarray, share: float) -> np.ndarray:
    """Largest extra transfer per path and year: ``share · GDP`` (same units as ``gdp``)."""
    return share * np.asarray(gdp)


def knot_years(settings: OptimizationSettings, last_year: int, every: int | None = None
               ) -> np.ndarray:
    """Years at which a lever's path has a knot (piecewise linear between): every ``every``
    years (default: the retirement lever's spacing) from the first decision year."""
    first = settings.tree.first_decision_year
    return np.arange(first, last_year + 1, every or settings.retirement.knot_every_years)


def delay_by_year(knots: np.ndarray, knot_yrs: np.ndarray, years: np.ndarray) -> np.ndarray:
    """Whole-month delay per year from knot values ``[..., knot, category]``: linear
    interpolation between knots, constant after the last, rounded to whole months."""
    knots = np.asarray(knots, dtype=float)
    out = np.empty(knots.shape[:-2] + (len(years), knots.shape[-1]))
    for c in range(knots.shape[-1]):
        out[..., c] = np.apply_along_axis(lambda k: np.interp(years, knot_yrs, k), -1,
                                          knots[..., c])
    return np.rint(out)


def interpolation_weights(knot_yrs: np.ndarray, years: np.ndarray) -> np.ndarray:
    """``W[year, knot]`` with ``delay(year) = Σ_k W[year, k] knot_k`` (linear, flat after)."""
    w = np.zeros((len(years), len(knot_yrs)))
    for k in range(len(knot_yrs)):
        unit = np.zeros(len(knot_yrs))
        unit[k] = 1.0
        w[:, k] = np.interp(years, knot_yrs, unit)
    return w


def law_age_by_year(years: np.ndarray, regime: str) -> np.ndarray:
    """Statutory age (years) of the cohorts reaching it in each year, ``[year, category]``:
    the age of the cohort born ``y − round(age)`` in the middle of its birth months."""
    years = np.asarray(years)
    out = np.empty((len(years), len(CATEGORIES)))
    # the cohort whose reach year is y: search the birth years y − 66 .. y − 49
    births = years[:, None] + np.arange(-66, -48)[None, :]  # [year, candidate]
    grid = np.broadcast_to(births[..., None], births.shape + (12,))
    month = np.broadcast_to(np.arange(1, 13), grid.shape)
    for j, cat in enumerate(CATEGORIES):
        ages = np.asarray(rules.statutory_retirement_age_months(grid, month, cat, regime),
                          dtype=float).mean(axis=-1) / 12.0  # [year, candidate], years
        reach = reach_year(births, ages)
        hit = np.where(reach == years[:, None], ages, -np.inf).max(axis=1)
        nearest = ages[np.arange(len(years)), np.argmin(np.abs(reach - years[:, None]), axis=1)]
        out[:, j] = np.where(np.isfinite(hit), hit, nearest)
    return out


def max_delay_by_year(years: np.ndarray, settings: OptimizationSettings) -> np.ndarray:
    """Largest delay (months) allowed per year and category by the age caps, ``[year, cat]``."""
    law = law_age_by_year(years, settings.regime)
    caps = np.array([getattr(settings.retirement.cap_age, c) for c in CATEGORIES])
    return np.maximum(np.floor((caps[None, :] - law) * 12.0 + 1e-9), 0.0)


@dataclass
class PolicyRates:
    """Per-person account rates of one delay path (a leaf of the tree)."""

    delay: np.ndarray  # [year, category] whole months, all simulated years
    rates: xr.Dataset
    schedule: xr.Dataset
    indexation_share: np.ndarray | None = None  # [year], None: the calibrated share


def policy_rates(delay_months: np.ndarray, years: np.ndarray, ages: np.ndarray,
                 cal: Calibration, fit: BaseYearFit, regime: str,
                 weights_population: xr.DataArray,
                 wage_index: xr.DataArray | None = None,
                 indexation_share: np.ndarray | None = None,
                 past: tuple[xr.Dataset, int] | None = None,
                 retirement_distribution: xr.DataArray | None = None) -> PolicyRates:
    """Schedule and per-person rates under a delay path ``[year, category]`` (months) and an
    indexation share path ``[year]`` (None: the calibrated share), with the calibration's
    wage path or the economy's ``wage_index[year]``.

    ``retirement_distribution[birth_year, category, offset]`` (a run paired with an economy
    whose households choose their retirement age, :func:`models.economy.choices.
    retirement_distribution`; None: the law's window shares): the share of each cohort's
    window retirements at each ``offset`` (years) from its statutory age replaces the law's
    window parts (:func:`models.pension.retirement_schedule`), the schedule the paired
    accounts use (:func:`models.coupling.paired_schedule`). Under a delay path the offsets
    are taken from the **delayed** statutory age ``R + delay/12`` of the cohort's reach
    year: the distribution is relative to the statutory age, so it moves with it — the
    cohort's whole distribution shifts by the delay, ``(1 − π_s) d_o`` of it retiring at
    ``max(R + delay/12 + o, original age)`` (its mean age rises by ``(1 − π_s)·delay/12``
    unless the original age binds), the economy's own options under a delay
    (:func:`models.economy.core.retirement_options`). The shares ``d_o`` are held at the
    economy's equilibrium of the pairing iteration (solved under the expected policy): the
    households' response of the shares to the optimizer's own delay path enters only
    through the pairing loop, not within one solve of the policy problem.

    ``past = (schedule, first_year)``: the schedule of the years before ``first_year`` (the
    first decision year) is that one (the policy before any decision), whatever the delay: a
    delay decided in ``first_year`` cannot move a retirement that happened before it (the
    2024 law's flexible window lets a cohort facing a later statutory age retire up to three
    years early, which would otherwise reach back into the past)."""
    lever = xr.DataArray(delay_months, dims=("year", "category"),
                         coords={"year": years, "category": list(CATEGORIES)})
    schedule = retirement_schedule(years, ages, regime, cal.pension, extra_delay_months=lever,
                                   retirement_distribution=retirement_distribution)
    if past is not None:
        schedule = with_past(schedule, *past)
    share = (None if indexation_share is None
             else xr.DataArray(indexation_share, dims="year", coords={"year": years}))
    rates = account_rates(schedule, fit, cal.pension, cal.finances, weights_population,
                          wage_index=wage_index, indexation_share=share)
    return PolicyRates(delay=np.asarray(delay_months), rates=rates, schedule=schedule,
                       indexation_share=indexation_share)


def with_past(schedule: xr.Dataset, past: xr.Dataset, first_year: int) -> xr.Dataset:
    """``schedule`` with every variable taken from ``past`` in the years before
    ``first_year``."""
    before = schedule["year"].values[schedule["year"].values < first_year]
    out = schedule.copy(deep=True)
    for name in out.data_vars:
        if "year" in out[name].dims:
            out[name].loc[{"year": before}] = past[name].sel(year=before)
    return out


def flows_from_rates(pop_c: np.ndarray, rates: xr.Dataset, fit: BaseYearFit,
                     cal: Calibration) -> tuple[np.ndarray, np.ndarray]:
    """Contribution base and expenditure, yuan per year, ``[path, year]`` from the category
    population ``[path, year, age, category]``:
    ``CB = ρ w compliance Σ pop·insured_rate``, ``E = Σ pop·pensioner_rate·pension``."""
    insured = np.einsum("ptac,tac->pt", pop_c, rates["insured_rate"].values)
    expenditure = np.einsum("ptac,tac->pt", pop_c,
                            rates["pensioner_rate"].values * rates["pension_cny"].values)
    base = (fit.contribution_index * cal.pension.contribution.compliance.value
            * rates["average_wage_cny"].values[None, :] * insured)
    return base, expenditure


def new_retirees(pop_c: np.ndarray, rates: xr.Dataset, years: np.ndarray) -> np.ndarray:
    """Persons starting a pension per year and category, path-averaged: the rise in the
    pensioner rate along each cohort times its population, ``[year, category]``."""
    pr = rates["pensioner_rate"].values  # [T, A, C]
    rise = np.zeros_like(pr)
    rise[1:, 1:] = np.maximum(pr[1:, 1:] - pr[:-1, :-1], 0.0)
    return np.einsum("ptac,tac->tc", pop_c, rise) / pop_c.shape[0]


# ----------------------------------------------------------------------------- many paths
class CategoryPopulation:
    """The population by retirement-age category ``pop_c[path, year, age, category]``
    (persons; :func:`models.pension.accounts.category_population` of ``population[path,
    year, age, sex]``), built on demand for the paths asked instead of kept for every path.

    Memory (issue 15): kept whole, ``pop_c`` is 1.5 times the population (three categories
    of two sexes) and a leaf's ``pop_c[paths]`` another copy, 3.9 GB each at 20,000 paths of
    float64 (81 years × 101 ages); built per block of :data:`CATEGORY_BLOCK_PATHS` paths only
    the population is kept. ``pop_c[paths]`` gives the same values in the same memory layout
    as indexing the whole array (so every sum over it rounds alike); a slice gives the
    layout of a slice of it."""

    def __init__(self, population: xr.DataArray, pension: PensionCalibration):
        self.population = population.transpose("path", "year", "age", "sex")
        self.pension = pension

    @property
    def n_paths(self) -> int:
        return self.population.sizes["path"]

    def _category_major(self, population: xr.DataArray) -> np.ndarray:
        """``[path, year, age, category]`` as the whole array's transposed view."""
        return category_population(population, self.pension).transpose(
            "path", "year", "age", "category").values

    def __getitem__(self, paths) -> np.ndarray:
        if isinstance(paths, slice):
            return self._category_major(self.population.isel(path=paths))
        # the layout of an indexed copy of the whole array: [path, category, year, age] in
        # memory, seen as [path, year, age, category]; the products of category_population
        paths = np.asarray(paths)
        pop = self.population.values
        sexes = self.population["sex"].values.tolist()
        share = self.pension.retirement.women_cadre_share.value
        weights = {"men": 1.0, "women_cadre": share, "women_worker": 1.0 - share}
        dtype = np.result_type(*(np.multiply(pop[:1, :1, :1, :1].ravel(), w)  # one element
                                 for w in weights.values()))
        out = np.empty((paths.size, len(CATEGORIES)) + pop.shape[1:3], dtype=dtype)
        for i, c in enumerate(CATEGORIES):
            np.multiply(pop[paths, :, :, sexes.index(CATEGORY_SEX[c])], weights[c],
                        out=out[:, i])
        return out.transpose(0, 2, 3, 1)

    def blocks(self, paths: np.ndarray, size: int | None = None):
        """``(rows, pop_c[paths[rows]])`` for consecutive blocks of ``size`` paths (default
        :data:`CATEGORY_BLOCK_PATHS`), the last one up to ``size + 1``."""
        paths = np.asarray(paths)
        size = size or CATEGORY_BLOCK_PATHS
        starts = list(range(0, paths.size, size))
        if len(starts) > 1 and paths.size - starts[-1] == 1:
            starts.pop()  # no block of one path (NumPy may sum a lone path in another order)
        for lo, hi in zip(starts, starts[1:] + [paths.size]):
            yield slice(lo, hi), self[paths[lo:hi]]

    def mean_over_paths(self) -> xr.DataArray:
        """``[year, age, category]`` mean over the paths, the bits and memory layout of
        ``category_population(population).mean("path")`` (a sum over the outer axis adds the
        paths one after another, as here, block by block)."""
        total = None
        for lo in range(0, self.n_paths, CATEGORY_BLOCK_PATHS):
            block = category_population(
                self.population.isel(path=slice(lo, lo + CATEGORY_BLOCK_PATHS)), self.pension)
            values = block.transpose("category", "path", "year", "age").values
            if total is None:
                total = np.zeros(values.shape[:1] + values.shape[2:])
            for p in range(values.shape[1]):
                total += values[:, p]
        mean = (total / self.n_paths).transpose(1, 2, 0)
        pop = self.population
        return xr.DataArray(mean, dims=("year", "age", "category"),
                            coords={"year": pop["year"].values, "age": pop["age"].values,
                                    "category": list(CATEGORIES)}, name=pop.name)


def flows_by_blocks(pop_c: CategoryPopulation, paths: np.ndarray, rates: xr.Dataset,
                    fit: BaseYearFit, cal: Calibration) -> tuple[np.ndarray, np.ndarray]:
    """:func:`flows_from_rates` of ``pop_c[paths]``, block by block of paths (each path's
    flows are sums over its own ages and categories: the same bits whatever the blocks)."""
    base = np.empty((len(paths), rates.sizes["year"]))
    expenditure = np.empty_like(base)
    for rows, block in pop_c.blocks(paths):
        base[rows], expenditure[rows] = flows_from_rates(block, rates, fit, cal)
    return base, expenditure


def new_retirees_by_blocks(pop_c: CategoryPopulation, paths: np.ndarray, rates: xr.Dataset,
                           years: np.ndarray) -> np.ndarray:
    """:func:`new_retirees` of ``pop_c[paths]``, block by block: bit for bit the one of the
    whole array up to :data:`CATEGORY_BLOCK_PATHS` paths; beyond, the blocks' sums are added
    (a sum over paths in another order: rounding only)."""
    if len(paths) <= CATEGORY_BLOCK_PATHS:
        return new_retirees(pop_c[paths], rates, years)
    total = sum(new_retirees(block, rates, years) * block.shape[0]
                for _, block in pop_c.blocks(paths))
    return total / len(paths)
