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
    """``[(part title, number of pages, seconds)]`` in book order; top-level pages form "Front and back matter"."""
    groups: dict[str, list[float]] = {}
    for page, seconds in timings.items():
        key = page.split("/", 1)[0] if "/" in page else ""
        groups.setdefault(key, []).append(seconds)
    order = {p.split("/", 1)[0] if "/" in p else "": i for i, p in reversed(list(enumerate(book_order())))}
    rows = []
    for key, values in sorted(groups.items(), key=lambda kv: order.get(kv[0], len(order))):
        title = part_title(key, book_dir) if key else "Front and back matter"
        rows.append((title, len(values), round(sum(values), 1)))
    return rows


def page_title(page: str, book_dir: str | Path = BOOK_DIR) -> str:
    """The first ``# `` heading of ``book/<page>.ipynb`` or ``.md`` (``page`` without suffix), else ``page``."""
    base = Path(book_dir) / page
    for suffix in (".ipynb", ".md"):
        f = base.with_suffix(suffix)
        if not f.is_file():
            continue
        if suffix == ".md":
            texts = [f.read_text(encoding="utf-8")]
        else:
            texts = ["".join(c["source"]) for c in json.loads(f.read_text())["cells"] if c["cell_type"] == "markdown"]
        for text in texts:
            for line in text.splitlines():
                m = re.match(r"^#\s+(.+)$", line)
                if m:
                    return m.group(1).strip()
    return page


def book_order(toc: str | Path | None = None) -> list[str]:
    """Pages (relative to ``book/``, no suffix) in table-of-contents order, globs expanded."""
    import fnmatch

    import yaml

    toc = Path(toc) if toc is not None else BOOK_DIR.parent / "_toc.yml"
    entries: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file", "glob"):
                if isinstance(node.get(key), str):
                    entries.append(("glob:" if key == "glob" else "") + node[key])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key) or []:
                    walk(child)

    walk(yaml.safe_load(toc.read_text()))
    root = toc.parent
    pages = sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.glob("book/**/*")
                   if p.suffix in (".ipynb", ".md") and "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts)
    out: list[str] = []
    for e in entries:
        if e.startswith("glob:"):
            out += [p for p in pages if fnmatch.fnmatch(p, e[5:]) and p not in out]
        else:
            e = str(Path(e).with_suffix("")) if e.endswith((".md", ".ipynb")) else e
            if e not in out:
                out.append(e)
    return [p.removeprefix("book/") for p in out]


def timings_in_book_order(timings: dict[str, float], book_dir: str | Path = BOOK_DIR,
                          toc: str | Path | None = None) -> list[tuple[str, str, float]]:
    """``[(part title, page title, seconds)]`` in table-of-contents order (pages without a timing skipped)."""
    rows = []
    for page in book_order(toc):
        if page in timings:
            part = part_title(page.split("/", 1)[0], book_dir) if "/" in page else "Front and back matter"
            rows.append((part, page_title(page, book_dir), timings[page]))
    return rows
