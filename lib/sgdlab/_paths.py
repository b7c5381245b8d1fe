"""Locations of the repository, the book and the committed data (private helpers)."""
from __future__ import annotations

import os
from pathlib import Path

#: The repository root (two levels above this file: ``lib/sgdlab/_paths.py``).
REPO_ROOT = Path(__file__).resolve().parents[2]
BOOK_DIR = REPO_ROOT / "book"
DATA_DIR = REPO_ROOT / "data"
BUILD_DIR = REPO_ROOT / "_build"


def claims_dir() -> Path:
    """Folder where chapters record their claims: ``$SGDLAB_CLAIMS_DIR`` or ``_build/claims``."""
    env = os.environ.get("SGDLAB_CLAIMS_DIR")
    return Path(env) if env else BUILD_DIR / "claims"


def timings_dir() -> Path:
    """Folder where chapters record their execution time: ``$SGDLAB_TIMINGS_DIR`` or ``_build/timings``."""
    env = os.environ.get("SGDLAB_TIMINGS_DIR")
    return Path(env) if env else BUILD_DIR / "timings"
