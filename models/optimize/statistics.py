"""Monte Carlo statistics of a stochastic program: confidence intervals for sample-average
approximation (SAA) estimates, done the way the literature prescribes.

A policy chosen on N paths is a random object; its reported cost, the probability that it
pays every pension in full, the value of the stochastic solution and the optimality gap are
estimates that carry sampling error. This module turns per-path or per-replication samples
into point estimates with confidence intervals, and rounds a figure to the precision its
interval supports. Arrays in, plain numbers out: no model here.

* :func:`mean_interval`: the mean of i.i.d. samples with a two-sided Student-t interval.
* :func:`paired_difference_interval`: the mean difference of two policies evaluated on the
  same paths (common random numbers), e.g. VSS = EEV − RP per path, EVPI = RP − WS per path.
* :func:`probability_interval`: a proportion (share of paths paid in full) with the
  Clopper–Pearson exact interval (scipy's ``binomtest``).
* :func:`optimality_gap_interval`: the multiple-replication procedure of Mak, Morton and Wood
  (1999): for replications k = 1..n, each on its own N fresh paths, the gap estimate
  G_k = f̄_k(x̂) − v_k ≥ 0, with f̄_k(x̂) the candidate's mean cost on those paths and v_k the
  SAA optimum on the same paths; E[v_k] ≤ z* (the SAA bias is downward), so
  Ḡ + t_{n−1, 1−α} s_G / √n is a one-sided upper confidence bound on the candidate's true
  optimality gap f(x̂) − z*, valid at level ≥ 1 − α asymptotically in n.
* :func:`round_to_interval`: a figure rounded to the first significant digit of its
  interval's half-width (plus one guard digit).

References: Mak, W.-K., Morton, D. P., Wood, R. K. (1999), "Monte Carlo bounding techniques
for determining solution quality in stochastic programs", Operations Research Letters 24,
47–56; Bayraksan, G., Morton, D. P. (2009), "Assessing solution quality in stochastic
programs via sampling", INFORMS TutORials, 102–122; Shapiro, Dentcheva, Ruszczyński (2014),
*Lectures on Stochastic Programming*, 2nd ed., §5.6 (validation of an optimal solution).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a confidence interval ``[low, high]`` at ``level``.

    ``n`` is the number of samples (paths or replications) behind it; a one-sided bound has
    ``low = -inf`` (an upper bound) or ``high = +inf``.
    """

    value: float
    low: float
    high: float
    level: float
    n: int

    @property
    def half_width(self) -> float:
        """Half the interval's width (for a one-sided bound: its distance to the value)."""
        finite = [abs(b - self.value) for b in (self.low, self.high) if math.isfinite(b)]
        return max(finite) if finite else math.inf

    def rounded(self) -> tuple[float, float, float]:
        """(value, low, high) rounded to the interval's precision (:func:`round_to_interval`)."""
        hw = self.half_width
        return tuple(round_to_interval(x, hw) if math.isfinite(x) else x
                     for x in (self.value, self.low, self.high))


def _samples(samples, name: str) -> np.ndarray:
    x = np.asarray(samples, dtype=float).ravel()
    if x.size < 2:
        raise ValueError(f"{name}: need at least 2 samples for an interval, got {x.size}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: samples must be finite")
    return x


def mean_interval(samples, level: float = 0.95) -> Estimate:
    """Mean of i.i.d. samples with the two-sided Student-t interval
    x̄ ± t_{n−1, (1+level)/2} · s / √n (s: the sample standard deviation, ddof = 1)."""
    x = _samples(samples, "mean_interval")
    m = float(x.mean())
    se = float(x.std(ddof=1) / math.sqrt(x.size))
    q = float(stats.t.ppf(0.5 + level / 2.0, df=x.size - 1))
    return Estimate(m, m - q * se, m + q * se, level, x.size)


def paired_difference_interval(a, b, level: float = 0.95) -> Estimate:
    """Mean of a − b over the same paths (common random numbers), with the t interval of the
    per-path differences: far narrower than the difference of two independent means when the
    two policies' costs move together across paths, as pension costs do."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples must have one shape, got {a.shape} and {b.shape}")
    return mean_interval(a - b, level)


def probability_interval(successes: int, n: int, level: float = 0.95) -> Estimate:
    """Share of successes (e.g. paths on which every pension is paid in full within the fiscal
    capacity) with the Clopper–Pearson exact interval (valid for any n, also at 0 % or
    100 %)."""
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"probability_interval: need 0 <= successes <= n and n >= 1, "
                         f"got {successes} of {n}")
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(confidence_level=level,
                                                                 method="exact")
    return Estimate(successes / n, float(ci.low), float(ci.high), level, int(n))


def optimality_gap_interval(candidate_means, saa_values, level: float = 0.95) -> Estimate:
    """Mak–Morton–Wood one-sided upper confidence bound on a candidate's optimality gap.

    ``candidate_means[k]``: the candidate policy's mean cost on replication k's N paths;
    ``saa_values[k]``: the optimal value of the SAA problem on the same N paths (a minimum,
    so each gap G_k = candidate_means[k] − saa_values[k] is ≥ 0 up to solver tolerance).
    Returns Ḡ with the interval [0, Ḡ + t_{n−1, level} s_G / √n] (``low`` is 0: a gap is
    never negative). Replications must use independent paths.
    """
    g = np.asarray(candidate_means, dtype=float) - np.asarray(saa_values, dtype=float)
    g = _samples(g, "optimality_gap_interval")
    if np.any(g < -1e-7 * np.maximum(1.0, np.abs(np.asarray(saa_values, dtype=float)))):
        raise ValueError("optimality_gap_interval: a replication's SAA value exceeds the "
                         "candidate's cost on the same paths: the SAA problem was not solved "
                         "to optimality (or the inputs are swapped)")
    mean = float(g.mean())
    se = float(g.std(ddof=1) / math.sqrt(g.size))
    q = float(stats.t.ppf(level, df=g.size - 1))
    return Estimate(mean, 0.0, mean + q * se, level, g.size)


def round_to_interval(value: float, half_width: float) -> float:
    """``value`` rounded to one digit below the first significant digit of ``half_width``
    (e.g. 1,088.937 ± 6.2 -> 1,088.9; 0.13412 ± 0.0031 -> 0.1341); unchanged when the
    half-width is zero or not finite."""
    if not math.isfinite(half_width) or half_width <= 0:
        return value
    digits = 1 - int(math.floor(math.log10(half_width)))
    return round(value, digits)
