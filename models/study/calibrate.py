"""Derive the demographic calibration arrays from the raw UN WPP 2024 data and the 7th census.

Reads (never copies) the raw files of the shared data folder and writes long-format CSV arrays
to ``calibration/china/derived/``:

==============================  =============================================================
file                            content
==============================  =============================================================
base_population.csv             age, sex, persons: 1 January of the base year, ages 0..100 (100+)
mortality_lee_carter.csv        age, sex, ax, bx: Lee-Carter age pattern (sum bx = 1 by sex)
mortality_kt_history.csv        year, sex, kt: fitted k per 5-year period (year = period start)
mortality_kt.csv                year, sex, kt: k reproducing WPP e0 (estimate <= last estimate
                                year, median after), base year..last year
mortality_history.csv           year, age, sex, mx: graduated single-age m(x) per fitted period
                                (year = period start; the periods of mortality_kt_history.csv)
fertility_asfr.csv              year, age, asfr: births per woman per year, ages 10..54
sex_ratio_at_birth.csv          year, srb: males per female born
net_migration.csv               year, age, sex, persons: annual net migrants
tfr_published.csv               year, median, lower80, upper80, lower95, upper95 (projection)
e0_published.csv                year, sex, median, lower80, upper80, lower95, upper95
==============================  =============================================================

Sources: United Nations, DESA, Population Division (2024), *World Population Prospects 2024*
(CC BY 3.0 IGO), China rows as described in the data folder's README; National Bureau of
Statistics of China, 7th population census bulletins (2021), via ``china_facts.csv``.
Methods: :mod:`models.demography.graduate` (PCHIP group-preserving graduation, Fritsch & Carlson
1980), :mod:`models.demography.lifetable` (Preston, Heuveline & Guillot 2001),
:mod:`models.demography.lee_carter` (Lee & Carter 1992), :mod:`models.demography.reconstruct`
(cohort reconstruction and raking, Deming & Stephan 1940).

Run as ``python -m models.study.calibrate [--data-dir DIR] [--out-dir DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from models.demography.graduate import (
    FERTILITY_GROUP_BOUNDARIES,
    MIGRATION_GROUP_BOUNDARIES,
    MORTALITY_GROUP_BOUNDARIES,
    OPEN_AGE,
    graduate_fertility,
    graduate_migration,
    graduate_mortality,
)
from models.demography.lee_carter import DEFAULT_FIT_FROM, fit_lee_carter, k_for_e0, lee_carter_mx
from models.demography.lifetable import life_expectancy
from models.demography.reconstruct import (
    SEXES,
    age_group_labels,
    pre_period_birth_growth_for_total,
    reconstruct_base_population,
    split_births_by_sex,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = PROJECT_ROOT / "calibration" / "china" / "derived"
DATA_DIR_ENV = "PENSION_DATA_DIR"

WPP_DIR = "wpp2024_china"
MX_FILE = f"{WPP_DIR}/mx5_estimates.csv"
ASFR_FILE = f"{WPP_DIR}/asfr5.csv"
INDICATORS_FILE = f"{WPP_DIR}/annual_indicators.csv"
MIGRATION_FILE = f"{WPP_DIR}/net_migration5_projection.csv"
FACTS_FILE = "china_facts.csv"

#: Births before 1950 are extrapolated back from the 1950-54 mean at a constant annual growth
#: rate g and survived under the 1950-55 schedule. By default (``pre_1950_birth_growth=None``)
#: g is solved so that the 1 January 1950 total equals the WPP population of that date,
#: ``B(1950) / CBR(1950) * exp(-r(1950) / 2)`` (mid-year population from births and the crude
#: birth rate, moved back half a year at the year's growth rate r): the 1950 population is then
#: the stable population of the 1950-55 schedule with the observed births. A stationary
#: assumption (g = 0) instead doubles the 1950 population (e0 near 43 against a crude birth
#: rate near 41 per 1000) and inflates the 2021 population aged 65+ by about a fifth.
#: First years of births whose mean anchors the pre-1950 extrapolation.
PRE_1950_REFERENCE_YEARS = 5

#: Broad age groups of the census margins: 0-14, 15-59, 60-64, 65+ (ages 0..100, 100 = 100+).
CENSUS_AGE_GROUP_EDGES: tuple[int, ...] = (0, 15, 60, 65, OPEN_AGE + 1)

MORTALITY_AGE_LABELS: tuple[str, ...] = tuple(str(age) for age in MORTALITY_GROUP_BOUNDARIES[:-1]) + ("100+",)
FERTILITY_AGE_LABELS: tuple[str, ...] = tuple(
    f"{low}-{high - 1}" for low, high in zip(FERTILITY_GROUP_BOUNDARIES[:-1], FERTILITY_GROUP_BOUNDARIES[1:])
)
MIGRATION_AGE_LABELS: tuple[str, ...] = tuple(
    f"{low}-{high - 1}" for low, high in zip(MIGRATION_GROUP_BOUNDARIES[:-1], MIGRATION_GROUP_BOUNDARIES[1:])
) + ("100+",)
PUBLISHED_BOUNDS: tuple[str, ...] = ("median", "lower80", "upper80", "lower95", "upper95")
FLOAT_FORMAT = "%.10g"


class CalibrationDataError(ValueError):
    """A raw data file is missing or does not have the expected content."""


# --------------------------------------------------------------------------------------------
# Reading and checking the raw files
# --------------------------------------------------------------------------------------------


def read_table(data_dir: Path, relative_path: str, columns: dict[str, str]) -> pd.DataFrame:
    """Read one raw CSV and check its columns; ``columns`` maps name -> "number" | "text".

    Raises :class:`CalibrationDataError` naming the file (and the column) when the file is
    missing, a column is absent, empty cells occur, or a numeric column holds non-numbers.
    """
    path = Path(data_dir) / relative_path
    if not path.is_file():
        raise CalibrationDataError(f"{path}: raw data file not found (set --data-dir or {DATA_DIR_ENV})")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise CalibrationDataError(f"{path}: cannot be parsed as CSV ({error})") from error
    missing = [name for name in columns if name not in table.columns]
    if missing:
        raise CalibrationDataError(f"{path}: missing column(s) {missing}; found {list(table.columns)}")
    table = table[list(columns)].copy()
    for name, kind in columns.items():
        cells = table[name].str.strip()
        empty = cells == ""
        if empty.any():
            raise CalibrationDataError(f"{path}: column '{name}' is empty on data row(s) {_rows(empty)}")
        if kind == "number":
            numbers = pd.to_numeric(cells, errors="coerce")
            bad = numbers.isna() | ~np.isfinite(numbers)
            if bad.any():
                raise CalibrationDataError(
                    f"{path}: column '{name}' is not numeric on data row(s) {_rows(bad)}, "
                    f"e.g. {cells[bad].iloc[0]!r}"
                )
            table[name] = numbers.astype(float)
        else:
            table[name] = cells.astype(object)
    return table


def _rows(mask: pd.Series) -> list[int]:
    return [int(i) + 1 for i in np.flatnonzero(mask.to_numpy())[:5]]


def _require(condition: bool, path: str, message: str) -> None:
    if not condition:
        raise CalibrationDataError(f"{path}: {message}")


def _grouped_array(
    table: pd.DataFrame,
    path: str,
    key: str,
    keys: Sequence,
    group_column: str,
    group_labels: Sequence[str],
    value_column: str,
) -> np.ndarray:
    """Values as an array (key, sex, group) from a long table with a 'sex' column; all cells required."""
    frame = table[table["sex"].isin(SEXES)]
    duplicated = frame.duplicated([key, "sex", group_column])
    _require(not duplicated.any(), path, f"duplicate ({key}, sex, {group_column}) rows, e.g. {frame[duplicated].iloc[:1].to_dict('records')}")
    cube = frame.set_index([key, "sex", group_column])[value_column]
    index = pd.MultiIndex.from_product([list(keys), list(SEXES), list(group_labels)])
    values = cube.reindex(index)
    if values.isna().any():
        first = values[values.isna()].index[0]
        raise CalibrationDataError(f"{path}: column '{value_column}' has no value for {key}, sex, {group_column} = {first}")
    return values.to_numpy().reshape(len(keys), len(SEXES), len(group_labels))


def read_mortality(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Period starts (period,) and WPP grouped m(x) (period, sex, 22 groups), deaths per person-year."""
    table = read_table(data_dir, MX_FILE, {"sex": "text", "age_start": "text", "period_start": "number", "mx": "number"})
    table["period_start"] = table["period_start"].astype(int)
    periods = np.sort(table["period_start"].unique())
    _require(np.all(np.diff(periods) == 5), MX_FILE, f"period starts are not 5 years apart: {periods.tolist()}")
    mx = _grouped_array(table, MX_FILE, "period_start", periods, "age_start", MORTALITY_AGE_LABELS, "mx")
    _require(bool(np.all(mx > 0)), MX_FILE, "column 'mx' must be positive")
    return periods, mx


