"""Scaling table (issue 7): wall time and peak memory against the number of Monte Carlo paths.

Rows, for N in ``--paths`` (default 1,000, 5,000, 10,000, 20,000):

* ``demography``: draws + cohort-component projection of N paths (float32, per-path
  summaries and snapshot years kept, as a run beyond its storage limit), workers 1 and 2;
* ``accounts``: the Monte Carlo stage of a run (:func:`models.pipeline.run.simulate`, economy
  off, parameter uncertainty off: the drawn pension blocks are a cost that stops growing at
  ``uncertainty.parameter_sets``, measured by ``bench_monte_carlo.py``): demography, then the
  pension accounts on every path under both retirement regimes,
  workers 1 and 2 (chunks of ``N/8`` paths, 25 to 1,000, the same for both worker counts so the
  numbers are identical);
* ``inputs``: the optimizer's inner problem for N paths (populations at float64, tree, the
  scenario data), written to ``.npz`` for the two rows below; the population is filled chunk
  by chunk into one array, and what is made of it per path (the category population, the
  flows, the tree's indicators, GDP) is built per block of
  :data:`models.optimize.data.CATEGORY_BLOCK_PATHS` paths, so the peak is about the
  population plus one block's temporaries;
* ``extensive_form``: the two-stage inner problem (pooled-rate path as the first stage, per
  path recourse) built by Pyomo and solved by HiGHS in one process
  (:func:`models.optimize.solve.solve_inner_pyomo`, the reference);
* ``extensive_arrays``: the same extensive form assembled from arrays and solved by HiGHS
  (:func:`models.optimize.lp.solve_extensive`);
* ``decomposition``: the same problem by L-shaped decomposition
  (:func:`models.optimize.decompose.solve_decomposed`, the default method), the recourse
  chunks on 1 and 2 worker processes; iterations and the final relative gap beside the time;
* ``decomposition_2x2x2``, ``decomposition_3x3x3x3``: the multi-stage trees (branching 2 or 3
  at every stage, stages every five years from 2026) at ``--tree-paths`` paths (10,000),
  1 and 2 workers;
* ``lshaped_mpi``: the decomposition with its recourse chunks dealt over 1 and 2 MPI ranks
  (``mpiexec -n R python -m models.optimize.mpisppy_adapter --method lshaped --inputs``);
* ``ph``: the same problem by progressive hedging in mpi-sppy on 1 and 2 MPI ranks
  (``mpiexec -n R python -m models.optimize.mpisppy_adapter --inputs``), stopped at
  ``--ph-time-limit`` seconds of PH (its gap then is part of the row).

Each run is its own process (``mpiexec`` and its ranks for PH), started by this script, timed
from outside (``wall_s``, interpreter start and imports included) and, for the stage itself,
from inside (``compute_s``). Memory, two measures:
``peak_tree_mib`` is the peak over the run of the summed proportional set size (PSS: resident
pages, shared ones split among their sharers) of the run's whole process tree (the workers of
a pool, the MPI ranks), sampled every 0.1 s from ``/proc``;
``max_process_mib`` is the largest single process's peak resident set, exact, from
``os.wait4``'s ``ru_maxrss`` (the child and the descendants it waited for).

Budgets: a run is stopped at ``--budget-s`` seconds (row "skipped: over the budget", and the
larger sizes of that row are skipped); a size is skipped beforehand when the previous size's
time scaled by ``(N/N_prev)^e`` (``e`` = 1 for the Monte Carlo rows, 2 for the extensive form,
whose solve time grows about as N^1.6-N^2, and for the extensive form from arrays)
exceeds ``--budget-s``, or its memory scaled
linearly exceeds ``--memory-gib``. PH runs up to ``--ph-max-paths`` paths.

Defaults keep ``make bench`` within about 30 minutes on 2 cores; ``BENCH_BUDGET_S`` (the
environment, from ``make bench BENCH_BUDGET_S=...``) sets ``--budget-s``. ``--solvers``
picks the optimizer rows, ``--problem`` the inner problem (:data:`PROBLEMS`, at the regime's
delays): ``trade`` (default) has a first stage that matters — transfers at 1.02 a yuan
against contributions at 1, both discounted at the fixed rate, no reserve, no fiscal
capacity, so the pooled rates trade against every path's transfers and the master needs
several cuts (``TRADE`` of ``tests/test_decomposition.py``; discounted at each path's interest
rate instead, every path wants the rate cap and the first evaluation settles it: measured at
1,000 paths, 1 iteration, against 5 with the fixed rate); ``study`` is the study's default settings, where every path
wants the rate cap from the start (with the calibration's fiscal capacity the excess's
penalty sets it at once), so the decomposition stops after one evaluation and measures no
cut loop; ``unlimited`` is the study's without the capacity. Every cell records the 1-minute load average when it started
(timings under load are inflated); the table lists every skipped cell with its reason, and
the growth exponent of the decomposition's stage time (least squares on log time against log
paths) is printed under it.

Usage: python benchmarks/bench_scaling.py results/bench/scaling.json [--paths 100,1000]
       [--budget-s 300] [--memory-gib 16] [--ph-max-paths 1000] [--ph-time-limit 120]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = (1000, 5000, 10000, 20000)
MIB = 2.0**20
PAGE = os.sysconf("SC_PAGE_SIZE")
SEED = 20261125


# ----------------------------------------------------------------------------- one run (child)
def _load():
    from models.config import load_arrays, load_calibration

    cal = load_calibration(ROOT / "calibration" / "china")
    return cal, load_arrays(cal, ROOT / "calibration" / "china")


def chunk_size(n_paths: int) -> int:
    """Paths per chunk of the Monte Carlo rows: N/8 within 25..1,000."""
    return max(25, min(1000, n_paths // 8))


def _pool_start(workers: int) -> float:
    """Start the worker processes (the forkserver imports the Monte Carlo modules once per
    process): timed apart from the stage, which a longer run amortises."""
    import operator

    from models.parallel import map_chunks

    t0 = time.perf_counter()
    if workers > 1:
        list(map_chunks(operator.mul, range(workers), workers, 1))
    return time.perf_counter() - t0


def run_demography(spec: dict) -> dict:
    import numpy as np

    from models.config import StochasticDemographySettings
    from models.demography import stochastic as st

    cal, arrays = _load()
    n, workers = spec["paths"], spec["workers"]
    settings = StochasticDemographySettings(paths=n, chunk_size=chunk_size(n))
    spread = st.calibrate_spread(arrays)
    inputs = st.median_inputs(arrays, settings)
    pool_s = _pool_start(workers)
    t0 = time.perf_counter()
    total = np.empty((n, len(inputs.years)))
    snapshot = np.empty((n, 5, len(inputs.ages), 2), np.float32)
    snap = [0] + [int(np.searchsorted(inputs.years, y)) for y in (2035, 2050, 2075, 2100)]
    for chunk in st.iter_path_chunks(inputs, spread, settings, np.random.SeedSequence(SEED),
                                     workers=workers):
        rows = slice(int(chunk.paths[0]), int(chunk.paths[-1]) + 1)
        total[rows] = st.population_indicators(chunk.population, inputs.ages)["total"]
        snapshot[rows] = chunk.population[:, snap]
    return {"compute_s": time.perf_counter() - t0, "pool_start_s": pool_s,
            "chunk_size": settings.chunk_size}


def run_accounts(spec: dict) -> dict:
    from models.config import EconomySettings, Experiment, ParallelSettings
    from models.config import StochasticDemographySettings
    from models.pipeline import run

    cal, arrays = _load()
    n, workers = spec["paths"], spec["workers"]
    exp = Experiment(name="bench_scaling", calibration=str(ROOT / "calibration" / "china"),
                     seed=SEED, economy=EconomySettings(enabled=False),
                     demography=StochasticDemographySettings(paths=n, chunk_size=chunk_size(n)),
                     parallel=ParallelSettings(workers=workers),
                     uncertainty={"parameters": False})
    pool_s = _pool_start(workers)
    timings: dict = {}
    t0 = time.perf_counter()
    ds = run.simulate(exp, cal, arrays, timings)
    return {"compute_s": time.perf_counter() - t0, "pool_start_s": pool_s,
            "monte_carlo_s": timings["monte_carlo_s"],
            "accounts_cpu_s": timings["monte_carlo_accounts_s"],
            "chunk_size": exp.demography.chunk_size, "regimes": int(ds.sizes["regime"])}


def run_inputs(spec: dict) -> dict:
    """Populations (float64), tree and scenario data of the two-stage inner problem -> npz."""
    import numpy as np
    import xarray as xr

    from models.config import CATEGORIES, SEXES, OptimizationSettings
    from models.config import StochasticDemographySettings
    from models.demography import project_median
    from models.demography import stochastic as st
    from models.optimize.mpisppy_adapter import save_inputs
    from dataclasses import replace

    from models.optimize.solve import observable_indicator, scenario_data, setup_problem
    from models.optimize.tree import build_tree
    from models.pension import calibrate_base_year, retirement_schedule

    cal, arrays = _load()
    n = spec["paths"]
    t0 = time.perf_counter()
    median = project_median(arrays)["population"]
    schedule = retirement_schedule(median["year"].values, median["age"].values, "law_2024",
                                   cal.pension)
    fit = calibrate_base_year(median, schedule,
                              cal.pension, cal.finances)
    settings = StochasticDemographySettings(paths=n, chunk_size=min(n, 1000))
    values = None  # every chunk written into one array (no list of chunks beside it)
    for c in st.iter_path_chunks(st.median_inputs(arrays, settings),
                                 st.calibrate_spread(arrays), settings,
                                 np.random.SeedSequence(SEED), dtype=np.float64):
        if values is None:
            values = np.empty((n,) + c.population.shape[1:])
        values[int(c.paths[0]):int(c.paths[-1]) + 1] = c.population
    population = xr.DataArray(values, dims=("path", "year", "age", "sex"),
                              coords={"path": np.arange(n), "year": arrays["year"].values,
                                      "age": arrays["age"].values, "sex": list(SEXES)})
    settings = OptimizationSettings.model_validate(PROBLEMS[spec["problem"]])
    problem = setup_problem(cal, settings, population, fit)
    data = scenario_data(problem, np.zeros((problem.tree.n_nodes, len(problem.knot_yrs),
                                            len(CATEGORIES))))
    save_inputs(spec["npz"], data, problem.tree)
    # the trees on the same paths: at the regime's delays every leaf has the same flows, so
    # only the grouping changes (the study's rule: ranked by the old-age dependency ratio)
    observable = observable_indicator(population, settings.tree.observable)
    for name, branching in TREES.items():
        if spec.get("trees"):
            stage_years = (settings.tree.first_decision_year
                           + settings.tree.stage_every_years * np.arange(len(branching) + 1))
            tree = build_tree(observable, population["year"].values, stage_years, branching)
            save_inputs(spec["npz"].replace(".npz", f"_{name}.npz"),
                        replace(data, node_of_year=tree.node_of_path_year(data.years),
                                probability=tree.probability), tree)
    return {"compute_s": time.perf_counter() - t0, "nodes": int(problem.tree.n_nodes),
            "years": int(problem.opt_mask.sum())}


def run_extensive_form(spec: dict) -> dict:
    from models.optimize.mpisppy_adapter import load_inputs
    from models.optimize.solve import solve_inner_pyomo

    data, _ = load_inputs(spec["npz"])
    t0 = time.perf_counter()
    sol = solve_inner_pyomo(data)
    return {"compute_s": time.perf_counter() - t0, "build_s": sol.build_s,
            "solve_s": sol.solve_s, "status": sol.status,
            "objective_trillion_cny": sol.objective,
            "threads": data.settings.solver.threads}


def run_extensive_arrays(spec: dict) -> dict:
    from models.optimize.lp import solve_extensive
    from models.optimize.mpisppy_adapter import load_inputs

    data, _ = load_inputs(spec["npz"])
    t0 = time.perf_counter()
    sol = solve_extensive(data)
    return {"compute_s": time.perf_counter() - t0, "build_s": sol.build_s,
            "solve_s": sol.solve_s, "status": sol.status,
            "objective_trillion_cny": sol.objective, "threads": data.settings.solver.threads}


def run_decomposition(spec: dict) -> dict:
    import numpy as np

    from models.optimize import decompose
    from models.optimize.mpisppy_adapter import load_inputs
    from models.parallel import map_chunks

    data, tree = load_inputs(spec["npz"])
    workers = spec["workers"]
    t0 = time.perf_counter()
    if workers > 1:  # start the pool (the forkserver imports the chunk's module once)
        one = decompose.chunk_item(data, np.array([0]))
        warm = [(one, np.full((1, len(data.years)), data.pooled_rate_before), None, False)]
        list(map_chunks(decompose.solve_chunk, warm * workers, workers))
    pool_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sol = decompose.solve_decomposed(data, workers=workers)
    return {"compute_s": time.perf_counter() - t0, "pool_start_s": pool_s,
            "status": sol.status, "iterations": sol.iterations, "gap_rel": sol.gap_rel,
            "tolerance": data.settings.solver.tolerance,
            "objective_trillion_cny": sol.objective, "lower_bound_trillion_cny": sol.lower_bound,
            "nodes": int(tree.n_nodes), "chunk_paths": decompose.CHUNK_PATHS,
            "cut_groups": decompose.CUT_GROUPS}


RUNNERS = {"demography": run_demography, "accounts": run_accounts, "inputs": run_inputs,
           "extensive_form": run_extensive_form, "extensive_arrays": run_extensive_arrays,
           "decomposition": run_decomposition}
#: the inner problems (--problem): OptimizationSettings overrides
PROBLEMS = {"trade": {"objective": {"extra_transfer": 1.02, "discount": "fixed"},
                      "reserve": {"enabled": False}, "constraints": {"fiscal_capacity": False}},
            "study": {},
            "unlimited": {"constraints": {"fiscal_capacity": False}}}
#: the optimizer rows --solvers picks from
SOLVER_ROWS = ("extensive_form", "extensive_arrays", "decomposition", "trees", "lshaped_mpi",
               "ph")
#: multi-stage trees of the decomposition rows: name -> branching at every stage
TREES = {"2x2x2": [2, 2, 2], "3x3x3x3": [3, 3, 3, 3]}


# ----------------------------------------------------------------------------- measuring
def _memory(pid: int) -> int:
    """Proportional set size (bytes) of a process: its resident pages, each shared page
    divided among the processes sharing it (so a tree's sum counts a page once); the
    resident set where the kernel has no ``smaps_rollup``."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    with open(f"/proc/{pid}/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def _tree_rss(pid: int) -> int:
    """Summed memory (bytes, :func:`_memory`) of ``pid`` and all its descendants."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            total += _memory(p)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return total


def measure(cmd: list[str], budget_s: float, env: dict | None = None) -> dict:
    """Run ``cmd`` in its own session; wall time, sampled peak of the tree's summed RSS,
    ``wait4`` peak RSS; killed (its process group) at ``budget_s``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak, done = [0], threading.Event()
    lines: list[str] = []

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            done.wait(0.1)

    def read():
        for line in proc.stdout:
            lines.append(line)

    threads = [threading.Thread(target=sample, daemon=True),
               threading.Thread(target=read, daemon=True)]
    for t in threads:
        t.start()
    timer = threading.Timer(budget_s, lambda: os.killpg(proc.pid, signal.SIGKILL))
    timer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    timer.cancel()
    done.set()
    for t in threads:
        t.join(timeout=5)
    proc.returncode = os.waitstatus_to_exitcode(status)
    try:  # ranks or workers left behind by a killed run
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    return {"returncode": proc.returncode, "wall_s": wall, "timed_out": wall >= budget_s,
            "peak_tree_mib": peak[0] / MIB, "max_process_mib": usage.ru_maxrss * 1024 / MIB,
            "output_tail": "".join(lines[-15:])}


def mpi_launcher() -> tuple[list[str] | None, str]:
    """``mpiexec`` with the flags OpenMPI needs here, or None and the reason."""
    venv_mpiexec = Path(sys.executable).parent / "mpiexec"
    launcher = str(venv_mpiexec) if venv_mpiexec.exists() else shutil.which("mpiexec")
    if launcher is None:
        return None, "no mpiexec on PATH (make setup-mpi installs one)"
    check = subprocess.run([sys.executable, "-c", "import mpi4py, mpisppy"],
                           capture_output=True, text=True)
    if check.returncode != 0:
        return None, "mpi4py or mpi-sppy not importable (make setup-mpi installs them)"
    version = subprocess.run([launcher, "--version"], capture_output=True, text=True)
    flags = []
    if "open" in (version.stdout + version.stderr).lower():
        flags.append("--oversubscribe")
        if os.geteuid() == 0:
            flags.append("--allow-run-as-root")
    first = (version.stdout or version.stderr).strip().splitlines()
    return [launcher, *flags], first[0] if first else launcher


# ----------------------------------------------------------------------------- the table
class Row:
    """One row of the table (a stage and a worker/rank count) across sizes, with its skip rule."""

    def __init__(self, stage: str, workers: int, exponent: float, sizes, unit: str = "workers"):
        self.stage, self.workers, self.exponent, self.unit = stage, workers, exponent, unit
        self.sizes = list(sizes)
        self.last: dict | None = None  # last measured cell
        self.stopped: str | None = None

    def skip_reason(self, n: int, budget_s: float, memory_gib: float) -> str | None:
        if n not in self.sizes:
            return None
        if self.stopped:
            return self.stopped
        if self.last is None:
            return None
        ratio = n / self.last["paths"]
        fixed = self.last["wall_s"] - self.last["compute_s"]  # start-up, imports, loading
        time_s = fixed + self.last["compute_s"] * ratio**self.exponent
        if time_s > budget_s:
            return (f"skipped: predicted {time_s:.0f} s > budget {budget_s:.0f} s "
                    f"({self.last['compute_s']:.0f} s of stage at {self.last['paths']} paths "
                    f"x (N ratio)^{self.exponent:g})")
        mem = self.last["peak_tree_mib"] * ratio / 1024
        if mem > memory_gib:
            return f"skipped: predicted {mem:.1f} GiB > budget {memory_gib:g} GiB"
        return None


def _cell(row: Row, n: int, result: dict, detail: dict | None) -> dict:
    cell = {"stage": row.stage, row.unit: row.workers, "paths": n,
            "wall_s": round(result["wall_s"], 2),
            "peak_tree_mib": round(result["peak_tree_mib"], 1),
            "max_process_mib": round(result["max_process_mib"], 1)}
    if detail:
        cell.update({k: (round(v, 3) if isinstance(v, float) and k.endswith(("_s", "_mib"))
                         else v) for k, v in detail.items()})
    return cell


def run_child(row: Row, n: int, spec: dict, budget_s: float, tmp: Path,
              cmd: list[str] | None = None) -> dict:
    out = tmp / f"{row.stage}_{row.workers}_{n}.json"
    if cmd is None:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--run",
               json.dumps({**spec, "stage": row.stage, "paths": n, "workers": row.workers}),
               str(out)]
    else:
        cmd = [*cmd, "--out", str(out)]
    load = os.getloadavg()[0]
    res = measure(cmd, budget_s)
    if res["timed_out"]:
        row.stopped = f"skipped: over the budget of {budget_s:.0f} s at {n} paths"
        return {"stage": row.stage, row.unit: row.workers, "paths": n,
                "status": f"stopped at the budget ({budget_s:.0f} s)",
                "wall_s": round(res["wall_s"], 1), "peak_tree_mib": round(res["peak_tree_mib"], 1)}
    if res["returncode"] != 0 or not out.is_file():
        row.stopped = f"skipped: failed at {n} paths"
        return {"stage": row.stage, row.unit: row.workers, "paths": n,
                "status": f"failed (exit {res['returncode']})",
                "output_tail": res["output_tail"][-1500:]}
    detail = json.loads(out.read_text())
    cell = _cell(row, n, res, {**detail, "load_1min": load})
    cell["status"] = "ok"
    row.last = cell
    return cell


