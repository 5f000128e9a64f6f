"""Experiments that exercise the library end to end (controlled label noise)."""

from discrete_choice.experiments.label_noise import (
    DIGITS_FLIP_PROBABILITY,
    LabelCorruption,
    LabelNoiseConfig,
    LabelNoiseResults,
    corrupt_labels,
    load_digits,
    run_label_noise_experiment,
)

__all__ = [
    "DIGITS_FLIP_PROBABILITY",
    "LabelCorruption",
    "LabelNoiseConfig",
    "LabelNoiseResults",
    "corrupt_labels",
    "load_digits",
    "run_label_noise_experiment",
]
