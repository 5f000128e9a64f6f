"""``discrete-choice compare``: fit several model families to one dataset and compare them."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from discrete_choice.cli._fit import add_data_arguments, fit_to_json, load_data, stage, user_errors

__all__ = ["add_compare_parser", "run_compare", "COMPARE_MODELS", "DEFAULT_MODELS"]

DEFAULT_MODELS = "logit,probit,het-probit"
SIMULATOR_CHOICES = ("default", "exact", "quadrature", "smoothed", "ghk")


@dataclass(frozen=True)
class ModelEntry:
    """A model family the command can fit.

    Attributes:
        description: One line for ``--help``.
        build: ``(spec, simulator_or_None, args) -> model``.
        default_simulator: Simulator used when ``--simulator default``.
    """

    description: str
    build: Callable[..., Any]
    default_simulator: str


def _build(cls_path: str, **fixed: Any) -> Callable[..., Any]:
    def build(spec, simulator, args):
        import discrete_choice.models as models

        cls = getattr(models, cls_path)
        options = dict(fixed)
        if simulator is not None:
            options["simulator"] = simulator
        if cls_path.startswith("Heteroscedastic") or cls_path == "HEV":
            covariates = _names(args.scale_covariates)
            if covariates:
                options["scale_covariates"] = covariates
        return cls(spec, **options)
    return build


COMPARE_MODELS: dict[str, ModelEntry] = {
    "logit": ModelEntry("multinomial logit (iid Gumbel)", _build("Logit"), "exact"),
    "probit": ModelEntry("independent probit (iid N(0, 1))", _build("Probit"), "quadrature"),
    "hev": ModelEntry("heteroscedastic extreme value (Bhat 1995), a Gumbel scale per alternative",
                      _build("HEV"), "quadrature"),
    "het-probit": ModelEntry("heteroscedastic probit, a Normal scale per alternative",
                             _build("HeteroscedasticProbit"), "quadrature"),
    "het-logistic": ModelEntry("heteroscedastic logistic, a Logistic scale per alternative",
                               _build("HeteroscedasticLogistic"), "quadrature"),
    "mnp": ModelEntry("multinomial probit, full covariance of utility differences",
                      _build("MultinomialProbit"), "smoothed"),
}


def _names(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(name.strip() for name in text.split(",") if name.strip())


def add_compare_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``compare`` subcommand."""
    listing = "\n".join(f"  {name:<13} {entry.description} (default simulator: "
                        f"{entry.default_simulator})" for name, entry in COMPARE_MODELS.items())
    parser = subparsers.add_parser(
        "compare", help="fit several model families and compare them",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Fit the listed model families by maximum likelihood on one dataset and "
                    "print a table of log-likelihood, parameters, AIC, BIC, rho-squared and hit "
                    "rate, likelihood-ratio tests of nested pairs, Vuong tests of the others, "
                    "and each model's estimates. With no DATA, runs on Greene's travel-mode "
                    "survey.",
        epilog="models:\n" + listing)
    add_data_arguments(parser)
    parser.add_argument("--models", default=DEFAULT_MODELS,
                        help=f"comma-separated model families (default {DEFAULT_MODELS}); "
                             f"available: {', '.join(COMPARE_MODELS)}")
    parser.add_argument("--simulator", choices=SIMULATOR_CHOICES, default="default",
                        help="simulator for every model that accepts it; default: exact for "
                             "logit, quadrature for independent noise, smoothed for mnp")
    parser.add_argument("--temperature", type=float, default=0.1,
                        help="tau of the smoothed simulator (default 0.1, in utility units)")
    parser.add_argument("--draws", type=int, default=200,
                        help="draws per situation S for the smoothed and GHK simulators "
                             "(default 200)")
    parser.add_argument("--scheme", choices=("pseudo", "halton", "sobol"), default="halton",
                        help="draw scheme for the smoothed and GHK simulators (default halton)")
    parser.add_argument("--seed", type=int, default=0,
                        help="integer key of the draws (default 0)")
    parser.add_argument("--scale-covariates", metavar="COL,...",
                        help="variables of the scale equation of the heteroscedastic models, "
                             "log sigma_nj = gamma_j + z_n' delta")
    parser.add_argument("--vuong-correction", choices=("bic", "aic", "none"), default="bic",
                        help="parameter-count correction of the Vuong statistic (default bic)")
    parser.set_defaults(run=run_compare)
    return parser


