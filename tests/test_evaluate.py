"""Out-of-sample evaluation and SAA statistics (issue 16, item 6) on a toy problem with a
known optimum, and the evaluation machinery on the study's problem: per-path costs add up to
the objective, fresh paths placed in the tree by its own rule."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from models.config import OptimizationSettings
from models.optimize.data import ScenarioData, take_paths
from models.optimize.evaluate import (
    OutOfSample,
    assign_nodes,
    chance_value,
    evaluate_fixed,
    gap_interval,
    outer_cost_by_path,
    path_costs,
    solve_paths,
)
from models.optimize.solve import (
    observable_indicator,
    optimize_policy,
    scenario_data,
    setup_problem,
    solve_inner,
)
from models.optimize.report import value_of_information
from models.optimize.statistics import mean_interval, probability_interval
from models.optimize.tree import build_tree

#: Toy (as tests/test_optimize.py's hand-derived problem): two years, CB = 10, r = 10 %,
#: discount 3 %, no reserve, the horizon B2 >= E2; expenditure E the same in both years.
TOY = OptimizationSettings.model_validate({
    "reserve": {"enabled": False},
    "contribution": {"min_rate": 0.12, "max_rate": 0.20, "pace_per_year": 0.05},
    "constraints": {"liquidity_floor_months": 0.0, "horizon_months_target": 12.0},
    "objective": {"contributions": 1.0, "extra_transfer": 1.3, "smoothing_cny_per_point": 0.0},
})


def toy(expenditure: np.ndarray) -> ScenarioData:
    n = expenditure.size
    return ScenarioData(
        years=np.array([2026, 2027]), probability=np.full(n, 1.0 / n),
        node_of_year=np.zeros((n, 2), int), contribution_base=np.full((n, 2), 10.0),
        expenditure=np.repeat(expenditure[:, None], 2, axis=1), subsidy=np.zeros(2),
        balance_start=np.zeros(n), reserve_start=np.zeros(n), fund_return=np.full(2, 0.1),
        reserve_return=0.0, individual_account_rate=0.08, pooled_rate_before=0.16,
        discount=np.array([1.0, 1.0 / 1.03]), delay_cost=0.0, settings=TOY)


def toy_cost(e: np.ndarray, rates) -> np.ndarray:
    """Hand-derived cost of a path with expenditure ``e`` at the pooled rates ``(r1, r2)``:
    year-1 money is the cheapest per yuan of year-2 balance, so the transfer (if any) is in
    year 1 and just meets the horizon ``1.1 B1 + c2 − e ≥ e`` with ``B1 = c1 + X1 − e ≥ 0``,
    ``c_t = 10 (r_t + 0.08)``: ``X1 = max(0, e − c1, (2e − c2)/1.1 + e − c1)``; cost
    ``10 r1 + 10 r2 / 1.03 + 1.3 X1``."""
    r1, r2 = rates
    c1, c2 = 10 * (r1 + 0.08), 10 * (r2 + 0.08)
    x1 = np.maximum.reduce([np.zeros_like(e), e - c1, (2 * e - c2) / 1.1 + e - c1])
    return 10 * r1 + 10 * r2 / 1.03 + 1.3 * x1


def test_toy_out_of_sample_estimates_cover_the_known_values():
    """The policy chosen on 20 paths evaluated on 400 fresh paths: each fresh path's cost is
    the hand-derived one, the interval of the expected cost covers the exact expectation and
    the Clopper-Pearson interval the exact probability of needing no transfer."""
    rng = np.random.default_rng(np.random.SeedSequence(2024))
    draw = lambda n: rng.uniform(1.0, 3.0, n)  # noqa: E731 - e: some paths need no transfer
    rates = solve_inner(toy(draw(20)), duals=False).tau[0]
    e = draw(400)
    out = solve_paths(toy(e), [(np.arange(e.size), rates)], np.zeros(e.size))
    np.testing.assert_allclose(out.cost_cny / 1e12, toy_cost(e, rates), rtol=1e-8)
    grid = np.linspace(1.0, 3.0, 200_001)
    cost = mean_interval(out.cost_cny)
    assert cost.low <= toy_cost(grid, rates).mean() * 1e12 <= cost.high
    free = toy_cost(grid, rates) <= 10 * rates[0] + 10 * rates[1] / 1.03 + 1e-12
    paid = probability_interval(int(out.paid.sum()), out.paid.size)
    assert paid.low <= free.mean() <= paid.high
    np.testing.assert_array_equal(out.paid, toy_cost(e, rates) <= toy_cost(np.zeros(1), rates))


def test_toy_mak_morton_wood_bound_covers_the_known_gap():
    """Candidate: the rates at the floor (0.12). Its true gap over the optimum (the cap) is
    known in closed form; over 10 replications of 30 paths the MMW upper bound covers it and
    the optimum's own bound is zero (to solver tolerance)."""
    rng = np.random.default_rng(np.random.SeedSequence(7))
    grid = np.linspace(4.0, 6.0, 200_001)
    true_gap = (toy_cost(grid, (0.12, 0.12)) - toy_cost(grid, (0.2, 0.2))).mean() * 1e12
    bad, good = [], []
    for _ in range(10):
        e = rng.uniform(4.0, 6.0, 30)
        data = toy(e)
        saa = solve_inner(data, duals=False).objective * 1e12
        for rate, out in ((0.12, bad), (0.2, good)):
            costs = solve_paths(data, [(np.arange(e.size), np.full(2, rate))],
                                np.zeros(e.size)).cost_cny
            out.append((float(costs.mean()), saa))
    upper = gap_interval(bad)
    assert true_gap > 0 and upper.value <= upper.high and true_gap <= upper.high
    assert upper.value == pytest.approx(true_gap, rel=0.05)
    assert gap_interval(good).high < 1e-6 * true_gap


