"""The optimization step of an experiment and its text tables (from results only)."""

from __future__ import annotations

import logging
import math
import time

import xarray as xr
from tabulate import tabulate

from models.config import CATEGORIES, Calibration, Experiment
from models.optimize.report import exactness, resimulate, to_dataset, value_of_information
from models.optimize.solve import optimize_policy, setup_problem
from models.pension.accounts import BaseYearFit

log = logging.getLogger(__name__)

TRILLION = 1e12


def run_optimization(exp: Experiment, cal: Calibration, population: xr.DataArray,
                     fit: BaseYearFit, timings: dict) -> tuple[xr.Dataset, str]:
    """Solve the experiment's policy problem on ``population[path?, year, age, sex]``.

    Returns the labelled results (variables prefixed ``policy_``/``opt_``, the re-simulated
    accounts as ``resim_*``, the outer-search history) and the solver log text.
    """
    settings = exp.optimization
    t0 = time.perf_counter()
    problem = setup_problem(cal, settings, population, fit)
    timings["optimize_setup_s"] = round(time.perf_counter() - t0, 4)
    t1 = time.perf_counter()
    psol = optimize_policy(problem)
    timings["optimize_search_s"] = round(time.perf_counter() - t1, 4)
    timings["optimize_last_build_s"] = round(psol.inner.build_s, 4)
    timings["optimize_last_solve_s"] = round(psol.inner.solve_s, 4)
    resim = resimulate(problem, psol)
    check = exactness(problem, psol, resim)
    t2 = time.perf_counter()
    voi = value_of_information(problem, psol) if settings.compute_vss_evpi else {}
    timings["optimize_vss_evpi_s"] = round(time.perf_counter() - t2, 4)
    ds = to_dataset(problem, psol, resim, check, voi)
    keep = ["pensioners", "insured_workers", "contributions_cny", "expenditure_cny",
            "balance_end_cny", "months_payable", "reserve_assets_end_cny", "pooled_rate"]
    for name in keep:
        ds[f"resim_{name}"] = resim[name].sel(year=problem.opt_years)
    hist = psol.history
    ds["search_objective_cny"] = ("search_step", [h["objective_cny"] for h in hist],
                                  {"units": "yuan (expected, discounted)",
                                   "long_name": "objective at each evaluated delay path"})
    ds["search_label"] = ("search_step", [h["step"] for h in hist])
    ds["search_solve_s"] = ("search_step", [h["solve_s"] for h in hist],
                            {"units": "s", "long_name": "HiGHS time"})
    ds["search_build_s"] = ("search_step", [h["build_s"] for h in hist],
                            {"units": "s", "long_name": "Pyomo build time"})
    caps = {c: getattr(settings.retirement.cap_age, c) for c in CATEGORIES}
    ds.attrs.update(cap_ages=str(caps), regime=settings.regime)
    solver_log = "\n".join(f"==== {h['step']}\n{h['log']}" for h in hist)
    if psol.rescue is not None:
        solver_log += "\n==== rescue (phase one)\n" + psol.rescue.log
    return ds, solver_log


def _fmt_year(v: float) -> str:
    return "never" if v is None or (isinstance(v, float) and math.isnan(v)) else str(int(v))


def policy_table(ds: xr.Dataset, every: int = 5) -> str:
    """Expected policy and fund paths with 10-90 % bands across paths."""
    years = ds["year"].values
    pick = [y for y in years if (y - years[0]) % every == 0 or y == years[-1]]
    rows = []
    rate = ds["resim_pooled_rate"]
    for y in pick:
        r = rate.sel(year=y)
        delay = ds["policy_extra_delay_months"].sel(year=y)
        bal = ds["resim_months_payable"].sel(year=y)
        transfer = ds["opt_extra_transfer_cny"].sel(year=y)
        rows.append([
            int(y), float(r.mean()), f"{float(r.quantile(0.1)):.3f}-{float(r.quantile(0.9)):.3f}",
            *[float(delay.sel(category=c).mean()) for c in CATEGORIES],
            float(ds["opt_reserve_draw_cny"].sel(year=y).mean()) / 1e9,
            float(transfer.mean()) / 1e9,
            f"{float(transfer.quantile(0.1)) / 1e9:.0f}-{float(transfer.quantile(0.9)) / 1e9:.0f}",
            float(bal.mean()),
        ])
    return tabulate(rows, headers=["year", "pooled rate (mean)", "10-90 %",
                                   "delay men (months)", "delay women cadres", "delay women workers",
                                   "reserve draw (bn yuan)", "extra transfer (bn yuan)",
                                   "10-90 % (bn)", "months payable"],
                    floatfmt=("d", ".4f", "", ".1f", ".1f", ".1f", ".0f", ".0f", "", ".1f"))


def first_stage_table(ds: xr.Dataset) -> str:
    """Root decisions for the first stage's years."""
    stage0 = ds["stage_year"].values
    last = stage0[1] - 1 if stage0.size > 1 else int(ds["year"].values[-1])
    years = [y for y in ds["year"].values if y <= last][:10]
    rows = []
    for y in years:
        rows.append([int(y), float(ds["policy_pooled_rate"].sel(node=0, year=y)),
                     *[float(ds["policy_extra_delay_months"].sel(node=0, year=y, category=c))
                       for c in CATEGORIES]])
    return tabulate(rows, headers=["year", "pooled rate", "delay men (months)",
                                   "delay women cadres", "delay women workers"],
                    floatfmt=("d", ".4f", ".0f", ".0f", ".0f"))


def summary_table(ds: xr.Dataset) -> str:
    rows = [["status", ds.attrs.get("status", "")],
            ["expected discounted cost (trillion yuan)",
             f"{float(ds['opt_objective_cny']) / TRILLION:.4f}"]]
    for key, label in (("vss_cny", "value of the stochastic solution VSS"),
                       ("evpi_cny", "expected value of perfect information EVPI")):
        if key in ds:
            rows.append([f"{label} (trillion yuan)", f"{float(ds[key]) / TRILLION:.6f}"])
    gaps = [float(ds[v]) for v in ds.data_vars if v.startswith("exactness_")]
    if gaps:
        rows.append(["max relative gap optimizer vs re-simulated accounts", f"{max(gaps):.2e}"])
    if ds.attrs.get("binding"):
        rows.append(["binding", ds.attrs["binding"]])
    if "rescue_transfer_cny" in ds:
        rescue = ds["rescue_transfer_cny"]
        rows.append(["smallest rescue transfer, expected total (trillion yuan)",
                     f"{float(rescue.sum('year').mean()) / TRILLION:.3f}"])
        worst = rescue.sum("year").argmax("path")
        first = rescue.isel(path=int(worst)).where(rescue.isel(path=int(worst)) > 0)
        year = first["year"].where(first.notnull()).min()
        rows.append(["first year needing a rescue (worst path)",
                     _fmt_year(float(year)) if year.notnull() else "never"])
    return tabulate(rows, headers=["", "value"])


def render(ds: xr.Dataset) -> str:
    n_paths = ds.sizes.get("path", 1)
    n_nodes = ds.sizes.get("node", 1)
    return "\n".join([
        f"Optimal policy ({n_paths} paths, {n_nodes} tree nodes, regime {ds.attrs.get('regime')})",
        summary_table(ds), "", "First-stage decisions (root node)", first_stage_table(ds), "",
        "Expected policy and fund paths (bands across paths)", policy_table(ds)])
