r"""Minibatch maximum likelihood for models with many parameters (neural utilities and scales).

:func:`fit_mle` uses exact Hessians, which suits tens of parameters; a network has thousands,
so :func:`train` maximises the same likelihood with a first-order optax optimiser on
minibatches:

.. math::

    \theta_{t+1} = \theta_t - \text{step}\Big(\nabla_\theta \, \frac{-1}{B}
        \sum_{n \in \text{batch}_t} w_n \log \hat P_{n, y_n}(\theta; \text{draws}_t)\Big),

where :math:`\hat P` comes from the model's simulator (for example
``Smoothed(tau, n_draws=train_draws)``) with fresh draws at every step. After each epoch the
mean negative log-likelihood on the validation data is computed with ``eval_draws`` draws and
a fixed key, so validation losses of different epochs are comparable (common random numbers).
Training stops when that loss has not improved by more than ``min_delta`` for ``patience``
epochs, and the weights of the best epoch are returned.

Every parameter of the NumPyro model is trained: ``numpyro.param`` sites (network weights
registered with ``eqx_module``) as they are, and ``numpyro.sample`` sites (linear
coefficients, or weights registered with ``random_eqx_module``) on the unconstrained scale of
their support. Priors are ignored: this is maximum likelihood; pass an optimiser such as
``optax.adamw`` for weight decay.

Key schedule (deterministic: the same ``seed`` gives bit-identical training on one machine):
``key = jax.random.key(seed)`` is split into ``(split_key, shuffle_key, draw_key, eval_key)``;
epoch ``e`` visits the observations in the order ``permutation(fold_in(shuffle_key, e))``;
step ``b`` of epoch ``e`` simulates with the key ``fold_in(fold_in(draw_key, e), b)``;
every evaluation uses ``eval_key``. Initial weights come from the model (for a
:class:`~discrete_choice.NeuralChoiceModel`, ``NetworkConfig.init_seed``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpyro import handlers
from numpyro.distributions import constraints
from numpyro.distributions.transforms import biject_to
from tqdm.auto import tqdm

from discrete_choice.data import ChoiceData
from discrete_choice.models._base import CHOICE_SITE, ChoiceModel, ModelInputs, PreparedModel

__all__ = ["TrainOptions", "TrainResult", "train", "simulator_with_draws"]

# Field names of the draw settings of the draw-based simulators (Smoothed, Frequency).
_DRAWS_FIELD = "n_draws"
_KEY_FIELD = "key"
_CHUNK_FIELDS = ("chunk_size", "draws_chunk", "chunk")
_TRACE_ROWS = 8  # situations traced to discover the parameter sites


@dataclass(frozen=True)
class TrainOptions:
    """Settings of :func:`train`.

    Attributes:
        learning_rate: Step size of the default optimiser, ``optax.adam(learning_rate)``.
        optimizer: Any optax ``GradientTransformation``; ``None`` means Adam with
            ``learning_rate``.
        batch_size: Situations per step; the last incomplete batch of each epoch is skipped
            (a different one each epoch, because the order is reshuffled). Capped at the
            number of training situations.
        max_epochs: Maximum number of passes over the training data.
        patience: Stop after this many epochs without a validation improvement; ``None``
            trains for ``max_epochs`` (still restoring the best epoch when there is
            validation data).
        min_delta: Smallest decrease of the validation loss that counts as an improvement.
        validation_fraction: Share of the training data held out for early stopping when no
            ``validation`` data is given; 0 disables validation.
        train_draws: Draws per situation at each training step; ``None`` keeps the
            simulator's ``n_draws``. Ignored by simulators without draws (``Exact``,
            ``Quadrature``).
        eval_draws: Draws for validation and for the result's predictions; ``None`` keeps
            the simulator's ``n_draws``.
        draws_chunk: Draws generated and reduced at a time by the simulator (its chunking
            option), so memory is ``O(batch * n_alts * draws_chunk)``; ``None`` keeps the
            simulator's setting.
        eval_batch_size: Situations per evaluation batch.
        seed: Seed of the key schedule (shuffling, training draws, evaluation draws).
        progress: Show a tqdm progress bar over epochs with the losses.
    """

    learning_rate: float = 1e-3
    optimizer: Any = None
    batch_size: int = 128
    max_epochs: int = 100
    patience: int | None = 10
    min_delta: float = 0.0
    validation_fraction: float = 0.2
    train_draws: int | None = None
    eval_draws: int | None = None
    draws_chunk: int | None = None
    eval_batch_size: int = 1024
    seed: int = 0
    progress: bool = False

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_epochs", "eval_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {name}={value!r}")
        for name in ("train_draws", "eval_draws", "draws_chunk", "patience"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(
                    value, (int, np.integer)) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None; got "
                                 f"{name}={value!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0; got learning_rate={self.learning_rate!r}")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in [0, 1); got "
                             f"validation_fraction={self.validation_fraction!r}")
        if not self.min_delta >= 0:
            raise ValueError(f"min_delta must be >= 0; got min_delta={self.min_delta!r}")


def simulator_with_draws(simulator: Any, n_draws: int | None = None, key: Any = None,
                         draws_chunk: int | None = None) -> Any:
    """Return ``simulator`` with its number of draws, key or chunk size replaced.

    Settings the simulator does not have (``Exact`` has no draws) are left alone, so the same
    call works for every simulator. ``None`` keeps the current value. Draws the simulator
    stored for its old settings (``Smoothed.prepare``) are dropped.
    """
    if not dataclasses.is_dataclass(simulator):
        return simulator
    names = {f.name for f in dataclasses.fields(simulator)}
    changes: dict[str, Any] = {}
    if n_draws is not None and _DRAWS_FIELD in names:
        changes[_DRAWS_FIELD] = int(n_draws)
    if key is not None and _KEY_FIELD in names:
        changes[_KEY_FIELD] = key
    if draws_chunk is not None:
        for chunk_name in _CHUNK_FIELDS:
            if chunk_name in names:
                changes[chunk_name] = int(draws_chunk)
                break
    if changes and "stored" in names and getattr(simulator, "stored") is not None:
        # Draws stored for the old settings would not follow the new key or count.
        changes["stored"] = None
    return dataclasses.replace(simulator, **changes) if changes else simulator


def _replace_key(simulator: Any, key: jax.Array) -> Any:
    """Swap the simulator's key inside a traced function (no validation of the traced key)."""
    if not dataclasses.is_dataclass(simulator) or _KEY_FIELD not in {
            f.name for f in dataclasses.fields(simulator)}:
        return simulator
    leaves, treedef = jax.tree_util.tree_flatten(simulator)
    old = getattr(simulator, _KEY_FIELD)
    positions = [i for i, leaf in enumerate(leaves) if leaf is old]
    if not positions:
        # The key is static configuration: replacing it would recompile every step.
        # NOTE: such a simulator then reuses its own key at every training step.
        return simulator
    leaves = list(leaves)
    leaves[positions[0]] = _like_key(key, old)
    return jax.tree_util.tree_unflatten(treedef, leaves)


