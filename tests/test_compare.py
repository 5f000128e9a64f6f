"""Model comparison: table, likelihood-ratio and Vuong tests, nesting rules, the CLI command.

References: the likelihood-ratio p-value is ``scipy.stats.chi2.sf``; the Vuong statistic is
recomputed here from the pointwise log-likelihoods with NumPy; binary logit and probit
log-likelihoods come from ``statsmodels`` (``Logit``, ``Probit``) fitted to the same data.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import statsmodels.api as sm

import discrete_choice as dc
from discrete_choice.cli import main
from discrete_choice.compare import compare, is_nested, lr_test, pointwise_loglik, vuong_test
from discrete_choice.models import (
    HEV,
    HeteroscedasticLogistic,
    HeteroscedasticProbit,
    MultinomialProbit,
    Probit,
)
from discrete_choice.simulators import Exact


@pytest.fixture(scope="module")
def binary_fits():
    """Logit, probit and heteroscedastic probit on simulated binary data with a scale covariate."""
    rng = np.random.default_rng(11)
    n = 400
    x = rng.normal(size=n)
    z = rng.normal(size=n)
    latent = 0.3 + 1.2 * x + np.exp(0.4 * z) * rng.normal(size=n) * np.sqrt(2)
    choice = (latent > 0).astype(int)
    data = dc.ChoiceData.from_arrays(choice, {"x": np.column_stack([np.zeros(n), x]), "z": z},
                                     alternatives=["no", "yes"])
    spec = dc.LinearSpec.from_formula("choice ~ x", base="no")
    fits = {
        "logit": dc.Logit(spec).fit(data),
        "probit": Probit(spec, simulator=Exact()).fit(data),
        "het-probit": HeteroscedasticProbit(spec, simulator=Exact(), alternative_scales=False,
                                            scale_covariates=("z",)).fit(data),
    }
    return data, x, choice, fits


def test_binary_logliks_match_statsmodels(binary_fits):
    _, x, choice, fits = binary_fits
    exog = sm.add_constant(x)
    logit = sm.Logit(choice, exog).fit(disp=0)
    probit = sm.Probit(choice, exog).fit(disp=0)
    # Both maxima are unique and found by Newton steps to a gradient of 1e-7: 1e-6 in loglik.
    assert fits["logit"].loglik == pytest.approx(logit.llf, abs=1e-6)
    assert fits["probit"].loglik == pytest.approx(probit.llf, abs=1e-6)
    # statsmodels' probit fixes the variance of the utility difference to 1; ours gives each
    # alternative unit variance, so the coefficients differ by sqrt(2).
    np.testing.assert_allclose(fits["probit"].estimates / np.sqrt(2), probit.params, rtol=1e-5)


def test_comparison_table(binary_fits):
    _, _, _, fits = binary_fits
    comparison = compare(fits)
    table = comparison.table
    assert list(table.index) == ["logit", "probit", "het-probit"]
    for label, fit in fits.items():
        assert table.loc[label, "loglik"] == fit.loglik
        assert table.loc[label, "n_params"] == fit.n_params
        assert table.loc[label, "aic"] == pytest.approx(2 * fit.n_params - 2 * fit.loglik)
        assert table.loc[label, "bic"] == pytest.approx(
            fit.n_params * math.log(fit.n_obs) - 2 * fit.loglik)
        assert table.loc[label, "rho_squared"] == pytest.approx(1 - fit.loglik / fit.loglik_null)
        assert 0.5 < table.loc[label, "hit_rate"] <= 1.0
    text = comparison.summary()
    assert "probit within het-probit" in text
    assert "logit vs probit" in text


def test_lr_test_of_nested_pair(binary_fits):
    _, _, _, fits = binary_fits
    comparison = compare(fits)
    (test,) = comparison.lr_tests
    assert (test.restricted, test.unrestricted) == ("probit", "het-probit")
    statistic = 2 * (fits["het-probit"].loglik - fits["probit"].loglik)
    assert test.statistic == pytest.approx(statistic)
    assert test.df == 1
    assert test.p_value == pytest.approx(scipy.stats.chi2.sf(statistic, 1))
    # The data were simulated with lnsigma_z = 0.4 on 400 situations: the test rejects.
    assert test.p_value < 0.01


def test_vuong_statistic_by_hand(binary_fits):
    _, _, _, fits = binary_fits
    a, b = fits["logit"], fits["probit"]
    ratios = pointwise_loglik(a) - pointwise_loglik(b)
    assert np.sum(pointwise_loglik(a)) == pytest.approx(a.loglik, abs=1e-8)
    n = ratios.size
    omega = np.std(ratios)  # divisor N: the centred second moment
    expected = np.sum(ratios) / (np.sqrt(n) * omega)  # equal K, so no correction
    test = vuong_test(a, b, correction="none")
    assert test.statistic == pytest.approx(expected, rel=1e-10)
    assert test.p_value == pytest.approx(2 * scipy.stats.norm.sf(abs(expected)))
    assert test.omega == pytest.approx(omega)


def test_vuong_parameter_correction(binary_fits):
    _, _, _, fits = binary_fits
    a, b = fits["het-probit"], fits["logit"]
    ratios = pointwise_loglik(a) - pointwise_loglik(b)
    n = ratios.size
    for correction, penalty in (("bic", 0.5 * math.log(n)), ("aic", 1.0), ("none", 0.0)):
        test = vuong_test(a, b, correction=correction)
        expected = (np.sum(ratios) - penalty) / (np.sqrt(n) * np.std(ratios))
        assert test.statistic == pytest.approx(expected, rel=1e-10), correction


def test_vuong_equivalent_models_undefined(binary_fits):
    _, _, _, fits = binary_fits
    test = vuong_test(fits["logit"], fits["logit"])
    assert math.isnan(test.statistic)
    assert "observationally equivalent" in test.note


def test_vuong_rejects_bad_correction(binary_fits):
    _, _, _, fits = binary_fits
    with pytest.raises(ValueError, match="invalid correction='hqic'"):
        vuong_test(fits["logit"], fits["probit"], correction="hqic")


def test_lr_test_requires_more_parameters(binary_fits):
    _, _, _, fits = binary_fits
    with pytest.raises(ValueError, match="swap the arguments"):
        lr_test(fits["het-probit"], fits["probit"])


def test_compare_rejects_different_data(binary_fits):
    data, _, _, fits = binary_fits
    other = dc.Logit(dc.LinearSpec.from_formula("choice ~ x", base="no")).fit(
        data.subset(np.arange(300)))
    with pytest.raises(ValueError, match="not on the same choice data"):
        compare({"full": fits["logit"], "part": other})


SPEC = dc.LinearSpec.from_formula("choice ~ x")
OTHER_SPEC = dc.LinearSpec.from_formula("choice ~ x + w")

NESTING_CASES = [
    (dc.Logit(SPEC), HEV(SPEC), True),
    (dc.Logit(SPEC), HEV(SPEC, alternative_scales=False, scale_covariates=("z",)), True),
    (dc.Logit(SPEC), HeteroscedasticProbit(SPEC), False),
    (Probit(SPEC), HeteroscedasticProbit(SPEC), True),
    (Probit(SPEC), MultinomialProbit(SPEC), True),
    (HeteroscedasticProbit(SPEC), MultinomialProbit(SPEC), True),
    (HeteroscedasticProbit(SPEC, scale_covariates=("z",)), MultinomialProbit(SPEC), False),
    (HEV(SPEC), HEV(SPEC, scale_covariates=("z",)), True),
    (HEV(SPEC, scale_covariates=("z",)), HEV(SPEC), False),
    (HeteroscedasticLogistic(SPEC), HEV(SPEC), False),
    (dc.Logit(SPEC), Probit(SPEC), False),
    (dc.Logit(SPEC), HEV(OTHER_SPEC), False),
]


@pytest.mark.parametrize("restricted, unrestricted, expected", NESTING_CASES)
def test_nesting_rules(restricted, unrestricted, expected):
    assert is_nested(restricted, unrestricted) is expected


# ---------------------------------------------------------------------------- command line
@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    rng = np.random.default_rng(5)
    rows = []
    for person in range(150):
        costs = rng.uniform(1, 5, size=3)
        utility = np.array([0.0, 0.3, -0.2]) - 0.8 * costs + rng.gumbel(size=3)
        chosen = int(np.argmax(utility))
        for j, mode in enumerate(["bus", "car", "rail"]):
            rows.append({"id": person, "mode": mode, "chosen": int(j == chosen), "cost": costs[j]})
    path = tmp_path_factory.mktemp("compare") / "modes.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_compare_command_json(small_csv, capsys):
    status = main(["compare", str(small_csv), "--formula", "choice ~ cost", "--obs", "id",
                   "--alt", "mode", "--chosen", "chosen", "--models", "logit,probit,hev",
                   "--output", "json", "--quiet"])
    assert status == 0
    payload = json.loads(capsys.readouterr().out)
    assert [m["label"] for m in payload["models"]] == ["logit", "probit", "hev"]
    for entry in payload["models"]:
        for key in ("model", "loglik", "n_obs", "n_params", "converged", "parameters",
                    "simulator", "temperature", "n_draws"):
            assert key in entry, key
        assert set(entry["parameters"]["cost"]) >= {"estimate", "std_error", "robust_std_error"}
    assert payload["models"][1]["simulator"] == "quadrature"
    assert payload["lr_tests"][0]["restricted"] == "logit"
    assert payload["lr_tests"][0]["unrestricted"] == "hev"
    assert payload["vuong_tests"][0]["model_a"] == "logit"


def test_compare_command_unknown_model(small_csv, capsys):
    status = main(["compare", str(small_csv), "--formula", "choice ~ cost", "--obs", "id",
                   "--alt", "mode", "--chosen", "chosen", "--models", "logit,tobit", "--quiet"])
    assert status == 2
    error = capsys.readouterr().err
    assert "tobit" in error
    assert "het-probit" in error


def test_compare_help_lists_models(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    text = capsys.readouterr().out
    for name in ("logit", "probit", "hev", "het-probit", "het-logistic", "mnp"):
        assert name in text
