"""Text tables of a run, made from its ``results.nc`` only (never by re-running the model)."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from tabulate import tabulate

MILLION, BILLION = 1e6, 1e9


def _year(value: float) -> str:
    return "never (to the horizon)" if value is None or math.isnan(value) else str(int(value))


def base_year_fit_table(ds: xr.Dataset) -> str:
    rows = []
    for t in ds["target"].values:
        model, reported = float(ds["fit_model"].sel(target=t)), float(ds["fit_reported"].sel(target=t))
        unit = str(ds["fit_unit"].sel(target=t).values)
        scale, label = (BILLION, "bn yuan") if str(t).endswith("_cny") else (MILLION, "million")
        rows.append([t, label, model / scale, reported / scale,
                     100.0 * (model - reported) / reported,
                     "calibrated" if bool(ds["fit_calibrated"].sel(target=t)) else "check",
                     unit])
    return tabulate(rows, headers=["target", "unit", "model", "reported", "residual %", "role",
                                   "reported unit"], floatfmt=".4f")


def checks_table(ds: xr.Dataset) -> str:
    rows = []
    for i in ds["check"].values:
        c = ds.sel(check=i)
        model, reported = float(c["check_model"]), float(c["check_reported"])
        rows.append([str(c["check_variable"].values), int(c["check_year"]), model / MILLION,
                     reported / MILLION, 100.0 * (model - reported) / reported,
                     str(c["check_source"].values)])
    return tabulate(rows, headers=["variable", "year", "model (million)", "reported (million)",
                                   "diff %", "source"], floatfmt=".2f")


def finances_table(ds: xr.Dataset, regime: str, every: int = 5) -> str:
    acc = ds.sel(regime=regime)
    years = acc["year"].values
    pick = [y for y in years if (y - years[0]) % every == 0 or y == years[-1]]
    rows = []
    for y in pick:
        a = acc.sel(year=y)
        rows.append([
            int(y),
            float(a["contributors"]) / MILLION,
            float(a["pensioners"].sum()) / MILLION,
            float(a["system_dependency_ratio"]),
            float(a["revenue_cny"]) / BILLION,
            float(a["expenditure_cny"]) / BILLION,
            float(a["balance_end_cny"]) / BILLION,
            float(a["months_payable"]),
        ])
    return tabulate(rows, headers=["year", "contributors (m)", "retirees (m)",
                                   "dependency (retirees/insured)", "revenue (bn yuan)",
                                   "expenditure (bn yuan)", "balance end (bn yuan)",
                                   "months payable"], floatfmt=("d", ".1f", ".1f", ".3f", ".0f",
                                                                ".0f", ".0f", ".1f"))


def milestones_table(ds: xr.Dataset) -> str:
    rows = [[r, _year(float(ds["first_deficit_year"].sel(regime=r))),
             _year(float(ds["depletion_year"].sel(regime=r)))] for r in ds["regime"].values]
    return tabulate(rows, headers=["regime", "first deficit year (exp. > contrib. + subsidy)",
                                   "depletion year (balance < 0)"])


def render(ds: xr.Dataset, every: int = 5) -> str:
    """The whole report of a deterministic run as text."""
    parts = [
        f"Experiment {ds.attrs.get('experiment')}: {ds.attrs.get('description', '')}".rstrip(": "),
        f"Money in {ds.attrs.get('money_units')}; config {str(ds.attrs.get('config_hash'))[:12]}",
        "",
        "Base-year calibration: model vs reported",
        base_year_fit_table(ds),
        "",
        "Projection vs reported facts (not fitted)",
        checks_table(ds),
    ]
    for regime in ds["regime"].values:
        parts += ["", f"Employee fund, regime {regime} (every {every} years)",
                  finances_table(ds, str(regime), every)]
    parts += ["", "Milestones", milestones_table(ds)]
    return "\n".join(parts)
