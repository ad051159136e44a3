"""Names and units defined once for the whole package (the config floor: imports nothing).

Labels of the dimensions (DESIGN.md, "Conventions") and the money units of every result.
"""

from __future__ import annotations

#: ``sex`` coordinate, in this order on every (..., age, sex) array.
SEXES: tuple[str, str] = ("female", "male")
#: ``category`` coordinate: the retirement-age categories of the urban employee scheme.
CATEGORIES: tuple[str, ...] = ("men", "women_cadre", "women_worker")
#: ``regime`` coordinate: retirement ages before the law of 13 September 2024, and under it.
REGIMES: tuple[str, ...] = ("pre_2024", "law_2024")

#: Money in results: real yuan at base-year prices (variables named ``*_cny``).
MONEY_UNITS = "yuan at base-year prices"
#: The ``units`` attribute of a money variable in results.nc.
YUAN = "yuan (base-year prices)"
#: Scales of money and people in printed tables.
TRILLION, BILLION, MILLION = 1e12, 1e9, 1e6
