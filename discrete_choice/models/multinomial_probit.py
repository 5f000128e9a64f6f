r"""Multinomial probit with a full covariance of the utility differences.

Only differences of utility matter, so the model is written in differences against a base
alternative :math:`b` (the base of the specification's constants):

.. math::

    U_{nj} - U_{nb} = V_{nj} - V_{nb} + \tilde\varepsilon_{nj},\qquad
    \tilde\varepsilon_n \sim N(0, \Omega),\quad \Omega = L L^\top,\quad L_{11} = 1,

where :math:`\tilde\varepsilon_n` stacks the :math:`d = J - 1` non-base alternatives in data
order and :math:`L` is lower triangular with a positive diagonal. Fixing :math:`L_{11} = 1`
sets the variance of the first difference to 1, which fixes the scale of utility; this is the
normalisation of Stata's ``asmprobit`` (with its default ``correlation(unstructured)
stddev(heteroskedastic)``, the variance of the first difference is fixed) and of R mlogit's
``probit = TRUE``. The model has :math:`d(d+1)/2 - 1` covariance parameters: ``chol_<a>_<a>``
for the diagonal entries of :math:`L` after the first and ``chol_<a>_<c>`` for the entry in
row :math:`a`, column :math:`c` below the diagonal (rows and columns named by the non-base
alternative whose difference they belong to).

In levels the noise is :math:`\varepsilon_{nb} = 0` and :math:`\varepsilon_{n,-b} =
\tilde\varepsilon_n`, a singular Cholesky factor with a zero base row, which the
:class:`~discrete_choice.simulators.ghk.GHK` and ``Smoothed`` simulators both accept.

Results report :math:`L` and, in ``result.extra["covariance_of_differences"]``, the entries of
:math:`\Omega` with delta-method standard errors (:func:`implied_covariance` returns them as a
table).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import pandas as pd

from discrete_choice.data import ChoiceData
from discrete_choice.exceptions import SpecificationError
from discrete_choice.models._base import ChoiceModel, ModelInputs, ParameterBlock, PreparedModel
from discrete_choice.models.heteroscedastic import logit_start, positive_vector
from discrete_choice.noise import Noise
from discrete_choice.simulators._base import Simulator
from discrete_choice.simulators.ghk import GHK
from discrete_choice.utility import Design

__all__ = ["MultinomialProbit", "difference_covariance", "implied_covariance"]

_UNIT_TOLERANCE = 1e-10  # allowed distance of Omega[0, 0] from 1 in a user-given covariance


def difference_covariance(covariance: Any, base: int, *, normalise: bool = True) -> np.ndarray:
    r"""Return the covariance of utility differences against ``base`` from a covariance in levels.

    :math:`\Omega = M \Sigma M^\top` with :math:`M` the :math:`(J-1) \times J` matrix whose rows
    are :math:`e_k - e_{base}` for :math:`k \ne base` in index order. With ``normalise=True``
    it is divided by :math:`\Omega_{11}`, the model's normalisation; the coefficients of a model
    with noise covariance :math:`\Sigma` must then be divided by :math:`\sqrt{\Omega_{11}}`.

    Args:
        covariance: :math:`\Sigma`, shape ``(n_alts, n_alts)``.
        base: Index of the base alternative.
        normalise: Divide by the variance of the first difference.

    Returns:
        :math:`\Omega`, shape ``(n_alts - 1, n_alts - 1)``.
    """
    sigma = np.asarray(covariance, dtype=np.float64)
    if sigma.ndim != 2 or sigma.shape[0] != sigma.shape[1]:
        raise ValueError(f"covariance must be a square (n_alts, n_alts) matrix; got shape {sigma.shape}")
    n_alts = sigma.shape[0]
    if not 0 <= base < n_alts:
        raise ValueError(f"base must be an alternative index in [0, {n_alts}); got base={base!r}")
    others = [k for k in range(n_alts) if k != base]
    matrix = np.zeros((n_alts - 1, n_alts))
    matrix[np.arange(n_alts - 1), others] = 1.0
    matrix[:, base] = -1.0
    omega = matrix @ sigma @ matrix.T
    if normalise:
        omega = omega / omega[0, 0]
    return omega


@dataclass(frozen=True)
class MultinomialProbit(ChoiceModel):
    """Probit with a full (unstructured) covariance of the utility differences.

    Attributes:
        spec: The linear utility specification; its base alternative is also the base of the
            differences.
        simulator: How choice probabilities are computed: ``GHK()`` (default, the econometric
            reference) or ``Smoothed(...)``. ``Quadrature`` does not apply to correlated noise.
        priors: Priors for Bayesian fitting; ``priors.coefficient`` for the entries of ``L``
            below the diagonal and ``priors.log_scale`` for the logs of its diagonal.
        covariance_start: Optional start value of :math:`\\Omega`, the ``(n_alts - 1, n_alts -
            1)`` covariance of differences against the base, with ``Omega[0, 0] == 1``;
            default the covariance of independent probit, ``(I + 1 1') / 2``.

    With two alternatives the model has no covariance parameter and equals the binary probit
    with a unit variance of the difference (Stata's ``probit`` normalisation).
    """

    simulator: Simulator = field(default_factory=GHK)
    covariance_start: Any = None

    name: ClassVar[str] = "multinomial probit"

    # -------------------------------------------------------------- identification
    def prepare(self, data: ChoiceData) -> PreparedModel:
        """Evaluate the specification and check ``covariance_start`` against the normalisation."""
        if data.n_alts < 2:
            raise SpecificationError(f"a probit needs at least two alternatives; the data has "
                                     f"{data.n_alts}")
        prepared = super().prepare(data)
        if self.covariance_start is not None:
            validate_difference_covariance(self.covariance_start, data.n_alts, "covariance_start")
        return prepared

    # -------------------------------------------------------------- model pieces
    def parameter_blocks(self, prepared_design: Design, data: ChoiceData) -> tuple[ParameterBlock, ...]:
        blocks = [ParameterBlock("beta", prepared_design.names)]
        names = [str(a) for a in data.alternatives if a != prepared_design.base]
        d = len(names)
        if d >= 2:
            blocks.append(ParameterBlock("chol_diag", tuple(f"chol_{a}_{a}" for a in names[1:])))
            blocks.append(ParameterBlock(
                "chol_offdiag",
                tuple(f"chol_{names[i]}_{names[k]}" for i, k in zip(*np.tril_indices(d, -1)))))
        return tuple(blocks)

    def extra_inputs(self, data: ChoiceData) -> dict[str, np.ndarray]:
        base = self.spec.base if self.spec.base is not None else data.alternatives[0]
        others = [j for j, a in enumerate(data.alternatives) if a != base]
        embed = np.zeros((data.n_alts, len(others)))
        embed[others, np.arange(len(others))] = 1.0
        return {"difference_embedding": embed}

    def sample_parameters(self, inputs: ModelInputs) -> dict[str, jax.Array]:
        params = super().sample_parameters(inputs)
        d = inputs.extras["difference_embedding"].shape[1]
        if d >= 2:
            params["chol_diag"] = numpyro.sample("chol_diag",
                                                 positive_vector(self.priors.log_scale, d - 1))
            params["chol_offdiag"] = numpyro.sample(
                "chol_offdiag", self.priors.coefficient.expand([d * (d - 1) // 2]).to_event(1))
        return params

    @staticmethod
    def cholesky_of_differences(params: Mapping[str, jax.Array], d: int) -> jax.Array:
        """Return ``L``, shape ``(d, d)``, from the sampled sites (``L[0, 0] = 1``)."""
        if d < 2:
            return jnp.ones((d, d))
        diag = jnp.concatenate([jnp.ones(1, dtype=params["chol_diag"].dtype), params["chol_diag"]])
        rows, cols = np.tril_indices(d, -1)
        chol = jnp.diag(diag)
        return chol.at[rows, cols].set(params["chol_offdiag"])

    def utility_and_noise(self, params: Mapping[str, jax.Array], inputs: ModelInputs,
                          index: jax.Array) -> tuple[jax.Array, Noise]:
        utility = self.linear_utility(params["beta"], inputs, index)
        embed = inputs.extras["difference_embedding"]
        chol = self.cholesky_of_differences(params, embed.shape[1]).astype(embed.dtype)
        return utility, Noise("normal", cholesky=embed @ chol @ embed.T)

    def default_start(self, prepared: PreparedModel) -> dict[str, np.ndarray]:
        start = super().default_start(prepared)
        d = prepared.inputs.extras["difference_embedding"].shape[1]
        if d < 2:
            return start
        if self.covariance_start is None:
            omega = (np.eye(d) + np.ones((d, d))) / 2
        else:
            omega = np.asarray(self.covariance_start, dtype=np.float64)
        chol = np.linalg.cholesky(omega)
        start["chol_diag"] = np.diag(chol)[1:]
        start["chol_offdiag"] = chol[np.tril_indices(d, -1)]
        return start

    def fit(self, data: ChoiceData, **options: Any):
        """Fit by maximum likelihood, starting from the rescaled logit estimates unless ``start`` is given."""
        from discrete_choice.inference.mle import fit_mle

        if options.get("start") is None:
            options["start"] = logit_start(self.spec, data, 1.0)
        return fit_mle(self, data, **options)

    def describe_noise(self) -> dict[str, Any]:
        return {"family": "normal",
                "normalisation": "full covariance of differences against the base alternative, "
                                 "Cholesky factor with L[0, 0] = 1 (variance of the first "
                                 "difference fixed to 1)"}

    # -------------------------------------------------------------- reporting
    def derived_quantities(self, functions, theta, covariances) -> dict[str, Any]:
        """Return the entries of ``Omega = L L'`` with delta-method standard errors."""
        labels = list(functions.labels)
        blocks = {block.site: block.labels for block in functions.prepared.blocks}
        names = [str(a) for a in functions.prepared.data.alternatives
                 if a != functions.prepared.design.base]
        d = len(names)
        if d < 2:
            return {}
        positions = {site: [labels.index(label) for label in blocks[site]]
                     for site in ("chol_diag", "chol_offdiag")}
        rows, cols = np.tril_indices(d)

        def omega_entries(flat):
            params = {site: flat[jnp.asarray(idx)] for site, idx in positions.items()}
            chol = self.cholesky_of_differences(params, d)
            return (chol @ chol.T)[rows, cols]

        flat = functions.flatten_constrained(jnp.asarray(theta))
        estimate = np.asarray(omega_entries(flat))
        jacobian = np.asarray(jax.jacfwd(omega_entries)(flat))
        out: dict[str, Any] = {
            "labels": [f"cov_{names[i]}_{names[k]}" for i, k in zip(rows, cols)],
            "estimate": estimate.tolist(),
        }
        for key, name in (("classical", "std_error"), ("robust", "robust_std_error")):
            cov = covariances.get(key)
            variance = np.diag(jacobian @ cov @ jacobian.T) if cov is not None else None
            out[name] = (np.full(len(estimate), np.nan) if variance is None
                         else np.sqrt(variance)).tolist()
        return {"covariance_of_differences": out}


def implied_covariance(result) -> pd.DataFrame:
    """Return the estimated covariance of differences of a multinomial probit fit as a table.

    Rows ``cov_<a>_<c>`` (lower triangle of :math:`\\Omega`), columns ``estimate``,
    ``std_error`` and ``robust_std_error`` (delta method, from the covariance of the Cholesky
    entries); the entry ``cov_<first>_<first>`` is fixed at 1 with zero standard error.
    """
    entry = result.extra.get("covariance_of_differences")
    if entry is None:
        raise ValueError(f"the result of a {result.model_name!r} fit has no covariance of "
                         "differences; it is reported for multinomial probit with 3 or more "
                         "alternatives")
    return pd.DataFrame({key: entry[key] for key in ("estimate", "std_error", "robust_std_error")},
                        index=pd.Index(entry["labels"], name="parameter"))


def validate_difference_covariance(omega: Any, n_alts: int, argument: str) -> np.ndarray:
    """Check that ``omega`` is an identified covariance of differences, else raise naming ``argument``.

    It must be ``(n_alts - 1, n_alts - 1)``, symmetric, positive definite and have
    ``omega[0, 0] == 1``. A covariance of utility levels ``(n_alts, n_alts)`` is rejected
    because only its differences are identified.
    """
    omega = np.asarray(omega, dtype=np.float64)
    d = n_alts - 1
    if omega.shape == (n_alts, n_alts):
        raise SpecificationError(
            f"{argument} has shape {omega.shape}, a covariance of utility levels, which is not "
            f"identified (adding a constant to every utility changes it but not the choices). "
            f"Give the ({d}, {d}) covariance of differences against the base alternative, for "
            "example difference_covariance(sigma, base)")
    if omega.shape != (d, d):
        raise SpecificationError(f"{argument} must have shape ({d}, {d}) for {n_alts} "
                                 f"alternatives; got shape {omega.shape}")
    if not np.allclose(omega, omega.T, rtol=0, atol=1e-12):
        raise SpecificationError(f"{argument} must be symmetric")
    if abs(omega[0, 0] - 1.0) > _UNIT_TOLERANCE:
        raise SpecificationError(
            f"{argument}[0, 0] = {float(omega[0, 0])!r} but the variance of the first difference "
            "is fixed to 1 to set the scale of utility (otherwise the covariance and the "
            "coefficients are identified only up to a common factor); divide the matrix by "
            "its [0, 0] entry")
    eigenvalues = np.linalg.eigvalsh(omega)
    if eigenvalues[0] <= 0:
        raise SpecificationError(f"{argument} is not positive definite (smallest eigenvalue "
                                 f"{eigenvalues[0]:.3g}); the differences need a full-rank covariance")
    return omega
