"""What a run's ``results.nc`` holds: the one place the report and the study ask it.

Which stages of the pipeline wrote a results file is answered by the catalogue of result
variables (:func:`models.catalogue.wrote`), never by testing for one variable's name.
"""

from __future__ import annotations

import xarray as xr

from models.catalogue import wrote


def is_monte_carlo(ds: xr.Dataset) -> bool:
    """A run with Monte Carlo demography (an optimization adds a ``path`` dimension too)."""
    return wrote(ds, "monte_carlo") and ds.sizes["path"] > 0


def has_economy(ds: xr.Dataset) -> bool:
    """A run with the OLG economy."""
    return wrote(ds, "economy")


def has_welfare_of_the_law(ds: xr.Dataset) -> bool:
    """A run with the economy's welfare change of the 2024 law (both regimes run)."""
    return wrote(ds, "economy_welfare")


def has_monte_carlo_prices(ds: xr.Dataset) -> bool:
    """A Monte Carlo run whose every path has its own economy prices."""
    return wrote(ds, "monte_carlo_prices")


def has_price_error(ds: xr.Dataset) -> bool:
    """A run with the first-order price error measured against exact solves."""
    return wrote(ds, "monte_carlo_price_error")


def has_optimization(ds: xr.Dataset) -> bool:
    """A run with an optimal policy."""
    return wrote(ds, "optimization")


def has_value_of_information(ds: xr.Dataset) -> bool:
    """An optimal policy with VSS and EVPI computed."""
    return wrote(ds, "optimization_voi")


def has_capacity(ds: xr.Dataset) -> bool:
    """An optimal policy with extra transfers limited by a fiscal capacity."""
    return wrote(ds, "optimization_capacity")


def has_rescue(ds: xr.Dataset) -> bool:
    """An optimal policy that cannot pay every pension: the smallest rescue transfer."""
    return wrote(ds, "optimization_rescue")


def has_pairing(ds: xr.Dataset) -> bool:
    """An optimal policy paired with the OLG economy."""
    return wrote(ds, "optimization_pairing")


def has_optimal_welfare(ds: xr.Dataset) -> bool:
    """An optimal policy whose cohorts' welfare was computed (paired with the economy)."""
    return wrote(ds, "optimization_welfare")


def has_lifetime_utilities(ds: xr.Dataset, prefix: str) -> bool:
    """Lifetime utilities stored under ``prefix``: ``economy_`` (each regime's economy) or
    ``opt_economy_`` (the economy under the optimal policy)."""
    return has_economy(ds) if prefix == "economy_" else has_optimal_welfare(ds)