def _like_key(key: jax.Array, template: Any) -> Any:
    """Return ``key`` in the representation of ``template`` (typed key or raw ``uint32[2]``)."""
    template = jnp.asarray(template) if not isinstance(template, jax.Array) else template
    if jnp.issubdtype(template.dtype, jax.dtypes.prng_key):
        return key
    return jax.random.key_data(key)


@dataclass(frozen=True, eq=False)
class TrainResult:
    """Trained parameters, loss history and predictions of :func:`train`.

    Attributes:
        model: The model as trained (its simulator set to ``train_draws``).
        params: Trained values by NumPyro site name, in the sites' own (constrained) space;
            ``params["network$params"]`` is the Equinox weight pytree.
        train_loss: Mean negative log-likelihood per situation over each epoch's training
            batches, shape ``(epochs_run,)``.
        validation_loss: Mean negative log-likelihood per situation on the validation data
            after each epoch, shape ``(epochs_run,)``; empty without validation data.
        best_epoch: Epoch (0-based) whose weights were kept; the last epoch without
            validation data.
        epochs_run: Number of epochs trained.
        stopped_early: Whether training stopped on patience before ``max_epochs``.
        seconds: Wall time of training, including compilation.
        options: The options used.
    """

    model: ChoiceModel
    params: Mapping[str, Any]
    train_loss: np.ndarray
    validation_loss: np.ndarray
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    seconds: float
    options: TrainOptions

    def _evaluator(self, n_draws: int | None, seed: int | None):
        simulator = simulator_with_draws(
            self.model.simulator,
            n_draws=self.options.eval_draws if n_draws is None else n_draws,
            draws_chunk=self.options.draws_chunk)
        model = dataclasses.replace(self.model, simulator=simulator)
        key = _eval_key(self.options.seed) if seed is None else jax.random.key(seed)
        return model, key

    def log_probabilities(self, data: ChoiceData, *, n_draws: int | None = None,
                          seed: int | None = None) -> np.ndarray:
        """Log choice probabilities ``(n_obs, n_alts)`` on ``data``, ``-inf`` where unavailable.

        Simulated with ``n_draws`` (default ``eval_draws``) and the evaluation key (or
        ``jax.random.key(seed)``).
        """
        model, key = self._evaluator(n_draws, seed)
        prepared = model.prepare(data)
        outputs = _batched_outputs(model, self.params, prepared, key,
                                   self.options.eval_batch_size, "log_probabilities")
        return outputs

    def probabilities(self, data: ChoiceData, **kwargs: Any) -> np.ndarray:
        """Choice probabilities ``(n_obs, n_alts)``; see :meth:`log_probabilities`."""
        return np.exp(self.log_probabilities(data, **kwargs))

    def log_loss(self, data: ChoiceData, **kwargs: Any) -> float:
        """Mean negative log probability of the observed choices (weighted by situation weights)."""
        log_p = self.log_probabilities(data, **kwargs)
        chosen = log_p[np.arange(data.n_obs), data.choice]
        weights = np.ones(data.n_obs) if data.weights is None else data.weights
        return float(-np.sum(weights * chosen) / np.sum(weights))

    def accuracy(self, data: ChoiceData, **kwargs: Any) -> float:
        """Share of situations whose most probable alternative is the chosen one (weighted)."""
        log_p = self.log_probabilities(data, **kwargs)
        hit = np.argmax(log_p, axis=1) == data.choice
        weights = np.ones(data.n_obs) if data.weights is None else data.weights
        return float(np.sum(weights * hit) / np.sum(weights))

    def utility_and_scale(self, data: ChoiceData) -> tuple[np.ndarray, np.ndarray]:
        """Fitted utilities ``V`` ``(n_obs, n_alts)`` and noise scales broadcast to the same shape."""
        model, key = self._evaluator(None, None)
        prepared = model.prepare(data)
        return _batched_outputs(model, self.params, prepared, key,
                                self.options.eval_batch_size, "utility_and_scale")


