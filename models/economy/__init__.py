"""The overlapping-generations economy: households, firms, government; steady state,
transition path, Monte Carlo prices, welfare.

Public surface (NumPy inside, xarray at the boundaries, no I/O):

* :class:`EconomyCalibration` (schema of ``economy.toml``), :class:`EconomyParameters`,
  :func:`economy_parameters`, :func:`with_residents_reform`;
* :class:`Policy` -- pooled rate by year, individual-account rate, retirement regime (and
  lever), indexation, fund rule;
* :func:`solve_steady_state` (:class:`SteadyState`), :func:`demography_steady_state`;
* :func:`calibrate_economy`, :func:`base_year_economy`, :func:`base_year_fit`, :func:`fit_table`;
* :func:`initial_state`, :func:`solve_transition` -> ``xr.Dataset[year]``;
* :func:`linearize_median`, :func:`price_paths_monte_carlo`, :func:`monte_carlo_error`;
* :func:`welfare_cev`, :func:`welfare_cev_with_leisure` (nets hours and the retirement
  choice);
* :func:`cohort_choices` (hours and retirement choices of every cohort at a transition's
  prices), :func:`price_of_delay` (welfare cost of one more month of statutory age by cohort
  and kind), :func:`delay_policy`.

Model equations: :mod:`models.economy.core` (blocks), :mod:`models.economy.household`
(life-cycle kernel), :mod:`models.economy.steady_state`, :mod:`models.economy.transition`
(accounting, bequest and government rules, Newton method), :mod:`models.economy.monte_carlo`,
:mod:`models.economy.welfare`.
"""

from models.economy.calibrate import (
    BaseYearEconomy,
    base_year_economy,
    base_year_fit,
    calibrate_economy,
    fit_table,
    initial_steady_state,
)
from models.economy.choices import (
    cohort_choices,
    delay_policy,
    delay_price_by_year,
    price_of_delay,
)
from models.economy.monte_carlo import (
    MedianLinearization,
    linearize_median,
    monte_carlo_error,
    price_paths_monte_carlo,
)
from models.economy.parameters import (
    EconomyCalibration,
    EconomyParameters,
    economy_parameters,
    with_residents_reform,
)
from models.economy.policy import Policy
from models.economy.steady_state import (
    DemographySteadyState,
    SteadyState,
    SteadyStateError,
    demography_steady_state,
    solve_steady_state,
)
from models.economy.transition import (
    InitialState,
    TransitionConvergenceError,
    initial_state,
    solve_transition,
)
from models.economy.welfare import welfare_cev, welfare_cev_with_leisure

__all__ = [
    "BaseYearEconomy",
    "DemographySteadyState",
    "EconomyCalibration",
    "EconomyParameters",
    "InitialState",
    "MedianLinearization",
    "Policy",
    "SteadyState",
    "SteadyStateError",
    "TransitionConvergenceError",
    "base_year_economy",
    "base_year_fit",
    "calibrate_economy",
    "cohort_choices",
    "delay_policy",
    "delay_price_by_year",
    "demography_steady_state",
    "economy_parameters",
    "fit_table",
    "initial_state",
    "initial_steady_state",
    "linearize_median",
    "monte_carlo_error",
    "price_of_delay",
    "price_paths_monte_carlo",
    "solve_steady_state",
    "solve_transition",
    "welfare_cev",
    "welfare_cev_with_leisure",
    "with_residents_reform",
]
