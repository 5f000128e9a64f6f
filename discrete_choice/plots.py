"""Plots of the temperature tables: a quantity against ``tau`` on a log axis, one line per ``S``.

matplotlib is imported when a function is called, not when this module is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = ["plot_temperature"]

Band = Literal["se", "sd", "none"]
_BANDS = ("se", "sd", "none")


def _summarise(frame: pd.DataFrame, y: str, group: str, x: str) -> pd.DataFrame:
    """Mean, standard deviation and standard error of ``y`` per ``(group, x)``."""
    grouped = frame.groupby([group, x])[y]
    summary = grouped.agg(["mean", "std", "count"]).reset_index()
    summary["se"] = summary["std"] / np.sqrt(summary["count"])
    return summary


def plot_temperature(
    frame: pd.DataFrame,
    y: str,
    *,
    x: str = "tau",
    group: str = "n_draws",
    band: Band = "se",
    band_width: float = 2.0,
    ax: Any = None,
    reference: float | None = None,
    label_format: str = "S = {}",
    groups: Sequence[Any] | None = None,
):
    r"""Plot column ``y`` of a temperature table against ``tau`` on a log axis, one line per ``S``.

    Rows that share ``(group, x)`` (one per key, or per fold) are averaged and the band is
    the mean plus or minus ``band_width`` standard errors (``band="se"``: Monte Carlo error of
    the mean) or standard deviations (``band="sd"``: spread of one run). When the table
    already has one row per ``(group, x)`` and a column ``y + "_se"`` (as
    :func:`~discrete_choice.temperature.simulator_bias_variance` gives for ``loglik_bias``),
    that column is the standard error.

    Args:
        frame: Output of :func:`~discrete_choice.temperature.temperature_sweep`,
            :func:`~discrete_choice.temperature.simulator_bias_variance` or the ``sweep`` of
            :func:`~discrete_choice.temperature.tune_temperature`.
        y: Column to plot, for example ``"validation_loglik"`` or ``"grad_variance"``.
        x: Column on the horizontal, log-scaled axis.
        group: Column with one line per value.
        band: ``"se"``, ``"sd"`` or ``"none"``.
        band_width: Half-width of the band in standard errors or deviations.
        ax: A matplotlib ``Axes``; ``None`` creates a new figure.
        reference: Draw a horizontal dashed line at this value (for example 0 for a bias).
        label_format: Legend label of a line, formatted with the group value.
        groups: Values of ``group`` to draw, in order; default all, sorted.

    Returns:
        The matplotlib ``Axes``.
    """
    if band not in _BANDS:
        raise ValueError(f"invalid band={band!r}; expected one of {_BANDS}")
    for column in (x, y, group):
        if column not in frame.columns:
            raise ValueError(f"column {column!r} is not in the table; its columns are "
                             f"{list(frame.columns)}")
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))

    summary = _summarise(frame, y, group, x)
    given_se = y + "_se"
    if given_se in frame.columns and int(summary["count"].max()) == 1:
        merged = summary.merge(frame[[group, x, given_se]], on=[group, x])
        summary["se"] = merged[given_se].to_numpy()
    values = sorted(summary[group].unique()) if groups is None else list(groups)
    for value in values:
        rows = summary[summary[group] == value].sort_values(x)
        if rows.empty:
            raise ValueError(f"{group}={value!r} has no rows in the table")
        (line,) = ax.plot(rows[x], rows["mean"], marker="o", label=label_format.format(value))
        if band != "none":
            half = band_width * rows[band].fillna(0.0).to_numpy()
            ax.fill_between(rows[x], rows["mean"] - half, rows["mean"] + half,
                            color=line.get_color(), alpha=0.2, linewidth=0)
    if reference is not None:
        ax.axhline(reference, color="0.4", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel(r"temperature $\tau$" if x == "tau" else x)
    ax.set_ylabel(y)
    ax.legend(title=None)
    return ax