def train(model: ChoiceModel, data: ChoiceData, *, validation: ChoiceData | None = None,
          options: TrainOptions | None = None, **option_overrides: Any) -> TrainResult:
    """Train any choice model by minibatch maximum likelihood with early stopping.

    Args:
        model: The model, for example :class:`~discrete_choice.NeuralChoiceModel`.
        data: Training data.
        validation: Validation data for early stopping; default a random
            ``validation_fraction`` of ``data`` (split with the seed's ``split_key``).
        options: :class:`TrainOptions`; keyword arguments override its fields.

    Returns:
        :class:`TrainResult` with the weights of the epoch with the lowest validation loss.

    Runs in the current JAX precision (float32 unless the caller enabled float64).
    """
    options = options or TrainOptions()
    if option_overrides:
        known = {f.name for f in dataclasses.fields(TrainOptions)}
        unknown = sorted(set(option_overrides) - known)
        if unknown:
            raise TypeError(f"unknown training options {unknown}; TrainOptions fields are "
                            f"{sorted(known)}")
        options = dataclasses.replace(options, **option_overrides)
    if not isinstance(data, ChoiceData):
        raise TypeError(f"data must be a ChoiceData; got {type(data).__name__}")
    started = time.perf_counter()
    split_key, shuffle_key, draw_key, eval_key = jax.random.split(jax.random.key(options.seed), 4)

    if validation is None and options.validation_fraction > 0:
        data, validation = _split(data, options.validation_fraction, split_key)
    train_model = dataclasses.replace(model, simulator=simulator_with_draws(
        model.simulator, n_draws=options.train_draws, key=draw_key,
        draws_chunk=options.draws_chunk))
    eval_model = dataclasses.replace(model, simulator=simulator_with_draws(
        model.simulator, n_draws=options.eval_draws, key=eval_key,
        draws_chunk=options.draws_chunk))
    prepared = train_model.prepare(data)
    site_info = _parameter_sites(train_model, prepared)
    unconstrained = _initial_unconstrained(site_info, train_model, prepared)

    optimizer = options.optimizer if options.optimizer is not None else optax.adam(
        options.learning_rate)
    opt_state = optimizer.init(unconstrained)
    n_obs = data.n_obs
    batch_size = min(options.batch_size, n_obs)
    inputs = prepared.inputs
    choice = prepared.choice

    run_epoch = _epoch_runner(_for_compilation(train_model), site_info, optimizer, options,
                              n_obs, batch_size)
    simulator = train_model.simulator

    validation_prepared = None if validation is None else eval_model.prepare(validation)
    evaluator = _chosen_evaluator(_for_compilation(eval_model))

    def validation_loss(params) -> float:
        values = _constrain(site_info, params)
        log_p = _batched_chosen(evaluator, values, validation_prepared, eval_model.simulator,
                                eval_key, options.eval_batch_size)
        weights = (np.ones(validation.n_obs) if validation.weights is None
                   else validation.weights)
        return float(-np.sum(weights * log_p) / np.sum(weights))

    train_losses: list[float] = []
    validation_losses: list[float] = []
    best = (math.inf, 0, unconstrained)
    since_best = 0
    stopped_early = False
    bar = tqdm(range(options.max_epochs), disable=not options.progress, desc=model.name,
               unit="epoch")
    for epoch in bar:
        unconstrained, opt_state, train_value = run_epoch(
            unconstrained, opt_state, epoch, inputs, choice, simulator, shuffle_key, draw_key)
        train_losses.append(float(train_value))
        postfix = {"train": f"{train_losses[-1]:.4f}"}
        if validation_prepared is not None:
            validation_losses.append(validation_loss(unconstrained))
            postfix["validation"] = f"{validation_losses[-1]:.4f}"
            if validation_losses[-1] < best[0] - options.min_delta:
                best = (validation_losses[-1], epoch, unconstrained)
                since_best = 0
            else:
                since_best += 1
        else:
            best = (math.nan, epoch, unconstrained)
        bar.set_postfix(postfix)
        if not np.isfinite(train_losses[-1]):
            raise FloatingPointError(
                f"the training loss is {train_losses[-1]} at epoch {epoch}: lower "
                f"learning_rate (now {options.learning_rate}) or check the inputs for "
                "non-finite values")
        if options.patience is not None and validation_prepared is not None \
                and since_best >= options.patience:
            stopped_early = epoch + 1 < options.max_epochs
            break
    bar.close()

    _, best_epoch, best_params = best
    return TrainResult(
        model=train_model,
        params=_constrain(site_info, best_params),
        train_loss=np.asarray(train_losses),
        validation_loss=np.asarray(validation_losses),
        best_epoch=int(best_epoch),
        epochs_run=len(train_losses),
        stopped_early=bool(stopped_early),
        seconds=time.perf_counter() - started,
        options=options,
    )


