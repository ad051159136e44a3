"""The catalogue of result variables (models/catalogue.py): well formed, the source of every
variable's attributes, and what readers ask to learn which stages wrote a results file."""

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from models.catalogue import (
    CATALOGUE,
    STAGES,
    VARIABLES,
    UnknownVariable,
    annotate,
    entry,
    stages,
    wrote,
)
from models.config import Experiment, StochasticDemographySettings
from models.pipeline import run
from models.report import view

CALIBRATION = Path(__file__).resolve().parents[1] / "calibration" / "china"
#: Dimension names of results.nc (DESIGN.md "Conventions", and the tables' own indices).
DIMENSIONS = {"path", "node", "year", "age", "sex", "group", "category", "regime", "check",
              "target", "economy_target", "birth_year", "snapshot_year", "fit_year", "bound",
              "published_year", "stage", "search_step", "pairing_iteration", "error_path",
              "validation_check", "parameter", "tornado_bound", "draw", "frontier_point",
              "certificate_move", "statistic"}


def test_every_entry_is_complete_and_unique():
    assert len(CATALOGUE) == len(VARIABLES)
    for v in VARIABLES:
        assert v.stage in STAGES, v.name
        assert v.long_name and v.long_name.strip() == v.long_name, v.name
        assert set(v.dims) <= DIMENSIONS, (v.name, v.dims)
        assert v.units is None or v.units.strip(), v.name
        if v.name.endswith("_cny") and not v.name.startswith("exactness_"):  # (a ratio)
            assert "yuan" in v.units, (v.name, v.units)  # money in yuan
    assert [v.name for v in VARIABLES if v.units is None] == [  # text
        "search_label", "frontier_delay_path", "certificate_lever", "certificate_category",
        "certificate_status"]


def test_annotate_takes_the_attributes_from_the_catalogue():
    ds = xr.Dataset({"births": (("year", "sex"), np.ones((2, 2)),
                                {"units": "wrong", "long_name": "wrong", "note": "kept"})})
    out = annotate(ds)
    assert out["births"].attrs == {"units": "persons per year", "long_name": "live births",
                                   "note": "kept"}
    assert ds["births"].attrs["units"] == "wrong"  # the input is left alone


def test_annotate_refuses_a_variable_it_does_not_know_or_whose_dims_differ():
    with pytest.raises(UnknownVariable, match="catalogue"):
        annotate(xr.Dataset({"births_typo": ("year", np.ones(2))}))
    with pytest.raises(ValueError, match="dimensions"):
        annotate(xr.Dataset({"births": ("year", np.ones(2))}))
    with pytest.raises(UnknownVariable):
        entry("nothing")


def test_stages_are_read_from_the_variables_a_file_holds():
    ds = xr.Dataset({"births": (("year", "sex"), np.ones((2, 2))),
                     "vss_cny": ((), 1.0)})
    assert stages(ds) == {"demography", "optimization_voi"}
    assert wrote(ds, "optimization_voi") and not wrote(ds, "optimization")
    assert view.has_value_of_information(ds) and not view.has_optimization(ds)
    with pytest.raises(ValueError, match="unknown stage"):
        wrote(ds, "optimisation")


@pytest.fixture(scope="module")
def mc_run(calibration, arrays):
    exp = Experiment(name="catalogue_test", calibration=str(CALIBRATION), seed=11,
                     demography=StochasticDemographySettings(paths=6, chunk_size=6))
    return run.simulate(exp, calibration, arrays)


def test_a_run_is_described_by_the_catalogue(mc_run, tmp_path):
    """Every variable of a Monte Carlo run (with the economy) carries exactly the catalogue's
    units and long_name, also after a netCDF round trip, and the stages it reports are the
    ones that ran."""
    path = tmp_path / "results.nc"
    mc_run.to_netcdf(path)
    back = xr.open_dataset(path)
    assert set(back.data_vars) == set(mc_run.data_vars)
    for name, var in back.data_vars.items():
        item = entry(name)
        assert tuple(var.dims) == item.dims, name
        for key, value in item.attrs().items():
            assert var.attrs[key] == value, (name, key)
    assert stages(back) >= {"demography", "accounts", "checks", "monte_carlo", "economy"}
    assert not wrote(back, "optimization")
    assert view.is_monte_carlo(back) and view.has_economy(back)
