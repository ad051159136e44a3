"""Run an experiment: calibration -> demography -> pension accounts -> results on disk.

A deterministic run (``demography.paths = 0``) projects the median demography and the accounts
under each retirement regime. With ``paths > 0`` it adds the Monte Carlo demography
(:mod:`models.demography.stochastic`) and the accounts on every path (:func:`models.pipeline.monte_carlo.simulate_paths`);
the deterministic variables are then the zero-shock path under the experiment's medians.
After writing, the caller may draw the tables and figures from ``results.nc``
(:func:`models.report.render.write_outputs`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import xarray as xr

from models import __version__
from models.catalogue import annotate
from models.config import (
    Calibration,
    ConfigError,
    Experiment,
    ParallelSettings,
    load_arrays,
    load_experiment,
)
from models.constants import MONEY_UNITS
from models.demography import stochastic
from models.optimize.checks import check_optimization
from models.pension import (
    calibrate_base_year,
    fund_milestones,
    project_accounts,
    retirement_schedule,
)
from models.pension.uncertainty import identification_table, tornado_table
from models.pension.validation import validation_table
from models.pipeline import provenance
from models.pipeline.economy_step import economy_context, run_economy
from models.pipeline.monte_carlo import (
    STORE_POPULATION_MAX_PATHS,
    parameter_draws_median,
    simulate_paths,
    timed,
)
from models.pipeline.optimization import run_optimization
from models.pipeline.results import (
    check_destination,
    check_results_root,
    clean_stale,
    run_lock,
    write_run,
)

log = logging.getLogger(__name__)


def demographic_checks(demography: xr.Dataset, accounts: xr.Dataset,
                       cal: Calibration) -> xr.Dataset:
    """Model beside each reported fact of ``checks.toml`` (never fitted to them).

    Year-end stocks are the model's population on 1 January of the next year.
    """
    pop = demography["population"]
    years = list(pop["year"].values)
    stocks = xr.concat([pop, demography["population_end"].expand_dims(year=[years[-1] + 1])],
                       dim="year")

    def year_end(year: int, min_age: int = 0) -> float:
        return float(stocks.sel(year=year + 1).sel(age=stocks["age"] >= min_age).sum())

    # the retirement regimes only differ from 2025: take the first regime for earlier years
    acc = accounts.isel(regime=0)
    model_of = {
        "births": lambda y: float(demography["births"].sel(year=y).sum()),
        "deaths": lambda y: float(demography["deaths"].sel(year=y).sum()),
        "population_year_end": lambda y: year_end(y),
        "population_60plus_year_end": lambda y: year_end(y, 60),
        "population_65plus_year_end": lambda y: year_end(y, 65),
        "pensioners": lambda y: float(acc["pensioners_year_end"].sel(year=y).sum()),
        "insured_workers_plus_pensioners": lambda y: float(
            (acc["insured_workers_year_end"] + acc["pensioners_year_end"]).sel(year=y).sum()),
    }
    facts = [f for f in cal.checks.facts if years[0] <= f.year <= years[-1]]
    ds = xr.Dataset(
        {
            "check_model": ("check", [model_of[f.variable](f.year) for f in facts]),
            "check_reported": ("check", [f.value for f in facts]),
        },
        coords={
            "check": np.arange(len(facts)),
            "check_variable": ("check", [f.variable for f in facts]),
            "check_year": ("check", [f.year for f in facts]),
            "check_source": ("check", [f.source for f in facts]),
        },
    )
    return ds


def base_year_fit(accounts: xr.Dataset, cal: Calibration) -> xr.Dataset:
    """The base year's model values beside the targets it was calibrated to."""
    tg = cal.pension.targets
    acc = accounts.isel(regime=0).sel(year=tg.year.value)
    rows = [
        ("insured_workers", float(acc["insured_workers_year_end"].sum()), tg.insured_workers),
        ("retirees", float(acc["pensioners_year_end"].sum()), tg.retirees),
        ("revenue_cny", float(acc["revenue_cny"]), tg.revenue_cny),
        ("expenditure_cny", float(acc["expenditure_cny"]), tg.expenditure_cny),
        ("balance_end_cny", float(acc["balance_end_cny"]), tg.balance_end_cny),
        ("residents_recipients", float(acc["residents_recipients"]), tg.residents_recipients),
        ("residents_expenditure_cny", float(acc["residents_expenditure_cny"]),
         tg.residents_expenditure_cny),
    ]
    fitted = {"insured_workers", "retirees", "revenue_cny", "expenditure_cny",
              "balance_end_cny", "residents_recipients"}
    return xr.Dataset(
        {
            "fit_model": ("target", [r[1] for r in rows]),
            "fit_reported": ("target", [r[2].value for r in rows]),
        },
        coords={
            "target": [r[0] for r in rows],
            "fit_unit": ("target", [r[2].unit for r in rows]),
            "fit_source": ("target", [r[2].source for r in rows]),
            "fit_calibrated": ("target", [r[0] in fitted for r in rows]),
        },
    )


