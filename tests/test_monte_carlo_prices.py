"""Every Monte Carlo path gets its own economy prices; the first-order error is measured."""

import numpy as np

from models.pipeline import run
from models.pipeline.results import read_results
from tests.conftest import CALIBRATION


def test_paths_get_their_own_prices_and_the_error_is_small(tmp_path):
    exp = tmp_path / "experiments" / "mcp.toml"
    exp.parent.mkdir()
    exp.write_text(f'name = "mcp"\ncalibration = "{CALIBRATION}"\nseed = 3\n'
                   '[projection]\nregimes = ["law_2024"]\n'
                   '[demography]\npaths = 4\nchunk_size = 2\n'
                   '[economy]\nmonte_carlo_prices = true\nerror_sample_paths = 2\n')
    ds = read_results(run.run_experiment(exp, results_root=tmp_path / "results"))
    rates = ds["mc_prices_interest_rate"].sel(regime="law_2024")
    index = ds["mc_prices_wage_index"].sel(regime="law_2024")
    assert np.allclose(index.isel(year=0), 1.0)
    # paths differ from each other (their own demography moves their prices) ...
    assert float(rates.std("path").max()) > 1e-5
    # ... and the first-order prices are close to exact solves on the sampled paths
    assert float(ds["mc_prices_interest_rate_error_pp"].max()) < 0.5
    assert float(ds["mc_prices_average_wage_relative_error"].max()) < 0.05
    assert np.isfinite(ds["mc_prices_months_payable"]).all()
