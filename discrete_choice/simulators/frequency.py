"""Crude accept-reject (frequency) simulator."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from discrete_choice.simulators._base import Predictive, predict_argmax, pytree_dataclass
from discrete_choice.simulators._draw_based import DrawBased, apply_noise
from discrete_choice.simulators.exact import log_argmax_indicator

__all__ = ["Frequency"]


@pytree_dataclass(data_fields=("key", "stored"))
class Frequency(DrawBased):
    r"""Crude accept-reject simulator: the share of draws in which each alternative wins.

    .. math::

        \hat P_j = \frac{1}{S} \sum_{s=1}^{S} 1\{j = \arg\max_{k \in A} (V_k + \varepsilon_{sk})\}

    the ``tau -> 0`` limit of :class:`Smoothed`. Its log is ``-inf`` for an alternative that
    never wins and it is a step function of ``V``, so it has no useful gradient (gradients are
    stopped): use it for prediction and evaluation, not for fitting. Ties, which only happen
    with ``Noise("none")``, are split equally.

    Attributes: see :class:`~discrete_choice.simulators._draw_based.DrawBased`.
    """

    def _shares(self, utility, available, noise):
        """Per-chunk sums of win indicators and of their squares, ``(n_chunks, ..., n_alts)``."""
        utility = jax.lax.stop_gradient(utility)
        noise = jax.lax.stop_gradient(noise)

        def body(standard, valid):
            latent = utility + apply_noise(noise, standard, utility.dtype)
            wins = jnp.exp(log_argmax_indicator(latent, available))
            wins = jnp.where(valid.reshape((-1,) + (1,) * utility.ndim), wins, 0.0)
            return jnp.sum(wins, axis=0), jnp.sum(wins * wins, axis=0)

        family = "normal" if noise.is_correlated else noise.family
        return self.map_draws(body, utility.shape, family, utility.dtype)

    def log_probabilities(self, utility, available, noise):
        if noise.family == "none":
            return log_argmax_indicator(jax.lax.stop_gradient(utility), available)
        sums, _ = self._shares(utility, available, noise)
        return jnp.log(jnp.sum(sums, axis=0)) - jnp.log(jnp.asarray(self.n_draws, utility.dtype))

    def predictive_summary(self, utility, available, noise) -> Predictive:
        """Win shares and their variance over draws ``p (1 - p)``, ``(..., n_alts)``."""
        if noise.family == "none":
            mean = jnp.exp(log_argmax_indicator(utility, available))
            return Predictive(mean, jnp.zeros_like(mean), predict_argmax(mean, available))
        sums, squares = self._shares(utility, available, noise)
        mean = jnp.sum(sums, axis=0) / self.n_draws
        variance = jnp.maximum(jnp.sum(squares, axis=0) / self.n_draws - mean * mean, 0.0)
        return Predictive(mean, variance, predict_argmax(mean, available))
