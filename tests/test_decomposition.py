"""L-shaped decomposition (models/optimize/decompose.py) against the extensive form, both from
arrays and through the Pyomo reference: the optimal value within 1e-7 relative on two-stage and
multi-stage problems, the same first-stage decisions and duals on a non-degenerate case, the
bound gap reported and within the tolerance, the same numbers for 1 and 2 workers, and the
smallest rescue transfers when a path cannot be paid."""

import numpy as np
import pytest

from models.config import CATEGORIES, OptimizationSettings
from models.optimize.data import ScenarioData
from models.optimize.decompose import solve_decomposed
from models.optimize.lp import solve_extensive
from models.optimize.rules import affine_basis, node_basis, rule_coefficients
from models.optimize.solve import (
    optimize_policy,
    scenario_data,
    setup_problem,
    solve_inner,
    solve_inner_pyomo,
)

TOL = 1e-9


def _settings(**over) -> OptimizationSettings:
    base: dict = {"compute_vss_evpi": False, "solver": {"threads": 2, "tolerance": TOL}}
    for key, value in over.items():
        base[key] = {**base.get(key, {}), **value}
    return OptimizationSettings.model_validate(base)


def _study_data(calibration, populations, fit, **over):
    problem = setup_problem(calibration, _settings(**over), populations, fit)
    return scenario_data(problem, np.zeros((problem.tree.n_nodes, len(problem.knot_yrs),
                                            len(CATEGORIES))))


def _synthetic(settings: OptimizationSettings, base: list, expenditure: list) -> ScenarioData:
    """Paths over three years, money in trillions: contribution base and expenditure per path
    and year, fund return 5 %, nothing in the fund or the reserve at the start."""
    cb, ex = np.array(base, dtype=float), np.array(expenditure, dtype=float)
    P, T = cb.shape
    return ScenarioData(
        years=2026 + np.arange(T), probability=np.full(P, 1.0 / P),
        node_of_year=np.zeros((P, T), dtype=int), contribution_base=cb, expenditure=ex,
        subsidy=np.zeros(T), balance_start=np.zeros(P), reserve_start=np.zeros(P),
        fund_return=np.full(T, 0.05), reserve_return=0.0, individual_account_rate=0.08,
        pooled_rate_before=0.16, discount=1.03 ** -np.arange(T), delay_cost=0.0,
        settings=settings)


def _check_bounds(sol):
    assert sol.method == "decomposition" and sol.status == "optimal"
    assert 0.0 <= sol.gap_rel <= TOL * (1 + 1e-9)
    assert sol.lower_bound <= sol.objective * (1 + 1e-12)
    assert sol.objective - sol.lower_bound == pytest.approx(sol.gap_rel * abs(sol.objective),
                                                            rel=1e-6, abs=1e-12)


# cheap transfers without a fiscal capacity, and no reserve: the pooled rates trade against
# each path's transfers, so the master needs several cuts (the study's default two-stage
# problem is solved at the start); discounted at a fixed 3 %, below the fund's return path
TRADE = {"objective": {"extra_transfer": 1.02, "discount": "fixed"}, "reserve": {"enabled": False},
         "constraints": {"fiscal_capacity": False}}


@pytest.mark.parametrize("branching", [[], [2, 3]], ids=["two_stage", "tree_2x3"])
def test_decomposition_equals_the_extensive_forms(calibration, populations, fit, branching):
    data = _study_data(calibration, populations, fit, tree={"branching": branching}, **TRADE)
    dec = solve_decomposed(data)
    _check_bounds(dec)
    assert dec.iterations > 1  # the cut loop ran
    direct, ref = solve_extensive(data), solve_inner_pyomo(data)
    assert dec.lower_bound <= direct.objective * (1 + 1e-12)  # a valid bound
    assert dec.objective == pytest.approx(direct.objective, rel=1e-7)
    assert dec.objective == pytest.approx(ref.objective, rel=1e-7)
    # the incumbent's recourse is feasible: the fund never falls below its floor
    floor = data.settings.constraints.liquidity_floor_months / 12.0
    assert np.all(dec.B >= floor * data.expenditure - 1e-7)


def test_the_study_default_is_solved_at_the_expected_value_start(calibration, populations,
                                                                  fit):
    data = _study_data(calibration, populations, fit)
    dec = solve_inner(data)  # the default method
    _check_bounds(dec)
    assert dec.objective == pytest.approx(solve_extensive(data).objective, rel=1e-7)


