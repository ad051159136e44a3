"""Cohort-component projection: accounting identity, non-negativity, the stable population."""

import numpy as np
import pytest
from scipy.optimize import brentq

from models.demography.projection import (
    newborn_survival,
    one_year_survival,
    project_cohort_component,
)

N_AGES = 101
FERT_AGES = np.arange(15, 50)


def _synthetic(seed: int, n_years: int = 30, paths: int = 3):
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    base = rng.uniform(1e5, 1e6, size=(N_AGES, 2))
    mx = np.exp(-9.0 + 0.085 * np.arange(N_AGES))[None, None, :, None] * rng.uniform(
        0.8, 1.2, size=(paths, n_years, N_AGES, 2))
    asfr = rng.uniform(0.0, 0.08, size=(paths, n_years, FERT_AGES.size))
    srb = rng.uniform(1.03, 1.15, size=(paths, n_years))
    migration = rng.normal(0.0, 2e3, size=(paths, n_years, N_AGES, 2))
    return base, mx, asfr, srb, migration


def test_population_accounting_identity_holds_exactly():
    base, mx, asfr, srb, mig = _synthetic(seed=11)
    out = project_cohort_component(base, mx, asfr, int(FERT_AGES[0]), srb, mig)
    pop = out["population"].sum(axis=(-2, -1))
    flows = (out["births"] - out["deaths"] + out["net_migration"]).sum(axis=-1)
    np.testing.assert_allclose(pop[..., 1:] - pop[..., :-1], flows, rtol=0, atol=1e-6 * pop.max())


def test_no_negative_population_even_with_large_emigration():
    base, mx, asfr, srb, mig = _synthetic(seed=12)
    out = project_cohort_component(base, mx, asfr, int(FERT_AGES[0]), srb, mig - 5e5)
    assert (out["population"] >= 0).all()
    assert (out["deaths"] >= 0).all()


def test_deaths_never_exceed_population_at_risk():
    base, mx, asfr, srb, mig = _synthetic(seed=13)
    out = project_cohort_component(base, mx * 50, asfr, int(FERT_AGES[0]), srb, mig)
    at_risk = out["population"][..., :-1, :, :].sum(axis=-2) + out["births"]
    assert (out["deaths"] <= at_risk + 1e-6).all()


def test_paths_are_independent_of_batching():
    base, mx, asfr, srb, mig = _synthetic(seed=14)
    together = project_cohort_component(base, mx, asfr, 15, srb, mig)["population"]
    alone = project_cohort_component(base, mx[1], asfr[1], 15, srb[1], mig[1])["population"]
    np.testing.assert_array_equal(together[1], alone)


def test_constant_rates_converge_to_the_lotka_stable_population():
    """Constant rates and no migration: the female population converges to the stable
    population of the discrete Lotka equation ``1 = Σ_x F(x) ℓ(x) λ^-(x+1)``, with the Leslie
    first row ``F(x) = s0 f̄(x) (1 + s(x)) / 2 / (1 + SRB)`` and ``ℓ(x) = Π_{y<x} s(y)``;
    the age structure is ``c(x) ∝ ℓ(x) λ^-x`` and the growth rate ``λ − 1``."""
    n_years = 1500
    ages = np.arange(N_AGES)
    m = 0.0005 + np.exp(-10.5 + 0.1 * ages)
    mx = np.broadcast_to(np.stack([m, 1.1 * m], -1), (n_years, N_AGES, 2))
    f = 0.11 * np.exp(-0.5 * ((FERT_AGES - 28.0) / 5.0) ** 2)  # TFR about 1.4
    asfr = np.broadcast_to(f, (n_years, f.size))
    srb = np.full(n_years, 1.06)
    base = np.full((N_AGES, 2), 1e6)
    out = project_cohort_component(base, mx, asfr, int(FERT_AGES[0]), srb,
                                   np.zeros((n_years, N_AGES, 2)))

    s = one_year_survival(m)
    s0 = float(newborn_survival(m[0]))
    f_full = np.zeros(N_AGES + 1)
    f_full[FERT_AGES] = f
    f_bar = 0.5 * (f_full[:-1] + f_full[1:])
    first_row = s0 * f_bar * 0.5 * (1.0 + s) / (1.0 + srb[0])
    ell = np.concatenate([[1.0], np.cumprod(s[:-1])])
    lam = brentq(lambda x: np.sum(first_row * ell * x ** -(ages + 1.0)) - 1.0, 0.5, 1.5)

    women = out["population"][:, :-1, 0]  # closed ages 0..99
    growth = women[-1].sum() / women[-2].sum()
    assert growth == pytest.approx(lam, rel=1e-7)
    stable = ell[:-1] * lam ** -ages[:-1]
    np.testing.assert_allclose(women[-1] / women[-1].sum(), stable / stable.sum(), rtol=1e-6)
    assert lam < 1.0  # below replacement: a shrinking stable population
