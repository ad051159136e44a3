"""The study's tables, gathered across experiments from their ``results.nc`` files only.

Each builder takes :class:`Runs` (the study's results, opened lazily by experiment name) and
returns :class:`StudyTable` objects: a :class:`models.report.table.Table` with the experiments
it was made from and its golden-check tolerance class (``"simulation"``: deterministic
arithmetic; ``"solver"``: numbers that come out of an optimization, exact only to the LP
solver's tolerances). :data:`BUILDERS` lists them in report order; :mod:`models.study.study`
writes them and checks them against the golden files.

Experiments by role (:data:`ROLES`): the deterministic ``baseline`` (both regimes, calibration
fit, welfare of the 2024 law), the Monte Carlo ``demography_mc`` (bands, depletion-year
distribution), the optimization experiments, the families ``frontier_*``, ``sensitivity_*`` and
``chance_*`` (``experiments/study/*.toml``) and ``equity``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from models.catalogue import wrote
from models.config import CATEGORIES, Experiment, ObjectiveWeights, TreeSettings
from models.constants import BILLION, TRILLION
from models.economy import welfare_cev
from models.pipeline.results import read_results
from models.report import tables as report
from models.report.economy import (
    WELFARE_BIRTH_YEARS,
    economy_fit_frame,
    labour_note,
    milestones_both_prices_frame,
    monte_carlo_prices_frame,
    welfare_of,
)
from models.report.optimization import (
    answer_frame,
    answer_guarantee_frame,
    answer_welfare_frame,
)
from models.report.table import Table
from models.report.view import (
    has_economy,
    has_lifetime_utilities,
    has_monte_carlo_prices,
    has_optimization,
    has_pairing,
    has_value_of_information,
    has_welfare_of_the_law,
)

#: Experiments by role in the study.
ROLES = {
    "baseline": "baseline",
    "monte_carlo": "demography_mc",
    "two_stage": "optimal_two_stage",
    "multi_stage": "optimal_multi_stage",
    "equity": "equity",
    "frontier": "frontier_",
    "sensitivity": "sensitivity_",
    "chance": "chance_",
}
#: Years shown in the year-by-year study tables.
YEARS = (2025, 2030, 2040, 2050, 2060, 2075, 2100)
#: Years of the policy-path tables.
POLICY_YEARS = (2026, 2030, 2035, 2040, 2050, 2060, 2075, 2100)


class MissingRun(FileNotFoundError):
    """A table needs an experiment whose results are not there."""


@dataclass
class StudyTable:
    table: Table
    experiments: tuple[str, ...]
    tolerance: str = "simulation"  # or "solver"

    @property
    def name(self) -> str:
        return self.table.name


# ---------------------------------------------------------------------------- results access
class Runs:
    """The study's runs: ``<results_dir>/<name>/results.nc`` for each experiment name."""

    def __init__(self, results_dir: str | Path, names: list[str]):
        self.results_dir = Path(results_dir)
        self.names = sorted(names)
        self._cache: dict[str, xr.Dataset] = {}

    def has(self, name: str) -> bool:
        return name in self.names and (self.results_dir / name / "results.nc").is_file()

    def get(self, name: str) -> xr.Dataset:
        if name not in self._cache:
            if name not in self.names:
                raise MissingRun(f"experiment '{name}' is not part of the study (no "
                                 f"experiments/{name}.toml)")
            path = self.results_dir / name / "results.nc"
            if not path.is_file():
                raise MissingRun(f"{path}: missing; `make tables` runs every experiment first "
                                 f"(or run it alone: make experiment EXP={name})")
            self._cache[name] = read_results(self.results_dir / name)
        return self._cache[name]

    def family(self, prefix: str) -> list[str]:
        return [n for n in self.names if n.startswith(prefix)]

    def settings(self, name: str) -> Experiment:
        """The validated experiment the run was made from (``experiment_json``, validated
        again by the schema, so its defaults are the schema's)."""
        text = self.get(name).attrs.get("experiment_json")
        if not text:
            raise MissingRun(f"{self.results_dir / name / 'results.nc'}: made by an older version "
                             "(no experiment_json attribute); run it again")
        return Experiment.model_validate_json(text)

    def optimized(self) -> list[str]:
        return [n for n in self.names if self.has(n) and has_optimization(self.get(n))]

    def release(self, name: str) -> None:
        self._cache.pop(name, None)


def _retitle(table: Table, name: str, title: str | None = None) -> Table:
    return Table(name, title or table.title, table.frame.reset_index(drop=True), table.floatfmt)


def _compact(value) -> str:
    """A short text of a setting: lists of two-key tables as ``a: b, ...`` (growth paths), a
    whole calibration entry (``{value, unit, source}``) as its value."""
    if isinstance(value, dict) and "value" in value:
        return _compact(value["value"])
    if isinstance(value, list) and value and all(isinstance(v, dict) and len(v) == 2
                                                 for v in value):
        return "[" + ", ".join(":".join(f"{x:g}" if isinstance(x, float) else str(x)
                                        for x in v.values()) for v in value) + "]"
    return repr(value)


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and k != "overrides":
            out.update(_flatten(v, key + "."))
        elif k == "overrides":
            for ok, ov in v.items():
                out[f"overrides[{ok}]"] = ov
        else:
            out[key] = v
    return out


# ---------------------------------------------------------------------------- optimization helpers
def used_paths(ds: xr.Dataset) -> xr.DataArray:
    return ds["opt_fund_balance_cny"].notnull().any("year")


def opt_years(ds: xr.Dataset) -> np.ndarray:
    return ds["policy_pooled_rate"].dropna("year", how="all")["year"].values


def present_value_settings(exp: Experiment) -> tuple[float, int]:
    """The discount rate and first year of an experiment's present values: its optimization's
    objective and first decision year, or the schema's defaults when it has none."""
    objective = exp.optimization.objective if exp.optimization else ObjectiveWeights()
    tree = exp.optimization.tree if exp.optimization else TreeSettings()
    return objective.discount_rate, tree.first_decision_year


