"""After a solve: re-simulation (exactness check), value of information, labelled results."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import xarray as xr

from models.config import CATEGORIES
from models.optimize.data import (
    MONEY_SCALE,
    ScenarioData,
    capacity_applies,
    mean_of_paths,
    take_paths,
)
from models.optimize.evaluate import excess_penalty
from models.optimize.lp import InnerSolution
from models.optimize.solve import (
    PolicyProblem,
    capacity_binding,
    PolicySolution,
    rates_for,
    leaf_paths,
    optimize_policy,
    scenario_data,
    solve_inner,
)
from models.pension.accounts import project_accounts

#: an excess below this share of the year's expenditure (plus 1e-12 trillion) is rounding
EXCESS_TOL = 1e-9


def resimulate(problem: PolicyProblem, psol: PolicySolution) -> xr.Dataset:
    """Run the pension accounts on every path under the chosen policy.

    Each leaf's paths use that leaf's delay and indexation paths; pooled rates, reserve
    draws and transfers (plus unpaid pensions in the chance/CVaR variants, and rescue money if
    any) come from the solution. Returns accounts ``[path, year]`` over all simulated years.
    """
    opt = problem.opt_mask
    inner = psol.rescue if psol.infeasible else psol.inner
    years = problem.years
    pieces = []
    for _, paths, delay, share in leaf_paths(problem, psol.levers):
        pr = rates_for(problem, delay, share)
        pooled = np.full((paths.size, years.size),
                         problem.cal.pension.contribution.employer_pooled_rate.value)
        pooled[:, opt] = inner.tau[paths]
        draws = np.zeros((paths.size, years.size))
        draws[:, opt] = inner.D[paths] * MONEY_SCALE
        extra = np.zeros((paths.size, years.size))
        money = inner.X[paths] + inner.U[paths]
        if inner.R is not None:
            money = money + inner.R[paths]
        extra[:, opt] = money * MONEY_SCALE
        coords = {"path": problem.population["path"].values[paths], "year": years}
        acc = project_accounts(
            problem.population.isel(path=paths), pr.schedule, problem.fit, problem.cal.pension,
            problem.cal.finances,
            pooled_rate=xr.DataArray(pooled, dims=("path", "year"), coords=coords),
            reserve_draw=xr.DataArray(draws, dims=("path", "year"), coords=coords),
            extra_transfer=xr.DataArray(extra, dims=("path", "year"), coords=coords),
            rates=pr.rates,
            fund_return=xr.DataArray(problem.fund_return, dims="year", coords={"year": years}),
            reserve_return=None if problem.reserve_return is None else xr.DataArray(
                problem.reserve_return, dims="year", coords={"year": years}))
        pieces.append(acc)
    return xr.concat(pieces, dim="path", data_vars="all").sortby("path")


def exactness(problem: PolicyProblem, psol: PolicySolution, resim: xr.Dataset) -> dict:
    """Largest relative gap, year by year on every path, between the optimizer's accounts and
    the re-simulated ones (fund balance, reserve assets, contributions, expenditure)."""
    inner = psol.rescue if psol.infeasible else psol.inner
    data = psol.data
    opt = problem.opt_mask
    model = {
        "balance_end_cny": inner.B * MONEY_SCALE,
        "reserve_assets_end_cny": inner.A * MONEY_SCALE,
        "contributions_cny": data.contribution_base * (inner.tau + data.individual_account_rate)
        * MONEY_SCALE,
        "expenditure_cny": data.expenditure * MONEY_SCALE,
    }
    out = {}
    for name, value in model.items():
        sim = resim[name].transpose("path", "year").values[:, opt]
        scale = np.maximum(np.abs(sim), 1e-6 * np.abs(resim["expenditure_cny"].values[:, opt]))
        out[name] = float(np.max(np.abs(value - sim) / scale))
    return out


def value_of_information(problem: PolicyProblem, psol: PolicySolution) -> dict:
    """VSS and EVPI of the pooled-rate and reserve decisions (retirement delays fixed at the
    stochastic solution, so the three problems differ only in what is known when):

    * RP: the stochastic (recourse) problem's expected cost;
    * WS: each path solved alone with perfect foresight, averaged; EVPI = RP − WS ≥ 0;
    * EEV: the first-stage pooled rates of the expected-value problem (all paths replaced by
      their mean) imposed on the tree, the rest re-optimised; VSS = EEV − RP ≥ 0.
    Values in yuan. Not computed for an infeasible problem. With a fiscal capacity each value
    also has its penalty part, the premium ``(w_e − w_x) Σ_t δ_t R_t`` on money beyond the
    capacity (:func:`models.optimize.evaluate.excess_penalty`): ``vss_penalty_cny`` and
    ``evpi_penalty_cny`` (the rest of each is money at the transfer weight).
    """
    if psol.infeasible:
        return {}
    data = psol.data
    rp = psol.inner.objective
    ws = ws_penalty = 0.0
    for p in range(data.n_paths):
        single = _subset(data, [p])
        sol = solve_inner(single, duals=False)
        ws += data.probability[p] * sol.objective
        ws_penalty += data.probability[p] * _penalty(single, sol)
    mean = _mean_scenario(data)
    ev = solve_inner(mean, duals=False)
    first_stage_years = data.node_of_year[0] == 0  # the root governs these years
    fixed = dict(first_stage_years=first_stage_years, rates=ev.tau[0])
    eev = solve_inner(_with_fixed_first_stage(data, fixed), duals=False)
    rp_penalty = _penalty(data, psol.inner)
    return {"rp_cny": rp * MONEY_SCALE, "ws_cny": ws * MONEY_SCALE,
            "eev_cny": eev.objective * MONEY_SCALE,
            "evpi_cny": (rp - ws) * MONEY_SCALE, "vss_cny": (eev.objective - rp) * MONEY_SCALE,
            "evpi_penalty_cny": (rp_penalty - ws_penalty) * MONEY_SCALE,
            "vss_penalty_cny": (_penalty(data, eev) - rp_penalty) * MONEY_SCALE}


def _penalty(data: ScenarioData, sol: InnerSolution) -> float:
    """The expected penalty part of a solution's objective (model units; 0 without a
    capacity): ``Σ_p π_p (w_e − w_x) Σ_t δ_t R_pt``."""
    return float(data.probability @ excess_penalty(data, sol.R)) / MONEY_SCALE


def _subset(data: ScenarioData, paths: list[int]) -> ScenarioData:
    idx = np.asarray(paths)
    return replace(data, probability=np.full(idx.size, 1.0 / idx.size),
                   node_of_year=np.zeros((idx.size, data.node_of_year.shape[1]), dtype=int),
                   **take_paths(data, idx))


def _mean_scenario(data: ScenarioData) -> ScenarioData:
    return replace(data, probability=np.ones(1), node_of_year=np.zeros(
        (1, data.node_of_year.shape[1]), dtype=int), **mean_of_paths(data))


def _with_fixed_first_stage(data: ScenarioData, fixed: dict) -> ScenarioData:
    """The same data with the root node's pooled rates pinned to ``fixed["rates"]`` in the
    years the root governs (``ScenarioData.fixed_rates``, which the model builder fixes)."""
    return replace(data, fixed_rates={t: float(fixed["rates"][t])
                                      for t in np.flatnonzero(fixed["first_stage_years"])})


def capacity_results(data: ScenarioData, inner) -> xr.Dataset:
    """The fiscal capacity and the excess over it (:mod:`models.optimize.data`): GDP, the
    capacity and the excess per path and year (yuan), the probability of paying every pension
    within the capacity, and the expected discounted excess and its penalty."""
    money = "yuan per year (base-year prices)"
    excess = np.where(inner.R > EXCESS_TOL * (1.0 + data.expenditure), inner.R, 0.0)
    within = ~np.any(excess > 0.0, axis=1)
    expected = float(data.probability @ (excess @ data.discount))
    weight = data.settings.objective.excess_over_capacity
    return xr.Dataset({
        "opt_gdp_cny": (("path", "year"), data.gdp * MONEY_SCALE, {"units": money}),
        "opt_transfer_capacity_cny": (("path", "year"), data.transfer_capacity * MONEY_SCALE,
                                      {"units": money}),
        "opt_excess_over_capacity_cny": (("path", "year"), excess * MONEY_SCALE,
                                         {"units": money}),
        "opt_paid_within_capacity_probability": ((), float(data.probability @ within)),
        "opt_excess_expected_cny": ((), expected * MONEY_SCALE),
        "opt_excess_penalty_cny": ((), weight * expected * MONEY_SCALE),
    }, coords={"year": data.years})


def _policy_by_node(problem: PolicyProblem, psol: PolicySolution, inner: InnerSolution
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The policy of each node in the years of its stage (NaN elsewhere): pooled rate
    ``(node, year)``, extra retirement delay in months ``(node, year, category)`` and the
    indexation share ``(node, year)`` (the calibrated share when that lever is off)."""
    tree, years = problem.tree, problem.opt_years
    rate = np.full((tree.n_nodes, years.size), np.nan)
    for (n, t), v in inner.tau_node.items():
        rate[n, t] = v
    delay = np.full((tree.n_nodes, years.size, len(CATEGORIES)), np.nan)
    indexation = np.full((tree.n_nodes, years.size), np.nan)
    for leaf, _, full_delay, share in leaf_paths(problem, psol.levers):
        d = full_delay[problem.opt_mask]
        idx = (np.full(len(problem.years), problem.calibrated_indexation) if share is None
               else share)[problem.opt_mask]
        for n in tree.ancestors(leaf):
            own = tree.stage_of_year(years) == tree.stage_of_node[n]
            delay[n, own] = d[own]
            indexation[n, own] = idx[own]
    return rate, delay, indexation


