"""Shared parts of SVI and NUTS results: labelled posterior draws, summaries, pointwise log-likelihood."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from numpyro import handlers
from numpyro.infer.util import log_density

from discrete_choice.models._base import CHOICE_SITE, PreparedModel

__all__ = ["PosteriorResults", "latent_sites", "log_joint", "ordered_labels",
           "pointwise_log_likelihood"]


def latent_sites(prepared: PreparedModel) -> dict[str, tuple[int, ...]]:
    """Return the shape of every latent site of the prepared model, in trace order."""
    trace = handlers.trace(handlers.seed(prepared.numpyro_model, rng_seed=0)).get_trace(
        prepared.choice)
    return {name: tuple(np.shape(site["value"])) for name, site in trace.items()
            if site["type"] == "sample" and not site["is_observed"]}


def ordered_labels(prepared: PreparedModel, sites: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the parameter labels in the order of ``sites``."""
    blocks = {block.site: block.labels for block in prepared.blocks}
    return tuple(label for name in sites for label in blocks[name])


def _flatten_draws(samples: Mapping[str, Any]) -> tuple[dict[str, jax.Array], int, int]:
    first = next(iter(samples.values()))
    n_chains, n_draws = np.shape(first)[:2]
    flat = {name: jnp.reshape(jnp.asarray(value), (n_chains * n_draws,) + np.shape(value)[2:])
            for name, value in samples.items()}
    return flat, n_chains, n_draws


def log_joint(prepared: PreparedModel, samples: Mapping[str, Any],
              batch_size: int = 64) -> np.ndarray:
    """Log joint density ``log p(theta) + sum_n w_n log P_n(theta)`` per draw, ``(n_chains, n_draws)``."""
    model = prepared.model

    def one_draw(values):
        return log_density(model.model, (prepared.inputs, prepared.choice), {}, values)[0]

    flat, n_chains, n_draws = _flatten_draws(samples)
    values = jax.jit(lambda draws: jax.lax.map(one_draw, draws, batch_size=batch_size))(flat)
    return np.asarray(values).reshape(n_chains, n_draws)


def pointwise_log_likelihood(prepared: PreparedModel, samples: Mapping[str, Any],
                             batch_size: int = 64) -> np.ndarray:
    """Evaluate ``w_n log P_n(theta_s)`` for every draw ``s`` and choice situation ``n``.

    The value is the log probability of the observed choice at the ``"choice"`` site times the
    situation's weight, with the draw substituted for the latent sites (priors play no part).

    Args:
        prepared: The model bound to its data.
        samples: Constrained draws by site, each ``(n_chains, n_draws, *site_shape)``.
        batch_size: Draws evaluated together; lower it when a simulator with many nodes or
            draws runs out of memory.

    Returns:
        Array ``(n_chains, n_draws, n_obs)``.
    """
    choice = prepared.choice

    def one_draw(values):
        trace = handlers.trace(handlers.substitute(prepared.numpyro_model, data=values)).get_trace(
            choice)
        site = trace[CHOICE_SITE]
        log_prob = site["fn"].log_prob(site["value"])
        if site["scale"] is not None:
            log_prob = log_prob * site["scale"]
        return log_prob

    flat, n_chains, n_draws = _flatten_draws(samples)
    values = jax.jit(lambda draws: jax.lax.map(one_draw, draws, batch_size=batch_size))(flat)
    return np.asarray(values).reshape(n_chains, n_draws, -1)


