"""Every bad input stops with the file, the key, the value and what was expected."""

import re
import shutil
from pathlib import Path

import pytest

from models.config import ConfigError, load_arrays, load_calibration, load_experiment
from tests.conftest import CALIBRATION


@pytest.fixture()
def cal_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "china"
    shutil.copytree(CALIBRATION, dest)
    return dest


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"test setup: {old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def _load_all(folder: Path):
    cal = load_calibration(folder)
    return load_arrays(cal, folder)


def test_shipped_calibration_is_valid(arrays):
    assert int(arrays["base_population"].sum()) > 1_000_000_000


def test_malformed_toml_names_the_file(cal_copy):
    _edit(cal_copy / "pension.toml", "[contribution.compliance]", "[contribution.compliance")
    with pytest.raises(ConfigError, match=r"pension\.toml: malformed TOML"):
        load_calibration(cal_copy)


def test_missing_key_names_file_and_key_path(cal_copy):
    _edit(cal_copy / "pension.toml", "[contribution.compliance]", "[contribution.unused]")
    with pytest.raises(ConfigError) as err:
        load_calibration(cal_copy)
    text = str(err.value)
    assert "pension.toml: missing key 'contribution.compliance'" in text


def test_out_of_range_value_names_key_value_and_expectation(cal_copy):
    _edit(cal_copy / "pension.toml", "value = 0.80", "value = 1.6")
    with pytest.raises(ConfigError) as err:
        load_calibration(cal_copy)
    assert re.search(r"pension\.toml: key 'contribution\.compliance\.value' = 1\.6: "
                     r"expected a number <= 1", str(err.value))


def test_unknown_key_suggests_the_closest_valid_name(cal_copy):
    _edit(cal_copy / "finances.toml", "[fund.real_return]", "[fund.real_retrun]")
    with pytest.raises(ConfigError) as err:
        load_calibration(cal_copy)
    assert "finances.toml: unknown key 'fund.real_retrun'; did you mean 'real_return'?" in str(
        err.value)


def test_unknown_key_inside_a_parameter(cal_copy):
    _edit(cal_copy / "pension.toml", 'unit = "fraction of insured workers',
          'unti = "x"\nunit = "fraction of insured workers')
    with pytest.raises(ConfigError, match=r"unknown key 'contribution\.compliance\.unti'; "
                                          r"did you mean 'unit'\?"):
        load_calibration(cal_copy)


def test_cross_file_rule_base_year_matches_targets(cal_copy):
    _edit(cal_copy / "pension.toml", "[targets.year]\nvalue = 2021", "[targets.year]\nvalue = 2022")
    with pytest.raises(ConfigError, match=r"targets\.year\.value = 2022 must equal "
                                          r"demography\.base_year\.value = 2021"):
        load_calibration(cal_copy)


def test_wrong_csv_hash_says_which_array_and_file(cal_copy):
    with (cal_copy / "derived" / "base_population.csv").open("a") as fh:
        fh.write("\n")
    with pytest.raises(ConfigError) as err:
        _load_all(cal_copy)
    text = str(err.value)
    assert "demography.toml: key 'arrays.base_population'.sha256" in text
    assert "base_population.csv" in text and "make calibrate" in text


def test_csv_with_missing_ages_is_rejected(cal_copy):
    from models.config import refresh_array_hashes

    path = cal_copy / "derived" / "base_population.csv"
    lines = path.read_text().splitlines()
    kept = [lines[0]] + [ln for ln in lines[1:] if not ln.startswith(("37,", "38,"))]
    path.write_text("\n".join(kept) + "\n")
    refresh_array_hashes(cal_copy)  # a consistent hash: the content check must still catch it
    with pytest.raises(ConfigError, match=r"base_population\.csv: missing age values \[37, 38\]"):
        _load_all(cal_copy)


def test_csv_with_unknown_sex_is_rejected(cal_copy):
    from models.config import refresh_array_hashes

    path = cal_copy / "derived" / "base_population.csv"
    path.write_text(path.read_text().replace(",male,", ",Male,"))
    refresh_array_hashes(cal_copy)
    with pytest.raises(ConfigError, match=r"missing sex values \['male'\].*unexpected sex "
                                          r"values \['Male'\]"):
        _load_all(cal_copy)


def test_experiment_override_of_unknown_key_is_rejected(tmp_path):
    exp = tmp_path / "experiments" / "bad.toml"
    exp.parent.mkdir()
    exp.write_text(f'name = "bad"\ncalibration = "{CALIBRATION}"\n'
                   '[overrides]\n"pension.contribution.complience.value" = 0.7\n')
    with pytest.raises(ConfigError, match=r"bad\.toml: override key 'overrides\.pension\."
                                          r"contribution\.complience\.value'.*did you mean "
                                          r"'pension\.contribution\.compliance'\?"):
        load_experiment(exp)


def test_experiment_override_is_validated_like_the_file(tmp_path):
    exp = tmp_path / "experiments" / "bad.toml"
    exp.parent.mkdir()
    exp.write_text(f'name = "bad"\ncalibration = "{CALIBRATION}"\n'
                   '[overrides]\n"pension.contribution.compliance.value" = -0.1\n')
    with pytest.raises(ConfigError, match=r"contribution\.compliance\.value' = -0\.1: "
                                          r"expected a number >= 0"):
        load_experiment(exp)


def test_cli_validate_reports_error_and_exit_code(cal_copy, capsys):
    from models.cli import main

    _edit(cal_copy / "finances.toml", "value = 106837.0", "value = -5.0")
    assert main(["validate", str(cal_copy)]) == 2
    err = capsys.readouterr().err
    assert "finances.toml: key 'wages.average_wage_cny.value' = -5.0: expected a number > 0" in err


def test_list_valued_override_replaces_a_growth_path_and_is_validated(tmp_path):
    exp = tmp_path / "experiments" / "growth.toml"
    exp.parent.mkdir()
    exp.write_text(f'name = "growth"\ncalibration = "{CALIBRATION}"\n[overrides]\n'
                   '"finances.wages.real_growth.segments" = [{from_year = 2021, rate = 0.05}, '
                   '{from_year = 2025, rate = 0.03}]\n')
    _, cal, _ = load_experiment(exp)
    assert [s.rate for s in cal.finances.wages.real_growth.segments] == [0.05, 0.03]
    exp.write_text(f'name = "growth"\ncalibration = "{CALIBRATION}"\n[overrides]\n'
                   '"finances.wages.real_growth.segments" = [{from_year = 2021, rate = 0.9}]\n')
    with pytest.raises(ConfigError, match=r"real_growth\.segments\.0\.rate' = 0\.9: expected "
                                          r"a number <= 0\.2"):
        load_experiment(exp)
