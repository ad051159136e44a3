"""The calibration script: reproducibility of the committed arrays, identities, clear data errors."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from models.demography.derive import DEFAULT_OUT_DIR, CalibrationDataError, default_data_dir, derive, main

DERIVED_FILES = (
    "base_population.csv", "mortality_lee_carter.csv", "mortality_kt_history.csv", "mortality_kt.csv",
    "mortality_history.csv", "fertility_asfr.csv", "sex_ratio_at_birth.csv", "net_migration.csv",
    "tfr_published.csv", "e0_published.csv",
)


@pytest.fixture(scope="module")
def raw_data_dir():
    data_dir = default_data_dir()
    if not (data_dir / "wpp2024_china" / "mx5_estimates.csv").is_file():
        pytest.skip(f"raw data folder {data_dir} is absent (set PENSION_DATA_DIR)")
    return data_dir


@pytest.fixture(scope="module")
def rederived(raw_data_dir, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("derived")
    return out_dir, derive(raw_data_dir, out_dir)


def test_committed_arrays_are_reproduced_from_the_raw_data(rederived):
    out_dir, summary = rederived
    for name in DERIVED_FILES:
        committed = DEFAULT_OUT_DIR / name
        assert committed.is_file(), f"{committed} is missing: run `python -m models.demography.derive`"
        assert summary["files"][name] == hashlib.sha256(committed.read_bytes()).hexdigest(), (
            f"{name} differs from a fresh derivation: re-run `python -m models.demography.derive`"
        )


def test_summary_reports_reconciliation_and_fit(rederived):
    _, summary = rederived
    assert [row["margin"] for row in summary["reconciliation"]][-1] == "total"
    assert all(row["ratio_after"] == pytest.approx(1.0, abs=1e-9) for row in summary["reconciliation"])
    assert max(abs(row["error"]) for row in summary["lee_carter_fit"]) < 1e-6
    assert summary["tfr_max_abs_error"] < 1e-12


def test_fertility_adds_up_to_published_median_tfr():
    asfr = pd.read_csv(DEFAULT_OUT_DIR / "fertility_asfr.csv")
    assert asfr["age"].min() == 10 and asfr["age"].max() == 54 and (asfr["asfr"] >= 0).all()
    tfr = asfr.groupby("year")["asfr"].sum()
    published = pd.read_csv(DEFAULT_OUT_DIR / "tfr_published.csv").set_index("year")["median"]
    np.testing.assert_allclose(tfr.loc[published.index], published, rtol=1e-8)


def test_net_migration_has_every_cell():
    migration = pd.read_csv(DEFAULT_OUT_DIR / "net_migration.csv")
    years = migration["year"].unique()
    assert len(migration) == len(years) * 101 * 2
    assert list(migration.columns) == ["year", "age", "sex", "persons"]


def test_missing_file_is_named(tmp_path):
    with pytest.raises(CalibrationDataError, match="annual_indicators.csv.*not found"):
        derive(tmp_path, tmp_path / "out")


def test_malformed_column_is_named(tmp_path):
    (tmp_path / "wpp2024_china").mkdir()
    (tmp_path / "wpp2024_china" / "annual_indicators.csv").write_text(
        "year,indicator,variant,valu\n1950,births_thousands,estimate,1.0\n"
    )
    missing_value_column = r"annual_indicators.csv: missing column\(s\) \['value'\]"
    with pytest.raises(CalibrationDataError, match=missing_value_column):
        derive(tmp_path, tmp_path / "out")
    (tmp_path / "wpp2024_china" / "annual_indicators.csv").write_text(
        "year,indicator,variant,value\n1950,births_thousands,estimate,many\n"
    )
    with pytest.raises(CalibrationDataError, match="column 'value' is not numeric on data row"):
        derive(tmp_path, tmp_path / "out")


def test_main_reports_a_data_error_without_a_traceback(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--data-dir", str(tmp_path), "--out-dir", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert "annual_indicators.csv" in capsys.readouterr().err
