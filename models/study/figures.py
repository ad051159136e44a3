"""The study's figures (PNG), gathered across experiments from their ``results.nc`` only.

Each builder takes :class:`models.study.tables.Runs` and a folder, draws its figures and
returns ``(path, experiments used)`` pairs. The per-run figure functions of
:mod:`models.report.figures` are reused for the pyramids, fan charts and policy paths.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from models.config import CATEGORIES
from models.report import figures as run_figures
from models.study.tables import (
    ROLES,
    WELFARE_VARIABLE,
    Runs,
    _expected_delay,
    _opt_years,
    _optimal_experiments,
    _used_paths,
    frontier_frame,
)

Figure = tuple[Path, tuple[str, ...]]
COLORS = ("#1f5a96", "#b2182b", "#4d9221", "#8c510a", "#762a83", "#01665e", "#e08214")


def _plt():
    return run_figures._pyplot()


def demography_figures(runs: Runs, folder: Path) -> list[Figure]:
    """Pyramids with bands (base year, 2050, 2100) and fan charts of the population
    indicators, e0 and the TFR (beside WPP 2024's bounds)."""
    mc = ROLES["monte_carlo"]
    ds = runs.get(mc)
    years = ds["year"].values
    out = [run_figures._pyramid(ds, y, folder)
           for y in [int(years[0])] + [y for y in run_figures.PYRAMID_YEARS
                                       if years[0] < y <= years[-1]]]
    out += run_figures._indicator_figures(ds, folder)
    out += run_figures._validation_figures(ds, folder)
    return [(p, (mc,)) for p in out]


def status_quo_figures(runs: Runs, folder: Path) -> list[Figure]:
    """Fan chart of months payable, the probability of depletion by year, and the
    distribution of the depletion year, by regime."""
    mc = ROLES["monte_carlo"]
    ds = runs.get(mc)
    out = run_figures._pension_figures(ds, folder)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    years = ds["year"].values
    bins = np.arange(years[0], years[-1] + 2) - 0.5
    for regime, color in zip(ds["regime"].values, COLORS):
        dep = ds["depletion_year_paths"].sel(regime=regime).values
        never = 100.0 * float(np.mean(np.isnan(dep)))
        ax.hist(dep[np.isfinite(dep)], bins=bins, color=color, alpha=0.55,
                weights=np.full(np.isfinite(dep).sum(), 100.0 / dep.size),
                label=f"{regime} (never by {int(years[-1])}: {never:.1f} %)")
    ax.set_title(f"depletion year of the employee fund, status quo ({ds.sizes['path']} paths)")
    ax.set_xlabel("first year with a negative year-end balance")
    ax.set_ylabel("% of paths")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    out.append(run_figures._save(fig, folder / "depletion_year_distribution.png"))
    return [(p, (mc,)) for p in out]


def optimal_figures(runs: Runs, folder: Path) -> list[Figure]:
    """Each optimal policy's paths with bands, and the experiments side by side."""
    names = _optimal_experiments(runs)
    out: list[Figure] = []
    for name in names:
        p = run_figures._optimal_policy_figure(runs.get(name), folder,
                                               f"optimal_policy_{name}.png",
                                               f"Optimal policy: {name}")
        out.append((p, (name,)))
    plt = _plt()
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    for name, color in zip(names, COLORS * 3):
        ds = runs.get(name)
        used = _used_paths(ds)
        years = _opt_years(ds)
        rate = ds["resim_pooled_rate"].sel(year=years).where(used, drop=True).mean("path")
        axes[0, 0].plot(years, 100 * rate, color=color, label=name)
        for cat, style in zip(CATEGORIES, ("-", "--", ":")):
            axes[0, 1].plot(years, [_expected_delay(ds, int(y), cat) for y in years],
                            color=color, ls=style,
                            label=f"{name}: {cat}" if name == names[0] or cat == "men" else None)
        transfer = ds["opt_extra_transfer_cny"].sel(year=years).where(used, drop=True)
        axes[1, 0].plot(years, transfer.mean("path") / 1e9, color=color, label=name)
        months = ds["resim_months_payable"].sel(year=years).where(used, drop=True)
        axes[1, 1].plot(years, months.mean("path"), color=color, label=name)
    for ax, title, unit in zip(axes.flat, (
            "pooled contribution rate (mean over paths)",
            "retirement delay beyond the law (expected; men solid, women cadres dashed, "
            "women workers dotted)", "extra fiscal transfer (mean over paths)",
            "months payable (mean over paths, re-simulated)"),
            ("%", "months", "bn yuan a year (2021 prices)", "months")):
        ax.set_title(title, fontsize=9)
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    axes[0, 1].legend(fontsize=6)
    fig.suptitle("Optimal policies compared")
    out.append((run_figures._save(fig, folder / "optimal_policy_comparison.png"), tuple(names)))
    return out


def frontier_figure(runs: Runs, folder: Path) -> list[Figure]:
    """Present value of extra fiscal transfers against the mean pooled rate, one marker per
    grid point: colour = retirement-age cap, filled = reserve allowed, label = rate cap."""
    names = runs.family(ROLES["frontier"])
    if not names:
        return []
    frame = frontier_frame(runs)
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    ages = list(dict.fromkeys(frame["retirement age cap"]))
    for ax, ycol, ylabel in ((axes[0], "mean pooled rate 2026-2100",
                              "mean pooled contribution rate 2026-2100 (%)"),
                             (axes[1], "expected cost (trillion yuan)",
                              "expected discounted cost (trillion yuan)")):
        for age, color in zip(ages, COLORS):
            for reserve, fill in (("yes", True), ("no", False)):
                sel = frame[(frame["retirement age cap"] == age) & (frame["reserve draws"]
                                                                     == reserve)]
                if sel.empty:
                    continue
                y = sel[ycol] * (100 if "rate" in ycol else 1)
                ax.plot(sel["PV extra transfers"], y, ls="-" if fill else ":", color=color,
                        marker="o", mfc=color if fill else "white", mec=color,
                        label=f"age cap {age}, reserve {'allowed' if fill else 'not allowed'}")
                for x, yy, cap in zip(sel["PV extra transfers"], y, sel["pooled rate cap"]):
                    ax.annotate(f"{100 * cap:.0f} %", (x, yy), fontsize=7,
                                xytext=(3, 3), textcoords="offset points")
        eff = frame[frame["efficient"] == "yes"]
        ax.scatter(eff["PV extra transfers"], eff[ycol] * (100 if "rate" in ycol else 1),
                   s=140, facecolors="none", edgecolors="black", lw=0.8,
                   label="efficient (no point needs less of every lever)")
        ax.set_xlabel("present value of extra fiscal transfers (trillion yuan)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("Trade-off frontier: pooled-rate cap (labels) x retirement-age cap (colour) "
                 f"x reserve use (filled = allowed); {int(frame['paths'].iloc[0])} paths")
    return [(run_figures._save(fig, folder / "frontier.png"), tuple(names))]


def sensitivity_figure(runs: Runs, folder: Path) -> list[Figure]:
    """Per assumption: the change of the optimal expected cost against the reference, and the
    status quo's depletion year across paths (median, 10-90 %)."""
    from models.study.tables import sensitivity_table

    tables = sensitivity_table(runs)
    if not tables:
        return []
    frame = tables[0].table.frame
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    labels = [n.removeprefix(ROLES["sensitivity"]) for n in frame["experiment"]]
    rows = np.arange(len(labels))
    axes[0].barh(rows, frame["cost vs reference (%)"], color=COLORS[0])
    axes[0].set_xlabel("optimal expected cost vs reference (%)")
    axes[0].axvline(0, color="black", lw=0.6)
    for i, name in enumerate(frame["experiment"]):
        ds = runs.get(name)
        regime = "law_2024" if "law_2024" in ds["regime"].values else ds["regime"].values[0]
        dep = ds["depletion_year_paths"].sel(regime=regime).values
        top = float(ds["year"].values[-1]) + 1  # "never by the horizon" drawn at the horizon
        lo, mid, hi = np.quantile(np.where(np.isnan(dep), top, dep), [0.1, 0.5, 0.9],
                                  method="inverted_cdf")
        axes[1].plot([lo, hi], [i, i], color=COLORS[1], lw=6, alpha=0.4,
                     label="10-90 % of paths" if i == 0 else None)
        axes[1].plot([mid], [i], "o", color=COLORS[1], label="median" if i == 0 else None)
    axes[1].set_xlabel("status quo (2024 law): depletion year of the fund across paths")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.set_yticks(rows, labels)
        ax.grid(alpha=0.3, axis="x")
        ax.invert_yaxis()
    fig.suptitle("Sensitivity: one assumption at a time")
    return [(run_figures._save(fig, folder / "sensitivity.png"), tuple(frame["experiment"]))]


def equity_figure(runs: Runs, folder: Path) -> list[Figure]:
    from models.study.tables import _reform_text, _residents, equity_reform

    base_name, eq_name = ROLES["baseline"], ROLES["equity"]
    if eq_name not in runs.names:
        return []
    base, eq = runs.get(base_name), runs.get(eq_name)
    b, e = _residents(base, "law_2024"), _residents(eq, "law_2024")
    years = base["year"].values
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    axes[0].plot(years, 100 * b["share"], label="baseline", color=COLORS[0])
    axes[0].plot(years, 100 * e["share"], label="equity", color=COLORS[1])
    axes[0].set_title("residents' pension / average employee pension")
    axes[0].set_ylabel("%")
    axes[1].plot(years, (e["spending"] - b["spending"]) / 1e9, color=COLORS[1])
    axes[1].set_title("extra budget cost")
    axes[1].set_ylabel("bn yuan a year (2021 prices)")
    if "economy_income_tax_rate" in base and "economy_income_tax_rate" in eq:
        for ds, label, color in ((base, "baseline", COLORS[0]), (eq, "equity", COLORS[1])):
            axes[2].plot(years, 100 * ds["economy_income_tax_rate"].sel(regime="law_2024"),
                         label=label, color=color)
        axes[2].set_title("who pays: income tax closing the budget")
        axes[2].set_ylabel("% of labour and pension income")
        axes[2].legend()
    else:
        axes[2].set_visible(False)
    axes[0].legend()
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("Equity: " + _reform_text(equity_reform(runs.settings(eq_name))))
    return [(run_figures._save(fig, folder / "equity.png"), (base_name, eq_name))]


def welfare_figure(runs: Runs, folder: Path) -> list[Figure]:
    name = ROLES["baseline"]
    if not (runs.has(name) and WELFARE_VARIABLE in runs.get(name)):
        return []
    cev = runs.get(name)[WELFARE_VARIABLE]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    styles = {"men": "-", "women_cadre": "--", "women_worker": ":"}
    for g, color in zip(cev["group"].values, COLORS):
        for k in cev["category"].values:
            ax.plot(cev["birth_year"], 100 * cev.sel(group=g, category=k), color=color,
                    ls=styles.get(str(k), "-"), label=f"{g}, {k}")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xlabel("birth year")
    ax.set_ylabel("% of consumption in every remaining year")
    ax.set_title("welfare of the 2024 law over the earlier retirement ages, by cohort and type")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return [(run_figures._save(fig, folder / "welfare_by_cohort.png"), (name,))]


#: Every study figure builder, in report order, with its section.
BUILDERS: tuple[tuple[str, Callable[[Runs, Path], list[Figure]]], ...] = (
    ("demographic projection", demography_figures),
    ("status quo", status_quo_figures),
    ("optimal policy", optimal_figures),
    ("frontier", frontier_figure),
    ("sensitivity", sensitivity_figure),
    ("equity", equity_figure),
    ("welfare", welfare_figure),
)
