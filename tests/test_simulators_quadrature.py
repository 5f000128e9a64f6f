"""Quadrature against mpmath, the closed forms and the sum-to-one identity."""

from __future__ import annotations

import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from scipy import stats

from discrete_choice.noise import Noise
from discrete_choice.simulators import Exact, Quadrature

FAMILIES = ("normal", "gumbel", "logistic")
MAX_SCALE_RATIO = 1e3
# Breakpoints for mpmath, in scale units around each location: mpmath's tanh-sinh rule is then
# accurate to far below 1e-10 on every panel.
REFERENCE_BREAKPOINTS = {
    "normal": (-9, -5, -3, -1.5, 0, 1.5, 3, 5, 9),
    "gumbel": (-4, -2, -1, 0, 1, 2, 4, 8, 16, 40),
    "logistic": (-40, -16, -8, -4, -2, 0, 2, 4, 8, 16, 40),
}


def _cdf(family, x):
    if family == "normal":
        return mpmath.ncdf(x)
    if family == "gumbel":
        return mpmath.exp(-mpmath.exp(-x))
    return 1 / (1 + mpmath.exp(-x))


def _pdf(family, x):
    if family == "normal":
        return mpmath.npdf(x)
    if family == "gumbel":
        return mpmath.exp(-x - mpmath.exp(-x))
    tail = mpmath.exp(-abs(x))
    return tail / (1 + tail) ** 2


def mpmath_probability(family, utility, scale, chosen):
    """P(chosen has the largest utility), by mpmath.quad at 25 significant digits."""
    with mpmath.workdps(25):
        location = [mpmath.mpf(float(v)) for v in utility]
        width = [mpmath.mpf(float(v)) for v in scale]

        def integrand(t):
            value = _pdf(family, (t - location[chosen]) / width[chosen]) / width[chosen]
            for k in range(len(location)):
                if k != chosen:
                    value *= _cdf(family, (t - location[k]) / width[k])
            return value

        points = sorted(
            {location[k] + width[k] * m for k in range(len(location)) for m in REFERENCE_BREAKPOINTS[family]}
        )
        return float(mpmath.quad(integrand, points))


def random_problem(rng, family):
    n_alts = int(rng.integers(2, 6))
    utility = rng.normal(0.0, 2.0, n_alts)
    log_scale = rng.uniform(-0.5, 0.5, n_alts) * np.log(MAX_SCALE_RATIO)
    return utility, np.exp(log_scale), int(rng.integers(n_alts))


def test_quadrature_matches_mpmath_on_random_problems(x64):
    rng = np.random.default_rng(20261204)
    errors = []
    for index in range(50):
        family = FAMILIES[index % 3]
        utility, scale, chosen = random_problem(rng, family)
        assert scale.max() / scale.min() <= MAX_SCALE_RATIO
        reference = mpmath_probability(family, utility, scale, chosen)
        probs = Quadrature().probabilities(utility, noise=Noise(family, scale=scale))
        errors.append(abs(float(probs[chosen]) - reference))
        assert abs(float(probs.sum()) - 1.0) < 1e-10
    assert max(errors) < 1e-10, f"largest absolute error {max(errors):.3g}"


@pytest.mark.parametrize("family", FAMILIES)
def test_quadrature_sums_to_one_with_100_alternatives(x64, family):
    rng = np.random.default_rng(7)
    utility = rng.normal(0.0, 3.0, (2, 100))
    scale = np.exp(rng.uniform(-0.5, 0.5, (2, 100)) * np.log(MAX_SCALE_RATIO))
    probs = Quadrature().probabilities(utility, noise=Noise(family, scale=scale))
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-10)
    assert np.all(probs >= 0)


@pytest.mark.slow
def test_quadrature_matches_mpmath_with_20_alternatives(x64):
    rng = np.random.default_rng(3)
    for family in FAMILIES:
        utility = rng.normal(0.0, 1.0, 20)
        scale = np.exp(rng.uniform(-0.5, 0.5, 20) * np.log(MAX_SCALE_RATIO))
        probs = Quadrature().probabilities(utility, noise=Noise(family, scale=scale))
        for chosen in (int(np.argmax(probs)), 0):
            reference = mpmath_probability(family, utility, scale, chosen)
            assert abs(float(probs[chosen]) - reference) < 1e-10


