"""The residents' equity reform (pension.residents: target share of the average employee
pension, reform year, phase-in), welfare between experiments from stored lifetime utilities,
and the ``pension tables`` command."""

import numpy as np
import pytest
import xarray as xr

from models.config import ConfigError, load_calibration, load_experiment
from models.pension import calibrate_base_year, project_accounts, retirement_schedule
from models.pension.rules import residents_reform_weight
from tests.conftest import CALIBRATION

SHARE, YEAR, PHASE = 0.2, 2026, 5


def _entry(value, unit="u"):
    return {"value": value, "unit": unit, "source": "test scenario"}


def _reform(share=SHARE, year=YEAR, phase=PHASE) -> dict:
    return {"pension.residents.target_share_of_employee_pension": _entry(share),
            "pension.residents.reform_year": _entry(year),
            "pension.residents.phase_in_years": _entry(phase)}


@pytest.fixture(scope="module")
def accounts(calibration, median_demography):
    """Accounts (2024 law) without and with the reform, on the median path."""
    reformed = load_calibration(CALIBRATION, _reform())
    pop = median_demography["population"]
    sched = retirement_schedule(pop["year"].values, pop["age"].values, "law_2024",
                                calibration.pension)
    fit = calibrate_base_year(pop, sched, calibration.pension,
                              calibration.finances)
    off = project_accounts(pop, sched, fit, calibration.pension, calibration.finances)
    on = project_accounts(pop, sched, fit, reformed.pension, reformed.finances)
    return off, on


def _per_recipient(acc: xr.Dataset) -> np.ndarray:
    return (acc["residents_expenditure_cny"] / acc["residents_recipients"]).values


# ---------------------------------------------------------------------------- the rule
def test_phase_in_weight_is_linear_from_the_reform_year():
    years = np.arange(2020, 2036)
    lam = residents_reform_weight(years, 2026, 5)
    assert np.all(lam[years < 2026] == 0.0)
    np.testing.assert_allclose(lam[(years >= 2026) & (years <= 2030)], [0.2, 0.4, 0.6, 0.8, 1.0])
    assert np.all(lam[years > 2030] == 1.0)
    np.testing.assert_array_equal(residents_reform_weight(years, 2026, 0), years >= 2026)
    np.testing.assert_array_equal(residents_reform_weight(years, 2026, 1), years >= 2026)


def test_calibration_without_the_reform_is_the_status_quo(calibration, accounts):
    """The shipped calibration sets no reform; the residents' pension is the base-year level
    indexed by its share of wage growth (the status-quo rule, by hand)."""
    assert not calibration.pension.residents.reformed
    off, _ = accounts
    res = calibration.pension.residents
    wage = off["average_wage_cny"].values
    growth = np.concatenate([[1.0], np.cumprod(1.0 + res.indexation_wage_share.value
                                               * (wage[1:] / wage[:-1] - 1.0))])
    np.testing.assert_allclose(_per_recipient(off),
                               res.basic_pension_monthly_cny.value * 12.0 * growth, rtol=1e-12)


def test_reform_leaves_every_flow_unchanged_before_the_reform_year(accounts):
    off, on = accounts
    before = off["year"] < YEAR
    for name in off.data_vars:
        np.testing.assert_array_equal(on[name].where(before, drop=True).values,
                                      off[name].where(before, drop=True).values, err_msg=name)
    # the employee scheme never changes: the residents' pension is paid from the budget
    for name in ("expenditure_cny", "contributions_cny", "balance_end_cny",
                 "residents_recipients"):
        np.testing.assert_array_equal(on[name].values, off[name].values, err_msg=name)


def test_after_the_phase_in_the_residents_pension_is_the_target_share(accounts):
    _, on = accounts
    after = on["year"].values >= YEAR + PHASE - 1
    employee = on["average_pension_cny"].values
    np.testing.assert_allclose(_per_recipient(on)[after], SHARE * employee[after], rtol=1e-12)


