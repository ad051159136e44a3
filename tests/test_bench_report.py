"""The README's scaling section is the measured one: its block between the bench markers is
rendered from the committed ``results/bench.json`` (``benchmarks/run_all.py --readme``), so
no figure there is typed by hand (issue 15)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location("run_all", ROOT / "benchmarks" / "run_all.py")
run_all = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(run_all)


def _block(text: str) -> str:
    start = text.index(run_all.README_BEGIN)
    return text[start:text.index(run_all.README_END) + len(run_all.README_END)]


def test_the_readme_shows_the_committed_measurement():
    report = json.loads((ROOT / "results" / "bench.json").read_text())
    assert report["scaling"]["table"], "the committed report has no scaling table"
    assert _block((ROOT / "README.md").read_text()) == run_all.readme_block(report)


def test_the_block_carries_the_table_the_exponents_and_the_accounts(tmp_path):
    report = {"created_utc": "2026-12-01T00:00:00+00:00", "git_commit": "abc1234",
              "machine": {"cpus": 2, "cpu": "x", "memory_gib": 23.4},
              "scaling": {"table": ["stage  1,000", "decomposition (workers 1)  4.4",
                                    "growth of decomposition (workers 1): stage time ~ N^1.03"]},
              "benchmarks": {"monte_carlo": {"rows": [
                  {"paths": 10000, "parameters": False, "accounts_s": 1.01,
                   "accounts_cpu_s": 1.0, "load_1min": 0.9}]}}}
    block = run_all.readme_block(report)
    assert "commit abc1234" in block and "2 CPUs" in block
    assert "~ N^1.03" in block and "decomposition (workers 1)  4.4" in block
    assert "10,000 paths, parameter uncertainty off: accounts 1.01 s" in block
    readme = tmp_path / "README.md"
    readme.write_text(f"head\n{run_all.README_BEGIN}\nold\n{run_all.README_END}\ntail\n")
    run_all.write_readme(report, readme)
    text = readme.read_text()
    assert text.startswith("head\n") and text.endswith("\ntail\n") and "old" not in text
    assert _block(text) == block


def test_a_partial_run_keeps_where_and_when_the_other_sections_were_measured():
    """``run_all.py results/bench.json economy`` re-runs one benchmark: the scaling table and
    the other benchmarks keep their date, machine and commit, so the README's block does not
    claim the scaling was measured by the later run."""
    old = {"created_utc": "2026-12-01T00:00:00+00:00", "git_commit": "aaa1111",
           "machine": {"cpus": 2, "cpu": "old"},
           "scaling": {"table": ["stage  1,000"]},
           "benchmarks": {"economy": {"steady_state_s": 0.03},
                          "monte_carlo": {"rows": [{"paths": 10, "parameters": False,
                                                    "accounts_s": 1.0, "accounts_cpu_s": 1.0,
                                                    "load_1min": 0.5}]}}}
    now = {"created_utc": "2026-12-02T00:00:00+00:00", "git_commit": "bbb2222",
           "machine": {"cpus": 2, "cpu": "new"}}
    report = run_all.merged_report(old, {"economy": {"steady_state_s": 0.01}}, now)
    assert report["benchmarks"]["economy"] == {"steady_state_s": 0.01, "measured": now}
    assert report["benchmarks"]["monte_carlo"]["measured"]["git_commit"] == "aaa1111"
    assert report["scaling"]["measured"]["git_commit"] == "aaa1111"
    assert report["git_commit"] == "bbb2222"
    block = run_all.readme_block(report)
    assert block == run_all.readme_block(old)
    assert "commit aaa1111" in block and "(old)" in block and "bbb2222" not in block
    # a full run re-dates everything, the scaling included
    full = run_all.merged_report({}, {"scaling": {"table": ["x"]}, "economy": {}}, now)
    assert full["scaling"]["measured"] == now and "commit bbb2222" in run_all.readme_block(full)
