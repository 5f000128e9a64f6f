"""Exception and warning classes raised by discrete_choice.

Errors subclass ``ValueError`` so that code catching bad input the usual way keeps working.
Warnings subclass :class:`DiscreteChoiceWarning`, so a caller can filter all of them at once.
"""

from __future__ import annotations

__all__ = [
    "ChoiceDataError",
    "SpecificationError",
    "DiscreteChoiceWarning",
    "ConvergenceWarning",
    "IdentificationWarning",
    "FewClustersWarning",
    "DroppedDataWarning",
    "SamplingWarning",
]


class ChoiceDataError(ValueError):
    """Invalid choice data: missing values, impossible choices, wrong column types."""


class SpecificationError(ValueError):
    """A utility specification that cannot be estimated on the given data."""


class DiscreteChoiceWarning(UserWarning):
    """Base class of every warning this package emits."""


class ConvergenceWarning(DiscreteChoiceWarning):
    """The optimiser stopped before meeting its convergence criteria."""


class IdentificationWarning(DiscreteChoiceWarning):
    """A parameter is weakly or not identified: singular Hessian, separation, boundary."""


class FewClustersWarning(DiscreteChoiceWarning):
    """Cluster-robust standard errors computed from too few clusters to be trusted."""


class DroppedDataWarning(DiscreteChoiceWarning):
    """Choice situations were dropped on request (for example rows with missing values)."""


class SamplingWarning(DiscreteChoiceWarning):
    """MCMC diagnostics (R-hat, effective sample size, divergences) say the draws are unreliable."""
