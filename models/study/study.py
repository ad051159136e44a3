"""The study: every experiment, then every table and figure across them (``make tables``).

Two sizes: ``full`` (the study: ``experiments/*.toml`` into ``results/<name>/``, tables and
figures into ``results/tables/`` and ``results/figures/``, golden tables in
``results/golden/full/``) and ``small`` (the CI configuration: the same experiments with fewer
paths, :func:`models.study.variants.prepare_small`, into ``results/small/``, golden tables in
``results/golden/small/``).

Commands (``python -m models.study.study ...``; ``make tables`` / ``make golden`` call them,
with Make running the experiments in between so only missing or stale ones run):

* ``prepare --size S``: write the experiment files of the size (the families' members for
  ``full``, the small copies for ``small``), only where their text changes;
* ``tables --size S [--check | --update-golden]``: build every study table (``.md``, ``.csv``,
  ``.tex``) and figure (``.png``) from the ``results.nc`` files, then compare the tables with
  the golden ones (exit status 1 with a readable difference) or replace the golden ones (the
  same as ``pension tables``, which ``make tables`` calls);
* ``run --size S``: run every experiment of the size in this process (what Make does one
  experiment at a time; used by the tests), then ``tables``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from models.config import ConfigError
from models.pipeline.run import run_experiment
from models.report.render import write_outputs
from models.report.table import Table
from models.study import figures as study_figures
from models.study import golden, page, variants
from models.study import tables as study_tables
from models.study.options import SIZES, add_tables_options

log = logging.getLogger(__name__)

TABLES_DIR, FIGURES_DIR = "tables", "figures"
#: Study outputs that are not golden-checked (timings).
RUN_TIMES = "run_times"


@dataclass(frozen=True)
class Layout:
    """Where a size's experiment files, results, outputs and golden tables are."""

    root: Path
    size: str

    @property
    def experiments_dir(self) -> Path:
        return self.root / ("experiments" if self.size == "full"
                            else f"results/{self.size}/experiments")

    @property
    def results_dir(self) -> Path:
        return self.root / ("results" if self.size == "full" else f"results/{self.size}")

    @property
    def golden_dir(self) -> Path:
        return self.root / "results" / "golden" / self.size


def experiment_names(root: str | Path, size: str) -> list[str]:
    return [name for name, _ in variants.study_experiments(Path(root), small=size != "full")]


def prepare(root: str | Path, size: str, calibration: str | Path | None = None,
            experiments_dir: str | Path | None = None) -> list[Path]:
    """Write the size's experiment files (see the module docstring); returns them all."""
    root = Path(root)
    if size == "full":
        if calibration is not None:
            raise ValueError("a replacement calibration is for the small size only")
        result = variants.generate_families(root)
        for key in ("written", "removed"):
            for path in result[key]:
                log.info("%s %s", key, path)
        return sorted((root / "experiments").glob("*.toml"))
    out_dir = Path(experiments_dir) if experiments_dir else Layout(root, size).experiments_dir
    return variants.prepare_small(root, out_dir, calibration)


# ---------------------------------------------------------------------------- writing
def _tex(table: Table) -> str:
    return f"% {table.name}: {table.title}\n{table.text('latex_booktabs')}\n"


