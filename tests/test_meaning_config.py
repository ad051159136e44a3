"""Every rule of the calibration and experiment schemas, broken once: the error names the file,
the key and the rule (so a user can fix the file), and the value just inside the rule passes.

The shipped calibration is read once (``read_calibration_raw``) and each test changes one entry
of a copy before validating it (``validate_calibration``); experiment rules go through
``load_experiment`` on a small file. Also: what a growth path means (rates are fractions per
year, each segment holds from its year on).
"""

import copy
import re
import shutil

import numpy as np
import pytest

from models.config import (
    Calibration,
    ConfigError,
    GrowthPath,
    apply_overrides,
    load_arrays,
    load_calibration,
    load_experiment,
    read_calibration_raw,
    refresh_array_hashes,
    validate_calibration,
)
from tests.conftest import CALIBRATION


@pytest.fixture(scope="module")
def raw():
    return read_calibration_raw(CALIBRATION)


def _set(raw, dotted, value):
    out = copy.deepcopy(raw)
    node = out
    *parents, last = dotted.split(".")
    for part in parents:
        node = node[part]
    node[last] = value
    return out


def _error(raw, dotted, value) -> str:
    with pytest.raises(ConfigError) as err:
        validate_calibration(_set(raw, dotted, value), CALIBRATION)
    return str(err.value)


def test_the_shipped_calibration_passes(raw):
    validate_calibration(raw, CALIBRATION)


# ------------------------------------------------------------------ ranges of single values
@pytest.mark.parametrize("value, ok", [(0.5, True), (-0.5, True), (0.51, False), (-0.51, False),
                                       (2.0, False)])
def test_a_rate_lies_within_plus_minus_one_half(raw, value, ok):
    """``Rate`` entries (returns, interest and growth of the initial steady state) are
    fractions per year within ±0.5: 2.0 (a percentage typed as 2) is refused."""
    for dotted in ("finances.fund.real_return.value", "economy.targets.interest_rate.value"):
        bad = _set(raw, dotted, value)
        if ok:
            validate_calibration(bad, CALIBRATION)
            continue
        with pytest.raises(ConfigError) as err:
            validate_calibration(bad, CALIBRATION)
        file, key = dotted.split(".", 1)
        bound = ">= -0.5" if value < 0 else "<= 0.5"
        assert f"{file}.toml: key '{key}' = {value}: expected a number {bound}" in str(err.value)


@pytest.mark.parametrize("value", [0.5, -0.25, 5.0])
def test_a_growth_segment_is_a_fraction_per_year(raw, value):
    """Growth rates are fractions (0.05 = 5 %), within ±0.2 a year."""
    segments = [{"from_year": 2021, "rate": value}]
    text = _error(raw, "finances.wages.real_growth.segments", segments)
    assert "finances.toml: key 'wages.real_growth.segments.0.rate'" in text
    assert re.search(r"expected a number [<>]= -?0\.2", text)


def test_a_growth_path_gives_each_year_its_segments_rate_as_a_fraction():
    path = GrowthPath(segments=[{"from_year": 2021, "rate": 0.05},
                                {"from_year": 2030, "rate": 0.04},
                                {"from_year": 2040, "rate": -0.01}],
                      unit="per year", source="test")
    years = np.array([2015, 2021, 2029, 2030, 2039, 2040, 2100])
    np.testing.assert_array_equal(path.rate(years), [0.05, 0.05, 0.05, 0.04, 0.04, -0.01, -0.01])


def test_growth_segments_must_start_in_increasing_years(raw):
    segments = [{"from_year": 2030, "rate": 0.04}, {"from_year": 2021, "rate": 0.05}]
    text = _error(raw, "finances.wages.real_growth.segments", segments)
    assert "finances.toml: key 'wages.real_growth'" in text
    assert "strictly increasing from_year" in text
    same = [{"from_year": 2021, "rate": 0.04}, {"from_year": 2021, "rate": 0.05}]
    assert "strictly increasing from_year" in _error(raw, "finances.wages.real_growth.segments",
                                                     same)