def pension_tables(per_regime: list[xr.Dataset], regime_dim: xr.DataArray,
                   cal: Calibration) -> xr.Dataset:
    """The pension block's identification and validation tables for a run: the parameters the
    base-year fit does not pin (``identification_*[parameter]``,
    :func:`models.pension.uncertainty.identification_table`) and the projection beside every
    reported figure after the base year (``validation_*[(regime,) validation_check]``,
    :func:`models.pension.validation.validation_table`; the model's values by regime)."""
    tables = [validation_table(acc, cal.checks) for acc in per_regime]
    out = tables[0].copy()
    for name in ("validation_model", "validation_gap"):
        out[name] = xr.concat([t[name] for t in tables], dim=regime_dim)
    ident = identification_table(cal)
    ident = ident.rename({name: f"identification_{name}" for name in
                          ("value", "low", "high", "unit", "source", "pinned_by")})
    return xr.merge([out, ident], combine_attrs="override")


#: the regime of the tornado table
TORNADO_REGIME = "law_2024"


def tornado(population: xr.DataArray, cal: Calibration) -> xr.Dataset:
    """:func:`models.pension.uncertainty.tornado_table` under :data:`TORNADO_REGIME` as
    ``tornado_*[parameter, tornado_bound]`` (the reference outcomes ``tornado_reference_*``)."""
    table = tornado_table(population, cal, TORNADO_REGIME)
    names = {name: f"tornado_{name}" for name in list(table.data_vars)
             + ["low_value", "high_value", "value"]}
    out = table.rename(names).rename({"bound": "tornado_bound"})
    out.attrs = {}
    return out


def regime_accounts(exp: Experiment, cal: Calibration, population: xr.DataArray,
                    timings: dict) -> tuple[xr.Dataset, xr.Dataset, list, list, list]:
    """The pension accounts of every regime of the experiment on one population: the accounts
    ``[regime, year, ...]``, the base-year fits as a Dataset ``[regime]``, and per regime the
    accounts, the fit and the retirement schedule."""
    years, ages = population["year"].values, population["age"].values
    per_regime, fits, schedules = [], [], []
    with timed(timings, "pension_accounts_s"):
        for regime in exp.projection.regimes:
            schedule = retirement_schedule(years, ages, regime, cal.pension)
            fit = calibrate_base_year(population, schedule, cal.pension,
                                      cal.finances)
            acc = project_accounts(population, schedule, fit, cal.pension, cal.finances)
            acc["statutory_age"] = schedule["statutory_age"]
            per_regime.append(acc)
            fits.append(fit)
            schedules.append(schedule)
    regime_dim = xr.DataArray(list(exp.projection.regimes), dims="regime", name="regime")
    # "override" keeps each variable's units and long_name ("drop" would strip them too)
    accounts = xr.concat(per_regime, dim=regime_dim, coords="minimal", compat="override",
                         combine_attrs="override")
    accounts.attrs = {}
    for name in ("average_wage_cny", "fiscal_subsidy_cny"):
        accounts[name] = per_regime[0][name]
    fit_vars = {
        f.name: ("regime", [getattr(fit, f.name) for fit in fits])
        for f in dataclasses.fields(fits[0])
    }
    fit_ds = xr.Dataset(fit_vars, coords={"regime": regime_dim})
    return accounts, fit_ds, per_regime, fits, schedules


