"""Welfare that nets leisure (issue 14, item 4), checked on hand-made lifetimes.

With elastic labour a cohort's lifetime utility is ``V = C + L``: ``C`` the discounted utility
of consumption, ``L`` the (negative) discounted disutility of hours
``−φ h^{1+1/ν}/(1+1/ν)`` in the working years. The consumption-equivalent variation scales the
baseline's consumption (its hours held), so ``(1+λ)^{1−σ} C_base + L_base = V_reform``. The
lifetimes below are computed by hand, not by the model's household code.
"""

import numpy as np
import pytest
import xarray as xr

from models.economy import welfare_cev

BETA = 0.97
SURVIVAL = np.array([1.0, 0.99, 0.98, 0.95, 0.9, 0.8, 0.6, 0.0])
WORKING = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype=float)  # ages that work
CONSUMPTION = np.array([1.0, 1.1, 1.2, 1.3, 1.2, 1.0, 0.9, 0.8])
PHI, NU = 2.0, 0.5


def _weights():
    alive = np.concatenate([[1.0], np.cumprod(SURVIVAL[:-1])])
    return BETA ** np.arange(SURVIVAL.size) * alive


def _u(c, sigma):
    return np.log(c) if sigma == 1.0 else c ** (1.0 - sigma) / (1.0 - sigma)


def _lifetime(consumption, hours, sigma, phi=PHI, with_consumption_part=True):
    """A stand-in for an elastic transition's welfare fields (one cohort, one type)."""
    w = _weights()
    c_part = float((w * _u(consumption, sigma)).sum())
    leisure = float((w * WORKING * -phi * hours ** (1 + 1 / NU) / (1 + 1 / NU)).sum())
    dims = ("birth_year", "group", "category")
    coords = {"birth_year": [1990], "group": ["employee"], "category": ["men"]}
    data = {"lifetime_utility": (dims, [[[c_part + leisure]]]),
            "discounted_survival": (dims, [[[w.sum()]]])}
    if with_consumption_part:
        data["consumption_utility"] = (dims, [[[c_part]]])
    return xr.Dataset(data, coords=coords,
                      attrs={"crra": sigma, "base_year": 2021, "horizon": 200})


@pytest.mark.parametrize("sigma", [0.5, 2.0, 3.0])
def test_a_reform_that_only_changes_hours_has_the_analytic_cev(sigma):
    """Same consumption, hours 1 -> 0.8 in the working years: the reform returns leisure
    worth ``ΔL = L_reform − L_base > 0``; the CEV solves ``(1+λ)^{1−σ} C = C + ΔL``."""
    base = _lifetime(CONSUMPTION, 1.0, sigma)
    reform = _lifetime(CONSUMPTION, 0.8, sigma)
    w = _weights()
    c = float((w * _u(CONSUMPTION, sigma)).sum())
    gain = float((w * WORKING * PHI * (1 - 0.8 ** (1 + 1 / NU)) / (1 + 1 / NU)).sum())
    expected = ((c + gain) / c) ** (1 / (1 - sigma)) - 1
    cev = float(welfare_cev(base, reform).squeeze())
    assert cev == pytest.approx(expected, rel=1e-12)
    assert cev > 0  # less work at the same consumption is better
    # and the opposite reform (more hours) costs welfare
    assert float(welfare_cev(reform, base).squeeze()) < 0


@pytest.mark.parametrize("sigma", [0.5, 2.0])
def test_consumption_scaled_with_hours_held_is_the_scale(sigma):
    """The definition: the reform is the baseline with consumption x (1 + λ), same hours."""
    base = _lifetime(CONSUMPTION, 0.9, sigma)
    reform = _lifetime(CONSUMPTION * 1.07, 0.9, sigma)
    assert float(welfare_cev(base, reform).squeeze()) == pytest.approx(0.07, abs=1e-12)


def test_without_disutility_it_is_the_inelastic_cev():
    """phi = 0 (L = 0): the CEV that nets leisure equals the one without the consumption
    part, bit for bit."""
    for sigma in (0.5, 2.0):
        base = _lifetime(CONSUMPTION, 1.0, sigma, phi=0.0)
        reform = _lifetime(CONSUMPTION * 1.1, 1.0, sigma, phi=0.0)
        plain = [_lifetime(CONSUMPTION, 1.0, sigma, 0.0, False),
                 _lifetime(CONSUMPTION * 1.1, 1.0, sigma, 0.0, False)]
        assert float(welfare_cev(base, reform).squeeze()) == float(
            welfare_cev(*plain).squeeze())


def test_the_inelastic_formula_would_miss_the_leisure():
    """Ignoring L (the formula V_reform / V_base) misstates the hours-only reform: the test
    above checks a formula that differs from it."""
    base = _lifetime(CONSUMPTION, 1.0, 2.0)
    reform = _lifetime(CONSUMPTION, 0.8, 2.0)
    netted = float(welfare_cev(base, reform).squeeze())
    plain = float(welfare_cev(base.drop_vars("consumption_utility"), reform).squeeze())
    assert abs(netted - plain) > 1e-3
