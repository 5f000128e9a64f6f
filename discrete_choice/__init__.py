"""Discrete-choice econometrics on JAX and NumPyro."""

from discrete_choice.exceptions import (
    ChoiceDataError,
    ConvergenceWarning,
    DiscreteChoiceWarning,
    DroppedDataWarning,
    FewClustersWarning,
    IdentificationWarning,
    SpecificationError,
)

__version__ = "0.1.0"

__all__ = [
    "ChoiceDataError",
    "ConvergenceWarning",
    "DiscreteChoiceWarning",
    "DroppedDataWarning",
    "FewClustersWarning",
    "IdentificationWarning",
    "SpecificationError",
    "__version__",
]