# ---------------------------------------------------------------------------- pieces
def _eval_key(seed: int) -> jax.Array:
    return jax.random.split(jax.random.key(seed), 4)[3]


def _split(data: ChoiceData, fraction: float, key: jax.Array) -> tuple[ChoiceData, ChoiceData]:
    n_validation = max(1, int(round(fraction * data.n_obs)))
    if n_validation >= data.n_obs:
        raise ValueError(f"validation_fraction={fraction} leaves no training data out of "
                         f"{data.n_obs} situations")
    order = np.asarray(jax.random.permutation(key, data.n_obs))
    return data.subset(np.sort(order[n_validation:])), data.subset(np.sort(order[:n_validation]))


@dataclass(frozen=True)
class _Site:
    name: str
    is_param: bool
    transform: Any


def _parameter_sites(model: ChoiceModel, prepared: PreparedModel) -> dict[str, _Site]:
    """Trace the model once and return its parameter sites with their bijections, and values.

    Only the first few situations are traced: the sites do not depend on the number of
    situations, and a full eager pass would simulate every situation once.
    """
    head = np.arange(min(prepared.data.n_obs, _TRACE_ROWS))
    inputs = jax.tree_util.tree_map(lambda a: a[head], prepared.inputs)
    trace = _trace(model, inputs, prepared.choice[head], data=None)
    sites = {}
    for name, site in trace.items():
        if site["type"] == "param":
            constraint = site["kwargs"].get("constraint", constraints.real)
            sites[name] = (_Site(name, True, biject_to(constraint)), site["value"])
        elif site["type"] == "sample" and not site["is_observed"]:
            sites[name] = (_Site(name, False, biject_to(site["fn"].support)), site["value"])
    return sites


