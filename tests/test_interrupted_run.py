"""Interrupted runs: Ctrl-C (SIGINT) and SIGKILL at several points of `pension run --force`
over an earlier run leave the earlier results intact; Ctrl-C ends with one line and exit 130
and leaves nothing behind; what a killed run leaves is cleared and reported by the next run;
a second run into the same folder fails at once. A tiny experiment (median path, no economy,
no optimizer) run by the real command in subprocesses."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from models.pipeline.results import RunLockedError, clean_stale, run_lock
from tests.conftest import CALIBRATION

EXIT_EXISTS, EXIT_LOCKED, EXIT_INTERRUPTED = 3, 7, 130
NAME = "tiny"


def _experiment(folder: Path) -> Path:
    path = folder / "experiments" / f"{NAME}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'name = "{NAME}"\ncalibration = "{CALIBRATION}"\nseed = 1\n'
                    "[economy]\nenabled = false\n")
    return path


def _default_interrupts() -> None:
    """A shell runs a background job (``cmd &``) with SIGINT ignored, and a child inherits an
    ignored signal: the run under test gets Ctrl-C's default meaning back whatever started
    the test suite."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(exp: Path, results: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "models.cli", "run", str(exp), "--results-dir",
                             str(results), *extra], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=exp.parent.parent,
                            preexec_fn=_default_interrupts)


def _digest(run_dir: Path) -> str:
    return hashlib.sha256((run_dir / "results.nc").read_bytes()).hexdigest()


def _wait_for(proc: subprocess.Popen, found, timeout: float = 120.0) -> bool:
    """Poll until ``found()`` holds (True) or the process ends (False)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if found():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    raise AssertionError("the run neither reached the point nor ended")


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("interrupted")
    exp = _experiment(folder)
    results = folder / "results"
    proc = _start(exp, results)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    run_dir = results / NAME
    assert (run_dir / "tables").is_dir() and (run_dir / "figures").is_dir()
    return exp, results, _digest(run_dir)


def _point(results: Path, point: str):
    """A condition marking a point of the run: the lock taken (validated, computing), the
    temporary folder made (writing results.nc), or its tables folder made (writing the tables,
    then the figures: seconds)."""
    lock = results / f".{NAME}.lock"

    def tmp(sub: str = "") -> bool:
        return any(p.name.startswith(f".{NAME}.tmp-") and (p / sub).exists()
                   for p in results.iterdir())

    return {"computing": lock.exists, "writing": tmp,
            "tables": lambda: tmp("tables")}[point]


def _listing(results: Path) -> list[str]:
    return sorted(p.name for p in results.iterdir())


@pytest.mark.parametrize("point", ["computing", "writing", "tables"])
def test_ctrl_c_keeps_the_earlier_run_and_leaves_nothing(point, earlier_run):
    exp, results, digest = earlier_run
    proc = _start(exp, results, "--force")
    assert _wait_for(proc, _point(results, point)), "the run ended before the point"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert "Traceback" not in err, err
    assert err.strip().startswith("interrupted:") and len(err.strip().splitlines()) == 1, err
    assert _digest(results / NAME) == digest
    assert _listing(results) == [NAME]


@pytest.mark.parametrize("point", ["computing", "writing", "tables"])
def test_sigkill_keeps_the_earlier_run_and_the_next_run_cleans_up(point, earlier_run):
    exp, results, digest = earlier_run
    proc = _start(exp, results, "--force")
    assert _wait_for(proc, _point(results, point)), "the run ended before the point"
    proc.kill()
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    left = [n for n in _listing(results) if n.startswith(f".{NAME}.tmp-")]
    assert _digest(results / NAME) == digest
    if point != "computing":
        assert left, "a run killed while writing leaves its temporary folder"
    # the next run (refused: the run exists) clears and reports what the dead run left
    nxt = _start(exp, results)
    _, err = nxt.communicate(timeout=120)
    assert nxt.returncode == EXIT_EXISTS, err
    assert "Traceback" not in err
    for name in left:
        assert f"removed {name}" in err, err
    assert _listing(results) == [NAME]
    assert (results / NAME / "figures").is_dir()


def test_a_second_run_into_the_same_folder_fails_at_once(earlier_run):
    """While a run holds the folder's lock (here this process, as a run does), another
    `pension run` into it stops with one line and exit 7, before any work."""
    exp, results, digest = earlier_run
    with run_lock(results / NAME):
        second = _start(exp, results, "--force")
        _, err = second.communicate(timeout=120)
    assert second.returncode == EXIT_LOCKED, err
    assert f"process {os.getpid()}" in err and str(results / NAME) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert _digest(results / NAME) == digest
    assert _listing(results) == [NAME]


# --------------------------------------------------------------- the same, in process
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_clean_stale_restores_a_run_cut_between_the_two_renames(tmp_path):
    run_dir = tmp_path / NAME
    pid = _dead_pid()
    old = tmp_path / f".{NAME}.old-{pid}"
    old.mkdir()
    (old / "results.nc").write_text("earlier run")
    tmp = tmp_path / f".{NAME}.tmp-{pid}"
    tmp.mkdir()
    done = clean_stale(run_dir)
    assert (run_dir / "results.nc").read_text() == "earlier run"
    assert any("restored" in line for line in done) and any(tmp.name in line for line in done)
    assert sorted(p.name for p in tmp_path.iterdir()) == [NAME]


def test_clean_stale_removes_an_old_run_already_replaced_and_spares_live_ones(tmp_path):
    run_dir = tmp_path / NAME
    run_dir.mkdir()
    old = tmp_path / f".{NAME}.old-{_dead_pid()}"
    old.mkdir()
    live = tmp_path / f".{NAME}.tmp-{os.getppid()}"  # a live process's folder is kept
    live.mkdir()
    assert clean_stale(run_dir) == [f"removed {old.name} (the run it held had been replaced)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([NAME, live.name])


def test_run_lock_is_exclusive_and_leaves_nothing(tmp_path):
    run_dir = tmp_path / NAME
    with run_lock(run_dir):
        with pytest.raises(RunLockedError, match=str(os.getpid())):
            with run_lock(run_dir):
                pass
    assert list(tmp_path.iterdir()) == []
    with run_lock(run_dir):  # free again
        pass


def test_two_identical_runs_write_identical_data_and_the_code_commit(earlier_run, tmp_path):
    """Timings live in manifest.json only: a second run of the same experiment writes the same
    results.nc data bit for bit. The manifest's commit is the code's, although the experiment
    file lies outside the repository."""
    import json

    import xarray as xr

    from models.pipeline.provenance import code_root, git_state

    exp, results, _ = earlier_run
    proc = _start(exp, tmp_path / "again")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    with xr.open_dataset(results / NAME / "results.nc") as a, \
            xr.open_dataset(tmp_path / "again" / NAME / "results.nc") as b:
        assert list(a.data_vars) == list(b.data_vars)
        for name in a.data_vars:
            assert a[name].equals(b[name]), name
        assert not [n for n in a.data_vars if n.endswith("_s")]
    manifest = json.loads((tmp_path / "again" / NAME / "manifest.json").read_text())
    assert manifest["git"]["commit"] == git_state(code_root())["commit"] != "unknown"
    assert "total_s" in manifest["timings_s"]
