"""A NumPyro distribution over the chosen alternative of a random-utility model."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpyro.distributions as dist
from numpyro.distributions import constraints
from numpyro.distributions.util import validate_sample

from discrete_choice.noise import Noise
from discrete_choice.simulators import Exact
from discrete_choice.simulators._base import Predictive, Simulator, prepare_inputs

__all__ = ["ChoiceDistribution"]


class ChoiceDistribution(dist.Distribution):
    """Distribution of the index of the alternative with the largest latent utility.

    ``U_j = V_j + eps_j`` for ``j = 0 .. n_alts - 1`` with ``eps`` from ``noise``; the choice is
    ``argmax_{j available} U_j`` and its log probability comes from ``simulator``.

    Args:
        utility: ``(..., n_alts)`` systematic utilities ``V`` in utility units; entries of
            unavailable alternatives are ignored (they may be any value, even ``nan``).
        available: ``(..., n_alts)`` boolean availability mask, or ``None`` (all available).
        noise: the noise law (default iid standard Gumbel, i.e. the logit model).
        simulator: how ``log P`` is computed (default :class:`Exact`). Its settings (``tau``,
            ``n_draws``, scales in ``noise``) are validated when it is constructed, with
            errors that name the argument and its value.

    ``batch_shape`` is ``utility.shape[:-1]``, ``event_shape`` is ``()`` and the support is
    ``{0, ..., n_alts - 1}``. ``log_prob(choice)`` returns the log probability with the batch
    shape; ``probabilities`` is ``(..., n_alts)``, exactly 0 where unavailable.
    """

    # No constraint on utility: unavailable alternatives may hold any value, even nan.
    arg_constraints: dict = {}
    pytree_data_fields = ("utility", "available", "noise", "simulator")
    pytree_aux_fields = ("n_alts",)
    has_enumerate_support = True

    def __init__(
        self,
        utility: Any,
        available: Any = None,
        noise: Noise | None = None,
        simulator: Simulator | None = None,
        *,
        validate_args: bool | None = None,
    ):
        utility, available = prepare_inputs(utility, available)
        self.utility = utility
        self.available = available
        self.noise = Noise() if noise is None else noise
        self.simulator = Exact() if simulator is None else simulator
        if not isinstance(self.noise, Noise):
            raise TypeError(f"noise must be a Noise; got {type(self.noise).__name__}")
        if not isinstance(self.simulator, Simulator):
            raise TypeError(f"simulator must be a Simulator; got {type(self.simulator).__name__}")
        self.n_alts = int(utility.shape[-1])
        super().__init__(
            batch_shape=jnp.shape(utility)[:-1], event_shape=(), validate_args=validate_args
        )

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.n_alts - 1)

    @validate_sample
    def log_prob(self, value):
        return self.simulator.log_prob(self.utility, value, self.available, self.noise)

    @property
    def probabilities(self) -> jax.Array:
        """Choice probabilities, ``(..., n_alts)``."""
        return self.simulator.probabilities(self.utility, self.available, self.noise)

    def predictive(self) -> Predictive:
        """Mean probabilities, their variance across the simulator's draws and the argmax choice."""
        return self.simulator.predictive(self.utility, self.available, self.noise)

    @property
    def mean(self):
        return jnp.sum(self.probabilities * jnp.arange(self.n_alts), axis=-1)

    def sample(self, key, sample_shape=()):
        """Draw choices from the categorical law with :attr:`probabilities`, ``sample_shape + batch_shape``."""
        probs = self.probabilities
        logits = jnp.where(probs > 0, jnp.log(jnp.where(probs > 0, probs, 1.0)), -jnp.inf)
        return jax.random.categorical(key, logits, shape=tuple(sample_shape) + self.batch_shape)

    def enumerate_support(self, expand=True):
        values = jnp.arange(self.n_alts).reshape((-1,) + (1,) * len(self.batch_shape))
        if expand:
            values = jnp.broadcast_to(values, values.shape[:1] + self.batch_shape)
        return values
