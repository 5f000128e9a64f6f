"""Parameter recovery of the independent and multinomial probit on simulated data.

Each replication simulates choices from known parameters, fits by maximum likelihood and
records whether each 95% Wald interval contains the truth. The default suite runs a reduced
version; ``pytest -m slow tests/test_probit_recovery.py`` runs enough replications to check
the coverage rate within Monte Carlo error (CI runs it with
``DISCRETE_CHOICE_RECOVERY_REPS=10`` replications).

Truth of the multinomial probit in its own normalisation: differences against a have
covariance Omega = [[1, 0.5], [0.5, 1.5]], whose Cholesky factor has L_cb = 0.5 and
L_cc = sqrt(1.5 - 0.25).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import scipy.stats

import discrete_choice as dc
from discrete_choice.models import MultinomialProbit, Probit
from discrete_choice.simulators import GHK

SPEC = dc.LinearSpec.from_formula("choice ~ x", base="a")
CONSTANTS = np.array([0.0, 0.5, -0.4])
OMEGA = np.array([[1.0, 0.5], [0.5, 1.5]])
# Replications of the slow coverage check: 100 by default, fewer in CI.
N_REPS = int(os.environ.get("DISCRETE_CHOICE_RECOVERY_REPS", "100"))


def simulate(n_obs: int, correlated: bool, seed: int) -> dc.ChoiceData:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_obs, 3))
    if correlated:
        noise = np.zeros((n_obs, 3))
        noise[:, 1:] = rng.normal(size=(n_obs, 2)) @ np.linalg.cholesky(OMEGA).T
    else:
        noise = rng.normal(size=(n_obs, 3))
    choice = np.argmax(CONSTANTS + x + noise, axis=1)
    return dc.ChoiceData.from_arrays(choice, {"x": x}, alternatives=["a", "b", "c"])


CASES = {
    "probit": dict(model=lambda: Probit(SPEC), correlated=False,
                   truth={"ASC_b": 0.5, "ASC_c": -0.4, "x": 1.0}),
    "mnp": dict(model=lambda: MultinomialProbit(SPEC, simulator=GHK(n_draws=200, key=0)),
                correlated=True,
                truth={"ASC_b": 0.5, "ASC_c": -0.4, "x": 1.0, "chol_c_c": math.sqrt(1.25),
                       "chol_c_b": 0.5}),
}


def interval_hits(case: str, n_obs: int, n_reps: int, seed: int) -> np.ndarray:
    """Return ``(n_reps, n_params)`` booleans: whether each 95% interval covers the truth."""
    setup = CASES[case]
    hits = []
    for rep in range(n_reps):
        result = setup["model"]().fit(simulate(n_obs, setup["correlated"], seed + rep))
        assert result.converged, (case, rep, result.message)
        interval = result.conf_int(0.95)
        truth = setup["truth"]
        assert list(result.names) == list(truth)
        hits.append([interval.loc[name, "lower"] <= value <= interval.loc[name, "upper"]
                     for name, value in truth.items()])
    return np.array(hits)


@pytest.mark.parametrize("case", list(CASES))
def test_recovery_reduced(x64, case):
    hits = interval_hits(case, n_obs=600, n_reps=2, seed=200)
    # Fewer covered intervals than the 0.1% quantile of Binomial(n, 0.95) signals a broken
    # estimator or standard error rather than bad luck.
    assert hits.sum() >= scipy.stats.binom.ppf(0.001, hits.size, 0.95), hits


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_recovery_coverage(x64, case):
    n_reps = N_REPS
    hits = interval_hits(case, n_obs=1000, n_reps=n_reps, seed=2000)
    # Binomial(100, 0.95) has its central 99.9% range at about [87, 99] covering intervals,
    # Binomial(10, 0.95) at [7, 10].
    # NOTE: GHK with 200 draws adds a small simulation bias to the multinomial probit
    # estimates, which this range tolerates at 1,000 situations.
    low = scipy.stats.binom.ppf(0.0005, n_reps, 0.95)
    high = scipy.stats.binom.isf(0.0005, n_reps, 0.95)
    for k, name in enumerate(CASES[case]["truth"]):
        assert low <= hits[:, k].sum() <= high, (name, hits[:, k].sum())
