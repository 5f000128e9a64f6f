"""Multinomial logit by maximum likelihood against independent references, and its properties."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import discrete_choice as dc
from discrete_choice import FewClustersWarning, IdentificationWarning
from discrete_choice.inference import likelihood_functions
from discrete_choice.models import ChoiceModel
from discrete_choice.noise import Noise

REFERENCES = Path(__file__).parent / "references"


@pytest.fixture(scope="module")
def travel():
    return dc.load_dataset("travel_mode")


@pytest.fixture(scope="module")
def travel_fit(travel):
    spec = dc.LinearSpec.from_formula("choice ~ gc + ttme | hinc[air]", base="car")
    return dc.Logit(spec).fit(travel.data)


def test_travel_mode_logit_matches_reference(travel_fit):
    """Reference: tests/references/modechoice_logit_reference.py, an independent NumPy/SciPy
    likelihood with analytic derivatives maximised to a gradient norm below 1e-10.

    Tolerances: 1e-6 relative in estimates and 1e-4 relative in standard errors; both fits
    stop at gradients far below what those tolerances need.
    """
    reference = json.loads((REFERENCES / "modechoice_logit.json").read_text())
    names = reference["parameter_names"]
    assert list(travel_fit.params.index) == names
    np.testing.assert_allclose(travel_fit.params[names],
                               [reference["estimates"][n] for n in names], rtol=1e-6)
    np.testing.assert_allclose(travel_fit.std_errors[names],
                               [reference["std_errors"][n] for n in names], rtol=1e-4)
    np.testing.assert_allclose(travel_fit.robust_std_errors[names],
                               [reference["robust_std_errors"][n] for n in names], rtol=1e-4)
    assert travel_fit.loglik == pytest.approx(reference["loglik"], abs=1e-8)
    assert travel_fit.loglik_null == pytest.approx(reference["loglik_zero"], abs=1e-8)
    assert travel_fit.loglik_constants == pytest.approx(reference["loglik_constants_only"],
                                                        abs=1e-7)
    assert travel_fit.converged


def test_travel_mode_logit_matches_greene(travel_fit):
    """Greene, Econometric Analysis (conditional logit on this survey): the published table
    rounds estimates to 4 significant digits and gives log-likelihood -199.128."""
    published = {"ASC_air": 5.207, "ASC_train": 3.869, "ASC_bus": 3.163, "gc": -0.01550,
                 "ttme": -0.09612, "hinc_air": 0.01329}
    for name, value in published.items():
        assert travel_fit.params[name] == pytest.approx(value, rel=5e-4), name
    assert travel_fit.loglik == pytest.approx(-199.128, abs=5e-4)


def test_individual_part_matches_statsmodels_mnlogit(travel):
    """Reference: statsmodels MNLogit (tests/references/modechoice_mnlogit_reference.py).

    Tolerances: statsmodels' Newton stops at its default tolerance, so 1e-5 relative.
    """
    reference = json.loads((REFERENCES / "modechoice_mnlogit.json").read_text())
    spec = dc.LinearSpec(individual={"hinc": None}, base="car")
    result = dc.Logit(spec).fit(travel.data)
    for name in reference["parameter_names"]:
        assert result.params[name] == pytest.approx(reference["estimates"][name], rel=1e-5)
        assert result.std_errors[name] == pytest.approx(reference["std_errors"][name], rel=1e-4)
    assert result.loglik == pytest.approx(reference["loglik"], abs=1e-6)


def test_constants_only_closed_form(travel):
    """With every alternative available, the constants-only MLE reproduces the shares:
    ASC_j = log(n_j / n_base) and loglik = sum_j n_j log(n_j / N)."""
    result = dc.Logit(dc.LinearSpec(base="car")).fit(travel.data)
    counts = np.bincount(travel.data.choice, minlength=4).astype(float)
    alternatives = list(travel.data.alternatives)
    for j, alt in enumerate(alternatives):
        if alt != "car":
            expected = np.log(counts[j] / counts[alternatives.index("car")])
            assert result.params[f"ASC_{alt}"] == pytest.approx(expected, abs=1e-8)
    assert result.loglik == pytest.approx(np.sum(counts * np.log(counts / counts.sum())),
                                          abs=1e-9)
    assert result.loglik_constants == pytest.approx(result.loglik, abs=1e-9)


# --------------------------------------------------------------------------- invariances
def _fit_long(table: pd.DataFrame, base) -> dc.MLEResults:
    data = dc.ChoiceData.from_long(table, obs="individual", alt="mode", chosen="choice",
                                   variables=["gc", "ttme", "hinc"])
    spec = dc.LinearSpec(generic=("gc", "ttme"), individual={"hinc": None}, base=base)
    return dc.Logit(spec).fit(data)


def test_estimates_invariant_to_row_order(travel):
    table = travel.frame
    original = _fit_long(table, "car")
    shuffled = _fit_long(table.sample(frac=1.0, random_state=3), "car")
    pd.testing.assert_series_equal(original.params, shuffled.params, rtol=1e-9)
    assert original.loglik == pytest.approx(shuffled.loglik, abs=1e-10)


@pytest.mark.parametrize("codes", [
    {"air": 0, "train": 1, "bus": 2, "car": 3},
    {"air": 1, "train": 2, "bus": 3, "car": 4},
    {"air": 0, "train": 7, "bus": 42, "car": 99},
    {"air": "A", "train": "T", "bus": "B", "car": "C"},
], ids=["zero-based", "one-based", "sparse", "strings"])
def test_estimates_invariant_to_label_coding(travel, codes):
    """Alternatives coded as {0..3}, {1..4}, sparse integers or strings, and
    situation ids of another type, give identical fits whose outputs carry the labels."""
    reference = _fit_long(travel.frame, "car")
    table = travel.frame.assign(mode=travel.frame["mode"].map(codes),
                                individual="p" + travel.frame["individual"].astype(str))
    recoded = _fit_long(table, codes["car"])
    assert recoded.loglik == pytest.approx(reference.loglik, abs=1e-10)
    for name, value in reference.params.items():
        for label, code in codes.items():
            name = name.replace(f"_{label}", f"_{code}")
        assert recoded.params[name] == pytest.approx(value, rel=1e-8, abs=1e-12)
    assert set(recoded.alternatives) == set(codes.values())
    probabilities = recoded.predict_proba()
    assert set(probabilities.columns) == set(codes.values())
    assert probabilities.index[0] == "p1"


# --------------------------------------------------------------------------- properties
def simulate_logit(n_obs: int, beta: np.ndarray, seed: int, n_alts: int = 3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_obs, n_alts, len(beta)))
    utility = x @ beta + rng.gumbel(size=(n_obs, n_alts))
    variables = {f"x{k}": x[..., k] for k in range(len(beta))}
    return dc.ChoiceData.from_arrays(utility.argmax(axis=1), variables)


def test_parameter_recovery_from_simulated_logit():
    truth = np.array([1.0, -0.5])
    data = simulate_logit(5000, truth, seed=11)
    result = dc.Logit(dc.LinearSpec(generic=("x0", "x1"), constants=False)).fit(data)
    z = (result.params.to_numpy() - truth) / result.std_errors.to_numpy()
    assert np.all(np.abs(z) < 4), z  # a 4-sigma miss has probability below 1e-4 per parameter


def test_gradient_matches_finite_differences(travel):
    spec = dc.LinearSpec.from_formula("choice ~ gc + ttme | hinc[air]", base="car")
    with jax.enable_x64(True):
        functions = likelihood_functions(dc.Logit(spec).prepare(travel.data))

        def loglik(theta):
            return jnp.sum(functions.per_observation(theta))

        theta = jnp.array([1.0, 0.5, 0.2, -0.01, -0.05, 0.01])
        gradient = np.asarray(jax.grad(loglik)(theta))
        step = 1e-6
        numeric = [(loglik(theta.at[k].add(step)) - loglik(theta.at[k].add(-step))) / (2 * step)
                   for k in range(len(theta))]
    np.testing.assert_allclose(gradient, np.asarray(numeric), rtol=1e-6, atol=1e-6)


def test_weights_equal_duplicated_rows():
    data = simulate_logit(400, np.array([0.8]), seed=5)
    weights = np.where(np.arange(400) % 2 == 0, 2.0, 1.0)
    weighted = dc.ChoiceData.from_arrays(data.choice, data.variables, weights=weights)
    rows = np.concatenate([np.arange(400), np.arange(0, 400, 2)])
    duplicated = dc.ChoiceData.from_arrays(data.choice[rows],
                                           {k: v[rows] for k, v in data.variables.items()})
    spec = dc.LinearSpec(generic=("x0",))
    a = dc.Logit(spec).fit(weighted)
    b = dc.Logit(spec).fit(duplicated)
    pd.testing.assert_series_equal(a.params, b.params, rtol=1e-8)
    assert a.loglik == pytest.approx(b.loglik, abs=1e-8)
    pd.testing.assert_series_equal(a.std_errors, b.std_errors, rtol=1e-7)


def test_badly_scaled_covariate_equals_rescaled_fit():
    """Income in the tens of thousands (true coefficient 2e-5) and income / 1e4
    give the same fit: coefficient and standard error scale by 1e-4, log-likelihood equal."""
    rng = np.random.default_rng(2)
    n_obs = 2000
    income = rng.uniform(20_000, 90_000, n_obs)
    utility = np.column_stack([np.zeros(n_obs), 2e-5 * income - 1.0, 0.5 - 1e-5 * income])
    choice = (utility + rng.gumbel(size=(n_obs, 3))).argmax(axis=1)
    raw = dc.ChoiceData.from_arrays(choice, {"income": income})
    scaled = dc.ChoiceData.from_arrays(choice, {"income": income / 1e4})
    spec = dc.LinearSpec(individual={"income": None})
    a = dc.Logit(spec).fit(raw)
    b = dc.Logit(spec).fit(scaled)
    assert a.converged
    assert a.loglik == pytest.approx(b.loglik, abs=1e-8)
    for name in ("income_1", "income_2"):
        assert a.params[name] == pytest.approx(b.params[name] * 1e-4, rel=1e-6)
        assert a.std_errors[name] == pytest.approx(b.std_errors[name] * 1e-4, rel=1e-5)


def test_huge_utilities_give_finite_probabilities():
    """Rows of huge utilities in the logit give (0.7311, 0.2689, 0.0), not 0/0."""
    for row in ([800.0, 799.0, -999.0], [-800.0, -801.0, -2000.0]):
        probabilities = np.asarray(dc.Exact().probabilities(jnp.array([row]), None,
                                                            Noise("gumbel")))
        np.testing.assert_allclose(probabilities[0], [0.7310585786, 0.2689414214, 0.0],
                                   atol=1e-9)


# --------------------------------------------------------------------------- diagnostics
def test_unbalanced_panel_cluster_errors_warn_few_clusters():
    """Persons with 3, 1 and 2 tasks; cluster-robust errors work and warn."""
    rng = np.random.default_rng(4)
    person = np.array([1, 1, 1, 2, 3, 3])
    x = rng.normal(size=(6, 2))
    choice = np.array([0, 1, 0, 1, 1, 0])
    data = dc.ChoiceData.from_arrays(choice, {"x": x}, panel_ids=person)
    with pytest.warns(FewClustersWarning, match="only 3 clusters"):
        result = dc.Logit(dc.LinearSpec(generic=("x",), constants=False)).fit(data)
    assert result.n_clusters == 3
    assert np.isfinite(result.cluster_std_errors["x"])


def separated_data():
    """30 choices among A, B, C; the 10 people with x = 1 all choose A."""
    x = np.r_[np.ones(10), np.zeros(20)]
    choice = np.r_[np.zeros(10, int), np.tile([0, 1, 2, 1, 2], 4)]
    return dc.ChoiceData.from_arrays(choice, {"x": x}, alternatives=("A", "B", "C"))


def test_separation_reported_not_converged():
    data = separated_data()
    spec = dc.LinearSpec(individual={"x": None}, base="A")
    with pytest.warns(IdentificationWarning, match="does not exist"):
        result = dc.Logit(spec).fit(data)
    assert not result.converged
    assert np.isnan(result.std_errors["x_B"])
    assert np.isnan(result.std_errors["x_C"])
    assert not result.to_frame().loc["x_B", "reliable"]
    assert "x_B" in result.message
    assert "Warning" in result.summary().as_text()


@dataclass(frozen=True)
class SummedCoefficients(ChoiceModel):
    """A deliberately unidentified model: V = (b1 + b2) * x, so only the sum is identified."""

    name = "summed"

    def utility_and_noise(self, params, inputs, index):
        beta = params["beta"]
        combined = jnp.stack([beta[0] + beta[1]])
        return self.linear_utility(combined, inputs, index), Noise("gumbel")

    def parameter_blocks(self, design, data):
        from discrete_choice.models import ParameterBlock

        return (ParameterBlock("beta", ("b1", "b2")),)

    def sample_parameters(self, inputs):
        import numpyro

        return {"beta": numpyro.sample("beta", self.priors.coefficient.expand([2]).to_event(1))}

    def default_start(self, prepared):
        return {"beta": np.zeros(2)}


def test_singular_hessian_names_parameters():
    """The warning names the parameters and gives the eigenvalue and condition."""
    data = simulate_logit(300, np.array([0.7]), seed=9)
    model = SummedCoefficients(dc.LinearSpec(generic=("x0",), constants=False))
    with pytest.warns(IdentificationWarning) as record:
        result = model.fit(data)
    message = " ".join(str(w.message) for w in record)
    assert "'b1'" in message
    assert "'b2'" in message
    assert "smallest eigenvalue" in message or "does not decrease" in message
    assert np.isnan(result.std_errors).all()
    assert result.params.sum() == pytest.approx(
        dc.Logit(dc.LinearSpec(generic=("x0",), constants=False)).fit(data).params["x0"],
        rel=1e-6)


# --------------------------------------------------------------------------- results
def test_results_save_load_round_trip(travel_fit, tmp_path):
    path = tmp_path / "fit.json"
    travel_fit.save(path)
    loaded = dc.MLEResults.load(path)
    pd.testing.assert_series_equal(loaded.params, travel_fit.params, rtol=0, atol=0)
    pd.testing.assert_frame_equal(loaded.covariance("robust"), travel_fit.covariance("robust"),
                                  rtol=0, atol=0)
    assert loaded.loglik == travel_fit.loglik
    assert loaded.statistics() == travel_fit.statistics()


def test_summary_formats(travel_fit):
    text = travel_fit.summary().as_text()
    assert "ASC_air" in text
    assert "-199.1284" in text
    assert "<table" in travel_fit.summary().as_html()
    assert "\\begin{" in travel_fit.summary().as_latex()
    frame = travel_fit.to_frame()
    assert list(frame.index) == list(travel_fit.names)
    assert frame["p_value"].between(0, 1).all()


def test_fit_statistics(travel_fit):
    assert travel_fit.aic == pytest.approx(2 * 6 - 2 * travel_fit.loglik)
    assert travel_fit.bic == pytest.approx(6 * np.log(210) - 2 * travel_fit.loglik)
    assert travel_fit.rho_squared == pytest.approx(1 - travel_fit.loglik / travel_fit.loglik_null)
    interval = travel_fit.conf_int(0.95)
    se = travel_fit.std_errors
    np.testing.assert_allclose(interval["upper"] - travel_fit.params, 1.959963985 * se,
                               rtol=1e-8)


def test_predicted_probabilities_labelled(travel_fit, travel):
    probabilities = travel_fit.predict_proba()
    assert list(probabilities.columns) == ["air", "train", "bus", "car"]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-12)
    # At the MLE with constants, mean predicted shares equal observed shares.
    np.testing.assert_allclose(probabilities.mean(axis=0), travel.data.shares(), atol=1e-7)
    assert 0.25 < travel_fit.hit_rate() <= 1.0


def test_fit_does_not_change_global_precision(travel):
    before = jax.config.jax_enable_x64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dc.Logit(dc.LinearSpec(base="car")).fit(travel.data)
    assert jax.config.jax_enable_x64 == before
