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

This module is the parser only (argparse and the light :mod:`models.study.options`), so
``pension --help`` loads none of the models; each command is a module of this package
(:data:`COMMANDS`) that imports what it needs and is loaded when its command runs, as pip
loads its commands (``pip._internal.commands``). The exit codes are mapped in
:mod:`models.cli.exits`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from models.study.options import SIZES, add_tables_options

#: The module of each command (a module of this package with ``main(args) -> int``), imported
#: only when that command runs.
COMMANDS = {name: f"models.cli.{name}"
            for name in ("run", "report", "validate", "tables", "calibrate")}
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pension",
                                     description=__doc__.split("\n\nThis module")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run an experiment and write results/<name>/")
    run.add_argument("experiment", help="experiment TOML file, e.g. experiments/baseline.toml")
    run.add_argument("--force", action="store_true", help="replace an existing run")
    run.add_argument("--results-dir", default="results", help="results root (default: results)")

    report = sub.add_parser("report", help="print the tables of a finished run")
    report.add_argument("run_dir", help="results/<experiment>")

    validate = sub.add_parser("validate", help="validate a calibration folder or an experiment")
    validate.add_argument("path")

    tables = sub.add_parser("tables", help="every study table and figure from the experiments' "
                            "results.nc, checked against (or replacing) the golden tables")
    tables.add_argument("--size", choices=SIZES, default="full",
                        help="full (experiments/, results/) or small (the CI profile, "
                             "results/small/)")
    tables.add_argument("--root", default=".", help="project root (default: .)")
    add_tables_options(tables)

    calib = sub.add_parser("calibrate", help="re-derive calibration arrays from the raw data")
    calib.add_argument("--data-dir", default=None,
                       help="raw data folder (default: $PENSION_DATA_DIR or ../shared/data)")
    calib.add_argument("--calibration", default="calibration/china")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return importlib.import_module(COMMANDS[args.command]).main(args)
    except KeyboardInterrupt:
        print(f"\ninterrupted: pension {args.command} stopped; earlier results are kept",
              file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
