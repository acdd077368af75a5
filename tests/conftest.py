"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Directory for test artefacts (rendered pages, seal images, screenshots) kept after a run."""
    path = Path(os.environ.get("QIANSHU_ARTIFACTS_DIR", ROOT / "artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path
