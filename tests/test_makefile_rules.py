"""The Makefile's experiment rule writes where its target says: `make run` reports
``results/baseline/`` after `pension run` writes ``<--results-dir>/<experiment name>/``; an
experiment in a subfolder (``experiments/options/x.toml``) lands in ``results/options/x/``.
Checked on the commands `make -n` prints (nothing runs)."""

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.conftest import EXPERIMENTS, ROOT


def _run_command(target: str) -> str:
    out = subprocess.run(["make", "-n", "-B", "-C", str(ROOT), target], capture_output=True,
                         text=True, check=True).stdout
    lines = [line for line in out.splitlines() if "pension run" in line]
    assert len(lines) == 1, out
    return lines[0]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("experiment", ["baseline", "options/retirement_choice"])
def test_the_experiment_rule_writes_its_target_folder(experiment):
    target = Path("results") / experiment / "results.nc"
    command = _run_command(str(target))
    assert f"experiments/{experiment}.toml" in command
    results_dir = re.search(r"--results-dir (\S+)", command).group(1)
    with open(EXPERIMENTS / f"{experiment}.toml", "rb") as f:
        name = tomllib.load(f)["name"]
    assert Path(results_dir) / name == target.parent
