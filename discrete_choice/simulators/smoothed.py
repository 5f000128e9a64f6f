"""Placeholder: the Smoothed simulator is being written."""

from __future__ import annotations

from discrete_choice.simulators._base import Simulator, pytree_dataclass

__all__ = ["Smoothed"]


@pytree_dataclass
class Smoothed(Simulator):
    """Not implemented yet."""

    def log_probabilities(self, utility, available, noise):
        raise NotImplementedError("Smoothed is not implemented yet")
