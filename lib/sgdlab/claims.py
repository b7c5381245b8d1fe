"""The claim registry: every paper claim the book checks, with its verdict.

A chapter opens a :class:`ClaimLog` and calls :meth:`ClaimLog.check` for each claim. A check
compares our measured value with the expected one (relative/absolute tolerance, bounds, or a
predicate described in words), records the result as JSON for the reproducibility report, and raises
:class:`ClaimFailed` when a claim the chapter says is reproduced does not hold, so the build fails.

A claim our reproduction does not support is recorded with :meth:`ClaimLog.not_reproduced`, with
the reason. If the comparison starts to pass, that also raises: the chapter's text would be stale.

Records go to ``$SGDLAB_CLAIMS_DIR`` (default ``_build/claims``), one JSON file per chapter,
rewritten atomically after every check. The report page (``book/reproducibility.ipynb``) reads them
with :func:`load` and renders :func:`report_html`; the part index pages declare the claims
(:func:`declared`), so a claim that no chapter checks yet shows as *pending*.
"""
from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import scale as _scale
from ._paths import BOOK_DIR, claims_dir
from .provenance import atomic_write_json, now_utc

#: Verdicts a chapter may state, strongest first.
VERDICTS = ("reproduced", "partly", "not reproduced")
#: Verdict of a claim that a chapter states as reproduced but that failed its check.
FAILED = "failed"
#: Verdict of a claim declared on a part's index page that no chapter has checked in this build.
PENDING = "pending"

#: Claim-id prefix -> the source of the claim.
PAPERS: dict[str, str] = {
    "N": "Book notation (PyTorch's SGD)",
    "P1": "Velikanov, Kuznedelev, Yarotsky (ICLR 2023)",
    "P2": "Wang, Malladi, Wang, Lyu, Li (ICLR 2024)",
    "P3": "Mohtashami, Jaggi, Stich (ICML 2023)",
    "P4": "Dai, Zhu (arXiv 2112.00987)",
    "P5": "Granziol, Zohren, Roberts (JMLR 2022)",
    "S": "Synthesis",
}

_ID_RE = re.compile(r"^(N|S|P[1-5])\.C(\d+)([a-z]?)$")


class ClaimFailed(AssertionError):
    """A claim did not behave as its chapter states (a reproduced claim failed, or the reverse)."""


def parse_id(claim_id: str) -> tuple[str, int, str]:
    """Split ``"P2.C5b"`` into ``("P2", 5, "b")``.

    Raises
    ------
    ValueError
        If ``claim_id`` is not of the form ``P<k>.C<n>``, ``N.C<n>`` or ``S.C<n>`` (optional letter).
    """
    m = _ID_RE.match(claim_id) if isinstance(claim_id, str) else None
    if not m:
        raise ValueError(
            f"claim_id={claim_id!r} is not a claim id; expected e.g. 'P1.C3', 'P2.C5b', 'N.C1' or 'S.C2'"
        )
    return m.group(1), int(m.group(2)), m.group(3)


def sort_key(claim_id: str) -> tuple:
    """Order claim ids as N, P1 … P5, S, then by number and letter."""
    prefix, num, letter = parse_id(claim_id)
    order = list(PAPERS).index(prefix)
    return (order, num, letter)


@dataclass
class ClaimRecord:
    """One checked claim, as stored for the report page."""

    id: str
    paper: str
    statement: str
    paper_value: str
    measured: Any
    expected: Any
    measured_text: str
    expected_text: str
    tolerance: str
    passed: bool
    verdict: str
    scale: str
    chapter: str
    anchor: str | None = None
    reason: str | None = None
    time: str = field(default_factory=now_utc)

    def __repr__(self) -> str:
        # a notebook cell that ends with a check shows this line, not a dump of every field
        return f"{self.id}: {self.verdict} — ours {self.measured_text}; expected {self.expected_text} ({self.tolerance})"

    @property
    def href(self) -> str:
        """Link to the checking section, relative to the book's root folder."""
        page = f"{self.chapter}.html"
        return page + (f"#{self.anchor}" if self.anchor else "")