#: rows run under mpiexec: stage -> the adapter's --method
MPI_ROWS = {"ph": "ph", "lshaped_mpi": "lshaped"}


def run_mpi(r: Row, n: int, launcher: list[str], npz: Path, args, tmp: Path) -> dict:
    """One MPI row's run: ``mpiexec -n ranks`` on the adapter with the row's method."""
    cmd = [*launcher, "-n", str(r.workers), sys.executable, "-m",
           "models.optimize.mpisppy_adapter", "--inputs", str(npz),
           "--method", MPI_ROWS[r.stage]]
    if r.stage == "ph":
        cmd += ["--time-limit", str(args.ph_time_limit)]
    else:
        cmd += ["--max-iterations", "500"]  # the gap: the settings' tolerance, as in-process
    out = tmp / f"{r.stage}_{r.workers}_{n}.json"
    load = os.getloadavg()[0]
    res = measure([*cmd, "--out", str(out)], args.budget_s,
                  env={**os.environ, "OMP_NUM_THREADS": "1"})
    if res["returncode"] == 0 and out.is_file():
        raw = json.loads(out.read_text())
        detail = ph_detail(raw) if r.stage == "ph" else lshaped_detail(raw)
        cell = _cell(r, n, res, {**detail, "load_1min": load})
        cell["status"] = "ok"
        r.last = cell
        return cell
    r.stopped = f"skipped: failed or over the budget at {n} paths"
    return {"stage": r.stage, "ranks": r.workers, "paths": n,
            "status": ("stopped at the budget" if res["timed_out"] else
                       f"failed (exit {res['returncode']})"),
            "wall_s": round(res["wall_s"], 1), "output_tail": res["output_tail"][-1500:]}


