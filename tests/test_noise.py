"""Noise families: quantile, log CDF and log density against SciPy, and Noise validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from discrete_choice.noise import (
    Noise,
    standard_log_cdf,
    standard_log_density,
    standard_log_reverse_hazard,
    standard_quantile,
)

SCIPY = {"gumbel": stats.gumbel_r, "normal": stats.norm, "logistic": stats.logistic}
FAMILIES = tuple(SCIPY)


@pytest.mark.parametrize("family", FAMILIES)
def test_quantile_matches_scipy(x64, family):
    u = np.array([1e-12, 1e-6, 0.01, 0.3, 0.5, 0.9, 1 - 1e-9])
    np.testing.assert_allclose(standard_quantile(family, jnp.asarray(u)), SCIPY[family].ppf(u), rtol=1e-10)


@pytest.mark.parametrize("family", FAMILIES)
def test_log_cdf_and_density_match_scipy(x64, family):
    x = np.array([-30.0, -5.0, -1.0, 0.0, 0.7, 4.0, 30.0])
    if family == "gumbel":
        x = x[1:]  # scipy's gumbel_r.logcdf underflows to -inf at -30; ours is -exp(30)
    np.testing.assert_allclose(standard_log_cdf(family, jnp.asarray(x)), SCIPY[family].logcdf(x), rtol=1e-12)
    np.testing.assert_allclose(standard_log_density(family, jnp.asarray(x)), SCIPY[family].logpdf(x), rtol=1e-12)
    # SciPy's difference cancels where the log reverse hazard is near 0, hence the atol.
    hazard = SCIPY[family].logpdf(x) - SCIPY[family].logcdf(x)
    np.testing.assert_allclose(
        standard_log_reverse_hazard(family, jnp.asarray(x)), hazard, rtol=1e-10, atol=1e-14
    )


def test_gumbel_is_mode_zero(x64):
    slope = jax.grad(lambda x: standard_log_density("gumbel", x))(0.0)
    assert float(slope) == 0.0


def test_gumbel_log_cdf_far_left_has_zero_gradient(x64):
    value = standard_log_cdf("gumbel", jnp.asarray(-1000.0))
    assert value == -np.inf
    assert jax.grad(lambda x: jnp.exp(standard_log_cdf("gumbel", x)))(-1000.0) == 0.0


def test_normal_log_cdf_tails(x64):
    np.testing.assert_allclose(standard_log_cdf("normal", jnp.asarray(-10.0)), -53.231285, atol=1e-6)
    np.testing.assert_allclose(standard_log_cdf("normal", jnp.asarray(-40.0)), -804.608442, atol=1e-6)


@pytest.mark.parametrize("scale", [0.0, -1.0, [1.0, 0.0], np.nan])
def test_noise_rejects_nonpositive_scale(scale):
    with pytest.raises(ValueError, match="scale"):
        Noise("normal", scale=scale)


def test_noise_rejects_unknown_family():
    with pytest.raises(ValueError, match="'gumbel', 'normal', 'logistic'"):
        Noise("cauchy")


def test_noise_cholesky_checks():
    with pytest.raises(ValueError, match="family='normal'"):
        Noise("gumbel", cholesky=np.eye(3))
    with pytest.raises(ValueError, match="shape"):
        Noise("normal", cholesky=np.ones(3))
    with pytest.raises(ValueError, match="not both"):
        Noise("normal", scale=1.0, cholesky=np.eye(2))


def test_noise_is_a_pytree():
    noise = Noise("logistic", scale=jnp.array([1.0, 2.0]))
    leaves, tree = jax.tree_util.tree_flatten(noise)
    assert len(leaves) == 1
    doubled = jax.tree_util.tree_unflatten(tree, [2 * leaf for leaf in leaves])
    assert doubled.family == "logistic"
    np.testing.assert_array_equal(doubled.scale, [2.0, 4.0])
    traced = jax.jit(lambda n: n.scale.sum())(noise)
    assert float(traced) == 3.0