# --------------------------------------------------------------------------- formatting
def _fmt(x: Any) -> str:
    if x is None:
        return "—"
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, str):
        return x
    arr = np.asarray(x)
    if arr.ndim == 0:
        v = arr.item()
        if isinstance(v, (int, np.integer)):
            return str(v)
        if isinstance(v, float):
            if math.isnan(v):
                return "nan"
            if math.isinf(v):
                return "∞" if v > 0 else "−∞"
            return f"{v:.4g}"
        return str(v)
    flat = arr.ravel()
    if flat.size <= 6:
        return "[" + ", ".join(_fmt(v) for v in flat.tolist()) + "]"
    return f"array{tuple(arr.shape)} in [{_fmt(float(np.min(flat)))}, {_fmt(float(np.max(flat)))}]"


def _jsonable(x: Any) -> Any:
    if x is None or isinstance(x, (str, bool)):
        return x
    arr = np.asarray(x)
    if arr.dtype.kind in "biuf":
        if arr.ndim == 0:
            return arr.item()
        if arr.size <= 64:
            return arr.tolist()
        return {"shape": list(arr.shape), "min": float(arr.min()), "max": float(arr.max())}
    return str(x)


# --------------------------------------------------------------------------- comparison
def _compare(
    measured: Any,
    expected: Any,
    rtol: float | None,
    atol: float | None,
    lower: float | None,
    upper: float | None,
    predicate: Callable[[Any], bool] | None,
    criterion: str | None,
) -> tuple[bool, str]:
    """Evaluate the check; return (passed, a description of the tolerance and the error)."""
    modes = sum(x is not None for x in (predicate, lower if lower is not None else upper)) + (
        rtol is not None or atol is not None
    )
    if modes == 0:
        raise ValueError("give a tolerance: rtol/atol (with expected), lower/upper, or predicate")
    if modes > 1:
        raise ValueError("give exactly one kind of check: rtol/atol, lower/upper, or predicate")
    if predicate is not None:
        if not criterion:
            raise ValueError("criterion: describe the predicate in words (it is shown in the report)")
        return bool(predicate(measured)), criterion
    if lower is not None or upper is not None:
        m = np.asarray(measured, dtype=float)
        ok = bool(np.all(np.isfinite(m)))
        if lower is not None:
            ok = ok and bool(np.all(m >= lower))
        if upper is not None:
            ok = ok and bool(np.all(m <= upper))
        if lower is not None and upper is not None:
            desc = f"in [{_fmt(lower)}, {_fmt(upper)}]"
        elif lower is not None:
            desc = f"≥ {_fmt(lower)}"
        else:
            desc = f"≤ {_fmt(upper)}"
        return ok, desc
    if expected is None:
        raise ValueError("expected: a value is needed with rtol/atol")
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if tol is not None and not (tol >= 0 and math.isfinite(tol)):
            raise ValueError(f"{name}={tol!r} must be a finite number >= 0")
    r = 0.0 if rtol is None else float(rtol)
    a = 0.0 if atol is None else float(atol)
    m = np.asarray(measured, dtype=float)
    e = np.asarray(expected, dtype=float)
    try:
        diff = np.abs(m - e)
    except ValueError as exc:
        raise ValueError(f"measured {m.shape} and expected {e.shape} do not broadcast") from exc
    finite = bool(np.all(np.isfinite(m)))
    ok = finite and bool(np.all(diff <= a + r * np.abs(e)))
    parts = []
    if rtol is not None:
        parts.append(f"rtol {rtol:.2g}")
    if atol is not None:
        parts.append(f"atol {atol:.2g}")
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(np.abs(e) > 0, diff / np.abs(e), np.where(diff > 0, np.inf, 0.0))
    err = f"max |Δ| {_fmt(float(np.max(diff)))}"
    if rtol is not None:
        err += f", max rel {_fmt(float(np.max(rel)))}"
    return ok, " + ".join(parts) + f" ({err})"


