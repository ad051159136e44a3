"""The Monte Carlo stage of a run: demography and the pension accounts on every path.

Paths are drawn and projected in chunks (:func:`models.demography.stochastic.simulate_path_chunk`),
their accounts run in batches, and the chunks run in worker processes
(:func:`models.parallel.map_chunks`) with the same numbers as one. Used by
:func:`models.pipeline.run.simulate`.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np
import xarray as xr
from tqdm import tqdm

from models.config import SEXES, Calibration, Experiment
from models.coupling import (
    EconomyContext,
    model_prices,
    regime_params,
    regime_policy,
    transition_under,
)
from models.demography import stochastic
from models.economy import linearize_median, monte_carlo_error, price_paths_monte_carlo
from models.parallel import map_chunks, path_chunks
from models.pension.accounts import account_rates
from models.pension.paths import fund_block, fund_of_flows, fund_paths, path_flows
from models.pension.uncertainty import (
    PensionBlock,
    draw_parameters,
    drawn_pension_blocks,
    parameter_set_of_path,
    pension_block,
)

log = logging.getLogger(__name__)

#: Up to this many paths results.nc keeps population[path, year, age, sex] (float32, about
#: 65 MB per 1,000 paths); beyond it only the snapshot years (SNAPSHOT_YEARS and the base
#: year) of every path, so the file stays small whatever N.
STORE_POPULATION_MAX_PATHS = 2000
#: Years whose population of every path is always kept (tables, pyramids).
SNAPSHOT_YEARS = (2035, 2050, 2075, 2100)
#: Paths per batch of the fund (:func:`models.pension.paths.fund_paths`: float64 work arrays
#: of about 0.13 MB per path; 50 keeps them in cache, measured faster than 200 or 1,000).
ACCOUNTS_BATCH_PATHS = 50
#: The fund's milestones kept per path (:func:`models.pension.paths.fund_paths`).
MILESTONES = ("first_deficit_year", "depletion_year")
#: Show a progress bar from this many paths.
PROGRESS_MIN_PATHS = 1000


def timed(timings: dict, key: str):
    class _Timer:
        def __enter__(self):
            self.t0 = time.perf_counter()

        def __exit__(self, *exc):
            timings[key] = round(time.perf_counter() - self.t0, 4)

    return _Timer()


#: Indicator of :func:`stochastic.population_indicators` -> its variable in results.nc.
INDICATOR_VARIABLES = {
    "total": "total_population_paths",
    "working_age": "working_age_population_paths",
    "old_60plus": "population_60plus_paths",
    "old_65plus": "population_65plus_paths",
    "share_60plus": "share_60plus_paths",
    "share_65plus": "share_65plus_paths",
    "old_age_dependency_ratio": "old_age_dependency_ratio_paths",
}


@dataclasses.dataclass(frozen=True)
class _ChunkInputs:
    """What every chunk of Monte Carlo paths needs (sent once per chunk to a worker)."""

    inputs: stochastic.MedianInputs
    spread: stochastic.SpreadCalibration
    settings: object  # StochasticDemographySettings
    seed: np.random.SeedSequence
    snap_index: list[int]
    store_all: bool
    blocks: dict[str, PensionBlock]  # regime -> the calibrated parameters' block (no calibration)
    median_population: xr.DataArray  # [year, age, sex]: base-year fit and open-age weights
    parameter_sets: int | None  # distinct parameter draws (None: no parameter uncertainty)
    calibration_json: str  # the Calibration as JSON (its generic Param models do not pickle)
    lins: dict | None  # regime -> MedianLinearization (Monte Carlo prices), else None
    error_paths: np.ndarray  # the first-order error sample: path numbers among all paths


def error_sample(seed: np.random.SeedSequence, n_paths: int, size: int) -> np.ndarray:
    """The paths (sorted) on which the first-order prices are checked against exact solves:
    ``size`` of the ``n_paths`` drawn without replacement from the seed's first child stream
    (built directly, so it does not depend on what was spawned before)."""
    sample_seed = np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key + (0,),
                                         pool_size=seed.pool_size)
    rng = np.random.default_rng(sample_seed)
    return np.sort(rng.choice(n_paths, size=min(size, n_paths), replace=False))


def _mortality(inputs: stochastic.MedianInputs, k: np.ndarray) -> np.ndarray:
    """Central death rates ``[path, year, age, sex]`` of Lee-Carter ``k[path, year, sex]``."""
    return np.exp(inputs.ax[None, None] + inputs.bx[None, None] * k[:, :, None, :])


def error_sample_dataset(lin, inputs: stochastic.MedianInputs, parts: list[tuple]
                         ) -> xr.Dataset:
    """First-order against exact prices (:func:`models.economy.monte_carlo_error`) on the
    sampled paths, from the ``(paths, population, k)`` the chunks handed back."""
    paths = np.concatenate([p[0] for p in parts])
    coords = {"path": paths, "year": inputs.years, "age": inputs.ages, "sex": list(SEXES)}
    dims = ("path", "year", "age", "sex")
    pop = xr.DataArray(np.concatenate([p[1] for p in parts]).astype(np.float64), dims=dims,
                       coords=coords)
    mx = xr.DataArray(_mortality(inputs, np.concatenate([p[2] for p in parts])), dims=dims,
                      coords=coords)
    return monte_carlo_error(lin, pop, mx, sample=len(paths))


def _monte_carlo_chunk(shared: _ChunkInputs, paths: np.ndarray) -> dict:
    """One chunk of paths: demography (draws, projection, e0, indicators), the pension accounts
    under every regime in batches of :data:`ACCOUNTS_BATCH_PATHS`, and with ``shared.lins``
    each path's first-order prices and its accounts under them. Pure: plain arrays out, the
    same whichever process runs it (:func:`models.parallel.map_chunks`)."""
    inputs = shared.inputs
    chunk = stochastic.simulate_path_chunk(inputs, shared.spread, shared.settings, shared.seed,
                                           paths)
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
           "indicators": stochastic.population_indicators(chunk.population, inputs.ages)}
    if shared.lins is not None:
        mine = np.isin(paths, shared.error_paths)
        out["error_inputs"] = (paths[mine], chunk.population[mine], chunk.k[mine])
    t_acc, cpu_acc = time.perf_counter(), time.process_time()
    out.update(_chunk_accounts(shared, chunk, paths))
    out["accounts_s"] = time.perf_counter() - t_acc
    out["accounts_cpu_s"] = time.process_time() - cpu_acc  # this process's CPU (less load-bound)
    return out


def _chunk_accounts(shared: _ChunkInputs, chunk: stochastic.PathChunk, paths: np.ndarray
                    ) -> dict:
    """The fund of every path of a chunk under every regime: the flows
    (:func:`models.pension.paths.path_flows`) in batches of :data:`ACCOUNTS_BATCH_PATHS`, the
    fund's recursion (:func:`models.pension.paths.fund_of_flows`) once per chunk: with the calibrated parameters
    (``shared.blocks``) and, when parameter uncertainty is on, with each path's drawn set
    (its blocks made here, once per set, :func:`models.pension.uncertainty.
    drawn_pension_blocks`); with ``shared.lins`` also under each path's own prices."""
    years = shared.inputs.years
    regime_names = list(shared.blocks)
    n, n_regimes, n_years = len(paths), len(regime_names), len(years)
    drawn = shared.parameter_sets is not None
    out = {"fund": {name: np.empty((n_regimes, n, n_years))
                    for name in ("months_payable", "balance_end_cny")},
           "milestones": {name: np.empty((n_regimes, n)) for name in MILESTONES}}
    if drawn:
        out["milestones_fixed"] = {name: np.empty((n_regimes, n)) for name in MILESTONES}
    if shared.lins is not None:
        out["priced_fund"] = {name: np.empty((n_regimes, n, n_years))
                              for name in ("months_payable", "interest_rate", "wage_index")}
        out["priced_depletion"] = np.empty((n_regimes, n))
    t0 = time.perf_counter()
    cal = Calibration.model_validate_json(shared.calibration_json)  # ~1 ms, equal to the parent's
    if drawn:
        sets = parameter_set_of_path(paths, shared.settings.paths, shared.parameter_sets)
        blocks = drawn_pension_blocks(cal, shared.seed, sets, shared.median_population,
                                      regime_names)
    else:
        sets = np.zeros(n, dtype=int)
        blocks = {0: {r: dataclasses.replace(b, calibration=cal)
                      for r, b in shared.blocks.items()}}
    out["parameter_blocks_s"] = time.perf_counter() - t0
    # insured workers and expenditure [path, year] per regime, batch by batch (the heavy part);
    # "fixed": with the calibrated parameters beside the drawn ones
    kinds = ("drawn", "fixed") if drawn else ("drawn",)
    flows = {(kind, regime): (np.empty((n, n_years)), np.empty((n, n_years)))
             for kind in kinds for regime in regime_names}
    for lo in range(0, n, ACCOUNTS_BATCH_PATHS):
        idx = slice(lo, lo + ACCOUNTS_BATCH_PATHS)
        pop = chunk.population[idx].astype(np.float64, order="C")
        groups = [(int(j), np.flatnonzero(sets[idx] == j)) for j in np.unique(sets[idx])]
        for r, regime in enumerate(regime_names):
            for j, rows in groups:
                part = pop if len(groups) == 1 else pop[rows]
                for target, values in zip(flows["drawn", regime],
                                          path_flows(part, blocks[j][regime].fund)):
                    target[lo + rows] = values
            if drawn:
                for target, values in zip(flows["fixed", regime],
                                          path_flows(pop, shared.blocks[regime].fund)):
                    target[idx] = values
            if shared.lins is not None:
                _priced_batch(shared, chunk, paths, idx, pop, groups, blocks, r, regime, out)
    # the fund year by year, for the whole chunk at once (one recursion per set and regime)
    for r, regime in enumerate(regime_names):
        for j in np.unique(sets):
            rows = np.flatnonzero(sets == j)
            fund = fund_of_flows(*(f[rows] for f in flows["drawn", regime]),
                                 blocks[int(j)][regime].fund, years)
            out["fund"]["months_payable"][r, rows] = fund["months_payable"]
            out["fund"]["balance_end_cny"][r, rows] = fund["balance_end_cny"]
            for name in MILESTONES:
                out["milestones"][name][r, rows] = fund[name]
        if drawn:
            fixed = fund_of_flows(*flows["fixed", regime], shared.blocks[regime].fund, years)
            for name in MILESTONES:
                out["milestones_fixed"][name][r] = fixed[name]
    return out


