"""The optimization step of an experiment: the policy problem solved (paired with the
economy when asked, :func:`models.coupling.pair_with_economy`), polished and certified
(:mod:`models.optimize.search`), re-simulated, checked, evaluated out of sample on fresh
paths with the Mak–Morton–Wood bound on its optimality gap (:mod:`models.optimize.evaluate`)
and labelled for results.nc.

Fresh paths come from their own branches of the experiment's seed: children
:data:`OUT_OF_SAMPLE_BRANCH` (the out-of-sample paths) and ``(REPLICATION_BRANCH, k)``
(replication k) of ``SeedSequence(seed)``, whose children 0–2 are the in-sample demography's
purposes (:data:`models.demography.stochastic.PURPOSES`): no fresh path shares a stream with
an optimized one, and every policy meets the same fresh paths (common random numbers)."""

from __future__ import annotations

import math
import time

import numpy as np
import xarray as xr

from models.config import CATEGORIES, SEXES, Calibration, Experiment
from models.coupling import EconomyContext, Pairing, expected_policy, pair_with_economy, \
    transition_under
from models.demography import stochastic
from models.optimize.evaluate import gap_interval, out_of_sample, replication_gap
from models.optimize.frontier import problem_frontier
from models.optimize.objective import delay_price_source
from models.optimize.report import exactness, resimulate, to_dataset, value_of_information
from models.optimize.search import certificate_dataset, polish_and_certify
from models.optimize.solve import PolicyProblem, PolicySolution, setup_problem
from models.pension.accounts import BaseYearFit
from models.pipeline.economy_step import lifetime_welfare

#: Spawn keys of the fresh paths' branches of ``SeedSequence(seed)`` (module docstring).
OUT_OF_SAMPLE_BRANCH = 16
REPLICATION_BRANCH = 17

#: Re-simulated account variables kept as ``resim_<name>[path, year]``.
RESIM_KEEP = ("pensioners", "insured_workers", "contributions_cny", "expenditure_cny",
              "balance_end_cny", "months_payable", "reserve_assets_end_cny", "pooled_rate")


def run_optimization(exp: Experiment, cal: Calibration, population: xr.DataArray,
                     fit: BaseYearFit, timings: dict,
                     economy: EconomyContext | None = None,
                     arrays: xr.Dataset | None = None) -> tuple[xr.Dataset, str]:
    """Solve the experiment's policy problem on ``population[path?, year, age, sex]``.

    With an economy context and ``economy_pairing``, the solve is paired with the OLG economy
    (:func:`models.coupling.pair_with_economy`) and the cohorts' welfare under the chosen
    (expected) policy is kept (``opt_economy_*``). Returns the labelled results
    (``policy_``/``opt_``/``resim_``/``search_``/``pairing_``/``certificate_``/``oos_``
    variables) and the solver log. The polish and its certificate run once, after the
    pairing, at the last prices; the out-of-sample statistics need the calibration's
    ``arrays`` (to draw fresh paths) and are skipped without them.
    """
    settings = exp.optimization
    paired = pair_with_economy(economy, cal, settings, population, fit,
                               workers=exp.parallel.workers)
    problem, psol = paired.problem, paired.solution
    timings["optimize_search_s"] = round(paired.search_s, 4)
    certificate = None
    if settings.search.polish:
        t0 = time.perf_counter()
        psol, certificate = polish_and_certify(problem, psol)
        timings["optimize_polish_certificate_s"] = round(time.perf_counter() - t0, 4)
    timings["optimize_last_build_s"] = round(psol.inner.build_s, 4)
    timings["optimize_last_solve_s"] = round(psol.inner.solve_s, 4)
    chosen = None
    if paired.history:  # the economy under the chosen (expected) policy: the cohorts' welfare
        t1 = time.perf_counter()
        chosen = transition_under(economy, cal, settings.regime, *expected_policy(problem, psol),
                                  welfare=True)
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
    if paired.delay_price is not None:  # the economy's price of delay the objective used
        ds["pairing_delay_price_cny"] = paired.delay_price.sel(
            year=problem.opt_years).rename(None)
    if certificate is not None:
        ds = ds.merge(certificate_dataset(certificate))
    not_evaluated = evaluation_skipped(settings, arrays is not None, psol.infeasible)
    evaluated = xr.Dataset()
    if not_evaluated is None:
        evaluated = evaluation_dataset(exp, cal, arrays, problem, psol, timings)
        ds = ds.merge(evaluated)
    ds.attrs = run_attrs(ds.attrs, settings, paired.delay_price is not None)
    # why a run has no out-of-sample statistics or no certificate (the report says so)
    if not_evaluated is not None:
        ds.attrs["opt_out_of_sample_skipped"] = not_evaluated
    ds.attrs.update(evaluated.attrs)  # e.g. why the optimality gap has no bound
    if certificate is None:
        ds.attrs["opt_certificate_skipped"] = certificate_skipped(settings)
    if "frontier_point" in ds.dims:
        ds.attrs["frontier_cvar_beta"] = settings.frontier.cvar_beta
    return ds, solver_log(psol)


