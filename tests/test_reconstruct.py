"""Base-population reconstruction: stable populations, raking, accounting invariants."""

import numpy as np
import pandas as pd
import pytest

from models.demography.projection import newborn_survival, one_year_survival
from models.demography.reconstruct import (
    SEXES,
    pre_period_birth_growth_for_total,
    pre_period_population,
    rake_age_sex,
    reconstruct_base_population,
    reconstruct_population,
    split_births_by_sex,
)
from models.demography.derive import DEFAULT_OUT_DIR, default_data_dir, read_census

N_AGES = 101
N_YEARS = 30
SRB = 1.06


def gompertz_mx() -> np.ndarray:
    """A fixed (age, sex) schedule, deaths per person-year; men 20 % higher."""
    ages = np.arange(N_AGES)
    female = 0.0004 + 0.00003 * np.exp(0.1 * ages) + 0.01 * (ages == 0)
    return np.stack([female, 1.2 * female], axis=-1)


def stable_population(births_last_year: np.ndarray, mx: np.ndarray, growth_rate: float) -> np.ndarray:
    """P(x) = B(t-1-x) exp(-m0/2) prod_{y<x} exp(-m(y)), B growing at g; open group geometric."""
    survival = one_year_survival(mx)
    to_age = np.vstack([np.ones((1, 2)), np.cumprod(survival[:-1], axis=0)])
    ages = np.arange(N_AGES)[:, np.newaxis]
    population = births_last_year * np.exp(-growth_rate * ages) * newborn_survival(mx[0]) * to_age
    population[-1] /= 1.0 - np.exp(-growth_rate) * survival[-1]
    return population


def run(births: np.ndarray, mx: np.ndarray, growth_rate: float, migrants=None, pattern=None):
    n_years = births.size
    return reconstruct_population(
        births,
        np.full(n_years, SRB),
        np.broadcast_to(mx, (n_years,) + mx.shape),
        np.zeros(n_years) if migrants is None else migrants,
        np.ones(mx.shape) if pattern is None else pattern,
        pre_period_birth_growth_rate=growth_rate,
        reference_years=1,
    )


def test_constant_births_and_mortality_give_the_stationary_population():
    births = np.full(N_YEARS, 1.0e6)
    mx = gompertz_mx()
    result = run(births, mx, growth_rate=0.0)
    expected = stable_population(split_births_by_sex(births[0], SRB), mx, 0.0)
    for year_population in result.population:
        np.testing.assert_allclose(year_population, expected, rtol=1e-12)
    assert result.migration_clipped.sum() == 0.0


def test_births_growing_at_g_give_the_stable_population():
    growth_rate = 0.015
    births = 1.0e6 * np.exp(growth_rate * np.arange(N_YEARS))
    mx = gompertz_mx()
    result = run(births, mx, growth_rate)
    # 1 January of year i: the last cohort (age 0) was born in year i - 1.
    for i in range(1, N_YEARS + 1):
        expected = stable_population(split_births_by_sex(births[i - 1], SRB), mx, growth_rate)
        np.testing.assert_allclose(result.population[i], expected, rtol=1e-11)


def test_births_split_by_sex_ratio():
    np.testing.assert_allclose(split_births_by_sex(2.06e6, 1.06), [1.0e6, 1.06e6])


def test_pre_period_growth_solves_for_a_total():
    births = split_births_by_sex(np.full(5, 2.0e7), np.full(5, SRB))
    mx = gompertz_mx() * 8.0
    target = 5.0e8
    growth_rate = pre_period_birth_growth_for_total(births, mx, target)
    assert pre_period_population(births, mx, growth_rate).sum() == pytest.approx(target, rel=1e-10)


def test_net_emigration_is_clipped_and_never_leaves_negative_cells():
    births = np.full(N_YEARS, 1.0e5)
    migrants = np.full(N_YEARS, -3.0e6)  # larger than whole age groups
    result = run(births, gompertz_mx(), 0.0, migrants=migrants)
    assert result.population.min() >= 0.0
    assert result.migration_clipped.sum() > 0.0


