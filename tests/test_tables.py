"""The study's tables: experiment files made from families, the golden check, the small
(CI) configuration against its golden files, and what a calibration edit changes.

The small study runs in a subprocess (``python -m models.study.study run --size small``):
HiGHS keeps the thread count of a process's first solve, and other tests in this process may
have solved with another count.
"""

import copy
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.config import Experiment, load_calibration
from models.study import golden, variants
from models.study.tables import pareto_efficient
from tests.conftest import CALIBRATION, ROOT

GOLDEN_SMALL = ROOT / "results" / "golden" / "small"


# ---------------------------------------------------------------------------- experiment files
def test_toml_writer_round_trips_an_experiment():
    raw = tomllib.loads((ROOT / "experiments" / "optimal_two_stage.toml").read_text())
    raw["overrides"] = {"finances.reserve.real_return.value": 0.02, "a.b": True}
    text = variants.dumps_toml(raw)
    assert tomllib.loads(text) == raw


def test_generated_experiment_files_are_up_to_date():
    made = variants.render_families(ROOT)
    assert len(made) >= 26
    for path, text in made.items():
        assert path.is_file(), f"{path} missing: run `make tables` (or prepare) and commit it"
        assert path.read_text() == text, f"{path} is stale: run `.venv/bin/python -m " \
                                         "models.study.study prepare` and commit it"
        Experiment.model_validate(tomllib.loads(text))
    assert variants.stale_generated(ROOT, made) == []


def test_family_members_differ_from_their_base_only_as_declared():
    spec = ROOT / "experiments" / "study" / "sensitivity.toml"
    members = {m.name: m.raw for m in variants.family_members(spec, ROOT)}
    base = tomllib.loads((ROOT / "experiments" / "optimal_two_stage.toml").read_text())
    ref = members["sensitivity_reference"]
    assert ref["optimization"]["paths"] == 50 and ref["projection"]["regimes"] == ["law_2024"]
    tfr = copy.deepcopy(members["sensitivity_tfr_low"])
    assert tfr["demography"]["tfr_shift"] == -0.5
    tfr["demography"]["tfr_shift"] = base["demography"]["tfr_shift"]
    for m in (tfr, ref):
        m.pop("name"), m.pop("description")
    assert tfr == ref
    assert members["sensitivity_nssf_low"]["overrides"] == {
        "finances.reserve.real_return.value": 0.02}


def test_grid_family_is_the_cartesian_product_and_small_keeps_the_end_levels():
    spec = ROOT / "experiments" / "study" / "frontier.toml"
    full = variants.family_members(spec, ROOT)
    small = variants.family_members(spec, ROOT, small=True)
    assert len(full) == 3 * 3 * 2 and len({m.name for m in full}) == 18
    assert len(small) == 2 * 2 * 2
    assert {m.name for m in small} <= {m.name for m in full}
    point = {m.name: m.raw for m in full}["frontier_rate18_agelaw_noreserve"]
    assert point["optimization"]["contribution"]["max_rate"] == 0.18
    assert point["optimization"]["retirement"]["enabled"] is False
    assert point["optimization"]["reserve"]["enabled"] is False


def test_small_profile_caps_paths_and_threads():
    raw = tomllib.loads((ROOT / "experiments" / "optimal_two_stage.toml").read_text())
    small = variants.shrink(raw)
    assert small["demography"]["paths"] == variants.SMALL["demography_paths"]
    assert small["optimization"]["paths"] == variants.SMALL["optimization_paths"]
    assert small["optimization"]["solver"]["threads"] == 1
    assert small["economy"]["enabled"] is False
    assert raw["demography"]["paths"] == 200  # the input is not modified
    # fewer samples, every output kept: parameter sets, fresh paths, replications of the
    # optimized paths at most, and the frontier's end levels (optimal_multi_stage)
    assert small["uncertainty"]["parameter_sets"] == variants.SMALL_UNCERTAINTY["parameter_sets"]
    evaluation = small["optimization"]["evaluation"]
    assert evaluation["replications"] >= 2  # the optimality gap's interval needs two
    assert evaluation["replication_paths"] <= small["optimization"]["paths"]
    multi = tomllib.loads((ROOT / "experiments" / "optimal_multi_stage.toml").read_text())
    frontier = variants.shrink(multi)["optimization"]["frontier"]
    assert frontier["enabled"] and frontier["levels"] == variants.SMALL_FRONTIER_LEVELS
    assert frontier["delay_scales"] == [multi["optimization"]["frontier"]["delay_scales"][0],
                                        multi["optimization"]["frontier"]["delay_scales"][-1]]
    base = tomllib.loads((ROOT / "experiments" / "baseline.toml").read_text())
    det = variants.shrink(base)
    assert det.get("economy", {}).get("enabled", True)  # deterministic: economy kept
    assert det["projection"]["tornado"]  # the tornado table is made in small too
    assert 0 < det["uncertainty"]["median_draws"] < base["uncertainty"]["median_draws"]
    assert "replication_paths" not in det["optimization"]["evaluation"]  # one path, as full


