"""Bad inputs, table-driven: each must stop ``pension validate`` (and ``pension run`` before any
work) with its exit code, a message naming the file and the key (or the CSV's row and column),
and no traceback.

Sweeps: every numeric calibration value set by an experiment's ``[overrides]`` (wrong type,
inf, NaN, far out of range: the message must blame the override, not the calibration file);
every numeric experiment setting (the same variants, written in the experiment file); every
CSV array (text cell, inf, NaN, hash). Then the named cases of issue 12 and their neighbours.
Everything runs ``models.cli.main`` in-process on copies in ``tmp_path``; nothing is computed.
"""

from __future__ import annotations

import json
import math
import shutil
import tomllib
from pathlib import Path

import pytest

from models.cli import main
from models.config import (
    DOMAINS,
    Experiment,
    OptimizationSettings,
    read_calibration_raw,
    refresh_array_hashes,
)
from tests.conftest import CALIBRATION, EXPERIMENTS

EXIT_INVALID, EXIT_RESULTS_DIR, EXIT_DAMAGED = 2, 5, 6


# ------------------------------------------------------------------------------ helpers
def toml_value(value) -> str:
    """A Python value as a TOML literal (numbers, inf/nan, strings, booleans, lists, tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


class Literal(str):
    """A TOML literal written as is (e.g. ``1e400``)."""


def write_experiment(folder: Path, settings: dict, overrides: dict | None = None,
                     name: str = "bad", calibration: Path = CALIBRATION) -> Path:
    """An experiment file from dotted settings (``"optimization.tree.branching" = [2]``)."""
    lines = [f'name = "{name}"', f'calibration = "{calibration}"']
    for key, value in settings.items():
        text = value if isinstance(value, Literal) else toml_value(value)
        lines.append(f"{key} = {text}")
    if overrides:
        lines.append("[overrides]")
        for key, value in overrides.items():
            text = value if isinstance(value, Literal) else toml_value(value)
            lines.append(f'"{key}" = {text}')
    path = folder / "experiments" / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err


def assert_stopped(code: int, err: str, expected_code: int, *needles: str) -> None:
    assert code == expected_code, f"exit {code}, expected {expected_code}; stderr:\n{err}"
    assert "Traceback" not in err, err
    for needle in needles:
        assert needle in err, f"{needle!r} not in:\n{err}"


def numeric_leaves(tree, prefix: str = ""):
    """Dotted paths of the int/float leaves of nested dicts (lists are skipped)."""
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from numeric_leaves(value, path + ".")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield path, value


def variants(value) -> list[tuple[str, object]]:
    """Bad values of a number's type: as a string, a boolean, inf, NaN, far out of range."""
    if isinstance(value, int):
        return [("string", str(value)), ("bool", True), ("float", value + 0.5),
                ("huge", 10**12), ("negative", -10**12)]
    return [("string", str(value)), ("bool", True), ("inf", math.inf), ("-inf", -math.inf),
            ("nan", math.nan), ("1e400", Literal("1e400")), ("huge", 1e300),
            ("negative", -1e300)]


@pytest.fixture()
def no_arrays(monkeypatch):
    """Skip reading the CSV arrays (the sweeps of TOML values; the arrays have their own)."""
    import models.config

    monkeypatch.setattr(models.config, "load_arrays", lambda cal, folder: None)


CAL_LEAVES = [(f"{d}.{p}", v) for d, tree in read_calibration_raw(CALIBRATION).items()
              for p, v in numeric_leaves(tree)]
FULL_EXPERIMENT = Experiment(name="x", optimization=OptimizationSettings()).model_dump()
EXP_LEAVES = list(numeric_leaves(FULL_EXPERIMENT))


