"""One year of the cohort-component projection worked by hand, age by age (four ages, the
last open), against :func:`models.demography.projection.project_cohort_component`.

The hand computation follows the module's stated conventions, written out one cell at a time:
survival ``s = exp(−m)``; newborns survive ``exp(−m_0 / 2)``; women aged ``x`` on 1 January
bear at ``f̄(x) = (f(x) + f(x+1))/2`` over their person-years ``W (1 + s)/2``; boys are
``SRB/(1 + SRB)`` of births; migrants of age ``x`` join age ``x + 1`` (both the last closed age
and the open age land in the open age); emigration never makes a cell negative.
"""

import numpy as np
import pytest

from models.demography.projection import (
    NEWBORN_EXPOSURE_YEARS,
    newborn_survival,
    one_year_survival,
    project_cohort_component,
)

BASE = np.array([[100.0, 110.0], [80.0, 90.0], [60.0, 50.0], [40.0, 30.0]])  # [age, sex f/m]
MX = np.array([[0.02, 0.03], [0.01, 0.015], [0.05, 0.075], [0.3, 0.45]])
ASFR = np.array([0.4, 0.2])  # ages 1 and 2
SRB = 1.05
MIGRATION = np.array([[1.0, -1.0], [2.0, -2.0], [3.0, 5.0], [4.0, 6.0]])


def _project(base=BASE, mx=MX, asfr=ASFR, srb=SRB, mig=MIGRATION):
    return project_cohort_component(base, mx[None], asfr[None], 1, np.array([srb]), mig[None])


def test_survival_conventions_by_hand():
    assert one_year_survival(np.array([0.1]))[0] == pytest.approx(np.exp(-0.1))
    assert NEWBORN_EXPOSURE_YEARS == 0.5
    assert newborn_survival(np.array([0.1]))[0] == pytest.approx(np.exp(-0.05))
    assert newborn_survival(np.array([0.1]))[0] > one_year_survival(np.array([0.1]))[0]


def test_one_year_by_hand():
    out = _project()
    s = np.exp(-MX)
    # births: women aged 0, 1, 2 on 1 January at f̄ = 0.2, 0.3, 0.1
    f_bar = [0.2, 0.3, 0.1]
    births = sum(f_bar[x] * BASE[x, 0] * (1 + s[x, 0]) / 2 for x in range(3))
    boys, girls = births * SRB / (1 + SRB), births / (1 + SRB)
    np.testing.assert_allclose(out["births"][0], [girls, boys], rtol=1e-13)
    assert out["births"][0, 1] / out["births"][0, 0] == pytest.approx(SRB)
    s0 = np.exp(-MX[0] / 2)
    expected = np.empty((4, 2))
    expected[0] = np.array([girls, boys]) * s0
    expected[1] = BASE[0] * s[0] + MIGRATION[0]
    expected[2] = BASE[1] * s[1] + MIGRATION[1]
    expected[3] = BASE[2] * s[2] + BASE[3] * s[3] + MIGRATION[2] + MIGRATION[3]
    np.testing.assert_allclose(out["population"][1], expected, rtol=1e-13)
    np.testing.assert_array_equal(out["population"][0], BASE)
    deaths = (BASE * (1 - s)).sum(axis=0) + np.array([girls, boys]) * (1 - s0)
    np.testing.assert_allclose(out["deaths"][0], deaths, rtol=1e-13)
    np.testing.assert_allclose(out["net_migration"][0], MIGRATION.sum(axis=0), rtol=1e-13)


def test_emigration_empties_a_cell_but_no_more():
    mig = MIGRATION.copy()
    mig[0, 0] = -1000.0  # more girls aged 0 leave than survive to age 1
    out = _project(mig=mig)
    assert out["population"][1, 1, 0] == 0.0
    applied = -BASE[0, 0] * np.exp(-MX[0, 0]) + mig[1:, 0].sum()
    assert out["net_migration"][0, 0] == pytest.approx(applied, rel=1e-13)


@pytest.mark.parametrize("carrier", ["base", "mx", "asfr", "srb", "mig"])
def test_a_path_dimension_on_any_one_input_gives_paths(carrier):
    """Leading (path) dimensions broadcast across the inputs: a batch given on only one of
    them projects each of its members as if alone."""
    n_years = 3
    mx = np.broadcast_to(MX, (n_years, 4, 2))
    asfr = np.broadcast_to(ASFR, (n_years, 2))
    srb = np.full(n_years, SRB)
    mig = np.broadcast_to(MIGRATION, (n_years, 4, 2))
    args = {"base": BASE, "mx": mx, "asfr": asfr, "srb": srb, "mig": mig}
    scale = np.array([0.5, 1.0, 2.0])
    batch = dict(args)
    batch[carrier] = scale.reshape((3,) + (1,) * np.ndim(args[carrier])) * args[carrier]
    out = project_cohort_component(batch["base"], batch["mx"], batch["asfr"], 1, batch["srb"],
                                   batch["mig"])
    assert out["population"].shape == (3, n_years + 1, 4, 2)
    for p in range(3):
        one = dict(args)
        one[carrier] = batch[carrier][p]
        alone = project_cohort_component(one["base"], one["mx"], one["asfr"], 1, one["srb"],
                                         one["mig"])
        np.testing.assert_array_equal(out["population"][p], alone["population"])
    assert np.ptp(out["population"][:, -1].sum(axis=(-2, -1))) > 0  # the paths differ