def _discount(ds: xr.Dataset, settings: Experiment) -> xr.DataArray:
    """Discount factors of the optimization's objective over its years: the run's own
    (``opt_discount_factor``: the interest rate's or the fixed rate's) when it wrote them,
    else the experiment's fixed rate."""
    if "opt_discount_factor" in ds:
        return ds["opt_discount_factor"].dropna("year")
    rate, first = present_value_settings(settings)
    years = opt_years(ds)
    return xr.DataArray((1.0 + rate) ** -(years - first).astype(float), dims="year",
                        coords={"year": years})


def _pv(ds: xr.Dataset, var: str, settings: Experiment) -> float:
    """Expected (over the optimized paths) present value of a flow ``[path, year]``, trillion."""
    used = used_paths(ds)
    disc = _discount(ds, settings)
    flow = ds[var].sel(year=disc["year"]).where(used, drop=True).fillna(0.0)
    return float((flow * disc).sum("year").mean("path")) / TRILLION


def _expected_policy(ds: xr.Dataset, var: str, year: int, before: float, **sel) -> float:
    """A node policy ``var[node, year, ...]`` in ``year`` averaged over the optimized paths
    (each path takes the node governing that year); ``before`` ahead of the first stage."""
    stage_years = ds["stage_year"].values
    stage = int(np.searchsorted(stage_years, year, side="right") - 1)
    if stage < 0:
        return before
    used = used_paths(ds)
    nodes = ds["path_node"].isel(stage=stage).where(used, drop=True).values.astype(int)
    return float(np.mean(ds[var].sel(year=year, **sel).values[nodes]))


def expected_delay(ds: xr.Dataset, year: int, category: str) -> float:
    """Delay (months) beyond the law for cohorts reaching the law's age in ``year``, averaged
    over the optimized paths."""
    return _expected_policy(ds, "policy_extra_delay_months", year, 0.0, category=category)


def _expected_indexation(ds: xr.Dataset, year: int) -> float:
    """Indexation of pensions in payment (share of real wage growth) in ``year``, averaged over
    the optimized paths."""
    return _expected_policy(ds, "policy_indexation_share", year, math.nan)


def _indexation_cost(ds: xr.Dataset) -> float:
    """Expected discounted cost of the indexation cut (trillion yuan; 0 with the lever off)."""
    return float(ds["opt_indexation_cost_cny"]) / TRILLION


def _mean_over_paths(ds: xr.Dataset, var: str, year: int) -> float:
    used = used_paths(ds)
    return float(ds[var].sel(year=year).where(used, drop=True).mean())


def _status(ds: xr.Dataset) -> str:
    return str(ds.attrs.get("opt_status", ""))


def _n_used(ds: xr.Dataset) -> int:
    return int(used_paths(ds).sum())


def _mean_rate(ds: xr.Dataset) -> float:
    used = used_paths(ds)
    years = opt_years(ds)
    return float(ds["resim_pooled_rate"].sel(year=years).where(used, drop=True).mean())


# ---------------------------------------------------------------------------- calibration
def calibration_tables(runs: Runs) -> list[StudyTable]:
    base, mc = ROLES["baseline"], ROLES["monte_carlo"]
    ds = runs.get(base)
    out = [
        StudyTable(_retitle(report.base_year_fit_frame(ds), "calibration_base_year",
                            "Calibration fit, base year 2021: pension accounts, model vs "
                            "reported (MOHRSS bulletin)"), (base,)),
        StudyTable(_retitle(report.checks_frame(ds), "calibration_reported_facts",
                            "Projection vs reported facts, never fitted (population, births, "
                            "deaths, pensioners)"), (base,)),
    ]
    if has_economy(ds):
        out.append(StudyTable(_retitle(economy_fit_frame(ds), "calibration_economy"), (base,)))
    dm = runs.get(mc)
    for kind in ("e0", "tfr"):
        t = report.calibration_frame(dm, kind)
        out.append(StudyTable(_retitle(t, f"calibration_{kind}_bands"), (mc,)))
    out.append(StudyTable(_retitle(report.spread_parameters_frame(dm),
                                   "calibration_spread_parameters"), (mc,)))
    return out


# ---------------------------------------------------------------------------- pension block
def pension_block_tables(runs: Runs) -> list[StudyTable]:
    """The pension block's identification table, its validation against the figures reported
    after the base year and the tornado of the unpinned parameters (baseline run)."""
    base = ROLES["baseline"]
    ds = runs.get(base)
    out = []
    if "validation_check" in ds.dims:
        out += [StudyTable(_retitle(report.identification_frame(ds), "pension_identification"),
                           (base,)),
                StudyTable(_retitle(report.validation_frame(ds), "pension_validation"),
                           (base,))]
    if "tornado_depletion_year" in ds:
        out.append(StudyTable(_retitle(report.tornado_frame(ds), "pension_tornado"), (base,)))
    return out


# ---------------------------------------------------------------------------- demography
def demography_tables(runs: Runs) -> list[StudyTable]:
    mc = ROLES["monte_carlo"]
    t = report.population_quantiles_frame(runs.get(mc))
    return [StudyTable(_retitle(t, "demography_projection",
                                "Demographic projection with bands: " + t.title), (mc,))]


