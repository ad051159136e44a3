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


@pytest.fixture(scope="session")
def fit(calibration, median_demography):
    """The scheme's base-year fit under the 2024 law (the base year is the same for both)."""
    from models.pension import calibrate_base_year, retirement_schedule

    pop = median_demography["population"]
    sched = retirement_schedule(pop["year"].values, pop["age"].values, "law_2024",
                                calibration.pension)
    return calibrate_base_year(pop.sel(year=[2021, 2022]), sched, calibration.pension,
                               calibration.finances)


@pytest.fixture(scope="session")
def populations(arrays):
    """Six deterministic demographic scenarios ``[path, year, age, sex]`` for the optimizer's
    tests: fertility scaled by 0.7..1.3, the mortality index shifted by −2..2 per decade."""
    from tests.scenarios import scenario_populations

    return scenario_populations(arrays, [0.7, 0.85, 1.0, 1.15, 1.3, 1.0],
                                [-2.0, 0.0, 1.0, -1.0, 0.5, 2.0])
