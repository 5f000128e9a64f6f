"""Multinomial probit: normalisation checks, binary equivalence, GHK against smoothed fits."""

from __future__ import annotations

import numpy as np
import pytest

import discrete_choice as dc
from discrete_choice.exceptions import SpecificationError
from discrete_choice.models import MultinomialProbit, Probit, implied_covariance
from discrete_choice.models.multinomial_probit import difference_covariance
from discrete_choice.simulators import GHK, Exact, Smoothed

SPEC = dc.LinearSpec.from_formula("choice ~ x", base="a")


def simulate_mnp(n_obs: int, omega: np.ndarray, beta: float, seed: int) -> dc.ChoiceData:
    """Choices among a, b, c with V = ASC + beta x and differences against a ~ N(0, omega)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_obs, 3))
    utility = np.array([0.0, 0.5, -0.4]) + beta * x
    noise = np.zeros((n_obs, 3))
    noise[:, 1:] = rng.normal(size=(n_obs, 2)) @ np.linalg.cholesky(omega).T
    choice = np.argmax(utility + noise, axis=1)
    return dc.ChoiceData.from_arrays(choice, {"x": x}, alternatives=["a", "b", "c"])


@pytest.fixture(scope="module")
def small_data():
    return simulate_mnp(40, np.array([[1.0, 0.5], [0.5, 1.5]]), 1.0, seed=0)


# ---------------------------------------------------------------------------- normalisation
def test_levels_covariance_rejected(small_data):
    with pytest.raises(SpecificationError, match="covariance of utility levels"):
        MultinomialProbit(SPEC, covariance_start=np.eye(3)).prepare(small_data)


def test_unnormalised_covariance_rejected(small_data):
    with pytest.raises(SpecificationError, match=r"covariance_start\[0, 0\] = 2.0"):
        MultinomialProbit(SPEC, covariance_start=np.array([[2.0, 0.0], [0.0, 1.0]])).prepare(
            small_data)


def test_singular_covariance_rejected(small_data):
    with pytest.raises(SpecificationError, match="not positive definite"):
        MultinomialProbit(SPEC, covariance_start=np.array([[1.0, 1.0], [1.0, 1.0]])).prepare(
            small_data)


def test_wrong_shape_covariance_rejected(small_data):
    with pytest.raises(SpecificationError, match=r"must have shape \(2, 2\)"):
        MultinomialProbit(SPEC, covariance_start=np.eye(4)).prepare(small_data)


def test_difference_covariance():
    sigma = np.diag([1.0, 2.0, 3.0])
    # Differences against alternative 0: Var(e1 - e0) = 3, Var(e2 - e0) = 4, Cov = 1.
    np.testing.assert_allclose(difference_covariance(sigma, 0, normalise=False),
                               [[3.0, 1.0], [1.0, 4.0]])
    np.testing.assert_allclose(difference_covariance(sigma, 0), [[1.0, 1 / 3], [1 / 3, 4 / 3]])
    # Against alternative 1: e0 - e1 and e2 - e1.
    np.testing.assert_allclose(difference_covariance(sigma, 1, normalise=False),
                               [[3.0, 2.0], [2.0, 5.0]])


def test_parameter_labels(small_data):
    prepared = MultinomialProbit(SPEC).prepare(small_data)
    labels = [label for block in prepared.blocks for label in block.labels]
    assert labels == ["ASC_b", "ASC_c", "x", "chol_c_c", "chol_c_b"]


def test_binary_mnp_is_unit_difference_probit(x64):
    rng = np.random.default_rng(3)
    n = 120
    x = np.column_stack([np.zeros(n), rng.normal(size=n)])
    choice = (0.2 + x[:, 1] + rng.normal(size=n) > 0).astype(int)
    data = dc.ChoiceData.from_arrays(choice, {"x": x})
    spec = dc.LinearSpec.from_formula("choice ~ x")
    mnp = MultinomialProbit(spec, simulator=Exact()).fit(data)
    probit = Probit(spec, simulator=Exact()).fit(data)
    assert mnp.n_params == probit.n_params
    # Same model, two normalisations: Var(difference) = 1 against 2.
    assert mnp.loglik == pytest.approx(probit.loglik, abs=1e-8)
    np.testing.assert_allclose(mnp.estimates * np.sqrt(2), probit.estimates, rtol=1e-6)


# ---------------------------------------------------------------------------- simulators agree
@pytest.fixture(scope="module")
def ghk_and_smoothed_fits():
    data = simulate_mnp(400, np.array([[1.0, 0.6], [0.6, 2.0]]), 1.0, seed=1)
    ghk = MultinomialProbit(SPEC, simulator=GHK(n_draws=300, key=0)).fit(data)
    smoothed = MultinomialProbit(SPEC, simulator=Smoothed(tau=0.05, n_draws=1000, key=0)).fit(data)
    return ghk, smoothed


def test_ghk_and_smoothed_estimates_agree(ghk_and_smoothed_fits):
    ghk, smoothed = ghk_and_smoothed_fits
    assert ghk.converged
    assert smoothed.converged
    # Both are simulated maximum likelihood estimators of the same model; their difference is
    # simulation error (and the smoothing bias at tau = 0.05), small against sampling error.
    difference_in_se = np.abs(ghk.estimates - smoothed.estimates) / ghk.std_errors.to_numpy()
    assert np.max(difference_in_se) < 0.3
    assert abs(ghk.loglik - smoothed.loglik) < 1.0


def test_implied_covariance_reported(ghk_and_smoothed_fits):
    ghk, _ = ghk_and_smoothed_fits
    table = implied_covariance(ghk)
    assert list(table.index) == ["cov_b_b", "cov_c_b", "cov_c_c"]
    chol = np.array([[1.0, 0.0], [ghk.params["chol_c_b"], ghk.params["chol_c_c"]]])
    omega = chol @ chol.T
    np.testing.assert_allclose(table["estimate"], [omega[0, 0], omega[1, 0], omega[1, 1]])
    assert table.loc["cov_b_b", "std_error"] == 0.0
    assert table.loc["cov_c_c", "std_error"] > 0.0
    # Delta method by hand for Var(Omega_cc) with Omega_cc = L_cb^2 + L_cc^2.
    gradient = np.array([2 * ghk.params["chol_c_c"], 2 * ghk.params["chol_c_b"]])
    cov = ghk.covariance().loc[["chol_c_c", "chol_c_b"], ["chol_c_c", "chol_c_b"]].to_numpy()
    assert table.loc["cov_c_c", "std_error"] == pytest.approx(np.sqrt(gradient @ cov @ gradient))