# ---------------------------------------------------------------------------- status quo
def status_quo_tables(runs: Runs) -> list[StudyTable]:
    base, mc = ROLES["baseline"], ROLES["monte_carlo"]
    ds = runs.get(base)
    frames = []
    for regime in ds["regime"].values:
        f = report.finances_frame(ds, str(regime), every=10).frame.copy()
        f.insert(0, "regime", str(regime))
        frames.append(f)
    fin = Table("status_quo_finances", "Status quo, median demography: the employee fund every "
                "10 years under the retirement ages before the 2024 law (pre_2024) and under "
                "the law (law_2024); money in bn yuan at 2021 prices",
                pd.concat(frames, ignore_index=True),
                ("", "d", ".1f", ".1f", ".3f", ".0f", ".0f", ".0f", ".1f"))
    out = [StudyTable(fin, (base,))]
    ms = milestones_both_prices_frame(ds) if has_economy(ds) else report.milestones_frame(ds)
    out.append(StudyTable(_retitle(ms, "status_quo_milestones", "Status quo, median demography: "
                                   + ms.title), (base,)))
    dm = runs.get(mc)
    out += [
        StudyTable(_retitle(report.milestones_distribution_frame(dm),
                            "status_quo_depletion_distribution",
                            f"Status quo across {dm.sizes['path']} Monte Carlo paths: "
                            "distribution of the first-deficit and depletion years"), (mc,)),
        StudyTable(_retitle(report.depletion_probability_frame(dm),
                            "status_quo_depletion_probability"), (mc,)),
        StudyTable(_retitle(report.months_payable_frame(dm), "status_quo_months_payable"),
                   (mc,)),
    ]
    if has_monte_carlo_prices(dm):
        t = monte_carlo_prices_frame(dm)
        title = t.title.split(" (first-order")[0]  # the measured error goes to run_times
        out.append(StudyTable(_retitle(t, "status_quo_depletion_economy_prices", title), (mc,)))
    return out


# ---------------------------------------------------------------------------- the answer
def answer_tables(runs: Runs) -> list[StudyTable]:
    """The answer of every optimal-policy experiment, read first: its policy by year
    (:func:`models.report.optimization.answer_frame`), its guarantee and cost on fresh
    paths with the search's certificate (:func:`answer_guarantee_frame`) and, paired with the
    economy, the welfare change by cohort and type (:func:`answer_welfare_frame`)."""
    out = []
    for name in optimal_experiments(runs):
        ds = runs.get(name)
        paths = answer_frame(ds)
        out.append(StudyTable(_retitle(paths, f"answer_{name}", f"{name}: {paths.title}"),
                              (name,), "solver"))
        if (wrote(ds, "optimization_out_of_sample") or wrote(ds, "optimization_certificate")
                or "opt_out_of_sample_skipped" in ds.attrs
                or "opt_certificate_skipped" in ds.attrs):  # "not evaluated: <reason>" rows
            guarantee = answer_guarantee_frame(ds)
            out.append(StudyTable(_retitle(guarantee, f"answer_guarantee_{name}",
                                           f"{name}: {guarantee.title}"), (name,), "solver"))
        welfare = answer_welfare_frame(ds)
        if welfare is not None:
            out.append(StudyTable(_retitle(welfare, f"answer_welfare_{name}",
                                           f"{name}: {welfare.title}"), (name,), "solver"))
    return out


# ---------------------------------------------------------------------------- optimal policy
def optimal_experiments(runs: Runs) -> list[str]:
    """Optimization experiments of the optimal-policy tables: all but the frontier and the
    sensitivity families (they have their own tables)."""
    skip = (ROLES["frontier"], ROLES["sensitivity"])
    return [n for n in runs.optimized() if not n.startswith(skip)]


def optimal_summary(runs: Runs) -> list[StudyTable]:
    rows, names = [], optimal_experiments(runs)
    for name in names:
        ds, s = runs.get(name), runs.settings(name)
        unpaid = ds["opt_unpaid_pensions_cny"].where(used_paths(ds), drop=True)
        rows.append([
            name, _n_used(ds), int(ds.sizes.get("node", 1)), _status(ds),
            float(ds["opt_objective_cny"]) / TRILLION,
            _pv(ds, "resim_contributions_cny", s), _pv(ds, "opt_extra_transfer_cny", s),
            _pv(ds, "opt_excess_over_capacity_cny", s) if "opt_excess_over_capacity_cny" in ds
            else 0.0,
            _pv(ds, "opt_reserve_draw_cny", s), _pv(ds, "opt_unpaid_pensions_cny", s),
            100.0 * float((unpaid.sum("year") > 0).mean()),
            _mean_over_paths(ds, "resim_pooled_rate", 2030),
            _mean_over_paths(ds, "resim_pooled_rate", 2050),
            expected_delay(ds, 2050, "men"), expected_delay(ds, 2075, "men"),
            expected_delay(ds, 2075, "women_worker"),
            _indexation_cost(ds), _expected_indexation(ds, 2050),
            "yes" if not has_pairing(ds) or int(ds["pairing_converged"]) else "NO",
        ])
    frame = pd.DataFrame(rows, columns=[
        "experiment", "paths", "tree nodes", "status", "expected cost (trillion yuan)",
        "PV contributions", "PV extra transfers", "PV money beyond the fiscal capacity",
        "PV reserve draws", "PV unpaid pensions",
        "paths with unpaid pensions (%)", "pooled rate 2030", "pooled rate 2050",
        "delay men 2050 (months)", "delay men 2075", "delay women workers 2075",
        "cost of the indexation cut", "indexation 2050 (share of wage growth)",
        "economy pairing converged"])
    title = ("Optimal policies: expected discounted cost (the objective: money beyond the "
             "fiscal capacity weighted by its penalty) and its parts (present values over "
             "the optimized paths, trillion yuan at 2021 prices, discounted at the objective's "
             "rate from the first decision year), pooled rate, retirement delay beyond the "
             "law and indexation of pensions in payment (expected over paths)")
    fmt = ("", "d", "d", "", ".3f", ".3f", ".3f", ".3f", ".3f", ".3f", ".1f", ".4f", ".4f", ".1f",
           ".1f", ".1f", ".3f", ".3f", "")
    return [StudyTable(Table("optimal_summary", title, frame, fmt), tuple(names), "solver")]