def _priced_batch(shared: _ChunkInputs, chunk: stochastic.PathChunk, paths: np.ndarray,
                  idx: slice, pop: np.ndarray, groups: list, blocks: dict, r: int, regime: str,
                  out: dict) -> None:
    """A batch's first-order prices (:func:`models.economy.price_paths_monte_carlo`) and its
    fund under them: each path's wage index and fund return in its parameter set's rates
    (:func:`models.pension.accounts.account_rates` with per-path wages)."""
    inputs, years = shared.inputs, shared.inputs.years
    cal = Calibration.model_validate_json(shared.calibration_json)
    coords = {"path": paths[idx], "year": years, "age": inputs.ages, "sex": list(SEXES)}
    dims = ("path", "year", "age", "sex")
    mx = xr.DataArray(_mortality(inputs, chunk.k[idx]), dims=dims, coords=coords)
    prices = price_paths_monte_carlo(shared.lins[regime], xr.DataArray(pop, dims=dims,
                                                                       coords=coords), mx)
    index, fund_return = model_prices(prices, years, cal)
    index = index.transpose("path", "year")
    depletion = np.empty(len(pop))
    months = np.empty((len(pop), len(years)))
    for j, rows in groups:
        b = blocks[j][regime]
        rates_p = account_rates(b.schedule, b.fit, b.calibration.pension,
                                b.calibration.finances, b.weights,
                                wage_index=index.isel(path=rows))
        block = fund_block(rates_p, b.fit, b.calibration.pension, b.calibration.finances,
                           fund_return=fund_return.isel(path=rows), lead=("path",))
        fund = fund_paths(pop[rows], block, years)
        months[rows] = fund["months_payable"]
        depletion[rows] = fund["depletion_year"]
    out["priced_fund"]["months_payable"][r, idx] = months
    out["priced_fund"]["interest_rate"][r, idx] = prices["interest_rate"].sel(
        year=years).transpose("path", "year").values
    out["priced_fund"]["wage_index"][r, idx] = index.values
    out["priced_depletion"][r, idx] = depletion