# --------------------------------------------------------------------------- the log
class ClaimLog:
    """The claims one chapter checks.

    Parameters
    ----------
    chapter
        The chapter's path relative to ``book/`` without suffix, e.g. ``"notation"`` or
        ``"momentum/02_sde"``. It names the record file and the report's link.
    directory
        Where to write records (default ``$SGDLAB_CLAIMS_DIR`` or ``_build/claims``).
    scale
        The scale the claims ran at (default: :func:`sgdlab.scale.current`).

    Opening a log empties the chapter's record file, so a re-run never keeps a stale record.

    Examples
    --------
    >>> log = ClaimLog("notation", directory=tmp)                     # doctest: +SKIP
    >>> log.check("N.C1", measured=0.0, expected=0.0, atol=1e-12,     # doctest: +SKIP
    ...           statement="the two SGDM forms give identical iterates")
    """

    def __init__(self, chapter: str, *, directory: str | Path | None = None, scale: str | None = None):
        if not isinstance(chapter, str) or not chapter or chapter.startswith("/") or chapter.endswith(
            (".ipynb", ".md")
        ):
            raise ValueError(
                f"chapter={chapter!r}: give the page path relative to book/ without suffix, e.g. 'notation'"
            )
        self.chapter = chapter
        self.scale = _scale.validate(scale)
        self.directory = Path(directory) if directory is not None else claims_dir()
        self.path = self.directory / (chapter.replace("/", "__") + ".json")
        self.records: dict[str, ClaimRecord] = {}
        self._write()

    # ------------------------------------------------------------------ public
    def check(
        self,
        claim_id: str,
        measured: Any,
        expected: Any = None,
        *,
        statement: str,
        rtol: float | None = None,
        atol: float | None = None,
        lower: float | None = None,
        upper: float | None = None,
        predicate: Callable[[Any], bool] | None = None,
        criterion: str | None = None,
        paper_value: str | None = None,
        verdict: str = "reproduced",
        reason: str | None = None,
        anchor: str | None = None,
    ) -> ClaimRecord:
        """Check a claim that the chapter states as reproduced (or partly reproduced).

        Exactly one kind of check is given: ``rtol``/``atol`` against ``expected``; ``lower``/``upper``
        bounds on ``measured``; or ``predicate(measured) -> bool`` with ``criterion`` in words.
        Non-finite measured values never pass a tolerance or bounds check.

        Parameters
        ----------
        claim_id
            ``P<k>.C<n>`` (paper k), ``N.C<n>`` (notation) or ``S.C<n>`` (synthesis); a letter may
            follow for sub-claims (``P2.C5b``).
        measured, expected
            Our value and the value it should have (scalars or arrays).
        statement
            The claim, in one sentence, as the report shows it.
        paper_value
            What the paper reports, in words or numbers (shown beside ours).
        verdict
            ``"reproduced"`` or ``"partly"`` (the latter needs ``reason``: what part does not hold).
        anchor
            The label of the section that checks the claim, for the report's link.

        Raises
        ------
        ClaimFailed
            If the check fails; the record is kept with verdict ``"failed"``.
        ValueError
            For a malformed id, verdict or tolerance.
        """
        if verdict not in ("reproduced", "partly"):
            raise ValueError(
                f"verdict={verdict!r}: check() takes 'reproduced' or 'partly'; use not_reproduced()"
            )
        if verdict == "partly" and not reason:
            raise ValueError("reason: a 'partly' verdict must say what does not reproduce")
        passed, tol = _compare(measured, expected, rtol, atol, lower, upper, predicate, criterion)
        rec = self._record(
            claim_id, measured, expected, statement, paper_value, tol, passed,
            verdict if passed else FAILED, reason, anchor,
        )
        if not passed:
            raise ClaimFailed(
                f"{claim_id} ({self.chapter}): {statement} — measured {rec.measured_text}, "
                f"expected {rec.expected_text}, {tol}"
            )
        return rec

    def not_reproduced(
        self,
        claim_id: str,
        measured: Any,
        expected: Any = None,
        *,
        statement: str,
        reason: str,
        rtol: float | None = None,
        atol: float | None = None,
        lower: float | None = None,
        upper: float | None = None,
        predicate: Callable[[Any], bool] | None = None,
        criterion: str | None = None,
        paper_value: str | None = None,
        anchor: str | None = None,
    ) -> ClaimRecord:
        """Record a claim that our reproduction does not support, with the reason.

        The check describes the paper's claim as for :meth:`check`; here it is expected to **fail**.
        If it passes, :class:`ClaimFailed` is raised: the claim now reproduces and the chapter's
        text must change.
        """
        if not reason:
            raise ValueError("reason: say why the claim does not reproduce")
        passed, tol = _compare(measured, expected, rtol, atol, lower, upper, predicate, criterion)
        rec = self._record(
            claim_id, measured, expected, statement, paper_value, tol, passed,
            FAILED if passed else "not reproduced", reason, anchor,
        )
        if passed:
            raise ClaimFailed(
                f"{claim_id} ({self.chapter}) is recorded as not reproduced, but it now passes its "
                f"check ({tol}); update the chapter"
            )
        return rec

    def summary(self) -> "VerdictTable":
        """A table of this chapter's verdicts, to display at the end of the chapter."""
        return VerdictTable([asdict(r) for r in self.records.values()], link=False)

    # ------------------------------------------------------------------ private
    def _record(self, claim_id, measured, expected, statement, paper_value, tol, passed, verdict,
                reason, anchor) -> ClaimRecord:
        prefix, _, _ = parse_id(claim_id)
        if not statement or not isinstance(statement, str):
            raise ValueError("statement: describe the claim in one sentence")
        rec = ClaimRecord(
            id=claim_id,
            paper=PAPERS[prefix],
            statement=statement,
            paper_value=paper_value or "—",
            measured=_jsonable(measured),
            expected=_jsonable(expected),
            measured_text=_fmt(measured),
            expected_text=_fmt(expected),
            tolerance=tol,
            passed=bool(passed),
            verdict=verdict,
            scale=self.scale,
            chapter=self.chapter,
            anchor=anchor,
            reason=reason,
        )
        self.records[claim_id] = rec
        self._write()
        return rec

    def _write(self) -> None:
        atomic_write_json(
            self.path,
            {"chapter": self.chapter, "records": [asdict(r) for r in self.records.values()]},
        )


