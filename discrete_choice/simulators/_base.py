"""Common interface of the simulators and the masked log-softmax they share.

A simulator maps systematic utilities ``V`` with shape ``(..., n_alts)``, an availability mask
and a :class:`~discrete_choice.noise.Noise` to the log probability of each alternative being
the one with the largest latent utility ``U = V + eps``. Unavailable alternatives are masked
with ``where``, never given a sentinel utility, and their probability is exactly 0.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from discrete_choice.noise import Noise

__all__ = [
    "Predictive",
    "Simulator",
    "gather_choice",
    "masked_log_softmax",
    "predict_argmax",
    "prepare_inputs",
    "pytree_dataclass",
]


def pytree_dataclass(cls=None, *, data_fields: tuple[str, ...] = ()):
    """Make ``cls`` a frozen dataclass and a JAX pytree whose leaves are ``data_fields``.

    The remaining fields are static configuration. Unflattening bypasses ``__init__`` so that
    validation in ``__post_init__`` never sees tracers or placeholders.
    """

    def wrap(cls):
        cls = dataclasses.dataclass(frozen=True, eq=False)(cls)
        names = tuple(field.name for field in dataclasses.fields(cls))
        static_fields = tuple(name for name in names if name not in data_fields)

        def flatten(obj):
            children = tuple(getattr(obj, name) for name in data_fields)
            aux = tuple(getattr(obj, name) for name in static_fields)
            return children, aux

        def unflatten(aux, children):
            obj = object.__new__(cls)
            for name, value in zip(data_fields, children):
                object.__setattr__(obj, name, value)
            for name, value in zip(static_fields, aux):
                object.__setattr__(obj, name, value)
            return obj

        jax.tree_util.register_pytree_node(cls, flatten, unflatten)
        return cls

    return wrap if cls is None else wrap(cls)


def masked_log_softmax(utility: jax.Array, available: jax.Array | None = None) -> jax.Array:
    """Log-softmax over the available alternatives.

    ``log P_j = V_j - log sum_{k available} exp(V_k)`` for available ``j`` and ``-inf`` for
    unavailable ``j``. The double-``where`` keeps every gradient finite: the gradient with
    respect to an unavailable utility is exactly 0, whatever its value (even ``nan``).
    A row with no available alternative gives ``-inf`` everywhere.

    Args:
        utility: ``(..., n_alts)`` utilities (already divided by any scale or temperature).
        available: ``(..., n_alts)`` boolean mask broadcastable to ``utility``; ``None`` means
            every alternative is available.

    Returns:
        ``(..., n_alts)`` log probabilities.
    """
    utility = jnp.asarray(utility)
    if available is None:
        return jax.nn.log_softmax(utility, axis=-1)
    available = jnp.broadcast_to(jnp.asarray(available, dtype=bool), utility.shape)
    safe = jnp.where(available, utility, 0.0)
    masked = jnp.where(available, safe, -jnp.inf)
    peak = jnp.max(masked, axis=-1, keepdims=True)
    peak = jax.lax.stop_gradient(jnp.where(jnp.isfinite(peak), peak, 0.0))
    shifted = jnp.where(available, safe - peak, -jnp.inf)
    log_norm = jnp.log(jnp.sum(jnp.where(available, jnp.exp(shifted), 0.0), axis=-1, keepdims=True))
    return jnp.where(available, shifted - log_norm, -jnp.inf)


def prepare_inputs(utility: Any, available: Any) -> tuple[jax.Array, jax.Array | None]:
    """Convert ``utility`` to a floating array and broadcast ``available`` to its shape."""
    utility = jnp.asarray(utility)
    if not jnp.issubdtype(utility.dtype, jnp.floating):
        utility = utility.astype(jnp.result_type(float))
    if utility.ndim == 0:
        raise ValueError("utility must have shape (..., n_alts); got a scalar")
    if available is None:
        return utility, None
    available = jnp.asarray(available)
    if available.dtype != bool:
        available = available != 0
    try:
        shape = jnp.broadcast_shapes(utility.shape, available.shape)
    except ValueError as error:
        raise ValueError(
            f"available with shape {available.shape} does not broadcast against utility with "
            f"shape {utility.shape} (..., n_alts)"
        ) from error
    return jnp.broadcast_to(utility, shape), jnp.broadcast_to(available, shape)


def gather_choice(values: jax.Array, choice: Any) -> jax.Array:
    """Pick ``values[..., choice]`` after broadcasting ``choice`` against ``values.shape[:-1]``."""
    choice = jnp.asarray(choice)
    if not jnp.issubdtype(choice.dtype, jnp.integer):
        choice = choice.astype(jnp.int32)
    batch = jnp.broadcast_shapes(values.shape[:-1], choice.shape)
    values = jnp.broadcast_to(values, batch + values.shape[-1:])
    choice = jnp.broadcast_to(choice, batch)
    return jnp.take_along_axis(values, choice[..., None], axis=-1)[..., 0]


class Predictive(NamedTuple):
    """Predictive summary of the choice probabilities across draws.

    Attributes:
        mean: ``(..., n_alts)`` mean over draws of the per-draw choice probabilities.
        variance: ``(..., n_alts)`` variance over draws of the per-draw probabilities (the
            spread of the simulator's summands; 0 for simulators without draws).
        prediction: ``(...)`` index of the available alternative with the largest ``mean``.
    """

    mean: jax.Array
    variance: jax.Array
    prediction: jax.Array


def predict_argmax(mean: jax.Array, available: jax.Array | None) -> jax.Array:
    """Index of the available alternative with the largest mean probability, ``(...)``."""
    if available is not None:
        mean = jnp.where(available, mean, -jnp.inf)
    return jnp.argmax(mean, axis=-1)


class Simulator:
    """Interface of every simulator of choice probabilities.

    Subclasses implement :meth:`log_probabilities` (all alternatives) and may override
    :meth:`chosen_log_prob` with a cheaper path for the chosen alternative only, and
    :meth:`check` with validation that needs concrete values. The public methods
    :meth:`log_prob`, :meth:`probabilities` and :meth:`predictive` validate their inputs, then
    run the computation under ``jax.jit`` (inlined when the caller is already tracing).
    Simulators are frozen dataclasses and JAX pytrees, so they can be closed over or passed
    into jitted functions; a GHK or any other simulator plugs in by implementing the same
    hooks.
    """

    def check(self, utility: jax.Array, available: jax.Array | None, noise: Noise) -> None:
        """Raise ``ValueError`` if this simulator cannot handle ``noise``; no-op by default."""

    def log_probabilities(
        self, utility: jax.Array, available: jax.Array | None, noise: Noise
    ) -> jax.Array:
        """Log choice probabilities, ``(..., n_alts)``, ``-inf`` where unavailable."""
        raise NotImplementedError

    def chosen_log_prob(
        self, utility: jax.Array, choice: jax.Array, available: jax.Array | None, noise: Noise
    ) -> jax.Array:
        """Log probability of ``choice``, ``(...)``; by default gathered from all alternatives."""
        return gather_choice(self.log_probabilities(utility, available, noise), choice)

    def predictive_summary(
        self, utility: jax.Array, available: jax.Array | None, noise: Noise
    ) -> Predictive:
        """Mean, variance across draws and argmax of the probabilities (variance 0 here)."""
        log_p = self.log_probabilities(utility, available, noise)
        mean = jnp.exp(log_p)
        if available is not None:
            mean = jnp.where(available, mean, 0.0)
        return Predictive(mean, jnp.zeros_like(mean), predict_argmax(mean, available))

    def _prepare(self, utility, available, noise):
        utility, available = prepare_inputs(utility, available)
        noise = Noise() if noise is None else noise
        if not isinstance(noise, Noise):
            raise TypeError(f"noise must be a discrete_choice.noise.Noise; got {type(noise).__name__}")
        self.check(utility, available, noise)
        return utility, available, noise

    def log_prob(
        self,
        utility: jax.Array,
        choice: jax.Array,
        available: jax.Array | None = None,
        noise: Noise | None = None,
    ) -> jax.Array:
        """Log probability of the observed ``choice``.

        Args:
            utility: ``(..., n_alts)`` systematic utilities ``V``.
            choice: ``(...)`` integer index of the chosen alternative, broadcastable against
                ``utility.shape[:-1]``.
            available: ``(..., n_alts)`` boolean mask or ``None`` (all available).
            noise: the noise law; ``None`` means ``Noise("gumbel")``.

        Returns:
            ``(...)`` log probabilities; ``-inf`` when the chosen alternative is unavailable.
        """
        utility, available, noise = self._prepare(utility, available, noise)
        choice = jnp.asarray(choice)
        if not jnp.issubdtype(choice.dtype, jnp.integer):
            choice = choice.astype(jnp.int32)
        batch = jnp.broadcast_shapes(utility.shape[:-1], choice.shape)
        utility = jnp.broadcast_to(utility, batch + utility.shape[-1:])
        if available is not None:
            available = jnp.broadcast_to(available, utility.shape)
        return _jit_chosen_log_prob(self, utility, jnp.broadcast_to(choice, batch), available, noise)

    def probabilities(
        self,
        utility: jax.Array,
        available: jax.Array | None = None,
        noise: Noise | None = None,
    ) -> jax.Array:
        """Choice probabilities, ``(..., n_alts)``, exactly 0 where unavailable."""
        utility, available, noise = self._prepare(utility, available, noise)
        return _jit_probabilities(self, utility, available, noise)

    def predictive(
        self,
        utility: jax.Array,
        available: jax.Array | None = None,
        noise: Noise | None = None,
    ) -> Predictive:
        """Mean probabilities, their variance across draws and the argmax prediction."""
        utility, available, noise = self._prepare(utility, available, noise)
        return _jit_predictive(self, utility, available, noise)


@jax.jit
def _jit_chosen_log_prob(simulator, utility, choice, available, noise):
    return simulator.chosen_log_prob(utility, choice, available, noise)


@jax.jit
def _jit_probabilities(simulator, utility, available, noise):
    probs = jnp.exp(simulator.log_probabilities(utility, available, noise))
    if available is not None:
        probs = jnp.where(available, probs, 0.0)
    return probs


@jax.jit
def _jit_predictive(simulator, utility, available, noise):
    return simulator.predictive_summary(utility, available, noise)