# ------------------------------------------------------------------ rules of one table
def test_the_divisor_must_fall_with_the_retirement_age(raw):
    divisor = copy.deepcopy(raw["pension"]["benefit"]["individual_account_divisor"])
    divisor["months"][10] = divisor["months"][9]  # flat between two ages
    text = _error(raw, "pension.benefit.individual_account_divisor", divisor)
    assert "pension.toml: key 'benefit.individual_account_divisor'" in text
    assert "months must decrease with the retirement age" in text


def test_the_divisor_ages_are_consecutive_and_match_the_months(raw):
    divisor = copy.deepcopy(raw["pension"]["benefit"]["individual_account_divisor"])
    short = dict(divisor, months=divisor["months"][:-1])
    assert "ages has 31 entries but months has 30" in _error(
        raw, "pension.benefit.individual_account_divisor", short)
    gap = dict(divisor, ages=[a - (a == 50) for a in divisor["ages"]])  # 49, 49, then 51
    assert "ages must be consecutive whole years" in _error(
        raw, "pension.benefit.individual_account_divisor", gap)


@pytest.mark.parametrize("dotted, value, names", [
    ("demography.last_year.value", 2021, ["demography.toml", "key 'last_year.value' = 2021",
                                           "base_year.value = 2021"]),
    ("pension.coverage.entry_age_full.value", 16.0, ["pension.toml", "entry_age_full",
                                                       "entry_age_start"]),
    ("economy.coverage.young_cohort_birth_year.value", 1950,
     ["economy.toml", "young_cohort_birth_year.value = 1950", "old_cohort_birth_year"]),
])
def test_an_ordering_rule_names_both_keys(raw, dotted, value, names):
    text = _error(raw, dotted, value)
    for name in names:
        assert name in text


def test_the_edge_of_an_ordering_rule_passes(raw):
    """Just inside each rule: the rule is strict where it says so, and no stricter.
    (Households' "last_age at least 10 years after first_age" cannot fail within the two
    keys' own ranges, 15..30 and 60..100: nothing to break there.)"""
    ok = _set(raw, "economy.coverage.young_cohort_birth_year.value",
              raw["economy"]["coverage"]["old_cohort_birth_year"]["value"] + 1)
    validate_calibration(ok, CALIBRATION)
    ok = _set(raw, "pension.coverage.entry_age_full.value",
              raw["pension"]["coverage"]["entry_age_start"]["value"] + 0.5)
    validate_calibration(ok, CALIBRATION)


REFORM = {
    "target_share_of_employee_pension": {"value": 0.2, "unit": "share", "source": "test"},
    "reform_year": {"value": 2026, "unit": "year", "source": "test"},
    "phase_in_years": {"value": 5, "unit": "years", "source": "test"},
}


@pytest.mark.parametrize("missing", list(REFORM))
def test_the_equity_reform_keys_go_together(raw, missing):
    residents = dict(raw["pension"]["residents"])
    residents.update({k: v for k, v in REFORM.items() if k != missing})
    text = _error(raw, "pension.residents", residents)
    assert "pension.toml: key 'residents'" in text
    assert f"{missing} missing" in text


# ------------------------------------------------------------------ rules across files
def test_the_economys_target_year_is_the_base_year(raw):
    text = _error(raw, "economy.targets.year.value", 2022)
    assert "economy.toml: key 'targets.year.value' = 2022: expected the base year" in text
    assert "must equal demography.base_year.value = 2021" in text


def test_the_pensions_target_year_is_the_base_year(raw):
    text = _error(raw, "pension.targets.year.value", 2020)
    assert "pension.toml: key 'targets.year.value' = 2020: expected the base year" in text
    assert "must equal demography.base_year.value = 2021" in text


@pytest.mark.parametrize("year, ok", [(2021, False), (2022, True), (2100, True), (2101, False)])
def test_the_reform_year_lies_after_the_base_year_and_within_the_projection(raw, year, ok):
    residents = dict(raw["pension"]["residents"], **REFORM)
    residents["reform_year"] = dict(REFORM["reform_year"], value=year)
    bad = _set(raw, "pension.residents", residents)
    assert raw["demography"]["last_year"]["value"] == 2100
    if ok:
        validate_calibration(bad, CALIBRATION)
        return
    with pytest.raises(ConfigError, match=rf"pension\.toml: key 'residents\.reform_year\.value' = "
                                          rf"{year}: expected a year after demography\.base_year"):
        validate_calibration(bad, CALIBRATION)