def test_path_costs_add_up_to_the_objective():
    """Σ_p π_p c_p equals the LP's objective (smoothing and every recourse term counted)."""
    rng = np.random.default_rng(np.random.SeedSequence(3))
    data = toy(rng.uniform(4.0, 6.0, 12))
    data = replace(data, pooled_rate_before=0.12, settings=TOY.model_copy(update={
        "objective": TOY.objective.model_copy(update={"smoothing_cny_per_point": 1e10})}))
    sol = solve_inner(data, method="extensive", duals=False)
    assert sol.tau[0, 0] > 0.12 + 1e-6  # the rate moves: smoothing is paid
    costs = path_costs(data, sol.tau, sol, np.zeros(data.n_paths))
    assert float(data.probability @ costs) == pytest.approx(sol.objective * 1e12, rel=1e-9)


def test_fresh_copies_of_the_in_sample_paths_land_in_their_own_nodes():
    """The tree's rule applied to its own paths gives back its nodes (2 x 2 tree)."""
    rng = np.random.default_rng(np.random.SeedSequence(11))
    years = np.arange(2020, 2041)
    obs = np.cumsum(rng.normal(size=(24, years.size)), axis=1)
    tree = build_tree(obs, years, [2026, 2031, 2036], [2, 2])
    again = assign_nodes(tree, obs, obs, years)
    np.testing.assert_array_equal(again.node_of, tree.node_of)
    shifted = assign_nodes(tree, obs, obs + 1e6, years)  # above every in-sample path
    assert set(shifted.node_of[:, -1]) == {int(tree.leaves().max())}


def test_chosen_policy_evaluated_on_its_own_paths_reproduces_the_objective(
        calibration, populations, fit):
    """The fixed-policy evaluation (rates pinned, recourse per path) on the in-sample paths
    gives back the optimizer's objective, path costs including the delay cost path by path."""
    problem = setup_problem(calibration, OptimizationSettings.model_validate(
        {"retirement": {"max_outer_iterations": 2}}), populations, fit)
    psol = optimize_policy(problem)
    assert psol.levers.delay.max() > 0  # the delay cost is part of the check
    outer = outer_cost_by_path(problem, psol.levers)
    assert float(problem.tree.probability @ outer) == pytest.approx(
        scenario_data(problem, psol.levers).outer_cost, rel=1e-12)
    out = evaluate_fixed(problem, psol.levers, psol.inner.tau_node)
    assert float(problem.tree.probability @ out.cost_cny) == pytest.approx(
        psol.inner.objective * 1e12, rel=1e-7)
    # the observable of the population is what the tree ranks
    assert observable_indicator(problem.population, "old_age_dependency").shape == (
        problem.tree.n_paths, problem.years.size)


