"""The drawn pension blocks' speed-ups change no bit (issue 15, Monte Carlo accounts with
parameter draws): the remembered parameter-free parts of the retirement schedule, the cohort
running maximum over all diagonals at once and the category population in NumPy give exactly
the numbers of the computation without them."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from models.config import CATEGORIES
from models.pension import accounts
from models.pension.accounts import (
    CATEGORY_SEX,
    category_population,
    clear_schedule_memo,
    never_falls,
    retirement_schedule,
)
from models.pension.uncertainty import drawn_pension_blocks

REGIMES = ["pre_2024", "law_2024"]
#: the remembered functions of the schedule; without the memo each is its undecorated self
MEMOS = ("_mixed_months_memo", "_law_age")


@pytest.fixture
def no_memo(monkeypatch):
    """The uncached path: every remembered function replaced by the function itself."""
    for name in MEMOS:
        monkeypatch.setattr(accounts, name, getattr(accounts, name).__wrapped__)


def _arrays(block) -> dict[str, np.ndarray]:
    """Every array of a drawn block: schedule, rates, fund block and the fit's scalars."""
    out = {f"schedule.{k}": v.values for k, v in block.schedule.data_vars.items()}
    out.update({f"rates.{k}": v.values for k, v in block.rates.data_vars.items()})
    for name in ("insured", "expenditure", "wage", "subsidy", "fund_return"):
        out[f"fund.{name}"] = np.asarray(getattr(block.fund, name))
    out["fit"] = np.array([float(v) for v in vars(block.fit).values()])
    return out


def _assert_same_bits(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], strict=True, err_msg=key)


def _drawn(calibration, median_demography):
    """Three drawn sets in a row under both regimes (the memo, when on, filled by the
    first set and reused by the others)."""
    return drawn_pension_blocks(calibration, np.random.SeedSequence(151), np.array([0, 1, 2]),
                                median_demography["population"], REGIMES)


@pytest.fixture
def drawn_with_memo(calibration, median_demography):
    clear_schedule_memo()
    return _drawn(calibration, median_demography)


def test_drawn_blocks_with_the_memo_equal_the_uncached_path(drawn_with_memo, no_memo,
                                                              calibration, median_demography):
    """Three drawn sets computed with the memo against the same sets computed without it:
    the same bits under both regimes."""
    uncached = _drawn(calibration, median_demography)
    for j in uncached:
        for regime in REGIMES:
            _assert_same_bits(_arrays(drawn_with_memo[j][regime]),
                              _arrays(uncached[j][regime]))


def _delay_schedules(calibration) -> list[xr.Dataset]:
    """The 2024 law's schedule under four delays in turn (whole and fractional months)."""
    years, ages = np.arange(2021, 2101), np.arange(101)
    out = []
    for months in (0.0, 6.0, 7.5, 36.0):
        lever = xr.DataArray(np.full((len(years), len(CATEGORIES)), months),
                             dims=("year", "category"),
                             coords={"year": years, "category": list(CATEGORIES)})
        out.append(retirement_schedule(years, ages, "law_2024", calibration.pension,
                                       extra_delay_months=lever))
    return out


@pytest.fixture
def delays_with_memo(calibration):
    clear_schedule_memo()
    return _delay_schedules(calibration)


def test_schedules_of_several_delays_with_the_memo_equal_the_uncached_path(
        delays_with_memo, no_memo, calibration):
    """Delays in turn with the memo equal them without it (the memo's key carries the delay
    and its fraction of a month)."""
    for got, fresh in zip(delays_with_memo, _delay_schedules(calibration)):
        for name in fresh.data_vars:
            np.testing.assert_array_equal(got[name].values, fresh[name].values, strict=True,
                                          err_msg=name)
    assert not np.array_equal(delays_with_memo[0]["pension_share"].values,
                              delays_with_memo[2]["pension_share"].values)


@pytest.mark.parametrize("shape", [(81, 101), (5, 3), (3, 7), (1, 4), (4, 1)])
def test_never_falls_is_the_running_maximum_along_each_cohort(shape):
    """All diagonals at once equal the year-by-year recursion
    ``S'[t, a] = max(S[t, a], S'[t−1, a−1])``, NaN included."""
    rng = np.random.default_rng(17)
    share = rng.random(shape)
    share[rng.random(shape) < 0.05] = np.nan
    expected = share.copy()
    for t in range(1, shape[0]):
        expected[t, 1:] = np.maximum(expected[t, 1:], expected[t - 1, :-1])
    np.testing.assert_array_equal(never_falls(share), expected, strict=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_category_population_equals_the_concatenated_products(calibration, dtype):
    """The NumPy category population against ``xr.concat`` of ``pop.sel(sex) · ω_c``: the
    same values, dtype and memory layout (sums along an axis depend on it)."""
    rng = np.random.default_rng(3)
    pop = xr.DataArray(rng.random((4, 5, 6, 2)).astype(dtype) * 1e5,
                       dims=("path", "year", "age", "sex"),
                       coords={"path": np.arange(4), "year": np.arange(2021, 2026),
                               "age": np.arange(6), "sex": ["female", "male"]})
    share = calibration.pension.retirement.women_cadre_share.value
    weights = {"men": 1.0, "women_cadre": share, "women_worker": 1.0 - share}
    parts = [pop.sel(sex=CATEGORY_SEX[c], drop=True) * weights[c] for c in CATEGORIES]
    expected = xr.concat(parts, dim=xr.DataArray(list(CATEGORIES), dims="category",
                                                 name="category"))
    expected = expected.transpose("path", "year", "age", "category")
    got = category_population(pop, calibration.pension)
    assert got.dims == expected.dims
    assert got.values.strides == expected.values.strides
    np.testing.assert_array_equal(got.values, expected.values, strict=True)
    assert float(got.sum()) == float(expected.sum())
