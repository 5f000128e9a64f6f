"""Smoothed and frequency simulators converge to the quadrature and exact probabilities."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from discrete_choice.noise import Noise
from discrete_choice.simulators import Exact, Frequency, Quadrature, Smoothed

# Normal runs by default; the other families repeat the same checks and are marked slow.
FAMILIES = (
    "normal",
    pytest.param("gumbel", marks=pytest.mark.slow),
    pytest.param("logistic", marks=pytest.mark.slow),
)


def heteroscedastic_problem(seed):
    rng = np.random.default_rng(seed)
    utility = rng.normal(0.0, 1.0, (6, 3))
    scale = np.exp(rng.uniform(-0.7, 0.7, (6, 3)))
    return utility, scale


def smoothed_over_keys(utility, noise, tau, n_draws, scheme, keys):
    """Smoothed probabilities for each key, ``(n_keys, n_obs, n_alts)``."""

    def one(key):
        return Smoothed(tau=tau, n_draws=n_draws, scheme=scheme, key=key).probabilities(utility, noise=noise)

    return jax.vmap(one)(keys)


@pytest.mark.parametrize("family", FAMILIES)
def test_smoothed_bias_shrinks_with_tau(x64, family):
    utility, scale = heteroscedastic_problem(1)
    noise = Noise(family, scale=scale)
    exact = Quadrature().probabilities(utility, noise=noise)
    keys = jax.random.split(jax.random.key(0), 4)
    taus = (0.4, 0.2, 0.1, 0.05)
    bias = []
    for tau in taus:
        mean = smoothed_over_keys(utility, noise, tau, 2**14, "sobol", keys).mean(axis=0)
        bias.append(float(jnp.abs(mean - exact).max()))
    assert all(later < earlier for earlier, later in zip(bias, bias[1:])), bias
    assert bias[-1] < bias[0] / 10, bias


@pytest.mark.parametrize("family", FAMILIES)
def test_smoothed_standard_deviation_shrinks_like_root_draws(x64, family):
    utility, scale = heteroscedastic_problem(2)
    noise = Noise(family, scale=scale)
    keys = jax.random.split(jax.random.key(1), 64)
    draws = (25, 100, 400)
    spread = []
    for n_draws in draws:
        estimates = smoothed_over_keys(utility, noise, 0.2, n_draws, "pseudo", keys)
        spread.append(float(estimates[:, :, 0].std(axis=0, ddof=1).mean()))
    for (s_small, sd_small), (s_large, sd_large) in zip(zip(draws, spread), zip(draws[1:], spread[1:])):
        ratio = (sd_small * np.sqrt(s_small)) / (sd_large * np.sqrt(s_large))
        assert 0.75 < ratio < 1.33, (draws, spread)


def test_gumbel_equal_scales_all_simulators_agree(x64):
    utility, _ = heteroscedastic_problem(3)
    noise = Noise("gumbel", scale=np.full((6, 1), 1.5))
    exact = Exact().probabilities(utility, noise=noise)
    quadrature = Quadrature().probabilities(utility, noise=noise)
    np.testing.assert_allclose(quadrature, exact, atol=1e-12)

    n_draws = 2**14
    frequency = Frequency(n_draws=n_draws, scheme="pseudo").probabilities(utility, noise=noise)
    standard_error = np.sqrt(exact * (1 - exact) / n_draws)
    assert np.all(np.abs(frequency - exact) < 4.5 * standard_error + 1e-12)

    # The smoothing bias at tau = 0.01 is about 1e-4 (it shrinks like tau^2 in the tau test).
    smoothing_bias = 1e-3
    smoothed = Smoothed(tau=0.01, n_draws=n_draws, scheme="pseudo")
    summary = smoothed.predictive(utility, noise=noise)
    standard_error = np.sqrt(summary.variance / n_draws)
    assert np.all(np.abs(summary.mean - exact) < 4.5 * standard_error + smoothing_bias)