def read_fertility(data_dir: Path, years: np.ndarray, last_estimate_year: int) -> tuple[np.ndarray, np.ndarray]:
    """Grouped ASFR (year, 9 groups) in births per woman per year, and the file's TFR (year,).

    The group rate is rebuilt unrounded as ``TFR * share / 5`` with the shares ``pct_of_tfr``
    renormalised to sum to one (the file's ASFR column is rounded to 6 decimals), so that the
    graduated single-age rates add up to the file's TFR exactly. Rows of type ``estimate``
    are used up to ``last_estimate_year``, ``projection_median`` after.
    """
    table = read_table(
        data_dir, ASFR_FILE, {"year": "number", "age_group": "text", "pct_of_tfr": "number", "tfr": "number", "type": "text"}
    )
    table["year"] = table["year"].astype(int)
    expected_type = np.where(table["year"] <= last_estimate_year, "estimate", "projection_median")
    table = table[table["type"].to_numpy() == expected_type]
    wide_share = table.pivot_table(index="year", columns="age_group", values="pct_of_tfr", aggfunc="first")
    wide_tfr = table.groupby("year")["tfr"].agg(["min", "max"])
    missing_years = sorted(set(years.tolist()) - set(wide_share.index))
    _require(not missing_years, ASFR_FILE, f"no rows of the expected type for year(s) {missing_years[:5]}")
    missing_groups = [g for g in FERTILITY_AGE_LABELS if g not in wide_share.columns]
    _require(not missing_groups, ASFR_FILE, f"column 'age_group' lacks {missing_groups}")
    shares = wide_share.loc[years, list(FERTILITY_AGE_LABELS)].to_numpy()
    _require(not np.isnan(shares).any(), ASFR_FILE, "column 'pct_of_tfr' is incomplete for the years needed")
    tfr_range = wide_tfr.loc[years].to_numpy()
    _require(bool(np.all(tfr_range[:, 0] == tfr_range[:, 1])), ASFR_FILE, "column 'tfr' differs within a year")
    tfr = tfr_range[:, 0]
    shares = shares / shares.sum(axis=1, keepdims=True)
    width = np.diff(FERTILITY_GROUP_BOUNDARIES)
    return tfr[:, np.newaxis] * shares / width, tfr