def test_quadrature_binary_normal_closed_form(x64):
    utility = np.array([[0.3, -0.2], [1.0, 2.5], [0.0, -8.0]])
    scale = np.array([[0.7, 1.9], [1.0, 1e-3], [30.0, 0.1]])
    probs = Quadrature().probabilities(utility, noise=Noise("normal", scale=scale))
    z = (utility[:, 1] - utility[:, 0]) / np.hypot(scale[:, 0], scale[:, 1])
    np.testing.assert_allclose(probs[:, 1], stats.norm.cdf(z), atol=1e-12)


def test_quadrature_logit_closed_form(x64):
    rng = np.random.default_rng(0)
    utility = rng.normal(0.0, 2.0, (20, 6))
    scale = np.exp(rng.normal(0.0, 1.0, (20, 1)))
    noise = Noise("gumbel", scale=scale)
    np.testing.assert_allclose(Quadrature().probabilities(utility, noise=noise), Exact().probabilities(utility, noise=noise), atol=1e-12)
    binary = utility[:, :2]
    probs = Quadrature().probabilities(binary, noise=noise)
    expected = stats.logistic.cdf((binary[:, 0] - binary[:, 1]) / scale[:, 0])
    np.testing.assert_allclose(probs[:, 0], expected, atol=1e-12)


def test_quadrature_float32_is_accurate_to_float32(x64):
    utility = np.array([1.0, 0.0, -1.0])
    noise64 = Noise("normal", scale=np.array([0.5, 1.0, 2.0]))
    reference = Quadrature().probabilities(utility, noise=noise64)
    single = Quadrature().probabilities(jnp.asarray(utility, jnp.float32), noise=Noise("normal", scale=jnp.asarray([0.5, 1.0, 2.0], jnp.float32)))
    assert single.dtype == jnp.float32
    np.testing.assert_allclose(single, reference, atol=1e-6)


def test_quadrature_rejects_correlated_noise():
    with pytest.raises(ValueError, match="independent"):
        Quadrature().log_prob(np.zeros(2), 0, noise=Noise("normal", cholesky=np.eye(2)))


def test_quadrature_validates_nodes():
    with pytest.raises(ValueError, match="nodes_per_panel"):
        Quadrature(nodes_per_panel=0)
    custom = Quadrature(breakpoints={"normal": (-9.0, -3.0, 0.0, 3.0, 9.0)})
    assert np.isfinite(custom.log_prob(np.zeros(2), 0, noise=Noise("normal")))
    with pytest.raises(ValueError, match="breakpoints"):
        custom.log_prob(np.zeros(2), 0, noise=Noise("gumbel"))


@pytest.mark.parametrize("family", ["gumbel", "normal", "logistic"])
def test_quadrature_hessian_finite_at_small_scale(x64, family):
    """Second derivatives in the log-scales stay finite when one scale is 70 times smaller.

    With Gumbel noise, nodes of the wide alternatives lie hundreds of small scales below the
    narrow one, where x exp(-x) overflows although log F = -exp(-x) is still finite; the
    Hessian was NaN there (an HEV fit with scales 0.028 and 1.86 failed in its trust region).
    """
    import jax

    # The narrow alternative sits 8 to 14 units above the others, so the wide alternatives'
    # nodes reach 300 to 700 of its scale units below its location.
    offsets = jnp.array([8.0, 10.0, 12.0, 14.0])
    utility = jnp.stack([jnp.zeros(4), offsets, jnp.full(4, -3.0)], axis=-1)

    def loglik(log_scales):
        scale = jnp.exp(jnp.concatenate([jnp.zeros(1), log_scales]))
        noise = Noise(family, scale=scale)
        return jnp.sum(Quadrature().log_prob(utility, jnp.array([1, 0, 2, 0]), noise=noise))

    hessian = jax.hessian(loglik)(jnp.log(jnp.array([0.028, 1.86])))
    assert np.all(np.isfinite(np.asarray(hessian)))
