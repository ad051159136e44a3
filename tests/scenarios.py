"""Deterministic demographic scenarios, search starts and frontier problems for the
optimizer's tests (not a test module)."""

import numpy as np
import xarray as xr

from models.config import OptimizationSettings
from models.demography import mortality_rates, project
from models.optimize.data import ScenarioData
from models.optimize.frontier import OBJECTIVES
from models.optimize.solve import Levers, PolicySolution, evaluate_levers, setup_problem


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


def search_settings(steps_months: list[int]) -> OptimizationSettings:
    """The search tests' settings: few knots (every 25 years, 3 months of pace a year) and
    the given move sizes keep the sweeps short."""
    return OptimizationSettings.model_validate({
        "retirement": {"knot_every_years": 25, "pace_months_per_year": 3},
        "search": {"steps_months": steps_months, "max_polish_moves": 40},
    })


def search_problem(calibration, populations, fit, settings: OptimizationSettings):
    """The search tests' problem: three of the deterministic scenarios (paths 0, 2, 4)."""
    return setup_problem(calibration, settings, populations.isel(path=[0, 2, 4]), fit)


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


#: The frontier tests' settings: a pooled rate between 12 and 20 %, the liquidity floor and the
#: horizon stock, solved as the extensive form.
FRONTIER_SETTINGS = OptimizationSettings.model_validate({
    "contribution": {"min_rate": 0.12, "max_rate": 0.20, "pace_per_year": 0.01},
    "constraints": {"liquidity_floor_months": 3.0, "horizon_months_target": 12.0},
    "solver": {"method": "extensive"},
})


def growing_expenditure(seed: int, n_paths: int, n_years: int, delay_cost: float = 0.0
                        ) -> ScenarioData:
    """``n_paths`` paths from 2030 whose expenditure grows at different random rates (seeded),
    under :data:`FRONTIER_SETTINGS`."""
    P, T = n_paths, n_years
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    growth = 1.0 + rng.uniform(0.01, 0.06, (P, 1)) + rng.normal(0.0, 0.01, (P, T))
    return ScenarioData(
        years=np.arange(2030, 2030 + T), probability=np.full(P, 1.0 / P),
        node_of_year=np.zeros((P, T), int), contribution_base=np.full((P, T), 22.0),
        expenditure=5.0 * np.cumprod(growth, axis=1), subsidy=np.full(T, 0.5),
        balance_start=np.full(P, 4.0), reserve_start=np.full(P, 1.0),
        fund_return=np.full(T, 0.02), reserve_return=0.04, individual_account_rate=0.0,
        pooled_rate_before=0.16, discount=1.03 ** -np.arange(T, dtype=float),
        delay_cost=delay_cost, settings=FRONTIER_SETTINGS)


def frontier_criteria(points) -> np.ndarray:
    """The frontier points' criteria ``[point, objective]`` in the order of ``OBJECTIVES``."""
    return np.array([[p[k] for k in OBJECTIVES] for p in points])
