"""Linear utility specifications: V_nj = x_nj' beta, from a formula or from Python."""

from __future__ import annotations

import re
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from discrete_choice.data import ChoiceData
from discrete_choice.exceptions import IdentificationWarning, SpecificationError

__all__ = ["LinearSpec", "Design", "build_design"]

_TERM_WITH_ALTERNATIVES = re.compile(r"^(?P<expr>.+?)\[(?P<alts>[^\[\]]+)\]$")


@dataclass(frozen=True)
class LinearSpec:
    r"""A linear-in-parameters utility specification.

    The systematic utility of alternative ``j`` in situation ``n`` is

    .. math::

        V_{nj} = \alpha_j + \sum_{g} \beta_g x_{njg}
                 + \sum_{a} \gamma_{aj} x_{nja} + \sum_{i} \delta_{ij} z_{ni},

    with alternative-specific constants :math:`\alpha_j` (``ASC_<j>``, zero for ``base``),
    generic coefficients :math:`\beta_g` on alternative-varying attributes (``generic``,
    named ``<g>``), alternative-specific coefficients :math:`\gamma_{aj}` (``alternative_specific``,
    named ``<a>_<j>``, one for every alternative) and coefficients :math:`\delta_{ij}` on
    individual-specific variables interacted with alternative dummies (``individual``, named
    ``<i>_<j>``, zero for ``base`` unless the alternatives are listed).

    Attributes:
        generic: Terms with one coefficient shared by all alternatives. A term is a variable
            name or a formula expression over variables (``np.log(cost)``, ``cost:income``).
        individual: Individual-specific terms mapped to the alternatives whose utility they
            enter; ``None`` means every alternative except ``base``. A sequence of names is
            shorthand for mapping each to ``None``.
        alternative_specific: Terms with a coefficient for every alternative.
        constants: ``True`` for a constant in every alternative except ``base``, ``False``
            for none, or the alternatives that get one.
        base: Base alternative for constants and individual-specific terms; default the
            first alternative of the data.
    """

    generic: tuple[str, ...] = ()
    individual: Mapping[str, tuple[Hashable, ...] | None] = field(default_factory=dict)
    alternative_specific: tuple[str, ...] = ()
    constants: bool | tuple[Hashable, ...] = True
    base: Hashable | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "generic", tuple(_as_terms(self.generic, "generic")))
        object.__setattr__(self, "alternative_specific",
                           tuple(_as_terms(self.alternative_specific, "alternative_specific")))
        individual = self.individual
        if isinstance(individual, str) or not isinstance(individual, Mapping):
            individual = {term: None for term in _as_terms(individual, "individual")}
        normalised: dict[str, tuple[Hashable, ...] | None] = {}
        for term, alts in individual.items():
            if alts is None:
                normalised[term] = None
            elif isinstance(alts, str):
                normalised[term] = (alts,)
            else:
                normalised[term] = tuple(alts)
        object.__setattr__(self, "individual", normalised)
        if not isinstance(self.constants, bool):
            constants = self.constants
            object.__setattr__(self, "constants",
                               tuple([constants] if isinstance(constants, str) else constants))

    @classmethod
    def from_formula(cls, formula: str, base: Hashable | None = None) -> LinearSpec:
        """Parse a three-part formula in the style of R's mlogit.

        ``"choice ~ generic | individual | alternative_specific"``: the first part lists
        alternative-varying terms with generic coefficients; the second individual-specific
        terms, interacted with every alternative but the base, plus the constants (drop them
        with ``0 +`` or ``- 1``); the third terms with a coefficient per alternative. A term of
        the second part may name its alternatives in brackets, ``hinc[air]`` or
        ``income[train, air]``. Terms are formulaic expressions (``np.log(cost)``,
        ``I(cost / income)``, ``cost:income``). The left-hand side is ignored: the choice is
        part of the data.

        Example:
            >>> spec = LinearSpec.from_formula("choice ~ gc + ttme | hinc[air]", base="car")
            >>> spec.generic, spec.individual
            (('gc', 'ttme'), {'hinc': ('air',)})
        """
        if "~" in formula:
            formula = formula.split("~", 1)[1]
        parts = [p.strip() for p in formula.split("|")]
        if len(parts) > 3:
            raise SpecificationError(
                f"formula {formula!r} has {len(parts)} parts separated by '|'; expected at most 3: "
                "generic | individual | alternative-specific")
        parts += [""] * (3 - len(parts))
        generic, _ = _split_terms(parts[0], "first (generic)", allow_constant=False)
        individual_terms, constants = _split_terms(parts[1], "second (individual)",
                                                   allow_constant=True)
        specific, _ = _split_terms(parts[2], "third (alternative-specific)", allow_constant=False)
        individual: dict[str, tuple[Hashable, ...] | None] = {}
        for term in individual_terms:
            match = _TERM_WITH_ALTERNATIVES.match(term)
            if match:
                alts = tuple(a.strip().strip("'\"") for a in match["alts"].split(","))
                individual[match["expr"].strip()] = alts
            else:
                individual[term] = None
        return cls(generic=tuple(generic), individual=individual,
                   alternative_specific=tuple(specific), constants=constants, base=base)

    def to_formula(self) -> str:
        """Write the specification as a three-part formula (inverse of :meth:`from_formula`)."""
        second = [] if self.constants is True else ["0"]
        for term, alts in self.individual.items():
            second.append(term if alts is None else f"{term}[{', '.join(map(str, alts))}]")
        parts = [" + ".join(self.generic) or "0", " + ".join(second) or "1",
                 " + ".join(self.alternative_specific)]
        while parts and parts[-1] in ("", "1") and len(parts) > 1:
            parts.pop()
        text = "choice ~ " + " | ".join(parts)
        if not isinstance(self.constants, bool):
            text += f"  (constants for {list(self.constants)})"
        return text

    def constants_only(self) -> LinearSpec:
        """Return the specification with the same constants and no other term."""
        return LinearSpec(constants=self.constants, base=self.base)


