r"""Prices for every Monte Carlo demographic path.

First-order sequence-space response around the median path. Write the transition as
``H(U, Z) = 0`` (market-clearing residuals ``H``, unknown paths ``U`` -- capital per efficiency
unit and the bequest ratio by year -- and demography ``Z``). At the median solution
``H(U*, Z*) = 0``; for a path ``Z`` the first-order response is

.. math::  dU = −H_U^{-1} \, [H(U*, Z) − H(U*, Z*)] = −H_U^{-1} H(U*, Z),

with ``H_U`` the median path's sequence-space Jacobian (:meth:`TransitionModel.jacobian`, exact
columns). ``H(U*, Z)`` -- the residuals a path's population and survival produce at the
median prices, households keeping the median's borrowing-limit segments -- is one evaluation
of the model per path (batched), so the response is exact in the composition effects of the
population and first order in everything else. Prices follow from ``U* + dU`` through the
firms' conditions with each path's own labour supply.

:func:`monte_carlo_error` measures the approximation on a sample of paths against exact
solves (quasi-Newton from the first-order answer with the median's inverse Jacobian).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import xarray as xr

from models.economy.parameters import EconomyParameters
from models.economy.policy import Policy
from models.economy.household import Segments
from models.economy.transition import (
    InitialState,
    TransitionModel,
    raise_not_converged,
    solve_newton,
    build_model,
    transition_dataset,
    unknowns_from_dataset,
)

__all__ = ["MedianLinearization", "linearize_median", "price_paths_monte_carlo",
           "monte_carlo_error"]


@dataclass(frozen=True)
class MedianLinearization:
    """The median transition and its sequence-space Jacobian (inverse), for path responses."""

    model: TransitionModel
    unknowns: np.ndarray  # U* [1, n]
    segments: Segments
    jacobian_inverse: np.ndarray  # H_U^{-1} [n, n]
    transition: xr.Dataset
    timings: dict


def linearize_median(params: EconomyParameters, population: xr.DataArray,
                     mortality: xr.DataArray, policy: Policy, initial: InitialState, *,
                     horizon: int = 200, jacobian_stride: int = 1, tol: float = 1e-9,
                     terminal_population_growth: float | None = None,
                     transition: xr.Dataset | None = None) -> MedianLinearization:
    """Solve the median transition and compute its Jacobian at the solution.

    ``jacobian_stride > 1`` approximates the Jacobian from every ``stride``-th column (see
    :meth:`TransitionModel.jacobian`); 1 computes every column (the first-order response proper).
    ``transition``: an already solved median transition of the same inputs to start from.
    """
    t0 = time.perf_counter()
    model = build_model(params, population, mortality, policy, initial, horizon=horizon,
                        terminal_population_growth=terminal_population_growth)
    if transition is not None and "option_hours" in transition:  # elastic labour: the
        # median's equilibrium hours and retirement choices, held on every path (first order)
        model.set_choices(transition["option_hours"].values.reshape(
            model.C, model.K, model.O, model.J), transition["retirement_probability"].values
            .reshape(model.C, model.K, model.O))
    start = model.guess() if transition is None else unknowns_from_dataset(model, transition)
    u, res, seg, _, history, _ = solve_newton(model, start, tol, 60)
    if history[-1] > tol:
        raise_not_converged(model, res, history, tol)
    t1 = time.perf_counter()
    jac = model.jacobian(u, seg, stride=jacobian_stride)
    inv = np.linalg.inv(jac)
    t2 = time.perf_counter()
    ds = transition_dataset(model, u)
    ds["newton_max_residual"] = ("iteration", np.array(history),
                                 {"units": "1", "long_name": "largest market-clearing residual"})
    return MedianLinearization(model, u, seg, inv, ds,
                               {"median_solve_s": t1 - t0, "jacobian_s": t2 - t1})


def _path_arrays(da: xr.DataArray) -> np.ndarray:
    return da.transpose("path", "year", "age", "sex").values


def _chunk_model(lin: MedianLinearization, population: np.ndarray, mortality: np.ndarray
                 ) -> TransitionModel:
    m = lin.model
    model = TransitionModel(m.params, population, mortality, m.base_year, m.policy, m.initial,
                            m.terminal, m.T)
    return with_median_choices(model, m)


def with_median_choices(model: TransitionModel, median: TransitionModel) -> TransitionModel:
    """``model`` (a path's) with the median's hours and retirement choices (elastic labour:
    held on every path, first order); unchanged for an inelastic economy."""
    if median.elastic:
        model.set_choices(median.hours_opt, median.probs)
    return model


_PRICE_VARS = {
    "interest_rate": ("1 per year", "real interest rate", False),
    "wage_cny": ("yuan per efficiency unit per year", "wage per efficiency unit", True),
    "average_wage_cny": ("yuan per year", "average wage of employee-scheme workers", True),
    "output_cny": ("yuan per year", "output (GDP)", True),
    "capital_cny": ("yuan", "capital stock on 1 January", True),
    "labour_efficiency_units": ("efficiency units", "labour supply in efficiency units", False),
}


def _price_block(model: TransitionModel, u: np.ndarray) -> dict[str, np.ndarray]:
    kappa, _ = model.unpack(u)
    pr = model.prices(kappa)
    T = model.T
    return {"interest_rate": pr["r"][:, :T], "wage_cny": pr["wage"][:, :T],
            "average_wage_cny": pr["wbar"][:, :T], "output_cny": pr["output"],
            "capital_cny": pr["capital"],
            "labour_efficiency_units": np.broadcast_to(model.labour, pr["output"].shape)}


def _dataset(blocks: list[dict], years: np.ndarray, paths: np.ndarray, scale: float,
             method: str) -> xr.Dataset:
    data = {}
    for name, (units, long_name, money) in _PRICE_VARS.items():
        arr = np.concatenate([b[name] for b in blocks], axis=0) * (scale if money else 1.0)
        data[name] = (("path", "year"), arr, {"units": units, "long_name": long_name})
    ds = xr.Dataset(data, coords={"path": paths, "year": years})
    ds.attrs.update(method=method)
    return ds


def price_paths_monte_carlo(lin: MedianLinearization, population: xr.DataArray,
                            mortality: xr.DataArray, *, chunk: int = 8,
                            method: str = "first_order", steps: int = 1) -> xr.Dataset:
    """Wage and interest paths (and output, capital, labour) for every demographic path.

    Parameters
    ----------
    lin : the median transition and its Jacobian (:func:`linearize_median`).
    population, mortality : ``[path, year, age, sex]`` persons on 1 January and central death
        rates, starting in the base year (the median's base population).
    chunk : paths evaluated together.
    method : ``"first_order"`` (see the module docstring) or ``"exact"`` (a quasi-Newton solve
        per path started from the first-order answer; about ten times slower).
    steps : with ``"first_order"``, the number of chord steps with the median Jacobian (1: the
        first-order response; 2 removes most of the second-order error at twice the cost).

    Returns
    -------
    Dataset ``[path, year]``: ``interest_rate``, ``wage_cny``, ``average_wage_cny``,
    ``output_cny``, ``capital_cny``, ``labour_efficiency_units`` (``units``, ``long_name``).
    """
    if method not in ("first_order", "exact"):
        raise ValueError(f"method must be 'first_order' or 'exact', got {method!r}")
    pop = _path_arrays(population)
    mx = _path_arrays(mortality.sel(year=population["year"]))
    paths = population["path"].values
    blocks = []
    for lo in range(0, pop.shape[0], chunk):
        model = _chunk_model(lin, pop[lo:lo + chunk], mx[lo:lo + chunk])
        u = _first_order(lin, model, steps if method == "first_order" else 1)
        if method == "exact":
            u = np.concatenate([_exact(lin, model, u, i) for i in range(u.shape[0])], axis=0)
        blocks.append(_price_block(model, u))
    return _dataset(blocks, lin.model.years, paths, lin.model.params.yuan_per_unit, method)


def _first_order(lin: MedianLinearization, model: TransitionModel, steps: int = 1) -> np.ndarray:
    """``U* − H_U^{-1} H(U*, Z)``; ``steps > 1`` repeats the step from the new point (chord
    iterations with the median Jacobian, households on the median's segments).

    The product with the inverse Jacobian is a plain ``einsum`` (no BLAS): a path's answer is
    then the same bit for bit whichever paths share its block and however many threads BLAS
    has (a BLAS matrix product rounds a row differently with the number of rows)."""
    u = lin.unknowns
    for _ in range(steps):
        res, _ = model.evaluate(u, segments=lin.segments)
        u = u - np.einsum("pk,jk->pj", res, lin.jacobian_inverse, optimize=False)
    return u


def _exact(lin: MedianLinearization, model: TransitionModel, u: np.ndarray, i: int,
           tol: float = 1e-9) -> np.ndarray:
    single = with_median_choices(TransitionModel(
        model.params, _take(model, i, "population"), _take(model, i, "mortality"),
        model.base_year, model.policy, model.initial, model.terminal, model.T), lin.model)
    try:
        single.evaluate(u[i:i + 1])
        start = u[i:i + 1]
    except ValueError:  # the first-order answer leaves some household infeasible
        start = lin.unknowns
    sol, res, _, _, history, _ = solve_newton(single, start, tol, 60,
                                               inverse=lin.jacobian_inverse)
    if history[-1] > tol:
        raise_not_converged(single, res, history, tol)
    return sol


def _take(model: TransitionModel, i: int, what: str) -> np.ndarray:
    return model._inputs[what][i:i + 1]


def monte_carlo_error(lin: MedianLinearization, population: xr.DataArray,
                      mortality: xr.DataArray, sample: int = 10,
                      seed: int | np.random.SeedSequence = 0, steps: int = 1) -> xr.Dataset:
    """First-order prices against exact solves on ``sample`` paths drawn without replacement
    (``numpy.random.default_rng(SeedSequence)``).

    Returns, by sampled path: the largest absolute error of the interest rate (percentage
    points), the largest relative error of the average covered wage and of output, the
    largest deviation of the path's exact prices from the median's (for scale), and the wall
    times of both methods.
    """
    rng = np.random.default_rng(seed if isinstance(seed, np.random.SeedSequence)
                                else np.random.SeedSequence(seed))
    n = population.sizes["path"]
    pick = np.sort(rng.choice(n, size=min(sample, n), replace=False))
    pop = population.isel(path=pick)
    mx = mortality.isel(path=pick)
    t0 = time.perf_counter()
    first = price_paths_monte_carlo(lin, pop, mx, method="first_order", steps=steps)
    t1 = time.perf_counter()
    exact = price_paths_monte_carlo(lin, pop, mx, method="exact")
    t2 = time.perf_counter()
    median = lin.transition
    out = xr.Dataset(
        {
            "interest_rate_error_pp": (100 * abs(first["interest_rate"] - exact["interest_rate"])
                                       ).max("year"),
            "average_wage_relative_error": abs(first["average_wage_cny"]
                                               / exact["average_wage_cny"] - 1).max("year"),
            "output_relative_error": abs(first["output_cny"] / exact["output_cny"] - 1
                                         ).max("year"),
            "interest_rate_deviation_pp": (100 * abs(exact["interest_rate"]
                                                     - median["interest_rate"])).max("year"),
            "average_wage_relative_deviation": abs(exact["average_wage_cny"]
                                                   / median["average_wage_cny"] - 1).max("year"),
        })
    units = {"interest_rate_error_pp": "percentage points",
             "interest_rate_deviation_pp": "percentage points"}
    out = out.assign_coords(path=population["path"].values[pick])
    for name in out:
        out[name].attrs.update(units=units.get(name, "1"), long_name=name.replace("_", " ")
                               + " (largest over years)")
    out.attrs.update(first_order_s_per_path=(t1 - t0) / len(pick),
                     exact_s_per_path=(t2 - t1) / len(pick), steps=steps)
    return out
