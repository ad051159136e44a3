"""Derive the demographic calibration arrays from the raw UN WPP 2024 data and the 7th census.

Reads (never copies) the raw files of the shared data folder and writes long-format CSV arrays
(header line, sorted by year, age, sex; floats with 10 significant digits) to
``calibration/china/derived/``:

========================  ===================================================================
file                      content
========================  ===================================================================
base_population.csv       age, sex, persons: 1 January of the base year, ages 0..100 (100+)
mortality_lee_carter.csv  age, sex, ax, bx: Lee-Carter age pattern (sum bx = 1 by sex)
mortality_kt_history.csv  year, sex, kt: fitted k per 5-year period (year = period start)
mortality_kt.csv          year, sex, kt: k whose life-table e0 equals the WPP e0 (estimates
                          to 2023, median from 2024), base year..last year
mortality_history.csv     year, age, sex, mx: graduated single-age m(x) of the fitted periods
fertility_asfr.csv        year, age, asfr: births per woman per year, single ages 10..54
sex_ratio_at_birth.csv    year, srb: males per female born
net_migration.csv         year, age, sex, persons: annual net migrants
tfr_published.csv         year, median, lower80, upper80, lower95, upper95 (WPP projection)
e0_published.csv          year, sex, median, lower80, upper80, lower95, upper95
========================  ===================================================================

Sources: United Nations, DESA, Population Division (2024), *World Population Prospects 2024*
(CC BY 3.0 IGO), China rows as described in the data folder's README; National Bureau of
Statistics of China, 7th population census bulletins (2021), via ``china_facts.csv``.
Methods: :mod:`models.demography.graduate` (group-preserving PCHIP, Fritsch & Carlson 1980),
:mod:`models.demography.lifetable` (Preston, Heuveline & Guillot 2001),
:mod:`models.demography.lee_carter` (Lee & Carter 1992), :mod:`models.demography.reconstruct`
(cohort reconstruction; raking, Deming & Stephan 1940).

Run as ``python -m models.demography.derive [--data-dir DIR] [--out-dir DIR]``.
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
    BaseReconstruction,
    age_group_labels,
    pre_period_birth_growth_for_total,
    reconstruct_base_population,
    split_births_by_sex,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = PROJECT_ROOT / "calibration" / "china" / "derived"
DATA_DIR_ENV = "PENSION_DATA_DIR"

MX_FILE = "wpp2024_china/mx5_estimates.csv"
ASFR_FILE = "wpp2024_china/asfr5.csv"
INDICATORS_FILE = "wpp2024_china/annual_indicators.csv"
MIGRATION_FILE = "wpp2024_china/net_migration5_projection.csv"
FACTS_FILE = "china_facts.csv"

#: Births before 1950 are extrapolated back from the 1950-54 mean at a constant annual growth
#: rate g and survived under the 1950-55 schedule. By default (``pre_1950_birth_growth=None``)
#: g is solved so that the 1 January 1950 total equals the WPP population of that date,
#: ``B(1950) / CBR(1950) * exp(-r(1950) / 2)`` (mid-year population from births and the crude
#: birth rate, moved back half a year at the year's growth rate r): the 1950 population is then
#: the stable population of the 1950-55 schedule with the observed births. A stationary
#: assumption (g = 0) instead doubles the 1950 population (e0 near 43 against a crude birth
#: rate near 41 per 1000) and inflates the 2021 population aged 65+ by about a fifth.
PRE_1950_REFERENCE_YEARS = 5

#: Broad age groups of the census margins: 0-14, 15-59, 60-64, 65+ (ages 0..100, 100 = 100+).
CENSUS_AGE_GROUP_EDGES: tuple[int, ...] = (0, 15, 60, 65, OPEN_AGE + 1)


def _labels(boundaries: Sequence[int]) -> tuple[str, ...]:
    return tuple(f"{low}-{high - 1}" for low, high in zip(boundaries[:-1], boundaries[1:]))


MORTALITY_AGE_LABELS = tuple(str(age) for age in MORTALITY_GROUP_BOUNDARIES[:-1]) + ("100+",)
FERTILITY_AGE_LABELS = _labels(FERTILITY_GROUP_BOUNDARIES)
MIGRATION_AGE_LABELS = _labels(MIGRATION_GROUP_BOUNDARIES) + ("100+",)
PUBLISHED_BOUNDS: tuple[str, ...] = ("median", "lower80", "upper80", "lower95", "upper95")
FLOAT_FORMAT = "%.10g"


class CalibrationDataError(ValueError):
    """A raw data file is missing or does not have the expected content."""


# ------------------------------------------------------------------------------------------
# Reading and checking the raw files
# ------------------------------------------------------------------------------------------


def _require(condition: bool, path: str, message: str) -> None:
    if not condition:
        raise CalibrationDataError(f"{path}: {message}")


def _rows(mask: pd.Series) -> list[int]:
    """1-based data-row numbers of the first few True entries."""
    return [int(i) + 1 for i in np.flatnonzero(mask.to_numpy())[:5]]


def read_table(data_dir: Path, relative_path: str, columns: dict[str, str]) -> pd.DataFrame:
    """Read one raw CSV and check its columns; ``columns`` maps name -> "number" | "text".

    Raises :class:`CalibrationDataError` naming the file (and the column) when the file is
    missing, a column is absent, a cell is empty, or a numeric column holds a non-number.
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
        if (cells == "").any():
            raise CalibrationDataError(
                f"{path}: column '{name}' is empty on data row(s) {_rows(cells == '')}"
            )
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


