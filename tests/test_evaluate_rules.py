"""Out-of-sample evaluation of multi-stage policies with a k-means tree and a reserve-draw
rule (issue 16, items 4 and 6; :mod:`models.optimize.evaluate`): fresh paths placed in the
tree by the nearest k-means centre on what they observed up to each stage, the rule's
coefficients applied to each fresh path's own state, transfers forced. The policy evaluated
on copies of its own paths gives back its in-sample optimum; a fresh path's early decisions
do not depend on its future."""

from dataclasses import replace

import numpy as np
import pytest
import xarray as xr

from models.config import OptimizationSettings
from models.optimize.evaluate import (
    assign_nodes,
    evaluate_fixed,
    fitted_rule,
    fresh_problem,
    misplaced_in_sample,
    out_of_sample,
    rule_prefund,
)
from models.optimize.rules import prefund_shares
from models.optimize.solve import optimize_policy, setup_problem
from models.optimize.tree import build_tree
from models.pipeline.optimization import evaluation_skipped
from models.report.optimization import answer_guarantee_frame

#: Multi-stage as experiments/optimal_multi_stage.toml, at test size: stages 2026/2031/2036,
#: 2 x 2 k-means tree on the dependency ratio and births, affine draw rule, a capacity.
MULTI = OptimizationSettings.model_validate({
    "retirement": {"max_outer_iterations": 1},
    "tree": {"first_decision_year": 2026, "stage_every_years": 5, "branching": [2, 2],
             "grouping": "kmeans", "extra_observables": ["births"]},
    "recourse": {"reserve_draws": "affine",
                 "observables": ["old_age_dependency", "population_60plus"]},
    "objective": {"reserve_draw": 0.05},
    "solver": {"method": "extensive"},
})


def test_kmeans_placement_puts_in_sample_copies_in_their_own_nodes():
    """Copies of the in-sample paths land in their own k-means nodes (3 observables, 2 x 3
    tree), also when placed without the others; a path moved onto another child's centre is
    placed in that child."""
    rng = np.random.default_rng(np.random.SeedSequence(5))
    years = np.arange(2020, 2041)
    obs = np.cumsum(rng.normal(size=(30, years.size, 3)), axis=1)
    tree = build_tree(obs, years, [2026, 2031, 2036], [2, 3], grouping="kmeans")
    again = assign_nodes(tree, obs, obs, years, "kmeans")
    np.testing.assert_array_equal(again.node_of, tree.node_of)
    assert misplaced_in_sample(tree, obs, years, "kmeans") == 0
    # a fresh path's node does not depend on the other fresh paths
    np.testing.assert_array_equal(assign_nodes(tree, obs, obs[:3], years, "kmeans").node_of,
                                  tree.node_of[:3])
    # path 0 given, from 2030 on, the state of a path in the other stage-1 child
    other = int(np.flatnonzero(tree.node_of[:, 1] != tree.node_of[0, 1])[0])
    moved = obs.copy()
    moved[0, years >= 2030] = obs[other, years >= 2030]
    placed = assign_nodes(tree, obs, moved, years, "kmeans")
    assert placed.node_of[0, 1] == tree.node_of[other, 1]


@pytest.fixture(scope="module")
def solved(calibration, populations, fit):
    problem = setup_problem(calibration, MULTI, populations, fit)
    return problem, optimize_policy(problem)


def test_rule_policy_on_copies_of_its_paths_reproduces_the_in_sample_optimum(
        calibration, populations, fit, solved):
    """Fresh paths = the training paths, set up afresh: the same nodes, the rule's draws and
    the forced transfers give each path its in-sample recourse, and the mean cost is the
    optimizer's objective (delay, indexation and smoothing costs included)."""
    problem, psol = solved
    assert problem.recourse_basis is not None and psol.inner.D.max() > 0  # the rule draws
    assert len(problem.tree.leaves()) == 4
    fresh = fresh_problem(problem, setup_problem(calibration, MULTI, populations, fit))
    np.testing.assert_array_equal(fresh.tree.node_of, problem.tree.node_of)
    np.testing.assert_allclose(fresh.recourse_basis, problem.recourse_basis, atol=1e-12)
    out = evaluate_fixed(fresh, psol.levers, psol.inner.tau_node,
                         theta=fitted_rule(psol.data, psol.inner),
                         prefund=psol.inner.prefund)
    assert out.draws_cut == 0
    np.testing.assert_allclose(out.draw_cny, psol.inner.D * 1e12, rtol=1e-6, atol=1e3)
    np.testing.assert_allclose(out.transfer_cny, psol.inner.X * 1e12, rtol=1e-6, atol=1e3)
    assert float(fresh.tree.probability @ out.cost_cny) == pytest.approx(
        psol.inner.objective * 1e12, rel=1e-7)
    stats = out_of_sample(problem, psol, fresh_problem(problem, fresh), compare=False)
    assert stats.misplaced == 0  # copies of the in-sample paths: Lloyd placed each
    np.testing.assert_array_equal(stats.prefund, psol.inner.prefund)  # the hard solve's
    assert stats.estimates()["cost"].value == pytest.approx(psol.inner.objective * 1e12,
                                                            rel=1e-7)


