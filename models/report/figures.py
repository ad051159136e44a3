"""Figures of a run (PNG, matplotlib with the Agg backend), made from its ``results.nc`` only.

Monte Carlo runs: fan charts (median, 80 % and 95 % bands across paths, zero-shock path
dashed) of the population indicators, of e0 and the TFR beside WPP 2024's published bounds,
and of the fund's months payable by regime; the cumulative probability of depletion; and
population pyramids (median by age and sex with 80 % and 95 % bands) for the base year, 2050
and 2100. Deterministic runs: months payable by regime and the pyramids of the median path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from models.pipeline.optimization import has_optimization
from models.report.tables import is_monte_carlo

#: Band probabilities: outer (95 %) and inner (80 %) intervals, and the median.
OUTER, INNER = (0.025, 0.975), (0.10, 0.90)
PYRAMID_YEARS = (2050, 2100)  # and the base year
DPI = 120
#: The months-payable chart's lower row zooms on the years to this one and on balances above
#: minus this many months (the fund's first decades, when it is depleted).
ZOOM_END_YEAR, ZOOM_MONTHS = 2050, 36.0
COLOR = "#1f5a96"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _fan(ax, years: np.ndarray, paths: np.ndarray, zero_shock: np.ndarray | None,
         color: str = COLOR, label: str | None = None) -> None:
    """Median line with 80 % and 95 % bands of ``paths[path, year]``; zero-shock dashed."""
    q = np.quantile(paths, [OUTER[0], INNER[0], 0.5, INNER[1], OUTER[1]], axis=0)
    ax.fill_between(years, q[0], q[4], color=color, alpha=0.18, lw=0, label="95 % band")
    ax.fill_between(years, q[1], q[3], color=color, alpha=0.35, lw=0, label="80 % band")
    ax.plot(years, q[2], color=color, lw=1.8, label=label or "median of paths")
    if zero_shock is not None:
        ax.plot(years, zero_shock, color="black", lw=1.0, ls="--", label="zero-shock path")


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    _pyplot().close(fig)
    return path


def _indicator_figures(ds: xr.Dataset, folder: Path) -> list[Path]:
    from models.report.tables import POPULATION_ROWS, _indicators_of

    plt = _pyplot()
    zero = _indicators_of(ds["population"])
    years = ds["year"].values
    out = []
    for var, key, label, scale, unit in POPULATION_ROWS:
        fig, ax = plt.subplots(figsize=(7, 4.2))
        _fan(ax, years, ds[var].transpose("path", "year").values / scale,
             zero[key].values / scale)
        ax.set_title(f"{label} ({ds.sizes['path']} paths)")
        ax.set_ylabel(unit)
        ax.set_xlabel("year (1 January)")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        out.append(_save(fig, folder / f"fan_{var.removesuffix('_paths')}.png"))
    return out


def _published_bounds(ax, years: np.ndarray, bounds: np.ndarray) -> None:
    """WPP 2024 bounds ``[year, (lower95, lower80, median, upper80, upper95)]`` as lines."""
    ax.plot(years, bounds[:, 2], color="#b2182b", lw=1.0, label="WPP 2024 median")
    for j, style in ((1, ":"), (3, ":"), (0, "-."), (4, "-.")):
        ax.plot(years, bounds[:, j], color="#b2182b", lw=0.9, ls=style,
                label={1: "WPP 80 % bounds", 0: "WPP 95 % bounds"}.get(j))


def _validation_figures(ds: xr.Dataset, folder: Path) -> list[Path]:
    plt = _pyplot()
    years = ds["year"].values
    order = ["lower95", "lower80", "median", "upper80", "upper95"]
    out = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, sex in zip(axes, ds["sex"].values):
        _fan(ax, years, ds["e0_paths"].sel(sex=sex).transpose("path", "year").values,
             ds["e0_median"].sel(sex=sex).values)
        if "e0_published" in ds:
            pub = ds["e0_published"].sel(sex=sex, bound=order)
            _published_bounds(ax, pub["published_year"].values, pub.values)
        ax.set_title(f"life expectancy at birth, {sex}")
        ax.set_ylabel("years")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=7)
    out.append(_save(fig, folder / "fan_e0.png"))

    fig, ax = plt.subplots(figsize=(7, 4.2))
    _fan(ax, years, ds["tfr_paths"].transpose("path", "year").values, ds["tfr_median"].values)
    if "tfr_published" in ds:
        pub = ds["tfr_published"].sel(bound=order)
        _published_bounds(ax, pub["published_year"].values, pub.values)
    ax.set_title("total fertility rate")
    ax.set_ylabel("children per woman")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=7)
    out.append(_save(fig, folder / "fan_tfr.png"))
    return out


def _pension_figures(ds: xr.Dataset, folder: Path) -> list[Path]:
    plt = _pyplot()
    years = ds["year"].values
    regimes = list(ds["regime"].values)
    out = []
    fig, axes = plt.subplots(2, len(regimes), figsize=(5.5 * len(regimes), 7.5), squeeze=False)
    zoom_end = min(ZOOM_END_YEAR, int(years[-1]))
    for col, regime in enumerate(regimes):
        paths = ds["months_payable_paths"].sel(regime=regime).transpose("path", "year").values
        zero = ds["months_payable"].sel(regime=regime).values
        for row, ax in enumerate(axes[:, col]):
            _fan(ax, years, paths, zero)
            ax.axhline(0.0, color="grey", lw=0.8)
            ax.grid(alpha=0.3)
            ax.set_ylabel("year-end balance / monthly expenditure")
            if row == 0:
                ax.set_title(f"months payable, {regime}")
            else:
                ax.set_title(f"{regime}, to {zoom_end}")
                ax.set_xlim(years[0], zoom_end)
                top = float(np.max(paths[:, years <= zoom_end]))
                ax.set_ylim(-ZOOM_MONTHS, max(top, 0.0) + 2.0)
    axes[0][0].legend(loc="lower left", fontsize=8)
    out.append(_save(fig, folder / "fan_months_payable.png"))

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for regime, color in zip(regimes, ["#b2182b", COLOR, "#4d9221"]):
        for var, style, what in (("depletion_year_paths", "-", "depleted"),
                                 ("first_deficit_year_paths", ":", "in deficit")):
            v = ds[var].sel(regime=regime).values
            ax.plot(years, [100.0 * np.mean(v <= y) for y in years], color=color, ls=style,
                    label=f"{regime}: {what}")
    ax.set_title(f"probability that the fund is depleted / in deficit by a year "
                 f"({ds.sizes['path']} paths)")
    ax.set_ylabel("% of paths")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    out.append(_save(fig, folder / "prob_depletion.png"))
    return out


def _pyramid(ds: xr.Dataset, year: int, folder: Path) -> Path:
    """Median by age and sex (bars) with 80 % and 95 % bands, zero-shock outline."""
    plt = _pyplot()
    ages = ds["age"].values
    zero = ds["population"].sel(year=year).transpose("age", "sex")
    paths = None
    if "path" in ds.dims and "population_snapshot" in ds and \
            year in ds["snapshot_year"].values:
        paths = ds["population_snapshot"].sel(snapshot_year=year).transpose("path", "age", "sex")
    fig, ax = plt.subplots(figsize=(7, 6))
    widest = 0.0
    for s, (sex, sign, color) in enumerate(zip(zero["sex"].values, (1.0, -1.0),
                                               ("#c51b7d", "#2166ac"))):
        z = zero.sel(sex=sex).values / 1e6
        widest = max(widest, float(z.max()))
        if paths is not None:
            q = np.quantile(paths.sel(sex=sex).values / 1e6, [0.025, 0.1, 0.5, 0.9, 0.975], axis=0)
            widest = max(widest, float(q[4].max()))
            ax.barh(ages, sign * q[2], height=1.0, color=color, alpha=0.25, lw=0)
            ax.fill_betweenx(ages, sign * q[0], sign * q[4], color=color, alpha=0.18, lw=0,
                             step="mid", label=f"{sex}: 95 % band")
            ax.fill_betweenx(ages, sign * q[1], sign * q[3], color=color, alpha=0.35, lw=0,
                             step="mid", label=f"{sex}: 80 % band")
            ax.step(sign * q[2], ages, where="mid", color=color, lw=1.4,
                    label=f"{sex}: median of paths")
            ax.step(sign * z, ages, where="mid", color="black", lw=0.7, ls="--",
                    label="zero-shock path" if s == 0 else None)
        else:
            ax.barh(ages, sign * z, height=1.0, color=color, alpha=0.6, label=f"{sex} (median path)")
    ax.axvline(0.0, color="black", lw=0.6)
    limit = 1.05 * widest
    ax.set_xlim(-limit, limit)
    ticks = [t for t in ax.get_xticks() if abs(t) <= limit]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{abs(t):g}" for t in ticks])
    ax.set_xlabel("million persons by single year of age (men left, women right)")
    ax.set_ylabel("age on 1 January (100 = 100+)")
    n = f", {ds.sizes['path']} paths" if paths is not None else ""
    ax.set_title(f"population on 1 January {year}{n}")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.2)
    return _save(fig, folder / f"pyramid_{year}.png")


def _deterministic_months_payable(ds: xr.Dataset, folder: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for regime in ds["regime"].values:
        ax.plot(ds["year"].values, ds["months_payable"].sel(regime=regime).values, label=str(regime))
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_title("employee fund months payable (median demography)")
    ax.set_ylabel("year-end balance / monthly expenditure")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, folder / "months_payable.png")


def write_figures(ds: xr.Dataset, folder: str | Path) -> list[Path]:
    """Draw every figure of a run into ``folder``; returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    years = ds["year"].values
    pyramid_years = [int(years[0])] + [y for y in PYRAMID_YEARS if years[0] < y <= years[-1]]
    out = [_pyramid(ds, y, folder) for y in pyramid_years]
    if is_monte_carlo(ds):
        out += _indicator_figures(ds, folder)
        out += _validation_figures(ds, folder)
        out += _pension_figures(ds, folder)
    else:
        out.append(_deterministic_months_payable(ds, folder))
    if has_optimization(ds):
        out.append(_optimal_policy_figure(ds, folder))
    return out