def test_non_degenerate_case_has_the_same_first_stage_and_duals():
    """Two paths, cheap transfers: the rates rise at their pace limit from 16 % and stop
    where a point of rate costs what it saves in transfers; a unique optimum."""
    settings = _settings(objective={"extra_transfer": 1.25, "smoothing_cny_per_point": 1e8},
                         reserve={"enabled": False}, contribution={"pace_per_year": 0.01},
                         constraints={"liquidity_floor_months": 1.0})
    data = _synthetic(settings, [[10.0, 10.0, 10.0], [12.0, 11.0, 9.0]],
                      [[5.0, 6.5, 7.0], [5.5, 6.0, 8.0]])
    direct, dec = solve_extensive(data), solve_decomposed(data)
    _check_bounds(dec)
    assert dec.objective == pytest.approx(direct.objective, rel=1e-7)
    np.testing.assert_allclose(dec.tau, direct.tau, atol=1e-8)
    np.testing.assert_allclose(dec.X, direct.X, atol=1e-7)
    np.testing.assert_allclose(dec.dual_balance, direct.dual_balance, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dec.dual_horizon, direct.dual_horizon, rtol=1e-6, atol=1e-9)


def test_one_and_two_workers_give_identical_numbers(calibration, populations, fit):
    data = _study_data(calibration, populations, fit, tree={"branching": [2, 3]}, **TRADE)
    one = solve_decomposed(data, workers=1, chunk_paths=2)
    two = solve_decomposed(data, workers=2, chunk_paths=2)
    assert one.iterations == two.iterations and one.objective == two.objective
    for name in ("tau", "B", "X", "dual_balance", "dual_liquidity", "dual_horizon"):
        assert np.array_equal(getattr(one, name), getattr(two, name)), name


def test_feasibility_cuts_find_the_rates_an_unfunded_path_needs():
    """No transfers and no reserve: the second path's pensions are paid only if the rates
    rise, which the expected-value start does not see; feasibility cuts lead the master."""
    settings = _settings(extra_transfer={"enabled": False}, reserve={"enabled": False},
                         contribution={"pace_per_year": 0.02},
                         constraints={"liquidity_floor_months": 0.0,
                                      "horizon_months_target": 0.0})
    data = _synthetic(settings, [[10.0, 10.0, 10.0], [10.0, 10.0, 10.0]],
                      [[1.0, 1.0, 1.0], [2.5, 2.8, 2.9]])
    direct, dec = solve_extensive(data), solve_decomposed(data)
    assert direct.status == "optimal"
    _check_bounds(dec)
    assert dec.objective == pytest.approx(direct.objective, rel=1e-7)


def test_an_unpayable_path_yields_the_smallest_rescue_transfers():
    """The second path's pensions exceed every contribution the rates allow: the problem is
    infeasible, and the rescue problem (decomposed) finds the least money, on that path only,
    equal to the Pyomo reference's."""
    settings = _settings(extra_transfer={"enabled": False}, reserve={"enabled": False},
                         constraints={"liquidity_floor_months": 0.0,
                                      "horizon_months_target": 0.0})
    data = _synthetic(settings, [[10.0, 10.0, 10.0], [10.0, 10.0, 10.0]],
                      [[1.0, 1.0, 1.0], [4.0, 5.0, 6.0]])
    assert solve_inner(data).status == "infeasible"
    rescue = solve_inner(data, rescue=True)
    assert rescue.method == "decomposition" and rescue.status == "optimal"
    ref = solve_inner_pyomo(data, rescue=True)
    assert rescue.objective == pytest.approx(ref.objective, rel=1e-7)
    assert rescue.objective > 0.1
    assert np.all(rescue.R[0] <= 1e-9) and rescue.R[1].sum() > 0.1


def test_policy_search_reports_rescue_money_never_a_bare_infeasible(calibration, populations,
                                                                    fit):
    settings = _settings(extra_transfer={"enabled": False}, reserve={"enabled": False},
                         contribution={"enabled": False}, retirement={"enabled": False})
    problem = setup_problem(calibration, settings, populations, fit)
    psol = optimize_policy(problem)
    assert psol.infeasible and psol.rescue.method == "decomposition"
    assert psol.rescue.objective > 0 and np.nanmax(psol.rescue.R) > 0
    assert psol.binding  # which limits bind is reported beside the money


def test_one_setting_switches_back_to_the_extensive_form(calibration, populations, fit):
    data = _study_data(calibration, populations, fit, solver={"method": "extensive"})
    assert solve_inner(data).method == "extensive"
    pyomo = _study_data(calibration, populations, fit, solver={"method": "pyomo"})
    ref = solve_inner(pyomo)
    assert ref.method == "pyomo"
    assert _settings().solver.method == "decomposition"  # the default


