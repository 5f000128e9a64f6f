"""NUTS on the travel-mode survey's logit, diagnostics, and the ArviZ conversion of its draws."""

from __future__ import annotations

import arviz as az
import jax
import numpy as np
import pytest

import discrete_choice as dc
from discrete_choice.exceptions import SamplingWarning
from discrete_choice.inference.mcmc import MCMCOptions, _check_diagnostics, fit_mcmc

N_WARMUP = 300
N_SAMPLES = 300


@pytest.fixture(scope="module")
def travel_nuts():
    dataset = dc.load_dataset("travel_mode")
    spec = dc.LinearSpec.from_formula("choice ~ gc + ttme | hinc[air]", base="car")
    model = dc.Logit(spec)
    # Reduced run for the default suite: 2 chains of 300 draws. The ESS threshold is relaxed to
    # match the short run.
    fit = fit_mcmc(model, dataset.data, key=jax.random.key(0), num_chains=2,
                   num_warmup=N_WARMUP, num_samples=N_SAMPLES, max_r_hat=1.05,
                   min_ess_per_chain=25)
    return model, dataset.data, fit


def test_travel_mode_nuts_converges(travel_nuts):
    _, _, fit = travel_nuts
    assert fit.n_chains == 2
    assert fit.n_draws == N_SAMPLES
    for name, value in fit.r_hat.items():
        assert value < 1.05, f"R-hat of {name} is {value:.3f}"
    assert fit.n_divergent == 0
    assert fit.converged


def test_travel_mode_posterior_near_mle(travel_nuts):
    # 210 situations and a Normal(0, 5) prior: the posterior means sit within 0.3 posterior sd
    # of the MLE (mean-mode gap and Monte Carlo error of a few hundred effective draws).
    model, data, fit = travel_nuts
    mle = model.fit(data)
    standardised = (fit.posterior_mean - mle.params) / fit.posterior_sd
    for name, value in standardised.items():
        assert abs(value) < 0.3, f"{name}: posterior mean is {value:.3f} sd from the MLE"


def test_nuts_result_contents(travel_nuts):
    _, data, fit = travel_nuts
    assert fit.method == "nuts"
    assert fit.samples["beta"].shape == (2, N_SAMPLES, 6)
    assert fit.loglik_pointwise.shape == (2, N_SAMPLES, data.n_obs)
    for name in ("lp", "diverging", "energy", "n_steps", "tree_depth", "acceptance_rate",
                 "step_size"):
        assert fit.sample_stats[name].shape == (2, N_SAMPLES), name
    table = fit.summary()
    assert list(table.columns) == ["mean", "sd", "2.5%", "97.5%", "r_hat", "ess"]
    assert list(table.index) == list(fit.names)


def test_pointwise_loglik_sums_to_loglik(travel_nuts):
    # The pointwise values at the posterior mean add up to the log-likelihood that maximum
    # likelihood's own code evaluates at the same parameters.
    model, data, fit = travel_nuts
    from discrete_choice.inference.mle import likelihood_functions

    with jax.enable_x64(True):
        functions = likelihood_functions(model.prepare(data))
        reference = float(np.sum(functions.per_observation(
            functions.unconstrain({"beta": fit.posterior_mean.to_numpy()}))))
    assert fit.loglik_at_mean == pytest.approx(reference, rel=1e-10)
    assert fit.loglik_mean < fit.loglik_at_mean  # Jensen: log-likelihood is concave for logit


def test_inference_data_groups(travel_nuts):
    _, data, fit = travel_nuts
    idata = fit.to_inference_data()
    for group in ("posterior", "log_likelihood", "observed_data", "sample_stats"):
        assert hasattr(idata, group), group
    assert idata.log_likelihood["choice"].shape == (2, N_SAMPLES, data.n_obs)
    assert idata.observed_data["choice"].shape == (data.n_obs,)
    assert list(idata.posterior["beta"].coords["beta_parameter"].values) == list(fit.names)
    np.testing.assert_array_equal(idata.observed_data["choice"].values, data.choice)


def test_arviz_summary_and_loo(travel_nuts):
    _, data, fit = travel_nuts
    idata = fit.to_inference_data()
    table = az.summary(idata)
    assert len(table) == 6
    np.testing.assert_allclose(table["mean"].to_numpy(), fit.posterior_mean.to_numpy(), atol=1e-3)
    loo = az.loo(idata, pointwise=True)
    assert loo["loo_i"].shape == (data.n_obs,)
    # elpd_loo cannot exceed the log pointwise predictive density it corrects.
    lppd = np.sum(np.log(np.mean(np.exp(fit.loglik_pointwise.reshape(-1, data.n_obs)), axis=0)))
    assert loo["elpd_loo"] < lppd


def test_poor_diagnostics_warn():
    options = MCMCOptions(num_chains=2, num_samples=100)
    notes = _check_diagnostics(("a", "b"), np.array([1.2, 1.0]), np.array([500.0, 20.0]), 3,
                               options)
    assert len(notes) == 3
    assert "R-hat above 1.01 for a (1.200)" in notes[0]
    assert "b (20)" in notes[1]
    assert "3 of 200 transitions" in notes[2]
    assert issubclass(SamplingWarning, dc.DiscreteChoiceWarning)


def test_short_run_warns():
    dataset = dc.load_dataset("travel_mode")
    model = dc.Logit(dc.LinearSpec.from_formula("choice ~ gc", base="car"))
    with pytest.warns(SamplingWarning):
        # Five warmup steps cannot adapt the step size; a shallow tree keeps the run short.
        fit = fit_mcmc(model, dataset.data, key=jax.random.key(1), num_chains=2, num_warmup=5,
                       num_samples=10, max_tree_depth=3)
    assert not fit.converged
    assert fit.notes


@pytest.mark.parametrize(("field", "value", "message"), [
    ("chain_method", "threads", "expected one of"),
    ("init", "zeros", "expected one of"),
    ("num_chains", 0, "num_chains must be a positive integer"),
    ("target_accept_prob", 1.5, "target_accept_prob must be in"),
])
def test_invalid_options_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        MCMCOptions(**{field: value})


def test_cli_table_and_json_of_nuts_fit(travel_nuts):
    from discrete_choice.cli._bayesian import bayesian_table, bayesian_to_json

    _, _, fit = travel_nuts
    text = bayesian_table(fit)
    assert "by NUTS (2 chains of 300 draws" in text
    for name in fit.names:
        assert name in text
    payload = bayesian_to_json(fit)
    assert payload["parameters"]["gc"]["estimate"] == pytest.approx(fit.posterior_mean["gc"])
    assert payload["parameters"]["gc"]["std_error"] == pytest.approx(fit.posterior_sd["gc"])
    assert payload["loglik"] == pytest.approx(fit.loglik_at_mean)