def test_low_wage_member_lowers_both_growth_paths_from_2025_only():
    spec = ROOT / "experiments" / "study" / "sensitivity.toml"
    raw = {m.name: m.raw for m in variants.family_members(spec, ROOT)}["sensitivity_wage_low"]
    cal = load_calibration(CALIBRATION, raw["overrides"])
    default = load_calibration(CALIBRATION)
    years = np.arange(2021, 2101)
    for path in ("finances.wages.real_growth", "economy.firms.technology_growth"):
        get = lambda c: eval(f"c.{path}").rate(years)  # noqa: E731
        diff = get(default) - get(cal)
        np.testing.assert_allclose(diff[years < 2025], 0.0, err_msg=path)
        np.testing.assert_allclose(diff[years >= 2025], 0.01, err_msg=path)


# ---------------------------------------------------------------------------- golden check
def test_pareto_efficiency_by_hand():
    pts = np.array([[1.0, 3.0], [2.0, 2.0], [2.0, 3.0], [3.0, 1.0], [1.0, 3.0]])
    assert pareto_efficient(pts).tolist() == [True, True, False, True, True]


def test_golden_comparison_tolerance_and_messages():
    ref = pd.DataFrame({"experiment": ["a", "b"], "year": [2030, 2050],
                        "cost": [100.0, 200.0], "tiny": [1e-13, 0.0], "label": ["x", "y"]})
    same = ref.copy()
    same["cost"] = same["cost"] * (1 + 5e-7)
    same["tiny"] = [-2e-13, 5e-10]
    assert not golden.compare_frames("t", same, ref, rtol=1e-6, atol=1e-9)
    new = ref.copy()
    new.loc[1, "cost"] = 201.0
    new.loc[0, "label"] = "z"
    diff = golden.compare_frames("t", new, ref, rtol=1e-6, atol=1e-9)
    assert diff.n_cells == 2
    text = "\n".join(diff.cells)
    assert "row 2 (b, 2050), column 'cost': golden 200, now 201 (relative difference 5.00e-03)" \
        in text
    assert "row 1 (a, 2030), column 'label': golden 'x', now 'z'" in text
    more = pd.concat([ref, ref.iloc[:1]], ignore_index=True).assign(extra=1)
    diff = golden.compare_frames("t", more, ref, rtol=1e-6, atol=1e-9)
    assert "3 rows, golden has 2" in diff.problems and "new columns: ['extra']" in diff.problems


def test_golden_check_reports_new_and_missing_tables(tmp_path):
    new, ref = tmp_path / "new", tmp_path / "golden"
    new.mkdir(), ref.mkdir()
    pd.DataFrame({"a": [1.0]}).to_csv(new / "kept.csv", index=False)
    pd.DataFrame({"a": [1.0]}).to_csv(ref / "kept.csv", index=False)
    pd.DataFrame({"a": [1.0]}).to_csv(new / "added.csv", index=False)
    pd.DataFrame({"a": [1.0]}).to_csv(ref / "gone.csv", index=False)
    reports = golden.check(new, ref, {"kept": "simulation", "added": "solver"})
    assert len(reports) == 2
    assert "new table, no golden file" in reports[0] and "no longer made" in reports[1]
    golden.update(new, ref, ["kept", "added"])
    assert golden.check(new, ref, {"kept": "simulation", "added": "solver"}) == []
    assert not (ref / "gone.csv").exists()


# ---------------------------------------------------------------------------- the small study
def _start_small(results: Path, *extra: str) -> tuple[subprocess.Popen, Path]:
    """The small study in a subprocess, its output in files (a full pipe would stall it while
    the other runs)."""
    results.mkdir(parents=True, exist_ok=True)
    log = results.parent / f"{results.name}.out"
    with open(log, "w") as out, open(log.with_suffix(".err"), "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "models.study.study", "--root",
                                 str(ROOT), "run", "--size", "small", "--results-dir",
                                 str(results), *extra], stdout=out, stderr=err, text=True,
                                cwd=ROOT)
    return proc, log


def _finish(started: tuple[subprocess.Popen, Path]) -> subprocess.CompletedProcess:
    proc, log = started
    proc.wait(timeout=1800)  # a guard against a hang: both runs share the cores
    return subprocess.CompletedProcess(proc.args, proc.returncode, log.read_text(),
                                       log.with_suffix(".err").read_text())


def _edit_nssf_return(calibration: Path) -> int:
    """Copy the calibration to ``calibration`` with the NSSF's real return 4 % -> 5 %; the
    number of edits made (1 unless the file changed shape)."""
    shutil.copytree(CALIBRATION, calibration)
    finances = calibration / "finances.toml"
    text, n = re.subn(r"(\[reserve\.real_return\]\nvalue = )0\.04", r"\g<1>0.05",
                      finances.read_text())
    finances.write_text(text)
    return n


