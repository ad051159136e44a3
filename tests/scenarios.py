"""Deterministic demographic scenarios and search starts for the optimizer's tests (not a
test module)."""

import numpy as np
import xarray as xr

from models.demography import mortality_rates, project
from models.optimize.solve import Levers, PolicySolution, evaluate_levers


def scenario_populations(arrays, tfr_factors, k_shifts) -> xr.DataArray:
    """Population ``[path, year, age, sex]``, one path per pair: fertility scaled by the
    factor, the Lee-Carter mortality index shifted by ``k_shift`` per decade."""
    pops = []
    for f, dk in zip(tfr_factors, k_shifts):
        mx = mortality_rates(arrays["lc_ax"], arrays["lc_bx"], arrays["lc_kt"] + dk * (
            arrays["year"] - arrays["year"][0]) / 10.0)
        demo = project(arrays["base_population"], mx, arrays["asfr"] * f,
                       arrays["sex_ratio_at_birth"], arrays["net_migration"])
        pops.append(demo["population"])
    return xr.concat(pops, dim="path").assign_coords(path=np.arange(len(pops)))


def latest_retirement(problem) -> Levers:
    """The latest retirement within the rules: every knot as high as the pace and the cap
    allow (months of delay ``[node, knot, category]``, one node; no indexation lever)."""
    first_gap = problem.knot_yrs[0] - (problem.settings.tree.first_decision_year - 1)
    gaps = np.diff(problem.knot_yrs, prepend=problem.knot_yrs[0] - first_gap)
    pace = problem.settings.retirement.pace_months_per_year * gaps
    d = np.minimum(np.cumsum(pace)[:, None], problem.max_knot_delay)
    d = np.maximum.accumulate(np.floor(d), axis=0)
    return Levers(d[None].copy(), np.zeros((1, 0)))


def solved_start(problem, levers: Levers, history: list | None = None) -> PolicySolution:
    """``levers`` solved exactly, as a search's starting solution (shorter delays are cheaper,
    so from :func:`latest_retirement` the polish has moves to take)."""
    history = [] if history is None else history
    data, sol = evaluate_levers(problem, levers, history, "start")
    return PolicySolution(levers, data, sol, history, False, None, [])
