"""The ``--method svi|nuts`` options of ``discrete-choice fit`` and their JSON output."""

from __future__ import annotations

import argparse
import math
from typing import Any

__all__ = ["METHODS", "add_method_arguments", "fit_bayesian", "bayesian_to_json",
           "bayesian_table"]

METHODS = ("mle", "svi", "nuts")
GUIDES = ("normal", "multivariate_normal", "low_rank_multivariate_normal", "delta")


def add_method_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--method`` and the settings of the Bayesian methods."""
    parser.add_argument(
        "--method", choices=METHODS, default="mle",
        help="mle: maximum likelihood (default); svi: variational posterior; nuts: posterior "
             "draws by the No-U-Turn sampler. For svi and nuts, 'estimate' is the posterior "
             "mean, 'std_error' the posterior standard deviation, 'robust_std_error' is null "
             "and 'loglik' is the log-likelihood at the posterior mean; the priors are the "
             "model's defaults.")
    bayes = parser.add_argument_group("svi and nuts")
    bayes.add_argument("--seed", type=int, default=0, help="seed of the random key (default 0)")
    bayes.add_argument("--samples", type=int, default=1000,
                       help="posterior draws (svi: from the guide; nuts: per chain); default 1000")
    bayes.add_argument("--guide", choices=GUIDES, default="normal",
                       help="svi: variational family (default normal, i.e. mean-field)")
    bayes.add_argument("--steps", type=int, default=20_000,
                       help="svi: maximum number of optimiser steps (default 20000); the fit "
                            "stops earlier when the ELBO reaches a plateau")
    bayes.add_argument("--learning-rate", type=float, default=0.01,
                       help="svi: Adam step size (default 0.01)")
    bayes.add_argument("--batch-size", type=int, default=None,
                       help="svi: choice situations per step (default: all)")
    bayes.add_argument("--draws", choices=("fixed", "fresh"), default="fixed",
                       help="svi with a simulated likelihood: keep the simulator's draws for "
                            "every step (fixed, default) or take new ones each step (fresh)")
    bayes.add_argument("--chains", type=int, default=4, help="nuts: number of chains (default 4)")
    bayes.add_argument("--warmup", type=int, default=1000,
                       help="nuts: warmup steps per chain (default 1000)")


def fit_bayesian(args: argparse.Namespace, model: Any, data: Any):
    """Fit ``model`` by the method in ``args.method`` (``"svi"`` or ``"nuts"``)."""
    import jax

    from discrete_choice.inference.mcmc import fit_mcmc
    from discrete_choice.inference.svi import fit_svi

    key = jax.random.key(args.seed)
    if args.method == "svi":
        return fit_svi(model, data, key=key, guide=args.guide, max_steps=args.steps,
                       learning_rate=args.learning_rate, subsample_size=args.batch_size,
                       draws=args.draws, num_samples=args.samples,
                       progress=not args.quiet)
    if args.method == "nuts":
        return fit_mcmc(model, data, key=key, num_chains=args.chains, num_warmup=args.warmup,
                        num_samples=args.samples, progress=not args.quiet)
    raise ValueError(f"invalid --method {args.method!r}; expected one of {METHODS}")


def _number(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def bayesian_to_json(result: Any) -> dict[str, Any]:
    """Return the fit command's JSON object for an SVI or NUTS fit.

    The keys are those of a maximum-likelihood fit where they have a Bayesian counterpart:
    ``estimate`` is the posterior mean, ``std_error`` the posterior standard deviation,
    ``robust_std_error`` is ``None`` and ``loglik`` is the log-likelihood at the posterior mean.
    """
    mean, sd = result.posterior_mean, result.posterior_sd
    parameters = {}
    for name in result.names:
        entry = {"estimate": _number(mean[name]), "std_error": _number(sd[name]),
                 "robust_std_error": None}
        if result.method == "nuts":
            entry["r_hat"] = _number(result.r_hat[name])
            entry["ess"] = _number(result.ess[name])
        parameters[str(name)] = entry
    payload: dict[str, Any] = {
        "model": result.model_name,
        "method": result.method,
        "formula": result.formula,
        "n_obs": result.n_obs,
        "n_params": result.n_params,
        "loglik": _number(result.loglik_at_mean),
        "converged": bool(result.converged),
        "alternatives": [str(a) for a in result.data.alternatives],
        "parameters": parameters,
    }
    if result.method == "svi":
        payload.update(guide=result.guide, steps=result.n_steps, draws=result.draws_mode,
                       batch_size=result.subsample_size, elbo=_number(result.elbo[-1]),
                       message=result.message)
        payload["notes"] = [] if result.converged else [result.message]
    else:
        payload.update(chains=result.n_chains, draws_per_chain=result.n_draws,
                       divergences=result.n_divergent)
        payload["notes"] = list(result.notes)
    return payload


def bayesian_table(result: Any) -> str:
    """Return the text summary of an SVI or NUTS fit."""
    if result.method == "svi":
        header = (f"{result.model_name} by SVI ({result.guide} guide, {result.n_steps} steps, "
                  f"draws {result.draws_mode}); {result.n_obs} situations; "
                  f"{result.n_draws} draws from the guide")
    else:
        header = (f"{result.model_name} by NUTS ({result.n_chains} chains of {result.n_draws} "
                  f"draws, {result.n_divergent} divergent); {result.n_obs} situations")
    lines = [header, f"formula: {result.formula}",
             f"log-likelihood at the posterior mean: {result.loglik_at_mean:.3f}", "",
             result.summary().to_string(float_format=lambda v: f"{v:.4g}")]
    return "\n".join(lines)