# ------------------------------------------------------------------ sweep: overrides
@pytest.mark.parametrize("key,value", CAL_LEAVES, ids=[k for k, _ in CAL_LEAVES])
def test_every_calibration_number_set_by_an_override(key, value, tmp_path, capsys, no_arrays):
    rejected = []
    for kind, bad in variants(value):
        exp = write_experiment(tmp_path, {}, overrides={key: bad}, name=f"o_{kind}")
        code, err = run_cli(["validate", str(exp)], capsys)
        if kind in ("huge", "negative") and code == 0:
            continue  # a range may be open on one side
        assert_stopped(code, err, EXIT_INVALID, str(exp), f"overrides.{key}")
        assert "pension.toml" not in err and "finances.toml" not in err, err
        rejected.append(kind)
    assert {"huge", "negative"} & set(rejected) or key.endswith(".year.value"), (
        f"{key}: neither a huge nor a huge negative value is rejected")


# ------------------------------------------------------------ sweep: experiment settings
@pytest.mark.parametrize("key,value", EXP_LEAVES, ids=[k for k, _ in EXP_LEAVES])
def test_every_experiment_number(key, value, tmp_path, capsys, no_arrays):
    # the optimizer's settings in a deterministic experiment
    base = {} if key.startswith("optimization.") else {"demography.paths": 4}
    if key.startswith("optimization."):
        base["optimization.regime"] = "law_2024"
    rejected = []
    for kind, bad in variants(value):
        exp = write_experiment(tmp_path, {**base, key: bad}, name=f"e_{kind}")
        code, err = run_cli(["validate", str(exp)], capsys)
        if kind in ("huge", "negative") and code == 0:
            continue
        assert_stopped(code, err, EXIT_INVALID, str(exp), key.split(".")[-1])
        rejected.append(kind)
    assert {"huge", "negative"} & set(rejected), f"{key}: no out-of-range value is rejected"


# ------------------------------------------------------------------------ sweep: CSVs
CSV_FILES = sorted(p.name for p in (CALIBRATION / "derived").glob("*.csv"))


def copy_calibration(tmp_path: Path) -> Path:
    dest = tmp_path / "china"
    shutil.copytree(CALIBRATION, dest)
    return dest


