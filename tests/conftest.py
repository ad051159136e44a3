"""Shared fixtures: the shipped calibration, loaded once per session."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CALIBRATION = ROOT / "calibration" / "china"
EXPERIMENTS = ROOT / "experiments"


@pytest.fixture(scope="session")
def calibration():
    from models.config import load_calibration

    return load_calibration(CALIBRATION)


@pytest.fixture(scope="session")
def arrays(calibration):
    from models.config import load_arrays

    return load_arrays(calibration, CALIBRATION)


@pytest.fixture(scope="session")
def median_demography(arrays):
    from models.demography import project_median

    return project_median(arrays)
