r"""The independent (homoscedastic) probit model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import jax

from discrete_choice.models._base import ChoiceModel, ModelInputs
from discrete_choice.noise import Noise
from discrete_choice.simulators import Quadrature
from discrete_choice.simulators._base import Simulator

__all__ = ["Probit"]


@dataclass(frozen=True)
class Probit(ChoiceModel):
    r"""Probit with independent standard Normal noise on every alternative.

    .. math::

        U_{nj} = V_{nj} + \varepsilon_{nj},\qquad \varepsilon_{nj} \overset{iid}{\sim} N(0, 1),
        \qquad P_{nj} = \int \phi(t) \prod_{k \ne j,\ a_{nk}=1} \Phi(V_{nj} - V_{nk} + t)\,dt,

    with ``V = design @ beta``. The one-dimensional integral is what the default
    :class:`~discrete_choice.Quadrature` simulator evaluates; with two alternatives the closed
    form :math:`P_{n1} = \Phi((V_{n1} - V_{n0})/\sqrt 2)` is available with
    :class:`~discrete_choice.Exact`.

    Warning:
        Normalisation: each alternative's noise has variance 1, so a utility difference has
        variance 2. Stata's ``probit``/``asmprobit`` and R mlogit's probit fix the variance of
        the difference to 1, so their coefficients equal these divided by :math:`\sqrt 2`.

    Attributes:
        spec: The linear utility specification.
        simulator: How choice probabilities are computed (default ``Quadrature()``).
        priors: Priors for Bayesian fitting.
    """

    simulator: Simulator = field(default_factory=Quadrature)

    name: ClassVar[str] = "probit"

    def utility_and_noise(self, params: Mapping[str, jax.Array], inputs: ModelInputs,
                          index: jax.Array) -> tuple[jax.Array, Noise]:
        return self.linear_utility(params["beta"], inputs, index), Noise("normal")

    def describe_noise(self) -> dict[str, Any]:
        return {"family": "normal",
                "normalisation": "iid N(0, 1) per alternative (a difference has variance 2; "
                                 "divide coefficients by sqrt(2) to compare with Stata/mlogit)"}
