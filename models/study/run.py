"""Run an experiment: calibration -> demography -> pension accounts -> results on disk."""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import xarray as xr

from models import __version__
from models.config import Calibration, Experiment, load_arrays, load_experiment
from models.demography import project_median
from models.pension import (
    calibrate_base_year,
    fund_milestones,
    project_accounts,
    retirement_schedule,
)
from models.study import provenance
from models.study.results import check_destination, write_run

log = logging.getLogger(__name__)



def _timed(timings: dict, key: str):
    class _Timer:
        def __enter__(self):
            self.t0 = time.perf_counter()

        def __exit__(self, *exc):
            timings[key] = round(time.perf_counter() - self.t0, 4)

    return _Timer()


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
        "pensioners": lambda y: float(acc["pensioners"].sel(year=y).sum()),
        "insured_workers_plus_pensioners": lambda y: float(
            (acc["insured_workers"] + acc["pensioners"]).sel(year=y).sum()),
    }
    facts = [f for f in cal.checks.facts if years[0] <= f.year <= years[-1]]
    ds = xr.Dataset(
        {
            "check_model": ("check", [model_of[f.variable](f.year) for f in facts],
                            {"units": "persons", "long_name": "model value"}),
            "check_reported": ("check", [f.value for f in facts],
                               {"units": "persons", "long_name": "reported value"}),
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
        ("insured_workers", float(acc["insured_workers"].sum()), tg.insured_workers),
        ("retirees", float(acc["pensioners"].sum()), tg.retirees),
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
            "fit_model": ("target", [r[1] for r in rows],
                          {"long_name": "model value in the base year"}),
            "fit_reported": ("target", [r[2].value for r in rows],
                             {"long_name": "reported value in the base year"}),
        },
        coords={
            "target": [r[0] for r in rows],
            "fit_unit": ("target", [r[2].unit for r in rows]),
            "fit_source": ("target", [r[2].source for r in rows]),
            "fit_calibrated": ("target", [r[0] in fitted for r in rows]),
        },
    )


def simulate(exp: Experiment, cal: Calibration, arrays: xr.Dataset,
             timings: dict | None = None) -> xr.Dataset:
    """The deterministic projection of an experiment as one labelled Dataset (no I/O)."""
    timings = {} if timings is None else timings
    with _timed(timings, "demography_s"):
        demography = project_median(arrays)
    population = demography["population"]
    years, ages = population["year"].values, population["age"].values
    base = cal.demography.base_year.value
    per_regime, fits = [], []
    with _timed(timings, "pension_accounts_s"):
        for regime in exp.projection.regimes:
            schedule = retirement_schedule(years, ages, regime, cal.pension)
            fit = calibrate_base_year(population.sel(year=base), schedule, cal.pension,
                                      cal.finances)
            acc = project_accounts(population, schedule, fit, cal.pension, cal.finances)
            acc["statutory_age"] = schedule["statutory_age"]
            per_regime.append(acc)
            fits.append(fit)
    regime_dim = xr.DataArray(list(exp.projection.regimes), dims="regime", name="regime")
    accounts = xr.concat(per_regime, dim=regime_dim, coords="minimal", compat="override",
                         combine_attrs="drop")
    for name in ("average_wage_cny", "fiscal_subsidy_cny"):
        accounts[name] = per_regime[0][name]
    milestones = fund_milestones(accounts)
    fit_vars = {
        f.name: ("regime", [getattr(fit, f.name) for fit in fits])
        for f in dataclasses.fields(fits[0])
    }
    fit_ds = xr.Dataset(fit_vars, coords={"regime": regime_dim})
    for name in fit_ds:
        fit_ds[name].attrs.update(long_name=f"base-year calibrated {name.replace('_', ' ')}",
                                  units="yuan" if name.endswith("_cny") else "1")
    result = xr.merge([demography, accounts, milestones, fit_ds,
                       demographic_checks(demography, accounts, cal),
                       base_year_fit(accounts, cal)], combine_attrs="drop")
    result.attrs.update(experiment=exp.name, description=exp.description, base_year=base,
                        money_units="yuan at base-year prices")
    return result


def run_experiment(path: str | Path, force: bool = False, results_root: str | Path = "results"
                   ) -> Path:
    """Validate, simulate and write ``results/<name>/``; returns the run folder."""
    started = datetime.now(timezone.utc)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    with _timed(timings, "validate_s"):
        exp, cal, cal_dir = load_experiment(path)
    run_dir = Path(results_root) / exp.name
    check_destination(run_dir, force)
    with _timed(timings, "load_arrays_s"):
        arrays = load_arrays(cal, cal_dir)
    log.info("running %s (%s)", exp.name, ", ".join(exp.projection.regimes))
    result = simulate(exp, cal, arrays, timings)
    digest = provenance.config_hash(exp, cal)
    result.attrs.update(config_hash=digest, created=started.isoformat(timespec="seconds"))
    timings["total_s"] = round(time.perf_counter() - t0, 4)
    root = Path(path).resolve().parent.parent
    manifest = {
        "experiment": exp.name,
        "experiment_file": str(path),
        "calibration": str(cal_dir),
        "config_hash": digest,
        "seed": exp.seed,
        "git": provenance.git_state(root),
        "models_version": __version__,
        "packages": provenance.package_versions(),
        "machine": provenance.machine(),
        "started_utc": started.isoformat(timespec="seconds"),
        "timings_s": timings,
        "arrays_sha256": {k: v.sha256 for k, v in cal.demography.arrays},
    }
    return write_run(run_dir, result, manifest, force=force)
