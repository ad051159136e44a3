"""China's pension block: scheme rules (:mod:`models.pension.rules`) and fund accounting
(:mod:`models.pension.accounts`)."""

from models.pension.accounts import (
    BaseYearFit,
    calibrate_base_year,
    category_population,
    fund_milestones,
    project_accounts,
    retirement_schedule,
)

__all__ = [
    "BaseYearFit",
    "calibrate_base_year",
    "category_population",
    "fund_milestones",
    "project_accounts",
    "retirement_schedule",
]
