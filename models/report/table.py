"""A titled table of numbers, rendered as text, Markdown or CSV by the report writers."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
from tabulate import tabulate

#: a format spec's fill, align and sign, before which nothing else may come
_SPEC_HEAD = re.compile(r"^((?:.?[<>=^])?[+\- ]?)")


def no_negative_zero(floatfmt: str) -> str:
    """``floatfmt`` with the ``z`` option (PEP 682): a value that rounds to zero prints as
    ``0``, not ``-0`` (a reserve of -4e-12 yuan, solver noise, read "-0")."""
    if "z" in floatfmt:
        return floatfmt
    head = _SPEC_HEAD.match(floatfmt).group(1)
    return head + "z" + floatfmt[len(head):]


def render_frame(frame: pd.DataFrame, floatfmt: str | tuple = "g", tablefmt: str = "simple",
                 **kwargs) -> str:
    """``frame`` as a ``tabulate`` table (one row per row, its columns the headers), float
    columns in ``floatfmt`` (one for all, or one per column) without negative zeros."""
    formats = (no_negative_zero(floatfmt) if isinstance(floatfmt, str)
               else tuple(no_negative_zero(f) for f in floatfmt))
    return tabulate([list(r) for r in frame.itertuples(index=False)],
                    headers=[str(c) for c in frame.columns], floatfmt=formats,
                    tablefmt=tablefmt, **kwargs)


@dataclass
class Table:
    """A titled table: ``frame`` holds the numbers (its columns are the headers)."""

    name: str  #: file stem under tables/
    title: str
    frame: pd.DataFrame
    floatfmt: str | tuple = "g"

    def text(self, tablefmt: str = "simple") -> str:
        """The table's body in a ``tabulate`` format (``simple``, ``pipe``, ``latex_booktabs``)."""
        return render_frame(self.frame, self.floatfmt, tablefmt)

    def markdown(self) -> str:
        """The table as a Markdown file: its title as a heading, then the pipe table."""
        return f"### {self.title}\n\n{self.text('pipe')}\n"
