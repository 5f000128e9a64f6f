r"""Heteroscedastic location-scale models: HEV (Gumbel), heteroscedastic probit and logistic.

The latent utility of alternative :math:`j` in situation :math:`n` is

.. math::

    U_{nj} = V_{nj} + \sigma_{nj} u_{nj},\qquad
    \sigma_{nj} = \exp(\gamma_j + z_{nj}^\top \delta),\qquad \gamma_{\text{base}} = 0,

with :math:`u_{nj}` iid from a standard family (Gumbel with mode 0, Normal, Logistic),
:math:`V = X\beta` from a :class:`~discrete_choice.LinearSpec`, a scale
:math:`\exp(\gamma_j)` per alternative (reported as ``scale_<alt>``, the one of ``scale_base``
fixed to 1) and optional scale covariates :math:`z` with coefficients :math:`\delta`
(reported as ``lnsigma_<z>``, as Stata's ``hetprobit`` names its variance equation). With
Gumbel noise this is Bhat's (1995) heteroscedastic extreme value model and the ``heterosc =
TRUE`` model of R's mlogit. With Normal noise and two alternatives it is Stata's
``hetprobit``; with more alternatives it is the multinomial form, which Stata does not offer.

Identification: the location and overall scale of utility are fixed by the constants' base
and by the unit scale of ``scale_base``. With two alternatives the per-alternative scales are
not identified for Normal noise (only the variance of the difference enters) and only through
the shape of the noise law for Gumbel and Logistic noise, so binary models accept scale
covariates but reject ``alternative_scales=True``. A scale covariate that is constant over the
sample duplicates the normalisation and is rejected too.

The choice probabilities have no closed form; the default simulator is
:class:`~discrete_choice.Quadrature`, exact for independent noise up to its node count.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.distributions.transforms import ExpTransform

from discrete_choice.data import ChoiceData
from discrete_choice.exceptions import (
    DiscreteChoiceWarning,
    IdentificationWarning,
    SpecificationError,
)
from discrete_choice.models._base import (
    ChoiceModel,
    ModelInputs,
    ParameterBlock,
    PreparedModel,
    alternative_index,
)
from discrete_choice.noise import Noise
from discrete_choice.simulators import Quadrature
from discrete_choice.simulators._base import Simulator
from discrete_choice.utility import Design, LinearSpec

__all__ = [
    "Heteroscedastic",
    "HEV",
    "HeteroscedasticProbit",
    "HeteroscedasticLogistic",
    "check_scale_boundary",
    "logit_start",
    "positive_vector",
]

ScaleFamily = Literal["normal", "gumbel", "logistic"]
SCALE_FAMILIES: tuple[str, ...] = get_args(ScaleFamily)


# Standard deviation of one noise term, by family: Normal 1, Gumbel pi / sqrt(6), Logistic pi / sqrt(3).
_NOISE_SD = {"normal": 1.0, "gumbel": math.pi / math.sqrt(6.0), "logistic": math.pi / math.sqrt(3.0)}


def logit_start(spec: LinearSpec, data: ChoiceData, difference_sd: float) -> dict[str, float]:
    """Return start values from the multinomial logit, rescaled to another noise normalisation.

    Logit coefficients are in units where a utility difference has standard deviation
    ``pi / sqrt(3)``. Multiplied by ``difference_sd / (pi / sqrt(3))``, they approximate the
    coefficients of a model whose differences have standard deviation ``difference_sd``. Warnings of the logit fit are suppressed: the model fitted next
    reports its own.
    """
    from discrete_choice.models.logit import Logit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiscreteChoiceWarning)
        result = Logit(spec).fit(data)
    factor = difference_sd / _NOISE_SD["logistic"]
    return {name: float(value) * factor
            for name, value, reliable in zip(result.names, result.estimates, result.reliable)
            if reliable and np.isfinite(value)}


# Changes of a log-scale in the boundary probe. The large one, a factor exp(5) = 148 on a scale,
# stays within the scale ratios the quadrature is tested for (1e3) and at a finite maximum
# lowers the log-likelihood by many units unless the scale is barely identified. The small one
# catches a fit stopped on a curved ridge towards the boundary, where the straight move by the
# large step leaves the ridge but a short one still climbs it.
_BOUNDARY_STEPS = (0.5, 5.0)
_BOUNDARY_TOLERANCE = 1e-6  # log-likelihood loss below which the probed point counts as no worse


def _boundary_moves(labels: list[str], data: ChoiceData, steps: tuple[float, ...]):
    """Yield ``(names, move, is_ray)``: one-parameter moves of each log-scale and the base-scale ray.

    ``move(theta, sign, size)`` returns a copy of the unconstrained vector ``theta`` moved by
    ``sign * size`` in log-scale units. The base-scale ray multiplies the scale of the base
    alternative by ``exp(sign * size)``. In the normalised parameters, that divides every
    utility coefficient and every other alternative's scale by the same factor.
    """
    for k, label in enumerate(labels):
        if not label.startswith(("scale_", "lnsigma_")):
            continue
        unit = 1.0
        if label.startswith("lnsigma_"):
            values = data.variable(label[len("lnsigma_"):])
            spread = float(np.max(np.abs(values[data.available]), initial=0.0))
            unit = 1.0 / spread if spread > 0 else 1.0

        def move(theta, sign, size, k=k, unit=unit):
            moved = theta.copy()
            moved[k] += sign * size * unit
            return moved
        yield [label], move, False
    scales = [k for k, label in enumerate(labels) if label.startswith("scale_")]
    if scales:
        coefficients = [k for k, label in enumerate(labels)
                        if not label.startswith(("scale_", "lnsigma_"))]

        def ray(theta, sign, size):
            moved = theta.copy()
            moved[coefficients] *= np.exp(-sign * size)
            moved[scales] -= sign * size
            return moved
        yield [labels[k] for k in scales], ray, True


def check_scale_boundary(result, steps: tuple[float, ...] = _BOUNDARY_STEPS,
                         tolerance: float = _BOUNDARY_TOLERANCE):
    """Report scale parameters whose likelihood keeps rising towards a scale of 0 or infinity.

    Each log-scale is moved up and down by each step in ``steps``, the other parameters held
    at the estimates. A coefficient ``lnsigma_<z>`` moves by ``step / max|z|``, so that no
    situation's log-scale changes by more than the step. The scale of the base alternative is
    moved too, which rescales all utility coefficients and all other scales together. That
    move finds the ridge of a model whose base alternative's noise is negligible next to the
    others'. If the log-likelihood
    at a moved point is not lower than at the estimates by more than ``tolerance``, the
    optimiser stopped on a plateau or a ridge towards the boundary (a group of situations
    whose choices are deterministic drives its scale to 0), so the estimates moved and their
    standard errors are meaningless. Such a fit is returned with ``converged=False``, the
    moved parameters marked unreliable with NaN standard errors, a note naming them, and an
    :class:`~discrete_choice.IdentificationWarning`.

    NOTE: a scale covariate's name must be a variable of the data. Boundaries reached only
    along other joint directions are left to the Hessian diagnostics of the fit.
    """
    import dataclasses

    import jax
    import jax.numpy as jnp

    from discrete_choice.inference.mle import likelihood_functions
    from discrete_choice.results import _unflatten

    labels = list(result.names)
    if result.model is None or not any(label.startswith(("scale_", "lnsigma_"))
                                       for label in labels):
        return result
    base = result.model._scale_base_label(result.data, result.base)
    with jax.enable_x64(True):
        functions = likelihood_functions(result.model.prepare(result.data))
        theta = np.asarray(functions.unconstrain(_unflatten(functions, result.estimates)))
        best = float(jnp.sum(functions.per_observation(jnp.asarray(theta))))
        found: list[tuple[list[str], str]] = []
        for names, move, is_ray in _boundary_moves(labels, result.data, steps):
            rises = False
            for size in steps:
                for sign in (1.0, -1.0):
                    value = float(jnp.sum(functions.per_observation(
                        jnp.asarray(move(theta, sign, size)))))
                    rises = rises or (np.isfinite(value) and value >= best - tolerance)
            if rises:
                found.append((names, "joint" if is_ray else "single"))
    if not found:
        return result
    singles = [names[0] for names, kind in found if kind == "single"]
    joint = [names for names, kind in found if kind == "joint"]
    parts = []
    if singles:
        parts.append(f"as {', '.join(singles)} move towards a scale of 0 or infinity")
    if joint:
        parts.append(f"as the scale of the base alternative {base!r} moves relative to "
                     f"{', '.join(joint[0])} (all scales and utility coefficients rescaled "
                     "together)")
    text = ("the log-likelihood does not decrease " + " or ".join(parts) + ": the maximum is "
            "on the boundary, so the estimates of the parameters named are where the "
            "optimiser stopped and their standard errors are not reported")
    warnings.warn(f"maximum likelihood estimate does not exist: {text}.", IdentificationWarning,
                  stacklevel=3)
    flagged = set(singles)
    if joint:
        flagged.update(label for label in labels if not label.startswith("lnsigma_"))
    named = singles + ([f"scale_{base} (relative to {', '.join(joint[0])})"] if joint else [])
    reliable = np.array(result.reliable, dtype=bool)
    mask = np.isin(labels, sorted(flagged))
    reliable[mask] = False

    def blank(matrix):
        if matrix is None:
            return None
        matrix = np.array(matrix, dtype=np.float64)
        matrix[mask, :] = np.nan
        matrix[:, mask] = np.nan
        return matrix

    return dataclasses.replace(
        result, converged=False, message="no finite maximum: " + ", ".join(named),
        reliable=reliable, cov=blank(result.cov), cov_robust=blank(result.cov_robust),
        cov_cluster=blank(result.cov_cluster), notes=tuple(result.notes) + (text,))


def positive_vector(log_prior: dist.Distribution, size: int) -> dist.Distribution:
    """Return a distribution over positive vectors of ``size`` whose logs follow ``log_prior``.

    Its support is positive, so maximum likelihood optimises the log of each entry while the
    results report the entries themselves.
    """
    return dist.TransformedDistribution(log_prior.expand([size]).to_event(1), ExpTransform())


@dataclass(frozen=True)
class Heteroscedastic(ChoiceModel):
    """Location-scale random utility with scales by alternative and by covariates.

    Attributes:
        spec: The linear utility specification.
        simulator: How choice probabilities are computed (default ``Quadrature()``).
        priors: Priors for Bayesian fitting; ``priors.log_scale`` is the prior of each
            ``log(scale_<alt>)``, ``priors.coefficient`` that of each ``lnsigma_<z>``.
        family: Standard noise family: ``"normal"``, ``"gumbel"`` or ``"logistic"``.
        alternative_scales: Estimate a scale per alternative (all but ``scale_base``).
        scale_covariates: Variables ``z`` of the scale equation. Each may be individual-specific
            (the same for every alternative) or vary by alternative.
        scale_base: Alternative whose scale is fixed to 1; default the base of the
            specification's constants (the first alternative when none is given).
        max_scale_ratio: Ratio of the largest to the smallest alternative scale at which
            maximum likelihood stops, not converged, and probes for a boundary. Beyond a
            ratio of 100 one alternative's noise is under 1% of another's, and a likelihood
            still rising there climbs a ridge towards a degenerate scale.
    """

    simulator: Simulator = field(default_factory=Quadrature)
    family: ScaleFamily = "normal"
    alternative_scales: bool = True
    scale_covariates: tuple[str, ...] = ()
    scale_base: Hashable | None = None
    max_scale_ratio: float = 100.0

    family_names: ClassVar[dict[str, str]] = {
        "normal": "heteroscedastic probit", "gumbel": "HEV", "logistic": "heteroscedastic logistic"}

    def __post_init__(self) -> None:
        if self.family not in SCALE_FAMILIES:
            raise ValueError(f"invalid family={self.family!r}; expected one of {SCALE_FAMILIES}")
        if not (isinstance(self.max_scale_ratio, (int, float)) and self.max_scale_ratio > 1):
            raise ValueError(f"max_scale_ratio must be a number above 1; got {self.max_scale_ratio!r}")
        covariates = self.scale_covariates
        if isinstance(covariates, str):
            covariates = (covariates,)
        object.__setattr__(self, "scale_covariates", tuple(covariates))
        for name in self.scale_covariates:
            if not isinstance(name, str):
                raise ValueError(f"scale_covariates must be variable names; got {name!r}")
        if not self.alternative_scales and not self.scale_covariates:
            raise SpecificationError(
                "a heteroscedastic model with alternative_scales=False and no scale_covariates "
                "has no scale parameter; use Logit or Probit, or give scale_covariates")

    @property
    def name(self) -> str:  # type: ignore[override]
        """Model name used in results: the family's usual name."""
        return self.family_names[self.family]

    # -------------------------------------------------------------- identification
    def _scale_base_index(self, data: ChoiceData, design_base: Hashable) -> int:
        base = design_base if self.scale_base is None else self.scale_base
        return alternative_index(data, base, "scale_base")

    def _scale_base_label(self, data: ChoiceData, design_base: Hashable | None) -> Hashable:
        """Return the alternative whose scale is fixed to 1."""
        if design_base is None:
            design_base = self.spec.base if self.spec.base is not None else data.alternatives[0]
        return data.alternatives[self._scale_base_index(data, design_base)]

    def prepare(self, data: ChoiceData) -> PreparedModel:
        """Evaluate the specification and check that the scales are identified."""
        prepared = super().prepare(data)
        if self.alternative_scales and data.n_alts == 2:
            raise SpecificationError(
                "per-alternative scales are not identified with two alternatives (only the "
                "scale of the utility difference enters the likelihood); fit with "
                "alternative_scales=False and scale_covariates=[...] for a binary "
                "heteroscedastic model, or use the homoscedastic model")
        for k, name in enumerate(self.scale_covariates):
            values = np.broadcast_to(np.asarray(prepared.inputs.extras["scale_covariates"][..., k]),
                                     data.available.shape)
            used = values[np.asarray(data.available)]
            if used.size and np.ptp(used) == 0:
                raise SpecificationError(
                    f"scale covariate {name!r} is constant ({used.flat[0]!r}) over the sample, "
                    "so its coefficient duplicates the scale normalisation; drop it")
        return prepared

    # -------------------------------------------------------------- model pieces
    def parameter_blocks(self, prepared_design: Design, data: ChoiceData) -> tuple[ParameterBlock, ...]:
        blocks = [ParameterBlock("beta", prepared_design.names)]
        if self.alternative_scales:
            base = self._scale_base_index(data, prepared_design.base)
            labels = tuple(f"scale_{alt}" for j, alt in enumerate(data.alternatives) if j != base)
            blocks.append(ParameterBlock("scale", labels))
        if self.scale_covariates:
            blocks.append(ParameterBlock("lnsigma",
                                         tuple(f"lnsigma_{z}" for z in self.scale_covariates)))
        return tuple(blocks)

    def extra_inputs(self, data: ChoiceData) -> dict[str, np.ndarray]:
        extras: dict[str, np.ndarray] = {}
        if self.alternative_scales:
            design_base = self.spec.base if self.spec.base is not None else data.alternatives[0]
            base = self._scale_base_index(data, design_base)
            free = [j for j in range(data.n_alts) if j != base]
            embed = np.zeros((len(free), data.n_alts))
            embed[np.arange(len(free)), free] = 1.0
            extras["scale_embedding"] = embed
        if self.scale_covariates:
            covariates = np.stack([data.variable(name) for name in self.scale_covariates], axis=-1)
            if not self.alternative_scales and not any(
                    data.varies_within_situations(name) for name in self.scale_covariates):
                # One scale per situation, shape (n_obs, 1, n_z): the closed forms of the Exact
                # simulator (binary probit, logit with a common scale) then apply.
                covariates = covariates[:, :1, :]
            extras["scale_covariates"] = covariates
        return extras

    def sample_parameters(self, inputs: ModelInputs) -> dict[str, jax.Array]:
        params = super().sample_parameters(inputs)
        if self.alternative_scales:
            n_free = inputs.extras["scale_embedding"].shape[0]
            params["scale"] = numpyro.sample("scale", positive_vector(self.priors.log_scale, n_free))
        if self.scale_covariates:
            params["lnsigma"] = numpyro.sample(
                "lnsigma",
                self.priors.coefficient.expand([len(self.scale_covariates)]).to_event(1))
        return params

    def log_scales(self, params: Mapping[str, jax.Array], inputs: ModelInputs,
                   index: jax.Array) -> jax.Array:
        """Return ``log sigma_nj = gamma_j + z_nj' delta``, shape ``(batch, n_alts)`` or ``(batch, 1)``.

        The second shape, one scale per situation, arises without alternative scales and with
        scale covariates that do not vary across alternatives.
        """
        log_scale = jnp.zeros((index.shape[0], 1), dtype=inputs.design.dtype)
        if self.alternative_scales:
            log_scale = log_scale + jnp.log(params["scale"]) @ inputs.extras["scale_embedding"]
        if self.scale_covariates:
            log_scale = log_scale + jnp.einsum("naz,z->na", inputs.extras["scale_covariates"][index],
                                               params["lnsigma"])
        return log_scale

    def utility_and_noise(self, params: Mapping[str, jax.Array], inputs: ModelInputs,
                          index: jax.Array) -> tuple[jax.Array, Noise]:
        utility = self.linear_utility(params["beta"], inputs, index)
        scale = jnp.exp(self.log_scales(params, inputs, index))
        return utility, Noise(self.family, scale=scale)

    def default_start(self, prepared: PreparedModel) -> dict[str, np.ndarray]:
        start = super().default_start(prepared)
        if self.alternative_scales:
            start["scale"] = np.ones(prepared.inputs.extras["scale_embedding"].shape[0])
        if self.scale_covariates:
            start["lnsigma"] = np.zeros(len(self.scale_covariates))
        return start

    def fit(self, data: ChoiceData, **options: Any):
        """Fit by maximum likelihood, starting from the logit estimates unless ``start`` is given.

        Heteroscedastic likelihoods are not concave. Starting the coefficients at the rescaled
        logit estimates, with the scales at 1, keeps the first Newton steps away from extreme
        scale ratios.
        """
        from discrete_choice.inference.mle import fit_mle

        if options.get("start") is None:
            options["start"] = logit_start(self.spec, data, math.sqrt(2.0) * _NOISE_SD[self.family])
        return check_scale_boundary(fit_mle(self, data, **options))

    def divergence(self, values: Mapping[str, np.ndarray]) -> str | None:
        """Return a message once the alternative scales spread beyond ``max_scale_ratio``."""
        if "scale" not in values:
            return None
        scales = np.append(np.asarray(values["scale"], dtype=np.float64), 1.0)
        ratio = float(np.max(scales) / np.min(scales))
        if not ratio > self.max_scale_ratio:
            return None
        return (f"the alternative scales differ by a factor {ratio:.3g}, beyond "
                f"max_scale_ratio = {self.max_scale_ratio:g}")

    def describe_noise(self) -> dict[str, Any]:
        location = "location 0 is the mode" if self.family == "gumbel" else "mean 0"
        parts = []
        if self.alternative_scales:
            base = "the base alternative" if self.scale_base is None else repr(self.scale_base)
            parts.append(f"a scale per alternative, the one of {base} fixed to 1")
        if self.scale_covariates:
            parts.append("log-scales linear in " + ", ".join(self.scale_covariates))
        return {"family": self.family,
                "normalisation": f"independent, {'; '.join(parts)} ({location})"}


