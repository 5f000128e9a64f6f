"""Time the Swissmetro logit in discrete_choice, Biogeme and xlogit, and compare the estimates.

The model is the multinomial logit of Biogeme's first Swissmetro example (01logit):

    V_train = ASC_TRAIN + B_TIME * TRAIN_TT / 100 + B_COST * TRAIN_COST / 100
    V_sm    =             B_TIME * SM_TT / 100    + B_COST * SM_COST / 100
    V_car   = ASC_CAR   + B_TIME * CAR_TT / 100   + B_COST * CAR_CO / 100

with Swissmetro as the base. The sample keeps PURPOSE in {1, 3} and CHOICE != 0 (6,768
choices). Train and car are available when TRAIN_AV * (SP != 0) and CAR_AV * (SP != 0) are 1,
Swissmetro when SM_AV is 1. Train and Swissmetro cost zero for holders of the GA season ticket.

Usage (from the repository root)::

    python benchmarks/bench_swissmetro_logit.py                 # the whole comparison
    python benchmarks/bench_swissmetro_logit.py --tool biogeme  # one tool, as a child process

The parent process runs every tool in child processes of this same script and measures:

(a) whole process: wall-clock seconds of ``python bench_swissmetro_logit.py --tool X --once``.
    That process imports the tool, reads the data and fits once, JAX compilation included.
(b) first fit: inside a child process, after the imports, the first fit.
(c) warm fit: the median of ``--repeats`` further fits in the same child process.

A fit starts from the prepared pandas table (filtered rows, GA-adjusted and scaled columns, the
same for every tool) and includes the tool's own data conversion, estimation and standard
errors, each with the tool's default settings.

The report compares every tool's estimates with Biogeme's and with a maximum found by NumPy
Newton steps in the parent process, which uses none of the three tools.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.special

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "swissmetro.csv.gz"
TOOLS = ("discrete_choice", "biogeme", "xlogit")
PARAMS = ("ASC_TRAIN", "ASC_CAR", "B_TIME", "B_COST")  # Biogeme's names, used in every table
ALTERNATIVE_CODES = {"train": 1, "sm": 2, "car": 3}  # codes of the CHOICE column
# A fixed number of Newton steps for the independent check. The logit log-likelihood is concave,
# so this is far more than needed, and the report prints the final gradient norm.
EXACT_NEWTON_STEPS = 30

# Biogeme's published report for this model: 01logit.html, "Report from biogeme 3.2.6a
# [2020-04-29]", in examples/swissmetro of the Biogeme repository (github.com/michelbierlaire).
PUBLISHED_BIOGEME = {
    "estimates": {"ASC_TRAIN": -0.701, "ASC_CAR": -0.155, "B_TIME": -1.28, "B_COST": -1.08},
    "std_errors": {"ASC_TRAIN": 0.0549, "ASC_CAR": 0.0432, "B_TIME": 0.0569, "B_COST": 0.0518},
    "robust_std_errors": {
        "ASC_TRAIN": 0.0826,
        "ASC_CAR": 0.0582,
        "B_TIME": 0.104,
        "B_COST": 0.0682,
    },
    "loglik": -5331.252,
}


def prepare_table(path):
    """Read the Swissmetro survey and return the filtered wide table with model columns.

    Returns one row per choice situation with CHOICE, the scaled times and costs
    (``<ALT>_TT``, ``<ALT>_COST``, divided by 100) and the 0/1 availabilities ``<ALT>_AV``.
    """
    raw = pd.read_csv(path)
    kept = raw[raw["PURPOSE"].isin([1, 3]) & (raw["CHOICE"] != 0)].reset_index(drop=True)
    no_season_ticket = (kept["GA"] == 0).astype(float)
    survey_is_sp = (kept["SP"] != 0).astype(float)
    return pd.DataFrame(
        {
            "CHOICE": kept["CHOICE"].astype(int),
            "TRAIN_TT": kept["TRAIN_TT"] / 100.0,
            "SM_TT": kept["SM_TT"] / 100.0,
            "CAR_TT": kept["CAR_TT"] / 100.0,
            "TRAIN_COST": kept["TRAIN_CO"] * no_season_ticket / 100.0,
            "SM_COST": kept["SM_CO"] * no_season_ticket / 100.0,
            "CAR_COST": kept["CAR_CO"] / 100.0,
            "TRAIN_AV": kept["TRAIN_AV"] * survey_is_sp,
            "SM_AV": kept["SM_AV"].astype(float),
            "CAR_AV": kept["CAR_AV"] * survey_is_sp,
        }
    )


# Each tool has an import function (timed separately) and a fit function. A fit function takes
# the prepared table and the imported modules and returns a dict with four entries. They are
# "estimates", "std_errors" (classical, from the Hessian) and "robust_std_errors" (sandwich, or
# None when the tool skips them by default), each keyed by the PARAMS names, and "loglik".


def import_discrete_choice():
    import jax

    import discrete_choice

    return {"dc": discrete_choice, "jax": jax}


def fit_discrete_choice(table, modules):
    dc = modules["dc"]
    alternatives = {"train": "TRAIN", "sm": "SM", "car": "CAR"}
    data = dc.ChoiceData.from_wide(
        table,
        choice="CHOICE",
        alternatives=ALTERNATIVE_CODES,
        attributes={
            "time": {alt: f"{prefix}_TT" for alt, prefix in alternatives.items()},
            "cost": {alt: f"{prefix}_COST" for alt, prefix in alternatives.items()},
        },
        availability={alt: f"{prefix}_AV" for alt, prefix in alternatives.items()},
    )
    spec = dc.LinearSpec(constants=True, base="sm", generic=["time", "cost"])
    result = dc.Logit(spec).fit(data)  # fit_mle enables float64 for the call itself
    if not result.converged:
        raise RuntimeError(f"discrete_choice did not converge: {result.message}")
    names = {"ASC_TRAIN": "ASC_train", "ASC_CAR": "ASC_car", "B_TIME": "time", "B_COST": "cost"}
    return {
        "estimates": {name: float(result.params[ours]) for name, ours in names.items()},
        "std_errors": {name: float(result.std_errors[ours]) for name, ours in names.items()},
        "robust_std_errors": {
            name: float(result.robust_std_errors[ours]) for name, ours in names.items()
        },
        "loglik": float(result.loglik),
    }


def import_biogeme():
    import biogeme
    import biogeme.biogeme
    import biogeme.database
    import biogeme.expressions
    import biogeme.models
    import biogeme.parameters
    import biogeme.results_processing.variance_covariance

    return {"biogeme": biogeme}


def fit_biogeme(table, modules):
    bio = modules["biogeme"]
    expr = bio.expressions
    database = bio.database.Database("swissmetro", table.astype(float))
    betas = {name: expr.Beta(name, 0.0, None, None, 0) for name in PARAMS}

    def variable(name):
        return expr.Variable(name)

    utilities = {
        1: betas["ASC_TRAIN"]
        + betas["B_TIME"] * variable("TRAIN_TT")
        + betas["B_COST"] * variable("TRAIN_COST"),
        2: betas["B_TIME"] * variable("SM_TT") + betas["B_COST"] * variable("SM_COST"),
        3: betas["ASC_CAR"]
        + betas["B_TIME"] * variable("CAR_TT")
        + betas["B_COST"] * variable("CAR_COST"),
    }
    availability = {1: variable("TRAIN_AV"), 2: variable("SM_AV"), 3: variable("CAR_AV")}
    log_probability = bio.models.loglogit(utilities, availability, variable("CHOICE"))

    # A Parameters object instead of a file name keeps Biogeme from reading or writing
    # biogeme.toml. The report and iteration files are switched off, and the fit runs in a
    # temporary directory in case Biogeme writes anything else.
    with tempfile.TemporaryDirectory(prefix="bench_biogeme_") as workdir:
        with contextlib.chdir(workdir):
            model = bio.biogeme.BIOGEME(
                database,
                log_probability,
                parameters=bio.parameters.Parameters(),
                generate_html=False,
                generate_yaml=False,
                save_iterations=False,
            )
            model.model_name = "b01logit"
            results = model.estimate()
            leftover_files = os.listdir(workdir)
    if leftover_files:
        print(f"Biogeme wrote files into its working directory: {leftover_files}", file=sys.stderr)
    if not results.algorithm_has_converged:
        raise RuntimeError("Biogeme's optimization did not converge")
    covariance_types = bio.results_processing.variance_covariance.EstimateVarianceCovariance

    def std_errors(covariance_type):
        return {
            name: float(results.get_parameter_std_err(name, covariance_type)) for name in PARAMS
        }

    return {
        "estimates": {name: float(v) for name, v in results.get_beta_values().items()},
        "std_errors": std_errors(covariance_types.RAO_CRAMER),
        "robust_std_errors": std_errors(covariance_types.ROBUST),
        "loglik": float(results.final_log_likelihood),
    }


def import_xlogit():
    import xlogit

    return {"xlogit": xlogit}


def fit_xlogit(table, modules):
    # NOTE: xlogit 0.2.7 builds the intercept dummies assuming that the rows of each choice
    # situation follow the sorted alternative labels. Rows in another order silently swap the
    # intercept names, so the long table below uses the sorted order car, sm, train.
    labels = np.array(sorted(ALTERNATIVE_CODES))
    prefixes = {"car": "CAR", "sm": "SM", "train": "TRAIN"}
    n_obs = len(table)
    n_alts = len(labels)

    def long_column(suffix):
        wide = np.column_stack([table[f"{prefixes[alt]}_{suffix}"] for alt in labels])
        return wide.ravel()

    chosen_label = table["CHOICE"].map({code: alt for alt, code in ALTERNATIVE_CODES.items()})
    alts = np.tile(labels, n_obs)
    model = modules["xlogit"].MultinomialLogit()
    model.fit(
        X=np.column_stack([long_column("TT"), long_column("COST")]),
        y=alts == np.repeat(chosen_label.to_numpy(), n_alts),
        varnames=["time", "cost"],
        alts=alts,
        ids=np.repeat(np.arange(n_obs), n_alts),
        avail=long_column("AV"),
        base_alt="sm",
        fit_intercept=True,
        verbose=0,
    )
    if not model.convergence:
        raise RuntimeError("xlogit's optimization did not converge")
    names = {
        "ASC_TRAIN": "_intercept.train",
        "ASC_CAR": "_intercept.car",
        "B_TIME": "time",
        "B_COST": "cost",
    }
    position = {name: i for i, name in enumerate(model.coeff_names)}
    return {
        "estimates": {name: float(model.coeff_[position[x]]) for name, x in names.items()},
        "std_errors": {name: float(model.stderr[position[x]]) for name, x in names.items()},
        "robust_std_errors": None,  # xlogit computes them only with fit(robust=True)
        "loglik": float(model.loglikelihood),
    }


TOOL_FUNCTIONS = {
    "discrete_choice": (import_discrete_choice, fit_discrete_choice),
    "biogeme": (import_biogeme, fit_biogeme),
    "xlogit": (import_xlogit, fit_xlogit),
}


def package_version(tool, modules):
    if tool == "discrete_choice":
        return modules["dc"].__version__ + f" (jax {modules['jax'].__version__})"
    if tool == "biogeme":
        from biogeme.version import get_version

        return get_version()
    from importlib.metadata import version

    return version(tool)


def timed(function, *arguments):
    """Call function and return (its result, wall-clock seconds, CPU seconds of all threads)."""
    wall_start = time.perf_counter()
    cpu_start = time.process_time()
    result = function(*arguments)
    return result, time.perf_counter() - wall_start, time.process_time() - cpu_start


def run_child(tool, data_path, once, repeats):
    """Import one tool, fit the model and print one JSON line with timings and estimates."""
    import_tool, fit_tool = TOOL_FUNCTIONS[tool]
    modules, import_seconds, _ = timed(import_tool)

    table = prepare_table(data_path)
    fit_output, first_fit_seconds, first_fit_cpu_seconds = timed(fit_tool, table, modules)

    warm_seconds = []
    warm_cpu_seconds = []
    if not once:
        for _ in range(repeats):
            _, seconds, cpu_seconds = timed(fit_tool, table, modules)
            warm_seconds.append(seconds)
            warm_cpu_seconds.append(cpu_seconds)

    record = {
        "tool": tool,
        "version": package_version(tool, modules),
        "package_path": str(Path(sys.modules[tool].__file__).parent),
        "n_obs": len(table),
        "import_seconds": import_seconds,
        "first_fit_seconds": first_fit_seconds,
        "warm_fit_seconds": warm_seconds,
        "first_fit_cpu_seconds": first_fit_cpu_seconds,
        "warm_fit_cpu_seconds": warm_cpu_seconds,
        **fit_output,
    }
    print("RESULT " + json.dumps(record))


def run_tool_process(tool, data_path, extra_args):
    """Run this script for one tool in a fresh Python process.

    Returns (wall-clock seconds of the whole process, its CPU seconds, the child's JSON record).
    The CPU seconds are user plus system time of the child, summed over its threads.
    """
    command = [sys.executable, str(Path(__file__).resolve()), "--tool", tool]
    command += ["--data", str(data_path), *extra_args]
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    usage_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_seconds = (usage_after.ru_utime - usage_before.ru_utime
                   + usage_after.ru_stime - usage_before.ru_stime)
    result_lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode != 0 or not result_lines:
        raise RuntimeError(
            f"{tool} child process failed with exit code {completed.returncode}:\n"
            f"{completed.stderr[-3000:]}"
        )
    return seconds, cpu_seconds, json.loads(result_lines[-1].removeprefix("RESULT "))


def measure_tools(tools, data_path, process_runs, repeats):
    """Return (records by tool, failure messages by tool).

    The tools take turns in every round, so that a change in the load of a shared machine
    affects all of them alike instead of the tool that happened to run at that time.
    """
    records = {}
    failures = {}
    process_seconds = {tool: [] for tool in tools}
    process_cpu_seconds = {tool: [] for tool in tools}
    rounds = [["--once"]] * process_runs + [["--repeats", str(repeats)]]
    for round_number, extra_args in enumerate(rounds, start=1):
        for tool in tools:
            if tool in failures:
                continue
            print(f"round {round_number}/{len(rounds)}: {tool} {' '.join(extra_args)}",
                  file=sys.stderr, flush=True)
            try:
                seconds, cpu_seconds, record = run_tool_process(tool, data_path, extra_args)
            except RuntimeError as error:
                failures[tool] = str(error).splitlines()[-1]
                print(f"{tool} failed:\n{error}", file=sys.stderr)
                continue
            if extra_args == ["--once"]:
                process_seconds[tool].append(seconds)
                process_cpu_seconds[tool].append(cpu_seconds)
            else:
                records[tool] = {
                    **record,
                    "process_seconds": process_seconds[tool],
                    "process_cpu_seconds": process_cpu_seconds[tool],
                }
    return records, failures


def median(values):
    return statistics.median(values) if values else float("nan")


def describe_machine(load_at_start):
    """Return one line with the CPU, load, Python version, git commit and date."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    repository = Path(__file__).resolve().parents[1]

    def git(*arguments):
        completed = subprocess.run(["git", "-C", str(repository), *arguments],
                                   capture_output=True, text=True, check=False)
        return completed.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "--", "discrete_choice"):
        commit += " with uncommitted changes in discrete_choice/"
    load_at_end = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (f"{cpu}, {os.cpu_count()} logical cores, load average (1, 5, 15 min) "
            f"{load_at_start} at the start and {load_at_end} at the end, "
            f"Python {sys.version.split()[0]}, git commit {commit}, "
            f"{time.strftime('%Y-%m-%d %H:%M %Z')}")


