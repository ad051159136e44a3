"""The answer table's plain notes: why the optimality gap has no interval, and what the
horizon's last year holds (the sustainability condition's stock, not a trend)."""

from __future__ import annotations

from typing import get_args

import numpy as np
import xarray as xr

from models.config import OptimizationConstraints, OptimizationSettings, RecourseSettings
from models.optimize.objective import DELAY_PRICES, delay_price_source
from models.pipeline.optimization import certificate_skipped, gap_skipped_note, guarantee_attrs
from models.report.optimization import (
    DELAY_PRICE_TEXT,
    RECOURSE_TEXT,
    answer_guarantee_frame,
    fresh_guarantee_text,
    horizon_note,
)


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


def test_the_guarantee_table_says_which_price_of_delay_the_objective_used():
    """The economy's welfare price, a marked fixed option with its amount, or the stand-in of
    an economy price asked for by a run not paired with the economy; every source has a text."""
    assert set(DELAY_PRICE_TEXT) == {delay_price_source(k, paired) for k in DELAY_PRICES
                                     for paired in (True, False)}

    def row(source: str) -> str:
        ds = xr.Dataset(attrs={"opt_delay_price": source,
                               "opt_delay_cny_per_person_month": 1500.0})
        return dict(answer_guarantee_frame(ds).frame.values.tolist())[
            "price of a month of delay"]

    assert row("economy").startswith("the economy's welfare price")
    assert row("wage_indexed").startswith("marked option: 1,500 yuan")
    assert "fixed" in row("fixed") and "1,500" in row("fixed")
    assert "not paired with the economy" in row("economy_unpaired")


def test_a_chance_or_cvar_run_says_its_fresh_paths_pay_every_pension():
    """The limit of a chance or CVaR run binds the optimized paths; the fresh-path figures
    price paying in full. A hard run carries no such attribute (and no row)."""
    assert guarantee_attrs(OptimizationConstraints()) == {}
    chance = guarantee_attrs(OptimizationConstraints(chance_alpha=0.05))
    assert chance == {"opt_chance_alpha": 0.05}
    text = fresh_guarantee_text(xr.Dataset(attrs=chance))
    assert "every pension paid on every fresh path" in text
    assert "at most 5 % of paths" in text and "under the chance constraint" in text
    cvar = guarantee_attrs(OptimizationConstraints(cvar_beta=0.9, cvar_limit_cny=2e12))
    assert cvar == {"opt_cvar_beta": 0.9, "opt_cvar_limit_cny": 2e12}
    text = fresh_guarantee_text(xr.Dataset(attrs=cvar))
    assert "CVaR limit (2 trillion yuan" in text and "beta 0.9" in text
    assert "chance" not in text


def test_a_run_without_a_certificate_says_why():
    """Polish off, no outer lever (the LP's optimum is exact), or no feasible policy: each its
    own reason, never the wrong one (a run with the delays off once read "no feasible
    policy")."""
    settings = OptimizationSettings()
    assert "polish = false" in certificate_skipped(
        settings.model_copy(update={"search": settings.search.model_copy(
            update={"polish": False})}))
    no_levers = settings.model_copy(update={
        "retirement": settings.retirement.model_copy(update={"enabled": False}),
        "indexation": settings.indexation.model_copy(update={"enabled": False})})
    assert "nothing to search" in certificate_skipped(no_levers)
    assert "no feasible policy" in certificate_skipped(settings)