def read_indicators(data_dir: Path) -> pd.DataFrame:
    """The annual indicator table: year, indicator, variant, value."""
    table = read_table(data_dir, INDICATORS_FILE, {"year": "number", "indicator": "text", "variant": "text", "value": "number"})
    table["year"] = table["year"].astype(int)
    return table


def indicator_series(indicators: pd.DataFrame, indicator: str, variant_by_year: dict[str, np.ndarray], years: np.ndarray) -> np.ndarray:
    """One annual series over ``years``; ``variant_by_year`` maps a variant to a boolean mask over years."""
    values = np.full(years.shape, np.nan)
    for variant, mask in variant_by_year.items():
        rows = indicators[(indicators["indicator"] == indicator) & (indicators["variant"] == variant)]
        if rows["year"].duplicated().any():
            raise CalibrationDataError(f"{INDICATORS_FILE}: indicator '{indicator}' variant '{variant}' repeats a year")
        series = rows.set_index("year")["value"].reindex(years[mask])
        if series.isna().any():
            absent = series.index[series.isna()].tolist()
            raise CalibrationDataError(
                f"{INDICATORS_FILE}: column 'value' has no '{indicator}' ({variant}) for year(s) {absent[:5]}"
            )
        values[mask] = series.to_numpy()
    return values


