"""Heteroscedastic models: identification checks, boundary reporting, closed forms, smoothing.

Independent references: with two alternatives and scales ``s_0, s_1`` the heteroscedastic
probit has the closed form ``P_1 = Phi((V_1 - V_0) / sqrt(s_0^2 + s_1^2))`` (SciPy's
``norm.cdf``); the quadrature likelihood of the multinomial models is checked against
``scipy.integrate.quad`` in tests/test_hev_mode_canada.py.
"""

from __future__ import annotations

import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
import scipy.stats

import discrete_choice as dc
from discrete_choice.exceptions import IdentificationWarning, SpecificationError
from discrete_choice.inference.mle import likelihood_functions
from discrete_choice.models import HEV, Heteroscedastic, HeteroscedasticProbit
from discrete_choice.simulators import Exact, Quadrature, Smoothed


def simulate_heteroscedastic(n_obs: int, family: str, scales, beta: float, seed: int,
                             scale_slope: float = 0.0):
    """Choices among 3 alternatives with V_j = ASC_j + beta x_j and sigma_nj = s_j exp(d z_n)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_obs, 3))
    z = rng.normal(size=n_obs)
    constants = np.array([0.0, 0.4, -0.3])
    utility = constants + beta * x
    sigma = np.asarray(scales)[None, :] * np.exp(scale_slope * z)[:, None]
    draws = {"normal": rng.normal, "gumbel": rng.gumbel, "logistic": rng.logistic}[family]
    choice = np.argmax(utility + sigma * draws(size=(n_obs, 3)), axis=1)
    return dc.ChoiceData.from_arrays(choice, {"x": x, "z": z}, alternatives=["a", "b", "c"])


SPEC = dc.LinearSpec.from_formula("choice ~ x", base="a")


# ---------------------------------------------------------------------------- identification
def test_binary_alternative_scales_rejected():
    data = dc.ChoiceData.from_arrays(np.array([0, 1, 1, 0]), {"x": np.eye(2)[[0, 1, 0, 1]]})
    with pytest.raises(SpecificationError, match="not identified with two alternatives"):
        HeteroscedasticProbit(dc.LinearSpec.from_formula("choice ~ x")).prepare(data)


def test_constant_scale_covariate_rejected():
    data = simulate_heteroscedastic(50, "normal", [1, 1, 1], 1.0, seed=0)
    data = dc.ChoiceData.from_arrays(data.choice, {"x": data.variables["x"], "one": np.ones(50)},
                                     alternatives=["a", "b", "c"])
    with pytest.raises(SpecificationError, match="'one' is constant"):
        HEV(SPEC, scale_covariates=("one",)).prepare(data)


def test_model_without_scales_rejected():
    with pytest.raises(SpecificationError, match="no scale parameter"):
        Heteroscedastic(SPEC, alternative_scales=False)


def test_unknown_family_rejected():
    with pytest.raises(ValueError, match="invalid family='cauchy'"):
        Heteroscedastic(SPEC, family="cauchy")


@pytest.mark.parametrize("ratio", [1.0, 0.5, float("nan"), "100"])
def test_invalid_max_scale_ratio_rejected(ratio):
    with pytest.raises(ValueError, match="max_scale_ratio"):
        HEV(SPEC, max_scale_ratio=ratio)


def test_unknown_scale_base_rejected():
    data = simulate_heteroscedastic(30, "normal", [1, 1, 1], 1.0, seed=0)
    with pytest.raises(ValueError, match="scale_base='z'"):
        HEV(SPEC, scale_base="z").prepare(data)


def test_parameter_labels():
    data = simulate_heteroscedastic(30, "normal", [1, 1, 1], 1.0, seed=0)
    prepared = HEV(SPEC, scale_covariates=("z",)).prepare(data)
    labels = [label for block in prepared.blocks for label in block.labels]
    assert labels == ["ASC_b", "ASC_c", "x", "scale_b", "scale_c", "lnsigma_z"]


def test_model_names():
    assert HEV(SPEC).name == "HEV"
    assert HeteroscedasticProbit(SPEC).name == "heteroscedastic probit"
    assert HEV(SPEC).family == "gumbel"


# ---------------------------------------------------------------------------- binary closed form
def test_binary_hetprobit_loglik_closed_form(x64):
    rng = np.random.default_rng(1)
    n = 40
    x = np.column_stack([np.zeros(n), rng.normal(size=n)])
    z = rng.normal(size=n)
    choice = (rng.random(n) < 0.5).astype(int)
    data = dc.ChoiceData.from_arrays(choice, {"x": x, "z": z})
    model = HeteroscedasticProbit(dc.LinearSpec.from_formula("choice ~ x"), simulator=Exact(),
                                  alternative_scales=False, scale_covariates=("z",))
    functions = likelihood_functions(model.prepare(data))
    beta0, beta1, delta = 0.3, 0.8, 0.5
    values = {"beta": np.array([beta0, beta1]), "lnsigma": np.array([delta])}
    loglik = float(jnp.sum(functions.per_observation(functions.unconstrain(values))))
    # Both alternatives have scale exp(delta z), so the difference has sd sqrt(2) exp(delta z).
    index = (beta0 + beta1 * x[:, 1]) / (np.sqrt(2.0) * np.exp(delta * z))
    reference = np.sum(np.where(choice == 1, scipy.stats.norm.logcdf(index),
                                scipy.stats.norm.logcdf(-index)))
    assert loglik == pytest.approx(reference, abs=1e-10)


def test_binary_hev_loglik_closed_form(x64):
    rng = np.random.default_rng(6)
    n = 40
    x = np.column_stack([np.zeros(n), rng.normal(size=n)])
    z = rng.normal(size=n)
    choice = (rng.random(n) < 0.5).astype(int)
    data = dc.ChoiceData.from_arrays(choice, {"x": x, "z": z})
    model = HEV(dc.LinearSpec.from_formula("choice ~ x"), simulator=Exact(),
                alternative_scales=False, scale_covariates=("z",))
    functions = likelihood_functions(model.prepare(data))
    values = {"beta": np.array([-0.2, 1.1]), "lnsigma": np.array([-0.6])}
    loglik = float(jnp.sum(functions.per_observation(functions.unconstrain(values))))
    # Two Gumbel terms with a common scale s differ by a Logistic(0, s) variate.
    index = (-0.2 + 1.1 * x[:, 1]) / np.exp(-0.6 * z)
    reference = np.sum(np.where(choice == 1, scipy.special.log_expit(index),
                                scipy.special.log_expit(-index)))
    assert loglik == pytest.approx(reference, abs=1e-10)


# ---------------------------------------------------------------------------- boundary
def test_scale_running_to_zero_reported(x64):
    """A group whose choices are deterministic drives its scale to 0: reported, not converged."""
    rng = np.random.default_rng(2)
    n = 200
    x = rng.normal(size=n)
    group = (np.arange(n) % 2).astype(float)
    noisy = x + rng.normal(scale=1.5, size=n) > 0
    choice = np.where(group == 1, x > 0, noisy).astype(int)
    data = dc.ChoiceData.from_arrays(choice, {"x": np.column_stack([np.zeros(n), x]),
                                              "group": group})
    spec = dc.LinearSpec.from_formula("choice ~ x | 0")
    model = HeteroscedasticProbit(spec, simulator=Exact(), alternative_scales=False,
                                  scale_covariates=("group",))
    with pytest.warns(IdentificationWarning, match="lnsigma_group"):
        result = model.fit(data, start={"x": 0.5})
    assert not result.converged
    assert "lnsigma_group" in result.message
    assert not result.reliable[result.names.index("lnsigma_group")]
    assert np.isnan(result.std_errors["lnsigma_group"])


def test_hev_ridge_on_travel_mode_reported(x64):
    """HEV on the travel-mode survey climbs a ridge where car's scale shrinks next to the others'.

    The optimiser stops with constants above 100 and scales above 40 (log-likelihood about
    -187.64, Hessian condition about 1e9) and a small gradient, so a probe of one scale at a time
    let it through as converged. Every scale and coefficient moves along that ridge, so all
    of them must be marked unreliable and the message must name the base scale.
    """
    dataset = dc.load_dataset("travel_mode")
    spec = dc.LinearSpec.from_formula(dataset.formula, base=dataset.base)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = HEV(spec).fit(dataset.data)
    messages = [str(warning.message) for warning in caught
                if issubclass(warning.category, IdentificationWarning)]
    assert any("scale of the base alternative 'car'" in message for message in messages)
    # The optimiser stops at max_scale_ratio instead of climbing the ridge for hundreds of
    # iterations.
    assert np.max(result.params[["scale_air", "scale_train", "scale_bus"]]) < 150
    assert not result.converged
    assert "scale_car" in result.message
    assert not np.any(result.reliable)
    assert np.all(np.isnan(result.std_errors))
    summary = str(result.summary())
    assert re.search(r"Converged:\s+False", summary)
    # Independent check of the ridge: rescaling everything to shrink car's scale by a factor
    # exp(0.5) (the same probabilities as car's scale times exp(-0.5)) does not lower the
    # log-likelihood.
    functions = likelihood_functions(result.model.prepare(dataset.data))
    values = {"beta": result.params[list(result.params.index[:6])].to_numpy() * np.exp(0.5),
              "scale": result.params[["scale_air", "scale_train", "scale_bus"]].to_numpy()
              * np.exp(0.5)}
    moved = float(jnp.sum(functions.per_observation(functions.unconstrain(values))))
    assert moved >= result.loglik - 1e-6


# ---------------------------------------------------------------------------- smoothing bias
@pytest.mark.parametrize("family", ["normal", "gumbel"])
def test_smoothed_loglik_approaches_quadrature(x64, family):
    """At the true parameters, the smoothed log-likelihood approaches quadrature as tau falls and S grows."""
    data = simulate_heteroscedastic(300, family, [1.0, 0.6, 1.8], 1.0, seed=4)
    model_class = HEV if family == "gumbel" else HeteroscedasticProbit
    values = {"beta": np.array([0.4, -0.3, 1.0]), "scale": np.array([0.6, 1.8])}
    exact = likelihood_functions(model_class(SPEC, simulator=Quadrature()).prepare(data))
    reference = float(jnp.sum(exact.per_observation(exact.unconstrain(values))))
    gaps = []
    for tau, n_draws in [(1.0, 50), (0.3, 400), (0.1, 3000)]:
        smoothed = model_class(SPEC, simulator=Smoothed(tau=tau, n_draws=n_draws, key=1))
        functions = likelihood_functions(smoothed.prepare(data))
        loglik = float(jnp.sum(functions.per_observation(functions.unconstrain(values))))
        gaps.append(abs(loglik - reference))
    assert gaps[1] < gaps[0]
    assert gaps[2] < gaps[1]
    # Measured gaps (seed 4): 14.8, 0.91, 0.086 (Normal) and 6.4, 0.43, 0.001 (Gumbel). At
    # tau = 0.1 and S = 3000 the remaining bias is below 0.2 log-likelihood units.
    assert gaps[2] < 0.2


@pytest.mark.slow
@pytest.mark.parametrize("family", ["normal", "gumbel"])
def test_smoothed_fit_approaches_quadrature_fit(x64, family):
    """Smoothed fits: the log-likelihood and the estimates approach the quadrature fit."""
    data = simulate_heteroscedastic(500, family, [1.0, 0.6, 1.8], 1.0, seed=5)
    model_class = HEV if family == "gumbel" else HeteroscedasticProbit
    exact = model_class(SPEC, simulator=Quadrature()).fit(data)
    gaps, distances = [], []
    for tau, n_draws in [(1.0, 50), (0.3, 400), (0.1, 3000)]:
        fit = model_class(SPEC, simulator=Smoothed(tau=tau, n_draws=n_draws, key=1)).fit(data)
        gaps.append(abs(fit.loglik - exact.loglik))
        distances.append(float(np.max(np.abs(fit.estimates - exact.estimates) / exact.std_errors)))
    # The smoothing bias and the simulation bias of the log can cancel at an intermediate
    # setting, so only the end points are compared.
    assert gaps[2] < gaps[0] / 10
    assert distances[2] < distances[0]
    assert distances[2] < 0.25  # within a quarter of a standard error