def simulate_paths(exp: Experiment, cal: Calibration, arrays: xr.Dataset,
                   median_population: xr.DataArray, regimes: dict, timings: dict,
                   progress: bool | None = None,
                   economy: EconomyContext | None = None) -> xr.Dataset:
    """Monte Carlo demography and the pension accounts on every path (no I/O but a progress bar).

    ``regimes`` maps each regime to its ``(schedule, base-year fit)``; the accounts' per-person
    rates are computed once per regime with the median population as open-age weights and
    serve every path (:func:`models.pension.uncertainty.pension_block`). With
    ``exp.uncertainty.parameters`` (the default) every path also takes a draw of the
    parameters the base-year fit does not pin (set :func:`models.pension.uncertainty.
    parameter_set_of_path` of at most ``exp.uncertainty.parameter_sets`` draws, from the same
    seed tree as the demography): its fund, milestones and prices' accounts are under its
    draw, the demography-only milestones are kept beside them (``*_demography_only``), and
    the drawn values are stored per path (``parameter_draws_paths``). Paths are drawn and projected in chunks of ``exp.demography.chunk_size``
    (:func:`models.demography.stochastic.simulate_path_chunk`) and their accounts run in batches
    of :data:`ACCOUNTS_BATCH_PATHS` (:func:`_monte_carlo_chunk`); the chunks run in
    ``exp.parallel.workers`` processes (:func:`models.parallel.map_chunks`) with the same
    numbers as one. Memory is bounded by a few chunks (two in flight per worker) plus what is kept:
    ``population_paths`` (float32) up to :data:`STORE_POPULATION_MAX_PATHS` paths, the
    snapshot years, per-path indicators, e0, TFR, k, births, deaths, the fund's months payable
    and balance, and first-deficit and depletion years. Returns them labelled, with the spread
    calibration's fit table.

    With ``economy`` (an :class:`models.coupling.EconomyContext`) and
    ``exp.economy.monte_carlo_prices``, every path also gets its own wage and interest paths
    (first-order response around the median transition, per regime) and its accounts are re-run
    with them (``mc_prices_*``); the first-order error against exact solves is measured on
    ``exp.economy.error_sample_paths`` paths drawn among all paths (under the first regime).

    Every number is the same bit for bit whatever ``chunk_size`` and ``workers``: a path's
    accounts under its prices use the shared per-regime weights (the median population's,
    as without prices), its first-order prices do not depend on the paths computed beside it,
    and the error sample is drawn from every path and solved here, in this process, from the
    sampled paths' inputs the chunks hand back.
    """
    settings = exp.demography
    with timed(timings, "spread_calibration_s"):
        spread = stochastic.calibrate_spread(arrays)
    inputs = stochastic.median_inputs(arrays, settings)
    snapshot_years = snapshot_years_of(inputs.years)
    store_all = settings.paths <= STORE_POPULATION_MAX_PATHS
    # the Calibration goes to the chunks as JSON (its generic Param models do not pickle)
    blocks = {r: dataclasses.replace(pension_block(cal, median_population, r, schedule=sched,
                                                   fit=fit), calibration=None)
              for r, (sched, fit) in regimes.items()}
    lins = None
    if economy is not None and exp.economy.monte_carlo_prices:
        with timed(timings, "economy_linearization_s"):
            lins = {r: linearize_median(regime_params(economy, cal, r), economy.population,
                                        economy.mortality,
                                        regime_policy(economy, cal, r), economy.initial,
                                        transition=transition_under(economy, cal, r))
                    for r in regimes}
    seed = np.random.SeedSequence(exp.seed)
    shared = _ChunkInputs(
        inputs=inputs, spread=spread, settings=settings, seed=seed,
        snap_index=[int(np.searchsorted(inputs.years, y)) for y in snapshot_years],
        store_all=store_all, blocks=blocks, median_population=median_population,
        parameter_sets=(exp.uncertainty.parameter_sets if exp.uncertainty.parameters
                        else None),
        calibration_json=cal.model_dump_json(), lins=lins,
        error_paths=(error_sample(seed, settings.paths, exp.economy.error_sample_paths)
                     if lins else np.zeros(0, dtype=int)))
    kept = run_chunks(exp, shared, len(snapshot_years), timings, progress)
    mc = paths_dataset(kept, inputs, snapshot_years, list(regimes))
    if shared.parameter_sets is not None:
        mc = mc.merge(path_parameters(cal, seed, settings.paths, shared.parameter_sets))
    published = arrays[["e0_published", "tfr_published"]].drop_vars("bound")
    mc = xr.merge([mc, spread.fit, published], combine_attrs="override")
    mc.attrs = monte_carlo_attributes(exp, store_all)
    return mc


