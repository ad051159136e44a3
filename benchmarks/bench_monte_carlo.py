"""Monte Carlo stage benchmark (issue 15 item 4): the pension accounts on every path.

Runs the Monte Carlo stage of a run (:func:`models.pipeline.monte_carlo.simulate_paths`,
economy off, both retirement regimes, one worker, chunks of 1,000 paths) for N paths and
reports, per N:

* ``monte_carlo_s``: the whole stage (demography draws and projection, the accounts);
* ``accounts_s``: the accounts alone (summed over chunks, ``timings["monte_carlo_accounts_s"]``);
* ``parameter_blocks_s``: of which the per-parameter-draw pension blocks (schedule, base-year
  fit, rates of each drawn parameter set: a cost that does not grow with N beyond
  ``uncertainty.parameter_sets``), when parameter uncertainty is on;
* ``stage_cpu_s``, ``accounts_cpu_s``: the same as this process's CPU time (one worker: the
  whole stage runs here), nearer to an idle machine's wall time when the machine is shared;
* ``load_1min``: the load average before the run (``os.getloadavg``; wall times under load
  are inflated on this shared machine).

Each N runs twice: parameter uncertainty off (demography only: the target of issue 15 is
≤ 5 s of accounts at 10,000 paths) and on (the default). Not a test: run by hand or from
``make bench``.

Usage: python benchmarks/bench_monte_carlo.py results/bench/monte_carlo.json
       [--paths 1000,10000] [--modes off,on]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261125
TARGET_ACCOUNTS_S = 5.0


def run_once(n_paths: int, parameters: bool) -> dict:
    """The Monte Carlo stage of ``n_paths`` paths, one worker; its timings."""
    import xarray as xr

    from models.config import EconomySettings, Experiment, StochasticDemographySettings
    from models.config import load_arrays, load_calibration
    from models.demography import stochastic
    from models.pension import calibrate_base_year, retirement_schedule
    from models.pipeline.monte_carlo import simulate_paths

    cal = load_calibration(ROOT / "calibration" / "china")
    arrays = load_arrays(cal, ROOT / "calibration" / "china")
    fields = dict(name="bench_monte_carlo", calibration=str(ROOT / "calibration" / "china"),
                  seed=SEED, economy=EconomySettings(enabled=False),
                  demography=StochasticDemographySettings(paths=n_paths,
                                                          chunk_size=min(n_paths, 1000)))
    if "uncertainty" in Experiment.model_fields:
        fields["uncertainty"] = {"parameters": parameters}
    elif parameters:
        return {"skipped": "no parameter uncertainty in this version"}
    exp = Experiment(**fields)
    median = stochastic.median_demography(arrays, exp.demography)["population"]
    years, ages = median["year"].values, median["age"].values
    regimes = {}
    for regime in exp.projection.regimes:
        schedule = retirement_schedule(years, ages, regime, cal.pension)
        regimes[regime] = (schedule, calibrate_base_year(median, schedule, cal.pension,
                                                         cal.finances))
    timings: dict = {}
    load = os.getloadavg()[0]
    t0, cpu0 = time.perf_counter(), time.process_time()
    ds = simulate_paths(exp, cal, arrays, median, regimes, timings, progress=False)
    assert isinstance(ds, xr.Dataset)
    return {"paths": n_paths, "parameters": parameters, "load_1min": round(load, 2),
            "stage_s": round(time.perf_counter() - t0, 3),
            "stage_cpu_s": round(time.process_time() - cpu0, 3),
            "accounts_cpu_s": timings.get("monte_carlo_accounts_cpu_s"),
            "monte_carlo_s": timings["monte_carlo_s"],
            "accounts_s": timings["monte_carlo_accounts_s"],
            "parameter_blocks_s": timings.get("monte_carlo_parameter_blocks_s", 0.0),
            "regimes": len(regimes)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--paths", default="1000,10000")
    parser.add_argument("--modes", default="off,on")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    rows = []
    for n in [int(x) for x in args.paths.split(",")]:
        for mode in args.modes.split(","):
            row = run_once(n, mode == "on")
            print(json.dumps(row), flush=True)
            rows.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "Monte Carlo stage: demography and the pension accounts on every path, "
                     "two regimes, one worker",
        "target_accounts_s_at_10000": TARGET_ACCOUNTS_S, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