@dataclass(frozen=True)
class Design:
    """The design array of a linear specification evaluated on choice data.

    Attributes:
        matrix: Covariates ``x_njk``, float64, shape ``(n_obs, n_alts, n_params)``; zero at
            unavailable alternatives.
        names: Parameter names, length ``n_params``.
        base: The base alternative used.
    """

    matrix: np.ndarray
    names: tuple[str, ...]
    base: Hashable


def _as_terms(value, argument: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    terms = list(value)
    for term in terms:
        if not isinstance(term, str):
            raise SpecificationError(f"`{argument}` must hold variable names or expressions "
                                     f"(strings); got {term!r}")
    return terms


def _split_terms(part: str, which: str, *, allow_constant: bool):
    """Split a formula part on top-level '+' and read its constant marker."""
    terms: list[str] = []
    depth = 0
    current = ""
    for char in part:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == "+" and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += char
    terms.append(current.strip())
    constants = True
    kept = []
    for term in terms:
        if term == "":
            continue
        stripped = term.replace(" ", "")
        if stripped in ("0", "-1") or stripped.endswith("-1"):
            if stripped not in ("0", "-1"):
                kept.append(stripped[:-2])  # "z - 1" keeps z and drops the constants
            constants = False
            continue
        if term == "1":
            constants = True
            continue
        kept.append(term)
    if not allow_constant and constants is False:
        raise SpecificationError(
            f"the {which} part of the formula removes the constants, but constants belong to "
            "the second (individual) part, as in R's mlogit: write 'y ~ x | 0 + z' or 'y ~ x | -1'")
    return kept, constants


def _long_frame(data: ChoiceData) -> pd.DataFrame:
    """Flatten every variable to one row per (situation, alternative), for formula evaluation."""
    return pd.DataFrame({name: values.reshape(-1) for name, values in data.variables.items()})


def _evaluate_terms(terms: Sequence[str], data: ChoiceData, frame: pd.DataFrame,
                    part: str) -> tuple[list[str], np.ndarray]:
    """Evaluate formula terms to columns of shape ``(n_obs, n_alts, n_columns)``."""
    if not terms:
        return [], np.zeros((data.n_obs, data.n_alts, 0))
    names, columns = [], []
    for term in terms:
        if term in data.variables:
            names.append(term)
            columns.append(data.variables[term])
            continue
        import formulaic  # deferred: only expressions beyond plain names need it

        try:
            matrix = formulaic.model_matrix("0 + " + term, frame, na_action="ignore")
        except Exception as error:  # formulaic raises several types for unknown names
            raise SpecificationError(
                f"term {term!r} of the {part} part could not be evaluated: {error}. Known "
                f"variables: {', '.join(map(repr, data.variables))}.") from error
        for column in matrix.columns:
            names.append(str(column))
            columns.append(np.asarray(matrix[column], dtype=np.float64).reshape(
                data.n_obs, data.n_alts))
    return names, np.stack(columns, axis=-1)


def build_design(spec: LinearSpec, data: ChoiceData, *,
                 collinearity_tolerance: float = 1e-10) -> Design:
    """Evaluate a specification on choice data and check that it is identified.

    Args:
        spec: The specification.
        data: The choice data.
        collinearity_tolerance: Relative singular value of the column-scaled, within-situation
            centred design at or below which the design counts as exactly collinear.

    Raises:
        SpecificationError: Naming the variables or constants involved when an alternative of
            the specification is not in the data, constants are given for every alternative,
            a generic term does not vary within any choice situation, or the design is exactly
            collinear.
    """
    alternatives = list(data.alternatives)
    base = alternatives[0] if spec.base is None else spec.base
    mentioned = [base] if spec.base is not None else []
    if not isinstance(spec.constants, bool):
        mentioned += list(spec.constants)
    for alts in spec.individual.values():
        mentioned += list(alts or ())
    absent = [a for a in dict.fromkeys(mentioned) if a not in alternatives]
    if absent:
        raise SpecificationError(
            f"the specification names alternatives {absent} that are not in the data "
            f"(alternatives: {alternatives}). Check the labels: the data's labels keep their "
            "type, so 1 and '1' differ.")

    frame = _long_frame(data)
    names: list[str] = []
    blocks: list[np.ndarray] = []
    eye = np.broadcast_to(np.eye(data.n_alts), (data.n_obs, data.n_alts, data.n_alts))

    if spec.constants is True:
        constant_alts = [a for a in alternatives if a != base]
    elif spec.constants is False:
        constant_alts = []
    else:
        constant_alts = list(spec.constants)
        if len(set(constant_alts)) == data.n_alts:
            raise SpecificationError(
                f"constants are requested for all {data.n_alts} alternatives {alternatives}, so "
                "they are not identified (only utility differences matter). Fix one to zero: "
                f"remove ASC_{base} from `constants` or set `base` to the alternative whose "
                "constant is zero.")
    for alt in constant_alts:
        names.append(f"ASC_{alt}")
        blocks.append(eye[:, :, alternatives.index(alt)][..., None])

    generic_names, generic = _evaluate_terms(spec.generic, data, frame, "generic")
    static = [n for k, n in enumerate(generic_names)
              if not _varies(generic[..., k], data.available)]
    if static:
        raise SpecificationError(
            f"generic terms {static} take the same value for every alternative within each "
            "choice situation, so their coefficients are not identified. Enter them as "
            "individual-specific terms (second part of the formula, `individual=`), which "
            "gives each alternative but the base its own coefficient.")
    names += generic_names
    blocks.append(generic)

    for term, alts in spec.individual.items():
        term_names, values = _evaluate_terms([term], data, frame, "individual")
        targets = [a for a in alternatives if a != base] if alts is None else list(alts)
        for k, name in enumerate(term_names):
            for alt in targets:
                names.append(f"{name}_{alt}")
                blocks.append((values[..., k] * eye[:, :, alternatives.index(alt)])[..., None])

    specific_names, specific = _evaluate_terms(spec.alternative_specific, data, frame,
                                               "alternative-specific")
    for k, name in enumerate(specific_names):
        for alt in alternatives:
            names.append(f"{name}_{alt}")
            blocks.append((specific[..., k] * eye[:, :, alternatives.index(alt)])[..., None])

    matrix = np.concatenate(blocks, axis=-1) if blocks else np.zeros((data.n_obs, data.n_alts, 0))
    matrix = np.where(data.available[..., None], matrix, 0.0)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecificationError(f"parameters {duplicates} appear twice in the specification; "
                                 "list each term once.")
    _check_collinearity(matrix, names, data.available, collinearity_tolerance)
    return Design(matrix=matrix, names=tuple(names), base=base)


def _varies(values: np.ndarray, available: np.ndarray) -> bool:
    high = np.where(available, values, -np.inf).max(axis=1)
    low = np.where(available, values, np.inf).min(axis=1)
    return bool(np.any(high > low))


def _check_collinearity(matrix: np.ndarray, names: Sequence[str], available: np.ndarray,
                        tolerance: float) -> None:
    """Raise when utility differences of the design are exactly collinear.

    Only differences between the available alternatives of a situation enter the choice
    probabilities, so the check works on ``x_nj`` minus its mean over the available
    alternatives of situation ``n``. Columns are scaled to unit norm first, so the threshold
    is relative and units do not matter.
    """
    if matrix.shape[-1] == 0:
        return
    counts = available.sum(axis=1, keepdims=True)
    mean = np.where(available[..., None], matrix, 0.0).sum(axis=1, keepdims=True) / counts[..., None]
    centred = (matrix - mean)[available]
    norms = np.linalg.norm(centred, axis=0)
    zero = [n for n, s in zip(names, norms) if s == 0]
    if zero:
        raise SpecificationError(
            f"parameters {zero} multiply terms that are identical across the available "
            "alternatives of every situation (or zero wherever the alternative is available), "
            "so they are not identified. Remove them or check the availability of their "
            "alternatives.")
    scaled = centred / norms
    _, singular, right = np.linalg.svd(scaled, full_matrices=False)
    if singular[-1] <= tolerance * singular[0]:
        null = right[-1]
        involved = [n for n, c in zip(names, null) if abs(c) > 1e-3]
        raise SpecificationError(
            f"the design is exactly collinear: a combination of parameters {involved} leaves "
            "every choice probability unchanged (smallest relative singular value "
            f"{singular[-1] / singular[0]:.1e}). Drop one of them, or check for a constant "
            "hidden in a variable or a variable entered twice.")
    if singular[-1] <= 1e3 * tolerance * singular[0]:
        warnings.warn(
            "the design is nearly collinear (smallest relative singular value "
            f"{singular[-1] / singular[0]:.1e}); standard errors may be large and unstable",
            IdentificationWarning, stacklevel=3)
