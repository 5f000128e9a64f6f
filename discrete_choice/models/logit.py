"""The multinomial (conditional) logit model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import jax

from discrete_choice.models._base import ChoiceModel, ModelInputs
from discrete_choice.noise import Noise

__all__ = ["Logit"]


@dataclass(frozen=True)
class Logit(ChoiceModel):
    r"""Multinomial logit: iid standard Gumbel noise with equal scales.

    .. math::

        U_{nj} = V_{nj} + \varepsilon_{nj},\quad \varepsilon_{nj} \sim \text{Gumbel}(0, 1),
        \qquad
        P_{nj} = \frac{a_{nj} e^{V_{nj}}}{\sum_k a_{nk} e^{V_{nk}}},

    with ``V = design @ beta`` (:class:`~discrete_choice.LinearSpec`) and availability
    :math:`a_{nj}`. The noise scale is fixed to 1, so coefficients are in units of the Gumbel
    scale (variance :math:`\pi^2/6`). With the default ``Exact`` simulator the log-likelihood
    is the masked log-softmax; any other simulator (for example ``Smoothed``) simulates the
    same model.

    Example:
        >>> import discrete_choice as dc
        >>> dataset = dc.load_dataset("travel_mode")
        >>> spec = dc.LinearSpec.from_formula("choice ~ gc + ttme | hinc[air]", base="car")
        >>> result = dc.Logit(spec).fit(dataset.data)
        >>> round(result.loglik, 3)
        -199.128
    """

    name: ClassVar[str] = "logit"

    def utility_and_noise(self, params: Mapping[str, jax.Array], inputs: ModelInputs,
                          index: jax.Array) -> tuple[jax.Array, Noise]:
        return self.linear_utility(params["beta"], inputs, index), Noise("gumbel")

    def describe_noise(self) -> dict[str, Any]:
        return {"family": "gumbel", "normalisation": "iid, scale 1 (location 0 is the mode)"}