def certificate_skipped(settings) -> str:
    """Why a run has no search certificate: the polish switched off, no outer lever to search
    (retirement delays and indexation off: the LP's optimum is the answer, exact), or else no
    feasible policy (the only other case :func:`models.optimize.search.polish_and_certify`
    returns none)."""
    if not settings.search.polish:
        return "switched off ([optimization.search] polish = false)"
    if not (settings.retirement.enabled or settings.indexation.enabled):
        return ("nothing to search: the retirement delays and the indexation are off, so the "
                "LP's optimum over the other levers is the answer (exact, no outer search)")
    return "no feasible policy to certify"


def run_attrs(solved: dict, settings, economy_price: bool) -> dict:
    """The optimization's attributes in results.nc: the solve's status and binding limits
    (``solved``, the solution dataset's attributes), the caps, regime, levers, horizon
    target, recourse and which price of delay the objective used
    (:func:`models.optimize.objective.delay_price_source`; ``economy_price``: the economy's
    was wired in)."""
    caps = {c: getattr(settings.retirement.cap_age, c) for c in CATEGORIES}
    return {"opt_status": solved["status"], "opt_binding": solved["binding"],
            "opt_cap_ages": str(caps), "opt_regime": settings.regime,
            "opt_indexation_lever": "on" if settings.indexation.enabled else "off",
            "opt_horizon_months_target": settings.constraints.horizon_months_target,
            "opt_recourse": settings.recourse.reserve_draws,
            "opt_delay_price": delay_price_source(settings.objective.delay_price,
                                                  economy_price),
            "opt_delay_cny_per_person_month": settings.objective.delay_cny_per_person_month,
            **guarantee_attrs(settings.constraints)}


def guarantee_attrs(constraints) -> dict:
    """The in-sample guarantee when it is not the hard one (``[optimization.constraints]``):
    ``opt_chance_alpha`` (the share of paths that may fall short) or ``opt_cvar_beta`` and
    ``opt_cvar_limit_cny``; nothing under the hard guarantee."""
    if constraints.chance_alpha is not None:
        return {"opt_chance_alpha": constraints.chance_alpha}
    if constraints.cvar_beta is not None:
        return {"opt_cvar_beta": constraints.cvar_beta,
                "opt_cvar_limit_cny": constraints.cvar_limit_cny}
    return {}


def search_history(history: list[dict]) -> xr.Dataset:
    """The outer search's evaluated lever paths ``[search_step]``: objective and label (their
    wall-clock times are provenance: :func:`run_optimization` puts them in the manifest's
    timings, so two identical runs give identical results)."""
    return xr.Dataset({
        "search_objective_cny": ("search_step", [h["objective_cny"] for h in history]),
        "search_label": ("search_step", [h["step"] for h in history]),
    })


#: The pairing history's changes kept when the loop records them (the economy's price of
#: delay; the retirement distribution with the households' choice on), ``pairing_<key>``.
PAIRING_OPTIONAL = ("delay_price_change", "distribution_change")


