r"""Temperature tools for the smoothed accept-reject simulator.

The smoothed simulator replaces the argmax indicator by a softmax at temperature ``tau``,

.. math::

    \hat P_{nj}(\tau, S) = \frac{1}{S} \sum_{s=1}^{S}
        \operatorname{softmax}_j\!\left(\frac{V_n + \sigma_n \odot u_{ns}}{\tau}\right),

so ``tau`` trades bias (the softmax is a blurred argmax: the bias of :math:`\hat P` vanishes as
``tau -> 0``) against variance (a cold softmax is nearly a step function of the draws, so the
log-likelihood and its gradient vary more from one set of ``S`` draws to another). More draws
lower the variance, which moves the best temperature down. The functions here measure both
sides of that trade-off instead of assuming them:

=================================== =========================================================
:func:`temperature_sweep`           fit at every ``(scheme, S, key, tau)``; one row per fit
:func:`tune_temperature`            choose ``tau`` on a validation split or by cross-validation
:func:`simulator_bias_variance`     bias against an exact simulator and gradient variance
:func:`fit_annealed`                maximum likelihood with ``tau`` lowered step by step
=================================== =========================================================

Plots of their tables are in :mod:`discrete_choice.plots`.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from numpyro import handlers

from discrete_choice.data import ChoiceData
from discrete_choice.draws import SCHEMES
from discrete_choice.inference.mle import MLEOptions, fit_mle, likelihood_functions
from discrete_choice.models._base import CHOICE_SITE, ChoiceModel
from discrete_choice.simulators import Smoothed
from discrete_choice.simulators._base import Simulator

__all__ = [
    "AnnealedFit",
    "TemperatureTuning",
    "estimates_from",
    "fit_annealed",
    "simulator_bias_variance",
    "split_validation",
    "temperature_sweep",
    "tune_temperature",
]

Rule = Literal["best", "one_se"]
_RULES = ("best", "one_se")
ESTIMATE_PREFIX = "estimate:"


# ---------------------------------------------------------------------------- validation
def _check_taus(taus: Any) -> tuple[float, ...]:
    values = tuple(float(t) for t in np.atleast_1d(np.asarray(taus, dtype=np.float64)))
    if not values:
        raise ValueError("taus must hold at least one temperature; got an empty sequence")
    bad = [t for t in values if not (np.isfinite(t) and t > 0)]
    if bad:
        raise ValueError(f"every temperature must be finite and > 0; got taus containing {bad[0]!r}")
    return values


def _check_n_draws(n_draws: Any) -> tuple[int, ...]:
    values = tuple(np.atleast_1d(np.asarray(n_draws)).tolist())
    if not values:
        raise ValueError("n_draws must hold at least one number of draws; got an empty sequence")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"every number of draws must be a positive integer; got n_draws "
                             f"containing {value!r}")
    return tuple(int(v) for v in values)


def _check_schemes(schemes: Any) -> tuple[str, ...]:
    values = (schemes,) if isinstance(schemes, str) else tuple(schemes)
    if not values:
        raise ValueError(f"schemes must hold at least one draw scheme out of {SCHEMES}")
    for scheme in values:
        if scheme not in SCHEMES:
            raise ValueError(f"invalid draw scheme {scheme!r} in schemes; expected one of {SCHEMES}")
    return values


def _check_keys(keys: Any) -> tuple[int, ...]:
    values = (keys,) if isinstance(keys, (int, np.integer)) else tuple(keys)
    if not values:
        raise ValueError("keys must hold at least one integer seed; got an empty sequence")
    for key in values:
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
            raise ValueError(f"keys must be integer seeds (one set of draws per seed); got "
                             f"{type(key).__name__} {key!r}")
    return tuple(int(k) for k in values)


def _check_model(model: Any) -> None:
    if not isinstance(model, ChoiceModel):
        raise TypeError(f"model must be a ChoiceModel (for example dc.Logit(spec)); got "
                        f"{type(model).__name__}")


# ---------------------------------------------------------------------------- shared pieces
def smoothed_like(simulator: Simulator, *, tau: float, n_draws: int, scheme: str,
                  key: int) -> Smoothed:
    """Return a :class:`Smoothed` simulator with the given settings.

    When ``simulator`` is already a ``Smoothed`` its other settings (antithetic draws, chunk
    size) are kept; otherwise the defaults of ``Smoothed`` apply.
    """
    if isinstance(simulator, Smoothed):
        return dataclasses.replace(simulator, tau=tau, n_draws=n_draws, scheme=scheme, key=key,
                                   **_no_stored_draws(simulator))
    return Smoothed(tau=tau, n_draws=n_draws, scheme=scheme, key=key)


def _no_stored_draws(simulator: Simulator) -> dict[str, Any]:
    """Keyword that drops draws a simulator stored for other settings (regenerated on use)."""
    names = {f.name for f in dataclasses.fields(simulator)}
    return {"stored": None} if "stored" in names else {}


def _with_simulator(model: ChoiceModel, simulator: Simulator) -> ChoiceModel:
    return dataclasses.replace(model, simulator=simulator)


def _flat_estimates(functions, params: Any) -> np.ndarray:
    """Constrained parameters in label order from results, a mapping by label or an array."""
    labels = functions.labels
    if hasattr(params, "names") and hasattr(params, "estimates"):
        params = dict(zip(params.names, np.asarray(params.estimates)))
    if isinstance(params, pd.Series):
        params = params.to_dict()
    if isinstance(params, Mapping):
        missing = [label for label in labels if label not in params]
        if missing:
            raise ValueError(f"params has no value for parameters {missing}; the model's "
                             f"parameters are {list(labels)}")
        return np.array([float(params[label]) for label in labels], dtype=np.float64)
    flat = np.asarray(params, dtype=np.float64).ravel()
    if flat.shape != (len(labels),):
        raise ValueError(f"params has {flat.size} values; the model has {len(labels)} "
                         f"parameters {list(labels)}")
    return flat


def _split_sites(functions, flat: np.ndarray) -> dict[str, jax.Array]:
    shapes = functions.constrain(jnp.zeros(len(functions.labels)))
    values, offset = {}, 0
    for name in functions.sites:
        size = int(np.size(shapes[name]))
        values[name] = jnp.reshape(jnp.asarray(flat[offset:offset + size]), jnp.shape(shapes[name]))
        offset += size
    return values


class _Evaluator:
    """Log-likelihood, its gradient and choice probabilities of one model on one dataset.

    The simulator is an argument of the compiled functions (simulators are JAX pytrees), so
    changing a key or a temperature reuses the compiled code whenever the simulator keeps
    those settings as array leaves.
    """

    def __init__(self, model: ChoiceModel, data: ChoiceData):
        self.model = model
        self.data = data
        self.prepared = model.prepare(data)
        self.functions = likelihood_functions(self.prepared)
        self._per_observation = jax.jit(self._per_observation_impl)
        self._gradient = jax.jit(jax.grad(self._mean_impl))
        self._value_and_gradient = jax.jit(jax.value_and_grad(self._mean_impl))
        self._hessian = jax.jit(jax.hessian(self._mean_impl))
        self._probabilities = jax.jit(self._probabilities_impl)

    def _swap(self, simulator: Simulator):
        model = _with_simulator(self.prepared.model, simulator)
        return dataclasses.replace(self.prepared, model=model)

    def _per_observation_impl(self, theta, simulator):
        # The same computation as LikelihoodFunctions.per_observation with the simulator
        # swapped. NOTE: calling likelihood_functions itself inside a jitted function leaks
        # the simulator's traced leaves into a JAX cache (UnexpectedTracerError on the next
        # trace), so only its parameter transforms are reused here.
        values = self.functions.constrain(theta)
        model_trace = handlers.trace(handlers.substitute(
            self._swap(simulator).numpyro_model, data=values)).get_trace(self.prepared.choice)
        site = model_trace[CHOICE_SITE]
        log_prob = site["fn"].log_prob(site["value"])
        if site["scale"] is not None:
            log_prob = log_prob * site["scale"]
        return log_prob

    def _mean_impl(self, theta, simulator):
        return jnp.mean(self._per_observation_impl(theta, simulator))

    def _probabilities_impl(self, theta, simulator):
        from discrete_choice.distribution import ChoiceDistribution

        values = self.functions.constrain(theta)
        index = jnp.arange(self.data.n_obs)
        inputs = self.prepared.inputs
        utility, noise = self.model.utility_and_noise(values, inputs, index)
        return ChoiceDistribution(utility, inputs.available, noise, simulator).probabilities

    def theta(self, params: Any) -> jax.Array:
        """Unconstrained parameter vector from constrained values (see :func:`_flat_estimates`)."""
        flat = _flat_estimates(self.functions, params)
        return self.functions.unconstrain(_split_sites(self.functions, flat))

    def loglik(self, theta, simulator) -> np.ndarray:
        """Weighted log-likelihood contributions, shape ``(n_obs,)``."""
        return np.asarray(self._per_observation(theta, simulator))

    def gradient(self, theta, simulator) -> np.ndarray:
        """Gradient of the mean log-likelihood per situation with respect to ``theta``."""
        return np.asarray(self._gradient(theta, simulator))

    def probabilities(self, theta, simulator) -> np.ndarray:
        """Choice probabilities, shape ``(n_obs, n_alts)``."""
        return np.asarray(self._probabilities(theta, simulator))

    def start(self) -> np.ndarray:
        """Return the model's default start values as an unconstrained vector."""
        values = self.model.default_start(self.prepared)
        return np.asarray(self.functions.unconstrain(values), dtype=np.float64)

    def maximise(self, theta0: np.ndarray, simulator: Simulator,
                 options: MLEOptions) -> tuple[np.ndarray, bool, int, float]:
        """Maximise the log-likelihood with SciPy.

        Returns ``(theta, converged, iterations, gradient_max)``, the last being the largest
        absolute gradient entry of the mean log-likelihood per situation at ``theta``.

        The point estimate is the one :func:`~discrete_choice.fit_mle` finds from the same
        start, but without standard errors, and the compiled derivatives are shared by all
        keys and temperatures, which makes a sweep many times faster than repeated fits.
        """
        import scipy.optimize

        def fun(theta):
            value, gradient = self._value_and_gradient(jnp.asarray(theta), simulator)
            return -float(value), -np.asarray(gradient, dtype=np.float64)

        def hess(theta):
            return -np.asarray(self._hessian(jnp.asarray(theta), simulator), dtype=np.float64)

        method = {"trust-exact": "trust-exact", "bfgs": "BFGS", "l-bfgs-b": "L-BFGS-B",
                  "newton-cg": "Newton-CG"}[options.method]
        kwargs: dict[str, Any] = {"jac": True}
        if options.method in ("trust-exact", "newton-cg"):
            kwargs["hess"] = hess
        method_options: dict[str, Any] = {"maxiter": options.max_iter}
        if options.method != "newton-cg":
            method_options["gtol"] = options.gtol
        solution = scipy.optimize.minimize(fun, np.asarray(theta0, dtype=np.float64),
                                           method=method, options=method_options, **kwargs)
        gradient = fun(solution.x)[1]
        gradient_max = float(np.max(np.abs(gradient))) if gradient.size else 0.0
        converged = bool(solution.success) or gradient_max <= options.gtol
        return np.asarray(solution.x), converged, int(getattr(solution, "nit", 0)), gradient_max

    def constrained(self, theta: np.ndarray) -> np.ndarray:
        """Constrained parameters in label order."""
        return np.asarray(self.functions.flatten_constrained(jnp.asarray(theta)))


