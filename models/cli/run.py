"""``pension run``: run an experiment, write results/<name>/ and print its report."""

from __future__ import annotations

import argparse

from models.cli.exits import exit_code
from models.pipeline.results import read_results
from models.pipeline.run import run_experiment
from models.report.render import render, write_outputs


def run(args: argparse.Namespace) -> int:
    run_dir = run_experiment(args.experiment, force=args.force, results_root=args.results_dir,
                             outputs=write_outputs)
    print(render(read_results(run_dir)))
    print(f"\nwrote {run_dir / 'results.nc'} and {run_dir / 'manifest.json'}")
    return 0


def main(args: argparse.Namespace) -> int:
    return exit_code(run, args)