def test_the_wage_path_starts_by_the_base_year(raw):
    segments = [{"from_year": 2022, "rate": 0.05}]
    text = _error(raw, "finances.wages.real_growth.segments", segments)
    assert "finances.toml: key 'wages.real_growth.segments.0.from_year' = 2022: expected a " \
           "year <= demography.base_year.value = 2021" in text
    validate_calibration(_set(raw, "finances.wages.real_growth.segments",
                              [{"from_year": 2021, "rate": 0.05}]), CALIBRATION)


# ------------------------------------------------------------------ experiment rules
def _experiment(tmp_path, body: str):
    path = tmp_path / "experiments" / "e.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f'name = "e"\ncalibration = "{CALIBRATION}"\n{body}')
    return path


@pytest.mark.parametrize("body", [
    "[optimization.constraints]\ncvar_beta = 0.9\n",
    "[optimization.constraints]\ncvar_limit_cny = 1e12\n",
])
def test_cvar_beta_and_cvar_limit_go_together(tmp_path, body):
    with pytest.raises(ConfigError, match=r"e\.toml: key 'optimization\.constraints'.*"
                                          r"cvar_beta and cvar_limit_cny go together"):
        load_experiment(_experiment(tmp_path, body))
    load_experiment(_experiment(tmp_path, "[optimization.constraints]\ncvar_beta = 0.9\n"
                                          "cvar_limit_cny = 1e12\n"))


def test_chance_and_cvar_constraints_exclude_each_other(tmp_path):
    body = "[optimization.constraints]\nchance_alpha = 0.1\ncvar_beta = 0.9\ncvar_limit_cny = 1\n"
    with pytest.raises(ConfigError, match=r"optimization\.constraints.*either chance_alpha"):
        load_experiment(_experiment(tmp_path, body))


def test_the_rate_ceiling_is_not_below_the_floor(tmp_path):
    body = "[optimization.contribution]\nmin_rate = 0.15\nmax_rate = 0.14\n"
    with pytest.raises(ConfigError, match=r"optimization\.contribution.*max_rate = 0\.14 must "
                                          r"be >= min_rate = 0\.15"):
        load_experiment(_experiment(tmp_path, body))
    load_experiment(_experiment(tmp_path, "[optimization.contribution]\nmin_rate = 0.15\n"
                                          "max_rate = 0.15\n"))


def test_the_indexation_ceiling_is_not_below_its_floor(tmp_path):
    body = "[optimization.indexation]\nfloor_wage_share = 0.5\nceiling_wage_share = 0.4\n"
    with pytest.raises(ConfigError, match=r"optimization\.indexation.*ceiling_wage_share = 0\.4 "
                                          r"must be >= floor_wage_share = 0\.5"):
        load_experiment(_experiment(tmp_path, body))
    load_experiment(_experiment(tmp_path, "[optimization.indexation]\nfloor_wage_share = 0.5\n"
                                          "ceiling_wage_share = 0.5\n"))


# ------------------------------------------------------------------ overrides
def test_an_override_may_add_an_optional_entry_whole(raw):
    """The equity reform's keys are optional: an override adds each as a whole
    {value, unit, source} table; the files are left as they were."""
    before = copy.deepcopy(raw)
    overrides = {f"pension.residents.{k}": v for k, v in REFORM.items()}
    out = apply_overrides(raw, overrides, "exp.toml", Calibration)
    assert raw == before  # the input is not modified
    cal = validate_calibration(out, CALIBRATION)
    assert cal.pension.residents.reformed
    assert cal.pension.residents.reform_year.value == 2026
    assert out["pension"]["residents"]["phase_in_years"] == REFORM["phase_in_years"]
    # an existing value is replaced in place
    out = apply_overrides(raw, {"finances.fund.real_return.value": 0.03}, "exp.toml",
                          Calibration)
    assert out["finances"]["fund"]["real_return"]["value"] == 0.03
    assert raw["finances"]["fund"]["real_return"]["value"] != 0.03


