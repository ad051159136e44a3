"""``pension validate``: validate a calibration folder or an experiment.

The loaders are read from :mod:`models.config` at each call (``config.load_arrays``), not bound
at import: this module is imported when the command first runs, which may be inside a test
that replaces a loader (``tests/test_bad_inputs.py``'s ``no_arrays``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from models import config
from models.cli.exits import exit_code
from models.optimize.checks import check_optimization


def validate(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if path.is_dir():
        cal = config.load_calibration(path)
        arrays = config.load_arrays(cal, path)
        print(f"{path}: calibration valid ({len(arrays.data_vars)} arrays checked)")
    else:
        exp, cal, cal_dir = config.load_experiment(path)
        check_optimization(exp, path)
        config.load_arrays(cal, cal_dir)
        print(f"{path}: experiment '{exp.name}' valid (calibration {cal_dir})")
    return 0


def main(args: argparse.Namespace) -> int:
    return exit_code(validate, args)
