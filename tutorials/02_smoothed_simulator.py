# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The smoothed accept-reject simulator: bias, variance and the best temperature
#
# Outside logit, choice probabilities have no closed form and are simulated. The smoothed
# accept-reject simulator averages, over `S` draws of the noise, a softmax of the latent
# utilities at temperature `tau`:
#
# $$\hat P_{nj}(\tau, S) = \frac1S \sum_{s=1}^S \operatorname{softmax}_j\!\Big(\frac{V_n + \sigma \odot u_{ns}}{\tau}\Big).$$
#
# Two things go wrong, in opposite directions:
#
# * **bias**: the softmax is a blurred argmax, so even with infinitely many draws the expected
#   smoothed probability differs from the true one. The blur shrinks as `tau -> 0`.
# * **variance**: a cold softmax is almost a step function of the draws, so the estimate (and,
#   worse, its gradient) jumps from one set of draws to the next. More draws average that
#   out.
#
# This tutorial measures both sides exactly. For independent noise the `Quadrature`
# simulator computes the true probability as a one-dimensional integral to about 1e-10, so
# every bias below is a measured number, not an assumption. It ends with the prediction
# that follows: **the more draws, the colder the best temperature**.
#
# Set the environment variable `DISCRETE_CHOICE_TUTORIAL_SMALL=1` to run it at a reduced size
# (the test suite does).

# %%
import os

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

import discrete_choice as dc
from discrete_choice.models.heteroscedastic import HeteroscedasticProbit
from discrete_choice.plots import plot_temperature

SMALL = os.environ.get("DISCRETE_CHOICE_TUTORIAL_SMALL") == "1"
N_KEYS = 6 if SMALL else 20
N_OBS = 150 if SMALL else 1000
DRAWS = (10, 100) if SMALL else (10, 100, 1000)
TAUS = (0.03, 0.1, 0.3, 1.0, 3.0)
jax.config.update("jax_enable_x64", True)  # a script's own choice; the library never sets it

# %% [markdown]
# ## One choice situation
#
# Three alternatives with systematic utilities `V = (0, 0.5, -0.3)` and independent Normal
# noise with scales `sigma = (1, 0.5, 2)`: a heteroscedastic probit. Quadrature gives the
# exact probabilities.

# %%
utility = jnp.array([0.0, 0.5, -0.3])
noise = dc.Noise("normal", scale=jnp.array([1.0, 0.5, 2.0]))
exact = dc.Quadrature().probabilities(utility, noise=noise)
print("exact probabilities:", np.round(np.asarray(exact), 6))

# %% [markdown]
# **Bias.** The expected smoothed probability does not depend on `S`, so we estimate it with
# many draws (`BIG_S` per key, a few keys) and compare it with the exact value. What is left
# is the bias caused by `tau` alone.

# %%
BIG_S = 20_000


def smoothed(tau, n_draws, key):
    simulator = dc.Smoothed(tau=tau, n_draws=n_draws, scheme="pseudo", key=key)
    return np.asarray(simulator.probabilities(utility, noise=noise))


bias = pd.DataFrame([
    {"tau": tau,
     "bias": float(np.max(np.abs(np.mean([smoothed(tau, BIG_S, k) for k in range(4)], axis=0)
                                 - exact)))}
    for tau in TAUS
]).set_index("tau")
bias.round(5)

# %% [markdown]
# The largest error over the three alternatives falls steadily with `tau`: at `tau = 3`
# the softmax pulls every probability towards 1/3, at `tau = 0.03` it is a near-exact
# argmax.
#
# **Variance.** Now the spread of one run: the standard deviation over `N_KEYS` keys of the
# estimate with `S` draws.

# %%
spread = pd.DataFrame([
    {"tau": tau, "n_draws": n_draws,
     "sd": float(np.max(np.std([smoothed(tau, n_draws, k) for k in range(N_KEYS)],
                               axis=0, ddof=1)))}
    for tau in TAUS for n_draws in DRAWS
]).pivot(index="tau", columns="n_draws", values="sd")
spread.round(4)

# %% [markdown]
# Along a row the standard deviation falls with `S` (as `1/sqrt(S)`); down a column it rises
# as `tau` falls, because a colder softmax is a sharper function of the draws. The checks
# below turn this reading into assertions, so the tutorial fails if the library stops
# behaving this way.