def _cube(table: pd.DataFrame, path: str, value: str, **axes: Sequence) -> np.ndarray:
    """Array of ``value`` with one axis per keyword (column name -> labels, in order).

    Rows whose keys fall outside the labels are ignored (e.g. sex "both"); every labelled cell
    must be present exactly once.
    """
    columns = list(axes)
    inside = np.logical_and.reduce([table[column].isin(list(labels)) for column, labels in axes.items()])
    frame = table[inside]
    repeated = frame.duplicated(columns)
    if repeated.any():
        first = frame[repeated].iloc[0][columns].tolist()
        raise CalibrationDataError(f"{path}: repeated rows for ({', '.join(columns)}) = {first}")
    index = pd.MultiIndex.from_product([list(labels) for labels in axes.values()], names=columns)
    values = frame.set_index(columns)[value].reindex(index)
    if values.isna().any():
        first = tuple(str(key) for key in values[values.isna()].index[0])
        raise CalibrationDataError(
            f"{path}: column '{value}' has no value for ({', '.join(columns)}) = {first}"
        )
    return values.to_numpy(dtype=float).reshape([len(labels) for labels in axes.values()])


def read_indicators(data_dir: Path) -> pd.DataFrame:
    """The annual indicator table: year, indicator, variant, value."""
    columns = {"year": "number", "indicator": "text", "variant": "text", "value": "number"}
    table = read_table(data_dir, INDICATORS_FILE, columns)
    table["year"] = table["year"].astype(int)
    return table


def indicator_series(
    indicators: pd.DataFrame, indicator: str, years: np.ndarray, variant: str
) -> np.ndarray:
    """One variant of one annual indicator over ``years``; every year required."""
    rows = indicators[(indicators["indicator"] == indicator) & (indicators["variant"] == variant)]
    _require(not rows["year"].duplicated().any(), INDICATORS_FILE,
             f"'{indicator}' ({variant}) repeats a year")
    series = rows.set_index("year")["value"].reindex(years)
    if series.isna().any():
        absent = series.index[series.isna()].tolist()
        raise CalibrationDataError(
            f"{INDICATORS_FILE}: column 'value' has no '{indicator}' ({variant}) "
            f"for year(s) {absent[:5]}"
        )
    return series.to_numpy()