def edit_csv_cell(path: Path, row: int, column: str, new: str) -> None:
    """Replace the cell of data row ``row`` (0 = the first after the header) in ``column``."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[row + 1].split(",")
    cells[header.index(column)] = new
    lines[row + 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


def last_column(path: Path) -> str:
    return path.read_text().splitlines()[0].split(",")[-1]


@pytest.mark.parametrize("cell", ["abc", "inf", "nan", "1e400", "-Infinity", ""])
@pytest.mark.parametrize("csv", CSV_FILES)
def test_every_csv_bad_cell(csv, cell, tmp_path, capsys):
    cal = copy_calibration(tmp_path)
    path = cal / "derived" / csv
    column = last_column(path)
    edit_csv_cell(path, 3, column, cell)
    refresh_array_hashes(cal)  # a consistent hash: the content check must catch it
    code, err = run_cli(["validate", str(cal)], capsys)
    assert_stopped(code, err, EXIT_INVALID, csv, "line 5", f"column '{column}'")


@pytest.mark.parametrize("csv", CSV_FILES)
def test_every_csv_hash(csv, tmp_path, capsys):
    cal = copy_calibration(tmp_path)
    with (cal / "derived" / csv).open("a") as fh:
        fh.write("\n")
    code, err = run_cli(["validate", str(cal)], capsys)
    key = csv.removesuffix(".csv")
    assert_stopped(code, err, EXIT_INVALID, "demography.toml", f"arrays.{key}", "sha256", csv)


@pytest.mark.parametrize("csv", CSV_FILES)
def test_every_csv_text_in_a_coordinate(csv, tmp_path, capsys):
    cal = copy_calibration(tmp_path)
    path = cal / "derived" / csv
    column = path.read_text().splitlines()[0].split(",")[0]  # year or age
    edit_csv_cell(path, 0, column, "twenty")
    refresh_array_hashes(cal)
    code, err = run_cli(["validate", str(cal)], capsys)
    assert_stopped(code, err, EXIT_INVALID, csv, "line 2", f"column '{column}'")


# --------------------------------------------------------------------- named cases
def _csv_lines(path: Path, fn) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(fn(lines)) + "\n")


CSV_CASES = {
    # name: (file, edit of the lines, needles)
    "missing_ages": ("base_population.csv",
                     lambda ls: [ls[0]] + [x for x in ls[1:] if not x.startswith(("37,", "38,"))],
                     ["base_population.csv", "missing age values [37, 38]"]),
    "duplicate_row": ("base_population.csv", lambda ls: ls + [ls[1]],
                      ["base_population.csv", "duplicate rows"]),
    "missing_column": ("base_population.csv",
                       lambda ls: [x.rsplit(",", 1)[0] for x in ls],
                       ["base_population.csv", "missing column(s) ['persons']"]),
    "ragged_row": ("base_population.csv", lambda ls: ls[:5] + [ls[5] + ",7"] + ls[6:],
                   ["base_population.csv", "not a readable CSV table"]),
    "empty_file": ("base_population.csv", lambda ls: [""], ["base_population.csv",
                                                            "not a readable CSV"]),
    "fractional_age": ("base_population.csv",
                       lambda ls: ls[:3] + ["1.5" + ls[3][1:]] + ls[4:],
                       ["base_population.csv", "line 4, column 'age' = '1.5'", "whole number"]),
    "negative_population": ("base_population.csv",
                            lambda ls: ls[:2] + [ls[2].rsplit(",", 1)[0] + ",-5"] + ls[3:],
                            ["base_population.csv", "column 'persons' at age 0, sex male",
                             "expected >= 0"]),
    "unknown_sex": ("base_population.csv", lambda ls: [x.replace(",male,", ",Male,") for x in ls],
                    ["base_population.csv", "unexpected sex values ['Male']"]),
    "zero_death_rate": ("mortality_history.csv",
                        lambda ls: ls[:2] + [ls[2].rsplit(",", 1)[0] + ",0"] + ls[3:],
                        ["mortality_history.csv", "column 'mx'", "expected > 0"]),
    "sex_ratio": ("sex_ratio_at_birth.csv",
                  lambda ls: ls[:2] + [ls[2].split(",")[0] + ",2.5"] + ls[3:],
                  ["sex_ratio_at_birth.csv", "column 'srb'", "0.9..1.3"]),
    "bom_csv_changes_hash_only": ("base_population.csv", lambda ls: ["\ufeff" + ls[0]] + ls[1:],
                                  None),
}


@pytest.mark.parametrize("name", list(CSV_CASES))
def test_csv_case(name, tmp_path, capsys):
    csv, edit, needles = CSV_CASES[name]
    cal = copy_calibration(tmp_path)
    _csv_lines(cal / "derived" / csv, edit)
    refresh_array_hashes(cal)
    code, err = run_cli(["validate", str(cal)], capsys)
    if needles is None:  # accepted: a byte-order mark is read as UTF-8
        assert code == 0, err
        return
    assert_stopped(code, err, EXIT_INVALID, *needles)


def edit_file(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"test setup: {old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


CAL_FILE_CASES = {
    # name: (file, old, new, needles)
    "wage_inf": ("finances.toml", "value = 106837.0", "value = inf",
                 ["finances.toml", "'wages.average_wage_cny.value' = inf", "finite number"]),
    "wage_1e400": ("finances.toml", "value = 106837.0", "value = 1e400",
                   ["finances.toml", "'wages.average_wage_cny.value' = inf", "1e400"]),
    "wage_Infinity_string": ("finances.toml", "value = 106837.0", 'value = "Infinity"',
                             ["finances.toml", "'wages.average_wage_cny.value' = 'Infinity'",
                              "a number written without quotes"]),
    "compliance_string": ("pension.toml", "value = 0.80", 'value = "0.80"',
                          ["pension.toml", "'contribution.compliance.value' = '0.80'",
                           "not a string"]),
    "compliance_bool": ("pension.toml", "value = 0.80", "value = true",
                        ["pension.toml", "'contribution.compliance.value' = True"]),
    "compliance_nan": ("pension.toml", "value = 0.80", "value = nan",
                       ["pension.toml", "'contribution.compliance.value' = nan"]),
    "compliance_range": ("pension.toml", "value = 0.80", "value = 1.6",
                         ["pension.toml", "'contribution.compliance.value' = 1.6",
                          "a number <= 1"]),
    "base_year_string": ("demography.toml", "value = 2021", 'value = "2021"',
                         ["demography.toml", "'base_year.value' = '2021'", "whole number"]),
    "base_year_float": ("demography.toml", "value = 2021", "value = 2021.0",
                        ["demography.toml", "'base_year.value' = 2021.0"]),
    "horizon_before_base": ("demography.toml", "value = 2100", "value = 2020",
                            ["demography.toml", "key 'last_year.value' = 2020",
                             "after base_year.value = 2021"]),
    "targets_year": ("pension.toml", "[targets.year]\nvalue = 2021", "[targets.year]\nvalue = 2022",
                     ["pension.toml", "key 'targets.year.value' = 2022",
                      "must equal demography.base_year.value = 2021"]),
    "unit_number": ("pension.toml", 'unit = "fraction of insured workers',
                    'unit = 5\nnote = "fraction of insured workers',
                    ["pension.toml", "'contribution.compliance.unit' = 5", "a string"]),
    "unknown_key": ("finances.toml", "[fund.real_return]", "[fund.real_retrun]",
                    ["finances.toml", "unknown key 'fund.real_retrun'", "did you mean"]),
    "malformed": ("pension.toml", "[contribution.compliance]", "[contribution.compliance",
                  ["pension.toml", "malformed TOML"]),
}


@pytest.mark.parametrize("name", list(CAL_FILE_CASES))
def test_calibration_file_case(name, tmp_path, capsys):
    file, old, new, needles = CAL_FILE_CASES[name]
    cal = copy_calibration(tmp_path)
    edit_file(cal / file, old, new)
    code, err = run_cli(["validate", str(cal)], capsys)
    assert_stopped(code, err, EXIT_INVALID, *needles)
    assert "(top level)" not in err


def test_cross_file_horizon_names_the_key(tmp_path, capsys):
    """A reform year beyond the horizon names the pension file's key, not '(top level)'."""
    exp = write_experiment(tmp_path, {}, overrides={
        "pension.residents.reform_year": {"value": 2150, "unit": "year", "source": "test"},
        "pension.residents.target_share_of_employee_pension": {"value": 0.2, "unit": "1",
                                                               "source": "test"},
        "pension.residents.phase_in_years": {"value": 5, "unit": "years", "source": "test"}})
    code, err = run_cli(["validate", str(exp)], capsys)
    assert_stopped(code, err, EXIT_INVALID, str(exp), "overrides.pension.residents.reform_year"
                   ".value' = 2150", "demography.last_year.value = 2100")


