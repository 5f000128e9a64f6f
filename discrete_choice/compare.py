r"""Compare fitted choice models: fit statistics, likelihood-ratio and Vuong tests.

:func:`compare` takes fits of several models on the same choice data and returns a
:class:`Comparison`: a table of log-likelihood, number of parameters, AIC, BIC, rho-squared
and hit rate, a likelihood-ratio test for every nested pair and a Vuong test for every pair
that is not nested.

Likelihood-ratio test (nested models, restricted :math:`r` within unrestricted :math:`u`):
:math:`LR = 2(\ell_u - \ell_r) \sim \chi^2_{K_u - K_r}` under the restriction. The pairs
recognised as nested (same data and same utility specification) are logit within HEV,
probit within heteroscedastic probit within multinomial probit, and any heteroscedastic model
within one of the same noise family with more scale parameters. Probit is nested in the
multinomial probit after rescaling: independent N(0, 1) noise is the covariance of
differences :math:`(I + \mathbf 1 \mathbf 1^\top)/2` with coefficients divided by
:math:`\sqrt 2`.

Vuong (1989) test (non-nested models :math:`a` and :math:`b`, for example logit and probit):
with pointwise log-likelihood ratios :math:`m_n = \ell_{a,n} - \ell_{b,n}`,

.. math::

    z = \frac{\sum_n m_n - c}{\sqrt N\, \hat\omega},\qquad
    \hat\omega^2 = \frac1N \sum_n m_n^2 - \Bigl(\frac1N \sum_n m_n\Bigr)^2,

and :math:`z \to N(0, 1)` when the two models are equally close to the truth; a large positive
:math:`z` favours :math:`a`. Two corrections from Vuong (1989) are applied:

- the variance :math:`\hat\omega^2` is the *centred* second moment of :math:`m_n` (the sample
  variance with divisor :math:`N`), not the raw second moment :math:`\frac1N\sum m_n^2`, which
  would overstate the variance whenever one model fits better on average and bias :math:`z`
  towards 0;
- the statistic is corrected for the difference in the number of parameters,
  :math:`c = \frac{K_a - K_b}{2}\log N` (Schwarz, ``correction="bic"``, default),
  :math:`c = K_a - K_b` (Akaike, ``"aic"``) or :math:`c = 0` (``"none"``).

When :math:`\hat\omega^2` is zero (to rounding) the two models give the same fit at every
observation and the test is undefined; the result then has ``statistic = nan`` and a note.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
import scipy.stats

__all__ = [
    "Comparison",
    "LikelihoodRatioTest",
    "VuongTest",
    "compare",
    "is_nested",
    "lr_test",
    "pointwise_loglik",
    "vuong_test",
]

VuongCorrection = Literal["bic", "aic", "none"]
_VUONG_CORRECTIONS = ("bic", "aic", "none")
_DEGENERATE_VARIANCE = 1e-12  # omega^2 at or below this (per observation) makes Vuong's z undefined


class LikelihoodRatioTest(NamedTuple):
    """Likelihood-ratio test of a restricted model against an unrestricted one.

    Attributes:
        restricted: Label of the restricted (smaller) model.
        unrestricted: Label of the unrestricted model.
        statistic: ``2 (loglik_u - loglik_r)``.
        df: Degrees of freedom, ``K_u - K_r``.
        p_value: Upper tail of the chi-squared law with ``df`` degrees of freedom.
        note: Why the test may be unreliable (a fit that did not converge), else ``""``.
    """

    restricted: str
    unrestricted: str
    statistic: float
    df: int
    p_value: float
    note: str = ""


class VuongTest(NamedTuple):
    """Vuong's test of two non-nested models fitted to the same data.

    Attributes:
        model_a: Label of the first model.
        model_b: Label of the second model.
        statistic: ``z``; positive favours ``model_a``.
        p_value: Two-sided p-value against equal closeness to the truth.
        preferred: Label of the favoured model at ``level``, or ``None``.
        loglik_ratio: ``sum_n m_n``, before the correction.
        correction: The correction used (``"bic"``, ``"aic"`` or ``"none"``).
        omega: ``sqrt`` of the centred variance of the pointwise ratios ``m_n``.
        note: Why the statistic is undefined or unreliable, else ``""``.
    """

    model_a: str
    model_b: str
    statistic: float
    p_value: float
    preferred: str | None
    loglik_ratio: float
    correction: str
    omega: float
    note: str = ""


@dataclass(frozen=True, eq=False)
class Comparison:
    """Fit statistics and tests over several models fitted to the same data.

    Attributes:
        table: One row per model (index: label) with ``model``, ``loglik``, ``n_params``,
            ``aic``, ``bic``, ``rho_squared``, ``adjusted_rho_squared``, ``hit_rate``,
            ``converged`` and ``simulator``.
        lr_tests: Likelihood-ratio tests of the nested pairs.
        vuong_tests: Vuong tests of the pairs that are not nested.
        results: The fits by label.
    """

    table: pd.DataFrame
    lr_tests: tuple[LikelihoodRatioTest, ...]
    vuong_tests: tuple[VuongTest, ...]
    results: Mapping[str, Any]

    def summary(self) -> str:
        """Return the table and the tests as plain text."""
        formats = {"loglik": "{:.4f}".format, "aic": "{:.2f}".format, "bic": "{:.2f}".format,
                   "rho_squared": "{:.4f}".format, "adjusted_rho_squared": "{:.4f}".format,
                   "hit_rate": "{:.3f}".format}
        shown = self.table.drop(columns=["simulator"])
        lines = [shown.to_string(formatters=formats)]
        if self.lr_tests:
            lines += ["", "Likelihood-ratio tests (restricted within unrestricted):"]
            for test in self.lr_tests:
                lines.append(f"  {test.restricted} within {test.unrestricted}: "
                             f"LR = {test.statistic:.3f}, df = {test.df}, "
                             f"p = {test.p_value:.4g}" + (f"  [{test.note}]" if test.note else ""))
        if self.vuong_tests:
            lines += ["", "Vuong tests (non-nested; z > 0 favours the first model):"]
            for test in self.vuong_tests:
                verdict = (f"favours {test.preferred}" if test.preferred
                           else "neither model is preferred")
                lines.append(f"  {test.model_a} vs {test.model_b}: z = {test.statistic:.3f}, "
                             f"p = {test.p_value:.4g} ({verdict}; {test.correction} correction)"
                             + (f"  [{test.note}]" if test.note else ""))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict[str, Any]:
        """Return the table and tests as JSON-serialisable data."""
        def number(value):
            value = float(value)
            return value if math.isfinite(value) else None

        rows = []
        for label, row in self.table.iterrows():
            rows.append({"label": label, "model": row["model"], "loglik": number(row["loglik"]),
                         "n_params": int(row["n_params"]), "aic": number(row["aic"]),
                         "bic": number(row["bic"]), "rho_squared": number(row["rho_squared"]),
                         "adjusted_rho_squared": number(row["adjusted_rho_squared"]),
                         "hit_rate": number(row["hit_rate"]), "converged": bool(row["converged"]),
                         "simulator": row["simulator"]})
        return {
            "table": rows,
            "lr_tests": [{**t._asdict(), "statistic": number(t.statistic),
                          "p_value": number(t.p_value)} for t in self.lr_tests],
            "vuong_tests": [{**t._asdict(), "statistic": number(t.statistic),
                             "p_value": number(t.p_value), "loglik_ratio": number(t.loglik_ratio),
                             "omega": number(t.omega)} for t in self.vuong_tests],
        }


# ---------------------------------------------------------------------------- entry points
def compare(results: Mapping[str, Any] | Sequence[Any], *, level: float = 0.05,
            vuong_correction: VuongCorrection = "bic") -> Comparison:
    """Compare fits of several models on the same choice data.

    Args:
        results: Fitted :class:`~discrete_choice.MLEResults`, as a mapping from label to fit
            or a sequence (labelled by each fit's model name, numbered when names repeat).
        level: Significance level at which a Vuong test names a preferred model.
        vuong_correction: Parameter-count correction of the Vuong statistic: ``"bic"``
            (default), ``"aic"`` or ``"none"``.

    Returns:
        A :class:`Comparison`.

    Raises:
        ValueError: When fewer than one fit is given or the fits are not on the same data.
    """
    labelled = _labelled(results)
    if not labelled:
        raise ValueError("results is empty; give at least one fitted model")
    first_label, first = next(iter(labelled.items()))
    for label, result in labelled.items():
        _check_same_data(first_label, first, label, result)

    rows = {}
    for label, result in labelled.items():
        rows[label] = {
            "model": result.model_name, "loglik": result.loglik, "n_params": result.n_params,
            "aic": result.aic, "bic": result.bic, "rho_squared": result.rho_squared,
            "adjusted_rho_squared": result.adjusted_rho_squared,
            "hit_rate": _hit_rate(result), "converged": bool(result.converged),
            "simulator": result.simulator.get("name", "?")}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "label"

    lr_tests, vuong_tests = [], []
    for (label_a, a), (label_b, b) in itertools.combinations(labelled.items(), 2):
        if _nested_fits(a, b):
            lr_tests.append(lr_test(a, b, labels=(label_a, label_b)))
        elif _nested_fits(b, a):
            lr_tests.append(lr_test(b, a, labels=(label_b, label_a)))
        elif a.model is not None and b.model is not None:
            vuong_tests.append(vuong_test(a, b, correction=vuong_correction, level=level,
                                          labels=(label_a, label_b)))
    return Comparison(table=table, lr_tests=tuple(lr_tests), vuong_tests=tuple(vuong_tests),
                      results=labelled)


def lr_test(restricted: Any, unrestricted: Any, *,
            labels: tuple[str, str] | None = None) -> LikelihoodRatioTest:
    """Test a restricted fit against an unrestricted one: ``LR = 2 (l_u - l_r) ~ chi2(K_u - K_r)``.

    The caller vouches that the models are nested (see :func:`is_nested`); the function checks
    only that the unrestricted model has more parameters.
    """
    labels = labels or (restricted.model_name, unrestricted.model_name)
    df = unrestricted.n_params - restricted.n_params
    if df <= 0:
        raise ValueError(f"the unrestricted model {labels[1]!r} has {unrestricted.n_params} "
                         f"parameters, not more than the restricted {labels[0]!r} "
                         f"({restricted.n_params}); swap the arguments or check the nesting")
    statistic = 2.0 * (unrestricted.loglik - restricted.loglik)
    notes = [f"{label} did not converge" for label, fit in zip(labels, (restricted, unrestricted))
             if not fit.converged]
    if statistic < -1e-6:
        notes.append("negative statistic: the unrestricted fit is below the restricted one, "
                     "so it stopped short of its maximum")
    p_value = float(scipy.stats.chi2.sf(max(statistic, 0.0), df))
    return LikelihoodRatioTest(labels[0], labels[1], float(statistic), int(df), p_value,
                               "; ".join(notes))


def vuong_test(a: Any, b: Any, *, correction: VuongCorrection = "bic", level: float = 0.05,
               labels: tuple[str, str] | None = None) -> VuongTest:
    """Vuong's (1989) test of two non-nested fits on the same data (see the module docstring).

    Args:
        a: First fit.
        b: Second fit.
        correction: ``"bic"`` (default), ``"aic"`` or ``"none"``.
        level: Significance level at which a model is named preferred.
        labels: Labels of the two fits (default their model names).
    """
    if correction not in _VUONG_CORRECTIONS:
        raise ValueError(f"invalid correction={correction!r}; expected one of {_VUONG_CORRECTIONS}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got level={level!r}")
    labels = labels or (a.model_name, b.model_name)
    _check_same_data(labels[0], a, labels[1], b)
    ratios = pointwise_loglik(a) - pointwise_loglik(b)
    n = ratios.shape[0]
    total = float(np.sum(ratios))
    k_diff = a.n_params - b.n_params
    penalty = {"bic": 0.5 * k_diff * math.log(n), "aic": float(k_diff), "none": 0.0}[correction]
    variance = float(np.mean(ratios**2) - np.mean(ratios) ** 2)
    omega = math.sqrt(max(variance, 0.0))
    notes = [f"{label} did not converge" for label, fit in zip(labels, (a, b)) if not fit.converged]
    if variance <= _DEGENERATE_VARIANCE:
        notes.append("the pointwise log-likelihoods are equal, so the models are "
                     "observationally equivalent and the statistic is undefined")
        return VuongTest(labels[0], labels[1], math.nan, math.nan, None, total, correction,
                         omega, "; ".join(notes))
    statistic = (total - penalty) / (math.sqrt(n) * omega)
    p_value = float(2.0 * scipy.stats.norm.sf(abs(statistic)))
    preferred = None
    if p_value < level:
        preferred = labels[0] if statistic > 0 else labels[1]
    return VuongTest(labels[0], labels[1], float(statistic), p_value, preferred, total,
                     correction, omega, "; ".join(notes))


def pointwise_loglik(result: Any) -> np.ndarray:
    """Return the weighted log-likelihood of each choice situation at the estimates, ``(n_obs,)``.

    Recomputed from the model and data attached to the fit (with the same simulator, so a
    simulated fit uses its own draws); their sum equals ``result.loglik``.
    """
    import jax
    import jax.numpy as jnp

    from discrete_choice.inference.mle import likelihood_functions

    if result.model is None or result.data is None:
        raise ValueError(f"the {result.model_name!r} result has no model or data attached "
                         "(it was loaded from a file); refit it to compute pointwise "
                         "log-likelihoods")
    with jax.enable_x64(True):
        functions = likelihood_functions(result.model.prepare(result.data))
        values, offset = {}, 0
        zero = functions.constrain(jnp.zeros(len(functions.labels)))
        for site in functions.sites:
            size = int(np.size(zero[site]))
            values[site] = np.reshape(result.estimates[offset:offset + size], np.shape(zero[site]))
            offset += size
        theta = functions.unconstrain(values)
        return np.asarray(functions.per_observation(theta), dtype=np.float64)


def is_nested(restricted: Any, unrestricted: Any) -> bool:
    """Tell whether ``restricted`` is a special case of ``unrestricted`` (models, not fits).

    Both must use the same linear specification. Recognised: logit within any Gumbel
    heteroscedastic model (HEV); probit within any Normal heteroscedastic model and within the
    multinomial probit; a Normal heteroscedastic model with alternative scales and no scale
    covariates within the multinomial probit; and a heteroscedastic model within one of the
    same family whose scale parameters include its own.
    """
    from discrete_choice.models.heteroscedastic import Heteroscedastic
    from discrete_choice.models.logit import Logit
    from discrete_choice.models.multinomial_probit import MultinomialProbit
    from discrete_choice.models.probit import Probit

    if restricted.spec != unrestricted.spec:
        return False
    if type(restricted) is Logit:
        return isinstance(unrestricted, Heteroscedastic) and unrestricted.family == "gumbel"
    if type(restricted) is Probit:
        return (isinstance(unrestricted, MultinomialProbit)
                or (isinstance(unrestricted, Heteroscedastic) and unrestricted.family == "normal"))
    if isinstance(restricted, Heteroscedastic):
        if isinstance(unrestricted, MultinomialProbit):
            return (restricted.family == "normal" and restricted.alternative_scales
                    and not restricted.scale_covariates)
        if isinstance(unrestricted, Heteroscedastic) and restricted.family == unrestricted.family:
            scales_included = (not restricted.alternative_scales
                               or (unrestricted.alternative_scales
                                   and restricted.scale_base == unrestricted.scale_base))
            return scales_included and set(restricted.scale_covariates) <= set(
                unrestricted.scale_covariates)
    return False


# ---------------------------------------------------------------------------- helpers
def _labelled(results: Mapping[str, Any] | Sequence[Any]) -> dict[str, Any]:
    if isinstance(results, Mapping):
        return {str(label): result for label, result in results.items()}
    labelled: dict[str, Any] = {}
    for result in results:
        label = result.model_name
        count = 2
        while label in labelled:
            label = f"{result.model_name} ({count})"
            count += 1
        labelled[label] = result
    return labelled


def _check_same_data(label_a: str, a: Any, label_b: str, b: Any) -> None:
    same = a.n_obs == b.n_obs and math.isclose(a.loglik_null, b.loglik_null, rel_tol=1e-12)
    if same and a.data is not None and b.data is not None and a.data is not b.data:
        same = (np.array_equal(a.data.choice, b.data.choice)
                and np.array_equal(a.data.available, b.data.available))
    if not same:
        raise ValueError(f"fits {label_a!r} and {label_b!r} are not on the same choice data "
                         f"({a.n_obs} and {b.n_obs} situations); compare models fitted to "
                         "one dataset")


def _nested_fits(restricted: Any, unrestricted: Any) -> bool:
    if restricted.model is None or unrestricted.model is None:
        return False
    return (unrestricted.n_params > restricted.n_params
            and is_nested(restricted.model, unrestricted.model))


def _hit_rate(result: Any) -> float:
    if result.model is None or result.data is None:
        return math.nan
    return float(result.hit_rate())
