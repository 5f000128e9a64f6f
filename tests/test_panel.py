"""Panel versus per-task simulated log-likelihoods."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from discrete_choice.panel import panel_log_likelihood, task_log_likelihood


def two_task_person():
    """One person, 2 tasks, coefficient +2 or -2 with equal weight, utility difference
    equal to the coefficient, the first alternative chosen both times."""
    coefficient = np.array([2.0, -2.0])
    log_p = np.log(jax.nn.sigmoid(coefficient))  # P(first) at each draw
    return np.stack([log_p, log_p], axis=1)  # (n_draws, n_tasks)


def test_panel_log_likelihood_two_tasks(x64):
    values, persons = panel_log_likelihood(two_task_person(), ["p1", "p1"])
    expected = np.log(np.mean(jax.nn.sigmoid(np.array([2.0, -2.0])) ** 2))
    assert float(values[0]) == pytest.approx(expected, abs=1e-12)
    assert float(values[0]) == pytest.approx(-0.9289, abs=5e-5)  # rounded published value
    assert list(persons) == ["p1"]


def test_task_log_likelihood_two_tasks(x64):
    values = task_log_likelihood(two_task_person())
    assert float(values.sum()) == pytest.approx(2 * np.log(0.5), abs=1e-12)
    assert float(values.sum()) == pytest.approx(-1.3863, abs=5e-5)


def test_panel_ids_any_order_and_size(x64):
    rng = np.random.default_rng(0)
    log_prob = np.log(rng.uniform(0.05, 0.95, size=(50, 6)))
    ids = np.array([3, 1, 3, 2, 1, 3])  # unbalanced: 3, 2 and 1 tasks, not adjacent
    values, persons = panel_log_likelihood(log_prob, ids)
    assert list(persons) == [3, 1, 2]
    for value, person in zip(values, persons):
        rows = ids == person
        expected = np.log(np.mean(np.exp(log_prob[:, rows].sum(axis=1))))
        assert float(value) == pytest.approx(expected, rel=1e-12)


def test_panel_product_does_not_underflow(x64):
    log_prob = np.full((10, 400), -5.0)  # a product of 400 probabilities of e^-5 is e^-2000
    values, _ = panel_log_likelihood(log_prob, np.zeros(400, dtype=int))
    assert float(values[0]) == pytest.approx(-2000.0)


def test_panel_shape_errors():
    with pytest.raises(ValueError, match=r"\(n_draws, n_obs\)"):
        task_log_likelihood(np.zeros(3))
    with pytest.raises(ValueError, match="panel_ids"):
        panel_log_likelihood(np.zeros((2, 3)), [1, 2])