def test_an_optional_entry_set_by_a_bare_value_says_how_to_set_it(raw):
    with pytest.raises(ConfigError) as err:
        apply_overrides(raw, {"pension.residents.reform_year.value": 2030}, "exp.toml",
                        Calibration)
    text = str(err.value)
    assert text.startswith("exp.toml: override key 'overrides.pension.residents.reform_year."
                           "value': no such calibration key 'pension.residents.reform_year'")
    assert ('an optional entry: set it whole, "pension.residents.reform_year" = '
            '{ value = ..., unit = "...", source = "..." }') in text
    # without the schema there is no optional entry to add
    with pytest.raises(ConfigError, match="no such calibration key"):
        apply_overrides(raw, {f"pension.residents.{k}": v for k, v in REFORM.items()},
                        "exp.toml")
    # a whole table for a key the schema does not know is refused, with the closest name
    with pytest.raises(ConfigError) as err:
        apply_overrides(raw, {"pension.residents.reform_yaer": REFORM["reform_year"]},
                        "exp.toml", Calibration)
    assert "did you mean 'pension.residents.reform_year'?" in str(err.value)


def test_an_unknown_key_inside_an_optional_entry_lists_its_valid_keys(raw):
    """The error names the valid keys of the table the unknown key is in, also when the table
    is an optional entry."""
    residents = dict(raw["pension"]["residents"], **REFORM)
    residents["reform_year"] = dict(REFORM["reform_year"], sorce="typo")
    text = _error(raw, "pension.residents", residents)
    assert "pension.toml: unknown key 'residents.reform_year.sorce'; did you mean 'source'? " \
           "(valid keys here: value, unit, source, note, low, high, pinned_by)" in text


# ------------------------------------------------------------------ arrays
ARRAY_DIMS = {
    "base_population": ("age", "sex"), "lc_ax": ("age", "sex"), "lc_bx": ("age", "sex"),
    "lc_kt": ("year", "sex"), "asfr": ("year", "fertility_age"), "sex_ratio_at_birth": ("year",),
    "net_migration": ("year", "age", "sex"), "lc_kt_history": ("history_year", "sex"),
    "mx_history": ("history_year", "age", "sex"), "tfr_published": ("published_year", "bound"),
    "e0_published": ("published_year", "sex", "bound"),
}


def test_the_arrays_are_the_documented_variables_with_unit_and_source(calibration, arrays):
    assert {k: v.dims for k, v in arrays.data_vars.items()} == ARRAY_DIMS
    spec = calibration.demography.arrays
    assert arrays["sex_ratio_at_birth"].attrs == {"units": spec.sex_ratio_at_birth.unit,
                                                  "source": spec.sex_ratio_at_birth.source}
    for name, var in arrays.data_vars.items():
        assert var.attrs["units"] and len(var.attrs["source"]) >= 3, name
    assert arrays["age"].values.tolist() == list(range(101))


@pytest.fixture()
def srb_copy(tmp_path):
    dest = tmp_path / "china"
    shutil.copytree(CALIBRATION, dest)
    return dest, dest / "derived" / "sex_ratio_at_birth.csv"


def _load_with(folder):
    refresh_array_hashes(folder)
    return load_arrays(load_calibration(folder), folder)


def test_an_array_file_that_is_missing_is_named(srb_copy):
    folder, path = srb_copy
    path.unlink()
    with pytest.raises(ConfigError) as err:
        load_arrays(load_calibration(folder), folder)
    assert str(err.value) == (f"{folder / 'demography.toml'}: key 'arrays.sex_ratio_at_birth'"
                              f".file = 'derived/sex_ratio_at_birth.csv': file not found at {path}")


def test_a_csv_without_its_column_says_which(srb_copy):
    folder, path = srb_copy
    path.write_text(path.read_text().replace("year,srb", "year,ratio", 1))
    with pytest.raises(ConfigError) as err:
        _load_with(folder)
    assert f"{path}: missing column(s) ['srb']; expected columns ['year', 'srb']" \
        in str(err.value)


