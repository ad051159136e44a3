"""The answer table's plain notes: why the optimality gap has no interval, and what the
horizon's last year holds (the sustainability condition's stock, not a trend)."""

from __future__ import annotations

from typing import get_args

import numpy as np
import xarray as xr

from models.config import RecourseSettings
from models.pipeline.optimization import gap_skipped_note
from models.report.optimization import RECOURSE_TEXT, answer_guarantee_frame, horizon_note


def test_the_gap_note_says_replications_were_switched_off_or_too_few():
    off = gap_skipped_note(0)
    assert "switched off" in off and "replications = 0" in off
    one = gap_skipped_note(1)
    assert one.startswith("1 replication") and "at least 2" in one
    assert "switched off" not in one


def _run(target: float | None) -> xr.Dataset:
    attrs = {} if target is None else {"opt_horizon_months_target": target}
    return xr.Dataset({"opt_fund_balance_cny": (("path", "year"), np.ones((2, 3)))},
                      coords={"year": [2090, 2095, 2100]}, attrs=attrs)


def test_the_horizon_note_names_the_target_only_when_the_table_ends_at_the_horizon():
    note = horizon_note(_run(12.0), [2090, 2100])
    assert "2100, the horizon" in note and "12 months of expenditure" in note
    assert horizon_note(_run(6.5), [2100]).count("6.5 months") == 1
    assert horizon_note(_run(12.0), [2090, 2095]) == ""   # the table stops before the horizon
    assert horizon_note(_run(None), [2090, 2100]) == ""   # results written before the target
    assert horizon_note(_run(0.0), [2090, 2100]) == ""    # no stock to build


def test_the_guarantee_table_says_whether_the_recourse_knows_the_future():
    """Path-wise recourse is flagged anticipative; a rule is not; every setting has a text."""
    assert set(RECOURSE_TEXT) == set(get_args(RecourseSettings.model_fields[
        "reserve_draws"].annotation))
    rows = dict(answer_guarantee_frame(xr.Dataset(attrs={"opt_recourse": "path"}))
                .frame.values.tolist())
    assert "(anticipative" in rows["recourse (reserve draws and transfers)"]
    rows = dict(answer_guarantee_frame(xr.Dataset(attrs={"opt_recourse": "affine"}))
                .frame.values.tolist())
    assert "(non-anticipative)" in rows["recourse (reserve draws and transfers)"]
