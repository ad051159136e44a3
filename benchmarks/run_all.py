"""`make bench`: run every benchmark in its own process and gather results/bench.json.

Each ``benchmarks/bench_*.py`` takes the path of its JSON output as first argument. Separate
processes keep the peak-memory figures of one benchmark from leaking into the next. The
scaling benchmark (``bench_scaling.py``) goes to the report's top-level ``scaling`` section.

Usage: python benchmarks/run_all.py results/bench.json [name ...]  (names: only those
benchmarks, merged into an existing report)
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count()}
    try:
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        info["memory_gib"] = round(int(mem) / 2**20, 1)
        model = [ln for ln in Path("/proc/cpuinfo").read_text().splitlines()
                 if ln.startswith("model name")]
        info["cpu"] = model[0].split(":", 1)[1].strip() if model else platform.processor()
    except OSError:
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else ROOT / "results" / "bench.json"
    only = set(argv[1:])
    scripts = sorted((ROOT / "benchmarks").glob("bench_*.py"))
    results, failures = {}, []
    tmp = out.parent / "bench"
    tmp.mkdir(parents=True, exist_ok=True)
    for script in scripts:
        name = script.stem.removeprefix("bench_")
        if only and name not in only:
            continue
        target = tmp / f"{name}.json"
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, str(script), str(target)], cwd=ROOT)
        wall = time.perf_counter() - t0
        if proc.returncode != 0 or not target.is_file():
            failures.append(name)
            results[name] = {"error": f"exit code {proc.returncode}", "wall_s": round(wall, 1)}
            continue
        results[name] = json.loads(target.read_text())
        results[name]["script_wall_s"] = round(wall, 1)
    previous = json.loads(out.read_text()) if only and out.is_file() else {}
    scaling = results.pop("scaling", None) or previous.get("scaling")
    report = {"created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": machine(),
              "benchmarks": {**previous.get("benchmarks", {}), **results}}
    if scaling is not None:
        report["scaling"] = scaling
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    if failures:
        print(f"failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
