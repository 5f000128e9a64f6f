"""SVI: minibatch scaling, MAP against an independent penalised fit, options, results, priors."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
import scipy.optimize
from numpyro import handlers
from scipy.special import logsumexp

import discrete_choice as dc
from discrete_choice.exceptions import ConvergenceWarning
from discrete_choice.inference.svi import SVIOptions, fit_svi


def small_logit_data(n_obs: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_obs, 3))
    choice = np.argmax(0.8 * x + rng.gumbel(size=(n_obs, 3)), axis=1)
    return x, choice, dc.ChoiceData.from_arrays(choice, {"x": x})


def test_minibatch_log_likelihood_is_scaled_to_full_data(x64):
    _, _, data = small_logit_data(400)
    prepared = dc.Logit(dc.LinearSpec.from_formula("choice ~ x", base=0)).prepare(data)
    beta = {"beta": jnp.array([0.1, -0.2, 0.5])}

    def choice_site(subsample_size):
        model = handlers.substitute(handlers.seed(prepared.numpyro_model, rng_seed=3), data=beta)
        trace = handlers.trace(model).get_trace(prepared.choice, subsample_size=subsample_size)
        return trace["choice"]

    full = choice_site(None)
    batch = choice_site(40)
    assert batch["value"].shape == (40,)
    assert float(batch["scale"]) == pytest.approx(400 / 40)
    # The scaled minibatch sum is unbiased for the full sum: its mean over every situation's
    # log probability times N equals the full-data log-likelihood.
    full_log_prob = full["fn"].log_prob(full["value"])
    assert float(np.mean(full_log_prob) * 400) == pytest.approx(float(np.sum(full_log_prob)))


def test_map_matches_penalised_likelihood(x64):
    # Reference: maximise sum_n log softmax(x_n beta)[y_n] - sum_k beta_k^2 / (2 s^2) with
    # SciPy's BFGS on NumPy code, the posterior mode under independent Normal(0, s) priors.
    x, choice, data = small_logit_data(400, seed=1)
    prior_sd = 0.3
    model = dc.Logit(dc.LinearSpec.from_formula("choice ~ x", base=0),
                     priors=dc.Priors(coefficient=dist.Normal(0.0, prior_sd)))
    design = model.prepare(data).design.matrix

    def negative_log_posterior(beta):
        utility = design @ beta
        loglik = np.sum(utility[np.arange(len(choice)), choice] - logsumexp(utility, axis=1))
        return -(loglik - np.sum(beta ** 2) / (2 * prior_sd ** 2))

    reference = scipy.optimize.minimize(negative_log_posterior, np.zeros(design.shape[-1]),
                                        method="BFGS", options={"gtol": 1e-10}).x
    fit = fit_svi(model, data, key=jax.random.key(0), guide="delta", learning_rate=0.02,
                  max_steps=4000)
    # Tolerance: the point-mass guide's gradient has no noise, so the averaged iterates converge
    # to the mode. 1e-3 (about 1% of a standard error here) allows for the plateau rule
    # stopping before full convergence.
    np.testing.assert_allclose(fit.posterior_mean.to_numpy(), reference, atol=1e-3)
    assert np.all(fit.posterior_sd.to_numpy() < 1e-12)  # a point mass, up to rounding
    # The prior pulls the mode towards 0, so the maximum-likelihood estimates lie further out.
    mle = model.fit(data)
    assert np.all(np.abs(mle.params.to_numpy()) > np.abs(reference))


def test_mle_ignores_priors(x64):
    _, _, data = small_logit_data(300, seed=2)
    spec = dc.LinearSpec.from_formula("choice ~ x", base=0)
    plain = dc.Logit(spec).fit(data)
    odd = dc.Logit(spec, priors=dc.Priors(coefficient=dist.Normal(10.0, 0.01))).fit(data)
    np.testing.assert_allclose(odd.params.to_numpy(), plain.params.to_numpy(), rtol=1e-10)
    assert odd.loglik == pytest.approx(plain.loglik, rel=1e-12)


def test_coefficient_prior_may_differ_by_coefficient(x64):
    # One prior per coefficient, in label order: a batched distribution of shape (n_params,).
    _, _, data = small_logit_data(300, seed=3)
    spec = dc.LinearSpec.from_formula("choice ~ x", base=0)
    priors = dc.Priors(coefficient=dist.Normal(jnp.array([0.0, 0.0, 5.0]),
                                               jnp.array([5.0, 5.0, 1e-3])))
    fit = fit_svi(dc.Logit(spec, priors=priors), data, key=jax.random.key(1), guide="delta",
                  step_reductions=0)
    assert fit.posterior_mean["x"] == pytest.approx(5.0, abs=0.01)


def test_svi_result_contents():
    _, _, data = small_logit_data(300, seed=4)
    model = dc.Logit(dc.LinearSpec.from_formula("choice ~ x", base=0))
    fit = fit_svi(model, data, key=jax.random.key(2), num_samples=200, window=100,
                  min_steps=200)
    assert fit.method == "svi"
    assert fit.converged and fit.n_steps < 20_000
    assert "plateau" in fit.message
    assert fit.elbo.shape == (fit.n_steps,)
    assert np.all(np.isfinite(fit.elbo))
    # The ELBO climbs: its last window beats its first.
    assert fit.elbo[-100:].mean() > fit.elbo[:100].mean()
    assert set(fit.guide_params) == {"beta_auto_loc", "beta_auto_scale"}
    assert fit.guide_params["beta_auto_loc"].shape == (3,)
    assert fit.samples["beta"].shape == (1, 200, 3)
    assert fit.loglik_pointwise.shape == (1, 200, 300)
    assert fit.sample_stats["lp"].shape == (1, 200)
    assert fit.draws_mode == "none"
    assert fit.subsample_size == 300
    assert list(fit.summary().index) == list(fit.names)


def test_same_key_gives_identical_fit():
    _, _, data = small_logit_data(200, seed=5)
    model = dc.Logit(dc.LinearSpec.from_formula("choice ~ x", base=0))
    settings = {"max_steps": 300, "min_steps": 0, "window": 100, "num_samples": 50}
    with pytest.warns(ConvergenceWarning):
        first = fit_svi(model, data, key=jax.random.key(3), **settings)
    with pytest.warns(ConvergenceWarning):
        second = fit_svi(model, data, key=jax.random.key(3), **settings)
    np.testing.assert_array_equal(first.elbo, second.elbo)
    np.testing.assert_array_equal(first.samples["beta"], second.samples["beta"])


def test_max_steps_without_plateau_warns():
    _, _, data = small_logit_data(200, seed=6)
    model = dc.Logit(dc.LinearSpec.from_formula("choice ~ x", base=0))
    with pytest.warns(ConvergenceWarning, match="max_steps=50"):
        fit = fit_svi(model, data, key=jax.random.key(4), max_steps=50, num_samples=20)
    assert not fit.converged
    assert fit.n_steps == 50


def test_fresh_and_fixed_draws_are_reported():
    x, choice, data = small_logit_data(200, seed=7)
    spec = dc.LinearSpec.from_formula("choice ~ x", base=0)
    model = dc.Logit(spec, simulator=dc.Smoothed(tau=0.5, n_draws=20, key=jax.random.key(9)))
    settings = {"max_steps": 200, "min_steps": 0, "window": 100, "num_samples": 20}
    with pytest.warns(ConvergenceWarning):
        fresh = fit_svi(model, data, key=jax.random.key(5), draws="fresh", **settings)
    with pytest.warns(ConvergenceWarning):
        fixed = fit_svi(model, data, key=jax.random.key(5), draws="fixed", **settings)
    assert fresh.draws_mode == "fresh"
    assert fixed.draws_mode == "fixed"
    # Same SVI key, so the two fits differ only through the simulator's draws.
    assert not np.array_equal(fresh.elbo, fixed.elbo)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("guide", "laplace", "expected one of"),
    ("draws", "new", "expected one of"),
    ("init", "zeros", "expected one of"),
    ("max_steps", 0, "max_steps must be a positive integer"),
    ("subsample_size", 0, "subsample_size must be a positive integer"),
    ("learning_rate", -1.0, "learning_rate must be > 0"),
])
def test_invalid_options_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        SVIOptions(**{field: value})


def test_unknown_option_and_oversized_batch_are_rejected():
    _, _, data = small_logit_data(50, seed=8)
    model = dc.Logit(dc.LinearSpec.from_formula("choice ~ x", base=0))
    with pytest.raises(TypeError, match="unknown SVI options"):
        fit_svi(model, data, key=jax.random.key(0), steps=10)
    with pytest.raises(ValueError, match="subsample_size=60 exceeds"):
        fit_svi(model, data, key=jax.random.key(0), subsample_size=60)
    assert dataclasses.replace(SVIOptions(), guide="delta").guide == "delta"
