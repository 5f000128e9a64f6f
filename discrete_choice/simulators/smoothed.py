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


UNROLL_MAX_ALTS = 16
"""Largest ``n_alts`` for which the chosen log-softmax is unrolled over alternatives.

Unrolled, every operation is elementwise on ``(n_chunk, n_obs)`` rows and XLA fuses the whole
log-likelihood into a few vectorised loops; beyond it the graph would grow with ``n_alts``.
"""


def _by_alternative(value, utility_shape, dtype):
    """Broadcast ``value`` against ``(..., n_alts)`` and lay it out as ``(n_alts, n_obs)``.

    A scalar stays a scalar, so it broadcasts for free.
    """
    value = jnp.asarray(value, dtype)
    if value.ndim == 0:
        return value
    n_alts = utility_shape[-1]
    return jnp.broadcast_to(value, utility_shape).reshape(-1, n_alts).T


def _row(value, j):
    return value if value.ndim == 0 else value[j]


def _chosen_terms(x_rows, is_chosen, available):
    """Per-draw ``x_c - log sum_{k available} exp(x_k)`` from rows ``x_k`` of shape ``(n_chunk, n_obs)``."""
    n_alts = len(x_rows)
    chosen = sum(jnp.where(is_chosen[j], x_rows[j], 0.0) for j in range(n_alts))
    if available is None and n_alts == 2:
        # sigmoid of the utility difference: one exp per draw instead of two
        difference = x_rows[0] - x_rows[1]
        return jax.nn.log_sigmoid(jnp.where(is_chosen[0], difference, -difference))
    if available is not None:
        x_rows = [jnp.where(available[j], x_rows[j], -jnp.inf) for j in range(n_alts)]
    peak = x_rows[0]
    for row in x_rows[1:]:
        peak = jnp.maximum(peak, row)
    peak = jax.lax.stop_gradient(jnp.where(jnp.isfinite(peak), peak, 0.0))
    total = 0.0
    for j in range(n_alts):
        if available is None:
            total = total + jnp.exp(x_rows[j] - peak)
        else:
            safe = jnp.where(available[j], x_rows[j], peak)
            total = total + jnp.where(available[j], jnp.exp(safe - peak), 0.0)
    return chosen - peak - jnp.log(total)


def _chosen_terms_array(x, is_chosen, available):
    """Same as :func:`_chosen_terms` for ``x`` of shape ``(n_chunk, n_alts, n_obs)``."""
    chosen = jnp.sum(jnp.where(is_chosen, x, 0.0), axis=1)
    if available is not None:
        x = jnp.where(available, x, -jnp.inf)
    return chosen - jax.nn.logsumexp(x, axis=1)


@pytree_dataclass(data_fields=("tau", "key", "stored"))
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
        n_alts = utility.shape[-1]
        dtype = utility.dtype
        if noise.family == "none":
            scaled = utility / jnp.asarray(self.tau, dtype)
            return gather_choice(masked_log_softmax(scaled, available), choice)

        # Work in the (n_alts, n_obs) layout of the stored draws; see alternatives_first.
        flat_choice = choice.reshape(-1)
        is_chosen = flat_choice[None, :] == jnp.arange(n_alts)[:, None]
        location = _by_alternative(utility, utility.shape, dtype)
        tau = _by_alternative(self.tau, utility.shape, dtype)
        available_rows = None
        chosen_ok = None
        if available is not None:
            available_rows = _by_alternative(available, utility.shape, bool)
            chosen_ok = jnp.any(available_rows & is_chosen, axis=0)
        correlated = noise.is_correlated
        if correlated:
            cholesky = jnp.asarray(noise.cholesky, dtype)
            if cholesky.ndim > 2:
                cholesky = jnp.broadcast_to(cholesky, batch + (n_alts, n_alts)).reshape(-1, n_alts, n_alts)
                cholesky = jnp.moveaxis(cholesky, 0, -1)  # (n_alts, n_alts, n_obs)
            else:
                cholesky = cholesky[..., None]
        else:
            scale = _by_alternative(noise.scale_or_one(dtype), utility.shape, dtype)

        def body(standard, valid):
            if correlated:
                eps = jnp.einsum("jkn,ckn->cjn", cholesky, standard)
            if n_alts <= UNROLL_MAX_ALTS:
                rows = []
                for j in range(n_alts):
                    noise_row = eps[:, j] if correlated else _row(scale, j) * standard[:, j]
                    rows.append((_row(location, j) + noise_row) / _row(tau, j))
                terms = _chosen_terms(rows, is_chosen, available_rows)
            else:
                noise_part = eps if correlated else (scale if scale.ndim == 0 else scale[None]) * standard
                x = (location[None] + noise_part) / (tau if tau.ndim == 0 else tau[None])
                terms = _chosen_terms_array(x, is_chosen[None], None if available_rows is None else available_rows[None])
            if chosen_ok is not None:
                terms = jnp.where(chosen_ok, terms, 0.0)
            terms = jnp.where(valid[:, None], terms, -jnp.inf)
            return jax.nn.logsumexp(terms, axis=0)

        family = "normal" if correlated else noise.family
        chunks = self.map_draws(body, utility.shape, family, dtype, layout="alternatives_first")
        log_p = _log_mean_exp(chunks, self.n_draws)
        if chosen_ok is not None:
            log_p = jnp.where(chosen_ok, log_p, -jnp.inf)
        return log_p.reshape(batch)

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
