"""What the consumption-equivalent variation MEANS, checked on hand-made lifetimes.

Definition (Lucas 1987; the module docstring of :mod:`models.economy.welfare`): the CEV ``λ``
of a reform is the proportional change in consumption, in every remaining year of the baseline
life, that makes the household exactly as well off as under the reform. So if the "reform" IS
the baseline with consumption scaled by ``1 + λ``, ``welfare_cev`` must return ``λ`` — for log
utility (``σ = 1``) and for CRRA ``σ ≠ 1`` on either side of one. The lifetime utilities below
are computed by hand, ``V = Σ_a β^a Π_{b<a} s_b u(c_a)``, not by the model's household code.
"""

import numpy as np
import pytest
import xarray as xr

from models.economy import welfare_cev

BETA = 0.97
SURVIVAL = np.array([1.0, 0.99, 0.98, 0.95, 0.9, 0.8, 0.6, 0.0])  # to the next age
# two cohorts, two household types: consumption by age, yuan-scaled units
CONSUMPTION = np.array([
    [[1.0, 1.1, 1.2, 1.3, 1.2, 1.0, 0.9, 0.8], [0.6, 0.6, 0.7, 0.7, 0.7, 0.6, 0.5, 0.5]],
    [[2.0, 2.1, 2.0, 1.9, 1.5, 1.4, 1.3, 1.2], [0.9, 1.0, 1.1, 1.0, 0.9, 0.8, 0.8, 0.7]],
])


def _u(c, sigma):
    return np.log(c) if sigma == 1.0 else c ** (1.0 - sigma) / (1.0 - sigma)


def _weights():
    """``β^a Π_{b<a} s_b``: the probability-weighted discount of age ``a``."""
    alive = np.concatenate([[1.0], np.cumprod(SURVIVAL[:-1])])
    return BETA ** np.arange(SURVIVAL.size) * alive


def _transition(consumption, sigma):
    """A stand-in for a solve_transition result: the fields welfare_cev reads."""
    w = _weights()
    util = (w * _u(consumption, sigma)).sum(axis=-1)
    disc = np.full(util.shape, w.sum())
    dims = ("birth_year", "group", "category")
    coords = {"birth_year": [1980, 2000], "group": ["employee"], "category": ["a", "b"]}
    return xr.Dataset({"lifetime_utility": (dims, util[:, None, :]),
                       "discounted_survival": (dims, disc[:, None, :])},
                      coords=coords, attrs={"crra": sigma, "base_year": 2021, "horizon": 2100})


@pytest.mark.parametrize("sigma", [1.0, 0.5, 2.0, 3.5])
@pytest.mark.parametrize("lam", [0.05, -0.12, 0.3])
def test_cev_of_scaled_consumption_is_the_scale(sigma, lam):
    """Baseline consumption scaled by (1 + λ) in every year: the CEV is exactly λ."""
    base = _transition(CONSUMPTION, sigma)
    reform = _transition(CONSUMPTION * (1.0 + lam), sigma)
    cev = welfare_cev(base, reform)
    np.testing.assert_allclose(cev.values, lam, rtol=0, atol=1e-12)
    # and the other way round: undoing the scale is the inverse change 1/(1+λ) − 1
    back = welfare_cev(reform, base)
    np.testing.assert_allclose(back.values, 1.0 / (1.0 + lam) - 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_cev_makes_the_baseline_as_well_off_as_the_reform(sigma):
    """For an arbitrary reform (not a scale), scaling baseline consumption by 1 + CEV gives a
    lifetime utility equal to the reform's — the definition of the CEV."""
    rng = np.random.default_rng(np.random.SeedSequence(17))
    reformed = CONSUMPTION * rng.uniform(0.8, 1.3, size=CONSUMPTION.shape)
    base, reform = _transition(CONSUMPTION, sigma), _transition(reformed, sigma)
    cev = welfare_cev(base, reform).values[:, 0, :]
    v_reform = reform["lifetime_utility"].values[:, 0, :]
    v_scaled = _transition(CONSUMPTION * (1.0 + cev[..., None]), sigma)[
        "lifetime_utility"].values[:, 0, :]
    np.testing.assert_allclose(v_scaled, v_reform, rtol=1e-12)
    assert (np.sign(cev) == np.sign(v_reform - base["lifetime_utility"].values[:, 0, :])).all()


def test_cev_has_the_transitions_labels_and_unit():
    base = _transition(CONSUMPTION, 2.0)
    cev = welfare_cev(base, _transition(CONSUMPTION * 1.1, 2.0))
    assert cev.name == "welfare_cev"
    assert cev.dims == ("birth_year", "group", "category")
    assert cev["birth_year"].values.tolist() == [1980, 2000]
    # the metadata the tables print
    assert cev.attrs["units"] == "fraction of consumption in every remaining year"
    assert cev.attrs["long_name"] == ("consumption-equivalent variation of the reform (remaining "
                                      "lifetime from the base year or first_age)")


@pytest.mark.parametrize("key, value", [("crra", 3.0), ("base_year", 2022), ("horizon", 2090)])
def test_transitions_that_differ_in_a_setting_are_refused_naming_it(key, value):
    base = _transition(CONSUMPTION, 2.0)
    with pytest.raises(ValueError) as err:
        welfare_cev(base, base.assign_attrs({key: value}))
    assert str(err.value) == f"the two transitions differ in {key}: {base.attrs[key]} vs {value}"


def test_transitions_with_different_cohorts_are_refused():
    base = _transition(CONSUMPTION, 2.0)
    other = base.assign_coords(birth_year=[1980, 2001])
    with pytest.raises(ValueError) as err:
        welfare_cev(base, other)
    assert str(err.value) == "the two transitions have different cohorts (birth_year)"
