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
# # Heteroscedastic label noise with neural utilities
#
# A classifier is a choice model: the classes are the alternatives and the label is the
# choice. When some inputs have noisier labels than others, a network that also predicts a
# **noise scale** for each input can say "this region is uncertain" instead of bending its
# utilities to fit the flipped labels. With Normal noise and the smoothed simulator, the
# model is the heteroscedastic softmax
#
# \[ P_{nj} \approx \frac1S \sum_{s=1}^S \operatorname{softmax}_j\Big(\frac{\mu(x_n) + \sigma(x_n) \odot u_{ns}}{\tau}\Big), \]
#
# with utilities \(\mu\) and scales \(\sigma\) read out of one network. This tutorial builds
# data whose label noise depends on the input, fits a plain softmax network and the
# heteroscedastic one at several temperatures, and scores both on held-out data labelled the
# same noisy way.
#
# `DISCRETE_CHOICE_TUTORIAL_SMALL=1` shrinks the data, the network and the training.

# %%
import os

import numpy as np
import pandas as pd

import discrete_choice as dc

SMALL = os.environ.get("DISCRETE_CHOICE_TUTORIAL_SMALL") == "1"
N_OBS = 1500 if SMALL else 6000
EPOCHS = 15 if SMALL else 100
HIDDEN = (16,) if SMALL else (64,)
TAUS = (0.1, 1.0) if SMALL else (0.03, 0.1, 0.3, 1.0, 3.0)
TRAIN_DRAWS = 10 if SMALL else 100

# %% [markdown]
# ## Data with input-dependent label noise
#
# Two features, three classes separated by the angle of `x`. The true class is relabelled at
# random with a probability that grows with the first feature, from 0 on the left to 0.6 on
# the right, so the right half of the plane is much noisier than the left.

# %%
rng = np.random.default_rng(0)
x = rng.normal(size=(N_OBS, 2))
angle = np.arctan2(x[:, 1], x[:, 0])
clean = np.digitize(angle, [-np.pi / 3, np.pi / 3])          # classes 0, 1, 2
flip_probability = 0.6 / (1.0 + np.exp(-3.0 * x[:, 0]))
flipped = rng.uniform(size=N_OBS) < flip_probability
labels = np.where(flipped, rng.integers(0, 3, size=N_OBS), clean)
print(f"share of labels redrawn: {flipped.mean():.2f} "
      f"(left half {flipped[x[:, 0] < 0].mean():.2f}, right half {flipped[x[:, 0] > 0].mean():.2f})")

data = dc.classification_data(x, labels, n_classes=3)
order = rng.permutation(N_OBS)
n_test = N_OBS // 4
test, train = data.subset(order[:n_test]), data.subset(order[n_test:])

# %% [markdown]
# ## A plain softmax network
#
# iid Gumbel noise with scale 1 and the exact simulator: the ordinary softmax classifier,
# written as a choice model.

# %%
options = dict(max_epochs=EPOCHS, batch_size=64, learning_rate=3e-3, patience=None, seed=0)
plain = dc.NeuralChoiceModel(features=data.variable_names,
                             network=dc.NetworkConfig(hidden=HIDDEN))
plain_fit = dc.train(plain, train, **options)
rows = [{"model": "softmax", "tau": np.nan,
         "test_log_loss": plain_fit.log_loss(test), "test_accuracy": plain_fit.accuracy(test)}]

# %% [markdown]
# ## The heteroscedastic network at several temperatures
#
# Normal noise, a scale per alternative from the network's second head, and the smoothed
# simulator with `TRAIN_DRAWS` draws per example during training. Each temperature is a
# separate fit; all are scored with the same test set.

# %%
for tau in TAUS:
    model = dc.NeuralChoiceModel(
        features=data.variable_names, noise="normal",
        network=dc.NetworkConfig(hidden=HIDDEN, scale_head="per_alternative"),
        simulator=dc.Smoothed(tau=tau, n_draws=TRAIN_DRAWS, scheme="pseudo", key=0))
    fit = dc.train(model, train, train_draws=TRAIN_DRAWS, eval_draws=200, **options)
    rows.append({"model": "heteroscedastic", "tau": tau,
                 "test_log_loss": fit.log_loss(test), "test_accuracy": fit.accuracy(test)})
    if tau == 1.0:
        heteroscedastic_fit = fit

table = pd.DataFrame(rows)
table.round(4)

# %% [markdown]
# ## Where does the network put its noise?
#
# The fitted scales should be larger where labels are noisier: compare the mean scale on the
# left and right halves of the test inputs.

# %%
_, scale = heteroscedastic_fit.utility_and_scale(test)
right = test.variable("x0")[:, 0] > 0
print(f"mean fitted scale: left {scale[~right].mean():.3f}, right {scale[right].mean():.3f}")
assert scale[right].mean() > scale[~right].mean()

# %%
assert np.isfinite(table["test_log_loss"]).all()
assert (table["test_accuracy"] > 0.4).all()  # well above the 1/3 of guessing

# %% [markdown]
# How to read the results: the test labels are noisy, so no model reaches the clean accuracy;
# the log-loss says how well the predicted probabilities match the noisy labels. The
# temperature changes the answer, and `tau = 1`, the usual default of a heteroscedastic
# softmax layer, need not be the best. With the full-size run (unset `DISCRETE_CHOICE_TUTORIAL_SMALL`) the grid is wider and the
# differences are larger than their Monte Carlo error; the
# [smoothed-simulator tutorial](02_smoothed_simulator.md) explains why the best temperature
# depends on the number of draws.
