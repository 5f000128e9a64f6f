"""ChoiceDistribution: shapes, NumPyro integration and transforms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import pytest
from numpyro.infer.util import log_density

from discrete_choice.distribution import ChoiceDistribution
from discrete_choice.noise import Noise
from discrete_choice.simulators import Exact, Smoothed

UTILITY = np.array([[0.0, 5.0, 0.0], [1.0, 2.0, 3.0]])
AVAILABLE = np.array([[True, False, True], [True, True, True]])
CHOICE = np.array([0, 2])


def test_logit_log_prob_and_shapes(x64):
    d = ChoiceDistribution(UTILITY, AVAILABLE)
    assert d.batch_shape == (2,)
    assert d.event_shape == ()
    log_p = d.log_prob(CHOICE)
    expected = [np.log(0.5), 3.0 - np.log(np.exp([1.0, 2.0, 3.0]).sum())]
    np.testing.assert_allclose(log_p, expected, rtol=1e-12)
    np.testing.assert_array_equal(d.probabilities[0, 1], 0.0)


def test_sample_never_picks_unavailable():
    d = ChoiceDistribution(UTILITY, AVAILABLE)
    draws = d.sample(jax.random.key(0), (500,))
    assert draws.shape == (500, 2)
    assert not np.any(draws[:, 0] == 1)


def test_numpyro_model_with_plate(x64):
    def model(utility, choice):
        with numpyro.plate("obs", utility.shape[0]):
            numpyro.sample("y", ChoiceDistribution(utility, AVAILABLE), obs=choice)

    value, _ = log_density(model, (UTILITY, CHOICE), {}, {})
    expected = ChoiceDistribution(UTILITY, AVAILABLE).log_prob(CHOICE).sum()
    np.testing.assert_allclose(value, expected, rtol=1e-12)


def test_jit_grad_vmap_hessian(x64):
    def total(utility):
        return ChoiceDistribution(utility, AVAILABLE, Noise("gumbel"), Exact()).log_prob(CHOICE).sum()

    value = jax.jit(total)(UTILITY)
    np.testing.assert_allclose(value, total(UTILITY), rtol=1e-14)
    grad = jax.grad(total)(UTILITY)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad[0], [0.5, 0.0, -0.5], atol=1e-14)
    hessian = jax.hessian(total)(UTILITY)
    assert np.all(np.isfinite(hessian))
    rows = jax.vmap(lambda u, c: ChoiceDistribution(u).log_prob(c))(UTILITY, CHOICE)
    np.testing.assert_allclose(rows, ChoiceDistribution(UTILITY).log_prob(CHOICE), rtol=1e-14)


def test_smoothed_distribution_under_transforms(x64):
    simulator = Smoothed(tau=0.4, n_draws=32, scheme="sobol")
    noise = Noise("normal", scale=np.array([1.0, 1.5, 0.5]))

    def total(utility):
        return ChoiceDistribution(utility, AVAILABLE, noise, simulator).log_prob(CHOICE).sum()

    value = total(UTILITY)
    np.testing.assert_allclose(jax.jit(total)(UTILITY), value, rtol=1e-13)
    assert np.all(np.isfinite(jax.grad(total)(UTILITY)))
    assert np.all(np.isfinite(jax.hessian(total)(UTILITY)))
    # Draws depend on the shape, so a vmapped row gets the draws of a single observation.
    rows = jax.vmap(lambda u, a, c: ChoiceDistribution(u, a, noise, simulator).log_prob(c))(UTILITY, AVAILABLE, CHOICE)
    singles = [ChoiceDistribution(UTILITY[i], AVAILABLE[i], noise, simulator).log_prob(CHOICE[i]) for i in range(2)]
    np.testing.assert_allclose(rows, singles, rtol=1e-12)

    def model(utility, choice):
        with numpyro.plate("obs", utility.shape[0]):
            numpyro.sample("y", ChoiceDistribution(utility, AVAILABLE, noise, simulator), obs=choice)

    density, _ = log_density(model, (UTILITY, CHOICE), {}, {})
    np.testing.assert_allclose(density, value, rtol=1e-13)


def test_distribution_support_and_predictive(x64):
    d = ChoiceDistribution(UTILITY, AVAILABLE, simulator=Smoothed(tau=0.5, n_draws=16))
    assert d.support.lower_bound == 0
    assert d.support.upper_bound == 2
    np.testing.assert_array_equal(d.enumerate_support(), np.broadcast_to(np.arange(3)[:, None], (3, 2)))
    summary = d.predictive()
    np.testing.assert_allclose(summary.mean, d.probabilities, rtol=1e-12)
    assert summary.prediction.shape == (2,)


def test_distribution_rejects_bad_arguments():
    with pytest.raises(TypeError, match="Noise"):
        ChoiceDistribution(UTILITY, noise="gumbel")
    with pytest.raises(TypeError, match="Simulator"):
        ChoiceDistribution(UTILITY, simulator="exact")
    with pytest.raises(ValueError, match="tau"):
        ChoiceDistribution(UTILITY, simulator=Smoothed(tau=0.0))
    with pytest.raises(ValueError, match="available"):
        ChoiceDistribution(UTILITY, available=np.ones((3, 3), bool))
