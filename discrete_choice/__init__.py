"""Discrete-choice econometrics on JAX and NumPyro."""

from discrete_choice.data import ChoiceData, Dataset, load_dataset
from discrete_choice.distribution import ChoiceDistribution
from discrete_choice.exceptions import (
    ChoiceDataError,
    ConvergenceWarning,
    DiscreteChoiceWarning,
    DroppedDataWarning,
    FewClustersWarning,
    IdentificationWarning,
    SamplingWarning,
    SpecificationError,
)
from discrete_choice.inference import MLEOptions, fit_mle
from discrete_choice.inference._arviz import loo_compare, to_inference_data
from discrete_choice.inference.mcmc import MCMCOptions, MCMCResults, fit_mcmc
from discrete_choice.inference.svi import SVIOptions, SVIResults, fit_svi
from discrete_choice.models import (
    HEV,
    ChoiceModel,
    Heteroscedastic,
    HeteroscedasticLogistic,
    HeteroscedasticProbit,
    Logit,
    MultinomialProbit,
    Priors,
    Probit,
)
from discrete_choice.noise import Noise
from discrete_choice.results import MLEResults
from discrete_choice.simulators import GHK, Exact, Frequency, Quadrature, Smoothed
from discrete_choice import compare
from discrete_choice.utility import LinearSpec
from discrete_choice.inference.train import TrainOptions, TrainResult, train
from discrete_choice.models.neural import NetworkConfig, NeuralChoiceModel, classification_data
from discrete_choice import plots, temperature
from discrete_choice.temperature import (
    fit_annealed,
    simulator_bias_variance,
    temperature_sweep,
    tune_temperature,
)

__version__ = "0.1.0"

__all__ = [
    "GHK",
    "HEV",
    "Heteroscedastic",
    "HeteroscedasticLogistic",
    "HeteroscedasticProbit",
    "MultinomialProbit",
    "Probit",
    "compare",
    "ChoiceData",
    "ChoiceDistribution",
    "ChoiceModel",
    "Dataset",
    "Exact",
    "Frequency",
    "LinearSpec",
    "Logit",
    "MCMCOptions",
    "MCMCResults",
    "MLEOptions",
    "MLEResults",
    "NetworkConfig",
    "NeuralChoiceModel",
    "Noise",
    "Priors",
    "Quadrature",
    "SVIOptions",
    "SVIResults",
    "Smoothed",
    "TrainOptions",
    "TrainResult",
    "classification_data",
    "fit_annealed",
    "fit_mcmc",
    "fit_mle",
    "fit_svi",
    "loo_compare",
    "to_inference_data",
    "train",
    "plots",
    "simulator_bias_variance",
    "temperature",
    "temperature_sweep",
    "tune_temperature",
    "load_dataset",
    "ChoiceDataError",
    "ConvergenceWarning",
    "DiscreteChoiceWarning",
    "DroppedDataWarning",
    "FewClustersWarning",
    "IdentificationWarning",
    "SamplingWarning",
    "SpecificationError",
    "__version__",
]