@dataclass(frozen=True, eq=False)
class PosteriorResults:
    """Posterior draws of a Bayesian fit, labelled by parameter.

    Attributes:
        method: ``"svi"`` or ``"nuts"``.
        model_name: Name of the model family (for example ``"logit"``).
        formula: The utility specification as a formula.
        names: One label per scalar parameter, in the order of ``sites``.
        sites: Shape of every latent site, in label order.
        samples: Constrained draws by site, ``(n_chains, n_draws, *site_shape)``.
        loglik_pointwise: ``w_n log P_n`` per draw and situation, ``(n_chains, n_draws, n_obs)``.
        sample_stats: Per-draw statistics by name, each ``(n_chains, n_draws)``: ``lp`` (log
            joint density of the draw) for both methods, and the sampler's own statistics
            (``diverging``, ``energy``, ...) for NUTS.
        n_obs: Number of choice situations.
        fit_seconds: Wall-clock time of the fit, in seconds.
        model: The fitted model (with its priors).
        data: The fitted data.
    """

    method: str
    model_name: str
    formula: str
    names: tuple[str, ...]
    sites: Mapping[str, tuple[int, ...]]
    samples: Mapping[str, np.ndarray]
    loglik_pointwise: np.ndarray
    sample_stats: Mapping[str, np.ndarray]
    n_obs: int
    fit_seconds: float
    model: Any = field(repr=False)
    data: Any = field(repr=False)

    # ------------------------------------------------------------------ draws
    @property
    def n_params(self) -> int:
        """Number of scalar parameters."""
        return len(self.names)

    @property
    def n_chains(self) -> int:
        """Number of chains (1 for SVI)."""
        return int(self.loglik_pointwise.shape[0])

    @property
    def n_draws(self) -> int:
        """Number of draws per chain."""
        return int(self.loglik_pointwise.shape[1])

    def draws_array(self) -> np.ndarray:
        """Return the draws as one array ``(n_chains, n_draws, n_params)`` in label order."""
        parts = [np.reshape(self.samples[name], (self.n_chains, self.n_draws, -1))
                 for name in self.sites]
        return np.concatenate(parts, axis=-1) if parts else np.zeros((self.n_chains, self.n_draws, 0))

    @property
    def draws(self) -> pd.DataFrame:
        """Draws with chains stacked, one column per parameter, ``(n_chains * n_draws, n_params)``."""
        return pd.DataFrame(self.draws_array().reshape(-1, self.n_params), columns=list(self.names))

    @property
    def posterior_mean(self) -> pd.Series:
        """Posterior mean by parameter."""
        return pd.Series(self.draws_array().reshape(-1, self.n_params).mean(axis=0),
                         index=list(self.names), name="mean")

    @property
    def posterior_sd(self) -> pd.Series:
        """Posterior standard deviation by parameter."""
        return pd.Series(self.draws_array().reshape(-1, self.n_params).std(axis=0, ddof=1),
                         index=list(self.names), name="sd")

    @property
    def params(self) -> pd.Series:
        """Posterior mean by parameter (the point estimate a Bayesian fit reports)."""
        return self.posterior_mean.rename("estimate")

    @property
    def std_errors(self) -> pd.Series:
        """Posterior standard deviation by parameter (plays the part of a standard error)."""
        return self.posterior_sd.rename("std_error")

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Return mean, sd and the central credible interval at ``level`` for each parameter."""
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1); got level={level!r}")
        flat = self.draws_array().reshape(-1, self.n_params)
        tail = (1 - level) / 2
        return pd.DataFrame({
            "mean": flat.mean(axis=0),
            "sd": flat.std(axis=0, ddof=1),
            f"{tail:.1%}": np.quantile(flat, tail, axis=0),
            f"{1 - tail:.1%}": np.quantile(flat, 1 - tail, axis=0),
        }, index=pd.Index(list(self.names), name="parameter"))

    # ------------------------------------------------------------------ fit statistics
    @property
    def loglik_at_mean(self) -> float:
        """Log-likelihood ``sum_n w_n log P_n`` at the posterior mean."""
        with jax.enable_x64(True):
            prepared = self.model.prepare(self.data)
            mean = {name: np.mean(value, axis=(0, 1))[None, None]
                    for name, value in self.samples.items()}
            return float(np.sum(pointwise_log_likelihood(prepared, mean)))

    @property
    def loglik_mean(self) -> float:
        """Posterior mean of the log-likelihood ``sum_n w_n log P_n``."""
        return float(self.loglik_pointwise.sum(axis=-1).mean())

    def to_inference_data(self):
        """Return an ArviZ ``InferenceData``; see :func:`discrete_choice.to_inference_data`."""
        from discrete_choice.inference._arviz import to_inference_data

        return to_inference_data(self)
