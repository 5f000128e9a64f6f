"""Minibatch trainer: agreement with fit_mle, early stopping, key schedule, draws settings."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import optax
import pytest

import discrete_choice as dc
from discrete_choice.inference.train import _replace_key, simulator_with_draws


def _noise_labels(n_obs, seed, n_features=4, n_classes=3):
    rng = np.random.default_rng(seed)
    return dc.classification_data(rng.normal(size=(n_obs, n_features)),
                                  rng.integers(0, n_classes, n_obs), n_classes=n_classes)


def _heteroscedastic(data, **simulator):
    return dc.NeuralChoiceModel(
        features=data.variable_names, noise="normal",
        network=dc.NetworkConfig(hidden=(8,), scale_head="per_alternative"),
        simulator=dc.Smoothed(scheme="pseudo", **simulator))


def test_trainer_reaches_logit_maximum_likelihood():
    """Full-batch Adam on a linear logit converges to the trust-region MLE of fit_mle."""
    rng = np.random.default_rng(0)
    n_obs, n_alts = 600, 3
    x = rng.normal(size=(n_obs, n_alts))
    utility = 1.0 * x + np.array([0.0, 0.5, -0.3]) + rng.gumbel(size=(n_obs, n_alts))
    data = dc.ChoiceData.from_arrays(utility.argmax(axis=1), {"x": x})
    model = dc.Logit(dc.LinearSpec.from_formula("choice ~ x"))
    reference = dc.fit_mle(model, data)
    result = dc.train(model, data, learning_rate=0.05, batch_size=n_obs, max_epochs=400,
                      patience=None, validation_fraction=0.0)
    # float32 Adam with a fixed step stops within ~1e-3 of the optimum; the standard errors
    # are ~0.1, so this is 1% of a standard error.
    np.testing.assert_allclose(np.asarray(result.params["beta"]),
                               reference.params.to_numpy(), atol=3e-3)
    assert result.best_epoch == 399


def test_early_stopping_restores_best_epoch():
    """Random labels and a large step make the validation loss rise after a few epochs."""
    train_data, validation = _noise_labels(120, seed=1), _noise_labels(80, seed=2)
    model = dc.NeuralChoiceModel(features=train_data.variable_names,
                                 network=dc.NetworkConfig(hidden=(64,)))
    result = dc.train(model, train_data, validation=validation, learning_rate=0.05,
                      batch_size=40, max_epochs=200, patience=5)
    assert result.stopped_early
    assert result.epochs_run == result.best_epoch + 1 + 5
    assert result.best_epoch == int(np.argmin(result.validation_loss))
    # The restored weights give the best epoch's validation loss, not the last one's.
    np.testing.assert_allclose(result.log_loss(validation),
                               result.validation_loss[result.best_epoch], rtol=1e-5)
    assert result.validation_loss[-1] > result.validation_loss[result.best_epoch]


def test_training_is_deterministic_in_seed():
    data = _noise_labels(96, seed=3)
    model = _heteroscedastic(data, tau=0.5, n_draws=2)
    options = dict(max_epochs=3, batch_size=32, validation_fraction=0.25, eval_draws=16)
    first = dc.train(model, data, seed=5, **options)
    again = dc.train(model, data, seed=5, **options)
    other = dc.train(model, data, seed=6, **options)
    leaves = jax.tree_util.tree_leaves
    for a, b in zip(leaves(first.params), leaves(again.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not all(np.array_equal(np.asarray(a), np.asarray(b))
                   for a, b in zip(leaves(first.params), leaves(other.params)))
    np.testing.assert_array_equal(first.train_loss, again.train_loss)


def test_draws_for_training_and_evaluation_are_separate():
    data = _noise_labels(64, seed=4)
    model = _heteroscedastic(data, tau=1.0, n_draws=100)
    result = dc.train(model, data, max_epochs=2, batch_size=32, validation_fraction=0.0,
                      train_draws=3, eval_draws=50)
    assert result.model.simulator.n_draws == 3
    many = result.log_loss(data, n_draws=4000)
    # 50 evaluation draws estimate the 4000-draw log-loss to within a few percent.
    np.testing.assert_allclose(result.log_loss(data), many, rtol=0.05)
    # Chunked draws regenerate the same draws: only the summation order changes.
    chunked = dataclasses.replace(result, options=dataclasses.replace(result.options,
                                                                      draws_chunk=7))
    np.testing.assert_allclose(chunked.log_loss(data), result.log_loss(data), rtol=1e-5)


def test_simulator_settings_are_replaced_where_they_exist():
    smoothed = simulator_with_draws(dc.Smoothed(n_draws=10), n_draws=3, key=7, draws_chunk=2)
    assert (smoothed.n_draws, smoothed.chunk_size) == (3, 2)
    exact = dc.Exact()
    assert simulator_with_draws(exact, n_draws=3, draws_chunk=2) is exact
    key = jax.random.key(42)
    swapped = _replace_key(smoothed, key)
    np.testing.assert_array_equal(jax.random.key_data(swapped.key), jax.random.key_data(key))
    assert swapped.n_draws == 3


def test_custom_optimizer_and_weights():
    data = _noise_labels(64, seed=5)
    weighted = dataclasses.replace(data, weights=np.linspace(0.5, 1.5, data.n_obs))
    model = dc.NeuralChoiceModel(features=data.variable_names,
                                 network=dc.NetworkConfig(hidden=(4,)))
    result = dc.train(model, weighted, optimizer=optax.sgd(0.1), max_epochs=2,
                      validation_fraction=0.0, batch_size=16)
    assert np.all(np.isfinite(result.train_loss))


@pytest.mark.parametrize("changes, message", [
    ({"batch_size": 0}, "batch_size"),
    ({"train_draws": 0}, "train_draws"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"patience": -1}, "patience"),
])
def test_options_reject_bad_values(changes, message):
    with pytest.raises(ValueError, match=message):
        dc.TrainOptions(**changes)


def test_unknown_option_is_named():
    data = _noise_labels(20, seed=6)
    model = dc.NeuralChoiceModel(features=data.variable_names)
    with pytest.raises(TypeError, match="epochs"):
        dc.train(model, data, epochs=3)
