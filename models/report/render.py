"""A run's report: every table in report order, printed as text or written as files.

:func:`run_tables` gathers the accounts' and demography's tables (:mod:`models.report.tables`),
the economy's (:mod:`models.report.economy`) and the optimizer's
(:mod:`models.report.optimization`); :func:`render` prints them; :func:`write_outputs` writes
them to ``<run>/tables/<name>.md`` and ``.csv`` and draws the figures
(:mod:`models.report.figures`) into ``<run>/figures/``.
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from models.pipeline.results import read_results
from models.report.economy import economy_tables
from models.report.figures import write_figures
from models.report.optimization import answer_tables, optimization_tables
from models.report.table import Table
from models.report.tables import (
    base_year_fit_frame,
    calibration_frame,
    checks_frame,
    depletion_probability_frame,
    depletion_statement,
    depletion_uncertainty_frame,
    finances_frame,
    identification_frame,
    milestones_distribution_frame,
    milestones_frame,
    months_payable_frame,
    population_quantiles_frame,
    spread_parameters_frame,
    tornado_frame,
    validation_frame,
)
from models.report.view import has_economy, has_optimization, is_monte_carlo

TABLES_DIR, FIGURES_DIR = "tables", "figures"


def run_tables(ds: xr.Dataset, every: int = 5) -> list[Table]:
    """Every table of a run, in report order (the answer first when the run optimizes)."""
    out = answer_tables(ds) if has_optimization(ds) else []
    out += [base_year_fit_frame(ds), checks_frame(ds)]
    if "validation_check" in ds.dims:  # results written before the pension block's tables
        out += [validation_frame(ds), identification_frame(ds)]
    if "tornado_depletion_year" in ds:
        out.append(tornado_frame(ds))
    out += [finances_frame(ds, str(r), every) for r in ds["regime"].values]
    out.append(milestones_frame(ds))
    statement = depletion_uncertainty_frame(ds)
    if statement is not None:
        out.append(statement)
    if is_monte_carlo(ds):
        out += [spread_parameters_frame(ds), calibration_frame(ds, "e0"),
                calibration_frame(ds, "tfr"), population_quantiles_frame(ds),
                milestones_distribution_frame(ds), depletion_probability_frame(ds),
                months_payable_frame(ds)]
    if has_economy(ds):
        out += economy_tables(ds)
    if has_optimization(ds):
        out += optimization_tables(ds)
    return out


def monte_carlo_header(ds: xr.Dataset) -> list[str]:
    """Lines on the Monte Carlo settings of a run (paths, seed, chunks, knobs, ages)."""
    a = ds.attrs
    return [
        "",
        f"Monte Carlo: {ds.sizes['path']} paths, seed {a.get('mc_seed')}, chunks of "
        f"{a.get('mc_chunk_size')}, population stored: {a.get('mc_population_stored')}; "
        f"shocks from {int(a.get('mc_jump_off_year', 2023)) + 1}",
        f"Knobs: TFR shift {a.get('mc_tfr_shift')}, mortality drift "
        f"x{a.get('mc_mortality_drift_scale')}, mortality spread "
        f"x{a.get('mc_mortality_spread_scale')}, fertility spread "
        f"x{a.get('mc_fertility_spread_scale')}, migration noise s.d. "
        f"{a.get('mc_migration_noise_sd')}",
        f"Working age {a.get('working_ages')}; old-age dependency ratio "
        f"{a.get('old_age_dependency_ratio')}. Quantiles over paths; zero-shock = the median inputs.",
    ]


def render(ds: xr.Dataset, every: int = 5) -> str:
    """The whole report of a run as text (deterministic tables, then the Monte Carlo ones)."""
    parts = [
        f"Experiment {ds.attrs.get('experiment')}: {ds.attrs.get('description', '')}".rstrip(": "),
        f"Money in {ds.attrs.get('money_units')}; config {str(ds.attrs.get('config_hash'))[:12]}",
    ]
    all_tables = run_tables(ds, every)
    for table in all_tables:
        if is_monte_carlo(ds) and table.name == "spread_parameters":
            parts += monte_carlo_header(ds)
        parts += ["", table.title, table.text()]
        if table.name == "depletion_uncertainty":
            parts += [""] + depletion_statement(table)
    return "\n".join(parts)


def write_outputs(run_dir: str | Path, every: int = 5) -> list[Path]:
    """Write every table (``tables/<name>.md`` and ``.csv``) and figure (``figures/*.png``) of
    a finished run, read from its ``results.nc``. Returns the files written."""
    run_dir = Path(run_dir)
    ds = read_results(run_dir)
    table_dir = run_dir / TABLES_DIR
    table_dir.mkdir(exist_ok=True)
    written = []
    for table in run_tables(ds, every):
        csv = table_dir / f"{table.name}.csv"
        table.frame.to_csv(csv, index=False)
        md = table_dir / f"{table.name}.md"
        md.write_text(table.markdown())
        written += [csv, md]
    written += write_figures(ds, run_dir / FIGURES_DIR)
    return written
