r"""Neural utilities and noise scales: the deep heteroscedastic classifier as a choice model.

The latent utility of alternative ``j`` for situation ``n`` with network inputs ``x_n`` is

.. math::

    U_{nj} = \underbrace{x^{\text{lin}}_{nj}{}'\beta}_{\text{optional linear part}}
             + \mu_j(x_n) + \sigma_j(x_n)\, u_{nj},
    \qquad \sigma_j(x_n) = \sigma_{\min} + \operatorname{softplus}(s_j(x_n)),

where ``mu`` (the utility head) and ``s`` (the scale head) are linear read-outs of one shared
multilayer perceptron, and ``u`` is standard Gumbel, Normal or Logistic noise. With Normal
noise and the :class:`~discrete_choice.Smoothed` simulator at temperature ``tau`` the choice
probability is the Monte Carlo heteroscedastic softmax

.. math::

    P_{nj} \approx \frac{1}{S}\sum_{s=1}^{S}
        \operatorname{softmax}\!\Big(\frac{\mu(x_n) + \sigma(x_n) \odot u_{ns}}{\tau}\Big)_j ,

which at ``tau = 1`` is the heteroscedastic classifier of Kendall and Gal (2017) and for other
``tau`` the one studied by Collier et al. (2020). Without a scale head and with Gumbel noise and
the :class:`~discrete_choice.Exact` simulator, the model is the ordinary softmax network.

Positivity and floor of the scales: the scale head's raw output ``s`` goes through
``softplus``, which is positive and smooth, and the floor ``sigma_min``
(:attr:`NetworkConfig.scale_floor`) is added, so ``sigma >= sigma_min > 0`` for every input and
every weight, including weights proposed by NUTS. The scale head's bias starts at
``softplus^{-1}(1 - sigma_min)``, so every scale is 1 before training.

Why Equinox rather than Flax: an Equinox module is itself a JAX pytree whose leaves are the
weights. It therefore passes through ``jit``, ``grad``, ``vmap`` and ``optax`` with no separate
``init``/``apply`` state and no mutable variable collections. ``numpyro.contrib.module`` wraps
it with ``eqx_module`` (weights as ``numpyro.param`` sites) or ``random_eqx_module`` (weights as
``numpyro.sample`` sites with a prior). The same NumPyro model therefore runs under the
minibatch likelihood trainer (:func:`~discrete_choice.train`), SVI and NUTS. Equinox is also
small (its dependencies are JAX, jaxtyping and typing_extensions) and keeps to
JAX's own idioms, which matters for a library that must not pin a framework on its users.

Identification: only utility differences matter, so ``mu`` is identified up to an additive
function of ``x_n``. With a scale head, the overall scale also trades off against the size of
``mu``. Neither changes the probabilities or the likelihood, so the trainer leaves both free.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.contrib.module import eqx_module, eqx_to_dict, random_eqx_module

from discrete_choice.data import ChoiceData
from discrete_choice.models._base import (
    ChoiceModel,
    ModelInputs,
    ParameterBlock,
    PreparedModel,
    Priors,
)
from discrete_choice.noise import FAMILIES, Family, Noise
from discrete_choice.utility import Design, LinearSpec

__all__ = [
    "ChoiceNetwork",
    "NETWORK_SITE",
    "NetworkConfig",
    "NeuralChoiceModel",
    "classification_data",
]

NETWORK_SITE = "network"
"""Name under which the network is registered in the NumPyro model (``"network$params"``)."""

Activation = Literal["relu", "tanh", "gelu", "softplus", "silu"]
ACTIVATIONS: tuple[str, ...] = get_args(Activation)
ScaleHead = Literal["none", "shared", "per_alternative"]
SCALE_HEADS: tuple[str, ...] = get_args(ScaleHead)

_UNUSED_PRIORS = Priors()  # replaces the unused priors of a model without linear coefficients
_NO_LINEAR_PART = LinearSpec(constants=False)  # the spec of a purely neural model

_ACTIVATION_FUNCTIONS = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "gelu": jax.nn.gelu,
    "softplus": jax.nn.softplus,
    "silu": jax.nn.silu,
}


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture of the shared body and of the two heads.

    Attributes:
        hidden: Widths of the hidden layers of the shared body; ``()`` makes both heads linear
            functions of the inputs.
        activation: Nonlinearity after every hidden layer, one of ``"relu"``, ``"tanh"``,
            ``"gelu"``, ``"softplus"``, ``"silu"``.
        utility_head: Whether the network adds utilities ``mu_j(x)`` (set ``False`` for a
            model whose utilities are only the linear part and whose network only sets scales).
        scale_head: ``"none"`` (unit scales), ``"shared"`` (one scale per situation, shape
            ``(n_obs, 1)``) or ``"per_alternative"`` (shape ``(n_obs, n_alts)``).
        scale_floor: ``sigma_min``, the smallest scale the head can return, in utility units
            per unit of the standard noise; must be >= 0.
        init_seed: Seed of the weight initialisation (Equinox's default initialisers).
    """

    hidden: tuple[int, ...] = (64,)
    activation: Activation = "relu"
    utility_head: bool = True
    scale_head: ScaleHead = "none"
    scale_floor: float = 1e-3
    init_seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(self.hidden))
        bad = [w for w in self.hidden if isinstance(w, bool) or not isinstance(w, (int, np.integer))
               or w < 1]
        if bad:
            raise ValueError(f"hidden must hold positive integer widths; got hidden={self.hidden}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"invalid activation={self.activation!r}; expected one of "
                             f"{ACTIVATIONS}")
        if self.scale_head not in SCALE_HEADS:
            raise ValueError(f"invalid scale_head={self.scale_head!r}; expected one of "
                             f"{SCALE_HEADS}")
        if not (self.scale_floor >= 0 and np.isfinite(self.scale_floor)):
            raise ValueError(f"scale_floor must be finite and >= 0; got "
                             f"scale_floor={self.scale_floor!r}")
        if self.scale_floor >= 1 and self.scale_head != "none":
            raise ValueError(f"scale_floor must be below 1 so that the scales can start at 1; "
                             f"got scale_floor={self.scale_floor!r}")
        if not self.utility_head and self.scale_head == "none":
            raise ValueError("the network has neither a utility head nor a scale head; set "
                             "utility_head=True or choose a scale_head")


