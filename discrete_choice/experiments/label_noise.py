r"""Controlled label noise: why the temperature of the heteroscedastic softmax matters.

The experiment follows the design of Collier, Mustafa and Berent (2020), "A simple
probabilistic method for deep classification under input-dependent label noise"
(arXiv:2003.06778): corrupt the labels of a classification dataset with a probability that
depends on the true class, so the noise is input-dependent, then compare

* a homoscedastic softmax network, ``P = softmax(mu(x))``, and
* the heteroscedastic network ``P = (1/S) sum_s softmax((mu(x) + sigma(x) * u_s) / tau)`` with
  Normal ``u_s`` (a :class:`~discrete_choice.NeuralChoiceModel` with the
  :class:`~discrete_choice.Smoothed` simulator),

over a grid of temperatures ``tau`` and numbers of training draws ``S``, with every model
evaluated with ``eval_draws`` draws on a test set corrupted the same way. Their abstract
reports that the temperature controls a bias-variance trade-off whose optimum is not always
at 1. Because more draws lower the variance of the simulated likelihood, the trade-off also
predicts a lower best temperature for more training draws.

Every seed fixes the split, the corruption, the network initialisation and the key schedule of
every method, so results are paired across methods and the comparison uses the paired t-test.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import numpy as np
import pandas as pd
import scipy.stats

from discrete_choice.inference.train import TrainOptions, train
from discrete_choice.models.neural import NetworkConfig, NeuralChoiceModel, classification_data
from discrete_choice.simulators import Exact, Smoothed

__all__ = [
    "DIGITS_FLIP_PROBABILITY",
    "LabelCorruption",
    "LabelNoiseConfig",
    "LabelNoiseResults",
    "corrupt_labels",
    "load_digits",
    "run_label_noise_experiment",
]

DIGITS_FLIP_PROBABILITY = (0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.3, 0.4, 0.5, 0.6)
"""Relabelling probability of each digit class: 0-4 untouched, 5-9 from 0.2 up to 0.6."""

HOMOSCEDASTIC = "homoscedastic"
HETEROSCEDASTIC = "heteroscedastic"


class LabelCorruption(NamedTuple):
    """Corrupted labels and which of them were redrawn.

    Attributes:
        labels: ``(n_obs,)`` labels after corruption.
        redrawn: ``(n_obs,)`` boolean, True where the label was redrawn uniformly at random
            (it may have been redrawn to its original value).
    """

    labels: np.ndarray
    redrawn: np.ndarray


def corrupt_labels(labels: Any, flip_probability: Sequence[float], *, key: Any,
                   n_classes: int | None = None) -> LabelCorruption:
    """Relabel each example of class ``k`` uniformly at random with probability ``p_k``.

    Example ``n`` with true class ``y_n`` is redrawn with probability ``p_{y_n}``. A redrawn
    label is uniform over all ``n_classes`` classes, the original included, so the label
    changes with probability ``p_k (K - 1) / K``. The noise depends on the class, hence on the
    input. Deterministic in ``key``.

    Args:
        labels: ``(n_obs,)`` integer labels in ``0 .. n_classes - 1``.
        flip_probability: ``(n_classes,)`` probabilities ``p_k`` in [0, 1].
        key: JAX PRNG key or ``int`` seed.
        n_classes: Number of classes; default ``len(flip_probability)``.
    """
    labels = np.asarray(labels)
    probability = np.asarray(flip_probability, dtype=np.float64)
    n_classes = len(probability) if n_classes is None else int(n_classes)
    if probability.shape != (n_classes,):
        raise ValueError(f"flip_probability must have one entry per class ({n_classes}); got "
                         f"shape {probability.shape}")
    if np.any((probability < 0) | (probability > 1)):
        raise ValueError(f"flip_probability entries must lie in [0, 1]; got {probability}")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-d integer array; got dtype {labels.dtype} and "
                         f"shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in 0..{n_classes - 1}; got values from "
                         f"{labels.min()} to {labels.max()}")
    key = jax.random.key(key) if isinstance(key, (int, np.integer)) else key
    key_redraw, key_class = jax.random.split(key)
    uniform = np.asarray(jax.random.uniform(key_redraw, labels.shape))
    replacement = np.asarray(jax.random.randint(key_class, labels.shape, 0, n_classes))
    redrawn = uniform < probability[labels]
    return LabelCorruption(np.where(redrawn, replacement, labels).astype(labels.dtype), redrawn)


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Return scikit-learn's 8x8 handwritten digits: features ``(1797, 64)`` in [0, 1], labels.

    The data ships with scikit-learn (no download); pixel intensities 0..16 are divided by 16.
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as error:
        raise ImportError("the digits data needs scikit-learn: pip install "
                          "'discrete_choice[experiments]'") from error
    bunch = sklearn_digits()
    return bunch.data / 16.0, bunch.target.astype(np.int64)


@dataclass(frozen=True)
class LabelNoiseConfig:
    """Size and settings of the label-noise experiment.

    Attributes:
        temperatures: Grid of ``tau`` for the heteroscedastic network; must contain 1.
        train_draws: Numbers of training draws ``S``.
        eval_draws: Draws used for validation and test evaluation.
        seeds: Seeds, each one paired replicate (split, corruption, initialisation, keys).
        flip_probability: Relabelling probability of each class.
        hidden: Hidden-layer widths of both networks.
        activation: Nonlinearity of the hidden layers.
        scale_floor: Smallest noise scale of the heteroscedastic network.
        learning_rate: Adam step size.
        batch_size: Examples per step.
        max_epochs: Maximum epochs per fit.
        patience: Early-stopping patience on the validation log-loss.
        validation_share: Share of the examples in the validation set.
        test_share: Share of the examples in the test set.
        scheme: Draw scheme of the :class:`~discrete_choice.Smoothed` simulator.
    """

    temperatures: tuple[float, ...] = tuple(float(t) for t in np.logspace(-2, 2, 9))
    train_draws: tuple[int, ...] = (1, 10, 100, 1000)
    eval_draws: int = 1000
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    flip_probability: tuple[float, ...] = DIGITS_FLIP_PROBABILITY
    hidden: tuple[int, ...] = (128,)
    activation: str = "relu"
    scale_floor: float = 1e-3
    learning_rate: float = 1e-3
    batch_size: int = 128
    max_epochs: int = 200
    patience: int = 20
    validation_share: float = 0.2
    test_share: float = 0.2
    scheme: str = "pseudo"

    def __post_init__(self) -> None:
        for name in ("temperatures", "train_draws", "seeds", "flip_probability", "hidden"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not any(math.isclose(t, 1.0) for t in self.temperatures):
            raise ValueError(f"temperatures must contain 1 (the reference of the paired test); "
                             f"got {self.temperatures}")
        if any(not t > 0 for t in self.temperatures):
            raise ValueError(f"temperatures must be > 0; got {self.temperatures}")
        if len(self.seeds) < 2:
            raise ValueError(f"the paired t-test needs at least 2 seeds; got seeds={self.seeds}")
        if not (0 < self.validation_share and 0 < self.test_share
                and self.validation_share + self.test_share < 1):
            raise ValueError(f"validation_share and test_share must be positive and sum below 1; "
                             f"got {self.validation_share} and {self.test_share}")

    def describe(self) -> str:
        """Return one line stating the size of the run (seeds, epochs, grid)."""
        taus = ", ".join(f"{t:g}" for t in self.temperatures)
        return (f"{len(self.seeds)} seeds {list(self.seeds)}; tau in {{{taus}}}; training draws "
                f"{list(self.train_draws)}; {self.eval_draws} evaluation draws; hidden "
                f"{list(self.hidden)}; up to {self.max_epochs} epochs, patience {self.patience}, "
                f"batch {self.batch_size}, Adam learning rate {self.learning_rate:g}")


@dataclass(frozen=True)
class LabelNoiseResults:
    """Per-run results of the experiment.

    Attributes:
        runs: One row per (seed, method, training draws, tau) with columns ``seed``,
            ``method``, ``train_draws`` (0 for the homoscedastic network), ``tau`` (NaN for
            it), ``validation_log_loss``, ``test_log_loss``, ``test_accuracy``, ``epochs``,
            ``best_epoch`` and ``seconds``.
        config: The configuration that produced them.
    """

    runs: pd.DataFrame
    config: LabelNoiseConfig = field(repr=False)

    def summary(self) -> pd.DataFrame:
        """Mean and standard error over seeds by method, training draws and tau."""
        metrics = ["validation_log_loss", "test_log_loss", "test_accuracy"]
        grouped = self.runs.fillna({"tau": 0.0}).groupby(["method", "train_draws", "tau"])
        table = grouped[metrics].agg(["mean", "sem"])
        table.columns = [f"{metric}_{stat}" for metric, stat in table.columns]
        return table.reset_index().replace({"tau": {0.0: np.nan}})

    def best_temperatures(self) -> pd.Series:
        """Tau with the lowest mean validation log-loss, by number of training draws."""
        het = self.runs[self.runs.method == HETEROSCEDASTIC]
        means = het.groupby(["train_draws", "tau"]).validation_log_loss.mean().reset_index()
        best = means.loc[means.groupby("train_draws").validation_log_loss.idxmin()]
        return best.set_index("train_draws").tau.rename("best_tau")

    def paired_tests(self) -> pd.DataFrame:
        """Paired t-tests, over seeds, of the best-on-validation tau against tau = 1 and against
        the homoscedastic network, on test log-loss and test accuracy, by training draws.

        Differences are ``best - reference`` (negative log-loss differences favour the best
        tau). A t statistic is NaN when the two columns are identical (best tau is 1).
        """
        het = self.runs[self.runs.method == HETEROSCEDASTIC]
        homo = self.runs[self.runs.method == HOMOSCEDASTIC].set_index("seed").sort_index()
        rows = []
        for draws, best_tau in self.best_temperatures().items():
            at = het[het.train_draws == draws]
            best = at[np.isclose(at.tau, best_tau)].set_index("seed").sort_index()
            unit = at[np.isclose(at.tau, 1.0)].set_index("seed").sort_index()
            row: dict[str, Any] = {"train_draws": draws, "best_tau": best_tau}
            for metric in ("test_log_loss", "test_accuracy"):
                row[f"{metric}_best"] = best[metric].mean()
                for name, reference in (("tau1", unit), ("homoscedastic", homo)):
                    difference = best[metric].to_numpy() - reference.loc[best.index, metric].to_numpy()
                    row[f"{metric}_{name}"] = reference.loc[best.index, metric].mean()
                    row[f"{metric}_diff_{name}"] = difference.mean()
                    if np.allclose(difference, 0.0):
                        statistic, p_value = np.nan, np.nan
                    else:
                        test = scipy.stats.ttest_rel(best[metric].to_numpy(),
                                                     reference.loc[best.index, metric].to_numpy())
                        statistic, p_value = float(test.statistic), float(test.pvalue)
                    row[f"{metric}_t_{name}"] = statistic
                    row[f"{metric}_p_{name}"] = p_value
            rows.append(row)
        return pd.DataFrame(rows)


def _split(n_obs: int, config: LabelNoiseConfig, seed: int):
    order = np.random.default_rng(seed).permutation(n_obs)
    n_test = int(round(config.test_share * n_obs))
    n_validation = int(round(config.validation_share * n_obs))
    return (np.sort(order[n_test + n_validation:]), np.sort(order[n_test:n_test + n_validation]),
            np.sort(order[:n_test]))


def _standardise(features: np.ndarray, train_rows: np.ndarray) -> np.ndarray:
    mean = features[train_rows].mean(axis=0)
    std = features[train_rows].std(axis=0)
    return (features - mean) / np.where(std > 0, std, 1.0)


def run_label_noise_experiment(
    config: LabelNoiseConfig | None = None,
    features: Any = None,
    labels: Any = None,
    *,
    progress: bool = False,
    on_run: Callable[[dict[str, Any]], None] | None = None,
) -> LabelNoiseResults:
    """Run the homoscedastic network and the heteroscedastic grid over every seed.

    Args:
        config: Size and settings (:class:`LabelNoiseConfig`); default the full experiment.
        features: ``(n_obs, n_features)`` inputs; default :func:`load_digits`.
        labels: ``(n_obs,)`` clean labels.
        progress: Show a progress bar for each fit.
        on_run: Called with each finished run's row (for logging long runs).

    For each seed the examples are split into train, validation and test sets, all three
    corrupted with :func:`corrupt_labels` (so the test set is corrupted the same way), and the
    features standardised with the training mean and standard deviation.
    """
    config = config or LabelNoiseConfig()
    if features is None:
        features, labels = load_digits()
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    n_classes = len(config.flip_probability)
    rows: list[dict[str, Any]] = []

    def record(row: dict[str, Any]) -> None:
        rows.append(row)
        if on_run is not None:
            on_run(row)

    for seed in config.seeds:
        train_rows, validation_rows, test_rows = _split(len(labels), config, seed)
        noisy = corrupt_labels(labels, config.flip_probability, key=seed,
                               n_classes=n_classes).labels
        data = classification_data(_standardise(features, train_rows), noisy,
                                   n_classes=n_classes)
        splits = {name: data.subset(rows_) for name, rows_ in
                  (("train", train_rows), ("validation", validation_rows), ("test", test_rows))}
        network = NetworkConfig(hidden=config.hidden, activation=config.activation,
                                init_seed=seed)
        options = TrainOptions(learning_rate=config.learning_rate, batch_size=config.batch_size,
                               max_epochs=config.max_epochs, patience=config.patience,
                               eval_draws=config.eval_draws, seed=seed, progress=progress)

        homoscedastic = NeuralChoiceModel(features=data.variable_names, network=network,
                                          noise="gumbel", simulator=Exact())
        record(_fit_and_score(homoscedastic, splits, options, seed, HOMOSCEDASTIC, 0, np.nan))

        heteroscedastic_network = dataclasses.replace(network, scale_head="per_alternative",
                                                      scale_floor=config.scale_floor)
        for n_draws in config.train_draws:
            for tau in config.temperatures:
                model = NeuralChoiceModel(
                    features=data.variable_names, network=heteroscedastic_network,
                    noise="normal",
                    simulator=Smoothed(tau=float(tau), n_draws=int(n_draws),
                                       scheme=config.scheme, key=seed))
                record(_fit_and_score(model, splits, dataclasses.replace(
                    options, train_draws=int(n_draws)), seed, HETEROSCEDASTIC, n_draws, tau))
    return LabelNoiseResults(pd.DataFrame(rows), config)


def _fit_and_score(model, splits, options, seed, method, n_draws, tau) -> dict[str, Any]:
    started = time.perf_counter()
    result = train(model, splits["train"], validation=splits["validation"], options=options)
    log_p = result.log_probabilities(splits["test"])
    test = splits["test"]
    return {
        "seed": seed,
        "method": method,
        "train_draws": int(n_draws),
        "tau": float(tau),
        "validation_log_loss": float(result.validation_loss[result.best_epoch]),
        "test_log_loss": float(-np.mean(log_p[np.arange(test.n_obs), test.choice])),
        "test_accuracy": float(np.mean(np.argmax(log_p, axis=1) == test.choice)),
        "epochs": result.epochs_run,
        "best_epoch": result.best_epoch,
        "seconds": time.perf_counter() - started,
    }