def simulate(exp: Experiment, cal: Calibration, arrays: xr.Dataset,
             timings: dict | None = None, files: dict | None = None) -> xr.Dataset:
    """An experiment as one labelled Dataset (no I/O): the median projection, the Monte Carlo
    paths if asked, and the optimal policy if the experiment has an ``[optimization]`` table.
    Text files to write beside the results (the solver log) are put in ``files``."""
    timings = {} if timings is None else timings
    files = {} if files is None else files
    with timed(timings, "demography_s"):
        demography = stochastic.median_demography(arrays, exp.demography)
    population = demography["population"]
    years, ages = population["year"].values, population["age"].values
    base = cal.demography.base_year.value
    accounts, fit_ds, per_regime, fits, schedules = regime_accounts(exp, cal, population,
                                                                    timings)
    regime_dim = accounts["regime"]
    milestones = fund_milestones(accounts)
    result = xr.merge([demography, accounts, milestones, fit_ds,
                       demographic_checks(demography, accounts, cal),
                       base_year_fit(accounts, cal),
                       pension_tables(per_regime, regime_dim, cal)], combine_attrs="override")
    if exp.projection.tornado:
        with timed(timings, "tornado_s"):
            result = xr.merge([result, tornado(population, cal)], combine_attrs="override")
    result.attrs = {}
    result.attrs.update(experiment=exp.name, description=exp.description, base_year=base,
                        money_units=MONEY_UNITS)
    ctx = None
    if exp.economy.enabled:
        with timed(timings, "economy_s"):
            ctx = economy_context(cal, arrays, population, fits[0].contribution_index)
            economy = run_economy(exp, cal, arrays, population,
                                  dict(zip(exp.projection.regimes, zip(schedules, fits))), ctx)
        attrs = result.attrs
        result = xr.merge([result, economy], combine_attrs="override")
        result.attrs = attrs
    if (exp.demography.paths == 0 and exp.uncertainty.parameters
            and exp.uncertainty.median_draws > 0):  # parameter uncertainty alone
        result = xr.merge([result, parameter_draws_median(exp, cal, population, timings)],
                          combine_attrs="override")
    if exp.demography.paths > 0:
        mc = simulate_paths(exp, cal, arrays, population, dict(zip(exp.projection.regimes,
                                                                   zip(schedules, fits))),
                            timings, economy=ctx)
        attrs = {**result.attrs, **mc.attrs}
        result = xr.merge([result, mc], combine_attrs="override")
        result.attrs = attrs
    if exp.optimization is not None:
        opt_population = _optimization_population(exp, result, population)
        regime = exp.optimization.regime
        fit = (fits[exp.projection.regimes.index(regime)] if regime in exp.projection.regimes
               else calibrate_base_year(population, retirement_schedule(
                   years, ages, regime, cal.pension), cal.pension, cal.finances))
        with timed(timings, "optimization_s"):
            opt, files["solver.log"] = run_optimization(exp, cal, opt_population, fit, timings,
                                                        economy=ctx, arrays=arrays)
        attrs = {**result.attrs, **opt.attrs}
        result = xr.merge([result, opt], combine_attrs="override", join="outer")
        result.attrs = attrs
    result = annotate(result)  # every variable's units and long_name from the catalogue
    for name in ("population_paths", "population_snapshot"):
        if name in result:  # zlib level 1: about 30 % smaller for about 1 s per 1,000 paths
            result[name].encoding.update(zlib=True, complevel=1)
    return result