def test_migration_is_added_at_year_end_by_pattern():
    births = np.full(3, 1.0e6)
    mx = gompertz_mx()
    pattern = np.zeros((N_AGES, 2))
    pattern[25, 1] = 1.0
    with_migrants = run(births, mx, 0.0, migrants=np.array([0.0, 5000.0, 0.0]), pattern=pattern)
    without = run(births, mx, 0.0)
    difference = with_migrants.population - without.population
    assert difference[2, 25, 1] == pytest.approx(5000.0)  # added on 1 January after year 1
    assert difference[3, 26, 1] == pytest.approx(5000.0 * np.exp(-mx[25, 1]))  # then survives
    assert np.count_nonzero(difference[2]) == 1


def random_population(seed: int) -> np.ndarray:
    return np.random.default_rng(np.random.SeedSequence(seed)).uniform(1e5, 1e7, size=(N_AGES, 2))


def test_raking_hits_the_margins():
    population = random_population(5)
    edges = (0, 15, 60, 65, N_AGES)
    age_totals = np.array([2.5e8, 9.0e8, 7.0e7, 1.9e8])
    sex_totals = np.array([0.49, 0.51]) * age_totals.sum()
    raking = rake_age_sex(population, edges, age_totals, sex_totals)
    np.testing.assert_allclose(raking.population.sum(axis=0), sex_totals, rtol=1e-13)
    group_totals = [raking.population[low:high].sum() for low, high in zip(edges[:-1], edges[1:])]
    np.testing.assert_allclose(group_totals, age_totals, rtol=1e-12)
    assert raking.population.min() >= 0.0
    # every single age of a cell takes the cell's factor
    cell_factor = np.broadcast_to(raking.factors[1], (45, 2))
    np.testing.assert_allclose(raking.population[15:60] / population[15:60], cell_factor)


def test_raking_rejects_inconsistent_margins():
    with pytest.raises(ValueError, match="margins disagree"):
        rake_age_sex(random_population(6), (0, 50, N_AGES), np.array([1.0, 2.0]), np.array([1.0, 1.0]))


def test_base_reconstruction_reports_residuals_before_and_after():
    births = np.full(N_YEARS, 1.0e6)
    mx = gompertz_mx()
    result = reconstruct_base_population(
        births,
        np.full(N_YEARS, SRB),
        np.broadcast_to(mx, (N_YEARS,) + mx.shape),
        np.zeros(N_YEARS),
        np.ones(mx.shape),
        census_age_group_edges=(0, 65, N_AGES),
        census_age_group_totals=np.array([5.0e7, 1.0e7]),
        census_sex_totals=np.array([2.9e7, 3.1e7]),
        pre_period_birth_growth_rate=0.0,
    )
    margins = [row["margin"] for row in result.residuals]
    assert margins == ["age 0-64", "age 65+", "female", "male", "total"]
    for row in result.residuals:
        assert row["ratio_after"] == pytest.approx(1.0, abs=1e-12)
        assert row["ratio_before"] == pytest.approx(row["reconstructed"] / row["census"])
    np.testing.assert_allclose(result.population_unraked.sum(), result.residuals[-1]["reconstructed"])


def test_derived_base_population_is_complete_and_non_negative():
    path = DEFAULT_OUT_DIR / "base_population.csv"
    assert path.is_file(), f"{path} is missing: run `python -m models.demography.derive`"
    base = pd.read_csv(path)
    assert list(base.columns) == ["age", "sex", "persons"]
    assert len(base) == 2 * N_AGES
    assert set(base["sex"]) == set(SEXES) and sorted(base["age"].unique()) == list(range(N_AGES))
    assert (base["persons"] >= 0).all()


def test_derived_base_population_matches_census_margins():
    data_dir = default_data_dir()
    if not (data_dir / "china_facts.csv").is_file():
        pytest.skip(f"raw data folder {data_dir} is absent (set PENSION_DATA_DIR)")
    census = read_census(data_dir)
    base = pd.read_csv(DEFAULT_OUT_DIR / "base_population.csv")
    base = base.pivot(index="age", columns="sex", values="persons")
    by_sex = base[list(SEXES)].sum().to_numpy()
    np.testing.assert_allclose(by_sex, census["sex_totals"], rtol=1e-9)
    ages = base.index.to_numpy()
    groups = [(0, 15), (15, 60), (60, 65), (65, N_AGES)]
    totals = [base[(ages >= low) & (ages < high)].to_numpy().sum() for low, high in groups]
    np.testing.assert_allclose(totals, census["age_group_totals"], rtol=1e-9)
