"""Deterministic demographic scenarios for the optimizer's tests (not a test module)."""

import numpy as np
import xarray as xr


def scenario_populations(arrays, tfr_factors, k_shifts) -> xr.DataArray:
    """Population ``[path, year, age, sex]``, one path per pair: fertility scaled by the
    factor, the Lee-Carter mortality index shifted by ``k_shift`` per decade."""
    from models.demography import mortality_rates, project

    pops = []
    for f, dk in zip(tfr_factors, k_shifts):
        mx = mortality_rates(arrays["lc_ax"], arrays["lc_bx"], arrays["lc_kt"] + dk * (
            arrays["year"] - arrays["year"][0]) / 10.0)
        demo = project(arrays["base_population"], mx, arrays["asfr"] * f,
                       arrays["sex_ratio_at_birth"], arrays["net_migration"])
        pops.append(demo["population"])
    return xr.concat(pops, dim="path").assign_coords(path=np.arange(len(pops)))