class ChoiceNetwork(eqx.Module):
    """Shared multilayer perceptron with a utility head and a positive scale head.

    Call on one situation's inputs ``x`` of shape ``(n_inputs,)``; ``jax.vmap`` it over
    situations. Returns ``(mu, sigma)``: ``mu`` has shape ``(n_alts,)`` (zeros without a
    utility head) and ``sigma`` has shape ``(n_alts,)``, ``(1,)`` or is ``None`` (no scale
    head), with ``sigma = scale_floor + softplus(raw)``.
    """

    layers: tuple[eqx.nn.Linear, ...]
    location: eqx.nn.Linear | None
    scale: eqx.nn.Linear | None
    n_alts: int = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    scale_floor: float = eqx.field(static=True)

    def __init__(self, n_inputs: int, n_alts: int, config: NetworkConfig, *, key: jax.Array):
        keys = jax.random.split(key, len(config.hidden) + 2)
        widths = (n_inputs, *config.hidden)
        self.layers = tuple(eqx.nn.Linear(width_in, width_out, key=k)
                            for width_in, width_out, k in zip(widths[:-1], widths[1:], keys))
        self.location = (eqx.nn.Linear(widths[-1], n_alts, key=keys[-2])
                         if config.utility_head else None)
        if config.scale_head == "none":
            self.scale = None
        else:
            n_scales = n_alts if config.scale_head == "per_alternative" else 1
            head = eqx.nn.Linear(widths[-1], n_scales, key=keys[-1])
            # Start every scale at 1: small weights, bias softplus^{-1}(1 - floor).
            start = float(np.log(np.expm1(1.0 - config.scale_floor)))
            self.scale = eqx.tree_at(lambda h: (h.weight, h.bias), head,
                                     (0.1 * head.weight, jnp.full((n_scales,), start)))
        self.n_alts = n_alts
        self.activation = config.activation
        self.scale_floor = float(config.scale_floor)

    def features(self, x: jax.Array) -> jax.Array:
        """Compute the shared body's output for one situation, shape ``(hidden[-1],)``."""
        act = _ACTIVATION_FUNCTIONS[self.activation]
        for layer in self.layers:
            x = act(layer(x))
        return x

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array | None]:
        hidden = self.features(x)
        if self.location is None:
            mu = jnp.zeros((self.n_alts,), hidden.dtype)
        else:
            mu = self.location(hidden)
        sigma = None
        if self.scale is not None:
            sigma = self.scale_floor + jax.nn.softplus(self.scale(hidden))
        return mu, sigma


