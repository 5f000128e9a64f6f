"""Random-utility model families, each an ordinary NumPyro model."""

from discrete_choice.models._base import ChoiceModel, ModelInputs, ParameterBlock, PreparedModel, Priors
from discrete_choice.models.logit import Logit

__all__ = ["ChoiceModel", "Logit", "ModelInputs", "ParameterBlock", "PreparedModel", "Priors"]
