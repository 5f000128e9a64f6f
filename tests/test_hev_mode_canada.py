"""HEV on Bhat's (1995) Canadian intercity data, checked against an independent likelihood.

Sample and specification of R mlogit's heteroscedastic logit example (mlogit 1.1 vignette
"Relaxing the iid hypothesis"): travellers with all four modes available (noalt = 4) who did
not choose bus, bus removed, 2,769 choice situations among car, train and air; generic freq,
cost, ivt and ovt; constants, urban and income with alternative-specific coefficients; car is
the base for constants and scale.

The reference log-likelihood is written here from the model's definition, without the
library: with ``U_k = V_k + s_k u_k`` and standard Gumbel ``u`` (mode 0), substituting
``t = V_j + s_j G^{-1}(w)`` for the chosen alternative ``j`` gives
``P_j = int_0^1 prod_{k != j} G((t(w) - V_k) / s_k) dw`` with ``G(x) = exp(-exp(-x))``, a
bounded integrand on a bounded interval, integrated for all situations at once by
``scipy.integrate.quad_vec`` to an absolute error of 1e-13 per situation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.integrate
import scipy.optimize

import discrete_choice as dc
from discrete_choice.models.heteroscedastic import HEV

ALTERNATIVES = ["car", "train", "air"]
FORMULA = "choice ~ freq + cost + ivt + ovt | urban + income"


def bhat_sample(shared_data) -> dc.ChoiceData:
    frame = pd.read_csv(shared_data / "mode_canada.csv.gz", index_col=0)
    bus_users = frame.loc[(frame["alt"] == "bus") & (frame["choice"] == 1), "case"]
    keep = frame[(frame["noalt"] == 4) & ~frame["case"].isin(bus_users) & (frame["alt"] != "bus")]
    return dc.ChoiceData.from_long(keep, obs="case", alt="alt", chosen="choice",
                                   variables=["freq", "cost", "ivt", "ovt", "urban", "income"],
                                   alternatives=ALTERNATIVES)


def reference_utilities(data: dc.ChoiceData, params: dict[str, float]) -> np.ndarray:
    """``V`` of shape ``(n_obs, 3)`` from the parameter names, built without the library's design."""
    utility = np.zeros((data.n_obs, 3))
    for name in ("freq", "cost", "ivt", "ovt"):
        utility += params[name] * data.variables[name]
    for j, alt in enumerate(ALTERNATIVES[1:], start=1):
        utility[:, j] += (params[f"ASC_{alt}"] + params[f"urban_{alt}"] * data.variables["urban"][:, j]
                          + params[f"income_{alt}"] * data.variables["income"][:, j])
    return utility


def reference_loglik(data: dc.ChoiceData, params: dict[str, float]) -> float:
    """Exact HEV log-likelihood by adaptive quadrature (scipy), independent of the library."""
    utility = reference_utilities(data, params)
    scale = np.array([1.0, params["scale_train"], params["scale_air"]])
    rows = np.arange(data.n_obs)
    chosen = data.choice
    v_chosen = utility[rows, chosen]
    s_chosen = scale[chosen]
    others = np.array([[k for k in range(3) if k != j] for j in chosen])

    def integrand(w):
        t = v_chosen + s_chosen * (-np.log(-np.log(w)))
        x = (t[:, None] - utility[rows[:, None], others]) / scale[others]
        return np.exp(-np.sum(np.exp(-x), axis=1))

    probability, _ = scipy.integrate.quad_vec(integrand, 0.0, 1.0, epsabs=1e-13, epsrel=0.0,
                                              norm="max", limit=400)
    return float(np.sum(np.log(probability)))


