"""Golden check: regenerated study tables against the committed reference tables.

The reference (golden) tables are the ``.csv`` files under ``results/golden/<size>/``. A
regenerated table matches its reference when it has the same columns, the same number of
rows, identical text cells, and every numeric cell within the tolerance of its class
(:data:`TOLERANCES`)::

    |new - golden| <= atol + rtol * |golden|        (NaN matches NaN only)

* ``simulation`` tables (demography, accounts, economy: deterministic arithmetic; the same
  inputs give the same bits on one machine, and rounding differences across machines are of
  order 1e-12): ``rtol = 1e-6``, ``atol = 1e-9`` in the table's units;
* ``solver`` tables (anything an optimization decides: HiGHS's primal and dual feasibility
  tolerances are 1e-7, and a degenerate LP may return another optimal vertex):
  ``rtol = 1e-4``, ``atol = 1e-6``.

Numbers are compared as written in the ``.csv`` (full precision), in the table's display
units (trillion or billion yuan, months, fractions, %). Figures are not compared (their
pixels depend on the Matplotlib version); the tables hold their numbers.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

TOLERANCES = {
    "simulation": {"rtol": 1e-6, "atol": 1e-9},
    "solver": {"rtol": 1e-4, "atol": 1e-6},
}
#: Cells listed per table in a report before "... and N more".
MAX_CELLS = 12


@dataclass
class TableDiff:
    name: str
    problems: list[str] = field(default_factory=list)
    cells: list[str] = field(default_factory=list)
    n_cells: int = 0

    def __bool__(self) -> bool:
        return bool(self.problems or self.n_cells)

    def text(self, new_dir: Path, golden_dir: Path, tolerance: dict) -> str:
        lines = [f"{new_dir / (self.name + '.csv')} differs from "
                 f"{golden_dir / (self.name + '.csv')} (rtol {tolerance['rtol']:g}, "
                 f"atol {tolerance['atol']:g}):"]
        lines += [f"  {p}" for p in self.problems]
        lines += [f"  {c}" for c in self.cells[:MAX_CELLS]]
        if self.n_cells > MAX_CELLS:
            lines.append(f"  ... and {self.n_cells - MAX_CELLS} more cells")
        return "\n".join(lines)


def _row_label(frame: pd.DataFrame, i: int) -> str:
    """The row's first two cells, which identify it in every study table."""
    cells = [str(frame.iat[i, j]) for j in range(min(2, frame.shape[1]))]
    return f"row {i + 1} ({', '.join(cells)})"


def _fmt(value) -> str:
    if isinstance(value, (float, np.floating)):
        return "NaN" if math.isnan(value) else f"{value:.10g}"
    return repr(value)


def compare_frames(name: str, new: pd.DataFrame, golden: pd.DataFrame, rtol: float,
                   atol: float) -> TableDiff:
    """Cell-by-cell comparison of two tables read from CSV (see the module docstring)."""
    diff = TableDiff(name)
    added = [c for c in new.columns if c not in golden.columns]
    removed = [c for c in golden.columns if c not in new.columns]
    if added:
        diff.problems.append(f"new columns: {added}")
    if removed:
        diff.problems.append(f"columns gone: {removed}")
    if len(new) != len(golden):
        diff.problems.append(f"{len(new)} rows, golden has {len(golden)}")
    n = min(len(new), len(golden))
    for col in [c for c in golden.columns if c in new.columns]:
        g, v = golden[col].iloc[:n], new[col].iloc[:n]
        if pd.api.types.is_numeric_dtype(g) and pd.api.types.is_numeric_dtype(v):
            gv, nv = g.to_numpy(float), v.to_numpy(float)
            both_nan = np.isnan(gv) & np.isnan(nv)
            with np.errstate(invalid="ignore"):
                close = np.abs(nv - gv) <= atol + rtol * np.abs(gv)
            bad = ~(close | both_nan)
        else:
            gs, ns = g.astype(str).where(g.notna(), ""), v.astype(str).where(v.notna(), "")
            bad = (gs != ns).to_numpy()
        for i in np.flatnonzero(bad):
            diff.n_cells += 1
            if len(diff.cells) < MAX_CELLS:
                gi, ni = g.iloc[i], v.iloc[i]
                diff.cells.append(f"{_row_label(golden, i)}, column '{col}': golden "
                                  f"{_fmt(gi)}, now {_fmt(ni)}{_relative(gi, ni)}")
    return diff


def _relative(golden_value, new_value) -> str:
    numbers = (int, float, np.number)
    if not (isinstance(golden_value, numbers) and isinstance(new_value, numbers)):
        return ""
    g, n = float(golden_value), float(new_value)
    if g == 0.0 or math.isnan(g) or math.isnan(n):
        return ""
    return f" (relative difference {abs(n - g) / abs(g):.2e})"


def check(new_dir: str | Path, golden_dir: str | Path, tolerance_of: dict[str, str]
          ) -> list[str]:
    """Compare every table named in ``tolerance_of`` (name -> tolerance class) in
    ``new_dir/<name>.csv`` with ``golden_dir/<name>.csv``; also report golden tables no
    longer made. Returns readable difference reports (empty: all match)."""
    new_dir, golden_dir = Path(new_dir), Path(golden_dir)
    reports = []
    if not golden_dir.is_dir():
        return [f"{golden_dir}: no golden tables yet; run `make golden` to create them from "
                "this run, then commit them"]
    for name, kind in sorted(tolerance_of.items()):
        tol = TOLERANCES[kind]
        ref = golden_dir / f"{name}.csv"
        if not ref.is_file():
            reports.append(f"{new_dir / (name + '.csv')}: new table, no golden file {ref}")
            continue
        diff = compare_frames(name, pd.read_csv(new_dir / f"{name}.csv"), pd.read_csv(ref),
                              **tol)
        if diff:
            reports.append(diff.text(new_dir, golden_dir, tol))
    for ref in sorted(golden_dir.glob("*.csv")):
        if ref.stem not in tolerance_of:
            reports.append(f"{ref}: golden table no longer made by the study")
    return reports


def update(new_dir: str | Path, golden_dir: str | Path, names: list[str]) -> list[Path]:
    """Make ``golden_dir`` hold exactly the named tables of ``new_dir`` (``.csv``)."""
    new_dir, golden_dir = Path(new_dir), Path(golden_dir)
    golden_dir.mkdir(parents=True, exist_ok=True)
    for old in golden_dir.glob("*.csv"):
        if old.stem not in names:
            old.unlink()
    out = []
    for name in names:
        shutil.copyfile(new_dir / f"{name}.csv", golden_dir / f"{name}.csv")
        out.append(golden_dir / f"{name}.csv")
    return out