def optimal_value_of_information(runs: Runs) -> list[StudyTable]:
    rows, names = [], [n for n in optimal_experiments(runs)
                        if has_value_of_information(runs.get(n))]
    for name in names:
        ds = runs.get(name)
        rows.append([name, _n_used(ds), int(ds.sizes.get("node", 1)),
                     *[float(ds[k]) / TRILLION for k in ("rp_cny", "ws_cny", "eev_cny",
                                                         "vss_cny", "evpi_cny")],
                     *[float(ds[k]) / TRILLION if k in ds else 0.0
                       for k in ("vss_penalty_cny", "evpi_penalty_cny")]])
    frame = pd.DataFrame(rows, columns=["experiment", "paths", "tree nodes", "RP", "WS", "EEV",
                                        "VSS = EEV - RP", "EVPI = RP - WS",
                                        "VSS penalty part", "EVPI penalty part"])
    title = ("Value of the stochastic solution and of perfect information (pooled-rate and "
             "reserve decisions, retirement delays at the stochastic solution; trillion yuan "
             "in the objective's units; the penalty parts are the premium, penalty minus "
             "transfer weight, on money beyond the fiscal capacity, the rest is money)")
    return [StudyTable(Table("optimal_value_of_information", title, frame,
                             ("", "d", "d", ".4f", ".4f", ".4f", ".6f", ".6f", ".6f",
                              ".6f")),
                       tuple(names), "solver")]


def optimal_first_stage(runs: Runs) -> list[StudyTable]:
    rows, names = [], optimal_experiments(runs)
    for name in names:
        ds = runs.get(name)
        stage_years = ds["stage_year"].values
        years = opt_years(ds)
        last = stage_years[1] - 1 if stage_years.size > 1 else years[0] + 4
        for y in [y for y in years if y <= last][:5]:
            rows.append([name, int(y), float(ds["policy_pooled_rate"].sel(node=0, year=y)),
                         *[float(ds["policy_extra_delay_months"].sel(node=0, year=y,
                                                                     category=c))
                           for c in CATEGORIES], _expected_indexation(ds, y)])
    frame = pd.DataFrame(rows, columns=["experiment", "year", "pooled rate",
                                        "delay men (months)", "delay women cadres",
                                        "delay women workers",
                                        "indexation (share of wage growth)"])
    frame["year"] = frame["year"].astype(object)
    return [StudyTable(Table("optimal_first_stage", "First-stage decisions (root node, the "
                             "years before the next decision, at most five): pooled "
                             "contribution rate, retirement delay beyond the 2024 law and "
                             "indexation of pensions in payment",
                             frame, ("", "d", ".4f", ".0f", ".0f", ".0f", ".3f")),
                       tuple(names), "solver")]


def optimal_expected_paths(runs: Runs) -> list[StudyTable]:
    rows, names = [], optimal_experiments(runs)
    for name in names:
        ds = runs.get(name)
        used = used_paths(ds)
        years = set(opt_years(ds).tolist())
        for y in [y for y in POLICY_YEARS if y in years]:
            rate = ds["resim_pooled_rate"].sel(year=y).where(used, drop=True)
            transfer = ds["opt_extra_transfer_cny"].sel(year=y).where(used, drop=True) / BILLION
            rows.append([name, y, float(rate.mean()), float(rate.quantile(0.1)),
                         float(rate.quantile(0.9)),
                         *[expected_delay(ds, y, c) for c in CATEGORIES],
                         _mean_over_paths(ds, "opt_reserve_draw_cny", y) / BILLION,
                         float(transfer.mean()), float(transfer.quantile(0.1)),
                         float(transfer.quantile(0.9)),
                         _mean_over_paths(ds, "resim_months_payable", y),
                         _expected_indexation(ds, y)])
    frame = pd.DataFrame(rows, columns=[
        "experiment", "year", "pooled rate mean", "pooled rate 10 %", "pooled rate 90 %",
        "delay men (months)", "delay women cadres", "delay women workers",
        "reserve draw (bn yuan)", "extra transfer mean (bn yuan)", "transfer 10 %",
        "transfer 90 %", "months payable (mean)", "indexation (share of wage growth)"])
    frame["year"] = frame["year"].astype(object)
    return [StudyTable(Table("optimal_expected_paths", "Optimal policies: expected paths and "
                             "10-90 % bands across the optimized paths (money in bn yuan a "
                             "year at 2021 prices)", frame,
                             ("", "d", ".4f", ".4f", ".4f", ".1f", ".1f", ".1f", ".0f", ".0f",
                              ".0f", ".0f", ".1f", ".3f")),
                       tuple(names), "solver")]


# ---------------------------------------------------------------------------- frontier
def _frontier_levers(settings: Experiment) -> tuple[float, str, str]:
    opt = settings.optimization
    rate_cap = opt.contribution.max_rate if opt.contribution.enabled else math.nan
    if opt.retirement.enabled:
        cap = opt.retirement.cap_age
        age = f"{cap.men:g} / {cap.women_cadre:g} / {cap.women_worker:g}"
    else:
        age = "law (63 / 58 / 55)"
    reserve = "yes" if opt.reserve.enabled else "no"
    return rate_cap, age, reserve


def pareto_efficient(points: np.ndarray, rtol: float = 1e-9) -> np.ndarray:
    """``True`` for the rows of ``points[n, k]`` (lower is better in every column) that no
    other row dominates (at least as good everywhere, strictly better somewhere)."""
    n = points.shape[0]
    tol = rtol * np.maximum(np.abs(points).max(axis=0), 1e-300)
    out = np.ones(n, dtype=bool)
    for i in range(n):
        better_eq = np.all(points <= points[i] + tol, axis=1)
        strictly = np.any(points < points[i] - tol, axis=1)
        out[i] = not np.any(better_eq & strictly)
    return out


