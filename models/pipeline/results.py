"""Results on disk: ``results/<experiment>/results.nc`` (netCDF) and ``manifest.json``.

A run is written to a temporary folder beside its destination and renamed into place, so a
failed run leaves any earlier result untouched; an existing run is replaced only with
``force=True``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import xarray as xr

RESULTS_FILE = "results.nc"
MANIFEST_FILE = "manifest.json"
NETCDF_ENGINE = "netcdf4"


class RunExistsError(FileExistsError):
    """The destination already holds a run and ``force`` was not given."""


def check_destination(run_dir: Path, force: bool) -> None:
    """Refuse, before any work, to overwrite an existing run without ``force``."""
    if run_dir.exists() and not force:
        raise RunExistsError(
            f"{run_dir} already holds a run; pass --force to replace it (the old run is kept "
            "until the new one is complete)")


def write_run(run_dir: str | Path, dataset: xr.Dataset, manifest: dict, force: bool = False,
              extra_files: dict[str, str] | None = None) -> Path:
    """Write ``results.nc`` and ``manifest.json`` (and ``extra_files``: name -> text) atomically."""
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
    """Open a run's results (loaded into memory, file closed)."""
    path = Path(run_dir) / RESULTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no results here; run the experiment first")
    with xr.open_dataset(path, engine=NETCDF_ENGINE) as ds:
        return ds.load()


def read_manifest(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / MANIFEST_FILE).read_text())
