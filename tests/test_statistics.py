"""Monte Carlo statistics (models/optimize/statistics.py) on problems with known answers."""

import math

import numpy as np
import pytest

from models.optimize import statistics as st


def test_mean_interval_covers_the_true_mean_at_its_level():
    rng = np.random.default_rng(np.random.SeedSequence(20261130))
    draws = rng.normal(3.0, 2.0, size=(2000, 12))
    hits = [st.mean_interval(row, 0.95) for row in draws]
    coverage = np.mean([e.low <= 3.0 <= e.high for e in hits])
    # 2,000 intervals: the coverage's own standard error is about 0.005
    assert 0.935 <= coverage <= 0.965
    # at 90 % the intervals are narrower and cover less
    coverage90 = np.mean([(e := st.mean_interval(r, 0.90)).low <= 3.0 <= e.high for r in draws])
    assert 0.88 <= coverage90 <= 0.92


def test_mean_interval_by_hand():
    e = st.mean_interval([1.0, 2.0, 3.0, 4.0], 0.95)
    # mean 2.5, s = sqrt(5/3), t_{3, 0.975} = 3.182446
    hw = 3.182446305 * math.sqrt(5.0 / 3.0) / 2.0
    assert e.value == 2.5 and e.n == 4
    assert e.high - 2.5 == pytest.approx(hw, rel=1e-8) and 2.5 - e.low == pytest.approx(hw)


def test_paired_differences_use_common_random_numbers():
    rng = np.random.default_rng(np.random.SeedSequence(7))
    common = rng.normal(1000.0, 80.0, size=400)       # what both policies pay on a path
    a = common + rng.normal(0.0, 1.0, size=400)
    b = common - 5.0 + rng.normal(0.0, 1.0, size=400)  # b is 5 cheaper on every path
    paired = st.paired_difference_interval(a, b)
    assert paired.low <= 5.0 <= paired.high and paired.half_width < 0.3
    independent = math.hypot(st.mean_interval(a).half_width, st.mean_interval(b).half_width)
    assert independent > 20 * paired.half_width
    with pytest.raises(ValueError, match="one shape"):
        st.paired_difference_interval(a, b[:-1])


def test_probability_interval_is_exact_at_the_edges():
    none = st.probability_interval(0, 10, 0.95)
    # Clopper–Pearson with no success: [0, 1 - (alpha/2)^(1/n)]
    assert none.value == 0.0 and none.low == 0.0
    assert none.high == pytest.approx(1.0 - 0.025 ** (1.0 / 10.0), rel=1e-9)
    every = st.probability_interval(200, 200, 0.95)
    assert every.high == 1.0 and every.low == pytest.approx(0.025 ** (1.0 / 200.0), rel=1e-9)
    with pytest.raises(ValueError, match="successes"):
        st.probability_interval(11, 10)


def _absolute_loss_mmw(candidate: float, rng, replications: int, n: int) -> st.Estimate:
    """f(x, ξ) = |x − ξ|, ξ ~ U(0, 1): z* = 1/4 at x* = 1/2; the SAA optimum on N samples is
    attained at a sample median."""
    means, values = [], []
    for _ in range(replications):
        xi = rng.uniform(size=n)
        means.append(np.abs(candidate - xi).mean())
        values.append(np.abs(np.median(xi) - xi).mean())
    return st.optimality_gap_interval(means, values, 0.95)


@pytest.mark.parametrize("candidate", [0.5, 0.65, 0.8])
def test_mmw_bound_covers_the_true_gap(candidate):
    true_gap = candidate ** 2 / 2 + (1 - candidate) ** 2 / 2 - 0.25
    rng = np.random.default_rng(np.random.SeedSequence([11, int(candidate * 100)]))
    bounds = [_absolute_loss_mmw(candidate, rng, replications=15, n=40) for _ in range(300)]
    coverage = np.mean([b.high >= true_gap for b in bounds])
    assert coverage >= 0.93
    # the point estimate is biased upward (the SAA optimum is biased down) but consistent
    assert np.mean([b.value for b in bounds]) == pytest.approx(true_gap, abs=0.01)
    assert all(b.low == 0.0 for b in bounds)


def test_mmw_bound_separates_a_good_from_a_poor_candidate():
    rng = np.random.default_rng(np.random.SeedSequence(3))
    good = _absolute_loss_mmw(0.5, rng, replications=30, n=200)
    poor = _absolute_loss_mmw(0.8, rng, replications=30, n=200)
    assert good.high < 0.01 < 0.08 < poor.value


def test_mmw_rejects_a_value_above_the_candidates_cost():
    with pytest.raises(ValueError, match="not solved to optimality"):
        st.optimality_gap_interval([1.0, 1.0, 1.0], [1.0, 1.5, 1.0])


def test_figures_are_rounded_to_their_precision():
    assert st.round_to_interval(1088.937, 6.2) == 1088.9
    assert st.round_to_interval(0.13412, 0.0031) == 0.1341
    assert st.round_to_interval(505.4, 88.0) == 505.0
    assert st.round_to_interval(2.5, 0.0) == 2.5
    e = st.Estimate(1088.937, 1082.7, 1095.1, 0.95, 200)
    assert e.rounded() == (1088.9, 1082.7, 1095.1)
    assert st.Estimate(1.0, -math.inf, 1.25, 0.95, 3).half_width == 0.25
