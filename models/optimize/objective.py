"""Objectives from the model: discount factors from the economy's interest rate, the price of
delay per year in wage-indexed money.

**Discounting.** ``δ_t = Π_{s=t_0+1}^{t} 1 / (1 + ρ_s)`` (``δ_{t_0} = 1``, the first optimized
year) with ``ρ_s`` the real discount rate of year ``s``:

* ``"fixed"`` — the setting ``optimization.objective.discount_rate`` every year (the study's
  earlier convention, kept as a marked option);
* ``"interest_rate"`` — the economy's real interest rate: the paired transition's ``r(t)``
  when the experiment solves the economy, else the calibration's
  ``economy.targets.interest_rate`` every year. Money moved between years is then priced at
  the rate the economy itself offers: a yuan of transfer in year ``t`` costs the government
  what ``δ_t`` yuan today would have grown into (the standard public-finance convention for
  intergenerational accounts: Auerbach, Gokhale and Kotlikoff, *J. Econ. Perspect.* 8, 1994;
  Godínez-Olivares, Boado-Penas and Haberman, *Insur. Math. Econ.* 69, 2016, discount the
  system's flows at the market rate).

With ``ρ_t ≥ r_fund(t)`` an early transfer never pays, which is what makes the transfers forced
by the shortfall optimal (:mod:`models.optimize.rules`); :func:`early_transfer_years` lists
the years where it fails.

**Price of delay.** Yuan per person-month of delay, per optimized year ``[T]``: a per-year
array from the economy (its welfare price of delay, when one is wired in) or the fixed price
``delay_cny_per_person_month`` (2021 yuan) — ``"fixed"`` as it is, or ``"wage_indexed"``
times the average wage relative to the base year ``W_t / W_{2021}`` (a month of retirement
given up is worth more as wages grow: the price is a constant number of monthly wages);
``"economy"`` (issue 14; the default: the shipped economy has elastic hours) is the economy's
welfare price of delay (:func:`models.coupling.economy_delay_price`) in runs paired with the
economy, and the wage-indexed fixed price in runs without it; ``"fixed"`` and
``"wage_indexed"`` are marked options (the experiment's ``delay_cny_per_person_month``).

**Units.** Transfers, contributions and draws are real yuan discounted at ``ρ``; measuring
them in wage-indexed units (yuan ``/ W_t``) and discounting at ``(1 + ρ)/(1 + g)`` gives the
same present values, so the only place where the unit changes the answer is a price fixed in
base-year yuan — the delay price, hence its ``"wage_indexed"`` option.

**Lever smoothing** (``objective.lever_smoothing = "gbh"``): a penalty on the squared changes
of the delay knots (per month², ``gbh_cny_per_month2``) and the indexation knots (per unit
share², ``gbh_cny_per_share2``) from knot to knot, as in Godínez-Olivares, Boado-Penas and
Haberman (2016) (:func:`squared_change_cost`); the pooled rate keeps its linear smoothing
``|Δτ|`` inside the LP (a squared term there would make it a QP).
"""

from __future__ import annotations

import numpy as np

DISCOUNTS = ("fixed", "interest_rate")
DELAY_PRICES = ("fixed", "wage_indexed", "economy")


def discount_factors(rates: np.ndarray) -> np.ndarray:
    """``δ[t]`` from the per-year rates ``ρ[t]`` (``ρ[0]`` unused): ``δ_0 = 1``,
    ``δ_t = δ_{t−1} / (1 + ρ_t)``."""
    rates = np.asarray(rates, dtype=float)
    return np.concatenate([[1.0], np.cumprod(1.0 / (1.0 + rates[1:]))])


