"""The ``pension`` command: run, report, validate, tables, calibrate.

Every failure the user can cause ends with one line (or one line per broken rule) on stderr
and an exit code that says what went wrong:

====  ==========================================================================
code  meaning
====  ==========================================================================
0     done
2     invalid input: a calibration or experiment file breaks a rule (file, key, value, expected)
3     the run exists (``--force`` replaces it)
4     a file or folder named on the command line is not there
5     the results folder cannot be written (a file, not a folder, or no permission)
6     a results file is damaged or was not written by ``pension run``
7     another run is writing into the same results folder
130   interrupted (Ctrl-C); earlier results are kept
====  ==========================================================================
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from models.config import (
    ConfigError,
    load_arrays,
    load_calibration,
    load_experiment,
    refresh_array_hashes,
)
from models.demography import derive
from models.optimize.checks import check_optimization
from models.pipeline.results import (
    DamagedResultsError,
    ResultsDirError,
    RunLockedError,
    read_results,
)
from models.pipeline.run import run_experiment
from models.report.render import render, write_outputs
from models.study.study import SIZES, add_tables_options, tables_command

log = logging.getLogger("pension")

EXIT_INVALID, EXIT_EXISTS, EXIT_NOT_FOUND, EXIT_RESULTS_DIR, EXIT_DAMAGED = 2, 3, 4, 5, 6
EXIT_LOCKED = 7
EXIT_INTERRUPTED = 130
#: The error -> exit code of a command, the first matching kind wins (the results-folder
#: errors before the file errors they may derive from).
EXIT_OF_ERROR = ((ResultsDirError, EXIT_RESULTS_DIR), (DamagedResultsError, EXIT_DAMAGED),
                 (RunLockedError, EXIT_LOCKED), (FileExistsError, EXIT_EXISTS),
                 (FileNotFoundError, EXIT_NOT_FOUND))


def _cmd_run(args: argparse.Namespace) -> int:
    run_dir = run_experiment(args.experiment, force=args.force, results_root=args.results_dir,
                             outputs=write_outputs)
    print(render(read_results(run_dir)))
    print(f"\nwrote {run_dir / 'results.nc'} and {run_dir / 'manifest.json'}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    print(render(read_results(args.run_dir)))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if path.is_dir():
        cal = load_calibration(path)
        arrays = load_arrays(cal, path)
        print(f"{path}: calibration valid ({len(arrays.data_vars)} arrays checked)")
    else:
        exp, cal, cal_dir = load_experiment(path)
        check_optimization(exp, path)
        load_arrays(cal, cal_dir)
        print(f"{path}: experiment '{exp.name}' valid (calibration {cal_dir})")
    return 0


def _cmd_tables(args: argparse.Namespace) -> int:
    return tables_command(Path(args.root), args.size, args.check, args.update_golden,
                          results_dir=args.results_dir, golden_dir=args.golden_dir,
                          figures=not args.no_figures)


def _cmd_calibrate(args: argparse.Namespace) -> int:
    folder = Path(args.calibration)
    derive.main(["--data-dir", str(args.data_dir), "--out-dir", str(folder / "derived")])
    changed = refresh_array_hashes(folder)
    print(f"{folder / 'demography.toml'}: sha256 updated for {', '.join(changed) or 'no arrays (unchanged)'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pension", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run an experiment and write results/<name>/")
    run.add_argument("experiment", help="experiment TOML file, e.g. experiments/baseline.toml")
    run.add_argument("--force", action="store_true", help="replace an existing run")
    run.add_argument("--results-dir", default="results", help="results root (default: results)")
    run.set_defaults(func=_cmd_run)

    report = sub.add_parser("report", help="print the tables of a finished run")
    report.add_argument("run_dir", help="results/<experiment>")
    report.set_defaults(func=_cmd_report)

    validate = sub.add_parser("validate", help="validate a calibration folder or an experiment")
    validate.add_argument("path")
    validate.set_defaults(func=_cmd_validate)

    tables = sub.add_parser("tables", help="every study table and figure from the experiments' "
                            "results.nc, checked against (or replacing) the golden tables")
    tables.add_argument("--size", choices=SIZES, default="full",
                        help="full (experiments/, results/) or small (the CI profile, "
                             "results/small/)")
    tables.add_argument("--root", default=".", help="project root (default: .)")
    add_tables_options(tables)
    tables.set_defaults(func=_cmd_tables)

    calib = sub.add_parser("calibrate", help="re-derive calibration arrays from the raw data")
    calib.add_argument("--data-dir", default=None,
                       help="raw data folder (default: $PENSION_DATA_DIR or ../shared/data)")
    calib.add_argument("--calibration", default="calibration/china")
    calib.set_defaults(func=_cmd_calibrate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"error: invalid input\n{exc}", file=sys.stderr)
        return EXIT_INVALID
    except tuple(t for t, _ in EXIT_OF_ERROR) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return next(code for kind, code in EXIT_OF_ERROR if isinstance(exc, kind))
    except KeyboardInterrupt:
        print(f"\ninterrupted: pension {args.command} stopped; earlier results are kept",
              file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
