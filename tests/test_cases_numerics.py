"""Numerical fault cases that choice-model software has hit, one kind per section.

Each section takes the small input that exposes its kind of fault (overflow at a small
temperature, an underflowed probability, far tails, extreme scales, invalid settings, masked
alternatives, reproducibility, correlated quasi-random draws, memory) and checks it on every
simulator that can hit it, where that stays cheap.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm, qmc

from discrete_choice.distribution import ChoiceDistribution
from discrete_choice.draws import draw_indices, standard_draws
from discrete_choice.noise import Noise
from discrete_choice.simulators import Exact, Frequency, Quadrature, Smoothed, masked_log_softmax


def max_abs_correlation(draws):
    correlation = np.corrcoef(np.asarray(draws, dtype=np.float64).T)
    np.fill_diagonal(correlation, 0.0)
    return float(np.abs(correlation).max())


# Overflow with a small temperature.


def test_small_tau_without_noise(x64):
    utility = np.array([40.0, 39.0, 0.0])
    simulator = Smoothed(tau=0.05)
    probs = simulator.probabilities(utility, noise=Noise("none"))
    np.testing.assert_allclose(probs, [0.999999998, 2.06e-9, 0.0], rtol=1e-3, atol=1e-12)
    assert abs(float(probs.sum()) - 1.0) < 1e-12
    log_p = simulator.log_prob(utility, 1, noise=Noise("none"))
    np.testing.assert_allclose(log_p, -20.0000000021, atol=1e-10)


def test_small_tau_float32():
    utility = jnp.asarray([40.0, 39.0, 0.0], jnp.float32)
    simulator = Smoothed(tau=0.05)
    probs = simulator.probabilities(utility, noise=Noise("none"))
    assert probs.dtype == jnp.float32
    np.testing.assert_allclose(probs, [1.0, 2.06e-9, 0.0], rtol=1e-3, atol=1e-7)
    np.testing.assert_allclose(simulator.log_prob(utility, 1, noise=Noise("none")), -20.0, rtol=1e-6)


def test_small_tau_vanishing_scale(x64):
    utility = np.array([40.0, 39.0, 0.0])
    noise = Noise("normal", scale=1e-12)
    simulator = Smoothed(tau=0.05, n_draws=16)
    np.testing.assert_allclose(simulator.log_prob(utility, 1, noise=noise), -20.0000000021, rtol=1e-10)


@pytest.mark.parametrize("dtype", [pytest.param(jnp.float32, marks=pytest.mark.slow), jnp.float64])
def test_utility_over_tau_up_to_1e4(x64, dtype):
    utility = jnp.asarray([[1e4, -1e4, 0.0], [0.0, 1e4, -1e4]], dtype)
    choice = np.array([2, 0])
    noise = Noise("gumbel", scale=jnp.asarray(1.0, dtype))
    for simulator in (Smoothed(tau=1.0, n_draws=8), Smoothed(tau=1e-4, n_draws=8), Exact()):
        def total(u, s=simulator):
            return s.log_prob(u, choice, noise=noise).sum()

        value = total(utility)
        assert np.isfinite(value)
        assert np.all(np.isfinite(jax.grad(total)(utility)))
        assert np.all(np.isfinite(jax.hessian(total)(utility)))


# Underflowed chosen probability.


def test_underflowed_probability_float32():
    utility = jnp.asarray([0.0, -60.0], jnp.float32)
    noise = Noise("normal", scale=jnp.asarray(0.01, jnp.float32))
    simulator = Smoothed(tau=0.5, n_draws=100)

    def log_likelihood(u):
        return simulator.log_prob(u, 1, noise=noise)

    value = log_likelihood(utility)
    assert value.dtype == jnp.float32
    np.testing.assert_allclose(value, -120.0, rtol=1e-3)
    assert np.all(np.isfinite(jax.grad(log_likelihood)(utility)))
    # The general path (more than two alternatives, a masked one) keeps the log domain too.
    wide = jnp.asarray([0.0, -60.0, 5.0], jnp.float32)
    available = np.array([True, True, False])
    np.testing.assert_allclose(simulator.log_prob(wide, 1, available, noise), -120.0, rtol=1e-3)
    assert np.all(np.isfinite(simulator.probabilities(wide, available, noise)))


# Binary probit tails.


def test_binary_probit_tails(x64):
    half = Noise("normal", scale=np.sqrt(0.5))  # Var(eps_1 - eps_0) = 1
    for index, expected in ((-10.0, -53.231285), (-40.0, -804.608442)):
        log_p = Exact().log_prob(np.array([0.0, index]), 1, noise=half)
        np.testing.assert_allclose(log_p, expected, atol=1e-6)
        grad = jax.grad(lambda u: Exact().log_prob(u, 1, noise=half))(jnp.array([0.0, index]))
        assert np.all(np.isfinite(grad))


def test_probit_fit_extreme_misclassified_point(x64):
    rng = np.random.default_rng(0)
    covariate = rng.normal(size=200)
    choice = (covariate * 1.5 + rng.normal(size=200) * np.sqrt(2.0) > 0).astype(int)
    covariate = np.append(covariate, -40.0 / 1.5)  # index -40 at the true coefficient...
    choice = np.append(choice, 1)  # ...yet alternative 1 is chosen
    noise = Noise("normal", scale=np.sqrt(0.5))

    def log_likelihood(beta):
        utility = jnp.stack([jnp.zeros_like(covariate), beta[0] * covariate], axis=-1)
        return ChoiceDistribution(utility, noise=noise, simulator=Exact()).log_prob(choice).sum()

    beta = jnp.array([1.5])
    for _ in range(50):
        gradient = jax.grad(log_likelihood)(beta)
        hessian = jax.hessian(log_likelihood)(beta)
        assert np.all(np.isfinite(gradient))
        assert np.all(np.isfinite(hessian))
        beta = beta - jnp.linalg.solve(hessian, gradient)
        if float(jnp.abs(gradient).max()) < 1e-10:
            break
    assert float(jnp.abs(jax.grad(log_likelihood)(beta)).max()) < 1e-8
    assert float(jax.hessian(log_likelihood)(beta)[0, 0]) < 0


# Extreme scales.


def _extreme_scale_objective(simulator, family):
    def total(utility, log_scale):
        noise = Noise(family, scale=jnp.exp(log_scale))
        return simulator.log_prob(utility, jnp.arange(3), noise=noise).sum()

    return total


@pytest.mark.parametrize("log_scale_first", [50.0, -50.0])
@pytest.mark.parametrize("family", ["normal", "gumbel", "logistic"])
def test_extreme_scales(x64, log_scale_first, family):
    utility = jnp.asarray([1.0, 0.0, -1.0])
    log_scale = jnp.asarray([log_scale_first, 0.0, 0.0])
    simulators = [Smoothed(tau=1.0, n_draws=64, scheme="sobol")]
    if log_scale_first > 0:
        # A scale below the float spacing of its location (exp(-50) next to 1) collapses the
        # quadrature panels; Quadrature documents that limit.
        simulators.append(Quadrature())
    for simulator in simulators:
        total = _extreme_scale_objective(simulator, family)
        assert np.isfinite(total(utility, log_scale)), simulator
        grads = jax.grad(total, argnums=(0, 1))(utility, log_scale)
        assert all(np.all(np.isfinite(g)) for g in grads), simulator


@pytest.mark.parametrize("log_scale_first", [50.0, -50.0])
def test_extreme_scales_float32(log_scale_first):
    utility = jnp.asarray([1.0, 0.0, -1.0], jnp.float32)
    log_scale = jnp.asarray([log_scale_first, 0.0, 0.0], jnp.float32)
    simulators = [Smoothed(tau=1.0, n_draws=64, scheme="pseudo")]
    if log_scale_first > 0:
        simulators.append(Quadrature())
    for simulator in simulators:
        total = _extreme_scale_objective(simulator, "normal")
        assert np.isfinite(total(utility, log_scale)), simulator
        grads = jax.grad(total, argnums=(0, 1))(utility, log_scale)
        assert all(np.all(np.isfinite(g)) for g in grads), simulator
    frequency = Frequency(n_draws=64).probabilities(utility, noise=Noise("normal", scale=jnp.exp(log_scale)))
    assert np.all(np.isfinite(frequency))


# Invalid and tiny temperatures.


@pytest.mark.parametrize("tau", [0.0, -1.0, np.nan, [1.0, 0.0, 1.0]])
def test_invalid_tau_raises(tau):
    with pytest.raises(ValueError, match="tau"):
        Smoothed(tau=tau)


def test_tiny_tau_limit(x64):
    simulator = Smoothed(tau=1e-8)
    noise = Noise("none")
    probs = simulator.probabilities(np.array([1.0, 0.5, 0.2]), noise=noise)
    np.testing.assert_array_equal(probs, [1.0, 0.0, 0.0])
    tie = simulator.probabilities(np.array([1.0, 1.0]), noise=noise)
    np.testing.assert_array_equal(tie, [0.5, 0.5])
    grad = jax.grad(lambda u: simulator.log_prob(u, 0, noise=noise))(jnp.array([1.0, 0.5, 0.2]))
    assert np.all(np.isfinite(grad))
    with_draws = Smoothed(tau=1e-8, n_draws=32).probabilities(np.array([1.0, 0.5, 0.2]), noise=Noise("gumbel"))
    assert np.all(np.isfinite(with_draws))
    grad = jax.grad(lambda u: Smoothed(tau=1e-8, n_draws=32).log_prob(u, 0, noise=Noise("gumbel")))(
        jnp.array([1.0, 0.5, 0.2])
    )
    assert np.all(np.isfinite(grad))


# Invalid scales, draw counts and settings.


@pytest.mark.parametrize("scale", [0.0, -0.5, [1.0, -1.0, 1.0]])
def test_nonpositive_scale_raises(scale):
    with pytest.raises(ValueError, match="scale"):
        Noise("gumbel", scale=scale)


@pytest.mark.parametrize("n_draws", [0, -5, 10.5, 1e3])
@pytest.mark.parametrize("simulator_type", [Smoothed, Frequency])
def test_invalid_draw_count_raises(simulator_type, n_draws):
    with pytest.raises(ValueError, match="n_draws"):
        simulator_type(n_draws=n_draws)


@pytest.mark.parametrize(
    ("argument", "value"),
    [("memory_budget_bytes", 0), ("chunk_size", 0), ("chunk_size", 2.5), ("scheme", "random")],
)
def test_invalid_draw_settings_raise(argument, value):
    with pytest.raises(ValueError, match=argument if argument != "scheme" else "scheme"):
        Smoothed(**{argument: value})


def test_invalid_quadrature_nodes_raise():
    with pytest.raises(ValueError, match="nodes_per_panel"):
        Quadrature(nodes_per_panel=-1)


# Masked alternatives.


def test_masked_alternative_logit(x64):
    available = np.array([True, False, True])
    for masked_value in (0.0, np.nan, 1e300):
        utility = jnp.array([0.0, masked_value, 0.0])

        def log_p(u):
            return ChoiceDistribution(u, available).log_prob(0)

        np.testing.assert_allclose(log_p(utility), -0.693147, atol=1e-6)
        expected = [0.5, 0.0, -0.5]
        np.testing.assert_allclose(jax.grad(log_p)(utility), expected, atol=1e-14)
        np.testing.assert_allclose(jax.jit(jax.grad(log_p))(utility), expected, atol=1e-14)
        _, tangent = jax.jvp(log_p, (utility,), (jnp.array([1.0, 1.0, 0.0]),))
        np.testing.assert_allclose(tangent, 0.5, atol=1e-14)
        hessian = jax.hessian(log_p)(utility)
        assert np.all(np.isfinite(hessian))
        np.testing.assert_allclose(hessian[1], 0.0)


@pytest.mark.parametrize(
    "simulator",
    [
        Quadrature(),
        Smoothed(tau=0.5, n_draws=16),
        pytest.param(Smoothed(tau=0.5, n_draws=16, chunk_size=5), marks=pytest.mark.slow),
        Exact(),
    ],
    ids=["quadrature", "smoothed", "smoothed-chunked", "exact"],
)
def test_masked_alternative_every_simulator(x64, simulator):
    available = np.array([True, False, True])
    utility = jnp.array([0.0, np.nan, 0.0])

    def log_p(u):
        return simulator.log_prob(u, 0, available, Noise("gumbel"))

    if not isinstance(simulator, Smoothed):
        np.testing.assert_allclose(log_p(utility), -0.693147, atol=1e-6)
    for derivative in (jax.grad(log_p), jax.jit(jax.grad(log_p))):
        grad = derivative(utility)
        assert np.all(np.isfinite(grad))
        assert grad[1] == 0.0
    assert np.all(np.isfinite(jax.hessian(log_p)(utility)))
    np.testing.assert_allclose(masked_log_softmax(utility, available)[0], -0.693147, atol=1e-6)


# Same data and key give bit-identical estimates.


FIT_COVARIATE = np.random.default_rng(5).normal(size=(300, 3))
FIT_CHOICE = np.argmax(
    FIT_COVARIATE * 1.2 + np.random.default_rng(6).gumbel(size=(300, 3)) * np.array([1.0, 2.0, 0.5]), -1
)


@jax.jit
def _fit_step(params, simulator):
    def negative_log_likelihood(p):
        scale = jnp.exp(jnp.concatenate([jnp.zeros(1), p[1:]]))
        noise = Noise("gumbel", scale=scale)
        return -simulator.log_prob(p[0] * FIT_COVARIATE, FIT_CHOICE, noise=noise).mean()

    _, gradient = jax.value_and_grad(negative_log_likelihood)(params)
    return params - 0.5 * gradient


def _fit_heteroscedastic(simulator):
    params = jnp.array([1.0, 0.0, 0.0])
    for _ in range(30):
        params = _fit_step(params, simulator)
    return params


def test_same_key_bit_identical_estimates(x64):
    first = _fit_heteroscedastic(Smoothed(tau=0.3, n_draws=50, scheme="halton", key=11))
    second = _fit_heteroscedastic(Smoothed(tau=0.3, n_draws=50, scheme="halton", key=11))
    np.testing.assert_array_equal(first, second)
    other = _fit_heteroscedastic(Smoothed(tau=0.3, n_draws=50, scheme="halton", key=12))
    assert not np.array_equal(first, other)
    chunked = _fit_heteroscedastic(Smoothed(tau=0.3, n_draws=50, scheme="halton", key=11, chunk_size=20))
    np.testing.assert_allclose(chunked, first, rtol=1e-12)


# Quasi-random draws in many dimensions.


def test_quasi_random_draws_nearly_uncorrelated():
    plain = qmc.Halton(25, scramble=False).random(101)[1:]
    assert max_abs_correlation(norm.ppf(plain)) > 0.5  # the fault this case guards against
    for scheme in ("halton", "sobol"):
        for key in range(3):
            draws = standard_draws(key, scheme, "normal", 100, draw_indices(0, 100), (4, 25))
            for observation in range(4):
                assert max_abs_correlation(draws[:, observation]) < 0.2, (scheme, key, observation)


# 500 alternatives, 1,000 observations, 200 draws: bounded memory.


LARGE_PROBLEM_BUDGET = 64 * 2**20


def _large_problem():
    utility = jax.random.normal(jax.random.key(0), (1000, 500), jnp.float32)
    choice = jnp.zeros(1000, jnp.int32)
    simulator = Smoothed(tau=0.5, n_draws=200, scheme="sobol", memory_budget_bytes=LARGE_PROBLEM_BUDGET)

    def objective(u):
        return simulator.log_prob(u, choice, noise=Noise("normal")).sum()

    return utility, simulator, jax.jit(jax.value_and_grad(objective)).lower(utility).compile()


def test_large_problem_bounded_memory():
    utility, simulator, compiled = _large_problem()
    chunk = simulator.chunk_plan(utility.shape, utility.dtype)
    assert chunk is not None and chunk < 200
    assert simulator.prepare(utility.shape, Noise("normal"), jnp.float32).stored is None
    temp_bytes = compiled.memory_analysis().temp_size_in_bytes
    full_bytes = 200 * 1000 * 500 * 4
    assert temp_bytes < 2 * LARGE_PROBLEM_BUDGET, f"temporary memory {temp_bytes / 2**20:.0f} MiB"
    assert temp_bytes < full_bytes / 2


@pytest.mark.slow
def test_large_problem_runs():
    utility, _, compiled = _large_problem()
    value, grad = compiled(utility)
    assert np.isfinite(value)
    assert np.all(np.isfinite(grad))


def test_memory_constant_in_draws():
    utility = jnp.zeros((200, 50), jnp.float32)
    choice = jnp.zeros(200, jnp.int32)
    temps = []
    for n_draws in (100, 10_000):
        simulator = Smoothed(tau=0.5, n_draws=n_draws, chunk_size=50)

        def objective(u, s=simulator):
            return s.log_prob(u, choice, noise=Noise("logistic")).sum()

        compiled = jax.jit(jax.value_and_grad(objective)).lower(utility).compile()
        temps.append(compiled.memory_analysis().temp_size_in_bytes)
    assert temps[1] < 1.5 * temps[0] + 2**20, temps
