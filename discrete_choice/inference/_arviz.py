"""Conversion of Bayesian fits to ArviZ, and ranking of fits by leave-one-out cross-validation.

Written against the ``InferenceData`` API of ArviZ 0.2x (``az.from_dict``, ``az.loo``,
``az.compare``); pyproject.toml pins ``arviz<1`` because ArviZ 1.x replaced that API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

from discrete_choice.inference._posterior import PosteriorResults

__all__ = ["to_inference_data", "loo_compare"]


def _site_dim(site: str) -> str:
    return f"{site}_parameter"


def to_inference_data(result: PosteriorResults):
    """Convert an SVI or NUTS fit to an ``arviz.InferenceData``.

    Groups:

    - ``posterior``: one variable per model site (for example ``beta``), dimensions
      ``(chain, draw, <site>_parameter)`` with the parameter labels as coordinates;
    - ``log_likelihood``: variable ``choice``, ``(chain, draw, obs)``, the pointwise
      ``w_n log P_n`` of each choice situation, which ``az.loo`` and ``az.waic`` read;
    - ``observed_data``: the observed choices (alternative positions), ``(obs,)``;
    - ``sample_stats``: ``lp`` (log joint density) and, for NUTS, ``diverging``, ``energy``,
      ``n_steps``, ``tree_depth``, ``acceptance_rate`` and ``step_size``.

    SVI fits give one chain of draws from the guide.
    """
    import arviz as az

    posterior, dims, coords = {}, {}, {}
    blocks = _labels_by_site(result)
    for site, shape in result.sites.items():
        values = np.asarray(result.samples[site])
        flat = values.reshape(values.shape[:2] + (-1,))
        if shape == ():
            posterior[site] = values
            continue
        posterior[site] = flat
        dims[site] = [_site_dim(site)]
        coords[_site_dim(site)] = list(blocks[site])
    data = result.data
    coords["obs"] = list(data.obs_ids)
    dims["choice"] = ["obs"]
    return az.from_dict(
        posterior=posterior,
        log_likelihood={"choice": np.asarray(result.loglik_pointwise)},
        observed_data={"choice": np.asarray(data.choice)},
        sample_stats={name: np.asarray(value) for name, value in result.sample_stats.items()},
        coords=coords,
        dims=dims,
        attrs={"inference_library": "numpyro", "method": result.method,
               "model": result.model_name, "formula": result.formula},
    )


def _labels_by_site(result: PosteriorResults) -> dict[str, tuple[str, ...]]:
    out, offset = {}, 0
    for site, shape in result.sites.items():
        size = int(np.prod(shape, dtype=int))
        out[site] = tuple(result.names[offset:offset + size])
        offset += size
    return out


def loo_compare(fits: Mapping[str, Any], *, ic: Literal["loo", "waic"] = "loo",
                scale: Literal["log", "negative_log", "deviance"] = "log") -> pd.DataFrame:
    """Rank Bayesian fits by their expected log pointwise predictive density (``az.compare``).

    Every fit must have been made on the same choice situations, because LOO compares sums of
    pointwise values.

    Args:
        fits: Fits by name: :class:`~discrete_choice.SVIResults`,
            :class:`~discrete_choice.MCMCResults` or ``arviz.InferenceData``.
        ic: ``"loo"`` (Pareto-smoothed importance-sampling leave-one-out) or ``"waic"``.
        scale: Scale of the reported criterion, as in ``az.compare``.

    Returns:
        ``az.compare``'s table, best fit first (``rank`` 0), with ``elpd_loo`` (or
        ``elpd_waic``), ``p_loo``, ``elpd_diff``, ``weight``, ``se``, ``dse`` and ``warning``.
    """
    import arviz as az

    if len(fits) < 2:
        raise ValueError(f"loo_compare needs at least two fits; got {len(fits)}")
    allowed_ic = ("loo", "waic")
    if ic not in allowed_ic:
        raise ValueError(f"invalid ic={ic!r}; expected one of {allowed_ic}")
    converted = {}
    n_obs = {}
    for name, fit in fits.items():
        if isinstance(fit, PosteriorResults):
            n_obs[name] = fit.n_obs
            converted[name] = to_inference_data(fit)
        elif isinstance(fit, az.InferenceData):
            converted[name] = fit
            n_obs[name] = int(fit.log_likelihood["choice"].shape[-1])
        else:
            raise TypeError(f"fit {name!r} is a {type(fit).__name__}; loo_compare needs "
                            "SVIResults, MCMCResults or arviz.InferenceData (maximum-likelihood "
                            "fits have no posterior: compare them with information criteria)")
    if len(set(n_obs.values())) > 1:
        raise ValueError(f"fits were made on different numbers of choice situations {n_obs}; "
                         "LOO compares fits of the same data only")
    return az.compare(converted, ic=ic, scale=scale)