def discount_rates(kind: str, fixed_rate: float, calibrated_rate: float, n_years: int,
                   interest_rate: np.ndarray | None = None) -> np.ndarray:
    """Per-year discount rates ``ρ[t]`` of the optimized years (module docstring)."""
    if kind == "fixed":
        return np.full(n_years, float(fixed_rate))
    if kind == "interest_rate":
        if interest_rate is None:
            return np.full(n_years, float(calibrated_rate))
        rate = np.asarray(interest_rate, dtype=float)
        if rate.shape != (n_years,):
            raise ValueError(f"the interest rate has shape {rate.shape}, expected ({n_years},)")
        return rate
    raise ValueError(f"discount must be one of {DISCOUNTS}, got {kind!r}")


def delay_price(kind: str, price_cny: float, n_years: int,
                wage_index: np.ndarray | None = None,
                economy_price: np.ndarray | None = None) -> np.ndarray:
    """Yuan per person-month of delay per optimized year ``[T]`` (module docstring); an
    ``economy_price[T]`` overrides the fixed price."""
    if economy_price is not None:
        price = np.asarray(economy_price, dtype=float)
        if price.shape != (n_years,):
            raise ValueError(f"the economy's delay price has shape {price.shape}, expected "
                             f"({n_years},)")
        return price
    if kind == "fixed":
        return np.full(n_years, float(price_cny))
    if kind in ("wage_indexed", "economy"):  # "economy" without the economy: wage-indexed
        index = np.ones(n_years) if wage_index is None else np.asarray(wage_index, dtype=float)
        return float(price_cny) * index
    raise ValueError(f"delay price must be one of {DELAY_PRICES}, got {kind!r}")


def delay_price_source(kind: str, paired_price: bool) -> str:
    """Which price of delay a run's objective used: ``kind`` (``objective.delay_price``) when it
    is ``"fixed"`` or ``"wage_indexed"`` (marked options), ``"economy"`` when the economy's
    welfare price was wired in (``paired_price``), and ``"economy_unpaired"`` when the
    economy's price was asked for but the run was not paired with the economy, so the
    wage-indexed fixed price stood in (:func:`delay_price`)."""
    if kind not in DELAY_PRICES:
        raise ValueError(f"delay price must be one of {DELAY_PRICES}, got {kind!r}")
    if kind == "economy":
        return "economy" if paired_price else "economy_unpaired"
    return kind


def early_transfer_years(discount: np.ndarray, fund_return: np.ndarray) -> np.ndarray:
    """Positions ``t ≥ 1`` where ``δ_{t−1} < δ_t (1 + r_fund(t))``: the fund's return beats
    the discount rate, so a transfer made a year early is cheaper than a forced one."""
    d = np.asarray(discount, dtype=float)
    return np.flatnonzero(d[:-1] < d[1:] * (1.0 + np.asarray(fund_return)[1:]) - 1e-15) + 1


def squared_change_cost(chains: dict[int, np.ndarray], probability: dict[int, float],
                        start: float, weight: float) -> tuple[float, dict[int, np.ndarray]]:
    """Lever smoothing in the style of Godínez-Olivares, Boado-Penas and Haberman (*Insur.
    Math. Econ.* 69, 2016, who minimise the squared year-on-year changes of the contribution
    rate, the retirement age and the indexation): ``w Σ_leaf π_leaf Σ_k Σ_c (κ_k − κ_{k−1})²``
    over each leaf's chain of knots ``chains[leaf][knot, ...]`` (``κ_{−1} = start``, the
    status quo). Returns the cost and its gradient with respect to each chain's knots
    ``2 w π (Δ_k − Δ_{k+1})``, which the caller attributes to the nodes owning the knots."""
    cost, grad = 0.0, {}
    for leaf, knots in chains.items():
        knots = np.asarray(knots, dtype=float)
        if knots.size == 0:
            grad[leaf] = knots
            continue
        step = np.diff(knots, axis=0, prepend=np.full((1,) + knots.shape[1:], start))
        cost += weight * probability[leaf] * float(np.sum(step ** 2))
        after = np.concatenate([step[1:], np.zeros((1,) + knots.shape[1:])])
        grad[leaf] = 2.0 * weight * probability[leaf] * (step - after)
    return cost, grad
