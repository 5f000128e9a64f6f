"""Parameter recovery of the heteroscedastic models on simulated data.

Each replication simulates choices from known parameters, fits by maximum likelihood with the
quadrature simulator and records whether each 95% Wald interval contains the truth. Over many
replications the share must be 0.95 within Monte Carlo error; the default suite runs a
reduced version (few replications) that still catches a wrong normalisation or scale
convention, which puts most intervals off the truth.

Run the full check with ``pytest -m slow tests/test_heteroscedastic_recovery.py``; CI runs it
with ``DISCRETE_CHOICE_RECOVERY_REPS=10`` replications, whose binomial bounds are wider but
still fail a broken interval.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import scipy.stats

import discrete_choice as dc
from discrete_choice.exceptions import ConvergenceWarning, IdentificationWarning
from discrete_choice.models import HEV, HeteroscedasticLogistic, HeteroscedasticProbit
from discrete_choice.simulators import Exact

SPEC = dc.LinearSpec.from_formula("choice ~ x", base="a")
CONSTANTS = np.array([0.0, 0.4, -0.3])


# Replications of the slow coverage check: 100 by default, fewer in CI.
N_REPS = int(os.environ.get("DISCRETE_CHOICE_RECOVERY_REPS", "100"))


def simulate(n_obs: int, family: str, scales, beta: float, scale_slope: float, seed: int):
    """Choices among a, b, c: V_j = ASC_j + beta x_j, sigma_nj = scale_j exp(scale_slope z_n)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_obs, 3))
    z = rng.normal(size=n_obs)
    sigma = np.asarray(scales)[None, :] * np.exp(scale_slope * z)[:, None]
    draw = {"gumbel": rng.gumbel, "normal": rng.normal, "logistic": rng.logistic}[family]
    choice = np.argmax(CONSTANTS + beta * x + sigma * draw(size=(n_obs, 3)), axis=1)
    return dc.ChoiceData.from_arrays(choice, {"x": x, "z": z}, alternatives=["a", "b", "c"])


CASES = {
    # HEV with a scale per alternative (base a fixed to 1). With 600 situations and a true
    # scale of 0.5, about one sample in five has its maximum at scale_b = 0 (checked against
    # scipy.integrate.quad), so the full check uses 1,500 situations and scale_b = 0.7.
    "hev": dict(model=lambda: HEV(SPEC), family="gumbel", scales=[1.0, 0.7, 2.0], slope=0.0,
                beta=2.0, n_obs=1500,
                truth={"ASC_b": 0.4, "ASC_c": -0.3, "x": 2.0, "scale_b": 0.7, "scale_c": 2.0}),
    # Heteroscedastic probit with covariate-dependent scales and per-alternative scales. With
    # three alternatives the scales are identified only by the shape of the Normal law; with
    # beta = 1 about one sample in eight of 600 situations has its maximum at a scale of 0,
    # so the utilities are spread twice as wide (beta = 2) to keep the maximum interior.
    "het-probit-covariates": dict(
        model=lambda: HeteroscedasticProbit(SPEC, scale_covariates=("z",)), family="normal",
        scales=[1.0, 1.5, 0.7], slope=0.4, beta=2.0,
        truth={"ASC_b": 0.4, "ASC_c": -0.3, "x": 2.0, "scale_b": 1.5, "scale_c": 0.7,
               "lnsigma_z": 0.4}),
    # Heteroscedastic logistic with covariate-dependent scales only (slow suite only).
    "het-logistic-covariates": dict(
        model=lambda: HeteroscedasticLogistic(SPEC, alternative_scales=False,
                                              scale_covariates=("z",)),
        family="logistic", scales=[1.0, 1.0, 1.0], slope=-0.3,
        truth={"ASC_b": 0.4, "ASC_c": -0.3, "x": 1.0, "lnsigma_z": -0.3}),
}
REDUCED_CASES = ["hev", "het-probit-covariates"]


