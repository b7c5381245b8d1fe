"""Sphinx glue for the book (loaded through ``sphinx.local_extensions`` in ``_config.yml``).

1. Pages are read, and so notebooks executed, in table-of-contents order rather than Sphinx's
   alphabetical order, with the reproducibility report and the status page last: the report renders
   the claims every other chapter recorded during this build.
2. Before a page is read, its claim record (``_build/claims/<page>.json``) is deleted, and records of
   pages that no longer exist are removed, so the report never shows a stale verdict.
3. Inline scripts that the Jupyter Book 1 stack adds twice (sphinx-thebe's ``const THEBE_JS_URL``
   and sphinx-togglebutton's selector, registered both with the registry and with the builder) are
   kept once: a redeclared ``const`` is a JavaScript error on every page.
4. The time each page takes to read (for notebooks: to execute) is written to
   ``_build/timings/<page>.json``; the status page, read last, sums it per part.
5. The ``headline-claims`` directive renders a part's headline claims from its registry
   (``book/claims/<part>.yml``, read by :mod:`sgdlab.ledger`): the registry is their single source.
"""
from __future__ import annotations

import fnmatch
import json
import os
import time
from pathlib import Path

import yaml
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

LAST = ("book/reproducibility", "book/status")


def _toc_entries(node, out: list[str]) -> None:
    if isinstance(node, dict):
        for key in ("root", "file", "glob"):
            if key in node and isinstance(node[key], str):
                out.append(("glob:" if key == "glob" else "") + node[key])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key, []) or []:
                _toc_entries(child, out)
    elif isinstance(node, list):
        for child in node:
            _toc_entries(child, out)


def toc_order(toc_path: Path) -> list[str]:
    """Doc names and glob patterns of ``_toc.yml`` in reading order (suffixes dropped)."""
    entries: list[str] = []
    _toc_entries(yaml.safe_load(toc_path.read_text()), entries)
    return [os.path.splitext(e)[0] if not e.startswith("glob:") else e for e in entries]


def _rank(docname: str, order: list[str]) -> tuple[int, str]:
    if docname in LAST:
        return (10_000 + LAST.index(docname), docname)
    for i, entry in enumerate(order):
        if entry.startswith("glob:"):
            if fnmatch.fnmatch(docname, entry[5:]):
                return (i, docname)
        elif entry == docname:
            return (i, docname)
    return (5_000, docname)


def _claims_dir(app) -> Path:
    env = os.environ.get("SGDLAB_CLAIMS_DIR")
    return Path(env) if env else Path(app.srcdir) / "_build" / "claims"


def _before_read(app, env, docnames: list[str]) -> None:
    toc = Path(app.srcdir) / "_toc.yml"
    order = toc_order(toc) if toc.exists() else []
    docnames.sort(key=lambda d: _rank(d, order))
    known = {d.removeprefix("book/").replace("/", "__") for d in env.found_docs}
    rereading = {d.removeprefix("book/").replace("/", "__") for d in docnames}
    for folder in (_claims_dir(app), _timings_dir(app)):
        if folder.is_dir():
            for f in folder.glob("*.json"):
                if f.stem in rereading or f.stem not in known:
                    f.unlink()


_STARTED: dict[str, float] = {}


def _timings_dir(app) -> Path:
    env = os.environ.get("SGDLAB_TIMINGS_DIR")
    return Path(env) if env else Path(app.srcdir) / "_build" / "timings"


def _source_read(app, docname, source) -> None:
    _STARTED[docname] = time.perf_counter()


def _doctree_read(app, doctree) -> None:
    docname = app.env.docname
    if docname not in _STARTED:
        return
    seconds = time.perf_counter() - _STARTED.pop(docname)
    out = _timings_dir(app)
    out.mkdir(parents=True, exist_ok=True)
    target = out / (docname.removeprefix("book/").replace("/", "__") + ".json")
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps({"page": docname, "seconds": round(seconds, 2), "finished": time.time()}))
    os.replace(tmp, target)


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for js in scripts:
        # The same inline script arrives once with filename None and once with '' (registry vs builder).
        key = (str(getattr(js, "filename", js) or ""), tuple(sorted(getattr(js, "attributes", {}).items())))
        if key in seen:
            continue
        seen.add(key)
        kept.append(js)
    scripts[:] = kept


class HeadlineClaims(SphinxDirective):
    """``{headline-claims} <part>``: the part's headline claims, where they stand in the paper and
    whether we read or reconstructed them, rendered from ``book/claims/<part>.yml``."""

    required_arguments = 1

    def run(self):
        from sgdlab import ledger

        part = self.arguments[0]
        reg = ledger.load_registry(Path(self.env.srcdir) / "book")
        path = reg.parts.get(part)
        if path is None:
            raise self.error(f"headline-claims: no registry book/claims/{part}.yml")
        self.env.note_dependency(str(path))
        heads = [h for h in reg.headlines.values() if h.part == part]
        lines = []
        for h in heads:
            lines.append(f"- **{h.id}** {h.claim}  ")
            lines.append(f"  *Where in the paper:* {h.where}. *Source:* {h.source} — {h.source_note}")
        node = nodes.container(classes=["headline-claims"])
        self.state.nested_parse(StringList(lines, source=str(path)), self.content_offset, node)
        return [node]


def setup(app):
    app.add_directive("headline-claims", HeadlineClaims)
    app.connect("env-before-read-docs", _before_read)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("source-read", _source_read)
    app.connect("doctree-read", _doctree_read)
    return {"version": "1.0", "parallel_read_safe": False, "parallel_write_safe": True}