def _fixed_family(family: str):
    return field(default=family, init=False)


@dataclass(frozen=True)
class HEV(Heteroscedastic):
    r"""Heteroscedastic extreme value model (Bhat 1995): independent Gumbel noise, mode 0.

    :math:`U_{nj} = V_{nj} + \sigma_{nj} u_{nj}` with :math:`u_{nj}` standard Gumbel. With
    all scales equal to 1 it is the multinomial logit, so a likelihood-ratio test of the scales
    against :class:`~discrete_choice.Logit` is a test of heteroscedasticity. See
    :class:`Heteroscedastic` for the arguments.

    Warning:
        Location 0 is the mode of the Gumbel law, as in Bhat (1995) and R mlogit; a
        mean-zero convention shifts each constant by :math:`0.5772(\sigma_j - \sigma_{base})`.
    """

    family: ScaleFamily = _fixed_family("gumbel")


@dataclass(frozen=True)
class HeteroscedasticProbit(Heteroscedastic):
    """Heteroscedastic probit: independent Normal noise with scales by alternative or covariates.

    Nests :class:`~discrete_choice.Probit` (all scales 1) and is nested in
    :class:`~discrete_choice.MultinomialProbit` when it has no scale covariates. See
    :class:`Heteroscedastic` for the arguments.
    """

    family: ScaleFamily = _fixed_family("normal")


@dataclass(frozen=True)
class HeteroscedasticLogistic(Heteroscedastic):
    """Heteroscedastic model with independent standard Logistic noise. See :class:`Heteroscedastic`."""

    family: ScaleFamily = _fixed_family("logistic")