def simulate_binary(n_obs: int, seed: int) -> dc.ChoiceData:
    """Binary choices with V_1 - V_0 = 0.3 + x and both scales exp(0.5 z_n) (Stata's hetprobit)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n_obs)
    z = rng.normal(size=n_obs)
    noise = np.exp(0.5 * z)[:, None] * rng.normal(size=(n_obs, 2))
    utility = np.column_stack([np.zeros(n_obs), 0.3 + x])
    choice = np.argmax(utility + noise, axis=1)
    return dc.ChoiceData.from_arrays(choice, {"x": np.column_stack([np.zeros(n_obs), x]), "z": z})


def test_binary_hetprobit_recovery(x64):
    """Covariate-dependent scales with the closed-form (Exact) likelihood, 5 replications."""
    spec = dc.LinearSpec.from_formula("choice ~ x")
    truth = {"ASC_1": 0.3, "x": 1.0, "lnsigma_z": 0.5}
    hits = []
    for rep in range(5):
        model = HeteroscedasticProbit(spec, simulator=Exact(), alternative_scales=False,
                                      scale_covariates=("z",))
        result = model.fit(simulate_binary(800, seed=300 + rep))
        assert result.converged
        assert list(result.names) == list(truth)
        interval = result.conf_int(0.95)
        hits.append([interval.loc[name, "lower"] <= value <= interval.loc[name, "upper"]
                     for name, value in truth.items()])
    hits = np.array(hits)
    assert hits.sum() >= scipy.stats.binom.ppf(0.001, hits.size, 0.95), hits


def interval_hits(case: str, n_obs: int, n_reps: int, seed: int) -> np.ndarray:
    """Return ``(n_reps, n_params)`` booleans: whether each 95% interval covers the truth.

    A sample whose maximum is on the boundary (a scale running to 0, which happens in a few
    percent of these samples because three alternatives identify the scales only weakly) must
    be reported as such. Its intervals are NaN and count as not covering, so the coverage
    measured is that of the intervals a user is given. Any other failure to converge fails.
    """
    setup = CASES[case]
    truth = setup["truth"]
    hits = []
    boundary = 0
    for rep in range(n_reps):
        data = simulate(n_obs, setup["family"], setup["scales"], setup.get("beta", 1.0),
                        setup["slope"], seed=seed + rep)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", IdentificationWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
            result = setup["model"]().fit(data)
        if not result.converged:
            assert result.message.startswith(("no finite maximum", "stopped towards a boundary")), (
                case, rep, result.message)
            boundary += 1
        assert list(result.names) == list(truth)
        interval = result.conf_int(0.95)
        hits.append([bool(interval.loc[name, "lower"] <= value <= interval.loc[name, "upper"])
                     for name, value in truth.items()])
    # More than one sample in five at the boundary means the design, not chance, is at fault.
    assert boundary <= max(1, n_reps // 5), (case, boundary)
    return np.array(hits)


@pytest.mark.parametrize("case", REDUCED_CASES)
def test_recovery_reduced(x64, case):
    hits = interval_hits(case, n_obs=600, n_reps=2, seed=100)
    # With 95% intervals, fewer covered than the 0.1% quantile of Binomial(n, 0.95) signals
    # a broken estimator or standard error, not bad luck (a 1-in-1000 false alarm rate).
    floor = scipy.stats.binom.ppf(0.001, hits.size, 0.95)
    assert hits.sum() >= floor, hits


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_recovery_coverage(x64, case):
    n_reps = N_REPS
    hits = interval_hits(case, n_obs=CASES[case].get("n_obs", 600), n_reps=n_reps, seed=1000)
    # Per parameter, the number of covering intervals is Binomial(n_reps, 0.95) if the
    # intervals are right. Its central 99.9% range is about [87, 99] out of 100 and [7, 10]
    # out of 10.
    low = scipy.stats.binom.ppf(0.0005, n_reps, 0.95)
    high = scipy.stats.binom.isf(0.0005, n_reps, 0.95)
    for k, name in enumerate(CASES[case]["truth"]):
        assert low <= hits[:, k].sum() <= high, (name, hits[:, k].sum())
