"""One run's economy tables (from results only): the OLG economy's base-year fit and paths,
the fund under the economy's prices, welfare by cohort and type, and Monte Carlo prices."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from models.pipeline.economy_step import WELFARE_ATTRS, WELFARE_KEEP, WELFARE_OPTIONAL
from models.report.table import Table
from models.report.view import has_monte_carlo_prices, has_price_error, has_welfare_of_the_law


def welfare_of(ds: xr.Dataset, prefix: str = "economy_", **sel) -> xr.Dataset:
    """The inverse of :func:`models.pipeline.economy_step.lifetime_welfare`: a Dataset :func:`models.economy.welfare_cev`
    takes, from results (``sel`` picks e.g. the regime)."""
    parts = {name: ds[f"{prefix}{name}"].sel(**sel) for name in WELFARE_KEEP
             + tuple(n for n in WELFARE_OPTIONAL if f"{prefix}{n}" in ds)}
    attrs = {k: parts["lifetime_utility"].attrs[k] for k in WELFARE_ATTRS}
    for k in ("crra", "horizon", "base_year"):  # netCDF may return numpy scalars
        attrs[k] = float(attrs[k]) if k == "crra" else int(attrs[k])
    return xr.Dataset(parts, attrs=attrs)


def economy_fit_frame(ds: xr.Dataset) -> Table:
    rows = []
    for t in ds["economy_target"].values:
        r = ds.sel(economy_target=t)
        model, target = float(r["economy_fit_model"]), float(r["economy_fit_target"])
        rows.append([str(t), model, target, model - target,
                     "fitted" if bool(r["economy_fit_calibrated"]) else "check",
                     str(r["economy_fit_unit"].values)])
    frame = pd.DataFrame(rows, columns=["quantity", "model", "target", "residual", "role",
                                        "unit"])
    return Table("economy_base_year_fit", "OLG economy, base year: model vs target "
                 f"(discount factor {float(ds['economy_discount_factor']):.4f})", frame,
                 ("", ".4g", ".4g", "+.3g", "", ""))


def economy_paths_frame(ds: xr.Dataset, every: int = 10) -> Table:
    years = ds["year"].values
    pick = [y for y in years if (y - years[0]) % every == 0 or y == years[-1]]
    rows = []
    for regime in ds["regime"].values:
        for y in pick:
            e = ds.sel(regime=regime, year=y)
            rows.append([str(regime), int(y), 100 * float(e["economy_interest_rate"]),
                         float(e["economy_average_wage_cny"]),
                         float(e["economy_capital_output_ratio"]),
                         100 * float(e["economy_income_tax_rate"]),
                         100 * float(e["economy_pension_spending_gdp"]),
                         float(e["model_prices_months_payable"])])
    frame = pd.DataFrame(rows, columns=[
        "regime", "year", "interest rate (%)", "average covered wage (yuan/yr)",
        "capital/output", "income tax closing the budget (%)", "pension spending (% GDP)",
        "fund months payable with model prices"])
    return Table("economy_paths", "OLG economy on the median path, and the fund under its "
                 "prices (yuan at base-year prices)", frame,
                 ("", "d", ".2f", ".0f", ".2f", ".1f", ".1f", ".1f"))


def milestones_both_prices_frame(ds: xr.Dataset) -> Table:
    def year(v: float) -> str:
        return "never" if math.isnan(v) else str(int(v))

    rows = [[str(r), year(float(ds["first_deficit_year"].sel(regime=r))),
             year(float(ds["model_prices_first_deficit_year"].sel(regime=r))),
             year(float(ds["depletion_year"].sel(regime=r))),
             year(float(ds["model_prices_depletion_year"].sel(regime=r)))]
            for r in ds["regime"].values]
    frame = pd.DataFrame(rows, columns=["regime", "first deficit (calibrated prices)",
                                        "first deficit (economy's prices)",
                                        "depletion (calibrated prices)",
                                        "depletion (economy's prices)"])
    return Table("milestones_both_prices", "Fund milestones with the calibration's wage and "
                 "return paths and with the OLG economy's", frame, "g")


WELFARE_BIRTH_YEARS = (1950, 1960, 1965, 1970, 1975, 1980, 1990, 2000, 2010, 2020, 2030)


def cev_by_cohort(cev: xr.DataArray) -> tuple[list, list]:
    """Rows (one per birth year of :data:`WELFARE_BIRTH_YEARS`) and columns of a
    consumption-equivalent variation ``[birth_year, group, category]`` in per cent."""
    rows = []
    for b in [b for b in WELFARE_BIRTH_YEARS if b in cev["birth_year"].values]:
        c = cev.sel(birth_year=b)
        rows.append([b] + [100 * float(c.sel(group=g, category=k))
                           for g in cev["group"].values for k in cev["category"].values])
    cols = ["birth year"] + [f"{g} {k} (%)" for g in cev["group"].values
                             for k in cev["category"].values]
    return rows, cols


def labour_note(ds: xr.Dataset) -> str:
    """How a stored economy's welfare counts work: net of the disutility of the hours and
    years worked when the run's economy had elastic labour (it stores the consumption part of
    lifetime utility beside the whole), else a warning that later retirement counts as income
    with no leisure lost."""
    if "economy_consumption_utility" in ds:
        return "net of the disutility of the hours and years worked"
    return ("labour supply inelastic, so later retirement counts as income with no leisure "
            "lost: see the economy's notes before ranking retirement ages by it")


def welfare_frame(ds: xr.Dataset) -> Table:
    rows, cols = cev_by_cohort(ds["economy_welfare_cev"])
    note = labour_note(ds)
    return Table("welfare_cev", "Consumption-equivalent welfare change of the 2024 law over the "
                 f"earlier retirement ages, by birth cohort and type ({note})",
                 pd.DataFrame(rows, columns=cols), ".2f")


def economy_tables(ds: xr.Dataset) -> list[Table]:
    out = [economy_fit_frame(ds), economy_paths_frame(ds), milestones_both_prices_frame(ds)]
    if has_welfare_of_the_law(ds):
        out.append(welfare_frame(ds))
    if has_monte_carlo_prices(ds):
        out.append(monte_carlo_prices_frame(ds))
    return out


def monte_carlo_prices_frame(ds: xr.Dataset) -> Table:
    """Depletion years across paths with the calibration's prices and with each path's own
    economy prices, and the first-order price error measured against exact solves."""
    rows = []
    for regime in ds["regime"].values:
        for label, var in (("calibrated prices", "depletion_year_paths"),
                           ("path's own economy prices", "mc_prices_depletion_year")):
            years = ds[var].sel(regime=regime).values
            finite = years[np.isfinite(years)]
            q = np.quantile(finite, [0.1, 0.5, 0.9]) if finite.size else [np.nan] * 3
            rows.append([str(regime), label, *[float(v) for v in q],
                         float(np.mean(np.isfinite(years) & (years <= 2035))),
                         float(np.mean(np.isfinite(years) & (years <= 2050)))])
    frame = pd.DataFrame(rows, columns=["regime", "prices", "depletion year 10 %", "50 %",
                                        "90 %", "P(depleted by 2035)", "P(depleted by 2050)"])
    title = "Depletion across Monte Carlo paths: calibrated vs each path's own economy prices"
    if has_price_error(ds):
        title += (f" (first-order prices vs exact on {ds.sizes['error_path']} paths: interest "
                  f"rate max error {float(ds['mc_prices_interest_rate_error_pp'].max()):.3f} pp, "
                  f"wage max relative error "
                  f"{float(ds['mc_prices_average_wage_relative_error'].max()):.2%})")
    return Table("monte_carlo_prices", title, frame, ("", "", ".0f", ".0f", ".0f", ".3f", ".3f"))
