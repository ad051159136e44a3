"""One run's optimal-policy tables (from results only): the answer a policymaker reads first
(:func:`answer_frame`, :func:`answer_welfare_frame`), status and cost, the out-of-sample
statistics, the search's certificate, first-stage decisions, expected paths with bands, the
outer search and the pairing with the economy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from models.catalogue import wrote
from models.constants import BILLION, CATEGORIES, TRILLION
from models.economy import welfare_cev
from models.optimize.data import law_age_by_year
from models.optimize.search import UNSOLVED
from models.optimize.statistics import round_to_interval
from models.report.economy import cev_by_cohort, welfare_of
from models.report.table import Table
from models.report.view import (
    has_capacity,
    has_economy,
    has_optimal_welfare,
    has_pairing,
    has_rescue,
    has_value_of_information,
)


#: Years of the answer table (those within the optimized years).
ANSWER_YEARS = (2030, 2035, 2040, 2050, 2060, 2070, 2080, 2090, 2100)
#: Labels of the out-of-sample statistics (``statistic`` coordinate of results.nc).
STATISTIC_LABELS = {
    "expected_cost_cny": "expected discounted cost: the objective, money beyond the fiscal "
                         "capacity weighted by its penalty (trillion yuan)",
    "paid_in_full_probability": "probability that every pension is paid in full within the "
                                "fiscal capacity (no money beyond the levers)",
    "expected_transfers_cny": "expected discounted extra transfers within the fiscal capacity "
                              "(trillion yuan)",
    "expected_excess_cny": "expected discounted money beyond the fiscal capacity (trillion "
                           "yuan)",
    "vss_cny": "value of the stochastic solution, EV policy - SP policy (trillion yuan)",
    "vss_money_cny": "VSS, money part: every yuan of fiscal money (within or beyond the "
                     "capacity) at the transfer weight (trillion yuan)",
    "vss_penalty_cny": "VSS, penalty part: the premium on money beyond the capacity "
                       "(penalty weight minus transfer weight; trillion yuan, penalty units)",
    "evpi_cny": "expected value of perfect information, SP - wait-and-see (trillion yuan)",
    "evpi_money_cny": "EVPI, money part (as the VSS's; trillion yuan)",
    "evpi_penalty_cny": "EVPI, penalty part (as the VSS's; trillion yuan, penalty units)",
    "optimality_gap_cny": "optimality gap, Mak-Morton-Wood upper bound (trillion yuan)",
}


def _fmt_year(v: float) -> str:
    return "never" if v is None or (isinstance(v, float) and math.isnan(v)) else str(int(v))


def summary_frame(ds: xr.Dataset) -> Table:
    rows = [["status", ds.attrs.get("opt_status", "")],
            ["paths / tree nodes", f"{int(ds['opt_fund_balance_cny'].notnull().any('year').sum())}"
                                   f" / {ds.sizes.get('node', 1)}"],
            ["expected discounted cost (trillion yuan)",
             f"{float(ds['opt_objective_cny']) / TRILLION:.4f}"]]
    rows.append(["of which retirement delays (trillion yuan)",
                 f"{float(ds['opt_delay_cost_cny']) / TRILLION:.4f}"])
    if ds.attrs.get("opt_indexation_lever") == "on":
        rows.append(["of which indexation below the calibrated share (trillion yuan)",
                     f"{float(ds['opt_indexation_cost_cny']) / TRILLION:.4f}"])
    for key, label in (("rp_cny", "recourse problem RP (trillion yuan)"),
                       ("ws_cny", "wait-and-see WS (trillion yuan)"),
                       ("eev_cny", "expected result of the EV solution EEV (trillion yuan)"),
                       ("vss_cny", "value of the stochastic solution VSS = EEV - RP"),
                       ("evpi_cny", "expected value of perfect information EVPI = RP - WS"),
                       ("vss_penalty_cny", "of the VSS: penalty part (premium on money beyond "
                                           "the capacity)"),
                       ("evpi_penalty_cny", "of the EVPI: penalty part (premium on money "
                                            "beyond the capacity)")):
        if has_value_of_information(ds) and key in ds:
            rows.append([label, f"{float(ds[key]) / TRILLION:.6f}"])
    gaps = {v.removeprefix("exactness_"): float(ds[v]) for v in ds.data_vars
            if v.startswith("exactness_")}
    for name, gap in gaps.items():
        rows.append([f"exactness: max relative gap, {name}", f"{gap:.2e}"])
    if ds.attrs.get("opt_binding"):
        rows.append(["binding", ds.attrs["opt_binding"]])
    if has_rescue(ds):
        rescue = ds["rescue_transfer_cny"]
        total = rescue.sum("year")
        rows.append(["smallest rescue transfer, expected total (trillion yuan)",
                     f"{float(total.mean()) / TRILLION:.3f}"])
        first = rescue["year"].where(rescue > 0).min("year")
        rows.append(["first year needing a rescue (earliest path)",
                     _fmt_year(float(first.min())) if first.notnull().any() else "never"])
    if has_capacity(ds):
        rows += capacity_rows(ds)
    return Table("optimal_summary", "Optimal policy: status, cost, value of information, "
                 "exactness", pd.DataFrame(rows, columns=["quantity", "value"]), "g")


def capacity_rows(ds: xr.Dataset) -> list[list[str]]:
    """Summary rows of the fiscal capacity: its share of GDP, the in-sample probability of
    paying every pension within it, the expected excess and where it falls."""
    share = ds["opt_transfer_capacity_cny"] / ds["opt_gdp_cny"]
    excess = ds["opt_excess_over_capacity_cny"]
    rows = [["fiscal capacity for extra transfers (% of GDP)",
             f"{100 * float(share.mean()):.2f}"],
            ["every pension paid in full within the capacity (probability, in sample)",
             f"{float(ds['opt_paid_within_capacity_probability']):.3f}"],
            ["excess over the capacity, expected discounted (trillion yuan)",
             f"{float(ds['opt_excess_expected_cny']) / TRILLION:.4f}"],
            ["of the objective: penalty on the excess (trillion yuan)",
             f"{float(ds['opt_excess_penalty_cny']) / TRILLION:.4f}"]]
    first = excess["year"].where(excess > 0).min("year")
    rows.append(["first year with an excess (earliest path)",
                 _fmt_year(float(first.min())) if first.notnull().any() else "never"])
    return rows


def capacity_frame(ds: xr.Dataset, every: int = 5) -> Table:
    """Transfers against the fiscal capacity by year, in % of GDP: mean transfer, capacity,
    mean and largest excess, and the share of paths with an excess."""
    gdp = ds["opt_gdp_cny"].dropna("year", how="all")  # the optimized years
    years = gdp["year"].values
    rows = []
    for y in [y for y in years if (y - years[0]) % every == 0 or y == years[-1]]:
        g = gdp.sel(year=y)
        excess = ds["opt_excess_over_capacity_cny"].sel(year=y) / g
        rows.append([int(y), 100 * float((ds["opt_extra_transfer_cny"].sel(year=y) / g).mean()),
                     100 * float((ds["opt_transfer_capacity_cny"].sel(year=y) / g).mean()),
                     100 * float(excess.mean()), 100 * float(excess.max()),
                     float((excess > 0).mean())])
    frame = pd.DataFrame(rows, columns=[
        "year", "extra transfer (% of GDP, mean)", "capacity (% of GDP)",
        "excess (% of GDP, mean)", "excess (% of GDP, largest)", "paths with an excess (share)"])
    return Table("optimal_capacity", "Extra transfers within the fiscal capacity and the "
                 "smallest excess over it (paths equally weighted)", frame,
                 ("d", ".3f", ".3f", ".3f", ".3f", ".3f"))


def first_stage_frame(ds: xr.Dataset) -> Table:
    """Root decisions for the years of the first stage (at most ten)."""
    stage_years = ds["stage_year"].values
    years = ds["policy_pooled_rate"].dropna("year", how="all")["year"].values
    last = stage_years[1] - 1 if stage_years.size > 1 else years[-1]
    indexation = ds.attrs.get("opt_indexation_lever") == "on"
    rows = []
    for y in [y for y in years if y <= last][:10]:
        rows.append([int(y), float(ds["policy_pooled_rate"].sel(node=0, year=y)),
                     *[float(ds["policy_extra_delay_months"].sel(node=0, year=y, category=c))
                       for c in CATEGORIES]]
                    + ([float(ds["policy_indexation_share"].sel(node=0, year=y))]
                       if indexation else []))
    frame = pd.DataFrame(rows, columns=["year", "pooled rate (fraction)",
                                        "extra delay men (months)",
                                        "extra delay women cadres (months)",
                                        "extra delay women workers (months)"]
                         + (["indexation (share of wage growth)"] if indexation else []))
    return Table("optimal_first_stage", "First-stage decisions (root node)", frame,
                 ("d", ".4f", ".0f", ".0f", ".0f") + ((".3f",) if indexation else ()))


def policy_paths_frame(ds: xr.Dataset, every: int = 5) -> Table:
    """Expected policy and fund paths with 10-90 % bands across paths."""
    rate = ds["resim_pooled_rate"].dropna("year", how="all")
    years = rate["year"].values
    pick = [y for y in years if (y - years[0]) % every == 0 or y == years[-1]]
    paths = ds["opt_fund_balance_cny"].notnull().any("year")
    indexation = ds.attrs.get("opt_indexation_lever") == "on"
    rows = []
    for y in pick:
        r = rate.sel(year=y).where(paths, drop=True)
        delay = ds["policy_extra_delay_months"].sel(year=y)
        months = ds["resim_months_payable"].sel(year=y).where(paths, drop=True)
        transfer = ds["opt_extra_transfer_cny"].sel(year=y).where(paths, drop=True) / BILLION
        draw = ds["opt_reserve_draw_cny"].sel(year=y).where(paths, drop=True) / BILLION
        rows.append([int(y), float(r.mean()), float(r.quantile(0.1)), float(r.quantile(0.9)),
                     *[float(delay.sel(category=c).mean()) for c in CATEGORIES],
                     float(draw.mean()), float(transfer.mean()), float(transfer.quantile(0.1)),
                     float(transfer.quantile(0.9)), float(months.mean())]
                    + ([float(ds["policy_indexation_share"].sel(year=y).mean())]
                       if indexation else []))
    frame = pd.DataFrame(rows, columns=[
        "year", "pooled rate mean", "pooled rate 10 %", "pooled rate 90 %",
        "delay men (months, mean over nodes)", "delay women cadres", "delay women workers",
        "reserve draw (bn yuan, mean)", "extra transfer (bn yuan, mean)", "transfer 10 %",
        "transfer 90 %", "months payable (mean)"]
        + (["indexation (share of wage growth, mean over nodes)"] if indexation else []))
    return Table("optimal_policy_paths", "Expected policy and fund paths (bands across paths; "
                 "money in bn yuan at base-year prices)", frame,
                 ("d", ".4f", ".4f", ".4f", ".1f", ".1f", ".1f", ".0f", ".0f", ".0f", ".0f",
                  ".1f") + ((".3f",) if indexation else ()))


def search_frame(ds: xr.Dataset) -> Table:
    frame = pd.DataFrame({
        "step": ds["search_label"].values,
        "expected cost (trillion yuan)": ds["search_objective_cny"].values / TRILLION})
    return Table("optimal_search_history", "Outer search over retirement delays and "
                 "indexation (every evaluated lever path, solved exactly; the times of each "
                 "step are in manifest.json)", frame, ("", ".6f"))


def pairing_frame(ds: xr.Dataset) -> Table:
    frame = pd.DataFrame({
        "iteration": ds["pairing_iteration"].values,
        "expected cost (trillion yuan)": ds["pairing_objective_cny"].values / TRILLION,
        "max relative change of wages": ds["pairing_wage_change"].values,
        "max change of the fund return": ds["pairing_return_change"].values})
    optional = {"pairing_delay_price_change": "max relative change of the price of delay",
                "pairing_distribution_change": "max change of a retirement-age share"}
    for name, column in optional.items():
        if name in ds:
            frame[column] = ds[name].values
    converged = "converged" if int(ds["pairing_converged"]) else "NOT converged"
    return Table("optimal_economy_pairing", f"Pairing with the OLG economy ({converged}): "
                 "each solve uses the prices of the economy under the previous solution",
                 frame, ("d", ".6f") + (".2e",) * (frame.shape[1] - 2))


def frontier_frame(ds: xr.Dataset) -> Table:
    """The efficient policies of the ε-constraint frontier (models/optimize/frontier.py):
    what each costs the budget, the cohorts (contributions, delay) and its risk."""
    money = ("fiscal_burden", "contributions", "delay_cost", "cohort_cost", "risk")
    frame = pd.DataFrame({
        "delay path": ds["frontier_delay_path"].values.astype(str),
        **{f"{k.replace('_', ' ')} (trillion yuan)": ds[f"frontier_{k}_cny"].values / TRILLION
           for k in money},
        "mean pooled rate": ds["frontier_mean_pooled_rate"].values})
    beta = ds.attrs.get("frontier_cvar_beta", "")
    return Table("optimal_frontier", "Efficient policies (ε-constraint): fiscal burden = "
                 "expected discounted extra transfers; cost to cohorts = pooled contributions "
                 f"+ delay cost; risk = CVaR {beta} of the paths' transfers; no row is "
                 "dominated in all three", frame, ("", ".3f", ".3f", ".3f", ".3f", ".3f", ".4f"))


#: Smallest half-width money is rounded to (trillion yuan): below the solvers' tolerance.
MONEY_RESOLUTION = 1e-3


def _money(value: float, half_width: float) -> str:
    """Trillions of yuan rounded to the interval's precision (never finer than
    :data:`MONEY_RESOLUTION`), with as many decimals as that leaves."""
    half = max(half_width / TRILLION, MONEY_RESOLUTION)
    digits = max(1 - int(math.floor(math.log10(half))), 0)
    return f"{round_to_interval(value / TRILLION, half) + 0.0:,.{digits}f}"  # no "-0.0"


def statistic_text(ds: xr.Dataset, name: str) -> str:
    """An out-of-sample estimate with its interval, as stored (already rounded to its
    precision); money in trillions of yuan, a probability in per cent."""
    s = ds.sel(statistic=name)
    value, low, high = (float(s[v]) for v in ("oos_value", "oos_low", "oos_high"))
    if math.isnan(value):
        return "not computed"
    level = f"{100 * float(ds['oos_confidence_level']):g} %"
    n = int(s["oos_samples"])
    if name == "paid_in_full_probability":
        return (f"{100 * value:g} % ({level} interval {100 * low:g}-{100 * high:g} %, "
                f"{n} fresh paths)")
    half = max(high - value, value - low)
    if name == "optimality_gap_cny":  # a gap is never negative: below zero is solver noise
        return (f"at most {_money(max(high, 0.0), half)} ({level} upper bound; mean "
                f"{_money(max(value, 0.0), half)}, {n} replications)")
    return (f"{_money(value, half)} ({level} interval {_money(low, half)} to "
            f"{_money(high, half)}, {n} fresh paths)")


def prefund_text(ds: xr.Dataset) -> str:
    """How the rule's transfers are decided on fresh paths: just in time (forced by the
    shortfall), or at least a share of each year's fiscal capacity (pre-funding) from the
    first year with one, with its mean over the years that have one."""
    share = ds["oos_rule_prefund_share"]
    used = share.where(share > 0, drop=True)
    if used.size == 0:
        return ("just in time: what the shortfall forces each year, split at the fiscal "
                "capacity (pre-funding was not cheaper in sample)")
    return (f"at least {100 * float(used.mean()):.0f} % of the year's fiscal capacity (mean "
            f"over {used.size} years from {int(used['year'][0])}; the share the in-sample "
            "solution uses on average), more when the shortfall forces it: pre-funding, "
            "cheaper in sample than just in time")


def misplaced_text(ds: xr.Dataset) -> str:
    """How far the rule that places fresh paths in the tree departs from the tree's own
    construction: the in-sample paths it would put in another node (count of paths)."""
    n = int(ds["opt_fund_balance_cny"].notnull().any("year").sum())
    return (f"{int(ds['oos_misplaced_in_sample'])} of {n} in-sample paths placed again in "
            "another node than the tree's (0: fresh paths are placed by the rule that built "
            "the tree)")


def _gdp(ds: xr.Dataset) -> xr.DataArray | None:
    """GDP by year (yuan per year): the optimizer's per-path GDP averaged over paths when the
    run has one (the fiscal capacity's), else the economy's on the median path under the
    optimized regime, else None."""
    if "opt_gdp_cny" in ds:
        return ds["opt_gdp_cny"].mean("path")
    regime = ds.attrs.get("opt_regime")
    if has_economy(ds) and regime in ds["regime"].values:
        return ds["economy_output_cny"].sel(regime=regime)
    return None


def answer_frame(ds: xr.Dataset) -> Table:
    """The study's answer for this experiment, read first: by year, the retirement age by
    category, the pooled rate, the indexation (when a lever), reserve use and the extra
    transfers in % of GDP (within the fiscal capacity, and the money beyond it when the run
    has one), in sample and on fresh paths."""
    rate = ds["resim_pooled_rate"].dropna("year", how="all")
    years = [y for y in ANSWER_YEARS if y in rate["year"].values]
    paths = ds["opt_fund_balance_cny"].notnull().any("year")
    law = law_age_by_year(np.array(years), ds.attrs.get("opt_regime", "law_2024"))
    delay = ds["policy_extra_delay_months"].sel(year=years).mean("node")
    columns = {"year": years}
    for c, cat in enumerate(CATEGORIES):
        columns[f"retirement age {cat.replace('_', ' ')}"] = (
            law[:, c] + delay.sel(category=cat).values / 12.0)
    columns["pooled rate (%)"] = [100 * float(rate.sel(year=y).where(paths, drop=True).mean())
                                  for y in years]
    formats = ["d", ".2f", ".2f", ".2f", ".1f"]
    if ds.attrs.get("opt_indexation_lever") == "on":
        columns["indexation (share of wage growth)"] = [
            float(ds["policy_indexation_share"].sel(year=y).mean()) for y in years]
        formats.append(".2f")
    draw = ds["opt_reserve_draw_cny"].where(paths, drop=True).mean("path")
    assets = ds["opt_reserve_assets_cny"].where(paths, drop=True).mean("path")
    columns["reserve draw (bn yuan)"] = draw.sel(year=years).values / BILLION
    columns["reserve assets (bn yuan)"] = assets.sel(year=years).values / BILLION
    formats += [",.0f", ",.0f"]
    gdp = _gdp(ds)
    transfer = {"transfers, in sample": ds["opt_extra_transfer_cny"].where(paths, drop=True)
                .mean("path")}
    if wrote(ds, "optimization_out_of_sample"):
        transfer["transfers, fresh paths"] = ds["oos_extra_transfer_mean_cny"]
    if "opt_excess_over_capacity_cny" in ds:  # money beyond the fiscal capacity
        transfer["beyond capacity, in sample"] = ds["opt_excess_over_capacity_cny"].where(
            paths, drop=True).mean("path")
        if "oos_excess_mean_cny" in ds:
            transfer["beyond capacity, fresh paths"] = ds["oos_excess_mean_cny"]
    for label, values in transfer.items():
        if gdp is not None:
            columns[f"{label} (% of GDP)"] = [
                100 * float(values.sel(year=y) / gdp.sel(year=y)) for y in years]
            formats.append(".2f")
        else:
            columns[f"{label} (bn yuan)"] = values.sel(year=years).values / BILLION
            formats.append(",.0f")
    gdp_note = ("GDP: the economy's on the median path" if gdp is not None and "opt_gdp_cny"
                not in ds else "GDP: mean over paths" if gdp is not None else "no GDP in this run")
    return Table("answer", "The answer: retirement age by category (the law's age plus the "
                 "optimal delay, mean over tree nodes), pooled rate, reserve and extra "
                 f"transfers (means over paths; {gdp_note}){horizon_note(ds, years)}",
                 pd.DataFrame(columns), tuple(formats))


def horizon_note(ds: xr.Dataset, years: list[int]) -> str:
    """The answer table's note on its last year when that year is the horizon: the
    sustainability condition (the fund and the reserve hold ``horizon_months_target`` months
    of expenditure at the end, :mod:`models.optimize.lp`) is met in that year, so its
    transfers include building that stock and are not a trend. Empty for results written
    before the target was saved."""
    target = ds.attrs.get("opt_horizon_months_target")
    horizon = int(ds["opt_fund_balance_cny"]["year"].max())
    if target is None or not years or years[-1] != horizon or float(target) <= 0:
        return ""
    return (f"; {horizon}, the horizon: the fund and the reserve must then hold "
            f"{float(target):g} months of expenditure (the sustainability condition), so "
            f"that year's transfers include building that stock")


def answer_guarantee_frame(ds: xr.Dataset) -> Table:
    """The answer's guarantee and cost: the out-of-sample statistics with their intervals
    and the search certificate."""
    rows = []
    if wrote(ds, "optimization_out_of_sample"):
        rows += [[label, statistic_text(ds, name)] for name, label in STATISTIC_LABELS.items()
                 if name in ds["statistic"].values
                 and not math.isnan(float(ds["oos_value"].sel(statistic=name)))]
        cut = int(ds["oos_rule_draws_cut"]) if "oos_rule_draws_cut" in ds else 0
        if cut:
            rows.append(["reserve-draw rule", f"draw cut to [0, the reserve] in {cut} of "
                         f"{int(ds['oos_paths']) * ds['oos_reserve_draw_mean_cny'].size} "
                         "fresh path-years"])
        if "oos_rule_prefund_share" in ds:
            rows.append(["transfers under the reserve-draw rule", prefund_text(ds)])
        if "oos_misplaced_in_sample" in ds and ds.sizes.get("node", 1) > 1:
            rows.append(["tree placement of fresh paths", misplaced_text(ds)])
        if "opt_chance_alpha" in ds.attrs or "opt_cvar_beta" in ds.attrs:
            rows.append(["guarantee on fresh paths", fresh_guarantee_text(ds)])
        if "opt_optimality_gap_skipped" in ds.attrs:
            rows.append(["optimality gap",
                         f"not bounded: {ds.attrs['opt_optimality_gap_skipped']}"])
    elif "opt_out_of_sample_skipped" in ds.attrs:
        rows.append(["out-of-sample statistics",
                     f"not evaluated: {ds.attrs['opt_out_of_sample_skipped']}"])
    if "opt_recourse" in ds.attrs:
        rows.append(["recourse (reserve draws and transfers)", recourse_text(ds)])
    if "opt_delay_price" in ds.attrs:
        rows.append(["price of a month of delay", delay_price_text(ds)])
    if wrote(ds, "optimization_certificate"):
        rows.append(["search", certificate_text(ds)])
    elif "opt_certificate_skipped" in ds.attrs:
        rows.append(["search", f"not certified: {ds.attrs['opt_certificate_skipped']}"])
    paths = int(ds["oos_paths"]) if "oos_paths" in ds else 0
    return Table("answer_guarantee", f"The answer: guarantee and cost of the chosen policy on "
                 f"{paths} fresh paths (figures rounded to their intervals) and the search's "
                 "certificate", pd.DataFrame(rows, columns=["quantity", "estimate"]), "")


def answer_welfare_frame(ds: xr.Dataset) -> Table | None:
    """Welfare change of the optimal policy over the law (consumption equivalent, % of
    consumption in every remaining year) by birth cohort and type, from the economy under
    the optimal policy and under the law (None without them)."""
    regime = ds.attrs.get("opt_regime")
    if not (has_optimal_welfare(ds) and has_economy(ds) and regime in ds["regime"].values):
        return None
    rows, cols = cev_by_cohort(welfare_cev(welfare_of(ds, "economy_", regime=regime),
                                           welfare_of(ds, "opt_economy_")))
    return Table("answer_welfare", f"The answer: who gains and who loses - welfare change of "
                 f"the optimal policy over {regime} (consumption equivalent, median path)",
                 pd.DataFrame(rows, columns=cols), ".2f")


def fresh_guarantee_text(ds: xr.Dataset) -> str:
    """What the fresh-path figures of a chance or CVaR run price: its limit is on the
    optimized sample, and a fresh path's recourse pays every pension
    (:mod:`models.optimize.evaluate`); the optimality gap values the candidate under the
    run's own constraint (:func:`models.optimize.evaluate.chance_value`)."""
    if "opt_chance_alpha" in ds.attrs:
        limit = (f"the chance constraint (pensions short on at most "
                 f"{100 * float(ds.attrs['opt_chance_alpha']):g} % of paths)")
        gap = "; the optimality gap values the policy under the chance constraint"
    else:
        limit = (f"the CVaR limit ({float(ds.attrs['opt_cvar_limit_cny']) / TRILLION:g} trillion "
                 "yuan of discounted unpaid pensions, CVaR at beta "
                 f"{float(ds.attrs['opt_cvar_beta']):g})")
        gap = ""
    return (f"every pension paid on every fresh path (money beyond the fiscal capacity where "
            f"needed): {limit} binds the optimized paths only, so the fresh-path cost is "
            f"the chosen policy's cost of paying in full{gap}")


#: How each ``[optimization.recourse] reserve_draws`` setting decides the recourse.
RECOURSE_TEXT = {
    "path": "optimized path by path with that path's whole future known (anticipative: a "
            "draw may use the path's later years; for a non-anticipative rule set "
            "[optimization.recourse] reserve_draws = \"affine\")",
    "affine": "draws by a linear rule on the demographic state observed the year before, "
              "transfers forced by the shortfall (non-anticipative)",
    "node": "one draw per tree node and year, transfers forced by the shortfall "
            "(non-anticipative)",
}


def recourse_text(ds: xr.Dataset) -> str:
    """How the run's reserve draws and transfers are decided (``opt_recourse``)."""
    return RECOURSE_TEXT[ds.attrs["opt_recourse"]]


#: What each price of delay the objective used is (``opt_delay_price``,
#: :func:`models.optimize.objective.delay_price_source`); ``{cny}`` the experiment's fixed price.
DELAY_PRICE_TEXT = {
    "economy": "the economy's welfare price: the leisure lost by one more month of work, by "
               "cohort and category at the paired economy's prices (pairing_delay_price_cny)",
    "wage_indexed": "marked option: {cny} yuan of 2021 per person-month, growing with the "
                    "average wage (objective.delay_price = \"wage_indexed\")",
    "fixed": "marked option: {cny} yuan of 2021 per person-month, fixed "
             "(objective.delay_price = \"fixed\")",
    "economy_unpaired": "{cny} yuan of 2021 per person-month, growing with the average wage: "
                        "the run is not paired with the economy, so its welfare price of "
                        "delay is not available",
}


def delay_price_text(ds: xr.Dataset) -> str:
    """What the run's objective priced a month of delay at (``opt_delay_price``)."""
    cny = f"{float(ds.attrs.get('opt_delay_cny_per_person_month', float('nan'))):,.0f}"
    return DELAY_PRICE_TEXT[ds.attrs["opt_delay_price"]].format(cny=cny)


def certificate_text(ds: xr.Dataset) -> str:
    """One line: whether the search's optimum is certified, and how."""
    status = ds["certificate_status"].values.astype(str)
    unsolved = int(np.sum(status == UNSOLVED))
    tried = int(np.sum(status != "outside the lever's limits")) - unsolved
    improving = int(np.sum(status == "improves"))
    tol = float(ds["certificate_tolerance_cny"]) / TRILLION
    polish = int(ds["certificate_polish_moves"])
    head = ("certified local optimum" if int(ds["certificate_passed"])
            else f"NOT certified: {improving} move(s) improve" if improving or not unsolved
            else f"NOT certified: the solve budget ([optimization.search] max_solves) ran out "
                 f"with {unsolved} move(s) unsolved")
    return (f"{head} ({tried} knot moves solved exactly, none better by more than "
            f"{tol:.1e} trillion yuan; {polish} polish moves after the gradient steps)"
            if int(ds["certificate_passed"]) else
            f"{head} ({tried} knot moves solved exactly; {polish} polish moves)")


def certificate_frame(ds: xr.Dataset) -> Table:
    """The certificate by lever, category and step: moves tried, the smallest change of the
    cost (the best neighbour) and how many improve beyond the tolerance."""
    frame = pd.DataFrame({
        "lever": ds["certificate_lever"].values.astype(str),
        "category": ds["certificate_category"].values.astype(str),
        "step": ds["certificate_step"].values,
        "change": ds["certificate_change_cny"].values / TRILLION,
        "status": ds["certificate_status"].values.astype(str)})
    rows = []
    for (lever, cat, step), g in frame.groupby(["lever", "category", "step"], sort=True):
        solved = g[g["status"] != "outside the lever's limits"]
        rows.append([lever, cat or "-", step, len(g), len(solved),
                     float(solved["change"].min()) if len(solved) else math.nan,
                     int((solved["status"] == "improves").sum())])
    out = pd.DataFrame(rows, columns=["lever", "category", "step (months or share)",
                                      "moves", "solved (within limits)",
                                      "best change (trillion yuan)", "improving"])
    return Table("optimal_certificate", "Search certificate: every knot's moves solved exactly "
                 f"at the reported optimum ({certificate_text(ds)})", out,
                 ("", "", "+g", "d", "d", ".6f", "d"))


def answer_tables(ds: xr.Dataset) -> list[Table]:
    """The answer tables, first in the run report."""
    welfare = answer_welfare_frame(ds)
    return ([answer_frame(ds), answer_guarantee_frame(ds)]
            + ([welfare] if welfare is not None else []))


def optimization_tables(ds: xr.Dataset) -> list[Table]:
    out = [summary_frame(ds)]
    if wrote(ds, "optimization_certificate"):
        out.append(certificate_frame(ds))
    out += [first_stage_frame(ds), policy_paths_frame(ds), search_frame(ds)]
    if has_pairing(ds):
        out.append(pairing_frame(ds))
    if "frontier_point" in ds.dims:
        out.append(frontier_frame(ds))
    if has_capacity(ds):
        out.append(capacity_frame(ds))
    return out
