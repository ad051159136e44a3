"""Identification and parameter uncertainty of the pension accounts.

The base-year fit (:func:`models.pension.accounts.calibrate_base_year`) pins six scalars with
six reported figures of the 2021 bulletin. Every other number of the pension and finances
calibration is either the law (rates, the divisor table, the ages) or an assumption the base
year cannot see. The assumptions that move the projection carry a range in the calibration
(``low``, ``high``, ``pinned_by`` beside ``value`` in ``pension.toml`` / ``finances.toml``):

* :func:`identification_table` lists them (value, range, unit, source, what would pin them);
* :func:`draw_parameters` draws them per Monte Carlo path, each from a triangular
  distribution ``Tri(low, value, high)``, independently, with the path's own
  ``numpy.random.SeedSequence``: child ``PARAMETER_PURPOSE`` of the experiment's seed, then
  child ``path`` (:func:`parameter_seed`), so a path's draw depends only on the seed and the
  path number, never on the chunk size (the demography's purposes are children 0..2 of the
  same seed, :data:`models.demography.stochastic.PURPOSES`);
* :func:`with_parameters` makes the calibration of one draw (validated like a file);
* :func:`fund_outcomes` re-fits the base year and projects the fund for one calibration;
  :func:`tornado_table` moves one parameter at a time to its low and high value;
  :func:`parameter_uncertainty` evaluates the fund under each path's draw.

Outcomes: the first-deficit year, the depletion year and the 2050 deficit (expenditure minus
contributions and the subsidy, yuan at base-year prices) of
:func:`models.pension.accounts.fund_milestones`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from pydantic import BaseModel

from models.config import Calibration, Param, apply_overrides
from models.pension.accounts import (
    BaseYearFit,
    account_rates,
    calibrate_base_year,
    category_population,
    fund_milestones,
    project_accounts,
    retirement_schedule,
)
from models.pension.paths import FundBlock, fund_block

__all__ = [
    "PARAMETER_PURPOSE",
    "DEFICIT_YEAR",
    "unpinned_parameters",
    "identification_table",
    "parameter_seed",
    "draw_parameters",
    "with_parameters",
    "fund_outcomes",
    "tornado_table",
    "parameter_uncertainty",
    "parameter_set_of_path",
    "PensionBlock",
    "pension_block",
    "drawn_pension_blocks",
]

#: Child of the experiment's SeedSequence that seeds the parameter draws (the demography uses
#: children 0..2); a large index so the demography may add purposes without overlap.
PARAMETER_PURPOSE = 100
#: Year of the deficit reported beside the milestones.
DEFICIT_YEAR = 2050
DOMAINS = ("pension", "finances")


def _walk(model: BaseModel, prefix: str):
    for name in type(model).model_fields:
        value = getattr(model, name)
        key = f"{prefix}.{name}"
        if isinstance(value, Param):
            yield key, value
        elif isinstance(value, BaseModel):
            yield from _walk(value, key)


def unpinned_parameters(cal: Calibration) -> dict[str, Param]:
    """Every entry of the pension and finances calibration with a range (``low``, ``high``),
    keyed by its dotted path (``pension.contribution.compliance``), in file order."""
    out = {}
    for domain in DOMAINS:
        for key, param in _walk(getattr(cal, domain), domain):
            if param.low is not None:
                out[key] = param
    return out


def identification_table(cal: Calibration) -> xr.Dataset:
    """The parameters the base-year fit does not pin: ``[parameter]`` value, low, high, unit,
    source and what would pin them (text from the calibration)."""
    params = unpinned_parameters(cal)
    keys = list(params)
    return xr.Dataset(
        {
            "value": ("parameter", [float(params[k].value) for k in keys],
                      {"units": "see unit", "long_name": "calibrated value"}),
            "low": ("parameter", [params[k].low for k in keys],
                    {"units": "see unit", "long_name": "low end of the plausible range"}),
            "high": ("parameter", [params[k].high for k in keys],
                     {"units": "see unit", "long_name": "high end of the plausible range"}),
        },
        coords={
            "parameter": keys,
            "unit": ("parameter", [params[k].unit for k in keys]),
            "source": ("parameter", [params[k].source for k in keys]),
            "pinned_by": ("parameter", [params[k].pinned_by or "" for k in keys]),
        },
    )


def parameter_seed(seed: np.random.SeedSequence, path: int) -> np.random.SeedSequence:
    """``seed.spawn(PARAMETER_PURPOSE + 1)[PARAMETER_PURPOSE].spawn(path + 1)[path]``, built
    directly (what ``spawn`` makes), so a chunk of paths needs no other path's sequence."""
    return np.random.SeedSequence(seed.entropy,
                                  spawn_key=seed.spawn_key + (PARAMETER_PURPOSE, int(path)),
                                  pool_size=seed.pool_size)


