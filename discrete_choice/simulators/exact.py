"""Closed-form choice probabilities: logit, binary probit and the noiseless limit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import log_ndtr

from discrete_choice.noise import Noise
from discrete_choice.simulators._base import Simulator, masked_log_softmax, pytree_dataclass

__all__ = ["Exact", "check_common_scale", "log_argmax_indicator"]


def check_common_scale(noise: Noise, n_alts: int) -> None:
    """Raise ``ValueError`` unless one scale is shared by all alternatives.

    A traced scale with an alternatives axis cannot be checked and is rejected too: pass it
    with shape ``(..., 1)``.
    """
    scale = noise.scale
    if scale is None or n_alts == 1 or jnp.ndim(scale) == 0 or jnp.shape(scale)[-1] == 1:
        return
    if isinstance(scale, jax.core.Tracer):
        raise ValueError(
            "the Exact simulator needs one scale shared by all alternatives, but the scale has "
            f"an alternatives axis of size {jnp.shape(scale)[-1]} and is traced; pass it with "
            "shape (..., 1), or use Quadrature for scales that differ by alternative"
        )
    values = np.asarray(scale)
    if not np.all(values == values[..., :1]):
        raise ValueError(
            "the Exact simulator has no closed form for Gumbel noise whose scale differs between "
            f"alternatives (got scale = {values.tolist()}); use Quadrature or Smoothed"
        )


def log_argmax_indicator(utility: jax.Array, available: jax.Array | None) -> jax.Array:
    """Log of the argmax indicator with ties split equally: ``log(1{V_j = max V} / n_ties)``.

    Shapes: ``utility`` and the result are ``(..., n_alts)``; unavailable alternatives are
    ``-inf`` and never win.
    """
    if available is None:
        available = jnp.ones(utility.shape, dtype=bool)
    masked = jnp.where(available, utility, -jnp.inf)
    is_max = available & (masked == jnp.max(masked, axis=-1, keepdims=True))
    n_ties = jnp.sum(is_max, axis=-1, keepdims=True)
    share = is_max / jnp.maximum(n_ties, 1).astype(utility.dtype)
    return jnp.where(is_max, jnp.log(jnp.where(is_max, share, 1.0)), -jnp.inf)


@pytree_dataclass
class Exact(Simulator):
    """Closed-form choice probabilities where the noise law allows one.

    * Gumbel noise with one scale ``sigma`` shared by all alternatives (logit):
      ``P_j = exp(V_j / sigma) / sum_{k available} exp(V_k / sigma)``; with two alternatives
      this is the logistic CDF of ``(V_j - V_k) / sigma``.
    * Normal noise with two alternatives (binary probit), independent with scales
      ``sigma_0, sigma_1`` or correlated with covariance ``Sigma = L L^T``:
      ``P_1 = Phi((V_1 - V_0) / s)`` with ``s^2 = Var(eps_1 - eps_0)``, evaluated as
      ``log_ndtr`` so the far tail stays finite (``log Phi(-40) = -804.608``).
    * No noise (``family="none"``): the argmax indicator, ties split equally.

    Any other noise raises ``ValueError`` that names the simulators that do apply.
    """

    def check(self, utility, available, noise):
        n_alts = utility.shape[-1]
        if noise.family == "gumbel":
            check_common_scale(noise, n_alts)
        elif noise.family == "normal" and n_alts == 2:
            pass
        elif noise.family != "none":
            raise ValueError(
                f"the Exact simulator has no closed form for {noise.family!r} noise with "
                f"{n_alts} alternatives (closed forms: Gumbel with equal scales, Normal with two "
                "alternatives); use Quadrature for independent noise or Smoothed otherwise"
            )

    def log_probabilities(self, utility, available, noise):
        if noise.family == "none":
            return log_argmax_indicator(utility, available)
        if noise.family == "gumbel":
            scale = noise.scale_or_one(utility.dtype)
            if scale.ndim > 0:
                scale = scale[..., :1]
            return masked_log_softmax(utility / scale, available)
        return _binary_probit(utility, available, noise)


def _binary_probit(utility, available, noise):
    if noise.is_correlated:
        chol = jnp.asarray(noise.cholesky, dtype=utility.dtype)
        cov = chol @ jnp.swapaxes(chol, -1, -2)
        variance = cov[..., 0, 0] + cov[..., 1, 1] - 2.0 * cov[..., 0, 1]
    else:
        scale = jnp.broadcast_to(noise.scale_or_one(utility.dtype), utility.shape)
        variance = scale[..., 0] ** 2 + scale[..., 1] ** 2
    z = (utility[..., 1] - utility[..., 0]) / jnp.sqrt(variance)
    log_p = jnp.stack([log_ndtr(-z), log_ndtr(z)], axis=-1)
    if available is None:
        return log_p
    both = jnp.all(available, axis=-1, keepdims=True)
    alone = jnp.where(available, 0.0, -jnp.inf)
    return jnp.where(both, log_p, alone)