EXPERIMENT_CASES = {
    # name: (settings, overrides, needles)
    "seed_string": ({"seed": "42"}, None, ["key 'seed' = '42'", "whole number"]),
    "seed_bool": ({"seed": True}, None, ["key 'seed' = True"]),
    "paths_float": ({"demography.paths": 10.0}, None, ["'demography.paths' = 10.0"]),
    "workers_zero": ({"parallel.workers": 0}, None, ["'parallel.workers' = 0", ">= 1"]),
    "regime_unknown": ({"projection.regimes": ["law_2025"]}, None,
                       ["projection.regimes.0", "one of"]),
    "first_decision_past_horizon": (
        {"optimization.tree.first_decision_year": 2150}, None,
        ["'optimization.tree.first_decision_year' = 2150", "demography.last_year = 2100"]),
    "first_decision_at_base": (
        {"optimization.tree.first_decision_year": 2021}, None,
        ["'optimization.tree.first_decision_year' = 2021"]),
    "last_stage_past_horizon": (
        {"demography.paths": 20, "optimization.tree.first_decision_year": 2095,
         "optimization.tree.branching": [2, 2]}, None,
        ["'optimization.tree.stage_every_years' = 5", "it would be 2105"]),
    "tree_more_leaves_than_paths": (
        {"demography.paths": 4, "optimization.tree.branching": [3, 3]}, None,
        ["'optimization.tree.branching' = [3, 3]", "at most 4 leaves"]),
    "optimization_paths_above_demography": (
        {"demography.paths": 10, "optimization.paths": 20}, None,
        ["'optimization.paths' = 20", "at most demography.paths = 10"]),
    "optimization_paths_without_monte_carlo": (
        {"optimization.paths": 5}, None, ["'optimization.paths' = 5", "demography.paths = 0"]),
    "demography_paths_above_optimizer_limit": (
        {"demography.paths": 5000, "optimization.paths": 100}, None,
        ["'demography.paths' = 5000", "at most 2000", "lower demography.paths"]),
    "cap_age_below_law": (
        {"optimization.retirement.cap_age": {"men": 62.0, "women_cadre": 60.0,
                                             "women_worker": 58.0}}, None,
        ["'optimization.retirement.cap_age.men' = 62.0", "at least 63", "law_2024"]),
    "cap_age_below_law_pre_2024": (
        {"optimization.regime": "pre_2024",
         "optimization.retirement.cap_age": {"men": 65.0, "women_cadre": 54.0,
                                             "women_worker": 58.0}}, None,
        ["'optimization.retirement.cap_age.women_cadre' = 54.0", "at least 55"]),
    "indexation_floor_above_calibrated_ceiling": (
        {"optimization.indexation.enabled": True,
         "optimization.indexation.floor_wage_share": 0.9}, None,
        ["'optimization.indexation.floor_wage_share' = 0.9", "at most the ceiling 0.6"]),
    "contribution_bounds_crossed": (
        {"optimization.contribution.min_rate": 0.2, "optimization.contribution.max_rate": 0.1},
        None, ["'optimization.contribution'", "max_rate = 0.1 must be >= min_rate = 0.2"]),
    "unknown_solver_key": (
        {"optimization.solver.time_limit": 5.0}, None,
        ["unknown key 'optimization.solver.time_limit'", "did you mean 'time_limit_s'",
         "valid keys here: time_limit_s, mip_gap, threads"]),
    "unknown_tree_key": (
        {"optimization.tree.brancing": [2]}, None,
        ["unknown key 'optimization.tree.brancing'", "did you mean 'branching'"]),
    "unknown_top_key": ({"sed": 1}, None, ["unknown key 'sed'", "did you mean 'seed'"]),
    "override_string": ({}, {"pension.contribution.compliance.value": "0.80"},
                        ["key 'overrides.pension.contribution.compliance.value' = '0.80'"]),
    "override_bool": ({}, {"finances.fund.real_return.value": True},
                      ["key 'overrides.finances.fund.real_return.value' = True"]),
    "override_inf": ({}, {"finances.wages.average_wage_cny.value": Literal("1e400")},
                     ["key 'overrides.finances.wages.average_wage_cny.value' = inf"]),
    "override_segment": ({}, {"finances.wages.real_growth.segments": [
        {"from_year": 2021, "rate": "0.05"}]},
        ["key 'overrides.finances.wages.real_growth.segments.0.rate' = '0.05'"]),
    "override_table_for_number": ({}, {"pension.contribution.compliance": 0.7},
                                  ["key 'overrides.pension.contribution.compliance' = 0.7",
                                   "a table"]),
    "override_unknown": ({}, {"pension.contribution.complience.value": 0.7},
                         ["override key 'overrides.pension.contribution.complience.value'",
                          "did you mean"]),
}


