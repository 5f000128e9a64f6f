"""Controlled label-noise experiment on scikit-learn's 8x8 digits: temperature and draws.

Runs the homoscedastic softmax network and the heteroscedastic network (Normal noise, smoothed
simulator) over a grid of temperatures and numbers of training draws, several seeds paired
across methods, and writes

* ``label_noise_runs.csv``: one row per fit (seed, method, draws, tau, losses, accuracy);
* ``label_noise_summary.csv``: mean and standard error over seeds;
* ``label_noise_tests.csv``: paired t-tests of the best-on-validation tau against tau = 1 and
  against the homoscedastic network;
* ``label_noise.png``: test log-loss and accuracy against tau (log axis), one line per number
  of training draws, the homoscedastic network as a horizontal line;

and prints the tables as Markdown. ``--size auto`` (default) runs the full experiment when JAX
finds a GPU and the reduced one otherwise.

Usage::

    python benchmarks/bench_label_noise.py --size reduced --out docs/label_noise
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import numpy as np

from discrete_choice.experiments import LabelNoiseConfig, run_label_noise_experiment

SIZES = {
    # The published-scale grid: 9 temperatures from 0.01 to 100, 5 seeds, long training.
    "full": LabelNoiseConfig(
        temperatures=tuple(float(t) for t in np.logspace(-2, 2, 9)),
        train_draws=(1, 10, 100, 1000), eval_draws=1000, seeds=(0, 1, 2, 3, 4),
        hidden=(256, 256), learning_rate=1e-3, batch_size=128, max_epochs=200, patience=20),
    # What two shared CPU cores finish in about a quarter of an hour.
    "reduced": LabelNoiseConfig(
        temperatures=(0.01, 0.1, 1.0, 10.0, 100.0),
        train_draws=(1, 10, 100, 1000), eval_draws=1000, seeds=(0, 1, 2),
        hidden=(64,), learning_rate=3e-3, batch_size=128, max_epochs=30, patience=6),
    # A smoke test of the script itself (seconds of compute after compilation).
    "tiny": LabelNoiseConfig(
        temperatures=(0.1, 1.0, 10.0), train_draws=(1, 10), eval_draws=100, seeds=(0, 1),
        hidden=(16,), learning_rate=3e-3, batch_size=128, max_epochs=3, patience=2),
}


def plot(results, path: Path) -> None:
    """Draw test log-loss and accuracy against tau, one line per number of training draws."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = results.summary()
    het = summary[summary.method == "heteroscedastic"]
    homo = summary[summary.method == "homoscedastic"].iloc[0]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for axis, metric, label in ((axes[0], "test_log_loss", "test log-loss (lower is better)"),
                                (axes[1], "test_accuracy", "test accuracy")):
        for draws, rows in het.groupby("train_draws"):
            rows = rows.sort_values("tau")
            axis.errorbar(rows.tau, rows[f"{metric}_mean"], yerr=rows[f"{metric}_sem"],
                          marker="o", capsize=3, label=f"S = {draws} training draws")
        axis.axhline(homo[f"{metric}_mean"], color="black", linestyle="--",
                     label="homoscedastic softmax")
        axis.axvline(1.0, color="grey", linewidth=0.8, linestyle=":")
        axis.set_xscale("log")
        axis.set_xlabel("temperature tau")
        axis.set_ylabel(label)
    axes[0].legend(fontsize=8)
    n_seeds = len(results.config.seeds)
    figure.suptitle(f"Digits with class-dependent label noise: mean over {n_seeds} seeds "
                    "(bars: standard error)")
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("auto", *SIZES), default="auto",
                        help="experiment size; auto picks full on a GPU, reduced otherwise")
    parser.add_argument("--out", type=Path, default=Path("label_noise_results"),
                        help="folder for the CSV files and the figure")
    parser.add_argument("--progress", action="store_true", help="show a bar for every fit")
    args = parser.parse_args(argv)

    backend = jax.default_backend()
    size = args.size
    if size == "auto":
        size = "full" if backend == "gpu" else "reduced"
    config = SIZES[size]
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"backend {backend} ({jax.devices()[0].device_kind}); size {size}: {config.describe()}",
          flush=True)

    started = time.perf_counter()

    def log(row):
        print(f"  seed {row['seed']} {row['method']:>15} S={row['train_draws']:>4} "
              f"tau={row['tau']:<6g} test log-loss {row['test_log_loss']:.4f} accuracy "
              f"{row['test_accuracy']:.3f} epochs {row['epochs']} ({row['seconds']:.1f} s)",
              flush=True)

    results = run_label_noise_experiment(config, progress=args.progress, on_run=log)
    elapsed = time.perf_counter() - started

    results.runs.to_csv(args.out / "label_noise_runs.csv", index=False)
    summary = results.summary()
    summary.to_csv(args.out / "label_noise_summary.csv", index=False)
    tests = results.paired_tests()
    tests.to_csv(args.out / "label_noise_tests.csv", index=False)
    plot(results, args.out / "label_noise.png")

    print(f"\nwall time {elapsed / 60:.1f} min on {backend}\n")
    columns = ["method", "train_draws", "tau", "validation_log_loss_mean", "test_log_loss_mean",
               "test_log_loss_sem", "test_accuracy_mean", "test_accuracy_sem"]
    print(summary[columns].to_markdown(index=False, floatfmt=".4g"))
    print()
    print(tests.to_markdown(index=False, floatfmt=".4g"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
