"""Controlled label noise: the corruption's rates and the experiment runner end to end."""

from __future__ import annotations

import numpy as np
import pytest

from discrete_choice.experiments import (
    DIGITS_FLIP_PROBABILITY,
    LabelNoiseConfig,
    corrupt_labels,
    run_label_noise_experiment,
)


def test_corruption_rates_follow_class_probabilities():
    n_per_class = 20_000
    labels = np.repeat(np.arange(10), n_per_class)
    corrupted = corrupt_labels(labels, DIGITS_FLIP_PROBABILITY, key=0)
    for k, p in enumerate(DIGITS_FLIP_PROBABILITY):
        in_class = labels == k
        redrawn = corrupted.redrawn[in_class].mean()
        changed = (corrupted.labels[in_class] != k).mean()
        # Binomial standard error of a rate over 20,000 draws is at most 0.0035; allow 5 of them.
        tolerance = 5 * np.sqrt(max(p * (1 - p), 1e-12) / n_per_class) + 1e-12
        assert abs(redrawn - p) <= tolerance, (k, redrawn)
        # A redrawn label is uniform over all 10 classes, so it changes with probability 0.9 p.
        assert abs(changed - 0.9 * p) <= tolerance, (k, changed)
    # Classes 0-4 are untouched; redrawn labels of class 9 are spread over every class.
    assert np.array_equal(corrupted.labels[labels < 5], labels[labels < 5])
    new = corrupted.labels[(labels == 9) & corrupted.redrawn]
    counts = np.bincount(new, minlength=10)
    assert counts.min() > 0.8 * counts.mean()


def test_corruption_is_deterministic_in_key():
    labels = np.arange(10).repeat(50)
    first = corrupt_labels(labels, DIGITS_FLIP_PROBABILITY, key=3)
    assert np.array_equal(first.labels, corrupt_labels(labels, DIGITS_FLIP_PROBABILITY,
                                                       key=3).labels)
    assert not np.array_equal(first.labels, corrupt_labels(labels, DIGITS_FLIP_PROBABILITY,
                                                           key=4).labels)


@pytest.mark.parametrize("labels, probability, message", [
    (np.array([0, 1, 5]), [0.1] * 3, "0..2"),
    (np.array([0, 1]), [0.1, 1.5], r"\[0, 1\]"),
    (np.array([0.0, 1.0]), [0.1, 0.1], "integer"),
])
def test_corruption_rejects_bad_input(labels, probability, message):
    with pytest.raises(ValueError, match=message):
        corrupt_labels(labels, probability, key=0)


def test_config_requires_unit_temperature_and_two_seeds():
    with pytest.raises(ValueError, match="contain 1"):
        LabelNoiseConfig(temperatures=(0.1, 10.0))
    with pytest.raises(ValueError, match="seeds"):
        LabelNoiseConfig(seeds=(0,))


def test_experiment_runs_end_to_end_on_digits():
    pytest.importorskip("sklearn")
    from discrete_choice.experiments import load_digits

    features, labels = load_digits()
    rows = np.random.default_rng(0).permutation(len(labels))[:400]
    config = LabelNoiseConfig(temperatures=(0.1, 1.0), train_draws=(2,), eval_draws=50,
                              seeds=(0, 1), hidden=(8,), learning_rate=1e-2, max_epochs=3,
                              patience=2)
    results = run_label_noise_experiment(config, features[rows], labels[rows])

    runs = results.runs
    assert len(runs) == 2 * (1 + 2)
    assert set(runs.method) == {"homoscedastic", "heteroscedastic"}
    assert np.all(np.isfinite(runs[["validation_log_loss", "test_log_loss"]].to_numpy()))
    assert runs.test_accuracy.between(0, 1).all()
    assert set(results.best_temperatures().index) == {2}
    tests = results.paired_tests()
    assert list(tests.train_draws) == [2]
    for column in ("test_log_loss_p_tau1", "test_log_loss_p_homoscedastic",
                   "test_accuracy_t_homoscedastic"):
        assert column in tests
    summary = results.summary()
    assert len(summary) == 1 + 2
    assert "seeds [0, 1]" in config.describe()
