"""The options of the study's ``tables`` command, without the study's imports.

``pension --help`` builds its whole parser from this module (argparse only), so it does not
load the study, the report or the models behind them (:mod:`models.cli`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

#: The study's sizes: ``full`` (experiments/, results/) and ``small`` (the CI profile,
#: results/small/).
SIZES = ("full", "small")


def add_tables_options(p: argparse.ArgumentParser) -> None:
    """The options of the ``tables`` command (also ``pension tables``, :mod:`models.cli`)."""
    p.add_argument("--results-dir", default=None, type=Path,
                   help="results of the size (default: results or results/<size>)")
    p.add_argument("--golden-dir", default=None, type=Path,
                   help="golden tables (default: results/golden/<size>)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="compare with the golden tables")
    mode.add_argument("--update-golden", action="store_true",
                      help="replace the golden tables by these")
    p.add_argument("--no-figures", action="store_true")
