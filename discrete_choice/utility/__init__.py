"""Utility specifications: linear in parameters (formula or Python)."""

from discrete_choice.utility._linear import Design, LinearSpec, build_design

__all__ = ["Design", "LinearSpec", "build_design"]
