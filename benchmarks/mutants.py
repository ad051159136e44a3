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
import json
import math
import os
import random
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
                                        "tests/test_meaning_stochastic_paths.py",
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
    "models/pension/rules.py": ["tests/test_meaning_rules.py", "tests/test_pension_rules.py"],
    "models/pension/accounts.py": ["tests/test_meaning_accounts_rates.py",
                                   "tests/test_accounts_meaning.py", "tests/test_accounts.py",
                                   # the per-person block and the batched fund paths read the
                                   # accounts' rates (pension/paths.py, pension/block.py)
                                   "tests/test_pension_block.py",
                                   "tests/test_monte_carlo_accounts.py"],
}
#: What the tests need beside the package and the tests themselves.
ALSO_COPY = ["calibration", "experiments"]
STATUS_LINE = re.compile(r"^\s*(?P<name>\S+): (?P<status>[a-z ]+)$")
FUNCTION_DEF = re.compile(r"^def (\w+)\(", re.M)


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


def mutant_names(work: Path, module: str) -> dict[str, int | None]:
    """Every mutant of the module with its exit code so far (None: not run), from the file
    mutmut keeps beside the mutated copy (``mutants/<module>.meta``)."""
    meta = work / "mutants" / (module + ".meta")
    return json.loads(meta.read_text())["exit_code_by_key"] if meta.is_file() else {}


def sample_names(work: Path, module: str, size: int, seed: int) -> list[str]:
    """``size`` more mutants drawn at random (``random.Random(seed)``, without replacement)
    from those not run yet, added to the sample kept in ``<work>/sample.json``. mutmut makes its
    mutants when it first runs, so a fresh copy first runs the first function's first mutant
    (outside the sample) to have them made."""
    if not mutant_names(work, module):
        first = sorted(FUNCTION_DEF.findall((work / module).read_text()))[0]
        slug = module.removesuffix(".py").replace("/", ".")
        mutmut(work, "run", "--max-children", "1", f"{slug}.x_{first}__mutmut_1")
    todo = sorted(k for k, v in mutant_names(work, module).items() if v is None)
    drawn = sorted(random.Random(seed).sample(todo, min(size, len(todo))))
    kept = work / "sample.json"
    before = json.loads(kept.read_text()) if kept.is_file() else []
    kept.write_text(json.dumps(sorted(set(before) | set(drawn)), indent=0))
    return drawn


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson interval of a proportion ``k / n`` (the score of a random sample)."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def sample_lines(found: dict[str, str], sample: list[str]) -> list[str]:
    """The score of the random sample alone, with its 95 % interval: an unbiased estimate of
    the whole module's score (the mutants run outside the sample may be a biased set)."""
    done = [found[n] for n in sample if found.get(n) not in (None, "not checked")]
    k = sum(s in ("killed", "timeout") for s in done)
    lo, hi = wilson(k, len(done))
    share = 100 * k / max(len(done), 1)
    return [f"Random sample (`--sample`): {k} of {len(done)} killed ({share:.1f} %); "
            f"the module's score lies in {100 * lo:.1f}-{100 * hi:.1f} % (95 % Wilson interval).",
            ""]


def statuses(work: Path) -> dict[str, str]:
    found = {}
    for line in mutmut(work, "results", "--all", "true").splitlines():
        m = STATUS_LINE.match(line)
        if m:
            found[m["name"]] = m["status"].strip()
    return found


def report(module: str, tests: list[str], found: dict[str, str], work: Path,
           seconds: float, sample: list[str] | None = None) -> str:
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
        + (f" {unrun} more were not run (a partial run: `--only`, `--sample`, or stopped)."
           if unrun else ""),
        "",
        *(sample_lines(found, sample) if sample else []),
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
    ap.add_argument("--sample", type=int, metavar="N",
                    help="run N mutants drawn at random from those not run yet (with --resume: "
                         "adds N more) and report the score with its 95 %% interval")
    ap.add_argument("--seed", type=int, default=17, help="seed of --sample (default 17)")
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
    only = args.only or []
    if args.sample and not args.report_only:
        only = sample_names(work, module, args.sample, args.seed)
        print(f"a random sample of {len(only)} mutants (seed {args.seed})", flush=True)
    if not args.report_only and (only or not args.sample):
        mutmut(work, "run", "--max-children", str(args.max_children), *only)
    seconds = time.perf_counter() - start
    kept = work / "sample.json"
    sample = json.loads(kept.read_text()) if kept.is_file() else None
    text = report(module, tests, statuses(work), work, seconds, sample)
    out = ROOT / args.out / f"{slug}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print("\n".join(text.splitlines()[:6]))
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