def test_node_rule_on_copies_of_its_paths_reproduces_the_in_sample_optimum(
        calibration, populations, fit):
    """The same with one draw per node and year (``reserve_draws = "node"``): the fresh
    copies' basis is their placement's node indicator."""
    settings = MULTI.model_copy(update={"recourse": MULTI.recourse.model_copy(
        update={"reserve_draws": "node"})})
    problem = setup_problem(calibration, settings, populations, fit)
    psol = optimize_policy(problem)
    fresh = fresh_problem(problem, setup_problem(calibration, settings, populations, fit))
    np.testing.assert_array_equal(fresh.recourse_basis, problem.recourse_basis)
    out = evaluate_fixed(fresh, psol.levers, psol.inner.tau_node,
                         theta=fitted_rule(psol.data, psol.inner),
                         prefund=psol.inner.prefund)
    assert float(fresh.tree.probability @ out.cost_cny) == pytest.approx(
        psol.inner.objective * 1e12, rel=1e-7)


def test_a_fresh_paths_early_decisions_do_not_depend_on_its_future(
        calibration, populations, fit, solved):
    """A fresh path whose population aged 60+ is cut to 30 % from 2034 on (path 0 has the
    most old people: a tree reading 2034 would move it to another node) keeps its rate, node,
    draw and transfer of every year before 2034 (and of the stage begun in 2031), and the
    other paths keep all theirs; its later decisions move (so the check can fail)."""
    problem, psol = solved
    theta = fitted_rule(psol.data, psol.inner)
    later_old = (populations["year"] >= 2034) & (populations["age"] >= 60)
    future = populations.copy()
    future[0] = populations[0].where(~later_old, populations[0] * 0.3)
    runs = []
    for pop in (populations, future):
        fresh = fresh_problem(problem, setup_problem(calibration, MULTI, pop, fit))
        runs.append((fresh, evaluate_fixed(fresh, psol.levers, psol.inner.tau_node,
                                           theta=theta, prefund=psol.inner.prefund)))
    (a, ea), (b, eb) = runs
    early = problem.opt_years < 2034
    np.testing.assert_array_equal(a.tree.node_of[:, :2], b.tree.node_of[:, :2])
    for name in ("tau", "draw_cny", "transfer_cny", "excess_cny"):
        np.testing.assert_allclose(getattr(ea, name)[:, early], getattr(eb, name)[:, early],
                                   rtol=1e-12, atol=1e-3)
        np.testing.assert_allclose(getattr(ea, name)[1:], getattr(eb, name)[1:], rtol=1e-12,
                                   atol=1e-3)  # the other paths: rounding of vector sums
    late = (np.abs(ea.draw_cny[0, ~early] - eb.draw_cny[0, ~early]).max()
            + np.abs(ea.transfer_cny[0, ~early] - eb.transfer_cny[0, ~early]).max())
    assert late > 0 or a.tree.node_of[0, 2] != b.tree.node_of[0, 2]


def test_every_recourse_and_tree_is_evaluated_and_a_skip_says_why():
    """Runs with a draw rule and a k-means tree are evaluated out of sample (they were
    skipped); a run that is not evaluated or not certified says why in its answer table."""
    assert evaluation_skipped(MULTI, True, False) is None
    assert evaluation_skipped(OptimizationSettings(), True, False) is None
    off = MULTI.model_copy(update={"evaluation": MULTI.evaluation.model_copy(
        update={"enabled": False})})
    reason = evaluation_skipped(off, True, False)
    assert "enabled = false" in reason
    assert evaluation_skipped(MULTI, True, True).startswith("no feasible policy")
    ds = xr.Dataset(attrs={"opt_out_of_sample_skipped": reason,
                           "opt_certificate_skipped": "polish off"})
    rows = answer_guarantee_frame(ds).frame.values.tolist()
    assert rows == [["out-of-sample statistics", f"not evaluated: {reason}"],
                    ["search", "not certified: polish off"]]
    ds = xr.Dataset({"oos_value": ("statistic", [np.nan])}, coords={"statistic": ["vss_cny"]},
                    attrs={"opt_optimality_gap_skipped": "why"})
    assert ["optimality gap", "not bounded: why"] in answer_guarantee_frame(
        ds).frame.values.tolist()


