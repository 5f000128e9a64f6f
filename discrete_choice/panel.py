r"""Panel and per-task simulated log-likelihoods from draws shared within a decision maker.

When a decision maker ``i`` completes several choice tasks ``t`` and a random coefficient (or
any other random term) is drawn once per person, the probability of the person's sequence of
choices is the mean over draws of the product of the task probabilities:

.. math::

    \ell^{\text{panel}}_i = \log \frac{1}{S} \sum_{s=1}^{S} \prod_{t \in i} P_{it}(\beta_s)
                         = \operatorname{logmeanexp}_s \sum_{t \in i} \log P_{it}(\beta_s).

Treating the tasks as independent instead gives the per-task log mean probabilities

.. math::

    \ell^{\text{task}}_{it} = \log \frac{1}{S} \sum_{s=1}^{S} P_{it}(\beta_s),

whose sum over tasks is not the panel log-likelihood: with a coefficient of +2 or -2 with equal
weight, a utility difference equal to the coefficient and the first alternative chosen in two
tasks, the panel value is ``log(mean(0.8808^2, 0.1192^2)) = -0.9289`` while the per-task sum
is ``2 log 0.5 = -1.3863``.

:func:`panel_log_likelihood` returns the first (for estimation with panel data);
:func:`task_log_likelihood` returns the second (for per-task prediction and evaluation).
Both work in the log domain, so a product of many small probabilities does not underflow.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

__all__ = ["panel_log_likelihood", "task_log_likelihood"]


def _check_draws(log_prob: Any) -> jax.Array:
    log_prob = jnp.asarray(log_prob)
    if log_prob.ndim != 2:
        raise ValueError("log_prob must have shape (n_draws, n_obs): the log probability of each "
                         f"observed choice at each draw; got shape {log_prob.shape}")
    return log_prob


def task_log_likelihood(log_prob: Any) -> jax.Array:
    """Return the per-task log mean probability over draws.

    Args:
        log_prob: ``(n_draws, n_obs)`` log probability of each observed choice at each draw.

    Returns:
        ``(n_obs,)`` values ``log((1/S) sum_s P_ts)``.
    """
    log_prob = _check_draws(log_prob)
    n_draws = log_prob.shape[0]
    return jax.nn.logsumexp(log_prob, axis=0) - jnp.log(n_draws)


def panel_log_likelihood(log_prob: Any, panel_ids: Any) -> tuple[jax.Array, np.ndarray]:
    """Return the panel log-likelihood of each decision maker, draws shared across their tasks.

    Args:
        log_prob: ``(n_draws, n_obs)`` log probability of each observed choice at each draw,
            where draw ``s`` of a person is the same in each of their tasks.
        panel_ids: ``(n_obs,)`` decision-maker ids of any type; tasks of one person need not
            be adjacent, and persons may have different numbers of tasks.

    Returns:
        ``(values, persons)``: ``values`` of shape ``(n_persons,)`` with
        ``logmeanexp_s sum_{t in i} log P_ist`` and the person ids in the same order (first
        appearance).
    """
    log_prob = _check_draws(log_prob)
    ids = np.asarray(panel_ids, dtype=object)
    if ids.shape != (log_prob.shape[1],):
        raise ValueError(f"panel_ids must have shape (n_obs,) = ({log_prob.shape[1]},); got "
                         f"{ids.shape}")
    codes, persons = pd.factorize(pd.Series(ids, dtype=object))
    n_persons = len(persons)
    summed = jax.ops.segment_sum(log_prob.T, jnp.asarray(codes), num_segments=n_persons)
    return task_log_likelihood(summed.T), np.asarray(persons, dtype=object)
