"""Bayesian fits against maximum likelihood on simulated data with 5,000 choice situations.

With 5,000 situations and weakly informative priors the posterior is close to Normal, with
mean at the maximum-likelihood estimate and covariance the inverse Hessian (Bernstein-von
Mises). So each posterior mean must lie within 0.2 posterior standard deviations of the MLE,
and each posterior standard deviation within 20% of the classical standard error.

Why the tolerances hold for these designs: the shift of the posterior mean away from the mode
(skewness and the prior) is of order 1/sqrt(n) standard deviations, about 0.02 here; the Monte
Carlo error of a mean from 1,000 draws is below 0.05 sd (0.07 sd for NUTS with ESS >= 200);
the covariates are independent, so the mean-field guide's understatement of the sd,
sqrt(1 - R^2) for a parameter whose posterior is correlated with the others with squared
multiple correlation R^2, stays inside 20% (checked against the MLE correlations below).
"""

from __future__ import annotations

import warnings

import jax
import numpy as np
import pytest

import discrete_choice as dc
from discrete_choice.exceptions import SamplingWarning
from discrete_choice.inference.mcmc import fit_mcmc
from discrete_choice.inference.svi import fit_svi
from discrete_choice.models.heteroscedastic import HeteroscedasticProbit

N_OBS = 5000
MEAN_TOL = 0.2
SD_TOL = 0.2
NUTS_SETTINGS = {"num_chains": 2, "num_warmup": 300, "num_samples": 500}


