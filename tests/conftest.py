"""Fixtures shared by every test: where the real data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    """``../shared/data`` beside the checkout, or ``$ORBITLINK_SHARED_DATA``."""
    return Path(os.environ.get("ORBITLINK_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        raise FileNotFoundError(f"shared data not found at {path}; set ORBITLINK_SHARED_DATA")
    return path


@pytest.fixture(scope="session")
def catalog_dir(shared_data: Path) -> Path:
    """The real CelesTrak snapshot (epochs around 2026-05-30), ~12,000 objects."""
    return shared_data / "catalog" / "celestrak-2026-05-30"


@pytest.fixture(scope="session")
def iod_dir(shared_data: Path) -> Path:
    return shared_data / "iod"
