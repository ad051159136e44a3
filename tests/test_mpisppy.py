"""mpi-sppy adapter: scenario tree naming, the extensive form against our own, progressive
hedging on 2 MPI ranks against the extensive form (bounds that bracket it), and the L-shaped
decomposition with its chunks dealt over 2 ranks: the numbers of one process, also under a
reserve-draw rule (whose basis the saved inputs carry; PH refuses a rule it cannot model).

The EF tests need mpi4py (with an MPI library) and mpi-sppy (`make setup-mpi`); the PH tests
also need an ``mpiexec`` launcher. Without them they skip with the reason.
"""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from models.config import CATEGORIES
from models.optimize.mpisppy_adapter import (
    AGREEMENT_TOLERANCE,
    load_inputs,
    save_inputs,
    scenario_creator,
    tree_names,
    xbar_rates,
)
from models.optimize.rules import rule_coefficients
from models.optimize.data import take_paths
from models.optimize.decompose import solve_decomposed
from models.optimize.solve import scenario_data, setup_problem, solve_inner
from models.optimize.tree import build_tree
from tests.test_decomposition import _rule_synthetic

ROOT = Path(__file__).resolve().parents[1]


def _mpi_missing() -> str | None:
    try:
        import mpisppy  # noqa: F401
    except ImportError as exc:
        return f"mpi-sppy is not installed ({exc}); run `make setup-mpi`"
    try:
        from mpi4py import MPI  # noqa: F401
    except (ImportError, RuntimeError) as exc:
        return f"mpi4py cannot load an MPI library ({exc}); run `make setup-mpi`"
    return None


def _launcher() -> str | None:
    return shutil.which("mpiexec") or shutil.which("mpirun")


needs_mpisppy = pytest.mark.skipif(_mpi_missing() is not None, reason=str(_mpi_missing()))
needs_mpiexec = pytest.mark.skipif(
    _mpi_missing() is not None or _launcher() is None,
    reason=str(_mpi_missing() or "no mpiexec/mpirun on PATH; run `make setup-mpi`"))


# ----------------------------------------------------------------------------- pure parts
def test_tree_names_keep_every_nodes_paths_contiguous():
    """Branching [2, 3] over 12 paths: mpi-sppy's names, one leaf per path, contiguous
    scenario ranges per node, conditional probabilities from path probabilities."""
    years = np.arange(2020, 2040)
    obs = np.random.default_rng(np.random.SeedSequence(7)).uniform(size=(12, years.size))
    tree = build_tree(obs, years, [2026, 2031, 2036], [2, 3])
    names = tree_names(tree)
    assert names.branching_factors == [2, 3]
    assert names.node_name[0] == "ROOT"
    assert sorted(names.node_name.values())[:3] == ["ROOT", "ROOT_0", "ROOT_0_0"]
    leaves = [n for n in names.all_nodenames if n.count("_") == 3]
    assert len(leaves) == tree.n_paths == len(names.scenario_names)
    order = [names.path_of[s] for s in names.scenario_names]
    assert sorted(order) == list(range(12))
    for n in range(tree.n_nodes):  # each node's paths are one block of the scenario list
        pos = np.flatnonzero(np.isin(order, tree.paths_of_node(n)))
        assert np.array_equal(pos, np.arange(pos[0], pos[0] + pos.size))
        assert names.node_probability[n] == pytest.approx(tree.paths_of_node(n).size / 12)


def test_two_stage_tree_needs_no_node_list():
    tree = build_tree(np.ones((4, 3)), np.arange(2024, 2027), [2025], [])
    names = tree_names(tree)
    assert names.all_nodenames is None and not names.multistage
    assert names.scenario_names == ["path0", "path1", "path2", "path3"]


def test_xbar_rates_respect_bounds_and_pace_and_depend_only_on_the_past():
    xbar = np.array([0.30, 0.10, 0.11, 0.19, 0.19])
    out = xbar_rates(xbar, before=0.16, lo=0.12, hi=0.20, pace=0.02)
    np.testing.assert_allclose(out, [0.18, 0.16, 0.14, 0.16, 0.18])
    assert np.all(np.abs(np.diff(np.r_[0.16, out])) <= 0.02 + 1e-15)
    changed = xbar.copy()
    changed[3:] = 0.12  # a later average never moves an earlier rate
    np.testing.assert_array_equal(xbar_rates(changed, 0.16, 0.12, 0.20, 0.02)[:3], out[:3])


