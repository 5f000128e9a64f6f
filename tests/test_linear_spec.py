"""Linear specifications: formula parsing, design arrays and identification checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import discrete_choice as dc
from discrete_choice import LinearSpec, SpecificationError
from discrete_choice.utility import build_design


@pytest.fixture(scope="module")
def travel():
    return dc.load_dataset("travel_mode").data


@pytest.mark.parametrize("formula, generic, individual, specific, constants", [
    ("choice ~ gc + ttme", ("gc", "ttme"), {}, (), True),
    ("choice ~ gc | hinc", ("gc",), {"hinc": None}, (), True),
    ("choice ~ gc | 0 + hinc", ("gc",), {"hinc": None}, (), False),
    ("choice ~ gc | hinc - 1", ("gc",), {"hinc": None}, (), False),
    ("choice ~ gc | -1", ("gc",), {}, (), False),
    ("choice ~ gc | hinc[air] | invt", ("gc",), {"hinc": ("air",)}, ("invt",), True),
    ("choice ~ np.log(gc) | income[train, air]", ("np.log(gc)",),
     {"income": ("train", "air")}, (), True),
])
def test_formula_parts(formula, generic, individual, specific, constants):
    spec = LinearSpec.from_formula(formula)
    assert spec.generic == generic
    assert dict(spec.individual) == individual
    assert spec.alternative_specific == specific
    assert spec.constants == constants


def test_formula_round_trip():
    spec = LinearSpec.from_formula("choice ~ gc + ttme | hinc[air] | invt", base="car")
    assert LinearSpec.from_formula(spec.to_formula(), base="car") == spec


def test_formula_rejects_constant_removal_in_generic_part():
    with pytest.raises(SpecificationError, match="second"):
        LinearSpec.from_formula("choice ~ 0 + gc")


def test_design_names_and_values(travel):
    spec = LinearSpec.from_formula("choice ~ gc | hinc[air] | invt", base="car")
    design = build_design(spec, travel)
    assert design.names == ("ASC_air", "ASC_train", "ASC_bus", "gc", "hinc_air",
                            "invt_air", "invt_train", "invt_bus", "invt_car")
    matrix = design.matrix
    assert matrix.shape == (210, 4, 9)
    np.testing.assert_array_equal(matrix[:, :, 3], travel.variable("gc"))
    np.testing.assert_array_equal(matrix[:, 0, 4], travel.variable("hinc")[:, 0])
    np.testing.assert_array_equal(matrix[:, 1:, 4], 0.0)
    np.testing.assert_array_equal(matrix[:, 3, 0], 0.0)  # car is the base: no constant


def test_formula_expressions_are_evaluated(travel):
    spec = LinearSpec.from_formula("choice ~ np.log(gc) + gc:ttme", base="car")
    design = build_design(spec, travel)
    assert "np.log(gc)" in design.names
    k = design.names.index("np.log(gc)")
    np.testing.assert_allclose(design.matrix[:, :, k], np.log(travel.variable("gc")))
    k = design.names.index("gc:ttme")
    np.testing.assert_allclose(design.matrix[:, :, k],
                               travel.variable("gc") * travel.variable("ttme"))


def test_constants_for_every_alternative_rejected(travel):
    """The dummy trap is reported before fitting with the constant to fix."""
    spec = LinearSpec(constants=("air", "train", "bus", "car"), base="car")
    with pytest.raises(SpecificationError, match="remove ASC_car"):
        build_design(spec, travel)


def test_generic_term_without_variation_rejected(travel):
    with pytest.raises(SpecificationError, match=r"\['hinc'\].*individual-specific"):
        build_design(LinearSpec(generic=("gc", "hinc")), travel)


def test_collinear_design_names_variables():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    data = dc.ChoiceData.from_arrays(rng.integers(0, 3, 50), {"x": x, "x2": 2 * x + 0.0,
                                                              "z": rng.normal(size=(50, 3))})
    with pytest.raises(SpecificationError, match=r"collinear.*'x'.*'x2'"):
        build_design(LinearSpec(generic=("x", "x2", "z")), data)


def test_specification_alternative_absent_from_data(travel):
    """An alternative named in the specification but absent from the data."""
    with pytest.raises(SpecificationError, match=r"\['boat'\]"):
        build_design(LinearSpec.from_formula("choice ~ gc | hinc[boat]"), travel)
    with pytest.raises(SpecificationError, match=r"\['ship'\]"):
        build_design(LinearSpec(generic=("gc",), base="ship"), travel)


def test_unknown_variable_lists_known_ones(travel):
    with pytest.raises(SpecificationError, match="Known variables"):
        build_design(LinearSpec(generic=("price",)), travel)


def test_term_of_never_available_alternative_rejected():
    rng = np.random.default_rng(1)
    available = np.ones((40, 3), dtype=bool)
    available[:, 2] = False
    choice = rng.integers(0, 2, 40)
    data = dc.ChoiceData.from_arrays(choice, {"x": rng.normal(size=(40, 3)),
                                              "z": rng.normal(size=40)}, available=available,
                                     alternatives=("a", "b", "c"))
    with pytest.raises(SpecificationError, match=r"\['ASC_c', 'z_c'\].*not identified"):
        build_design(LinearSpec(generic=("x",), individual={"z": None}, base="a"), data)