def frontier_frame(runs: Runs) -> pd.DataFrame:
    rows = []
    for name in runs.family(ROLES["frontier"]):
        ds, s = runs.get(name), runs.settings(name)
        rate_cap, age, reserve = _frontier_levers(s)
        rows.append({
            "experiment": name, "pooled rate cap": rate_cap, "retirement age cap": age,
            "reserve draws": reserve, "status": _status(ds), "paths": _n_used(ds),
            "expected cost (trillion yuan)": float(ds["opt_objective_cny"]) / TRILLION,
            "PV contributions": _pv(ds, "resim_contributions_cny", s),
            "PV extra transfers": _pv(ds, "opt_extra_transfer_cny", s),
            "PV reserve draws": _pv(ds, "opt_reserve_draw_cny", s),
            "mean pooled rate 2026-2100": _mean_rate(ds),
            "delay men 2075 (months)": expected_delay(ds, 2075, "men"),
            "delay women workers 2075": expected_delay(ds, 2075, "women_worker"),
        })
    frame = pd.DataFrame(rows)
    if not frame.empty:
        crit = frame[["PV extra transfers", "mean pooled rate 2026-2100",
                      "delay men 2075 (months)", "delay women workers 2075"]].to_numpy(float)
        frame["efficient"] = np.where(pareto_efficient(crit), "yes", "")
    return frame


def frontier_table(runs: Runs) -> list[StudyTable]:
    names = runs.family(ROLES["frontier"])
    if not names:
        return []
    frame = frontier_frame(runs)
    title = ("Trade-off frontier: the optimal two-stage policy under each combination of "
             "limits (pooled-rate cap x retirement-age cap men / women cadres / women workers "
             "x reserve draws); present values in trillion yuan; 'efficient' = no other point "
             "needs less of every lever (transfers, pooled rate, delays)")
    fmt = ("", ".2f", "", "", "", "d", ".3f", ".3f", ".3f", ".3f", ".4f", ".1f", ".1f", "")
    return [StudyTable(Table("frontier", title, frame, fmt), tuple(names), "solver")]


# ---------------------------------------------------------------------------- sensitivity
def _calibration_name(settings: Experiment) -> str:
    """The calibration folder's name (its path depends on where the experiment file is)."""
    return Path(settings.calibration).name


def _change(settings: Experiment, reference: Experiment) -> str:
    """The settings in which an experiment differs from the reference, as text."""
    a = _flatten({**settings.model_dump(mode="json"), "calibration": _calibration_name(settings)})
    b = _flatten({**reference.model_dump(mode="json"),
                  "calibration": _calibration_name(reference)})
    skip = {"name", "description"}
    parts = [f"{k} = {_compact(a.get(k))}" for k in sorted(set(a) | set(b))
             if k not in skip and a.get(k) != b.get(k)]
    return "; ".join(parts) or "none (reference)"


def sensitivity_table(runs: Runs) -> list[StudyTable]:
    names = runs.family(ROLES["sensitivity"])
    if not names:
        return []
    ref_name = ROLES["sensitivity"] + "reference"
    names = [ref_name] + [n for n in names if n != ref_name] if ref_name in names else names
    ref_settings = runs.settings(names[0])
    ref_cost = float(runs.get(names[0])["opt_objective_cny"])
    rows = []
    for name in names:
        ds, s = runs.get(name), runs.settings(name)
        regime = "law_2024" if "law_2024" in ds["regime"].values else str(ds["regime"].values[0])
        dep = ds["depletion_year_paths"].sel(regime=regime).values
        filled = np.where(np.isnan(dep), np.inf, dep)
        median_dep = float(np.quantile(filled, 0.5, method="inverted_cdf"))
        cost = float(ds["opt_objective_cny"])
        odr = ds["old_age_dependency_ratio_paths"]
        rows.append([
            name, s.description.split(": ", 1)[-1], _change(s, ref_settings),
            100 * float(odr.sel(year=2050).median()), 100 * float(odr.sel(year=2100).median()),
            float(ds["e0_paths"].sel(year=2050).mean()), float(ds["tfr_paths"].sel(
                year=2050).median()),
            "never" if not np.isfinite(median_dep) else str(int(median_dep)),
            100 * float(np.mean(filled <= 2035)), 100 * float(np.mean(filled <= 2050)),
            cost / TRILLION, 100 * (cost / ref_cost - 1.0),
            _pv(ds, "opt_extra_transfer_cny", s), _mean_over_paths(ds, "resim_pooled_rate", 2050),
            expected_delay(ds, 2075, "men"), _status(ds)])
    frame = pd.DataFrame(rows, columns=[
        "experiment", "assumption", "change vs reference", "old-age dependency 2050 (median, "
        "per 100)", "old-age dependency 2100", "e0 2050 (mean of sexes and paths)",
        "TFR 2050 (median)", "status quo: median depletion year", "P(depleted by 2035) (%)",
        "P(depleted by 2050) (%)",
        "optimal expected cost (trillion yuan)", "cost vs reference (%)",
        "PV extra transfers", "pooled rate 2050", "delay men 2075 (months)", "status"])
    title = ("Sensitivity: one assumption at a time; status quo (2024 law) across the Monte "
             "Carlo paths and the optimal two-stage policy over the first paths (same draws "
             "in every row)")
    fmt = ("", "", "", ".1f", ".1f", ".2f", ".3f", "", ".1f", ".1f", ".3f", ".2f", ".3f",
           ".4f", ".1f", "")
    return [StudyTable(Table("sensitivity", title, frame, fmt), tuple(names), "solver")]


# ---------------------------------------------------------------------------- equity
#: The calibration keys of the residents' equity reform (pension.residents, models/config.py).
REFORM_KEYS = ("target_share_of_employee_pension", "reform_year", "phase_in_years")


def equity_reform(settings: Experiment) -> dict[str, float]:
    """The equity reform an experiment sets through its overrides (``{}`` if none): target
    share, reform year and phase-in years, whether each key is set whole (``{value, unit,
    source}``) or by its ``.value``."""
    out = {}
    for key, value in settings.overrides.items():
        for name in REFORM_KEYS:
            if key == f"pension.residents.{name}" and isinstance(value, dict):
                out[name] = value.get("value")
            elif key == f"pension.residents.{name}.value":
                out[name] = value
    return out