def lshaped_detail(raw: dict) -> dict:
    return {"compute_s": raw["timings_s"]["lshaped"], "setup_s": raw["timings_s"]["setup"],
            "iterations": raw["iterations"], "gap_rel": raw["gap_rel"],
            "converged": raw["converged"], "objective_trillion_cny": raw["objective_trillion_cny"]}


def ph_detail(raw: dict) -> dict:
    return {"compute_s": raw["timings_s"]["ph"], "setup_s": raw["timings_s"]["setup"],
            "iterations": raw["iterations"], "gap_rel": raw["gap_rel"],
            "converged": raw["converged"], "cylinders": raw["cylinders"],
            "objective_trillion_cny": raw["objective_trillion_cny"],
            "outer_bound_trillion_cny": raw["outer_bound_trillion_cny"]}


def format_table(cells: list[dict], sizes: list[int]) -> str:
    """Rows stage x workers/ranks, columns sizes: 'wall s / peak MiB' or the skip reason."""
    keys: list[tuple] = []
    for c in cells:
        key = (c["stage"], "ranks" if "ranks" in c else "workers", c.get("ranks", c.get("workers")))
        if key not in keys:
            keys.append(key)
    grid = []
    for key in keys:
        row = []
        for n in sizes:
            c = next((c for c in cells if (c["stage"], "ranks" if "ranks" in c else "workers",
                                           c.get("ranks", c.get("workers"))) == key
                      and c["paths"] == n), None)
            if c is None:
                row.append("-")
            elif c.get("status") == "ok":
                extra = (f", {c['iterations']} it" if key[0] == "ph" else
                         f", {c['iterations']} it, gap {c['gap_rel']:.0e}"
                         if key[0].startswith(("decomposition", "lshaped")) else "")
                row.append(f"{c['wall_s']:.1f} ({c['compute_s']:.1f}) | "
                           f"{c['peak_tree_mib']:.0f}{extra}")
            else:
                row.append("skipped" if str(c.get("status", "")).startswith("skipped")
                           else str(c.get("status", "?"))[:40])
        grid.append((f"{key[0]} ({key[1]} {key[2]})", row))
    label_w = max([len(label) for label, _ in grid] + [5]) + 2
    width = max([len(v) for _, row in grid for v in row] + [8]) + 2
    lines = ["wall s (stage s) | peak MiB (PSS summed over the process tree); PH: iterations",
             f"{'stage':<{label_w}}" + "".join(f"{n:>{width},}" for n in sizes)]
    lines += [f"{label:<{label_w}}" + "".join(f"{v:>{width}}" for v in row)
              for label, row in grid]
    skipped = [c for c in cells if c.get("status") != "ok"]
    if skipped:
        lines.append("not measured:")
        lines += [f"  {c['stage']} ({'ranks' if 'ranks' in c else 'workers'} "
                  f"{c.get('ranks', c.get('workers'))}), {c['paths']:,} paths: {c['status']}"
                  for c in skipped]
    loads = [c["load_1min"] for c in cells if "load_1min" in c]
    if loads:
        lines.append(f"load average (1 min) when the runs started: {min(loads):.1f}-"
                     f"{max(loads):.1f} on {os.cpu_count()} CPUs")
    for key, exponent in growth_exponents(cells).items():
        lines.append(f"growth of {key[0]} ({key[1]} {key[2]}): stage time ~ N^{exponent:.2f}")
    lines += cut_loop_lines(cells)
    return "\n".join(lines)