# --------------------------------------------------------------------------- report
def load(directory: str | Path | None = None) -> list[dict[str, Any]]:
    """Read every record in ``directory`` (default: the claims folder), sorted by claim id."""
    directory = Path(directory) if directory is not None else claims_dir()
    out: list[dict[str, Any]] = []
    if directory.is_dir():
        for f in sorted(directory.glob("*.json")):
            out.extend(json.loads(f.read_text())["records"])
    return sorted(out, key=lambda r: sort_key(r["id"]))


_DECL_RE = re.compile(r"^\s*[-*]\s+\*\*((?:N|S|P[1-5])\.C\d+[a-z]?)\*\*\s*[:—–-]?\s*(.+?)\s*$")


def declared(book_dir: str | Path = BOOK_DIR) -> dict[str, dict[str, str]]:
    """Claims declared on the part index pages (``book/*/index.md``).

    A declaration is a list item that starts with the bold id: ``- **P1.C3** statement``.

    Returns
    -------
    dict
        ``{id: {"statement": ..., "page": "<part>/index"}}``
    """
    out: dict[str, dict[str, str]] = {}
    for page in sorted(Path(book_dir).glob("*/index.md")):
        for line in page.read_text(encoding="utf-8").splitlines():
            m = _DECL_RE.match(line)
            if m:
                out[m.group(1)] = {
                    "statement": m.group(2),
                    "page": f"{page.parent.name}/index",
                }
    return out


