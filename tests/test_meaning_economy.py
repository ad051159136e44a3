"""What the economy's pension formula MEANS: the basic pension of Guofa [2005] No. 38 is
``(1 + ρ)/2 · accrual · years · W̄_{t_R − 1}``, the average wage of the year BEFORE retirement
(:func:`models.economy.core.cohort_budget`). Checked on a wage path growing 10 % a year, where
the retirement year's wage would give a pension 10 % too high."""

import numpy as np
import pytest

from models.economy import EconomyParameters, Policy
from models.economy import core


def test_the_basic_pension_uses_last_years_average_wage():
    params = EconomyParameters()
    policy = Policy(individual_account_rate=0.0)  # no individual account: the basic part only
    cp = core.cohort_policy(params, policy, np.array([2000]))
    J = params.n_ages
    wbar = 1.1 ** np.arange(J, dtype=float)  # W̄ along the cohort's life, growing 10 % a year
    shape = (1, 1, 1, J)
    prices = core.CohortPrices(
        wage=np.ones(shape), average_wage=wbar.reshape(shape),
        average_wage_before=(wbar / 1.1).reshape(shape), index=np.ones(shape),
        pooled_rate=np.full(shape, 0.16), income_tax=np.zeros(shape), bequest=np.zeros(shape),
        residents_ratio=np.zeros(shape), gross_return=np.full(shape, 1.05))
    zeros = np.zeros((1, 1, core.N_KINDS))
    start = core.CohortStart(age=np.array([0]), assets=zeros, ia_balance=zeros, pension=zeros)
    out = core.cohort_budget(params, policy, cp, core.efficiency_by_kind(params), prices, start)
    i_r = cp.retire_index[0]
    covered = core.COVERED
    expected = (1.0 + params.contribution_index) / 2.0 * params.accrual_rate \
        * cp.years_credited[0] * 1.1 ** (i_r - 1.0)
    assert (cp.years_credited[0, covered] >= 15).all()
    np.testing.assert_allclose(out["new_pension"][0, 0, covered], expected[covered], rtol=1e-12)
    # in payment from the retirement year on, indexed (here: index 1) at the award
    k = int(np.flatnonzero(covered)[0])
    assert out["pension_in_force"][0, 0, k, i_r[k]] == pytest.approx(expected[k], rel=1e-12)
