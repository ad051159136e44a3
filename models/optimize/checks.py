"""Checks of an experiment's optimizer settings against the law, made before any work.

The schema (:mod:`models.config`) checks each setting and the rules between the experiment and
its calibration; the rules that need the law's retirement ages (:mod:`models.pension.rules`, a
floor above the configuration) are here, called by ``pension validate`` and at the start of
``pension run``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.config import CATEGORIES, ConfigError, Experiment
from models.pension import rules

#: Birth years searched for the law's highest statutory age (every cohort the law phases in,
#: and the cohorts after it, who keep the final age).
BIRTH_YEARS = np.arange(1930, 2031)


def final_statutory_age(category: str, regime: str) -> float:
    """The highest statutory retirement age (years) of ``category`` under ``regime``: the age
    the law reaches once phased in (2024 law: men 63, women cadres 58, women workers 55; before
    it: 60, 55, 50), from :func:`models.pension.rules.statutory_retirement_age_months`."""
    months = rules.statutory_retirement_age_months(BIRTH_YEARS[:, None], np.arange(1, 13)[None, :],
                                                   category, regime)
    return float(np.max(months)) / rules.MONTHS_PER_YEAR


def check_optimization(exp: Experiment, source: str | Path) -> None:
    """Raise :class:`ConfigError` when the retirement lever is on and a category's ``cap_age``
    lies below the regime's final statutory age: the optimizer never goes below the law, so such
    a cap would silently allow no delay at all for the cohorts the law has phased in (a cap
    equal to the law's age is the way to say "no delay beyond the law")."""
    opt = exp.optimization
    if opt is None or not opt.retirement.enabled:
        return
    problems = []
    for category in CATEGORIES:
        cap = getattr(opt.retirement.cap_age, category)
        law = final_statutory_age(category, opt.regime)
        if cap < law:
            problems.append(f"{source}: key 'optimization.retirement.cap_age.{category}' = "
                            f"{cap!r}: expected at least {law:g}, the final statutory age of "
                            f"{category} under optimization.regime = '{opt.regime}' (the "
                            "optimizer never goes below the law; set the cap to the law's age "
                            "for no extra delay)")
    if problems:
        raise ConfigError("\n".join(problems))
