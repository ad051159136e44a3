"""A titled table of numbers, rendered as text, Markdown or CSV by the report writers."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from tabulate import tabulate


@dataclass
class Table:
    """A titled table: ``frame`` holds the numbers (its columns are the headers)."""

    name: str  #: file stem under tables/
    title: str
    frame: pd.DataFrame
    floatfmt: str | tuple = "g"

    def text(self) -> str:
        rows = [list(r) for r in self.frame.itertuples(index=False)]
        return tabulate(rows, headers=list(self.frame.columns), floatfmt=self.floatfmt)
