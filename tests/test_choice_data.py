"""Choice data: construction from long and wide tables, and every validation error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import discrete_choice as dc
from discrete_choice import ChoiceData, ChoiceDataError, DroppedDataWarning


def long_table() -> pd.DataFrame:
    """Three situations, ragged choice sets (situation 3 lacks a bus row)."""
    return pd.DataFrame({
        "obs": [1, 1, 2, 2, 3],
        "alt": ["car", "bus", "car", "bus", "car"],
        "chosen": [1, 0, 0, 1, 1],
        "cost": [2.0, 1.0, 3.0, 1.5, 2.5],
        "income": [10.0, 10.0, 20.0, 20.0, 30.0],
    })


def test_long_table_pads_ragged_choice_sets():
    data = ChoiceData.from_long(long_table(), obs="obs", alt="alt", chosen="chosen")
    assert data.alternatives == ("bus", "car")
    assert data.n_obs == 3
    np.testing.assert_array_equal(data.available, [[True, True], [True, True], [False, True]])
    np.testing.assert_array_equal(data.chosen_labels(), ["car", "bus", "car"])
    np.testing.assert_array_equal(data.variable("cost"), [[1.0, 2.0], [1.5, 3.0], [0.0, 2.5]])


def test_long_table_choice_label_column():
    table = long_table().assign(mode_chosen=["car", "car", "bus", "bus", "car"])
    data = ChoiceData.from_long(table.drop(columns="chosen"), obs="obs", alt="alt",
                                choice="mode_chosen")
    np.testing.assert_array_equal(data.chosen_labels(), ["car", "bus", "car"])


def test_wide_table_matches_long_table():
    wide = pd.DataFrame({"id": [1, 2, 3], "mode": ["car", "bus", "car"],
                         "cost_car": [2.0, 3.0, 2.5], "cost_bus": [1.0, 1.5, np.nan],
                         "bus_av": [1, 1, 0], "income": [10.0, 20.0, 30.0]})
    data = ChoiceData.from_wide(wide, choice="mode", alternatives=["bus", "car"], obs="id",
                                attributes={"cost": {"car": "cost_car", "bus": "cost_bus"}},
                                availability={"bus": "bus_av"}, individual=["income"])
    reference = ChoiceData.from_long(long_table(), obs="obs", alt="alt", chosen="chosen")
    np.testing.assert_array_equal(data.available, reference.available)
    np.testing.assert_array_equal(data.choice, reference.choice)
    np.testing.assert_array_equal(data.variable("cost"), reference.variable("cost"))
    np.testing.assert_array_equal(data.variable("income")[reference.available],
                                  reference.variable("income")[reference.available])


def test_wide_table_choice_codes():
    wide = pd.DataFrame({"CHOICE": [1, 2, 3, 2], "T": [1.0, 2, 3, 4], "S": [2.0, 1, 1, 1],
                         "C": [3.0, 3, 1, 2]})
    data = ChoiceData.from_wide(wide, choice="CHOICE",
                                alternatives={"train": 1, "sm": 2, "car": 3},
                                attributes={"time": {"train": "T", "sm": "S", "car": "C"}})
    np.testing.assert_array_equal(data.chosen_labels(), ["train", "sm", "car", "sm"])


# --------------------------------------------------------------------------- validation table
def _long_error(table: pd.DataFrame, **kwargs) -> str:
    arguments = {"obs": "obs", "alt": "alt", "chosen": "chosen", **kwargs}
    with pytest.raises(ChoiceDataError) as error:
        ChoiceData.from_long(table, **arguments)
    return str(error.value)


VALIDATION_CASES = [
    # (case id, table edit, extra arguments, fragments the message must contain)
    ("missing covariate", lambda t: t.assign(cost=[2.0, np.nan, 3.0, 1.5, 2.5]), {},
     ["'cost'", "rows 1", "missing='drop'"]),
    ("missing choice", lambda t: t.assign(chosen=[1, 0, np.nan, 1, 1]), {},
     ["'chosen'", "rows 2"]),
    ("no chosen row", lambda t: t.assign(chosen=[0, 0, 0, 1, 1]), {},
     ["situations 1", "no row"]),
    ("several chosen rows", lambda t: t.assign(chosen=[1, 1, 0, 1, 1]), {},
     ["situations 1", "several rows"]),
    ("chosen unavailable", lambda t: t.assign(av=[1, 1, 1, 0, 1]), {"available": "av"},
     ["unavailable", "2 chose 'bus'"]),
    ("no available alternative", lambda t: t.assign(av=[1, 1, 0, 0, 1]), {"available": "av"},
     ["situations 2", "no available alternative"]),
    ("alternative absent from data", lambda t: t, {"alternatives": ["car", "bus", "train"]},
     ["'train'", "no rows"]),
    ("non-numeric covariate", lambda t: t.assign(cost=["a", "b", "c", "d", "e"]),
     {"variables": ["cost"]}, ["'cost'", "not numeric"]),
    ("unknown column", lambda t: t, {"variables": ["price"]}, ["'price'", "not found"]),
    ("duplicate pair", lambda t: pd.concat([t, t.iloc[[0]]]), {}, ["(1, 'car')", "one row"]),
    ("bad flag", lambda t: t.assign(chosen=[2, 0, 0, 1, 1]), {}, ["0/1", "'chosen'"]),
    ("weights varying", lambda t: t.assign(w=[1.0, 2.0, 1.0, 1.0, 1.0]), {"weights": "w"},
     ["'w'", "constant"]),
    ("weights not positive", lambda t: t.assign(w=[0.0, 0.0, 1.0, 1.0, 1.0]), {"weights": "w"},
     ["positive", "situations 1"]),
]


@pytest.mark.parametrize("name, edit, extra, fragments", VALIDATION_CASES,
                         ids=[c[0] for c in VALIDATION_CASES])
def test_validation_error_names_the_fault(name, edit, extra, fragments):
    message = _long_error(edit(long_table()), **extra)
    for fragment in fragments:
        assert fragment in message, f"{name}: {fragment!r} not in {message!r}"


def test_availability_errors_listed_together():
    """One error lists obs 2 (nothing available) and obs 3 (chosen unavailable)."""
    table = pd.DataFrame({
        "obs": [1, 1, 2, 2, 3, 3],
        "alt": ["car", "bus"] * 3,
        "chosen": [1, 0, 1, 0, 0, 1],
        "av": [1, 1, 0, 0, 1, 0],
    })
    message = _long_error(table, available="av")
    assert "situations 2 have no available alternative" in message
    assert "3 chose 'bus'" in message


def test_missing_drop_reports_count():
    """With missing='drop', whole situations are removed and the warning gives their count."""
    table = long_table().assign(cost=[2.0, np.nan, 3.0, 1.5, 2.5])
    with pytest.warns(DroppedDataWarning, match="dropped 1 choice situations"):
        data = ChoiceData.from_long(table, obs="obs", alt="alt", chosen="chosen", missing="drop")
    assert data.n_obs == 2
    assert data.n_dropped == 1
    assert list(data.obs_ids) == [2, 3]


def test_missing_covariate_of_unavailable_alternative_is_ignored():
    table = long_table().assign(av=[1, 0, 1, 1, 1], cost=[2.0, np.nan, 3.0, 1.5, 2.5])
    data = ChoiceData.from_long(table, obs="obs", alt="alt", chosen="chosen", available="av")
    assert data.variable("cost")[0, 0] == 0.0
    assert not data.available[0, 0]


def test_wide_missing_value_names_column_and_row():
    wide = pd.DataFrame({"mode": ["car", "bus"], "cost_car": [2.0, np.nan],
                         "cost_bus": [1.0, 1.5]}, index=["r1", "r2"])
    with pytest.raises(ChoiceDataError, match=r"'cost_car'.*rows 'r2'"):
        ChoiceData.from_wide(wide, choice="mode", alternatives=["bus", "car"],
                             attributes={"cost": {"car": "cost_car", "bus": "cost_bus"}})


def test_wide_unknown_choice_code():
    wide = pd.DataFrame({"CHOICE": [1, 4], "T": [1.0, 2.0], "S": [2.0, 1.0]})
    with pytest.raises(ChoiceDataError, match=r"values 4"):
        ChoiceData.from_wide(wide, choice="CHOICE", alternatives={"train": 1, "sm": 2},
                             attributes={"time": {"train": "T", "sm": "S"}})


def test_data_arrays_are_read_only():
    data = ChoiceData.from_long(long_table(), obs="obs", alt="alt", chosen="chosen")
    with pytest.raises(ValueError):
        data.available[0, 0] = False


def test_bundled_datasets_load():
    swissmetro = dc.load_dataset("swissmetro").data
    assert swissmetro.n_obs == 6768  # the published sample size of the Biogeme example
    mode_canada = dc.load_dataset("mode_canada").data
    assert mode_canada.n_obs == 4324
    with pytest.raises(ValueError, match="available: travel_mode"):
        dc.load_dataset("nope")
