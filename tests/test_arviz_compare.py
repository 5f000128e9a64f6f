"""LOO comparison of Bayesian fits: HEV against logit on data simulated from a HEV model."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import discrete_choice as dc
from discrete_choice.inference._arviz import loo_compare
from discrete_choice.inference.svi import fit_svi
from discrete_choice.models.heteroscedastic import HEV

N_OBS = 1000
N_SAMPLES = 400
# Scales far from equal make the logit clearly worse: with these, elpd_loo differs by about
# 25 with a standard error of about 7 (measured with seed 0 while writing this test).
SCALES = np.array([1.0, 0.3, 3.0])
# A coarser rule than Quadrature's default: 11 breakpoints per alternative and 3 nodes per
# panel. On these data its total log-likelihood is within 3e-3 nats of the default rule's at the
# true and at a distant parameter point, and its gradient is about 30 times faster (measured on
# a shared 2-core machine). That keeps SVI on a HEV model inside the default suite.
COARSE = dc.Quadrature(nodes_per_panel=3,
                       breakpoints={"gumbel": (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 5.5, 8.0,
                                               12.0, 18.0)})


@pytest.fixture(scope="module")
def hev_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N_OBS, 3))
    utility = x + np.array([0.0, 0.5, -0.5])
    choice = np.argmax(utility + SCALES * rng.gumbel(size=(N_OBS, 3)), axis=1)
    return dc.ChoiceData.from_arrays(choice, {"x": x})


def test_loo_ranks_hev_above_logit_on_hev_data(hev_data):
    spec = dc.LinearSpec.from_formula("choice ~ x", base=0)
    settings = {"guide": "multivariate_normal", "num_samples": N_SAMPLES}
    hev = fit_svi(HEV(spec, simulator=COARSE), hev_data, key=jax.random.key(1), **settings)
    logit = fit_svi(dc.Logit(spec), hev_data, key=jax.random.key(2), **settings)

    table = loo_compare({"logit": logit, "hev": hev})
    assert table.index[0] == "hev"
    assert table.loc["logit", "elpd_diff"] > 2 * table.loc["logit", "dse"]
    # One pointwise log-likelihood per choice situation.
    idata = hev.to_inference_data()
    assert idata.log_likelihood["choice"].shape == (1, N_SAMPLES, N_OBS)
    # The HEV fit finds which scale is smaller and which larger than the base's. The posterior
    # of scale_1 (true 0.3) is wide and skewed: the MLE is 0.23 with a flat likelihood below
    # it, and posterior means of 0.56 to 0.70 were measured, so only its side of 1 is tested.
    assert hev.posterior_mean["scale_1"] < 1.0
    assert hev.posterior_mean["scale_2"] > 1.8


def test_loo_compare_rejects_bad_input():
    with pytest.raises(ValueError, match="at least two fits"):
        loo_compare({"one": object()})
    with pytest.raises(TypeError, match="maximum-likelihood fits have no posterior"):
        loo_compare({"a": object(), "b": object()})
