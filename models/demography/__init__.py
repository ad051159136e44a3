"""Demography: mortality, fertility, migration and the cohort-component projection.

Public surface:

* :func:`mortality_rates` — Lee–Carter death rates ``m(x, t) = exp(a(x) + b(x) k(t))``;
* :func:`project` — the cohort-component projection over labelled arrays (any leading
  ``path`` dimension is carried through);
* :func:`project_median` — the deterministic median path from the calibration arrays.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from models.config import SEXES
from models.demography.projection import project_cohort_component

__all__ = ["mortality_rates", "project", "project_median"]


def mortality_rates(ax: xr.DataArray, bx: xr.DataArray, kt: xr.DataArray) -> xr.DataArray:
    """Central death rates ``m(x, t) = exp(a(x) + b(x) k(t))`` (Lee & Carter 1992, JASA 87).

    ``ax``, ``bx`` are [age, sex]; ``kt`` is [..., year, sex]. Returns [..., year, age, sex]
    in deaths per person-year.
    """
    mx = np.exp(ax + bx * kt)
    dims = [d for d in kt.dims if d not in ("year", "sex")] + ["year", "age", "sex"]
    mx = mx.transpose(*dims)
    mx.attrs.update(units="deaths per person-year", long_name="central death rate")
    return mx


def project(base_population: xr.DataArray, mx: xr.DataArray, asfr: xr.DataArray,
            sex_ratio_at_birth: xr.DataArray, net_migration: xr.DataArray) -> xr.Dataset:
    """Cohort-component projection over labelled arrays.

    Inputs: ``base_population[age, sex]`` (persons, 1 January of the first year),
    ``mx[..., year, age, sex]``, ``asfr[..., year, fertility_age]`` (births per woman per year),
    ``sex_ratio_at_birth[..., year]`` (males per female), ``net_migration[..., year, age, sex]``
    (persons per year). Leading dimensions (e.g. ``path``) broadcast.

    Returns ``population[..., year, age, sex]`` on 1 January of each year, and the flows over
    each year ``births``, ``deaths``, ``net_migration`` [..., year, sex]; ``population_end`` is
    the stock on 1 January after the last year.
    """
    lead = [d for d in mx.dims if d not in ("year", "age", "sex")]
    for arr in (asfr, sex_ratio_at_birth, net_migration):
        lead += [d for d in arr.dims if d not in ("year", "age", "sex", "fertility_age")
                 and d not in lead]
    years = mx["year"].values
    ages = base_population["age"].values
    target = xr.Dataset(coords={d: mx[d] if d in mx.dims else asfr[d] for d in lead})

    def arr(da: xr.DataArray, tail: list[str]) -> np.ndarray:
        da = da.transpose(*[d for d in lead if d in da.dims], *tail)
        return xr.broadcast(da, target)[0].transpose(*lead, *tail).values if lead else da.values

    out = project_cohort_component(
        base_population.transpose("age", "sex").values,
        arr(mx.sel(sex=list(SEXES)), ["year", "age", "sex"]),
        arr(asfr, ["year", "fertility_age"]),
        int(asfr["fertility_age"].values[0]),
        arr(sex_ratio_at_birth, ["year"]),
        arr(net_migration.sel(sex=list(SEXES)), ["year", "age", "sex"]),
    )
    coords = {d: target[d] for d in lead}
    coords.update(year=years, age=ages, sex=list(SEXES))
    pop = out["population"]
    ds = xr.Dataset(
        {
            "population": (lead + ["year", "age", "sex"], pop[..., :-1, :, :],
                           {"units": "persons", "long_name": "population on 1 January"}),
            "population_end": (lead + ["age", "sex"], pop[..., -1, :, :],
                               {"units": "persons",
                                "long_name": "population on 1 January after the last year"}),
            "births": (lead + ["year", "sex"], out["births"],
                       {"units": "persons per year", "long_name": "live births"}),
            "deaths": (lead + ["year", "sex"], out["deaths"],
                       {"units": "persons per year",
                        "long_name": "deaths (of the 1 January stock and the year's births)"}),
            "net_migration": (lead + ["year", "sex"], out["net_migration"],
                              {"units": "persons per year",
                               "long_name": "net migrants applied (after clipping)"}),
        },
        coords={k: v for k, v in coords.items()},
    )
    return ds


def project_median(arrays: xr.Dataset) -> xr.Dataset:
    """The deterministic median path: Lee–Carter ``k(t)`` at its median, WPP median fertility,
    sex ratio at birth and net migration, from the calibration arrays (:func:`models.config.load_arrays`)."""
    mx = mortality_rates(arrays["lc_ax"], arrays["lc_bx"], arrays["lc_kt"])
    return project(arrays["base_population"], mx, arrays["asfr"],
                   arrays["sex_ratio_at_birth"], arrays["net_migration"])
