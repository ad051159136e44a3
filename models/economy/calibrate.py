"""Calibration of the economy to the base year, and the model-versus-target table.

Method: the economy on 1 January of the base year is taken to be on the life cycles of an
*initial steady state* (base-year survival, the calibrated population growth of the
preceding decades, base-year technology growth, the base-year policy with the historical
indexation of pensions); applied to the actual base-year population this gives the capital
stock, and with the base-year labour supply the capital-output ratio ``K/Y = κ^{1−α}/Z``. The
discount factor ``β`` is solved (Brent) so that it equals the target; the level of the
pensions in force is scaled to the reported pension spending / GDP. Money: model units are
converted to yuan so that base-year output equals reported GDP (the model is homogeneous of
degree one in money). Every other parameter comes from ``economy.toml`` / ``pension.toml``
with its source; the remaining base-year figures (interest rate, household saving rate,
replacement rate, the scheme's head counts and average wage) are printed beside the model,
not fitted.

Labour supply (issue 14): the disutility of hours and of participation and the retirement
taste scale are fitted by :func:`fit_labour_supply` (least squares on more moments than
parameters, run by hand; the values go into ``economy.toml``), and every run prints the labour
moments beside their targets (:func:`labour_fit_at`, rows of :func:`base_year_fit`).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.optimize import brentq, least_squares
from tabulate import tabulate

from models.economy import core
from models.economy.parameters import EconomyCalibration, EconomyParameters
from models.economy.policy import Policy
from models.economy.steady_state import (
    SteadyState,
    SteadyStateError,
    demography_steady_state,
    solve_steady_state,
)
from models.economy.transition import InitialState, initial_state, population_by_kind

log = logging.getLogger(__name__)

__all__ = ["BaseYearEconomy", "initial_steady_state", "base_year_economy", "calibrate_economy",
           "base_year_fit", "fit_table", "LABOUR_MOMENTS", "LABOUR_CHECKS",
           "LABOUR_PARAMETERS", "LabourFit", "law_window_steady_state", "full_time_equivalent",
           "labour_moments", "labour_targets", "labour_fit_at", "fit_labour_supply"]


@dataclass(frozen=True)
class BaseYearEconomy:
    """The initial steady state, the initial state and base-year aggregates (model units)."""

    steady_state: SteadyState
    initial: InitialState
    capital: float
    labour: float
    output: float
    interest_rate: float
    pension_benefits: float  # pensions in force x retired shares, base-year population

    @property
    def capital_output_ratio(self) -> float:
        return self.capital / self.output


def initial_steady_state(params: EconomyParameters, policy: Policy, population: xr.DataArray,
                         mortality: xr.DataArray, base_year: int,
                         guess: tuple[float, float] | None = None) -> SteadyState:
    """The steady state the base-year economy is taken to be on: base-year survival, the
    calibrated population growth before the base year, base-year technology growth, the
    base-year policy with the historical indexation of pensions in payment."""
    demo = demography_steady_state(population, mortality, base_year, params,
                                   population_growth=params.initial_population_growth)
    hist = policy.replace(indexation_wage_share=params.initial_indexation_wage_share)
    return solve_steady_state(params, demo, hist, year=base_year, base_year=base_year,
                              guess=guess)


def base_year_economy(params: EconomyParameters, policy: Policy, population: xr.DataArray,
                      mortality: xr.DataArray, base_year: int,
                      steady_state: SteadyState | None = None) -> BaseYearEconomy:
    """Initial state (pensions in force scaled by ``params.legacy_pension_factor``) and the
    base-year capital, labour and output it implies."""
    ss = steady_state or initial_steady_state(params, policy, population, mortality, base_year)
    pop0 = population.sel(year=base_year)
    init = initial_state(ss, pop0, base_year, pension_factor=params.legacy_pension_factor)
    ages = np.arange(params.first_age, params.last_age + 1)
    pop = pop0.sel(age=ages).transpose("age", "sex").values
    n_k = population_by_kind(params, pop[None], np.array([base_year]))[0]  # [K, J]
    entry = base_year - np.arange(params.n_ages)  # cohort aged first_age + i in the base year
    cp = core.cohort_policy(params, policy, entry)
    diag = np.arange(params.n_ages)
    work = cp.work[diag, :, diag].T  # [K, J]
    retired = cp.retired[diag, :, diag].T
    if ss.choice is not None:  # elastic labour: the steady state's hours (same every cohort)
        work = work * ss.choice.hours_mean
    labour = float((n_k * work * core.efficiency_by_kind(params)).sum())
    capital = float((n_k * init.assets).sum() + init.estate_per_capita * n_k.sum()
                    + init.fund_balance)
    if params.closure == "closed":
        kappa = capital / labour
        r, _ = core.firm_prices(params, kappa)
    else:
        r = params.world_interest_rate
        kappa = float(core.kappa_from_rate(params, r))
    output = params.tfp * kappa ** params.capital_share * labour
    benefits = float((n_k * retired * init.pension).sum())
    return BaseYearEconomy(ss, init, capital, labour, float(output), float(r), benefits)


def calibrate_economy(params: EconomyParameters, economy: EconomyCalibration, policy: Policy,
                      population: xr.DataArray, mortality: xr.DataArray,
                      bracket: tuple[float, float] | None = None,
                      steady_targets: tuple[float, float, float] | None = None
                      ) -> EconomyParameters:
    """Calibrate to the base year (``economy.targets``); returns the calibrated parameters.

    * ``discount_factor``: Brent's method so the base-year capital-output ratio is the target;
    * ``legacy_pension_factor``: the pensions in force in the base year (the steady state's
      profile) are scaled so base-year pension spending / GDP is the target (they reflect
      history -- transitional pensions for pre-1997 service, past indexation -- that a steady
      state cannot);
    * ``yuan_per_unit``: base-year output equals reported GDP.

    ``bracket`` of the discount factor: default ``(0.85, 1.25)``; with elastic labour
    ``params.discount_factor ± 0.05`` (the starting value in ``economy.toml`` is the last
    calibrated one; far from it the elastic steady state's fixed point is slow to settle).
    ``steady_targets``: the capital-output ratio, pension spending / GDP and GDP (yuan) the
    initial steady state is fitted to, instead of ``economy.targets``' (with elastic hours the
    transition's first year differs from the steady state it starts from, so
    :func:`models.coupling.economy_context` moves these until that year meets the targets).
    """
    if bracket is None:
        b0 = params.discount_factor
        bracket = (b0 - 0.05, b0 + 0.05) if params.elastic else (0.85, 1.25)
    tg = economy.targets
    base = tg.year.value
    target, spending, gdp = steady_targets or (tg.capital_output_ratio.value,
                                               tg.pension_spending_gdp.value, tg.gdp_cny.value)
    warm: dict = {}

    def at(beta: float) -> tuple[EconomyParameters, BaseYearEconomy]:
        p = params.replace(discount_factor=beta, legacy_pension_factor=1.0)
        ss = initial_steady_state(p, policy, population, mortality, base, warm.get("guess"))
        warm["guess"] = (ss.kappa, ss.bequest_ratio)
        b = base_year_economy(p, policy, population, mortality, base, ss)
        factor = 1.0
        for _ in range(6):  # the fund (and so capital) scales with the pensions in force
            factor = spending * b.output / (b.pension_benefits / factor)
            p = p.replace(legacy_pension_factor=factor)
            b = base_year_economy(p, policy, population, mortality, base, ss)
        return p, b

    lo, hi = bracket
    try:
        f_lo = at(lo)[1].capital_output_ratio - target
        warm.clear()
        f_hi = at(hi)[1].capital_output_ratio - target
    except Exception as exc:  # noqa: BLE001 - report the failing bracket end
        raise ValueError(f"economy calibration: the steady state fails at the discount-factor "
                         f"bracket {bracket}: {exc}") from exc
    if f_lo * f_hi > 0:
        raise ValueError(
            f"economy.toml: key 'targets.capital_output_ratio.value' = {target}: no discount "
            f"factor in {bracket} reaches it (capital-output ratio {f_lo + target:.3f} .. "
            f"{f_hi + target:.3f})")
    beta = brentq(lambda x: at(x)[1].capital_output_ratio - target, lo, hi, xtol=1e-12,
                  rtol=1e-12)
    calibrated, b = at(beta)
    return calibrated.replace(yuan_per_unit=gdp / b.output)


def base_year_fit(transition: xr.Dataset, economy: EconomyCalibration,
                  average_wage_cny: float | None = None, insured_workers: float | None = None,
                  retirees: float | None = None, prefix: str = "",
                  labour: LabourFit | None = None) -> xr.Dataset:
    """Model (first year of a solved transition) beside the base-year targets.

    Returns ``fit_model[target]``, ``fit_target[target]`` with ``fit_unit``, ``fit_source`` and
    ``fit_calibrated`` coordinates (every name preceded by ``prefix``, e.g. ``"economy_"``
    to store it beside other fits). Optional checks: the scheme's average wage, insured
    workers and retirees (from pension.toml / finances.toml); the national saving rate
    ``1 − C/Y − G/Y`` when ``economy.targets`` states it. ``labour``: the labour moments
    (:func:`labour_fit_at` or :func:`fit_labour_supply`, marked fitted when the economy has a
    disutility of work, the labour fit targeting them together; checks of the full-time economy
    otherwise).
    """
    tg = economy.targets
    first = transition.isel(year=0)
    rows = [
        ("capital_output_ratio", float(first["capital_output_ratio"]), tg.capital_output_ratio,
         True),
        ("interest_rate", float(first["interest_rate"]), tg.interest_rate, False),
        ("household_saving_rate", float(first["household_saving_rate"]),
         tg.household_saving_rate, False),
        ("pension_spending_gdp", float(first["pension_spending_gdp"]), tg.pension_spending_gdp,
         True),
        ("replacement_rate", float(first["replacement_rate"]), tg.replacement_rate, False),
        ("gdp_cny", float(first["output_cny"]), tg.gdp_cny, True),
    ]
    values = [(r[0], r[1], r[2].value, r[2].unit, r[2].source, r[3]) for r in rows]
    extra = [("average_wage_cny", "average_wage_cny", average_wage_cny,
              "yuan per year (base year)", "finances.toml wages.average_wage_cny"),
             ("insured_workers", "covered_workers", insured_workers, "persons",
              "pension.toml targets.insured_workers"),
             ("retirees", "employee_pensioners", retirees, "persons",
              "pension.toml targets.retirees")]
    for name, var, value, unit, source in extra:
        if value is not None:
            values.append((name, float(first[var]), float(value), unit, source, False))
    if tg.national_saving_rate is not None:
        saving = 1.0 - float(first["consumption_cny"] / first["output_cny"]) \
            - economy.government.consumption_share_gdp.value
        values.append(("national_saving_rate", saving, tg.national_saving_rate.value,
                       tg.national_saving_rate.unit, tg.national_saving_rate.source, False))
    targets = labour_targets(economy)
    # fitted only where the economy has a disutility of work (the fitted one); with labour
    # inelastic (shipped) the moments are printed as checks of the full-time economy
    elastic = labour is not None and (labour.parameters.get("hours_disutility", 0.0) > 0
                                      or labour.parameters.get("participation_disutility", 0.0) > 0)
    for name in (labour.targets if labour is not None else ()):
        values.append((name, float(labour.model[name]), float(labour.targets[name]),
                       targets[name].unit, targets[name].source,
                       elastic and name not in LABOUR_CHECKS))
    target = f"{prefix}target"
    return xr.Dataset(
        {
            f"{prefix}fit_model": (target, [v[1] for v in values],
                                   {"long_name": "model value in the base year"}),
            f"{prefix}fit_target": (target, [v[2] for v in values],
                                    {"long_name": "reported or target value in the base year"}),
        },
        coords={
            target: [v[0] for v in values],
            f"{prefix}fit_unit": (target, [v[3] for v in values]),
            f"{prefix}fit_source": (target, [v[4] for v in values]),
            f"{prefix}fit_calibrated": (target, [v[5] for v in values]),
        },
    )


def fit_table(fit: xr.Dataset, prefix: str = "") -> str:
    """The base-year fit as a plain-text table (for the CLI's report)."""
    rows = []
    for t in fit[f"{prefix}target"].values:
        row = fit.sel({f"{prefix}target": t})
        model, target = float(row[f"{prefix}fit_model"]), float(row[f"{prefix}fit_target"])
        rows.append([str(t), f"{model:.4g}", f"{target:.4g}", f"{model - target:+.3g}",
                     "fitted" if bool(row[f"{prefix}fit_calibrated"]) else "check",
                     str(row[f"{prefix}fit_unit"].values)])
    return tabulate(rows, headers=["base year", "model", "target", "residual", "", "unit"])


# ----------------------------------------------------------------------------- labour supply
#: Year whose reference cohort (born 61 years before) meets the 2024 law in full in every
#: category (men 63, women cadres 58, women workers 55; 2024 Measures, schedule): the
#: steady state that carries the flexible window's moments (:func:`law_window_steady_state`).
LAW_WINDOW_YEAR = 2045
#: The labour moments of the base-year fit, in the order of ``economy.toml``'s
#: ``labour_targets`` (what :func:`labour_moments` returns).
LABOUR_MOMENTS = ("employment_male_20plus", "employment_female_20plus",
                  "employment_urban_women_50", "employment_urban_men_60", "employment_rural_65",
                  "employment_urban_women_55_64", "mean_retirement_age_employees",
                  "law_window_retirement_gap", "law_window_statutory_share")
#: Moments no parameter of the labour fit moves (the model's rules set them: work ends when
#: the pension starts, resident-scheme workers stop at ``uncovered_labour_exit_age``, no early
#: retirement before the 2024 law): printed beside their targets as checks, left out of the fit.
LABOUR_CHECKS = ("employment_urban_men_60", "employment_rural_65",
                 "employment_urban_women_55_64", "mean_retirement_age_employees")
#: The parameters the labour fit moves (:func:`fit_labour_supply`).
LABOUR_PARAMETERS = ("hours_disutility", "participation_disutility", "retirement_taste_scale")


def law_window_steady_state(params: EconomyParameters, policy: Policy,
                            population: xr.DataArray, mortality: xr.DataArray, base_year: int,
                            year: int = LAW_WINDOW_YEAR) -> SteadyState:
    """The base-year economy (base-year survival, growth and technology growth, the historical
    indexation) with the retirement rules a cohort meets under the 2024 law in full: the
    reference cohort of ``year`` chooses in the flexible window (retirement choice on). Its
    chosen retirement ages carry the window's moments of the labour fit."""
    demo = demography_steady_state(population, mortality, base_year, params,
                                   population_growth=params.initial_population_growth)
    law = policy.replace(retirement_regime="law_2024",
                         indexation_wage_share=params.initial_indexation_wage_share)
    g = float(params.technology_growth_rate(base_year))
    res = float(core.residents_ratio(params, base_year, [base_year])[0])
    return solve_steady_state(params.replace(retirement_choice=True), demo, law, year=year,
                              technology_growth=g, residents_ratio=res, base_year=base_year)


def full_time_equivalent(params: EconomyParameters, ss: SteadyState
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A steady state's work by kind and age in full-time equivalents ``ℓ h`` ``[K, J]`` (the
    share of the year worked times hours; the model's employment rate, reading hours as the
    share of a cohort's members at work), the mean chosen retirement age ``[K]`` and the
    probability of the statutory option ``[K]`` (1 with the choice off)."""
    if ss.choice is not None:
        ch = ss.choice
        probs = np.asarray(ch.probabilities)  # [O, K]
        ages = np.asarray(ch.option_ages)
        fte = np.asarray(ch.employment) * np.asarray(ch.hours_mean)
        mean_age = (probs * np.where(np.isfinite(ages), ages, 0.0)).sum(0)
        return fte, mean_age, probs[probs.shape[0] // 2]
    entry = ss.year - 61 + params.first_age + 1  # the steady state's reference cohort
    cp = core.cohort_policy(params, ss.policy, [entry])
    return cp.work[0], cp.statutory_age[0], np.ones(core.N_KINDS)


def labour_moments(params: EconomyParameters, base: SteadyState, window: SteadyState | None,
                   population: xr.DataArray, base_year: int) -> dict[str, float]:
    """The model's labour moments (:data:`LABOUR_MOMENTS`): the base-year steady state's
    full-time-equivalent employment (:func:`full_time_equivalent`) weighted by the base-year
    population of each kind and age (employee kinds read as "urban", resident kinds as
    "rural"); the mean retirement age of employees weighted by the persons of each kind at
    their retirement age (the year's new retirees); and, from the flexible-window steady
    state (``window``, :func:`law_window_steady_state`), the employees' mean chosen
    retirement age minus the statutory one and the share choosing the statutory age
    (weighted likewise; NaN without ``window``)."""
    ages = np.arange(params.first_age, params.last_age + 1)
    pop = population.sel(year=base_year, age=ages).transpose("age", "sex").values
    n_k = population_by_kind(params, pop[None], np.array([base_year]))[0]  # [K, J]
    fte, ret_age, _ = full_time_equivalent(params, base)
    male = core.KIND_SEX == 1
    urban_w, urban_m, rural = core.COVERED & ~male, core.COVERED & male, ~core.COVERED

    def rate(kinds, lo, hi):
        a = (ages >= lo) & (ages <= hi)
        n = n_k[np.ix_(kinds, a)]
        return float((n * fte[np.ix_(kinds, a)]).sum() / n.sum())

    def at_retirement(age_k):
        idx = np.clip(np.floor(age_k).astype(int) - params.first_age, 0, ages.size - 1)
        return n_k[np.arange(core.N_KINDS), idx] * core.COVERED

    w = at_retirement(ret_age)
    out = {
        "employment_male_20plus": rate(male, ages[0], ages[-1]),
        "employment_female_20plus": rate(~male, ages[0], ages[-1]),
        "employment_urban_women_50": rate(urban_w, 50, 50),
        "employment_urban_men_60": rate(urban_m, 60, 60),
        "employment_rural_65": rate(rural, 65, 65),
        "employment_urban_women_55_64": rate(urban_w, 55, 64),
        "mean_retirement_age_employees": float((w * ret_age).sum() / w.sum()),
        "law_window_retirement_gap": np.nan, "law_window_statutory_share": np.nan,
    }
    if window is not None and window.choice is not None:
        _, chosen, at_stat = full_time_equivalent(params, window)
        stat = np.asarray(window.choice.option_ages)[window.choice.option_ages.shape[0] // 2]
        w = at_retirement(stat)
        out["law_window_retirement_gap"] = float((w * (chosen - stat)).sum() / w.sum())
        out["law_window_statutory_share"] = float((w * at_stat).sum() / w.sum())
    return out


@dataclass(frozen=True)
class LabourFit:
    """The labour fit: targets and model moments by name (:data:`LABOUR_MOMENTS`), the
    weights (1 / half the stated range), the fitted parameters and the solver's summary."""

    targets: dict
    model: dict
    weights: dict
    parameters: dict
    cost: float
    success: bool
    message: str

    def residuals(self) -> dict[str, float]:
        """Model minus target, by moment."""
        return {k: self.model[k] - self.targets[k] for k in self.targets}


def labour_targets(economy: EconomyCalibration) -> dict:
    """``economy.toml``'s ``labour_targets`` (``{}`` when the calibration has none)."""
    return dict(economy.labour_targets or {})


def labour_fit_at(params: EconomyParameters, economy: EconomyCalibration, policy: Policy,
                  population: xr.DataArray, mortality: xr.DataArray) -> LabourFit:
    """The labour moments at ``params`` beside their targets (no fitting); the window's
    moments are NaN (with a warning) if its steady state cannot be solved."""
    base = economy.targets.year.value
    ss = initial_steady_state(params, policy, population, mortality, base)
    try:
        window = law_window_steady_state(params, policy, population, mortality, base)
    except SteadyStateError as exc:
        log.warning("labour fit: the flexible window's steady state failed (%s)", exc)
        window = None
    model = labour_moments(params, ss, window, population, base)
    tg = labour_targets(economy)
    return LabourFit(
        targets={k: float(v.value) for k, v in tg.items()},
        model={k: model[k] for k in tg},
        weights={k: 2.0 / (v.high - v.low) for k, v in tg.items()},
        parameters={k: getattr(params, k) for k in LABOUR_PARAMETERS},
        cost=float("nan"), success=True, message="evaluated, not fitted")


def fit_labour_supply(params: EconomyParameters, economy: EconomyCalibration, policy: Policy,
                      population: xr.DataArray, mortality: xr.DataArray,
                      rounds: int = 2,
                      steady_targets: tuple[float, float, float] | None = None
                      ) -> tuple[EconomyParameters, LabourFit]:
    r"""Moment-matching fit of the disutility of hours ``φ``, of participation ``κ`` and of the
    retirement taste scale ``s_0`` to ``economy.toml``'s ``labour_targets`` (more targets than
    parameters), alternating with the discount factor of :func:`calibrate_economy` (``rounds``
    times).

    ``min_θ Σ_m ((x_m(θ) − x̂_m) / h_m)^2`` over ``θ = log(φ, κ, s_0)`` by
    :func:`scipy.optimize.least_squares` (trust-region reflective, finite differences), ``h_m``
    half the stated range of target ``m`` (a target stated loosely weighs less). The moments
    (:func:`labour_moments`) come from the base-year initial steady state and, for the
    flexible window, from :func:`law_window_steady_state`: before the 2024 law the model's
    households have no retirement choice, so ``κ`` and ``s_0`` are identified by the window's
    moments only (whose targets are stated assumptions). ``steady_targets``: as in
    :func:`calibrate_economy` (:attr:`models.coupling.EconomyContext.steady_targets`, the
    ones that put the transition's first year on the base-year targets).
    """
    tg = labour_targets(economy)
    names = [k for k in tg if k not in LABOUR_CHECKS]
    if len(names) <= len(LABOUR_PARAMETERS):
        raise ValueError(f"economy.toml: labour_targets has {len(names)} fitted moments, the "
                         f"fit needs more than its {len(LABOUR_PARAMETERS)} parameters")
    target = np.array([tg[k].value for k in names], dtype=float)
    weight = np.array([2.0 / (tg[k].high - tg[k].low) for k in names])
    base = economy.targets.year.value

    def moments(p: EconomyParameters) -> np.ndarray:
        ss = initial_steady_state(p, policy, population, mortality, base)
        window = law_window_steady_state(p, policy, population, mortality, base)
        m = labour_moments(p, ss, window, population, base)
        return np.array([m[k] for k in names])

    current = params
    for _ in range(rounds):
        current = calibrate_economy(current, economy, policy, population, mortality,
                                    steady_targets=steady_targets)

        def residual(theta: np.ndarray, p0=current) -> np.ndarray:
            p = p0.replace(**dict(zip(LABOUR_PARAMETERS, np.exp(theta))))
            return (moments(p) - target) * weight

        x0 = np.log([max(getattr(current, k), 1e-3) for k in LABOUR_PARAMETERS])
        sol = least_squares(residual, x0, method="trf", diff_step=1e-3, x_scale=1.0,
                            max_nfev=60, bounds=(np.log(1e-4), np.log(1e3)))
        current = current.replace(**dict(zip(LABOUR_PARAMETERS, np.exp(sol.x))))
    current = calibrate_economy(current, economy, policy, population, mortality,
                                steady_targets=steady_targets)
    model = moments(current)
    fit = labour_fit_at(current, economy, policy, population, mortality)
    return current, dataclasses.replace(
        fit, cost=float(0.5 * np.sum(((model - target) * weight) ** 2)),
        success=bool(sol.success), message=str(sol.message))
