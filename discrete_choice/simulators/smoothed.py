"""Logit-smoothed accept-reject simulator."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from discrete_choice.noise import validate_positive
from discrete_choice.simulators._base import (
    Predictive,
    gather_choice,
    masked_log_softmax,
    predict_argmax,
    pytree_dataclass,
)
from discrete_choice.simulators._draw_based import DrawBased, apply_noise

__all__ = ["Smoothed"]


def _log_mean_exp(chunks: jax.Array, n_draws: int) -> jax.Array:
    """``log((1/S) sum_s exp(l_s))`` from per-chunk log-sum-exps stacked on axis 0."""
    return jax.nn.logsumexp(chunks, axis=0) - jnp.log(jnp.asarray(n_draws, chunks.dtype))


def _chosen_log_softmax(x: jax.Array, choice: jax.Array, available: jax.Array | None) -> jax.Array:
    """``x_c - log sum_{k available} exp(x_k)`` for ``x`` of shape ``(n_chunk, ..., n_alts)``."""
    n_alts = x.shape[-1]
    chosen = jnp.take_along_axis(x, jnp.broadcast_to(choice, x.shape[:-1])[..., None], axis=-1)[..., 0]
    if available is None and n_alts == 2:
        # sigmoid of the utility difference: one exp per draw instead of two
        other = jnp.take_along_axis(
            x, jnp.broadcast_to(1 - choice, x.shape[:-1])[..., None], axis=-1
        )[..., 0]
        return jax.nn.log_sigmoid(chosen - other)
    if available is None:
        return chosen - jax.nn.logsumexp(x, axis=-1)
    safe = jnp.where(available, x, -jnp.inf)
    return chosen - jax.nn.logsumexp(safe, axis=-1)


@pytree_dataclass(data_fields=("tau", "key"))
class Smoothed(DrawBased):
    r"""Logit-smoothed accept-reject simulator (differentiable in ``V``, ``sigma`` and ``tau``).

    .. math::

        \hat P_{j} = \frac{1}{S} \sum_{s=1}^{S}
            \frac{\exp((V_j + \varepsilon_{sj}) / \tau)}
                 {\sum_{k \in A} \exp((V_k + \varepsilon_{sk}) / \tau)},
        \qquad \log \hat P_j = \operatorname{logmeanexp}_s \operatorname{logsoftmax}_A(\cdot)_j

    with ``eps_s = sigma * u_s`` (or ``L z_s`` for correlated Normal noise), ``A`` the available
    alternatives and ``S = n_draws``. For two alternatives the summand is the sigmoid of the
    utility difference over ``tau``. The estimator is computed in the log domain throughout, so
    an underflowed probability still has a finite log (case ``V = (0, -60)``, ``tau = 0.5``:
    ``log P = -120``). As ``tau -> 0`` it tends to the :class:`Frequency` simulator; its bias
    shrinks with ``tau`` while the variance of its gradient grows.

    Attributes:
        tau: temperature ``tau > 0`` in utility units; a scalar or an array broadcastable to
            ``(..., n_alts)``; a pytree leaf, so it can be a traced, estimated parameter.
        n_draws, scheme, antithetic, key, memory_budget_bytes, chunk_size: see
            :class:`~discrete_choice.simulators._draw_based.DrawBased`.

    With ``Noise("none")`` no draws are made: the result is ``softmax(V / tau)``.
    """

    tau: Any = 1.0

    def __post_init__(self) -> None:
        validate_positive("tau", self.tau)
        super().__post_init__()

    def _scaled(self, utility, standard, noise):
        eps = apply_noise(noise, standard, utility.dtype)
        return (utility + eps) / jnp.asarray(self.tau, utility.dtype)

    def chosen_log_prob(self, utility, choice, available, noise):
        batch = choice.shape
        if noise.family == "none":
            scaled = utility / jnp.asarray(self.tau, utility.dtype)
            return gather_choice(masked_log_softmax(scaled, available), choice)

        chosen_ok = None
        if available is not None:
            chosen_ok = jnp.take_along_axis(available, choice[..., None], axis=-1)[..., 0]

        def body(standard, valid):
            terms = _chosen_log_softmax(self._scaled(utility, standard, noise), choice, available)
            if chosen_ok is not None:
                terms = jnp.where(chosen_ok, terms, 0.0)
            terms = jnp.where(valid.reshape((-1,) + (1,) * len(batch)), terms, -jnp.inf)
            return jax.nn.logsumexp(terms, axis=0)

        family = "normal" if noise.is_correlated else noise.family
        log_p = _log_mean_exp(self.map_draws(body, utility.shape, family, utility.dtype), self.n_draws)
        if chosen_ok is not None:
            log_p = jnp.where(chosen_ok, log_p, -jnp.inf)
        return log_p

    def log_probabilities(self, utility, available, noise):
        if noise.family == "none":
            return masked_log_softmax(utility / jnp.asarray(self.tau, utility.dtype), available)

        def body(standard, valid):
            terms = masked_log_softmax(self._scaled(utility, standard, noise), available)
            terms = jnp.where(valid.reshape((-1,) + (1,) * (utility.ndim)), terms, -jnp.inf)
            return jax.nn.logsumexp(terms, axis=0)

        family = "normal" if noise.is_correlated else noise.family
        return _log_mean_exp(self.map_draws(body, utility.shape, family, utility.dtype), self.n_draws)

    def predictive_summary(self, utility, available, noise) -> Predictive:
        """Mean and variance over draws of the per-draw smoothed probabilities ``(..., n_alts)``."""
        if noise.family == "none":
            mean = jnp.exp(masked_log_softmax(utility / jnp.asarray(self.tau, utility.dtype), available))
            return Predictive(mean, jnp.zeros_like(mean), predict_argmax(mean, available))

        def body(standard, valid):
            probs = jnp.exp(masked_log_softmax(self._scaled(utility, standard, noise), available))
            probs = jnp.where(valid.reshape((-1,) + (1,) * utility.ndim), probs, 0.0)
            return jnp.sum(probs, axis=0), jnp.sum(probs * probs, axis=0)

        family = "normal" if noise.is_correlated else noise.family
        sums, squares = self.map_draws(body, utility.shape, family, utility.dtype)
        mean = jnp.sum(sums, axis=0) / self.n_draws
        variance = jnp.maximum(jnp.sum(squares, axis=0) / self.n_draws - mean * mean, 0.0)
        return Predictive(mean, variance, predict_argmax(mean, available))
