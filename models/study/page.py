"""The study's page: one self-contained HTML file (``results/index.html``) with every table and
figure of ``make tables``, opening with the study's answer: for every optimal-policy
experiment its answer tables (policy by year; guarantee and cost on fresh paths with the
search's certificate), then the headline sentences.

The page is made from what the study build already holds (the tables' frames, the figures'
PNG files, the experiments each comes from), never by re-running a model. Figures are
embedded as ``data:`` URIs so the file can be mailed or opened offline; every table links to
its CSV (a path relative to the page). The answer at the top is read from the tables with
:func:`headline_findings`: each sentence names the table it comes from and is left out,
with a note, when the table or a column it needs is missing.

Sections, in order: :data:`SECTIONS`. A table or figure goes to the section of the builder
that made it (``models.study.tables.BUILDERS`` / ``models.study.figures.BUILDERS``).
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from models.report.table import render_frame

#: (anchor, heading, builder section names that belong to it), in the page's order.
SECTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("calibration", "Calibration and validation", ("experiments", "calibration fit")),
    ("demography", "Demography", ("demographic projection",)),
    ("status-quo", "Status quo", ("status quo",)),
    ("optimal", "Optimal policies", ("optimal policy",)),
    ("frontier", "Trade-off frontier", ("frontier",)),
    ("sensitivity", "Sensitivity", ("sensitivity",)),
    ("equity-welfare", "Equity and welfare", ("equity", "welfare")),
)
#: Anchor of the opening section and of the appendix (run times, anything unsectioned).
ANSWER, APPENDIX = "answer", "appendix"


@dataclass(frozen=True)
class PageTable:
    """One study table as the page shows it."""

    name: str
    title: str
    frame: pd.DataFrame
    floatfmt: str | tuple
    experiments: tuple[str, ...]
    section: str  #: the builder's section name (see SECTIONS)
    csv_href: str  #: link to the CSV, relative to the page


@dataclass(frozen=True)
class PageFigure:
    """One study figure: its PNG file and the experiments it comes from."""

    path: Path
    experiments: tuple[str, ...]
    section: str


# ---------------------------------------------------------------------------- the answer
def _cell(frame: pd.DataFrame, row: dict, column: str):
    """``frame``'s value in ``column`` on the first row matching ``row`` (column -> value)."""
    mask = pd.Series(True, index=frame.index)
    for key, value in row.items():
        mask &= frame[key].astype(str) == str(value)
    hits = frame.loc[mask, column]
    return None if hits.empty else hits.iloc[0]


def _fmt(value, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, (int, float)):
        return f"{value:,.{digits}f}"
    return str(value)


