"""Fund accounting of the urban employee scheme and the residents' scheme, year by year.

The accounts work on three retirement-age *categories* (men, women cadres, women workers);
each category's population is its sex's population times its share (all men are "men"; women
split by ``women_cadre_share``). Counts are the 1 January population times rates, so a
count stands for the average over the year. Money is in yuan at base-year prices.

Per year ``t``, age ``a``, category ``c`` (with ``S`` the share drawing a pension, from
:func:`retirement_schedule`):

* insured workers ``N_w = pop · cov(t, a) · (1 − S)``, with working-age coverage
  ``cov(t, a) = L(t) · ramp(a) · female_relative`` and ``L(t)`` converging from the base-year
  level ``L0`` to ``long_run_level_relative · L0``;
* pensioners ``N_p = pop · cov_cohort(b) · S``: a cohort keeps the coverage it had at age 55
  (``cov_cohort(b) = L(b + 55)``); before the base year ``L(t) = L0 exp(γ (t − base))`` with the
  historical growth ``γ`` calibrated so the base year reproduces the reported retirees;
* contributions ``(τ_pool + τ_IA) · ρ · w(t) · compliance · ΣN_w``, with ``ρ`` the average
  contribution base relative to the average wage (calibrated to base-year revenue);
* the average pension of a cohort evolves as
  ``P(t, a) = (1 − ν) P(t−1, a−1)(1 + idx(t)) + ν P_new(t, a)``, ``ν`` the share of the
  cohort's pensioners who start in ``t``; a new pension is the Guofa [2005] No. 38 formula
  (basic pension on ``(w(t−1) + ρ w(t−1))/2 · 1 % · years`` plus individual account
  ``τ_IA ρ w(t) years / divisor(R)``, the account credited at wage growth);
* fund ``B(t+1) = B(t)(1 + r) + contributions + subsidy + draw − expenditure`` (interest
  ``r B`` is revenue while ``B > 0``; on a negative balance it is the cost of the gap); months payable
  ``= B(t+1) / (expenditure / 12)``; reserve (NSSF) ``A(t+1) = A(t)(1 + r_A) − draw(t)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.optimize import brentq
from scipy.stats import norm

from models.config import CATEGORIES, ConfigError, FinancesCalibration, PensionCalibration
from models.pension import rules

__all__ = [
    "BaseYearFit",
    "category_population",
    "retirement_schedule",
    "calibrate_base_year",
    "project_accounts",
    "first_year",
    "fund_milestones",
]

COHORT_COVERAGE_AGE = 55
CATEGORY_SEX = {"men": "male", "women_cadre": "female", "women_worker": "female"}


def category_population(population: xr.DataArray, pension: PensionCalibration) -> xr.DataArray:
    """Population by retirement-age category: ``[..., year, age, sex] -> [..., year, age, category]``."""
    share = pension.retirement.women_cadre_share.value
    weights = {"men": 1.0, "women_cadre": share, "women_worker": 1.0 - share}
    parts = [population.sel(sex=CATEGORY_SEX[c], drop=True) * weights[c] for c in CATEGORIES]
    out = xr.concat(parts, dim=xr.DataArray(list(CATEGORIES), dims="category", name="category"))
    dims = [d for d in population.dims if d != "sex"] + ["category"]
    out = out.transpose(*dims)
    out.attrs.update(units="persons", long_name="population by retirement-age category")
    return out


def retirement_schedule(years: np.ndarray, ages: np.ndarray, regime: str,
                        pension: PensionCalibration) -> xr.Dataset:
    """Who draws a pension, by year, age on 1 January and category, under a retirement regime.

    * ``statutory_age[year, age, category]`` (years): the cohort's statutory retirement age
      (law of September 2024 or the earlier ages), averaged over birth months;
    * ``contribution_years[...]`` (years): mean years at the statutory age,
      ``density · (R − entry_age)``;
    * ``pension_share[...]``: share of the year's person-months spent drawing a pension:
      the months past the statutory age (split by months, :func:`rules.retired_share`) times
      the share who have the minimum contribution years. Contribution years are normal with
      the calibrated spread; those short of the minimum keep contributing, one year per year
      past the statutory age, until they qualify:
      ``eligible = Φ((Ȳ + max(0, a + 1/2 − R) − Y_min(t)) / σ)``. Along a cohort the share
      never falls (a pension once awarded is kept when the minimum later rises).
    """
    years = np.asarray(years, dtype=int)
    ages = np.asarray(ages, dtype=int)
    ret = pension.retirement
    birth_year = years[:, None, None] - ages[None, :, None] - 1
    birth_month = np.arange(1, 13)[None, None, :]
    y_min = np.asarray(rules.minimum_contribution_years(years, regime), dtype=float)
    shares, stat_ages, contrib_years = [], [], []
    for cat in CATEGORIES:
        months = rules.statutory_retirement_age_months(
            np.broadcast_to(birth_year, birth_year.shape[:2] + (12,)),
            np.broadcast_to(birth_month, birth_year.shape[:2] + (12,)), cat, regime)
        stat_age = np.asarray(months, dtype=float).mean(axis=-1) / 12.0
        mean_years = ret.contribution_density.value * np.maximum(
            stat_age - getattr(ret.entry_age, cat).value, 0.0)
        past = np.maximum(ages[None, :] + 0.5 - stat_age, 0.0)
        eligible = norm.cdf((mean_years + past - y_min[:, None]) / ret.contribution_years_sd.value)
        share = np.asarray(rules.retired_share(years, ages, cat, regime)) * eligible
        for t in range(1, len(years)):  # a cohort's share never falls
            share[t, 1:] = np.maximum(share[t, 1:], share[t - 1, :-1])
        shares.append(share)
        stat_ages.append(stat_age)
        contrib_years.append(mean_years)
    coords = {"year": years, "age": ages, "category": list(CATEGORIES)}
    dims = ("year", "age", "category")
    return xr.Dataset(
        {
            "pension_share": (dims, np.stack(shares, -1),
                              {"units": "1", "long_name": "share of person-months drawing a pension"}),
            "statutory_age": (dims, np.stack(stat_ages, -1),
                              {"units": "years", "long_name": "cohort's statutory retirement age"}),
            "contribution_years": (dims, np.stack(contrib_years, -1),
                                   {"units": "years",
                                    "long_name": "mean contribution years at the statutory age"}),
        },
        coords=coords,
        attrs={"regime": regime},
    )


@dataclass(frozen=True)
class BaseYearFit:
    """Scalars calibrated so the base year reproduces its reported targets."""

    coverage_level: float  # L0, male working-age coverage at full ramp (fraction)
    historical_coverage_growth: float  # γ, per year
    contribution_index: float  # ρ, average contribution base / average wage
    base_pension_level_cny: float  # π, yuan per year
    residents_uptake: float  # ω, share of non-employee-pensioners 60+ drawing a residents' pension
    fund_balance_start_cny: float  # B(base) on 1 January
    reserve_assets_start_cny: float  # A(base) on 1 January


def _ramp(ages: np.ndarray, pension: PensionCalibration) -> np.ndarray:
    cov = pension.coverage
    lo, hi = cov.entry_age_start.value, cov.entry_age_full.value
    return np.clip((ages - lo) / (hi - lo), 0.0, 1.0)


def _sex_factor(pension: PensionCalibration) -> np.ndarray:
    f = pension.coverage.female_relative.value
    return np.array([1.0 if CATEGORY_SEX[c] == "male" else f for c in CATEGORIES])


def _coverage_level(years: np.ndarray, base_year: int, level0: float, gamma: float,
                    pension: PensionCalibration) -> np.ndarray:
    """``L(t)``: ``L0 exp(γ (t − base))`` before the base year, then converging to ``ℓ L0``."""
    cov = pension.coverage
    years = np.asarray(years, dtype=float)
    ahead = np.maximum(years - base_year, 0.0)
    future = level0 * (1.0 + (cov.long_run_level_relative.value - 1.0)
                       * (1.0 - (1.0 - cov.convergence_rate.value) ** ahead))
    past = level0 * np.exp(gamma * np.minimum(years - base_year, 0.0))
    return np.where(years < base_year, past, future)


def _cohort_coverage(years: np.ndarray, ages: np.ndarray, base_year: int, level0: float,
                     gamma: float, pension: PensionCalibration) -> np.ndarray:
    """Pensioner coverage of the cohort aged ``a`` in ``t``: ``L(t − a − 1 + 55)``, [year, age]."""
    at55 = years[:, None] - ages[None, :] - 1 + COHORT_COVERAGE_AGE
    return _coverage_level(at55, base_year, level0, gamma, pension)


def _wage_path(years: np.ndarray, base_year: int, finances: FinancesCalibration) -> np.ndarray:
    """Average wage ``w(t) = w0 Π_{s=base}^{t-1} (1 + g(s))``, yuan per year."""
    g = finances.wages.real_growth.rate(years)
    growth = np.concatenate([[1.0], np.cumprod(1.0 + g[:-1])])
    return finances.wages.average_wage_cny.value * growth * (
        1.0 + finances.wages.real_growth.rate(np.array([base_year]))[0]) ** (years[0] - base_year)


def _pension_profile(ages: np.ndarray, stat_age: np.ndarray, growth: float,
                     pension: PensionCalibration) -> np.ndarray:
    """Relative pension by age in the base-year stock: older cohorts' pensions were indexed by
    ``λ g`` while new pensions grew with wages ``g``: ``((1 + λ g)/(1 + g))^(a − R)``."""
    lam = pension.benefit.indexation_wage_share.value
    ratio = (1.0 + lam * growth) / (1.0 + growth)
    return ratio ** np.maximum(ages[:, None] + 0.5 - stat_age, 0.0)


def calibrate_base_year(population: xr.DataArray, schedule: xr.Dataset,
                        pension: PensionCalibration, finances: FinancesCalibration
                        ) -> BaseYearFit:
    """Solve the scheme's scalars so the base year reproduces its targets exactly.

    ``population`` is the base-year population [age, sex]; ``schedule`` a
    :func:`retirement_schedule` whose first year is the base year. The closed forms:
    ``L0 = insured workers / Σ pop·ramp·sex·(1−S)``; ``γ`` solves pensioners(γ) = reported
    retirees (Brent); ``π = expenditure / Σ N_p·profile``; ``ρ = (revenue − subsidy − r B0) /
    (τ w0 compliance · insured workers)`` with ``B0 = balance_end − revenue + expenditure``;
    residents' uptake ``ω = recipients / (pop 60+ − employee pensioners 60+)``.
    """
    tg = pension.targets
    base = tg.year.value
    ages = population["age"].values
    pop_c = category_population(population, pension).values  # [age, category]
    share = schedule["pension_share"].sel(year=base).values  # [age, category]
    stat_age = schedule["statutory_age"].sel(year=base).values
    ramp, sexf = _ramp(ages, pension), _sex_factor(pension)

    exposure_workers = np.sum(pop_c * ramp[:, None] * sexf[None, :] * (1.0 - share))
    level0 = tg.insured_workers.value / exposure_workers
    if level0 * pension.coverage.long_run_level_relative.value > 1.0:
        raise ConfigError(
            f"pension.toml: key 'coverage.long_run_level_relative.value' = "
            f"{pension.coverage.long_run_level_relative.value}: expected a value with base "
            f"coverage {level0:.3f} x it <= 1")

    def pensioners(gamma: float) -> float:
        cohort = _cohort_coverage(np.array([base]), ages, base, level0, gamma, pension)[0]
        return float(np.sum(pop_c * cohort[:, None] * sexf[None, :] * share))

    lo, hi = -0.2, 0.3
    f_lo, f_hi = pensioners(lo) - tg.retirees.value, pensioners(hi) - tg.retirees.value
    if f_lo * f_hi > 0:
        raise ConfigError(
            f"pension.toml: key 'targets.retirees.value' = {tg.retirees.value:.4g}: cannot be "
            f"reproduced with a historical coverage growth in [{lo}, {hi}] "
            f"(model gives {pensioners(lo):.4g} .. {pensioners(hi):.4g} persons)")
    gamma = brentq(lambda g: pensioners(g) - tg.retirees.value, lo, hi, xtol=1e-12)
    cohort = _cohort_coverage(np.array([base]), ages, base, level0, gamma, pension)[0]
    n_pensioners = pop_c * cohort[:, None] * sexf[None, :] * share

    growth0 = float(finances.wages.real_growth.rate(np.array([base]))[0])
    profile = _pension_profile(ages, stat_age, growth0, pension)
    level_pension = tg.expenditure_cny.value / np.sum(n_pensioners * profile)

    balance_start = tg.balance_end_cny.value - tg.revenue_cny.value + tg.expenditure_cny.value
    interest = finances.fund.real_return.value * balance_start
    subsidy = finances.fiscal_subsidy.base_year_cny.value
    contributions = tg.revenue_cny.value - subsidy - interest
    rate = (pension.contribution.employer_pooled_rate.value
            + pension.contribution.individual_account_rate.value)
    paying = pension.contribution.compliance.value * tg.insured_workers.value
    rho = contributions / (rate * finances.wages.average_wage_cny.value * paying)
    if not 0.2 <= rho <= 3.0:
        raise ConfigError(
            f"pension.toml/finances.toml: the base-year revenue implies a contribution index "
            f"(average base / average wage) of {rho:.3f}; expected 0.2..3 (check "
            f"targets.revenue_cny, fiscal_subsidy.base_year_cny, contribution.compliance)")

    old = population.sel(age=population["age"] >= pension.residents.eligibility_age.value)
    employee_old = n_pensioners[ages >= pension.residents.eligibility_age.value].sum()
    eligible_residents = float(old.sum()) - employee_old
    uptake = tg.residents_recipients.value / eligible_residents
    if not 0 < uptake <= 1:
        raise ConfigError(
            f"pension.toml: key 'targets.residents_recipients.value' = "
            f"{tg.residents_recipients.value:.4g}: expected at most the {eligible_residents:.4g} "
            f"persons aged 60+ outside the employee scheme")
    reserve = finances.reserve
    fit = BaseYearFit(
        coverage_level=float(level0),
        historical_coverage_growth=float(gamma),
        contribution_index=float(rho),
        base_pension_level_cny=float(level_pension),
        residents_uptake=float(uptake),
        fund_balance_start_cny=float(balance_start),
        reserve_assets_start_cny=reserve.assets_end_base_year_cny.value
        / (1.0 + reserve.base_year_return.value),
    )
    return fit


def project_accounts(population: xr.DataArray, schedule: xr.Dataset, fit: BaseYearFit,
                     pension: PensionCalibration, finances: FinancesCalibration,
                     pooled_rate: xr.DataArray | None = None,
                     reserve_draw: xr.DataArray | None = None) -> xr.Dataset:
    """Project the employee fund, the residents' scheme and the reserve, year by year.

    ``population[..., year, age, sex]`` (leading dims such as ``path`` are carried through);
    ``schedule`` from :func:`retirement_schedule` over the same years and ages;
    ``pooled_rate[year]`` overrides the employer pooled rate (fraction), ``reserve_draw[...,
    year]`` transfers from the reserve to the fund (yuan). Returns a Dataset of labelled
    flows and stocks (see the variables' ``long_name`` and ``units``).
    """
    years = population["year"].values
    ages = population["age"].values
    base = int(years[0])
    lead = [d for d in population.dims if d not in ("year", "age", "sex")]
    pop_c = category_population(population, pension).transpose(*lead, "year", "age",
                                                              "category").values
    share = schedule["pension_share"].sel(year=years, age=ages).values  # [T, A, C]
    stat_age = schedule["statutory_age"].sel(year=years, age=ages).values
    ybar = schedule["contribution_years"].sel(year=years, age=ages).values
    n_years = len(years)
    regime = schedule.attrs["regime"]

    wage = _wage_path(years, base, finances)
    growth = finances.wages.real_growth.rate(years)
    index_rate = pension.benefit.indexation_wage_share.value * growth
    sexf = _sex_factor(pension)
    cov_work = (_coverage_level(years, base, fit.coverage_level, 0.0, pension)[:, None, None]
                * _ramp(ages, pension)[None, :, None] * sexf[None, None, :])
    cov_cohort = (_cohort_coverage(years, ages, base, fit.coverage_level,
                                   fit.historical_coverage_growth, pension)[:, :, None]
                  * sexf[None, None, :])
    insured = pop_c * cov_work * (1.0 - share)  # [..., T, A, C]
    pensioners = pop_c * cov_cohort * share

    tau_ia = pension.contribution.individual_account_rate.value
    pooled = (np.full(n_years, pension.contribution.employer_pooled_rate.value)
              if pooled_rate is None else pooled_rate.sel(year=years).values)
    rho = fit.contribution_index
    compliance = pension.contribution.compliance.value
    contributions = ((pooled + tau_ia)[:, None, None] * rho * wage[:, None, None] * compliance
                     * insured).sum(axis=(-2, -1))

    # New pensions by (year, age, category): Guofa [2005] No. 38
    y_min = np.asarray(rules.minimum_contribution_years(years, regime), dtype=float)
    credited = np.maximum(ybar, y_min[:, None, None])
    wage_prev = np.concatenate([[wage[0] / (1.0 + growth[0])], wage[:-1]])
    basic = rules.basic_pension(wage_prev[:, None, None], rho, credited,
                                pension.benefit.accrual_rate.value)
    table = (np.asarray(pension.benefit.individual_account_divisor.ages),
             np.asarray(pension.benefit.individual_account_divisor.months))
    divisor = rules.ia_divisor_months(np.clip(stat_age, table[0][0], table[0][-1]), table)
    new_pension = np.asarray(basic) + tau_ia * rho * wage[:, None, None] * credited * 12.0 / divisor

    # Cohort average pensions, year by year
    avg = np.empty(pensioners.shape)
    avg[..., 0, :, :] = fit.base_pension_level_cny * _pension_profile(
        ages, stat_age[0], growth[0], pension)
    for t in range(1, n_years):
        prev = avg[..., t - 1, :, :] * (1.0 + index_rate[t])
        carried = np.empty_like(prev)
        carried[..., 1:, :] = prev[..., :-1, :]
        carried[..., 0, :] = 0.0
        w_prev = pensioners[..., t - 1, :, :]
        # open age group: pensioners of 99 and 100+ merge
        denom = w_prev[..., -2, :] + w_prev[..., -1, :]
        carried[..., -1, :] = np.where(
            denom > 0, (prev[..., -2, :] * w_prev[..., -2, :] + prev[..., -1, :] * w_prev[..., -1, :])
            / np.where(denom > 0, denom, 1.0), prev[..., -1, :])
        s_now, s_before = share[t], np.zeros_like(share[t])
        s_before[1:] = share[t - 1, :-1]
        s_before[-1] = share[t - 1, -1]
        new_weight = np.where(s_now > 0, (s_now - s_before) / np.where(s_now > 0, s_now, 1.0), 0.0)
        new_weight = np.clip(new_weight, 0.0, 1.0)
        avg[..., t, :, :] = (1.0 - new_weight) * carried + new_weight * new_pension[t]
    expenditure = (pensioners * avg).sum(axis=(-2, -1))

    subsidy = finances.fiscal_subsidy.base_year_cny.value * wage / wage[0]
    r_fund = finances.fund.real_return.value
    draws = (np.zeros(expenditure.shape) if reserve_draw is None
             else np.broadcast_to(reserve_draw.transpose(*lead, "year").values, expenditure.shape))
    balance = np.empty(expenditure.shape[:-1] + (n_years + 1,))
    balance[..., 0] = fit.fund_balance_start_cny
    interest = np.empty(expenditure.shape)
    debt_interest = np.empty(expenditure.shape)
    for t in range(n_years):
        interest[..., t] = r_fund * np.maximum(balance[..., t], 0.0)
        debt_interest[..., t] = r_fund * np.maximum(-balance[..., t], 0.0)
        balance[..., t + 1] = (balance[..., t] + interest[..., t] - debt_interest[..., t]
                               + contributions[..., t] + subsidy[t] + draws[..., t]
                               - expenditure[..., t])
    reserve = np.empty_like(balance)
    reserve[..., 0] = fit.reserve_assets_start_cny
    r_res = np.full(n_years, finances.reserve.real_return.value)
    r_res[0] = finances.reserve.base_year_return.value
    for t in range(n_years):
        reserve[..., t + 1] = reserve[..., t] * (1.0 + r_res[t]) - draws[..., t]

    # Residents' scheme: flat pension from the budget to 60+ outside the employee scheme
    elig_age = pension.residents.eligibility_age.value
    old = (ages >= elig_age)
    pop_old = population.transpose(*lead, "year", "age", "sex").values[..., old, :].sum(axis=(-2, -1))
    residents = fit.residents_uptake * (pop_old - pensioners[..., old, :].sum(axis=(-2, -1)))
    res_growth = pension.residents.indexation_wage_share.value * growth
    res_pension = (pension.residents.basic_pension_monthly_cny.value * 12.0
                   * np.concatenate([[1.0], np.cumprod(1.0 + res_growth[1:])]))

    n_ins = insured.sum(axis=-2)
    n_pen = pensioners.sum(axis=-2)
    dims_y = tuple(lead) + ("year",)
    dims_yc = dims_y + ("category",)
    coords = {d: population[d] for d in lead}
    coords.update(year=years, category=list(CATEGORIES))
    ds = xr.Dataset(
        {
            "insured_workers": (dims_yc, n_ins, {"units": "persons",
                                                 "long_name": "insured workers (employee scheme)"}),
            "pensioners": (dims_yc, n_pen, {"units": "persons",
                                            "long_name": "employee-scheme pensioners"}),
            "contributors": (dims_y, compliance * n_ins.sum(-1),
                             {"units": "persons", "long_name": "insured workers paying contributions"}),
            "system_dependency_ratio": (dims_y, n_pen.sum(-1) / n_ins.sum(-1),
                                        {"units": "pensioners per insured worker",
                                         "long_name": "system dependency ratio"}),
            "average_wage_cny": (("year",), wage, {"units": "yuan per year (base-year prices)",
                                                   "long_name": "average wage"}),
            "pooled_rate": (("year",), pooled, {"units": "fraction of contribution base",
                                                "long_name": "employer pooled contribution rate"}),
            "average_pension_cny": (dims_y, expenditure / n_pen.sum(-1),
                                    {"units": "yuan per year (base-year prices)",
                                     "long_name": "average employee-scheme pension"}),
            "contributions_cny": (dims_y, contributions, {"units": "yuan per year",
                                                          "long_name": "contribution revenue"}),
            "fiscal_subsidy_cny": (("year",), subsidy, {"units": "yuan per year",
                                                        "long_name": "fiscal subsidy to the fund"}),
            "interest_cny": (dims_y, interest, {"units": "yuan per year",
                                                "long_name": "return on a positive fund balance"}),
            "debt_interest_cny": (dims_y, debt_interest,
                                  {"units": "yuan per year",
                                   "long_name": "interest on a negative fund balance (the "
                                                "unfunded gap carried forward)"}),
            "reserve_draw_cny": (dims_y, np.array(draws), {"units": "yuan per year",
                                                           "long_name": "transfer from the reserve"}),
            "expenditure_cny": (dims_y, expenditure, {"units": "yuan per year",
                                                      "long_name": "pension expenditure"}),
            "balance_end_cny": (dims_y, balance[..., 1:], {"units": "yuan",
                                                           "long_name": "fund balance at year end"}),
            "months_payable": (dims_y, balance[..., 1:] / (expenditure / 12.0),
                               {"units": "months", "long_name": "year-end balance / monthly expenditure"}),
            "reserve_assets_end_cny": (dims_y, reserve[..., 1:],
                                       {"units": "yuan", "long_name": "NSSF assets at year end"}),
            "residents_recipients": (dims_y, residents, {"units": "persons",
                                                         "long_name": "residents' pension recipients"}),
            "residents_expenditure_cny": (dims_y, residents * res_pension,
                                          {"units": "yuan per year",
                                           "long_name": "residents' pension expenditure (budget)"}),
        },
        coords=coords,
        attrs={"regime": regime},
    )
    ds["revenue_cny"] = ds["contributions_cny"] + ds["fiscal_subsidy_cny"] + ds["interest_cny"]
    ds["revenue_cny"].attrs.update(units="yuan per year",
                                   long_name="fund revenue (contributions, subsidy, interest)")
    return ds


def first_year(condition: xr.DataArray) -> xr.DataArray:
    """First ``year`` where ``condition`` holds, along the ``year`` dimension (NaN if never)."""
    years = condition["year"]
    hit = condition.any("year")
    first = years.where(condition).min("year")
    return first.where(hit)


def fund_milestones(accounts: xr.Dataset) -> xr.Dataset:
    """First deficit year and depletion year of the employee fund.

    * ``first_deficit_year``: first year in which expenditure exceeds contributions plus the
      fiscal subsidy (the current balance before investment income turns negative);
    * ``depletion_year``: first year whose year-end balance is negative (the accumulated
      fund can no longer pay pensions in full without new money).
    """
    deficit = accounts["expenditure_cny"] > (accounts["contributions_cny"]
                                             + accounts["fiscal_subsidy_cny"])
    out = xr.Dataset({
        "first_deficit_year": first_year(deficit),
        "depletion_year": first_year(accounts["balance_end_cny"] < 0),
    })
    out["first_deficit_year"].attrs.update(
        units="calendar year", long_name="first year with expenditure > contributions + subsidy")
    out["depletion_year"].attrs.update(
        units="calendar year", long_name="first year with a negative year-end fund balance")
    return out
