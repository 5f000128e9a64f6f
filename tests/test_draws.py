"""Draw schemes: purity, chunk invariance, antithetic pairs, moments and validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from discrete_choice.draws import (
    SCHEMES,
    as_key,
    decorrelate,
    draw_indices,
    quasi_random_points,
    standard_draws,
    uniform_draws,
    validate_n_draws,
)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("antithetic", [False, True])
def test_draws_are_pure_and_chunk_invariant(scheme, antithetic):
    shape = (5, 4)
    full = uniform_draws(3, scheme, 30, draw_indices(0, 30), shape, antithetic=antithetic)
    again = uniform_draws(jax.random.key(3), scheme, 30, draw_indices(0, 30), shape, antithetic=antithetic)
    np.testing.assert_array_equal(full, again)
    for start, size in [(7, 7), (14, 16)]:
        chunk = uniform_draws(3, scheme, 30, draw_indices(start, size), shape, antithetic=antithetic)
        np.testing.assert_array_equal(chunk, full[start : start + size])


@pytest.mark.parametrize("scheme", SCHEMES)
def test_draws_lie_inside_unit_interval(scheme):
    for dtype in (jnp.float32,):
        u = uniform_draws(0, scheme, 64, draw_indices(0, 64), (10, 6), dtype=dtype)
        assert u.dtype == dtype
        assert float(u.min()) > 0.0
        assert float(u.max()) < 1.0


def test_float64_draws_inside_unit_interval(x64):
    u = uniform_draws(0, "pseudo", 64, draw_indices(0, 64), (10, 6), dtype=jnp.float64)
    assert float(u.min()) > 0.0
    assert float(u.max()) < 1.0


@pytest.mark.parametrize("scheme", SCHEMES)
def test_different_keys_give_different_draws(scheme):
    a = uniform_draws(0, scheme, 16, draw_indices(0, 16), (3, 4))
    b = uniform_draws(1, scheme, 16, draw_indices(0, 16), (3, 4))
    assert not np.allclose(a, b)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_antithetic_pairs_mirror(scheme):
    z = standard_draws(0, scheme, "normal", 20, draw_indices(0, 20), (3, 4), antithetic=True)
    np.testing.assert_allclose(z[0::2], -z[1::2], atol=1e-6)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("family", ["gumbel", "normal", "logistic"])
def test_draw_moments_match_family(x64, scheme, family):
    z = standard_draws(0, scheme, family, 512, draw_indices(0, 512), (20, 3), dtype=jnp.float64)
    law = {"gumbel": stats.gumbel_r, "normal": stats.norm, "logistic": stats.logistic}[family]
    standard_error = law.std() / np.sqrt(z.size)
    assert abs(float(z.mean()) - law.mean()) < 5 * standard_error
    assert float(z.std()) == pytest.approx(law.std(), rel=0.05)


def test_sobol_marginals_are_stratified():
    points = np.asarray(quasi_random_points(0, "sobol", 128, 5))
    counts = np.stack([np.histogram(points[:, j], bins=16, range=(0, 1))[0] for j in range(5)])
    assert np.all(counts == 8)


@pytest.mark.parametrize(("dimension", "base"), [(0, 2), (1, 3), (2, 5)])
def test_halton_marginals_are_stratified(dimension, base):
    n_points = base**3
    points = np.asarray(quasi_random_points(0, "halton", n_points, 3))
    counts = np.histogram(points[:, dimension], bins=base**2, range=(0, 1))[0]
    assert np.all(counts == base)


def test_decorrelate_keeps_column_values():
    points = jax.random.uniform(jax.random.key(0), (50, 6))
    reordered = decorrelate(points)
    np.testing.assert_array_equal(np.sort(reordered, axis=0), np.sort(points, axis=0))


@pytest.mark.parametrize("n_draws", [0, -3, 2.5, "10", True, None])
def test_n_draws_must_be_positive_integer(n_draws):
    with pytest.raises(ValueError, match="n_draws"):
        validate_n_draws(n_draws)


def test_unknown_scheme_lists_allowed():
    with pytest.raises(ValueError, match="'pseudo', 'halton', 'sobol'"):
        uniform_draws(0, "lattice", 4, draw_indices(0, 4), (2,))


def test_key_conversions():
    typed = as_key(7)
    np.testing.assert_array_equal(jax.random.key_data(typed), jax.random.key_data(jax.random.key(7)))
    raw = as_key(jax.random.PRNGKey(7))
    np.testing.assert_array_equal(jax.random.key_data(raw), jax.random.key_data(typed))
    with pytest.raises(ValueError, match="key"):
        as_key("seven")
    with pytest.raises(ValueError, match="key"):
        as_key(np.zeros(3, dtype=np.uint32))
