"""Random-utility model families, each an ordinary NumPyro model."""

from discrete_choice.models._base import ChoiceModel, ModelInputs, ParameterBlock, PreparedModel, Priors
from discrete_choice.models.heteroscedastic import (
    HEV,
    Heteroscedastic,
    HeteroscedasticLogistic,
    HeteroscedasticProbit,
)
from discrete_choice.models.logit import Logit
from discrete_choice.models.multinomial_probit import MultinomialProbit, implied_covariance
from discrete_choice.models.probit import Probit

MODEL_FAMILIES: dict[str, type[ChoiceModel]] = {
    "logit": Logit,
    "probit": Probit,
    "hev": HEV,
    "het-probit": HeteroscedasticProbit,
    "het-logistic": HeteroscedasticLogistic,
    "mnp": MultinomialProbit,
}
"""Model families by the name the command line and the comparison tools use."""

__all__ = ["MODEL_FAMILIES", "ChoiceModel", "HEV", "Heteroscedastic", "HeteroscedasticLogistic",
           "HeteroscedasticProbit", "Logit", "ModelInputs", "MultinomialProbit", "ParameterBlock",
           "PreparedModel", "Priors", "Probit", "implied_covariance"]