def test_chance_constraints_are_refused_with_a_reason():
    from models.optimize.mpisppy_adapter import scenario_creator
    from tests.test_optimize import TINY_SETTINGS, _tiny

    settings = TINY_SETTINGS.model_copy(update={"constraints": TINY_SETTINGS.constraints
                                                .model_copy(update={"chance_alpha": 0.1})})
    data = _tiny(settings)
    tree = build_tree(np.ones((1, 2)), data.years, [2026], [])
    with pytest.raises(ValueError, match="does not decompose"):
        scenario_creator("path0", data=data, tree=tree)


# ----------------------------------------------------------------------------- test problems
def _inner_problem(calibration, arrays, fit, n_paths: int, branching: list[int], **over):
    """The inner problem on ``n_paths`` deterministic scenarios (fertility x0.6..1.4, the
    mortality index shifted), the delay lever off. A higher rate cap than the default
    (0.30, pace 1 point a year) lets the paths want different rates, so the wait-and-see
    bound lies strictly below the stochastic solution and PH has work to do."""
    from tests.scenarios import scenario_populations
    from tests.test_optimize import _settings

    populations = scenario_populations(arrays, np.linspace(0.6, 1.4, n_paths),
                                       np.linspace(3.0, -3.0, n_paths))
    settings = _settings(retirement={"enabled": False}, tree={"branching": branching},
                         contribution={"max_rate": 0.30, "pace_per_year": 0.01}, **over)
    problem = setup_problem(calibration, settings, populations, fit)
    knots = np.zeros((problem.tree.n_nodes, len(problem.knot_yrs), len(CATEGORIES)))
    return scenario_data(problem, knots), problem.tree


PROBLEMS = {"two-stage, 6 paths": (6, []), "three-stage, 6 paths": (6, [2]),
            "four-stage, 12 paths": (12, [2, 3])}


@pytest.fixture(scope="module")
def problems(calibration, arrays, fit):
    return {name: _inner_problem(calibration, arrays, fit, n, b)
            for name, (n, b) in PROBLEMS.items()}


# ----------------------------------------------------------------------------- extensive form
@needs_mpisppy
@pytest.mark.mpi
@pytest.mark.parametrize("name", list(PROBLEMS))
def test_mpisppy_extensive_form_equals_our_own(problems, name):
    from models.optimize.mpisppy_adapter import solve_extensive_form

    data, tree = problems[name]
    ours = solve_inner(data, duals=False)
    ef = solve_extensive_form(data, tree)
    assert ours.status == "optimal" and ef.status == "optimal"
    assert ef.used == "ExtensiveForm"
    assert ef.objective == pytest.approx(ours.objective, rel=1e-6)
    stage0 = tree.stage_of_year(data.years) == 0
    np.testing.assert_allclose(ef.tau_root, ours.tau[0, stage0], atol=1e-6)


@needs_mpisppy
@pytest.mark.mpi
def test_rho_is_the_same_in_every_scenario(problems):
    """PH's W sum to zero at each node only with one rho per nonant across scenarios (a
    per-path rho gave a Lagrangian "lower" bound above the optimum)."""
    from models.optimize.mpisppy_adapter import cost_scaled_rho, kw_creator, scenario_creator

    data, tree = problems["three-stage, 6 paths"]
    kwargs, setter = kw_creator(data, tree), cost_scaled_rho(data)
    rhos = [[rho for _, rho in setter(scenario_creator(name, **kwargs))]
            for name in kwargs["names"].scenario_names]
    assert all(r == rhos[0] for r in rhos) and min(rhos[0]) > 0


