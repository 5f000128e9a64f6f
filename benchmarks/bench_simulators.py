"""Throughput of the smoothed simulator against a plain ``exp``, and its memory use.

Run from the repository root::

    python benchmarks/bench_simulators.py [--n-obs 2000] [--n-alts 5] [--n-draws 1000]

Prints a Markdown table per section:

1. log-likelihood plus gradient (with respect to the utilities and the log scales) of
   ``Smoothed`` in elements ``n_obs * n_draws * n_alts`` per second, for float32 and float64,
   with stored draws and with draws regenerated in chunks, next to the throughput of
   ``sum(exp(x))`` over the same number of elements in the same process; the ratio of the two
   times is the figure of merit;
2. ``Quadrature`` against ``Smoothed`` with 1,000 draws on the same problem;
3. the temporary memory of the compiled value-and-gradient (XLA's ``memory_analysis``) for
   100 and 10,000 draws at a fixed chunk size.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from discrete_choice.noise import Noise
from discrete_choice.simulators import Quadrature, Smoothed


def best_time(function, *args, repeats: int = 5) -> float:
    """Smallest wall time of ``repeats`` calls in seconds, after one warm-up call."""
    jax.block_until_ready(function(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(function(*args))
        times.append(time.perf_counter() - start)
    return min(times)


def problem(n_obs: int, n_alts: int, dtype):
    key_u, key_c, key_s = jax.random.split(jax.random.key(0), 3)
    utility = jax.random.normal(key_u, (n_obs, n_alts), dtype)
    choice = jax.random.randint(key_c, (n_obs,), 0, n_alts)
    log_scale = 0.3 * jax.random.normal(key_s, (n_alts,), dtype)
    return utility, choice, log_scale


def objective(simulator, utility, log_scale, choice, family="normal"):
    noise = Noise(family, scale=jnp.exp(log_scale))
    return simulator.log_prob(utility, choice, None, noise).sum()


value_and_grad = jax.jit(jax.value_and_grad(objective, argnums=(1, 2)))


def throughput_rows(n_obs, n_alts, n_draws, chunk_size):
    rows = []
    for dtype_name in ("float32", "float64"):
        with jax.enable_x64(dtype_name == "float64"):
            dtype = jnp.dtype(dtype_name)
            utility, choice, log_scale = problem(n_obs, n_alts, dtype)
            elements = n_obs * n_draws * n_alts
            x = jax.random.normal(jax.random.key(1), (n_draws, n_obs, n_alts), dtype)
            exp_time = best_time(jax.jit(lambda a: jnp.sum(jnp.exp(a))), x)
            del x
            base = Smoothed(tau=0.5, n_draws=n_draws, scheme="sobol", memory_budget_bytes=2**34)
            stored = base.prepare(utility.shape, Noise("normal"), dtype)
            assert stored.stored is not None
            chunked = Smoothed(tau=0.5, n_draws=n_draws, scheme="sobol", chunk_size=chunk_size)
            for label, simulator in (("stored draws", stored), (f"regenerated, chunk {chunk_size}", chunked)):
                seconds = best_time(value_and_grad, simulator, utility, log_scale, choice)
                rows.append((dtype_name, label, elements / seconds, elements / exp_time, seconds / exp_time))
    return rows


def quadrature_rows(n_obs, n_alts):
    rows = []
    with jax.enable_x64(True):
        utility, choice, log_scale = problem(n_obs, n_alts, jnp.float64)
        smoothed = Smoothed(tau=0.1, n_draws=1000, scheme="sobol", memory_budget_bytes=2**34)
        smoothed = smoothed.prepare(utility.shape, Noise("normal"), jnp.float64)
        for label, simulator in (("Smoothed, S = 1000, stored", smoothed), ("Quadrature", Quadrature())):
            seconds = best_time(value_and_grad, simulator, utility, log_scale, choice)
            rows.append((label, seconds))
    return rows


def memory_rows(n_obs, n_alts, chunk_size):
    rows = []
    utility, choice, log_scale = problem(n_obs, n_alts, jnp.float32)
    for n_draws in (100, 10_000):
        simulator = Smoothed(tau=0.5, n_draws=n_draws, scheme="sobol", chunk_size=chunk_size)
        compiled = value_and_grad.lower(simulator, utility, log_scale, choice).compile()
        temp = compiled.memory_analysis().temp_size_in_bytes
        rows.append((n_draws, chunk_size, temp / 2**20))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-obs", type=int, default=2000, help="number of observations")
    parser.add_argument("--n-alts", type=int, default=5, help="number of alternatives")
    parser.add_argument("--n-draws", type=int, default=1000, help="number of draws S in the throughput table")
    parser.add_argument("--chunk-size", type=int, default=100, help="draws per chunk on the regenerated path")
    args = parser.parse_args()

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or 'unknown CPU'}")
    print(f"jax {jax.__version__}, backend {jax.default_backend()}")
    print(f"problem: n_obs = {args.n_obs}, n_alts = {args.n_alts}, Normal noise with scales, tau = 0.5\n")

    print(f"### Smoothed log-likelihood + gradient, S = {args.n_draws}\n")
    print("| dtype | draws | elements/s | exp elements/s | time / exp time |")
    print("|---|---|---|---|---|")
    for dtype, label, rate, exp_rate, ratio in throughput_rows(args.n_obs, args.n_alts, args.n_draws, args.chunk_size):
        print(f"| {dtype} | {label} | {rate:.3g} | {exp_rate:.3g} | {ratio:.1f} |")

    print("\n### Quadrature vs Smoothed (float64, value + gradient)\n")
    print("| simulator | seconds |")
    print("|---|---|")
    for label, seconds in quadrature_rows(args.n_obs, args.n_alts):
        print(f"| {label} | {seconds:.4f} |")

    print("\n### Temporary memory of the compiled value + gradient (float32)\n")
    print("| S | chunk | temp MiB |")
    print("|---|---|---|")
    for n_draws, chunk, mebibytes in memory_rows(args.n_obs, args.n_alts, args.chunk_size):
        print(f"| {n_draws} | {chunk} | {mebibytes:.1f} |")


if __name__ == "__main__":
    main()
