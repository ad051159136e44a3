"""Optimizer benchmark (issues 5, 15): the inner problem's solve by each method.

Cases: two-stage with N paths (default 1,000) and a five-stage tree with three branches per
stage (81 leaves), base year to 2100, on the study's Monte Carlo demographic paths (seeded).
One inner solve each (retirement delays fixed at the law): the outer search repeats it; each
by the L-shaped decomposition (the default), the extensive form from arrays and, up to
``--pyomo-max-paths``, the Pyomo reference, with the relative difference of the objectives.

Cut groups (how the decomposition was chosen): on the 2 × 2 × 2 tree with ``--cut-paths``
paths (default 200) and a first stage that matters (cheap transfers, 1.02 per yuan, and no
reserve: the rates trade against every path's transfers), the decomposition with one
aggregated cut, one cut per leaf node and one per chunk of paths, to the default tolerance or
``--cut-max-iterations`` iterations: iterations, final gap, time.
The multi-stage search (issue 16, item 5; with ``--search-paths N``, off by default): the
settings of ``experiments/optimal_multi_stage.toml`` (2 × 2 × 2 tree, affine reserve-draw rule)
on N Monte Carlo paths of its seed, without the economy pairing: a cold inner solve with the
draw rule's rows added lazily and with the initial rows (time, objectives), warm move solves
and the polish with its certificate (solves, moves taken, whether it passed, time), with
``--search-max-solves`` solves at most.
The frontier's cold solves (with ``--frontier-paths N``, off by default): the ε-constraint
frontier of one delay candidate (the law's delays) of ``optimal_multi_stage``'s LP on N paths,
3 levels, by HiGHS's interior point method (``frontier.COLD_SOLVER``, the default) and by its
simplex: time, points and the largest relative difference of the points' objectives.
Writes JSON to the path given as the first argument.

Usage: python benchmarks/bench_optimize.py results/bench_optimize.json [--paths 1000]
       [--search-paths 50 [--search-max-solves 4000] [--search-only]]
       [--frontier-paths 200 [--frontier-only]]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]


def monte_carlo_populations(arrays, n_paths: int, seed: int) -> xr.DataArray:
    """The study's own Monte Carlo demography (calibrated Lee–Carter and TFR spread), float64."""
    from models.config import SEXES, StochasticDemographySettings
    from models.demography import stochastic

    settings = StochasticDemographySettings(paths=n_paths, chunk_size=min(n_paths, 1000))
    spread = stochastic.calibrate_spread(arrays)
    inputs = stochastic.median_inputs(arrays, settings)
    chunks = list(stochastic.iter_path_chunks(inputs, spread, settings,
                                              np.random.SeedSequence(seed), dtype=np.float64))
    population = np.concatenate([c.population for c in chunks])
    return xr.DataArray(population, dims=("path", "year", "age", "sex"),
                        coords={"path": np.arange(n_paths), "year": arrays["year"].values,
                                "age": arrays["age"].values, "sex": list(SEXES)},
                        name="population")


def run_case(name, cal, settings, population, fit, pyomo: bool) -> dict:
    from models.optimize.lp import solve_extensive
    from models.optimize.solve import scenario_data, setup_problem, solve_inner, solve_inner_pyomo

    t0 = time.perf_counter()
    problem = setup_problem(cal, settings, population, fit)
    setup_s = time.perf_counter() - t0
    knots = np.zeros((problem.tree.n_nodes, len(problem.knot_yrs), 3))
    t1 = time.perf_counter()
    data = scenario_data(problem, knots)
    data_s = time.perf_counter() - t1
    out = {"case": name, "paths": problem.tree.n_paths, "nodes": problem.tree.n_nodes,
           "years": int(problem.opt_mask.sum()), "setup_s": round(setup_s, 2),
           "scenario_data_s": round(data_s, 2), "methods": {}}
    solvers = {"decomposition": solve_inner, "extensive_arrays": solve_extensive}
    if pyomo:
        solvers["pyomo"] = solve_inner_pyomo
    for method, solve in solvers.items():
        t2 = time.perf_counter()
        sol = solve(data)
        out["methods"][method] = {
            "total_s": round(time.perf_counter() - t2, 2), "build_s": round(sol.build_s, 2),
            "solve_s": round(sol.solve_s, 2), "status": sol.status,
            "objective_trillion_yuan": sol.objective, "iterations": sol.iterations,
            "gap_rel": sol.gap_rel}
    ref = out["methods"]["extensive_arrays"]["objective_trillion_yuan"]
    for m in out["methods"].values():
        m["rel_diff_to_extensive"] = abs(m["objective_trillion_yuan"] - ref) / abs(ref)
    print(json.dumps(out), flush=True)
    return out


