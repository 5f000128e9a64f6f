"""Draws of the standard noise for simulated likelihoods.

Draws are a pure function of ``(key, scheme, n_draws, draw index, shape)``: draw ``s`` of an
array of shape ``(..., n_alts)`` is the same whether it is generated alone, in a chunk of draws
or with all ``n_draws`` at once. A fit therefore uses the same draws at every iteration (common
random numbers), and a simulator may regenerate them chunk by chunk instead of storing them.

Schemes (the last axis, ``n_alts``, is the dimension of the quasi-random point set):

``"pseudo"``
    Independent uniform bits from ``jax.random.bits(fold_in(key, s), shape)``; every
    observation (index of the leading axes) gets independent draws.
``"halton"``
    Halton points in the prime bases ``2, 3, 5, ...`` (one base per dimension) with a random
    affine scrambling of every digit, ``d -> (a d + c) mod b`` with ``a != 0`` drawn per base and
    digit position.
``"sobol"``
    Sobol points (Joe-Kuo direction numbers, read once from ``scipy.stats.qmc.Sobol``) with a
    random linear matrix scrambling and a random digital shift per dimension, which keep the
    net structure. Balance is best when ``n_draws`` is a power of two.

Scrambling alone leaves pairwise correlations between dimensions near 0.3 for 100 points in 25
dimensions (about 0.7 for plain Halton), so both quasi-random point sets are then reordered
within each dimension by :func:`decorrelate`, which brings them below 0.1. Each observation
gets its own random permutation of the dimensions and random mirrors ``u -> 1 - u``, which
keep that low correlation.

With ``antithetic=True``, draw ``2 i + 1`` is the mirror ``1 - u`` of draw ``2 i``, so the
standard draws come in pairs ``(z, F^{-1}(1 - F(z)))`` (``(z, -z)`` for symmetric families).

Uniforms are the centres of ``2^23`` (float32) or ``2^32`` (float64) equal bins, so they lie
strictly inside (0, 1) and the inverse CDF is always finite.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Literal, get_args

import jax
import jax.numpy as jnp
import numpy as np

from jax.scipy.special import ndtri

from discrete_choice.noise import standard_quantile

__all__ = [
    "Scheme",
    "SCHEMES",
    "as_key",
    "decorrelate",
    "draw_indices",
    "draw_sampler",
    "quasi_random_points",
    "standard_draws",
    "uniform_draws",
    "validate_n_draws",
]

Scheme = Literal["pseudo", "halton", "sobol"]
SCHEMES: tuple[str, ...] = get_args(Scheme)

_N_DIGIT_BITS = 32  # digits of the uint32 draw indices and of the Sobol integers


def check_scheme(scheme: str) -> None:
    """Raise ``ValueError`` listing the allowed schemes if ``scheme`` is not one of them."""
    if scheme not in SCHEMES:
        raise ValueError(f"invalid draw scheme {scheme!r}; expected one of {SCHEMES}")


def validate_n_draws(n_draws: Any) -> int:
    """Return ``n_draws`` as an ``int`` or raise ``ValueError`` naming it."""
    if isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer)):
        raise ValueError(f"n_draws must be a positive integer; got n_draws = {n_draws!r}")
    if n_draws < 1:
        raise ValueError(f"n_draws must be a positive integer; got n_draws = {n_draws!r}")
    if n_draws >= 2**31:
        raise ValueError(f"n_draws must be below 2**31; got n_draws = {n_draws!r}")
    return int(n_draws)


def as_key(key: Any) -> jax.Array:
    """Convert an ``int`` seed, a typed key or a raw ``uint32[2]`` key to a typed PRNG key."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return jax.random.key(int(key))
    if not isinstance(key, (jax.Array, np.ndarray)):
        raise ValueError(f"key must be an int seed or a JAX PRNG key; got {key!r}")
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    if key.dtype == jnp.uint32 and key.shape == (2,):
        return jax.random.wrap_key_data(key)
    raise ValueError(
        f"key must be an int seed or a JAX PRNG key; got {type(key).__name__} with dtype "
        f"{key.dtype} and shape {key.shape}"
    )


def draw_indices(start: int | jax.Array, size: int) -> jax.Array:
    """Indices ``start, ..., start + size - 1`` of the draws in one chunk, as ``uint32``."""
    return jnp.asarray(start, dtype=jnp.uint32) + jnp.arange(size, dtype=jnp.uint32)


