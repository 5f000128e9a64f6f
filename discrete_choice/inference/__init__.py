"""Fitting: maximum likelihood with standard errors (and Bayesian fitting)."""

from discrete_choice.inference.mle import MLEOptions, fit_mle, likelihood_functions

__all__ = ["MLEOptions", "fit_mle", "likelihood_functions"]