def test_a_csv_with_an_empty_cell_or_a_duplicate_row_is_refused(srb_copy):
    folder, path = srb_copy
    text = path.read_text()
    path.write_text(text.replace("2022,1.106", "2022,", 1))
    with pytest.raises(ConfigError) as err:
        _load_with(folder)
    assert f"{path}: line 3, column 'srb' is empty" in str(err.value)
    path.write_text(text + "2022,1.106\n")
    with pytest.raises(ConfigError) as err:
        _load_with(folder)
    assert f"{path}: duplicate rows for the same year" in str(err.value)


def test_every_kind_of_schema_error_says_what_was_expected(raw, tmp_path):
    text = _error(raw, "economy.firms.capital_share.value", 1.0)  # lt=1.0
    assert "key 'firms.capital_share.value' = 1.0: expected a number < 1.0" in text
    text = _error(raw, "economy.firms.capital_share.value", "a third")
    assert "key 'firms.capital_share.value' = 'a third': expected a number written without " \
           "quotes (not a string or a boolean)" in text
    path = tmp_path / "experiments" / "e.toml"
    path.parent.mkdir()
    path.write_text(f'name = "two words"\ncalibration = "{CALIBRATION}"\n')
    with pytest.raises(ConfigError) as err:
        load_experiment(path)
    assert str(err.value) == (f"{path}: key 'name' = 'two words': expected a string matching "
                              r"^[A-Za-z0-9_\-]+$")


def test_arrays_with_impossible_values_are_refused(srb_copy):
    folder, path = srb_copy
    text = path.read_text()
    path.write_text(text.replace("2022,1.106", "2022,1.35", 1))
    with pytest.raises(ConfigError) as err:
        _load_with(folder)
    assert str(err.value) == (f"{path}: column 'srb' at year 2022 = 1.35: expected within "
                              "0.9..1.3 males per female (1 such cell(s))")
    path.write_text(text.replace("2022,1.106", "2022,1.3", 1))
    _load_with(folder)  # the bound itself is allowed
    path.write_text(text.replace("2022,1.106", "2022,0.9", 1))
    _load_with(folder)
    mig = folder / "derived" / "base_population.csv"
    lines = mig.read_text().splitlines()
    head, first = lines[0], lines[1].split(",")
    first[-1] = "0"
    mig.write_text("\n".join([head, ",".join(first), *lines[2:]]) + "\n")
    path.write_text(text)
    _load_with(folder)  # zero persons in a cell is possible
    first[-1] = "-1"
    mig.write_text("\n".join([head, ",".join(first), *lines[2:]]) + "\n")
    with pytest.raises(ConfigError) as err:
        _load_with(folder)
    assert str(err.value) == (f"{mig}: column 'persons' at age 0, sex female = -1.0: "
                              "expected >= 0 (1 such cell(s))")


def test_a_plausible_range_is_whole_and_not_empty(raw):
    """``low <= high`` for a parameter carried as uncertainty (the compliance rate with its
    range); an override that breaks it is blamed on the override's key."""
    entry = raw["pension"]["contribution"]["compliance"]
    assert entry["low"] <= entry["value"] <= entry["high"]
    text = _error(raw, "pension.contribution.compliance", dict(entry, low=entry["high"] + 0.01))
    assert f"expected low <= high, got low = {entry['high'] + 0.01} > high = {entry['high']}" \
        in text and "key 'contribution.compliance'" in text
    lonely = {k: v for k, v in entry.items() if k != "high"}
    assert "low and high go together" in _error(raw, "pension.contribution.compliance", lonely)
    # the value itself may lie outside its range (an experiment exploring beyond it)
    validate_calibration(_set(raw, "pension.contribution.compliance.value", entry["high"] + 0.05),
                         CALIBRATION)
    with pytest.raises(ConfigError, match=r"e\.toml: key 'overrides\.pension\.contribution\."
                                          r"compliance\.low': expected low <= high"):
        load_calibration(CALIBRATION, {"pension.contribution.compliance.low": 2.0},
                         override_source="e.toml")
