"""``discrete-choice fit``: read a table or a bundled dataset, fit one model, print the results."""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from discrete_choice.cli._bayesian import (
    add_method_arguments,
    bayesian_table,
    bayesian_to_json,
    fit_bayesian,
)
from discrete_choice.exceptions import ChoiceDataError, DiscreteChoiceWarning, SpecificationError

__all__ = ["add_fit_parser", "add_data_arguments", "load_data", "fit_to_json", "run_fit",
           "user_errors", "stage"]

DEFAULT_DATASET = "travel_mode"
USER_ERRORS = (ChoiceDataError, SpecificationError, ValueError, FileNotFoundError, KeyError,
               FloatingPointError)


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options that locate the data and map its columns to roles."""
    parser.add_argument(
        "data", nargs="?", default=None, metavar="DATA",
        help="CSV or Parquet file, or a bundled dataset name (travel_mode, mode_canada, "
             "swissmetro). Default: travel_mode, Greene's travel-mode survey.")
    parser.add_argument("--formula", help="three-part formula 'choice ~ generic | individual | "
                        "alternative-specific', e.g. 'choice ~ gc + ttme | hinc[air]'. Default: "
                        "the dataset's standard model for bundled data.")
    parser.add_argument("--base", help="base alternative for constants and individual terms")
    layout = parser.add_argument_group("table layout (files only)")
    layout.add_argument("--format", choices=("long", "wide"), default="long",
                        help="long: one row per situation and alternative (default); wide: one "
                        "row per situation")
    layout.add_argument("--obs", help="long: column of choice-situation ids; wide: optional")
    layout.add_argument("--alt", help="long: column of alternative labels")
    layout.add_argument("--chosen", help="long: 0/1 column flagging the chosen row")
    layout.add_argument("--choice", help="column holding the chosen alternative's label (long) or "
                        "code (wide)")
    layout.add_argument("--available", help="long: optional 0/1 availability column")
    layout.add_argument("--alternatives", help="wide: LABEL=CODE pairs separated by commas, e.g. "
                        "train=1,sm=2,car=3 (or just labels when the choice column holds them)")
    layout.add_argument("--attribute", action="append", default=[], metavar="NAME:ALT=COL,...",
                        help="wide: an alternative-varying attribute, e.g. "
                        "time:train=TRAIN_TT,sm=SM_TT,car=CAR_TT (repeat the option)")
    layout.add_argument("--availability", metavar="ALT=COL,...",
                        help="wide: availability columns, e.g. train=TRAIN_AV,car=CAR_AV")
    layout.add_argument("--individual", metavar="COL,...",
                        help="wide: alternative-invariant columns, e.g. INCOME,AGE")
    layout.add_argument("--panel", help="optional column of decision-maker ids (panels); used for "
                        "cluster-robust standard errors")
    layout.add_argument("--weights", help="optional column of positive situation weights")
    layout.add_argument("--missing", choices=("raise", "drop"), default="raise",
                        help="raise (default) reports missing values; drop removes the whole "
                        "choice situations that have them")
    parser.add_argument("--output", choices=("table", "json"), default="table",
                        help="table (default) or one JSON object on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress messages on stderr")


def add_fit_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``fit`` subcommand."""
    parser = subparsers.add_parser(
        "fit", help="fit one model by maximum likelihood, SVI or NUTS",
        description="Fit a choice model by maximum likelihood (or by SVI or NUTS, see "
                    "--method) and print estimates, standard errors and fit statistics. With no "
                    "DATA, fits the conditional logit of Greene's travel-mode survey.")
    add_data_arguments(parser)
    parser.add_argument("--model", default="logit",
                        help="model family (default logit); see `discrete-choice compare --help` "
                             "for the others")
    parser.add_argument("--cluster", help="column of cluster ids for cluster-robust standard "
                        "errors (default: the --panel column when given)")
    add_method_arguments(parser)
    parser.set_defaults(run=run_fit)
    return parser


def _split_pairs(text: str, option: str) -> dict[str, str]:
    pairs = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in item:
            raise ValueError(f"invalid {option} entry {item!r}; expected ALT=VALUE pairs "
                             "separated by commas")
        key, value = item.split("=", 1)
        pairs[key.strip()] = value.strip()
    return pairs


def _read_table(path: Path):
    import pandas as pd

    suffixes = "".join(path.suffixes).lower()
    if ".parquet" in suffixes or ".pq" in suffixes:
        return pd.read_parquet(path)
    if ".csv" in suffixes or ".txt" in suffixes or ".dat" in suffixes:
        separator = "\t" if ".dat" in suffixes else ","
        return pd.read_csv(path, sep=separator)
    raise ValueError(f"cannot tell the format of {str(path)!r} from its suffix; use .csv, "
                     ".csv.gz, .dat (tab-separated) or .parquet")