def _triangular_quantile(u: np.ndarray, low: np.ndarray, mode: np.ndarray,
                         high: np.ndarray) -> np.ndarray:
    """Quantile of ``Tri(low, mode, high)`` at ``u`` (a point mass where ``low == high``)."""
    width = np.where(high > low, high - low, 1.0)
    cut = (mode - low) / width
    left = low + np.sqrt(u * width * (mode - low))
    right = high - np.sqrt((1.0 - u) * width * (high - mode))
    return np.where(high > low, np.where(u < cut, left, right), mode)


def draw_parameters(cal: Calibration, seed: np.random.SeedSequence,
                    paths: np.ndarray) -> xr.DataArray:
    """Parameter values ``[path, parameter]``: ``Tri(low, value, high)`` with one uniform per
    parameter from path ``p``'s :func:`parameter_seed`, in the order of
    :func:`unpinned_parameters` (adding a parameter leaves the earlier ones' draws unchanged)."""
    params = unpinned_parameters(cal)
    keys = list(params)
    low = np.array([params[k].low for k in keys])
    high = np.array([params[k].high for k in keys])
    # an override may put the value outside its range: the mode is kept inside
    mode = np.clip([float(params[k].value) for k in keys], low, high)
    paths = np.asarray(paths, dtype=int)
    u = np.stack([np.random.default_rng(parameter_seed(seed, p)).random(len(keys))
                  for p in paths]) if len(paths) else np.empty((0, len(keys)))
    values = _triangular_quantile(u, low, mode, high)
    return xr.DataArray(values, dims=("path", "parameter"),
                        coords={"path": paths, "parameter": keys},
                        attrs={"units": "see the identification table",
                               "long_name": "parameter draw (triangular on low, value, high)"})


def with_parameters(cal: Calibration, values: dict[str, float]) -> Calibration:
    """The calibration with each dotted parameter's ``value`` replaced (validated anew)."""
    raw = cal.model_dump()
    params = unpinned_parameters(cal)  # once, not once per parameter
    overrides = {f"{k}.value": (int(round(v)) if isinstance(params[k].value, int)
                                else float(v)) for k, v in values.items()}
    return Calibration.model_validate(apply_overrides(raw, overrides, "parameter draw",
                                                      Calibration))


def fund_outcomes(population: xr.DataArray, cal: Calibration, regime: str) -> dict[str, float]:
    """First-deficit year, depletion year (NaN: none by the last year) and the
    :data:`DEFICIT_YEAR` deficit (yuan) of one calibration on one population
    ``[year, age, sex]``: schedule, base-year fit and projection anew."""
    years, ages = population["year"].values, population["age"].values
    base = cal.pension.targets.year.value
    schedule = retirement_schedule(years, ages, regime, cal.pension)
    fit = calibrate_base_year(population.sel(year=[base, base + 1]), schedule, cal.pension,
                              cal.finances)
    acc = project_accounts(population, schedule, fit, cal.pension, cal.finances)
    miles = fund_milestones(acc)
    gap = acc["expenditure_cny"] - acc["contributions_cny"] - acc["fiscal_subsidy_cny"]
    return {"first_deficit_year": float(miles["first_deficit_year"]),
            "depletion_year": float(miles["depletion_year"]),
            "deficit_2050_cny": float(gap.sel(year=DEFICIT_YEAR))}


OUTCOME_META = {
    "first_deficit_year": ("calendar year", "first year with expenditure > contributions + subsidy"),
    "depletion_year": ("calendar year", "first year with a negative year-end balance"),
    "deficit_2050_cny": ("yuan per year (base-year prices)",
                         "expenditure − contributions − subsidy in 2050"),
}


def tornado_table(population: xr.DataArray, cal: Calibration, regime: str) -> xr.Dataset:
    """Each unpinned parameter at its low and its high value, the others at their values:
    ``[parameter, bound]`` outcomes of :func:`fund_outcomes`, with the reference (every
    parameter at its value) as ``reference_<outcome>`` and the swing ``|high − low|`` of the
    depletion year (NaN where either bound has none)."""
    params = unpinned_parameters(cal)
    keys = list(params)
    reference = fund_outcomes(population, cal, regime)
    rows = {name: np.empty((len(keys), 2)) for name in OUTCOME_META}
    for i, key in enumerate(keys):
        for j, bound in enumerate(("low", "high")):
            out = fund_outcomes(population, with_parameters(cal, {key: getattr(params[key],
                                                                               bound)}), regime)
            for name in OUTCOME_META:
                rows[name][i, j] = out[name]
    ds = xr.Dataset(
        {name: (("parameter", "bound"), rows[name], {"units": u, "long_name": ln})
         for name, (u, ln) in OUTCOME_META.items()},
        coords={"parameter": keys, "bound": ["low", "high"],
                "low_value": ("parameter", [params[k].low for k in keys]),
                "high_value": ("parameter", [params[k].high for k in keys]),
                "value": ("parameter", [float(params[k].value) for k in keys])},
        attrs={"regime": regime},
    )
    for name, (u, ln) in OUTCOME_META.items():
        ds[f"reference_{name}"] = xr.DataArray(reference[name], attrs={
            "units": u, "long_name": f"{ln} (every parameter at its value)"})
    swing = ds["depletion_year"].sel(bound="high") - ds["depletion_year"].sel(bound="low")
    ds["depletion_year_swing"] = abs(swing).assign_attrs(
        units="years", long_name="|depletion year at high − at low|")
    return ds