def test_answer_table_reports_the_vss_split_and_the_tree_placement():
    """The guarantee table lists the VSS's money and penalty parts after the VSS, and, for a
    tree with more than one node, how many in-sample paths the fresh paths' placement rule
    puts elsewhere (of the optimized paths); not for a one-node tree."""
    names = ["vss_cny", "vss_money_cny", "vss_penalty_cny"]
    values = [5.0e12, 1.0e12, 4.0e12]
    ds = xr.Dataset({"oos_value": ("statistic", values), "oos_low": ("statistic", values),
                     "oos_high": ("statistic", values),
                     "oos_samples": ("statistic", [12, 12, 12]),
                     "oos_confidence_level": ((), 0.95), "oos_paths": ((), 12),
                     "oos_misplaced_in_sample": ((), 2),
                     "opt_fund_balance_cny": (("path", "year"), np.ones((7, 2))),
                     "policy_pooled_rate": (("node", "year"), np.ones((3, 2))),
                     "oos_rule_prefund_share": ("year", [0.0, 0.9])},
                    coords={"statistic": names, "year": [2030, 2031]})
    rows = answer_guarantee_frame(ds).frame.values.tolist()
    assert [r[0].split(",")[0].strip() for r in rows[:3]] == [
        "value of the stochastic solution", "VSS", "VSS"]
    assert "money part" in rows[1][0] and "penalty part" in rows[2][0]
    assert rows[1][1].startswith("1.000") and rows[2][1].startswith("4.000")
    assert rows[3] == ["transfers under the reserve-draw rule", "at least 90 % of the year's "
                       "fiscal capacity (mean over 1 years from 2031; the share the in-sample "
                       "solution uses on average), more when the shortfall forces it: "
                       "pre-funding, cheaper in sample than just in time"]
    just_in_time = ds.assign(oos_rule_prefund_share=("year", [0.0, 0.0]))
    assert answer_guarantee_frame(just_in_time).frame.values.tolist()[3][1].startswith(
        "just in time")
    assert rows[4] == ["tree placement of fresh paths", "2 of 7 in-sample paths placed again "
                       "in another node than the tree's (0: fresh paths are placed by the "
                       "rule that built the tree)"]
    one_node = ds.isel(node=slice(0, 1))
    assert "tree placement of fresh paths" not in [
        r[0] for r in answer_guarantee_frame(one_node).frame.values.tolist()]


def test_chance_variant_chooses_the_pre_funding_on_its_own_paths(solved):
    """A chance (or CVaR) variant forces nothing in sample, so the evaluation chooses the
    rule's pre-funding itself: the capacity's mean share of the solver's transfers when it
    costs less on the in-sample paths than just in time (here, as in the hard solve, where
    the capacity binds), and the hard variant keeps its solve's choice."""
    problem, psol = solved
    theta = fitted_rule(psol.data, psol.inner)
    assert psol.inner.prefund is not None  # the hard solve pre-funds
    assert rule_prefund(problem, psol, theta) is psol.inner.prefund
    chance = psol.data.settings.model_copy(update={"constraints": psol.data.settings
                                                   .constraints.model_copy(
                                                       update={"chance_alpha": 0.05})})
    as_chance = replace(psol, data=replace(psol.data, settings=chance),
                        inner=replace(psol.inner, prefund=None))
    kappa = rule_prefund(problem, as_chance, theta)
    np.testing.assert_allclose(kappa, prefund_shares(psol.data, psol.inner.X))
    costs = [float(problem.tree.probability @ evaluate_fixed(
        problem, psol.levers, psol.inner.tau_node, theta=theta, prefund=k).cost_cny)
        for k in (None, kappa)]
    assert costs[1] < costs[0]
    assert rule_prefund(problem, as_chance, None) is None  # no rule: nothing to pre-fund