def _initial_unconstrained(site_info, model: ChoiceModel, prepared: PreparedModel) -> dict:
    start = model.default_start(prepared)
    values = {}
    for name, (site, traced) in site_info.items():
        value = start.get(name, traced) if not site.is_param else traced
        values[name] = jax.tree_util.tree_map(lambda v, t=site.transform: t.inv(jnp.asarray(v)),
                                              value)
    return values


def _constrain(site_info, params: Mapping[str, Any]) -> dict[str, Any]:
    return {name: jax.tree_util.tree_map(site.transform, params[name])
            for name, (site, _) in site_info.items()}


def _trace(model: ChoiceModel, inputs: ModelInputs, choice: Any, data: Mapping | None):
    fn = model.model
    if data is not None:
        fn = handlers.substitute(fn, data=data)
    return handlers.trace(handlers.seed(fn, rng_seed=0)).get_trace(inputs, choice)


def _log_likelihood(model: ChoiceModel, values: Mapping[str, Any], inputs: ModelInputs,
                    choice: jax.Array) -> jax.Array:
    """Weighted log-likelihood contributions ``w_n log P_n``, shape ``(batch,)``."""
    site = _trace(model, inputs, choice, values)[CHOICE_SITE]
    log_prob = site["fn"].log_prob(site["value"])
    if site["scale"] is not None:
        log_prob = log_prob * site["scale"]
    return log_prob


def _distribution(model, values, inputs):
    return _trace(model, inputs, None, values)[CHOICE_SITE]["fn"]


def _batches(n_obs: int, batch_size: int):
    for start in range(0, n_obs, batch_size):
        index = np.arange(start, start + batch_size)
        yield index, np.minimum(index, n_obs - 1), min(batch_size, n_obs - start)


# Compiled training and evaluation functions are cached across calls, keyed by the model's
# structure (every field but the simulator) and the simulator's static settings, so a sweep
# over temperatures or keys (pytree leaves of the simulator) compiles once. The cache keeps
# references to its keys' objects, so an id is never reused while its entry lives.
_CACHE_SIZE = 32
_compiled: OrderedDict[Hashable, Any] = OrderedDict()


class _Identity:
    """Hashable stand-in for an unhashable object, equal only to itself."""

    def __init__(self, value: Any):
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.value is self.value


def _hashable(value: Any) -> Hashable:
    try:
        hash(value)
    except TypeError:
        return _Identity(value)
    return value


def _for_compilation(model: ChoiceModel) -> ChoiceModel:
    """Return the model with settings that do not change its likelihood reset, if it has any."""
    reset = getattr(model, "without_initialisation", None)
    return model if reset is None else reset()


def _model_key(model: ChoiceModel) -> tuple:
    fields = tuple((f.name, _hashable(getattr(model, f.name)))
                   for f in dataclasses.fields(model) if f.name != "simulator")
    return (type(model), fields, jax.tree_util.tree_structure(model.simulator))


def _cached(key: Hashable, build: Callable[[], Any]) -> Any:
    if key in _compiled:
        _compiled.move_to_end(key)
        return _compiled[key]
    function = build()
    _compiled[key] = function
    if len(_compiled) > _CACHE_SIZE:
        _compiled.popitem(last=False)
    return function