def print_timing_table(records, clock):
    """Print seconds per tool on one clock ("wall" or "cpu") and ratios to discrete_choice."""
    suffix = "seconds" if clock == "wall" else "cpu_seconds"

    def timings(record):
        return (
            median(record[f"process_{suffix}"]),
            record[f"first_fit_{suffix}"],
            median(record[f"warm_fit_{suffix}"]),
        )

    base = records.get("discrete_choice")
    reference = timings(base) if base is not None else None
    unit = "s" if clock == "wall" else "CPU s"
    print(f"| tool | version | (a) whole process {unit} | ratio | (b) first fit {unit} | ratio "
          f"| (c) warm fit {unit} | ratio |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for tool, record in records.items():
        cells = []
        for i, seconds in enumerate(timings(record)):
            ratio = "n/a" if reference is None else f"{seconds / reference[i]:.2g}"
            cells.append(f"{seconds:.3g} | {ratio}")
        print(f"| {tool} | {record['version']} | " + " | ".join(cells) + " |")
    print()


def print_timing_details(records):
    """Print every timed run, so that the spread behind each median is visible."""
    print("Ratios are a tool's seconds divided by discrete_choice's seconds (above 1: slower).")
    print("CPU seconds are user plus system time summed over all threads.")
    for tool, record in records.items():
        runs = ", ".join(f"{seconds:.2f}" for seconds in record["process_seconds"])
        warm = ", ".join(f"{seconds:.3g}" for seconds in record["warm_fit_seconds"])
        print(f"- {tool}: whole processes {runs} s; import {record['import_seconds']:.2f} s; "
              f"warm fits {warm} s; imported from {record['package_path']}")
    print()


def max_abs_difference(values, reference):
    if values is None or reference is None:
        return "n/a"
    return f"{max(abs(values[name] - reference[name]) for name in PARAMS):.1e}"


def solve_exactly(table):
    """Maximise the same log-likelihood with NumPy Newton steps, independently of every tool.

    Returns (estimates by PARAMS name, maximised log-likelihood, Euclidean gradient norm).
    The design has shape (n_obs, n_alts, n_params) with alternatives train, sm, car.
    """
    n_obs = len(table)
    prefixes = ("TRAIN", "SM", "CAR")
    design = np.zeros((n_obs, len(prefixes), len(PARAMS)))
    design[:, 0, PARAMS.index("ASC_TRAIN")] = 1.0
    design[:, 2, PARAMS.index("ASC_CAR")] = 1.0
    for j, prefix in enumerate(prefixes):
        design[:, j, PARAMS.index("B_TIME")] = table[f"{prefix}_TT"]
        design[:, j, PARAMS.index("B_COST")] = table[f"{prefix}_COST"]
    available = np.column_stack([table[f"{prefix}_AV"] for prefix in prefixes]) > 0
    chosen = table["CHOICE"].to_numpy() - 1  # codes 1, 2, 3 are train, sm, car
    rows = np.arange(n_obs)

    def loglik_gradient_hessian(beta):
        utility = np.where(available, design @ beta, -np.inf)
        log_prob = utility - scipy.special.logsumexp(utility, axis=1, keepdims=True)
        prob = np.exp(log_prob)
        centred = design - np.einsum("nj,njk->nk", prob, design)[:, None, :]
        gradient = centred[rows, chosen].sum(axis=0)
        hessian = -np.einsum("nj,nja,njb->ab", prob, centred, centred)
        return log_prob[rows, chosen].sum(), gradient, hessian

    beta = np.zeros(len(PARAMS))
    for _ in range(EXACT_NEWTON_STEPS):
        _, gradient, hessian = loglik_gradient_hessian(beta)
        beta = beta - np.linalg.solve(hessian, gradient)
    loglik, gradient, _ = loglik_gradient_hessian(beta)
    return dict(zip(PARAMS, beta.tolist())), float(loglik), float(np.linalg.norm(gradient))


def print_estimates_table(records, exact):
    """Print the estimates and log-likelihoods with their differences from Biogeme and Newton."""
    exact_estimates, exact_loglik, exact_gradient_norm = exact
    biogeme = records.get("biogeme")
    print("| tool | " + " | ".join(PARAMS) + " | log-likelihood | max abs diff of estimates "
          "vs Biogeme | abs diff of log-likelihood vs Biogeme | max abs diff of estimates vs "
          "Newton | abs diff of log-likelihood vs Newton |")
    print("|---|" + "---:|" * (len(PARAMS) + 5))
    published = PUBLISHED_BIOGEME["estimates"]
    print("| Biogeme 3.2.6a report | " + " | ".join(f"{published[name]}" for name in PARAMS)
          + f" | {PUBLISHED_BIOGEME['loglik']} | | | | |")
    values = " | ".join(f"{exact_estimates[name]:.6f}" for name in PARAMS)
    print(f"| NumPy Newton (gradient norm {exact_gradient_norm:.0e}) | {values} "
          f"| {exact_loglik:.6f} | | | | |")
    for tool, record in records.items():
        values = " | ".join(f"{record['estimates'][name]:.6f}" for name in PARAMS)
        biogeme_gap = max_abs_difference(
            record["estimates"], None if biogeme is None else biogeme["estimates"]
        )
        biogeme_loglik_gap = "n/a"
        if biogeme is not None:
            biogeme_loglik_gap = f"{abs(record['loglik'] - biogeme['loglik']):.1e}"
        exact_gap = max_abs_difference(record["estimates"], exact_estimates)
        exact_loglik_gap = f"{abs(record['loglik'] - exact_loglik):.1e}"
        print(f"| {tool} | {values} | {record['loglik']:.6f} | {biogeme_gap} "
              f"| {biogeme_loglik_gap} | {exact_gap} | {exact_loglik_gap} |")
    print()


def print_std_errors_table(records):
    """Print classical and robust standard errors with their largest differences from Biogeme's."""
    biogeme = records.get("biogeme")
    print("| tool | kind | " + " | ".join(PARAMS) + " | max abs diff vs Biogeme |")
    print("|---|---|" + "---:|" * (len(PARAMS) + 1))
    for kind, key in (("classical", "std_errors"), ("robust", "robust_std_errors")):
        published = PUBLISHED_BIOGEME[key]
        print(f"| Biogeme 3.2.6a report | {kind} | "
              + " | ".join(f"{published[name]}" for name in PARAMS) + " | |")
        for tool, record in records.items():
            errors = record[key]
            if errors is None:
                print(f"| {tool} | {kind} | " + " | ".join("n/a" for _ in PARAMS) + " | n/a |")
                continue
            gap = max_abs_difference(errors, None if biogeme is None else biogeme[key])
            print(f"| {tool} | {kind} | " + " | ".join(f"{errors[name]:.6f}" for name in PARAMS)
                  + f" | {gap} |")
    print()


def print_report(records, failures, load_at_start, exact):
    """Print the machine line and the timing, estimate and standard-error tables in Markdown."""
    print(f"Machine: {describe_machine(load_at_start)}")
    print()
    print("Wall-clock seconds:")
    print()
    print_timing_table(records, "wall")
    print("CPU seconds:")
    print()
    print_timing_table(records, "cpu")
    print_timing_details(records)
    print_estimates_table(records, exact)
    print_std_errors_table(records)
    for tool, message in failures.items():
        print(f"{tool} was left out: {message}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tool", choices=TOOLS, help="run one tool in this process (child mode)")
    parser.add_argument("--once", action="store_true",
                        help="child mode: fit once and exit, for the whole-process timing")
    parser.add_argument("--repeats", type=int, default=5,
                        help="number of warm fits after the first fit (default 5)")
    parser.add_argument("--process-runs", type=int, default=3,
                        help="number of fresh whole processes timed per tool (default 3)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"path of swissmetro.csv.gz (default {DEFAULT_DATA})")
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS),
                        help="tools to compare (default all)")
    parser.add_argument("--json", type=Path, help="also write the raw measurements to this file")
    args = parser.parse_args(argv)

    if not args.data.is_file():
        parser.error(f"data file {args.data} not found; pass --data PATH")
    if args.repeats < 1 or args.process_runs < 1:
        parser.error("--repeats and --process-runs must be at least 1")

    if args.tool is not None:
        run_child(args.tool, args.data.resolve(), args.once, args.repeats)
        return

    load_at_start = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    tools = [tool for tool in TOOLS if tool in args.tools]
    records, failures = measure_tools(tools, args.data.resolve(), args.process_runs, args.repeats)
    exact = solve_exactly(prepare_table(args.data.resolve()))
    print_report(records, failures, load_at_start, exact)
    if args.json is not None:
        args.json.write_text(json.dumps(records, indent=2) + "\n")


if __name__ == "__main__":
    main()