def _optimal_policy_figure(ds: xr.Dataset, folder: Path, filename: str = "optimal_policy.png",
                           title: str = "Optimal policy") -> Path:
    """Optimal policy paths: pooled rate, retirement delays, transfers and months payable,
    with 80 % and 95 % bands across the optimized paths."""
    plt = _pyplot()
    used = ds["opt_fund_balance_cny"].notnull().any("year")
    rate = ds["resim_pooled_rate"].dropna("year", how="all").where(used, drop=True)
    years = rate["year"].values
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    ax = axes[0, 0]
    _fan(ax, years, rate.transpose("path", "year").values * 100, None)
    ax.set_title("pooled contribution rate")
    ax.set_ylabel("% of the contribution base")
    ax = axes[0, 1]
    delay = ds["policy_extra_delay_months"].sel(year=years)
    for cat in delay["category"].values:
        d = delay.sel(category=cat)
        ax.plot(years, d.mean("node"), label=f"{cat} (mean over nodes)")
        ax.fill_between(years, d.min("node"), d.max("node"), alpha=0.2)
    ax.set_title("retirement delay beyond the 2024 law")
    ax.set_ylabel("months, cohorts reaching the law's age that year")
    ax.legend(fontsize=8)
    ax = axes[1, 0]
    transfer = ds["opt_extra_transfer_cny"].sel(year=years).where(used, drop=True)
    _fan(ax, years, transfer.transpose("path", "year").values / 1e9, None)
    ax.set_title("extra fiscal transfer")
    ax.set_ylabel("bn yuan per year (base-year prices)")
    ax = axes[1, 1]
    months = ds["resim_months_payable"].sel(year=years).where(used, drop=True)
    _fan(ax, years, months.transpose("path", "year").values, None)
    ax.set_title("fund: months payable (re-simulated)")
    ax.set_ylabel("year-end balance / monthly expenditure")
    for a in axes.flat:
        a.grid(alpha=0.3)
    fig.suptitle(f"{title}, {int(used.sum())} paths, {ds.sizes.get('node', 1)} tree nodes")
    return _save(fig, folder / filename)