def _epoch_runner(model: ChoiceModel, site_info, optimizer, options: TrainOptions, n_obs: int,
                  batch_size: int):
    """Return ``run_epoch(params, state, epoch, inputs, choice, simulator, shuffle_key,
    draw_key) -> (params, state, mean loss)``, compiled: one shuffled pass of optimiser steps."""
    optimizer_key = (("adam", options.learning_rate) if options.optimizer is None
                     else _hashable(options.optimizer))
    key = ("epoch", _model_key(model), tuple(site_info), optimizer_key, n_obs, batch_size)
    n_batches = n_obs // batch_size

    def loss(params, batch_inputs, batch_choice, simulator):
        values = _constrain(site_info, params)
        per_obs = _log_likelihood(dataclasses.replace(model, simulator=simulator), values,
                                  batch_inputs, batch_choice)
        if batch_inputs.weights is None:
            return -jnp.mean(per_obs)
        return -jnp.sum(per_obs) / jnp.sum(batch_inputs.weights)

    def build():
        @jax.jit
        def run_epoch(params, state, epoch, inputs, choice, simulator, shuffle_key, draw_key):
            order = jax.random.permutation(jax.random.fold_in(shuffle_key, epoch), n_obs)
            batches = order[: n_batches * batch_size].reshape(n_batches, batch_size)
            epoch_key = jax.random.fold_in(draw_key, epoch)

            def step(carry, xs):
                params, state = carry
                index, b = xs
                step_simulator = _replace_key(simulator, jax.random.fold_in(epoch_key, b))
                batch_inputs = jax.tree_util.tree_map(lambda a: a[index], inputs)
                value, grads = jax.value_and_grad(loss)(params, batch_inputs, choice[index],
                                                        step_simulator)
                updates, state = optimizer.update(grads, state, params)
                return (optax.apply_updates(params, updates), state), value

            (params, state), values = jax.lax.scan(step, (params, state),
                                                   (batches, jnp.arange(n_batches)))
            return params, state, jnp.mean(values)

        return run_epoch

    return _cached(key, build)


def _chosen_evaluator(model: ChoiceModel):
    """Return a compiled ``(values, batch_inputs, batch_choice, simulator, key) -> log P`` of
    the chosen alternative."""

    def build():
        @jax.jit
        def chosen(values, batch_inputs, batch_choice, simulator, key):
            simulator = _replace_key(simulator, key)
            distribution = _distribution(dataclasses.replace(model, simulator=simulator),
                                         values, batch_inputs)
            return distribution.log_prob(batch_choice)

        return chosen

    return _cached(("chosen", _model_key(model)), build)


def _batched_chosen(evaluator, values, prepared, simulator, key, batch_size) -> np.ndarray:
    """Log probability of the observed choice, ``(n_obs,)``, evaluated in padded batches."""
    batch_size = min(batch_size, prepared.data.n_obs)
    out = []
    for _, index, n_valid in _batches(prepared.data.n_obs, batch_size):
        batch_inputs = jax.tree_util.tree_map(lambda a: a[index], prepared.inputs)
        log_p = evaluator(values, batch_inputs, prepared.choice[index], simulator, key)
        out.append(np.asarray(log_p)[:n_valid])
    return np.concatenate(out)


def _batched_outputs(model, values, prepared, key, batch_size, what: str):
    batch_size = min(batch_size, prepared.data.n_obs)

    def build():
        @jax.jit
        def evaluate(values, batch_inputs, simulator, key):
            simulator = _replace_key(simulator, key)
            distribution = _distribution(dataclasses.replace(model, simulator=simulator),
                                         values, batch_inputs)
            if what == "log_probabilities":
                return distribution.simulator.log_probabilities(
                    distribution.utility, distribution.available, distribution.noise)
            scale = jnp.broadcast_to(
                distribution.noise.scale_or_one(distribution.utility.dtype),
                distribution.utility.shape)
            return distribution.utility, scale

        return evaluate

    evaluate = _cached((what, _model_key(_for_compilation(model))), build)
    pieces = []
    for _, index, n_valid in _batches(prepared.data.n_obs, batch_size):
        batch_inputs = jax.tree_util.tree_map(lambda a: a[index], prepared.inputs)
        result = evaluate(values, batch_inputs, model.simulator, key)
        pieces.append(jax.tree_util.tree_map(lambda a: np.asarray(a)[:n_valid], result))
    return jax.tree_util.tree_map(lambda *parts: np.concatenate(parts), *pieces)
