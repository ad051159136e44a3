"""Results on disk: ``results/<experiment>/results.nc`` (netCDF) and ``manifest.json``.

A run is written to a temporary folder beside its destination, ``.NAME.tmp-PID/`` (results,
manifest, solver log, and the run's tables and figures), and renamed into place; the run it
replaces is first renamed to ``.NAME.old-PID/`` and deleted after the swap. So a failed or
interrupted run leaves any earlier result untouched, and an existing run is replaced only with
``force=True``.

One run at a time per destination: :func:`run_lock` holds an exclusive ``flock`` on
``.NAME.lock`` beside it for the whole run, so a second run into the same folder fails at once.
Whoever holds the lock then clears what dead runs left (:func:`clean_stale`): a temporary
folder is deleted; an ``.old`` folder is put back when the swap was cut between its two renames
(no run in place), and deleted otherwise (the new run is complete in place).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import xarray as xr

RESULTS_FILE = "results.nc"
MANIFEST_FILE = "manifest.json"
NETCDF_ENGINE = "netcdf4"


class RunExistsError(FileExistsError):
    """The destination already holds a run and ``force`` was not given."""


class ResultsDirError(OSError):
    """The results folder is a file, or cannot be created or written."""


class RunLockedError(RuntimeError):
    """Another live run is writing into the same results folder."""


class DamagedResultsError(ValueError):
    """A results file cannot be read, or was not written by ``pension run``."""


def check_results_root(root: str | Path) -> None:
    """Make sure runs can be written under ``root`` (created if missing), before any work: it
    must be a folder in which a file can be created."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise ResultsDirError(f"--results-dir {root}: is a file, not a folder; name a folder "
                              "(it is created if missing)")
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=root)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ResultsDirError(f"--results-dir {root}: cannot write there ({exc.strerror or exc})"
                              "; choose a folder you can write to") from None


def check_destination(run_dir: Path, force: bool) -> None:
    """Refuse, before any work, to overwrite an existing run without ``force``."""
    if run_dir.exists() and not force:
        raise RunExistsError(
            f"{run_dir} already holds a run; pass --force to replace it (the old run is kept "
            "until the new one is complete)")


def _lock_path(run_dir: Path) -> Path:
    return run_dir.parent / f".{run_dir.name}.lock"


@contextmanager
def run_lock(run_dir: str | Path) -> Iterator[None]:
    """Hold the exclusive lock of ``run_dir`` (``.NAME.lock`` beside it, created and removed
    here) or raise :class:`RunLockedError` at once. The kernel releases an ``flock`` when its
    process dies, so a killed run never blocks the next one."""
    run_dir = Path(run_dir)
    path = _lock_path(run_dir)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = _read_pid(path)
            raise RunLockedError(
                f"{run_dir}: another run{f' (process {holder})' if holder else ''} is writing "
                "there now; wait for it to finish or write elsewhere (--results-dir)") from None
        try:  # the file may have been removed by its previous holder between open and lock
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        os.close(fd)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_folders(run_dir: str | Path) -> list[Path]:
    """``.NAME.tmp-PID`` and ``.NAME.old-PID`` folders beside ``run_dir`` whose process is gone."""
    run_dir = Path(run_dir)
    pattern = re.compile(rf"^\.{re.escape(run_dir.name)}\.(tmp|old)-(\d+)$")
    if not run_dir.parent.is_dir():
        return []
    found = []
    for entry in sorted(run_dir.parent.iterdir()):
        match = pattern.match(entry.name)
        if match and entry.is_dir() and (int(match.group(2)) == os.getpid()
                                         or not _pid_alive(int(match.group(2)))):
            found.append(entry)
    return found


def clean_stale(run_dir: str | Path) -> list[str]:
    """Clear what dead runs left beside ``run_dir`` (call it holding :func:`run_lock`); returns
    one sentence per folder handled. A temporary folder is deleted. An ``.old`` folder is the
    run a dead run was replacing: put back in place when no run is there (the swap was cut
    between its renames), deleted when the new run is in place."""
    run_dir = Path(run_dir)
    done = []
    stale = stale_folders(run_dir)
    for old in [p for p in stale if ".old-" in p.name]:
        if not run_dir.exists():
            old.rename(run_dir)
            done.append(f"restored {run_dir} from {old.name} (a run was stopped while "
                        "replacing it)")
        else:
            shutil.rmtree(old)
            done.append(f"removed {old.name} (the run it held had been replaced)")
    for tmp in [p for p in stale if ".tmp-" in p.name]:
        shutil.rmtree(tmp)
        done.append(f"removed {tmp.name} (left by a run that was stopped)")
    return done


def write_run(run_dir: str | Path, dataset: xr.Dataset, manifest: dict, force: bool = False,
              extra_files: dict[str, str] | None = None,
              before_swap: Callable[[Path], object] | None = None) -> Path:
    """Write ``results.nc`` and ``manifest.json`` (and ``extra_files``: name -> text) into a
    temporary folder, run ``before_swap(folder)`` there (the run's tables and figures), then put
    the folder in place of ``run_dir`` (two renames). Call it holding :func:`run_lock`."""
    run_dir = Path(run_dir)
    check_destination(run_dir, force)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = run_dir.parent / f".{run_dir.name}.tmp-{os.getpid()}"
    old = run_dir.parent / f".{run_dir.name}.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        dataset.to_netcdf(tmp / RESULTS_FILE, engine=NETCDF_ENGINE)
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text)
        if before_swap is not None:
            before_swap(tmp)
        if run_dir.exists():
            run_dir.rename(old)
        tmp.rename(run_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not run_dir.exists():
            old.rename(run_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return run_dir


def read_results(run_dir: str | Path) -> xr.Dataset:
    """Open a run's results (loaded into memory, file closed); a file that is not a readable
    netCDF, or was not written by ``pension run``, raises :class:`DamagedResultsError` with one
    line."""
    path = Path(run_dir) / RESULTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no results here; run the experiment first")
    try:
        with xr.open_dataset(path, engine=NETCDF_ENGINE) as ds:
            ds = ds.load()
    except Exception as exc:  # netCDF4 / HDF5 raise OSError, RuntimeError or ValueError
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DamagedResultsError(f"{path}: not a readable netCDF file ({reason}); it is damaged "
                                  "or truncated: run the experiment again") from None
    if "experiment_json" not in ds.attrs:
        raise DamagedResultsError(f"{path}: not a results file written by `pension run` (no "
                                  "experiment_json attribute)")
    return ds


def read_manifest(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / MANIFEST_FILE).read_text())
