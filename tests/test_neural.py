"""Neural utilities and scales: the heteroscedastic softmax against a direct implementation,
the heads' constraints, the hybrid form, scale recovery, and the same model under SVI and NUTS."""

from __future__ import annotations

import warnings

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro import handlers
from numpyro.infer import MCMC, NUTS, SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoNormal

import discrete_choice as dc
from discrete_choice.draws import draw_indices, draw_sampler
from discrete_choice.models.neural import NETWORK_SITE, ChoiceNetwork
from discrete_choice.noise import standard_quantile

PARAM_SITE = NETWORK_SITE + "$params"


def _toy_data(n_obs=40, n_features=3, n_classes=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_obs, n_features))
    y = rng.integers(0, n_classes, size=n_obs)
    return dc.classification_data(x, y, n_classes=n_classes), x, y


def _random_weights(model, prepared, seed):
    """The model's network with every weight redrawn N(0, 0.7^2), as the param-site pytree."""
    template = model.build_network(prepared.inputs.extras["features"].shape[-1],
                                   prepared.inputs.available.shape[-1])
    weights, _ = eqx.partition(template, eqx.is_inexact_array)
    leaves, treedef = jax.tree_util.tree_flatten(weights)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    leaves = [0.7 * jax.random.normal(k, leaf.shape, leaf.dtype) for k, leaf in zip(keys, leaves)]
    return jax.tree_util.tree_unflatten(treedef, leaves)


def _choice_distribution(prepared, substitutions):
    traced = handlers.trace(handlers.seed(
        handlers.substitute(prepared.numpyro_model, data=substitutions), rng_seed=0)).get_trace()
    return traced["choice"]["fn"]


def _direct_mlp(weights, x):
    """Direct forward pass in NumPy float64: one ReLU layer, utility head, softplus scale head."""
    layer = weights.layers[0]
    hidden = np.maximum(x @ np.asarray(layer.weight, np.float64).T + np.asarray(layer.bias), 0.0)
    mu = hidden @ np.asarray(weights.location.weight, np.float64).T + np.asarray(
        weights.location.bias)
    raw = hidden @ np.asarray(weights.scale.weight, np.float64).T + np.asarray(weights.scale.bias)
    return mu, np.logaddexp(0.0, raw)


def _direct_heteroscedastic_softmax(mu, sigma, eps, tau=1.0):
    """Monte Carlo heteroscedastic softmax: mean over draws of softmax((mu + sigma eps) / tau)."""
    logits = (mu[None] + sigma[None] * eps) / tau           # (n_draws, n_obs, n_alts)
    logits = logits - logits.max(axis=-1, keepdims=True)
    softmax = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    return softmax.mean(axis=0)


@pytest.mark.parametrize("n_draws, chunk_size", [(1, None), (64, None), (64, 7)])
def test_heteroscedastic_matches_direct_monte_carlo(x64, n_draws, chunk_size):
    data, x, y = _toy_data()
    simulator = dc.Smoothed(tau=1.0, n_draws=n_draws, scheme="pseudo", key=11,
                            chunk_size=chunk_size)
    model = dc.NeuralChoiceModel(
        features=data.variable_names, noise="normal", simulator=simulator,
        network=dc.NetworkConfig(hidden=(5,), scale_head="per_alternative", scale_floor=0.0))
    prepared = model.prepare(data)
    weights = _random_weights(model, prepared, seed=3)
    distribution = _choice_distribution(prepared, {PARAM_SITE: weights})

    mu, sigma = _direct_mlp(weights, x)
    sampler = draw_sampler(jax.random.key(11), "pseudo", n_draws, mu.shape, dtype=jnp.float64)
    eps = np.asarray(standard_quantile("normal", sampler(draw_indices(0, n_draws))))
    expected = _direct_heteroscedastic_softmax(mu, sigma, eps)

    assert sigma.std() > 0.05  # the scales really vary across situations and classes
    # Same float64 arithmetic up to summation order: agreement to ~1e-13 relative.
    np.testing.assert_allclose(np.asarray(distribution.probabilities), expected, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(distribution.log_prob(jnp.asarray(y))),
                               np.log(expected[np.arange(len(y)), y]), rtol=1e-10)


