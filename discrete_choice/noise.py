"""Location-scale noise families for random utilities.

The latent utility of alternative ``j`` is ``U_j = V_j + sigma_j * u_j`` where ``u_j`` follows a
standard family (location 0, scale 1) and ``sigma_j > 0`` is its scale. The families are

========== =============================================== ==========================================
family     standard CDF ``F(x)``                           notes
========== =============================================== ==========================================
gumbel     ``exp(-exp(-x))``                               mode 0, mean 0.5772 (Euler's constant)
normal     ``Phi(x)``                                      mean 0, variance 1
logistic   ``1 / (1 + exp(-x))``                           mean 0, variance pi^2 / 3
none       degenerate at 0                                 the limit ``sigma -> 0``: no noise
========== =============================================== ==========================================

Warning:
    Location 0 means *mode* 0 for the Gumbel family, as in Bhat (1995) and the HEV model of R's
    ``mlogit``; it is not mean 0. Centring the noise would shift every alternative-specific
    constant by ``0.5772 * (sigma_j - sigma_base)``.

Every function works in the log domain where it matters: ``log_cdf`` of the Normal family
switches to the Mills ratio's continued fraction in the far left tail, and no probability is
ever clipped.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, get_args

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import erfc, ndtri

__all__ = [
    "Family",
    "Noise",
    "standard_log_cdf",
    "standard_log_density",
    "standard_log_reverse_hazard",
    "standard_quantile",
    "validate_positive",
]

Family = Literal["gumbel", "normal", "logistic", "none"]
FAMILIES: tuple[str, ...] = get_args(Family)

_HALF_LOG_TWO_PI = 0.5 * float(np.log(2.0 * np.pi))
_SQRT_HALF = float(np.sqrt(0.5))
# Switch point of the Normal log CDF from erfc to the Mills ratio, and the continued-fraction
# terms used below it, by float width in bytes. float64: erfc keeps 2e-13 relative accuracy
# down to x = -37 (checked against mpmath), and 8 terms reach float64 rounding for y >= 20.
# float32: erfc underflows near x = -13, so the switch is at -8, where 10 terms reach 1e-12.
_MILLS_SWITCH = {4: (-8.0, 10), 8: (-20.0, 8)}


def _mills_ratio(y: jax.Array, terms: int) -> jax.Array:
    """Mills ratio ``R(y) = (1 - Phi(y)) / phi(y)`` for large ``y`` by Laplace's continued fraction.

    ``R(y) = 1 / (y + 1 / (y + 2 / (y + 3 / (y + ...))))``, evaluated from the tail with
    ``terms`` terms. It converges faster the larger ``y``: at ``y = 8`` 15 terms agree with
    ``mpmath`` to 6e-15 relative, at ``y = 20`` 8 terms agree to float64 rounding.
    """
    denominator = y
    for k in range(terms, 0, -1):
        denominator = y + k / denominator
    return 1.0 / denominator


def _normal_log_cdf_and_reverse_hazard(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Return ``log Phi(x)`` and ``log phi(x) - log Phi(x)`` from one ``erfc`` per element.

    Above a switch point (-20 in float64, -8 in float32), ``q = Phi(-|x|) = erfc(|x| / sqrt 2) / 2`` gives ``log q``
    (``x <= 0``) or ``log1p(-q)`` (``x > 0``), both to relative precision. Below the switch
    ``log Phi(x) = log phi(x) + log R(-x)`` and the reverse hazard is ``-log R(-x)``, with the
    Mills ratio ``R`` from its continued fraction. Every branch gets a safe argument (double
    ``where``), so gradients stay finite where ``q`` underflows. Sharing ``q`` between the two
    outputs lets XLA evaluate it once when both are used, as the quadrature does.
    """
    switch, terms = _MILLS_SWITCH[8 if jnp.result_type(x) == jnp.float64 else 4]
    tail = x < switch
    x_tail = jnp.where(tail, x, switch)
    x_direct = jnp.where(tail, 0.0, x)
    log_mills = jnp.log(_mills_ratio(-x_tail, terms))
    q = 0.5 * erfc(jnp.abs(x_direct) * _SQRT_HALF)
    upper = x_direct > 0
    log_cdf_direct = jnp.where(upper, jnp.log1p(-jnp.where(upper, q, 0.0)),
                               jnp.log(jnp.where(upper, 1.0, q)))
    log_density = -0.5 * x * x - _HALF_LOG_TWO_PI
    log_density_direct = -0.5 * x_direct * x_direct - _HALF_LOG_TWO_PI
    log_cdf = jnp.where(tail, log_density + log_mills, log_cdf_direct)
    reverse_hazard = jnp.where(tail, -log_mills, log_density_direct - log_cdf_direct)
    return log_cdf, reverse_hazard


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"invalid noise family {family!r}; expected one of {FAMILIES}")