@functools.lru_cache(maxsize=32)
def _primes(count: int) -> np.ndarray:
    limit = max(16, int(count * (np.log(count + 1) + np.log(np.log(count + 2)) + 3)))
    sieve = np.ones(limit, dtype=bool)
    sieve[:2] = False
    for p in range(2, int(limit**0.5) + 1):
        if sieve[p]:
            sieve[p * p :: p] = False
    return np.flatnonzero(sieve)[:count].astype(np.uint32)


@functools.lru_cache(maxsize=32)
def _sobol_direction_numbers(dimension: int, n_bits: int) -> np.ndarray:
    """Direction numbers ``(dimension, n_bits)`` so that point ``i`` is ``XOR_k bit_k(i) v[:, k]``.

    scipy generates points in Gray-code order, where point ``2^k`` follows point ``2^k - 1`` by
    an XOR with ``v_k``; reading those pairs recovers ``v_k`` without scipy's private API.
    """
    from scipy.stats import qmc

    directions = np.zeros((dimension, n_bits), dtype=np.uint64)
    for k in range(n_bits):
        engine = qmc.Sobol(dimension, scramble=False, bits=_N_DIGIT_BITS)
        if k > 0:
            engine.fast_forward(2**k - 1)
        pair = engine.random(2) * 2.0**_N_DIGIT_BITS  # exact integers in float64
        directions[:, k] = pair[0].astype(np.uint64) ^ pair[1].astype(np.uint64)
    return directions.astype(np.uint32)


def _bins(dtype) -> int:
    return 2**23 if jnp.finfo(dtype).bits <= 32 else 2**32


def _uint32_to_unit(bits: jax.Array, dtype) -> jax.Array:
    """Centre of the bin of ``bits``: ``(k + 1/2) / n_bins`` with the top bits of ``bits`` as ``k``."""
    n_bins = _bins(dtype)
    if n_bins < 2**32:
        bits = bits >> (32 - int(np.log2(n_bins)))
    return (bits.astype(dtype) + 0.5) / n_bins


def _fraction_to_unit(value: jax.Array, dtype) -> jax.Array:
    """Centre of the bin of ``value`` in [0, 1)."""
    n_bins = _bins(dtype)
    bin_index = jnp.minimum(jnp.floor(value * n_bins), n_bins - 1)
    return (bin_index + 0.5) / n_bins


def _halton_points(key, n_points, n_dims, dtype):
    """Scrambled Halton points ``(n_points, n_dims)`` in (0, 1)."""
    bases_np = _primes(n_dims)
    bases = jnp.asarray(bases_np)
    n_digits = int(np.ceil(_N_DIGIT_BITS * np.log(2) / np.log(float(bases_np.min()))))
    key_a, key_c = jax.random.split(key)
    multipliers = jax.random.randint(
        key_a, (n_digits, n_dims), 1, bases.astype(jnp.int32), dtype=jnp.int32
    ).astype(jnp.uint32)
    offsets = jax.random.randint(
        key_c, (n_digits, n_dims), 0, bases.astype(jnp.int32), dtype=jnp.int32
    ).astype(jnp.uint32)
    indices = jnp.arange(n_points, dtype=jnp.uint32)
    remaining = jnp.broadcast_to(indices[:, None], (n_points, n_dims))
    inverse_base = 1.0 / bases.astype(dtype)

    def add_digit(position, state):
        remaining, value, weight = state
        digit = remaining % bases
        scrambled = (multipliers[position] * digit + offsets[position]) % bases
        weight = weight * inverse_base
        return remaining // bases, value + scrambled.astype(dtype) * weight, weight

    state = (remaining, jnp.zeros(remaining.shape, dtype), jnp.ones((n_dims,), dtype))
    _, value, _ = jax.lax.fori_loop(0, n_digits, add_digit, state)
    return _fraction_to_unit(value, dtype)