def estimate_then_median(
    indicators: pd.DataFrame, indicator: str, years: np.ndarray, last_estimate_year: int
) -> np.ndarray:
    """The ``estimate`` variant up to ``last_estimate_year``, the ``median`` projection after."""
    estimated = years <= last_estimate_year
    values = np.empty(years.shape)
    values[estimated] = indicator_series(indicators, indicator, years[estimated], "estimate")
    values[~estimated] = indicator_series(indicators, indicator, years[~estimated], "median")
    return values


def wpp_population_first_january(indicators: pd.DataFrame, year: int) -> float:
    """WPP population on 1 January of ``year``, persons: ``B / (CBR / 1000) * exp(-r / 2)``.

    The mid-year population is births over the crude birth rate; it is moved back half a year
    at the year's growth rate r (``growth_rate_pct / 100``, exponential growth).
    """
    years = np.array([year])
    births = 1000.0 * indicator_series(indicators, "births_thousands", years, "estimate")[0]
    crude_birth_rate = indicator_series(indicators, "cbr_per_1000", years, "estimate")[0] / 1000.0
    growth_rate = indicator_series(indicators, "growth_rate_pct", years, "estimate")[0] / 100.0
    return float(births / crude_birth_rate * np.exp(-growth_rate / 2.0))


def read_mortality(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Period starts (period,) and WPP m(x) by group (period, sex, 22), deaths per person-year."""
    columns = {"sex": "text", "age_start": "text", "period_start": "number", "mx": "number"}
    table = read_table(data_dir, MX_FILE, columns)
    table["period_start"] = table["period_start"].astype(int)
    periods = np.sort(table["period_start"].unique())
    _require(bool(np.all(np.diff(periods) == 5)), MX_FILE,
             f"column 'period_start' is not 5 years apart: {periods.tolist()}")
    mx = _cube(table, MX_FILE, "mx", period_start=periods, sex=SEXES, age_start=MORTALITY_AGE_LABELS)
    _require(bool(np.all(mx > 0)), MX_FILE, "column 'mx' must be positive")
    return periods, mx


def read_fertility(
    data_dir: Path, years: np.ndarray, last_estimate_year: int
) -> tuple[np.ndarray, np.ndarray]:
    """ASFR by 5-year group (year, 9), births per woman per year, and the file's TFR (year,).

    The group rate is rebuilt unrounded as ``TFR * share / 5`` with the shares ``pct_of_tfr``
    renormalised to add up to one (the file's ASFR column is rounded to 6 decimals), so the
    graduated single-age rates add up to the file's TFR exactly. Rows of type ``estimate`` are
    used up to ``last_estimate_year``, ``projection_median`` after.
    """
    columns = {
        "year": "number", "age_group": "text", "pct_of_tfr": "number", "tfr": "number", "type": "text"
    }
    table = read_table(data_dir, ASFR_FILE, columns)
    table["year"] = table["year"].astype(int)
    expected_type = np.where(table["year"] <= last_estimate_year, "estimate", "projection_median")
    table = table[table["type"].to_numpy() == expected_type]
    tfr_range = table.groupby("year")["tfr"].agg(["min", "max"]).reindex(years)
    _require(not tfr_range.isna().any().any(), ASFR_FILE,
             "column 'type' lacks the expected estimate/projection_median rows for some years")
    _require(bool((tfr_range["min"] == tfr_range["max"]).all()), ASFR_FILE,
             "column 'tfr' varies within a year")
    pct = _cube(table, ASFR_FILE, "pct_of_tfr", year=years, age_group=FERTILITY_AGE_LABELS)
    tfr = tfr_range["min"].to_numpy()
    shares = pct / pct.sum(axis=1, keepdims=True)
    return tfr[:, np.newaxis] * shares / np.diff(FERTILITY_GROUP_BOUNDARIES), tfr


def read_migration_pattern(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Period starts (period,) and projected net migrants (period, sex, 21), thousands per period."""
    value = "net_migrants_thousands_median"
    columns = {"sex": "text", "age_group": "text", "period": "text", value: "number"}
    table = read_table(data_dir, MIGRATION_FILE, columns)
    period = table["period"].str.extract(r"^(\d{4})-(\d{4})$")
    _require(not period.isna().any().any(), MIGRATION_FILE, "column 'period' must read like '2020-2025'")
    _require(bool((period[1].astype(int) - period[0].astype(int) == 5).all()), MIGRATION_FILE,
             "column 'period' must hold 5-year periods")
    table["period_start"] = period[0].astype(int)
    periods = np.sort(table["period_start"].unique())
    counts = _cube(
        table, MIGRATION_FILE, value, period_start=periods, sex=SEXES, age_group=MIGRATION_AGE_LABELS
    )
    return periods, counts


def read_census(data_dir: Path) -> dict:
    """7th census margins from ``china_facts.csv``: census year, sex totals, age-group totals.

    Age groups 0-14, 15-59, 60-64 (= 60+ minus 65+) and 65+; the sex split is parsed from the
    unit text of the 'census total' row ("persons (M <n>; F <n>)"). Sex order :data:`SEXES`.
    """
    columns = {"topic": "text", "item": "text", "year": "text", "value": "text", "unit": "text"}
    facts = read_table(data_dir, FACTS_FILE, columns)
    population = facts[facts["topic"] == "population"]
    census_rows = population[population["item"] == "census total"]
    _require(len(census_rows) == 1, FACTS_FILE,
             f"expected one 'census total' in column 'item', found {len(census_rows)}")
    census_year = census_rows["year"].iloc[0]

    def persons(item: str) -> float:
        rows = population[(population["item"] == item) & (population["year"] == census_year)]
        _require(len(rows) == 1, FACTS_FILE,
                 f"expected one '{item}' {census_year} in column 'item', found {len(rows)}")
        unit = rows["unit"].iloc[0]
        _require(unit.startswith("persons"), FACTS_FILE,
                 f"column 'unit' of '{item}' should be persons, is {unit!r}")
        try:
            return float(rows["value"].iloc[0])
        except ValueError:
            raise CalibrationDataError(
                f"{FACTS_FILE}: column 'value' of '{item}' is not a number"
            ) from None

    total = persons("census total")
    unit_text = census_rows["unit"].iloc[0]
    found = {
        sex: re.search(rf"\b{letter}\s+([\d,]+)", unit_text)
        for sex, letter in (("male", "M"), ("female", "F"))
    }
    _require(all(found.values()), FACTS_FILE,
             f"column 'unit' of 'census total' lacks 'M <n>; F <n>': {unit_text!r}")
    sex_totals = np.array([float(found[sex].group(1).replace(",", "")) for sex in SEXES])
    _require(sex_totals.sum() == total, FACTS_FILE,
             f"census sex split {sex_totals.tolist()} does not add up to {total}")
    aged_60_plus, aged_65_plus = persons("pop 60+"), persons("pop 65+")
    age_totals = np.array(
        [persons("pop 0-14"), persons("pop 15-59"), aged_60_plus - aged_65_plus, aged_65_plus]
    )
    _require(age_totals.sum() == total, FACTS_FILE,
             f"census age groups add up to {age_totals.sum()}, not {total}")
    return {"year": int(census_year), "sex_totals": sex_totals, "age_group_totals": age_totals}


def _period_index(
    years: np.ndarray, period_starts: np.ndarray, path: str, *, last_beyond: bool = False
) -> np.ndarray:
    """Index of the 5-year period [start, start + 5) holding each year.

    ``last_beyond`` lets years after the last period use the last period.
    """
    index = np.searchsorted(period_starts, years, side="right") - 1
    uncovered = (index < 0) | ((years >= period_starts[index] + 5) & (not last_beyond))
    if np.any(uncovered):
        raise CalibrationDataError(f"{path}: no period covers year {int(years[uncovered][0])}")
    return index


# ------------------------------------------------------------------------------------------
# Derivation (arrays in, tables out)
# ------------------------------------------------------------------------------------------


def _long(array: np.ndarray, value_name: str, **axes: Sequence) -> pd.DataFrame:
    """Long table of ``array`` whose axes are named, in order, by ``axes`` (name -> coordinates)."""
    index = pd.MultiIndex.from_product([list(coords) for coords in axes.values()], names=list(axes))
    values = np.asarray(array, dtype=float).reshape(-1)
    return pd.DataFrame({value_name: values}, index=index).reset_index()


def derive_mortality(
    period_starts: np.ndarray,
    single_mx: np.ndarray,
    e0_target: dict[str, np.ndarray],
    years: np.ndarray,
    e0_wpp_by_year: dict[str, pd.Series],
    fit_from: int,
) -> tuple[dict[str, pd.DataFrame], list[dict], dict[str, float]]:
    """Lee-Carter fit by sex of graduated m(x) (period, sex, age); k history; k for an e0 path.

    ``e0_target`` holds each sex's target e0 over ``years``; ``e0_wpp_by_year`` the WPP annual
    e0 (for comparison only). Returns the tables; one fit row per (sex, period) with the e0 of
    the graduated data, of the fit, their difference and the period mean of the WPP annual e0;
    and diagnostics (SVD explained variance by sex, largest e0 miss of the k path).
    """
    ages = np.arange(single_mx.shape[-1])
    fits = {
        sex: fit_lee_carter(single_mx[:, s], period_starts, sex, fit_from=fit_from)
        for s, sex in enumerate(SEXES)
    }
    fitted = np.isin(period_starts, fits[SEXES[0]].periods)
    kt = {sex: k_for_e0(fits[sex].ax, fits[sex].bx, e0_target[sex], sex) for sex in SEXES}
    fit_rows = [
        {
            "sex": sex,
            "period": f"{period}-{period + 5}",
            "e0_data": float(e0_data),
            "e0_fitted": float(e0_fitted),
            "error": float(e0_fitted - e0_data),
            "e0_wpp_mean": float(e0_wpp_by_year[sex].loc[period:period + 4].mean()),
        }
        for sex, fit in fits.items()
        for period, e0_data, e0_fitted in zip(fit.periods, fit.e0_data, fit.e0_fitted)
    ]
    tables = {
        "mortality_lee_carter.csv": pd.concat(
            pd.DataFrame({"age": ages, "sex": sex, "ax": fit.ax, "bx": fit.bx})
            for sex, fit in fits.items()
        ),
        "mortality_kt_history.csv": pd.concat(
            [pd.DataFrame({"year": fit.periods, "sex": sex, "kt": fit.kt}) for sex, fit in fits.items()]
        ),
        "mortality_kt.csv": pd.concat(
            pd.DataFrame({"year": years, "sex": sex, "kt": kt[sex]}) for sex in SEXES
        ),
        "mortality_history.csv": _long(
            np.moveaxis(single_mx[fitted], 1, 2), "mx", year=period_starts[fitted], age=ages, sex=SEXES
        ),
    }
    e0_of_kt = {
        sex: life_expectancy(lee_carter_mx(fits[sex].ax, fits[sex].bx, kt[sex]), sex) for sex in SEXES
    }
    diagnostics = {sex: fit.explained_variance_share for sex, fit in fits.items()}
    diagnostics["kt_e0_max_abs_error"] = max(
        float(np.max(np.abs(e0_of_kt[sex] - e0_target[sex]))) for sex in SEXES
    )
    return tables, fit_rows, diagnostics


def derive_net_migration(
    migration_periods: np.ndarray,
    grouped_migrants: np.ndarray,
    years: np.ndarray,
    annual_totals: np.ndarray,
) -> pd.DataFrame:
    """Annual net migrants (persons) by year, single age and sex.

    The 5-year period's age-sex counts (thousands per period) are graduated to single ages,
    divided by 5 and scaled to each year's annual total (persons). Years after the last
    projection period take the last period's pattern (2100 uses 2095-2100).
    """
    annual_pattern = graduate_migration(grouped_migrants) * 1000.0 / 5.0  # (period, sex, age)
    pattern = annual_pattern[_period_index(years, migration_periods, MIGRATION_FILE, last_beyond=True)]
    pattern_totals = pattern.sum(axis=(1, 2))
    opposite = np.sign(pattern_totals) != np.sign(annual_totals)
    if np.any(opposite):
        raise CalibrationDataError(
            f"{MIGRATION_FILE}: age pattern and annual total have opposite signs "
            f"in {int(years[opposite][0])}"
        )
    migrants = pattern * (annual_totals / pattern_totals)[:, np.newaxis, np.newaxis]
    ages = np.arange(migrants.shape[-1])
    return _long(np.moveaxis(migrants, 1, 2), "persons", year=years, age=ages, sex=SEXES)


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
    base_year : 1 January of the base population; must follow the census year (the census of
        1 November 2020 is taken as the stock of 1 January 2021, two months' approximation).
    last_year : last year of the annual arrays.
    lee_carter_fit_from : first period start of the Lee-Carter fitting window.
    pre_1950_birth_growth : growth rate of births before the first WPP year (fraction per
        year); None solves it from the WPP population of 1 January of the first year.

    Returns
    -------
    dict: ``files`` (name -> sha256), ``reconciliation`` (rows: margin, census, reconstructed,
    ratio_before, ratio_after), ``raking_factors``, ``lee_carter_fit`` (rows: sex, period,
    e0_data, e0_fitted, error, e0_wpp_mean), ``lee_carter_explained_variance``, and checks and
    assumptions (``pre_1950_birth_growth``, ``migration_clipped_persons``, ...).
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if last_year < base_year:
        raise ValueError(f"last_year {last_year} is before base_year {base_year}")
    indicators = read_indicators(data_dir)
    estimate_years = indicators.loc[(indicators["indicator"] == "births_thousands")
                                    & (indicators["variant"] == "estimate"), "year"]
    _require(not estimate_years.empty, INDICATORS_FILE, "no 'births_thousands' estimate rows")
    first_year, last_estimate_year = int(estimate_years.min()), int(estimate_years.max())
    census = read_census(data_dir)
    if base_year != census["year"] + 1:
        raise ValueError(
            f"base_year {base_year}: the base population is reconciled with the census of "
            f"{census['year']}, taken as 1 January {census['year'] + 1}; "
            f"use base_year={census['year'] + 1}"
        )
    years = np.arange(base_year, last_year + 1)
    history_years = np.arange(first_year, base_year)  # calendar years survived to 1 Jan base_year
    all_years = np.arange(first_year, last_year + 1)

    # Mortality.
    period_starts, grouped_mx = read_mortality(data_dir)
    single_mx = graduate_mortality(grouped_mx)  # (period, sex, age)
    e0_wpp = {
        sex: estimate_then_median(indicators, f"e0_{sex}", all_years, last_estimate_year)
        for sex in SEXES
    }
    tables, fit_rows, mortality_checks = derive_mortality(
        period_starts, single_mx, {sex: e0_wpp[sex][years - first_year] for sex in SEXES}, years,
        {sex: pd.Series(e0_wpp[sex], index=all_years) for sex in SEXES}, lee_carter_fit_from,
    )

    # Fertility and sex ratio at birth.
    grouped_asfr, tfr = read_fertility(data_dir, years, last_estimate_year)
    asfr = graduate_fertility(grouped_asfr)
    fertility_ages = np.arange(FERTILITY_GROUP_BOUNDARIES[0], FERTILITY_GROUP_BOUNDARIES[-1])
    tables["fertility_asfr.csv"] = _long(asfr, "asfr", year=years, age=fertility_ages)
    srb_all = indicator_series(
        indicators, "sex_ratio_at_birth_m_per_f", all_years, "estimate_and_projection"
    )
    tables["sex_ratio_at_birth.csv"] = pd.DataFrame({"year": years, "srb": srb_all[years - first_year]})

    # Published uncertainty of the WPP projection.
    published_years = np.arange(max(last_estimate_year + 1, base_year), last_year + 1)
    def published(indicator: str) -> dict[str, np.ndarray]:
        return {bound: indicator_series(indicators, indicator, published_years, bound)
                for bound in PUBLISHED_BOUNDS}

    tables["tfr_published.csv"] = pd.DataFrame({"year": published_years} | published("tfr"))
    tables["e0_published.csv"] = pd.concat(
        pd.DataFrame({"year": published_years, "sex": sex} | published(f"e0_{sex}")) for sex in SEXES
    )

    # Net migration.
    migration_periods, grouped_migrants = read_migration_pattern(data_dir)
    migration_totals = 1000.0 * estimate_then_median(
        indicators, "net_migration_thousands", years, last_estimate_year
    )
    tables["net_migration.csv"] = derive_net_migration(
        migration_periods, grouped_migrants, years, migration_totals
    )

    # Base population: births first_year..base_year-1 through the annual schedules, raked to the census.
    history_births = 1000.0 * indicator_series(indicators, "births_thousands", history_years, "estimate")
    history_srb = srb_all[history_years - first_year]
    # (year, age, sex): each calendar year takes the schedule of its 5-year period
    history_mx = np.moveaxis(single_mx[_period_index(history_years, period_starts, MX_FILE)], 1, 2)
    first_population = wpp_population_first_january(indicators, first_year)
    if pre_1950_birth_growth is None:
        pre_1950_birth_growth = pre_period_birth_growth_for_total(
            split_births_by_sex(history_births, history_srb), history_mx[0], first_population,
            PRE_1950_REFERENCE_YEARS,
        )
    base_period = _period_index(np.array([base_year]), migration_periods, MIGRATION_FILE)[0]
    base_pattern = graduate_migration(grouped_migrants[base_period])  # (sex, age)
    base: BaseReconstruction = reconstruct_base_population(
        births=history_births,
        sex_ratio_at_birth=history_srb,
        mx_by_year=history_mx,
        net_migrants=1000.0 * indicator_series(
            indicators, "net_migration_thousands", history_years, "estimate"
        ),
        migration_pattern=base_pattern.T,
        census_age_group_edges=CENSUS_AGE_GROUP_EDGES,
        census_age_group_totals=census["age_group_totals"],
        census_sex_totals=census["sex_totals"],
        pre_period_birth_growth_rate=pre_1950_birth_growth,
        reference_years=PRE_1950_REFERENCE_YEARS,
    )
    tables["base_population.csv"] = _long(
        base.population, "persons", age=np.arange(OPEN_AGE + 1), sex=SEXES
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    hashes = {}
    for name in sorted(tables):
        table = tables[name]
        keys = [column for column in ("year", "age", "sex") if column in table.columns]
        path = out_dir / name
        table.sort_values(keys, kind="stable").to_csv(
            path, index=False, float_format=FLOAT_FORMAT, lineterminator="\n"
        )
        hashes[name] = hashlib.sha256(path.read_bytes()).hexdigest()

    group_labels = age_group_labels(CENSUS_AGE_GROUP_EDGES)
    return {
        "files": hashes,
        "out_dir": str(out_dir),
        "reconciliation": base.residuals,
        "raking_factors": {
            sex: dict(zip(group_labels, base.raking_factors[:, s].tolist()))
            for s, sex in enumerate(SEXES)
        },
        "lee_carter_fit": fit_rows,
        "lee_carter_fit_from": lee_carter_fit_from,
        "lee_carter_explained_variance": {sex: mortality_checks[sex] for sex in SEXES},
        "kt_e0_max_abs_error": mortality_checks["kt_e0_max_abs_error"],
        "tfr_max_abs_error": float(np.max(np.abs(asfr.sum(axis=1) - tfr))),
        "pre_1950_birth_growth": float(pre_1950_birth_growth),
        "population_first_january_wpp": first_population,
        "migration_clipped_persons": float(base.migration_clipped.sum()),
    }


# ------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------


def default_data_dir() -> Path:
    """``$PENSION_DATA_DIR`` if set, else ``../shared/data`` relative to the project root."""
    return Path(os.environ.get(DATA_DIR_ENV) or PROJECT_ROOT.parent / "shared" / "data")


def format_report(summary: dict, base_year: int) -> str:
    """The reconciliation table, the Lee-Carter e0 fit table and the files written, as text."""
    reconciliation = tabulate(
        [[r["margin"], r["census"], r["reconstructed"], r["ratio_before"], r["ratio_after"] - 1.0]
         for r in summary["reconciliation"]],
        headers=["margin", "census", "reconstructed", "ratio before", "ratio after - 1"],
        floatfmt=("", ",.0f", ",.0f", ".5f", ".1e"),
    )
    fit = tabulate(
        [[r["sex"], r["period"], r["e0_data"], r["e0_fitted"], r["error"], r["e0_wpp_mean"]]
         for r in summary["lee_carter_fit"]],
        headers=["sex", "period", "e0 data", "e0 fitted", "fitted - data", "WPP e0 (annual mean)"],
        floatfmt=("", "", ".4f", ".4f", ".1e", ".4f"),
    )
    explained = ", ".join(
        f"{sex} {share:.4f}" for sex, share in summary["lee_carter_explained_variance"].items()
    )
    files = tabulate(list(summary["files"].items()), headers=["file", "sha256"])
    return "\n".join([
        f"Base population, 1 January {base_year}: reconciliation with the 7th census "
        "(raking over age group x sex)",
        reconciliation,
        f"births before 1950 grow at {summary['pre_1950_birth_growth']:.5f} a year (WPP population "
        f"1 January 1950: {summary['population_first_january_wpp']:,.0f}); net emigration clipped: "
        f"{summary['migration_clipped_persons']:,.0f} persons",
        "",
        f"Lee-Carter fit (periods from {summary['lee_carter_fit_from']}): life-table e0 of a + b k "
        "against that of the graduated data",
        fit,
        f"variance explained by the rank-1 SVD: {explained}",
        f"max |e0(a + b k) - WPP e0| of mortality_kt.csv: {summary['kt_e0_max_abs_error']:.1e} years; "
        f"max |sum asfr - TFR|: {summary['tfr_max_abs_error']:.1e}",
        "",
        f"Files written to {summary['out_dir']}:",
        files,
    ])


def main(argv: Sequence[str] | None = None) -> int:
    """Derive the calibration CSVs; print the reconciliation and Lee-Carter fit tables and the hashes."""
    parser = argparse.ArgumentParser(
        prog="python -m models.demography.derive", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--data-dir", type=Path, default=None,
                        help=f"raw data folder (default: ${DATA_DIR_ENV}, else ../shared/data)")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR,
                        help="output folder (default: %(default)s)")
    parser.add_argument("--base-year", type=int, default=2021)
    parser.add_argument("--last-year", type=int, default=2100)
    parser.add_argument("--lee-carter-fit-from", type=int, default=DEFAULT_FIT_FROM,
                        help="first period start of the Lee-Carter window (default: %(default)s)")
    parser.add_argument("--pre-1950-birth-growth", type=float, default=None,
                        help="annual growth of births before 1950 "
                             "(default: solved from the WPP 1950 population)")
    args = parser.parse_args(argv)
    data_dir = args.data_dir if args.data_dir is not None else default_data_dir()
    try:
        summary = derive(
            data_dir, args.out_dir, args.base_year, args.last_year,
            lee_carter_fit_from=args.lee_carter_fit_from,
            pre_1950_birth_growth=args.pre_1950_birth_growth,
        )
    except CalibrationDataError as error:
        parser.exit(2, f"calibrate: error: {error}\n")
    print(format_report(summary, args.base_year))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
