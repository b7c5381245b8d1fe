"""The two scales of the book: ``book`` (2-core CPU, what CI builds) and ``full`` (GPU, paper size).

The scale is read from the environment variable ``SGDLAB_SCALE`` (default ``book``). Chapters size
their computations with :func:`pick`::

    n_seeds = scale.pick(book=4, full=32)

Used by every chapter of the book; see the "How to read this book" section of the introduction.
"""
from __future__ import annotations

import os
from typing import TypeVar

T = TypeVar("T")

SCALES: tuple[str, ...] = ("book", "full")
ENV_VAR = "SGDLAB_SCALE"


def current() -> str:
    """Return the active scale, ``"book"`` or ``"full"``.

    Raises
    ------
    ValueError
        If ``SGDLAB_SCALE`` holds anything other than ``book`` or ``full``.
    """
    value = os.environ.get(ENV_VAR, "book").strip().lower() or "book"
    if value not in SCALES:
        raise ValueError(
            f"{ENV_VAR}={os.environ.get(ENV_VAR)!r} is not a scale; allowed: {', '.join(SCALES)}"
        )
    return value


def validate(scale: str | None) -> str:
    """Return ``scale`` checked against :data:`SCALES` (``None`` means :func:`current`)."""
    if scale is None:
        return current()
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r} is not a scale; allowed: {', '.join(SCALES)}")
    return scale


def pick(*, book: T, full: T, scale: str | None = None) -> T:
    """Choose a value by scale.

    Parameters
    ----------
    book, full
        The value at each scale.
    scale
        Override the active scale (``None``: :func:`current`).
    """
    return book if validate(scale) == "book" else full
