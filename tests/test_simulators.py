"""Simulators: closed forms, masking, transforms, invariances and gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from discrete_choice.noise import Noise
from discrete_choice.simulators import Exact, Frequency, Quadrature, Smoothed, masked_log_softmax
from discrete_choice.simulators._draw_based import WORKING_ARRAYS

UTILITY = np.array([[1.0, 0.0, -1.0], [0.5, 0.2, 0.0], [-0.3, 0.8, 0.1]])
CHOICE = np.array([0, 2, 1])
SCALE = np.array([0.7, 1.3, 2.0])


def draw_based(**kwargs):
    return [
        Smoothed(tau=0.3, n_draws=64, scheme="pseudo", key=1, **kwargs),
        Smoothed(tau=0.3, n_draws=64, scheme="halton", antithetic=True, key=1, **kwargs),
        Frequency(n_draws=64, scheme="sobol", key=1, **kwargs),
    ]


def finite_difference(function, x, step=1e-6):
    x = np.asarray(x, dtype=np.float64)
    gradient = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += step
        minus[index] -= step
        gradient[index] = (function(plus) - function(minus)) / (2 * step)
    return gradient


def test_masked_log_softmax_ignores_masked_values(x64):
    available = np.array([True, False, True])
    for masked_value in (0.0, 1e30, np.nan, np.inf):
        utility = jnp.array([0.0, masked_value, 1.0])
        log_p = masked_log_softmax(utility, available)
        assert log_p[1] == -np.inf
        np.testing.assert_allclose(log_p[np.array([0, 2])], jax.nn.log_softmax(jnp.array([0.0, 1.0])), rtol=1e-14)
        grad = jax.grad(lambda u: masked_log_softmax(u, available)[0])(utility)
        assert np.all(np.isfinite(grad))
        assert grad[1] == 0.0


def test_masked_log_softmax_without_available_rows(x64):
    log_p = masked_log_softmax(jnp.zeros((2, 3)), np.array([[False] * 3, [True, False, False]]))
    assert np.all(log_p[0] == -np.inf)
    np.testing.assert_array_equal(log_p[1], [0.0, -np.inf, -np.inf])


def test_exact_logit_is_softmax(x64):
    log_p = Exact().log_prob(UTILITY, CHOICE)
    reference = UTILITY[np.arange(3), CHOICE] - np.log(np.exp(UTILITY).sum(-1))
    np.testing.assert_allclose(log_p, reference, rtol=1e-14)
    scaled = Exact().log_prob(UTILITY, CHOICE, noise=Noise("gumbel", scale=np.full((3, 1), 2.0)))
    np.testing.assert_allclose(scaled, Exact().log_prob(UTILITY / 2.0, CHOICE), rtol=1e-14)
    equal = Exact().log_prob(UTILITY, CHOICE, noise=Noise("gumbel", scale=np.full(3, 2.0)))
    np.testing.assert_allclose(equal, scaled, rtol=1e-14)


def test_exact_binary_probit(x64):
    utility = np.array([[0.3, -0.2], [1.0, 2.5]])
    scale = np.array([0.7, 1.9])
    probs = Exact().probabilities(utility, noise=Noise("normal", scale=scale))
    z = (utility[:, 1] - utility[:, 0]) / np.hypot(*scale)
    np.testing.assert_allclose(probs[:, 1], stats.norm.cdf(z), rtol=1e-13)
    chol = np.array([[1.0, 0.0], [0.6, 0.8]])
    variance = 1.0 + 1.0 - 2 * 0.6
    probs = Exact().probabilities(utility, noise=Noise("normal", cholesky=chol))
    z = (utility[:, 1] - utility[:, 0]) / np.sqrt(variance)
    np.testing.assert_allclose(probs[:, 1], stats.norm.cdf(z), rtol=1e-13)


def test_exact_binary_probit_with_one_unavailable(x64):
    probs = Exact().probabilities(np.zeros(2), np.array([False, True]), Noise("normal"))
    np.testing.assert_array_equal(probs, [0.0, 1.0])


@pytest.mark.parametrize(
    ("noise", "n_alts"),
    [
        (Noise("gumbel", scale=np.array([1.0, 2.0, 1.0])), 3),
        (Noise("normal"), 3),
        (Noise("logistic"), 2),
    ],
)
def test_exact_rejects_noise_without_closed_form(noise, n_alts):
    with pytest.raises(ValueError, match="Quadrature|closed form"):
        Exact().log_prob(np.zeros(n_alts), 0, noise=noise)


def test_exact_rejects_traced_per_alternative_scale():
    def log_p(scale):
        return Exact().log_prob(jnp.zeros(3), 0, noise=Noise("gumbel", scale=scale))

    with pytest.raises(ValueError, match=r"\(\.\.\., 1\)"):
        jax.jit(log_p)(jnp.ones(3))
    assert np.isfinite(jax.jit(log_p)(jnp.ones(1)))


@pytest.mark.parametrize(
    ("family", "simulator"),
    [
        ("gumbel", Quadrature()),
        ("normal", Smoothed(tau=0.3, n_draws=64, scheme="pseudo")),
        ("logistic", Smoothed(tau=0.3, n_draws=64, scheme="sobol", antithetic=True)),
        ("normal", Frequency(n_draws=64, scheme="halton")),
    ],
    ids=["quadrature", "smoothed-pseudo", "smoothed-sobol", "frequency"],
)
def test_unavailable_alternatives_have_zero_probability(x64, family, simulator):
    available = np.array([[True, False, True], [True, True, True], [False, True, True]])
    noise = Noise(family, scale=SCALE)
    probs = simulator.probabilities(UTILITY, available, noise)
    assert np.all(probs[~available] == 0.0)
    if not isinstance(simulator, Frequency):
        np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-12)
    log_p = simulator.log_prob(UTILITY, np.array([1, 0, 0]), available, noise)
    assert log_p[0] == -np.inf
    assert log_p[2] == -np.inf
    assert np.isfinite(log_p[1])


def test_draw_based_same_key_bit_identical():
    noise = Noise("normal", scale=SCALE)
    for simulator in draw_based():
        first = simulator.log_prob(UTILITY, CHOICE, noise=noise)
        second = type(simulator)(**{**simulator.__dict__}).log_prob(UTILITY, CHOICE, noise=noise)
        np.testing.assert_array_equal(first, second)


def test_jit_on_and_off_agree(x64):
    noise = Noise("normal", scale=SCALE)
    for simulator in [Quadrature(), draw_based()[0]]:
        eager = simulator.log_prob(UTILITY, CHOICE, noise=noise)
        jitted = jax.jit(lambda u, n, s=simulator: s.log_prob(u, CHOICE, noise=n))(UTILITY, noise)
        np.testing.assert_allclose(jitted, eager, rtol=1e-13)
        passed = jax.jit(lambda s, u: s.log_prob(u, CHOICE, noise=noise))(simulator, UTILITY)
        np.testing.assert_allclose(passed, eager, rtol=1e-13)


def test_chunked_draws_match_stored(x64):
    noise = Noise("logistic", scale=SCALE)
    for a, b in zip(draw_based()[1:], draw_based(chunk_size=7)[1:]):
        assert a.chunk_plan((3, 3), jnp.float64) is None
        assert b.chunk_plan((3, 3), jnp.float64) == 7
        np.testing.assert_allclose(
            b.log_prob(UTILITY, CHOICE, noise=noise), a.log_prob(UTILITY, CHOICE, noise=noise), rtol=1e-13
        )


@pytest.mark.slow
def test_single_draw_chunks_match_stored(x64):
    noise = Noise("logistic", scale=SCALE)
    single = Smoothed(tau=0.3, n_draws=64, scheme="pseudo", key=1, chunk_size=1)
    np.testing.assert_allclose(
        single.probabilities(UTILITY, noise=noise),
        draw_based()[0].probabilities(UTILITY, noise=noise),
        rtol=1e-13,
    )


def test_memory_budget_switches_to_chunks(x64):
    bytes_per_draw = 3 * 3 * 8 * WORKING_ARRAYS
    simulator = Smoothed(tau=0.3, n_draws=64, scheme="pseudo", memory_budget_bytes=8 * bytes_per_draw)
    assert simulator.chunk_plan((3, 3), jnp.float64) == 8
    reference = Smoothed(tau=0.3, n_draws=64, scheme="pseudo")
    np.testing.assert_allclose(simulator.log_prob(UTILITY, CHOICE), reference.log_prob(UTILITY, CHOICE), rtol=1e-13)
    grad = jax.grad(lambda u: simulator.log_prob(u, CHOICE).sum())(UTILITY)
    reference_grad = jax.grad(lambda u: reference.log_prob(u, CHOICE).sum())(UTILITY)
    np.testing.assert_allclose(grad, reference_grad, rtol=1e-12)


def test_permuting_alternatives(x64):
    permutation = np.array([2, 0, 1])
    position = np.argsort(permutation)
    noise = Noise("normal", scale=SCALE)
    permuted_noise = Noise("normal", scale=SCALE[permutation])
    for simulator in [Quadrature()]:
        probs = simulator.probabilities(UTILITY, noise=noise)
        permuted = simulator.probabilities(UTILITY[:, permutation], noise=permuted_noise)
        np.testing.assert_allclose(permuted, probs[:, permutation], rtol=1e-13)
    probs = Exact().probabilities(UTILITY)
    np.testing.assert_allclose(Exact().probabilities(UTILITY[:, permutation]), probs[:, permutation], rtol=1e-14)
    # Draw-based simulators give each position its own draws, so a permutation changes the draws
    # and the result moves within its Monte Carlo error only.
    simulator = Smoothed(tau=0.05, n_draws=4096, scheme="sobol")
    probs = simulator.probabilities(UTILITY, noise=noise)
    permuted = simulator.probabilities(UTILITY[:, permutation], noise=permuted_noise)
    np.testing.assert_allclose(permuted[:, position], probs, atol=0.02)


def test_smoothed_gradients_match_finite_differences(x64):
    simulator = Smoothed(tau=0.4, n_draws=32, scheme="halton", chunk_size=10)
    available = np.array([[True, True, True], [True, False, True], [True, True, True]])

    def total(utility, log_scale, tau):
        s = Smoothed(tau=tau, n_draws=32, scheme="halton", chunk_size=10)
        return s.log_prob(utility, CHOICE, available, Noise("gumbel", scale=jnp.exp(log_scale))).sum()

    log_scale = np.log(SCALE)
    grads = jax.grad(total, argnums=(0, 1, 2))(UTILITY, log_scale, 0.4)
    np.testing.assert_allclose(grads[0], finite_difference(lambda u: float(total(u, log_scale, 0.4)), UTILITY), atol=1e-7)
    np.testing.assert_allclose(grads[1], finite_difference(lambda s: float(total(UTILITY, s, 0.4)), log_scale), atol=1e-7)
    np.testing.assert_allclose(grads[2], finite_difference(lambda t: float(total(UTILITY, log_scale, t)), np.array(0.4)), atol=1e-7)
    assert grads[0][1, 1] == 0.0
    del simulator


def test_quadrature_gradients_match_finite_differences(x64):
    def total(utility, log_scale):
        return Quadrature().log_prob(utility, CHOICE, noise=Noise("normal", scale=jnp.exp(log_scale))).sum()

    log_scale = np.log(SCALE)
    grads = jax.grad(total, argnums=(0, 1))(UTILITY, log_scale)
    np.testing.assert_allclose(grads[0], finite_difference(lambda u: float(total(u, log_scale)), UTILITY), atol=1e-7)
    np.testing.assert_allclose(grads[1], finite_difference(lambda s: float(total(UTILITY, s)), log_scale), atol=1e-7)


@pytest.mark.slow
def test_hessian_and_vmap(x64):
    noise = Noise("logistic", scale=SCALE)
    for simulator in [Quadrature(), Smoothed(tau=0.5, n_draws=16, scheme="sobol")]:
        hessian = jax.hessian(lambda u, s=simulator: s.log_prob(u, CHOICE, noise=noise).sum())(UTILITY)
        assert np.all(np.isfinite(hessian))
        batched = simulator.probabilities(UTILITY, noise=noise)
        if isinstance(simulator, Quadrature):
            rows = jax.vmap(lambda u, s=simulator: s.probabilities(u, noise=noise))(UTILITY)
            np.testing.assert_allclose(rows, batched, rtol=1e-13)


def test_stored_draws_match_regenerated(x64):
    available = np.array([[True, True, True], [True, False, True], [True, True, True]])
    for noise in (Noise("normal", scale=SCALE), Noise("normal", cholesky=np.array([[1.0, 0, 0], [0.5, 1.0, 0], [0.2, 0.3, 0.9]]))):
        simulator = Smoothed(tau=0.3, n_draws=32, scheme="sobol")
        prepared = simulator.prepare(UTILITY.shape, noise)
        assert prepared.stored is not None
        np.testing.assert_array_equal(
            prepared.log_prob(UTILITY, CHOICE, available, noise), simulator.log_prob(UTILITY, CHOICE, available, noise)
        )
        np.testing.assert_allclose(
            prepared.probabilities(UTILITY, available, noise), simulator.probabilities(UTILITY, available, noise), rtol=1e-14
        )
    small = Smoothed(tau=0.3, n_draws=32, memory_budget_bytes=64).prepare(UTILITY.shape, noise)
    assert small.stored is None


def test_smoothed_many_alternatives_path(x64):
    rng = np.random.default_rng(0)
    utility = rng.normal(size=(4, 20))
    available = rng.random((4, 20)) < 0.8
    choice = np.argmax(np.where(available, utility, -np.inf), axis=-1)
    noise = Noise("gumbel", scale=np.exp(rng.normal(size=20) * 0.3))
    simulator = Smoothed(tau=0.2, n_draws=16, scheme="pseudo")
    log_p = simulator.log_prob(utility, choice, available, noise)
    reference = np.log(simulator.probabilities(utility, available, noise)[np.arange(4), choice])
    np.testing.assert_allclose(log_p, reference, rtol=1e-12)


def test_smoothed_correlated_noise_matches_binary_probit(x64):
    chol = np.array([[1.0, 0.0], [0.6, 0.8]])
    utility = np.array([[0.3, -0.2], [1.0, 2.5]])
    noise = Noise("normal", cholesky=chol)
    exact = Exact().probabilities(utility, noise=noise)
    frequency = Frequency(n_draws=4096, scheme="sobol").probabilities(utility, noise=noise)
    np.testing.assert_allclose(frequency, exact, atol=0.01)
    smoothed = Smoothed(tau=0.01, n_draws=4096, scheme="sobol").probabilities(utility, noise=noise)
    np.testing.assert_allclose(smoothed, exact, atol=0.01)


def test_predictive_summary(x64):
    noise = Noise("normal", scale=SCALE)
    available = np.array([[True, True, True], [True, True, False], [True, True, True]])
    smoothed = Smoothed(tau=0.3, n_draws=256, scheme="sobol")
    summary = smoothed.predictive(UTILITY, available, noise)
    np.testing.assert_allclose(summary.mean, smoothed.probabilities(UTILITY, available, noise), rtol=1e-12)
    assert np.all(summary.variance >= 0)
    assert summary.variance[1, 2] == 0.0
    np.testing.assert_array_equal(summary.prediction, np.argmax(np.where(available, summary.mean, -1), -1))
    frequency = Frequency(n_draws=256, scheme="sobol").predictive(UTILITY, available, noise)
    np.testing.assert_allclose(frequency.variance, frequency.mean * (1 - frequency.mean), atol=1e-12)
    exact = Exact().predictive(UTILITY, available)
    assert np.all(exact.variance == 0.0)


def test_frequency_has_no_gradient(x64):
    simulator = Frequency(n_draws=64)
    grad = jax.grad(lambda u: simulator.probabilities(u)[0, 0])(UTILITY)
    assert np.all(grad == 0.0)


def test_no_noise_limit(x64):
    utility = np.array([[1.0, 0.5, 0.2], [1.0, 1.0, 0.0]])
    noise = Noise("none")
    np.testing.assert_allclose(Smoothed(tau=1.0).probabilities(utility, noise=noise), jax.nn.softmax(utility, -1), rtol=1e-14)
    for simulator in (Exact(), Frequency(), Quadrature()):
        np.testing.assert_array_equal(simulator.probabilities(utility, noise=noise), [[1, 0, 0], [0.5, 0.5, 0]])
