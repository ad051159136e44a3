"""Tables of a run's demography and pension accounts, made from its ``results.nc`` only.

Each table is a :class:`models.report.table.Table` (a titled ``pandas.DataFrame`` with its
number formats); :mod:`models.report.render` gathers them with the economy's and the
optimizer's tables, prints them and writes them. Deterministic runs get the base-year
fit, the reported-facts check, the fund by regime and its milestones; Monte Carlo runs (a
``path`` dimension) add the spread calibration (model vs WPP), the quantiles of the
population indicators, the distribution of the fund's milestones, the probability of
depletion and the quantiles of months payable.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from models.constants import BILLION, MILLION
from models.demography.stochastic import population_indicators
from models.report.table import Table

#: Probabilities of the Monte Carlo quantiles and their column labels.
QUANTILES = (0.025, 0.10, 0.50, 0.90, 0.975)
QUANTILE_LABELS = ("2.5 %", "10 %", "50 %", "90 %", "97.5 %")
#: Years of the Monte Carlo tables.
TABLE_YEARS = (2035, 2050, 2075, 2100)
#: Years of "probability of depletion by".
DEPLETION_BY = (2035, 2050, 2100)
#: Years of the months-payable table.
MONTHS_PAYABLE_YEARS = (2025, 2030, 2035, 2050, 2075, 2100)


def _year(value: float) -> str:
    return "never (to the horizon)" if value is None or math.isnan(value) else str(int(value))


# ---------------------------------------------------------------------------- deterministic
def base_year_fit_frame(ds: xr.Dataset) -> Table:
    rows = []
    for t in ds["target"].values:
        model, reported = float(ds["fit_model"].sel(target=t)), float(ds["fit_reported"].sel(target=t))
        unit = str(ds["fit_unit"].sel(target=t).values)
        scale, label = (BILLION, "bn yuan") if str(t).endswith("_cny") else (MILLION, "million")
        rows.append([t, label, model / scale, reported / scale,
                     100.0 * (model - reported) / reported,
                     "calibrated" if bool(ds["fit_calibrated"].sel(target=t)) else "check",
                     unit])
    frame = pd.DataFrame(rows, columns=["target", "unit", "model", "reported", "residual %",
                                        "role", "reported unit"])
    return Table("base_year_fit", "Base-year calibration: model vs reported", frame, ".4f")


def checks_frame(ds: xr.Dataset) -> Table:
    rows = []
    for i in ds["check"].values:
        c = ds.sel(check=i)
        model, reported = float(c["check_model"]), float(c["check_reported"])
        rows.append([str(c["check_variable"].values), int(c["check_year"]), model / MILLION,
                     reported / MILLION, 100.0 * (model - reported) / reported,
                     str(c["check_source"].values)])
    frame = pd.DataFrame(rows, columns=["variable", "year", "model (million)",
                                        "reported (million)", "diff %", "source"])
    return Table("checks", "Projection vs reported facts (not fitted)", frame, ".2f")


def identification_frame(ds: xr.Dataset) -> Table:
    """The parameters the base-year fit does not pin: value, range, unit, source and what would
    pin them (:func:`models.pension.uncertainty.identification_table`)."""
    rows = []
    for p in ds["parameter"].values:
        row = ds.sel(parameter=p)
        rows.append([str(p), float(row["identification_value"]),
                     float(row["identification_low"]), float(row["identification_high"]),
                     str(row["identification_unit"].values),
                     str(row["identification_pinned_by"].values) or "-"])
    frame = pd.DataFrame(rows, columns=["parameter", "value", "low", "high", "unit",
                                        "what would pin it"])
    return Table("identification", "Parameters the base-year fit does not pin (carried as "
                 "parameter uncertainty)", frame, ".4g")


def validation_frame(ds: xr.Dataset) -> Table:
    """The projection beside every reported figure after the base year, at base-year prices
    (:func:`models.pension.validation.validation_table`; never fitted), model by regime."""
    regimes = [str(r) for r in ds["regime"].values]
    rows = []
    for i in ds["validation_check"].values:
        c = ds.sel(validation_check=i)
        rows.append([str(c["validation_variable"].values), int(c["validation_year"]),
                     float(c["validation_reported"]), float(c["validation_price_level"]),
                     float(c["validation_reported_real"])]
                    + [float(c["validation_model"].sel(regime=r)) for r in regimes]
                    + [100.0 * float(c["validation_gap"].sel(regime=r)) for r in regimes]
                    + [str(c["validation_unit"].values)])
    frame = pd.DataFrame(rows, columns=["variable", "year", "reported", "price level",
                                        "reported (base-year prices)"]
                         + [f"model {r}" for r in regimes] + [f"gap % {r}" for r in regimes]
                         + ["unit"])
    return Table("validation", "Validation: projection vs reported figures after the base "
                 "year (base-year prices, not fitted)", frame, ".4g")


def tornado_frame(ds: xr.Dataset) -> Table:
    """Each unpinned parameter at its low and high value (the others at their values): the
    first deficit year, the depletion year and the 2050 deficit
    (:func:`models.pension.uncertainty.tornado_table`), largest depletion-year swing first."""
    swing = ds["tornado_depletion_year_swing"].fillna(np.inf)
    order = ds["parameter"].values[np.argsort(-swing.values, kind="stable")]
    rows = []
    for p in order:
        row = ds.sel(parameter=p)

        def at(name: str, bound: str, row=row) -> float:
            return float(row[name].sel(tornado_bound=bound))

        rows.append([str(p), float(row["tornado_value"]), float(row["tornado_low_value"]),
                     float(row["tornado_high_value"]),
                     _year(at("tornado_first_deficit_year", "low")),
                     _year(at("tornado_first_deficit_year", "high")),
                     _year(at("tornado_depletion_year", "low")),
                     _year(at("tornado_depletion_year", "high")),
                     at("tornado_deficit_2050_cny", "low") / BILLION,
                     at("tornado_deficit_2050_cny", "high") / BILLION])
    frame = pd.DataFrame(rows, columns=["parameter", "value", "low", "high",
                                        "first deficit (low)", "first deficit (high)",
                                        "depletion (low)", "depletion (high)",
                                        "2050 deficit bn (low)", "2050 deficit bn (high)"])
    ref = (f"reference: first deficit {_year(float(ds['tornado_reference_first_deficit_year']))}"
           f", depletion {_year(float(ds['tornado_reference_depletion_year']))}, 2050 deficit "
           f"{float(ds['tornado_reference_deficit_2050_cny']) / BILLION:,.0f} bn yuan")
    return Table("tornado", "Tornado, 2024 law, median demography: one unpinned parameter at "
                 f"its low and high value ({ref})", frame, ".4g")


def finances_frame(ds: xr.Dataset, regime: str, every: int = 5) -> Table:
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
    frame = pd.DataFrame(rows, columns=["year", "contributors (m)", "retirees (m)",
                                        "dependency (retirees/insured)", "revenue (bn yuan)",
                                        "expenditure (bn yuan)", "balance end (bn yuan)",
                                        "months payable"])
    frame["year"] = frame["year"].astype(object)
    return Table(f"finances_{regime}", f"Employee fund, regime {regime} (every {every} years)",
                 frame, ("d", ".1f", ".1f", ".3f", ".0f", ".0f", ".0f", ".1f"))


def milestones_frame(ds: xr.Dataset) -> Table:
    rows = [[r, _year(float(ds["first_deficit_year"].sel(regime=r))),
             _year(float(ds["depletion_year"].sel(regime=r)))] for r in ds["regime"].values]
    frame = pd.DataFrame(rows, columns=["regime", "first deficit year (exp. > contrib. + subsidy)",
                                        "depletion year (balance < 0)"])
    return Table("milestones", "Milestones", frame)


# ---------------------------------------------------------------------------- Monte Carlo
def path_quantiles(values: xr.DataArray, method: str = "linear") -> xr.DataArray:
    """Quantiles :data:`QUANTILES` over ``path`` (NaN kept out by the caller)."""
    q = np.quantile(values.transpose("path", ...).values, QUANTILES, axis=0, method=method)
    dims = [d for d in values.dims if d != "path"]
    coords = {d: values[d] for d in dims}
    return xr.DataArray(q, dims=["quantile", *dims], coords={"quantile": list(QUANTILES), **coords})


def indicators_of(population: xr.DataArray) -> dict[str, xr.DataArray]:
    """The population indicators (:func:`models.demography.stochastic.population_indicators`)
    of ``population[..., age, sex]``, labelled by its other dimensions."""
    pop = population.transpose(..., "age", "sex")
    values = population_indicators(pop.values, pop["age"].values)
    dims = [d for d in pop.dims if d not in ("age", "sex")]
    return {k: xr.DataArray(v, dims=dims, coords={d: pop[d] for d in dims})
            for k, v in values.items()}


#: Population indicators of the tables and fan charts: stored variable, zero-shock indicator,
#: label, scale and unit label.
POPULATION_ROWS = (
    ("total_population_paths", "total", "total population", MILLION, "million"),
    ("working_age_population_paths", "working_age", "working-age population 20-64", MILLION,
     "million"),
    ("share_60plus_paths", "share_60plus", "share aged 60+", 0.01, "%"),
    ("share_65plus_paths", "share_65plus", "share aged 65+", 0.01, "%"),
    ("old_age_dependency_ratio_paths", "old_age_dependency_ratio",
     "old-age dependency ratio 65+ / 20-64", 0.01, "per 100"),
)


def population_quantiles_frame(ds: xr.Dataset) -> Table:
    median_path = indicators_of(ds["population"])
    rows = []
    years = [y for y in TABLE_YEARS if y in ds["year"].values]
    for var, key, label, scale, unit in POPULATION_ROWS:
        q = path_quantiles(ds[var].sel(year=years))
        for y in years:
            rows.append([label, unit, y, float(median_path[key].sel(year=y)) / scale,
                         *(q.sel(year=y).values / scale)])
    frame = pd.DataFrame(rows, columns=["indicator", "unit", "year", "zero-shock",
                                        *QUANTILE_LABELS])
    frame["year"] = frame["year"].astype(object)
    return Table("population_quantiles",
                 f"Population across {ds.sizes['path']} paths: quantiles (zero-shock = median "
                 "inputs)", frame, ("", "", "d", ".1f", ".1f", ".1f", ".1f", ".1f", ".1f"))


def _milestone_quantiles(values: np.ndarray) -> list:
    """Quantiles of a year that may be NaN (never): NaN counts as later than any year."""
    filled = np.where(np.isnan(values), np.inf, values)
    q = np.quantile(filled, QUANTILES, method="inverted_cdf")
    return ["never" if not np.isfinite(v) else str(int(v)) for v in q]


def milestones_distribution_frame(ds: xr.Dataset) -> Table:
    rows = []
    for regime in ds["regime"].values:
        for var, det, label in (("first_deficit_year_paths", "first_deficit_year",
                                 "first deficit year"),
                                ("depletion_year_paths", "depletion_year", "depletion year")):
            values = ds[var].sel(regime=regime).values
            rows.append([str(regime), label, _year(float(ds[det].sel(regime=regime))).split(" ")[0],
                         *_milestone_quantiles(values), 100.0 * float(np.mean(np.isnan(values)))])
    frame = pd.DataFrame(rows, columns=["regime", "milestone", "zero-shock", *QUANTILE_LABELS,
                                        "never to 2100 (% of paths)"])
    return Table("fund_milestones_distribution",
                 "Employee fund milestones across paths (quantiles of the year; 'never' = not "
                 "by the horizon)", frame, ".1f")


#: Quantiles of the depletion-year statement: the median and the 90 % band.
BAND = (0.05, 0.50, 0.95)


def _depletion_rows(regime: str, label: str, values: np.ndarray) -> list:
    """One row of :func:`depletion_uncertainty_frame`: the band's quantiles of ``values``
    (NaN = never, later than any year) and the share never depleted."""
    filled = np.where(np.isnan(values), np.inf, values)
    q = np.quantile(filled, BAND, method="inverted_cdf")
    return [regime, label, len(values),
            *["never" if not np.isfinite(v) else str(int(v)) for v in q],
            100.0 * float(np.mean(np.isnan(values)))]


def depletion_uncertainty_frame(ds: xr.Dataset) -> Table | None:
    """The depletion year with and without parameter uncertainty, per regime: the median path
    at the calibrated parameters, the median path under the parameter draws
    (``depletion_year_parameter_draws``), the Monte Carlo paths with the calibrated
    parameters (demography alone) and with each path's draw (demography and parameters).
    None when the run has neither draws nor paths."""
    has_draws = "depletion_year_parameter_draws" in ds
    has_paths = "depletion_year_paths" in ds
    if not (has_draws or has_paths):
        return None
    drawn = bool(ds.attrs.get("mc_parameter_uncertainty", 0))
    rows = []
    for regime in ds["regime"].values:
        r = str(regime)
        det = _year(float(ds["depletion_year"].sel(regime=regime))).split(" ")[0]
        rows.append([r, "median path, calibrated parameters", 1, "", det, "", ""])
        if has_draws:
            rows.append(_depletion_rows(r, "median path, parameter draws", ds[
                "depletion_year_parameter_draws"].sel(regime=regime).values))
        if has_paths:
            alone = ("depletion_year_paths_demography_only" if drawn
                     else "depletion_year_paths")
            rows.append(_depletion_rows(r, "paths, demography alone",
                                        ds[alone].sel(regime=regime).values))
            if drawn:
                rows.append(_depletion_rows(r, "paths, demography and parameters",
                                            ds["depletion_year_paths"].sel(regime=regime).values))
    frame = pd.DataFrame(rows, columns=["regime", "uncertainty", "draws", "5 %", "median",
                                        "95 %", "never to the horizon (%)"])
    return Table("depletion_uncertainty",
                 "Depletion year of the employee fund with its uncertainty (median and 90 % "
                 "band; parameters: those the base-year fit does not pin, drawn from their "
                 "calibrated ranges)", frame, ".1f")


def depletion_statement(table: Table) -> list[str]:
    """One sentence per regime from :func:`depletion_uncertainty_frame`: the year on the
    median path, then the median and 90 % band of each uncertainty it has."""
    lines = []
    for regime, rows in table.frame.groupby("regime", sort=False):
        first = rows.iloc[0]
        parts = [f"{regime}: the fund is depleted in {first['median']} on the median path"]
        for _, row in rows.iloc[1:].iterrows():
            parts.append(f"{row['uncertainty']} ({row['draws']:,}): median {row['median']}, "
                         f"90 % band {row['5 %']}-{row['95 %']}")
        lines.append("; ".join(parts) + ".")
    return lines


def depletion_probability_frame(ds: xr.Dataset) -> Table:
    rows = []
    for regime in ds["regime"].values:
        dep = ds["depletion_year_paths"].sel(regime=regime).values
        deficit = ds["first_deficit_year_paths"].sel(regime=regime).values
        rows.append([str(regime), "depleted (balance < 0)",
                     *[100.0 * float(np.mean(dep <= y)) for y in DEPLETION_BY]])
        rows.append([str(regime), "in deficit (exp. > contrib. + subsidy)",
                     *[100.0 * float(np.mean(deficit <= y)) for y in DEPLETION_BY]])
    frame = pd.DataFrame(rows, columns=["regime", "event", *[f"by {y} (%)" for y in DEPLETION_BY]])
    return Table("depletion_probability",
                 "Probability (share of paths, %) that the employee fund has been depleted / in "
                 "deficit by a year", frame, ".1f")


def months_payable_frame(ds: xr.Dataset) -> Table:
    rows = []
    years = [y for y in MONTHS_PAYABLE_YEARS if y in ds["year"].values]
    for regime in ds["regime"].values:
        q = path_quantiles(ds["months_payable_paths"].sel(regime=regime, year=years))
        for y in years:
            rows.append([str(regime), y,
                         float(ds["months_payable"].sel(regime=regime, year=y)),
                         *q.sel(year=y).values])
    frame = pd.DataFrame(rows, columns=["regime", "year", "zero-shock", *QUANTILE_LABELS])
    frame["year"] = frame["year"].astype(object)
    return Table("months_payable_quantiles",
                 "Employee fund months payable (year-end balance / monthly expenditure) across "
                 "paths", frame, ("", "d", ".1f", ".1f", ".1f", ".1f", ".1f", ".1f"))


def calibration_frame(ds: xr.Dataset, kind: str) -> Table:
    """Model (closed form and simulated) vs WPP bounds of e0 (by sex) or TFR."""
    e0 = kind == "e0"
    model, published = ds[f"{kind}_fit_model"], ds[f"{kind}_fit_published"]
    simulated_var = ds["e0_paths"] if e0 else ds["tfr_paths"]
    tol = float(ds.attrs.get("e0_tolerance_years" if e0 else "tfr_tolerance", np.nan))
    probs = ds["bound_probability"].values
    rows = []
    for year in ds["fit_year"].values:
        calibrated = bool(ds["fit_year_calibrated"].sel(fit_year=year))
        sim = np.quantile(simulated_var.sel(year=year).values, probs, axis=0)
        for s, sex in enumerate(ds["sex"].values if e0 else [None]):
            for b, bound in enumerate(ds["bound"].values):
                sel = {"fit_year": year, "bound": bound} | ({"sex": sex} if e0 else {})
                m, p = float(model.sel(sel)), float(published.sel(sel))
                gap = m - p
                tail = bound != "median"
                ok = ("yes" if abs(gap) <= tol else "NO") if (calibrated and tail) else "-"
                rows.append([int(year), *([str(sex)] if e0 else []), str(bound), p, m,
                             float(sim[b, s] if e0 else sim[b]), gap,
                             "calibrated" if calibrated else "check", ok])
    columns = ["year", *(["sex"] if e0 else []), "bound", "WPP 2024", "model",
               f"simulated ({ds.sizes['path']} paths)", "model - WPP", "role",
               f"within {tol:g}"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["year"] = frame["year"].astype(object)
    what = ("life expectancy at birth (years)" if e0 else "total fertility rate (children per "
            "woman)")
    fmt = ".2f" if e0 else ".3f"
    title = (f"Calibration of the spread: {what}, model vs WPP 2024 bounds "
             f"(model = closed-form quantile; simulated = this run's paths, with its scale "
             f"knobs)")
    return Table(f"{kind}_calibration", title, frame, fmt)


def spread_parameters_frame(ds: xr.Dataset) -> Table:
    rows = []
    for sex in ds["sex"].values:
        rows += [
            ["k innovation s.d. σ", str(sex), "k per year",
             float(ds["mortality_innovation_sd_history"].sel(sex=sex)),
             float(ds["mortality_innovation_sd"].sel(sex=sex))],
            ["k drift s.d. σ_d", str(sex), "k per year",
             float(ds["mortality_drift_sd_history"].sel(sex=sex)),
             float(ds["mortality_drift_sd"].sel(sex=sex))],
            ["k long-life stretch λ", str(sex), "1", 0.0,
             float(ds["mortality_longevity_stretch"].sel(sex=sex))],
            ["k drift (history)", str(sex), "k per year",
             float(ds["mortality_drift_history"].sel(sex=sex)), np.nan],
        ]
    rows += [["female-male correlation ρ", "both", "1",
              float(ds["mortality_sex_correlation"]), float(ds["mortality_sex_correlation"])],
             ["TFR persistence φ", "-", "per year", np.nan, float(ds["fertility_persistence"])],
             ["TFR innovation s.d. σ_f", "-", "children per woman", np.nan,
              float(ds["fertility_innovation_sd"])]]
    frame = pd.DataFrame(rows, columns=["parameter", "sex", "unit", "history 1970-2024",
                                        "calibrated (used)"])
    return Table("spread_parameters",
                 "Spread parameters: estimated from the k history vs calibrated to WPP bounds",
                 frame, ".4f")