@pytest.mark.parametrize("name", list(EXPERIMENT_CASES))
def test_experiment_case(name, tmp_path, capsys, no_arrays):
    settings, overrides, needles = EXPERIMENT_CASES[name]
    exp = write_experiment(tmp_path, settings, overrides)
    code, err = run_cli(["validate", str(exp)], capsys)
    assert_stopped(code, err, EXIT_INVALID, str(exp), *needles)
    assert "pension.toml" not in err and "finances.toml" not in err


@pytest.mark.parametrize("target", ["experiment", "calibration"])
def test_utf8_byte_order_mark_is_accepted(target, tmp_path, capsys):
    cal = copy_calibration(tmp_path)
    exp = write_experiment(tmp_path, {"seed": 1}, calibration=cal)
    path = exp if target == "experiment" else cal / "pension.toml"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    code, err = run_cli(["validate", str(exp)], capsys)
    assert code == 0, err


def test_not_utf8_is_named(tmp_path, capsys):
    exp = write_experiment(tmp_path, {"description": "x"})
    exp.write_bytes(exp.read_bytes().replace(b'"x"', b'"\xff"'))
    code, err = run_cli(["validate", str(exp)], capsys)
    assert_stopped(code, err, EXIT_INVALID, str(exp), "not UTF-8")


