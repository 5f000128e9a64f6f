"""Shared parts of every choice model: inputs, parameter blocks and the NumPyro model function."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from discrete_choice.data import ChoiceData
from discrete_choice.distribution import ChoiceDistribution
from discrete_choice.noise import Noise
from discrete_choice.simulators import Exact
from discrete_choice.simulators._base import Simulator
from discrete_choice.utility import Design, LinearSpec, build_design

__all__ = ["ChoiceModel", "ModelInputs", "ParameterBlock", "Priors", "PreparedModel"]

CHOICE_SITE = "choice"
OBS_PLATE = "obs"


class ModelInputs(NamedTuple):
    """Arrays a model function reads; a JAX pytree.

    Attributes:
        design: Linear-utility covariates, shape ``(n_obs, n_alts, n_params)``.
        available: Availability mask, boolean, shape ``(n_obs, n_alts)``.
        weights: Situation weights, shape ``(n_obs,)``, or ``None``.
        extras: Model-specific arrays by name (for example scale covariates ``(n_obs, n_z)``).
    """

    design: jax.Array
    available: jax.Array
    weights: jax.Array | None
    extras: Mapping[str, jax.Array]


@dataclass(frozen=True)
class ParameterBlock:
    """One NumPyro sample site and the labels of its flattened entries.

    Attributes:
        site: Name of the ``numpyro.sample`` site.
        labels: One label per entry of the site's value, in row-major order.
    """

    site: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Priors:
    """Prior distributions of the parameters, used by SVI and NUTS and ignored by maximum likelihood.

    The defaults are weakly informative for utilities measured in units of the noise scale:
    a coefficient of 5 moves a choice probability from 0.5 to above 0.99.

    Attributes:
        coefficient: Prior of each linear-utility coefficient: a scalar distribution shared
            by all of them, or one with batch shape ``(n_params,)`` giving each coefficient its
            own prior in the order of the result's labels (for example
            ``dist.Normal(0.0, jnp.array([5.0, 5.0, 0.1]))``).
        log_scale: Prior of each log noise scale (scales are positive; a Normal on the log is a
            log-normal prior on the scale).
    """

    coefficient: dist.Distribution = field(default_factory=lambda: dist.Normal(0.0, 5.0))
    log_scale: dist.Distribution = field(default_factory=lambda: dist.Normal(0.0, 1.0))


@dataclass(frozen=True, eq=False)
class PreparedModel:
    """A model bound to one dataset: the arrays, the parameter labels and the model function.

    Attributes:
        model: The model that made it.
        data: The choice data.
        design: The evaluated linear design.
        inputs: Arrays for the model function.
        blocks: Parameter sites with their labels, in the order results report them.
    """

    model: ChoiceModel
    data: ChoiceData
    design: Design
    inputs: ModelInputs
    blocks: tuple[ParameterBlock, ...]

    @property
    def choice(self) -> jax.Array:
        """Observed choices, shape ``(n_obs,)``."""
        return jnp.asarray(self.data.choice)

    def numpyro_model(self, choice: Any = None, subsample_size: int | None = None) -> None:
        """Run the model function on this dataset's inputs (a NumPyro model with no arguments bound)."""
        self.model.model(self.inputs, choice, subsample_size=subsample_size)


