"""Run an experiment: calibration -> demography -> pension accounts -> results on disk.

A deterministic run (``demography.paths = 0``) projects the median demography and the accounts
under each retirement regime. With ``paths > 0`` it adds the Monte Carlo demography
(:mod:`models.demography.stochastic`) and the accounts on every path (:func:`simulate_paths`);
the deterministic variables are then the zero-shock path under the experiment's medians.
After writing, the tables and figures are made from ``results.nc`` (:mod:`models.study.report`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import xarray as xr
from tqdm import tqdm

from models import __version__
from models.config import (
    SEXES,
    Calibration,
    ConfigError,
    Experiment,
    ParallelSettings,
    load_arrays,
    load_experiment,
)
from models.demography import stochastic
from models.parallel import map_chunks, path_chunks
from models.pension import (
    calibrate_base_year,
    category_population,
    fund_milestones,
    project_accounts,
    retirement_schedule,
)
from models.pension.accounts import account_rates
from models.study import provenance
from models.study.economy_step import economy_context, run_economy
from models.study.optimization import run_optimization
from models.study.results import check_destination, write_run

log = logging.getLogger(__name__)

#: Up to this many paths results.nc keeps population[path, year, age, sex] (float32, about
#: 65 MB per 1,000 paths); beyond it only the snapshot years (SNAPSHOT_YEARS and the base
#: year) of every path, so the file stays small whatever N.
STORE_POPULATION_MAX_PATHS = 2000
#: Years whose population of every path is always kept (tables, pyramids).
SNAPSHOT_YEARS = (2035, 2050, 2075, 2100)
#: Paths per batch of the pension accounts (their float64 work arrays are ~5 MB per path).
ACCOUNTS_BATCH_PATHS = 200
#: Show a progress bar from this many paths.
PROGRESS_MIN_PATHS = 1000


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
        "pensioners": lambda y: float(acc["pensioners_year_end"].sel(year=y).sum()),
        "insured_workers_plus_pensioners": lambda y: float(
            (acc["insured_workers_year_end"] + acc["pensioners_year_end"]).sel(year=y).sum()),
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
            "fit_model": ("target", [r[1] for r in rows],
                          {"long_name": "model value in the base year",
                           "units": "per target: see fit_unit"}),
            "fit_reported": ("target", [r[2].value for r in rows],
                             {"long_name": "reported value in the base year",
                              "units": "per target: see fit_unit"}),
        },
        coords={
            "target": [r[0] for r in rows],
            "fit_unit": ("target", [r[2].unit for r in rows]),
            "fit_source": ("target", [r[2].source for r in rows]),
            "fit_calibrated": ("target", [r[0] in fitted for r in rows]),
        },
    )


def simulate(exp: Experiment, cal: Calibration, arrays: xr.Dataset,
             timings: dict | None = None, files: dict | None = None) -> xr.Dataset:
    """An experiment as one labelled Dataset (no I/O): the median projection, the Monte Carlo
    paths if asked, and the optimal policy if the experiment has an ``[optimization]`` table.
    Text files to write beside the results (the solver log) are put in ``files``."""
    timings = {} if timings is None else timings
    files = {} if files is None else files
    with _timed(timings, "demography_s"):
        demography = stochastic.median_demography(arrays, exp.demography)
    population = demography["population"]
    years, ages = population["year"].values, population["age"].values
    base = cal.demography.base_year.value
    per_regime, fits, schedules = [], [], []
    with _timed(timings, "pension_accounts_s"):
        for regime in exp.projection.regimes:
            schedule = retirement_schedule(years, ages, regime, cal.pension)
            fit = calibrate_base_year(population.sel(year=[base, base + 1]), schedule, cal.pension,
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
                       base_year_fit(accounts, cal)], combine_attrs="override")
    result.attrs = {}
    result.attrs.update(experiment=exp.name, description=exp.description, base_year=base,
                        money_units="yuan at base-year prices")
    ctx = None
    if exp.economy.enabled:
        with _timed(timings, "economy_s"):
            ctx = economy_context(cal, arrays, population, fits[0].contribution_index)
            economy = run_economy(exp, cal, arrays, population,
                                  dict(zip(exp.projection.regimes, zip(schedules, fits))), ctx)
        attrs = result.attrs
        result = xr.merge([result, economy], combine_attrs="override")
        result.attrs = attrs
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
               else calibrate_base_year(population.sel(year=base), retirement_schedule(
                   years, ages, regime, cal.pension), cal.pension, cal.finances))
        with _timed(timings, "optimization_s"):
            opt, files["solver.log"] = run_optimization(exp, cal, opt_population, fit, timings,
                                                        economy=ctx)
        attrs = {**result.attrs, **opt.attrs}
        result = xr.merge([result, opt], combine_attrs="override", join="outer")
        result.attrs = attrs
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
    if "population_paths" not in result:
        raise ConfigError(f"experiment '{exp.name}': key 'demography.paths' = "
                          f"{exp.demography.paths}: expected at most "
                          f"{STORE_POPULATION_MAX_PATHS} paths when optimizing (only then is "
                          "every path's population kept); lower it or set optimization.paths")
    n = exp.demography.paths if wanted is None else wanted
    if n > exp.demography.paths:
        raise ConfigError(f"experiment '{exp.name}': key 'optimization.paths' = {n}: expected "
                          f"at most demography.paths = {exp.demography.paths}")
    return result["population_paths"].isel(path=slice(0, n)).astype(float).rename("population")


def _regime_policy(cal: Calibration, economy, regime: str):
    from models.economy import Policy

    return Policy.from_calibration(cal.pension, regime, economy.fund_months, economy.base_year)


def simulate_paths(exp: Experiment, cal: Calibration, arrays: xr.Dataset,
                   median_population: xr.DataArray, regimes: dict, timings: dict,
                   progress: bool | None = None, economy=None) -> xr.Dataset:
    """Monte Carlo demography and the pension accounts on every path (no I/O but a progress bar).

    ``regimes`` maps each regime to its ``(schedule, base-year fit)``; the accounts' per-person
    rates are computed once per regime with the median population as open-age weights and
    serve every path. Paths are drawn and projected in chunks of ``exp.demography.chunk_size``
    (:func:`models.demography.stochastic.simulate_path_chunk`) and their accounts run in batches
    of :data:`ACCOUNTS_BATCH_PATHS` (:func:`_monte_carlo_chunk`); the chunks run in
    ``exp.parallel.workers`` processes (:func:`models.parallel.map_chunks`) with the same
    numbers as one. Memory is bounded by a few chunks (two in flight per worker) plus what is kept:
    ``population_paths`` (float32) up to :data:`STORE_POPULATION_MAX_PATHS` paths, the
    snapshot years, per-path indicators, e0, TFR, k, births, deaths, the fund's months payable
    and balance, and first-deficit and depletion years. Returns them labelled, with the spread
    calibration's fit table.

    With ``economy`` (an :class:`models.study.economy_step.EconomyContext`) and
    ``exp.economy.monte_carlo_prices``, every path also gets its own wage and interest paths
    (first-order response around the median transition, per regime) and its accounts are re-run
    with them (``mc_prices_*``); the first-order error against exact solves is measured on
    ``exp.economy.error_sample_paths`` paths of the first chunk.
    """
    settings = exp.demography
    n_paths = settings.paths
    with _timed(timings, "spread_calibration_s"):
        spread = stochastic.calibrate_spread(arrays)
    inputs = stochastic.median_inputs(arrays, settings)
    years, ages = inputs.years, inputs.ages
    n_years, n_ages = len(years), len(ages)
    base = int(years[0])
    snapshot_years = [base] + [y for y in SNAPSHOT_YEARS if base < y <= years[-1]]
    snap_index = [int(np.searchsorted(years, y)) for y in snapshot_years]
    store_all = n_paths <= STORE_POPULATION_MAX_PATHS
    weights = category_population(median_population, cal.pension)
    rates = {r: account_rates(sched, fit, cal.pension, cal.finances, weights)
             for r, (sched, fit) in regimes.items()}
    regime_names = list(regimes)

    f32 = np.float32
    keep = {
        "population_paths": np.empty((n_paths, n_years, n_ages, 2), f32) if store_all else None,
        "population_snapshot": np.empty((n_paths, len(snapshot_years), n_ages, 2), f32),
        "births_paths": np.empty((n_paths, n_years, 2), f32),
        "deaths_paths": np.empty((n_paths, n_years, 2), f32),
        "mortality_index_paths": np.empty((n_paths, n_years, 2)),
        "e0_paths": np.empty((n_paths, n_years, 2)),
        "tfr_paths": np.empty((n_paths, n_years)),
        "migration_factor_paths": np.empty((n_paths, n_years)),
    }
    indicators = {meta[0]: np.empty((n_paths, n_years)) for meta in INDICATOR_META.values()}
    fund = {name: np.empty((len(regime_names), n_paths, n_years))
            for name in ("months_payable", "balance_end_cny")}
    milestones = {name: np.empty((len(regime_names), n_paths))
                  for name in ("first_deficit_year", "depletion_year")}
    priced = economy is not None and exp.economy.monte_carlo_prices
    if priced:
        from models.economy import linearize_median
        from models.study.economy_step import regime_params, transition_under

        with _timed(timings, "economy_linearization_s"):
            lins = {r: linearize_median(regime_params(economy, cal, r), economy.population,
                                        economy.mortality,
                                        _regime_policy(cal, economy, r), economy.initial,
                                        transition=transition_under(economy, cal, r))
                    for r in regime_names}
        priced_fund = {name: np.empty((len(regime_names), n_paths, n_years))
                       for name in ("months_payable", "interest_rate", "wage_index")}
        priced_depletion = np.empty((len(regime_names), n_paths))
        error = None
    seed = np.random.SeedSequence(exp.seed)
    shared = _ChunkInputs(
        inputs=inputs, spread=spread, settings=settings, seed=seed, snap_index=snap_index,
        store_all=store_all, regimes=regimes, rates=rates, calibration_json=cal.model_dump_json(),
        lins=lins if priced else None,
        error_sample_paths=exp.economy.error_sample_paths if priced else 0)
    chunks = path_chunks(n_paths, settings.chunk_size)
    workers = exp.parallel.workers
    if workers > len(chunks):
        log.info("%d workers for %d chunk(s) of paths: lower demography.chunk_size to use "
                 "them all", workers, len(chunks))
    show = n_paths >= PROGRESS_MIN_PATHS if progress is None else progress
    t0 = time.perf_counter()
    accounts_s = 0.0
    with tqdm(total=n_paths, unit="path", desc=f"{exp.name}: Monte Carlo", disable=not show,
              leave=False) as bar:
        for paths, out in zip(chunks, map_chunks(_monte_carlo_chunk, chunks, workers, shared)):
            rows = slice(int(paths[0]), int(paths[-1]) + 1)
            for name, values in out["keep"].items():
                keep[name][rows] = values
            for name, values in out["indicators"].items():
                indicators[INDICATOR_META[name][0]][rows] = values
            for name, values in out["fund"].items():
                fund[name][:, rows] = values
            for name, values in out["milestones"].items():
                milestones[name][:, rows] = values
            if priced:
                for name, values in out["priced_fund"].items():
                    priced_fund[name][:, rows] = values
                priced_depletion[:, rows] = out["priced_depletion"]
                if error is None:
                    error = out["error"]
            accounts_s += out["accounts_s"]
            bar.update(len(paths))
    timings["monte_carlo_s"] = round(time.perf_counter() - t0, 4)
    timings["monte_carlo_accounts_s"] = round(accounts_s, 4)  # summed over chunks (CPU, not wall)
    extra = {}
    if priced:
        dims = ("regime", "path", "year")
        extra = {
            "mc_prices_months_payable": (dims, priced_fund["months_payable"], {
                "units": "months", "long_name": "months payable with the path's own economy "
                                                "prices"}),
            "mc_prices_interest_rate": (dims, priced_fund["interest_rate"], {
                "units": "1 per year", "long_name": "the path's interest rate (first order)"}),
            "mc_prices_wage_index": (dims, priced_fund["wage_index"], {
                "units": "1", "long_name": "the path's average wage / base year (first order)"}),
            "mc_prices_depletion_year": (("regime", "path"), priced_depletion, {
                "units": "calendar year", "long_name": "depletion year with the path's prices"}),
        }
        if error is not None:
            for name in ("interest_rate_error_pp", "average_wage_relative_error"):
                extra[f"mc_prices_{name}"] = (("error_path",), error[name].values, {
                    "units": error[name].attrs.get("units", "pp" if name.endswith("pp") else "1"),
                    "long_name": f"first order vs exact prices, {name.replace('_', ' ')}"})

    coords = {"path": np.arange(n_paths), "year": years, "age": ages, "sex": list(SEXES),
              "snapshot_year": snapshot_years, "regime": regime_names}
    pyr = ("path", "year", "age", "sex")
    data = {
        "population_snapshot": (("path", "snapshot_year", "age", "sex"),
                                keep["population_snapshot"],
                                {"units": "persons", "long_name": "population on 1 January, "
                                 "every path, snapshot years"}),
        "births_paths": (("path", "year", "sex"), keep["births_paths"],
                         {"units": "persons per year", "long_name": "live births"}),
        "deaths_paths": (("path", "year", "sex"), keep["deaths_paths"],
                         {"units": "persons per year", "long_name": "deaths"}),
        "mortality_index_paths": (("path", "year", "sex"), keep["mortality_index_paths"],
                                  {"units": "1", "long_name": "Lee-Carter mortality index k"}),
        "e0_paths": (("path", "year", "sex"), keep["e0_paths"],
                     {"units": "years", "long_name": "period life expectancy at birth"}),
        "tfr_paths": (("path", "year"), keep["tfr_paths"],
                      {"units": "children per woman", "long_name": "total fertility rate"}),
        "migration_factor_paths": (("path", "year"), keep["migration_factor_paths"],
                                   {"units": "1", "long_name": "multiplier of the median net "
                                    "migration"}),
        "e0_median": (("year", "sex"), np.stack([stochastic.e0_of_k(
            inputs.ax[:, s], inputs.bx[:, s], inputs.k[:, s], sex)
            for s, sex in enumerate(SEXES)], axis=-1),
            {"units": "years", "long_name": "life expectancy at birth, zero-shock path"}),
        "tfr_median": ("year", inputs.tfr, {"units": "children per woman",
                                            "long_name": "total fertility rate, zero-shock path"}),
    }
    if store_all:
        data["population_paths"] = (pyr, keep["population_paths"],
                                    {"units": "persons", "long_name": "population on 1 January"})
    for name, units, long_name in INDICATOR_META.values():
        data[name] = (("path", "year"), indicators[name], {"units": units,
                                                           "long_name": long_name})
    data["months_payable_paths"] = (("regime", "path", "year"), fund["months_payable"],
                                    {"units": "months", "long_name": "employee fund year-end "
                                     "balance / monthly expenditure"})
    data["balance_end_cny_paths"] = (("regime", "path", "year"), fund["balance_end_cny"],
                                     {"units": "yuan (base-year prices)",
                                      "long_name": "employee fund balance at year end"})
    data["first_deficit_year_paths"] = (("regime", "path"), milestones["first_deficit_year"],
                                        {"units": "calendar year", "long_name": "first year with "
                                         "expenditure > contributions + subsidy (NaN: never)"})
    data["depletion_year_paths"] = (("regime", "path"), milestones["depletion_year"],
                                    {"units": "calendar year", "long_name": "first year with a "
                                     "negative year-end fund balance (NaN: never)"})
    data.update(extra)
    mc = xr.Dataset(data, coords=coords)
    published = arrays[["e0_published", "tfr_published"]].copy()
    published["e0_published"].attrs["long_name"] = "WPP 2024 e0: median and bounds"
    published["tfr_published"].attrs["long_name"] = "WPP 2024 TFR: median and bounds"
    mc = xr.merge([mc, spread.fit, published.drop_vars("bound")], combine_attrs="override")
    mc.attrs = {}
    lo, hi = stochastic.WORKING_AGES
    mc.attrs.update(
        mc_paths=n_paths, mc_chunk_size=settings.chunk_size, mc_seed=exp.seed,
        mc_population_stored="every path" if store_all else
        f"snapshot years only (more than {STORE_POPULATION_MAX_PATHS} paths)",
        mc_dtype="float32", mc_jump_off_year=stochastic.JUMP_OFF_YEAR,
        mc_tfr_shift=settings.tfr_shift, mc_mortality_drift_scale=settings.mortality_drift_scale,
        mc_mortality_spread_scale=settings.mortality_spread_scale,
        mc_fertility_spread_scale=settings.fertility_spread_scale,
        mc_migration_noise_sd=settings.migration_noise_sd,
        working_ages=f"{lo}-{hi}", old_age_dependency_ratio=f"{stochastic.OLD_AGE}+ / {lo}-{hi}",
        e0_tolerance_years=stochastic.E0_TOLERANCE_YEARS,
        tfr_tolerance=stochastic.TFR_TOLERANCE,
    )
    return mc


@dataclasses.dataclass(frozen=True)
class _ChunkInputs:
    """What every chunk of Monte Carlo paths needs (sent once per chunk to a worker)."""

    inputs: stochastic.MedianInputs
    spread: stochastic.SpreadCalibration
    settings: object  # StochasticDemographySettings
    seed: np.random.SeedSequence
    snap_index: list[int]
    store_all: bool
    regimes: dict  # regime -> (schedule, base-year fit)
    rates: dict  # regime -> account_rates
    calibration_json: str  # the Calibration as JSON (its generic Param models do not pickle)
    lins: dict | None  # regime -> MedianLinearization (Monte Carlo prices), else None
    error_sample_paths: int  # first-order error sample (first batch of path 0's chunk)


def _monte_carlo_chunk(shared: _ChunkInputs, paths: np.ndarray) -> dict:
    """One chunk of paths: demography (draws, projection, e0, indicators), the pension accounts
    under every regime in batches of :data:`ACCOUNTS_BATCH_PATHS`, and with ``shared.lins``
    each path's first-order prices and its accounts under them. Pure: plain arrays out, the
    same whichever process runs it (:func:`models.parallel.map_chunks`)."""
    inputs = shared.inputs
    cal = Calibration.model_validate_json(shared.calibration_json)  # ~1 ms, equal to the parent's
    years, ages = inputs.years, inputs.ages
    regime_names = list(shared.regimes)
    chunk = stochastic.simulate_path_chunk(inputs, shared.spread, shared.settings, shared.seed,
                                           paths)
    n, n_regimes = len(paths), len(regime_names)
    keep = {
        "population_snapshot": chunk.population[:, shared.snap_index],
        "births_paths": chunk.births,
        "deaths_paths": chunk.deaths,
        "mortality_index_paths": chunk.k,
        "tfr_paths": chunk.tfr,
        "migration_factor_paths": chunk.migration_factor,
        "e0_paths": np.stack([stochastic.e0_of_k(inputs.ax[:, s], inputs.bx[:, s],
                                                 chunk.k[:, :, s], sex)
                              for s, sex in enumerate(SEXES)], axis=-1),
    }
    if shared.store_all:
        keep["population_paths"] = chunk.population
    out = {"keep": keep,
           "indicators": stochastic.population_indicators(chunk.population, ages),
           "fund": {name: np.empty((n_regimes, n, len(years)))
                    for name in ("months_payable", "balance_end_cny")},
           "milestones": {name: np.empty((n_regimes, n))
                          for name in ("first_deficit_year", "depletion_year")},
           "error": None}
    priced = shared.lins is not None
    if priced:
        from models.economy import monte_carlo_error, price_paths_monte_carlo
        from models.study.economy_step import model_prices

        out["priced_fund"] = {name: np.empty((n_regimes, n, len(years)))
                              for name in ("months_payable", "interest_rate", "wage_index")}
        out["priced_depletion"] = np.empty((n_regimes, n))
    t_acc = time.perf_counter()
    for lo in range(0, n, ACCOUNTS_BATCH_PATHS):
        idx = slice(lo, lo + ACCOUNTS_BATCH_PATHS)
        batch = paths[idx]
        pop = xr.DataArray(chunk.population[idx].astype(np.float64),
                           dims=("path", "year", "age", "sex"),
                           coords={"path": batch, "year": years, "age": ages, "sex": list(SEXES)})
        for r, regime in enumerate(regime_names):
            schedule, fit = shared.regimes[regime]
            acc = project_accounts(pop, schedule, fit, cal.pension, cal.finances,
                                   rates=shared.rates[regime])
            ms = fund_milestones(acc)
            out["fund"]["months_payable"][r, idx] = acc["months_payable"].values
            out["fund"]["balance_end_cny"][r, idx] = acc["balance_end_cny"].values
            out["milestones"]["first_deficit_year"][r, idx] = ms["first_deficit_year"].values
            out["milestones"]["depletion_year"][r, idx] = ms["depletion_year"].values
            if not priced:
                continue
            mx = np.exp(inputs.ax[None, None] + inputs.bx[None, None]
                        * chunk.k[idx][:, :, None, :])
            mx = xr.DataArray(mx, dims=pop.dims, coords=pop.coords)
            prices = price_paths_monte_carlo(shared.lins[regime], pop, mx)
            index, fund_return = model_prices(prices, years, cal)
            acc_p = project_accounts(pop, schedule, fit, cal.pension, cal.finances,
                                     wage_index=index, fund_return=fund_return)
            out["priced_fund"]["months_payable"][r, idx] = acc_p["months_payable"].values
            out["priced_fund"]["interest_rate"][r, idx] = prices["interest_rate"].sel(
                year=years).transpose("path", "year").values
            out["priced_fund"]["wage_index"][r, idx] = index.transpose("path", "year").values
            out["priced_depletion"][r, idx] = fund_milestones(acc_p)["depletion_year"].values
            if paths[0] == 0 and lo == 0 and r == 0 and shared.error_sample_paths > 0:
                # the sample's seed is what shared.seed.spawn(1)[0] gives on a fresh seed,
                # built directly so it does not depend on the process
                sample_seed = np.random.SeedSequence(shared.seed.entropy,
                                                     spawn_key=shared.seed.spawn_key + (0,),
                                                     pool_size=shared.seed.pool_size)
                out["error"] = monte_carlo_error(shared.lins[regime], pop, mx,
                                                 sample=shared.error_sample_paths,
                                                 seed=sample_seed)
    out["accounts_s"] = time.perf_counter() - t_acc
    return out


#: Indicator of :func:`stochastic.population_indicators` -> (variable, units, long_name).
INDICATOR_META = {
    "total": ("total_population_paths", "persons", "total population on 1 January"),
    "working_age": ("working_age_population_paths", "persons",
                    "population aged 20-64 on 1 January"),
    "old_60plus": ("population_60plus_paths", "persons", "population aged 60+ on 1 January"),
    "old_65plus": ("population_65plus_paths", "persons", "population aged 65+ on 1 January"),
    "share_60plus": ("share_60plus_paths", "1", "share of the population aged 60+"),
    "share_65plus": ("share_65plus_paths", "1", "share of the population aged 65+"),
    "old_age_dependency_ratio": ("old_age_dependency_ratio_paths", "persons 65+ per person 20-64",
                                 "old-age dependency ratio"),
}


def run_experiment(path: str | Path, force: bool = False, results_root: str | Path = "results",
                   outputs: bool = True) -> Path:
    """Validate, simulate and write ``results/<name>/``; returns the run folder.

    ``results.nc`` carries the validated experiment as JSON (attribute ``experiment_json``), so
    study tables can read its settings from the results alone. With ``outputs=False`` the
    run's own tables and figures are not drawn (``pension report`` still prints them)."""
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
    files: dict[str, str] = {}
    result = simulate(exp, cal, arrays, timings, files)
    # the worker count changes no number: leave it out of the hash of what was computed
    digest = provenance.config_hash(exp.model_copy(update={"parallel": ParallelSettings()}), cal)
    result.attrs.update(config_hash=digest, created=started.isoformat(timespec="seconds"),
                        experiment_json=exp.model_dump_json())
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
    run_dir = write_run(run_dir, result, manifest, force=force, extra_files=files)
    if not outputs:
        return run_dir
    from models.study.report import write_outputs

    written = write_outputs(run_dir)
    log.info("wrote %d tables and figures under %s", len(written), run_dir)
    return run_dir
