"""Configuration and chunked evaluation shared by the simulators that average over draws."""

from __future__ import annotations

import dataclasses
import functools
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

__all__ = [
    "DEFAULT_MEMORY_BUDGET_BYTES",
    "WORKING_ARRAYS",
    "DrawBased",
    "StoredDraws",
    "apply_noise",
]

DEFAULT_MEMORY_BUDGET_BYTES = 256 * 2**20
"""Default memory budget of a draw-based simulator, in bytes (256 MiB)."""

WORKING_ARRAYS = 8
"""Arrays of the size of one chunk of draws that a value-and-gradient evaluation keeps alive.

Measured with XLA on CPU (``compiled.memory_analysis().temp_size_in_bytes``) for the smoothed
simulator; used to turn the memory budget into a chunk size.
"""


def alternatives_first(draws: jax.Array) -> jax.Array:
    """Reshape draws ``(n_chunk, ..., n_alts)`` to ``(n_chunk, n_alts, n_obs)``.

    With the observations on the minor axis, a reduction over alternatives is an elementwise
    operation on ``n_alts`` contiguous rows, which XLA vectorises.
    """
    n_alts = draws.shape[-1]
    return jnp.swapaxes(draws.reshape(draws.shape[0], -1, n_alts), 1, 2)


def natural_layout(draws: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Inverse of :func:`alternatives_first`: ``(n_chunk, n_alts, n_obs)`` to ``(n_chunk,) + shape``."""
    return jnp.swapaxes(draws, 1, 2).reshape((draws.shape[0],) + tuple(shape))


@jax.tree_util.register_pytree_node_class
class StoredDraws:
    """Standard draws computed once for one problem shape, kept as a pytree leaf.

    Attributes:
        values: ``(n_draws, n_alts, n_obs)`` standard draws of ``family`` in the
            :func:`alternatives_first` layout, ``n_obs`` being the product of the batch axes.
        shape: ``(..., n_alts)`` shape of one draw.
        family: the standard family they were mapped to.
    """

    def __init__(self, values: jax.Array, shape: tuple[int, ...], family: str):
        self.values = values
        self.shape = tuple(shape)
        self.family = family

    def matches(self, shape: tuple[int, ...], family: str, dtype) -> bool:
        """Whether these draws serve a draw of ``shape``, ``family`` and ``dtype``."""
        return (
            self.shape == tuple(shape)
            and self.family == family
            and self.values.dtype == jnp.dtype(dtype)
        )

    def tree_flatten(self):
        return (self.values,), (self.shape, self.family)

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(children[0], *aux)


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
        memory_budget_bytes: bytes that the draws may occupy. :meth:`prepare` stores the
            draws ``(n_draws, ..., n_alts)`` when they fit in it. An evaluation whose working
            set (:data:`WORKING_ARRAYS` arrays of the size of the draws) fits is done in one
            piece; otherwise the draws are regenerated in chunks of ``chunk_size`` inside a
            checkpointed loop, so that the forward and the backward pass both hold
            ``O(n_obs * n_alts * chunk_size)``.
        chunk_size: draws per chunk on the regenerated path; ``None`` picks the largest chunk
            whose working set fits in ``memory_budget_bytes``. Setting it forces chunking
            (unless the draws are stored).
        stored: draws kept by :meth:`prepare`, or ``None``; all paths give the same draws.
    """

    n_draws: int = 100
    scheme: str = "halton"
    antithetic: bool = False
    key: Any = 0
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET_BYTES
    chunk_size: int | None = None
    stored: StoredDraws | None = None

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
        """Draws per chunk for one draw of ``shape``, or ``None`` for one piece."""
        per_draw = math.prod(shape) * jnp.dtype(dtype).itemsize * WORKING_ARRAYS
        if self.chunk_size is not None:
            return min(int(self.chunk_size), self.n_draws)
        if per_draw * self.n_draws <= self.memory_budget_bytes:
            return None
        return max(1, min(self.n_draws, self.memory_budget_bytes // per_draw))

    def standard_draws(self, shape: tuple[int, ...], family: str, dtype) -> jax.Array:
        """All standard draws of ``family``, ``(n_draws, n_alts, n_obs)`` (alternatives first)."""
        sampler = draw_sampler(
            self.key, self.scheme, self.n_draws, shape, antithetic=self.antithetic, dtype=dtype
        )
        return alternatives_first(standard_quantile(family, sampler(draw_indices(0, self.n_draws))))

    def prepare(self, utility_shape: tuple[int, ...], noise: Noise, dtype: Any = None):
        """Return a copy that stores its draws for ``utility_shape``, if they fit the budget.

        Call it once before a fit and pass the returned simulator to the jitted objective as
        an argument (a pytree), not as a closure: JAX would embed a closed-over array in the
        compiled program. When the draws ``(n_draws, ..., n_alts)`` exceed
        ``memory_budget_bytes`` the simulator is returned unchanged and regenerates them in
        chunks at each evaluation. Either way the draws are the same numbers.
        """
        dtype = jnp.result_type(float) if dtype is None else jnp.dtype(dtype)
        shape = tuple(int(n) for n in utility_shape)
        family = "normal" if noise.is_correlated else noise.family
        if family == "none":
            return self
        size = math.prod(shape) * self.n_draws * dtype.itemsize
        if size > self.memory_budget_bytes:
            return self
        values = _jit_standard_draws(self, shape, family, dtype)
        return dataclasses.replace(self, stored=StoredDraws(values, shape, family))

    def map_draws(
        self,
        body: Callable[[jax.Array, jax.Array], Any],
        shape: tuple[int, ...],
        family: str,
        dtype,
        *,
        layout: str = "natural",
    ) -> Any:
        """Evaluate ``body(standard_draws, valid)`` over all draws, chunk by chunk if needed.

        ``standard_draws`` is ``(n_chunk,) + shape`` for ``layout="natural"`` and
        ``(n_chunk, n_alts, n_obs)`` for ``layout="alternatives_first"``; ``valid`` is
        ``(n_chunk,)`` (False for the padding of the last chunk). Returns the results stacked on
        a leading chunk axis.
        """

        def arrange(draws_first):
            return draws_first if layout == "alternatives_first" else natural_layout(draws_first, shape)

        if self.stored is not None and self.stored.matches(shape, family, dtype):
            valid = jnp.ones((self.n_draws,), dtype=bool)
            result = body(arrange(self.stored.values), valid)
            return jax.tree_util.tree_map(lambda x: x[None], result)
        sampler = draw_sampler(
            self.key, self.scheme, self.n_draws, shape, antithetic=self.antithetic, dtype=dtype
        )

        def evaluate(start, size):
            indices = draw_indices(start, size)
            draws = standard_quantile(family, sampler(indices))
            if layout == "alternatives_first":
                draws = alternatives_first(draws)
            return body(draws, indices < self.n_draws)

        chunk = self.chunk_plan(shape, dtype)
        if chunk is None:
            return jax.tree_util.tree_map(lambda x: x[None], evaluate(0, self.n_draws))
        n_chunks = -(-self.n_draws // chunk)
        starts = jnp.arange(n_chunks, dtype=jnp.uint32) * chunk
        checkpointed = jax.checkpoint(lambda start: evaluate(start, chunk))
        return jax.lax.map(checkpointed, starts)


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _jit_standard_draws(simulator, shape, family, dtype):
    return simulator.standard_draws(shape, family, dtype)