def reform_text(reform: dict) -> str:
    if len(reform) < len(REFORM_KEYS):
        return "the residents' pension raised"
    first, n = int(reform["reform_year"]), int(reform["phase_in_years"])
    full = first + max(n, 1) - 1
    return (f"the residents' pension raised to {100 * reform['target_share_of_employee_pension']:g}"
            f" % of the average employee pension from {first}"
            + (f" (linear phase-in, reached in {full})" if full > first else ""))


def residents_of(ds: xr.Dataset, regime: str) -> dict[str, xr.DataArray]:
    a = ds.sel(regime=regime)
    per_res = a["residents_expenditure_cny"] / a["residents_recipients"] / 12.0
    per_emp = a["expenditure_cny"] / a["pensioners"].sum("category") / 12.0
    return {"pension": per_res, "share": per_res / per_emp, "employee": per_emp,
            "spending": a["residents_expenditure_cny"]}


def _economy_of(ds: xr.Dataset, name: str, regime: str) -> xr.DataArray | None:
    var = f"economy_{name}"
    return ds[var].sel(regime=regime) if has_economy(ds) else None


def _cev_between(reform: xr.Dataset, base: xr.Dataset, reform_prefix: str = "economy_",
                 base_prefix: str = "economy_", reform_sel: dict | None = None,
                 base_sel: dict | None = None) -> xr.DataArray | None:
    """Consumption-equivalent welfare of one stored economy against another
    (:func:`models.economy.welfare_cev` on the lifetime utilities kept in results.nc), ``None``
    when either run lacks them or their households' calibrated preferences differ (then the
    utilities are not comparable)."""
    if not (has_lifetime_utilities(reform, reform_prefix)
            and has_lifetime_utilities(base, base_prefix)):
        return None
    beta = [float(d["economy_discount_factor"]) for d in (reform, base) if has_economy(d)]
    if len(beta) == 2 and beta[0] != beta[1]:
        return None
    return welfare_cev(welfare_of(base, base_prefix, **(base_sel or {})),
                       welfare_of(reform, reform_prefix, **(reform_sel or {})))


def _cev_rows(cev: xr.DataArray, lead: list) -> list[list]:
    rows = []
    for by in [y for y in WELFARE_BIRTH_YEARS if y in cev["birth_year"].values]:
        c = cev.sel(birth_year=by)
        rows.append(lead + [by] + [100 * float(c.sel(group=g, category=k))
                                   for g in cev["group"].values
                                   for k in cev["category"].values])
    return rows


def _cev_columns(cev: xr.DataArray) -> list[str]:
    return [f"{g}, {k} (%)" for g in cev["group"].values for k in cev["category"].values]


@dataclass
class EquityPaths:
    """What the equity tables read from the baseline and the equity runs (law_2024)."""

    base: xr.Dataset
    reform: dict[str, float]
    b: dict[str, xr.DataArray]  # residents' pension, share, employee pension, spending
    e: dict[str, xr.DataArray]
    working: xr.DataArray  # population aged 20-64
    output: xr.DataArray | None  # the economy's output (None without the economy)
    tax_b: xr.DataArray | None  # income tax closing the budget, baseline and equity
    tax_e: xr.DataArray | None
    res_b: xr.DataArray | None  # the economy's residents' pensions, baseline and equity
    res_e: xr.DataArray | None

    @property
    def extra(self) -> xr.DataArray:
        """The extra residents' pension spending of the reform ``[year]`` (yuan)."""
        return self.e["spending"] - self.b["spending"]

    @property
    def economy(self) -> bool:
        return self.output is not None and self.tax_b is not None and self.tax_e is not None

    @property
    def priced(self) -> bool:
        return self.economy and self.res_b is not None and self.res_e is not None


def equity_paths(base: xr.Dataset, eq: xr.Dataset, reform: dict[str, float],
                 regime: str = "law_2024") -> EquityPaths:
    """The baseline's and the equity run's residents' pensions and economy paths."""
    pop = base["population"].sum("sex")
    working = pop.sel(age=(pop["age"] >= 20) & (pop["age"] <= 64)).sum("age")
    return EquityPaths(
        base, reform, residents_of(base, regime), residents_of(eq, regime), working,
        _economy_of(eq, "output_cny", regime),
        *(_economy_of(d, "income_tax_rate", regime) for d in (base, eq)),
        *(_economy_of(d, "residents_pensions_cny", regime) for d in (base, eq)))


