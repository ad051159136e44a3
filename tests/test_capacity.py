"""The fiscal capacity (issue 16): extra transfers per path and year within a share of GDP,
the money beyond it an excess priced by a large penalty (models/optimize/data.py).

By hand: with a capacity that binds, the hard problem's answer is the reported excess (the
same in the arrays, the Pyomo reference and the decomposition); with a loose capacity nothing
changes; the excess equals the phase-one minimum (the rescue problem); a capacity of zero
gives the rescue money of the problem without transfers. On the study's paths: GDP follows
the wage bill, and the results report the capacity, the excess and the binding limits."""

from dataclasses import replace

import numpy as np
import pytest

from models.config import CATEGORIES, OptimizationSettings
from models.optimize.data import (
    ScenarioData,
    capacity_share,
    gdp_by_path_year,
    mean_of_paths,
    take_paths,
)
from models.optimize.decompose import solve_decomposed
from models.optimize.lp import solve_extensive
from models.optimize.report import capacity_results, resimulate, to_dataset
from models.optimize.solve import (
    binding_constraints,
    optimize_policy,
    scenario_data,
    setup_problem,
    solve_inner,
    solve_inner_pyomo,
    start_levers,
)
from models.report.optimization import capacity_frame

PENALTY = 1000.0


def _settings(transfers=True, **constraints) -> OptimizationSettings:
    return OptimizationSettings.model_validate({
        "reserve": {"enabled": False}, "extra_transfer": {"enabled": transfers},
        "contribution": {"min_rate": 0.12, "max_rate": 0.20, "pace_per_year": 0.05},
        "constraints": {"liquidity_floor_months": 0.0, "horizon_months_target": 0.0,
                        **constraints},
        "objective": {"contributions": 1.0, "extra_transfer": 1.3, "shortfall": 10.0,
                      "smoothing_cny_per_point": 0.0, "excess_over_capacity": PENALTY},
        "solver": {"threads": 1, "tolerance": 1e-10},
    })


def _two_paths(capacity, transfers=True, **constraints) -> ScenarioData:
    """One year, two equally likely paths, CB = 10, E = 5 and 9, individual accounts 8 %: at
    the 20 % cap the fund lacks 2.2 and 6.2. ``capacity[p]``: the largest transfer."""
    cap = None if capacity is None else np.asarray(capacity, dtype=float)[:, None]
    return ScenarioData(
        years=np.array([2026]), probability=np.array([0.5, 0.5]),
        node_of_year=np.zeros((2, 1), int), contribution_base=np.full((2, 1), 10.0),
        expenditure=np.array([[5.0], [9.0]]), subsidy=np.zeros(1), balance_start=np.zeros(2),
        reserve_start=np.zeros(2), fund_return=np.zeros(1), reserve_return=0.0,
        individual_account_rate=0.08, pooled_rate_before=0.16, discount=np.ones(1),
        delay_cost=0.0, settings=_settings(transfers, **constraints), transfer_capacity=cap,
        gdp=None if cap is None else cap / 0.01)


def _all_methods(data):
    return [solve_extensive(data), solve_inner_pyomo(data), solve_decomposed(data)]


def test_a_binding_capacity_turns_the_hard_problem_into_the_reported_excess():
    """Capacity 3 on both paths: path 0 needs 2.2 (within it), path 1 needs 6.2: transfer 3,
    excess 3.2. Cost 10 · 0.2 + ½ (1.3 · 2.2) + ½ (1.3 · 3 + 1000 · 3.2), in every method."""
    data = _two_paths([3.0, 3.0])
    cost = 10 * 0.2 + 0.5 * 1.3 * 2.2 + 0.5 * (1.3 * 3.0 + PENALTY * 3.2)
    for sol in _all_methods(data):
        assert sol.status == "optimal"
        np.testing.assert_allclose(sol.X[:, 0], [2.2, 3.0], atol=1e-8)
        np.testing.assert_allclose(sol.R[:, 0], [0.0, 3.2], atol=1e-8)
        assert sol.tau[0, 0] == pytest.approx(0.2, abs=1e-9)
        assert sol.objective == pytest.approx(cost, rel=1e-9)
    out = capacity_results(data, solve_extensive(data))
    np.testing.assert_allclose(out["opt_excess_over_capacity_cny"].values[:, 0],
                               [0.0, 3.2e12], rtol=1e-8)
    assert float(out["opt_paid_within_capacity_probability"]) == pytest.approx(0.5)
    assert float(out["opt_excess_expected_cny"]) == pytest.approx(1.6e12, rel=1e-8)


