"""Shared fixtures: float64 scoped to a test, and the paths of the bundled survey data."""

from __future__ import annotations

from pathlib import Path

import jax
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def x64():
    """Run the test body with float64 enabled, restoring the previous setting afterwards."""
    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of the real survey datasets kept beside the repository."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"survey data folder {SHARED_DATA} is not present")
    return SHARED_DATA