@pytest.fixture(scope="module")
def small_runs(request, tmp_path_factory):
    """The small study and, when its test is selected, the same with the NSSF return edited,
    started at once: each runs HiGHS on one thread, so on two cores they take the time of
    one."""
    results, tmp = tmp_path_factory.mktemp("small"), tmp_path_factory.mktemp("edit")
    runs = {"small": _start_small(results, "--check")}
    edits = 0
    if any(item.name.startswith("test_a_calibration_edit") for item in request.session.items):
        edits = _edit_nssf_return(tmp / "calibration" / "china")
        if edits == 1:
            runs["edited"] = _start_small(tmp / "edited", "--calibration",
                                          str(tmp / "calibration" / "china"), "--no-figures")
    yield results, tmp / "edited", edits, runs
    for proc, _ in runs.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def small_study(small_runs):
    results, _, _, runs = small_runs
    return results, _finish(runs["small"])


@pytest.mark.slow
def test_small_study_matches_its_golden_files(small_study):
    results, proc = small_study
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "match the golden ones" in proc.stdout
    tables = {p.stem for p in (results / "tables").glob("*.csv")}
    assert tables - {"run_times"} == {p.stem for p in GOLDEN_SMALL.glob("*.csv")}
    for name in ("calibration_base_year", "demography_projection", "status_quo_finances",
                 "status_quo_depletion_distribution", "optimal_summary", "optimal_first_stage",
                 "optimal_value_of_information", "frontier", "sensitivity", "equity",
                 "equity_summary", "equity_welfare", "welfare_by_cohort",
                 "welfare_between_experiments"):
        for ext in ("md", "csv", "tex"):
            assert (results / "tables" / f"{name}.{ext}").is_file(), (name, ext)
    figures = {p.name for p in (results / "figures").glob("*.png")}
    for name in ("pyramid_2050.png", "fan_old_age_dependency_ratio.png",
                 "fan_months_payable.png", "depletion_year_distribution.png",
                 "optimal_policy_comparison.png", "frontier.png", "sensitivity.png",
                 "equity.png", "welfare_by_cohort.png"):
        assert name in figures, name
    index = (results / "tables" / "index.md").read_text()
    assert "frontier_rate16_agelaw_reserve" in index and "| solver |" in index
    # the study's page: every table linked to its CSV, every figure embedded
    html = (results / "index.html").read_text()
    for name in tables:
        assert f'href="tables/{name}.csv"' in html, name
    assert html.count('src="data:image/png;base64,') == len(figures)
    assert html.index('id="answer"') < html.index('id="calibration"') < html.index('id="optimal"')


#: Tables that read the NSSF's projected return: everything the optimizer decides (the
#: reserve is one of its levers and counts toward the horizon target). The status quo, the
#: demography, the calibration fit, the economy and the equity experiment do not (the welfare
#: between experiments holds the welfare of the optimal policy).
NSSF_DEPENDENT = {"optimal_summary", "optimal_value_of_information", "optimal_first_stage",
                  "optimal_expected_paths", "frontier", "sensitivity",
                  "welfare_between_experiments",
                  # the pension tables: the identification table lists the NSSF return's value,
                  # the validation compares the NSSF's assets, the tornado varies the return
                  "pension_identification", "pension_validation", "pension_tornado"}


@pytest.mark.slow
def test_a_calibration_edit_changes_the_dependent_tables_and_nothing_else(small_study,
                                                                         small_runs):
    results, proc = small_study
    assert proc.returncode == 0, proc.stderr
    _, edited, n, runs = small_runs
    assert n == 1, "test setup: the NSSF return is not where it used to be"
    proc2 = _finish(runs["edited"])
    assert proc2.returncode == 0, proc2.stdout + proc2.stderr
    changed = set()
    for path in sorted((results / "tables").glob("*.csv")):
        if path.stem == "run_times":
            continue
        diff = golden.compare_frames(path.stem, pd.read_csv(edited / "tables" / path.name),
                                     pd.read_csv(path), rtol=1e-12, atol=0.0)
        if diff:
            changed.add(path.stem)
    # every optimal-policy experiment's answer tables (answer_<exp>, answer_guarantee_<exp>)
    # hold its optimal policy: they depend on the NSSF return too
    unexpected = {n for n in changed - NSSF_DEPENDENT if not n.startswith("answer_")}
    assert not unexpected, f"tables that should not change did: {unexpected}"
    assert {"optimal_summary", "frontier", "sensitivity"} <= changed
    # the sensitivity member that sets the NSSF return itself is unaffected; the others move
    before = pd.read_csv(results / "tables" / "sensitivity.csv").set_index("experiment")
    after = pd.read_csv(edited / "tables" / "sensitivity.csv").set_index("experiment")
    cost = "optimal expected cost (trillion yuan)"
    assert after.loc["sensitivity_nssf_low", cost] == before.loc["sensitivity_nssf_low", cost]
    assert after.loc["sensitivity_reference", cost] != before.loc["sensitivity_reference", cost]
