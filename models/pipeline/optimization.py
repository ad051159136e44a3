"""The optimization step of an experiment: the policy problem solved (paired with the
economy when asked, :func:`models.coupling.pair_with_economy`), re-simulated, checked and
labelled for results.nc."""

from __future__ import annotations

import time

import xarray as xr

from models.config import CATEGORIES, Calibration, Experiment
from models.coupling import EconomyContext, Pairing, expected_policy, pair_with_economy, \
    transition_under
from models.optimize.frontier import problem_frontier
from models.optimize.report import exactness, resimulate, to_dataset, value_of_information
from models.pension.accounts import BaseYearFit
from models.pipeline.economy_step import lifetime_welfare

#: Re-simulated account variables kept as ``resim_<name>[path, year]``.
RESIM_KEEP = ("pensioners", "insured_workers", "contributions_cny", "expenditure_cny",
              "balance_end_cny", "months_payable", "reserve_assets_end_cny", "pooled_rate")


def run_optimization(exp: Experiment, cal: Calibration, population: xr.DataArray,
                     fit: BaseYearFit, timings: dict,
                     economy: EconomyContext | None = None) -> tuple[xr.Dataset, str]:
    """Solve the experiment's policy problem on ``population[path?, year, age, sex]``.

    With an economy context and ``economy_pairing``, the solve is paired with the OLG economy
    (:func:`models.coupling.pair_with_economy`) and the cohorts' welfare under the chosen
    (expected) policy is kept (``opt_economy_*``). Returns the labelled results
    (``policy_``/``opt_``/``resim_``/``search_``/``pairing_`` variables) and the solver log.
    """
    settings = exp.optimization
    paired = pair_with_economy(economy, cal, settings, population, fit,
                               workers=exp.parallel.workers)
    problem, psol = paired.problem, paired.solution
    timings["optimize_search_s"] = round(paired.search_s, 4)
    timings["optimize_last_build_s"] = round(psol.inner.build_s, 4)
    timings["optimize_last_solve_s"] = round(psol.inner.solve_s, 4)
    chosen = None
    if paired.history:  # the economy under the chosen (expected) policy: the cohorts' welfare
        t1 = time.perf_counter()
        chosen = transition_under(economy, cal, settings.regime, *expected_policy(problem, psol))
        timings["optimize_welfare_s"] = round(time.perf_counter() - t1, 4)
    resim = resimulate(problem, psol)
    check = exactness(problem, psol, resim)
    t2 = time.perf_counter()
    voi = value_of_information(problem, psol) if settings.compute_vss_evpi else {}
    timings["optimize_vss_evpi_s"] = round(time.perf_counter() - t2, 4)
    ds = to_dataset(problem, psol, resim, check, voi)
    if chosen is not None:
        ds = ds.merge(lifetime_welfare(chosen, "opt_economy_"))
    ds["opt_delay_cost_cny"] = ((), psol.data.delay_cost)
    ds["opt_indexation_cost_cny"] = ((), psol.data.indexation_cost)
    for name in RESIM_KEEP:
        ds[f"resim_{name}"] = resim[name].sel(year=problem.opt_years)
    ds = ds.merge(search_history(psol.history))
    t3 = time.perf_counter()
    ds = ds.merge(problem_frontier(problem, psol))  # empty unless optimization.frontier is on
    timings["optimize_frontier_s"] = round(time.perf_counter() - t3, 4)
    timings["optimize_search_build_s"] = [round(h["build_s"], 4) for h in psol.history]
    timings["optimize_search_solve_s"] = [round(h["solve_s"], 4) for h in psol.history]
    if paired.history:
        ds = ds.merge(pairing_history(paired))
    caps = {c: getattr(settings.retirement.cap_age, c) for c in CATEGORIES}
    ds.attrs = {"opt_status": ds.attrs["status"], "opt_binding": ds.attrs["binding"],
                "opt_cap_ages": str(caps), "opt_regime": settings.regime,
                "opt_indexation_lever": "on" if settings.indexation.enabled else "off"}
    if "frontier_point" in ds.dims:
        ds.attrs["frontier_cvar_beta"] = settings.frontier.cvar_beta
    return ds, solver_log(psol)


def search_history(history: list[dict]) -> xr.Dataset:
    """The outer search's evaluated lever paths ``[search_step]``: objective and label (their
    wall-clock times are provenance: :func:`run_optimization` puts them in the manifest's
    timings, so two identical runs give identical results)."""
    return xr.Dataset({
        "search_objective_cny": ("search_step", [h["objective_cny"] for h in history]),
        "search_label": ("search_step", [h["step"] for h in history]),
    })


def pairing_history(paired: Pairing) -> xr.Dataset:
    """The pairing with the economy ``[pairing_iteration]`` and whether it converged."""
    history = paired.history
    return xr.Dataset({
        "pairing_objective_cny": ("pairing_iteration", [h["objective_cny"] for h in history]),
        "pairing_wage_change": ("pairing_iteration", [h["wage_change"] for h in history]),
        "pairing_return_change": ("pairing_iteration", [h["return_change"] for h in history]),
        "pairing_converged": ((), int(paired.converged)),
    }, coords={"pairing_iteration": [h["iteration"] for h in history]})


def solver_log(psol) -> str:
    """HiGHS's log of every solve of the outer search (and of the rescue, if any)."""
    text = "\n".join(f"==== {h['step']}\n{h['log']}" for h in psol.history)
    if psol.rescue is not None:
        text += "\n==== rescue (phase one)\n" + psol.rescue.log
    return text
