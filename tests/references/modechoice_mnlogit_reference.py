"""Compute reference values for statsmodels' MNLogit on Greene's travel-mode survey.

The script is independent of ``discrete_choice``: it uses statsmodels, NumPy and SciPy, and
writes ``modechoice_mnlogit.json`` next to itself. Run it from anywhere::

    python tests/references/modechoice_mnlogit_reference.py

Model (one row per traveller, 210 rows; car is the base outcome)::

    V_nj = ASC_j + hinc_j * HINC_n   for j = air, train, bus,   V_n,car = 0

statsmodels' MNLogit takes the smallest code of the dependent variable as its base outcome,
so the script codes car as 0 and air, train, bus as 1, 2, 3. The script also evaluates the
log-likelihood at statsmodels' estimates with its own NumPy formula and checks that both agree.
"""

from __future__ import annotations

import datetime
import json
import platform
from pathlib import Path

import numpy as np
import scipy
import scipy.special
import statsmodels
import statsmodels.api as sm
from statsmodels.datasets import modechoice

MODES = ("air", "train", "bus", "car")  # codes 1..4 in the data
NON_BASE = ("air", "train", "bus")
GRADIENT_TOLERANCE = 1e-8  # maximum absolute score component accepted at statsmodels' optimum
OUTPUT = Path(__file__).with_name("modechoice_mnlogit.json")


def load_wide_table():
    """Return (chosen mode label per traveller, household income per traveller)."""
    df = modechoice.load_pandas().data
    chosen_rows = df[df["choice"] == 1.0].sort_values("individual")
    n_travellers = df["individual"].nunique()
    if len(chosen_rows) != n_travellers:
        raise ValueError(
            f"expected one chosen mode per traveller ({n_travellers}), got {len(chosen_rows)}"
        )
    income_per_traveller = df.groupby("individual")["hinc"].nunique()
    if (income_per_traveller != 1).any():
        raise ValueError("household income must be constant within each traveller")
    labels = [MODES[int(code) - 1] for code in chosen_rows["mode"]]
    return labels, chosen_rows["hinc"].to_numpy(dtype=np.float64)


def numpy_loglik(params_by_mode, exog, endog):
    """Return the multinomial logit log-likelihood with the base utility fixed at zero.

    ``params_by_mode`` has shape (n_regressors, n_non_base) and ``endog`` contains codes 0..3.
    """
    utility = np.column_stack([np.zeros(len(exog)), exog @ params_by_mode])
    log_prob = utility - scipy.special.logsumexp(utility, axis=1, keepdims=True)
    return float(log_prob[np.arange(len(endog)), endog].sum())


def main():
    labels, income = load_wide_table()
    codes = {"car": 0, "air": 1, "train": 2, "bus": 3}
    endog = np.array([codes[label] for label in labels])
    exog = np.column_stack([np.ones_like(income), income])

    model = sm.MNLogit(endog, exog)
    result = model.fit(method="newton", maxiter=100, tol=1e-14, disp=False)
    score = model.score(result.params.ravel(order="F"))
    if np.max(np.abs(score)) > GRADIENT_TOLERANCE:
        raise RuntimeError(f"MNLogit did not converge: score {score}")

    # Shape (2, 3): rows are the constant and hinc, columns are air, train and bus.
    params = np.asarray(result.params)
    std_errors = np.asarray(result.bse)
    own_loglik = numpy_loglik(params, exog, endog)
    if abs(own_loglik - result.llf) > 1e-9:
        raise RuntimeError(
            f"NumPy log-likelihood {own_loglik} differs from statsmodels {result.llf}"
        )

    names = []
    estimates = {}
    errors = {}
    for column, mode in enumerate(NON_BASE):
        for row, prefix in enumerate(("ASC", "hinc")):
            name = f"{prefix}_{mode}"
            names.append(name)
            estimates[name] = float(params[row, column])
            errors[name] = float(std_errors[row, column])

    reference = {
        "description": (
            "statsmodels MNLogit on Greene's travel-mode survey, one row per traveller: chosen"
            " mode on a constant and household income (hinc), car as the base outcome."
        ),
        "n_obs": int(result.nobs),
        "alternatives": list(MODES),
        "choice_counts": {mode: labels.count(mode) for mode in MODES},
        "parameter_names": names,
        "estimates": estimates,
        "std_errors": errors,
        "loglik": float(result.llf),
        "loglik_constants_only": float(result.llnull),  # statsmodels llnull, its own fit
        "loglik_zero": -len(endog) * float(np.log(len(MODES))),
        "max_abs_score": float(np.max(np.abs(score))),
        "provenance": {
            "script": Path(__file__).name,
            "statsmodels": statsmodels.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "python": platform.python_version(),
            "date": datetime.date.today().isoformat(),
            "fit": "statsmodels MNLogit.fit(method='newton', tol=1e-14); std errors from bse",
        },
    }
    OUTPUT.write_text(json.dumps(reference, indent=2) + "\n")
    print(json.dumps({k: reference[k] for k in ("estimates", "std_errors", "loglik")}, indent=2))
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