def _coerce_label(value: str, examples: list[Any]) -> Any:
    """Give a label from the command line the type of the data's labels (1 vs '1')."""
    if any(isinstance(e, (int,)) for e in examples):
        try:
            return int(value)
        except ValueError:
            return value
    if any(isinstance(e, float) for e in examples):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def load_data(args: argparse.Namespace):
    """Return ``(choice_data, formula, base, label)`` from the data options."""
    from discrete_choice.data import DATASETS, ChoiceData, load_dataset

    name = args.data or DEFAULT_DATASET
    if name in DATASETS:
        dataset = load_dataset(name)
        return dataset.data, args.formula or dataset.formula, args.base or dataset.base, name
    path = Path(name)
    if not path.exists():
        raise FileNotFoundError(f"data file {name!r} not found, and it is not a bundled dataset "
                                f"({', '.join(DATASETS)})")
    if not args.formula:
        raise ValueError("--formula is required for a data file, e.g. "
                         "--formula 'choice ~ cost + time | income'")
    frame = _read_table(path)
    if args.format == "long":
        missing = [o for o in ("obs", "alt") if getattr(args, o) is None]
        if missing or (args.chosen is None and args.choice is None):
            raise ValueError("a long table needs --obs, --alt and one of --chosen/--choice")
        data = ChoiceData.from_long(
            frame, obs=args.obs, alt=args.alt, chosen=args.chosen, choice=args.choice,
            available=args.available, panel=args.panel, weights=args.weights,
            missing=args.missing)
    else:
        if args.choice is None or args.alternatives is None:
            raise ValueError("a wide table needs --choice and --alternatives")
        raw = [a.strip() for a in args.alternatives.split(",") if a.strip()]
        codes = frame[args.choice].dropna().unique().tolist() if args.choice in frame else []
        if all("=" in a for a in raw):
            alternatives = {label: _coerce_label(code, codes)
                            for label, code in _split_pairs(args.alternatives,
                                                            "--alternatives").items()}
        else:
            alternatives = [_coerce_label(a, codes) for a in raw]
        attributes = {}
        for text in args.attribute:
            if ":" not in text:
                raise ValueError(f"invalid --attribute {text!r}; expected NAME:ALT=COL,...")
            attribute, mapping = text.split(":", 1)
            attributes[attribute.strip()] = _split_pairs(mapping, "--attribute")
        availability = _split_pairs(args.availability, "--availability") if args.availability else None
        individual = [c.strip() for c in args.individual.split(",")] if args.individual else None
        data = ChoiceData.from_wide(
            frame, choice=args.choice, alternatives=alternatives, attributes=attributes,
            availability=availability, individual=individual, obs=args.obs, panel=args.panel,
            weights=args.weights, missing=args.missing)
    base = args.base
    if base is not None:
        base = _coerce_label(base, list(data.alternatives))
    return data, args.formula, base, str(path)


def _number(value: Any) -> Any:
    """Turn NaN and infinities into None so the JSON output stays standard."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def fit_to_json(result: Any) -> dict[str, Any]:
    """Return the JSON object of one fit: statistics plus ``parameters`` by name."""
    stats = result.statistics()
    frame = result.to_frame()
    parameters = {}
    for name, row in frame.iterrows():
        entry = {"estimate": _number(float(row["estimate"])),
                 "std_error": _number(float(row["std_error"])),
                 "robust_std_error": _number(float(row["robust_std_error"])),
                 "reliable": bool(row["reliable"])}
        if "cluster_std_error" in frame:
            entry["cluster_std_error"] = _number(float(row["cluster_std_error"]))
        parameters[str(name)] = entry
    payload = {key: _number(value) if isinstance(value, float) else value
               for key, value in stats.items()}
    payload["alternatives"] = [str(a) for a in result.alternatives]
    payload["parameters"] = parameters
    payload["notes"] = list(result.notes)
    return payload


@contextmanager
def stage(message: str, quiet: bool) -> Iterator[None]:
    """Print a progress message on stderr, then the elapsed seconds when the step ends."""
    import time

    started = time.perf_counter()
    if not quiet:
        print(f"{message} ...", end="", file=sys.stderr, flush=True)
    try:
        yield
    finally:
        if not quiet:
            print(f" {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)


def user_errors(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn errors caused by the input into one message on stderr and exit status 2."""
    def wrapped(args: argparse.Namespace) -> int:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default", DiscreteChoiceWarning)
                warnings.showwarning = _show_warning
                return run(args)
        except USER_ERRORS as error:
            if not getattr(args, "quiet", False):
                print(file=sys.stderr)
            message = error.args[0] if isinstance(error, KeyError) and error.args else error
            print(f"error: {message}", file=sys.stderr)
            return 2
    return wrapped


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"\nwarning ({category.__name__}): {message}", file=sys.stderr)


@user_errors
def run_fit(args: argparse.Namespace) -> int:
    """Run ``discrete-choice fit``."""
    with stage("loading data", args.quiet):
        import discrete_choice as dc

        data, formula, base, label = load_data(args)
        families = dc.models.MODEL_FAMILIES
        if args.model not in families:
            raise ValueError(f"unknown --model {args.model!r}; available: {', '.join(families)}")
        spec = dc.LinearSpec.from_formula(formula, base=base)
        model = families[args.model](spec)
    with stage(f"fitting {args.model} on {label} ({data.n_obs} situations; compiling first)",
               args.quiet):
        if args.method != "mle":
            result = fit_bayesian(args, model, data)
        else:
            result = model.fit(data, cluster=args.cluster)  # a family may add start values or checks
    if args.method != "mle":
        print(json.dumps(bayesian_to_json(result), indent=2) if args.output == "json"
              else bayesian_table(result))
        return 0
    if args.output == "json":
        print(json.dumps(fit_to_json(result), indent=2))
    else:
        print(result.summary().as_text())
    return 0
