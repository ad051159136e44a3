"""The optimizer's price of delay from the economy (issue 14, item 5): the per-year aggregate
of the categories' welfare prices, and the objective's options (the economy's price by
default, the fixed price kept as a marked option). The per-cohort cost itself (positive
leisure cost for the cohorts a delay reaches, none for cohorts already retired) is checked in
tests/test_economy_choice.py (test_one_more_month_costs_leisure_only_to_those_it_reaches)."""

import numpy as np
import pytest

from models.config import ObjectiveWeights
from models.coupling import aggregate_delay_price, nearest_fill
from models.optimize.objective import delay_price, delay_price_source


def test_the_per_year_price_is_the_person_weighted_mean_of_the_categories():
    price = np.array([[100.0, 40.0, np.nan],
                      [110.0, np.nan, 30.0],
                      [np.nan, np.nan, np.nan],
                      [130.0, 60.0, 20.0]])
    weight = np.array([[3.0, 1.0, 5.0],
                       [1.0, 2.0, 1.0],
                       [1.0, 1.0, 1.0],
                       [1.0, 1.0, 2.0]])
    wage = np.array([10.0, 11.0, 12.0, 13.0])
    got = aggregate_delay_price(price, weight, wage)
    assert got[0] == pytest.approx((3 * 100 + 40) / 4)  # women workers: no price that year
    assert got[1] == pytest.approx((110 + 30) / 2)
    # no category reaches its age in the third year: the second year's wage share, own wage
    assert got[2] == pytest.approx(70.0 / 11.0 * 12.0)
    assert got[3] == pytest.approx((130 + 60 + 40) / 4)


def test_nearest_fill_takes_the_last_known_value_then_the_first():
    x = np.array([np.nan, 2.0, np.nan, np.nan, 5.0, np.nan])
    np.testing.assert_array_equal(nearest_fill(x), [2.0, 2.0, 2.0, 2.0, 5.0, 5.0])
    with pytest.raises(ValueError, match="no year"):
        nearest_fill(np.full(3, np.nan))


def test_the_economy_price_is_the_default_and_the_fixed_prices_are_marked_options():
    # the shipped economy has elastic hours: its welfare price of delay is the default
    assert ObjectiveWeights().delay_price == "economy"
    assert delay_price_source("economy", True) == "economy"
    assert delay_price_source("economy", False) == "economy_unpaired"  # stood in for
    assert delay_price_source("wage_indexed", True) == "wage_indexed"
    assert delay_price_source("fixed", False) == "fixed"
    with pytest.raises(ValueError, match="delay price"):
        delay_price_source("market", True)
    index = np.array([1.0, 1.5, 2.0])
    economy = np.array([900.0, 1200.0, 2100.0])
    np.testing.assert_array_equal(delay_price("economy", 1500.0, 3, index, economy), economy)
    # without an economy (an unpaired run) it is the wage-indexed fixed price
    np.testing.assert_array_equal(delay_price("economy", 1500.0, 3, index), 1500.0 * index)
    np.testing.assert_array_equal(delay_price("fixed", 1500.0, 3, index), 1500.0)


def test_years_the_delay_does_not_reach_are_zero_and_never_filled_from():
    """Issue 14, item 5 (the zero prices with the retirement choice on): years before the
    delay starts (``priced`` False) are 0 — no cohort reaching its statutory age then is
    delayed — and a priced year with no cohort takes the nearest *priced* year's wage
    share (here the next one), never an unpriced year's 0."""
    price = np.array([[0.0, 0.0, 0.0],
                      [np.nan, np.nan, np.nan],
                      [50.0, np.nan, np.nan],
                      [60.0, 30.0, np.nan]])
    weight = np.ones((4, 3))
    wage = np.array([10.0, 11.0, 12.0, 13.0])
    priced = np.array([False, True, True, True])
    got = aggregate_delay_price(price, weight, wage, priced)
    assert got[0] == 0.0
    assert got[1] == pytest.approx(50.0 / 12.0 * 11.0)  # not the unpriced year's 0
    assert got[2] == pytest.approx(50.0)
    assert got[3] == pytest.approx(45.0)
    # without ``priced`` every year is priced (the fill takes the zero before)
    assert aggregate_delay_price(price, weight, wage)[1] == 0.0