def to_dataset(problem: PolicyProblem, psol: PolicySolution, resim: xr.Dataset,
               check: dict, voi: dict) -> xr.Dataset:
    """Labelled results: policy by node and year, recourse and fund by path and year."""
    tree = problem.tree
    inner = psol.rescue if psol.infeasible else psol.inner
    years = problem.opt_years
    nodes = np.arange(tree.n_nodes)
    rate, delay, indexation = _policy_by_node(problem, psol, inner)
    paths = problem.population["path"].values
    money = "yuan per year (base-year prices)"
    ds = xr.Dataset(
        {
            "policy_pooled_rate": (("node", "year"), rate,
                                   {"units": "fraction of contribution base",
                                    "long_name": "optimal pooled contribution rate by node"}),
            "policy_extra_delay_months": (("node", "year", "category"), delay,
                                          {"units": "months",
                                           "long_name": "optimal retirement delay beyond the law "
                                                        "(cohorts reaching the law's age that year)"}),
            "policy_indexation_share": (("node", "year"), indexation,
                                        {"units": "fraction of real wage growth",
                                         "long_name": "indexation of pensions in payment by "
                                                      "node (the calibrated share when the "
                                                      "lever is off)"}),
            "node_stage": ("node", tree.stage_of_node, {"units": "1", "long_name": "stage"}),
            "node_parent": ("node", tree.parent, {"units": "1", "long_name": "parent node"}),
            "path_node": (("path", "stage"), tree.node_of, {"units": "1",
                                                            "long_name": "node of each path"}),
            "stage_year": ("stage", tree.stage_years, {"units": "calendar year",
                                                       "long_name": "first year of the stage"}),
            "opt_reserve_draw_cny": (("path", "year"), inner.D * MONEY_SCALE,
                                     {"units": money, "long_name": "reserve draw"}),
            "opt_extra_transfer_cny": (("path", "year"), inner.X * MONEY_SCALE,
                                       {"units": money, "long_name": "extra fiscal transfer"}),
            "opt_unpaid_pensions_cny": (("path", "year"), inner.U * MONEY_SCALE,
                                        {"units": money, "long_name": "pensions not paid in full"}),
            "opt_fund_balance_cny": (("path", "year"), inner.B * MONEY_SCALE,
                                     {"units": "yuan (base-year prices)",
                                      "long_name": "fund balance at year end (optimizer)"}),
            "opt_reserve_assets_cny": (("path", "year"), inner.A * MONEY_SCALE,
                                       {"units": "yuan (base-year prices)",
                                        "long_name": "NSSF assets at year end (optimizer)"}),
            "opt_months_payable": (("path", "year"), inner.B / (psol.data.expenditure / 12.0),
                                   {"units": "months",
                                    "long_name": "year-end balance / monthly expenditure"}),
            "opt_discount_factor": ("year", problem.discount),
        },
        coords={"node": nodes, "year": years, "category": list(CATEGORIES), "path": paths,
                "stage": np.arange(tree.stage_years.size)},
    )
    if psol.infeasible and psol.rescue is not None:
        ds["rescue_transfer_cny"] = (("path", "year"), psol.rescue.R * MONEY_SCALE,
                                     {"units": money,
                                      "long_name": "smallest extra transfer that pays every "
                                                   "pension in full"})
    if capacity_applies(psol.data) and not psol.infeasible:
        ds = ds.merge(capacity_results(psol.data, inner))
    if inner.dual_liquidity is not None:
        ds["dual_liquidity"] = (("path", "year"), inner.dual_liquidity,
                                {"units": "yuan of expected cost per yuan of required balance",
                                 "long_name": "shadow price of the liquidity floor"})
        ds["dual_balance"] = (("path", "year"), inner.dual_balance,
                              {"units": "yuan of expected cost per yuan of fund inflow",
                               "long_name": "shadow price of the fund balance equation"})
    ds["opt_objective_cny"] = ((), inner.objective * MONEY_SCALE,
                               {"units": "yuan (expected, discounted)",
                                "long_name": "optimal expected discounted cost"
                                if not psol.infeasible else "expected discounted rescue money"})
    for key, value in check.items():
        ds[f"exactness_{key}"] = ((), value, {"units": "1", "long_name":
                                              f"max relative gap optimizer vs re-simulation: {key}"})
    for key, value in voi.items():
        ds[key.replace("_cny", "") + "_cny"] = ((), value, {"units": "yuan (expected, discounted)",
                                                           "long_name": key.split("_")[0].upper()})
    binding = list(psol.binding)
    if capacity_applies(psol.data) and not psol.infeasible:
        binding += capacity_binding(psol.data, inner)
    ds.attrs.update(status="infeasible_without_rescue" if psol.infeasible else inner.status,
                    binding="; ".join(binding))
    return ds


__all__ = ["resimulate", "exactness", "value_of_information", "to_dataset", "optimize_policy",
           "scenario_data"]
