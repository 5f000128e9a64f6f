r"""Stochastic variational inference for any choice model, with NumPyro autoguides and optax.

SVI maximises the evidence lower bound

.. math::

    \mathrm{ELBO}(\phi) = \mathbb{E}_{q_\phi(\theta)}\Big[\log p(\theta)
        + \sum_n w_n \log P_n(\theta) - \log q_\phi(\theta)\Big]

over the parameters :math:`\phi` of a guide :math:`q_\phi`, with one Monte Carlo draw of
:math:`\theta` per step (``num_particles``) and, optionally, a minibatch :math:`B` of choice
situations whose log-likelihood is scaled by :math:`N/|B|` (the ``"obs"`` plate's
``subsample_size``), so every step is an unbiased estimate of the full-data ELBO.

Simulated likelihoods (for example ``Smoothed``) take their draws from the simulator's ``key``.
With ``draws="fixed"`` the same draws serve every step (common random numbers, the simulated
maximum-likelihood convention). With ``draws="fresh"`` each step replaces the key with one
split from the SVI key, so the simulation error averages out over steps instead of being
frozen into the fit.
"""

from __future__ import annotations

import copy
import dataclasses
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import optax
from numpyro.infer import SVI, Predictive, Trace_ELBO
from numpyro.infer import autoguide
from numpyro.infer.initialization import init_to_median, init_to_value

from discrete_choice.data import ChoiceData
from discrete_choice.exceptions import ConvergenceWarning
from discrete_choice.inference._posterior import (
    PosteriorResults,
    latent_sites,
    log_joint,
    ordered_labels,
    pointwise_log_likelihood,
)
from discrete_choice.models._base import ChoiceModel, PreparedModel

__all__ = ["SVIOptions", "SVIResults", "fit_svi"]

GuideName = Literal["delta", "normal", "multivariate_normal", "low_rank_multivariate_normal"]
DrawMode = Literal["fixed", "fresh"]
InitName = Literal["median", "mle"]
_GUIDES: tuple[str, ...] = get_args(GuideName)
_DRAW_MODES: tuple[str, ...] = get_args(DrawMode)
_INITS: tuple[str, ...] = get_args(InitName)
_AUTOGUIDES = {
    "delta": autoguide.AutoDelta,
    "normal": autoguide.AutoNormal,
    "multivariate_normal": autoguide.AutoMultivariateNormal,
    "low_rank_multivariate_normal": autoguide.AutoLowRankMultivariateNormal,
}


