"""What the optimizer's tree and linear program MEAN, on problems solved by hand.

* Scenario tree (:mod:`models.optimize.tree`): stage ``k`` governs the years ``[d_k, d_{k+1})``,
  so in a multi-stage tree every year before the second decision year is the root's, and no
  year is governed by a node of a later stage (a decision may not see the future). Paths are
  ranked by the observable of the year BEFORE a decision.
* Inner LP (:mod:`models.optimize.model`): every change of the pooled rate, from the rate in
  force the year before (``pooled_rate_before`` in the first year, the parent node's later),
  is at most the pace; the strategic reserve counts in the horizon target
  ``B_T + A_T ≥ target/12 · E_T``; the smoothing penalty of a node is weighted by its
  probability. Each is checked on a problem where the property binds, so dropping it moves
  the answer.
"""

import numpy as np
import pyomo.environ as pyo
import pytest

from models.config import OptimizationSettings
from models.optimize.data import MONEY_SCALE, ScenarioData
from models.optimize.model import RATE_POINT, add_path
from models.optimize.solve import solve_inner
from models.optimize.tree import build_tree


# ------------------------------------------------------------------------------ the tree
def _three_stage_tree():
    """12 paths, decisions in 2026, 2031 and 2036, branching 2 then 3 (1 + 2 + 6 nodes).
    The observable is ranked in 2030 (path 11 lowest) and in 2035 (reversed order), and in
    every other year the ranking is scrambled, so a rule that reads the wrong year groups
    the paths differently."""
    years = np.arange(2020, 2046)
    rng = np.random.default_rng(np.random.SeedSequence(2026))
    obs = rng.uniform(0, 1000, size=(12, years.size))
    obs[:, years == 2030] = (100.0 * np.arange(12)[::-1])[:, None]
    obs[:, years == 2035] = (100.0 * np.arange(12))[:, None]
    return build_tree(obs, years, [2026, 2031, 2036], [2, 3]), years


def test_every_year_before_the_second_decision_is_governed_by_the_root():
    tree, _ = _three_stage_tree()
    years = np.arange(2020, 2046)
    governed = tree.node_of_path_year(years)
    assert (governed[:, years < 2026] == -1).all()  # before the first decision: no node
    assert (governed[:, (years >= 2026) & (years < 2031)] == 0).all()
    assert tree.stage_of_year(np.array([2025, 2026, 2030, 2031, 2035, 2036, 2045])).tolist() \
        == [-1, 0, 0, 1, 1, 2, 2]


def test_no_year_is_governed_by_a_node_of_a_later_stage():
    """The node governing (path, year) belongs to the stage whose decision year is the last
    one at or before that year, and it is the path's own node of that stage."""
    tree, _ = _three_stage_tree()
    years = np.arange(2026, 2046)
    governed = tree.node_of_path_year(years)
    for j, year in enumerate(years):
        stage = int(np.flatnonzero(tree.stage_years <= year)[-1])
        assert (tree.stage_of_node[governed[:, j]] == stage).all()
        assert (governed[:, j] == tree.node_of[:, stage]).all()


def test_paths_are_split_by_the_observable_of_the_year_before_each_decision():
    tree, _ = _three_stage_tree()
    assert tree.n_nodes == 1 + 2 + 6
    assert tree.parent[0] == -1 and (tree.node_of[:, 0] == 0).all()
    # 2030's ranking: paths 6..11 lowest -> first child of the root
    first_child = tree.node_of[11, 1]
    assert set(tree.paths_of_node(first_child)) == {6, 7, 8, 9, 10, 11}
    assert set(tree.paths_of_node(tree.node_of[0, 1])) == {0, 1, 2, 3, 4, 5}
    # 2035's ranking (path 0 lowest) splits each stage-1 node into 3 groups of two
    for node in np.unique(tree.node_of[:, 1]):
        members = tree.paths_of_node(int(node))
        groups = [tuple(sorted(tree.paths_of_node(int(c))))
                  for c in np.flatnonzero(tree.parent == node)]
        assert groups == [tuple(members[i:i + 2]) for i in range(0, 6, 2)]
    for leaf in tree.leaves():
        chain = tree.ancestors(int(leaf))
        assert chain[0] == 0 and len(chain) == 3
        assert tree.stage_of_node[chain].tolist() == [0, 1, 2]
    assert tree.probability.sum() == pytest.approx(1.0)
    assert tree.n_paths == 12