def cut_loop_lines(cells: list[dict]) -> list[str]:
    """What the decomposition cells timed: their range of cut iterations and final gaps
    against the tolerance, and a warning for every cell whose first evaluation settled the
    first stage (1 iteration: it timed the recourse solves, not the master's cut loop)."""
    done = [c for c in cells if c.get("status") == "ok" and "gap_rel" in c
            and c["stage"].startswith(("decomposition", "lshaped"))]
    if not done:
        return []
    its = [c["iterations"] for c in done]
    tolerances = sorted({c["tolerance"] for c in done if "tolerance" in c})
    lines = [f"L-shaped cut iterations {min(its)}-{max(its)}, final relative gap at most "
             f"{max(c['gap_rel'] for c in done):.1e}"
             + (f" (tolerance {', '.join(f'{t:g}' for t in tolerances)})" if tolerances
                else "")]
    lines += [f"warning: {c['stage']} ({'ranks' if 'ranks' in c else 'workers'} "
              f"{c.get('ranks', c.get('workers'))}), {c['paths']:,} paths settled its first "
              f"stage at the first evaluation (1 iteration): no cut loop was timed"
              for c in done if c["iterations"] <= 1]
    return lines


def growth_exponents(cells: list[dict]) -> dict:
    """Least-squares slope of log stage time on log paths, per two-stage solver row measured
    at two or more sizes (decomposition, lshaped_mpi, the extensive forms)."""
    out = {}
    for stage in ("decomposition", "lshaped_mpi", "extensive_arrays", "extensive_form"):
        for unit in ("workers", "ranks"):
            for count in (1, 2):
                ok = [c for c in cells if c["stage"] == stage and c.get(unit) == count
                      and c.get("status") == "ok"]
                if len(ok) >= 2:
                    x = [math.log(c["paths"]) for c in ok]
                    y = [math.log(c["compute_s"]) for c in ok]
                    mx, my = sum(x) / len(x), sum(y) / len(y)
                    out[(stage, unit, count)] = (sum((a - mx) * (b - my) for a, b in zip(x, y))
                                                 / sum((a - mx) ** 2 for a in x))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "results" / "bench" / "scaling.json"))
    parser.add_argument("--run", help=argparse.SUPPRESS)  # internal: one measured run
    parser.add_argument("--paths", default=",".join(str(n) for n in SIZES))
    parser.add_argument("--budget-s", type=float,
                        default=float(os.environ.get("BENCH_BUDGET_S", "300")),
                        help="seconds per run (default: $BENCH_BUDGET_S or 300)")
    parser.add_argument("--memory-gib", type=float, default=16.0)
    parser.add_argument("--ph-max-paths", type=int, default=1000)
    parser.add_argument("--tree-paths", default="10000",
                        help="comma list of path counts for the multi-stage tree rows")
    parser.add_argument("--ph-time-limit", type=float, default=120.0,
                        help="seconds of PH per run (mpi-sppy's time limit)")
    parser.add_argument("--solvers", default=",".join(SOLVER_ROWS),
                        help="comma list of the optimizer rows: " + ", ".join(SOLVER_ROWS))
    parser.add_argument("--problem", choices=list(PROBLEMS), default="trade",
                        help="the inner problem (module docstring)")
    parser.add_argument("--only", default="demography,accounts,optimizer",
                        help="comma list of demography, accounts, optimizer")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.run:
        spec = json.loads(args.run)
        detail = RUNNERS[spec.get("runner", spec["stage"])](spec)
        Path(args.out).write_text(json.dumps(detail, default=float))
        return 0

    sizes = [int(s) for s in args.paths.split(",")]
    only = set(args.only.split(","))
    launcher, mpi_info = mpi_launcher()
    rows: list[Row] = []
    if "demography" in only:
        rows += [Row("demography", w, 1.0, sizes) for w in (1, 2)]
    if "accounts" in only:
        rows += [Row("accounts", w, 1.0, sizes) for w in (1, 2)]
    tree_sizes = [int(s) for s in args.tree_paths.split(",") if s]
    opt_rows: list[Row] = []
    if "optimizer" in only:
        solvers = set(args.solvers.split(","))
        opt_rows = [Row("inputs", 1, 1.0, sorted(set(sizes) | set(tree_sizes)))]
        opt_rows += [Row(name, 1, 2.0, sizes, unit="ranks")
                     for name in ("extensive_form", "extensive_arrays") if name in solvers]
        if "decomposition" in solvers:
            opt_rows += [Row("decomposition", w, 1.0, sizes) for w in (1, 2)]
        if "trees" in solvers:
            opt_rows += [Row(f"decomposition_{name}", w, 1.0, tree_sizes)
                         for name in TREES for w in (1, 2)]
        if "lshaped_mpi" in solvers:
            opt_rows += [Row("lshaped_mpi", r, 1.0, sizes, unit="ranks") for r in (1, 2)]
        if "ph" in solvers:
            opt_rows += [Row("ph", r, 1.0, [n for n in sizes if n <= args.ph_max_paths],
                             unit="ranks") for r in (1, 2)]
    cells: list[dict] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_scaling_") as tmpdir:
        tmp = Path(tmpdir)
        for n in sorted(set(sizes) | set(tree_sizes)):
            for row in rows:
                if n not in row.sizes:
                    continue
                reason = row.skip_reason(n, args.budget_s, args.memory_gib)
                cell = ({"stage": row.stage, row.unit: row.workers, "paths": n,
                         "status": reason} if reason else
                        run_child(row, n, {}, args.budget_s, tmp))
                cells.append(cell)
                print(json.dumps(cell), flush=True)
            if not opt_rows:
                continue
            inputs_row = opt_rows[0]
            solver_rows = [r for r in opt_rows[1:] if n in r.sizes]
            npz = tmp / f"inputs_{n}.npz"
            plan = {r: r.skip_reason(n, args.budget_s, args.memory_gib) for r in solver_rows}
            for r in solver_rows:
                if r.stage in MPI_ROWS and launcher is None:
                    plan[r] = f"skipped: {mpi_info}"
            wanted = [r for r in solver_rows if plan[r] is None]
            if wanted:
                reason = inputs_row.skip_reason(n, args.budget_s, args.memory_gib)
                spec = {"npz": str(npz), "trees": n in tree_sizes, "problem": args.problem}
                cell = ({"stage": "inputs", "workers": 1, "paths": n, "status": reason}
                        if reason else run_child(inputs_row, n, spec, args.budget_s, tmp))
                cells.append(cell)
                print(json.dumps(cell), flush=True)
                if cell.get("status") != "ok":
                    for r in wanted:
                        plan[r] = "skipped: no inputs at this size"
            for r in solver_rows:
                if plan[r] is not None:
                    cell = {"stage": r.stage, r.unit: r.workers, "paths": n, "status": plan[r]}
                elif r.stage.startswith("decomposition_"):
                    tree_npz = str(npz).replace(".npz", f"_{r.stage.split('_', 1)[1]}.npz")
                    cell = run_child(r, n, {"npz": tree_npz, "runner": "decomposition"},
                                     args.budget_s, tmp)
                elif r.stage not in MPI_ROWS:
                    cell = run_child(r, n, {"npz": str(npz)}, args.budget_s, tmp)
                else:
                    cell = run_mpi(r, n, launcher, npz, args, tmp)
                cells.append(cell)
                print(json.dumps(cell), flush=True)
    table = format_table(cells, sorted(set(sizes) | set(tree_sizes)))
    print(table)
    result = {
        "benchmark": "scaling: time and peak memory against Monte Carlo paths",
        "sizes": sizes, "budget_s": args.budget_s, "memory_budget_gib": args.memory_gib,
        "ph_max_paths": args.ph_max_paths, "ph_time_limit_s": args.ph_time_limit,
        "problem": args.problem, "problem_settings": PROBLEMS[args.problem],
        "mpi": mpi_info,
        "memory_measures": {
            "peak_tree_mib": "peak of the summed proportional set size (PSS) of the run's "
                             "process tree (workers, MPI ranks), sampled every 0.1 s from "
                             "/proc (a shared page counts once)",
            "max_process_mib": "largest single process's peak resident set, os.wait4 "
                               "ru_maxrss (exact)"},
        "time_measures": {
            "wall_s": "the run's process from start to exit (interpreter, imports, "
                      "calibration loading included)",
            "compute_s": "the stage itself, timed inside the process",
            "pool_start_s": "starting the worker pool (forkserver and its imports), once "
                            "per process, before the stage"},
        "cells": cells, "table": table.splitlines(),
        "growth_exponents": {f"{k[0]} ({k[1]} {k[2]})": v
                             for k, v in growth_exponents(cells).items()},
        "total_s": round(time.perf_counter() - started, 1),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