def simulate(n_obs: int, scales: np.ndarray, seed: int) -> dc.ChoiceData:
    """Simulate 3 alternatives: U_j = c_j + x1_j - 0.5 x2_j + scale_j e_j, c = (0, 0.4, -0.4), e Gumbel."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=(n_obs, 3))
    x2 = rng.normal(size=(n_obs, 3))
    utility = x1 - 0.5 * x2 + np.array([0.0, 0.4, -0.4])
    choice = np.argmax(utility + scales * rng.gumbel(size=(n_obs, 3)), axis=1)
    return dc.ChoiceData.from_arrays(choice, {"x1": x1, "x2": x2})


def check_agreement(fit, mle, label: str) -> None:
    standardised = (fit.posterior_mean - mle.params) / fit.posterior_sd
    ratio = fit.posterior_sd / mle.std_errors
    for name in mle.names:
        assert abs(standardised[name]) < MEAN_TOL, (
            f"{label}: posterior mean of {name} is {standardised[name]:.3f} posterior sd from "
            "the MLE")
        assert abs(ratio[name] - 1) < SD_TOL, (
            f"{label}: posterior sd / standard error of {name} is {ratio[name]:.3f}")


def quiet_nuts(model, data, key):
    # Few samples keep the test short; ESS warnings at this size are expected and not tested.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        return fit_mcmc(model, data, key=key, max_r_hat=1.05, **NUTS_SETTINGS)


# ---------------------------------------------------------------------------- logit
@pytest.fixture(scope="module")
def logit_case():
    data = simulate(N_OBS, np.ones(3), seed=11)
    model = dc.Logit(dc.LinearSpec.from_formula("choice ~ x1 + x2", base=0))
    return model, data, model.fit(data)


@pytest.fixture(scope="module")
def logit_svi_normal(logit_case):
    model, data, _ = logit_case
    return fit_svi(model, data, key=jax.random.key(1), guide="normal")


def test_logit_design_has_weak_correlations(logit_case):
    _, _, mle = logit_case
    correlation = mle.covariance().to_numpy()
    sd = np.sqrt(np.diag(correlation))
    correlation = correlation / np.outer(sd, sd)
    precision = np.linalg.inv(correlation)
    # 1 - 1/precision_ii is the squared multiple correlation R^2 of parameter i.
    r_squared = 1 - 1 / np.diag(precision)
    assert np.all(np.sqrt(1 - r_squared) > 1 - SD_TOL + 0.05)


def test_logit_svi_normal_matches_mle(logit_case, logit_svi_normal):
    _, _, mle = logit_case
    assert logit_svi_normal.converged
    check_agreement(logit_svi_normal, mle, "SVI AutoNormal")


def test_logit_svi_multivariate_matches_mle(logit_case):
    model, data, mle = logit_case
    fit = fit_svi(model, data, key=jax.random.key(2), guide="multivariate_normal")
    check_agreement(fit, mle, "SVI AutoMultivariateNormal")


def test_logit_nuts_matches_mle(logit_case):
    model, data, mle = logit_case
    fit = quiet_nuts(model, data, jax.random.key(3))
    assert fit.n_divergent == 0
    assert np.all(fit.r_hat < 1.05)
    check_agreement(fit, mle, "NUTS")


def test_minibatch_svi_matches_full_batch(logit_case, logit_svi_normal):
    model, data, _ = logit_case
    # Minibatch gradients are ten times noisier here, so the fit takes smaller steps and
    # averages longer windows (the settings docs/bayesian.md recommends for minibatches).
    # Measured maximum distance with seeds 4 and 5: 0.08 and 0.09 full-batch posterior sd.
    minibatch = fit_svi(model, data, key=jax.random.key(4), guide="normal",
                        subsample_size=N_OBS // 10, learning_rate=0.003, window=500)
    assert minibatch.subsample_size == N_OBS // 10
    standardised = ((minibatch.posterior_mean - logit_svi_normal.posterior_mean)
                    / logit_svi_normal.posterior_sd)
    for name, value in standardised.items():
        assert abs(value) < MEAN_TOL, f"{name}: minibatch mean is {value:.3f} sd from full batch"


# ---------------------------------------------------------------------------- heteroscedastic
# Binary heteroscedastic probit (Stata's hetprobit): U_j = V_j + exp(delta z_n) u_j with u_j
# iid standard Normal, so P_1 = Phi((V_1 - V_0) / (sqrt(2) exp(delta z_n))) in closed form
# (the Exact simulator). Its likelihood costs as little as the logit's, which keeps NUTS on
# 5,000 situations inside the default suite; HEV, whose likelihood needs quadrature, is
# compared with the logit by LOO in test_arviz_compare.py.
LNSIGMA = 0.5


@pytest.fixture(scope="module")
def hetprobit_case():
    rng = np.random.default_rng(12)
    x = rng.normal(size=(N_OBS, 2))
    z = np.repeat(rng.uniform(-1, 1, size=(N_OBS, 1)), 2, axis=1)
    utility = 0.5 * np.array([0.0, 1.0]) + 1.0 * x
    noise = np.exp(LNSIGMA * z) * rng.normal(size=(N_OBS, 2))
    choice = np.argmax(utility + noise, axis=1)
    data = dc.ChoiceData.from_arrays(choice, {"x": x, "z": z})
    model = HeteroscedasticProbit(dc.LinearSpec.from_formula("choice ~ x", base=0),
                                  simulator=dc.Exact(), alternative_scales=False,
                                  scale_covariates=("z",))
    return model, data, model.fit(data)


def test_hetprobit_recovers_truth(hetprobit_case):
    # Guards the design: the scale coefficient is estimated well away from 0.
    _, _, mle = hetprobit_case
    assert abs(mle.params["lnsigma_z"] - LNSIGMA) < 3 * mle.std_errors["lnsigma_z"]
    assert mle.params["lnsigma_z"] > 4 * mle.std_errors["lnsigma_z"]


def test_hetprobit_svi_normal_matches_mle(hetprobit_case):
    model, data, mle = hetprobit_case
    fit = fit_svi(model, data, key=jax.random.key(6), guide="normal")
    check_agreement(fit, mle, "heteroscedastic probit SVI AutoNormal")


def test_hetprobit_svi_multivariate_matches_mle(hetprobit_case):
    model, data, mle = hetprobit_case
    fit = fit_svi(model, data, key=jax.random.key(7), guide="multivariate_normal")
    check_agreement(fit, mle, "heteroscedastic probit SVI AutoMultivariateNormal")


def test_hetprobit_nuts_matches_mle(hetprobit_case):
    model, data, mle = hetprobit_case
    fit = quiet_nuts(model, data, jax.random.key(5))
    assert fit.n_divergent == 0
    assert np.all(fit.r_hat < 1.05)
    check_agreement(fit, mle, "heteroscedastic probit NUTS")
