"""Non-anticipative recourse (models/optimize/rules.py, the k-means tree): a decision taken in
year t never changes when a path's future (after t) is perturbed; the rule is the same LP in
the arrays and the Pyomo reference; forced transfers are the optimal ones when the discount
rate is at least the fund's return; a rule never beats the free (anticipative) recourse."""

from dataclasses import replace

import numpy as np
import pytest

from models.config import OptimizationSettings
from models.optimize.data import ScenarioData
from models.optimize.lp import solve_extensive
from models.optimize.rules import (
    affine_basis,
    apply_policy,
    early_transfers_pay,
    forced_transfer_excess,
    forced_transfers,
    node_basis,
    prefund_shares,
    rule_coefficients,
    split_by_capacity,
)
from models.optimize.solve import scenario_data, setup_problem, solve_inner, solve_inner_pyomo
from models.optimize.tree import build_tree

SETTINGS = OptimizationSettings.model_validate({
    "contribution": {"min_rate": 0.12, "max_rate": 0.20, "pace_per_year": 0.01},
    "constraints": {"liquidity_floor_months": 3.0, "horizon_months_target": 12.0},
    "objective": {"reserve_draw": 0.05, "extra_transfer": 1.3},
    "solver": {"method": "extensive"},
})
P, T, FIRST = 8, 14, 2030


def _observed(rng) -> tuple[np.ndarray, np.ndarray]:
    """``[path, year, feature]`` random-walk states from 2029 (one year before the first
    decision), two features."""
    years = np.arange(FIRST - 1, FIRST + T)
    steps = rng.normal(0.0, 1.0, (P, years.size, 2))
    return 1.0 + 0.05 * steps.cumsum(axis=1), years


