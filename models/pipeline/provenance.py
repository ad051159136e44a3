"""Provenance of a run: what produced it, from which inputs, on which machine, how long it took."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from pydantic import BaseModel

PACKAGES = ("numpy", "scipy", "pandas", "xarray", "netCDF4", "pydantic", "pyomo", "highspy",
            "matplotlib")


def config_hash(*models: BaseModel) -> str:
    """sha256 of the canonical JSON of validated configuration objects."""
    payload = json.dumps([m.model_dump(mode="json") for m in models], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def code_root() -> Path:
    """The folder holding the ``models`` package that is running (the code's repository when
    it is a checkout), whatever folder the experiment file lies in."""
    return Path(__file__).resolve().parents[2]


def git_state(root: Path) -> dict:
    """The commit checked out at ``root`` and whether tracked files differ from it."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                                 timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit or "unknown", "dirty": bool(status) if status is not None else None}


def package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def machine() -> dict:
    return {"platform": platform.platform(), "processor": platform.machine(),
            "cpus": os.cpu_count()}
