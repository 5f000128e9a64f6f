"""``discrete-choice fit --method svi|nuts``: the JSON schema of Bayesian fits."""

from __future__ import annotations

import json

import pytest

from discrete_choice.cli import main

FORMULA = "choice ~ gc | 1"


def run_json(capsys, *options: str) -> dict:
    status = main(["fit", "travel_mode", "--formula", FORMULA, "--base", "car", "--output",
                   "json", "--quiet", *options])
    assert status == 0
    return json.loads(capsys.readouterr().out)


def check_schema(payload: dict, method: str) -> None:
    for key in ("model", "loglik", "n_obs", "n_params", "converged", "parameters"):
        assert key in payload, key
    assert payload["method"] == method
    assert payload["n_obs"] == 210
    assert payload["n_params"] == 4
    assert set(payload["parameters"]) == {"ASC_air", "ASC_train", "ASC_bus", "gc"}
    for entry in payload["parameters"].values():
        assert entry["std_error"] > 0
        assert entry["robust_std_error"] is None
    assert payload["loglik"] < 0


def test_fit_method_svi_json(capsys):
    payload = run_json(capsys, "--method", "svi", "--steps", "3000", "--samples", "200",
                       "--learning-rate", "0.05", "--seed", "1")
    check_schema(payload, "svi")
    assert payload["guide"] == "normal"
    assert payload["draws"] == "none"
    assert payload["batch_size"] == 210


def test_fit_method_nuts_json(capsys):
    payload = run_json(capsys, "--method", "nuts", "--chains", "2", "--warmup", "200",
                       "--samples", "200")
    check_schema(payload, "nuts")
    assert payload["chains"] == 2
    assert payload["draws_per_chain"] == 200
    for entry in payload["parameters"].values():
        assert entry["r_hat"] < 1.1


def test_fit_method_rejects_unknown(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--method", "gibbs"])
    assert "invalid choice: 'gibbs'" in capsys.readouterr().err