def test_chance_value_by_hand():
    """Paid-in-full costs (10, 20, 30, 40), with shortfall allowed (10, 5, 29, 0): savings
    (0, 15, 1, 40); α = 1/2 leaves the two largest short: 25 − (15 + 40)/4 = 11.25."""
    paid, short = np.array([10.0, 20, 30, 40]), np.array([10.0, 5, 29, 0])
    equal = np.full(4, 0.25)
    assert chance_value(equal, paid, short, 0.5) == pytest.approx(11.25, rel=1e-15)
    assert chance_value(equal, paid, short, 0.26) == pytest.approx(25 - 40 / 4, rel=1e-15)
    assert chance_value(equal, paid, short, 0.0) == pytest.approx(25.0, rel=1e-15)
    # a shortfall never costs more than paying: a path whose 'short' cost is higher saves 0
    assert chance_value(equal, paid, paid + 1.0, 1.0) == pytest.approx(25.0, rel=1e-15)
    with pytest.raises(ValueError, match="equal probability"):
        chance_value(np.array([0.1, 0.2, 0.3, 0.4]), paid, short, 0.5)


def test_chance_policy_evaluated_on_its_own_paths_reproduces_the_milp_objective(
        calibration, populations, fit):
    """The Mak–Morton–Wood candidate value under the chance constraint (:func:`chance_value`:
    each path paid in full or short, the α share that saves the most left short) on the
    in-sample paths at the chosen rates gives back the mixed-integer program's objective, below
    the hard-guarantee cost of the same policy (the shortfall, at 0.5 a yuan against 1.3 for a
    transfer, bites on the 2 of 6 paths α = 1/3 allows)."""
    settings = OptimizationSettings.model_validate({
        "retirement": {"enabled": False}, "constraints": {"chance_alpha": 1.0 / 3.0},
        "objective": {"shortfall": 0.5}, "solver": {"mip_gap": 1e-9}})
    problem = setup_problem(calibration, settings, populations, fit)
    psol = optimize_policy(problem)
    assert np.any(psol.inner.U > 1e-7)
    paid = evaluate_fixed(problem, psol.levers, psol.inner.tau_node)
    short = evaluate_fixed(problem, psol.levers, psol.inner.tau_node, shortfall=True)
    value = chance_value(problem.tree.probability, paid.cost_cny, short.cost_cny, 1.0 / 3.0)
    assert value == pytest.approx(psol.inner.objective * 1e12, rel=1e-7)
    assert value < float(problem.tree.probability @ paid.cost_cny) * (1 - 1e-6)


def toy_transfer(e: np.ndarray, rates) -> np.ndarray:
    """The year-1 fiscal money of :func:`toy_cost` (also the cheapest place for money beyond
    a capacity: a year-1 yuan adds 1.1 to the year-2 balance at weight 1, a year-2 yuan 1 at
    weight 1/1.03, whatever the price per yuan)."""
    c1, c2 = 10 * (rates[0] + 0.08), 10 * (rates[1] + 0.08)
    return np.maximum.reduce([np.zeros_like(e), e - c1, (2 * e - c2) / 1.1 + e - c1])


