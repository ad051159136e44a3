"""OLG economy benchmark (issue 4): steady state, a 200-year transition, and the Monte Carlo
price step for N demographic paths, on the shipped China calibration.

Times (wall clock, this process):

* ``calibration_s``: the discount factor to the base-year K/Y (initial steady states);
* ``steady_state_s``: one initial steady state, median of 5 solves (target < 1 s);
* ``transition_200y_s``: the median transition over 200 years (target < 10 s);
* ``monte_carlo``: the median's full sequence-space Jacobian (``jacobian_s``), the
  first-order price step for N paths (``price_step_s``, one chord step; ``price_step_2_s`` two
  steps), and the approximation error against exact solves on a sample of paths;
* ``elastic`` (issue 14): the steady state with elastic hours and the retirement choice
  (target <= 1 s) and the 200-year transition with labour-market clearing (target <= 10 s),
  wall and CPU seconds with the load average (the machine is shared: under load the CPU time
  is the fairer figure); each transition with the fake-news first Jacobian (the default) and
  with the finite-difference one it replaced (``..._finite_differences``). The preferences
  are the shipped calibrated ones (``calibration/china/economy.toml``; the discount factor
  re-calibrated to the base year as a run does, ``calibration_s``), with the retirement
  choice switched on for the ``..._choice`` cases (as ``experiments/options/
  retirement_choice.toml`` does; its taste scale from ``economy.toml``); ``transition_200y_hours_and_choice_
  illustrative`` keeps the earlier sessions' illustrative preferences, so their timings
  compare.

Not a test: run by hand or from ``make bench``.

Usage: python benchmarks/bench_economy.py results/bench_economy.json [--paths 1000]
       [--sample 10] [--jacobian-stride 1] [--only-elastic [--no-elastic-transition]
       [--no-finite-differences]]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.config import (  # noqa: E402
    StochasticDemographySettings,
    load_arrays,
    load_calibration,
)
from models.demography import mortality_rates, project_median, stochastic  # noqa: E402
from models.economy import (  # noqa: E402
    EconomyCalibration,
    Policy,
    base_year_economy,
    base_year_fit,
    calibrate_economy,
    economy_parameters,
    fit_table,
    initial_steady_state,
    linearize_median,
    monte_carlo_error,
    price_paths_monte_carlo,
    TransitionConvergenceError,
    solve_transition,
)
from models.pension import calibrate_base_year, retirement_schedule  # noqa: E402

CALIBRATION = ROOT / "calibration" / "china"


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def demographic_paths(arrays: xr.Dataset, n: int, seed: int = 0):
    """``n`` Monte Carlo paths (issue 3's engine, float64): population and death rates."""
    settings = StochasticDemographySettings(paths=n, chunk_size=n)
    spread = stochastic.calibrate_spread(arrays)
    inputs = stochastic.median_inputs(arrays, settings)
    chunk = next(stochastic.iter_path_chunks(inputs, spread, settings,
                                             np.random.SeedSequence(seed), dtype=np.float64))
    coords = dict(path=chunk.paths, year=inputs.years, age=inputs.ages, sex=["female", "male"])
    dims = ("path", "year", "age", "sex")
    pop = xr.DataArray(chunk.population, dims=dims, coords=coords)
    mx = xr.DataArray(np.exp(inputs.ax[None, None] + inputs.bx[None, None]
                             * chunk.k[:, :, None, :]), dims=dims, coords=coords)
    return pop, mx


#: The illustrative preferences the elastic economy was timed with before it was calibrated
#: (hours near 0.85 of full time at prime age, retirement spread over the flexible window):
#: kept as one case so this bench's timings compare with the earlier sessions'.
ILLUSTRATIVE_LABOUR = dict(hours_disutility=5.0, participation_disutility=1.5,
                           retirement_choice=True, retirement_taste_scale=0.5)


def calibrated_elastic(before, pop, mx, contribution_index: float) -> tuple:
    """The shipped calibrated elastic preferences (the retirement choice as the calibration
    ships it, off) with the discount factor and the legacy pension factor calibrated to the
    base year as a run does (:func:`models.coupling.economy_context`):
    ``(parameters, seconds)``. ``contribution_index`` from the pension accounts' base-year
    fit."""
    cal = load_calibration(CALIBRATION)
    params = economy_parameters(cal.economy, cal.pension, cal.finances, contribution_index)
    return timed(calibrate_economy, params, cal.economy, before, pop, mx)


def timed_cpu(fn, *args, **kwargs):
    """``(result, wall s, CPU s of this process)``: under load the CPU time is the fairer
    figure (the machine is shared); both are reported with the load average."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0, time.process_time() - c0


def bench_elastic_transition(q, before, law, pop, mx, base, jacobian: str = "fake_news"
                             ) -> dict:
    """One 200-year transition with labour-market clearing (labour, the covered wage and the
    tax among the Newton unknowns), its first elastic Jacobian ``jacobian`` (the fake-news
    one, the default, or the finite-difference one it replaced): wall and CPU times with the
    load average, quasi-Newton iterations, Jacobians and the labour market's largest
    residual."""
    bq = base_year_economy(q, before, pop, mx, base)
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        tr = solve_transition(q, pop, mx, law, bq.initial, horizon=200, jacobian=jacobian)
    except TransitionConvergenceError as exc:
        return {"converged": False, "error": str(exc)[:400],
                "s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}
    return {
        "converged": True, "s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
        "load_average_1min_before": load, "load_average_1min_after": os.getloadavg()[0],
        "iterations": int(tr.attrs["iterations"]),
        "jacobian_evaluations": int(tr.attrs["jacobian_evaluations"]),
        "newton_max_residual": [float(x) for x in tr["newton_max_residual"].values],
        "labour_market_residual": float(np.abs(tr["labour_market_residual"]).max()),
        "max_residual": float(tr.attrs["max_residual"]),
    }


def bench_elastic(params, before, law, pop, mx, base, contribution_index: float,
                  transition: bool = True, finite_differences: bool = True) -> dict:
    """Elastic hours and the retirement choice (issue 14), calibrated preferences
    (:func:`calibrated_elastic`): the steady state (hours, choice, the covered wage and the
    tax solved with the prices; median of 3) and the 200-year transition in general
    equilibrium (labour-market clearing), with their optimality residuals; the transition
    with hours and the choice also at :data:`ILLUSTRATIVE_LABOUR`. ``transition=False`` skips
    the transitions, ``finite_differences=False`` the finite-difference first Jacobians
    (minutes on a loaded machine)."""
    hours_only, calibration_s = calibrated_elastic(before, pop, mx, contribution_index)
    q = hours_only.replace(retirement_choice=True)
    runs = [timed_cpu(initial_steady_state, q, law, pop, mx, base + 40) for _ in range(3)]
    ss = runs[-1][0]
    out = {
        "preferences": {"calibration": str(CALIBRATION.relative_to(ROOT)),
                        "hours_disutility": q.hours_disutility,
                        "participation_disutility": q.participation_disutility,
                        "frisch_elasticity": q.frisch_elasticity,
                        "retirement_taste_scale": q.retirement_taste_scale,
                        "discount_factor": q.discount_factor},
        "calibration_s": calibration_s,
        "load_average_1min_before": os.getloadavg()[0],
        "steady_state_s": float(np.median([r[1] for r in runs])),
        "steady_state_cpu_s": float(np.median([r[2] for r in runs])),
        "steady_state_residual": ss.residual,
        "steady_state_kuhn_tucker": float(np.max(np.abs(ss.choice.kt))),
        "steady_state_mean_retirement_age_employees":
            ss.aggregates["mean_retirement_age_employees"],
    }
    if transition:
        jacobians = (("fake_news", ""),) + ((("finite_differences", "_finite_differences"),)
                                            if finite_differences else ())
        for label, prefs in (("hours", hours_only), ("hours_and_choice", q)):
            for jac, suffix in jacobians:
                out[f"transition_200y_{label}{suffix}"] = bench_elastic_transition(
                    prefs, before, law, pop, mx, base, jacobian=jac)
        out["transition_200y_hours_and_choice_illustrative"] = bench_elastic_transition(
            params.replace(**ILLUSTRATIVE_LABOUR), before, law, pop, mx, base)
        out["illustrative_preferences"] = ILLUSTRATIVE_LABOUR
    out["load_average_1min_after"] = os.getloadavg()[0]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--paths", type=int, default=1000)
    ap.add_argument("--sample", type=int, default=10)
    ap.add_argument("--jacobian-stride", type=int, default=1)
    ap.add_argument("--only-elastic", action="store_true",
                    help="only the elastic steady state and transition (issue 14)")
    ap.add_argument("--no-elastic-transition", action="store_true",
                    help="elastic case: the steady state only")
    ap.add_argument("--no-finite-differences", action="store_true",
                    help="elastic case: the fake-news first Jacobian only")
    args = ap.parse_args(argv)

    cal = load_calibration(CALIBRATION)
    arrays = load_arrays(cal, CALIBRATION)
    with (CALIBRATION / "economy.toml").open("rb") as fh:
        econ = getattr(cal, "economy", None) or EconomyCalibration.model_validate(tomllib.load(fh))
    demo = project_median(arrays)
    pop = demo["population"]
    mx = mortality_rates(arrays["lc_ax"], arrays["lc_bx"], arrays["lc_kt"])
    base = econ.targets.year.value
    schedule = retirement_schedule(pop["year"].values[:1], pop["age"].values, "law_2024",
                                   cal.pension)
    fit = calibrate_base_year(pop, schedule, cal.pension, cal.finances)
    params0 = economy_parameters(econ, cal.pension, cal.finances, fit.contribution_index)
    months = econ.government.fund_months.value
    before = Policy.from_calibration(cal.pension, "pre_2024", months)
    law = Policy.from_calibration(cal.pension, "law_2024", months)

    report: dict = {"paths": args.paths, "jacobian_stride": args.jacobian_stride}
    params, report["calibration_s"] = timed(calibrate_economy, params0, econ, before, pop, mx)
    if args.only_elastic:
        report["elastic"] = bench_elastic(params, before, law, pop, mx, base,
                                          fit.contribution_index,
                                          transition=not args.no_elastic_transition,
                                          finite_differences=not args.no_finite_differences)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=2))
        return 0
    report["discount_factor"] = params.discount_factor
    report["legacy_pension_factor"] = params.legacy_pension_factor
    times = []
    for _ in range(5):
        _, t = timed(initial_steady_state, params, before, pop, mx, base)
        times.append(t)
    report["steady_state_s"] = float(np.median(times))
    b = base_year_economy(params, before, pop, mx, base)
    tr, report["transition_200y_s"] = timed(solve_transition, params, pop, mx, law, b.initial,
                                            horizon=200)
    report["transition_iterations"] = int(tr.attrs["iterations"])
    report["transition_residual_history"] = [float(x) for x in tr["newton_max_residual"].values]
    fitds = base_year_fit(tr, econ, cal.finances.wages.average_wage_cny.value,
                          cal.pension.targets.insured_workers.value,
                          cal.pension.targets.retirees.value)
    report["base_year_fit"] = {str(t): {"model": float(fitds["fit_model"].sel(target=t)),
                                        "target": float(fitds["fit_target"].sel(target=t))}
                               for t in fitds["target"].values}
    print(fit_table(fitds), flush=True)
    report["elastic"] = bench_elastic(params, before, law, pop, mx, base,
                                      fit.contribution_index,
                                      finite_differences=not args.no_finite_differences)

    (paths_pop, paths_mx), t_draw = timed(demographic_paths, arrays, args.paths)
    lin, t_lin = timed(linearize_median, params, pop, mx, law, b.initial, horizon=200,
                       jacobian_stride=args.jacobian_stride, transition=tr)
    mc, t_mc = timed(price_paths_monte_carlo, lin, paths_pop, paths_mx)
    sub = dict(path=slice(0, min(args.paths, 100)))
    _, t_mc2 = timed(price_paths_monte_carlo, lin, paths_pop.isel(**sub), paths_mx.isel(**sub),
                     steps=2)
    err1 = monte_carlo_error(lin, paths_pop, paths_mx, sample=args.sample, steps=1)
    err2 = monte_carlo_error(lin, paths_pop, paths_mx, sample=args.sample, steps=2)
    r_years = [2030, 2050, 2075, 2100]
    bands = mc["interest_rate"].sel(year=r_years).quantile([0.1, 0.5, 0.9], "path")
    report["monte_carlo"] = {
        "demographic_paths_s": t_draw,
        "jacobian_s": lin.timings["jacobian_s"],
        "median_resolve_s": lin.timings["median_solve_s"],
        "price_step_s": t_mc,
        "price_step_s_per_path": t_mc / args.paths,
        "price_step_2_s_per_path": t_mc2 / min(args.paths, 100),
        "exact_s_per_path": err1.attrs["exact_s_per_path"],
        "interest_rate_p10_p50_p90": {str(y): [float(v) for v in bands.sel(year=y).values]
                                      for y in r_years},
        "error_sample": int(err1.sizes["path"]),
    }
    for steps, err in ((1, err1), (2, err2)):
        report["monte_carlo"][f"error_steps_{steps}"] = {
            name: {"max": float(err[name].max()), "mean": float(err[name].mean())}
            for name in err.data_vars}
    report["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "transition_residual_history"},
                     indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