def _data(seed: int = 1, **over) -> ScenarioData:
    """P paths whose expenditure grows with the first observed state: the state tells how
    bad a path is, so a rule on it can target draws."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    observed, obs_years = _observed(rng)
    years = np.arange(FIRST, FIRST + T)
    growth = 1.0 + 0.03 * observed[:, 1:, 0]
    expenditure = 5.0 * np.cumprod(growth, axis=1)
    base = dict(
        years=years, probability=np.full(P, 1.0 / P), node_of_year=np.zeros((P, T), int),
        contribution_base=np.full((P, T), 22.0), expenditure=expenditure,
        subsidy=np.full(T, 0.5), balance_start=np.full(P, 4.0), reserve_start=np.full(P, 3.0),
        fund_return=np.full(T, 0.02), reserve_return=0.025, individual_account_rate=0.0,
        pooled_rate_before=0.16, discount=1.03 ** -np.arange(T, dtype=float), delay_cost=0.0,
        settings=SETTINGS, recourse_basis=affine_basis(observed, obs_years, years))
    base.update(over)
    return ScenarioData(**base), observed, obs_years


def test_a_solved_policy_takes_the_same_early_decisions_when_a_paths_future_changes():
    """Solve the LP with the affine draw rule; fix the policy (rates, θ); perturb path 0
    after year t0 (its observed state and its expenditure): every decision of every path
    before t0 — rate, draw, transfer, fund — is unchanged; after t0 path 0's decisions move
    (so the check can fail)."""
    data, observed, obs_years = _data()
    sol = solve_inner(data)
    assert sol.status == "optimal"
    theta = rule_coefficients(data.recourse_basis, sol.D)
    np.testing.assert_allclose(np.einsum("ptj,tj->pt", data.recourse_basis, theta), sol.D,
                               atol=1e-8)
    before = apply_policy(data, sol.tau, theta)
    np.testing.assert_allclose(before["X"], sol.X, atol=1e-12)  # solve_inner's are forced
    t0 = 4
    future = observed.copy()
    future[0, obs_years >= FIRST + t0 - 1] *= 1.5  # seen from the decision of year t0 on
    ex = data.expenditure.copy()
    ex[0, t0:] *= 1.4
    perturbed = replace(data, expenditure=ex, recourse_basis=affine_basis(
        future, obs_years, data.years))
    after = apply_policy(perturbed, sol.tau, theta)
    for key in ("D", "X", "B", "A"):
        np.testing.assert_array_equal(after[key][:, :t0], before[key][:, :t0])
    assert np.abs(after["X"][0, t0:] - before["X"][0, t0:]).max() > 1e-3
    assert np.abs(after["D"][0, t0:] - before["D"][0, t0:]).max() > 1e-6


def test_the_rule_lp_equals_the_pyomo_reference_and_never_beats_free_recourse():
    data, _, _ = _data(seed=2)
    ours, ref = solve_extensive(data), solve_inner_pyomo(data)
    assert ours.status == ref.status == "optimal"
    assert ours.objective == pytest.approx(ref.objective, rel=1e-8)
    free = solve_extensive(replace(data, recourse_basis=None))
    assert free.objective <= ours.objective * (1 + 1e-9)
    # a node rule with one node per path is the free recourse again
    own = node_basis(np.repeat(np.arange(P)[:, None], T, axis=1))
    assert solve_extensive(replace(data, recourse_basis=own)).objective == pytest.approx(
        free.objective, rel=1e-9)


def test_forced_transfers_are_optimal_when_the_discount_rate_beats_the_fund_return():
    """With r_fund = 2 % < 3 % discount the forced transfers cost what the solver's cost; with
    r_fund = 8 % an early transfer pays and the forced ones cost more."""
    data, _, _ = _data(seed=3)
    assert early_transfers_pay(data).size == 0
    lp = solve_extensive(data)
    X, _, _ = forced_transfers(data, lp.tau, lp.D)
    assert abs(forced_transfer_excess(data, lp.X, X)) <= 1e-8 * lp.objective
    rich = replace(data, fund_return=np.full(T, 0.08))
    assert early_transfers_pay(rich).size == T - 1
    lp = solve_extensive(rich)
    X, _, _ = forced_transfers(rich, lp.tau, lp.D)
    assert lp.X.sum() > 0
    assert forced_transfer_excess(rich, lp.X, X) > 1e-6


def test_kmeans_tree_groups_by_several_observables_and_ignores_the_future():
    """Two features: the first alone does not separate two clouds, the pair does; k-means
    finds the clouds (rank on the first feature cannot); perturbing path 0 after 2030 leaves
    every node up to the 2031 stage unchanged."""
    rng = np.random.default_rng(np.random.SeedSequence(7))
    years = np.arange(2025, 2041)
    n = 40
    cloud = np.repeat([0, 1], n // 2)
    obs = np.empty((n, years.size, 2))
    obs[..., 0] = rng.normal(0.0, 1.0, (n, years.size))
    obs[..., 1] = 10.0 * cloud[:, None] + rng.normal(0.0, 0.3, (n, years.size))
    tree = build_tree(obs, years, [2026, 2031, 2036], [2, 2], grouping="kmeans")
    first = tree.node_of[:, 1]
    assert all(np.ptp(first[cloud == c]) == 0 for c in (0, 1)) and first[0] != first[-1]
    rank = build_tree(obs, years, [2026, 2031, 2036], [2, 2], grouping="rank")
    assert any(np.ptp(rank.node_of[cloud == c, 1]) > 0 for c in (0, 1))
    moved = obs.copy()
    moved[0, years >= 2031] += 25.0
    again = build_tree(moved, years, [2026, 2031, 2036], [2, 2], grouping="kmeans")
    np.testing.assert_array_equal(again.node_of[:, :2], tree.node_of[:, :2])
    assert not np.array_equal(again.node_of[:, 2], tree.node_of[:, 2])


def test_on_the_study_problem_a_paths_future_leaves_its_earlier_decisions_unchanged(
        calibration, populations, fit):
    """The study's problem (k-means tree on two observables, affine draw rule): solve, fix the
    policy; then give path 0 a longevity shock from 2061 (30 % more people over 60) and
    set the problem up again. The tree's nodes up to the 2056 stage, the draw rule's basis
    before 2062, and every decision (rate, draw, transfer, fund) before 2061 are unchanged."""
    settings = OptimizationSettings.model_validate({
        "tree": {"branching": [2, 2], "stage_every_years": 30, "grouping": "kmeans",
                 "extra_observables": ["births"]},
        "recourse": {"reserve_draws": "affine"}, "solver": {"method": "extensive"}})
    pops = populations.isel(path=[0, 1, 2, 3, 4, 5])
    problem = setup_problem(calibration, settings, pops, fit)
    zero = np.zeros((problem.tree.n_nodes, len(problem.knot_yrs), 3))
    data = scenario_data(problem, zero)
    sol = solve_inner(data)
    theta = rule_coefficients(data.recourse_basis, sol.D)
    shocked = pops.copy()
    late = (shocked["year"] >= 2061) & (shocked["age"] >= 60)
    shocked[0] = shocked[0].where(~late, shocked[0] * 1.3)
    again = setup_problem(calibration, settings, shocked, fit)
    np.testing.assert_array_equal(again.tree.node_of[:, :2], problem.tree.node_of[:, :2])
    moved = scenario_data(again, zero)
    before = np.asarray(data.years) < 2061
    np.testing.assert_array_equal(moved.recourse_basis[:, before], data.recourse_basis[:, before])
    assert not np.allclose(moved.expenditure[0, ~before], data.expenditure[0, ~before])
    old, new = apply_policy(data, sol.tau, theta), apply_policy(moved, sol.tau, theta)
    for key in ("D", "X", "B", "A"):
        np.testing.assert_array_equal(new[key][:, before], old[key][:, before])
    assert not np.allclose(new["B"][0, ~before] + new["X"][0, ~before],
                           old["B"][0, ~before] + old["X"][0, ~before])


def test_forced_money_beyond_the_fiscal_capacity_is_the_excess_not_a_transfer():
    """Under a rule with a binding capacity, the forced money splits into transfers within the
    capacity and the excess beyond it; the fund is the same as with all of it transferred.
    The forced (just-in-time) money costs at least the LP's optimum: with a binding capacity
    the LP pre-funds within the capacity to avoid a later excess, which a just-in-time rule
    cannot (a limit of the forced-transfer rule, stated in models/optimize/rules.py)."""
    data, _, _ = _data()
    cap = np.full((P, T), 0.2)  # trillion a year: binds in the later years
    capped = replace(data, transfer_capacity=cap, gdp=cap / 0.01)
    sol = solve_inner(capped)
    assert sol.status == "optimal" and sol.R is not None
    assert np.all(sol.X <= cap + 1e-12)
    money, B, _ = forced_transfers(capped, sol.tau, sol.D, sol.prefund)
    np.testing.assert_allclose(sol.X + sol.R, money, atol=1e-12)
    np.testing.assert_allclose(sol.B, B, atol=1e-12)
    assert sol.R.max() > 1e-3  # the capacity binds
    lp = solve_extensive(capped)
    assert sol.objective >= lp.objective * (1 - 1e-9)


def test_pre_funding_the_capacity_beats_just_in_time_and_stays_non_anticipative():
    """With a binding capacity the rule's transfers pre-fund the share of the capacity the
    LP uses on average each year (κ): in sample that costs less than just-in-time transfers
    and no less than the LP (which pre-funds path by path, knowing each path's future); every
    transfer is at least κ_t cap; cutting path
    0's expenditure from year 8 on leaves its transfers before year 8 unchanged."""
    data, _, _ = _data()
    cap = np.full((P, T), 0.2)
    capped = replace(data, transfer_capacity=cap, gdp=cap / 0.01)
    lp = solve_extensive(capped)
    sol = solve_inner(capped)
    kappa = prefund_shares(capped, lp.X)
    np.testing.assert_allclose(sol.prefund, kappa, atol=1e-12)
    assert kappa.max() > 0.5 and np.all((kappa >= 0) & (kappa <= 1))
    money, _, _ = forced_transfers(capped, lp.tau, lp.D)
    X, R = split_by_capacity(capped, money)
    just_in_time = lp.objective + forced_transfer_excess(capped, lp.X, X, lp.R, R)
    assert lp.objective * (1 - 1e-9) <= sol.objective < just_in_time - 1e-3
    assert np.all(sol.X >= kappa * cap - 1e-12)
    pre_funded, _, _ = forced_transfers(capped, sol.tau, sol.D, kappa)
    np.testing.assert_allclose(sol.X + sol.R, pre_funded, atol=1e-12)
    theta = rule_coefficients(capped.recourse_basis, sol.D)
    cut = capped.expenditure.copy()
    cut[0, 8:] *= 0.5
    old = apply_policy(capped, sol.tau, theta, kappa)
    new = apply_policy(replace(capped, expenditure=cut), sol.tau, theta, kappa)
    np.testing.assert_array_equal(old["X"][:, :8], new["X"][:, :8])
    assert not np.allclose(old["X"][0, 8:] + old["R"][0, 8:], new["X"][0, 8:] + new["R"][0, 8:])
