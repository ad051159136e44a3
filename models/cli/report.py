"""``pension report``: print the tables of a finished run."""

from __future__ import annotations

import argparse

from models.cli.exits import exit_code
from models.pipeline.results import read_results
from models.report.render import render


def report(args: argparse.Namespace) -> int:
    print(render(read_results(args.run_dir)))
    return 0


def main(args: argparse.Namespace) -> int:
    return exit_code(report, args)
