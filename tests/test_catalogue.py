"""The catalogue of result variables (models/catalogue.py): well formed, the source of every
variable's attributes, and what readers ask to learn which stages wrote a results file."""

import json
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


# ------------------------------------------------------------------ CF conventions (issue 11)
#: What a CF checker (compliance-checker, ``cf:1.11``) finds in a results file and why; every
#: other check of the checker must pass. Units: CF takes units from UDUNITS, which has no
#: currency ("yuan"), no counts of people ("persons", "children per woman") and no "fraction
#: of <base>" (the base is named in the unit so that a table never loses it); these are the
#: project's units (DESIGN.md "Conventions", models/catalogue.py).
NOT_UDUNITS = ("yuan", "persons", "pensioners", "children", "fraction of", "utils",
               "per target", "calendar year", "percentage points", "k per year",
               "years of output", "per year", "years:",
               # a variable of mixed units (one per parameter or check) names where they are
               "see the identification table", "see validation_unit", "see identification_unit",
               "per check")
CF_EXPECTED = {
    "§3.1 Units": "units for {name}, \"{units}\" are not recognized by UDUNITS",
    "§3.3 Standard Name": "Attribute long_name or/and standard_name is highly recommended "
                          "for variable {name}",
    "§2.6 Attributes": None,  # no global title, history or Conventions
}


def test_a_results_file_passes_the_cf_checker_but_for_its_units(mc_run, tmp_path):
    """compliance-checker's CF 1.11 suite on a run's results.nc (skipped when the checker is
    not installed: ``pip install -e '.[cf]'``, which ``make setup`` tries). Every check passes
    (names, types, dimensions, coordinates, fill values, standard names where given) except
    three known kinds, each finding of which is explained: units that UDUNITS does not know
    (each holding a word of NOT_UDUNITS), coordinate variables without a long_name (the
    dimension labels), and the absent global title/history/Conventions.

    The checker's time grows with the square of the number of variables (15 s of CPU for the
    250 of a small baseline run), so it reads one variable of each kind: each distinct
    (units, dimensions, data type) of the run, with every coordinate they use."""
    runner = pytest.importorskip("compliance_checker.runner")
    path, out = tmp_path / "results.nc", tmp_path / "cf.json"
    kinds = {}
    for name, var in mc_run.data_vars.items():
        kinds.setdefault((var.attrs.get("units"), var.dims, var.dtype.kind), name)
    mc_run[sorted(kinds.values())].to_netcdf(path)
    runner.CheckSuite.load_all_available_checkers()
    runner.ComplianceChecker.run_checker(str(path), ["cf:1.11"], 0, "normal",
                                         output_filename=str(out), output_format="json")
    report = json.loads(out.read_text())["cf:1.11"]
    failed = {r["name"]: r["msgs"] for level in ("high", "medium", "low")
              for r in report[f"{level}_priorities"] if r["value"][0] < r["value"][1]}
    assert set(failed) <= set(CF_EXPECTED), sorted(set(failed) - set(CF_EXPECTED))
    back = xr.open_dataset(path)
    for msg in failed.get("§3.1 Units", []):
        name = msg.split(",")[0].removeprefix("units for ")
        units = entry(name).units
        assert msg == CF_EXPECTED["§3.1 Units"].format(name=name, units=units), msg
        assert any(word in units for word in NOT_UDUNITS), (name, units)
    for msg in failed.get("§3.3 Standard Name", []):
        name = msg.split()[-1]
        assert msg == CF_EXPECTED["§3.3 Standard Name"].format(name=name), msg
        assert name in back.coords and name not in CATALOGUE, msg
    assert len(failed.get("§2.6 Attributes", [])) <= 3