@needs_mpisppy
@pytest.mark.mpi
def test_mpisppy_extensive_form_with_a_cvar_limit_equals_our_own(calibration, arrays, fit):
    """CVaR variant: eta first-stage in every scenario, the limit one row across them."""
    from models.optimize.mpisppy_adapter import solve_extensive_form

    data, tree = _inner_problem(calibration, arrays, fit, 6, [],
                                extra_transfer={"enabled": False},
                                objective={"shortfall": 0.5},
                                constraints={"cvar_beta": 0.8, "cvar_limit_cny": 5e14})
    ours = solve_inner(data, duals=False)
    ef = solve_extensive_form(data, tree)
    assert ef.objective == pytest.approx(ours.objective, rel=1e-6)
    assert ef.cvar_multiplier is not None and ef.cvar_multiplier >= 0.0


# ----------------------------------------------------------------------------- PH on 2 ranks
def _mpiexec(n: int) -> list[str]:
    launcher = _launcher()
    cmd = [launcher, "-n", str(n)]
    version = subprocess.run([launcher, "--version"], capture_output=True, text=True).stdout
    if "Open MPI" in version or "OpenRTE" in version:
        cmd[1:1] = ["--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
    return cmd


def _run_ph(data, tree, tmp_path: Path, ranks: int = 2, method: str = "ph",
            extra: tuple = ()) -> dict:
    inputs, out = tmp_path / "inputs.npz", tmp_path / "distributed.json"
    save_inputs(inputs, data, tree)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMPI_", "PMIX_", "PMI_", "HYDRA_"))}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = _mpiexec(ranks) + [sys.executable, "-m", "models.optimize.mpisppy_adapter",
                             "--inputs", str(inputs), "--out", str(out), "--rel-gap", "1e-6",
                             "--max-iterations", "60", "--method", method, *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


def _wait_and_see(data) -> float:
    """Expected cost with perfect foresight (each path alone): the trivial lower bound."""
    total = 0.0
    for p in range(data.n_paths):
        one = replace(data, probability=np.ones(1), node_of_year=np.zeros(
            (1, data.years.size), dtype=int), **take_paths(data, np.array([p])))
        total += data.probability[p] * solve_inner(one, duals=False).objective
    return total


@needs_mpiexec
@pytest.mark.mpi
@pytest.mark.slow
@pytest.mark.parametrize("name", ["two-stage, 6 paths", "three-stage, 6 paths"])
def test_ph_on_two_ranks_agrees_with_the_extensive_form(problems, name, tmp_path):
    """PH (hub + Lagrangian spoke, inner bounds from x-bar) on 2 ranks: its best policy
    costs what the EF costs within 0.5 %, and its bounds bracket the EF objective. The gap is
    also smaller than the value of perfect information, so the bounds say more than the
    trivial (wait-and-see) bound does."""
    data, tree = problems[name]
    ef = solve_inner(data, duals=False).objective
    ph = _run_ph(data, tree, tmp_path)
    tol = 1e-7 * abs(ef)
    assert ph["ranks"] == 2 and ph["cylinders"] == ["ph", "lagrangian"]
    assert abs(ph["objective_trillion_cny"] - ef) <= AGREEMENT_TOLERANCE * abs(ef)
    assert ph["outer_bound_trillion_cny"] <= ef + tol
    assert ef <= ph["inner_bound_trillion_cny"] + tol
    # the gap must be no larger than the value of perfect information (else the bounds say
    # less than the trivial wait-and-see bound). With the accounts of the pension-system issue
    # these problems' paths all want the rate cap from the start, so EVPI is 0 to rounding and
    # the gap must then be 0 to the tolerance.
    evpi = ef - _wait_and_see(data)
    assert evpi >= -tol
    assert ph["gap_abs_trillion_cny"] <= max(evpi, tol)


@needs_mpiexec
@pytest.mark.mpi
@pytest.mark.slow
def test_lshaped_over_two_ranks_gives_the_numbers_of_one_process(problems, tmp_path):
    """The recourse chunks (one path each here) dealt over 2 ranks: the objective, the bound,
    the first-stage rates and every path's fund of the serial decomposition, to the last
    bit."""
    data, tree = problems["three-stage, 6 paths"]
    data = replace(data, settings=data.settings.model_copy(update={
        "solver": data.settings.solver.model_copy(update={"threads": 1})}))
    serial = solve_decomposed(data, tolerance=1e-6, max_iterations=60, chunk_paths=1)
    out = _run_ph(data, tree, tmp_path, method="lshaped", extra=("--chunk-paths", "1"))
    assert out["ranks"] == 2 and out["method"] == "lshaped"
    assert out["objective_trillion_cny"] == serial.objective
    assert out["lower_bound_trillion_cny"] == serial.lower_bound
    assert out["iterations"] == serial.iterations
    stage0 = tree.stage_of_year(data.years) == 0
    assert out["tau_root"] == serial.tau[0, stage0].tolist()
    assert out["fund_balance_last_year_trillion_cny"] == serial.B[:, -1].tolist()
    assert len(set(out["fund_balance_last_year_trillion_cny"])) == data.n_paths  # paths differ


# ----------------------------------------------------------------------------- draw rules
def _rule_inputs():
    """The affine draw-rule problem of ``tests/test_decomposition.py`` and a two-stage tree."""
    data = _rule_synthetic("affine")
    tree = build_tree(np.ones((data.n_paths, data.years.size)), data.years,
                      [int(data.years[0])], [])
    return data, tree


def test_saved_inputs_carry_the_draw_rules_basis(tmp_path):
    """The inputs of the MPI route, saved and read back, hold the rule's basis bit for bit,
    and the decomposition of what was read is the one-machine decomposition (a problem
    without the basis is another one: the free draws cost less)."""
    data, tree = _rule_inputs()
    save_inputs(tmp_path / "inputs.npz", data, tree)
    back, _ = load_inputs(tmp_path / "inputs.npz")
    assert back.recourse_basis is not None
    assert back.recourse_basis.dtype == data.recourse_basis.dtype
    assert np.array_equal(back.recourse_basis, data.recourse_basis)
    here, there = solve_decomposed(data), solve_decomposed(back)
    assert there.objective == here.objective and there.iterations == here.iterations
    for name in ("tau", "D", "B", "A", "X"):
        assert np.array_equal(getattr(there, name), getattr(here, name)), name
    free = solve_decomposed(replace(data, recourse_basis=None))
    assert free.objective < here.objective * (1 - 1e-6)


def test_ph_refuses_a_draw_rule_it_cannot_model():
    data, tree = _rule_inputs()
    with pytest.raises(ValueError, match="reserve-draw rule.*--method lshaped"):
        scenario_creator(tree_names(tree).scenario_names[0], data=data, tree=tree)


@needs_mpiexec
@pytest.mark.mpi
@pytest.mark.slow
def test_lshaped_under_a_rule_over_two_ranks_gives_the_numbers_of_one_process(tmp_path):
    """A rule run over MPI (its basis in the saved inputs, its coefficients in the master on
    every rank): the objective, bound, iterations, rates, funds and the rule's coefficients of
    the one-machine decomposition, to the last bit."""
    data, tree = _rule_inputs()
    data = replace(data, settings=data.settings.model_copy(update={
        "solver": data.settings.solver.model_copy(update={"threads": 1})}))
    serial = solve_decomposed(data, tolerance=1e-6, max_iterations=60, chunk_paths=1)
    out = _run_ph(data, tree, tmp_path, method="lshaped", extra=("--chunk-paths", "1"))
    assert out["ranks"] == 2 and out["draw_rule_columns"] == data.recourse_basis.shape[-1]
    assert out["objective_trillion_cny"] == serial.objective
    assert out["lower_bound_trillion_cny"] == serial.lower_bound
    assert out["iterations"] == serial.iterations
    assert out["fund_balance_last_year_trillion_cny"] == serial.B[:, -1].tolist()
    assert out["draw_rule_coefficients"] == rule_coefficients(data.recourse_basis,
                                                              serial.D).tolist()
    assert out["reserve_draws_mean_trillion_cny"] == (data.probability @ serial.D).tolist()
    assert max(out["reserve_draws_mean_trillion_cny"]) > 0.01  # the rule draws