def cut_groups_case(cal, population, fit, max_iterations: int) -> dict:
    """The decomposition's cut groups compared on a first stage that matters (docstring)."""
    from models.config import OptimizationSettings
    from models.optimize.decompose import solve_decomposed
    from models.optimize.solve import scenario_data, setup_problem

    settings = OptimizationSettings.model_validate(
        {"tree": {"branching": [2, 2, 2]}, "objective": {"extra_transfer": 1.02},
         "reserve": {"enabled": False}})
    problem = setup_problem(cal, settings, population, fit)
    data = scenario_data(problem, np.zeros((problem.tree.n_nodes, len(problem.knot_yrs), 3)))
    out = {"case": "cut groups, 2x2x2 tree, transfers at 1.02, no reserve",
           "paths": data.n_paths, "tolerance": settings.solver.tolerance,
           "max_iterations": max_iterations, "groups": {}}
    for groups in ("aggregated", "leaf", "chunk"):
        t0 = time.perf_counter()
        sol = solve_decomposed(data, cut_groups=groups, max_iterations=max_iterations)
        out["groups"][groups] = {"seconds": round(time.perf_counter() - t0, 2),
                                 "iterations": sol.iterations, "gap_rel": sol.gap_rel,
                                 "objective_trillion_yuan": sol.objective}
    print(json.dumps(out), flush=True)
    return out


def search_case(arrays, fit, n_paths: int, max_solves: int) -> dict:
    """The multi-stage experiment's inner solves and its search (module docstring)."""
    from models.config import load_experiment
    from models.optimize import search
    from models.optimize.decompose import solve_decomposed
    from models.optimize.solve import optimize_policy, setup_problem

    exp, cal, _ = load_experiment(ROOT / "experiments" / "optimal_multi_stage.toml")
    settings = exp.optimization.model_copy(update={"search": exp.optimization.search
                                                   .model_copy(update={"max_solves": max_solves})})
    population = monte_carlo_populations(arrays, n_paths, seed=exp.seed)
    problem = setup_problem(cal, settings, population, fit)
    t0 = time.perf_counter()
    psol = optimize_policy(problem)
    out = {"case": "multi-stage search (optimal_multi_stage settings, no pairing)",
           "paths": n_paths, "dual_gradient_search_s": round(time.perf_counter() - t0, 2),
           "cold": {}}
    for rows in ("lazy", "initial"):
        t1 = time.perf_counter()
        sol = solve_decomposed(psol.data, rule_rows=rows)
        out["cold"][rows] = {"seconds": round(time.perf_counter() - t1, 3),
                             "iterations": sol.iterations,
                             "objective_trillion_yuan": sol.objective}
    solves = []
    plain = search.solve_move

    def timed(problem_, psol_, levers):
        t2 = time.perf_counter()
        result = plain(problem_, psol_, levers)
        solves.append(time.perf_counter() - t2)
        return result

    search.solve_move = timed
    try:
        t3 = time.perf_counter()
        polished, certificate = search.polish_and_certify(problem, psol)
        seconds = time.perf_counter() - t3
    finally:
        search.solve_move = plain
    within = sum(m.levers is not None for m in certificate.moves)
    out["search"] = {
        "seconds": round(seconds, 1), "solves": len(solves),
        "solve_s_mean": round(float(np.mean(solves)), 3) if solves else None,
        "solve_s_median": round(float(np.median(solves)), 3) if solves else None,
        "moves_taken": certificate.polish_moves, "moves": len(certificate.moves),
        "moves_within_limits": within, "unsolved": certificate.n_unsolved,
        "improving": int(certificate.improving.sum()), "passed": certificate.passed,
        "solves_per_move_taken": round((len(solves) - within) / certificate.polish_moves, 1)
        if certificate.polish_moves else None,
        "objective_before": psol.inner.objective, "objective_after": polished.inner.objective}
    print(json.dumps(out), flush=True)
    return out