def _check_loglik(per_obs: np.ndarray, simulator: Simulator, role: str) -> np.ndarray:
    """Raise ``FloatingPointError`` if a log-likelihood contribution is NaN or above 0.

    A log probability cannot be positive, so such a value is a numerical failure of the
    simulator, and every bias or score computed from it would be meaningless.
    """
    bad = np.flatnonzero(np.isnan(per_obs) | (per_obs > 1e-9))
    if bad.size:
        raise FloatingPointError(
            f"the {role} simulator {type(simulator).__name__} returned invalid log "
            f"probabilities (NaN or above 0, e.g. {per_obs[bad[0]]!r}) at situations "
            f"{bad[:10].tolist()}; check that simulator on those rows or use another one")
    return per_obs


def _hit_rate(probabilities: np.ndarray, choice: np.ndarray) -> float:
    return float(np.mean(np.argmax(probabilities, axis=1) == choice))


def split_validation(data: ChoiceData, fraction: float = 0.25, *, seed: int = 0,
                     ) -> tuple[ChoiceData, ChoiceData]:
    """Split choice data at random into a training and a validation part.

    Situations of one decision maker (same panel id) stay on the same side, so the validation
    log-likelihood measures prediction for new decision makers.

    Args:
        data: The choice data.
        fraction: Share of situations (or of decision makers, with panel data) held out,
            strictly between 0 and 1.
        seed: Seed of the NumPy generator that shuffles the situations.

    Returns:
        ``(train, validation)``.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie strictly between 0 and 1; got fraction={fraction!r}")
    groups = _groups(data)
    unique = np.unique(groups)
    rng = np.random.default_rng(seed)
    held_groups = rng.permutation(unique)[:max(1, int(round(fraction * len(unique))))]
    held = np.isin(groups, held_groups)
    if held.all() or not held.any():
        raise ValueError(f"fraction={fraction} leaves an empty training or validation part "
                         f"with {len(unique)} decision makers")
    return data.subset(~held), data.subset(held)


def _groups(data: ChoiceData) -> np.ndarray:
    if data.panel_ids is not None:
        return pd.factorize(pd.Series(list(data.panel_ids), dtype=object))[0]
    return np.arange(data.n_obs)


def _fold_ids(data: ChoiceData, folds: int, seed: int) -> np.ndarray:
    """Assign every situation to one of ``folds`` folds, keeping decision makers together."""
    groups = _groups(data)
    unique = np.unique(groups)
    if folds < 2 or folds > len(unique):
        raise ValueError(f"folds must lie between 2 and the number of decision makers "
                         f"({len(unique)}); got folds={folds!r}")
    rng = np.random.default_rng(seed)
    fold_of_group = np.empty(len(unique), dtype=np.int64)
    fold_of_group[rng.permutation(len(unique))] = np.arange(len(unique)) % folds
    return fold_of_group[groups]


# ---------------------------------------------------------------------------- sweep
def temperature_sweep(
    model: ChoiceModel,
    data: ChoiceData,
    *,
    taus: Sequence[float],
    n_draws: int | Sequence[int] = 100,
    schemes: str | Sequence[str] = "halton",
    keys: int | Sequence[int] = (0,),
    validation: ChoiceData | None = None,
    evaluate_with: Simulator | None = None,
    options: MLEOptions | None = None,
    warm_start: bool = True,
    progress: bool = False,
) -> pd.DataFrame:
    r"""Fit ``model`` with the smoothed simulator at every temperature, number of draws, scheme and key.

    Every combination ``(scheme, S, key, tau)`` is one maximum-likelihood fit on ``data`` with
    ``Smoothed(tau=tau, n_draws=S, scheme=scheme, key=key)``, started from the model's default
    start values. Temperatures are visited from the warmest to the coldest and, with
    ``warm_start``, each fit starts from the estimates at the previous temperature (the
    likelihood is smoother when warm, so this is also what :func:`fit_annealed` does). The
    fits find the same maximum as :func:`~discrete_choice.fit_mle` but skip standard errors,
    and their compiled derivatives are shared by every key and temperature of one ``S``.

    The fitted parameters are then scored on ``validation`` (default: the training data) with
    ``evaluate_with``. Pass an exact simulator there (``Quadrature()`` for independent noise,
    ``Exact()`` for logit) to compare temperatures on the true model's log-likelihood; the
    default (``None``) scores with the fitted smoothed simulator itself, which is the
    predictive distribution a neural classifier with a temperature would report.

    Args:
        model: Any choice model; its simulator is replaced (settings of a ``Smoothed``
            simulator other than the four swept ones are kept).
        data: Training data.
        taus: Temperatures ``tau > 0``, in utility units.
        n_draws: Numbers of draws ``S``.
        schemes: Draw schemes (``"pseudo"``, ``"halton"``, ``"sobol"``).
        keys: Integer seeds; each gives an independent set of draws.
        validation: Held-out data; ``None`` scores on ``data``.
        evaluate_with: Simulator that scores the fitted parameters; ``None`` uses the fitted one.
        options: :class:`~discrete_choice.MLEOptions` of every fit.
        warm_start: Start each fit from the previous temperature's estimates.
        progress: Show a progress bar over the fits.

    Returns:
        A tidy DataFrame with one row per fit and the columns ``scheme``, ``n_draws``, ``key``,
        ``tau``, ``train_loglik`` (the smoothed log-likelihood at the optimum),
        ``validation_loglik`` (sum over validation situations), ``validation_loglik_mean``
        (per situation), ``hit_rate`` (share of validation situations whose most probable
        alternative was chosen), ``converged`` (SciPy's flag, or ``gradient_max <= gtol``),
        ``gradient_max`` (largest absolute gradient entry of the mean training log-likelihood
        per situation; a rough smoothed likelihood can stop near 1e-7 with SciPy's "bad
        approximation" message), ``iterations``, ``fit_seconds`` and one column
        ``"estimate:<label>"`` per parameter.
    """
    _check_model(model)
    tau_grid = sorted(_check_taus(taus), reverse=True)
    draw_grid = _check_n_draws(n_draws)
    scheme_grid = _check_schemes(schemes)
    key_grid = _check_keys(keys)
    validation = data if validation is None else validation
    if not isinstance(validation, ChoiceData):
        raise TypeError(f"validation must be a ChoiceData or None; got {type(validation).__name__}")

    options = options or MLEOptions()
    with jax.enable_x64(True):
        trainer = _Evaluator(model, data)
        scorer_data = trainer if validation is data else _Evaluator(model, validation)
        labels = trainer.functions.labels
        combos = list(itertools.product(scheme_grid, draw_grid, key_grid))
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(combos) * len(tau_grid), desc="temperature sweep", unit="fit")
        rows = []
        try:
            for scheme, draws, key in combos:
                theta = trainer.start()
                for tau in tau_grid:
                    simulator = smoothed_like(model.simulator, tau=tau, n_draws=draws,
                                              scheme=scheme, key=key)
                    started = time.perf_counter()
                    fitted, converged, iterations, gradient_max = trainer.maximise(
                        theta if warm_start else trainer.start(), simulator, options)
                    seconds = time.perf_counter() - started
                    theta = fitted
                    scorer = simulator if evaluate_with is None else evaluate_with
                    per_obs = _check_loglik(scorer_data.loglik(jnp.asarray(fitted), scorer),
                                            scorer, "scoring")
                    probabilities = scorer_data.probabilities(jnp.asarray(fitted), scorer)
                    row = {
                        "scheme": scheme, "n_draws": draws, "key": key, "tau": tau,
                        "train_loglik": float(np.sum(trainer.loglik(jnp.asarray(fitted),
                                                                    simulator))),
                        "validation_loglik": float(np.sum(per_obs)),
                        "validation_loglik_mean": float(np.mean(per_obs)),
                        "hit_rate": _hit_rate(probabilities, validation.choice),
                        "converged": converged,
                        "gradient_max": gradient_max,
                        "iterations": iterations,
                        "fit_seconds": seconds,
                    }
                    row.update({ESTIMATE_PREFIX + name: float(value)
                                for name, value in zip(labels, trainer.constrained(fitted))})
                    rows.append(row)
                    if bar is not None:
                        bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    frame = pd.DataFrame(rows)
    return frame.sort_values(["scheme", "n_draws", "key", "tau"], ignore_index=True)


# ---------------------------------------------------------------------------- tuning
@dataclass(frozen=True, eq=False)
class TemperatureTuning:
    """The temperature chosen on held-out data, with the curve it was chosen from.

    Attributes:
        tau: The chosen temperature.
        rule: ``"best"`` (largest mean validation log-likelihood) or ``"one_se"`` (the warmest
            temperature within one Monte Carlo standard error of the best).
        curve: One row per temperature: ``tau``, ``validation_loglik`` (mean over keys of the
            held-out log-likelihood, summed over folds), ``validation_loglik_se`` (its Monte
            Carlo standard error across keys; NaN with one key), ``hit_rate`` and ``n_keys``.
        sweep: Every fit behind the curve (see :func:`temperature_sweep`), with a ``fold``
            column.
        result: The model refitted on all the data at ``tau`` (``None`` when ``refit=False``).
    """

    tau: float
    rule: str
    curve: pd.DataFrame
    sweep: pd.DataFrame
    result: Any = None


def tune_temperature(
    model: ChoiceModel,
    data: ChoiceData,
    *,
    taus: Sequence[float],
    n_draws: int = 100,
    scheme: str = "halton",
    keys: int | Sequence[int] = (0, 1, 2),
    validation: ChoiceData | float = 0.25,
    folds: int | None = None,
    evaluate_with: Simulator | None = None,
    rule: Rule = "best",
    seed: int = 0,
    refit: bool = True,
    options: MLEOptions | None = None,
    progress: bool = False,
) -> TemperatureTuning:
    r"""Choose the temperature that predicts held-out choices best.

    For each temperature the model is fitted on the training part with ``S = n_draws`` draws
    of every key, and the held-out log-likelihood is averaged over keys. Its spread across
    keys gives the Monte Carlo standard error

    .. math:: \mathrm{se}(\tau) = \operatorname{sd}_k\big(\ell^{\text{val}}_k(\tau)\big) / \sqrt{K},

    with :math:`K` keys. ``rule="best"`` takes the temperature with the largest mean;
    ``rule="one_se"`` takes the warmest temperature whose mean is within one standard error
    of that best (warmer temperatures have smaller gradient variance).

    Args:
        model: Any choice model (its simulator is replaced by ``Smoothed``).
        data: All the data.
        taus: Candidate temperatures, > 0.
        n_draws: Number of draws ``S`` of every fit.
        scheme: Draw scheme.
        keys: Integer seeds; two or more give a Monte Carlo standard error.
        validation: Held-out data, or the share of ``data`` to hold out at random (decision
            makers stay together). Ignored when ``folds`` is set.
        folds: Number of cross-validation folds; the held-out log-likelihood is summed over
            the folds.
        evaluate_with: Simulator scoring held-out choices (see :func:`temperature_sweep`).
        rule: ``"best"`` or ``"one_se"``.
        seed: Seed of the random split or fold assignment.
        refit: Refit on all of ``data`` at the chosen temperature with the first key.
        options: :class:`~discrete_choice.MLEOptions` of every fit.
        progress: Show a progress bar.

    Returns:
        :class:`TemperatureTuning`.
    """
    _check_model(model)
    if rule not in _RULES:
        raise ValueError(f"invalid rule={rule!r}; expected one of {_RULES}")
    key_grid = _check_keys(keys)
    sweep_options = dict(taus=taus, n_draws=n_draws, schemes=scheme, keys=key_grid,
                         evaluate_with=evaluate_with, options=options, progress=progress)
    frames = []
    if folds is not None:
        fold_ids = _fold_ids(data, folds, seed)
        for fold in range(folds):
            train, held = data.subset(fold_ids != fold), data.subset(fold_ids == fold)
            frames.append(temperature_sweep(model, train, validation=held, **sweep_options)
                          .assign(fold=fold))
    else:
        if isinstance(validation, ChoiceData):
            train, held = data, validation
        else:
            train, held = split_validation(data, float(validation), seed=seed)
        frames.append(temperature_sweep(model, train, validation=held, **sweep_options)
                      .assign(fold=0))
    sweep = pd.concat(frames, ignore_index=True)

    tau, curve = _choose(sweep, rule)

    result = None
    if refit:
        simulator = smoothed_like(model.simulator, tau=tau, n_draws=int(n_draws), scheme=scheme,
                                  key=key_grid[0])
        result = fit_mle(_with_simulator(model, simulator), data, options=options)
    return TemperatureTuning(tau=tau, rule=rule, curve=curve, sweep=sweep, result=result)


def _choose(sweep: pd.DataFrame, rule: str) -> tuple[float, pd.DataFrame]:
    """Aggregate a sweep into the validation curve and pick a temperature by ``rule``."""
    per_key = sweep.groupby(["tau", "key"], as_index=False).agg(
        validation_loglik=("validation_loglik", "sum"), hit_rate=("hit_rate", "mean"))
    curve = per_key.groupby("tau", as_index=False).agg(
        validation_loglik=("validation_loglik", "mean"),
        validation_loglik_se=("validation_loglik", lambda v: _standard_error(v.to_numpy())),
        hit_rate=("hit_rate", "mean"),
        n_keys=("key", "nunique"))
    best = int(curve["validation_loglik"].idxmax())
    tau = float(curve.loc[best, "tau"])
    if rule == "one_se":
        threshold = curve.loc[best, "validation_loglik"] - np.nan_to_num(
            curve.loc[best, "validation_loglik_se"])
        tau = float(curve.loc[curve["validation_loglik"] >= threshold, "tau"].max())
    return tau, curve


def _standard_error(values: np.ndarray) -> float:
    if len(values) < 2:
        return float("nan")
    return float(np.std(values, ddof=1) / np.sqrt(len(values)))


# ---------------------------------------------------------------------------- bias and variance
def simulator_bias_variance(
    model: ChoiceModel,
    data: ChoiceData,
    params: Any,
    *,
    taus: Sequence[float],
    n_draws: int | Sequence[int] = 100,
    schemes: str | Sequence[str] = "halton",
    keys: int | Sequence[int] = tuple(range(8)),
    reference: Simulator | None = None,
) -> pd.DataFrame:
    r"""Measure the bias and the variance of the smoothed simulator at fixed parameters.

    At the parameters ``params`` the reference simulator (exact: ``Quadrature`` or ``Exact``)
    gives the probability :math:`P_n` of each observed choice and the log-likelihood
    :math:`\ell = \sum_n \log P_n`. For each ``(scheme, S, tau)`` the smoothed simulator is
    evaluated with every key ``k``, giving :math:`\hat P_{nk}`, :math:`\hat\ell_k` and the
    gradient :math:`g_k = \nabla_\theta \hat\ell_k / N` with respect to the unconstrained
    parameters. Reported, with :math:`\bar x` the mean over the :math:`K` keys:

    - ``prob_bias`` :math:`= \frac1N \sum_n (\bar{\hat P}_n - P_n)`, the bias of the simulated
      probability of the chosen alternative. It depends on ``tau`` only, because the expected
      smoothed probability does not depend on ``S``;
    - ``prob_abs_bias`` :math:`= \frac1N \sum_n |\bar{\hat P}_n - P_n|`, which also contains
      Monte Carlo noise of order :math:`\operatorname{sd}/\sqrt{K}`;
    - ``loglik_bias`` :math:`= \bar{\hat\ell} - \ell` with its Monte Carlo standard error
      ``loglik_bias_se``; it adds the simulation bias of the logarithm (Jensen), which shrinks
      as ``S`` grows;
    - ``loglik_sd``, the standard deviation of :math:`\hat\ell_k` across keys;
    - ``grad_variance`` :math:`= \sum_p \operatorname{Var}_k(g_{kp})`, the total variance of
      the gradient across keys (the noise a stochastic optimiser sees);
    - ``grad_bias_norm`` :math:`= \lVert \bar g - g \rVert_2`, with :math:`g` the reference
      gradient.

    Args:
        model: The model; its own simulator is ignored.
        data: The choice data.
        params: Parameter values: :class:`~discrete_choice.MLEResults`, a mapping or Series
            by parameter label, or a flat array in label order.
        taus: Temperatures > 0.
        n_draws: Numbers of draws ``S``.
        schemes: Draw schemes.
        keys: Integer seeds, at least two for variances.
        reference: The exact simulator; ``None`` means ``Quadrature()``.

    Returns:
        A DataFrame with one row per ``(scheme, n_draws, tau)``: those keys, ``n_keys``,
        ``loglik_reference`` and the quantities above.
    """
    from discrete_choice.simulators import Quadrature

    _check_model(model)
    tau_grid = sorted(_check_taus(taus))
    draw_grid = _check_n_draws(n_draws)
    scheme_grid = _check_schemes(schemes)
    key_grid = _check_keys(keys)
    if len(key_grid) < 2:
        raise ValueError(f"keys must hold at least two seeds to estimate variances; got {key_grid}")
    reference = Quadrature() if reference is None else reference

    with jax.enable_x64(True):
        evaluator = _Evaluator(model, data)
        theta = evaluator.theta(params)
        choice = np.asarray(data.choice)
        rows_index = np.arange(data.n_obs)
        exact_loglik = _check_loglik(evaluator.loglik(theta, reference), reference, "reference")
        exact_prob = evaluator.probabilities(theta, reference)[rows_index, choice]
        exact_gradient = evaluator.gradient(theta, reference)

        rows = []
        for scheme, draws, tau in itertools.product(scheme_grid, draw_grid, tau_grid):
            logliks, chosen, gradients = [], [], []
            for key in key_grid:
                simulator = smoothed_like(model.simulator, tau=tau, n_draws=draws,
                                          scheme=scheme, key=key)
                logliks.append(float(np.sum(evaluator.loglik(theta, simulator))))
                chosen.append(evaluator.probabilities(theta, simulator)[rows_index, choice])
                gradients.append(evaluator.gradient(theta, simulator))
            logliks_arr = np.asarray(logliks)
            mean_prob = np.mean(np.asarray(chosen), axis=0)
            gradients_arr = np.asarray(gradients)
            rows.append({
                "scheme": scheme, "n_draws": draws, "tau": tau, "n_keys": len(key_grid),
                "loglik_reference": float(np.sum(exact_loglik)),
                "prob_bias": float(np.mean(mean_prob - exact_prob)),
                "prob_abs_bias": float(np.mean(np.abs(mean_prob - exact_prob))),
                "loglik_bias": float(np.mean(logliks_arr) - np.sum(exact_loglik)),
                "loglik_bias_se": _standard_error(logliks_arr),
                "loglik_sd": float(np.std(logliks_arr, ddof=1)),
                "grad_variance": float(np.sum(np.var(gradients_arr, axis=0, ddof=1))),
                "grad_bias_norm": float(np.linalg.norm(np.mean(gradients_arr, axis=0)
                                                       - exact_gradient)),
            })
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- annealing
@dataclass(frozen=True, eq=False)
class AnnealedFit:
    """A maximum-likelihood fit whose temperature was lowered step by step.

    Attributes:
        result: The fit at the last (coldest) temperature.
        path: One row per temperature: ``tau``, ``loglik``, ``converged``, ``iterations`` and
            one ``"estimate:<label>"`` column per parameter.
    """

    result: Any
    path: pd.DataFrame


def fit_annealed(
    model: ChoiceModel,
    data: ChoiceData,
    *,
    taus: Sequence[float] = (1.0, 0.3, 0.1),
    n_draws: int | None = None,
    scheme: str | None = None,
    key: int | None = None,
    start: Mapping[str, float] | None = None,
    options: MLEOptions | None = None,
) -> AnnealedFit:
    """Fit by maximum likelihood while lowering the temperature: start warm, finish cold.

    A warm softmax gives a smooth likelihood whose maximum is easy to reach but biased; each
    colder fit starts from the previous estimates, so the final, least biased fit starts
    near its maximum. The draws stay the same across temperatures (common random numbers).
    Only the last fit goes through :func:`~discrete_choice.fit_mle` and has standard errors;
    the warmer ones are point estimates.

    Args:
        model: Any choice model; a ``Smoothed`` simulator keeps its settings except ``tau``.
        data: The choice data.
        taus: Temperatures from warm to cold; they are sorted in decreasing order.
        n_draws, scheme, key: Settings of the smoothed simulator; ``None`` keeps those of the
            model's ``Smoothed`` simulator, or uses ``Smoothed``'s defaults.
        start: Start values of the first fit by parameter label.
        options: :class:`~discrete_choice.MLEOptions` of every fit.

    Returns:
        :class:`AnnealedFit`.
    """
    _check_model(model)
    tau_grid = sorted(_check_taus(taus), reverse=True)
    base = model.simulator if isinstance(model.simulator, Smoothed) else Smoothed()
    settings = {"n_draws": n_draws, "scheme": scheme, "key": key}
    settings = {name: value for name, value in settings.items() if value is not None}
    options = options or MLEOptions()
    rows = []
    with jax.enable_x64(True):
        evaluator = _Evaluator(model, data)
        labels = evaluator.functions.labels
        unknown = sorted(set(start or {}) - set(labels))
        if unknown:
            raise ValueError(f"start values for unknown parameters {unknown}; the model's "
                             f"parameters are {list(labels)}")
        theta = evaluator.start() if start is None else evaluator.theta(
            {**dict(zip(labels, evaluator.constrained(evaluator.start()))), **dict(start)})
        for tau in tau_grid[:-1]:
            simulator = dataclasses.replace(base, tau=tau, **settings, **_no_stored_draws(base))
            started = time.perf_counter()
            theta, converged, iterations, _ = evaluator.maximise(theta, simulator, options)
            row = {"tau": tau,
                   "loglik": float(np.sum(evaluator.loglik(jnp.asarray(theta), simulator))),
                   "converged": converged, "iterations": iterations,
                   "seconds": time.perf_counter() - started}
            row.update({ESTIMATE_PREFIX + name: float(value)
                        for name, value in zip(labels, evaluator.constrained(theta))})
            rows.append(row)
        current = dict(zip(labels, map(float, evaluator.constrained(theta))))
    simulator = dataclasses.replace(base, tau=tau_grid[-1], **settings, **_no_stored_draws(base))
    result = fit_mle(_with_simulator(model, simulator), data, start=current, options=options)
    row = {"tau": tau_grid[-1], "loglik": result.loglik, "converged": result.converged,
           "iterations": result.iterations, "seconds": result.fit_seconds}
    row.update({ESTIMATE_PREFIX + name: float(value)
                for name, value in zip(result.names, result.estimates)})
    rows.append(row)
    return AnnealedFit(result=result, path=pd.DataFrame(rows))


def estimates_from(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the ``"estimate:<label>"`` columns of a sweep or path, renamed to the labels."""
    columns = [c for c in frame.columns if c.startswith(ESTIMATE_PREFIX)]
    return frame[columns].rename(columns=lambda c: c[len(ESTIMATE_PREFIX):])