def write_table(table: Table, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{table.name}.{ext}" for ext in ("csv", "md", "tex")]
    table.frame.to_csv(paths[0], index=False)
    paths[1].write_text(table.markdown())
    paths[2].write_text(_tex(table))
    return paths


@dataclass
class Build:
    """What a build wrote: the tables (with their experiments and tolerance class), the
    figures (with their experiments), and the seconds each section took."""

    tables: list[study_tables.StudyTable] = field(default_factory=list)
    figures: list[tuple[Path, tuple[str, ...]]] = field(default_factory=list)
    seconds: list[tuple[str, str, float]] = field(default_factory=list)  # kind, names, s
    section_of: dict[str, str] = field(default_factory=dict)  # table name / figure file -> section

    def tolerance_of(self) -> dict[str, str]:
        return {t.name: t.tolerance for t in self.tables}


def _clear(folder: Path, patterns: tuple[str, ...]) -> None:
    for pattern in patterns:
        for path in folder.glob(pattern):
            path.unlink()


def build(results_dir: str | Path, names: list[str], out_dir: str | Path | None = None,
          figures: bool = True, size: str = "full") -> Build:
    """Every study table and figure from ``results_dir/<name>/results.nc``, written under
    ``out_dir`` (default ``results_dir``) as ``tables/*.md|csv|tex`` and ``figures/*.png``,
    with ``tables/index.md`` (every output and the experiments it comes from), the study's
    page ``index.html`` (:mod:`models.study.page`; ``size`` names the configuration on it) and
    ``tables/run_times.md|csv`` (the experiments' run times from their manifests and the
    time of each table and figure)."""
    results_dir = Path(results_dir)
    out_dir = Path(out_dir) if out_dir else results_dir
    table_dir, figure_dir = out_dir / TABLES_DIR, out_dir / FIGURES_DIR
    table_dir.mkdir(parents=True, exist_ok=True)
    _clear(table_dir, ("*.md", "*.csv", "*.tex"))
    runs = study_tables.Runs(results_dir, names)
    out = Build()
    for section, builder in study_tables.BUILDERS:
        t0 = time.perf_counter()
        made = builder(runs)
        for st in made:
            write_table(st.table, table_dir)
            out.section_of[st.name] = section
        out.tables += made
        out.seconds.append(("table", ", ".join(t.name for t in made) or f"({section}: none)",
                            time.perf_counter() - t0))
    if figures:
        figure_dir.mkdir(parents=True, exist_ok=True)
        _clear(figure_dir, ("*.png",))
        for section, builder in study_figures.BUILDERS:
            t0 = time.perf_counter()
            made = builder(runs, figure_dir)
            out.section_of.update((p.name, section) for p, _ in made)
            out.figures += made
            out.seconds.append(("figure", ", ".join(p.name for p, _ in made)
                                or f"({section}: none)", time.perf_counter() - t0))
    run_times = _write_run_times(results_dir, names, out, table_dir)
    _write_index(out, table_dir, figure_dir if figures else None)
    _write_page(out, out_dir, table_dir, size, run_times)
    return out


def _write_page(out: Build, out_dir: Path, table_dir: Path, size: str,
                run_times: Table) -> Path:
    """``out_dir/index.html``: every table and figure of the build on one page (the run
    times in its appendix)."""
    href = table_dir.relative_to(out_dir).as_posix()
    tables = [page.PageTable(st.name, st.table.title, st.table.frame, st.table.floatfmt,
                             tuple(st.experiments), out.section_of.get(st.name, ""),
                             f"{href}/{st.name}.csv")
              for st in out.tables]
    tables.append(page.PageTable(run_times.name, run_times.title, run_times.frame,
                                 run_times.floatfmt, (), "", f"{href}/{run_times.name}.csv"))
    figures = [page.PageFigure(path, tuple(exps), out.section_of.get(path.name, ""))
               for path, exps in out.figures]
    return page.write_page(out_dir / "index.html", tables, figures, size)


def _write_run_times(results_dir: Path, names: list[str], out: Build, table_dir: Path
                     ) -> Table:
    rows = []
    for name in names:
        manifest = results_dir / name / "manifest.json"
        if manifest.is_file():
            t = json.loads(manifest.read_text()).get("timings_s", {})
            rows.append(["experiment", name, t.get("total_s"), t.get("optimization_s"),
                         t.get("economy_s")])
    for kind, what, seconds in out.seconds:
        rows.append([kind, what, round(seconds, 3), None, None])
    frame = pd.DataFrame(rows, columns=["kind", "name", "seconds", "of which optimization",
                                        "of which economy"])
    table = Table(RUN_TIMES, "Run times on this machine (seconds): each experiment's "
                  "simulate-and-write time from its manifest (without the process start "
                  "and its own tables and figures), then each study table and figure "
                  "(not golden-checked)", frame, ("", "", ".1f", ".1f", ".1f"))
    write_table(table, table_dir)
    return table


def _write_index(out: Build, table_dir: Path, figure_dir: Path | None) -> None:
    lines = ["# Study tables and figures", "",
             "Made by `make tables` from the experiments' `results.nc` files only "
             "(`models/study/tables.py`, `models/study/figures.py`).", "",
             "| output | title / content | experiments | golden tolerance |", "|---|---|---|---|"]
    for st in out.tables:
        exps = ", ".join(st.experiments) if len(st.experiments) <= 8 else \
            f"{len(st.experiments)} experiments ({st.experiments[0]}, ...)"
        lines.append(f"| `tables/{st.name}.md` | {st.table.title} | {exps} | {st.tolerance} |")
    lines.append(f"| `tables/{RUN_TIMES}.md` | run times | all | not checked |")
    for path, exps in out.figures:
        names = ", ".join(exps) if len(exps) <= 8 else f"{len(exps)} experiments ({exps[0]}, ...)"
        lines.append(f"| `figures/{path.name}` | figure | {names} | not checked |")
    (table_dir / "index.md").write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------- running
def run_all(root: str | Path, size: str, results_dir: str | Path | None = None,
            calibration: str | Path | None = None, outputs: bool = False,
            force: bool = True) -> list[Path]:
    """Run every experiment of a size in this process (Make does it one process per
    experiment and only for stale ones). Returns the run folders."""
    root = Path(root)
    layout = Layout(root, size)
    results_dir = Path(results_dir) if results_dir else layout.results_dir
    exp_dir = (results_dir / "experiments") if size != "full" else layout.experiments_dir
    files = prepare(root, size, calibration=calibration,
                    experiments_dir=exp_dir if size != "full" else None)
    done = []
    for path in files:
        t0 = time.perf_counter()
        done.append(run_experiment(path, force=force, results_root=results_dir,
                                   outputs=write_outputs if outputs else None))
        log.info("%s: %.1f s", path.stem, time.perf_counter() - t0)
    return done


def tables_command(root: Path, size: str, check: bool, update: bool,
                   results_dir: Path | None = None, golden_dir: Path | None = None,
                   figures: bool = True) -> int:
    layout = Layout(root, size)
    results_dir = results_dir or layout.results_dir
    golden_dir = golden_dir or layout.golden_dir
    names = experiment_names(root, size)
    t0 = time.perf_counter()
    try:
        made = build(results_dir, names, figures=figures, size=size)
    except study_tables.MissingRun as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 4
    table_dir = results_dir / TABLES_DIR
    print(f"wrote {len(made.tables)} tables to {table_dir}/ (.md, .csv, .tex) and "
          f"{len(made.figures)} figures to {results_dir / FIGURES_DIR}/ in "
          f"{time.perf_counter() - t0:.1f} s; index: {table_dir / 'index.md'}")
    if update:
        written = golden.update(table_dir, golden_dir, [t.name for t in made.tables])
        print(f"updated {len(written)} golden tables in {golden_dir}/ (commit them)")
        return 0
    if check:
        reports = golden.check(table_dir, golden_dir, made.tolerance_of())
        if reports:
            print("\n\n".join(reports), file=sys.stderr)
            target = "make golden" + ("" if size == "full" else f" SIZE={size}")
            print(f"\n{len(reports)} table(s) differ from the golden ones beyond the "
                  f"tolerance (models/study/golden.py). If the change is intended, run "
                  f"`{target}` and commit {golden_dir}/.", file=sys.stderr)
            return 1
        print(f"all {len(made.tables)} tables match the golden ones in {golden_dir}/")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.study.study",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--root", default=".", help="project root (default: .)")
    sub = parser.add_subparsers(dest="command", required=True)
    p_prep = sub.add_parser("prepare", help="write the experiment files of a size")
    p_tab = sub.add_parser("tables", help="build the study tables and figures")
    p_run = sub.add_parser("run", help="run every experiment in this process, then the tables")
    for p in (p_prep, p_tab, p_run):
        p.add_argument("--size", choices=SIZES, default="full")
    p_run.add_argument("--calibration", default=None,
                       help="small size only: use this calibration folder in every experiment")
    for p in (p_tab, p_run):
        add_tables_options(p)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    root = Path(args.root)
    try:
        if args.command == "prepare":
            files = prepare(root, args.size)
            print(f"{len(files)} experiment files for size '{args.size}' in "
                  f"{Layout(root, args.size).experiments_dir}/")
            return 0
        if args.command == "run":
            run_all(root, args.size, results_dir=args.results_dir, calibration=args.calibration)
        return tables_command(root, args.size, args.check, args.update_golden,
                              results_dir=args.results_dir, golden_dir=args.golden_dir,
                              figures=not args.no_figures)
    except ConfigError as exc:
        print(f"error: invalid input\n{exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