@dataclass(frozen=True)
class ChoiceModel:
    """Base of the random-utility model families.

    A family defines which parameters it samples (:meth:`sample_parameters`) and how they map
    to utilities and noise (:meth:`utility_and_noise`); this class turns that into the NumPyro
    model

    .. code-block:: text

        theta ~ priors
        for n in plate("obs"):
            V_n, noise_n = utility_and_noise(theta)
            choice_n ~ ChoiceDistribution(V_n, available_n, noise_n, simulator)

    with observation weights applied through ``numpyro.handlers.scale``.

    Attributes:
        spec: The linear utility specification.
        simulator: How choice probabilities are computed.
        priors: Priors for Bayesian fitting.
    """

    spec: LinearSpec
    simulator: Simulator = field(default_factory=Exact)
    priors: Priors = field(default_factory=Priors)

    name: ClassVar[str] = "choice model"

    # -------------------------------------------------------------- to override
    def parameter_blocks(self, prepared_design: Design, data: ChoiceData) -> tuple[ParameterBlock, ...]:
        """Return the sample sites and their labels; the linear coefficients come first."""
        return (ParameterBlock("beta", prepared_design.names),)

    def extra_inputs(self, data: ChoiceData) -> dict[str, np.ndarray]:
        """Return model-specific arrays (for example scale covariates) for :class:`ModelInputs`."""
        return {}

    def sample_parameters(self, inputs: ModelInputs) -> dict[str, jax.Array]:
        """Sample the parameters from their priors inside the NumPyro model."""
        n_params = inputs.design.shape[-1]
        beta = numpyro.sample("beta", self.priors.coefficient.expand([n_params]).to_event(1))
        return {"beta": beta}

    def utility_and_noise(self, params: Mapping[str, jax.Array], inputs: ModelInputs,
                          index: jax.Array) -> tuple[jax.Array, Noise]:
        """Return utilities ``(batch, n_alts)`` and noise for the situations in ``index``."""
        raise NotImplementedError

    def default_start(self, prepared: PreparedModel) -> dict[str, np.ndarray]:
        """Return start values in the parameters' own (constrained) space, by site."""
        return {"beta": np.zeros(prepared.inputs.design.shape[-1])}

    def describe_noise(self) -> dict[str, Any]:
        """Return a short description of the noise for results (family and normalisation)."""
        return {}

    def divergence(self, values: Mapping[str, np.ndarray]) -> str | None:
        """Return why maximum likelihood should stop at these parameter values, or ``None``.

        Called after each optimiser iteration with the constrained values by site. A model
        whose likelihood can keep rising towards a boundary returns a message once the
        parameters are far enough along it. The fit then stops there, not converged.
        """
        return None

    # -------------------------------------------------------------- shared machinery
    def linear_utility(self, beta: jax.Array, inputs: ModelInputs, index: jax.Array) -> jax.Array:
        """Return ``V_nj = x_nj' beta`` for the situations in ``index``, shape ``(batch, n_alts)``."""
        return jnp.einsum("nak,k->na", inputs.design[index], beta)

    def model(self, inputs: ModelInputs, choice: Any = None, *,
              subsample_size: int | None = None) -> None:
        """Run the NumPyro model: priors, then one choice per situation inside the ``obs`` plate."""
        params = self.sample_parameters(inputs)
        n_obs = inputs.available.shape[0]
        with numpyro.plate(OBS_PLATE, n_obs, subsample_size=subsample_size) as index:
            utility, noise = self.utility_and_noise(params, inputs, index)
            distribution = ChoiceDistribution(utility, inputs.available[index], noise,
                                              self.simulator)
            observed = None if choice is None else jnp.asarray(choice)[index]
            if inputs.weights is None:
                numpyro.sample(CHOICE_SITE, distribution, obs=observed)
            else:
                with numpyro.handlers.scale(scale=inputs.weights[index]):
                    numpyro.sample(CHOICE_SITE, distribution, obs=observed)

    def prepare(self, data: ChoiceData) -> PreparedModel:
        """Evaluate the specification on ``data`` and check identification, before any fitting."""
        if not isinstance(data, ChoiceData):
            raise TypeError(f"data must be a ChoiceData (see ChoiceData.from_long and from_wide); "
                            f"got {type(data).__name__}")
        design = build_design(self.spec, data)
        extras = {k: jnp.asarray(v) for k, v in self.extra_inputs(data).items()}
        inputs = ModelInputs(
            design=jnp.asarray(design.matrix),
            available=jnp.asarray(data.available),
            weights=None if data.weights is None else jnp.asarray(data.weights),
            extras=extras,
        )
        return PreparedModel(model=self, data=data, design=design, inputs=inputs,
                             blocks=self.parameter_blocks(design, data))

    def with_spec(self, spec: LinearSpec) -> ChoiceModel:
        """Return the same model family and settings with another specification."""
        return dataclasses.replace(self, spec=spec)

    def fit(self, data: ChoiceData, **options: Any):
        """Fit by maximum likelihood; shorthand for :func:`discrete_choice.fit_mle`."""
        from discrete_choice.inference.mle import fit_mle

        return fit_mle(self, data, **options)


def alternative_index(data: ChoiceData, label: Hashable, argument: str) -> int:
    """Return the position of an alternative label, naming the argument if it is unknown."""
    try:
        return list(data.alternatives).index(label)
    except ValueError:
        raise ValueError(f"{argument}={label!r} is not an alternative of the data "
                         f"({list(data.alternatives)})") from None