def pairing_history(paired: Pairing) -> xr.Dataset:
    """The pairing with the economy ``[pairing_iteration]`` and whether it converged, with
    the optional changes of :data:`PAIRING_OPTIONAL` that joined its stopping rule
    (``units`` and ``long_name`` from :mod:`models.catalogue`)."""
    history = paired.history
    optional = {f"pairing_{key}": ("pairing_iteration", [h[key] for h in history])
                for key in PAIRING_OPTIONAL if history and all(key in h for h in history)}
    return xr.Dataset({
        "pairing_objective_cny": ("pairing_iteration", [h["objective_cny"] for h in history]),
        "pairing_wage_change": ("pairing_iteration", [h["wage_change"] for h in history]),
        "pairing_return_change": ("pairing_iteration", [h["return_change"] for h in history]),
        **optional,
        "pairing_converged": ((), int(paired.converged)),
    }, coords={"pairing_iteration": [h["iteration"] for h in history]})


def solver_log(psol) -> str:
    """HiGHS's log of every solve of the outer search (and of the rescue, if any)."""
    text = "\n".join(f"==== {h['step']}\n{h['log']}" for h in psol.history)
    if psol.rescue is not None:
        text += "\n==== rescue (phase one)\n" + psol.rescue.log
    return text


def evaluation_skipped(settings, have_arrays: bool, infeasible: bool) -> str | None:
    """Why the chosen policy is not evaluated on fresh paths (None: it is). Every recourse
    (per path, a draw rule) and every tree (ranked, k-means) is evaluated
    (:mod:`models.optimize.evaluate`)."""
    if not settings.evaluation.enabled:
        return "switched off ([optimization.evaluation] enabled = false)"
    if not have_arrays:
        return "no calibration arrays to draw fresh paths from"
    if infeasible:
        return "no feasible policy (the answer is the rescue's smallest money beyond the levers)"
    if not settings.extra_transfer.enabled:
        return ("extra transfers switched off: a fixed policy may leave a fresh path without "
                "a feasible recourse")
    return None


def fresh_population(exp: Experiment, arrays: xr.Dataset, branch: tuple[int, ...], n: int,
                     spread: stochastic.SpreadCalibration) -> xr.DataArray:
    """``n`` fresh Monte Carlo paths ``population[path, year, age, sex]`` (persons, float64)
    from the branch ``branch`` of the experiment's seed, drawn with the experiment's
    demography settings (:func:`models.demography.stochastic.iter_path_chunks`)."""
    settings = exp.demography.model_copy(update={
        "paths": n, "chunk_size": min(n, max(exp.demography.chunk_size, 1))})
    inputs = stochastic.median_inputs(arrays, settings)
    seed = np.random.SeedSequence(exp.seed, spawn_key=branch)
    chunks = list(stochastic.iter_path_chunks(inputs, spread, settings, seed,
                                              workers=exp.parallel.workers))
    pop = np.concatenate([c.population for c in chunks]).astype(np.float64)
    return xr.DataArray(pop, dims=("path", "year", "age", "sex"),
                        coords={"path": np.arange(n), "year": inputs.years,
                                "age": inputs.ages, "sex": list(SEXES)}, name="population")


def _delay_price(problem: PolicyProblem) -> xr.DataArray:
    """The price of delay per optimized year the problem's objective uses (the economy's or
    the fixed one), for the fresh paths' problems: one objective in and out of sample."""
    return xr.DataArray(problem.delay_price_per_year(problem.settings), dims="year",
                        coords={"year": problem.opt_years})


def _prices(problem: PolicyProblem):
    """The prices the last solve used (None: the calibration's)."""
    if problem.wage_index is None:
        return None
    return problem.wage_index, xr.DataArray(problem.fund_return, dims="year",
                                            coords={"year": problem.years})


#: The out-of-sample statistics (``statistic`` coordinate) and their estimates' keys in
#: :meth:`models.optimize.evaluate.OutOfSample.estimates`.
STATISTICS = {"expected_cost_cny": "cost", "paid_in_full_probability": "paid_in_full",
              "expected_transfers_cny": "transfers", "expected_excess_cny": "excess",
              "vss_cny": "vss", "evpi_cny": "evpi",
              "vss_money_cny": "vss_money", "vss_penalty_cny": "vss_penalty",
              "evpi_money_cny": "evpi_money", "evpi_penalty_cny": "evpi_penalty",
              "optimality_gap_cny": "optimality_gap"}