def _simulator(name: str, args: argparse.Namespace):
    import discrete_choice as dc
    from discrete_choice.simulators.ghk import GHK

    if name == "exact":
        return dc.Exact()
    if name == "quadrature":
        return dc.Quadrature()
    if name == "smoothed":
        return dc.Smoothed(tau=args.temperature, n_draws=args.draws, scheme=args.scheme,
                           key=args.seed)
    return GHK(n_draws=args.draws, scheme=args.scheme, key=args.seed)


def _simulator_record(result) -> dict[str, Any]:
    """Return ``simulator``, ``temperature`` and ``n_draws`` of a fit for the JSON output."""
    info = dict(result.simulator)
    return {"simulator": info.get("name"), "temperature": info.get("tau"),
            "n_draws": info.get("n_draws")}


def parse_models(text: str) -> list[str]:
    """Split ``--models`` and check every name, listing the available ones on an error."""
    names = _names(text)
    unknown = [name for name in names if name not in COMPARE_MODELS]
    if unknown or not names:
        raise ValueError(f"invalid --models {text!r}: unknown {unknown or 'empty list'}; "
                         f"available: {', '.join(COMPARE_MODELS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"--models {text!r} lists a model twice")
    return list(names)


@user_errors
def run_compare(args: argparse.Namespace) -> int:
    """Run ``discrete-choice compare``; return the exit status."""
    from discrete_choice.compare import compare

    names = parse_models(args.models)
    if args.draws < 1:
        raise ValueError(f"--draws must be a positive integer; got {args.draws}")
    if not args.temperature > 0:
        raise ValueError(f"--temperature must be > 0; got {args.temperature}")
    with stage("loading data", args.quiet):
        import discrete_choice as dc

        data, formula, base, label = load_data(args)
        spec = dc.LinearSpec.from_formula(formula, base=base)
    results = {}
    for name in names:
        entry = COMPARE_MODELS[name]
        chosen = entry.default_simulator if args.simulator == "default" else args.simulator
        model = entry.build(spec, _simulator(chosen, args), args)
        with stage(f"fitting {name} with {chosen} on {label} ({data.n_obs} situations)",
                   args.quiet):
            results[name] = model.fit(data)
    with stage("comparing", args.quiet):
        comparison = compare(results, vuong_correction=args.vuong_correction)

    if args.output == "json":
        models = []
        for name, result in results.items():
            payload = fit_to_json(result)
            payload.update(_simulator_record(result))
            payload["label"] = name
            hit_rate = float(comparison.table.loc[name, "hit_rate"])
            payload["hit_rate"] = hit_rate if hit_rate == hit_rate else None
            models.append(payload)
        tests = comparison.to_dict()
        print(json.dumps({"data": label, "formula": formula, "n_obs": data.n_obs,
                          "models": models, "lr_tests": tests["lr_tests"],
                          "vuong_tests": tests["vuong_tests"]}, indent=2, default=_json_default))
        return 0

    print(f"Comparison on {label}: {formula} ({data.n_obs} situations)\n")
    print(comparison.summary())
    for name, result in results.items():
        print(f"\n=== {name} ===")
        print(result.summary().as_text())
    sys.stdout.flush()
    return 0


def _json_default(value: Any) -> Any:
    import math

    import numpy as np

    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (int, float, str, bool)):
        return value
    return str(value)