@dataclass(frozen=True)
class SVIOptions:
    """Settings of a variational fit.

    Attributes:
        guide: ``"normal"`` (mean-field Normal, ``AutoNormal``), ``"multivariate_normal"``
            (full covariance), ``"low_rank_multivariate_normal"`` (``rank`` factors plus a
            diagonal), ``"delta"`` (a point mass: maximum a posteriori), or a NumPyro guide
            function ``guide(inputs, choice)`` that samples the model's latent sites.
        max_steps: Largest number of optimiser steps.
        learning_rate: Step size of the default optimiser, Adam.
        optimizer: An optax ``GradientTransformation``; overrides ``learning_rate``.
        subsample_size: Choice situations per step (minibatch); ``None`` uses all of them.
        draws: ``"fixed"`` keeps the simulator's draws for every step, ``"fresh"`` takes new
            draws each step. Ignored (and reported as ``"none"``) for simulators without draws.
        num_particles: Draws from the guide per ELBO estimate.
        num_samples: Posterior draws taken from the fitted guide.
        rank: Rank of the low-rank guide; ``None`` lets NumPyro choose.
        init: Start of the guide's location: ``"median"`` (prior median, NumPyro's default)
            or ``"mle"`` (the maximum-likelihood estimates, computed first).
        init_scale: Initial standard deviation of the Normal guides, on the unconstrained scale.
        window: Steps between two checks of the stopping rule; also the number of final steps
            whose guide parameters are averaged into the result.
        plateau_tol: The fit stops when the mean loss (negative ELBO) of a window falls by
            less than ``plateau_tol`` standard errors of that difference, ``patience`` windows
            in a row.
        patience: Consecutive windows without improvement that stop the fit.
        min_steps: Steps taken before the stopping rule is checked.
        step_reductions: Plateaus at which the optimiser's steps are multiplied by
            ``reduction_factor`` and the fit continues; the plateau after the last reduction
            stops the fit. ``0`` stops at the first plateau.
        reduction_factor: Factor in (0, 1) applied to the optimiser's updates at each
            reduction (with Adam, to the step size).
        progress: Show a progress bar with the running ELBO.
    """

    guide: GuideName | Callable[..., Any] = "normal"
    max_steps: int = 20_000
    learning_rate: float = 0.01
    optimizer: optax.GradientTransformation | None = None
    subsample_size: int | None = None
    draws: DrawMode = "fixed"
    num_particles: int = 1
    num_samples: int = 1000
    rank: int | None = None
    init: InitName = "median"
    init_scale: float = 0.1
    window: int = 250
    plateau_tol: float = 1.0
    patience: int = 3
    min_steps: int = 1000
    step_reductions: int = 1
    reduction_factor: float = 0.1
    progress: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.guide, str) and self.guide not in _GUIDES:
            raise ValueError(f"invalid guide={self.guide!r}; expected one of {_GUIDES} or a "
                             "NumPyro guide function")
        if not isinstance(self.guide, str) and not callable(self.guide):
            raise TypeError(f"guide must be one of {_GUIDES} or a callable; got "
                            f"{type(self.guide).__name__}")
        if self.draws not in _DRAW_MODES:
            raise ValueError(f"invalid draws={self.draws!r}; expected one of {_DRAW_MODES}")
        if self.init not in _INITS:
            raise ValueError(f"invalid init={self.init!r}; expected one of {_INITS}")
        for name in ("max_steps", "num_particles", "num_samples", "window", "patience"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{name} must be a positive integer; got {name}={value!r}")
        if self.subsample_size is not None and not (
                isinstance(self.subsample_size, int) and self.subsample_size >= 1):
            raise ValueError("subsample_size must be a positive integer or None; got "
                             f"subsample_size={self.subsample_size!r}")
        for name in ("learning_rate", "init_scale", "plateau_tol"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0; got {name}={getattr(self, name)!r}")
        for name in ("min_steps", "step_reductions"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 0):
                raise ValueError(f"{name} must be a non-negative integer; got {name}={value!r}")
        if not 0 < self.reduction_factor < 1:
            raise ValueError("reduction_factor must be in (0, 1); got "
                             f"reduction_factor={self.reduction_factor!r}")


@dataclass(frozen=True, eq=False)
class SVIResults(PosteriorResults):
    """A variational fit: the ELBO trace, the guide's parameters and draws from the guide.

    The draws (``samples``, one chain) come from the fitted guide, not from the exact
    posterior: a mean-field guide (``"normal"``) understates posterior standard deviations of
    correlated parameters, and LOO computed from guide draws is an approximation.

    Attributes:
        elbo: ELBO estimate at every step taken, ``(n_steps,)`` (minibatch estimates are
            scaled to the full data).
        guide_params: The guide's parameters by name (constrained), averaged over the last
            ``window`` steps.
        guide: Name of the guide (``"custom"`` for a user guide).
        draws_mode: ``"fixed"``, ``"fresh"``, or ``"none"`` for a simulator without draws.
        subsample_size: Situations per step (``n_obs`` for full batches).
        n_steps: Steps taken.
        converged: Whether the ELBO plateau rule stopped the fit before ``max_steps``.
        message: Why the fit stopped.
    """

    elbo: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    guide_params: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
    guide: str = "normal"
    draws_mode: str = "fixed"
    subsample_size: int = 0
    n_steps: int = 0
    converged: bool = False
    message: str = ""


def fit_svi(model: ChoiceModel, data: ChoiceData, *, key: jax.Array,
            options: SVIOptions | None = None, **option_overrides: Any) -> SVIResults:
    """Fit a choice model by stochastic variational inference, in float64.

    Args:
        model: The model with its priors (``model.priors``).
        data: The choice data.
        key: A JAX random key (``jax.random.key(0)``, ``jax.random.PRNGKey(0)``) or an ``int``
            seed. It seeds the guide's start, the ELBO draws, minibatches, fresh simulator
            draws and the posterior draws.
        options: :class:`SVIOptions`; keyword arguments override its fields.

    Returns:
        :class:`SVIResults`.

    Example:
        >>> import jax, discrete_choice as dc
        >>> dataset = dc.load_dataset("travel_mode")
        >>> spec = dc.LinearSpec.from_formula("choice ~ gc | 1", base="car")
        >>> fit = dc.fit_svi(dc.Logit(spec), dataset.data, key=jax.random.key(0), max_steps=3000)
        >>> fit.summary()  # doctest: +SKIP
    """
    options = _with_overrides(options or SVIOptions(), option_overrides)
    if options.subsample_size is not None and options.subsample_size > data.n_obs:
        raise ValueError(f"subsample_size={options.subsample_size} exceeds the number of choice "
                         f"situations ({data.n_obs}); lower it or use None for full batches")
    key = _raw_key(key)
    started = time.perf_counter()
    with jax.enable_x64(True):
        prepared = model.prepare(data)
        sites = latent_sites(prepared)
        has_draws = _simulator_has_key(model)
        fresh = options.draws == "fresh" and has_draws
        model_fn = _model_function(model, options.subsample_size, fresh)
        guide, guide_name = _make_guide(model_fn, prepared, sites, options)
        optimizer = options.optimizer or optax.adam(options.learning_rate)
        loss = Trace_ELBO(num_particles=options.num_particles)

        def make_svi(factor: float) -> SVI:
            scaled = optimizer if factor == 1.0 else optax.chain(optimizer, optax.scale(factor))
            return SVI(model_fn, guide, scaled, loss)

        key_run, key_draws = jax.random.split(key)
        inputs, choice = prepared.inputs, prepared.choice
        elbo, params, n_steps, converged, message = _optimise(make_svi, inputs, choice, key_run,
                                                              options)

        samples = _posterior_samples(guide, params, prepared, sites, key_draws, options)
        loglik = pointwise_log_likelihood(prepared, samples)
        lp = log_joint(prepared, samples)
    if not converged:
        warnings.warn(f"SVI stopped at max_steps={options.max_steps} before the ELBO reached a "
                      "plateau; raise max_steps or the learning rate, or check the ELBO trace "
                      "(result.elbo)", ConvergenceWarning, stacklevel=2)
    draws_mode = "none"
    if has_draws:
        draws_mode = "fresh" if fresh else "fixed"
    return SVIResults(
        method="svi",
        model_name=model.name,
        formula=model.spec.to_formula(),
        names=ordered_labels(prepared, sites),
        sites=sites,
        samples=samples,
        loglik_pointwise=loglik,
        sample_stats={"lp": lp},
        n_obs=data.n_obs,
        fit_seconds=time.perf_counter() - started,
        model=model,
        data=data,
        elbo=elbo,
        guide_params=params,
        guide=guide_name,
        draws_mode=draws_mode,
        subsample_size=options.subsample_size or data.n_obs,
        n_steps=n_steps,
        converged=converged,
        message=message,
    )


# ---------------------------------------------------------------------------- pieces
def _with_overrides(options: SVIOptions, overrides: Mapping[str, Any]) -> SVIOptions:
    known = {f.name for f in dataclasses.fields(SVIOptions)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"unknown SVI options {unknown}; SVIOptions fields are {sorted(known)}")
    return dataclasses.replace(options, **overrides) if overrides else options


def _raw_key(key: Any) -> jax.Array:
    """Return ``key`` as a raw ``uint32`` key, which NumPyro expects; accept typed keys too."""
    if key is None:
        raise TypeError("key is required: pass jax.random.key(seed)")
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return jax.random.PRNGKey(int(key))
    key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(key)
    if key.dtype != jnp.uint32 or key.shape != (2,):
        raise TypeError(f"key must be a JAX random key (jax.random.key(seed)); got an array of "
                        f"dtype {key.dtype} and shape {key.shape}")
    return key


def _simulator_has_key(model: ChoiceModel) -> bool:
    simulator = model.simulator
    return dataclasses.is_dataclass(simulator) and any(
        f.name == "key" for f in dataclasses.fields(simulator))


def _with_key(simulator: Any, key: jax.Array) -> Any:
    """Return a copy of ``simulator`` whose draws come from ``key`` (typed like the old key)."""
    old = getattr(simulator, "key")
    old_typed = old is not None and jnp.issubdtype(jnp.asarray(old).dtype, jax.dtypes.prng_key)
    new_typed = jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    if old_typed and not new_typed:
        key = jax.random.wrap_key_data(key)
    elif new_typed and not old_typed:
        key = jax.random.key_data(key)
    # Copy without __init__: the new key is a tracer, which field validation must not see.
    new = copy.copy(simulator)
    object.__setattr__(new, "key", key)
    if getattr(new, "stored", None) is not None:
        # Draws stored from the old key would be used in place of the new key's draws.
        object.__setattr__(new, "stored", None)
    return new


def _model_function(model: ChoiceModel, subsample_size: int | None,
                    fresh: bool) -> Callable[..., None]:
    def model_fn(inputs, choice):
        chosen = model
        if fresh:
            step_key = numpyro.prng_key()
            if step_key is not None:
                chosen = dataclasses.replace(model, simulator=_with_key(model.simulator,
                                                                        step_key))
        chosen.model(inputs, choice, subsample_size=subsample_size)

    return model_fn


def _make_guide(model_fn, prepared: PreparedModel, sites, options: SVIOptions):
    if callable(options.guide) and not isinstance(options.guide, str):
        return options.guide, "custom"
    init_loc_fn = init_to_median(num_samples=15)
    if options.init == "mle":
        init_loc_fn = init_to_value(values=_mle_values(prepared, sites))
    guide_class = _AUTOGUIDES[options.guide]
    kwargs: dict[str, Any] = {"init_loc_fn": init_loc_fn}
    if options.guide != "delta":
        kwargs["init_scale"] = options.init_scale
    if options.guide == "low_rank_multivariate_normal" and options.rank is not None:
        kwargs["rank"] = options.rank
    return guide_class(model_fn, **kwargs), options.guide


def _mle_values(prepared: PreparedModel, sites) -> dict[str, jax.Array]:
    from discrete_choice.inference.mle import fit_mle

    with warnings.catch_warnings():
        # A rough start is enough: convergence trouble here surfaces in the SVI fit itself.
        warnings.simplefilter("ignore")
        estimates = fit_mle(prepared.model, prepared.data).estimates
    values, offset = {}, 0
    for name, shape in sites.items():
        size = int(np.prod(shape, dtype=int))
        values[name] = jnp.reshape(jnp.asarray(estimates[offset:offset + size]), shape)
        offset += size
    return values


def _optimise(make_svi, inputs, choice, key, options: SVIOptions):
    """Run SVI window by window; on each ELBO plateau cut the step size, until the last plateau.

    ``make_svi(factor)`` returns an ``SVI`` whose optimiser's updates are scaled by ``factor``.
    Returns the ELBO trace, the guide parameters averaged over the last window, the number of
    steps, whether the plateau rule stopped the fit, and a message.
    """
    window = options.window
    progress = None
    if options.progress:
        from tqdm.auto import tqdm

        progress = tqdm(total=options.max_steps, desc="SVI", unit="step", leave=False)
    key_init, key = jax.random.split(key)
    svi = make_svi(1.0)
    state = svi.init(key_init, inputs, choice)
    run = _window_runner(svi)
    losses: list[np.ndarray] = []
    means: list[float] = []
    errors: list[float] = []
    flat_windows = 0
    reductions = 0
    steps = 0
    converged = False
    message = f"reached max_steps={options.max_steps}"
    try:
        while steps < options.max_steps:
            length = min(window, options.max_steps - steps)
            state, averaged, window_losses = run(state, inputs, choice, length)
            window_losses = np.asarray(window_losses)
            if not np.all(np.isfinite(window_losses)):
                first_bad = steps + int(np.argmax(~np.isfinite(window_losses)))
                raise FloatingPointError(
                    f"the ELBO became non-finite at step {first_bad}; lower the learning rate, "
                    "use init='mle', or check the data's scaling")
            steps += length
            losses.append(window_losses)
            means.append(float(window_losses.mean()))
            errors.append(float(window_losses.std(ddof=1) / np.sqrt(length)) if length > 1 else 0.0)
            if progress is not None:
                progress.update(length)
                progress.set_postfix(elbo=f"{-means[-1]:.3f}")
            if len(means) < 2 or steps < options.min_steps:
                continue
            gain = means[-2] - means[-1]
            noise = float(np.hypot(errors[-1], errors[-2]))
            flat_windows = flat_windows + 1 if gain < options.plateau_tol * noise else 0
            if flat_windows < options.patience:
                continue
            if reductions == options.step_reductions:
                converged = True
                message = (f"ELBO plateau: the mean loss changed by less than "
                           f"{options.plateau_tol} standard errors over {options.patience} "
                           f"windows of {window} steps, after {reductions} step-size "
                           f"reduction(s) by {options.reduction_factor}")
                break
            # Restart from the averaged parameters with smaller steps: the iterates of a
            # stochastic optimiser scatter around the optimum by an amount that scales with the
            # step size, and a smaller step removes most of that scatter.
            reductions += 1
            key_init, key = jax.random.split(key)
            svi = make_svi(options.reduction_factor ** reductions)
            state = svi.init(key_init, inputs, choice, init_params=averaged)
            run = _window_runner(svi)
            means, errors, flat_windows = [], [], 0
    finally:
        if progress is not None:
            progress.close()
    # NOTE: the autoguides' parameter sets (locations, positive scales, triangular factors with
    # a positive diagonal) are convex, so their averages stay valid. A user guide with a
    # non-convex set (for example a correlation Cholesky factor) can leave its support.
    params = {name: jax.tree_util.tree_map(np.asarray, value) for name, value in averaged.items()}
    return -np.concatenate(losses), params, steps, converged, message


def _window_runner(svi: SVI):
    """Compile ``length`` SVI steps into one call that also averages the guide parameters."""
    def run_window(state, inputs, choice, length):
        def step(carry, _):
            state, total = carry
            state, loss = svi.update(state, inputs, choice)
            total = jax.tree_util.tree_map(jnp.add, total, svi.get_params(state))
            return (state, total), loss

        zero = jax.tree_util.tree_map(jnp.zeros_like, svi.get_params(state))
        (state, total), losses = jax.lax.scan(step, (state, zero), None, length=length)
        return state, jax.tree_util.tree_map(lambda t: t / length, total), losses

    return jax.jit(run_window, static_argnums=3)


def _posterior_samples(guide, params, prepared: PreparedModel, sites, key, options: SVIOptions):
    """Draw ``num_samples`` parameter values from the fitted guide, ``(1, num_samples, ...)`` by site."""
    # A parameter may be a pytree (a neural network's weights registered by numpyro.contrib.module).
    jax_params = {name: jax.tree_util.tree_map(jnp.asarray, value) for name, value in params.items()}
    if isinstance(guide, autoguide.AutoGuide):
        draws = guide.sample_posterior(key, jax_params, prepared.inputs, prepared.choice,
                                       sample_shape=(options.num_samples,))
    else:
        draws = Predictive(guide, params=jax_params, num_samples=options.num_samples)(
            key, prepared.inputs, prepared.choice)
    missing = sorted(set(sites) - set(draws))
    if missing:
        raise ValueError(f"the guide does not sample the model's latent sites {missing}; a "
                         f"guide must sample every one of {list(sites)}")
    return {name: np.asarray(draws[name]).reshape((1, options.num_samples) + sites[name])
            for name in sites}