def merge(records: list[Mapping[str, Any]], declared_claims: Mapping[str, Mapping[str, str]]) -> list[dict]:
    """Records plus a *pending* row for each declared claim that no chapter checked.

    A declared claim ``P2.C5`` counts as checked when ``P2.C5`` or any of its sub-claims
    (``P2.C5a``, ``P2.C5b``, …) was checked.
    """
    rows = [dict(r) for r in records]
    seen = {r["id"] for r in rows} | {r["id"].rstrip("abcdefghijklmnopqrstuvwxyz") for r in rows}
    for cid, d in declared_claims.items():
        if cid not in seen:
            prefix, _, _ = parse_id(cid)
            rows.append(
                {
                    "id": cid, "paper": PAPERS[prefix], "statement": d["statement"], "paper_value": "—",
                    "measured_text": "—", "expected_text": "—", "tolerance": "—", "verdict": PENDING,
                    "scale": "—", "chapter": d["page"], "anchor": None,
                    "reason": "not yet checked by any chapter",
                }
            )
    return sorted(rows, key=lambda r: sort_key(r["id"]))


def counts(rows: list[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Number of claims per paper and verdict."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        d = out.setdefault(r["paper"], {})
        d[r["verdict"]] = d.get(r["verdict"], 0) + 1
    return out


_COLOURS = {
    "reproduced": "#1b7837", "partly": "#b35806", "not reproduced": "#762a83",
    FAILED: "#b2182b", PENDING: "#666666",
}


_DOLLAR_RE = re.compile(r"\$([^$]+)\$")


def _math(text: str) -> str:
    """Escape ``text`` for HTML and turn ``$...$`` into MathJax's ``\\(...\\)``."""
    return _DOLLAR_RE.sub(r"\\(\1\\)", html.escape(text))


class VerdictTable:
    """An HTML table of claim rows (rendered by Jupyter and by the book)."""

    def __init__(self, rows: list[Mapping[str, Any]], *, link: bool = True, prefix: str = ""):
        self.rows = list(rows)
        self.link = link
        self.prefix = prefix

    def _repr_html_(self) -> str:
        e = html.escape
        head = (
            "<div class='mathjax_process'><table class='claims-table'><thead><tr><th>id</th><th>claim</th><th>paper</th>"
            "<th>ours</th><th>expected</th><th>tolerance</th><th>verdict</th><th>scale</th></tr>"
            "</thead><tbody>"
        )
        body = []
        for r in self.rows:
            cid = e(r["id"])
            if self.link:
                href = f"{self.prefix}{r['chapter']}.html" + (f"#{r['anchor']}" if r.get("anchor") else "")
                cid = f"<a href='{e(href)}'>{cid}</a>"
            verdict = r["verdict"]
            colour = _COLOURS.get(verdict, "#000")
            why = f"<br><small>{e(r['reason'])}</small>" if r.get("reason") else ""
            body.append(
                f"<tr><td>{cid}</td><td>{_math(r['statement'])}</td><td>{e(str(r.get('paper_value', '—')))}</td>"
                f"<td>{e(str(r.get('measured_text', '—')))}</td><td>{e(str(r.get('expected_text', '—')))}</td>"
                f"<td>{e(str(r.get('tolerance', '—')))}</td>"
                f"<td><b style='color:{colour}'>{e(verdict)}</b>{why}</td><td>{e(str(r.get('scale', '—')))}</td></tr>"
            )
        return head + "".join(body) + "</tbody></table></div>"

    def __str__(self) -> str:
        return "\n".join(f"{r['id']:8} {r['verdict']:15} {r['statement']}" for r in self.rows)

    __repr__ = __str__