def test_homoscedastic_exact_is_softmax(x64):
    data, x, y = _toy_data()
    model = dc.NeuralChoiceModel(features=data.variable_names,
                                 network=dc.NetworkConfig(hidden=(5,)))
    prepared = model.prepare(data)
    weights = _random_weights(model, prepared, seed=4)
    distribution = _choice_distribution(prepared, {PARAM_SITE: weights})
    layer = weights.layers[0]
    hidden = np.maximum(x @ np.asarray(layer.weight).T + np.asarray(layer.bias), 0.0)
    mu = hidden @ np.asarray(weights.location.weight).T + np.asarray(weights.location.bias)
    expected = np.exp(mu - mu.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(distribution.probabilities), expected, rtol=1e-12)


def test_hybrid_adds_linear_and_neural_utility(x64):
    rng = np.random.default_rng(5)
    n_obs, n_alts = 30, 3
    price = rng.normal(size=(n_obs, n_alts))
    income = rng.normal(size=n_obs)
    data = dc.ChoiceData.from_arrays(rng.integers(0, n_alts, n_obs),
                                     {"price": price, "income": income})
    spec = dc.LinearSpec.from_formula("choice ~ price | 0")
    model = dc.NeuralChoiceModel(spec=spec, features=("income", "price"),
                                 network=dc.NetworkConfig(hidden=(4,), activation="tanh"))
    prepared = model.prepare(data)
    # income is alternative-invariant (1 input), price varies (n_alts inputs)
    assert prepared.inputs.extras["features"].shape == (n_obs, 1 + n_alts)
    weights = _random_weights(model, prepared, seed=6)
    distribution = _choice_distribution(prepared, {PARAM_SITE: weights,
                                                   "beta": jnp.array([-1.3])})
    inputs = np.column_stack([income, price])
    layer = weights.layers[0]
    hidden = np.tanh(inputs @ np.asarray(layer.weight).T + np.asarray(layer.bias))
    mu = hidden @ np.asarray(weights.location.weight).T + np.asarray(weights.location.bias)
    np.testing.assert_allclose(np.asarray(distribution.utility), -1.3 * price + mu, rtol=1e-12)


def test_scale_head_is_positive_with_floor():
    config = dc.NetworkConfig(hidden=(4,), scale_head="per_alternative", scale_floor=0.05)
    network = ChoiceNetwork(2, 3, config, key=jax.random.key(0))
    x = jnp.array([[0.3, -1.0], [2.0, 1.0]])
    _, sigma = jax.vmap(network)(x)
    # The head starts every scale at 1.
    np.testing.assert_allclose(np.asarray(sigma), 1.0, atol=0.2)
    pushed = eqx.tree_at(lambda n: n.scale.bias, network, jnp.full((3,), -1e4))
    _, sigma = jax.vmap(pushed)(x)
    np.testing.assert_allclose(np.asarray(sigma), 0.05, rtol=1e-6)
    shared = ChoiceNetwork(2, 3, dataclasses.replace(config, scale_head="shared"),
                           key=jax.random.key(0))
    assert jax.vmap(shared)(x)[1].shape == (2, 1)


@pytest.mark.parametrize("changes, message", [
    ({"hidden": (0,)}, "hidden"),
    ({"activation": "sigmoid"}, "activation"),
    ({"scale_head": "diag"}, "scale_head"),
    ({"scale_floor": -1.0}, "scale_floor"),
    ({"utility_head": False}, "neither"),
])
def test_network_config_rejects_bad_values(changes, message):
    with pytest.raises(ValueError, match=message):
        dc.NetworkConfig(**changes)


def test_model_rejects_missing_features():
    with pytest.raises(ValueError, match="features"):
        dc.NeuralChoiceModel()
    with pytest.raises(ValueError, match="noise"):
        dc.NeuralChoiceModel(features=("x0",), noise="cauchy")


def test_neural_scale_recovers_known_scale_function():
    """Simulate U = 2 w + sigma(z) * Gumbel with log sigma(z) = 0.8 sin(1.5 z) and fit a
    network scale head; the fitted log-scales must track the true ones on held-out data."""
    rng = np.random.default_rng(7)
    n_obs, n_alts = 4000, 3
    w = rng.normal(scale=1.5, size=(n_obs, n_alts))
    z = rng.uniform(-2.0, 2.0, size=n_obs)
    log_sigma = 0.8 * np.sin(1.5 * z)
    utility = 2.0 * w + np.exp(log_sigma)[:, None] * rng.gumbel(size=(n_obs, n_alts))
    data = dc.ChoiceData.from_arrays(utility.argmax(axis=1), {"w": w, "z": z})
    train_rows, held_out = np.arange(3000), np.arange(3000, n_obs)
    model = dc.NeuralChoiceModel(
        spec=dc.LinearSpec.from_formula("choice ~ w | 0"), features=("z",),
        network=dc.NetworkConfig(hidden=(16,), activation="tanh", utility_head=False,
                                 scale_head="shared"))
    result = dc.train(model, data.subset(train_rows), learning_rate=0.02, batch_size=500,
                      max_epochs=150, patience=15, validation_fraction=0.2)
    _, scale = result.utility_and_scale(data.subset(held_out))
    correlation = np.corrcoef(np.log(scale[:, 0]), log_sigma[held_out])[0, 1]
    assert correlation > 0.9, correlation


