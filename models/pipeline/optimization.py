"""The optimization step of an experiment and its text tables (from results only)."""

from __future__ import annotations

import logging
import math
import time

import xarray as xr
import numpy as np
import pandas as pd

from models.config import CATEGORIES, Calibration, Experiment
from models.optimize.report import exactness, resimulate, to_dataset, value_of_information
from models.optimize.solve import optimize_policy, setup_problem
from models.pension.accounts import BaseYearFit
from models.report.table import Table

log = logging.getLogger(__name__)

TRILLION, BILLION = 1e12, 1e9


def expected_policy(problem, psol) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray | None]:
    """Probability-weighted pooled rate ``[year]`` (optimized years), delays ``[year,
    category]`` (months) and indexation share ``[year]`` (None when the lever is off) of a
    solution over the simulated years: what the economy on the median path is given."""
    from models.optimize.solve import leaf_paths

    tree, years = problem.tree, problem.opt_years
    inner = psol.rescue if psol.infeasible else psol.inner
    rate = xr.DataArray(tree.probability @ inner.tau, dims="year", coords={"year": years})
    delay = np.zeros((len(problem.years), len(CATEGORIES)))
    index = np.zeros(len(problem.years)) if problem.indexation_enabled else None
    for _, paths, full_delay, share in leaf_paths(problem, psol.levers):
        weight = tree.probability[paths].sum()
        delay += weight * full_delay
        if index is not None:
            index += weight * share
    delay_da = xr.DataArray(delay, dims=("year", "category"),
                            coords={"year": problem.years, "category": list(CATEGORIES)})
    index_da = (None if index is None
                else xr.DataArray(index, dims="year", coords={"year": problem.years}))
    return rate, delay_da, index_da


def run_optimization(exp: Experiment, cal: Calibration, population: xr.DataArray,
                     fit: BaseYearFit, timings: dict, economy=None) -> tuple[xr.Dataset, str]:
    """Solve the experiment's policy problem on ``population[path?, year, age, sex]``.

    With an economy context (:class:`models.pipeline.economy_step.EconomyContext`) and
    ``economy_pairing``, the solve is paired with the OLG economy: prices under the regime
    start the loop; after each solve the economy is re-solved under the expected policy and
    its wages and fund return feed the next solve (damped by ``pairing_damping``; the outer
    search continues from the previous solution), until they move less than the tolerance.
    Returns the labelled results (``policy_``/``opt_``/``resim_``/``pairing_`` variables,
    the outer-search history) and the solver log text.
    """
    from models.pipeline.economy_step import lifetime_welfare, model_prices, transition_under

    settings = exp.optimization
    years = population["year"].values
    pairing = economy is not None and settings.economy_pairing
    prices = (model_prices(transition_under(economy, cal, settings.regime), years, cal)
              if pairing else None)
    history: list[dict] = []
    t_search = 0.0
    psol = None
    for iteration in range(settings.pairing_max_iterations if pairing else 1):
        t0 = time.perf_counter()
        problem = setup_problem(cal, settings, population, fit, prices)
        # each pairing iteration continues the outer search from the previous solution
        psol = optimize_policy(problem, start=psol.levers if psol is not None else None)
        t_search += time.perf_counter() - t0
        if not pairing:
            break
        rate, delay, indexation = expected_policy(problem, psol)
        new = model_prices(transition_under(economy, cal, settings.regime, rate, delay,
                                            indexation), years, cal)
        wage_change = float(np.max(np.abs(new[0] / prices[0] - 1.0)))
        return_change = float(np.max(np.abs(new[1] - prices[1])))
        history.append({"iteration": iteration + 1,
                        "objective_cny": psol.inner.objective * 1e12,
                        "wage_change": wage_change, "return_change": return_change})
        log.info("pairing %d: objective %.6g, wage change %.2e, return change %.2e",
                 iteration + 1, psol.inner.objective, wage_change, return_change)
        if max(wage_change, return_change) < settings.pairing_tolerance:
            break
        theta = settings.pairing_damping
        prices = (prices[0] + theta * (new[0] - prices[0]),
                  prices[1] + theta * (new[1] - prices[1]))
    timings["optimize_search_s"] = round(t_search, 4)
    timings["optimize_last_build_s"] = round(psol.inner.build_s, 4)
    timings["optimize_last_solve_s"] = round(psol.inner.solve_s, 4)
    chosen = None
    if pairing:  # the economy under the chosen (expected) policy: the cohorts' welfare
        t1 = time.perf_counter()
        chosen = transition_under(economy, cal, settings.regime, *expected_policy(problem, psol))
        timings["optimize_welfare_s"] = round(time.perf_counter() - t1, 4)
    resim = resimulate(problem, psol)
    check = exactness(problem, psol, resim)
    t2 = time.perf_counter()
    voi = value_of_information(problem, psol) if settings.compute_vss_evpi else {}
    timings["optimize_vss_evpi_s"] = round(time.perf_counter() - t2, 4)
    ds = to_dataset(problem, psol, resim, check, voi)
    if chosen is not None:
        ds = ds.merge(lifetime_welfare(chosen, "opt_economy_", "under the optimal policy"))
    ds["opt_delay_cost_cny"] = ((), psol.data.delay_cost, {
        "units": "yuan (expected, discounted)",
        "long_name": "cost of the retirement delays (part of the objective)"})
    ds["opt_indexation_cost_cny"] = ((), psol.data.indexation_cost, {
        "units": "yuan (expected, discounted)",
        "long_name": "cost of indexing pensions in payment below the calibrated share (part "
                     "of the objective)"})
    keep = ["pensioners", "insured_workers", "contributions_cny", "expenditure_cny",
            "balance_end_cny", "months_payable", "reserve_assets_end_cny", "pooled_rate"]
    for name in keep:
        ds[f"resim_{name}"] = resim[name].sel(year=problem.opt_years)
    hist = psol.history
    ds["search_objective_cny"] = ("search_step", [h["objective_cny"] for h in hist],
                                  {"units": "yuan (expected, discounted)",
                                   "long_name": "objective at each evaluated delay path"})
    ds["search_label"] = ("search_step", [h["step"] for h in hist])
    # wall-clock times are provenance (manifest.json), never results: two identical runs
    # give identical results.nc data
    timings["optimize_search_build_s"] = [round(h["build_s"], 4) for h in hist]
    timings["optimize_search_solve_s"] = [round(h["solve_s"], 4) for h in hist]
    caps = {c: getattr(settings.retirement.cap_age, c) for c in CATEGORIES}
    if history:
        ds["pairing_objective_cny"] = ("pairing_iteration", [h["objective_cny"] for h in history],
                                       {"units": "yuan (expected, discounted)",
                                        "long_name": "optimal cost at each economy pairing"})
        ds["pairing_wage_change"] = ("pairing_iteration", [h["wage_change"] for h in history],
                                     {"units": "1", "long_name": "largest relative change of "
                                      "the economy's wage index after the solve"})
        ds["pairing_return_change"] = ("pairing_iteration", [h["return_change"] for h in history],
                                       {"units": "1 per year", "long_name": "largest change of "
                                        "the fund return after the solve"})
        ds = ds.assign_coords(pairing_iteration=[h["iteration"] for h in history])
        ds["pairing_converged"] = ((), int(max(history[-1]["wage_change"], history[-1][
            "return_change"]) < settings.pairing_tolerance), {"units": "1", "long_name":
                                                              "economy pairing converged"})
    ds.attrs = {"opt_status": ds.attrs["status"], "opt_binding": ds.attrs["binding"],
                "opt_cap_ages": str(caps), "opt_regime": settings.regime,
                "opt_indexation_lever": "on" if settings.indexation.enabled else "off"}
    solver_log = "\n".join(f"==== {h['step']}\n{h['log']}" for h in hist)
    if psol.rescue is not None:
        solver_log += "\n==== rescue (phase one)\n" + psol.rescue.log
    return ds, solver_log