def _year(value) -> str:
    """A calendar year as written (no thousands separator); "n/a" when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    try:
        return str(int(value))
    except (TypeError, ValueError):
        return str(value)


def _milestones(frames: dict[str, pd.DataFrame]) -> list[str]:
    f = frames["status_quo_milestones"]
    out = []
    for regime in f["regime"]:
        first = _cell(f, {"regime": regime}, "first deficit (calibrated prices)")
        dep = _cell(f, {"regime": regime}, "depletion (calibrated prices)")
        dep_e = _cell(f, {"regime": regime}, "depletion (economy's prices)")
        out.append(f"Status quo, median demographic path, regime <b>{html.escape(regime)}</b>: "
                   f"the employee fund is first in deficit in {_year(first)} and depleted in "
                   f"{_year(dep)} ({_year(dep_e)} under the economy's prices).")
    return out


def _depletion_band(frames: dict[str, pd.DataFrame]) -> list[str]:
    f = frames["status_quo_depletion_distribution"]
    out = []
    for regime in f["regime"].unique():
        key = {"regime": regime, "milestone": "depletion year"}
        lo, mid, hi = (_cell(f, key, c) for c in ("2.5 %", "50 %", "97.5 %"))
        never = _cell(f, key, "never to 2100 (% of paths)")
        out.append(f"Across the Monte Carlo demographic paths, regime <b>{html.escape(regime)}</b>:"
                   f" depletion in {_year(mid)} (median; 95 % of paths {_year(lo)}–{_year(hi)};"
                   f" never before 2100 on {_fmt(never, 1)} % of paths).")
    return out


def _optimal(frames: dict[str, pd.DataFrame]) -> list[str]:
    f = frames["optimal_summary"]
    out = []
    for _, r in f.iterrows():
        out.append(
            f"Optimal policy <b>{html.escape(str(r['experiment']))}</b> ({_fmt(r['paths'])} "
            f"{'path' if r['paths'] == 1 else 'paths'}): extra fiscal transfers "
            f"{_fmt(r['PV extra transfers'], 1)} trillion yuan (present value) within the "
            f"fiscal capacity and {_fmt(r.get('PV money beyond the fiscal capacity', 0.0), 1)} "
            f"beyond it; pooled rate {_fmt(r['pooled rate 2050'], 3)} "
            f"in 2050; men's retirement delayed beyond the 2024 law by "
            f"{_fmt(r['delay men 2075'])} months in 2075.")
    return out


#: Prefix of the study's guarantee tables, one per optimal-policy experiment.
GUARANTEE = "answer_guarantee_"


def _guarantees(frames: dict[str, pd.DataFrame]) -> list[str]:
    """One sentence per optimal-policy experiment from its guarantee table: the probability
    of paying every pension in full within the capacity and the expected cost, out of sample
    with their intervals, and the certificate."""
    out = []
    for name in sorted(n for n in frames if n.startswith(GUARANTEE)):
        f = frames[name]
        search = f.loc[f["quantity"] == "search", "estimate"]
        label = f.loc[f["quantity"].str.startswith("probability that every pension"), "quantity"]
        if not label.size:  # not evaluated out of sample: the table says why
            why = f.loc[f["quantity"] == "out-of-sample statistics", "estimate"]
            text = (f"<b>{html.escape(name.removeprefix(GUARANTEE))}</b> on fresh paths: "
                    + html.escape(str(why.iloc[0]) if why.size else "not evaluated"))
            out.append(text + (f"; search: {html.escape(str(search.iloc[0]))}" if search.size
                               else "") + ".")
            continue
        paid = _cell(f, {"quantity": label.iloc[0]}, "estimate")
        beyond = f.loc[f["quantity"].str.startswith("expected discounted money beyond"),
                       "estimate"]
        text = (f"<b>{html.escape(name.removeprefix(GUARANTEE))}</b> on fresh paths: every "
                f"pension paid in full within the fiscal capacity with probability "
                f"{html.escape(_fmt(paid))}")
        if beyond.size:
            text += (f"; money beyond the capacity {html.escape(str(beyond.iloc[0]))} trillion "
                     "yuan (present value)")
        if search.size:
            text += f"; search: {html.escape(str(search.iloc[0]))}"
        out.append(text + ".")
    return out


#: (table it reads, what it says, function): the answer's sentences, in order (a name ending
#: in "_" stands for every table with that prefix).
HEADLINES: tuple[tuple[str, str, Callable[[dict[str, pd.DataFrame]], list[str]]], ...] = (
    (GUARANTEE, "the optimal policies out of sample", _guarantees),
    ("status_quo_milestones", "status quo on the median path", _milestones),
    ("status_quo_depletion_distribution", "depletion across paths", _depletion_band),
    ("optimal_summary", "optimal policies", _optimal),
)


def headline_findings(tables: Iterable[PageTable]) -> tuple[list[tuple[str, str]], list[str]]:
    """The answer's sentences as (HTML sentence, source table), and notes on what is missing.

    Every number in a sentence is read from a study table's frame (never typed in); a
    headline whose table or column is missing is replaced by a note saying so.
    """
    frames = {t.name: t.frame for t in tables}
    found, missing = [], []
    for name, what, make in HEADLINES:
        there = (any(n.startswith(name) for n in frames) if name.endswith("_")
                 else name in frames)
        if not there:
            missing.append(f"{what}: table <code>{name}</code> was not built")
            continue
        try:
            found += [(sentence, name) for sentence in make(frames)]
        except KeyError as exc:
            missing.append(f"{what}: table <code>{name}</code> lacks column {exc}")
    return found, missing


# ---------------------------------------------------------------------------- rendering
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;
 background:#fafafa;line-height:1.45}
header{background:#1d3557;color:#fff;padding:1.2rem 2rem}
header h1{margin:0 0 .3rem;font-size:1.5rem} header p{margin:0;opacity:.85;font-size:.9rem}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:.5rem 2rem;
 z-index:1;font-size:.9rem} nav a{margin-right:1rem;color:#1d3557;text-decoration:none}
main{max-width:1200px;margin:0 auto;padding:0 2rem 3rem}
section{margin-top:2rem} h2{border-bottom:2px solid #1d3557;padding-bottom:.2rem}
h3{font-size:1.05rem;margin:1.6rem 0 .4rem}
.meta{font-size:.8rem;color:#555;margin:.2rem 0 .5rem}
.scroll{overflow-x:auto;max-width:100%;background:#fff;border:1px solid #e3e3e3}
table{border-collapse:collapse;font-size:.8rem;white-space:nowrap}
th,td{padding:.25rem .55rem;border-bottom:1px solid #eee;text-align:left}
th{background:#f0f3f8}
figure{margin:1rem 0;background:#fff;border:1px solid #e3e3e3;padding:.5rem}
figure img{max-width:100%;height:auto} figcaption{font-size:.8rem;color:#555}
.answer li{margin:.35rem 0} .note{color:#8a5a00;font-size:.85rem}
"""