def test_vss_splits_into_money_and_a_known_penalty_when_the_capacity_is_zero():
    """A zero fiscal capacity: every yuan of fiscal money is beyond it and costs the penalty
    weight w_e instead of w_x = 1.3, so the money part of a path's cost is the hand-derived
    :func:`toy_cost` and its penalty part (w_e − 1.3) X1. Two policies on the same 40 paths
    (rates at the floor: the EV stand-in; at the cap: the SP): VSS = money + penalty, each
    part equal to its hand-derived mean difference, the penalty part about 770 times the
    money part."""
    rng = np.random.default_rng(np.random.SeedSequence(16))
    e = rng.uniform(4.0, 6.0, 40)
    data = replace(toy(e), transfer_capacity=np.zeros((e.size, 2)))
    w_e = data.settings.objective.excess_over_capacity
    floor, cap = np.full(2, 0.12), np.full(2, 0.2)
    ev, sp = (solve_paths(data, [(np.arange(e.size), r)], np.zeros(e.size)) for r in (floor, cap))
    for out, r in ((ev, floor), (sp, cap)):
        np.testing.assert_allclose(out.money / 1e12, toy_cost(e, r), rtol=1e-7)
        np.testing.assert_allclose(out.penalty / 1e12, (w_e - 1.3) * toy_transfer(e, r),
                                   rtol=1e-7)
        assert not out.paid.any()
    est = OutOfSample(sp, ev, None, data.discount, 0.95).estimates()
    money = (toy_cost(e, floor) - toy_cost(e, cap)).mean() * 1e12
    penalty = (w_e - 1.3) * (toy_transfer(e, floor) - toy_transfer(e, cap)).mean() * 1e12
    assert est["vss_money"].value == pytest.approx(money, rel=1e-7)
    assert est["vss_penalty"].value == pytest.approx(penalty, rel=1e-7)
    assert est["vss"].value == pytest.approx(money + penalty, rel=1e-9)
    assert est["vss_penalty"].value > 100 * est["vss_money"].value > 0
    assert "evpi" not in est and "evpi_money" not in est


def test_without_a_capacity_the_penalty_part_is_zero():
    """No capacity: the money part is the whole cost."""
    e = np.random.default_rng(np.random.SeedSequence(17)).uniform(4.0, 6.0, 10)
    out = solve_paths(toy(e), [(np.arange(e.size), np.full(2, 0.15))], np.zeros(e.size))
    np.testing.assert_array_equal(out.penalty, 0.0)
    np.testing.assert_array_equal(out.money, out.cost_cny)


def test_in_sample_value_of_information_has_its_penalty_parts():
    """The in-sample VSS and EVPI (models.optimize.report.value_of_information) on the toy
    with a zero capacity, costly contributions (weight 2) and a mild penalty (3): the shared
    rates stay at the floor (two of three paths need no money), while the needy path alone
    would raise them. The EVPI's penalty part is the premium (3 − 1.3) Σ δ R of the RP
    solution minus that of the paths solved alone (solved here independently), not zero;
    the VSS's is negative while the VSS is positive."""
    e = np.array([0.5, 0.6, 5.0])
    settings = TOY.model_copy(update={"objective": TOY.objective.model_copy(
        update={"contributions": 2.0, "excess_over_capacity": 3.0})})
    data = replace(toy(e), transfer_capacity=np.zeros((3, 2)), settings=settings)
    w = settings.objective.excess_over_capacity - 1.3
    rp = solve_inner(data, duals=False)
    psol = SimpleNamespace(data=data, inner=rp, infeasible=False)
    voi = value_of_information(None, psol)
    penalty = lambda d, s: w * float(d.probability @ (s.R @ d.discount))  # noqa: E731
    single = [replace(data, **take_paths(data, np.array([p])), probability=np.ones(1),
                      node_of_year=np.zeros((1, 2), int)) for p in range(3)]
    ws = sum(penalty(d, solve_inner(d, duals=False)) for d in single) / 3
    assert voi["evpi_penalty_cny"] == pytest.approx((penalty(data, rp) - ws) * 1e12, rel=1e-7,
                                                    abs=1e-3)
    assert voi["evpi_penalty_cny"] > 0.01 * voi["evpi_cny"] > 0
    # the EV policy (the mean path needs money) raises the rates: less excess, more money
    assert voi["vss_penalty_cny"] < 0 < voi["vss_cny"]