# ----------------------------------------------------------------------------- draw rules
RULE_TRADE = {**TRADE, "reserve": {"enabled": True}, "recourse": {"reserve_draws": "affine"}}


def _rule_synthetic(kind: str) -> ScenarioData:
    """Eight paths over 14 years whose expenditure grows with an observed random-walk state,
    a reserve to draw on by a rule (``"affine"`` in the state, or ``"node"``: one draw per
    node of a two-node tree), transfers at 1.3 a yuan, the rates between 12 % and 20 %."""
    settings = _settings(contribution={"min_rate": 0.12, "max_rate": 0.20,
                                       "pace_per_year": 0.01},
                         constraints={"liquidity_floor_months": 3.0,
                                      "horizon_months_target": 12.0,
                                      "fiscal_capacity": False},
                         objective={"reserve_draw": 0.05, "extra_transfer": 1.3})
    P, T = 8, 14
    rng = np.random.default_rng(np.random.SeedSequence(15))
    obs_years = np.arange(2029, 2030 + T)
    observed = 1.0 + 0.05 * rng.normal(0.0, 1.0, (P, obs_years.size, 2)).cumsum(axis=1)
    years = np.arange(2030, 2030 + T)
    node_of_year = np.where(np.arange(P)[:, None] < P // 2, 1, 2) * (years >= 2034)[None, :]
    basis = (affine_basis(observed, obs_years, years) if kind == "affine"
             else node_basis(node_of_year))
    return ScenarioData(
        years=years, probability=np.full(P, 1.0 / P), node_of_year=node_of_year,
        contribution_base=np.full((P, T), 22.0),
        expenditure=5.0 * np.cumprod(1.0 + 0.05 * observed[:, 1:, 0], axis=1),
        subsidy=np.full(T, 0.5), balance_start=np.full(P, 4.0), reserve_start=np.full(P, 3.0),
        fund_return=np.full(T, 0.02), reserve_return=0.025, individual_account_rate=0.0,
        pooled_rate_before=0.16, discount=1.03 ** -np.arange(T, dtype=float), delay_cost=0.0,
        settings=settings, recourse_basis=basis)


@pytest.mark.parametrize("kind", ["affine", "node"])
def test_decomposition_under_a_draw_rule_equals_the_extensive_form(kind):
    """The rule's coefficients in the master: the same optimum as the extensive form with the
    rule's rows (from arrays and through Pyomo), the same draws, and draws that follow the
    rule (``D = Φ ϑ``) and keep the reserve non-negative on every path."""
    data = _rule_synthetic(kind)
    direct, ref, dec = solve_extensive(data), solve_inner_pyomo(data), solve_decomposed(data)
    _check_bounds(dec)
    assert dec.objective == pytest.approx(direct.objective, rel=1e-7)
    assert dec.objective == pytest.approx(ref.objective, rel=1e-7)
    assert np.abs(dec.D).max() > 0.1  # the reserve is drawn: the rule matters
    np.testing.assert_allclose(dec.D, direct.D, atol=1e-6)
    theta = rule_coefficients(data.recourse_basis, dec.D)
    np.testing.assert_allclose(np.einsum("ptj,tj->pt", data.recourse_basis, theta), dec.D,
                               atol=1e-9)
    assert dec.A.min() >= -1e-8 and dec.D.min() >= -1e-8


def test_the_study_problem_under_a_rule_is_decomposed_and_agrees(calibration, populations,
                                                                fit):
    """The study's problem with an affine draw rule on a 2 × 3 tree: ``solve_inner`` takes the
    decomposition (no longer the extensive form), with the extensive form's value."""
    data = _study_data(calibration, populations, fit, tree={"branching": [2, 3]}, **RULE_TRADE)
    sol = solve_inner(data)
    direct = solve_inner(data, method="extensive")
    assert sol.method == "decomposition" and direct.method == "extensive"
    # (both carry the forced transfers' cost difference: the bounds are the decomposition's)
    assert sol.status == "optimal" and 0.0 <= sol.gap_rel <= TOL * (1 + 1e-9)
    assert sol.objective == pytest.approx(direct.objective, rel=1e-7)
    assert np.abs(sol.D).max() > 0.0


def test_one_and_two_workers_give_identical_numbers_under_a_rule():
    data = _rule_synthetic("affine")
    one = solve_decomposed(data, workers=1, chunk_paths=3)
    two = solve_decomposed(data, workers=2, chunk_paths=3)
    assert one.iterations == two.iterations and one.objective == two.objective
    for name in ("tau", "D", "A", "B", "X", "dual_balance", "dual_horizon"):
        assert np.array_equal(getattr(one, name), getattr(two, name)), name