@pytest.mark.parametrize("stage_years, branching, message", [
    ([2026, 2031], [2, 2], "2 stage years need 1 branching factors, got 2"),
    ([2026, 2026], [2], "stage years must increase, got [2026, 2026]"),
    ([2031, 2026], [2], "stage years must increase, got [2031, 2026]"),
    ([2026, 2031], [13], "the tree has 13 leaves but only 12 paths"),
    ([2026, 2031, 2036], [4, 4], "the tree has 16 leaves but only 12 paths"),
    ([2026, 2060], [2], "the observable has no year 2059 (the year before stage 1)"),
])
def test_an_impossible_tree_is_refused_with_the_reason(stage_years, branching, message):
    years = np.arange(2020, 2046)
    with pytest.raises(ValueError) as err:
        build_tree(np.zeros((12, years.size)), years, stage_years, branching)
    assert str(err.value) == message


def test_a_tree_with_as_many_leaves_as_paths_is_allowed():
    years = np.arange(2020, 2046)
    tree = build_tree(np.arange(12.0)[:, None] * np.ones(years.size), years,
                      [2026, 2031, 2036], [3, 4])
    assert tree.leaves().size == 12 and tree.n_nodes == 1 + 3 + 12
    # stages one year apart are allowed, and stage years are whole years
    yearly = build_tree(np.arange(12.0)[:, None] * np.ones(years.size), years,
                        [2026.0, 2027.0], [2])
    assert yearly.stage_years.dtype.kind == "i" and yearly.stage_years.tolist() == [2026, 2027]
    assert yearly.node_of_path_year(np.array([2026, 2027]))[0].tolist() == [0, 1]
    # one path: a two-stage tree (no branching) is its root only
    single = build_tree(np.zeros(years.size), years, [2026], [])
    assert single.n_nodes == 1 and single.n_paths == 1
    assert single.node_of_path_year(np.array([2025, 2026, 2045])).tolist() == [[-1, 0, 0]]


# ------------------------------------------------------------------------------ the LP
def _settings(pace=0.01, smoothing=0.0, transfer_weight=1.3, reserve=False, target=0.0,
              reserve_weight=0.3, max_rate=0.30):
    return OptimizationSettings.model_validate({
        "reserve": {"enabled": reserve},
        "contribution": {"min_rate": 0.12, "max_rate": max_rate, "pace_per_year": pace},
        "constraints": {"liquidity_floor_months": 0.0, "horizon_months_target": target},
        "objective": {"contributions": 1.0, "extra_transfer": transfer_weight,
                      "reserve_draw": reserve_weight, "smoothing_cny_per_point": smoothing},
    })


def _data(settings, n_years=3, **over):
    base = dict(
        years=2026 + np.arange(n_years), probability=np.ones(1),
        node_of_year=np.zeros((1, n_years), int),
        contribution_base=np.full((1, n_years), 10.0), expenditure=np.full((1, n_years), 5.0),
        subsidy=np.zeros(n_years), balance_start=np.zeros(1), reserve_start=np.zeros(1),
        fund_return=np.zeros(n_years), reserve_return=0.0, individual_account_rate=0.08,
        pooled_rate_before=0.16, discount=np.ones(n_years), delay_cost=0.0, settings=settings)
    base.update(over)
    return ScenarioData(**base)


def test_the_pace_limit_binds_when_contributions_are_the_cheap_money():
    """CB = 10, E = 5, individual accounts 8 %: each year lacks 4.2 − 10 τ, paid by
    contributions (cost 1 per yuan) or transfers (1.3); with no fund return and a 3 % discount
    nothing is gained by paying early. The cheap money is contributions, so the rate climbs
    as fast as the pace allows from 16 %: 17, 18, 19 %, transfers 2.5, 2.4, 2.3; cost
    Σ_t δ_t (10 τ_t + 1.3 X_t). Without the pace the rate would jump to its 30 % cap."""
    delta = 1.03 ** -np.arange(3)
    sol = solve_inner(_data(_settings(pace=0.01), discount=delta))
    assert sol.status == "optimal"
    np.testing.assert_allclose(sol.tau[0], [0.17, 0.18, 0.19], atol=1e-9)
    np.testing.assert_allclose(sol.X[0], [2.5, 2.4, 2.3], atol=1e-8)
    cost = delta @ (10 * np.array([0.17, 0.18, 0.19]) + 1.3 * np.array([2.5, 2.4, 2.3]))
    assert sol.objective == pytest.approx(cost, rel=1e-9)


