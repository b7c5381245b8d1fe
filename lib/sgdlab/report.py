"""Build-time facts for the status and reproducibility pages: page execution times per part.

The book's Sphinx extension (``book/_ext/sgdlab_book.py``) writes the time each page took to read
(for a notebook: to execute) to ``_build/timings/<page>.json``; :func:`timings_by_part` sums them per
part of the book for ``book/status.ipynb``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from ._paths import BOOK_DIR, timings_dir


def load_timings(directory: str | Path | None = None) -> dict[str, float]:
    """Seconds per page (``{"momentum/02_short_horizon": 9.1, ...}``) recorded in this build."""
    directory = Path(directory) if directory is not None else timings_dir()
    out: dict[str, float] = {}
    if directory.is_dir():
        for f in sorted(directory.glob("*.json")):
            rec = json.loads(f.read_text())
            out[rec["page"].removeprefix("book/")] = float(rec["seconds"])
    return out


def part_title(folder: str, book_dir: str | Path = BOOK_DIR) -> str:
    """The first heading of ``book/<folder>/index.md``, or ``folder`` itself."""
    index = Path(book_dir) / folder / "index.md"
    if index.is_file():
        for line in index.read_text(encoding="utf-8").splitlines():
            m = re.match(r"^#\s+(.+)$", line)
            if m:
                return m.group(1).strip()
    return folder


def timings_by_part(timings: dict[str, float], book_dir: str | Path = BOOK_DIR) -> list[tuple[str, int, float]]:
    """``[(part title, number of pages, seconds)]`` in first-seen order; top-level pages form "Front and back matter"."""
    groups: dict[str, list[float]] = {}
    for page, seconds in timings.items():
        key = page.split("/", 1)[0] if "/" in page else ""
        groups.setdefault(key, []).append(seconds)
    rows = []
    for key, values in groups.items():
        title = part_title(key, book_dir) if key else "Front and back matter"
        rows.append((title, len(values), round(sum(values), 1)))
    return rows
