"""The validated container of choice situations, built from pandas long or wide tables."""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from discrete_choice.exceptions import ChoiceDataError, DroppedDataWarning

__all__ = ["ChoiceData"]

MissingPolicy = Literal["raise", "drop"]
_MISSING_POLICIES = ("raise", "drop")
_MAX_LISTED = 10  # ids shown in one error line before "and N more"


def _format_ids(ids: Sequence[Any]) -> str:
    """Format at most ``_MAX_LISTED`` ids for an error message."""
    ids = list(ids)
    shown = ", ".join(repr(i) if isinstance(i, str) else str(i) for i in ids[:_MAX_LISTED])
    if len(ids) > _MAX_LISTED:
        shown += f" and {len(ids) - _MAX_LISTED} more"
    return shown


def _sorted_labels(values: Sequence[Hashable]) -> list[Hashable]:
    """Sort alternative labels when they are comparable, else keep first-seen order."""
    unique = list(dict.fromkeys(values))
    try:
        return sorted(unique)
    except TypeError:
        return unique


def _native(value: Any) -> Any:
    """Convert NumPy scalars to Python scalars so labels print and serialise cleanly."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True, eq=False)
class ChoiceData:
    """Choice situations padded to a common set of alternatives, validated once.

    Decision maker (choice situation) ``n`` faces the available alternatives
    ``{j : available[n, j]}`` and chose ``alternatives[choice[n]]``. Situations with fewer
    alternatives (ragged choice sets) are padded: a padded or unavailable alternative has
    ``available[n, j] == False`` and zeros in every variable, and models mask it out of the
    likelihood.

    Build instances with :meth:`from_long` or :meth:`from_wide`; both check the table before
    any fitting starts and raise :class:`~discrete_choice.ChoiceDataError` naming the column,
    the rows or situations, and the fix.

    Attributes:
        obs_ids: Original choice-situation ids, shape ``(n_obs,)``.
        alternatives: Alternative labels, length ``n_alts``, in the order of the last axis
            of every array.
        choice: Index into ``alternatives`` of the chosen alternative, shape ``(n_obs,)``.
        available: Availability mask, boolean, shape ``(n_obs, n_alts)``.
        variables: Covariates by name, each float64 of shape ``(n_obs, n_alts)``; an
            alternative-invariant (individual-specific) variable repeats its value across
            the last axis.
        panel_ids: Decision-maker ids for panels (several situations per person), shape
            ``(n_obs,)``, or ``None``.
        weights: Observation weights, shape ``(n_obs,)``, or ``None`` for unit weights.
        n_dropped: Number of choice situations dropped on request (``missing="drop"``).
    """

    obs_ids: np.ndarray
    alternatives: tuple[Hashable, ...]
    choice: np.ndarray
    available: np.ndarray
    variables: Mapping[str, np.ndarray]
    panel_ids: np.ndarray | None = None
    weights: np.ndarray | None = None
    n_dropped: int = 0
    _sources: Mapping[str, str] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ properties
    @property
    def n_obs(self) -> int:
        """Number of choice situations."""
        return int(self.choice.shape[0])

    @property
    def n_alts(self) -> int:
        """Number of alternatives after padding."""
        return len(self.alternatives)

    @property
    def variable_names(self) -> tuple[str, ...]:
        """Names of the covariates, in insertion order."""
        return tuple(self.variables)

    def varies_within_situations(self, name: str) -> bool:
        """Tell whether a variable differs across the available alternatives of any situation."""
        values = self.variable(name)
        masked_max = np.where(self.available, values, -np.inf).max(axis=1)
        masked_min = np.where(self.available, values, np.inf).min(axis=1)
        return bool(np.any(masked_max > masked_min))

    def variable(self, name: str) -> np.ndarray:
        """Return one covariate, shape ``(n_obs, n_alts)``, naming the known ones if absent."""
        try:
            return self.variables[name]
        except KeyError:
            raise ChoiceDataError(
                f"variable {name!r} not found in the choice data; known variables: "
                f"{', '.join(map(repr, self.variables)) or 'none'}. Pass its column when "
                "building the data (the `variables`, `attributes` or `individual` argument)."
            ) from None

    def chosen_labels(self) -> np.ndarray:
        """Return the chosen alternative's label for each situation, shape ``(n_obs,)``."""
        return np.asarray(self.alternatives, dtype=object)[self.choice]

    def shares(self) -> pd.Series:
        """Return the observed (weighted) choice shares, labelled by alternative."""
        w = np.ones(self.n_obs) if self.weights is None else self.weights
        counts = np.bincount(self.choice, weights=w, minlength=self.n_alts)
        return pd.Series(counts / counts.sum(), index=list(self.alternatives), name="share")

    def subset(self, rows: np.ndarray) -> ChoiceData:
        """Return the situations selected by an integer index or boolean mask over ``n_obs``."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        return ChoiceData(
            obs_ids=self.obs_ids[rows],
            alternatives=self.alternatives,
            choice=self.choice[rows],
            available=self.available[rows],
            variables={k: v[rows] for k, v in self.variables.items()},
            panel_ids=None if self.panel_ids is None else self.panel_ids[rows],
            weights=None if self.weights is None else self.weights[rows],
            n_dropped=self.n_dropped,
            _sources=self._sources,
        )

    def __repr__(self) -> str:
        return (
            f"ChoiceData(n_obs={self.n_obs}, alternatives={list(self.alternatives)}, "
            f"variables={list(self.variables)}, panel={self.panel_ids is not None}, "
            f"weights={self.weights is not None})"
        )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_long(
        cls,
        frame: pd.DataFrame,
        *,
        obs: str,
        alt: str,
        chosen: str | None = None,
        choice: str | None = None,
        available: str | None = None,
        variables: Sequence[str] | None = None,
        panel: str | None = None,
        weights: str | None = None,
        alternatives: Sequence[Hashable] | None = None,
        missing: MissingPolicy = "raise",
    ) -> ChoiceData:
        """Build choice data from a long table: one row per choice situation and alternative.

        Args:
            frame: The table. Its index labels are used to name rows in error messages.
            obs: Column of choice-situation ids (any hashable type).
            alt: Column of alternative labels (any hashable type).
            chosen: Column flagging the chosen row with 1/True and the others with 0/False.
                Give exactly one of ``chosen`` and ``choice``.
            choice: Column holding, on every row of a situation, the chosen alternative's
                label.
            available: Optional 0/1 column; a row with 0 is an unavailable alternative. An
                alternative without a row in a situation is unavailable too.
            variables: Numeric covariate columns to keep; default all numeric columns not
                named in another argument.
            panel: Optional column of decision-maker ids (constant within a situation), used
                for cluster-robust standard errors and panel likelihoods.
            weights: Optional column of positive situation weights (constant within a
                situation).
            alternatives: The alternatives and their order. Default: the labels found in
                ``alt``, sorted when they are comparable. A listed alternative with no row
                in the data raises an error.
            missing: ``"raise"`` (default) reports every missing value by column and row;
                ``"drop"`` drops each choice situation with a missing value in a column it
                uses and warns how many were dropped.

        Returns:
            The validated :class:`ChoiceData`.

        Raises:
            ChoiceDataError: Listing every problem found, each with the column, the row or
                situation ids, and the fix.
        """
        _check_missing_policy(missing)
        if (chosen is None) == (choice is None):
            raise ChoiceDataError(
                "give exactly one of `chosen` (a 0/1 column flagging the chosen row) and "
                f"`choice` (a column holding the chosen alternative's label); got chosen={chosen!r}, "
                f"choice={choice!r}"
            )
        roles = {"obs": obs, "alt": alt, "chosen": chosen, "choice": choice,
                 "available": available, "panel": panel, "weights": weights}
        named = [c for c in roles.values() if c is not None]
        if variables is None:
            variables = [c for c in frame.columns if c not in named
                         and pd.api.types.is_numeric_dtype(frame[c])
                         and not pd.api.types.is_bool_dtype(frame[c])]
        variables = list(variables)
        _check_columns(frame, named + variables)
        _check_numeric(frame, variables, hint="encode it as numbers (for example with "
                       "pandas.get_dummies) or leave it out of `variables`")

        frame = _apply_missing_policy(
            frame, key_columns=[obs, alt], used_columns=[c for c in named if c not in (obs, alt)],
            variable_columns=variables, available=available, obs=obs, missing=missing)
        n_dropped = frame.attrs.get("n_dropped_situations", 0)

        problems: list[str] = []
        duplicated = frame.duplicated([obs, alt], keep=False)
        if duplicated.any():
            pairs = list(dict.fromkeys(zip(frame.loc[duplicated, obs], frame.loc[duplicated, alt])))
            problems.append(
                f"columns {obs!r} and {alt!r} repeat the same (situation, alternative) pair "
                f"in several rows: {_format_ids(pairs)}. Keep one row per pair.")

        found_alts = _sorted_labels(frame[alt].tolist())
        if alternatives is None:
            alt_labels = found_alts
        else:
            alt_labels = list(alternatives)
            absent = [a for a in alt_labels if a not in set(found_alts)]
            if absent:
                problems.append(
                    f"alternatives {_format_ids(absent)} are listed but have no rows in column "
                    f"{alt!r} (found: {_format_ids(found_alts)}). Remove them from "
                    "`alternatives` or the specification, or check the labels' type and spelling.")
            unknown = [a for a in found_alts if a not in set(alt_labels)]
            if unknown:
                problems.append(
                    f"column {alt!r} holds alternatives {_format_ids(unknown)} that are not in "
                    "`alternatives`. Add them to `alternatives` or drop their rows.")
        if problems:
            raise ChoiceDataError(_join_problems(problems))

        obs_codes, obs_uniques = pd.factorize(frame[obs], sort=False)
        alt_index = {label: j for j, label in enumerate(alt_labels)}
        alt_codes = frame[alt].map(alt_index).to_numpy(dtype=np.int64)
        n_obs, n_alts = len(obs_uniques), len(alt_labels)

        present = np.zeros((n_obs, n_alts), dtype=bool)
        present[obs_codes, alt_codes] = True
        avail = present.copy()
        if available is not None:
            flag = _as_flag(frame, available, problems)
            avail[obs_codes, alt_codes] = flag

        variable_arrays: dict[str, np.ndarray] = {}
        for name in variables:
            values = np.zeros((n_obs, n_alts))
            column = frame[name].to_numpy(dtype=np.float64)
            values[obs_codes, alt_codes] = np.where(np.isnan(column), 0.0, column)
            variable_arrays[name] = values

        if chosen is not None:
            flag = _as_flag(frame, chosen, problems)
            chosen_matrix = np.zeros((n_obs, n_alts), dtype=bool)
            chosen_matrix[obs_codes[flag], alt_codes[flag]] = True
            chosen_count = chosen_matrix.sum(axis=1)
            choice_index = np.argmax(chosen_matrix, axis=1)
            _check_chosen_counts(chosen_count, obs_uniques, chosen, problems)
        else:
            labels = frame.groupby(obs_codes, sort=True)[choice].agg(["nunique", "first"])
            inconsistent = labels.index[labels["nunique"].to_numpy() > 1]
            if len(inconsistent):
                problems.append(
                    f"column {choice!r} holds different chosen alternatives within situations "
                    f"{_format_ids(obs_uniques[inconsistent])}. Each situation needs one value.")
            chosen_labels = labels["first"].to_numpy()
            choice_index = np.array([alt_index.get(label, -1) for label in chosen_labels])
            unknown = np.flatnonzero(choice_index < 0)
            if len(unknown):
                problems.append(
                    f"column {choice!r} names alternatives that are not among "
                    f"{_format_ids(alt_labels)} in situations {_format_ids(obs_uniques[unknown])}. "
                    "Fix the labels or their type.")
            choice_index = np.where(choice_index < 0, 0, choice_index)

        panel_ids = _situation_constant(frame, panel, obs_codes, n_obs, obs_uniques, problems)
        weight_values = _situation_constant(frame, weights, obs_codes, n_obs, obs_uniques, problems)
        sources = {name: f"column {name!r}" for name in variables}
        if problems:
            raise ChoiceDataError(_join_problems(problems))
        return _finish(
            obs_ids=np.asarray([_native(v) for v in obs_uniques], dtype=object),
            alternatives=tuple(_native(a) for a in alt_labels), choice=choice_index,
            available=avail, variables=variable_arrays, panel_ids=panel_ids,
            weights=weight_values, weights_column=weights, n_dropped=n_dropped,
            sources=sources, choice_column=chosen or choice)

    @classmethod
    def from_wide(
        cls,
        frame: pd.DataFrame,
        *,
        choice: str,
        alternatives: Sequence[Hashable] | Mapping[Hashable, Any],
        attributes: Mapping[str, Mapping[Hashable, str]] | None = None,
        availability: Mapping[Hashable, str] | None = None,
        individual: Sequence[str] | None = None,
        obs: str | None = None,
        panel: str | None = None,
        weights: str | None = None,
        missing: MissingPolicy = "raise",
    ) -> ChoiceData:
        """Build choice data from a wide table: one row per choice situation.

        Args:
            frame: The table. Its index labels name rows in error messages.
            choice: Column holding the chosen alternative, as a label or as a code (see
                ``alternatives``).
            alternatives: Either the labels, when the ``choice`` column holds them, or a
                mapping from label to the code used in the ``choice`` column, e.g.
                ``{"train": 1, "sm": 2, "car": 3}``. Its order is the order of alternatives.
            attributes: Alternative-varying attributes: name -> {alternative label -> column}.
                An alternative missing from the inner mapping gets 0 for that attribute.
            availability: Optional {alternative label -> 0/1 column}; an alternative without
                a column is always available.
            individual: Alternative-invariant columns (income, age, ...).
            obs: Optional column of situation ids; default the frame's index.
            panel: Optional column of decision-maker ids.
            weights: Optional column of positive situation weights.
            missing: ``"raise"`` or ``"drop"``, as in :meth:`from_long`.

        Returns:
            The validated :class:`ChoiceData`.

        Raises:
            ChoiceDataError: Listing every problem found, each with the column, rows and fix.
        """
        _check_missing_policy(missing)
        if isinstance(alternatives, Mapping):
            alt_labels = list(alternatives)
            codes = dict(alternatives)
        else:
            alt_labels = list(alternatives)
            codes = {a: a for a in alt_labels}
        attributes = dict(attributes or {})
        availability = dict(availability or {})
        individual = list(individual or [])
        problems: list[str] = []
        for name, by_alt in attributes.items():
            unknown = [a for a in by_alt if a not in codes]
            if unknown:
                problems.append(f"attribute {name!r} names alternatives {_format_ids(unknown)} "
                                f"that are not in `alternatives` ({_format_ids(alt_labels)}).")
        unknown = [a for a in availability if a not in codes]
        if unknown:
            problems.append(f"`availability` names alternatives {_format_ids(unknown)} that are "
                            f"not in `alternatives` ({_format_ids(alt_labels)}).")
        if problems:
            raise ChoiceDataError(_join_problems(problems))

        attribute_columns = [c for by_alt in attributes.values() for c in by_alt.values()]
        named = [c for c in (choice, obs, panel, weights) if c is not None]
        _check_columns(frame, named + attribute_columns + list(availability.values()) + individual)
        _check_numeric(frame, attribute_columns + individual,
                       hint="encode it as numbers (for example with pandas.get_dummies)")

        # Missing attribute values of an unavailable alternative are harmless: they are masked.
        avail = np.ones((len(frame), len(alt_labels)), dtype=bool)
        for j, label in enumerate(alt_labels):
            column = availability.get(label)
            if column is not None:
                values = frame[column]
                avail[:, j] = values.fillna(1).to_numpy() != 0  # a missing flag is reported below
        missing_mask = np.zeros(len(frame), dtype=bool)
        missing_report: list[tuple[str, np.ndarray]] = []
        required = named + list(availability.values()) + individual
        for column in required:
            rows = frame[column].isna().to_numpy()
            if rows.any():
                missing_report.append((column, rows))
        for by_alt in attributes.values():
            for label, column in by_alt.items():
                rows = frame[column].isna().to_numpy() & avail[:, alt_labels.index(label)]
                if rows.any():
                    missing_report.append((column, rows))
        for _, rows in missing_report:
            missing_mask |= rows
        n_dropped = 0
        if missing_report:
            if missing == "raise":
                raise ChoiceDataError(_join_problems([
                    _missing_message(column, frame.index[rows]) for column, rows in missing_report]))
            n_dropped = int(missing_mask.sum())
            frame = frame.loc[~missing_mask]
            avail = avail[~missing_mask]
            warnings.warn(_dropped_message(n_dropped, [c for c, _ in missing_report]),
                          DroppedDataWarning, stacklevel=2)

        obs_ids = frame.index.to_numpy() if obs is None else frame[obs].to_numpy()
        if pd.Index(obs_ids).has_duplicates:
            dupes = pd.Index(obs_ids)[pd.Index(obs_ids).duplicated()].unique()
            problems.append(f"situation ids {_format_ids(list(dupes))} appear in several rows "
                            f"of {'the index' if obs is None else repr(obs)}; in a wide table "
                            "each situation is one row.")
        code_to_index = {code: j for j, code in enumerate(codes[a] for a in alt_labels)}
        raw_choice = frame[choice].to_numpy()
        choice_index = np.array([code_to_index.get(_native(v), -1) for v in raw_choice])
        unknown_rows = np.flatnonzero(choice_index < 0)
        if len(unknown_rows):
            values = list(dict.fromkeys(_native(v) for v in raw_choice[unknown_rows]))
            problems.append(
                f"column {choice!r} holds values {_format_ids(values)} that are not codes of "
                f"the alternatives {codes} (rows {_format_ids(frame.index[unknown_rows])}). "
                "Map every value to an alternative in `alternatives`, or drop those rows.")
        choice_index = np.where(choice_index < 0, 0, choice_index)

        n_obs = len(frame)
        variable_arrays: dict[str, np.ndarray] = {}
        sources: dict[str, str] = {}
        for name, by_alt in attributes.items():
            values = np.zeros((n_obs, len(alt_labels)))
            for label, column in by_alt.items():
                j = alt_labels.index(label)
                values[:, j] = np.nan_to_num(frame[column].to_numpy(dtype=np.float64))
            variable_arrays[name] = np.where(avail, values, 0.0)
            sources[name] = "columns " + ", ".join(repr(c) for c in by_alt.values())
        for name in individual:
            if name in variable_arrays:
                problems.append(f"{name!r} is both an attribute and an individual variable; "
                                "rename one of them.")
            column = frame[name].to_numpy(dtype=np.float64)
            variable_arrays[name] = np.repeat(column[:, None], len(alt_labels), axis=1)
            sources[name] = f"column {name!r}"

        panel_ids = None if panel is None else frame[panel].to_numpy()
        weight_values = None if weights is None else frame[weights].to_numpy(dtype=np.float64)
        if problems:
            raise ChoiceDataError(_join_problems(problems))
        return _finish(
            obs_ids=np.asarray([_native(v) for v in obs_ids], dtype=object),
            alternatives=tuple(_native(a) for a in alt_labels), choice=choice_index,
            available=avail, variables=variable_arrays, panel_ids=panel_ids,
            weights=weight_values, weights_column=weights, n_dropped=n_dropped,
            sources=sources, choice_column=choice)

    @classmethod
    def from_arrays(
        cls,
        choice: np.ndarray,
        variables: Mapping[str, np.ndarray],
        *,
        available: np.ndarray | None = None,
        alternatives: Sequence[Hashable] | None = None,
        obs_ids: Sequence[Hashable] | None = None,
        panel_ids: np.ndarray | None = None,
        weights: np.ndarray | None = None,
    ) -> ChoiceData:
        """Build choice data from arrays, for simulations.

        Args:
            choice: Chosen alternative index, shape ``(n_obs,)``.
            variables: Covariates by name, each of shape ``(n_obs, n_alts)`` or ``(n_obs,)``
                for an alternative-invariant one.
            available: Boolean mask ``(n_obs, n_alts)``; default all available.
            alternatives: Labels; default ``0 .. n_alts - 1``.
            obs_ids: Situation ids; default ``0 .. n_obs - 1``.
            panel_ids: Decision-maker ids, shape ``(n_obs,)``.
            weights: Situation weights, shape ``(n_obs,)``.
        """
        choice = np.asarray(choice, dtype=np.int64)
        n_obs = choice.shape[0]
        n_alts = None
        if available is not None:
            n_alts = np.shape(available)[1]
        for value in variables.values():
            if np.ndim(value) == 2:
                n_alts = np.shape(value)[1]
        if n_alts is None:
            n_alts = int(choice.max()) + 1 if alternatives is None else len(alternatives)
        arrays = {}
        for name, value in variables.items():
            value = np.asarray(value, dtype=np.float64)
            if value.ndim == 1:
                value = np.repeat(value[:, None], n_alts, axis=1)
            if value.shape != (n_obs, n_alts):
                raise ChoiceDataError(f"variable {name!r} has shape {value.shape}; expected "
                                      f"(n_obs, n_alts) = {(n_obs, n_alts)} or (n_obs,)")
            arrays[name] = value
        avail = np.ones((n_obs, n_alts), bool) if available is None else np.asarray(available, bool)
        labels = tuple(range(n_alts)) if alternatives is None else tuple(alternatives)
        ids = np.arange(n_obs).astype(object) if obs_ids is None else np.asarray(obs_ids, object)
        if np.any((choice < 0) | (choice >= n_alts)):
            bad = np.flatnonzero((choice < 0) | (choice >= n_alts))
            raise ChoiceDataError(f"invalid `choice`: indices outside 0..{n_alts - 1} at rows "
                                  f"{_format_ids(bad)}")
        return _finish(obs_ids=ids, alternatives=labels, choice=choice, available=avail,
                       variables=arrays, panel_ids=None if panel_ids is None else np.asarray(panel_ids),
                       weights=None if weights is None else np.asarray(weights, np.float64),
                       weights_column="weights", n_dropped=0,
                       sources={k: f"array {k!r}" for k in arrays}, choice_column="choice")


# ---------------------------------------------------------------------- validation helpers
def _check_missing_policy(missing: str) -> None:
    if missing not in _MISSING_POLICIES:
        raise ValueError(f"invalid `missing`={missing!r}; expected one of {_MISSING_POLICIES}")


def _join_problems(problems: list[str]) -> str:
    if len(problems) == 1:
        return "invalid choice data: " + problems[0]
    return "invalid choice data:\n" + "\n".join(f"  - {p}" for p in problems)


def _check_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    absent = [c for c in dict.fromkeys(columns) if c not in frame.columns]
    if absent:
        raise ChoiceDataError(
            f"columns {_format_ids(absent)} not found in the table; its columns are "
            f"{_format_ids(list(frame.columns))}. Check the spelling or rename them.")


def _check_numeric(frame: pd.DataFrame, columns: Sequence[str], hint: str) -> None:
    problems = []
    for column in dict.fromkeys(columns):
        series = frame[column]
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            if pd.api.types.is_bool_dtype(series):
                continue
            examples = list(dict.fromkeys(series.dropna().astype(str).tolist()))[:3]
            problems.append(f"column {column!r} is not numeric (dtype {series.dtype}, values such "
                            f"as {_format_ids(examples)}); {hint}.")
    if problems:
        raise ChoiceDataError(_join_problems(problems))


def _missing_message(column: str, row_labels: Sequence[Any], situations: Sequence[Any] = ()) -> str:
    where = f"rows {_format_ids(list(row_labels))}"
    if len(situations):
        where += f" (situations {_format_ids(list(situations))})"
    return (f"column {column!r} has {len(row_labels)} missing values at {where}. Fill them, drop "
            "those rows, or pass missing='drop' to drop the whole choice situations.")


def _dropped_message(n_dropped: int, columns: Sequence[str]) -> str:
    return (f"dropped {n_dropped} choice situations with missing values in columns "
            f"{_format_ids(list(dict.fromkeys(columns)))} (missing='drop')")


def _apply_missing_policy(frame, *, key_columns, used_columns, variable_columns, available, obs,
                          missing):
    """Report or drop missing values of a long table; missing covariates of unavailable rows pass."""
    report: list[tuple[str, np.ndarray]] = []
    for column in key_columns + used_columns:
        rows = frame[column].isna().to_numpy()
        if rows.any():
            report.append((column, rows))
    usable = np.ones(len(frame), dtype=bool)
    if available is not None:
        usable = frame[available].fillna(1).to_numpy() != 0
    for column in variable_columns:
        rows = frame[column].isna().to_numpy() & usable
        if rows.any():
            report.append((column, rows))
    if not report:
        return frame
    if missing == "raise":
        raise ChoiceDataError(_join_problems([
            _missing_message(column, frame.index[rows], frame.loc[rows, obs].dropna().unique())
            for column, rows in report]))
    bad_rows = np.zeros(len(frame), dtype=bool)
    for _, rows in report:
        bad_rows |= rows
    bad_situations = frame.loc[bad_rows, obs].dropna().unique()
    keep = ~frame[obs].isin(bad_situations).to_numpy() & ~frame[obs].isna().to_numpy()
    n_dropped = len(bad_situations) + int(frame.loc[bad_rows, obs].isna().any())
    warnings.warn(_dropped_message(n_dropped, [c for c, _ in report]), DroppedDataWarning,
                  stacklevel=3)
    kept = frame.loc[keep].copy()
    kept.attrs["n_dropped_situations"] = n_dropped
    return kept


def _as_flag(frame: pd.DataFrame, column: str, problems: list[str]) -> np.ndarray:
    values = frame[column]
    valid = values.isin([0, 1, True, False])
    if not valid.all():
        bad = frame.index[~valid.to_numpy()]
        problems.append(
            f"column {column!r} must hold 0/1 or True/False; rows {_format_ids(list(bad))} hold "
            f"{_format_ids(list(dict.fromkeys(values[~valid].tolist())))}.")
        return np.zeros(len(frame), dtype=bool)
    return values.to_numpy().astype(bool)


def _check_chosen_counts(count, obs_uniques, column, problems) -> None:
    none = np.flatnonzero(count == 0)
    if len(none):
        problems.append(f"situations {_format_ids(list(obs_uniques[none]))} have no row with "
                        f"{column!r} = 1. Each situation needs exactly one chosen alternative.")
    several = np.flatnonzero(count > 1)
    if len(several):
        problems.append(f"situations {_format_ids(list(obs_uniques[several]))} have several rows "
                        f"with {column!r} = 1. Each situation needs exactly one chosen alternative.")


def _situation_constant(frame, column, obs_codes, n_obs, obs_uniques, problems):
    """Collapse a column that must be constant within each situation to shape ``(n_obs,)``."""
    if column is None:
        return None
    grouped = frame.groupby(obs_codes, sort=True)[column]
    varying = np.flatnonzero(grouped.nunique().to_numpy() > 1)
    if len(varying):
        problems.append(f"column {column!r} changes within situations "
                        f"{_format_ids(list(obs_uniques[varying]))}; it must be constant "
                        "within a choice situation.")
    return grouped.first().to_numpy()


def _finish(*, obs_ids, alternatives, choice, available, variables, panel_ids, weights,
            weights_column, n_dropped, sources, choice_column) -> ChoiceData:
    """Run the checks shared by every constructor and freeze the arrays."""
    problems: list[str] = []
    n_obs = len(obs_ids)
    empty = np.flatnonzero(~available.any(axis=1))
    if len(empty):
        problems.append(f"situations {_format_ids(list(obs_ids[empty]))} have no available "
                        "alternative. Drop them or fix the availability column.")
    chosen_unavailable = np.flatnonzero(~available[np.arange(n_obs), choice])
    chosen_unavailable = np.setdiff1d(chosen_unavailable, empty)
    if len(chosen_unavailable):
        details = [f"{obs_ids[i]!r} chose {alternatives[choice[i]]!r}" if isinstance(obs_ids[i], str)
                   else f"{obs_ids[i]} chose {alternatives[choice[i]]!r}"
                   for i in chosen_unavailable[:_MAX_LISTED]]
        more = len(chosen_unavailable) - _MAX_LISTED
        problems.append("the chosen alternative is unavailable in situations "
                        + "; ".join(details) + (f" and {more} more" if more > 0 else "")
                        + f" (choice column {choice_column!r}). Fix the availability or the choice.")
    if weights is not None:
        bad = np.flatnonzero(~np.isfinite(weights) | (weights <= 0))
        if len(bad):
            problems.append(f"column {weights_column!r} must hold positive finite weights; "
                            f"situations {_format_ids(list(obs_ids[bad]))} hold "
                            f"{_format_ids(list(dict.fromkeys(weights[bad].tolist())))}.")
    for name, values in variables.items():
        bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
        if len(bad):
            problems.append(f"variable {name!r} ({sources.get(name, name)}) has infinite values in "
                            f"situations {_format_ids(list(obs_ids[bad]))}.")
    if problems:
        raise ChoiceDataError(_join_problems(problems))
    for values in variables.values():
        values.setflags(write=False)
    available = np.ascontiguousarray(available, dtype=bool)
    available.setflags(write=False)
    choice = np.asarray(choice, dtype=np.int64)
    choice.setflags(write=False)
    return ChoiceData(obs_ids=obs_ids, alternatives=alternatives, choice=choice,
                      available=available, variables=dict(variables), panel_ids=panel_ids,
                      weights=weights, n_dropped=n_dropped, _sources=dict(sources))
