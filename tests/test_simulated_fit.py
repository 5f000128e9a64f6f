"""Fits with a simulated likelihood: reproducibility and Monte Carlo spread across keys."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import discrete_choice as dc


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(21)
    n_obs = 400
    x = rng.normal(size=(n_obs, 3))
    choice = (1.0 * x + rng.gumbel(size=(n_obs, 3))).argmax(axis=1)
    return dc.ChoiceData.from_arrays(choice, {"x": x})


def fit_smoothed(data, n_draws: int, key: int, scheme: str = "pseudo"):
    simulator = dc.Smoothed(tau=0.5, n_draws=n_draws, scheme=scheme, key=jax.random.key(key))
    model = dc.Logit(dc.LinearSpec(generic=("x",), constants=False), simulator=simulator)
    return model.fit(data)


def test_same_key_bit_identical(simulated):
    """Same data and key give bit-identical estimates."""
    first = fit_smoothed(simulated, 16, key=3)
    second = fit_smoothed(simulated, 16, key=3)
    assert first.params.to_numpy().tobytes() == second.params.to_numpy().tobytes()
    assert first.loglik == second.loglik


def test_fit_reports_simulator_settings(simulated):
    """A fit reports S, the draw scheme, the key and tau."""
    result = fit_smoothed(simulated, 16, key=3, scheme="sobol")
    assert result.simulator["name"] == "smoothed"
    assert result.simulator["n_draws"] == 16
    assert result.simulator["scheme"] == "sobol"
    assert result.simulator["tau"] == 0.5
    assert result.simulator["key"] == [0, 3]
    text = result.summary().as_text()
    assert "n_draws=16" in text
    assert "tau=0.5" in text


def test_spread_across_keys_shrinks_like_root_s(simulated):
    """With pseudo-random draws the standard deviation of an estimate across keys
    scales as 1 / sqrt(S), so going from S = 32 to S = 512 divides it by about 4 (S = 32 is
    the smallest count where the asymptotic rate holds on this problem; below it the bias of
    the simulated likelihood dominates).

    With 48 keys the log of a sample standard deviation has a standard error of about
    1 / sqrt(2 * 47) = 0.10, so the log of the ratio has about 0.15; the check accepts ratios
    within three of those standard errors of 4: between 2.5 and 6.4.
    """
    keys = range(48)
    small = np.array([fit_smoothed(simulated, 32, key=k).params["x"] for k in keys])
    large = np.array([fit_smoothed(simulated, 512, key=k).params["x"] for k in keys])
    ratio = small.std(ddof=1) / large.std(ddof=1)
    assert 2.5 < ratio < 6.4, ratio
