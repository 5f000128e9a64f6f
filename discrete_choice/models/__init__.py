"""Random-utility model families, each an ordinary NumPyro model."""

from discrete_choice.models._base import ChoiceModel, ModelInputs, ParameterBlock, PreparedModel, Priors
from discrete_choice.models.logit import Logit

MODEL_FAMILIES: dict[str, type[ChoiceModel]] = {"logit": Logit}
"""Model families by the name the command line and the comparison tools use."""

__all__ = ["MODEL_FAMILIES", "ChoiceModel", "Logit", "ModelInputs", "ParameterBlock", "PreparedModel", "Priors"]
