"""Temperature tools: sweeps, tuning, bias and gradient variance, annealing and plots.

References: the logit log-likelihood of the travel-mode survey (tests/references, from
statsmodels and an independent NumPy fit). SciPy quadrature of the logistic-normal integral
gives the expected smoothed probability of a binary probit. Simulations come from a
heteroscedastic probit defined below, a small ChoiceModel subclass, so these tests do not
depend on other model families.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pandas as pd
import pytest
import scipy.integrate
import scipy.special
import scipy.stats

import discrete_choice as dc
from discrete_choice import temperature
from discrete_choice.models._base import ChoiceModel, ParameterBlock

REFERENCES = Path(__file__).parent / "references"


@dataclass(frozen=True)
class HeteroscedasticProbit(ChoiceModel):
    """Independent Normal noise with scale 1 on the first alternative and a free scale on each other."""

    name: ClassVar[str] = "heteroscedastic probit (test model)"

    def parameter_blocks(self, design, data):
        labels = tuple(f"scale_{label}" for label in data.alternatives[1:])
        return (ParameterBlock("beta", design.names), ParameterBlock("scale", labels))

    def sample_parameters(self, inputs):
        params = super().sample_parameters(inputs)
        n_alts = inputs.available.shape[1]
        params["scale"] = numpyro.sample(
            "scale", dist.LogNormal(0.0, 1.0).expand([n_alts - 1]).to_event(1))
        return params

    def utility_and_noise(self, params, inputs, index):
        scale = params["scale"]
        scale = jnp.concatenate([jnp.ones(1, dtype=scale.dtype), scale])
        return self.linear_utility(params["beta"], inputs, index), dc.Noise("normal", scale=scale)

    def default_start(self, prepared):
        n_alts = prepared.inputs.available.shape[1]
        return {"beta": np.zeros(prepared.inputs.design.shape[-1]), "scale": np.ones(n_alts - 1)}


def simulate_probit(n_obs: int, scales, beta: float = 1.0, seed: int = 0) -> dc.ChoiceData:
    """Choices from ``U_nj = beta x_nj + scale_j z_nj`` with ``x, z ~ N(0, 1)``."""
    rng = np.random.default_rng(seed)
    scales = np.asarray(scales, dtype=np.float64)
    x = rng.normal(size=(n_obs, len(scales)))
    utility = beta * x + scales * rng.normal(size=x.shape)
    return dc.ChoiceData.from_arrays(np.argmax(utility, axis=1), {"x": x})


@pytest.fixture(scope="module")
def travel():
    dataset = dc.load_dataset("travel_mode")
    spec = dc.LinearSpec.from_formula("choice ~ gc + ttme | hinc[air]", base="car")
    return dc.Logit(spec), dataset.data


@pytest.fixture(scope="module")
def logit_reference():
    return json.loads((REFERENCES / "modechoice_logit.json").read_text())


# ---------------------------------------------------------------------------- sweep
def test_sweep_table_and_fit_mle_agree(travel):
    model, data = travel
    frame = temperature.temperature_sweep(model, data, taus=[1.0, 0.5], n_draws=[8],
                                          keys=[3], evaluate_with=dc.Exact())
    assert len(frame) == 2
    for column in ("scheme", "n_draws", "key", "tau", "train_loglik", "validation_loglik",
                   "validation_loglik_mean", "hit_rate", "converged", "gradient_max",
                   "iterations"):
        assert column in frame.columns
    estimates = temperature.estimates_from(frame)
    assert list(estimates.columns) == ["ASC_air", "ASC_train", "ASC_bus", "gc", "ttme", "hinc_air"]
    assert (frame["gradient_max"] < 1e-5).all()
    assert np.allclose(frame["validation_loglik_mean"] * data.n_obs, frame["validation_loglik"])
    # The exact logit log-likelihood is maximised by the exact MLE (tests/references), so no
    # smoothed fit scores above it.
    assert (frame["validation_loglik"] <= -199.1283687 + 1e-6).all()

    simulator = dc.Smoothed(tau=0.5, n_draws=8, key=3)
    result = type(model)(model.spec, simulator=simulator).fit(data)
    # Both maximise the same smoothed likelihood to a gradient of about 1e-7 per situation;
    # 1e-4 relative on estimates of order 0.01-5 leaves room for the different start values.
    swept = estimates.iloc[0]
    np.testing.assert_allclose(swept[list(result.names)].to_numpy(), result.estimates,
                               rtol=1e-4, atol=1e-6)
    assert frame["train_loglik"].iloc[0] == pytest.approx(result.loglik, abs=1e-6)


# ---------------------------------------------------------------------------- bias and variance
def test_bias_variance_logit_trends(travel, logit_reference):
    model, data = travel
    exact = model.fit(data)
    frame = temperature.simulator_bias_variance(
        model, data, exact, taus=[0.03, 0.3, 1.0], n_draws=[10, 100], schemes="pseudo",
        keys=range(6), reference=dc.Exact())
    assert frame["loglik_reference"].iloc[0] == pytest.approx(logit_reference["loglik"], abs=1e-4)

    def row(draws, tau):
        return frame[(frame["n_draws"] == draws) & (frame["tau"] == tau)].iloc[0]

    # The expected smoothed probability does not depend on S; its bias shrinks with tau.
    # Monte Carlo error of prob_bias with 6 keys x 100 draws x 210 situations is about 2e-3.
    assert abs(row(100, 1.0)["prob_bias"]) > abs(row(100, 0.3)["prob_bias"]) + 0.02
    assert abs(row(100, 0.3)["prob_bias"]) > abs(row(100, 0.03)["prob_bias"]) + 0.002
    for tau in (0.3, 1.0):
        # With independent draws, ten times the draws divide the gradient variance by about
        # ten; 2.5 leaves room for the error of a variance from 6 keys. At tau = 0.03 the gradient is
        # dominated by rare draws and the ratio measured is only about 1.3, so it is not
        # asserted there.
        assert row(10, tau)["grad_variance"] > 2.5 * row(100, tau)["grad_variance"]
    for tau in (0.03, 0.3, 1.0):
        assert row(10, tau)["loglik_sd"] > row(100, tau)["loglik_sd"]
    for draws in (10, 100):
        assert row(draws, 0.03)["grad_variance"] > row(draws, 0.3)["grad_variance"]
        assert row(draws, 0.3)["grad_variance"] > row(draws, 1.0)["grad_variance"]


def test_bias_equals_logistic_normal_integral(x64):
    # Binary probit with unit scales: P_1 = Phi(d / sqrt(2)) with d = V_1 - V_0, and the
    # expected smoothed probability is E[sigmoid((d + sqrt(2) z) / tau)], z ~ N(0, 1).
    data = simulate_probit(60, [1.0, 1.0], seed=4)
    spec = dc.LinearSpec.from_formula("choice ~ x | 0")
    model = HeteroscedasticProbit(spec)
    params = {"x": 0.8, "scale_1": 1.0}
    tau = 0.5
    frame = temperature.simulator_bias_variance(
        model, data, params, taus=[tau], n_draws=[4000], schemes="pseudo", keys=range(4),
        reference=dc.Exact())
    x = data.variable("x")
    difference = 0.8 * (x[:, 1] - x[:, 0])
    biases = []
    for d, chosen in zip(difference, data.choice):
        sign = 1.0 if chosen == 1 else -1.0
        smoothed, _ = scipy.integrate.quad(
            lambda z: scipy.special.expit(sign * (d + np.sqrt(2) * z) / tau)
            * scipy.stats.norm.pdf(z), -12, 12, epsabs=1e-12)
        biases.append(smoothed - scipy.stats.norm.cdf(sign * d / np.sqrt(2)))
    # Monte Carlo error of the mean over 16000 draws and 60 situations of a probability
    # with spread below 0.5: under 0.5 / sqrt(16000 * 60) = 5e-4; 2e-3 is four of those.
    assert frame["prob_bias"].iloc[0] == pytest.approx(np.mean(biases), abs=2e-3)
    assert abs(np.mean(biases)) > 0.01  # the check can fail: the bias itself is sizeable


def test_bias_variance_needs_two_keys(travel):
    model, data = travel
    with pytest.raises(ValueError, match="at least two seeds"):
        temperature.simulator_bias_variance(model, data, np.zeros(6), taus=[1.0], keys=[0],
                                            reference=dc.Exact())


def test_params_missing_label_is_named(travel):
    model, data = travel
    with pytest.raises(ValueError, match="hinc_air"):
        temperature.simulator_bias_variance(model, data, {"gc": 0.0}, taus=[1.0],
                                            reference=dc.Exact())


# ---------------------------------------------------------------------------- tuning
def curve_of(sweep: pd.DataFrame) -> pd.DataFrame:
    curve = sweep.groupby("tau")["validation_loglik"].agg(["mean", "std", "count"])
    curve["se"] = curve["std"] / np.sqrt(curve["count"])
    return curve


@pytest.mark.slow
def test_tuned_tau_within_monte_carlo_error():
    # Heteroscedastic probit (scales 1, 0.5, 2): tune on keys 0-2, then score every grid
    # temperature again with fresh keys 10-12. The tuned temperature must be within Monte
    # Carlo error of the best one on the fresh keys; they are independent of the tuning, so
    # this check can fail.
    data = simulate_probit(500, [1.0, 0.5, 2.0], beta=1.5, seed=1)
    spec = dc.LinearSpec.from_formula("choice ~ x | 0")
    model = HeteroscedasticProbit(spec)
    train, held = temperature.split_validation(data, 0.3, seed=2)
    taus = [0.03, 0.1, 0.3, 1.0, 3.0]
    tuned = temperature.tune_temperature(model, train, taus=taus, n_draws=20, keys=(0, 1, 2),
                                         validation=held, evaluate_with=dc.Quadrature(),
                                         refit=False)
    fresh = temperature.temperature_sweep(model, train, taus=taus, n_draws=20, keys=(10, 11, 12),
                                          validation=held, evaluate_with=dc.Quadrature())
    curve = curve_of(fresh)
    best = curve["mean"].idxmax()
    margin = 2 * np.hypot(curve.loc[best, "se"], curve.loc[tuned.tau, "se"])
    assert curve.loc[tuned.tau, "mean"] >= curve.loc[best, "mean"] - margin
    # The grid is wide enough for the trade-off to show: the warmest temperature is worse.
    assert curve.loc[3.0, "mean"] < curve["mean"].max() - margin
    assert tuned.curve["n_keys"].eq(3).all()


@pytest.mark.slow
def test_cross_validation_sums_folds(travel):
    model, data = travel
    tuned = temperature.tune_temperature(model, data, taus=[1.0, 0.3], n_draws=5, keys=(0, 1),
                                         folds=2, evaluate_with=dc.Exact(), refit=False)
    assert set(tuned.sweep["fold"]) == {0, 1}
    by_key = tuned.sweep.groupby(["tau", "key"])["validation_loglik"].sum()
    expected = by_key.groupby("tau").mean()
    np.testing.assert_allclose(tuned.curve.set_index("tau")["validation_loglik"],
                               expected.loc[tuned.curve["tau"]].to_numpy())
    assert tuned.tau == tuned.curve.loc[tuned.curve["validation_loglik"].idxmax(), "tau"]


def test_one_se_rule_prefers_warmer():
    curve_rows = [(0.1, -100.0, 1.0), (0.3, -100.5, 1.0), (1.0, -103.0, 1.0)]
    # A hand-made sweep with two keys per temperature, fed to the aggregation that
    # tune_temperature uses.
    sweep = pd.DataFrame([{"tau": tau, "key": key, "fold": 0, "hit_rate": 0.5,
                           "validation_loglik": mean + (key - 0.5) * 2 * se}
                          for tau, mean, se in curve_rows for key in (0, 1)])
    best = temperature._choose(sweep, "best")
    one_se = temperature._choose(sweep, "one_se")
    assert best[0] == 0.1
    assert one_se[0] == 0.3


def test_split_validation_keeps_panels_together():
    data = simulate_probit(40, [1.0, 1.0], seed=0)
    panel = np.repeat(np.arange(10), 4)
    data = dc.ChoiceData.from_arrays(data.choice, {"x": data.variable("x")}, panel_ids=panel)
    train, held = temperature.split_validation(data, 0.3, seed=1)
    assert train.n_obs + held.n_obs == 40
    assert held.n_obs == 12  # three of ten decision makers, four situations each
    assert not set(train.panel_ids) & set(held.panel_ids)
    with pytest.raises(ValueError, match="fraction"):
        temperature.split_validation(data, 1.5)


@pytest.mark.parametrize(("argument", "value", "message"), [
    ("taus", [0.1, -1.0], "finite and > 0"),
    ("taus", [], "at least one temperature"),
    ("n_draws", [0], "positive integer"),
    ("schemes", ["random"], "expected one of"),
    ("keys", [0.5], "integer seeds"),
])
def test_sweep_rejects_invalid_grid(travel, argument, value, message):
    model, data = travel
    grid = {"taus": [1.0], "n_draws": [5], "schemes": "halton", "keys": [0]}
    grid[argument] = value
    with pytest.raises(ValueError, match=message):
        temperature.temperature_sweep(model, data, **grid)


# ---------------------------------------------------------------------------- annealing
@pytest.mark.slow
def test_annealing_finishes_cold(travel):
    model, data = travel
    annealed = temperature.fit_annealed(model, data, taus=[0.1, 1.0, 0.3], n_draws=10, key=0)
    assert annealed.path["tau"].tolist() == [1.0, 0.3, 0.1]
    assert annealed.result.simulator["tau"] == 0.1
    assert annealed.result.converged
    last = temperature.estimates_from(annealed.path).iloc[-1]
    np.testing.assert_allclose(last[list(annealed.result.names)].to_numpy(),
                               annealed.result.estimates)


# ---------------------------------------------------------------------------- plots
def test_plot_one_line_per_draw_count():
    matplotlib = pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    del matplotlib
    frame = pd.DataFrame({"tau": [0.1, 1.0] * 4, "n_draws": [10] * 4 + [100] * 4,
                          "key": [0, 0, 1, 1] * 2, "grad_variance": np.arange(8.0)})
    ax = Figure().subplots()
    returned = dc.plots.plot_temperature(frame, "grad_variance", ax=ax)
    assert returned is ax
    assert ax.get_xscale() == "log"
    assert len(ax.get_lines()) == 2
    assert len(ax.collections) == 2  # one band per line
    means = ax.get_lines()[0].get_ydata()
    np.testing.assert_allclose(means, [1.0, 2.0])  # mean over the two keys of (0, 2) and (1, 3)
    with pytest.raises(ValueError, match="missing_column"):
        dc.plots.plot_temperature(frame, "missing_column", ax=ax)


def test_module_import_leaves_x64_off():
    assert not jax.config.jax_enable_x64


def test_annealing_rejects_unknown_start(travel):
    model, data = travel
    with pytest.raises(ValueError, match="unknown parameters \\['foo'\\]"):
        temperature.fit_annealed(model, data, start={"foo": 1.0})


def test_invalid_reference_raises(travel):
    from discrete_choice.simulators._base import Simulator, pytree_dataclass

    @pytree_dataclass
    class Broken(Simulator):
        """Returns log probabilities of +0.5, which no valid simulator can."""

        def log_probabilities(self, utility, available, noise):
            return jnp.full(utility.shape, 0.5, dtype=utility.dtype)

    model, data = travel
    with pytest.raises(FloatingPointError, match="reference simulator Broken"):
        temperature.simulator_bias_variance(model, data, np.zeros(6), taus=[1.0],
                                            keys=[0, 1], reference=Broken())
