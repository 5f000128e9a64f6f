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
# # Logit, probit and HEV on the travel-mode survey
#
# 210 travellers between Sydney and Melbourne chose among air, train, bus and car (the survey
# of Greene's *Econometric Analysis*, shipped with statsmodels and loaded by the library). This tutorial fits
# three random-utility models that differ only in their noise, compares them, and reads the
# differences:
#
# | model | noise \(\varepsilon_{nj}\) | probability |
# |---|---|---|
# | logit | iid Gumbel, scale 1 | closed form (softmax) |
# | probit | iid Normal, variance 1 | one-dimensional integral (quadrature) |
# | HEV | independent Gumbel, a scale per alternative | one-dimensional integral (quadrature) |
#
# The environment variable `DISCRETE_CHOICE_TUTORIAL_SMALL=1` changes nothing here: the
# survey is small and every fit is exact.

# %%
import discrete_choice as dc
from discrete_choice.compare import compare

# %% [markdown]
# ## Data and specification
#
# `load_dataset` returns the survey as a `ChoiceData`: the choice, availability (all four
# modes are available to everyone here) and the covariates by alternative.

# %%
dataset = dc.load_dataset("travel_mode")
data = dataset.data
print(data)
data.shares()

# %% [markdown]
# The utility of mode `j` for traveller `n` is
#
# \[ V_{nj} = \text{ASC}_j + \beta_{gc}\, gc_{nj} + \beta_{ttme}\, ttme_{nj}
#    + \gamma\, hinc_n \cdot 1\{j = \text{air}\}, \]
#
# with generalised cost `gc`, terminal waiting time `ttme`, household income `hinc` entering the
# air utility only, and car as the base alternative (its constant is 0). In formula form:

# %%
spec = dc.LinearSpec.from_formula("choice ~ gc + ttme | hinc[air]", base="car")

# %% [markdown]
# ## Logit
#
# Logit has iid Gumbel noise, so its probability is a softmax and the fit is exact.

# %%
logit = dc.Logit(spec).fit(data)
print(logit.summary())

# %% [markdown]
# The log-likelihood, -199.128, is the value Greene's *Econometric Analysis* publishes for
# this specification; `tests/references` recomputes it with an independent NumPy fit.

# %%
assert abs(logit.loglik - (-199.128)) < 1e-3

# %% [markdown]
# ## Probit
#
# Probit replaces the Gumbel noise with standard Normal noise on each alternative. There is
# no closed form for four alternatives, so the default simulator is quadrature: a
# one-dimensional integral over the chosen alternative's noise, exact to about 1e-10.
#
# !!! warning "Normalisation"
#     Each alternative's noise has variance 1 here, so a utility *difference* has variance 2.
#     Stata and R's `mlogit` fix the variance of the difference to 1; their coefficients are
#     these divided by \(\sqrt 2\).

# %%
probit = dc.Probit(spec).fit(data)
print(probit.params)

# %% [markdown]
# Coefficients are in units of the noise scale, so they differ between logit and probit by
# roughly the ratio of the noise standard deviations, \(\pi/\sqrt 6 \approx 1.28\): compare
# ratios such as the value of waiting time, `ttme / gc`, which do not depend on the scale.

# %%
for name, fit in [("logit", logit), ("probit", probit)]:
    print(f"{name:7s} ttme/gc = {fit.params['ttme'] / fit.params['gc']:.2f}")

# %% [markdown]
# The ratios still differ (about 6.2 against 5.0 minutes of waiting per unit of generalised
# cost), because the two noise laws weigh the observations differently; the comparison below
# says which law fits these choices better.

# %% [markdown]
# ## Comparison
#
# `compare` tabulates the fits and runs a Vuong test for every pair that is not nested, here
# logit against probit (a likelihood-ratio test for nested pairs).

# %%
comparison = compare({"logit": logit, "probit": probit})
print(comparison)
print(comparison.table[["loglik", "n_params", "aic", "bic", "hit_rate"]])

# %% [markdown]
# Reading the table: both models have six parameters, so AIC and BIC rank them as the
# log-likelihood does; the Vuong test says whether the difference is larger than chance
# would give for two models equally close to the truth.
#
# ## HEV: a scale per alternative
#
# Bhat's (1995) heteroscedastic extreme value model keeps the Gumbel law but gives each
# alternative its own scale, \(\varepsilon_{nj} = \sigma_j u_{nj}\) with \(\sigma_{car} = 1\).
# With all scales equal to 1 it is the logit, so the two are nested. The default simulator
# is quadrature, exact to about 1e-10 for any ratio of scales the optimiser visits.

# %%
import warnings

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    hev = dc.HEV(spec).fit(data)
for warning in caught:
    print(type(warning.message).__name__, ":", warning.message)
print(hev.summary())

# %% [markdown]
# On this survey the HEV likelihood has no finite maximum. The optimiser climbs a ridge on
# which all three free scales and all coefficients grow together: relative to them, car's
# noise shrinks towards 0, and the log-likelihood creeps up towards about -187.6 without
# reaching a peak. The gradient at the stopping point is small, so a plain optimiser
# would call this converged and print standard errors. The library probes the scale of every
# alternative, the base included, finds that the log-likelihood still rises along that ridge,
# and reports the fit as not converged with every parameter on the ridge unreliable:

# %%
print("converged:", hev.converged)
print("message:  ", hev.message)
print(hev.std_errors)

# %%
assert not hev.converged
assert "scale_car" in hev.message

# %% [markdown]
# What the data support is therefore a limit model, in which car's utility has negligible noise
# next to the other modes'. The ratios of coefficients stay finite along the ridge: the
# value of waiting time `ttme / gc` is 5.7 there, between logit's 6.2 and probit's 5.0.
# The levels of the coefficients on the ridge carry no meaning. The likelihood-ratio
# statistic against logit, twice the gap in log-likelihood, is large, but with a parameter on
# the boundary its chi-squared reference does not hold, so read it as "the scales differ",
# not as a p-value.

# %%
print(f"HEV ttme/gc = {hev.params['ttme'] / hev.params['gc']:.2f}")
print(f"2 (LL_HEV - LL_logit) = {2 * (hev.loglik - logit.loglik):.1f}")

# %% [markdown]
# The same specification with Normal noise, the heteroscedastic probit, has an interior
# maximum on this survey: its scales are finite and it converges.

# %%
het_probit = dc.HeteroscedasticProbit(spec).fit(data)
print("converged:", het_probit.converged)
print(het_probit.params[["scale_air", "scale_train", "scale_bus"]])

# %% [markdown]
# On Bhat's own Canadian data (`load_dataset("mode_canada")`) the HEV maximum is interior;
# the [models page](../models.md) reports it against the exact likelihood.
#
# ## All four side by side
#
# `compare` puts every fit in one table and marks the HEV fit as not converged; its notes
# list the tests that involve it.

# %%
print(compare({"logit": logit, "probit": probit, "hev": hev, "het-probit": het_probit}))

# %% [markdown]
# ## Predictions
#
# Every fit predicts choice probabilities labelled by situation and alternative; their
# column means are the predicted shares, which for logit with constants match the observed
# shares exactly.

# %%
predicted = logit.predict_proba()
print(predicted.head())
print((predicted.mean() - data.shares()).abs().max())