def test_shipped_experiments_are_valid(capsys, no_arrays):
    for path in sorted(EXPERIMENTS.glob("*.toml")):
        code, err = run_cli(["validate", str(path)], capsys)
        assert code == 0, f"{path}: {err}"


# ----------------------------------------------------------- results folder and files
@pytest.fixture()
def no_computation(monkeypatch):
    """Make any computation fail loudly: the checks must stop the run before it."""
    from models.pipeline import run

    def forbidden(*args, **kwargs):
        raise AssertionError("the computation started")

    monkeypatch.setattr(run, "simulate", forbidden)


@pytest.mark.parametrize("where", ["file", "unwritable"])
def test_results_dir_unusable_fails_before_work(where, tmp_path, capsys, no_computation):
    exp = write_experiment(tmp_path, {"economy.enabled": False})
    if where == "file":
        results = tmp_path / "results"
        results.write_text("not a folder")
    else:  # a folder no one may create files in, even root (sysfs)
        results = Path("/sys/pension-results-test")
    code, err = run_cli(["run", str(exp), "--results-dir", str(results)], capsys)
    assert_stopped(code, err, EXIT_RESULTS_DIR, str(results))
    assert len(err.strip().splitlines()) == 1, err


def test_run_stops_on_a_cross_rule_before_work(tmp_path, capsys, no_computation):
    exp = write_experiment(tmp_path, {"optimization.tree.first_decision_year": 2150})
    code, err = run_cli(["run", str(exp), "--results-dir", str(tmp_path / "r")], capsys)
    assert_stopped(code, err, EXIT_INVALID, "optimization.tree.first_decision_year")
    assert not (tmp_path / "r" / "bad").exists()


def test_run_stops_on_cap_age_before_work(tmp_path, capsys, no_computation):
    exp = write_experiment(tmp_path, {"optimization.retirement.cap_age": {
        "men": 60.0, "women_cadre": 58.0, "women_worker": 55.0}})
    code, err = run_cli(["run", str(exp), "--results-dir", str(tmp_path / "r")], capsys)
    assert_stopped(code, err, EXIT_INVALID, "optimization.retirement.cap_age.men")


@pytest.mark.parametrize("damage", ["truncated", "foreign", "text", "empty"])
def test_report_on_a_damaged_results_file(damage, tmp_path, capsys):
    import numpy as np
    import xarray as xr

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    path = run_dir / "results.nc"
    ds = xr.Dataset({"x": ("t", np.arange(1000.0))}, attrs={"experiment_json": "{}"})
    ds.to_netcdf(path, engine="netcdf4")
    if damage == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif damage == "foreign":
        xr.Dataset({"x": ("t", np.arange(3.0))}).to_netcdf(path, engine="netcdf4")
    elif damage == "text":
        path.write_text("hello\n")
    else:
        path.write_bytes(b"")
    code, err = run_cli(["report", str(run_dir)], capsys)
    assert_stopped(code, err, EXIT_DAMAGED, str(path))
    assert len(err.strip().splitlines()) == 1, err


def test_report_without_results_names_the_path(tmp_path, capsys):
    code, err = run_cli(["report", str(tmp_path / "nothing")], capsys)
    assert_stopped(code, err, 4, "nothing")