def standard_quantile(family: str, u: jax.Array) -> jax.Array:
    """Map uniform draws ``u`` in (0, 1) to standard draws with the inverse CDF ``F^{-1}(u)``.

    Gumbel: ``-log(-log u)``; Normal: ``ndtri(u)``; Logistic: ``log(u) - log1p(-u)``;
    none: zeros. ``u`` must lie strictly inside (0, 1); the draw schemes guarantee it.
    """
    _check_family(family)
    if family == "gumbel":
        return -jnp.log(-jnp.log(u))
    if family == "normal":
        return ndtri(u)
    if family == "logistic":
        return jnp.log(u) - jnp.log1p(-u)
    return jnp.zeros_like(u)


def standard_log_cdf(family: str, x: jax.Array) -> jax.Array:
    """Log CDF ``log F(x)`` of the standard family, finite wherever ``F(x) > 0`` in floating point.

    Gumbel: ``-exp(-x)``; Normal: ``log Phi(x)``; Logistic: ``-softplus(-x)``.
    """
    _check_family(family)
    if family == "gumbel":
        # Below x = -log(max float) / 2 (-354.9 in float64), log F is -inf and its derivatives
        # are set to 0 (double where). At x = -log(max float) already exp(-x) is finite but
        # its derivatives with respect to a log-scale (x exp(-x), x^2 exp(-x)) overflow, and
        # inf times the zero weight of such a node in the quadrature is NaN in the Hessian.
        finite = x > -0.5 * float(np.log(jnp.finfo(jnp.result_type(x)).max))
        return jnp.where(finite, -jnp.exp(-jnp.where(finite, x, 0.0)), -jnp.inf)
    if family == "normal":
        # log Phi(x) ~ -x^2 / 2 overflows once x^2 does; there it is -inf with gradient 0
        # (double where).
        limit = 0.5 * float(np.sqrt(jnp.finfo(jnp.result_type(x)).max))
        finite = x > -limit
        log_cdf, _ = _normal_log_cdf_and_reverse_hazard(jnp.where(finite, x, 0.0))
        return jnp.where(finite, log_cdf, -jnp.inf)
    if family == "logistic":
        return -jax.nn.softplus(-x)
    raise ValueError("the 'none' noise family has no density or CDF")


def standard_log_reverse_hazard(family: str, x: jax.Array) -> jax.Array:
    """Log reverse hazard ``log f(x) - log F(x)`` of the standard family, without cancellation.

    Gumbel: ``-x``; Normal: ``log phi(x) - log Phi(x)``; Logistic: ``-softplus(x)``.
    """
    _check_family(family)
    if family == "gumbel":
        return -x
    if family == "normal":
        # Far in the left tail the direct difference cancels (and is -inf - (-inf) once x^2
        # overflows), so the helper uses phi(x) / Phi(x) = 1 / R(-x) there.
        # jax.scipy.special.erfcx is not used: in jax 0.10.2 it returns 0 near 9.4 (float32)
        # and 26.5 (float64).
        return _normal_log_cdf_and_reverse_hazard(x)[1]
    if family == "logistic":
        return -jax.nn.softplus(x)
    raise ValueError("the 'none' noise family has no density or CDF")


def standard_log_density(family: str, x: jax.Array) -> jax.Array:
    """Log density ``log f(x)`` of the standard family.

    Gumbel: ``-x - exp(-x)``; Normal: ``-x^2 / 2 - log(2 pi) / 2``;
    Logistic: ``-softplus(x) - softplus(-x)``.
    """
    _check_family(family)
    if family == "gumbel":
        return -x - jnp.exp(-x)
    if family == "normal":
        return -0.5 * x * x - _HALF_LOG_TWO_PI
    if family == "logistic":
        return -jax.nn.softplus(x) - jax.nn.softplus(-x)
    raise ValueError("the 'none' noise family has no density or CDF")


