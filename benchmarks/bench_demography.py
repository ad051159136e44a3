"""Monte Carlo demography benchmark (issue 3): N paths x base year to 2100 x 101 ages x 2 sexes.

Times the spread calibration and the path engine (draws + cohort-component projection,
float32 chunks), and measures peak memory, in two modes:

* ``summaries``: what a run keeps beyond ``STORE_POPULATION_MAX_PATHS`` paths: per-path
  indicators (total, 20-64, 60+, 65+) and the population of the snapshot years;
* ``all_paths``: also every path's full population[path, year, age, sex] in float32.

Each mode runs twice: once timed (no tracing), once under ``tracemalloc`` for the peak of
traced allocations (NumPy reports its buffers to it). ``ru_maxrss`` (the process's peak
resident set, interpreter and libraries included) is read after each mode; modes run from
the smaller to the larger, so it bounds each mode from above. Targets (issue 3): under 5 s
and under 4 GiB for 10,000 paths. Not a test: run by hand or from ``make bench``.

Usage: python benchmarks/bench_demography.py results/bench_demography.json [--paths 10000]
       [--chunk-size 1000] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import platform
import pstats
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS, TARGET_GIB = 5.0, 4.0
SNAPSHOT_YEARS = (2035, 2050, 2075, 2100)
GIB = 2.0**30


def run_engine(inputs, spread, settings, keep_all: bool) -> dict:
    """Draw and project every path, keeping what a run keeps (see the module docstring)."""
    from models.demography import stochastic as st

    n, years = settings.paths, inputs.years
    snap = [0] + [int(np.searchsorted(years, y)) for y in SNAPSHOT_YEARS if y <= years[-1]]
    kept = {"snapshot": np.empty((n, len(snap), len(inputs.ages), 2), np.float32),
            "total": np.empty((n, len(years)))}
    if keep_all:
        kept["population"] = np.empty((n, len(years), len(inputs.ages), 2), np.float32)
    for chunk in st.iter_path_chunks(inputs, spread, settings, np.random.SeedSequence(2024)):
        rows = slice(int(chunk.paths[0]), int(chunk.paths[-1]) + 1)
        kept["snapshot"][rows] = chunk.population[:, snap]
        kept["total"][rows] = st.population_indicators(chunk.population, inputs.ages)["total"]
        if keep_all:
            kept["population"][rows] = chunk.population
    return kept


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="JSON file to write")
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one run")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from models.config import StochasticDemographySettings, load_arrays, load_calibration
    from models.demography import stochastic as st

    cal = load_calibration(ROOT / "calibration" / "china")
    arrays = load_arrays(cal, ROOT / "calibration" / "china")
    t0 = time.perf_counter()
    spread = st.calibrate_spread(arrays)
    calibration_s = time.perf_counter() - t0
    settings = StochasticDemographySettings(paths=args.paths, chunk_size=args.chunk_size)
    inputs = st.median_inputs(arrays, settings)
    run_engine(inputs, spread, StochasticDemographySettings(paths=8, chunk_size=8), False)  # warm-up

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run_engine(inputs, spread, settings, False)
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(12)
        print(text.getvalue())

    modes = []
    for mode, keep_all in (("summaries", False), ("all_paths", True)):
        t0 = time.perf_counter()
        kept = run_engine(inputs, spread, settings, keep_all)
        wall = time.perf_counter() - t0
        kept_bytes = sum(a.nbytes for a in kept.values())
        del kept
        tracemalloc.start()
        run_engine(inputs, spread, settings, keep_all)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
        row = {"mode": mode, "wall_s": round(wall, 3),
               "paths_per_s": round(args.paths / wall),
               "kept_gib": round(kept_bytes / GIB, 3),
               "peak_traced_gib": round(peak / GIB, 3),
               "peak_rss_gib_so_far": round(rss / GIB, 3),
               "within_target": bool(wall < TARGET_SECONDS and max(peak, rss) < TARGET_GIB * GIB)}
        print(json.dumps(row), flush=True)
        modes.append(row)

    result = {
        "benchmark": "Monte Carlo demography (draws + cohort-component projection)",
        "paths": args.paths, "chunk_size": args.chunk_size, "dtype": "float32",
        "years": f"{int(inputs.years[0])}-{int(inputs.years[-1])}", "ages": len(inputs.ages),
        "sexes": 2, "spread_calibration_s": round(calibration_s, 3), "modes": modes,
        "targets": {"wall_s": TARGET_SECONDS, "memory_gib": TARGET_GIB},
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "numpy": np.__version__, "cpus": __import__("os").cpu_count()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