def parameter_uncertainty(population: xr.DataArray, cal: Calibration, regime: str,
                          draws: xr.DataArray) -> xr.Dataset:
    """Fund outcomes ``[path]`` under each path's parameter draw (:func:`draw_parameters`).

    ``population`` is one path ``[year, age, sex]`` (e.g. the median: parameter uncertainty
    alone) or ``[path, year, age, sex]`` with the paths of ``draws`` (both uncertainties)."""
    out = {name: [] for name in OUTCOME_META}
    for p in draws["path"].values:
        pop = population.sel(path=p) if "path" in population.dims else population
        row = draws.sel(path=p)
        values = dict(zip(row["parameter"].values.tolist(), row.values.tolist()))
        result = fund_outcomes(pop, with_parameters(cal, values), regime)
        for name in OUTCOME_META:
            out[name].append(result[name])
    return xr.Dataset(
        {name: ("path", np.array(out[name]), {"units": u, "long_name": ln})
         for name, (u, ln) in OUTCOME_META.items()},
        coords={"path": draws["path"].values}, attrs={"regime": regime})


def parameter_set_of_path(paths: np.ndarray, n_paths: int, n_sets: int) -> np.ndarray:
    """The parameter set (index of :func:`draw_parameters`) of each of ``paths`` among
    ``n_paths``: the path itself when ``n_paths <= n_sets``, else ``p · n_sets // n_paths``
    (consecutive paths share a set, every set is used). Depends on the path and the run's
    sizes only, never on the chunk."""
    paths = np.asarray(paths, dtype=np.int64)
    return paths.copy() if n_paths <= n_sets else paths * n_sets // n_paths


@dataclass(frozen=True)
class PensionBlock:
    """One calibration's pension block under one regime: the calibration, the schedule of
    :func:`retirement_schedule`, the base-year fit on the median population, the open-age
    weights (the median population by category), the per-person rates of
    :func:`account_rates` and their :class:`models.pension.paths.FundBlock`."""

    calibration: Calibration
    schedule: xr.Dataset
    fit: BaseYearFit
    weights: xr.DataArray
    rates: xr.Dataset
    fund: FundBlock


def pension_block(cal: Calibration, median_population: xr.DataArray, regime: str,
                  schedule: xr.Dataset | None = None, fit: BaseYearFit | None = None,
                  weights: xr.DataArray | None = None) -> PensionBlock:
    """The :class:`PensionBlock` of ``cal`` under ``regime``; ``median_population[year, age,
    sex]`` fits the base year and weighs the open age group (as the run's deterministic
    projection does). ``schedule``, ``fit`` and ``weights`` (the median population by
    category) may be passed when already made for ``cal``."""
    years, ages = median_population["year"].values, median_population["age"].values
    if schedule is None:
        schedule = retirement_schedule(years, ages, regime, cal.pension)
    if fit is None:
        fit = calibrate_base_year(median_population, schedule, cal.pension, cal.finances)
    if weights is None:
        weights = category_population(median_population, cal.pension)
    rates = account_rates(schedule, fit, cal.pension, cal.finances, weights)
    return PensionBlock(cal, schedule, fit, weights, rates,
                        fund_block(rates, fit, cal.pension, cal.finances))


def drawn_pension_blocks(cal: Calibration, seed: np.random.SeedSequence, sets: np.ndarray,
                         median_population: xr.DataArray, regimes: list[str]
                         ) -> dict[int, dict[str, PensionBlock]]:
    """``{set: {regime: PensionBlock}}`` of each drawn parameter set (:func:`draw_parameters`
    of ``seed``, :func:`with_parameters`): the same block whichever process or chunk asks."""
    draws = draw_parameters(cal, seed, np.unique(np.asarray(sets, dtype=int)))
    keys = draws["parameter"].values.tolist()
    out = {}
    for j, row in zip(draws["path"].values.tolist(), draws.values):
        cal_j = with_parameters(cal, dict(zip(keys, row.tolist())))
        weights = category_population(median_population, cal_j.pension)  # one per set
        out[int(j)] = {regime: pension_block(cal_j, median_population, regime,
                                             weights=weights)
                       for regime in regimes}
    return out
