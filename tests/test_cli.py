"""The ``discrete-choice`` command: default job, JSON schema, files, and user errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from discrete_choice.cli import main


def run_json(capsys, *argv: str) -> dict:
    status = main(["fit", "--quiet", "--output", "json", *argv])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return json.loads(captured.out)


def test_default_fit_json_schema(capsys):
    payload = run_json(capsys)
    for key in ("model", "loglik", "n_obs", "n_params", "converged", "parameters"):
        assert key in payload
    assert payload["model"] == "logit"
    assert payload["n_obs"] == 210
    assert payload["loglik"] == pytest.approx(-199.1284, abs=1e-4)
    assert set(payload["parameters"]) == {"ASC_air", "ASC_train", "ASC_bus", "gc", "ttme",
                                          "hinc_air"}
    for entry in payload["parameters"].values():
        assert {"estimate", "std_error", "robust_std_error"} <= set(entry)


def test_default_fit_prints_table(capsys):
    assert main(["fit", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "ASC_air" in out
    assert "Log-likelihood" in out


def test_wide_csv_file(capsys, tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({"T_TIME": rng.uniform(1, 3, n), "C_TIME": rng.uniform(1, 3, n),
                          "INCOME": rng.uniform(1, 5, n)})
    utility = np.column_stack([-frame["T_TIME"], 0.5 - frame["C_TIME"]])
    frame["CHOICE"] = np.where((utility + rng.gumbel(size=(n, 2))).argmax(axis=1) == 0, 1, 2)
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    payload = run_json(capsys, str(path), "--format", "wide", "--choice", "CHOICE",
                       "--alternatives", "train=1,car=2",
                       "--attribute", "time:train=T_TIME,car=C_TIME", "--individual", "INCOME",
                       "--formula", "choice ~ time | INCOME", "--base", "train")
    assert set(payload["parameters"]) == {"ASC_car", "time", "INCOME_car"}
    assert payload["parameters"]["time"]["estimate"] < 0


def test_long_csv_with_missing_value_exits_2(capsys, tmp_path):
    frame = pd.DataFrame({"id": [1, 1, 2, 2], "mode": ["a", "b", "a", "b"],
                          "chosen": [1, 0, 0, 1], "cost": [1.0, np.nan, 2.0, 1.0]})
    path = tmp_path / "long.csv"
    frame.to_csv(path, index=False)
    status = main(["fit", str(path), "--quiet", "--obs", "id", "--alt", "mode", "--chosen",
                   "chosen", "--formula", "chosen ~ cost"])
    err = capsys.readouterr().err
    assert status == 2
    assert "'cost'" in err and "missing" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, fragment", [
    (["fit", "no_such_file.csv"], "not found"),
    (["fit", "--formula", "choice ~ gc | hinc[boat]"], "boat"),
    (["fit", "--model", "nonsense"], "unknown --model"),
])
def test_user_errors_exit_2_without_traceback(capsys, argv, fragment):
    status = main([*argv, "--quiet"])
    err = capsys.readouterr().err
    assert status == 2
    assert fragment in err
    assert "Traceback" not in err


def test_console_script_runs_as_module():
    completed = subprocess.run([sys.executable, "-m", "discrete_choice", "fit", "--output",
                                "json"], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["converged"] is True
    assert "fitting logit" in completed.stderr  # progress goes to stderr, not stdout
