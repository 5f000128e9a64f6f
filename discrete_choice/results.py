"""Results of a maximum-likelihood fit: estimates, inference, fit statistics, presentation."""

from __future__ import annotations

import json
import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.stats

__all__ = ["MLEResults"]

CovType = Literal["classical", "robust", "cluster"]
_COV_TYPES = ("classical", "robust", "cluster")
_FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class MLEResults:
    r"""A fitted choice model: estimates labelled by parameter, inference and fit statistics.

    Fit statistics, with :math:`\ell` the log-likelihood at the optimum, :math:`\ell_0` at
    zero (equal shares over the available alternatives), :math:`\ell_c` of the constants-only
    logit, :math:`K` parameters and :math:`N` choice situations:

    - ``rho_squared`` :math:`= 1 - \ell/\ell_0`; ``adjusted_rho_squared``
      :math:`= 1 - (\ell - K)/\ell_0`; ``rho_squared_constants`` :math:`= 1 - \ell/\ell_c`;
    - ``aic`` :math:`= 2K - 2\ell`; ``bic`` :math:`= K \log N - 2\ell`.

    A parameter whose standard error cannot be trusted (singular Hessian, no finite maximum)
    has ``reliable == False`` and NaN standard errors, and ``notes`` gives the reason.
    """

    model_name: str
    formula: str
    base: Hashable
    alternatives: tuple[Hashable, ...]
    names: tuple[str, ...]
    estimates: np.ndarray
    cov: np.ndarray
    cov_robust: np.ndarray
    cov_cluster: np.ndarray | None
    n_clusters: int | None
    reliable: np.ndarray
    loglik: float
    loglik_null: float
    loglik_constants: float | None
    n_obs: int
    converged: bool
    iterations: int
    gradient_norm: float
    message: str
    hessian_min_eigenvalue: float
    hessian_condition: float
    simulator: dict[str, Any]
    noise: dict[str, Any]
    fit_seconds: float
    notes: tuple[str, ...] = ()
    model: Any = field(default=None, repr=False)
    data: Any = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ estimates
    @property
    def n_params(self) -> int:
        """Number of estimated parameters."""
        return len(self.names)

    @property
    def params(self) -> pd.Series:
        """Estimates by parameter name."""
        return pd.Series(self.estimates, index=list(self.names), name="estimate")

    def covariance(self, cov_type: CovType = "classical") -> pd.DataFrame:
        """Return the covariance matrix of the estimates, labelled by parameter name."""
        if cov_type not in _COV_TYPES:
            raise ValueError(f"invalid cov_type={cov_type!r}; expected one of {_COV_TYPES}")
        matrix = {"classical": self.cov, "robust": self.cov_robust,
                  "cluster": self.cov_cluster}[cov_type]
        if matrix is None:
            raise ValueError("no cluster-robust covariance: fit with `cluster=` or with panel data")
        return pd.DataFrame(matrix, index=list(self.names), columns=list(self.names))

    def _std(self, matrix: np.ndarray | None, name: str) -> pd.Series:
        values = np.full(self.n_params, np.nan) if matrix is None else np.sqrt(np.diag(matrix))
        return pd.Series(values, index=list(self.names), name=name)

    @property
    def std_errors(self) -> pd.Series:
        """Classical standard errors (inverse Hessian)."""
        return self._std(self.cov, "std_error")

    @property
    def robust_std_errors(self) -> pd.Series:
        """Robust (sandwich) standard errors."""
        return self._std(self.cov_robust, "robust_std_error")

    @property
    def cluster_std_errors(self) -> pd.Series:
        """Cluster-robust standard errors (NaN when no clusters were given)."""
        return self._std(self.cov_cluster, "cluster_std_error")

    def _se(self, cov_type: CovType) -> np.ndarray:
        return np.sqrt(np.diag(self.covariance(cov_type).to_numpy()))

    def zvalues(self, cov_type: CovType = "classical") -> pd.Series:
        """Return estimate / standard error."""
        return pd.Series(self.estimates / self._se(cov_type), index=list(self.names), name="z")

    def pvalues(self, cov_type: CovType = "classical") -> pd.Series:
        """Return two-sided p-values of the z statistics (standard Normal reference)."""
        z = self.zvalues(cov_type).to_numpy()
        return pd.Series(2 * scipy.stats.norm.sf(np.abs(z)), index=list(self.names), name="p")

    def conf_int(self, level: float = 0.95, cov_type: CovType = "classical") -> pd.DataFrame:
        """Return Wald confidence intervals at ``level`` (for example 0.95)."""
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1); got level={level!r}")
        half = scipy.stats.norm.ppf(0.5 + level / 2) * self._se(cov_type)
        return pd.DataFrame({"lower": self.estimates - half, "upper": self.estimates + half},
                            index=list(self.names))

    # ------------------------------------------------------------------ fit statistics
    @property
    def rho_squared(self) -> float:
        """McFadden's rho-squared against equal shares, ``1 - loglik / loglik_null``."""
        return 1.0 - self.loglik / self.loglik_null

    @property
    def adjusted_rho_squared(self) -> float:
        """Rho-squared penalised by the number of parameters, ``1 - (loglik - K) / loglik_null``."""
        return 1.0 - (self.loglik - self.n_params) / self.loglik_null

    @property
    def rho_squared_constants(self) -> float:
        """Rho-squared against the constants-only logit (NaN without constants)."""
        if self.loglik_constants is None:
            return math.nan
        return 1.0 - self.loglik / self.loglik_constants

    @property
    def aic(self) -> float:
        """Akaike information criterion, ``2K - 2 loglik``."""
        return 2 * self.n_params - 2 * self.loglik

    @property
    def bic(self) -> float:
        """Bayesian information criterion, ``K log N - 2 loglik``."""
        return self.n_params * math.log(self.n_obs) - 2 * self.loglik

    # ------------------------------------------------------------------ presentation
    def to_frame(self, level: float = 0.95) -> pd.DataFrame:
        """Return the table of estimates: estimate, standard errors, z, p and interval bounds."""
        interval = self.conf_int(level)
        frame = pd.DataFrame({
            "estimate": self.estimates,
            "std_error": self.std_errors.to_numpy(),
            "z": self.zvalues().to_numpy(),
            "p_value": self.pvalues().to_numpy(),
            f"ci_{level:.0%}_lower": interval["lower"].to_numpy(),
            f"ci_{level:.0%}_upper": interval["upper"].to_numpy(),
            "robust_std_error": self.robust_std_errors.to_numpy(),
        }, index=pd.Index(list(self.names), name="parameter"))
        if self.cov_cluster is not None:
            frame["cluster_std_error"] = self.cluster_std_errors.to_numpy()
        frame["reliable"] = self.reliable
        return frame

    def statistics(self) -> dict[str, Any]:
        """Return the fit statistics and convergence record as a plain dict."""
        return {
            "model": self.model_name,
            "formula": self.formula,
            "n_obs": self.n_obs,
            "n_params": self.n_params,
            "loglik": self.loglik,
            "loglik_null": self.loglik_null,
            "loglik_constants": self.loglik_constants,
            "rho_squared": self.rho_squared,
            "adjusted_rho_squared": self.adjusted_rho_squared,
            "aic": self.aic,
            "bic": self.bic,
            "converged": self.converged,
            "iterations": self.iterations,
            "gradient_norm": self.gradient_norm,
            "message": self.message,
            "hessian_min_eigenvalue": self.hessian_min_eigenvalue,
            "hessian_condition": self.hessian_condition,
            "n_clusters": self.n_clusters,
            "simulator": self.simulator,
            "noise": self.noise,
        }

    def summary(self):
        """Return a summary with ``as_text()``, ``as_html()`` and ``as_latex()`` (statsmodels' Summary)."""
        from statsmodels.iolib.summary2 import Summary

        summary = Summary()
        summary.add_title(f"{self.model_name} by maximum likelihood")
        stats = self.statistics()
        left = {
            "Model:": self.model_name,
            "Formula:": self.formula,
            "Base alternative:": str(self.base),
            "Alternatives:": ", ".join(map(str, self.alternatives)),
            "Simulator:": _simulator_text(self.simulator),
            "Observations:": str(self.n_obs),
            "Parameters:": str(self.n_params),
            "Converged:": f"{self.converged} ({self.iterations} iterations)",
            "Gradient norm:": f"{self.gradient_norm:.2e}",
        }
        right = {
            "Log-likelihood:": f"{stats['loglik']:.4f}",
            "LL at zero:": f"{stats['loglik_null']:.4f}",
            "LL constants only:": "n/a" if self.loglik_constants is None
            else f"{self.loglik_constants:.4f}",
            "Rho-squared:": f"{self.rho_squared:.4f}",
            "Adj. rho-squared:": f"{self.adjusted_rho_squared:.4f}",
            "AIC:": f"{self.aic:.4f}",
            "BIC:": f"{self.bic:.4f}",
        }
        if self.n_clusters is not None:
            right["Clusters:"] = str(self.n_clusters)
        summary.add_dict(left, ncols=1)
        summary.add_dict(right, ncols=1)
        table = self.to_frame().drop(columns=["reliable"])
        table = table.rename(columns={"std_error": "Std.Err.", "robust_std_error": "Robust SE",
                                      "cluster_std_error": "Cluster SE", "p_value": "P>|z|",
                                      "estimate": "Coef."})
        summary.add_df(table, float_format="%.4f")
        for note in self.notes:
            summary.add_text("Warning: " + note)
        return summary

    def __str__(self) -> str:
        return self.summary().as_text()

    def _repr_html_(self) -> str:
        return self.summary().as_html()

    # ------------------------------------------------------------------ prediction
    def predict_proba(self, data=None) -> pd.DataFrame:
        """Return predicted choice probabilities, rows by situation id, columns by alternative.

        Args:
            data: Choice data with the same alternatives and variables; default the fitted
                data. Unavailable alternatives get probability 0.
        """
        import jax
        import jax.numpy as jnp

        from discrete_choice.distribution import ChoiceDistribution
        from discrete_choice.inference.mle import likelihood_functions

        if self.model is None:
            raise ValueError("this result has no model attached (loaded from a file written "
                             "without one); refit to predict")
        data = self.data if data is None else data
        with jax.enable_x64(True):
            prepared = self.model.prepare(data)
            functions = likelihood_functions(prepared)
            values = _unflatten(functions, self.estimates)
            index = jnp.arange(data.n_obs)
            utility, noise = self.model.utility_and_noise(values, prepared.inputs, index)
            probabilities = ChoiceDistribution(utility, prepared.inputs.available, noise,
                                               self.model.simulator).probabilities
        return pd.DataFrame(np.asarray(probabilities), index=pd.Index(data.obs_ids, name="obs"),
                            columns=list(data.alternatives))

    def hit_rate(self) -> float:
        """Return the share of fitted situations whose most probable alternative was chosen."""
        probabilities = self.predict_proba().to_numpy()
        return float(np.mean(np.argmax(probabilities, axis=1) == self.data.choice))

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict that :meth:`from_dict` turns back into equal results."""
        def matrix(m):
            return None if m is None else [[_json_float(v) for v in row] for row in m]

        return {
            "format_version": _FORMAT_VERSION,
            "model_name": self.model_name,
            "formula": self.formula,
            "base": _json_label(self.base),
            "alternatives": [_json_label(a) for a in self.alternatives],
            "names": list(self.names),
            "estimates": [_json_float(v) for v in self.estimates],
            "cov": matrix(self.cov),
            "cov_robust": matrix(self.cov_robust),
            "cov_cluster": matrix(self.cov_cluster),
            "n_clusters": self.n_clusters,
            "reliable": [bool(v) for v in self.reliable],
            "loglik": self.loglik,
            "loglik_null": self.loglik_null,
            "loglik_constants": self.loglik_constants,
            "n_obs": self.n_obs,
            "converged": self.converged,
            "iterations": self.iterations,
            "gradient_norm": self.gradient_norm,
            "message": self.message,
            "hessian_min_eigenvalue": _json_float(self.hessian_min_eigenvalue),
            "hessian_condition": _json_float(self.hessian_condition),
            "simulator": self.simulator,
            "noise": self.noise,
            "fit_seconds": self.fit_seconds,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> MLEResults:
        """Rebuild results from :meth:`to_dict` output (without the model and data)."""
        if payload.get("format_version") != _FORMAT_VERSION:
            raise ValueError(f"unsupported results format_version {payload.get('format_version')!r}; "
                             f"this version reads {_FORMAT_VERSION}")

        def matrix(m):
            return None if m is None else np.array(m, dtype=np.float64)

        return cls(
            model_name=payload["model_name"], formula=payload["formula"],
            base=_label_from_json(payload["base"]),
            alternatives=tuple(_label_from_json(a) for a in payload["alternatives"]),
            names=tuple(payload["names"]), estimates=np.array(payload["estimates"], np.float64),
            cov=matrix(payload["cov"]), cov_robust=matrix(payload["cov_robust"]),
            cov_cluster=matrix(payload["cov_cluster"]), n_clusters=payload["n_clusters"],
            reliable=np.array(payload["reliable"], dtype=bool), loglik=payload["loglik"],
            loglik_null=payload["loglik_null"], loglik_constants=payload["loglik_constants"],
            n_obs=payload["n_obs"], converged=payload["converged"],
            iterations=payload["iterations"], gradient_norm=payload["gradient_norm"],
            message=payload["message"],
            hessian_min_eigenvalue=float(payload["hessian_min_eigenvalue"]),
            hessian_condition=float(payload["hessian_condition"]),
            simulator=payload["simulator"], noise=payload["noise"],
            fit_seconds=payload["fit_seconds"], notes=tuple(payload["notes"]))

    def save(self, path: str | Path) -> None:
        """Write the results to a JSON file; floats are written exactly (shortest round-trip form)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> MLEResults:
        """Read results written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))


def _unflatten(functions, flat: np.ndarray) -> dict[str, Any]:
    import jax.numpy as jnp

    values = functions.constrain(jnp.zeros(len(functions.labels)))
    out, offset = {}, 0
    for name in functions.sites:
        size = int(np.size(values[name]))
        out[name] = jnp.reshape(jnp.asarray(flat[offset:offset + size]), jnp.shape(values[name]))
        offset += size
    return out


def _simulator_text(info: dict[str, Any]) -> str:
    details = ", ".join(f"{k}={v}" for k, v in info.items() if k != "name" and v is not None)
    return info.get("name", "?") + (f" ({details})" if details else "")


def _json_float(value: float) -> float | str:
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _json_label(label: Hashable) -> Any:
    if isinstance(label, (str, int, float, bool)) or label is None:
        return label
    if isinstance(label, np.generic):
        return label.item()
    return str(label)


def _label_from_json(label: Any) -> Hashable:
    return label