def estimate_then_median(indicators: pd.DataFrame, indicator: str, years: np.ndarray, last_estimate_year: int) -> np.ndarray:
    """Series using the ``estimate`` variant up to ``last_estimate_year`` and ``median`` after."""
    return indicator_series(
        indicators, indicator, {"estimate": years <= last_estimate_year, "median": years > last_estimate_year}, years
    )


def wpp_population_first_january(indicators: pd.DataFrame, year: int) -> float:
    """WPP population on 1 January of ``year``, persons: ``B / (CBR / 1000) * exp(-r / 2)``.

    The mid-year population is births over the crude birth rate; it is moved back half a year
    at the year's growth rate r (``growth_rate_pct / 100``, exponential growth).
    """
    years = np.array([year])
    only = {"estimate": np.array([True])}
    births = 1000.0 * indicator_series(indicators, "births_thousands", only, years)[0]
    crude_birth_rate = indicator_series(indicators, "cbr_per_1000", only, years)[0] / 1000.0
    growth_rate = indicator_series(indicators, "growth_rate_pct", only, years)[0] / 100.0
    return float(births / crude_birth_rate * np.exp(-growth_rate / 2.0))


def read_migration_pattern(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Period starts (period,) and projected net migrants (period, sex, 21 groups), thousands per 5 years."""
    table = read_table(
        data_dir, MIGRATION_FILE, {"sex": "text", "age_group": "text", "period": "text", "net_migrants_thousands_median": "number"}
    )
    period_match = table["period"].str.extract(r"^(\d{4})-(\d{4})$")
    _require(not period_match.isna().any().any(), MIGRATION_FILE, "column 'period' must read like '2020-2025'")
    table["period_start"] = period_match[0].astype(int)
    periods = np.sort(table["period_start"].unique())
    counts = _grouped_array(
        table, MIGRATION_FILE, "period_start", periods, "age_group", MIGRATION_AGE_LABELS, "net_migrants_thousands_median"
    )
    return periods, counts


def read_census(data_dir: Path) -> dict[str, object]:
    """7th census margins from ``china_facts.csv``: the census year, sex totals and age-group totals.

    Age groups 0-14, 15-59, 60-64 (= 60+ minus 65+), 65+; the sex split is parsed from the
    unit text of the 'census total' row ("persons (M <n>; F <n>)").
    """
    facts = read_table(data_dir, FACTS_FILE, {"topic": "text", "item": "text", "year": "text", "value": "text", "unit": "text"})
    census_row = facts[(facts["topic"] == "population") & (facts["item"] == "census total")]
    _require(len(census_row) == 1, FACTS_FILE, f"expected one 'census total' row in column 'item', found {len(census_row)}")
    census_year = census_row["year"].iloc[0]

    def value_of(item: str) -> float:
        rows = facts[(facts["topic"] == "population") & (facts["item"] == item) & (facts["year"] == census_year)]
        _require(len(rows) == 1, FACTS_FILE, f"expected one '{item}' row for {census_year} in column 'item', found {len(rows)}")
        unit = rows["unit"].iloc[0]
        _require(unit.startswith("persons"), FACTS_FILE, f"column 'unit' of '{item}' {census_year} should be persons, is {unit!r}")
        try:
            return float(rows["value"].iloc[0])
        except ValueError:
            raise CalibrationDataError(f"{FACTS_FILE}: column 'value' of '{item}' {census_year} is not a number") from None

    total = value_of("census total")
    unit_text = census_row["unit"].iloc[0]
    split = {sex: re.search(rf"\b{letter}\s+([\d,]+)", unit_text) for sex, letter in (("male", "M"), ("female", "F"))}
    _require(all(split.values()), FACTS_FILE, f"column 'unit' of 'census total' should hold 'M <n>; F <n>', is {unit_text!r}")
    sex_totals = np.array([float(split[sex].group(1).replace(",", "")) for sex in SEXES])
    _require(sex_totals.sum() == total, FACTS_FILE, f"census sex split {sex_totals.tolist()} does not add up to {total:.0f}")
    age_totals = np.array(
        [value_of("pop 0-14"), value_of("pop 15-59"), value_of("pop 60+") - value_of("pop 65+"), value_of("pop 65+")]
    )
    _require(age_totals.sum() == total, FACTS_FILE, f"census age groups add up to {age_totals.sum():.0f}, not {total:.0f}")
    return {"year": int(census_year), "sex_totals": sex_totals, "age_group_totals": age_totals}


# --------------------------------------------------------------------------------------------
# Derivation
# --------------------------------------------------------------------------------------------


def _period_index(years: np.ndarray, period_starts: np.ndarray, path: str, clamp_last: bool = False) -> np.ndarray:
    """Index of the 5-year period [start, start + 5) holding each year; optionally the last period beyond."""
    index = np.searchsorted(period_starts, years, side="right") - 1
    if np.any(index < 0):
        raise CalibrationDataError(f"{path}: no period covers year {int(years[index < 0][0])}")
    beyond = years >= period_starts[index] + 5
    if np.any(beyond) and not clamp_last:
        raise CalibrationDataError(f"{path}: no period covers year {int(years[beyond][0])}")
    return index


def _long(array: np.ndarray, value_name: str, **axes: Sequence) -> pd.DataFrame:
    """Long table from an array whose axes are named (in order) by ``axes``."""
    index = pd.MultiIndex.from_product([list(values) for values in axes.values()], names=list(axes))
    return pd.DataFrame({value_name: np.asarray(array, dtype=float).reshape(-1)}, index=index).reset_index()


def derive(
    data_dir: Path | str,
    out_dir: Path | str,
    base_year: int = 2021,
    last_year: int = 2100,
    *,
    lee_carter_fit_from: int = DEFAULT_FIT_FROM,
    pre_1950_birth_growth: float | None = None,
) -> dict:
    """Read the raw data, derive every demographic calibration array and write the CSV files.

    Parameters
    ----------
    data_dir : the raw data folder (holding ``wpp2024_china/`` and ``china_facts.csv``).
    out_dir : where the derived CSVs go (created if needed).
    base_year : the 1 January of the base population; must follow the census year (the
        census of 1 November 2020 is taken as the stock of 1 January 2021).
    last_year : last projection year of the annual arrays.
    lee_carter_fit_from : first period start of the Lee-Carter fitting window.
    pre_1950_birth_growth : growth rate of births before the first WPP year (fraction per
        year); None solves it from the WPP population of 1 January of the first year.

    Returns
    -------
    dict with ``files`` (name -> sha256), ``reconciliation`` (residual rows), ``lee_carter_fit``
    (rows: sex, period, e0_data, e0_fitted, error, e0_wpp_mean), ``lee_carter_explained_variance``
    (by sex), ``migration_clipped_persons`` and the assumptions used.
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if last_year < base_year:
        raise ValueError(f"last_year {last_year} is before base_year {base_year}")
    indicators = read_indicators(data_dir)
    estimate_years = indicators.loc[(indicators["indicator"] == "e0_male") & (indicators["variant"] == "estimate"), "year"]
    if estimate_years.empty:
        raise CalibrationDataError(f"{INDICATORS_FILE}: no 'e0_male' estimate rows")
    first_year, last_estimate_year = int(estimate_years.min()), int(estimate_years.max())
    census = read_census(data_dir)
    if base_year != census["year"] + 1:
        raise ValueError(
            f"base_year {base_year}: the base population is reconciled with the census of {census['year']} "
            f"(taken as 1 January {census['year'] + 1}); use base_year={census['year'] + 1}"
        )
    projection_years = np.arange(base_year, last_year + 1)
    history_years = np.arange(first_year, base_year)  # calendar years survived to 1 Jan base_year

    # Mortality: graduation, Lee-Carter by sex, k(t) history and k for the WPP e0 path.
    period_starts, grouped_mx = read_mortality(data_dir)
    single_mx = graduate_mortality(grouped_mx)  # (period, sex, age)
    ages = np.arange(single_mx.shape[-1])
    e0_wpp = {
        sex: estimate_then_median(indicators, f"e0_{sex}", np.arange(first_year, last_year + 1), last_estimate_year)
        for sex in SEXES
    }
    fits = {
        sex: fit_lee_carter(single_mx[:, s], period_starts, sex, fit_from=lee_carter_fit_from)
        for s, sex in enumerate(SEXES)
    }
    fitted_periods = np.isin(period_starts, fits[SEXES[0]].periods)
    kt_projection = {sex: k_for_e0(fits[sex].ax, fits[sex].bx, e0_wpp[sex][projection_years - first_year], sex) for sex in SEXES}
    lee_carter_rows = []
    for sex, fit in fits.items():
        for period, e0_data, e0_fitted in zip(fit.periods, fit.e0_data, fit.e0_fitted):
            in_period = (np.arange(first_year, last_year + 1) >= period) & (np.arange(first_year, last_year + 1) < period + 5)
            lee_carter_rows.append(
                {
                    "sex": sex,
                    "period": f"{period}-{period + 5}",
                    "e0_data": float(e0_data),
                    "e0_fitted": float(e0_fitted),
                    "error": float(e0_fitted - e0_data),
                    "e0_wpp_mean": float(e0_wpp[sex][in_period].mean()),
                }
            )

    # Fertility, sex ratio at birth, published uncertainty.
    grouped_asfr, tfr = read_fertility(data_dir, projection_years, last_estimate_year)
    asfr = graduate_fertility(grouped_asfr)
    fertility_ages = np.arange(FERTILITY_GROUP_BOUNDARIES[0], FERTILITY_GROUP_BOUNDARIES[-1])
    srb_all = indicator_series(
        indicators, "sex_ratio_at_birth_m_per_f", {"estimate_and_projection": np.full(last_year - first_year + 1, True)},
        np.arange(first_year, last_year + 1),
    )
    srb = srb_all[projection_years - first_year]
    published_years = np.arange(last_estimate_year + 1, last_year + 1)
    all_published = {variant: np.full(published_years.shape, True) for variant in PUBLISHED_BOUNDS}
    tfr_published = pd.DataFrame(
        {"year": published_years}
        | {variant: indicator_series(indicators, "tfr", {variant: mask}, published_years) for variant, mask in all_published.items()}
    )
    e0_published = pd.concat(
        [
            pd.DataFrame(
                {"year": published_years, "sex": sex}
                | {v: indicator_series(indicators, f"e0_{sex}", {v: m}, published_years) for v, m in all_published.items()}
            )
            for sex in SEXES
        ]
    )

    # Net migration: graduated 5-year age-sex pattern scaled to the annual totals.
    migration_periods, grouped_migrants = read_migration_pattern(data_dir)
    annual_pattern = graduate_migration(grouped_migrants) * 1000.0 / 5.0  # persons per year (period, sex, age)
    pattern_by_year = annual_pattern[_period_index(projection_years, migration_periods, MIGRATION_FILE, clamp_last=True)]
    migration_totals = 1000.0 * estimate_then_median(indicators, "net_migration_thousands", projection_years, last_estimate_year)
    pattern_totals = pattern_by_year.sum(axis=(1, 2))
    if np.any(np.sign(pattern_totals) != np.sign(migration_totals)):
        bad = int(projection_years[np.sign(pattern_totals) != np.sign(migration_totals)][0])
        raise CalibrationDataError(f"{MIGRATION_FILE}: age pattern and annual total have opposite signs in {bad}")
    migrants = pattern_by_year * (migration_totals / pattern_totals)[:, np.newaxis, np.newaxis]

    # Base population: births 1950..base_year-1 through the annual schedules, raked to the census.
    all_history = {"estimate": np.full(history_years.shape, True)}
    history_births = 1000.0 * indicator_series(indicators, "births_thousands", all_history, history_years)
    history_srb = srb_all[history_years - first_year]
    history_mx = np.moveaxis(single_mx[_period_index(history_years, period_starts, MX_FILE)], 1, 2)  # (year, age, sex)
    first_population = wpp_population_first_january(indicators, first_year)
    if pre_1950_birth_growth is None:
        pre_1950_birth_growth = pre_period_birth_growth_for_total(
            split_births_by_sex(history_births, history_srb), history_mx[0], first_population, PRE_1950_REFERENCE_YEARS
        )
    base_pattern_period = _period_index(np.array([base_year]), migration_periods, MIGRATION_FILE)[0]
    base = reconstruct_base_population(
        births=history_births,
        sex_ratio_at_birth=history_srb,
        mx_by_year=history_mx,
        net_migrants=1000.0 * indicator_series(indicators, "net_migration_thousands", all_history, history_years),
        migration_pattern=annual_pattern[base_pattern_period].T,
        census_age_group_edges=CENSUS_AGE_GROUP_EDGES,
        census_age_group_totals=census["age_group_totals"],
        census_sex_totals=census["sex_totals"],
        pre_period_birth_growth_rate=pre_1950_birth_growth,
        reference_years=PRE_1950_REFERENCE_YEARS,
    )

    tables = {
        "base_population.csv": _long(base.population, "persons", age=ages, sex=SEXES),
        "mortality_lee_carter.csv": pd.concat(
            [pd.DataFrame({"age": ages, "sex": sex, "ax": fit.ax, "bx": fit.bx}) for sex, fit in fits.items()]
        ),
        "mortality_kt_history.csv": pd.concat(
            [pd.DataFrame({"year": fit.periods, "sex": sex, "kt": fit.kt}) for sex, fit in fits.items()]
        ),
        "mortality_kt.csv": pd.concat(
            [pd.DataFrame({"year": projection_years, "sex": sex, "kt": kt_projection[sex]}) for sex in SEXES]
        ),
        "mortality_history.csv": _long(
            np.moveaxis(single_mx[fitted_periods], 1, 2), "mx", year=period_starts[fitted_periods], age=ages, sex=SEXES
        ),
        "fertility_asfr.csv": _long(asfr, "asfr", year=projection_years, age=fertility_ages),
        "sex_ratio_at_birth.csv": pd.DataFrame({"year": projection_years, "srb": srb}),
        "net_migration.csv": _long(np.moveaxis(migrants, 1, 2), "persons", year=projection_years, age=ages, sex=SEXES),
        "tfr_published.csv": tfr_published,
        "e0_published.csv": e0_published,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    hashes = {}
    for name, table in tables.items():
        keys = [column for column in ("year", "age", "sex") if column in table.columns]
        path = out_dir / name
        table.sort_values(keys, kind="stable").to_csv(path, index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
        hashes[name] = hashlib.sha256(path.read_bytes()).hexdigest()

    return {
        "files": hashes,
        "out_dir": str(out_dir),
        "reconciliation": base.residuals,
        "raking_factors": {
            sex: dict(zip(age_group_labels(CENSUS_AGE_GROUP_EDGES), base.raking_factors[:, s].tolist()))
            for s, sex in enumerate(SEXES)
        },
        "lee_carter_fit": lee_carter_rows,
        "lee_carter_explained_variance": {sex: fit.explained_variance_share for sex, fit in fits.items()},
        "lee_carter_fit_from": lee_carter_fit_from,
        "pre_1950_birth_growth": float(pre_1950_birth_growth),
        "population_first_january_wpp": first_population,
        "migration_clipped_persons": float(base.migration_clipped.sum()),
        "tfr_max_abs_error": float(np.max(np.abs(asfr.sum(axis=1) - tfr))),
        "kt_e0_max_abs_error": max(
            float(np.max(np.abs(life_expectancy(lee_carter_mx(fits[sex].ax, fits[sex].bx, kt_projection[sex]), sex)
                                - e0_wpp[sex][projection_years - first_year])))
            for sex in SEXES
        ),
    }


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def default_data_dir() -> Path:
    """``$PENSION_DATA_DIR`` if set, else ``../shared/data`` relative to the project root."""
    return Path(os.environ.get(DATA_DIR_ENV) or PROJECT_ROOT.parent / "shared" / "data")


def main(argv: Sequence[str] | None = None) -> int:
    """Derive the calibration CSVs and print the reconciliation and Lee-Carter fit tables."""
    parser = argparse.ArgumentParser(prog="python -m models.study.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help=f"raw data folder (default: ${DATA_DIR_ENV} or ../shared/data)")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="output folder (default: %(default)s)")
    parser.add_argument("--base-year", type=int, default=2021)
    parser.add_argument("--last-year", type=int, default=2100)
    parser.add_argument("--lee-carter-fit-from", type=int, default=DEFAULT_FIT_FROM, help="first period start of the Lee-Carter window")
    parser.add_argument(
        "--pre-1950-birth-growth", type=float, default=None,
        help="annual growth of births before 1950 (default: solved from the WPP 1950 population)",
    )
    args = parser.parse_args(argv)
    data_dir = args.data_dir if args.data_dir is not None else default_data_dir()
    try:
        summary = derive(
            data_dir, args.out_dir, args.base_year, args.last_year,
            lee_carter_fit_from=args.lee_carter_fit_from, pre_1950_birth_growth=args.pre_1950_birth_growth,
        )
    except CalibrationDataError as error:
        parser.exit(2, f"calibrate: error: {error}\n")

    print("Base population, 1 January {}: reconciliation with the 7th census (raking by age group x sex)".format(args.base_year))
    print(tabulate(
        [[r["margin"], r["census"], r["reconstructed"], r["ratio_before"], r["ratio_after"]] for r in summary["reconciliation"]],
        headers=["margin", "census", "reconstructed", "ratio before", "ratio after"], floatfmt=("", ",.0f", ",.0f", ".5f", ".12f"),
    ))
    print(
        f"births before 1950 grow at {summary['pre_1950_birth_growth']:.5f} a year "
        f"(WPP population 1 January 1950: {summary['population_first_january_wpp']:,.0f}); "
        f"emigration clipped: {summary['migration_clipped_persons']:,.0f} persons\n"
    )
    print(f"Lee-Carter fit (periods from {summary['lee_carter_fit_from']}): life-table e0 of a + b k vs of the graduated data")
    print(tabulate(
        [[r["sex"], r["period"], r["e0_data"], r["e0_fitted"], r["error"], r["e0_wpp_mean"]] for r in summary["lee_carter_fit"]],
        headers=["sex", "period", "e0 data", "e0 fitted", "fitted - data", "WPP e0 (mean)"], floatfmt=("", "", ".4f", ".4f", ".2e", ".4f"),
    ))
    print("explained variance of the rank-1 SVD: " + ", ".join(f"{s} {v:.4f}" for s, v in summary["lee_carter_explained_variance"].items()))
    print(f"max |e0(a + b k) - WPP e0| over {args.base_year}-{args.last_year}: {summary['kt_e0_max_abs_error']:.2e} years")
    print(f"max |sum asfr - TFR|: {summary['tfr_max_abs_error']:.2e}\n")
    print(f"Files written to {summary['out_dir']}:")
    print(tabulate([[name, digest] for name, digest in summary["files"].items()], headers=["file", "sha256"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
