"""Configuration and chunked evaluation shared by the simulators that average over draws."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from discrete_choice.draws import (
    as_key,
    check_scheme,
    draw_indices,
    draw_sampler,
    validate_n_draws,
)
from discrete_choice.noise import Noise, standard_quantile
from discrete_choice.simulators._base import Simulator

__all__ = ["DEFAULT_MEMORY_BUDGET_BYTES", "DrawBased", "apply_noise"]

DEFAULT_MEMORY_BUDGET_BYTES = 256 * 2**20
"""Default bound, in bytes, on the stored draws array ``(n_draws, ..., n_alts)`` (256 MiB)."""


def apply_noise(noise: Noise, standard: jax.Array, dtype) -> jax.Array:
    """Scale standard draws ``(n_chunk, ..., n_alts)`` into noise ``eps`` of the same shape.

    Independent noise: ``eps = scale * u``. Correlated Normal noise:
    ``eps_j = sum_k L_jk z_k`` with ``L = noise.cholesky``.
    """
    if noise.is_correlated:
        chol = jnp.asarray(noise.cholesky, dtype=dtype)
        return jnp.einsum("...jk,s...k->s...j", chol, standard)
    if noise.scale is None:
        return standard
    return standard * noise.scale_or_one(dtype)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class DrawBased(Simulator):
    """Draw settings shared by :class:`Smoothed` and :class:`Frequency`.

    Attributes:
        n_draws: number of draws ``S`` per observation, a positive integer.
        scheme: ``"pseudo"``, ``"halton"`` or ``"sobol"`` (see :mod:`discrete_choice.draws`).
        antithetic: pair each draw with its mirror image ``1 - u``.
        key: PRNG key or ``int`` seed; the draws are a pure function of ``(key, scheme,
            n_draws, shape)``, so repeated calls in a fit use common random numbers.
        memory_budget_bytes: largest size, in bytes, of the draws array
            ``(n_draws, ..., n_alts)`` that is evaluated in one piece. Beyond it the draws are
            regenerated in chunks of ``chunk_size`` inside a checkpointed loop, so that the
            forward and the backward pass both hold ``O(n_obs * n_alts * chunk_size)``.
        chunk_size: draws per chunk on the regenerated path; ``None`` picks the largest chunk
            whose draws fit in ``memory_budget_bytes / 4``. Setting it forces chunking.
    """

    n_draws: int = 100
    scheme: str = "halton"
    antithetic: bool = False
    key: Any = 0
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET_BYTES
    chunk_size: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_draws", validate_n_draws(self.n_draws))
        check_scheme(self.scheme)
        object.__setattr__(self, "key", as_key(self.key))
        budget = self.memory_budget_bytes
        if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
            raise ValueError(
                f"memory_budget_bytes must be a positive integer; got memory_budget_bytes = {budget!r}"
            )
        chunk = self.chunk_size
        if chunk is not None and (
            isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1
        ):
            raise ValueError(f"chunk_size must be a positive integer or None; got chunk_size = {chunk!r}")

    def chunk_plan(self, shape: tuple[int, ...], dtype) -> int | None:
        """Draws per chunk for one draw of ``shape``, or ``None`` when the draws are stored."""
        per_draw = math.prod(shape) * jnp.dtype(dtype).itemsize
        if self.chunk_size is not None:
            return min(int(self.chunk_size), self.n_draws)
        if per_draw * self.n_draws <= self.memory_budget_bytes:
            return None
        return max(1, min(self.n_draws, self.memory_budget_bytes // (4 * per_draw)))

    def map_draws(
        self,
        body: Callable[[jax.Array, jax.Array], Any],
        shape: tuple[int, ...],
        family: str,
        dtype,
    ) -> Any:
        """Evaluate ``body(standard_draws, valid)`` over all draws, chunk by chunk if needed.

        ``standard_draws`` is ``(n_chunk,) + shape`` and ``valid`` is ``(n_chunk,)`` (False for
        the padding of the last chunk). Returns the results stacked on a leading chunk axis.
        """
        sampler = draw_sampler(
            self.key, self.scheme, self.n_draws, shape, antithetic=self.antithetic, dtype=dtype
        )

        def evaluate(start, size):
            indices = draw_indices(start, size)
            uniforms = sampler(indices)
            return body(standard_quantile(family, uniforms), indices < self.n_draws)

        chunk = self.chunk_plan(shape, dtype)
        if chunk is None:
            return jax.tree_util.tree_map(lambda x: x[None], evaluate(0, self.n_draws))
        n_chunks = -(-self.n_draws // chunk)
        starts = jnp.arange(n_chunks, dtype=jnp.uint32) * chunk
        checkpointed = jax.checkpoint(lambda start: evaluate(start, chunk))
        return jax.lax.map(checkpointed, starts)