def test_the_pace_limit_binds_on_the_way_down():
    """Transfers cheaper than contributions (0.5 per yuan): the rate falls as fast as the pace
    allows, 15, 14, 13 %, never faster."""
    sol = solve_inner(_data(_settings(pace=0.01, transfer_weight=0.5),
                            discount=1.03 ** -np.arange(3)))
    np.testing.assert_allclose(sol.tau[0], [0.15, 0.14, 0.13], atol=1e-9)
    np.testing.assert_allclose(sol.X[0], 4.2 - 10 * sol.tau[0], atol=1e-8)


def test_without_the_contribution_lever_the_rate_stays_where_it_was():
    settings = _settings()
    settings = settings.model_copy(update={"contribution": settings.contribution.model_copy(
        update={"enabled": False})})
    sol = solve_inner(_data(settings))
    np.testing.assert_allclose(sol.tau[0], 0.16, atol=1e-12)


def test_the_strategic_reserve_counts_in_the_horizon_target():
    """One year, E = 5, target 12 months: B + A ≥ 5 with the reserve A = 10 − D. The fund
    only has to stay non-negative, B = 10 (τ + 0.08) + D − 5 ≥ 0: at the 12 % floor rate the
    reserve covers the remaining 3 (draw cost 0.5 per yuan), B = 0 and A = 7 meet the target
    together. Cost 10 · 0.12 + 0.5 · 3 = 2.7 (the fund alone would need a draw of 8: 5.2)."""
    data = _data(_settings(reserve=True, target=12.0, pace=0.05, reserve_weight=0.5),
                 n_years=1, reserve_start=np.array([10.0]))
    sol = solve_inner(data)
    assert sol.objective == pytest.approx(2.7, rel=1e-9)
    assert sol.tau[0, 0] == pytest.approx(0.12, abs=1e-9)
    assert sol.D[0, 0] == pytest.approx(3.0, abs=1e-8)
    assert sol.B[0, 0] == pytest.approx(0.0, abs=1e-8)
    assert sol.A[0, 0] == pytest.approx(7.0, abs=1e-8)  # A = 10 − D: the reserve pays B's target


def _two_node_problem(smoothing_cny_per_point):
    """Two paths in one root year and then two nodes (probabilities 0.8, 0.2): the first path
    needs money (E = 8), the second has a surplus (E = 2), so the two nodes move the rate in
    opposite directions."""
    settings = _settings(pace=0.05, smoothing=smoothing_cny_per_point)
    return _data(settings, probability=np.array([0.8, 0.2]),
                 node_of_year=np.array([[0, 1, 1], [0, 2, 2]]),
                 contribution_base=np.full((2, 3), 10.0),
                 expenditure=np.array([[5.0, 8.0, 8.0], [5.0, 2.0, 2.0]]),
                 balance_start=np.zeros(2), reserve_start=np.zeros(2),
                 discount=np.array([1.0, 0.97, 0.94]))


def test_every_rate_change_in_a_tree_respects_the_pace_from_the_node_before():
    data = _two_node_problem(0.0)
    sol = solve_inner(data)
    before = np.concatenate([np.full((2, 1), data.pooled_rate_before), sol.tau[:, :-1]], axis=1)
    assert (np.abs(sol.tau - before) <= 0.05 + 1e-9).all()
    # the binding moves: up 5 points a year on the needy path, down to the floor on the other
    np.testing.assert_allclose(sol.tau[0], [0.21, 0.26, 0.30], atol=1e-9)
    np.testing.assert_allclose(sol.tau[1], [0.21, 0.16, 0.12], atol=1e-9)


