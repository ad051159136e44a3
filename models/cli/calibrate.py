"""``pension calibrate``: re-derive the calibration arrays from the raw data."""

from __future__ import annotations

import argparse
from pathlib import Path

from models.cli.exits import exit_code
from models.config import refresh_array_hashes
from models.demography import derive


def calibrate(args: argparse.Namespace) -> int:
    folder = Path(args.calibration)
    derive.main(["--data-dir", str(args.data_dir), "--out-dir", str(folder / "derived")])
    changed = refresh_array_hashes(folder)
    print(f"{folder / 'demography.toml'}: sha256 updated for "
          f"{', '.join(changed) or 'no arrays (unchanged)'}")
    return 0


def main(args: argparse.Namespace) -> int:
    return exit_code(calibrate, args)
