"""Maximum likelihood for any choice model: SciPy's trust-region Newton on compiled JAX derivatives.

Why this optimiser: choice models have few parameters (tens, rarely hundreds), so the exact
Hessian by autodiff is cheap and a Newton-type method converges in a handful of iterations
to a gradient of 1e-10 where quasi-Newton methods stall around 1e-6. SciPy's ``trust-exact``
handles indefinite Hessians away from the optimum (heteroscedastic and probit likelihoods are
not concave) and compiles nothing itself, so the only compilation a user waits for is the
likelihood's gradient and Hessian. ``bfgs`` and ``l-bfgs-b`` remain available for models whose
Hessian is too expensive.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
from jax.flatten_util import ravel_pytree
from numpyro import handlers
from numpyro.distributions.transforms import IdentityTransform, IndependentTransform, biject_to

from discrete_choice.data import ChoiceData
from discrete_choice.exceptions import (
    ConvergenceWarning,
    FewClustersWarning,
    IdentificationWarning,
)
from discrete_choice.models._base import CHOICE_SITE, ChoiceModel, PreparedModel

__all__ = ["MLEOptions", "fit_mle", "LikelihoodFunctions", "likelihood_functions"]

Method = Literal["trust-exact", "bfgs", "l-bfgs-b", "newton-cg"]
_METHODS = ("trust-exact", "bfgs", "l-bfgs-b", "newton-cg")
_SCIPY_NAMES = {"trust-exact": "trust-exact", "bfgs": "BFGS", "l-bfgs-b": "L-BFGS-B",
                "newton-cg": "Newton-CG"}


@dataclass(frozen=True)
class MLEOptions:
    """Settings of the maximum-likelihood fit.

    Attributes:
        method: SciPy optimiser: ``"trust-exact"`` (default, exact Hessian), ``"bfgs"``,
            ``"l-bfgs-b"`` or ``"newton-cg"``.
        gtol: Convergence threshold on the largest absolute gradient entry of the mean
            negative log-likelihood (per choice situation).
        max_iter: Maximum number of optimiser iterations.
        singular_tol: A Hessian whose smallest eigenvalue is at or below ``singular_tol``
            times its largest is reported as singular.
        weak_tol: Below this eigenvalue ratio the fit probes the weakest direction for a
            log-likelihood that keeps rising (separation, a scale running to a boundary).
        min_clusters: Fewer clusters than this trigger a :class:`FewClustersWarning`.
        progress: Show a progress bar with the log-likelihood at each iteration.
    """

    method: Method = "trust-exact"
    gtol: float = 1e-7
    max_iter: int = 500
    singular_tol: float = 1e-12
    weak_tol: float = 1e-6
    min_clusters: int = 30
    progress: bool = False

    def __post_init__(self) -> None:
        if self.method not in _METHODS:
            raise ValueError(f"invalid method={self.method!r}; expected one of {_METHODS}")
        if not self.gtol > 0:
            raise ValueError(f"gtol must be > 0; got gtol={self.gtol!r}")
        if not (isinstance(self.max_iter, int) and self.max_iter >= 1):
            raise ValueError(f"max_iter must be a positive integer; got max_iter={self.max_iter!r}")


@dataclass(frozen=True, eq=False)
class LikelihoodFunctions:
    """The log-likelihood of a prepared model as functions of one flat unconstrained vector.

    Attributes:
        prepared: The model bound to its data.
        sites: Latent sample sites in order.
        labels: One label per entry of the flat vector.
        transforms: Bijection from unconstrained to constrained values, by site.
        unravel: Maps the flat vector to a dict of unconstrained site values.
        per_observation: ``theta -> (n_obs,)`` weighted log-likelihood contributions.
        evaluate: ``theta -> (value, gradient, hessian)`` of the mean negative log-likelihood.
        scores: ``theta -> (n_obs, n_params)`` gradients of each contribution.
    """

    prepared: PreparedModel
    sites: tuple[str, ...]
    labels: tuple[str, ...]
    transforms: Mapping[str, Any]
    unravel: Any
    per_observation: Any
    evaluate: Any
    scores: Any

    def constrain(self, theta: jax.Array) -> dict[str, jax.Array]:
        """Map the flat unconstrained vector to constrained site values."""
        unconstrained = self.unravel(theta)
        return {name: self.transforms[name](unconstrained[name]) for name in self.sites}

    def flatten_constrained(self, theta: jax.Array) -> jax.Array:
        """Return the constrained parameters as one flat vector in label order."""
        values = self.constrain(theta)
        return jnp.concatenate([jnp.ravel(values[name]) for name in self.sites])

    def unconstrain(self, values: Mapping[str, Any]) -> jax.Array:
        """Map constrained site values to the flat unconstrained vector."""
        flat, _ = ravel_pytree({name: self.transforms[name].inv(jnp.asarray(values[name]))
                                for name in self.sites})
        return flat


def likelihood_functions(prepared: PreparedModel) -> LikelihoodFunctions:
    """Build the flat-vector log-likelihood of a prepared model from its NumPyro trace.

    The log-likelihood of situation ``n`` is ``w_n log P_n(theta)``: the log probability of the
    observed choice at site ``"choice"`` times its weight (the site's scale). Priors are
    ignored. Every latent site is mapped to the real line by ``biject_to(site.support)``.
    """
    choice = prepared.choice
    latent, choice_site = _latent_sites(prepared)
    transforms = {name: biject_to(support) for name, (support, _, _) in latent.items()}
    labels: list[str] = []
    blocks = {block.site: block.labels for block in prepared.blocks}
    for name, (_, shape, unconstrained_shape) in latent.items():
        size = math.prod(shape)
        if name not in blocks or len(blocks[name]) != size:
            raise RuntimeError(f"model site {name!r} has {size} entries but its parameter block "
                               f"lists {len(blocks.get(name, ()))} labels")
        if math.prod(unconstrained_shape) != size:
            raise RuntimeError(f"site {name!r} changes size when unconstrained; sample a real "
                               "vector and build the constrained value in the model instead")
        labels.extend(blocks[name])
    zero = {name: np.zeros(unconstrained_shape) for name, (_, _, unconstrained_shape)
            in latent.items()}
    _, unravel = ravel_pytree(zero)
    shapes = tuple(np.shape(zero[name]) for name in latent)
    compiled = _compiled_functions(prepared.model, tuple(latent), transforms, unravel, shapes)
    arguments = (prepared.inputs, choice, _stored_draws_simulator(prepared.model.simulator,
                                                                  choice_site))

    def per_observation(theta: jax.Array) -> jax.Array:
        return compiled.per_observation(theta, *arguments)

    return LikelihoodFunctions(prepared=prepared, sites=tuple(latent), labels=tuple(labels),
                               transforms=transforms, unravel=unravel,
                               per_observation=per_observation,
                               evaluate=lambda theta: compiled.evaluate(theta, *arguments),
                               scores=lambda theta: compiled.scores(theta, *arguments))


def _latent_sites(prepared: PreparedModel):
    """Return each latent site's support, shape and unconstrained shape, in trace order, and
    the utility shape and noise family of the choice site.

    The model is traced abstractly (``jax.eval_shape``): only shapes are needed, and running
    it eagerly would compile every small operation of the priors.
    """
    found: dict[str, tuple[Any, tuple[int, ...], tuple[int, ...]]] = {}
    choice_site: dict[str, Any] = {}

    def record():
        trace = handlers.trace(handlers.seed(prepared.numpyro_model, rng_seed=0)).get_trace(
            prepared.choice)
        for name, site in trace.items():
            if site["type"] == "sample" and not site["is_observed"]:
                support = site["fn"].support
                unconstrained = biject_to(support).inv(site["value"])
                found[name] = (support, tuple(jnp.shape(site["value"])),
                               tuple(jnp.shape(unconstrained)))
        distribution = trace[CHOICE_SITE]["fn"]
        noise = getattr(distribution, "noise", None)
        if noise is not None:
            choice_site["utility_shape"] = tuple(jnp.shape(distribution.utility))
            choice_site["family"] = "normal" if noise.is_correlated else noise.family
        return jnp.zeros(())

    jax.eval_shape(record)
    return found, choice_site


def _stored_draws_simulator(simulator: Any, choice_site: Mapping[str, Any]) -> Any:
    """Return the simulator with its draws generated once for the fit, when it supports that.

    Draw-based simulators regenerate identical draws at every evaluation unless prepared;
    storing them (within the simulator's memory budget) makes each evaluation cheaper. The
    prepared simulator is passed to the compiled functions as an argument, never closed over.
    """
    prepare = getattr(simulator, "prepare", None)
    if prepare is None or "utility_shape" not in choice_site:
        return simulator
    from discrete_choice.noise import Noise

    return prepare(choice_site["utility_shape"], Noise(choice_site["family"]), jnp.float64)


@dataclass(frozen=True, eq=False)
class _Compiled:
    """Jitted log-likelihood functions of ``(theta, inputs, choice, simulator)`` for one model."""

    per_observation: Any
    evaluate: Any
    scores: Any


_COMPILED: dict[Any, _Compiled] = {}
_MAX_COMPILED = 32


def _model_key(model: ChoiceModel, sites: tuple[str, ...]) -> Any:
    """Key of a model's likelihood: its class, its fields except the priors (unused here), and
    the simulator's structure; the simulator's array leaves (key, tau) are arguments instead."""
    import dataclasses

    fields = tuple((f.name, repr(getattr(model, f.name))) for f in dataclasses.fields(model)
                   if f.name not in ("priors", "simulator"))
    return (type(model), fields, jax.tree_util.tree_structure(model.simulator), sites)


def _compiled_functions(model: ChoiceModel, sites: tuple[str, ...], transforms, unravel,
                        shapes: tuple[tuple[int, ...], ...]) -> _Compiled:
    """Return jitted likelihood functions, reused by later fits of an equal model.

    The data and the simulator's leaves (draw key, temperature) enter as arguments, not
    closures, so refitting the same model on data of the same shapes, or with another draw key,
    compiles nothing (the warm fit a user sees in a loop, a bootstrap or a sweep over keys).
    """
    import dataclasses

    # The site shapes belong in the key: an equal model (for example the constants-only logit)
    # on data with another number of alternatives has other shapes, and unravel differs.
    key = (_model_key(model, sites), shapes)
    if key in _COMPILED:
        return _COMPILED[key]

    def per_observation(theta, inputs, choice, simulator):
        unconstrained = unravel(theta)
        values = {name: transforms[name](unconstrained[name]) for name in sites}
        bound = dataclasses.replace(model, simulator=simulator)
        model_trace = handlers.trace(handlers.substitute(
            lambda: bound.model(inputs, choice), data=values)).get_trace()
        site = model_trace[CHOICE_SITE]
        log_prob = site["fn"].log_prob(site["value"])
        if site["scale"] is not None:
            log_prob = log_prob * site["scale"]
        return log_prob

    def objective(theta, inputs, choice, simulator):
        return -jnp.sum(per_observation(theta, inputs, choice, simulator)) / choice.shape[0]

    def gradient_and_value(theta, *arguments):
        value, gradient = jax.value_and_grad(objective)(theta, *arguments)
        return gradient, (value, gradient)

    def evaluate(theta, *arguments):
        # Forward over reverse: the Hessian's forward pass also yields the value and gradient.
        hessian, (value, gradient) = jax.jacfwd(gradient_and_value, has_aux=True)(theta, *arguments)
        return value, gradient, hessian

    compiled = _Compiled(per_observation=jax.jit(per_observation), evaluate=jax.jit(evaluate),
                         scores=jax.jit(jax.jacfwd(per_observation)))
    if len(_COMPILED) >= _MAX_COMPILED:
        _COMPILED.pop(next(iter(_COMPILED)))
    _COMPILED[key] = compiled
    return compiled


def fit_mle(
    model: ChoiceModel,
    data: ChoiceData,
    *,
    start: Mapping[str, float] | None = None,
    cluster: str | Sequence[Any] | np.ndarray | None = None,
    options: MLEOptions | None = None,
    **option_overrides: Any,
):
    """Fit a choice model by maximum likelihood, in float64.

    The log-likelihood :math:`\\ell(\\theta) = \\sum_n w_n \\log P_n(\\theta)` is maximised over
    the unconstrained parameters (scales on the log scale); results report the constrained
    parameters with delta-method standard errors.

    Standard errors:

    - classical: :math:`H^{-1}` with :math:`H = -\\nabla^2 \\ell` by autodiff;
    - robust (sandwich): :math:`H^{-1} B H^{-1}`, :math:`B = \\sum_n s_n s_n'` with per-situation
      scores :math:`s_n = \\nabla w_n \\log P_n`;
    - cluster-robust: the same with scores summed within clusters and the factor
      :math:`G/(G-1)` for :math:`G` clusters (as Stata's ``vce(cluster)`` for ML models).

    Args:
        model: The model (for example :class:`~discrete_choice.Logit`).
        data: The choice data.
        start: Start values by parameter label; others start at the constants-only fit (for
            constants) or at the model's defaults (zero coefficients, unit scales).
        cluster: ``"panel"`` for the data's panel ids, a column name of the data's variables,
            or an array of cluster ids ``(n_obs,)``. Default: the panel ids when the data has
            them.
        options: :class:`MLEOptions`; keyword arguments override its fields.

    Returns:
        :class:`~discrete_choice.results.MLEResults`.

    Float64 is enabled for the duration of the call only (``jax.enable_x64``); the global
    JAX configuration is left as it was.
    """
    from discrete_choice.results import MLEResults

    options = options or MLEOptions()
    if option_overrides:
        options = _replace(options, option_overrides)
    with jax.enable_x64(True):
        prepared = model.prepare(data)
        functions = likelihood_functions(prepared)
        cluster_ids = _cluster_ids(cluster, data)
        started = time.perf_counter()

        loglik_constants, constants_start = _constants_only(model, data)
        start_values = dict(model.default_start(prepared))
        theta0 = np.asarray(functions.unconstrain(start_values), dtype=np.float64)
        label_index = {label: i for i, label in enumerate(functions.labels)}
        unknown = [label for label in (start or {}) if label not in label_index]
        if unknown:
            raise ValueError(f"start values for unknown parameters {unknown}; parameters: "
                             f"{list(functions.labels)}")
        for label, value in {**constants_start, **dict(start or {})}.items():
            if label in label_index:
                theta0 = _set_constrained(functions, theta0, label_index[label], value)
        solution = _maximise(functions, theta0, options, data.n_obs)
        theta = solution["theta"]

        hessian = solution["hessian"] * data.n_obs  # of the negative total log-likelihood
        scores = np.asarray(functions.scores(jnp.asarray(theta))).reshape(data.n_obs, -1)
        loglik = -solution["value"] * data.n_obs
        diagnosis = _diagnose(functions, theta, hessian, loglik, options)
        covariances = _covariances(functions, theta, hessian, scores, cluster_ids, diagnosis,
                                   options)
        constrained = np.asarray(functions.flatten_constrained(jnp.asarray(theta)))
        gradient_norm = float(np.max(np.abs(scores.sum(axis=0)))) if scores.size else 0.0
        converged = bool(solution["success"]) and not diagnosis["boundary"]
        message = solution["message"] if not diagnosis["boundary"] else diagnosis["message"]
        if not solution["success"] and solution["message"].startswith("stopped towards a boundary"):
            # The model's own boundary check (for example the scale probe of heteroscedastic
            # models) reports which parameters diverge, so only the fact is stated here.
            warnings.warn(f"{model.name} fit {solution['message']}", ConvergenceWarning,
                          stacklevel=2)
        elif not solution["success"]:
            warnings.warn(
                f"{model.name} fit did not converge after {solution['iterations']} iterations: "
                f"{solution['message']} (largest gradient entry {gradient_norm:.2e}). Check the "
                "scaling of the variables, give start values, or raise max_iter.",
                ConvergenceWarning, stacklevel=2)
        weights = np.ones(data.n_obs) if data.weights is None else data.weights
        loglik_null = float(-np.sum(weights * np.log(data.available.sum(axis=1))))
        elapsed = time.perf_counter() - started

    return MLEResults(
        model_name=model.name,
        formula=model.spec.to_formula(),
        base=prepared.design.base,
        alternatives=tuple(data.alternatives),
        names=functions.labels,
        estimates=constrained,
        cov=covariances["classical"],
        cov_robust=covariances["robust"],
        cov_cluster=covariances.get("cluster"),
        n_clusters=covariances.get("n_clusters"),
        reliable=diagnosis["reliable"],
        loglik=loglik,
        loglik_null=loglik_null,
        loglik_constants=loglik_constants,
        n_obs=data.n_obs,
        converged=converged,
        iterations=int(solution["iterations"]),
        gradient_norm=gradient_norm,
        message=str(message),
        hessian_min_eigenvalue=diagnosis["min_eigenvalue"],
        hessian_condition=diagnosis["condition"],
        simulator=_describe_simulator(model),
        noise=model.describe_noise(),
        fit_seconds=elapsed,
        notes=tuple(diagnosis["notes"]),
        model=model,
        data=data,
        extra=_model_extra(model, functions, theta, covariances),
    )


# ---------------------------------------------------------------------------- pieces
def _replace(options: MLEOptions, overrides: Mapping[str, Any]) -> MLEOptions:
    import dataclasses

    known = {f.name for f in dataclasses.fields(MLEOptions)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"unknown fit options {unknown}; MLEOptions fields are {sorted(known)}")
    return dataclasses.replace(options, **overrides)


def _set_constrained(functions: LikelihoodFunctions, theta: np.ndarray, position: int,
                     value: float) -> np.ndarray:
    """Set one constrained entry of the parameter vector and return the new unconstrained vector."""
    values = {name: np.array(v) for name, v in functions.constrain(jnp.asarray(theta)).items()}
    offset = 0
    for name in functions.sites:
        size = values[name].size
        if position < offset + size:
            flat = values[name].reshape(-1)
            flat[position - offset] = value
            values[name] = flat.reshape(values[name].shape)
            break
        offset += size
    return np.asarray(functions.unconstrain(values), dtype=np.float64)


def _constants_only(model: ChoiceModel, data: ChoiceData) -> tuple[float | None, dict[str, float]]:
    """Fit the constants-only logit: its log-likelihood and its constants as start values."""
    from discrete_choice.models.logit import Logit

    spec = model.spec.constants_only()
    if spec.constants is False:
        return None, {}
    constants_model = Logit(spec)
    prepared = constants_model.prepare(data)
    functions = likelihood_functions(prepared)
    theta0 = np.zeros(len(functions.labels))
    solution = _maximise(functions, theta0, MLEOptions(), data.n_obs)
    loglik = -solution["value"] * data.n_obs
    values = dict(zip(functions.labels, map(float, solution["theta"])))
    return loglik, values


def _maximise(functions: LikelihoodFunctions, theta0: np.ndarray, options: MLEOptions,
              n_obs: int) -> dict[str, Any]:
    """Minimise the mean negative log-likelihood with SciPy; return theta and convergence info.

    The optimiser works on ``phi = (theta - theta0) / d`` with ``d_k = |H_kk(theta0)|^(-1/2)``
    (Jacobi scaling), so a covariate measured in tens of thousands does not distort the trust
    region. One compiled function returns value, gradient and Hessian together, so a fit
    compiles once; the returned ``hessian`` is that of the mean negative log-likelihood in
    ``theta`` at the solution.
    """
    evaluate = functions.evaluate
    if len(theta0) == 0:
        value = float(-jnp.sum(functions.per_observation(jnp.asarray(theta0))) / n_obs)
        return {"theta": theta0, "success": True, "iterations": 0, "message": "no parameters",
                "hessian": np.zeros((0, 0)), "value": value, "gradient": np.zeros(0)}
    value0, _, hessian0 = (np.asarray(v, dtype=np.float64) for v in evaluate(jnp.asarray(theta0)))
    if not np.isfinite(value0):
        bad = np.flatnonzero(~np.isfinite(np.asarray(functions.per_observation(jnp.asarray(theta0)))))
        raise FloatingPointError(
            f"the log-likelihood is not finite at the start values (situations at rows "
            f"{bad[:10].tolist()}); give finite start values or check the data's scaling")
    diagonal = np.abs(np.diag(hessian0))
    scale = np.where(np.isfinite(diagonal) & (diagonal > 0), diagonal, 1.0) ** -0.5

    cache: dict[str, Any] = {}

    def evaluate_scaled(phi):
        key = phi.tobytes()
        if cache.get("key") != key:
            value, gradient, hessian = evaluate(jnp.asarray(theta0 + scale * phi))
            value = float(value)
            gradient = np.asarray(gradient, dtype=np.float64) * scale
            hessian = np.asarray(hessian, dtype=np.float64) * np.outer(scale, scale)
            if not (np.isfinite(value) and np.all(np.isfinite(gradient))
                    and np.all(np.isfinite(hessian))):
                # A trial point where the likelihood or its derivatives overflow counts as
                # infinitely bad, so the trust region shrinks instead of the optimiser failing.
                value = np.inf
                gradient = np.zeros_like(gradient)
                hessian = np.eye(len(phi))
            cache.update(key=key, value=value, gradient=gradient, hessian=hessian)
            if value < cache.get("best_value", np.inf):
                cache.update(best_value=value, best_key=key)
        return cache

    def fun(phi):
        values = evaluate_scaled(phi)
        return values["value"], values["gradient"]

    progress = None
    if options.progress:
        from tqdm.auto import tqdm

        progress = tqdm(desc="maximum likelihood", unit="iter", leave=False)

    model = functions.prepared.model

    def callback(intermediate_result):
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loglik=f"{-intermediate_result.fun * n_obs:.4f}")
        point = jnp.asarray(theta0 + scale * np.asarray(intermediate_result.x))
        values = {name: np.asarray(value) for name, value in functions.constrain(point).items()}
        reason = model.divergence(values)
        if reason is not None:
            cache["stopped"] = reason
            raise StopIteration

    kwargs: dict[str, Any] = {"jac": True, "callback": callback}
    if options.method in ("trust-exact", "newton-cg"):
        kwargs["hess"] = lambda phi: evaluate_scaled(phi)["hessian"]
    method_options: dict[str, Any] = {"maxiter": options.max_iter}
    if options.method == "newton-cg":
        method_options["xtol"] = options.gtol
    else:
        method_options["gtol"] = options.gtol
    try:
        result = scipy.optimize.minimize(fun, np.zeros_like(theta0), method=_SCIPY_NAMES[options.method],
                                         options=method_options, **kwargs)
    except (ValueError, np.linalg.LinAlgError) as error:
        # SciPy's line searches and factorisations raise on pathological steps; keep the best
        # point evaluated so far and report the fit as not converged.
        result = scipy.optimize.OptimizeResult(
            x=np.frombuffer(cache["best_key"], dtype=np.float64) if "best_key" in cache
            else np.zeros_like(theta0), success=False, nit=-1,
            message=f"optimiser stopped: {error}")
    finally:
        if progress is not None:
            progress.close()
    theta = theta0 + scale * np.asarray(result.x)
    value, gradient, hessian = (np.asarray(v, dtype=np.float64) for v in evaluate(jnp.asarray(theta)))
    success = bool(result.success) or bool(np.max(np.abs(gradient)) <= options.gtol)
    message = str(result.message)
    if "stopped" in cache:
        success = False
        message = f"stopped towards a boundary: {cache['stopped']}"
    return {"theta": theta, "success": success, "iterations": int(getattr(result, "nit", 0)),
            "message": message, "hessian": hessian, "value": float(value),
            "gradient": gradient}


def _diagnose(functions: LikelihoodFunctions, theta: np.ndarray, hessian: np.ndarray,
              loglik: float, options: MLEOptions) -> dict[str, Any]:
    """Check the Hessian at the optimum for singularity and directions of rising likelihood.

    Returns the smallest eigenvalue, the condition number, a per-parameter reliability mask,
    whether the likelihood keeps rising towards a boundary, and notes for the results.
    """
    labels = functions.labels
    n = len(labels)
    result: dict[str, Any] = {"reliable": np.ones(n, dtype=bool), "boundary": False,
                              "notes": [], "message": "", "min_eigenvalue": np.nan,
                              "condition": np.nan}
    if n == 0:
        return result
    if not np.all(np.isfinite(hessian)):
        bad = sorted({labels[i] for i in np.argwhere(~np.isfinite(hessian)).ravel()})
        warnings.warn(f"the Hessian at the optimum is not finite for parameters {bad}; their "
                      "standard errors are not available", IdentificationWarning, stacklevel=3)
        result["reliable"][[labels.index(b) for b in bad]] = False
        result["notes"].append(f"non-finite Hessian for {bad}")
        return result
    eigenvalues, eigenvectors = np.linalg.eigh((hessian + hessian.T) / 2)
    largest = float(np.max(np.abs(eigenvalues)))
    smallest = float(eigenvalues[0])
    result["min_eigenvalue"] = smallest
    result["condition"] = float(largest / smallest) if smallest > 0 else np.inf
    weak = [k for k in range(n) if eigenvalues[k] <= options.weak_tol * largest]
    if not weak:
        return result
    # The eigenvalues of the Jacobi-scaled Hessian (a correlation-like matrix) do not depend on
    # the units of the covariates, so only they decide whether to warn of weak identification.
    diagonal = np.sqrt(np.abs(np.diag(hessian)))
    diagonal = np.where(diagonal > 0, diagonal, 1.0)
    scaled = np.linalg.eigvalsh(hessian / np.outer(diagonal, diagonal))
    scaled_ratio = float(scaled[0] / np.max(np.abs(scaled)))

    per_obs = functions.per_observation
    for k in weak:
        direction = eigenvectors[:, k]
        involved = [labels[i] for i in np.flatnonzero(np.abs(direction) > 0.1)]
        step = max(1.0, float(np.linalg.norm(theta)))
        rising = False
        for sign in (1.0, -1.0):
            far = float(np.sum(np.asarray(per_obs(jnp.asarray(theta + sign * 10 * step * direction)))))
            if np.isfinite(far) and far >= loglik - 1e-6 * max(1.0, abs(loglik)):
                rising = True
                break
        mask = np.abs(direction) > 0.1
        if rising:
            result["boundary"] = True
            result["reliable"][mask] = False
            text = (f"the log-likelihood does not decrease as parameters {involved} move far "
                    "along one direction: the maximum is at infinity (separation, or a scale "
                    "running to 0 or infinity), so their estimates are where the optimiser "
                    "stopped and their standard errors are not reported")
            result["notes"].append(text)
            result["message"] = "no finite maximum: " + ", ".join(involved)
            warnings.warn(f"maximum likelihood estimate does not exist: {text}.",
                          IdentificationWarning, stacklevel=3)
        elif eigenvalues[k] <= options.singular_tol * largest:
            result["reliable"][mask] = False
            text = (f"the Hessian is singular or not positive definite (smallest eigenvalue "
                    f"{eigenvalues[k]:.3e}, condition number {result['condition']:.3e}); the "
                    f"parameters involved are {involved}")
            result["notes"].append(text)
            warnings.warn(text + "; their standard errors are not reported.",
                          IdentificationWarning, stacklevel=3)
        elif scaled_ratio <= options.weak_tol:
            # NOTE: a straight probe cannot tell a flat but finite ridge from a maximum reached
            # along a curve at infinity (scales and coefficients growing together), so this
            # case is reported as weak identification and the estimates are kept.
            text = (f"parameters {involved} are weakly identified: the smallest eigenvalue of "
                    f"the scaled Hessian is {scaled_ratio:.1e} of its largest, so their "
                    "standard errors are large and the maximum may lie far away along that "
                    "direction")
            result["notes"].append(text)
            warnings.warn(text + ".", IdentificationWarning, stacklevel=3)
    return result


def _covariances(functions, theta, hessian, scores, cluster_ids, diagnosis, options):
    """Classical, robust and cluster-robust covariances of the constrained parameters."""
    n = len(functions.labels)
    out: dict[str, Any] = {}
    if n == 0:
        empty = np.zeros((0, 0))
        return {"classical": empty, "robust": empty}
    if all(_is_identity(t) for t in functions.transforms.values()):
        jacobian = np.eye(n)  # every parameter is unconstrained: no delta method needed
    else:
        jacobian = np.asarray(jax.jacfwd(functions.flatten_constrained)(jnp.asarray(theta)))
    eigenvalues, eigenvectors = np.linalg.eigh((hessian + hessian.T) / 2)
    positive = eigenvalues > options.singular_tol * np.max(np.abs(eigenvalues))
    inverse = (eigenvectors[:, positive] / eigenvalues[positive]) @ eigenvectors[:, positive].T
    unreliable = ~diagnosis["reliable"]

    def finish(cov_u):
        cov = jacobian @ cov_u @ jacobian.T
        cov[unreliable, :] = np.nan
        cov[:, unreliable] = np.nan
        return cov

    out["classical"] = finish(inverse)
    meat = scores.T @ scores
    out["robust"] = finish(inverse @ meat @ inverse)
    if cluster_ids is not None:
        codes, uniques = _factorize(cluster_ids)
        n_clusters = len(uniques)
        summed = np.zeros((n_clusters, n))
        np.add.at(summed, codes, scores)
        factor = n_clusters / (n_clusters - 1) if n_clusters > 1 else np.nan
        out["cluster"] = finish(factor * inverse @ (summed.T @ summed) @ inverse)
        out["n_clusters"] = n_clusters
        if n_clusters < options.min_clusters:
            warnings.warn(
                f"cluster-robust standard errors use only {n_clusters} clusters (fewer than "
                f"min_clusters={options.min_clusters}); they are biased downwards and unreliable "
                "with so few clusters. Prefer the robust or classical standard errors.",
                FewClustersWarning, stacklevel=3)
    return out


def _is_identity(transform) -> bool:
    """Tell whether a transform (possibly wrapped for event dimensions) is the identity."""
    while isinstance(transform, IndependentTransform):
        transform = transform.base_transform
    return isinstance(transform, IdentityTransform)


def _factorize(ids) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    codes, uniques = pd.factorize(pd.Series(list(ids), dtype=object))
    return codes, np.asarray(uniques)


def _cluster_ids(cluster, data: ChoiceData):
    if cluster is None:
        return data.panel_ids
    if isinstance(cluster, str):
        if cluster == "panel":
            if data.panel_ids is None:
                raise ValueError("cluster='panel' but the data has no panel ids; build it with "
                                 "the `panel` argument")
            return data.panel_ids
        return data.variable(cluster)[:, 0]
    ids = np.asarray(cluster)
    if ids.shape != (data.n_obs,):
        raise ValueError(f"cluster ids must have shape (n_obs,) = ({data.n_obs},); got {ids.shape}")
    return ids


def _describe_simulator(model: ChoiceModel) -> dict[str, Any]:
    import dataclasses

    simulator = model.simulator
    info: dict[str, Any] = {"name": type(simulator).__name__.lower()}
    if dataclasses.is_dataclass(simulator):
        for f in dataclasses.fields(simulator):
            value = getattr(simulator, f.name)
            if isinstance(value, (int, float, str, bool)) or value is None:
                info[f.name] = value
            elif isinstance(value, jax.Array):
                try:
                    info[f.name] = np.asarray(jax.random.key_data(value)).tolist()
                except TypeError:
                    info[f.name] = np.asarray(value).tolist()
    return info


def _model_extra(model, functions, theta, covariances) -> dict[str, Any]:
    """Derived quantities a model family reports (for example an implied covariance)."""
    derive = getattr(model, "derived_quantities", None)
    if derive is None:
        return {}
    return derive(functions, theta, covariances)