def _experiments_note(experiments: tuple[str, ...]) -> str:
    names = ", ".join(experiments) if len(experiments) <= 8 else \
        f"{len(experiments)} experiments ({', '.join(experiments[:3])}, …)"
    return f"from: {html.escape(names) or '—'}"


def _table_html(t: PageTable) -> str:
    body = render_frame(t.frame, t.floatfmt, "html", missingval="")
    return (f'<div class="table" id="table-{html.escape(t.name)}">'
            f"<h3>{html.escape(t.title)}</h3>"
            f'<p class="meta">{_experiments_note(t.experiments)} · '
            f'<a href="{html.escape(t.csv_href)}">{html.escape(t.name)}.csv</a></p>'
            f'<div class="scroll">{body}</div></div>')


def _caption(path: Path) -> str:
    return path.stem.replace("_", " ").capitalize()


def _figure_html(f: PageFigure) -> str:
    data = base64.b64encode(f.path.read_bytes()).decode("ascii")
    return (f'<figure id="figure-{html.escape(f.path.stem)}">'
            f'<img alt="{html.escape(_caption(f.path))}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(_caption(f.path))} "
            f"({html.escape(f.path.name)}; {_experiments_note(f.experiments)})</figcaption>"
            f"</figure>")


def _section_of(builder_section: str) -> str:
    if builder_section == ANSWER:
        return ANSWER
    for anchor, _, names in SECTIONS:
        if builder_section in names:
            return anchor
    return APPENDIX


def render_page(tables: list[PageTable], figures: list[PageFigure], title: str,
                subtitle: str) -> str:
    """The whole page as one HTML string (figures embedded; reads the figures' PNG files)."""
    found, missing = headline_findings(tables)
    answer = "".join(f"<li>{s} <span class='meta'>(<a href='#table-{n}'>{n}</a>)</span></li>"
                     for s, n in found)
    notes = "".join(f"<li class='note'>{m}</li>" for m in missing)
    first = "".join(_table_html(t) for t in tables if t.section == ANSWER)
    parts = [f'<section id="{ANSWER}"><h2>The answer</h2>'
             f'<ul class="answer">{answer}{notes}</ul>{first}</section>']
    headings = [(ANSWER, "The answer")]
    for anchor, heading in [(a, h) for a, h, _ in SECTIONS] + [(APPENDIX, "Appendix")]:
        ts = [t for t in tables if _section_of(t.section) == anchor]
        fs = [f for f in figures if _section_of(f.section) == anchor]
        if not ts and not fs:
            continue
        headings.append((anchor, heading))
        parts.append(f'<section id="{anchor}"><h2>{html.escape(heading)}</h2>'
                     + "".join(_table_html(t) for t in ts)
                     + "".join(_figure_html(f) for f in fs) + "</section>")
    nav = "".join(f'<a href="#{a}">{html.escape(h)}</a>' for a, h in headings)
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header>"
            f"<nav>{nav}</nav><main>{''.join(parts)}</main></body></html>\n")


def write_page(path: str | Path, tables: list[PageTable], figures: list[PageFigure],
               size: str) -> Path:
    """Write :func:`render_page` to ``path`` (written beside, then renamed into place)."""
    path = Path(path)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = render_page(
        tables, figures,
        title="Pension reform under demographic uncertainty — China's basic old-age insurance",
        subtitle=f"Study tables and figures ({size} configuration), made by `make tables` "
                 f"from the experiments' results.nc files on {stamp}. Money in yuan at "
                 f"base-year (2021) prices unless a column says otherwise.")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