def _fmt_year(v: float) -> str:
    return "never" if v is None or (isinstance(v, float) and math.isnan(v)) else str(int(v))


def has_optimization(ds: xr.Dataset) -> bool:
    return "policy_pooled_rate" in ds


def summary_frame(ds: xr.Dataset) -> Table:
    rows = [["status", ds.attrs.get("opt_status", "")],
            ["paths / tree nodes", f"{int(ds['opt_fund_balance_cny'].notnull().any('year').sum())}"
                                   f" / {ds.sizes.get('node', 1)}"],
            ["expected discounted cost (trillion yuan)",
             f"{float(ds['opt_objective_cny']) / TRILLION:.4f}"]]
    if "opt_delay_cost_cny" in ds:
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
        if key in ds:
            rows.append([label, f"{float(ds[key]) / TRILLION:.6f}"])
    gaps = {v.removeprefix("exactness_"): float(ds[v]) for v in ds.data_vars
            if v.startswith("exactness_")}
    for name, gap in gaps.items():
        rows.append([f"exactness: max relative gap, {name}", f"{gap:.2e}"])
    if ds.attrs.get("opt_binding"):
        rows.append(["binding", ds.attrs["opt_binding"]])
    if "rescue_transfer_cny" in ds:
        rescue = ds["rescue_transfer_cny"]
        total = rescue.sum("year")
        rows.append(["smallest rescue transfer, expected total (trillion yuan)",
                     f"{float(total.mean()) / TRILLION:.3f}"])
        first = rescue["year"].where(rescue > 0).min("year")
        rows.append(["first year needing a rescue (earliest path)",
                     _fmt_year(float(first.min())) if first.notnull().any() else "never"])
    return Table("optimal_summary", "Optimal policy: status, cost, value of information, "
                 "exactness", pd.DataFrame(rows, columns=["quantity", "value"]), "g")


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


def optimization_tables(ds: xr.Dataset) -> list[Table]:
    out = [summary_frame(ds), first_stage_frame(ds), policy_paths_frame(ds), search_frame(ds)]
    if "pairing_iteration" in ds.dims:
        out.append(pairing_frame(ds))
    return out
