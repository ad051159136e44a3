"""China's pension block: scheme rules (:mod:`models.pension.rules`), the per-person block
(:mod:`models.pension.block`: coverage through retirement, contribution base, the award), fund
accounting (:mod:`models.pension.accounts`), identification and parameter uncertainty
(:mod:`models.pension.uncertainty`), validation against reported figures
(:mod:`models.pension.validation`) and the fund's return rule (:mod:`models.pension.returns`)."""

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
