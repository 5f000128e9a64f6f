r"""Posterior sampling for any choice model with NumPyro's No-U-Turn sampler (NUTS).

The target is the posterior :math:`p(\theta \mid y) \propto p(\theta) \prod_n P_n(\theta)^{w_n}`
with the priors of ``model.priors``. NUTS runs on the unconstrained parameters (scales on the
log scale). A simulated likelihood uses the simulator's fixed draws, so the chains target the
posterior of that simulated likelihood.

Diagnostics: a split R-hat above 1.01 is the convergence threshold proposed by Vehtari, Gelman,
Simpson, Carpenter and Buerkner, "Rank-normalization, folding, and localization: an improved
R-hat for assessing convergence of MCMC" (Bayesian Analysis, 2021). The default effective sample
size of 100 per chain is a rule of thumb for stable posterior means and intervals, and any
divergent transition after warmup is reported. R-hat and ESS are NumPyro's split-chain
estimates (``numpyro.diagnostics``), without rank normalisation.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import jax
import numpy as np
import pandas as pd
from numpyro.diagnostics import effective_sample_size, split_gelman_rubin
from numpyro.infer import MCMC, NUTS
from numpyro.infer.initialization import init_to_median, init_to_uniform, init_to_value

from discrete_choice.data import ChoiceData
from discrete_choice.exceptions import SamplingWarning
from discrete_choice.inference._posterior import (
    PosteriorResults,
    latent_sites,
    ordered_labels,
    pointwise_log_likelihood,
)
from discrete_choice.inference.svi import _mle_values, _raw_key
from discrete_choice.models._base import ChoiceModel

__all__ = ["MCMCOptions", "MCMCResults", "fit_mcmc"]

ChainMethod = Literal["sequential", "parallel", "vectorized"]
InitName = Literal["uniform", "median", "mle"]
_CHAIN_METHODS: tuple[str, ...] = get_args(ChainMethod)
_INITS: tuple[str, ...] = get_args(InitName)
_EXTRA_FIELDS = ("diverging", "num_steps", "accept_prob", "energy", "potential_energy",
                 "adapt_state.step_size")


@dataclass(frozen=True)
class MCMCOptions:
    """Settings of a NUTS fit.

    Attributes:
        num_warmup: Adaptation steps per chain (discarded).
        num_samples: Draws kept per chain.
        num_chains: Independent chains; at least 2 for R-hat.
        chain_method: ``"sequential"``, ``"parallel"`` (one device per chain) or
            ``"vectorized"`` (chains batched in one program).
        target_accept_prob: Target acceptance probability of the step-size adaptation.
        max_tree_depth: Largest tree depth of NUTS (at most ``2**max_tree_depth`` steps).
        dense_mass: Adapt a dense mass matrix instead of a diagonal one.
        init: Chain starts: ``"uniform"`` (uniform in (-2, 2) on the unconstrained scale,
            different per chain, NumPyro's default), ``"median"`` (prior median) or ``"mle"``
            (the maximum-likelihood estimates, the same for every chain).
        max_r_hat: Split R-hat above this triggers a :class:`SamplingWarning`.
        min_ess_per_chain: Effective sample size per chain below this triggers a warning.
        progress: Show NumPyro's progress bar.
    """

    num_warmup: int = 1000
    num_samples: int = 1000
    num_chains: int = 4
    chain_method: ChainMethod = "sequential"
    target_accept_prob: float = 0.8
    max_tree_depth: int = 10
    dense_mass: bool = True
    init: InitName = "uniform"
    max_r_hat: float = 1.01
    min_ess_per_chain: float = 100.0
    progress: bool = False

    def __post_init__(self) -> None:
        for name in ("num_warmup", "num_samples", "num_chains", "max_tree_depth"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{name} must be a positive integer; got {name}={value!r}")
        if self.chain_method not in _CHAIN_METHODS:
            raise ValueError(f"invalid chain_method={self.chain_method!r}; expected one of "
                             f"{_CHAIN_METHODS}")
        if self.init not in _INITS:
            raise ValueError(f"invalid init={self.init!r}; expected one of {_INITS}")
        if not 0 < self.target_accept_prob < 1:
            raise ValueError("target_accept_prob must be in (0, 1); got "
                             f"target_accept_prob={self.target_accept_prob!r}")
        if not self.max_r_hat > 1:
            raise ValueError(f"max_r_hat must be > 1; got max_r_hat={self.max_r_hat!r}")


@dataclass(frozen=True, eq=False)
class MCMCResults(PosteriorResults):
    """A NUTS fit: draws by chain with convergence diagnostics.

    Attributes:
        r_hat: Split R-hat by parameter (NaN with one chain).
        ess: Effective sample size by parameter (all chains together).
        n_divergent: Divergent transitions after warmup, all chains together.
        num_warmup: Warmup steps per chain.
        chain_method: How the chains were run.
        converged: Whether every diagnostic passed its threshold.
        notes: One line per failed diagnostic.
    """

    r_hat: pd.Series = dataclasses.field(default_factory=lambda: pd.Series(dtype=float))
    ess: pd.Series = dataclasses.field(default_factory=lambda: pd.Series(dtype=float))
    n_divergent: int = 0
    num_warmup: int = 0
    chain_method: str = "sequential"
    converged: bool = True
    notes: tuple[str, ...] = ()

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Return mean, sd, the credible interval at ``level``, R-hat and ESS per parameter."""
        table = super().summary(level)
        table["r_hat"] = self.r_hat.to_numpy()
        table["ess"] = self.ess.to_numpy()
        return table


def fit_mcmc(model: ChoiceModel, data: ChoiceData, *, key: jax.Array,
             options: MCMCOptions | None = None, **option_overrides: Any) -> MCMCResults:
    """Sample the posterior of a choice model with NUTS, in float64.

    Args:
        model: The model with its priors (``model.priors``).
        data: The choice data.
        key: A JAX random key (``jax.random.key(seed)``); each chain gets its own split.
        options: :class:`MCMCOptions`; keyword arguments override its fields.

    Returns:
        :class:`MCMCResults`. A :class:`~discrete_choice.exceptions.SamplingWarning` is issued
        when R-hat exceeds ``max_r_hat``, the effective sample size per chain is below
        ``min_ess_per_chain``, or any transition diverged.

    Example:
        >>> import jax, discrete_choice as dc
        >>> dataset = dc.load_dataset("travel_mode")
        >>> spec = dc.LinearSpec.from_formula("choice ~ gc | 1", base="car")
        >>> fit = dc.fit_mcmc(dc.Logit(spec), dataset.data, key=jax.random.key(0))
        >>> fit.summary()  # doctest: +SKIP
    """
    options = _with_overrides(options or MCMCOptions(), option_overrides)
    key = _raw_key(key)
    started = time.perf_counter()
    with jax.enable_x64(True):
        prepared = model.prepare(data)
        sites = latent_sites(prepared)
        init_strategy = {"uniform": init_to_uniform, "median": init_to_median}.get(options.init)
        if options.init == "mle":
            init_strategy = init_to_value(values=_mle_values(prepared, sites))
        kernel = NUTS(model.model, target_accept_prob=options.target_accept_prob,
                      max_tree_depth=options.max_tree_depth, dense_mass=options.dense_mass,
                      init_strategy=init_strategy)
        sampler = MCMC(kernel, num_warmup=options.num_warmup, num_samples=options.num_samples,
                       num_chains=options.num_chains, chain_method=options.chain_method,
                       progress_bar=options.progress)
        with warnings.catch_warnings():
            # NumPyro warns that "parallel" falls back to sequential chains on a single device;
            # the chains are the same either way.
            warnings.filterwarnings("ignore", message="There are not enough devices")
            sampler.run(key, prepared.inputs, prepared.choice, extra_fields=_EXTRA_FIELDS)
        grouped = sampler.get_samples(group_by_chain=True)
        samples = {name: np.asarray(grouped[name]) for name in sites}
        extra = {name: np.asarray(value)
                 for name, value in sampler.get_extra_fields(group_by_chain=True).items()}
        loglik = pointwise_log_likelihood(prepared, samples)

    names = ordered_labels(prepared, sites)
    stats = _sample_stats(extra)
    draws = np.concatenate([samples[name].reshape(samples[name].shape[:2] + (-1,))
                            for name in sites], axis=-1)
    r_hat = (split_gelman_rubin(draws) if options.num_chains > 1 and options.num_samples >= 4
             else np.full(len(names), np.nan))
    ess = effective_sample_size(draws) if options.num_samples >= 4 else np.full(len(names), np.nan)
    n_divergent = int(stats["diverging"].sum())
    notes = _check_diagnostics(names, np.atleast_1d(r_hat), np.atleast_1d(ess), n_divergent,
                               options)
    for note in notes:
        warnings.warn(note, SamplingWarning, stacklevel=2)
    return MCMCResults(
        method="nuts",
        model_name=model.name,
        formula=model.spec.to_formula(),
        names=names,
        sites=sites,
        samples=samples,
        loglik_pointwise=loglik,
        sample_stats=stats,
        n_obs=data.n_obs,
        fit_seconds=time.perf_counter() - started,
        model=model,
        data=data,
        r_hat=pd.Series(np.atleast_1d(r_hat), index=list(names), name="r_hat"),
        ess=pd.Series(np.atleast_1d(ess), index=list(names), name="ess"),
        n_divergent=n_divergent,
        num_warmup=options.num_warmup,
        chain_method=options.chain_method,
        converged=not notes,
        notes=tuple(notes),
    )


# ---------------------------------------------------------------------------- pieces
def _with_overrides(options: MCMCOptions, overrides: Mapping[str, Any]) -> MCMCOptions:
    known = {f.name for f in dataclasses.fields(MCMCOptions)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"unknown MCMC options {unknown}; MCMCOptions fields are {sorted(known)}")
    return dataclasses.replace(options, **overrides) if overrides else options


def _sample_stats(extra: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rename NumPyro's extra fields to ArviZ's sample-statistic names, each ``(n_chains, n_draws)``."""
    num_steps = extra["num_steps"]
    return {
        "lp": -extra["potential_energy"],
        "diverging": extra["diverging"].astype(bool),
        "energy": extra["energy"],
        "n_steps": num_steps,
        "tree_depth": np.floor(np.log2(np.maximum(num_steps, 1))).astype(int) + 1,
        "acceptance_rate": extra["accept_prob"],
        "step_size": extra["adapt_state.step_size"],
    }


def _check_diagnostics(names, r_hat, ess, n_divergent, options: MCMCOptions) -> list[str]:
    notes = []
    high = [f"{name} ({value:.3f})" for name, value in zip(names, r_hat)
            if np.isfinite(value) and value > options.max_r_hat]
    if high:
        notes.append(f"split R-hat above {options.max_r_hat} for {', '.join(high)}: the chains "
                     "have not mixed; run more warmup and samples, or reparametrise")
    threshold = options.min_ess_per_chain * options.num_chains
    low = [f"{name} ({value:.0f})" for name, value in zip(names, ess)
           if np.isfinite(value) and value < threshold]
    if low:
        notes.append(f"effective sample size below {threshold:.0f} ({options.min_ess_per_chain:g} "
                     f"per chain) for {', '.join(low)}; draw more samples")
    if n_divergent:
        total = options.num_chains * options.num_samples
        notes.append(f"{n_divergent} of {total} transitions after warmup diverged: the draws may "
                     "miss part of the posterior; raise target_accept_prob (for example 0.95) "
                     "or reparametrise")
    return notes
