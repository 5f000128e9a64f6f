"""Placeholder: the Frequency simulator is being written."""

from __future__ import annotations

from discrete_choice.simulators._base import Simulator, pytree_dataclass

__all__ = ["Frequency"]


@pytree_dataclass
class Frequency(Simulator):
    """Not implemented yet."""

    def log_probabilities(self, utility, available, noise):
        raise NotImplementedError("Frequency is not implemented yet")
