"""Choice data: validated arrays built from pandas tables, and bundled survey datasets."""

from discrete_choice.data._choice_data import ChoiceData
from discrete_choice.data._datasets import DATASETS, Dataset, load_dataset

__all__ = ["ChoiceData", "Dataset", "DATASETS", "load_dataset"]
