"""Mutation score of one module: ``python benchmarks/mutants.py models/config.py``.

Runs mutmut 3 (``pip install -e '.[mutation]'``; ``make mutants MODULE=...`` does both) on one
module in a scratch copy of the project (``build/mutants/<module>/``, so the working tree is
never touched), running only the test files listed for that module in :data:`TESTS` (mutmut
further narrows them to the tests that reach each mutated function). Writes the score and the
diff of every surviving mutant to ``results/mutants/<module>.md`` (``models/config.py`` ->
``results/mutants/models.config.md``).

Not part of ``make test`` or CI: a module takes minutes to an hour (see the README).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Test files that exercise each module, fastest first. A module not listed here runs every
#: test file that imports it (found by a text search), which can be slow.
TESTS: dict[str, list[str]] = {
    "models/demography/projection.py": ["tests/test_meaning_projection.py",
                                        "tests/test_projection.py"],
    "models/demography/stochastic.py": ["tests/test_meaning_stochastic.py",
                                        "tests/test_stochastic.py"],
    "models/economy/welfare.py": ["tests/test_meaning_welfare.py"],
    "models/economy/household.py": [
        "tests/test_meaning_household.py",
        "tests/test_economy.py::test_household_solution_is_the_constrained_optimum",
        "tests/test_economy.py::test_work_disutility_enters_the_euler_equation_and_utility",
        "tests/test_economy.py::test_euler_residuals_vanish_where_the_limit_is_slack"],
    "models/optimize/tree.py": ["tests/test_meaning_optimize.py"],
    "models/optimize/model.py": [
        "tests/test_meaning_optimize.py",
        "tests/test_optimize.py::test_tiny_problem_matches_the_hand_derived_optimum",
        "tests/test_optimize.py::test_duals_are_derivatives_of_the_optimal_cost"],
    "models/config.py": ["tests/test_meaning_config.py", "tests/test_config.py"],
    "models/pension/rules.py": ["tests/test_pension_rules.py"],
    "models/pension/accounts.py": ["tests/test_accounts.py"],
}
#: What the tests need beside the package and the tests themselves.
ALSO_COPY = ["calibration", "experiments"]
STATUS_LINE = re.compile(r"^\s*(?P<name>\S+): (?P<status>[a-z ]+)$")


def tests_for(module: str) -> list[str]:
    if module in TESTS:
        return TESTS[module]
    dotted = module.removesuffix(".py").replace("/", ".")
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py")
                  if dotted in p.read_text())


def scratch_copy(module: str, tests: list[str], work: Path, max_runtime: float) -> None:
    """A copy of the project with a [tool.mutmut] section for this module."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ["models", "tests", *ALSO_COPY]:
        shutil.copytree(ROOT / name, work / name, ignore=ignore)
    toml = lambda xs: "[" + ", ".join(f'"{x}"' for x in xs) + "]"  # noqa: E731
    section = (
        "\n[tool.mutmut]\n"
        'source_paths = ["models"]\n'
        f"only_mutate = {toml([module])}\n"
        f"also_copy = {toml(ALSO_COPY)}\n"
        f"pytest_add_cli_args_test_selection = {toml(tests)}\n"
        'pytest_add_cli_args = ["-q", "-p", "no:cacheprovider", "-x"]\n'
        f"timeout_constant = {max_runtime}\n"
        # HiGHS's thread pool does not survive a fork of a process that has solved: fork each
        # mutant from a clean server (measured: a plain fork spun forever in the first LP)
        'process_isolation = "forkserver"\n'
    )
    (work / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + section)


def mutmut(work: Path, *args: str, check: bool = True) -> str:
    exe = Path(sys.executable).with_name("mutmut")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONHASHSEED="0")
    out = subprocess.run([str(exe), *args], cwd=work, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if check and out.returncode != 0:
        raise SystemExit(f"mutmut {' '.join(args)} failed ({out.returncode}):\n"
                         f"{out.stdout[-4000:]}")
    return out.stdout


def statuses(work: Path) -> dict[str, str]:
    found = {}
    for line in mutmut(work, "results", "--all", "true").splitlines():
        m = STATUS_LINE.match(line)
        if m:
            found[m["name"]] = m["status"].strip()
    return found


def report(module: str, tests: list[str], found: dict[str, str], work: Path,
           seconds: float) -> str:
    counts: dict[str, int] = {}
    for status in found.values():
        counts[status] = counts.get(status, 0) + 1
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    unrun = counts.get("not checked", 0) + counts.get("check was interrupted by user", 0)
    total = sum(counts.values()) - unrun
    score = 100.0 * killed / total if total else float("nan")
    lines = [
        f"# Mutation score of `{module}`",
        "",
        f"mutmut {mutmut(work, '--version').split()[-1]}, tests: "
        + ", ".join(f"`{t}`" for t in tests)
        + (f"; {seconds / 60:.1f} min." if seconds > 1 else "."),
        "",
        f"**{killed} of {total} mutants killed ({score:.1f} %)**"
        + (" (timeouts count as killed)" if counts.get("timeout") else "") + "."
        + (f" {unrun} more were not run (a partial run: `--only`, or stopped)." if unrun
           else ""),
        "",
        "| status | mutants |",
        "|---|---|",
        *[f"| {s} | {n} |" for s, n in sorted(counts.items())],
        "",
    ]
    survivors = [n for n, s in found.items()
                 if s not in ("killed", "timeout", "not checked", "check was interrupted by user")]
    if survivors:
        lines += ["## Mutants not killed", ""]
    for name in survivors:
        diff = mutmut(work, "show", name, check=False).strip()
        lines += [f"### `{name}` ({found[name]})", "", "```diff", diff, "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("module", help="e.g. models/config.py")
    ap.add_argument("--max-children", type=int, default=1,
                    help="parallel mutant runs (default 1: the machine is shared)")
    ap.add_argument("--timeout", type=float, default=20.0,
                    help="seconds added to 15x a mutant's clean test time before it times out")
    ap.add_argument("--tests", nargs="+", metavar="TEST",
                    help="test files or node ids to run instead of the module's list in TESTS")
    ap.add_argument("--resume", action="store_true",
                    help="continue a stopped run in its scratch copy (mutmut keeps every "
                         "finished mutant's result there) instead of starting afresh")
    ap.add_argument("--only", nargs="+", metavar="GLOB",
                    help="run only the mutants whose names match (mutmut's own selection, e.g. "
                         "'models.config.xǁ*'); the others are reported as not run")
    ap.add_argument("--report-only", action="store_true",
                    help="write the report of the scratch copy's results without running")
    ap.add_argument("--out", default="results/mutants")
    args = ap.parse_args(argv)
    module = args.module.removeprefix("./")
    if not (ROOT / module).is_file():
        raise SystemExit(f"{module}: no such file")
    tests = args.tests or tests_for(module)
    if not tests:
        raise SystemExit(f"{module}: no test file imports it; add it to TESTS")
    slug = module.removesuffix(".py").replace("/", ".")
    work = ROOT / "build" / "mutants" / (slug + ("-custom" if args.tests else ""))
    if not ((args.resume or args.report_only) and work.is_dir()):
        scratch_copy(module, tests, work, args.timeout)
    print(f"mutmut on {module} with {' '.join(tests)} in {work}", flush=True)
    start = time.perf_counter()
    if not args.report_only:
        mutmut(work, "run", "--max-children", str(args.max_children), *(args.only or []))
    seconds = time.perf_counter() - start
    text = report(module, tests, statuses(work), work, seconds)
    out = ROOT / args.out / f"{slug}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print("\n".join(text.splitlines()[:6]))
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