def frontier_case(arrays, fit, n_paths: int) -> dict:
    """The frontier's cold solves by solver (module docstring)."""
    from models.config import load_experiment
    from models.optimize import frontier
    from models.optimize.solve import scenario_data, setup_problem

    exp, cal, _ = load_experiment(ROOT / "experiments" / "optimal_multi_stage.toml")
    population = monte_carlo_populations(arrays, n_paths, seed=exp.seed)
    problem = setup_problem(cal, exp.optimization, population, fit)
    data = scenario_data(problem, np.zeros((problem.tree.n_nodes, len(problem.knot_yrs), 3)))
    out = {"case": "frontier of one delay candidate (optimal_multi_stage settings, no pairing)",
           "paths": n_paths, "levels": 3, "solvers": {}}
    default, points = frontier.COLD_SOLVER, {}
    try:
        for solver in (default, "simplex"):
            frontier.COLD_SOLVER = solver
            t0 = time.perf_counter()
            found = frontier.epsilon_frontier(data, beta=0.9, levels=3)
            out["solvers"][solver] = {"seconds": round(time.perf_counter() - t0, 1),
                                      "points": len(found)}
            points[solver] = np.array([[p[k] for k in frontier.OBJECTIVES] for p in found])
    finally:
        frontier.COLD_SOLVER = default
    if points[default].shape == points["simplex"].shape:
        out["max_rel_diff_objectives"] = float(np.max(
            np.abs(points[default] - points["simplex"]) / np.abs(points["simplex"])))
    print(json.dumps(out), flush=True)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--pyomo-max-paths", type=int, default=1000)
    parser.add_argument("--cut-paths", type=int, default=200)
    parser.add_argument("--cut-max-iterations", type=int, default=100)
    parser.add_argument("--search-paths", type=int, default=0)
    parser.add_argument("--search-max-solves", type=int, default=4000)
    parser.add_argument("--search-only", action="store_true")
    parser.add_argument("--frontier-paths", type=int, default=0)
    parser.add_argument("--frontier-only", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from models.config import OptimizationSettings, load_arrays, load_calibration
    from models.demography import project_median
    from models.pension import calibrate_base_year, retirement_schedule

    cal = load_calibration(ROOT / "calibration" / "china")
    arrays = load_arrays(cal, ROOT / "calibration" / "china")
    median = project_median(arrays)["population"]
    sched = retirement_schedule(median["year"].values, median["age"].values, "law_2024",
                                cal.pension)
    fit = calibrate_base_year(median, sched, cal.pension, cal.finances)
    if args.search_only or args.frontier_only:
        result = {"benchmark": "optimizer multi-stage search" if args.search_only
                  else "optimizer frontier",
                  "cases": [search_case(arrays, fit, args.search_paths,
                                        args.search_max_solves) if args.search_only
                            else frontier_case(arrays, fit, args.frontier_paths)]}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        return 0
    t0 = time.perf_counter()
    population = monte_carlo_populations(arrays, args.paths, seed=20261125)
    print(f"populations: {args.paths} paths in {time.perf_counter() - t0:.1f} s", flush=True)
    pyomo = args.paths <= args.pyomo_max_paths
    cases = [
        run_case("two-stage", cal, OptimizationSettings(), population, fit, pyomo),
        run_case("five-stage, 3 branches", cal, OptimizationSettings.model_validate(
            {"tree": {"branching": [3, 3, 3, 3]}}), population, fit, pyomo),
        cut_groups_case(cal, population.isel(path=slice(0, args.cut_paths)), fit,
                        args.cut_max_iterations),
    ] + ([search_case(arrays, fit, args.search_paths, args.search_max_solves)]
         if args.search_paths else []) + (
        [frontier_case(arrays, fit, args.frontier_paths)] if args.frontier_paths else [])
    result = {"benchmark": "optimizer inner problem", "cases": cases,
              "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
              "machine": {"platform": platform.platform(), "python": platform.python_version()}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
