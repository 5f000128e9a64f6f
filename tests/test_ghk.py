"""GHK simulator: against SciPy's multivariate Normal CDF, availability, gradients, checks.

Reference: the probability that alternative j has the largest utility is the multivariate
Normal CDF of the differences, P_j = Pr(M_j eps < M_j V) with Cov = M_j Sigma M_j', evaluated
by ``scipy.stats.multivariate_normal.cdf`` (Genz's algorithm, absolute error about 1e-6 here).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from discrete_choice.noise import Noise
from discrete_choice.simulators import GHK, Quadrature
from discrete_choice.simulators.ghk import difference_matrices


def reference_probabilities(utility: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    n_alts = utility.shape[0]
    matrices = difference_matrices(n_alts)
    out = []
    for j in range(n_alts):
        omega = matrices[j] @ covariance @ matrices[j].T
        law = scipy.stats.multivariate_normal(mean=np.zeros(n_alts - 1), cov=omega,
                                              abseps=1e-8, releps=1e-8)
        out.append(law.cdf(-(matrices[j] @ utility)))
    return np.array(out)


@pytest.fixture(scope="module")
def correlated_case():
    rng = np.random.default_rng(3)
    factor = rng.normal(size=(4, 4))
    covariance = factor @ factor.T + np.eye(4)
    utility = np.array([0.3, -0.2, 0.5, 0.0])
    return utility, covariance


def test_ghk_matches_scipy_cdf(x64, correlated_case):
    utility, covariance = correlated_case
    noise = Noise("normal", cholesky=np.linalg.cholesky(covariance))
    probabilities = np.asarray(GHK(n_draws=2000, key=1).probabilities(utility[None], None, noise))[0]
    # 2,000 Halton draws: simulation error well below 1e-3 for probabilities near 0.25.
    np.testing.assert_allclose(probabilities, reference_probabilities(utility, covariance),
                               atol=1e-3)


def test_ghk_probabilities_sum_to_one(x64, correlated_case):
    utility, covariance = correlated_case
    noise = Noise("normal", cholesky=np.linalg.cholesky(covariance))
    probabilities = np.asarray(GHK(n_draws=500).probabilities(utility[None], None, noise))
    # GHK is unbiased for each probability but the sum is not forced to 1: 1e-2 at S = 500.
    assert abs(probabilities.sum() - 1.0) < 1e-2


def test_ghk_unavailable_alternative(x64, correlated_case):
    utility, covariance = correlated_case
    available = np.array([True, False, True, True])
    noise = Noise("normal", cholesky=np.linalg.cholesky(covariance))
    probabilities = np.asarray(GHK(n_draws=2000, key=1).probabilities(
        utility[None], available[None], noise))[0]
    keep = np.flatnonzero(available)
    reference = reference_probabilities(utility[keep], covariance[np.ix_(keep, keep)])
    assert probabilities[1] == 0.0
    np.testing.assert_allclose(probabilities[keep], reference, atol=1e-3)


def test_ghk_gradient_matches_finite_difference(x64, correlated_case):
    utility, covariance = correlated_case
    noise = Noise("normal", cholesky=np.linalg.cholesky(covariance))
    ghk = GHK(n_draws=300, key=2)

    def log_p(v):
        return ghk.log_prob(v, 2, None, noise)

    gradient = np.asarray(jax.grad(log_p)(jnp.asarray(utility)))
    # Common random numbers make the simulated log-probability smooth in V, so a central
    # difference with step 1e-5 agrees with autodiff to about 1e-7.
    step = 1e-5
    numeric = [(float(log_p(utility + step * e)) - float(log_p(utility - step * e))) / (2 * step)
               for e in np.eye(4)]
    np.testing.assert_allclose(gradient, numeric, atol=1e-6)
    assert np.all(np.isfinite(gradient))


def test_ghk_independent_noise_matches_quadrature(x64):
    utility = np.array([[0.4, 0.0, -0.3]])
    noise = Noise("normal", scale=np.array([1.0, 0.7, 1.6]))
    ghk = np.asarray(GHK(n_draws=4000, key=5).probabilities(utility, None, noise))
    exact = np.asarray(Quadrature().probabilities(utility, None, noise))
    # 4,000 draws for a two-dimensional rectangle: simulation error below 5e-4.
    np.testing.assert_allclose(ghk, exact, atol=5e-4)


def test_ghk_singular_base_row(x64):
    # A zero row for the base alternative (the multinomial probit's parameterisation) is valid.
    chol = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.5, 0.8]])
    utility = np.array([[0.0, 0.2, -0.1]])
    probabilities = np.asarray(GHK(n_draws=2000, key=3).probabilities(
        utility, None, Noise("normal", cholesky=chol)))[0]
    reference = reference_probabilities(utility[0], chol @ chol.T)
    np.testing.assert_allclose(probabilities, reference, atol=1e-3)


def test_ghk_same_key_same_result(x64, correlated_case):
    utility, covariance = correlated_case
    noise = Noise("normal", cholesky=np.linalg.cholesky(covariance))
    first = np.asarray(GHK(n_draws=100, key=7).log_prob(utility, 0, None, noise))
    second = np.asarray(GHK(n_draws=100, key=7).log_prob(utility, 0, None, noise))
    other = np.asarray(GHK(n_draws=100, key=8).log_prob(utility, 0, None, noise))
    assert first == second
    assert first != other


def test_ghk_rejects_gumbel_noise():
    with pytest.raises(ValueError, match="Normal noise"):
        GHK(n_draws=10).log_prob(np.zeros(3), 0, None, Noise("gumbel"))


@pytest.mark.parametrize("n_draws", [0, -5, 2.5])
def test_ghk_rejects_bad_n_draws(n_draws):
    with pytest.raises(ValueError, match="n_draws"):
        GHK(n_draws=n_draws)


def test_ghk_rejects_unknown_scheme():
    with pytest.raises(ValueError, match="scheme"):
        GHK(scheme="lattice")
