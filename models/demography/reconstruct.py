"""Reconstruction of a base population by single age and sex from births, deaths and migrants.

Forward cohort reconstruction: each year's births, split by the sex
ratio at birth, are carried from one 1 January to the next through the single-age death rates
of the calendar year, and the year's net migrants are added at the year end. The survival
conventions are those of the projection (:mod:`models.demography.projection`), imported, not
restated, so that the base population and the projection share one accounting:

    P(t+1, x+1, s) = P(t, x, s) exp(-m(x, t, s))                        x = 0..98
    P(t+1, 100, s) = P(t, 99, s) exp(-m(99, t, s)) + P(t, 100, s) exp(-m(100, t, s))
    P(t+1, 0, s)   = B(t, s) exp(-m(0, t, s) / 2)
    P(t+1, x, s)  <- max(P(t+1, x, s) + N(t) pi(x, s), 0)              net migrants, year end

with ``B(t, female) = B(t) / (1 + SRB(t))``, ``B(t, male) = B(t) SRB(t) / (1 + SRB(t))``
(SRB in males per female), ``N(t)`` the year's net migrants and ``pi(x, s)`` an age-sex
distribution summing to one (ages indexed by age on the following 1 January).

Cohorts born before the first year of data (the *pre-period assumption*): births in year
``y`` are extrapolated back from the mean births of the first ``reference_years`` years,

    B(y, s) = Bbar(s) exp(g (y - ybar)),   ybar = mid-year of the reference years,

and survived to the first 1 January under the first year's schedule (as if it had always
applied), so the population on 1 January of the first year is

    P(x, s) = B(first - 1 - x, s) exp(-m(0)/2) prod_{y=0}^{x-1} exp(-m(y)),       x < 100,
    P(100, s) = [same formula at x = 100] / (1 - exp(-g) exp(-m(100))).

With constant births and rates (g = 0) this is the stationary population, and the forward
recursion keeps it there. g is an assumption and a parameter;
:func:`pre_period_birth_growth_for_total` picks the g that makes the initial total equal a
known population, which makes the initial population the stable population of the first
schedule with the observed births (and so the observed crude birth rate).

The reconstruction is then reconciled with census margins by iterative proportional fitting
(raking; Deming & Stephan 1940) over broad age groups x sex: each cell of the collapsed table
is scaled, alternately, to the age-group totals and to the sex totals until both hold, and
every single age takes the factor of its cell.

References
----------
Preston, S. H., Heuveline, P. & Guillot, M. (2001). *Demography: Measuring and Modeling
Population Processes*, Blackwell, ch. 3 (life table), 6 (projection), 7 (stable population).
Deming, W. E. & Stephan, F. F. (1940). On a least squares adjustment of a sampled frequency
table when the expected marginal totals are known. *Annals of Mathematical Statistics* 11(4),
427-444.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy.optimize import brentq

from models.constants import SEXES  # sex order of the last axis of every (..., age, sex) array
from models.demography.projection import newborn_survival, one_year_survival



class Reconstruction(NamedTuple):
    """Output of :func:`reconstruct_population`."""

    population: np.ndarray  #: persons on 1 January of each year first..last+1, shape (year, age, sex)
    #: persons of net emigration that found nobody left to remove, per year, shape (year,)
    migration_clipped: np.ndarray


class Raking(NamedTuple):
    """Output of :func:`rake_age_sex`."""

    population: np.ndarray  #: raked persons, shape (age, sex)
    factors: np.ndarray  #: adjustment factor of each (age group, sex) cell, shape (group, sex)
    iterations: int  #: IPF sweeps used


class BaseReconstruction(NamedTuple):
    """Output of :func:`reconstruct_base_population`."""

    population: np.ndarray  #: persons on the base 1 January after raking, shape (age, sex)
    population_unraked: np.ndarray  #: the same before raking, shape (age, sex)
    raking_factors: np.ndarray  #: factor of each (age group, sex) cell, shape (group, sex)
    residuals: list[dict[str, float | str]]  #: margin, census, reconstructed, ratio_before, ratio_after
    migration_clipped: np.ndarray  #: persons of emigration not removable, per year, shape (year,)


def split_births_by_sex(births: np.ndarray, sex_ratio_at_birth: np.ndarray) -> np.ndarray:
    """Female and male births from total births and the sex ratio at birth.

    ``B_f = B / (1 + SRB)``, ``B_m = B SRB / (1 + SRB)``, SRB in males per female.

    Returns
    -------
    array, shape (..., 2) : births by sex, sex order :data:`SEXES`, unit of ``births``.
    """
    births = np.asarray(births, dtype=float)
    srb = np.asarray(sex_ratio_at_birth, dtype=float)
    if np.any(srb <= 0):
        raise ValueError("the sex ratio at birth must be positive (males per female)")
    female = births / (1.0 + srb)
    return np.stack([female, births - female], axis=-1)


def pre_period_population(
    births_by_sex: np.ndarray,
    mx: np.ndarray,
    birth_growth_rate: float,
    reference_years: int = 5,
) -> np.ndarray:
    """Population on 1 January of the first data year from cohorts born before it.

    Births before the data extrapolated back at the constant growth rate ``g`` from the mean
    of the first ``reference_years`` years (module docstring), survived with the first year's
    schedule; the open group is the geometric sum of all cohorts aged 100 and over.

    Parameters
    ----------
    births_by_sex : array, shape (year, sex), persons born in each data year (first year first).
    mx : array, shape (age, sex), the first year's single-age death rates, ages 0..100 (100 open).
    birth_growth_rate : g, annual growth rate of births before the data (fraction per year;
        0 gives the stationary population of the reference births).
    reference_years : number of first data years whose mean births anchor the extrapolation.

    Returns
    -------
    array, shape (age, sex) : persons aged 0..100 (100+) on 1 January of the first data year.
    """
    births_by_sex = np.asarray(births_by_sex, dtype=float)
    mx = np.asarray(mx, dtype=float)
    if not 1 <= reference_years <= births_by_sex.shape[0]:
        raise ValueError(
            f"reference_years must be in 1..{births_by_sex.shape[0]}, got {reference_years}"
        )
    n_ages = mx.shape[0]
    reference_births = births_by_sex[:reference_years].mean(axis=0)  # (sex,)
    reference_offset = (reference_years - 1) / 2.0  # reference mid-year minus first year
    age = np.arange(n_ages)[:, np.newaxis]
    # born in year first - 1 - x: years before the reference mid-year = x + 1 + reference_offset
    cohort_births = reference_births * np.exp(-birth_growth_rate * (age + 1.0 + reference_offset))
    survival = one_year_survival(mx)
    survival_to_age = np.concatenate(
        [np.ones((1, mx.shape[1])), np.cumprod(survival[:-1], axis=0)], axis=0
    )  # prod_{y<x} s(y), shape (age, sex)
    population = cohort_births * newborn_survival(mx[0]) * survival_to_age
    open_ratio = np.exp(-birth_growth_rate) * survival[-1]
    if np.any(open_ratio >= 1.0):
        raise ValueError("the open age group diverges: need exp(-g) exp(-m(100)) < 1")
    population[-1] /= 1.0 - open_ratio
    return population


def pre_period_birth_growth_for_total(
    births_by_sex: np.ndarray,
    mx: np.ndarray,
    population_total: float,
    reference_years: int = 5,
    *,
    growth_bracket: tuple[float, float] = (-0.05, 0.20),
) -> float:
    """Growth rate g of pre-period births that makes the first 1 January total ``population_total``.

    Solves ``sum_{x,s} P(x, s; g) = population_total`` for g by Brent's method, with ``P`` from
    :func:`pre_period_population`. The total falls as g rises (older cohorts smaller at birth),
    so the root is unique. With the first year's schedule held fixed, the solution makes the
    initial population the *stable* population (Lotka; Preston, Heuveline & Guillot 2001, ch. 7)
    with that mortality, growth rate g and the observed number of births, i.e. with the
    observed crude birth rate.

    Parameters
    ----------
    births_by_sex, mx, reference_years : as in :func:`pre_period_population`.
    population_total : persons on 1 January of the first data year.
    growth_bracket : interval of annual growth rates searched.

    Returns
    -------
    float : g, fraction per year.
    """

    def excess(growth_rate: float) -> float:
        initial = pre_period_population(births_by_sex, mx, growth_rate, reference_years)
        return initial.sum() - population_total

    low, high = growth_bracket
    if excess(low) < 0.0 or excess(high) > 0.0:
        raise ValueError(
            f"no birth growth rate in [{low}, {high}] gives a first-year population "
            f"of {population_total:,.0f}"
        )
    return float(brentq(excess, low, high, xtol=1e-14))


def advance_one_year(
    population: np.ndarray, mx: np.ndarray, births_by_sex: np.ndarray
) -> np.ndarray:
    """Population on the next 1 January from this 1 January's, without migration.

    ``P'(x+1) = P(x) exp(-m(x))``, ``P'(100) += P(100) exp(-m(100))``, ``P'(0) = B exp(-m(0)/2)``
    (:func:`models.demography.projection.one_year_survival`, ``newborn_survival``).

    Parameters
    ----------
    population : array (..., age, sex), persons on 1 January, ages 0..100 (100 open).
    mx : array (..., age, sex), the calendar year's death rates, per person-year.
    births_by_sex : array (..., sex), births during the calendar year, persons.

    Returns
    -------
    array (..., age, sex) : persons on the next 1 January.
    """
    survivors = population * one_year_survival(mx)
    next_population = np.empty_like(survivors)
    next_population[..., 0, :] = births_by_sex * newborn_survival(mx[..., 0, :])
    next_population[..., 1:, :] = survivors[..., :-1, :]
    next_population[..., -1, :] += survivors[..., -1, :]
    return next_population


def reconstruct_population(
    births: np.ndarray,
    sex_ratio_at_birth: np.ndarray,
    mx_by_year: np.ndarray,
    net_migrants: np.ndarray,
    migration_pattern: np.ndarray,
    *,
    pre_period_birth_growth_rate: float,
    reference_years: int = 5,
) -> Reconstruction:
    """Forward cohort reconstruction from annual births, death rates and net migrants.

    Equations in the module docstring. Year ``i`` of the inputs is calendar year
    ``first + i``; the output holds the 1 January stocks of years ``first .. first + n``.

    Parameters
    ----------
    births : array (year,), live births in each calendar year, persons.
    sex_ratio_at_birth : array (year,), males per female born.
    mx_by_year : array (year, age, sex), single-age death rates of each calendar year, ages
        0..100 (100 open), deaths per person-year.
    net_migrants : array (year,), net migrants of each calendar year, persons (negative: net
        emigration).
    migration_pattern : array (age, sex), the age-sex distribution of net migrants, any scale
        (normalised here by its sum, which must not be zero); indexed by age on 1 January after
        the move.
    pre_period_birth_growth_rate : annual growth rate of births before the first year (see
        :func:`pre_period_population`), fraction per year.
    reference_years : first years whose mean births anchor the pre-period extrapolation.

    Returns
    -------
    Reconstruction : 1 January populations (year, age, sex) and the emigration clipped per year
    (the part of a negative migration flow that would have made a cell negative).
    """
    births = np.asarray(births, dtype=float)
    mx_by_year = np.asarray(mx_by_year, dtype=float)
    net_migrants = np.asarray(net_migrants, dtype=float)
    pattern = np.asarray(migration_pattern, dtype=float)
    n_years = births.shape[0]
    if mx_by_year.shape[0] != n_years or mx_by_year.ndim != 3 or mx_by_year.shape[2] != len(SEXES):
        raise ValueError(f"mx_by_year must be (year={n_years}, age, sex=2), got {mx_by_year.shape}")
    if np.shape(sex_ratio_at_birth) != (n_years,) or net_migrants.shape != (n_years,):
        raise ValueError("births, sex_ratio_at_birth and net_migrants must share one year axis")
    if pattern.shape != mx_by_year.shape[1:]:
        raise ValueError(
            f"migration_pattern must be (age, sex) = {mx_by_year.shape[1:]}, got {pattern.shape}"
        )
    pattern_total = pattern.sum()
    if pattern_total == 0.0:
        raise ValueError("migration_pattern sums to zero: cannot be normalised to a distribution")
    migration_share = pattern / pattern_total

    births_by_sex = split_births_by_sex(births, sex_ratio_at_birth)
    population = np.empty((n_years + 1,) + mx_by_year.shape[1:])
    population[0] = pre_period_population(
        births_by_sex, mx_by_year[0], pre_period_birth_growth_rate, reference_years
    )
    clipped = np.zeros(n_years)
    for year_index in range(n_years):
        after_migration = advance_one_year(
            population[year_index], mx_by_year[year_index], births_by_sex[year_index]
        ) + net_migrants[year_index] * migration_share
        clipped[year_index] = -after_migration[after_migration < 0.0].sum()
        population[year_index + 1] = np.maximum(after_migration, 0.0)
    return Reconstruction(population=population, migration_clipped=clipped)


def _age_group_index(age_group_edges: Sequence[int], n_ages: int) -> np.ndarray:
    edges = np.asarray(age_group_edges, dtype=int)
    if edges[0] != 0 or edges[-1] != n_ages or np.any(np.diff(edges) <= 0):
        raise ValueError(
            f"age_group_edges must rise strictly from 0 to the number of ages {n_ages}, "
            f"got {edges.tolist()}"
        )
    return np.searchsorted(edges, np.arange(n_ages), side="right") - 1


def rake_age_sex(
    population: np.ndarray,
    age_group_edges: Sequence[int],
    age_group_totals: np.ndarray,
    sex_totals: np.ndarray,
    *,
    rtol: float = 1e-13,
    max_iterations: int = 1000,
) -> Raking:
    """Iterative proportional fitting of an (age, sex) table to age-group and sex margins.

    The table is collapsed to cells ``T(g, s)`` (age group ``g`` x sex ``s``) and scaled
    alternately (Deming & Stephan 1940):

        T(g, s) <- T(g, s) A(g) / sum_s T(g, s);   T(g, s) <- T(g, s) S(s) / sum_g T(g, s)

    until both margins hold to ``rtol``; single age ``x`` in group ``g`` is multiplied by the
    cell's cumulative factor. The last sweep ends on the sex margins, so those hold to
    rounding and the age margins to ``rtol``.

    Parameters
    ----------
    population : array (age, sex), persons, non-negative.
    age_group_edges : G + 1 ages from 0 to the number of ages; group g is [edges[g], edges[g+1]).
    age_group_totals : array (G,), target persons per age group.
    sex_totals : array (sex,), target persons per sex; must add up to the same total.

    Returns
    -------
    Raking : raked population (age, sex), factors (group, sex), sweeps used.
    """
    population = np.asarray(population, dtype=float)
    age_targets = np.asarray(age_group_totals, dtype=float)
    sex_targets = np.asarray(sex_totals, dtype=float)
    group_of_age = _age_group_index(age_group_edges, population.shape[0])
    n_groups = len(age_group_edges) - 1
    if age_targets.shape != (n_groups,) or sex_targets.shape != (population.shape[1],):
        raise ValueError(
            f"need {n_groups} age-group totals and {population.shape[1]} sex totals, "
            f"got {age_targets.shape} and {sex_targets.shape}"
        )
    if np.any(population < 0) or np.any(age_targets < 0) or np.any(sex_targets < 0):
        raise ValueError("population and margins must be non-negative")
    if not np.isclose(age_targets.sum(), sex_targets.sum(), rtol=1e-9, atol=0.0):
        raise ValueError(
            f"margins disagree: age groups add up to {age_targets.sum():.0f}, "
            f"sexes to {sex_targets.sum():.0f}"
        )
    cells = np.zeros((n_groups, population.shape[1]))
    np.add.at(cells, group_of_age, population)
    raked = cells.copy()
    for iteration in range(1, max_iterations + 1):
        raked *= (age_targets / raked.sum(axis=1))[:, np.newaxis]
        raked *= sex_targets / raked.sum(axis=0)
        if np.allclose(raked.sum(axis=1), age_targets, rtol=rtol, atol=0.0):
            break
    else:
        raise RuntimeError(f"raking did not converge in {max_iterations} sweeps")
    with np.errstate(divide="ignore", invalid="ignore"):
        factors = np.where(cells > 0, raked / cells, 1.0)
    return Raking(population=population * factors[group_of_age], factors=factors, iterations=iteration)


def age_group_labels(age_group_edges: Sequence[int]) -> list[str]:
    """Labels such as ``"0-14"`` and, for a last group ending at the open age + 1, ``"65+"``."""
    edges = list(age_group_edges)
    labels = [f"{low}-{high - 1}" for low, high in zip(edges[:-2], edges[1:-1], strict=True)]
    return [*labels, f"{edges[-2]}+"]


def reconstruct_base_population(
    births: np.ndarray,
    sex_ratio_at_birth: np.ndarray,
    mx_by_year: np.ndarray,
    net_migrants: np.ndarray,
    migration_pattern: np.ndarray,
    *,
    census_age_group_edges: Sequence[int],
    census_age_group_totals: np.ndarray,
    census_sex_totals: np.ndarray,
    pre_period_birth_growth_rate: float,
    reference_years: int = 5,
) -> BaseReconstruction:
    """Reconstruct the population on the 1 January after the last data year and rake it to a census.

    :func:`reconstruct_population` followed by :func:`rake_age_sex` (Deming & Stephan 1940);
    arguments as there. The census margins are taken to describe the same 1 January.

    Returns
    -------
    BaseReconstruction : raked and unraked (age, sex) persons, the cell factors, and one
    residual row per margin (age groups, sexes, total) with the census value, the
    reconstructed value, and the ratios reconstructed / census before and after raking.
    """
    reconstruction = reconstruct_population(
        births,
        sex_ratio_at_birth,
        mx_by_year,
        net_migrants,
        migration_pattern,
        pre_period_birth_growth_rate=pre_period_birth_growth_rate,
        reference_years=reference_years,
    )
    unraked = reconstruction.population[-1]
    raking = rake_age_sex(unraked, census_age_group_edges, census_age_group_totals, census_sex_totals)
    group_of_age = _age_group_index(census_age_group_edges, unraked.shape[0])

    def group_sums(table: np.ndarray) -> np.ndarray:
        sums = np.zeros(len(census_age_group_edges) - 1)
        np.add.at(sums, group_of_age, table.sum(axis=1))
        return sums

    census_totals = np.asarray(census_age_group_totals, dtype=float)
    sex_totals = np.asarray(census_sex_totals, dtype=float)
    margins = (
        [(f"age {label}", c, b, a) for label, c, b, a in zip(
            age_group_labels(census_age_group_edges), census_totals, group_sums(unraked),
            group_sums(raking.population), strict=True)]
        + [(sex, c, b, a) for sex, c, b, a in zip(
            SEXES, sex_totals, unraked.sum(axis=0), raking.population.sum(axis=0), strict=True)]
        + [("total", sex_totals.sum(), unraked.sum(), raking.population.sum())]
    )
    residuals = [
        {
            "margin": name,
            "census": float(census),
            "reconstructed": float(before),
            "ratio_before": float(before / census),
            "ratio_after": float(after / census),
        }
        for name, census, before, after in margins
    ]
    return BaseReconstruction(
        population=raking.population,
        population_unraked=unraked,
        raking_factors=raking.factors,
        residuals=residuals,
        migration_clipped=reconstruction.migration_clipped,
    )