def equity_year_frame(q: EquityPaths) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The equity table by year: pensions, shares, spending, cost, and (with the economy)
    its share of GDP and the income tax that pays for it; with the column formats."""
    b, e, extra = q.b, q.e, q.extra
    rows = []
    for y in [y for y in YEARS if y in q.base["year"].values]:
        x = float(extra.sel(year=y))
        row = [y, float(b["pension"].sel(year=y)), float(e["pension"].sel(year=y)),
               float(e["employee"].sel(year=y)),
               100 * float(b["share"].sel(year=y)), 100 * float(e["share"].sel(year=y)),
               float(b["spending"].sel(year=y)) / BILLION,
               float(e["spending"].sel(year=y)) / BILLION, x / BILLION,
               x / float(q.working.sel(year=y))]
        if q.economy:
            out_y = float(q.output.sel(year=y))
            row += [100 * x / out_y]
            if q.priced:
                row += [100 * float((q.res_e - q.res_b).sel(year=y)) / out_y]
            row += [100 * float(q.tax_b.sel(year=y)), 100 * float(q.tax_e.sel(year=y)),
                    100 * float((q.tax_e - q.tax_b).sel(year=y))]
        rows.append(row)
    cols = ["year", "residents' pension, baseline (yuan/month)", "equity (yuan/month)",
            "average employee pension, equity (yuan/month)",
            "residents' pension / average employee pension, baseline (%)", "equity (%)",
            "residents' pension spending, baseline (bn yuan)", "equity (bn yuan)",
            "extra budget cost (bn yuan)", "extra cost per person aged 20-64 (yuan/year)"]
    fmt = ["d", ".0f", ".0f", ".0f", ".1f", ".1f", ".0f", ".0f", ".0f", ".0f"]
    if q.economy:
        cols += ["extra cost (% of GDP)"]
        fmt += [".2f"]
        if q.priced:
            cols += ["extra cost in the OLG economy (% of GDP)"]
            fmt += [".2f"]
        cols += ["income tax closing the budget, baseline (%)", "equity (%)",
                 "tax change (pp): who pays"]
        fmt += [".2f", ".2f", ".2f"]
    frame = pd.DataFrame(rows, columns=cols)
    frame["year"] = frame["year"].astype(object)
    return frame, tuple(fmt)


def equity_cost_rows(q: EquityPaths, rate: float, first: int) -> list[list]:
    """The summary's settings and cost rows: present value from ``first`` at ``rate``,
    undiscounted total, the cost after four years and (with the economy) in % of GDP and the
    income tax change."""
    years, extra, reform = q.base["year"].values, q.extra, q.reform
    last = int(years[-1])
    sel = years >= first
    x = extra.values[sel]
    disc = (1.0 + rate) ** -(years[sel] - first).astype(float)
    summary = []
    if len(reform) == len(REFORM_KEYS):
        summary += [["target: residents' pension / average employee pension (%)",
                     100 * float(reform["target_share_of_employee_pension"])],
                    ["reform year", float(reform["reform_year"])],
                    ["phase-in (years)", float(reform["phase_in_years"])]]
    summary += [[f"present value of the extra cost {first}-{last} at {100 * rate:g} % "
                 "(trillion yuan)", float(np.sum(x * disc)) / TRILLION],
                [f"extra cost {first}-{last}, undiscounted (trillion yuan)",
                 float(np.sum(x)) / TRILLION],
                [f"extra cost in {first + 4} (bn yuan)", float(extra.sel(year=first + 4))
                 / BILLION if first + 4 <= last else math.nan]]
    if q.economy:
        share = 100 * extra.sel(year=years[sel]) / q.output.sel(year=years[sel])
        dt = 100 * (q.tax_e - q.tax_b).sel(year=years[sel])
        summary += [[f"extra cost, mean {first}-{last} (% of GDP)", float(share.mean())],
                    ["extra cost, largest (% of GDP)", float(share.max())],
                    [f"income tax rate change, mean {first}-{last} (pp)", float(dt.mean())],
                    ["income tax rate change, largest (pp)", float(dt.max())]]
    return summary


def equity_welfare_rows(cev: xr.DataArray) -> list[list]:
    """The summary's welfare rows: each group's smallest and largest CEV, born 1950-2030."""
    born = cev["birth_year"]
    window = cev.where((born >= 1950) & (born <= 2030), drop=True)
    rows = []
    for g in cev["group"].values:
        c = 100 * window.sel(group=g)
        lo, hi = c.argmin(...), c.argmax(...)
        for label, idx in (("smallest", lo), ("largest", hi)):
            by = int(window["birth_year"].values[int(idx["birth_year"])])
            cat = str(window["category"].values[int(idx["category"])])
            rows.append([f"welfare (CEV, % of consumption), {g}s born 1950-2030: "
                         f"{label} ({cat}, born {by})",
                         float(c.isel(birth_year=int(idx["birth_year"]),
                                      category=int(idx["category"])))])
    return rows


def equity_tables(runs: Runs) -> list[StudyTable]:
    """The equity reform against the baseline: by year, its summary, and welfare by cohort."""
    base_name, eq_name = ROLES["baseline"], ROLES["equity"]
    if eq_name not in runs.names:
        return []
    base, eq = runs.get(base_name), runs.get(eq_name)
    regime = "law_2024"
    q = equity_paths(base, eq, equity_reform(runs.settings(eq_name)), regime)
    frame, fmt = equity_year_frame(q)
    year_table = Table(
        "equity", f"Equity ({eq_name}): {reform_text(q.reform)}, vs the baseline (2024 law, "
        "median demography); money at 2021 prices; cost from the pension accounts, % of GDP "
        "of the OLG economy's output. Who pays: the budget, i.e. the income tax on labour and "
        "pension income that closes it in the OLG economy (whose residents' pensions follow "
        "the same rule)", frame, fmt)
    # present value of the extra cost from the first reform year
    rate, first = present_value_settings(runs.settings(base_name))
    summary = equity_cost_rows(q, rate, int(q.reform.get("reform_year") or first))
    out = [StudyTable(year_table, (base_name, eq_name))]
    cev = _cev_between(eq, base, reform_sel={"regime": regime}, base_sel={"regime": regime})
    if cev is not None:
        summary += equity_welfare_rows(cev)
        frame = pd.DataFrame(_cev_rows(cev, []), columns=["birth year"] + _cev_columns(cev))
        frame["birth year"] = frame["birth year"].astype(object)
        out.append(StudyTable(Table(
            "equity_welfare", f"Equity ({eq_name}) vs the baseline (2024 law): welfare by birth "
            "cohort and type, consumption-equivalent change (% of consumption in every "
            "remaining year; OLG economy, median demography; positive: better off with the "
            "reform)", frame,
            ("d",) + (".2f",) * (len(frame.columns) - 1)), (base_name, eq_name)))
    summary_table = Table("equity_summary", f"Equity ({eq_name}): what the raise costs, who "
                          "pays and who gains (summary)",
                          pd.DataFrame(summary, columns=["quantity", "value"]), ("", ".3f"))
    out.insert(1, StudyTable(summary_table, (base_name, eq_name)))
    return out


# ---------------------------------------------------------------------------- welfare
#: Results variables the welfare table reads: the consumption-equivalent variation of a
#: reform by birth cohort, household type (group) and retirement category.
WELFARE_VARIABLE = "economy_welfare_cev"


def welfare_tables(runs: Runs) -> list[StudyTable]:
    """Welfare by cohort and type, from every run that holds :data:`WELFARE_VARIABLE` (the
    deterministic baseline first); none when no run has it."""
    names = [n for n in (ROLES["baseline"],) if runs.has(n) and has_welfare_of_the_law(runs.get(n))]
    if not names:
        return []
    rows = []
    for name in names:
        cev = runs.get(name)[WELFARE_VARIABLE]
        for by in [y for y in WELFARE_BIRTH_YEARS if y in cev["birth_year"].values]:
            c = cev.sel(birth_year=by)
            rows.append([name, by] + [100 * float(c.sel(group=g, category=k))
                                      for g in cev["group"].values
                                      for k in cev["category"].values])
    cev = runs.get(names[0])[WELFARE_VARIABLE]
    cols = ["experiment", "birth year"] + [f"{g}, {k} (%)" for g in cev["group"].values
                                           for k in cev["category"].values]
    frame = pd.DataFrame(rows, columns=cols)
    frame["birth year"] = frame["birth year"].astype(object)
    title = ("Welfare by birth cohort and type: consumption-equivalent change of the 2024 law "
             "over the earlier retirement ages (% of consumption in every remaining year; "
             f"OLG economy, median demography; {labour_note(runs.get(names[0]))})")
    return [StudyTable(Table("welfare_by_cohort", title, frame,
                             ("", "d") + (".2f",) * (len(cols) - 2)), tuple(names))]


def welfare_comparisons(runs: Runs) -> list[tuple[str, str, xr.DataArray]]:
    """Welfare of one stored economy against another: ``(comparison, experiments, CEV[birth_year,
    group, category])`` for the equity reform against the baseline (2024 law) and, for every
    optimal-policy experiment paired with the economy, the optimal policy against the law
    (its regime) in the same experiment."""
    out = []
    base_name, eq_name = ROLES["baseline"], ROLES["equity"]
    if runs.has(eq_name) and runs.has(base_name):
        cev = _cev_between(runs.get(eq_name), runs.get(base_name),
                           reform_sel={"regime": "law_2024"}, base_sel={"regime": "law_2024"})
        if cev is not None:
            out.append((f"{eq_name} vs {base_name} (2024 law)", f"{base_name}, {eq_name}", cev))
    for name in optimal_experiments(runs):
        ds = runs.get(name)
        regime = str(ds.attrs.get("opt_regime", "law_2024"))
        if (not has_economy(ds)
                or regime not in ds["economy_lifetime_utility"]["regime"].values):
            continue
        cev = _cev_between(ds, ds, reform_prefix="opt_economy_", base_sel={"regime": regime})
        if cev is not None:
            out.append((f"{name}: optimal policy vs {regime}", name, cev))
    return out


def welfare_between_experiments(runs: Runs) -> list[StudyTable]:
    """Consumption-equivalent welfare of one experiment (or policy) against another, by birth
    cohort and type, from the lifetime utilities stored in results.nc
    (:func:`welfare_comparisons`); none when no pair has them."""
    found = welfare_comparisons(runs)
    if not found:
        return []
    rows = []
    for label, _, cev in found:
        rows += _cev_rows(cev, [label])
    cols = ["comparison", "birth year"] + _cev_columns(found[0][2])
    frame = pd.DataFrame(rows, columns=cols)
    frame["birth year"] = frame["birth year"].astype(object)
    names = tuple(dict.fromkeys(n for _, ns, _ in found for n in ns.split(", ")))
    title = ("Welfare between experiments: consumption-equivalent change of the first against "
             "the second, by birth cohort and type (% of consumption in every remaining year "
             "from 2021 or age 20; OLG economy, median demography; the optimal policy is the "
             "expected one over the optimized paths, as given to the economy; "
             f"{labour_note(runs.get(names[0]))})")
    # the optimal policies' welfare comes out of the LP solves: solver tolerance
    tolerance = "solver" if any("optimal" in label for label, _, _ in found) else "simulation"
    return [StudyTable(Table("welfare_between_experiments", title, frame,
                             ("", "d") + (".3f",) * (len(cols) - 2)), names, tolerance)]


# ---------------------------------------------------------------------------- overview
def experiments_table(runs: Runs) -> list[StudyTable]:
    rows = []
    for name in runs.names:
        s = runs.settings(name)
        opt = s.optimization
        paths = s.demography.paths
        n_opt = "-" if opt is None else str(opt.paths or max(paths, 1))
        branching = (opt.tree.branching or []) if opt else []
        rows.append([name, ", ".join(s.projection.regimes), paths, n_opt,
                     "x".join(str(b) for b in branching) if opt else "-",
                     "yes" if s.economy.enabled else "no",
                     _calibration_name(s), "; ".join(f"{k} = {_compact(v)}" for k, v in
                                                 s.overrides.items()),
                     s.description])
    frame = pd.DataFrame(rows, columns=["experiment", "regimes", "Monte Carlo paths",
                                        "optimized paths", "tree branching", "economy",
                                        "calibration", "overrides", "description"])
    return [StudyTable(Table("experiments", "The study's experiments (experiments/*.toml)",
                             frame, "g"), tuple(runs.names))]


#: Every study table builder, in report order, with the section it belongs to.
BUILDERS: tuple[tuple[str, Callable[[Runs], list[StudyTable]]], ...] = (
    ("answer", answer_tables),
    ("experiments", experiments_table),
    ("calibration fit", calibration_tables),
    ("pension block", pension_block_tables),
    ("demographic projection", demography_tables),
    ("status quo", status_quo_tables),
    ("optimal policy", optimal_summary),
    ("optimal policy", optimal_value_of_information),
    ("optimal policy", optimal_first_stage),
    ("optimal policy", optimal_expected_paths),
    ("frontier", frontier_table),
    ("sensitivity", sensitivity_table),
    ("equity", equity_tables),
    ("welfare", welfare_tables),
    ("welfare", welfare_between_experiments),
)
