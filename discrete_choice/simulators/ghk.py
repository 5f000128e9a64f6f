r"""The GHK simulator of multinomial probit probabilities (Geweke, Hajivassiliou and Keane).

For correlated Normal noise :math:`\varepsilon_n \sim N(0, \Sigma)` the probability that
alternative :math:`j` has the largest utility is a :math:`(J-1)`-dimensional Normal rectangle
probability in the utility differences against :math:`j`:

.. math::

    P_{nj} = \Pr(d_{n} < b_{n}),\qquad d_{nk} = \varepsilon_{nk} - \varepsilon_{nj},\quad
    b_{nk} = V_{nj} - V_{nk}\quad (k \ne j),\qquad d_n \sim N(0, M_j \Sigma M_j^\top),

with :math:`M_j` the :math:`(J-1) \times J` differencing matrix. With the Cholesky factor
:math:`C` of :math:`M_j \Sigma M_j^\top` and :math:`d = C \eta`, GHK draws
:math:`\eta_1, \eta_2, \ldots` one at a time from the standard Normal truncated to the region
allowed by the earlier draws,

.. math::

    \bar\eta_{i} = \frac{b_i - \sum_{l<i} C_{il}\eta_l}{C_{ii}},\qquad
    p_i = \Phi(\bar\eta_i),\qquad \eta_i = \Phi^{-1}(u_i\, p_i),

and averages the product of the truncation probabilities over draws :math:`u^{(s)}`:
:math:`\hat P_{nj} = S^{-1} \sum_s \prod_i p_i^{(s)}`. The estimator is unbiased for
:math:`P_{nj}`, smooth in the parameters, and computed here in the log domain
(:math:`\log \hat P = \operatorname{logsumexp}_s \sum_i \log \Phi(\bar\eta_i^{(s)}) - \log S`).

Unavailable alternatives keep their dimension with an infinite bound: their factor is exactly 1
and their draw an unrestricted Normal, which integrates them out. The draws are fixed by
``(key, scheme, n_draws)`` (common random numbers across optimiser iterations).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import log_ndtr, ndtri

from discrete_choice.draws import (
    Scheme,
    as_key,
    check_scheme,
    draw_indices,
    uniform_draws,
    validate_n_draws,
)
from discrete_choice.noise import Noise
from discrete_choice.simulators._base import Simulator, pytree_dataclass

__all__ = ["GHK", "difference_matrices"]


def difference_matrices(n_alts: int) -> np.ndarray:
    """Return the differencing matrices ``M_j``, shape ``(n_alts, n_alts - 1, n_alts)``.

    Row ``i`` of ``M_j`` is ``e_k - e_j`` for the ``i``-th alternative ``k != j`` in index order,
    so ``M_j @ eps`` are the noise differences against alternative ``j``.
    """
    matrices = np.zeros((n_alts, n_alts - 1, n_alts))
    for j in range(n_alts):
        others = [k for k in range(n_alts) if k != j]
        for i, k in enumerate(others):
            matrices[j, i, k] = 1.0
            matrices[j, i, j] = -1.0
    return matrices


@pytree_dataclass
class GHK(Simulator):
    """GHK simulator for Normal noise with a full covariance (multinomial probit).

    Attributes:
        n_draws: Number of draws ``S`` per observation, a positive integer.
        scheme: Uniform draws: ``"pseudo"``, ``"halton"`` or ``"sobol"`` (see
            :mod:`discrete_choice.draws`); each observation gets its own randomisation.
        key: ``int`` seed or JAX PRNG key of the draws; a key is stored as the tuple of its
            ``key_data`` words, so the simulator stays hashable static configuration.
        antithetic: Pair each draw ``u`` with ``1 - u``.

    The noise must be ``Noise("normal", cholesky=L)`` with ``Cov(eps) = L L^T`` of shape
    ``(n_alts, n_alts)`` or batched ``(..., n_alts, n_alts)``; ``L`` may be singular (for
    example a zero row for a base alternative whose noise is folded into the others) as long
    as every covariance of differences ``M_j L L^T M_j^T`` is positive definite. Independent
    Normal noise (``scale``) is accepted and turned into a diagonal factor.

    Cost: ``O(S n_obs n_alts^2)`` for :meth:`log_prob` and ``n_alts`` times that for
    :meth:`log_probabilities`; memory ``O(S n_obs n_alts)``.
    """

    n_draws: int = 200
    scheme: Scheme = "halton"
    key: Any = 0
    antithetic: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_draws", validate_n_draws(self.n_draws))
        check_scheme(self.scheme)
        if isinstance(self.key, bool) or not isinstance(self.key, (int, np.integer, tuple)):
            object.__setattr__(self, "key", tuple(
                int(word) for word in np.asarray(jax.random.key_data(as_key(self.key))).ravel()))
        elif isinstance(self.key, np.integer):
            object.__setattr__(self, "key", int(self.key))
        if not isinstance(self.antithetic, bool):
            raise ValueError(f"antithetic must be True or False; got antithetic={self.antithetic!r}")

    # ------------------------------------------------------------------ hooks
    def check(self, utility, available, noise):
        if noise.family != "normal":
            raise ValueError(f"the GHK simulator needs Normal noise; got family={noise.family!r}. "
                             "Use Quadrature for independent noise of other families, or Smoothed")

    def log_probabilities(self, utility, available, noise):
        n_alts = utility.shape[-1]
        covariance = _covariance(noise, n_alts, utility.dtype)
        columns = [self._log_prob_of(utility, available, covariance,
                                     jnp.full(utility.shape[:-1], j, dtype=jnp.int32))
                   for j in range(n_alts)]
        return jnp.stack(columns, axis=-1)

    def chosen_log_prob(self, utility, choice, available, noise):
        covariance = _covariance(noise, utility.shape[-1], utility.dtype)
        choice = jnp.broadcast_to(jnp.asarray(choice, dtype=jnp.int32), utility.shape[:-1])
        return self._log_prob_of(utility, available, covariance, choice)

    # ------------------------------------------------------------------ pieces
    def _uniforms(self, shape: tuple[int, ...], dtype) -> jax.Array:
        """Uniform draws ``(n_draws, *shape)``, computed once per key and shape.

        The draws do not depend on the parameters, so they are computed eagerly and cached
        instead of being traced into every compiled likelihood, gradient and Hessian (tracing
        the quasi-random generators would dominate compile time).
        """
        return _cached_uniforms(self.key, self.scheme, self.n_draws, tuple(shape),
                                self.antithetic, jnp.dtype(dtype).name)

    def _log_prob_of(self, utility, available, covariance, choice):
        """GHK log probability of ``choice`` ``(...)`` with utility ``(..., n_alts)``."""
        n_alts = utility.shape[-1]
        batch = utility.shape[:-1]
        if n_alts == 1:
            return jnp.zeros(batch, utility.dtype)
        matrices = jnp.asarray(difference_matrices(n_alts), dtype=utility.dtype)[choice]
        diff_cov = matrices @ covariance @ jnp.swapaxes(matrices, -1, -2)
        chol = jnp.linalg.cholesky(diff_cov)  # (..., n_alts - 1, n_alts - 1)
        bounds = -jnp.einsum("...ik,...k->...i", matrices, utility)  # V_j - V_k
        if available is None:
            others_available = jnp.ones(bounds.shape, dtype=bool)
            chosen_available = jnp.ones(batch, dtype=bool)
        else:
            others_available = jnp.einsum("...ik,...k->...i", jnp.abs(matrices),
                                          available.astype(utility.dtype)) - \
                jnp.take_along_axis(available, choice[..., None], axis=-1).astype(utility.dtype)
            others_available = others_available > 0.5
            chosen_available = jnp.take_along_axis(available, choice[..., None], axis=-1)[..., 0]
        uniforms = self._uniforms(batch + (n_alts - 1,), utility.dtype)
        log_p = _ghk_log_terms(chol, bounds, others_available, uniforms)
        log_mean = jax.nn.logsumexp(log_p, axis=0) - jnp.log(float(self.n_draws))
        return jnp.where(chosen_available, log_mean, -jnp.inf)


@functools.lru_cache(maxsize=8)
def _cached_uniforms(seed: int | tuple[int, ...], scheme: str, n_draws: int,
                     shape: tuple[int, ...], antithetic: bool, dtype: str) -> np.ndarray:
    with jax.ensure_compile_time_eval():
        if isinstance(seed, int):
            key = jax.random.key(seed)
        else:
            key = jax.random.wrap_key_data(np.asarray(seed, dtype=np.uint32))
        uniforms = uniform_draws(key=key, scheme=scheme, n_draws=n_draws,
                                 indices=draw_indices(0, n_draws), shape=shape,
                                 antithetic=antithetic, dtype=dtype)
    return np.asarray(uniforms)


def _covariance(noise: Noise, n_alts: int, dtype) -> jax.Array:
    """Return ``Cov(eps)``, shape ``(..., n_alts, n_alts)``, from a Cholesky factor or scales."""
    if noise.is_correlated:
        chol = jnp.asarray(noise.cholesky, dtype=dtype)
        if chol.shape[-1] != n_alts:
            raise ValueError(f"cholesky has shape {chol.shape} but the utility has {n_alts} "
                             "alternatives; expected (..., n_alts, n_alts)")
        return chol @ jnp.swapaxes(chol, -1, -2)
    scale = jnp.broadcast_to(noise.scale_or_one(dtype), jnp.broadcast_shapes(
        jnp.shape(noise.scale_or_one(dtype)), (n_alts,)))
    return scale[..., :, None] * jnp.eye(n_alts, dtype=dtype) * scale[..., None, :]


def _ghk_log_terms(chol, bounds, active, uniforms):
    """Sum over dimensions of ``log p_i`` for each draw, shape ``(n_draws, ...)``.

    ``chol`` ``(..., m, m)``, ``bounds`` and ``active`` ``(..., m)``, ``uniforms``
    ``(n_draws, ..., m)``. An inactive dimension (unavailable alternative) contributes 0 and an
    unrestricted draw ``Phi^{-1}(u)``.
    """
    m = bounds.shape[-1]
    safe_bounds = jnp.where(active, bounds, 0.0)
    etas = []
    total = jnp.zeros(uniforms.shape[:-1], bounds.dtype)
    for i in range(m):
        shift = sum((chol[..., i, l] * etas[l] for l in range(i)), jnp.zeros_like(total))
        upper = (safe_bounds[..., i] - shift) / chol[..., i, i]
        log_p = log_ndtr(upper)
        total = total + jnp.where(active[..., i], log_p, 0.0)
        if i < m - 1:
            log_u = jnp.log(uniforms[..., i])
            # NOTE: u p underflows to 0 for truncation points below about -37 (float64) or -13
            # (float32) standard deviations, and the draw becomes -inf. Such a draw already has
            # a negligible weight unless every draw of the observation underflows.
            truncated = ndtri(jnp.exp(log_u + log_p))
            etas.append(jnp.where(active[..., i], truncated, ndtri(uniforms[..., i])))
    return total