def classification_data(features: Any, labels: Any, *, n_classes: int | None = None,
                        names: tuple[str, ...] | None = None) -> ChoiceData:
    """Wrap a classification dataset as choice data: one alternative per class.

    Args:
        features: ``(n_obs, n_features)`` array of inputs.
        labels: ``(n_obs,)`` integer class labels in ``0 .. n_classes - 1``.
        n_classes: Number of classes; default ``max(labels) + 1``.
        names: Feature names; default ``x0, x1, ...``.

    Returns:
        :class:`~discrete_choice.ChoiceData` whose variables are the features, each
        individual-specific (repeated across the ``n_classes`` alternatives). Pass
        ``features=data.variable_names`` to :class:`NeuralChoiceModel`.
    """
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    if features.ndim != 2:
        raise ValueError(f"features must have shape (n_obs, n_features); got shape "
                         f"{features.shape}")
    if labels.shape != (features.shape[0],):
        raise ValueError(f"labels must have shape (n_obs,) = ({features.shape[0]},); got shape "
                         f"{labels.shape}")
    n_classes = int(labels.max()) + 1 if n_classes is None else int(n_classes)
    names = tuple(f"x{i}" for i in range(features.shape[1])) if names is None else tuple(names)
    if len(names) != features.shape[1]:
        raise ValueError(f"names has {len(names)} entries but features has "
                         f"{features.shape[1]} columns")
    return ChoiceData.from_arrays(labels, dict(zip(names, features.T)),
                                  alternatives=tuple(range(n_classes)))


