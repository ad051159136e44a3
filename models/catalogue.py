"""The catalogue of result variables: every data variable of ``results.nc`` in one table.

Each entry gives the variable's name, dimensions, ``units``, ``long_name``, the CF
``standard_name`` where one exists (none of the pension, economy or optimizer quantities has
one in the CF standard-name table, v84; the field is kept for the day one does) and the stage of
the pipeline that writes it. The pipeline takes every variable's attributes from here
(:func:`annotate`, called on the finished Dataset of a run), and readers ask which stages
wrote a results file (:func:`stages`, :func:`wrote`) instead of testing for one variable.

Units are the project's (DESIGN.md, "Conventions"): rates as fractions ("1"), money in real
yuan at base-year prices (:data:`models.constants.MONEY_UNITS`), people in persons. "yuan"
and "persons" are not UDUNITS units, so a strict CF units check does not pass them.

This module sits on the config floor: it imports nothing from the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import xarray as xr

#: The stages of a run, in the order the pipeline runs them (a results file holds a subset).
STAGES = (
    "demography",  # median demography (models.pipeline.run.simulate)
    "accounts",  # pension accounts per regime, milestones, base-year fit
    "checks",  # model vs reported facts and calibration targets
    "economy",  # OLG economy per regime, accounts under its prices (pipeline.economy_step)
    "economy_welfare",  # welfare of the 2024 law (both regimes run)
    "monte_carlo",  # Monte Carlo demography and accounts on every path (pipeline.monte_carlo)
    "monte_carlo_prices",  # every path's own economy prices (economy.monte_carlo_prices)
    "monte_carlo_price_error",  # first-order vs exact prices on a sample of paths
    "optimization",  # optimal policy (pipeline.optimization)
    "optimization_duals",  # shadow prices (LP solved with duals)
    "optimization_voi",  # VSS / EVPI (optimization.compute_vss_evpi)
    "optimization_rescue",  # no policy pays every pension: the smallest rescue transfer
    "optimization_capacity",  # transfers within a fiscal capacity: GDP, capacity, excess
    "optimization_welfare",  # cohorts' welfare under the optimal policy (economy pairing)
    "optimization_pairing",  # the pairing loop's history (economy pairing)
    "optimization_frontier",  # efficient policies by ε-constraint (optimization.frontier)
    "optimization_certificate",  # the search's local-optimality certificate (search.polish)
    "optimization_out_of_sample",  # the policy on fresh paths, SAA statistics (evaluation)
)


@dataclass(frozen=True)
class Variable:
    """One result variable: ``units`` None only for a variable holding text."""

    name: str
    dims: tuple[str, ...]
    units: str | None
    long_name: str
    stage: str
    standard_name: str | None = None

    def attrs(self) -> dict[str, str]:
        """The CF attributes of the variable."""
        out = {"long_name": self.long_name}
        if self.units is not None:
            out["units"] = self.units
        if self.standard_name is not None:
            out["standard_name"] = self.standard_name
        return out


VARIABLES: tuple[Variable, ...] = (
    # --- demography
    Variable("population", ("year", "age", "sex"),
             units="persons", stage="demography",
             long_name="population on 1 January"),
    Variable("population_end", ("age", "sex"),
             units="persons", stage="demography",
             long_name="population on 1 January after the last year"),
    Variable("births", ("year", "sex"),
             units="persons per year", stage="demography",
             long_name="live births"),
    Variable("deaths", ("year", "sex"),
             units="persons per year", stage="demography",
             long_name="deaths (of the 1 January stock and the year's births)"),
    Variable("net_migration", ("year", "sex"),
             units="persons per year", stage="demography",
             long_name="net migrants applied (after clipping)"),
    # --- accounts
    Variable("insured_workers", ("regime", "year", "category"),
             units="persons", stage="accounts",
             long_name="insured workers (employee scheme)"),
    Variable("pensioners", ("regime", "year", "category"),
             units="persons", stage="accounts",
             long_name="employee-scheme pensioners"),
    Variable("insured_workers_year_end", ("regime", "year", "category"),
             units="persons", stage="accounts",
             long_name="insured workers at year end (1 January of the next year)"),
    Variable("pensioners_year_end", ("regime", "year", "category"),
             units="persons", stage="accounts",
             long_name="employee-scheme pensioners at year end (1 January of the next year)"),
    Variable("contributors", ("regime", "year"),
             units="persons", stage="accounts",
             long_name="insured workers paying contributions"),
    Variable("system_dependency_ratio", ("regime", "year"),
             units="pensioners per insured worker", stage="accounts",
             long_name="system dependency ratio"),
    Variable("average_wage_cny", ("year",),
             units="yuan per year (base-year prices)", stage="accounts",
             long_name="average wage"),
    Variable("pooled_rate", ("regime", "year"),
             units="fraction of contribution base", stage="accounts",
             long_name="employer pooled contribution rate"),
    Variable("contribution_base_cny", ("regime", "year"),
             units="yuan per year (base-year prices)", stage="accounts",
             long_name="contribution base of paying contributors"),
    Variable("average_pension_cny", ("regime", "year"),
             units="yuan per pensioner per year (base-year prices)", stage="accounts",
             long_name="average employee-scheme pension"),
    Variable("contributions_cny", ("regime", "year"),
             units="yuan per year (base-year prices)", stage="accounts",
             long_name="contribution revenue"),
    Variable("fiscal_subsidy_cny", ("year",),
             units="yuan per year (base-year prices)", stage="accounts",
             long_name="fiscal subsidy to the fund"),
    Variable("extra_transfer_cny", ("regime", "year"),
             units="yuan per year (base-year prices)", stage="accounts",
             long_name="fiscal transfer beyond the subsidy rule"),
    Variable("interest_cny", ("regime", "year"),
             units="yuan per year (base-year prices)", stage="accounts",
             long_name="return on a positive fund balance"),
    Variable("debt_interest_cny", ("regime", "year"),
             units="yuan per year (base-year prices)", stage="accounts",
             long_name="interest on a negative fund balance (the unfunded gap carried forward)"),
    Variable("reserve_draw_cny", ("regime", "year"),
             units="yuan per year (base-year prices)", stage="accounts",
             long_name="transfer from the reserve"),
    Variable("expenditure_cny", ("regime", "year"),
             units="yuan per year (base-year prices)", stage="accounts",
             long_name="pension expenditure"),
    Variable("balance_end_cny", ("regime", "year"),
             units="yuan (base-year prices)", stage="accounts",
             long_name="fund balance at year end"),
    Variable("months_payable", ("regime", "year"),
             units="months", stage="accounts",
             long_name="year-end balance / monthly expenditure"),
    Variable("reserve_assets_end_cny", ("regime", "year"),
             units="yuan (base-year prices)", stage="accounts",
             long_name="NSSF assets at year end"),
    Variable("residents_recipients", ("regime", "year"),
             units="persons", stage="accounts",
             long_name="residents' pension recipients"),
    Variable("residents_expenditure_cny", ("regime", "year"),
             units="yuan per year (base-year prices)", stage="accounts",
             long_name="residents' pension expenditure (budget)"),
    Variable("revenue_cny", ("regime", "year"),
             units="yuan per year (base-year prices)", stage="accounts",
             long_name="fund revenue (contributions, subsidy, transfers, interest)"),
    Variable("statutory_age", ("regime", "year", "age", "category"),
             units="years", stage="accounts",
             long_name="cohort's statutory retirement age"),
    Variable("first_deficit_year", ("regime",),
             units="calendar year", stage="accounts",
             long_name="first year with expenditure > contributions + subsidy"),
    Variable("depletion_year", ("regime",),
             units="calendar year", stage="accounts",
             long_name="first year with a negative year-end fund balance"),
    Variable("coverage_level", ("regime",),
             units="1", stage="accounts",
             long_name="base-year calibrated coverage level"),
    Variable("historical_coverage_growth", ("regime",),
             units="1", stage="accounts",
             long_name="base-year calibrated historical coverage growth"),
    Variable("contribution_index", ("regime",),
             units="1", stage="accounts",
             long_name="base-year calibrated contribution index"),
    Variable("pension_scale", ("regime",),
             units="1", stage="accounts",
             long_name="base-year calibrated scale factor on the benefit formula (1 = the "
                       "formula alone)"),
    Variable("employee_contribution_index", ("regime",),
             units="1", stage="accounts",
             long_name="base-year calibrated employees' average contribution base / average "
                       "wage"),
    Variable("own_base_index", ("regime",),
             units="1", stage="accounts",
             long_name="base-year calibrated payers' average contribution base / average wage "
                       "(benefit formula)"),
    Variable("residents_uptake", ("regime",),
             units="1", stage="accounts",
             long_name="base-year calibrated residents uptake"),
    Variable("fund_balance_start_cny", ("regime",),
             units="yuan", stage="accounts",
             long_name="base-year calibrated fund balance start cny"),
    Variable("reserve_assets_start_cny", ("regime",),
             units="yuan", stage="accounts",
             long_name="base-year calibrated reserve assets start cny"),
    # --- checks
    Variable("validation_model", ("regime", "validation_check"),
             units="per check: see validation_unit", stage="checks",
             long_name="model value of a reported figure after the base year (base-year "
                       "prices)"),
    Variable("validation_reported", ("validation_check",),
             units="per check: see validation_unit", stage="checks",
             long_name="reported value (as published)"),
    Variable("validation_price_level", ("validation_check",),
             units="1", stage="checks",
             long_name="consumer price level / base year (1 for counts)"),
    Variable("validation_reported_real", ("validation_check",),
             units="per check (base-year prices)", stage="checks",
             long_name="reported value at base-year prices"),
    Variable("validation_gap", ("regime", "validation_check"),
             units="1", stage="checks",
             long_name="model / reported at base-year prices - 1 (never fitted)"),
    Variable("identification_value", ("parameter",),
             units="see identification_unit", stage="checks",
             long_name="calibrated value of a parameter the base-year fit does not pin"),
    Variable("identification_low", ("parameter",),
             units="see identification_unit", stage="checks",
             long_name="low end of the parameter's plausible range"),
    Variable("identification_high", ("parameter",),
             units="see identification_unit", stage="checks",
             long_name="high end of the parameter's plausible range"),
    Variable("tornado_first_deficit_year", ("parameter", "tornado_bound"),
             units="calendar year", stage="checks",
             long_name="first deficit year with one unpinned parameter at its low or high "
                       "value (2024 law)"),
    Variable("tornado_depletion_year", ("parameter", "tornado_bound"),
             units="calendar year", stage="checks",
             long_name="depletion year with one unpinned parameter at its low or high value "
                       "(2024 law)"),
    Variable("tornado_deficit_2050_cny", ("parameter", "tornado_bound"),
             units="yuan per year (base-year prices)", stage="checks",
             long_name="expenditure - contributions - subsidy in 2050 with one unpinned "
                       "parameter at its low or high value (2024 law)"),
    Variable("tornado_reference_first_deficit_year", (),
             units="calendar year", stage="checks",
             long_name="first deficit year, every parameter at its value (2024 law)"),
    Variable("tornado_reference_depletion_year", (),
             units="calendar year", stage="checks",
             long_name="depletion year, every parameter at its value (2024 law)"),
    Variable("tornado_reference_deficit_2050_cny", (),
             units="yuan per year (base-year prices)", stage="checks",
             long_name="2050 deficit, every parameter at its value (2024 law)"),
    Variable("tornado_depletion_year_swing", ("parameter",),
             units="years", stage="checks",
             long_name="|depletion year at high - at low| (NaN where either has none)"),
    Variable("check_model", ("check",),
             units="persons", stage="checks",
             long_name="model value"),
    Variable("check_reported", ("check",),
             units="persons", stage="checks",
             long_name="reported value"),
    Variable("fit_model", ("target",),
             units="per target: see fit_unit", stage="checks",
             long_name="model value in the base year"),
    Variable("fit_reported", ("target",),
             units="per target: see fit_unit", stage="checks",
             long_name="reported value in the base year"),
    # --- economy
    Variable("economy_output_cny", ("regime", "year"),
             units="yuan per year", stage="economy",
             long_name="output (GDP)"),
    Variable("economy_capital_cny", ("regime", "year"),
             units="yuan", stage="economy",
             long_name="capital stock on 1 January"),
    Variable("economy_wage_cny", ("regime", "year"),
             units="yuan per efficiency unit per year", stage="economy",
             long_name="wage per efficiency unit"),
    Variable("economy_average_wage_cny", ("regime", "year"),
             units="yuan per year", stage="economy",
             long_name="average wage of employee-scheme workers (full-time equivalent)"),
    Variable("economy_interest_rate", ("regime", "year"),
             units="1 per year", stage="economy",
             long_name="real interest rate (net return on capital)"),
    Variable("economy_consumption_cny", ("regime", "year"),
             units="yuan per year", stage="economy",
             long_name="household consumption"),
    Variable("economy_investment_cny", ("regime", "year"),
             units="yuan per year", stage="economy",
             long_name="gross investment"),
    Variable("economy_income_tax_rate", ("regime", "year"),
             units="fraction of labour and pension income", stage="economy",
             long_name="tax on labour and pension income balancing the government budget"),
    Variable("economy_capital_output_ratio", ("regime", "year"),
             units="years of output", stage="economy",
             long_name="capital-output ratio"),
    Variable("economy_household_saving_rate", ("regime", "year"),
             units="fraction of disposable income", stage="economy",
             long_name="household saving rate"),
    Variable("economy_pension_spending_gdp", ("regime", "year"),
             units="fraction of GDP", stage="economy",
             long_name="employee-scheme pension spending / GDP"),
    Variable("economy_replacement_rate", ("regime", "year"),
             units="fraction of the average covered wage", stage="economy",
             long_name="average employee pension / average covered wage"),
    Variable("economy_goods_market_residual_cny", ("regime", "year"),
             units="yuan per year", stage="economy",
             long_name="output - consumption - investment - government - net exports"),
    Variable("economy_asset_market_residual", ("regime", "year"),
             units="fraction of output", stage="economy",
             long_name="asset-market residual (A + B - K) / Y"),
    Variable("economy_fiscal_subsidy_cny", ("regime", "year"),
             units="yuan per year", stage="economy",
             long_name="fiscal subsidy to the employee fund (fund rule)"),
    Variable("economy_fiscal_subsidy_rule_cny", ("regime", "year"),
             units="yuan per year", stage="economy",
             long_name="fiscal subsidy by the calibrated rule (the accounts': base-year "
                       "subsidy x wage index)"),
    Variable("economy_extra_transfer_cny", ("regime", "year"),
             units="yuan per year", stage="economy",
             long_name="fiscal transfer to the employee fund beyond the subsidy rule (the "
                       "fund rule's subsidy less the rule), financed by the government"),
    Variable("economy_pension_benefits_cny", ("regime", "year"),
             units="yuan per year", stage="economy",
             long_name="employee-scheme pensions paid"),
    Variable("economy_pension_contributions_cny", ("regime", "year"),
             units="yuan per year", stage="economy",
             long_name="employee-scheme contributions"),
    Variable("economy_residents_pensions_cny", ("regime", "year"),
             units="yuan per year", stage="economy",
             long_name="residents' pensions paid (budget)"),
    Variable("economy_discount_factor", (),
             units="1", stage="economy",
             long_name="calibrated household discount factor"),
    Variable("economy_fit_model", ("economy_target",),
             units="per target: see economy_fit_unit", stage="economy",
             long_name="model value in the base year"),
    Variable("economy_fit_target", ("economy_target",),
             units="per target: see economy_fit_unit", stage="economy",
             long_name="reported or target value in the base year"),
    Variable("economy_lifetime_utility", ("regime", "birth_year", "group", "category"),
             units="utils (consumption in model units, base-year technology)", stage="economy",
             long_name="expected discounted utility from the base year or first_age (under"
                       " the regime)"),
    Variable("economy_discounted_survival", ("regime", "birth_year", "group", "category"),
             units="years", stage="economy",
             long_name="sum of discount factor x survival over the remaining life (under "
                       "the regime)"),
    Variable("economy_consumption_utility", ("regime", "birth_year", "group", "category"),
             units="utils (consumption in model units, base-year technology)", stage="economy",
             long_name="expected discounted utility of consumption alone (elastic labour: "
                       "the welfare change nets the rest, the disutility of work)"),
    Variable("model_prices_balance_end_cny", ("regime", "year"),
             units="yuan (base-year prices)", stage="economy",
             long_name="fund balance at year end (accounts with the economy's wages and "
                       "returns)"),
    Variable("model_prices_months_payable", ("regime", "year"),
             units="months", stage="economy",
             long_name="year-end balance / monthly expenditure (accounts with the "
                       "economy's wages and returns)"),
    Variable("model_prices_expenditure_cny", ("regime", "year"),
             units="yuan per year (base-year prices)", stage="economy",
             long_name="pension expenditure (accounts with the economy's wages and returns)"),
    Variable("model_prices_contributions_cny", ("regime", "year"),
             units="yuan per year (base-year prices)", stage="economy",
             long_name="contribution revenue (accounts with the economy's wages and returns)"),
    Variable("model_prices_first_deficit_year", ("regime",),
             units="calendar year", stage="economy",
             long_name="first year with expenditure > contributions + subsidy (accounts "
                       "with the economy's wages and returns)"),
    Variable("model_prices_depletion_year", ("regime",),
             units="calendar year", stage="economy",
             long_name="first year with a negative year-end fund balance (accounts with "
                       "the economy's wages and returns)"),
    # --- economy_welfare
    Variable("economy_welfare_cev", ("birth_year", "group", "category"),
             units="fraction of lifetime consumption", stage="economy_welfare",
             long_name="consumption-equivalent welfare gain of the 2024 law over the "
                       "earlier ages, by birth cohort and type"),
    # --- monte_carlo
    Variable("population_snapshot", ("path", "snapshot_year", "age", "sex"),
             units="persons", stage="monte_carlo",
             long_name="population on 1 January, every path, snapshot years"),
    Variable("births_paths", ("path", "year", "sex"),
             units="persons per year", stage="monte_carlo",
             long_name="live births"),
    Variable("deaths_paths", ("path", "year", "sex"),
             units="persons per year", stage="monte_carlo",
             long_name="deaths"),
    Variable("mortality_index_paths", ("path", "year", "sex"),
             units="1", stage="monte_carlo",
             long_name="Lee-Carter mortality index k"),
    Variable("e0_paths", ("path", "year", "sex"),
             units="years", stage="monte_carlo",
             long_name="period life expectancy at birth"),
    Variable("tfr_paths", ("path", "year"),
             units="children per woman", stage="monte_carlo",
             long_name="total fertility rate"),
    Variable("migration_factor_paths", ("path", "year"),
             units="1", stage="monte_carlo",
             long_name="multiplier of the median net migration"),
    Variable("e0_median", ("year", "sex"),
             units="years", stage="monte_carlo",
             long_name="life expectancy at birth, zero-shock path"),
    Variable("tfr_median", ("year",),
             units="children per woman", stage="monte_carlo",
             long_name="total fertility rate, zero-shock path"),
    Variable("population_paths", ("path", "year", "age", "sex"),
             units="persons", stage="monte_carlo",
             long_name="population on 1 January"),
    Variable("total_population_paths", ("path", "year"),
             units="persons", stage="monte_carlo",
             long_name="total population on 1 January"),
    Variable("working_age_population_paths", ("path", "year"),
             units="persons", stage="monte_carlo",
             long_name="population aged 20-64 on 1 January"),
    Variable("population_60plus_paths", ("path", "year"),
             units="persons", stage="monte_carlo",
             long_name="population aged 60+ on 1 January"),
    Variable("population_65plus_paths", ("path", "year"),
             units="persons", stage="monte_carlo",
             long_name="population aged 65+ on 1 January"),
    Variable("share_60plus_paths", ("path", "year"),
             units="1", stage="monte_carlo",
             long_name="share of the population aged 60+"),
    Variable("share_65plus_paths", ("path", "year"),
             units="1", stage="monte_carlo",
             long_name="share of the population aged 65+"),
    Variable("old_age_dependency_ratio_paths", ("path", "year"),
             units="persons 65+ per person 20-64", stage="monte_carlo",
             long_name="old-age dependency ratio"),
    Variable("months_payable_paths", ("regime", "path", "year"),
             units="months", stage="monte_carlo",
             long_name="employee fund year-end balance / monthly expenditure"),
    Variable("balance_end_cny_paths", ("regime", "path", "year"),
             units="yuan (base-year prices)", stage="monte_carlo",
             long_name="employee fund balance at year end"),
    Variable("first_deficit_year_paths", ("regime", "path"),
             units="calendar year", stage="monte_carlo",
             long_name="first year with expenditure > contributions + subsidy (NaN: never)"),
    Variable("depletion_year_paths", ("regime", "path"),
             units="calendar year", stage="monte_carlo",
             long_name="first year with a negative year-end fund balance (NaN: never)"),
    Variable("first_deficit_year_paths_demography_only", ("regime", "path"),
             units="calendar year", stage="monte_carlo",
             long_name="first year with expenditure > contributions + subsidy, every "
                       "parameter at its calibrated value (NaN: never)"),
    Variable("depletion_year_paths_demography_only", ("regime", "path"),
             units="calendar year", stage="monte_carlo",
             long_name="first year with a negative year-end fund balance, every parameter at "
                       "its calibrated value (NaN: never)"),
    Variable("parameter_draws_paths", ("path", "parameter"),
             units="see the identification table", stage="monte_carlo",
             long_name="the path's draw of each parameter the base-year fit does not pin "
                       "(triangular on low, value, high)"),
    Variable("parameter_set_paths", ("path",),
             units="1", stage="monte_carlo",
             long_name="the path's parameter set (paths beyond uncertainty.parameter_sets "
                       "share a draw)"),
    Variable("depletion_year_parameter_draws", ("regime", "draw"),
             units="calendar year", stage="accounts",
             long_name="first year with a negative year-end fund balance on the median path "
                       "under a parameter draw (NaN: never)"),
    Variable("first_deficit_year_parameter_draws", ("regime", "draw"),
             units="calendar year", stage="accounts",
             long_name="first year with expenditure > contributions + subsidy on the median "
                       "path under a parameter draw (NaN: never)"),
    Variable("parameter_draws", ("draw", "parameter"),
             units="see the identification table", stage="accounts",
             long_name="draw of each parameter the base-year fit does not pin (triangular on "
                       "low, value, high)"),
    Variable("e0_fit_model", ("fit_year", "sex", "bound"),
             units="years", stage="monte_carlo",
             long_name="model quantile of e0 (calibrated spread)"),
    Variable("e0_fit_published", ("fit_year", "sex", "bound"),
             units="years", stage="monte_carlo",
             long_name="WPP 2024 bound of e0"),
    Variable("tfr_fit_model", ("fit_year", "bound"),
             units="children per woman", stage="monte_carlo",
             long_name="model quantile of the TFR (calibrated spread)"),
    Variable("tfr_fit_published", ("fit_year", "bound"),
             units="children per woman", stage="monte_carlo",
             long_name="WPP 2024 bound of the TFR"),
    Variable("mortality_innovation_sd", ("sex",),
             units="k per year", stage="monte_carlo",
             long_name="calibrated s.d. of the annual change of k"),
    Variable("mortality_drift_sd", ("sex",),
             units="k per year", stage="monte_carlo",
             long_name="calibrated s.d. of the drift of k"),
    Variable("mortality_longevity_stretch", ("sex",),
             units="1", stage="monte_carlo",
             long_name="calibrated stretch of the low-k (long-life) side of the k distribution"),
    Variable("fertility_persistence", (),
             units="per year", stage="monte_carlo",
             long_name="AR(1) persistence of TFR"),
    Variable("fertility_innovation_sd", (),
             units="children per woman", stage="monte_carlo",
             long_name="s.d. of the annual TFR innovation"),
    Variable("mortality_drift_history", ("sex",),
             units="k per year", stage="monte_carlo",
             long_name="historical drift of the Lee-Carter k"),
    Variable("mortality_innovation_sd_history", ("sex",),
             units="k per year", stage="monte_carlo",
             long_name="historical s.d. of the annual change of k"),
    Variable("mortality_drift_sd_history", ("sex",),
             units="k per year", stage="monte_carlo",
             long_name="s.d. of the historical drift estimate"),
    Variable("mortality_sex_correlation", (),
             units="1", stage="monte_carlo",
             long_name="correlation of female and male changes of k (history)"),
    Variable("e0_published", ("published_year", "sex", "bound"),
             units="years: WPP median and 80 % / 95 % bounds of life expectancy at birth by sex", stage="monte_carlo",
             long_name="WPP 2024 e0: median and bounds"),
    Variable("tfr_published", ("published_year", "bound"),
             units="children per woman: WPP median and 80 % / 95 % bounds", stage="monte_carlo",
             long_name="WPP 2024 TFR: median and bounds"),
    # --- monte_carlo_prices
    Variable("mc_prices_months_payable", ("regime", "path", "year"),
             units="months", stage="monte_carlo_prices",
             long_name="months payable with the path's own economy prices"),
    Variable("mc_prices_interest_rate", ("regime", "path", "year"),
             units="1 per year", stage="monte_carlo_prices",
             long_name="the path's interest rate (first order)"),
    Variable("mc_prices_wage_index", ("regime", "path", "year"),
             units="1", stage="monte_carlo_prices",
             long_name="the path's average wage / base year (first order)"),
    Variable("mc_prices_depletion_year", ("regime", "path"),
             units="calendar year", stage="monte_carlo_prices",
             long_name="depletion year with the path's prices"),
    # --- monte_carlo_price_error
    Variable("mc_prices_interest_rate_error_pp", ("error_path",),
             units="percentage points", stage="monte_carlo_price_error",
             long_name="first order vs exact prices, interest rate error pp"),
    Variable("mc_prices_average_wage_relative_error", ("error_path",),
             units="1", stage="monte_carlo_price_error",
             long_name="first order vs exact prices, average wage relative error"),
    # --- optimization
    Variable("policy_pooled_rate", ("node", "year"),
             units="fraction of contribution base", stage="optimization",
             long_name="optimal pooled contribution rate by node"),
    Variable("policy_extra_delay_months", ("node", "year", "category"),
             units="months", stage="optimization",
             long_name="optimal retirement delay beyond the law (cohorts reaching the "
                       "law's age that year)"),
    Variable("policy_indexation_share", ("node", "year"),
             units="fraction of real wage growth", stage="optimization",
             long_name="indexation of pensions in payment by node (the calibrated share "
                       "when the lever is off)"),
    Variable("node_stage", ("node",),
             units="1", stage="optimization",
             long_name="stage"),
    Variable("node_parent", ("node",),
             units="1", stage="optimization",
             long_name="parent node"),
    Variable("path_node", ("path", "stage"),
             units="1", stage="optimization",
             long_name="node of each path"),
    Variable("stage_year", ("stage",),
             units="calendar year", stage="optimization",
             long_name="first year of the stage"),
    Variable("opt_reserve_draw_cny", ("path", "year"),
             units="yuan per year (base-year prices)", stage="optimization",
             long_name="reserve draw"),
    Variable("opt_extra_transfer_cny", ("path", "year"),
             units="yuan per year (base-year prices)", stage="optimization",
             long_name="extra fiscal transfer"),
    Variable("opt_unpaid_pensions_cny", ("path", "year"),
             units="yuan per year (base-year prices)", stage="optimization",
             long_name="pensions not paid in full"),
    Variable("opt_fund_balance_cny", ("path", "year"),
             units="yuan (base-year prices)", stage="optimization",
             long_name="fund balance at year end (optimizer)"),
    Variable("opt_reserve_assets_cny", ("path", "year"),
             units="yuan (base-year prices)", stage="optimization",
             long_name="NSSF assets at year end (optimizer)"),
    Variable("opt_months_payable", ("path", "year"),
             units="months", stage="optimization",
             long_name="year-end balance / monthly expenditure"),
    Variable("opt_discount_factor", ("year",),
             units="1", stage="optimization",
             long_name="discount factor of the objective (1 in the first decision year; the "
                       "economy's interest rate or the fixed rate, objective.discount)"),
    Variable("opt_objective_cny", (),
             units="yuan (expected, discounted)", stage="optimization",
             long_name="optimal expected discounted cost (the expected discounted rescue "
                       "money when no policy pays every pension)"),
    Variable("exactness_balance_end_cny", (),
             units="1", stage="optimization",
             long_name="max relative gap optimizer vs re-simulation: balance_end_cny"),
    Variable("exactness_reserve_assets_end_cny", (),
             units="1", stage="optimization",
             long_name="max relative gap optimizer vs re-simulation: reserve_assets_end_cny"),
    Variable("exactness_contributions_cny", (),
             units="1", stage="optimization",
             long_name="max relative gap optimizer vs re-simulation: contributions_cny"),
    Variable("exactness_expenditure_cny", (),
             units="1", stage="optimization",
             long_name="max relative gap optimizer vs re-simulation: expenditure_cny"),
    Variable("opt_delay_cost_cny", (),
             units="yuan (expected, discounted)", stage="optimization",
             long_name="cost of the retirement delays (part of the objective)"),
    Variable("opt_indexation_cost_cny", (),
             units="yuan (expected, discounted)", stage="optimization",
             long_name="cost of indexing pensions in payment below the calibrated share "
                       "(part of the objective)"),
    Variable("resim_pensioners", ("path", "year", "category"),
             units="persons", stage="optimization",
             long_name="employee-scheme pensioners"),
    Variable("resim_insured_workers", ("path", "year", "category"),
             units="persons", stage="optimization",
             long_name="insured workers (employee scheme)"),
    Variable("resim_contributions_cny", ("path", "year"),
             units="yuan per year (base-year prices)", stage="optimization",
             long_name="contribution revenue"),
    Variable("resim_expenditure_cny", ("path", "year"),
             units="yuan per year (base-year prices)", stage="optimization",
             long_name="pension expenditure"),
    Variable("resim_balance_end_cny", ("path", "year"),
             units="yuan (base-year prices)", stage="optimization",
             long_name="fund balance at year end"),
    Variable("resim_months_payable", ("path", "year"),
             units="months", stage="optimization",
             long_name="year-end balance / monthly expenditure"),
    Variable("resim_reserve_assets_end_cny", ("path", "year"),
             units="yuan (base-year prices)", stage="optimization",
             long_name="NSSF assets at year end"),
    Variable("resim_pooled_rate", ("path", "year"),
             units="fraction of contribution base", stage="optimization",
             long_name="employer pooled contribution rate"),
    Variable("search_objective_cny", ("search_step",),
             units="yuan (expected, discounted)", stage="optimization",
             long_name="objective at each evaluated delay path"),
    Variable("search_label", ("search_step",),
             units=None, stage="optimization",
             long_name="label of the evaluated lever path"),
    # --- optimization_duals
    Variable("dual_liquidity", ("path", "year"),
             units="yuan of expected cost per yuan of required balance", stage="optimization_duals",
             long_name="shadow price of the liquidity floor"),
    Variable("dual_balance", ("path", "year"),
             units="yuan of expected cost per yuan of fund inflow", stage="optimization_duals",
             long_name="shadow price of the fund balance equation"),
    # --- optimization_voi
    Variable("rp_cny", (),
             units="yuan (expected, discounted)", stage="optimization_voi",
             long_name="recourse problem RP: expected discounted cost of the stochastic "
                       "solution"),
    Variable("ws_cny", (),
             units="yuan (expected, discounted)", stage="optimization_voi",
             long_name="wait-and-see WS: expected cost with perfect foresight"),
    Variable("eev_cny", (),
             units="yuan (expected, discounted)", stage="optimization_voi",
             long_name="EEV: expected cost of the expected-value solution"),
    Variable("evpi_cny", (),
             units="yuan (expected, discounted)", stage="optimization_voi",
             long_name="EVPI: expected value of perfect information (RP - WS)"),
    Variable("vss_cny", (),
             units="yuan (expected, discounted)", stage="optimization_voi",
             long_name="VSS: value of the stochastic solution (EEV - RP)"),
    Variable("evpi_penalty_cny", (),
             units="yuan (expected, discounted; penalty units)", stage="optimization_voi",
             long_name="EVPI's penalty part: its premium (penalty minus transfer weight) on "
                       "money beyond the fiscal capacity (the rest is money)"),
    Variable("vss_penalty_cny", (),
             units="yuan (expected, discounted; penalty units)", stage="optimization_voi",
             long_name="VSS's penalty part: its premium (penalty minus transfer weight) on "
                       "money beyond the fiscal capacity (the rest is money)"),
    # --- optimization_rescue
    Variable("rescue_transfer_cny", ("path", "year"),
             units="yuan per year (base-year prices)", stage="optimization_rescue",
             long_name="smallest extra transfer that pays every pension in full"),
    # --- optimization_capacity
    Variable("opt_gdp_cny", ("path", "year"),
             units="yuan per year (base-year prices)", stage="optimization_capacity",
             long_name="GDP the fiscal capacity is a share of (wage bill of ages 20-64, "
                       "base-year GDP)"),
    Variable("opt_transfer_capacity_cny", ("path", "year"),
             units="yuan per year (base-year prices)", stage="optimization_capacity",
             long_name="fiscal capacity: the largest extra transfer"),
    Variable("opt_excess_over_capacity_cny", ("path", "year"),
             units="yuan per year (base-year prices)", stage="optimization_capacity",
             long_name="smallest money beyond the fiscal capacity that pays every pension "
                       "in full"),
    Variable("opt_paid_within_capacity_probability", (),
             units="1", stage="optimization_capacity",
             long_name="probability that every pension is paid in full within the fiscal "
                       "capacity (in sample)"),
    Variable("opt_excess_expected_cny", (),
             units="yuan (expected, discounted)", stage="optimization_capacity",
             long_name="expected discounted excess over the fiscal capacity"),
    Variable("opt_excess_penalty_cny", (),
             units="yuan (expected, discounted)", stage="optimization_capacity",
             long_name="penalty on the excess over the fiscal capacity (part of the "
                       "objective)"),
    # --- optimization_welfare
    Variable("opt_economy_lifetime_utility", ("birth_year", "group", "category"),
             units="utils (consumption in model units, base-year technology)", stage="optimization_welfare",
             long_name="expected discounted utility from the base year or first_age (under"
                       " the optimal policy)"),
    Variable("opt_economy_discounted_survival", ("birth_year", "group", "category"),
             units="years", stage="optimization_welfare",
             long_name="sum of discount factor x survival over the remaining life (under "
                       "the optimal policy)"),
    Variable("opt_economy_consumption_utility", ("birth_year", "group", "category"),
             units="utils (consumption in model units, base-year technology)",
             stage="optimization_welfare",
             long_name="expected discounted utility of consumption alone (under the optimal "
                       "policy; elastic labour)"),
    # --- optimization_pairing
    Variable("pairing_delay_price_cny", ("year",),
             units="yuan per person-month of delay (year t, wage-indexed)",
             stage="optimization_pairing",
             long_name="the economy's welfare price of one more month of statutory age, the "
                       "optimizer's delay cost (objective.delay_price = economy)"),
    Variable("pairing_objective_cny", ("pairing_iteration",),
             units="yuan (expected, discounted)", stage="optimization_pairing",
             long_name="optimal cost at each economy pairing"),
    Variable("pairing_wage_change", ("pairing_iteration",),
             units="1", stage="optimization_pairing",
             long_name="largest relative change of the economy's wage index after the solve"),
    Variable("pairing_return_change", ("pairing_iteration",),
             units="1 per year", stage="optimization_pairing",
             long_name="largest change of the fund return after the solve"),
    Variable("pairing_converged", (),
             units="1", stage="optimization_pairing",
             long_name="economy pairing converged"),
    Variable("pairing_delay_price_change", ("pairing_iteration",),
             units="1", stage="optimization_pairing",
             long_name="largest change of the economy's price of delay after the solve, "
                       "relative to its largest value (objective.delay_price = economy)"),
    Variable("pairing_distribution_change", ("pairing_iteration",),
             units="1", stage="optimization_pairing",
             long_name="largest change of a share of the economy's retirement distribution "
                       "after the solve (households' retirement choice on)"),
    # --- optimization_frontier (models/optimize/frontier.py)
    Variable("frontier_fiscal_burden_cny", ("frontier_point",),
             units="yuan (expected, discounted)", stage="optimization_frontier",
             long_name="efficient policy: extra fiscal transfers (fiscal burden)"),
    Variable("frontier_cohort_cost_cny", ("frontier_point",),
             units="yuan (expected, discounted)", stage="optimization_frontier",
             long_name="efficient policy: cost to cohorts (pooled contributions and delay)"),
    Variable("frontier_risk_cny", ("frontier_point",),
             units="yuan (discounted)", stage="optimization_frontier",
             long_name="efficient policy: CVaR of the paths' discounted transfers"),
    Variable("frontier_delay_cost_cny", ("frontier_point",),
             units="yuan (expected, discounted)", stage="optimization_frontier",
             long_name="efficient policy: cost of its delay path to the cohorts retiring later"),
    Variable("frontier_contributions_cny", ("frontier_point",),
             units="yuan (expected, discounted)", stage="optimization_frontier",
             long_name="efficient policy: pooled contributions"),
    Variable("frontier_mean_pooled_rate", ("frontier_point",),
             units="1", stage="optimization_frontier",
             long_name="efficient policy: expected mean pooled rate over the optimized years"),
    Variable("frontier_delay_path", ("frontier_point",),
             units=None, stage="optimization_frontier",
             long_name="efficient policy: its retirement-delay path (the chosen delays scaled)"),
    # --- optimization_certificate
    Variable("certificate_lever", ("certificate_move",),
             units=None, stage="optimization_certificate",
             long_name="lever of the knot moved (delay or indexation)"),
    Variable("certificate_node", ("certificate_move",),
             units="1", stage="optimization_certificate",
             long_name="tree node owning the knot moved"),
    Variable("certificate_knot_year", ("certificate_move",),
             units="calendar year", stage="optimization_certificate",
             long_name="year of the knot moved"),
    Variable("certificate_category", ("certificate_move",),
             units=None, stage="optimization_certificate",
             long_name="retirement-age category of the knot moved (empty for the indexation)"),
    Variable("certificate_step", ("certificate_move",),
             units="months (delay) or fraction of real wage growth (indexation)",
             stage="optimization_certificate",
             long_name="signed size of the move (other knots pushed as the rules demand)"),
    Variable("certificate_change_cny", ("certificate_move",),
             units="yuan (expected, discounted)", stage="optimization_certificate",
             long_name="exact change of the expected cost by the move (NaN: outside the "
                       "lever's limits)"),
    Variable("certificate_status", ("certificate_move",),
             units=None, stage="optimization_certificate",
             long_name="improves, no improvement, no feasible policy, outside the lever's "
                       "limits, or not solved (solve budget spent)"),
    Variable("certificate_passed", (),
             units="1", stage="optimization_certificate",
             long_name="no move lowers the expected cost by more than the tolerance (1: "
                       "certified local optimum)"),
    Variable("certificate_tolerance_cny", (),
             units="yuan (expected, discounted)", stage="optimization_certificate",
             long_name="smallest change counted as an improvement (twice the solver's "
                       "relative tolerance times the cost)"),
    Variable("certificate_polish_moves", (),
             units="1", stage="optimization_certificate",
             long_name="moves the derivative-free polish took after the gradient steps"),
    # --- optimization_out_of_sample
    Variable("oos_value", ("statistic",),
             units="per statistic: yuan (expected, discounted) or fraction of paths",
             stage="optimization_out_of_sample",
             long_name="out-of-sample estimate (rounded to its interval's precision)"),
    Variable("oos_low", ("statistic",),
             units="per statistic: yuan (expected, discounted) or fraction of paths",
             stage="optimization_out_of_sample",
             long_name="lower end of the confidence interval (0 for the one-sided gap bound)"),
    Variable("oos_high", ("statistic",),
             units="per statistic: yuan (expected, discounted) or fraction of paths",
             stage="optimization_out_of_sample",
             long_name="upper end of the confidence interval"),
    Variable("oos_samples", ("statistic",),
             units="1", stage="optimization_out_of_sample",
             long_name="fresh paths (or replications, for the gap) behind the estimate"),
    Variable("oos_confidence_level", (),
             units="1", stage="optimization_out_of_sample",
             long_name="confidence level of the intervals"),
    Variable("oos_paths", (),
             units="1", stage="optimization_out_of_sample",
             long_name="fresh paths the chosen policy is evaluated on"),
    Variable("oos_extra_transfer_mean_cny", ("year",),
             units="yuan per year (base-year prices)", stage="optimization_out_of_sample",
             long_name="extra fiscal transfer, mean over the fresh paths"),
    Variable("oos_excess_mean_cny", ("year",),
             units="yuan per year (base-year prices)", stage="optimization_out_of_sample",
             long_name="money beyond the fiscal capacity (excess), mean over the fresh paths"),
    Variable("oos_reserve_draw_mean_cny", ("year",),
             units="yuan per year (base-year prices)", stage="optimization_out_of_sample",
             long_name="reserve draw, mean over the fresh paths"),
    Variable("oos_rule_draws_cut", (),
             units="1", stage="optimization_out_of_sample",
             long_name="fresh path-years where the reserve-draw rule asked for a draw outside "
                       "[0, the reserve] and was cut to it (0 without a rule)"),
    Variable("oos_misplaced_in_sample", (),
             units="paths (of the optimized paths)", stage="optimization_out_of_sample",
             long_name="in-sample paths the fresh paths' placement rule (nearest k-means centre "
                       "or rank, stage by stage) puts in another tree node than the tree's "
                       "construction (0 for ranked and one-stage trees)"),
    Variable("oos_rule_prefund_share", ("year",),
             units="1 (share of the year's fiscal capacity)",
             stage="optimization_out_of_sample",
             long_name="under a reserve-draw rule: the share of the fiscal capacity transferred "
                       "each year at least (pre-funding; 0: transfers just in time, forced by "
                       "the shortfall)"),
)

#: The catalogue by name.
CATALOGUE: Mapping[str, Variable] = MappingProxyType({v.name: v for v in VARIABLES})


class UnknownVariable(KeyError):
    """A results variable the catalogue does not list."""


def entry(name: str) -> Variable:
    """The catalogue's entry of ``name`` (:class:`UnknownVariable` when there is none)."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise UnknownVariable(f"result variable '{name}' is not in models/catalogue.py: add "
                              "it (name, dims, units, long_name, stage)") from None


def annotate(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with every data variable's ``units``, ``long_name`` (and ``standard_name``)
    taken from the catalogue, its other attributes kept; fails on a variable the catalogue
    does not list or whose dimensions differ from the catalogue's."""
    out = ds.copy()
    for name, var in ds.data_vars.items():
        item = entry(str(name))
        if tuple(var.dims) != item.dims:
            raise ValueError(f"result variable '{name}' has dimensions {tuple(var.dims)}; the "
                             f"catalogue says {item.dims}")
        attrs = {k: v for k, v in var.attrs.items()
                 if k not in ("units", "long_name", "standard_name")}
        out[name].attrs = {**item.attrs(), **attrs}
    return out


def stages(ds: xr.Dataset) -> set[str]:
    """The stages that wrote ``ds`` (by the catalogue's entry of each of its variables)."""
    return {CATALOGUE[str(n)].stage for n in ds.data_vars if str(n) in CATALOGUE}


def wrote(ds: xr.Dataset, stage: str) -> bool:
    """Whether ``stage`` (one of :data:`STAGES`) wrote variables into ``ds``."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage '{stage}': expected one of {', '.join(STAGES)}")
    return stage in stages(ds)