def test_the_smoothing_penalty_is_weighted_by_node_probability():
    """The optimal objective equals its definition evaluated at the solution:
    Σ_p π_p Σ_t δ_t (w_c CB τ + w_r D + w_x X + w_u U) + w_s Σ_{n,t} π_n |τ_n,t − τ_before|."""
    data = _two_node_problem(2.0e10)
    sol = solve_inner(data)
    w = data.settings.objective
    pi, delta = data.probability, data.discount
    paths = (pi[:, None] * delta[None, :] * (
        w.contributions * data.contribution_base * sol.tau + w.reserve_draw * sol.D
        + w.extra_transfer * sol.X + w.shortfall * sol.U)).sum()
    step = w.smoothing_cny_per_point / MONEY_SCALE / RATE_POINT
    changes = abs(sol.tau_node[(0, 0)] - data.pooled_rate_before)
    for t in (1, 2):
        prev_root = sol.tau_node[(0, 0)] if t == 1 else None
        for n, p in ((1, 0.8), (2, 0.2)):
            prev = prev_root if t == 1 else sol.tau_node[(n, t - 1)]
            changes += p * abs(sol.tau_node[(n, t)] - prev)
    assert changes > 0.01  # the nodes do move the rate, so the weights matter
    assert sol.objective == pytest.approx(paths + step * changes, rel=1e-9)


# ------------------------------------------------------------------ variants, by hand
def _variant_data(constraints=None, shortfall=1.0, transfers=True):
    """One year, two equally likely paths, CB = 10, E = 5 and 9: at the 20 % cap the fund
    lacks 2.2 and 6.2 (4.2 − 10 τ + E − 5). Transfers cost 1.3 a yuan, unpaid pensions
    ``shortfall`` a yuan (where a variant allows them)."""
    settings = OptimizationSettings.model_validate({
        "reserve": {"enabled": False}, "extra_transfer": {"enabled": transfers},
        "contribution": {"min_rate": 0.12, "max_rate": 0.20, "pace_per_year": 0.05},
        "constraints": {"liquidity_floor_months": 0.0, "horizon_months_target": 0.0,
                        **(constraints or {})},
        "objective": {"contributions": 1.0, "extra_transfer": 1.3, "shortfall": shortfall,
                      "smoothing_cny_per_point": 0.0},
    })
    return _data(settings, n_years=1, probability=np.array([0.5, 0.5]),
                 node_of_year=np.zeros((2, 1), int), contribution_base=np.full((2, 1), 10.0),
                 expenditure=np.array([[5.0], [9.0]]), balance_start=np.zeros(2),
                 reserve_start=np.zeros(2), discount=np.ones(1))


def test_the_hard_problem_pays_every_pension_by_hand():
    """τ = 20 % (each point saves 1.3 − 1 of transfers on both paths), X = 2.2 and 6.2,
    cost 10 · 0.2 + 1.3 · (2.2 + 6.2)/2 = 7.46; no pension unpaid."""
    sol = solve_inner(_variant_data())
    assert sol.tau[0, 0] == pytest.approx(0.2, abs=1e-9)
    np.testing.assert_allclose(sol.X[:, 0], [2.2, 6.2], atol=1e-8)
    np.testing.assert_allclose(sol.U, 0.0, atol=1e-12)
    assert sol.objective == pytest.approx(7.46, rel=1e-9)
    assert not sol.mip


def test_a_chance_constraint_leaves_pensions_unpaid_on_at_most_alpha_of_the_paths():
    """α = 1/2: one path of two may leave pensions unpaid (cost 1 instead of 1.3): the one
    that saves most, the second (6.2 unpaid); cost 2 + 1.3 · 2.2/2 + 6.2/2 = 6.53. With
    α = 0 it is the hard problem."""
    sol = solve_inner(_variant_data({"chance_alpha": 0.5}))
    assert sol.mip
    np.testing.assert_allclose(sol.U[:, 0], [0.0, 6.2], atol=1e-7)
    np.testing.assert_allclose(sol.X[:, 0], [2.2, 0.0], atol=1e-7)
    assert sol.objective == pytest.approx(6.53, rel=1e-7)
    hard = solve_inner(_variant_data({"chance_alpha": 0.0}))
    assert hard.objective == pytest.approx(7.46, rel=1e-7)
    np.testing.assert_allclose(hard.U, 0.0, atol=1e-9)


