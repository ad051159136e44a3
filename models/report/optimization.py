"""One run's optimal-policy tables (from results only): status and cost, first-stage
decisions, expected paths with bands, the outer search and the pairing with the economy."""

from __future__ import annotations

import math

import pandas as pd
import xarray as xr

from models.constants import BILLION, CATEGORIES, TRILLION
from models.report.table import Table
from models.report.view import has_capacity, has_pairing, has_rescue, has_value_of_information


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
                       ("evpi_cny", "expected value of perfect information EVPI = RP - WS")):
        if has_value_of_information(ds):
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
    converged = "converged" if int(ds["pairing_converged"]) else "NOT converged"
    return Table("optimal_economy_pairing", f"Pairing with the OLG economy ({converged}): "
                 "each solve uses the prices of the economy under the previous solution",
                 frame, ("d", ".6f", ".2e", ".2e"))


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


def optimization_tables(ds: xr.Dataset) -> list[Table]:
    out = [summary_frame(ds), first_stage_frame(ds), policy_paths_frame(ds), search_frame(ds)]
    if has_pairing(ds):
        out.append(pairing_frame(ds))
    if "frontier_point" in ds.dims:
        out.append(frontier_frame(ds))
    if has_capacity(ds):
        out.append(capacity_frame(ds))
    return out