def test_a_loose_capacity_changes_nothing():
    """Capacity 7 ≥ 6.2 on both paths: the answer without a capacity (τ = 20 %, X = 2.2 and
    6.2, cost 7.46), no excess."""
    free, loose = _two_paths(None), _two_paths([7.0, 7.0])
    for a, b in zip(_all_methods(free), _all_methods(loose)):
        assert b.objective == pytest.approx(a.objective, rel=1e-12)
        assert b.objective == pytest.approx(7.46, rel=1e-9)
        np.testing.assert_allclose(b.X, a.X, atol=1e-10)
        np.testing.assert_allclose(b.R, 0.0, atol=1e-12)
        assert a.R is None  # no capacity: no excess variable


def test_the_capacity_holds_in_the_chance_and_cvar_variants():
    """Unpaid pensions cost 10 a yuan and the CVaR limit allows none: with capacity 3 the
    variants pay the same as the hard problem, the excess beyond the capacity."""
    data = _two_paths([3.0, 3.0], cvar_beta=0.5, cvar_limit_cny=0.0)
    sol, ref = solve_extensive(data), solve_inner_pyomo(data)
    for s in (sol, ref):
        np.testing.assert_allclose(s.R[:, 0], [0.0, 3.2], atol=1e-8)
        np.testing.assert_allclose(s.X[:, 0], [2.2, 3.0], atol=1e-8)
    assert sol.objective == pytest.approx(ref.objective, rel=1e-9)


def test_a_zero_capacity_gives_the_rescue_money_of_the_problem_without_transfers():
    """Capacity 0 with transfers on = no transfers: the problem without transfers is
    infeasible and its rescue money (2.2, 6.2) is exactly the excess here."""
    none = _two_paths(None, transfers=False)
    assert solve_inner(none).status == "infeasible"
    rescue = solve_inner(none, rescue=True)
    zero = solve_inner(_two_paths([0.0, 0.0]))
    assert zero.status == "optimal"
    np.testing.assert_allclose(zero.R, rescue.R, atol=1e-8)
    np.testing.assert_allclose(zero.X, 0.0, atol=1e-12)


def test_per_path_arrays_of_the_capacity_follow_a_subset_and_the_mean():
    data = _two_paths([3.0, 5.0])
    assert take_paths(data, np.array([1]))["transfer_capacity"].tolist() == [[5.0]]
    mean = mean_of_paths(data)
    assert mean["transfer_capacity"].tolist() == [[4.0]]
    assert mean["balance_start"].shape == (1,)


def test_gdp_follows_the_wage_bill_of_working_ages():
    """GDP_0 · (w_t / w_0) · (N_t / N_0), N the population aged 20–64: twice the wage and half
    the workers leave GDP unchanged; people aged 65 do not count."""
    ages = np.arange(0, 101)
    pop = np.zeros((1, 3, ages.size, 2))
    pop[0, :, 30, 0] = [100.0, 50.0, 100.0]
    pop[0, :, 70, 1] = [5.0, 500.0, 5.0]
    gdp = gdp_by_path_year(pop, ages, np.array([1.0, 2.0, 3.0]), 114.0)
    np.testing.assert_allclose(gdp[0], [114.0, 114.0, 342.0])


def test_capacity_share_from_the_experiment_the_calibration_or_none(calibration):
    cal_share = calibration.finances.fiscal_subsidy.extra_capacity_gdp_share.value
    base = OptimizationSettings()
    assert capacity_share(calibration.finances, base) == cal_share
    over = OptimizationSettings.model_validate(
        {"constraints": {"fiscal_capacity_gdp_share": 0.02}})
    assert capacity_share(calibration.finances, over) == 0.02
    off = OptimizationSettings.model_validate({"constraints": {"fiscal_capacity": False}})
    assert capacity_share(calibration.finances, off) is None