def test_a_cvar_limit_caps_the_mean_of_the_worst_losses():
    """β = 3/4 over two equally likely paths: CVaR is the larger loss. A limit of 3 trillion
    yuan: 2.2 unpaid on the first path, 3 on the second (3.2 transferred); cost
    2 + (2.2 + 3 + 1.3 · 3.2)/2 = 6.68. A limit of zero is the hard problem."""
    sol = solve_inner(_variant_data({"cvar_beta": 0.75, "cvar_limit_cny": 3.0e12}))
    np.testing.assert_allclose(sol.U[:, 0], [2.2, 3.0], atol=1e-7)
    assert sol.objective == pytest.approx(6.68, rel=1e-9)
    zero = solve_inner(_variant_data({"cvar_beta": 0.75, "cvar_limit_cny": 0.0}))
    assert zero.objective == pytest.approx(7.46, rel=1e-9)


def test_no_more_than_the_years_pensions_go_unpaid():
    """Unpaid pensions are cheap (0.1 a yuan) and a 12-month horizon target asks for a
    balance of E: still at most E goes unpaid, the rest is transferred: X = E − 2.8."""
    data = _variant_data({"cvar_beta": 0.75, "cvar_limit_cny": 1e15,
                          "horizon_months_target": 12.0}, shortfall=0.1)
    sol = solve_inner(data)
    np.testing.assert_allclose(sol.U[:, 0], [5.0, 9.0], atol=1e-7)
    np.testing.assert_allclose(sol.X[:, 0], [2.2, 6.2], atol=1e-7)


def test_rescue_money_is_the_least_that_pays_every_pension():
    """No transfers: at the 20 % cap the fund lacks 2.2 and 6.2, so the problem is infeasible;
    the rescue problem's answer is that money, its objective the expected amount 4.2."""
    data = _variant_data(transfers=False)
    assert solve_inner(data).status == "infeasible"
    rescue = solve_inner(data, rescue=True)
    np.testing.assert_allclose(rescue.R[:, 0], [2.2, 6.2], atol=1e-8)
    assert rescue.objective == pytest.approx(4.2, rel=1e-9)


def test_the_subsidy_and_the_liquidity_floor_by_hand():
    """One year at the 20 % cap (rate lever off, pooled rate 20 %): the fund lacks 2.2; a
    subsidy of 1 pays part of it, and a 6-month floor asks for B ≥ E/2 = 2.5: X = 3.7."""
    settings = _settings(pace=0.05, target=0.0)
    settings = settings.model_copy(update={
        "contribution": settings.contribution.model_copy(update={"enabled": False}),
        "constraints": settings.constraints.model_copy(update={"liquidity_floor_months": 6.0})})
    sol = solve_inner(_data(settings, n_years=1, subsidy=np.array([1.0]),
                            pooled_rate_before=0.2))
    assert sol.X[0, 0] == pytest.approx(3.7, abs=1e-8)
    assert sol.B[0, 0] == pytest.approx(2.5, abs=1e-8)


def test_the_reserve_earns_its_return_and_cannot_be_overdrawn():
    """Two years, each lacking 2.2 at the fixed 20 % rate; reserve 3 earning 10 %, draws cost
    0.5 a yuan, transfers 1.3. The reserve is best kept for year 2 (it grows): draw 1.3 in
    year 1 (A = 3.3 − 1.3 = 2), 2.2 in year 2 (A = 2.2 − 2.2 = 0), transfer 0.9 in year 1;
    cost 0.5 · 1.3 + 1.3 · 0.9 + 0.5 · 2.2 / 1.03 (discount 3 %, no fund return: paying
    early gains nothing), plus the contributions 10 · 0.2 a year."""
    settings = _settings(reserve=True, reserve_weight=0.5)
    settings = settings.model_copy(update={
        "contribution": settings.contribution.model_copy(update={"enabled": False})})
    sol = solve_inner(_data(settings, n_years=2, pooled_rate_before=0.2, reserve_return=0.1,
                            reserve_start=np.array([3.0]), discount=np.array([1.0, 1 / 1.03])))
    np.testing.assert_allclose(sol.D[0], [1.3, 2.2], atol=1e-8)
    np.testing.assert_allclose(sol.A[0], [2.0, 0.0], atol=1e-8)
    np.testing.assert_allclose(sol.X[0], [0.9, 0.0], atol=1e-8)
    contributions = 10 * 0.2 * (1 + 1 / 1.03)
    assert sol.objective == pytest.approx(contributions + 0.65 + 1.17 + 1.1 / 1.03, rel=1e-9)