def test_phase_in_closes_the_gap_linearly(accounts):
    off, on = accounts
    years = on["year"].values
    gap = SHARE * on["average_pension_cny"].values - _per_recipient(off)
    closed = (_per_recipient(on) - _per_recipient(off)) / gap
    np.testing.assert_allclose(closed, residents_reform_weight(years, YEAR, PHASE), atol=1e-12)
    assert closed[years == YEAR][0] == pytest.approx(1.0 / PHASE)


# ---------------------------------------------------------------------------- bad values
@pytest.mark.parametrize("overrides, message", [
    (_reform(share=1.5), r"exp\.toml: key 'overrides\.pension\.residents\."
                         r"target_share_of_employee_pension\.value' = 1\.5: expected a number "
                         r"<= 1"),
    (_reform(share=0.0), r"target_share_of_employee_pension\.value' = 0\.0: expected a "
                         r"number > 0"),
    (_reform(phase=-1), r"phase_in_years\.value' = -1: expected a number >= 0"),
    (_reform(year=2020), r"key 'overrides\.pension\.residents\.reform_year\.value' = 2020: "
                         r"expected a year after demography\.base_year\.value = 2021"),
    ({k: v for k, v in _reform().items() if "phase" not in k},
     r"needs target_share_of_employee_pension, reform_year, phase_in_years together: "
     r"target_share_of_employee_pension, reform_year given, phase_in_years missing"),
])
def test_bad_reform_values_stop_with_a_clear_error(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_calibration(CALIBRATION, overrides, override_source="exp.toml")


def test_misspelt_or_partial_reform_override_names_the_experiment(tmp_path):
    exp = tmp_path / "experiments" / "bad.toml"
    exp.parent.mkdir()
    exp.write_text(f'name = "bad"\ncalibration = "{CALIBRATION}"\n[overrides]\n'
                   '"pension.residents.target_share" = { value = 0.2, unit = "u", source = '
                   '"test" }\n')
    with pytest.raises(ConfigError, match=r"bad\.toml: override key 'overrides\.pension\."
                                          r"residents\.target_share'.*did you mean 'pension\."
                                          r"residents\.target_share_of_employee_pension'\?"):
        load_experiment(exp)
    exp.write_text(f'name = "bad"\ncalibration = "{CALIBRATION}"\n[overrides]\n'
                   '"pension.residents.reform_year.value" = 2026\n')
    with pytest.raises(ConfigError, match=r"bad\.toml: .*'pension\.residents\.reform_year' in "
                                          r"the calibration files \(an optional entry: set it "
                                          r"whole"):
        load_experiment(exp)


def test_shipped_equity_experiment_sets_the_reform():
    from tests.conftest import EXPERIMENTS

    _, cal, _ = load_experiment(EXPERIMENTS / "equity.toml")
    res = cal.pension.residents
    assert res.reformed
    assert (res.target_share_of_employee_pension.value, res.reform_year.value,
            res.phase_in_years.value) == (0.2, 2026, 5)


# ---------------------------------------------------------------------------- economy
def test_economy_residents_ratio_follows_the_same_rule():
    from models.economy import EconomyParameters
    from models.economy.core import residents_ratio

    params = EconomyParameters(technology_growth=((2021, 0.02),), residents_indexation_until=2100)
    years = np.arange(2021, 2120)
    employee = tuple((int(y), 0.40 - 0.001 * (y - 2021)) for y in range(2021, 2101))
    reformed = params.replace(residents_target_share=SHARE, residents_reform_year=YEAR,
                              residents_phase_in_years=PHASE, employee_pension_ratio=employee)
    sq, new = residents_ratio(params, 2021, years), residents_ratio(reformed, 2021, years)
    np.testing.assert_array_equal(new[years < YEAR], sq[years < YEAR])
    e = np.interp(years, [y for y, _ in employee], [v for _, v in employee])
    after = years >= YEAR + PHASE - 1
    np.testing.assert_allclose(new[after], SHARE * e[after], rtol=1e-12)
    assert new[-1] == pytest.approx(SHARE * employee[-1][1])  # constant beyond the path
    with pytest.raises(ValueError, match="needs the employee_pension_ratio"):
        params.replace(residents_target_share=SHARE)


def test_with_residents_reform_is_the_identity_without_a_reform(calibration):
    from models.economy import EconomyParameters, with_residents_reform

    params = EconomyParameters()
    ratio = xr.DataArray([0.4, 0.39], dims="year", coords={"year": [2021, 2022]})
    assert with_residents_reform(params, calibration.pension, ratio) is params
    reformed = load_calibration(CALIBRATION, _reform())
    p = with_residents_reform(params, reformed.pension, ratio)
    assert (p.residents_target_share, p.residents_reform_year, p.residents_phase_in_years,
            p.employee_pension_ratio) == (0.2, 2026, 5, ((2021, 0.4), (2022, 0.39)))


# ---------------------------------------------------------------------------- welfare
def _transition_like(utility: np.ndarray, crra: float = 2.0) -> xr.Dataset:
    coords = {"birth_year": [1960, 1990], "group": ["employee", "resident"],
              "category": ["men", "women_cadre", "women_worker"]}
    dims = tuple(coords)
    return xr.Dataset({"lifetime_utility": (dims, utility, {"units": "utils",
                                                            "long_name": "lifetime utility"}),
                       "discounted_survival": (dims, np.full(utility.shape, 20.0),
                                               {"units": "years"})},
                      coords=coords, attrs={"crra": crra, "base_year": 2021, "horizon": 200})


@pytest.mark.parametrize("crra", [2.0, 1.0])
def test_welfare_between_experiments_from_stored_utilities(tmp_path, crra):
    """Lifetime utilities written to results.nc and read back give the analytic CEV: with
    CRRA σ, consumption scaled by (1 + λ) scales V by (1 + λ)^(1 − σ) (log: adds
    log(1 + λ) × the discounted survival)."""
    from models.economy import welfare_cev
    from models.catalogue import annotate, entry
    from models.pipeline.economy_step import lifetime_welfare
    from models.report.economy import welfare_of

    rng = np.random.default_rng(np.random.SeedSequence(6))
    lam = 0.1
    if crra == 1.0:
        v0 = rng.uniform(-5.0, 5.0, (2, 2, 3))
        v1 = v0 + np.log1p(lam) * 20.0
    else:
        v0 = -rng.uniform(1.0, 5.0, (2, 2, 3))
        v1 = v0 * (1.0 + lam) ** (1.0 - crra)
    stored = xr.concat([lifetime_welfare(_transition_like(v, crra), "economy_")
                        for v in (v0, v1)],
                       dim=xr.DataArray(["base", "reform"], dims="regime", name="regime"),
                       combine_attrs="override")
    path = tmp_path / "results.nc"
    annotate(stored).to_netcdf(path)
    back = xr.open_dataset(path)
    cev = welfare_cev(welfare_of(back, regime="base"), welfare_of(back, regime="reform"))
    np.testing.assert_allclose(cev.values, lam, rtol=1e-12)
    assert back["economy_lifetime_utility"].attrs["units"] == entry(
        "economy_lifetime_utility").units
    assert back["economy_lifetime_utility"].attrs["long_name"].endswith("(under the regime)")


# ---------------------------------------------------------------------------- CLI
def test_pension_tables_is_the_study_tables_command(tmp_path, capsys):
    from models.cli import build_parser, main

    args = build_parser().parse_args(["tables", "--size", "small", "--check"])
    assert (args.size, args.check, args.update_golden, args.no_figures) == ("small", True,
                                                                            False, False)
    # with no results, it stops as the study module does (exit status 4, the missing run)
    code = main(["tables", "--size", "small", "--results-dir", str(tmp_path), "--no-figures"])
    assert code == 4
    assert "missing" in capsys.readouterr().err
