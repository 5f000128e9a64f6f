"""Simulators of choice probabilities: each maps ``(V, availability, noise)`` to log P.

=============== ============================================================================
``Exact``       closed forms (logit, binary probit)
``Quadrature``  independent noise with any per-alternative scales, one-dimensional integral
``Smoothed``    logit-smoothed accept-reject over draws, differentiable, any noise
``Frequency``   crude accept-reject over draws, the ``tau -> 0`` limit, for prediction
``GHK``         recursive conditioning (GHK) for correlated Normal noise, multinomial probit
=============== ============================================================================
"""

from discrete_choice.simulators._base import Simulator, masked_log_softmax
from discrete_choice.simulators.exact import Exact
from discrete_choice.simulators.frequency import Frequency
from discrete_choice.simulators.ghk import GHK
from discrete_choice.simulators.quadrature import Quadrature
from discrete_choice.simulators.smoothed import Smoothed

__all__ = ["Exact", "Frequency", "GHK", "Quadrature", "Simulator", "Smoothed", "masked_log_softmax"]
