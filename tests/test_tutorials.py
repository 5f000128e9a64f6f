"""Run every tutorial in tutorials/ as a plain Python script at reduced size.

Each tutorial reads ``DISCRETE_CHOICE_TUTORIAL_SMALL=1`` and shrinks its data, draws and keys;
its own assertions check the claims its prose makes. A subprocess keeps the tutorial's global
settings (float64, matplotlib backend) out of the test session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / "tutorials").glob("[0-9]*.py"))

# Tutorials that take more than about a minute of CPU time at reduced size (several fits
# each); they run with `pytest -m slow`.
SLOW = {"01_travel_mode_models", "03_neural_label_noise", "04_multinomial_probit_ghk"}


def _case(path: Path):
    marks = [pytest.mark.slow] if path.stem in SLOW else []
    return pytest.param(path, id=path.stem, marks=marks)


def test_tutorials_found():
    assert TUTORIALS, "no tutorials found in tutorials/"


@pytest.mark.parametrize("path", [_case(p) for p in TUTORIALS])
def test_tutorial_runs(path, tmp_path):
    env = dict(os.environ, DISCRETE_CHOICE_TUTORIAL_SMALL="1", MPLBACKEND="Agg")
    completed = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, (
        f"{path.name} failed with exit code {completed.returncode}:\n"
        f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