def _study(calibration, populations, fit, share):
    settings = OptimizationSettings.model_validate({
        "compute_vss_evpi": False, "solver": {"threads": 1},
        "constraints": {"fiscal_capacity_gdp_share": share},
        "retirement": {"max_outer_iterations": 1}})
    return setup_problem(calibration, settings, populations, fit)


def test_on_the_study_paths_the_excess_is_the_phase_one_minimum(calibration, populations, fit):
    """A capacity of 0.2 % of GDP binds on the study's paths: the penalised problem's expected
    discounted excess equals the rescue problem's minimum with the same capacity (the penalty
    is exact), and the methods agree."""
    problem = _study(calibration, populations, fit, 0.002)
    data = scenario_data(problem, np.zeros((problem.tree.n_nodes, len(problem.knot_yrs),
                                            len(CATEGORIES))))
    np.testing.assert_allclose(data.transfer_capacity, 0.002 * data.gdp)
    sol = solve_inner(data, method="extensive")
    excess = float(data.probability @ (sol.R @ data.discount))
    assert excess > 1.0  # trillions: the capacity binds
    phase_one = solve_inner(data, rescue=True, method="extensive")
    assert excess == pytest.approx(phase_one.objective, rel=1e-6)
    assert np.all(sol.X <= data.transfer_capacity * (1 + 1e-9) + 1e-12)
    dec = solve_inner(data, method="decomposition")
    assert dec.objective == pytest.approx(sol.objective, rel=1e-7)
    lines = binding_constraints(problem, data, sol, start_levers(problem))
    assert any("at the fiscal capacity" in line for line in lines)
    assert any("beyond the fiscal capacity" in line for line in lines)


def test_a_loose_capacity_on_the_study_paths_changes_nothing(calibration, populations, fit):
    loose = _study(calibration, populations, fit, 1.0)
    free = replace(loose, capacity_share=None)
    knots = np.zeros((loose.tree.n_nodes, len(loose.knot_yrs), len(CATEGORIES)))
    a = solve_inner(scenario_data(free, knots), method="extensive")
    b = solve_inner(scenario_data(loose, knots), method="extensive")
    assert b.objective == pytest.approx(a.objective, rel=1e-10)
    np.testing.assert_allclose(b.R, 0.0, atol=1e-9)


def test_the_policy_search_reports_the_excess_never_a_bare_infeasible(calibration, populations,
                                                                       fit):
    problem = _study(calibration, populations, fit, 0.002)
    psol = optimize_policy(problem)
    assert not psol.infeasible and psol.inner.status == "optimal"
    assert np.nanmax(psol.inner.R) > 0.0
    ds = to_dataset(problem, psol, resimulate(problem, psol), {}, {})
    assert float(ds["opt_paid_within_capacity_probability"]) < 1.0
    excess = ds["opt_excess_over_capacity_cny"]
    assert excess.dims == ("path", "year") and float(excess.max()) > 0.0
    assert (ds["opt_extra_transfer_cny"] <= ds["opt_transfer_capacity_cny"] * (1 + 1e-9)).all()
    assert "beyond the fiscal capacity" in ds.attrs["binding"]


def test_the_capacity_table_reports_transfers_capacity_and_excess_in_percent_of_gdp():
    """The two paths above with capacity 3 (1 % of a GDP of 300): transfers 2.2 and 3
    (mean 0.87 % of GDP), excess 0 and 3.2 (mean 0.53 %, largest 1.07 %), half the paths."""
    data = _two_paths([3.0, 3.0])
    sol = solve_extensive(data)
    ds = capacity_results(data, sol)
    ds["opt_extra_transfer_cny"] = (("path", "year"), sol.X * 1e12)
    row = capacity_frame(ds).frame.iloc[0]
    assert row["year"] == 2026
    assert row["extra transfer (% of GDP, mean)"] == pytest.approx(100 * 5.2 / 600, rel=1e-8)
    assert row["capacity (% of GDP)"] == pytest.approx(1.0, rel=1e-12)
    assert row["excess (% of GDP, mean)"] == pytest.approx(100 * 3.2 / 600, rel=1e-8)
    assert row["excess (% of GDP, largest)"] == pytest.approx(100 * 3.2 / 300, rel=1e-8)
    assert row["paths with an excess (share)"] == pytest.approx(0.5)