@dataclasses.dataclass(frozen=True)
class _DrawInputs:
    """What every chunk of parameter draws on the median path needs."""

    calibration_json: str
    seed: np.random.SeedSequence
    median_population: xr.DataArray
    regimes: list[str]


def _median_draws_chunk(shared: _DrawInputs, sets: np.ndarray) -> dict:
    """The fund's milestones on the median path under each drawn set of ``sets``:
    ``{milestone: [regime, set]}``."""
    cal = Calibration.model_validate_json(shared.calibration_json)
    blocks = drawn_pension_blocks(cal, shared.seed, sets, shared.median_population,
                                  shared.regimes)
    pop = shared.median_population.transpose("year", "age", "sex").values[None]
    years = shared.median_population["year"].values
    out = {name: np.empty((len(shared.regimes), len(sets))) for name in MILESTONES}
    for i, j in enumerate(sets):
        for r, regime in enumerate(shared.regimes):
            fund = fund_paths(pop, blocks[int(j)][regime].fund, years)
            for name in MILESTONES:
                out[name][r, i] = fund[name][0]
    return out


def parameter_draws_median(exp: Experiment, cal: Calibration,
                           median_population: xr.DataArray, timings: dict) -> xr.Dataset:
    """Parameter uncertainty alone: the fund's first-deficit and depletion years on the median
    path under ``exp.uncertainty.median_draws`` draws (draw ``j`` is parameter set ``j`` of
    :func:`models.pension.uncertainty.draw_parameters` from the experiment's seed, as path
    ``j``'s of a Monte Carlo run with at least as many sets), in ``exp.parallel.workers``
    processes with the same numbers as one. Returns ``*_parameter_draws[regime, draw]`` and
    ``parameter_draws[draw, parameter]``."""
    n = exp.uncertainty.median_draws
    seed = np.random.SeedSequence(exp.seed)
    shared = _DrawInputs(cal.model_dump_json(), seed, median_population,
                         list(exp.projection.regimes))
    chunks = path_chunks(n, max(1, -(-n // (2 * exp.parallel.workers))))
    found = {name: np.empty((len(shared.regimes), n)) for name in MILESTONES}
    with timed(timings, "parameter_draws_s"):
        for sets, out in zip(chunks, map_chunks(_median_draws_chunk, chunks,
                                                exp.parallel.workers, shared)):
            for name in MILESTONES:
                found[name][:, sets] = out[name]
    draws = draw_parameters(cal, seed, np.arange(n))
    return xr.Dataset(
        {**{f"{name}_parameter_draws": (("regime", "draw"), found[name]) for name in MILESTONES},
         "parameter_draws": (("draw", "parameter"), draws.values)},
        coords={"regime": shared.regimes, "draw": np.arange(n),
                "parameter": draws["parameter"].values})


def snapshot_years_of(years: np.ndarray) -> list[int]:
    """The base year and the :data:`SNAPSHOT_YEARS` within the projection."""
    base = int(years[0])
    return [base] + [y for y in SNAPSHOT_YEARS if base < y <= years[-1]]


def allocate(n_paths: int, n_years: int, n_ages: int, n_snapshots: int, n_regimes: int,
             store_all: bool, priced: bool, drawn: bool = False
             ) -> dict[str, dict[str, np.ndarray]]:
    """The arrays every chunk's output is copied into (float32 for the populations, births
    and deaths; float64 otherwise), by the group of :func:`_monte_carlo_chunk`'s output."""
    f32 = np.float32
    keep = {
        "population_snapshot": np.empty((n_paths, n_snapshots, n_ages, 2), f32),
        "births_paths": np.empty((n_paths, n_years, 2), f32),
        "deaths_paths": np.empty((n_paths, n_years, 2), f32),
        "mortality_index_paths": np.empty((n_paths, n_years, 2)),
        "e0_paths": np.empty((n_paths, n_years, 2)),
        "tfr_paths": np.empty((n_paths, n_years)),
        "migration_factor_paths": np.empty((n_paths, n_years)),
    }
    if store_all:
        keep["population_paths"] = np.empty((n_paths, n_years, n_ages, 2), f32)
    out = {
        "keep": keep,
        "indicators": {key: np.empty((n_paths, n_years)) for key in INDICATOR_VARIABLES},
        "fund": {name: np.empty((n_regimes, n_paths, n_years))
                 for name in ("months_payable", "balance_end_cny")},
        "milestones": {name: np.empty((n_regimes, n_paths)) for name in MILESTONES},
    }
    if drawn:
        out["milestones_fixed"] = {name: np.empty((n_regimes, n_paths)) for name in MILESTONES}
    if priced:
        out["priced_fund"] = {name: np.empty((n_regimes, n_paths, n_years))
                              for name in ("months_payable", "interest_rate", "wage_index")}
        out["priced_depletion"] = {"depletion_year": np.empty((n_regimes, n_paths))}
    return out


def run_chunks(exp: Experiment, shared: _ChunkInputs, n_snapshots: int, timings: dict,
               progress: bool | None = None) -> dict:
    """Every chunk of paths through :func:`_monte_carlo_chunk` (in ``exp.parallel.workers``
    processes), copied into the arrays of :func:`allocate`; adds ``error`` (the first-order
    price error sample on ``shared.error_paths``, solved in this process, or None)."""
    n_paths = exp.demography.paths
    inputs = shared.inputs
    kept = allocate(n_paths, len(inputs.years), len(inputs.ages), n_snapshots,
                    len(shared.blocks), shared.store_all, shared.lins is not None,
                    shared.parameter_sets is not None)
    kept["error"] = None
    error_inputs = []
    chunks = path_chunks(n_paths, exp.demography.chunk_size)
    workers = exp.parallel.workers
    if workers > len(chunks):
        log.info("%d workers for %d chunk(s) of paths: lower demography.chunk_size to use "
                 "them all", workers, len(chunks))
    show = n_paths >= PROGRESS_MIN_PATHS if progress is None else progress
    t0 = time.perf_counter()
    accounts_s = blocks_s = accounts_cpu_s = 0.0
    with tqdm(total=n_paths, unit="path", desc=f"{exp.name}: Monte Carlo", disable=not show,
              leave=False) as bar:
        for paths, out in zip(chunks, map_chunks(_monte_carlo_chunk, chunks, workers, shared)):
            rows = slice(int(paths[0]), int(paths[-1]) + 1)
            for group in ("keep", "indicators"):  # path first
                for name, values in out[group].items():
                    kept[group][name][rows] = values
            for group in ("fund", "milestones", "milestones_fixed", "priced_fund"):  # regime, path
                for name, values in out.get(group, {}).items():
                    kept[group][name][:, rows] = values
            if "priced_depletion" in out:
                kept["priced_depletion"]["depletion_year"][:, rows] = out["priced_depletion"]
            if "error_inputs" in out:
                error_inputs.append(out["error_inputs"])
            accounts_s += out["accounts_s"]
            blocks_s += out["parameter_blocks_s"]
            accounts_cpu_s += out["accounts_cpu_s"]
            bar.update(len(paths))
    if shared.lins is not None and shared.error_paths.size:
        first_regime = next(iter(shared.blocks))
        kept["error"] = error_sample_dataset(shared.lins[first_regime], inputs, error_inputs)
    timings["monte_carlo_s"] = round(time.perf_counter() - t0, 4)
    timings["monte_carlo_accounts_s"] = round(accounts_s, 4)  # summed over chunks (CPU, not wall)
    timings["monte_carlo_parameter_blocks_s"] = round(blocks_s, 4)  # of which drawn blocks
    timings["monte_carlo_accounts_cpu_s"] = round(accounts_cpu_s, 4)  # CPU time of the same
    return kept


def paths_dataset(kept: dict, inputs: stochastic.MedianInputs, snapshot_years: list[int],
                  regime_names: list[str]) -> xr.Dataset:
    """The kept arrays labelled (their attributes come from :mod:`models.catalogue`)."""
    keep, by_regime = kept["keep"], ("regime", "path", "year")
    data = {
        "population_snapshot": (("path", "snapshot_year", "age", "sex"),
                                keep["population_snapshot"]),
        **{name: (("path", "year", "sex"), keep[name])
           for name in ("births_paths", "deaths_paths", "mortality_index_paths", "e0_paths")},
        "tfr_paths": (("path", "year"), keep["tfr_paths"]),
        "migration_factor_paths": (("path", "year"), keep["migration_factor_paths"]),
        "e0_median": (("year", "sex"), np.stack([stochastic.e0_of_k(
            inputs.ax[:, s], inputs.bx[:, s], inputs.k[:, s], sex)
            for s, sex in enumerate(SEXES)], axis=-1)),
        "tfr_median": ("year", inputs.tfr),
        **{INDICATOR_VARIABLES[key]: (("path", "year"), values)
           for key, values in kept["indicators"].items()},
        "months_payable_paths": (by_regime, kept["fund"]["months_payable"]),
        "balance_end_cny_paths": (by_regime, kept["fund"]["balance_end_cny"]),
        "first_deficit_year_paths": (("regime", "path"),
                                     kept["milestones"]["first_deficit_year"]),
        "depletion_year_paths": (("regime", "path"), kept["milestones"]["depletion_year"]),
    }
    for name, values in kept.get("milestones_fixed", {}).items():
        data[f"{name}_paths_demography_only"] = (("regime", "path"), values)
    if "population_paths" in keep:
        data["population_paths"] = (("path", "year", "age", "sex"), keep["population_paths"])
    if "priced_fund" in kept:
        for name, values in kept["priced_fund"].items():
            data[f"mc_prices_{name}"] = (by_regime, values)
        data["mc_prices_depletion_year"] = (("regime", "path"),
                                            kept["priced_depletion"]["depletion_year"])
        if kept["error"] is not None:
            for name in ("interest_rate_error_pp", "average_wage_relative_error"):
                data[f"mc_prices_{name}"] = (("error_path",), kept["error"][name].values)
    coords = {"path": np.arange(keep["tfr_paths"].shape[0]), "year": inputs.years,
              "age": inputs.ages, "sex": list(SEXES), "snapshot_year": snapshot_years,
              "regime": regime_names}
    return xr.Dataset(data, coords=coords)


def path_parameters(cal: Calibration, seed: np.random.SeedSequence, n_paths: int,
                    n_sets: int) -> xr.Dataset:
    """The parameter draw of every path: ``parameter_draws_paths[path, parameter]`` and its set
    ``parameter_set_paths[path]`` (:func:`models.pension.uncertainty.parameter_set_of_path`),
    drawn here as the chunks draw them."""
    sets = parameter_set_of_path(np.arange(n_paths), n_paths, n_sets)
    unique, inverse = np.unique(sets, return_inverse=True)
    draws = draw_parameters(cal, seed, unique)
    return xr.Dataset(
        {"parameter_draws_paths": (("path", "parameter"), draws.values[inverse]),
         "parameter_set_paths": ("path", sets)},
        coords={"path": np.arange(n_paths), "parameter": draws["parameter"].values})


def monte_carlo_attributes(exp: Experiment, store_all: bool) -> dict:
    """The Monte Carlo settings of a run, as results.nc attributes."""
    settings = exp.demography
    lo, hi = stochastic.WORKING_AGES
    return dict(
        mc_paths=settings.paths, mc_chunk_size=settings.chunk_size, mc_seed=exp.seed,
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
        mc_parameter_uncertainty=int(exp.uncertainty.parameters),
        mc_parameter_sets=min(exp.uncertainty.parameter_sets, settings.paths),
    )