def _optimization_population(exp: Experiment, result: xr.Dataset,
                             median: xr.DataArray) -> xr.DataArray:
    """The populations the optimizer works on: the first ``optimization.paths`` Monte Carlo
    paths (float64), or the median path alone for a deterministic experiment."""
    wanted = exp.optimization.paths
    if exp.demography.paths == 0:
        if wanted not in (None, 1):
            raise ConfigError(f"experiment '{exp.name}': key 'optimization.paths' = {wanted}: "
                              "expected 1 or no value when demography.paths = 0 (the median "
                              "path is the only path)")
        return median
    if exp.demography.paths > STORE_POPULATION_MAX_PATHS:  # every path's population not kept
        raise ConfigError(f"experiment '{exp.name}': key 'demography.paths' = "
                          f"{exp.demography.paths}: expected at most "
                          f"{STORE_POPULATION_MAX_PATHS} paths when optimizing (only then is "
                          "every path's population kept); lower demography.paths")
    n = exp.demography.paths if wanted is None else wanted
    if n > exp.demography.paths:
        raise ConfigError(f"experiment '{exp.name}': key 'optimization.paths' = {n}: expected "
                          f"at most demography.paths = {exp.demography.paths}")
    return result["population_paths"].isel(path=slice(0, n)).astype(float).rename("population")


def run_experiment(path: str | Path, force: bool = False, results_root: str | Path = "results",
                   outputs: Callable[[Path], list[Path]] | None = None) -> Path:
    """Validate, simulate and write ``results/<name>/``; returns the run folder.

    Before any computation: every rule of the experiment and its calibration (the schema's,
    :func:`models.config.check_experiment`, :func:`models.optimize.checks.check_optimization`,
    the CSV arrays), the results folder writable, the run's lock taken (a second run into the
    same folder fails at once), what dead runs left there cleared (and logged), and an existing
    run refused without ``force``. ``results.nc`` carries the validated experiment as JSON
    (attribute ``experiment_json``), so study tables can read its settings from the results
    alone. ``outputs``, when given, draws the run's own tables and figures inside the
    temporary folder before it is put in place (the caller passes
    :func:`models.report.render.write_outputs`: the pipeline never imports the report);
    without it they are not drawn (``pension report`` still prints them). Wall-clock timings go
    to ``manifest.json`` only."""
    started = datetime.now(timezone.utc)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    with timed(timings, "validate_s"):
        exp, cal, cal_dir = load_experiment(path)
        check_optimization(exp, path)
    check_results_root(results_root)
    run_dir = Path(results_root) / exp.name
    with run_lock(run_dir):
        for line in clean_stale(run_dir):
            log.warning("%s", line)
        check_destination(run_dir, force)
        with timed(timings, "load_arrays_s"):
            arrays = load_arrays(cal, cal_dir)
        return _run_locked(path, exp, cal, cal_dir, arrays, run_dir, force, outputs, started,
                           timings, t0)


def _run_locked(path, exp: Experiment, cal: Calibration, cal_dir: Path, arrays: xr.Dataset,
                run_dir: Path, force: bool, outputs: Callable[[Path], list[Path]] | None,
                started: datetime, timings: dict, t0: float) -> Path:
    """The computation and the writing of :func:`run_experiment`, under the run's lock."""
    log.info("running %s (%s)", exp.name, ", ".join(exp.projection.regimes))
    files: dict[str, str] = {}
    result = simulate(exp, cal, arrays, timings, files)
    # the worker count changes no number: leave it out of the hash of what was computed
    digest = provenance.config_hash(exp.model_copy(update={"parallel": ParallelSettings()}), cal)
    result.attrs.update(config_hash=digest, created=started.isoformat(timespec="seconds"),
                        experiment_json=exp.model_dump_json())
    timings["total_s"] = round(time.perf_counter() - t0, 4)
    manifest = {
        "experiment": exp.name,
        "experiment_file": str(path),
        "calibration": str(cal_dir),
        "config_hash": digest,
        "seed": exp.seed,
        "git": provenance.git_state(provenance.code_root()),
        "models_version": __version__,
        "packages": provenance.package_versions(),
        "machine": provenance.machine(),
        "started_utc": started.isoformat(timespec="seconds"),
        "timings_s": timings,
        "arrays_sha256": {k: v.sha256 for k, v in cal.demography.arrays},
    }
    before_swap = None
    if outputs is not None:

        def before_swap(folder: Path) -> None:
            written = outputs(folder)
            log.info("wrote %d tables and figures under %s", len(written), run_dir)

    return write_run(run_dir, result, manifest, force=force, extra_files=files,
                     before_swap=before_swap)