def test_same_model_runs_under_svi_and_nuts():
    data, _, _ = _toy_data(n_obs=30, n_features=2, n_classes=2)
    model = dc.NeuralChoiceModel(features=data.variable_names,
                                 network=dc.NetworkConfig(hidden=(2,), activation="tanh"),
                                 network_prior=dist.Normal(0.0, 1.0))
    prepared = model.prepare(data)

    svi = SVI(prepared.numpyro_model, AutoNormal(prepared.numpyro_model),
              numpyro.optim.Adam(0.02), Trace_ELBO())
    run = svi.run(jax.random.key(0), 300, prepared.choice, progress_bar=False)
    losses = np.asarray(run.losses)
    assert np.all(np.isfinite(losses))
    assert losses[-30:].mean() < losses[:30].mean()

    mcmc = MCMC(NUTS(prepared.numpyro_model), num_warmup=30, num_samples=30,
                progress_bar=False)
    mcmc.run(jax.random.key(1), prepared.choice)
    samples = mcmc.get_samples()
    assert f"{NETWORK_SITE}/layers[0].weight" in samples
    assert all(np.all(np.isfinite(np.asarray(v))) for v in samples.values())

    # The library's NUTS entry point labels every weight through the parameter blocks.
    with pytest.warns(dc.SamplingWarning):  # 30 draws are far too few for the ESS check
        posterior = dc.fit_mcmc(model, data, key=3, num_warmup=30, num_samples=30,
                                num_chains=1)
    assert "network/layers[0].weight[1,0]" in posterior.summary().index

    # The library's SVI entry point handles the network's pytree parameters too.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.ConvergenceWarning)  # 300 steps are deliberately few
        variational = dc.fit_svi(model, data, key=4, max_steps=300, min_steps=100, window=50)
    assert "network/layers[0].weight[1,0]" in variational.summary().index

    # Without a prior the weights are numpyro.param sites that SVI optimises directly.
    point = dataclasses.replace(model, network_prior=None).prepare(data)
    svi = SVI(point.numpyro_model, lambda *args, **kwargs: None, numpyro.optim.Adam(0.05),
              Trace_ELBO())
    run = svi.run(jax.random.key(2), 200, point.choice, progress_bar=False)
    assert PARAM_SITE in run.params
    assert np.asarray(run.losses)[-20:].mean() < np.asarray(run.losses)[:20].mean()


@pytest.mark.parametrize("noise", ["gumbel", "logistic"])
def test_network_scales_work_with_quadrature(x64, noise):
    """Any simulator takes the network's scales: with one scale per situation and Gumbel
    noise, quadrature reproduces the closed form softmax(mu / sigma) of the Exact simulator;
    with Logistic noise its probabilities still sum to one."""
    data, _, _ = _toy_data(n_obs=12)
    model = dc.NeuralChoiceModel(features=data.variable_names, noise=noise,
                                 simulator=dc.Quadrature(),
                                 network=dc.NetworkConfig(hidden=(5,), scale_head="shared"))
    prepared = model.prepare(data)
    weights = _random_weights(model, prepared, seed=8)
    quadrature = np.asarray(_choice_distribution(prepared, {PARAM_SITE: weights}).probabilities)
    np.testing.assert_allclose(quadrature.sum(axis=1), 1.0, atol=1e-10)
    if noise == "gumbel":
        exact = dataclasses.replace(model, simulator=dc.Exact()).prepare(data)
        closed_form = _choice_distribution(exact, {PARAM_SITE: weights}).probabilities
        # Measured agreement is 2e-15 relative; 1e-9 leaves room for other platforms.
        np.testing.assert_allclose(quadrature, np.asarray(closed_form), rtol=1e-9)