def gap_skipped_note(replications: int) -> str:
    """Why the Mak-Morton-Wood interval on the optimality gap is missing, for fewer than two
    replications (``[optimization.evaluation] replications``): the interval needs a sample
    standard deviation of the replications' gaps."""
    if replications == 0:
        return ("replications switched off in the experiment ([optimization.evaluation] "
                "replications = 0)")
    return (f"{replications} replication in the experiment: the interval needs at least 2 "
            "([optimization.evaluation] replications)")


def evaluation_dataset(exp: Experiment, cal: Calibration, arrays: xr.Dataset,
                       problem: PolicyProblem, psol: PolicySolution, timings: dict
                       ) -> xr.Dataset:
    """The chosen policy on fresh paths (``[optimization.evaluation]``): estimates with
    confidence intervals (:mod:`models.optimize.evaluate`), each rounded to its interval's
    precision, and the fresh paths' mean transfers and draws by year."""
    ev = exp.optimization.evaluation
    n = problem.tree.n_paths
    n_fresh = max(ev.out_of_sample_factor * n, ev.min_out_of_sample_paths)
    t0 = time.perf_counter()
    spread = stochastic.calibrate_spread(arrays)
    fresh = setup_problem(cal, exp.optimization, fresh_population(
        exp, arrays, (OUT_OF_SAMPLE_BRANCH,), n_fresh, spread), problem.fit, _prices(problem),
        economy_delay_price=_delay_price(problem),
        retirement_distribution=problem.retirement_distribution)
    oos = out_of_sample(problem, psol, fresh, ev.confidence_level,
                        compare=exp.optimization.compute_vss_evpi)
    estimates = oos.estimates()
    timings["optimize_out_of_sample_s"] = round(time.perf_counter() - t0, 4)
    t1 = time.perf_counter()
    size = ev.replication_paths or n
    pairs = [replication_gap(problem, psol, setup_problem(
        cal, exp.optimization, fresh_population(exp, arrays, (REPLICATION_BRANCH, k), size,
                                                spread), problem.fit, _prices(problem),
        economy_delay_price=_delay_price(problem),
        retirement_distribution=problem.retirement_distribution))
             for k in range(ev.replications)]
    gap_note = None
    if len(pairs) >= 2:
        try:
            estimates["optimality_gap"] = gap_interval(pairs, ev.confidence_level)
        except ValueError as err:  # an SAA value above the candidate's cost: say so, go on
            gap_note = str(err)
    else:
        gap_note = gap_skipped_note(ev.replications)
    timings["optimize_replications_s"] = round(time.perf_counter() - t1, 4)
    value, low, high, count = [], [], [], []
    for est in (estimates.get(key) for key in STATISTICS.values()):
        if est is None:
            value.append(math.nan), low.append(math.nan), high.append(math.nan)
            count.append(0)
            continue
        rounded = est.rounded()
        value.append(rounded[0]), low.append(rounded[1]), high.append(rounded[2])
        count.append(est.n)
    years = problem.opt_years
    return xr.Dataset({
        "oos_value": ("statistic", value),
        "oos_low": ("statistic", low),
        "oos_high": ("statistic", high),
        "oos_samples": ("statistic", np.array(count, dtype=int)),
        "oos_confidence_level": ((), ev.confidence_level),
        "oos_paths": ((), int(n_fresh)),
        "oos_extra_transfer_mean_cny": ("year", oos.sp.transfer_cny.mean(axis=0)),
        "oos_reserve_draw_mean_cny": ("year", oos.sp.draw_cny.mean(axis=0)),
        "oos_excess_mean_cny": ("year", oos.sp.excess_cny.mean(axis=0)),
        "oos_rule_draws_cut": ((), int(oos.sp.draws_cut)),
        "oos_misplaced_in_sample": ((), int(oos.misplaced)),
        **({} if oos.prefund is None else {"oos_rule_prefund_share": ("year", oos.prefund)}),
    }, coords={"statistic": list(STATISTICS), "year": years},
        attrs={} if gap_note is None else {"opt_optimality_gap_skipped": gap_note})
