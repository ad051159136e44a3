"""Group-preserving PCHIP graduation: analytic cases and invariants."""

import numpy as np
import pytest

from models.demography.graduate import (
    FERTILITY_GROUP_BOUNDARIES,
    MORTALITY_GROUP_BOUNDARIES,
    graduate_fertility,
    graduate_grouped,
    graduate_migration,
    graduate_mortality,
    graduate_rates,
)

UNEVEN_BOUNDARIES = (0, 1, 5, 10, 12, 20, 35, 40)


def group_sums(single_age: np.ndarray, boundaries) -> np.ndarray:
    offsets = np.asarray(list(boundaries)) - list(boundaries)[0]
    return np.add.reduceat(single_age, offsets[:-1], axis=-1)


def test_group_totals_are_preserved_exactly_along_leading_axes():
    rng = np.random.default_rng(np.random.SeedSequence(20240601))
    totals = rng.gamma(2.0, 50.0, size=(3, 4, len(UNEVEN_BOUNDARIES) - 1))
    single = graduate_grouped(totals, UNEVEN_BOUNDARIES)
    assert single.shape == (3, 4, UNEVEN_BOUNDARIES[-1])
    np.testing.assert_allclose(group_sums(single, UNEVEN_BOUNDARIES), totals, rtol=1e-12)


def test_signed_totals_are_preserved():
    rng = np.random.default_rng(np.random.SeedSequence(7))
    totals = rng.normal(0.0, 10.0, size=(5, 21))
    single = graduate_migration(totals)
    assert single.shape == (5, 101)
    closed_groups = group_sums(single[:, :100], range(0, 101, 5))
    np.testing.assert_allclose(closed_groups, totals[:, :20], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(single[:, 100], totals[:, 20])


def test_non_negative_input_gives_non_negative_output():
    rng = np.random.default_rng(np.random.SeedSequence(11))
    totals = rng.gamma(0.3, 1.0, size=(200, len(UNEVEN_BOUNDARIES) - 1))
    totals[rng.random(totals.shape) < 0.3] = 0.0  # empty groups and abrupt spikes
    single = graduate_grouped(totals, UNEVEN_BOUNDARIES)
    assert single.min() >= 0.0
    np.testing.assert_allclose(group_sums(single, UNEVEN_BOUNDARIES), totals, rtol=1e-12, atol=1e-14)


def test_constant_rate_schedule_stays_constant():
    grouped = np.full(len(MORTALITY_GROUP_BOUNDARIES), 0.03)  # 21 closed groups + 100+
    single = graduate_mortality(grouped)
    assert single.shape == (101,)
    np.testing.assert_allclose(single, 0.03, rtol=1e-13)


def test_linear_cumulative_is_recovered_between_knots():
    density = 2.5  # a cumulative C(x) = 2.5 (x - b0) with uneven groups
    totals = density * np.diff(UNEVEN_BOUNDARIES)
    single = graduate_grouped(totals, UNEVEN_BOUNDARIES)
    cumulative = np.concatenate([[0.0], np.cumsum(single)])
    linear = density * np.arange(UNEVEN_BOUNDARIES[-1] + 1)
    np.testing.assert_allclose(cumulative, linear, rtol=1e-13, atol=1e-12)


def test_rates_integrate_to_rate_times_width():
    grouped_rates = np.array([0.05, 0.01, 0.002, 0.004, 0.02, 0.09, 0.3])
    single = graduate_rates(grouped_rates, UNEVEN_BOUNDARIES)
    expected = grouped_rates * np.diff(UNEVEN_BOUNDARIES)
    np.testing.assert_allclose(group_sums(single, UNEVEN_BOUNDARIES), expected, rtol=1e-12)


def test_fertility_single_ages_add_up_to_tfr():
    shares = np.array([0.1, 7.0, 25.0, 35.0, 20.0, 9.0, 3.0, 0.8, 0.1])
    tfr = np.array([1.0, 1.7, 6.0])
    asfr5 = tfr[:, np.newaxis] * (shares / shares.sum()) / 5.0
    single = graduate_fertility(asfr5)
    assert single.shape == (3, FERTILITY_GROUP_BOUNDARIES[-1] - FERTILITY_GROUP_BOUNDARIES[0])
    np.testing.assert_allclose(single.sum(axis=-1), tfr, rtol=1e-13)
    assert single.min() >= 0.0


def test_open_mortality_group_is_taken_as_is():
    grouped = np.geomspace(0.001, 0.6, len(MORTALITY_GROUP_BOUNDARIES))
    assert graduate_mortality(grouped)[100] == grouped[-1]


@pytest.mark.parametrize("boundaries", [(0, 5, 5, 10), (0, 5, 10), (0, 2.5, 10, 15)])
def test_bad_boundaries_are_rejected(boundaries):
    with pytest.raises(ValueError, match="boundaries"):
        graduate_grouped(np.ones(3), boundaries)