def gauss_laguerre_loglik(data: dc.ChoiceData, params: dict[str, float], n_nodes: int = 40) -> float:
    """HEV log-likelihood by an ``n_nodes`` Gauss-Laguerre rule, the method of R mlogit (``R = 40``).

    mlogit writes the probability as ``int_0^inf exp(-sum_{k != j} exp(-(V_j - V_k - s_j log
    w) / s_k)) exp(-w) dw`` and sums ``n_nodes`` Gauss-Laguerre terms.
    """
    nodes, weights = np.polynomial.laguerre.laggauss(n_nodes)
    utility = reference_utilities(data, params)
    scale = np.array([1.0, params["scale_train"], params["scale_air"]])
    rows = np.arange(data.n_obs)
    chosen = data.choice
    others = np.array([[k for k in range(3) if k != j] for j in chosen])
    shifted = (utility[rows, chosen][:, None, None] - utility[rows[:, None], others][:, None, :]
               - scale[chosen][:, None, None] * np.log(nodes)[None, :, None])
    terms = np.exp(-np.sum(np.exp(-shifted / scale[others][:, None, :]), axis=2))
    with np.errstate(divide="ignore"):  # the rule gives probability 0 at far trial points
        return float(np.sum(np.log(terms @ weights)))


def fit_hev(data: dc.ChoiceData):
    spec = dc.LinearSpec.from_formula(FORMULA, base="car")
    return HEV(spec).fit(data)


def check_exact_maximum(data: dc.ChoiceData, result) -> None:
    """Assert the reported optimum is the maximum of the independently computed likelihood."""
    assert result.converged
    params = result.params.to_dict()
    best = reference_loglik(data, params)
    # 1e-6: the library's quadrature and the reference agree to about 1e-12 per situation.
    assert abs(best - result.loglik) < 1e-6
    std = result.std_errors.to_dict()
    for name in result.names:
        # A step of 0.01 standard errors lowers a quadratic log-likelihood by about 5e-5, far
        # above the reference's error (about 1e-10), so an ascent direction would show.
        step = 0.01 * std[name]
        assert reference_loglik(data, {**params, name: params[name] + step}) < best, name
        assert reference_loglik(data, {**params, name: params[name] - step}) < best, name
        # Central-difference slope per standard error with a step of 1e-4 standard errors,
        # where the cubic term is negligible: 0 at the maximum. The fit stops at a gradient
        # of about 1e-4 in these units, and the reference's error adds about 1e-6.
        small = 1e-4 * std[name]
        up = reference_loglik(data, {**params, name: params[name] + small})
        down = reference_loglik(data, {**params, name: params[name] - small})
        assert abs((up - down) / (2 * 1e-4)) < 1e-3, name


def test_bhat_sample_size(shared_data):
    data = bhat_sample(shared_data)
    assert data.n_obs == 2769
    assert data.alternatives == tuple(ALTERNATIVES)


def test_hev_exact_maximum_subsample(shared_data):
    # Reduced size for the default suite: the first 400 situations of the same sample.
    data = bhat_sample(shared_data).subset(np.arange(400))
    check_exact_maximum(data, fit_hev(data))


@pytest.mark.slow
def test_hev_exact_maximum_full_sample(shared_data):
    data = bhat_sample(shared_data)
    result = fit_hev(data)
    check_exact_maximum(data, result)
    # Values documented in docs/models.md (exact maximum, this library, float64).
    assert result.loglik == pytest.approx(-1837.7999, abs=1e-4)
    assert result.params["scale_train"] == pytest.approx(1.1484, abs=1e-4)
    assert result.params["scale_air"] == pytest.approx(0.6726, abs=1e-4)


@pytest.mark.slow
def test_gauss_laguerre_40_misses_maximum(shared_data):
    """The 40-node Gauss-Laguerre maximum sits below the exact one by the amount the docs state."""
    data = bhat_sample(shared_data)
    exact = fit_hev(data)
    names = list(exact.names)
    start = exact.estimates.copy()

    def negative(x):
        return -gauss_laguerre_loglik(data, dict(zip(names, x)))

    solution = scipy.optimize.minimize(negative, start, method="BFGS", options={"gtol": 1e-8})
    laguerre = dict(zip(names, solution.x))
    exact_at_laguerre = reference_loglik(data, laguerre)
    # Documented in docs/models.md: the rule's own maximum is -1838.135; the exact
    # log-likelihood there is -1839.475, 1.675 below the exact maximum -1837.800.
    assert -solution.fun == pytest.approx(-1838.135, abs=2e-3)
    assert exact.loglik - exact_at_laguerre == pytest.approx(1.675, abs=5e-3)
    assert laguerre["scale_air"] == pytest.approx(0.5403, abs=1e-3)
    assert laguerre["scale_train"] == pytest.approx(1.2372, abs=1e-3)
