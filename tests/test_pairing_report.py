"""The pairing table prints every change the pairing's stopping rule looks at: the price of
delay and the retirement distribution when the run recorded them, not only wages and returns."""

from __future__ import annotations

import numpy as np
import xarray as xr

from models.report.optimization import pairing_frame


def _pairing(extra: dict) -> xr.Dataset:
    it = ("pairing_iteration",)
    data = {"pairing_objective_cny": (it, [3.0e12, 2.9e12]),
            "pairing_wage_change": (it, [1e-2, 1e-5]),
            "pairing_return_change": (it, [2e-3, 3e-6]),
            "pairing_converged": ((), 1)}
    data.update({k: (it, v) for k, v in extra.items()})
    return xr.Dataset(data, coords={"pairing_iteration": [1, 2]})


def test_the_pairing_table_shows_the_recorded_changes_only():
    plain = pairing_frame(_pairing({}))
    assert list(plain.frame.columns)[2:] == ["max relative change of wages",
                                              "max change of the fund return"]
    full = pairing_frame(_pairing({"pairing_delay_price_change": [0.2, 4e-5],
                                   "pairing_distribution_change": [0.05, 7e-6]}))
    assert full.frame.shape[1] == 6
    np.testing.assert_array_equal(full.frame["max relative change of the price of delay"],
                                  [0.2, 4e-5])
    np.testing.assert_array_equal(full.frame["max change of a retirement-age share"],
                                  [0.05, 7e-6])
    assert len(full.floatfmt) == full.frame.shape[1]
    assert "price of delay" in full.text()
