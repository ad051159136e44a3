"""Results are written atomically; an existing run is replaced only with force."""

import numpy as np
import pytest
import xarray as xr

from models.pipeline.results import RunExistsError, read_manifest, read_results, write_run


def _dataset(value: float) -> xr.Dataset:
    return xr.Dataset({"x": ("year", np.full(3, value), {"units": "persons", "long_name": "x"})},
                      coords={"year": [2021, 2022, 2023]},
                      attrs={"experiment_json": "{}"})  # what marks a file of `pension run`


def test_round_trip_keeps_values_and_attributes(tmp_path):
    run = write_run(tmp_path / "exp", _dataset(1.5), {"seed": 7})
    back = read_results(run)
    assert float(back["x"].sum()) == 4.5
    assert back["x"].attrs["units"] == "persons"
    assert read_manifest(run)["seed"] == 7


def test_existing_run_is_not_overwritten_without_force(tmp_path):
    run = write_run(tmp_path / "exp", _dataset(1.0), {})
    with pytest.raises(RunExistsError, match="--force"):
        write_run(run, _dataset(2.0), {})
    assert float(read_results(run)["x"][0]) == 1.0
    write_run(run, _dataset(2.0), {}, force=True)
    assert float(read_results(run)["x"][0]) == 2.0


def test_failed_write_keeps_the_previous_run(tmp_path):
    run = write_run(tmp_path / "exp", _dataset(1.0), {})

    class Unserialisable:
        pass

    with pytest.raises(TypeError):
        write_run(run, _dataset(3.0), {"bad": Unserialisable()}, force=True)
    assert float(read_results(run)["x"][0]) == 1.0
    assert [p.name for p in tmp_path.iterdir()] == ["exp"]  # no temporary folders left
