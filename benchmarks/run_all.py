"""`make bench`: run every benchmark in its own process and gather results/bench.json.

Each ``benchmarks/bench_*.py`` takes the path of its JSON output as first argument. Separate
processes keep the peak-memory figures of one benchmark from leaking into the next. The
scaling benchmark (``bench_scaling.py``) goes to the report's top-level ``scaling`` section.

The README's scaling section shows the measured table between the markers
``<!-- bench:begin -->`` and ``<!-- bench:end -->``: ``--readme`` rewrites that block from a
report (:func:`readme_block`), and ``tests/test_bench_report.py`` checks that the block is
the one rendered from the committed ``results/bench.json``, so no figure there is typed.

Usage: python benchmarks/run_all.py results/bench.json [name ...]  (names: only those
benchmarks, merged into an existing report)
       python benchmarks/run_all.py --readme results/bench.json  (the README's block from it)
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
README_BEGIN, README_END = "<!-- bench:begin -->", "<!-- bench:end -->"


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


def git_commit() -> str:
    """The commit the benchmarks ran on (``+dirty`` when the tree had changes)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, text=True, capture_output=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def provenance(report: dict, section: dict | None = None) -> dict:
    """Where and when a section of the report was measured: its own ``measured`` record
    (written by :func:`main` for each benchmark it runs), else the report's top level (reports
    written before sections carried their own)."""
    own = (section or {}).get("measured")
    if own:
        return own
    return {key: report.get(key) for key in ("created_utc", "machine", "git_commit")}


def merged_report(previous: dict, results: dict, now: dict) -> dict:
    """The report after a run: the benchmarks just run (``results``, by name; ``scaling`` goes
    to the top-level section), each stamped with ``now`` (its date, machine and commit), over
    the sections of ``previous`` not re-run, which keep where and when they were measured."""
    fresh = {name: {**section, "measured": now} for name, section in results.items()}
    carried = {name: {**section, "measured": provenance(previous, section)}
               for name, section in previous.get("benchmarks", {}).items()}
    scaling = fresh.pop("scaling", None)
    if scaling is None and previous.get("scaling") is not None:
        scaling = {**previous["scaling"], "measured": provenance(previous, previous["scaling"])}
    report = {**now, "benchmarks": {**carried, **fresh}}
    if scaling is not None:
        report["scaling"] = scaling
    return report


def readme_block(report: dict) -> str:
    """The README's measured scaling section, rendered from a ``make bench`` report: where
    and when the scaling benchmark ran (:func:`provenance`, so a later partial run such as
    ``run_all.py results/bench.json economy`` does not re-date it), the scaling table with its
    growth exponents (``scaling.table``) and the Monte Carlo accounts' figures
    (``benchmarks.monte_carlo``, with their own date where it differs), between the markers."""
    scaling = report.get("scaling", {})
    where = provenance(report, scaling)
    m = where.get("machine") or {}
    lines = [README_BEGIN,
             f"Measured by `make bench` on {where.get('created_utc')} (commit "
             f"{where.get('git_commit') or 'unknown'}), {m.get('cpus', '?')} CPUs "
             f"({m.get('cpu', 'unknown CPU')}), {m.get('memory_gib', '?')} GiB; from "
             "`results/bench.json`:", "", "```"]
    lines += scaling.get("table", ["(no scaling table in this report)"])
    lines.append("```")
    mc = report.get("benchmarks", {}).get("monte_carlo", {})
    rows = [r for r in mc.get("rows", []) if "accounts_s" in r]
    if rows:
        mc_where = provenance(report, mc)
        dated = ("" if mc_where == where else
                 f" (measured {mc_where.get('created_utc')}, commit "
                 f"{mc_where.get('git_commit') or 'unknown'})")
        lines += ["", "Monte Carlo accounts (one worker, both regimes" + dated + "): " +
                  "; ".join(
            f"{r['paths']:,} paths, parameter uncertainty {'on' if r['parameters'] else 'off'}"
            f": accounts {r['accounts_s']:.2f} s (CPU {r['accounts_cpu_s']:.2f} s, load "
            f"{r['load_1min']:.1f})" for r in rows) + "."]
    lines.append(README_END)
    return "\n".join(lines)


def write_readme(report: dict, readme: Path = ROOT / "README.md") -> None:
    """Replace the README's block between the markers by :func:`readme_block`."""
    text = readme.read_text()
    start, end = text.index(README_BEGIN), text.index(README_END) + len(README_END)
    readme.write_text(text[:start] + readme_block(report) + text[end:])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--readme"]:
        write_readme(json.loads(Path(argv[1] if len(argv) > 1 else
                                     ROOT / "results" / "bench.json").read_text()))
        return 0
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
    now = {"created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "machine": machine(), "git_commit": git_commit()}
    report = merged_report(previous, results, now)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    if failures:
        print(f"failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