@dataclass(frozen=True)
class NeuralChoiceModel(ChoiceModel):
    r"""Random-utility model whose utilities and noise scales are neural networks of covariates.

    .. code-block:: text

        beta ~ priors.coefficient                  (only with a linear spec)
        network = eqx_module("network", ...)       (or random_eqx_module with network_prior)
        for n in plate("obs"):
            mu_n, sigma_n = network(x_n)
            V_n = design_n @ beta + mu_n
            choice_n ~ ChoiceDistribution(V_n, available_n, Noise(noise, scale=sigma_n), simulator)

    ``x_n`` concatenates the variables named in ``features``: a variable that is the same for
    every alternative of a situation contributes one input, one that varies (an alternative
    attribute) contributes ``n_alts`` inputs, zero where unavailable. Inputs are used as
    given, so standardise them first.

    Attributes:
        spec: Linear part of the hybrid form. ``None`` (stored as an empty
            ``LinearSpec(constants=False)``) makes a purely neural model. With terms,
            ``V = X beta + mu(x)``: interpretable coefficients on alternative attributes plus a
            neural term of the ``features``.
        features: Names of the data's variables fed to the network (at least one).
        network: Architecture (:class:`NetworkConfig`).
        noise: Standard family of ``u``: ``"gumbel"``, ``"normal"``, ``"logistic"`` or
            ``"none"``.
        simulator: How choice probabilities are computed: ``Exact`` (softmax; Gumbel noise
            with a shared or no scale), ``Quadrature``, ``Smoothed(tau=..., n_draws=...)`` or
            ``Frequency``.
        priors: Prior of the linear coefficients (SVI and NUTS).
        network_prior: ``None`` registers the weights as ``numpyro.param`` sites, which the
            trainer and SVI estimate as points. A distribution registers them as
            ``numpyro.sample`` sites with that prior on every weight, for NUTS and for SVI with
            an automatic guide.

    Example:
        >>> import numpy as np, discrete_choice as dc
        >>> x = np.random.default_rng(0).normal(size=(200, 3))
        >>> data = dc.classification_data(x, (x[:, 0] > 0).astype(int))
        >>> model = dc.NeuralChoiceModel(features=data.variable_names,
        ...                              network=dc.NetworkConfig(hidden=(8,)))
        >>> result = model.fit(data, max_epochs=5, validation_fraction=0.0)
        >>> result.epochs_run
        5
    """

    spec: LinearSpec | None = None
    features: tuple[str, ...] = ()
    network: NetworkConfig = field(default_factory=NetworkConfig)
    noise: Family = "gumbel"
    network_prior: dist.Distribution | None = None

    name: ClassVar[str] = "neural choice model"

    def __post_init__(self) -> None:
        if isinstance(self.features, str):
            object.__setattr__(self, "features", (self.features,))
        object.__setattr__(self, "features", tuple(self.features))
        if not self.features:
            raise ValueError("features must name at least one variable of the data for the "
                             "network's inputs; got features=()")
        if self.noise not in FAMILIES:
            raise ValueError(f"invalid noise={self.noise!r}; expected one of {FAMILIES}")
        if not isinstance(self.network, NetworkConfig):
            raise TypeError(f"network must be a NetworkConfig; got "
                            f"{type(self.network).__name__}")
        if self.spec is None:
            object.__setattr__(self, "spec", _NO_LINEAR_PART)
        if not isinstance(self.spec, LinearSpec):
            raise TypeError(f"spec must be a LinearSpec or None; got {type(self.spec).__name__}")

    @property
    def has_linear_part(self) -> bool:
        """Whether the specification adds any linear term (constants included)."""
        spec = self.spec
        return bool(spec.generic or spec.individual or spec.alternative_specific
                    or spec.constants is not False)

    # -------------------------------------------------------------- inputs
    def extra_inputs(self, data: ChoiceData) -> dict[str, np.ndarray]:
        columns = []
        for name in self.features:
            values = np.where(data.available, data.variable(name), 0.0)
            if data.varies_within_situations(name):
                columns.append(values)
            else:
                first = np.argmax(data.available, axis=1)
                columns.append(values[np.arange(data.n_obs), first][:, None])
        return {"features": np.concatenate(columns, axis=1)}

    def parameter_blocks(self, prepared_design: Design, data: ChoiceData
                         ) -> tuple[ParameterBlock, ...]:
        """Return the sample sites with labels: ``beta`` with a linear part and, with a network
        prior, one site per weight array, labelled ``network/<path>[i,j]``."""
        blocks = []
        if prepared_design.names:
            blocks.append(ParameterBlock("beta", prepared_design.names))
        if self.network_prior is not None:
            n_inputs = self.extra_inputs(data)["features"].shape[-1]
            weights, _ = eqx.partition(self.build_network(n_inputs, data.n_alts),
                                       eqx.is_inexact_array)
            for path, value in eqx_to_dict(weights).items():
                site = f"{NETWORK_SITE}/{path}"
                labels = tuple(f"{site}[{','.join(map(str, index))}]"
                               for index in np.ndindex(np.shape(value)))
                blocks.append(ParameterBlock(site, labels))
        return tuple(blocks)

    # -------------------------------------------------------------- the network
    def build_network(self, n_inputs: int, n_alts: int) -> ChoiceNetwork:
        """Return the network with its initial weights (a pure function of ``init_seed``)."""
        return ChoiceNetwork(n_inputs, n_alts, self.network,
                             key=jax.random.key(self.network.init_seed))

    def sample_parameters(self, inputs: ModelInputs) -> dict[str, Any]:
        params: dict[str, Any] = {}
        n_params = inputs.design.shape[-1]
        if n_params:
            params["beta"] = numpyro.sample(
                "beta", self.priors.coefficient.expand([n_params]).to_event(1))
        template = self.build_network(inputs.extras["features"].shape[-1],
                                      inputs.available.shape[-1])
        if self.network_prior is None:
            params[NETWORK_SITE] = eqx_module(NETWORK_SITE, template)
        else:
            params[NETWORK_SITE] = random_eqx_module(NETWORK_SITE, template, self.network_prior)
        return params

    def utility_and_noise(self, params: Mapping[str, Any], inputs: ModelInputs,
                          index: jax.Array) -> tuple[jax.Array, Noise]:
        mu, sigma = jax.vmap(params[NETWORK_SITE])(inputs.extras["features"][index])
        utility = mu
        if "beta" in params:
            utility = utility + self.linear_utility(params["beta"], inputs, index)
        return utility, Noise(self.noise, scale=sigma)

    def default_start(self, prepared: PreparedModel) -> dict[str, np.ndarray]:
        """Return start values of the sample sites: zero coefficients and, with a network prior,
        the initial weights of :meth:`build_network` (not a draw from the prior)."""
        start: dict[str, np.ndarray] = {}
        if prepared.inputs.design.shape[-1]:
            start["beta"] = np.zeros(prepared.inputs.design.shape[-1])
        if self.network_prior is not None:
            template = self.build_network(prepared.inputs.extras["features"].shape[-1],
                                          prepared.inputs.available.shape[-1])
            weights, _ = eqx.partition(template, eqx.is_inexact_array)
            for path, value in eqx_to_dict(weights).items():
                start[f"{NETWORK_SITE}/{path}"] = np.asarray(value)
        return start

    def describe_noise(self) -> dict[str, Any]:
        return {"family": self.noise,
                "scale": {"none": "1", "shared": "network, one per situation",
                          "per_alternative": "network, one per alternative"}[
                              self.network.scale_head],
                "scale_floor": self.network.scale_floor}

    def without_initialisation(self) -> NeuralChoiceModel:
        """Return a model with the same likelihood whose initialisation settings are reset.

        The trainer keys its compiled functions on the model's fields. Because the weights are
        substituted into the model, ``init_seed`` and (without a linear part) the priors do not
        change the compiled likelihood. Resetting them lets fits that differ only there, such
        as the seeds of an experiment, share one compilation.
        """
        model = self.with_network(init_seed=0)
        if not self.has_linear_part:
            model = dataclasses.replace(model, priors=_UNUSED_PRIORS)
        return model

    def with_network(self, **changes: Any) -> NeuralChoiceModel:
        """Return the same model with fields of :attr:`network` replaced."""
        return dataclasses.replace(self, network=dataclasses.replace(self.network, **changes))

    def fit(self, data: ChoiceData, **options: Any):
        """Train by minibatch maximum likelihood; shorthand for :func:`discrete_choice.train`."""
        from discrete_choice.inference.train import train

        return train(self, data, **options)