def test_a_disabled_reserve_is_not_drawn_even_when_it_has_assets():
    settings = _settings(reserve=False)
    settings = settings.model_copy(update={
        "contribution": settings.contribution.model_copy(update={"enabled": False})})
    sol = solve_inner(_data(settings, n_years=2, pooled_rate_before=0.2,
                            reserve_start=np.array([3.0]), discount=np.array([1.0, 1 / 1.03])))
    np.testing.assert_allclose(sol.D, 0.0, atol=1e-12)
    np.testing.assert_allclose(sol.X[0], [2.2, 2.2], atol=1e-8)


def test_rescue_money_is_never_negative_and_absent_by_default():
    """A path with a surplus gets no (negative) rescue money; a block built without asking
    for rescue has no rescue variable."""
    data = _variant_data(transfers=False)
    data = ScenarioData(**{**data.__dict__, "expenditure": np.array([[2.0], [9.0]])})
    rescue = solve_inner(data, rescue=True)
    np.testing.assert_allclose(rescue.R[:, 0], [0.0, 6.2], atol=1e-8)
    assert rescue.objective == pytest.approx(3.1, rel=1e-9)
    block = pyo.ConcreteModel()
    add_path(block, data, 0, lambda t: 0.2)
    assert not hasattr(block, "R")


def test_the_reserve_cannot_be_overdrawn_even_when_the_fund_could_repay_it():
    """Reserve 1 earning 10 %, year 1 lacks 2.2, year 2 has a surplus of 1.8: only the 1.1 the
    reserve holds can be drawn in year 1 (the rest is a transfer), though the fund's later
    surplus could have "repaid" a negative reserve."""
    settings = _settings(reserve=True, reserve_weight=0.5)
    settings = settings.model_copy(update={
        "contribution": settings.contribution.model_copy(update={"enabled": False})})
    sol = solve_inner(_data(settings, n_years=2, pooled_rate_before=0.2, reserve_return=0.1,
                            reserve_start=np.array([1.0]), expenditure=np.array([[5.0, 1.0]]),
                            discount=np.array([1.0, 1 / 1.03])))
    assert sol.D[0, 0] == pytest.approx(1.1, abs=1e-8)
    assert sol.X[0, 0] == pytest.approx(1.1, abs=1e-8)
    assert (sol.A[0] >= -1e-9).all()


def test_the_outer_levers_cost_is_added_in_trillions():
    """The delay and indexation costs (yuan, constant in the LP) add to the objective
    (trillions): 0.5 trillion yuan of delay cost adds 0.5."""
    base = solve_inner(_variant_data())
    data = _variant_data()
    with_cost = ScenarioData(**{**data.__dict__, "delay_cost": 4.0e11, "indexation_cost": 1.0e11})
    assert solve_inner(with_cost).objective == pytest.approx(base.objective + 0.5, rel=1e-12)


def test_fixed_root_rates_are_kept():
    """EEV: the root's rate of a year may be pinned (fixed_rates); the LP keeps it."""
    data = _variant_data()
    pinned = ScenarioData(**{**data.__dict__, "fixed_rates": {0: 0.13}})
    sol = solve_inner(pinned)
    np.testing.assert_allclose(sol.tau, 0.13, atol=1e-12)
    np.testing.assert_allclose(sol.X[:, 0], [2.2 + 0.7, 6.2 + 0.7], atol=1e-8)


def test_rescue_money_is_discounted_like_every_cost():
    """Two years without transfers, each lacking 2.2 at the cap on the only path: the rescue
    objective is 2.2 (1 + 1/1.03)."""
    settings = _settings(pace=0.05, max_rate=0.20)
    settings = settings.model_copy(update={"extra_transfer": settings.extra_transfer.model_copy(
        update={"enabled": False})})
    data = _data(settings, n_years=2, pooled_rate_before=0.2,
                 discount=np.array([1.0, 1 / 1.03]))
    rescue = solve_inner(data, rescue=True)
    np.testing.assert_allclose(rescue.R[0], [2.2, 2.2], atol=1e-8)
    assert rescue.objective == pytest.approx(2.2 * (1 + 1 / 1.03), rel=1e-9)