# %%
assert bias["bias"].is_monotonic_increasing  # the index runs from cold to warm
assert bias.loc[3.0, "bias"] > 10 * bias.loc[0.1, "bias"]
for tau in TAUS:
    assert spread.loc[tau, 10] > 2 * spread.loc[tau, 100]
print("bias by tau:", {t: round(float(b), 5) for t, b in bias["bias"].items()})

# %% [markdown]
# ## A whole likelihood
#
# Estimation needs the log-likelihood and its gradient, summed over many situations. We
# simulate `N_OBS` choices from the same heteroscedastic probit, `U_nj = 1.5 x_nj +
# sigma_j u_nj`, and ask `simulator_bias_variance` to compare the smoothed simulator with
# quadrature **at the true parameters**, for every `(S, tau)` and `N_KEYS` keys.

# %%
rng = np.random.default_rng(0)
x = rng.normal(size=(N_OBS, 3))
latent = 1.5 * x + np.array([1.0, 0.5, 2.0]) * rng.normal(size=x.shape)
data = dc.ChoiceData.from_arrays(np.argmax(latent, axis=1), {"x": x})
model = HeteroscedasticProbit(dc.LinearSpec.from_formula("choice ~ x | 0", base=0))
truth = {"x": 1.5, "scale_1": 0.5, "scale_2": 2.0}

table = dc.simulator_bias_variance(model, data, truth, taus=TAUS, n_draws=DRAWS,
                                   schemes="pseudo", keys=range(N_KEYS),
                                   reference=dc.Quadrature())
table[["n_draws", "tau", "loglik_bias", "loglik_sd", "grad_variance"]].round(4)

# %% [markdown]
# `loglik_bias` is the mean simulated log-likelihood minus the exact one. It has two parts:
# the smoothing bias of each probability, and the downward bias of the logarithm of a noisy
# estimate (Jensen's inequality), which grows when the estimate is noisy: cold temperatures
# with few draws. `grad_variance` is the total variance across keys of the gradient of the
# mean log-likelihood, the noise an optimiser sees.

# %%
ax = plot_temperature(table, "grad_variance", band="none")
ax.set_yscale("log")
ax.set_title("gradient variance across keys")

# %%
ax = plot_temperature(table, "loglik_bias", reference=0.0)
ax.set_title("bias of the simulated log-likelihood (band: 2 Monte Carlo s.e.)")

# %%
for n_draws in DRAWS:
    rows = table[table.n_draws == n_draws].set_index("tau")
    # colder is noisier: the gradient variance rises as tau falls
    assert rows.loc[0.03, "grad_variance"] > rows.loc[0.3, "grad_variance"] > rows.loc[3.0, "grad_variance"]
for tau in TAUS:
    rows = table[table.tau == tau].set_index("n_draws")
    # more draws, less noise
    assert rows.loc[10, "grad_variance"] > rows.loc[100, "grad_variance"]

# %% [markdown]
# ## More draws move the best temperature down
#
# The mean squared error of the simulated log-likelihood adds the two sides,
# `MSE = bias^2 + variance`. Its minimum over `tau` is the best temperature for a given `S`.
# Because the variance shrinks with `S` and the smoothing bias does not, the minimum should
# move to colder temperatures as `S` grows.

# %%
table["mse"] = table["loglik_bias"] ** 2 + table["loglik_sd"] ** 2
best = table.loc[table.groupby("n_draws")["mse"].idxmin(), ["n_draws", "tau", "mse"]]
best

# %%
best_tau = best.set_index("n_draws")["tau"]
assert best_tau.is_monotonic_decreasing and best_tau.iloc[-1] < best_tau.iloc[0]
print("best tau by number of draws:", {int(s): float(t) for s, t in best_tau.items()})

# %% [markdown]
# With 10 draws the best temperature is warm; with 100 it is colder. This is why a single
# default temperature (the `tau = 1` of a heteroscedastic softmax layer) is rarely right:
# the best value depends on the number of draws and the noise scales.
#
# In practice choose `tau` with `dc.tune_temperature`, which fits the model at each
# temperature and scores held-out choices, and look at the whole curve with
# `dc.temperature_sweep` and `discrete_choice.plots.plot_temperature`.
