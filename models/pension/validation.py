"""Validation of the pension projection: the model beside every reported figure after the base
year (``checks.toml``'s ``[[validation]]``), never fitted.

Nominal figures are deflated to base-year prices with the consumer price level of
``[[price_level]]`` (``P(base) = 1``): ``reported_real = reported / P(year)``. Stocks are at year
end (the model's year-end stocks: :func:`models.pension.accounts.project_accounts`'s
``*_year_end`` and ``balance_end_cny`` / ``reserve_assets_end_cny``).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from models.config import ChecksCalibration

__all__ = ["validation_table"]


def _model_value(accounts: xr.Dataset, variable: str, year: int) -> float:
    acc = accounts.sel(year=year)
    if variable == "pensioners_year_end":
        value = acc["pensioners_year_end"].sum("category")
    elif variable == "participants_year_end":
        value = (acc["insured_workers_year_end"] + acc["pensioners_year_end"]).sum("category")
    else:
        value = acc[variable]
    return float(value)


def validation_table(accounts: xr.Dataset, checks: ChecksCalibration) -> xr.Dataset:
    """``[validation_check]`` (named apart from :func:`models.pipeline.run.demographic_checks`'s
    ``check``): model, reported, price level, reported at base-year prices and the relative
    gap ``model / reported_real − 1`` of each validation figure inside the projection's years.

    ``accounts`` is one projection ``[year(, category)]`` (a ``regime`` or ``path`` dimension is
    not allowed: select one first)."""
    for dim in ("regime", "path"):
        if dim in accounts.dims:
            raise ValueError(f"validation_table takes one projection; select one {dim} first")
    years = accounts["year"].values
    prices = {p.year: p.value for p in checks.price_level}
    facts = [f for f in checks.validation if years[0] <= f.year <= years[-1]]
    missing = sorted({f.year for f in facts if f.nominal and f.year not in prices})
    if missing:
        raise ValueError(f"checks.toml: no price_level for the nominal figures of {missing}")
    level = np.array([prices[f.year] if f.nominal else 1.0 for f in facts])
    reported = np.array([f.value for f in facts])
    model = np.array([_model_value(accounts, f.variable, f.year) for f in facts])
    real = reported / level
    return xr.Dataset(
        {
            "validation_model": ("validation_check", model,
                                 {"units": "per check: see validation_unit",
                                  "long_name": "model value (base-year prices)"}),
            "validation_reported": ("validation_check", reported,
                                    {"units": "per check: see validation_unit",
                                     "long_name": "reported value (as published)"}),
            "validation_price_level": ("validation_check", level,
                                       {"units": "1", "long_name": "consumer price level / base "
                                                                   "year (1 for counts)"}),
            "validation_reported_real": ("validation_check", real,
                                         {"units": "per check (base-year prices)",
                                          "long_name": "reported value at base-year prices"}),
            "validation_gap": ("validation_check", model / real - 1.0,
                               {"units": "1", "long_name": "model / reported at base-year "
                                                           "prices − 1"}),
        },
        coords={
            "validation_check": np.arange(len(facts)),
            "validation_variable": ("validation_check", [f.variable for f in facts]),
            "validation_year": ("validation_check", [f.year for f in facts]),
            "validation_unit": ("validation_check", [f.unit for f in facts]),
            "validation_source": ("validation_check", [f.source for f in facts]),
            "validation_note": ("validation_check", [f.note or "" for f in facts]),
        },
    )
