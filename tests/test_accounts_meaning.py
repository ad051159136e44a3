"""What the pension accounts' outputs MEAN (survivors of issue 17's mutants of accounts.py).

Kept apart from tests/test_accounts.py (being restructured at the same time). Checked:

* every variable the accounts and the retirement schedule return is the catalogue's variable
  (models/catalogue.py: its name, dimensions, units and long name) -- one definition of each
  result (issue 11), whatever code writes it;
* the system dependency ratio is, by definition, pensioners per insured worker in each year
  (both summed over the categories).
"""

import numpy as np
import pytest

from models.catalogue import CATALOGUE, entry
from models.constants import CATEGORIES
from models.pension import calibrate_base_year, project_accounts, retirement_schedule


@pytest.fixture(scope="module")
def law(calibration, median_demography):
    pop = median_demography["population"]
    years, ages = pop["year"].values, pop["age"].values
    sched = retirement_schedule(years, ages, "law_2024", calibration.pension)
    fit = calibrate_base_year(pop.sel(year=years[:2]), sched, calibration.pension,
                              calibration.finances)
    return sched, project_accounts(pop, sched, fit, calibration.pension, calibration.finances)


def test_the_accounts_are_the_catalogue_variables(law):
    sched, acc = law
    assert list(sched["category"].values) == list(CATEGORIES)
    for name, var in acc.data_vars.items():
        if str(name) not in CATALOGUE:
            continue  # intermediate variables the pipeline does not write
        item = entry(str(name))
        # the pipeline stacks the regimes (and the Monte Carlo the paths) in front
        assert var.dims == tuple(d for d in item.dims if d not in ("regime", "path")), name
        assert {k: var.attrs.get(k) for k in item.attrs()} == item.attrs(), name
    for name in ("insured_workers_year_end", "pensioners_year_end", "system_dependency_ratio",
                 "revenue_cny", "expenditure_cny", "balance_end_cny"):
        assert name in acc, name


def test_system_dependency_ratio_is_pensioners_per_insured_worker(law):
    _, acc = law
    ratio = acc["system_dependency_ratio"]
    assert ratio.dims == ("year",)
    pensioners = acc["pensioners"].sum([d for d in acc["pensioners"].dims if d != "year"])
    insured = acc["insured_workers"].sum([d for d in acc["insured_workers"].dims if d != "year"])
    np.testing.assert_allclose(ratio.values, (pensioners / insured).values, rtol=1e-12)
    assert 0.2 < float(ratio.isel(year=0)) < 0.6  # China 2021: about 0.37 retirees per worker
