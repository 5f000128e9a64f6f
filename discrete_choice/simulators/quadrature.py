"""Placeholder: the Quadrature simulator is being written."""

from __future__ import annotations

from discrete_choice.simulators._base import Simulator, pytree_dataclass

__all__ = ["Quadrature"]


@pytree_dataclass
class Quadrature(Simulator):
    """Not implemented yet."""

    def log_probabilities(self, utility, available, noise):
        raise NotImplementedError("Quadrature is not implemented yet")
