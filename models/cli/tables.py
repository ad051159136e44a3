"""``pension tables``: the study's tables and figures
(:func:`models.study.study.tables_command`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from models.cli.exits import exit_code
from models.study.study import tables_command


def tables(args: argparse.Namespace) -> int:
    return tables_command(Path(args.root), args.size, args.check, args.update_golden,
                          results_dir=args.results_dir, golden_dir=args.golden_dir,
                          figures=not args.no_figures)


def main(args: argparse.Namespace) -> int:
    return exit_code(tables, args)