def _is_concrete(value: Any) -> bool:
    return not isinstance(value, jax.core.Tracer)


def validate_positive(name: str, value: Any) -> None:
    """Raise ``ValueError`` naming ``name`` if a concrete ``value`` has an entry that is not > 0.

    Traced values (inside ``jit``, ``grad`` or ``vmap``) cannot be inspected and are accepted;
    validation happens at the public entry point where values are still concrete.
    """
    if value is None or not _is_concrete(value):
        return
    array = np.asarray(value)
    if array.dtype == object:
        return
    bad = ~(array > 0)
    if np.any(bad):
        example = array[bad].ravel()[0] if array.ndim else array
        raise ValueError(
            f"{name} must be > 0 everywhere; got {name} = {example!r}"
            + (f" at {int(np.sum(bad))} of {array.size} entries" if array.ndim else "")
        )


@jax.tree_util.register_pytree_node_class
@dataclasses.dataclass(frozen=True, eq=False)
class Noise:
    """Noise law of the latent utilities: ``U = V + eps`` with shape ``(..., n_alts)``.

    Independent noise: ``eps_j = scale_j * u_j``, ``u_j`` iid from the standard ``family``.
    Correlated Normal noise: ``eps = cholesky @ z`` with ``z ~ N(0, I)``, so
    ``Cov(eps) = cholesky @ cholesky.T`` (``family`` must be ``"normal"``).

    Attributes:
        family: one of ``"gumbel"`` (mode 0), ``"normal"``, ``"logistic"`` or ``"none"``
            (no noise, the limit ``scale -> 0``).
        scale: ``sigma``, positive, broadcastable to ``(..., n_alts)``: a scalar, one scale per
            alternative ``(n_alts,)``, one per observation ``(n_obs, 1)`` or one per both.
            ``None`` means 1. Units: utility units per unit of the standard variate.
        cholesky: lower-triangular factor ``L`` of the noise covariance, ``(n_alts, n_alts)``
            or batched ``(..., n_alts, n_alts)``; ``None`` for independent noise. When set,
            ``scale`` must be ``None``.

    A ``Noise`` is a JAX pytree (``scale`` and ``cholesky`` are leaves, ``family`` is static), so
    it can be passed into or closed over by ``jit``, ``grad`` and ``vmap``.
    """

    family: Family = "gumbel"
    scale: Any = None
    cholesky: Any = None

    def __post_init__(self) -> None:
        _check_family(self.family)
        validate_positive("scale", self.scale)
        if self.cholesky is not None:
            if self.family != "normal":
                raise ValueError(
                    f"a cholesky factor needs family='normal'; got family={self.family!r}"
                )
            if self.scale is not None:
                raise ValueError(
                    "give either scale or cholesky, not both: fold the scales into the "
                    "cholesky factor"
                )
            shape = jnp.shape(self.cholesky)
            if len(shape) < 2 or shape[-1] != shape[-2]:
                raise ValueError(
                    f"cholesky must have shape (..., n_alts, n_alts); got shape {shape}"
                )

    @property
    def is_correlated(self) -> bool:
        """Whether the noise has a full covariance (a Cholesky factor)."""
        return self.cholesky is not None

    def scale_or_one(self, dtype: Any = None) -> jax.Array:
        """The scale as an array (``1`` when ``scale`` is ``None``), broadcastable to V."""
        if self.scale is None:
            return jnp.ones((), dtype=dtype)
        return jnp.asarray(self.scale, dtype=dtype)

    def tree_flatten(self):
        return (self.scale, self.cholesky), self.family

    @classmethod
    def tree_unflatten(cls, family, children):
        # Bypass __post_init__: leaves may be tracers or placeholders during JAX transforms.
        noise = object.__new__(cls)
        object.__setattr__(noise, "family", family)
        object.__setattr__(noise, "scale", children[0])
        object.__setattr__(noise, "cholesky", children[1])
        return noise