def _sobol_points(key, n_points, n_dims, dtype):
    """Sobol points ``(n_points, n_dims)`` in (0, 1), linear-matrix scrambled and digitally shifted."""
    n_bits = max(1, (n_points - 1).bit_length())
    directions = jnp.asarray(_sobol_direction_numbers(n_dims, n_bits))
    indices = jnp.arange(n_points, dtype=jnp.uint32)
    points = jnp.zeros((n_points, n_dims), jnp.uint32)
    for k in range(n_bits):
        has_bit = ((indices >> k) & 1).astype(bool)[:, None]
        points = points ^ jnp.where(has_bit, directions[:, k], jnp.uint32(0))
    # Output bit i (most significant first) is the parity of the input bits 0..i selected by
    # row i of a random lower-triangular binary matrix with unit diagonal.
    key_matrix, key_shift = jax.random.split(key)
    random_rows = jax.random.bits(key_matrix, (_N_DIGIT_BITS, n_dims), jnp.uint32)
    positions = np.arange(_N_DIGIT_BITS)
    diagonals = jnp.asarray((np.uint64(1) << (31 - positions).astype(np.uint64)).astype(np.uint32))
    above = jnp.asarray(
        ((np.uint64(0xFFFFFFFF) << (32 - positions).astype(np.uint64)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    )
    rows = (random_rows & above[:, None]) | diagonals[:, None]

    def scramble_bit(i, scrambled):
        parity = jax.lax.population_count(points & rows[i]) & jnp.uint32(1)
        return scrambled | (parity << (jnp.uint32(31) - i.astype(jnp.uint32)))

    scrambled = jax.lax.fori_loop(0, _N_DIGIT_BITS, scramble_bit, jnp.zeros_like(points))
    shift = jax.random.bits(key_shift, (n_dims,), jnp.uint32)
    return _uint32_to_unit(scrambled ^ shift, dtype)


def decorrelate(points: jax.Array) -> jax.Array:
    """Reorder each column of ``points`` so that their normal scores are uncorrelated.

    Iman and Conover (1982): replace each column by the normal scores of its ranks, whiten
    these scores with the Cholesky factor of their correlation matrix, and give each column of
    ``points`` the ranks of the whitened column. Each column keeps its values (so its
    one-dimensional stratification), only their order across draws changes.

    Args:
        points: ``(n_points, n_dims)`` uniforms with ``n_points > n_dims``; with fewer points
            than dimensions the correlation matrix is singular and ``points`` is returned as is.
    """
    n_points, n_dims = points.shape
    if n_points <= n_dims or n_dims < 2:
        return points
    dtype = points.dtype
    scores = ndtri((jnp.arange(n_points, dtype=dtype) + 0.5) / n_points)
    ranks = jnp.argsort(jnp.argsort(points, axis=0), axis=0)
    rank_scores = scores[ranks]
    correlation = jnp.corrcoef(rank_scores, rowvar=False)
    cholesky = jnp.linalg.cholesky(correlation)
    whitened = jax.scipy.linalg.solve_triangular(cholesky, rank_scores.T, lower=True).T
    new_ranks = jnp.argsort(jnp.argsort(whitened, axis=0), axis=0)
    return jnp.take_along_axis(jnp.sort(points, axis=0), new_ranks, axis=0)


def quasi_random_points(key: Any, scheme: Scheme, n_points: int, n_dims: int, dtype: Any = None):
    """Scrambled and decorrelated quasi-random point set ``(n_points, n_dims)`` in (0, 1)."""
    check_scheme(scheme)
    if scheme == "pseudo":
        raise ValueError("quasi_random_points needs scheme 'halton' or 'sobol'; got 'pseudo'")
    dtype = jnp.result_type(float) if dtype is None else jnp.dtype(dtype)
    return _quasi_random_points_jit(as_key(key), scheme, int(n_points), int(n_dims), dtype)


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _quasi_random_points_jit(key, scheme, n_points, n_dims, dtype):
    key = jax.random.fold_in(key, 0)
    generate = _halton_points if scheme == "halton" else _sobol_points
    return decorrelate(generate(key, n_points, n_dims, dtype))


def uniform_draws(
    key: Any,
    scheme: Scheme,
    n_draws: int,
    indices: jax.Array,
    shape: tuple[int, ...],
    *,
    antithetic: bool = False,
    dtype: Any = None,
) -> jax.Array:
    """Uniform draws in (0, 1) for the draw numbers ``indices`` out of ``n_draws``.

    Quasi-random schemes build one point set of ``n_draws`` points (``ceil(n_draws / 2)`` with
    ``antithetic``) in ``n_alts`` dimensions, scrambled from ``key`` and decorrelated with
    :func:`decorrelate`. Each observation (index of the leading axes of ``shape``) then gets
    its own random permutation of which dimension feeds which alternative and a random mirror
    ``u -> 1 - u`` per alternative; both keep the low pairwise correlation of the point set.

    NOTE: with a quasi-random scheme every observation uses the same point set up to these
    permutations and mirrors, so simulation errors are not independent across observations as
    they are with ``"pseudo"``; the error of each observation shrinks faster in ``n_draws``.

    Args:
        key: PRNG key or ``int`` seed.
        scheme: ``"pseudo"``, ``"halton"`` or ``"sobol"``.
        n_draws: total number of draws ``S`` of the fit.
        indices: ``(n_chunk,)`` draw numbers in ``[0, n_draws)`` (see :func:`draw_indices`).
        shape: ``(..., n_alts)`` shape of one draw; ``n_alts`` is the quasi-random dimension.
        antithetic: pair draw ``2 i + 1`` with the mirror ``1 - u`` of draw ``2 i``.
        dtype: floating dtype of the result (default: JAX's default float).

    Returns:
        ``(n_chunk, ..., n_alts)`` uniforms; draw ``s`` depends only on ``(key, scheme,
        n_draws, s, shape, antithetic, dtype)``, not on which other draws are in the chunk.
    """
    check_scheme(scheme)
    dtype = jnp.result_type(float) if dtype is None else jnp.dtype(dtype)
    shape = tuple(int(n) for n in shape)
    return _uniform_draws_jit(
        as_key(key), scheme, validate_n_draws(n_draws), jnp.asarray(indices, jnp.uint32), shape,
        antithetic, dtype,
    )


@functools.partial(jax.jit, static_argnums=(1, 2, 4, 5, 6))
def _uniform_draws_jit(key, scheme, n_draws, indices, shape, antithetic, dtype):
    return draw_sampler(key, scheme, n_draws, shape, antithetic=antithetic, dtype=dtype)(indices)


def draw_sampler(
    key: Any,
    scheme: Scheme,
    n_draws: int,
    shape: tuple[int, ...],
    *,
    antithetic: bool = False,
    dtype: Any = None,
) -> Callable[[jax.Array], jax.Array]:
    """Return ``sample(indices) -> (n_chunk, ..., n_alts)`` uniforms, as :func:`uniform_draws`.

    The state shared by every chunk (the quasi-random point set, ``(n_draws, n_alts)``, and the
    per-observation permutations and mirrors, ``(n_obs, n_alts)``) is computed once here, so
    regenerating the draws chunk by chunk costs ``O(n_obs * n_alts * n_chunk)`` memory.
    """
    check_scheme(scheme)
    n_draws = validate_n_draws(n_draws)
    dtype = jnp.result_type(float) if dtype is None else jnp.dtype(dtype)
    shape = tuple(int(n) for n in shape)
    if len(shape) == 0:
        raise ValueError("shape must be (..., n_alts) with at least one axis; got ()")
    key = as_key(key)
    n_dims = shape[-1]
    n_obs = int(np.prod(shape[:-1], dtype=np.int64))

    if scheme == "pseudo":
        stream = jax.random.fold_in(key, 2)

        def one_draw(index):
            return jax.random.bits(jax.random.fold_in(stream, index), (n_obs, n_dims), jnp.uint32)

        def base_uniforms(base):
            return _uint32_to_unit(jax.vmap(one_draw)(base), dtype)

    else:
        n_base = (n_draws + 1) // 2 if antithetic else n_draws
        points = quasi_random_points(key, scheme, n_base, n_dims, dtype)
        key_order, key_mirror = jax.random.split(jax.random.fold_in(key, 1))
        order = jnp.argsort(jax.random.uniform(key_order, (n_obs, n_dims)), axis=-1)
        mirror = jax.random.bernoulli(key_mirror, 0.5, (n_obs, n_dims))

        def base_uniforms(base):
            chunk = points[jnp.minimum(base, n_base - 1)][:, order]
            return jnp.where(mirror, 1.0 - chunk, chunk)

    def sample(indices):
        indices = jnp.asarray(indices, dtype=jnp.uint32)
        base = indices // 2 if antithetic else indices
        uniforms = base_uniforms(base)
        if antithetic:
            odd = (indices % 2 == 1)[:, None, None]
            uniforms = jnp.where(odd, 1.0 - uniforms, uniforms)
        return uniforms.reshape((indices.shape[0],) + shape)

    return sample


def standard_draws(
    key: Any,
    scheme: Scheme,
    family: str,
    n_draws: int,
    indices: jax.Array,
    shape: tuple[int, ...],
    *,
    antithetic: bool = False,
    dtype: Any = None,
) -> jax.Array:
    """Draws of the standard ``family`` (``F^{-1}`` of :func:`uniform_draws`), same shapes."""
    uniforms = uniform_draws(
        key, scheme, n_draws, indices, shape, antithetic=antithetic, dtype=dtype
    )
    return standard_quantile(family, uniforms)
