"""Period life table: constant-hazard case and monotonicity."""

import numpy as np
import pytest

from models.demography.lifetable import infant_separation_factor, life_expectancy, life_table

N_AGES = 101  # 0..100, 100 open


@pytest.mark.parametrize("rate", [0.005, 0.02, 0.1, 0.5])
def test_constant_rate_with_midpoint_a0_gives_e0_of_one_over_m(rate):
    # q = m/(1 + m/2) gives l(x) = r^x with (1 - r) (1 + m/2) = m, so sum_{x<100} L(x)
    # = (1 - r^100)/m and the open group adds l(100)/m = r^100/m: e0 = 1/m exactly.
    table = life_table(np.full(N_AGES, rate), a0=0.5)
    assert table.ex[0] == pytest.approx(1.0 / rate, rel=1e-12)
    assert table.ex[100] == pytest.approx(1.0 / rate, rel=1e-12)
    assert table.dx.sum() == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("sex", ["female", "male"])
def test_constant_rate_with_coale_demeny_a0_is_close_to_one_over_m(sex):
    rate = 0.02
    # a(0) differs from 0.5 only in the first year: e0 moves by less than q(0) years.
    assert life_expectancy(np.full(N_AGES, rate), sex) == pytest.approx(1.0 / rate, abs=rate)


def test_coale_demeny_a0_values():
    np.testing.assert_allclose(infant_separation_factor([0.01, 0.2], "male"), [0.045 + 0.02684, 0.330])
    np.testing.assert_allclose(infant_separation_factor([0.01, 0.2], "female"), [0.053 + 0.028, 0.350])
    with pytest.raises(ValueError, match="sex"):
        infant_separation_factor(0.01, "both")


def gompertz_mx(level: float) -> np.ndarray:
    ages = np.arange(N_AGES)
    return level * np.exp(0.09 * (ages - 60)) + 0.0005


def test_higher_mortality_gives_lower_life_expectancy():
    levels = np.array([0.002, 0.005, 0.01, 0.02])
    e0 = life_expectancy(np.stack([gompertz_mx(level) for level in levels]), "female")
    assert np.all(np.diff(e0) < 0)
    base = gompertz_mx(0.01)
    for age in (0, 30, 99, 100):
        raised = base.copy()
        raised[age] *= 1.5
        assert life_expectancy(raised, "male") < life_expectancy(base, "male")


def test_age_axis_can_be_anywhere():
    rng = np.random.default_rng(np.random.SeedSequence(3))
    mx = gompertz_mx(0.01)[np.newaxis, :] * rng.uniform(0.5, 2.0, size=(4, 1))
    by_column = life_expectancy(mx.T, "male", axis=0)
    np.testing.assert_allclose(by_column, life_expectancy(mx, "male"), rtol=1e-14)
