"""The fund and NSSF return rule: proportional to the economy's rate, calibrated in the base
year, warning on an implausible real return."""

import warnings

import numpy as np
import pytest
import xarray as xr

from models.coupling import model_prices, paired_prices
from models.pension.returns import ImplausibleReturnWarning, fund_returns

YEARS = np.arange(2021, 2026)


def _rate(values) -> xr.DataArray:
    return xr.DataArray(np.asarray(values, dtype=float), dims="year",
                        coords={"year": YEARS[:len(values)]})


def test_base_year_returns_are_the_calibrated_ones_and_shares_stay(calibration):
    """r = 7 % in 2021 falling to 3.5 %: the fund earns 2 % then 1 %, NSSF 4 % then 2 %."""
    fin = calibration.finances
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImplausibleReturnWarning)
        out = fund_returns(_rate([0.07, 0.06, 0.05, 0.035]), fin, 2021)
    assert float(out["fund_return"].sel(year=2021)) == pytest.approx(fin.fund.real_return.value)
    assert float(out["reserve_return"].sel(year=2021)) == pytest.approx(
        fin.reserve.real_return.value)
    assert float(out["fund_return"].sel(year=2024)) == pytest.approx(0.01)
    assert float(out["reserve_return"].sel(year=2024)) == pytest.approx(0.02)
    assert not bool(out["implausible_return"].any())


def test_a_negative_economy_rate_warns_and_is_flagged(calibration):
    """r = −5 % gives the fund 2/7 × −5 % = −1.43 % < −1 %: a warning, that year flagged."""
    with pytest.warns(ImplausibleReturnWarning, match="2023"):
        out = fund_returns(_rate([0.07, 0.06, -0.05]), calibration.finances, 2021)
    assert out["implausible_return"].values.tolist() == [False, False, True]
    assert float(out["fund_return"].sel(year=2023)) == pytest.approx(-0.05 * 0.02 / 0.07)


def test_rule_needs_a_positive_base_year_rate(calibration):
    with pytest.raises(ValueError, match="positive base-year rate"):
        fund_returns(_rate([0.0, 0.05]), calibration.finances, 2021)


def test_accounts_take_the_reserve_return(calibration, median_demography):
    """The NSSF compounds at the given return from the year after the base year."""
    from models.pension import calibrate_base_year, project_accounts, retirement_schedule

    pop = median_demography["population"].sel(year=slice(2021, 2025))
    sched = retirement_schedule(pop["year"].values, pop["age"].values, "law_2024",
                                calibration.pension)
    fit = calibrate_base_year(pop.sel(year=[2021, 2022]), sched, calibration.pension,
                              calibration.finances)
    ret = fund_returns(_rate([0.07, 0.035, 0.035, 0.035, 0.035]), calibration.finances, 2021)
    acc = project_accounts(pop, sched, fit, calibration.pension, calibration.finances,
                           fund_return=ret["fund_return"], reserve_return=ret["reserve_return"])
    nssf = acc["reserve_assets_end_cny"].values
    np.testing.assert_allclose(nssf[1:] / nssf[:-1], 1.02, rtol=1e-12)


def test_model_prices_take_the_return_rule(calibration):
    """The coupling's prices: the fund return of the rule (not the old constant spread:
    r = 7 % → 3.5 % gives 1 %, not 2 − 3.5 = −1.5 %), the NSSF's of the same rule, and the
    wage index relative to the base year."""
    transition = xr.Dataset({
        "interest_rate": _rate([0.07, 0.06, 0.05, 0.035]),
        "average_wage_cny": _rate([2.0, 2.1, 2.2, 2.4]),
    })
    years = YEARS[:4]
    index, fund = model_prices(transition, years, calibration)
    _, fund3, reserve = paired_prices(transition, years, calibration)
    assert float(fund.sel(year=2024)) == pytest.approx(0.01)
    assert float(reserve.sel(year=2024)) == pytest.approx(0.02)
    np.testing.assert_array_equal(fund, fund3)
    assert float(index.sel(year=2024)) == pytest.approx(1.2)
