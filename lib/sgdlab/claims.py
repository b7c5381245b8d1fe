"""Checks of the book's claims, recorded for the reproducibility report.

A chapter opens a :class:`ClaimLog` and calls :meth:`ClaimLog.check` with the id of a check that its
part **registered** in ``book/claims/<part>.yml`` (see :mod:`sgdlab.ledger`) and what it measured. The
registry, not the chapter, holds the statement, the kind, the headline claim it bears on, the two
methods, the tolerance (registered before the run, with its origin) and the outcome the chapter's text
relies on. A check whose outcome differs from the registered one is recorded as *failed* and raises
:class:`ClaimFailed`, so the build stops and the text is revised: the verdict changes, never the
tolerance.

Opening a log records every registered check of the chapter as *not run*; each check replaces its
record as it runs, and :meth:`ClaimLog.summary` (or :meth:`ClaimLog.close`) marks the chapter
complete. A chapter that stops early leaves its remaining checks *not run* and its file marked
unfinished, so the report says which chapter failed instead of losing them silently.

Records go to ``$SGDLAB_CLAIMS_DIR`` (default ``_build/claims``), one JSON file per chapter, rewritten
atomically after every check. The report page (``book/reproducibility.ipynb``) reads them with
:func:`load` and renders :func:`headline_table` and :func:`report_html`.
"""
from __future__ import annotations

import html
import inspect
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import ledger
from . import scale as _scale
from ._paths import claims_dir
from .ledger import KINDS, PAPERS, parse_id, sort_key  # noqa: F401  (re-exported)
from .provenance import atomic_write_json, now_utc

#: Verdict of a check whose outcome differs from the registered one (the build stops).
FAILED = "failed"
#: Verdict of a registered check that its chapter did not reach.
NOT_RUN = "not run"
#: Verdict of a full-scale check whose data are stale against their inputs (it decides nothing).
STALE = "stale"
#: Verdict of a derivation, software or control check that holds.
HOLDS = "holds"


class ClaimFailed(AssertionError):
    """A check did not give the outcome its chapter (and the registry) states."""


@dataclass
class ClaimRecord:
    """One check, as stored for the report page."""

    id: str
    paper: str
    kind: str
    statement: str
    paper_value: str
    measured: Any
    expected: Any
    measured_text: str
    expected_text: str
    tolerance: str
    passed: bool | None
    verdict: str
    scale: str
    chapter: str
    headline: str | None = None
    grade: str | None = None
    methods: dict = field(default_factory=dict)
    tolerance_origin: str = ""
    se: Any = None
    se_text: str | None = None
    tol_in_se: float | None = None
    control: str | None = None
    control_text: str | None = None
    control_passed: bool | None = None
    discriminates: bool | None = None
    anchor: str | None = None
    reason: str | None = None
    data: dict | None = None
    time: str = field(default_factory=now_utc)

    def __repr__(self) -> str:
        # a notebook cell that ends with a check shows this line, not a dump of every field
        return f"{self.id} ({self.kind}): {self.verdict} — ours {self.measured_text}; expected {self.expected_text} ({self.tolerance})"

    def _repr_html_(self) -> str:
        return _row_html(asdict(self), link=False, compact=True)

    @property
    def href(self) -> str:
        """Link to the checking section, relative to the book's root folder."""
        return f"{self.chapter}.html" + (f"#{self.anchor}" if self.anchor else "")


# --------------------------------------------------------------------------- formatting
def fmt(x: Any, digits: int = 3) -> str:
    """A value as a reader wants to see it: 3 significant digits, arrays as ranges, no numpy reprs."""
    if x is None:
        return "—"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if bool(x) else "no"
    if isinstance(x, str):
        return x
    if isinstance(x, Mapping):
        return "; ".join(f"{k}: {fmt(v, digits)}" for k, v in x.items())
    if isinstance(x, (list, tuple)) and any(isinstance(v, (Mapping, str)) for v in x):
        return ", ".join(fmt(v, digits) for v in x)
    try:
        arr = np.asarray(x)
    except Exception:  # noqa: BLE001 - anything else is shown as text
        return str(x)
    if arr.dtype.kind not in "biuf":
        return str(x)
    if arr.ndim == 0:
        v = arr.item()
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, int):
            return str(v)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        if v == int(v) and abs(v) < 1e6:
            return str(int(v))
        s = f"{v:.{digits}g}"
        if "e" in s:
            m, e = s.split("e")
            s = f"{m}×10^{int(e)}"
        return s.replace("-", "−")
    flat = arr.ravel()
    if flat.size <= 4:
        return "[" + ", ".join(fmt(v, digits) for v in flat.tolist()) + "]"
    finite = flat[np.isfinite(flat)] if arr.dtype.kind == "f" else flat
    n_inf = flat.size - finite.size
    rng = f"{fmt(finite.min(), digits)} … {fmt(finite.max(), digits)}" if finite.size else "none finite"
    return f"{flat.size} values, {rng}" + (f" ({n_inf} non-finite)" if n_inf else "")


_fmt = fmt


def _jsonable(x: Any) -> Any:
    """A JSON-safe copy of a measured value (non-finite floats as strings, large arrays summarised)."""
    if x is None or isinstance(x, (str, bool)):
        return x
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and any(isinstance(v, (Mapping, str)) for v in x):
        return [_jsonable(v) for v in x]
    try:
        arr = np.asarray(x)
    except Exception:  # noqa: BLE001
        return str(x)
    if arr.dtype.kind not in "biuf":
        return str(x)
    if arr.ndim == 0:
        v = arr.item()
        return v if not (isinstance(v, float) and not math.isfinite(v)) else str(v)
    if arr.size > 64:
        f = arr[np.isfinite(arr)] if arr.dtype.kind == "f" else arr.ravel()
        return {"shape": list(arr.shape), "min": float(f.min()) if f.size else None,
                "max": float(f.max()) if f.size else None}
    return [_jsonable(v) for v in arr.tolist()]


# --------------------------------------------------------------------------- comparison
def _compare(measured: Any, expected: Any, tol: ledger.Tolerance, predicate: Callable | None,
             fmt_args: Mapping[str, Any]) -> tuple[bool, str, np.ndarray | None]:
    """Evaluate a registered tolerance. Returns (passed, the tolerance in words, the margin).

    The margin is, elementwise, how far inside the criterion the measurement lies (negative:
    outside), in the units of ``measured``; ``None`` for a predicate.
    """
    p = tol.params
    if tol.mode == "predicate":
        if predicate is None:
            raise ValueError("predicate: this check's registered criterion needs a predicate(measured, tol)")
        n_args = len([q for q in inspect.signature(predicate).parameters.values()
                      if q.default is inspect.Parameter.empty])
        if n_args != 2:
            raise ValueError("predicate: take (measured, tol) and read every threshold from tol, the registered tolerance")
        ok = bool(predicate(measured, dict(p)))
        try:
            desc = tol.criterion.format(**{k: fmt(v) for k, v in {**p, **fmt_args}.items()})
        except KeyError as exc:
            raise ValueError(f"fmt: the criterion needs {exc} (pass it in fmt=)") from None
        return ok, desc, None
    if predicate is not None:
        raise ValueError("predicate: this check's registered tolerance is numeric; do not pass a predicate")
    m = np.asarray(measured, dtype=float)
    finite = np.isfinite(m)
    if tol.mode == "bounds":
        lo, hi = p.get("lower"), p.get("upper")
        margins = []
        if lo is not None:
            margins.append(m - lo)
        if hi is not None:
            margins.append(hi - m)
        margin = np.minimum.reduce(margins) if len(margins) > 1 else margins[0]
        margin = np.where(finite, margin, -np.inf)
        desc = (f"in [{fmt(lo)}, {fmt(hi)}]" if lo is not None and hi is not None
                else f"≥ {fmt(lo)}" if lo is not None else f"≤ {fmt(hi)}")
        return bool(np.all(margin >= 0)), desc, margin
    if expected is None:
        raise ValueError("expected: this check's registered tolerance (rtol/atol) needs an expected value")
    e = np.asarray(expected, dtype=float)
    r, a = float(p.get("rtol", 0.0)), float(p.get("atol", 0.0))
    try:
        diff = np.abs(m - e)
    except ValueError as exc:
        raise ValueError(f"measured {m.shape} and expected {e.shape} do not broadcast") from exc
    margin = np.where(finite, a + r * np.abs(e) - diff, -np.inf)
    parts = [f"rtol {fmt(r, 2)}"] if "rtol" in p else []
    parts += [f"atol {fmt(a, 2)}"] if "atol" in p else []
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(np.abs(e) > 0, diff / np.abs(e), np.where(diff > 0, np.inf, 0.0))
    err = f"max rel. error {fmt(float(np.max(rel)))}" if "rtol" in p else f"max |Δ| {fmt(float(np.max(diff)))}"
    return bool(np.all(margin >= 0)), " + ".join(parts) + f" ({err})", margin


# --------------------------------------------------------------------------- the log
_FORBIDDEN = ("rtol", "atol", "lower", "upper", "criterion", "statement", "paper_value", "verdict", "reason", "anchor")


class ClaimLog:
    """The checks one chapter runs.

    Parameters
    ----------
    chapter
        The chapter's path relative to ``book/`` without suffix, e.g. ``"momentum/02_short_horizon"``.
        It names the record file and the report's link, and selects the chapter's registered checks.
    directory
        Where to write records (default ``$SGDLAB_CLAIMS_DIR`` or ``_build/claims``).
    scale
        The scale the checks run at (default: :func:`sgdlab.scale.current`).
    registry
        The claim ledger (default: the book's, :func:`sgdlab.ledger.registry`).

    Opening a log empties the chapter's record file and records each of its registered checks as
    *not run*, so a re-run never keeps a stale record and a chapter that stops early loses nothing
    silently.

    Examples
    --------
    >>> log = ClaimLog("notation")                               # doctest: +SKIP
    >>> log.check("N.C1", measured=0.0, expected=0.0)            # doctest: +SKIP
    """

    def __init__(self, chapter: str, *, directory: str | Path | None = None, scale: str | None = None,
                 registry: ledger.Registry | None = None):
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
        self.registry = registry if registry is not None else ledger.registry()
        self.status = "running"
        self.records: dict[str, ClaimRecord] = {}
        for c in self.registry.for_chapter(chapter):
            self.records[c.id] = self._blank(c)
        self._write()

    # ------------------------------------------------------------------ public
    def tol(self, claim_id: str) -> dict[str, Any]:
        """The registered tolerance of a check (its numbers, for a predicate or for the text)."""
        return dict(self.registry.check(claim_id).tolerance.params)

    def check(
        self,
        claim_id: str,
        measured: Any,
        expected: Any = None,
        *,
        predicate: Callable[[Any, dict], bool] | None = None,
        se: Any = None,
        control_measured: Any = None,
        control_expected: Any = None,
        fmt: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        **extra: Any,
    ) -> ClaimRecord:
        """Run a registered check and record it.

        Parameters
        ----------
        claim_id
            A check id registered for this chapter (``"P2.C5b"``).
        measured, expected
            Our value, by the registered *measured* method, and the value it is compared with, by the
            registered *expected* method (scalars, arrays, or for a predicate any object).
        predicate
            For a check registered with a ``criterion``: ``predicate(measured, tol) -> bool``, with
            every threshold read from ``tol`` (the registered tolerance).
        se
            The standard error of ``measured`` (or of ``measured − expected``); required for a
            statistical ``paper``/``finding`` check. The record states the tolerance in units of it.
        control_measured, control_expected
            For a check with a registered negative control: the natural wrong alternative, in place of
            ``measured`` or of ``expected``, run through the same comparison. If it passes too, the
            check is recorded as not discriminating and decides nothing.
        fmt
            Values for the ``{placeholders}`` of the registered statement and criterion.
        data
            For a full-scale check: the provenance of its data (``device``, ``date``, ``commit``,
            ``fresh``). Stale data are recorded as *stale* and decide nothing.

        Raises
        ------
        ClaimFailed
            If the outcome differs from the registered one; the record is kept as *failed*.
        ValueError
            For an unregistered id or one registered for another chapter, a tolerance passed here
            instead of registered, a missing standard error or control, or a malformed value.
        """
        parse_id(claim_id)
        bad = sorted(set(extra) & set(_FORBIDDEN))
        if bad:
            raise ValueError(
                f"{', '.join(bad)}: {claim_id}'s statement and tolerance are registered in "
                f"book/claims/*.yml before the run; a chapter does not pass them"
            )
        if extra:
            raise TypeError(f"check() got unexpected keyword arguments {sorted(extra)}")
        c = self.registry.check(claim_id)
        if c.chapter != self.chapter:
            raise ValueError(f"claim_id={claim_id!r} is registered for chapter {c.chapter!r}, not {self.chapter!r}")
        fmt_args = dict(fmt or {})
        try:
            statement = c.statement.format(**{k: _fmt(v) if not isinstance(v, str) else v
                                              for k, v in fmt_args.items()})
        except KeyError as exc:
            raise ValueError(f"fmt: the statement of {claim_id} needs {exc}") from None
        passed, tol_text, margin = _compare(measured, expected, c.tolerance, predicate, fmt_args)
        # standard error
        se_arr = None
        if se is not None:
            se_arr = np.asarray(se, dtype=float)
            if se_arr.size == 0 or not np.all(np.isfinite(se_arr)) or np.any(se_arr < 0):
                raise ValueError(f"se={se!r} must be finite and >= 0")
        elif c.statistical and c.kind in ("paper", "finding"):
            raise ValueError(f"se: {claim_id} is a statistical {c.kind} check; give its standard error")
        tol_in_se = None
        if se_arr is not None and margin is not None and c.tolerance.mode == "close":
            p = c.tolerance.params
            width = float(p.get("atol", 0.0)) + float(p.get("rtol", 0.0)) * np.abs(np.asarray(expected, dtype=float))
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(se_arr > 0, width / se_arr, np.inf)
            tol_in_se = float(np.min(ratio))
        elif se_arr is not None and margin is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(se_arr > 0, np.abs(margin) / se_arr, np.inf)
            tol_in_se = float(np.min(ratio))
        # negative control
        control_passed = discriminates = control_text = None
        if c.control:
            if (control_measured is None) == (control_expected is None):
                raise ValueError(
                    f"control_measured/control_expected: {claim_id} registers the control "
                    f"'{c.control}'; give exactly one"
                )
            cm = measured if control_measured is None else control_measured
            ce = expected if control_expected is None else control_expected
            control_passed, _, _ = _compare(cm, ce, c.tolerance, predicate, fmt_args)
            discriminates = control_passed != passed
            control_text = _fmt(control_measured if control_measured is not None else control_expected)
        elif control_measured is not None or control_expected is not None:
            raise ValueError(f"control_measured: {claim_id} registers no negative control; register it first")
        want = c.expect == "pass"
        stale = data is not None and not bool(data.get("fresh", False))
        if stale:
            verdict = STALE
        elif passed == want:
            verdict = c.verdict
        else:
            verdict = FAILED
        rec = self._make(c, statement, measured, expected, tol_text, passed, verdict)
        rec.se = _jsonable(se_arr) if se_arr is not None else None
        rec.se_text = _fmt(se_arr) if se_arr is not None else None
        if tol_in_se is not None and math.isfinite(tol_in_se):
            rec.se_text += (f" (tolerance = {_fmt(tol_in_se, 2)} s.e.)" if c.tolerance.mode == "close"
                            else f" ({_fmt(tol_in_se, 2)} s.e. {'inside' if passed else 'outside'} the bound)")
        rec.tol_in_se = tol_in_se
        rec.control_text = control_text
        rec.control_passed = control_passed
        rec.discriminates = discriminates
        rec.data = _jsonable(dict(data)) if data is not None else None
        if data is not None:
            rec.scale = "full"
        self.records[claim_id] = rec
        self._write()
        if verdict == FAILED:
            what = "passes" if passed else "fails"
            raise ClaimFailed(
                f"{claim_id} ({self.chapter}): {statement} — it now {what} its registered criterion "
                f"(measured {rec.measured_text}, expected {rec.expected_text}, {tol_text}); the registry "
                f"expects it to {c.expect}: revise the verdict and the text, not the tolerance"
            )
        return rec

    def close(self) -> None:
        """Mark the chapter complete; a registered book-scale check it did not run is an error.

        Raises
        ------
        ClaimFailed
            If a registered check of this chapter was not run (full-scale checks may stay *not run*:
            their data are not in ``data/`` yet).
        """
        missing = [cid for cid, r in self.records.items()
                   if r.verdict == NOT_RUN and self.registry.checks[cid].scale == "book"]
        for cid, r in self.records.items():
            if r.verdict == NOT_RUN:
                r.reason = "no full-scale result in data/ yet" if cid not in missing else "the chapter never ran it"
        self.status = "complete"
        self._write()
        if missing:
            raise ClaimFailed(f"{self.chapter}: registered checks not run: {', '.join(missing)}")

    def summary(self) -> "VerdictTable":
        """Close the log and return a table of this chapter's verdicts, to show at its end."""
        self.close()
        return VerdictTable([asdict(r) for r in self.records.values()], link=False)

    # ------------------------------------------------------------------ private
    def _make(self, c: ledger.Check, statement, measured, expected, tol_text, passed, verdict) -> ClaimRecord:
        return ClaimRecord(
            id=c.id, paper=c.paper, kind=c.kind, statement=statement, paper_value=c.paper_value,
            measured=_jsonable(measured), expected=_jsonable(expected),
            measured_text=fmt(measured), expected_text=fmt(expected), tolerance=tol_text,
            passed=None if passed is None else bool(passed), verdict=verdict,
            scale=self.scale if c.scale == "book" else "full", chapter=self.chapter,
            headline=c.headline, grade=c.grade, methods=dict(c.methods),
            tolerance_origin=c.tolerance.describe(), control=c.control, anchor=c.anchor,
            reason=c.reason if verdict not in (FAILED, NOT_RUN) else None,
        )

    def _blank(self, c: ledger.Check) -> ClaimRecord:
        tol = c.tolerance.criterion or ", ".join(f"{k} {fmt(v)}" for k, v in c.tolerance.params.items())
        rec = self._make(c, re.sub(r"\{[^}]*\}", "…", c.statement), None, None, tol, None, NOT_RUN)
        rec.reason = "the chapter stopped before this check"
        return rec

    def _write(self) -> None:
        atomic_write_json(
            self.path,
            {"chapter": self.chapter, "status": self.status,
             "records": [asdict(r) for r in self.records.values()]},
        )


# --------------------------------------------------------------------------- reading records
def load(directory: str | Path | None = None) -> list[dict[str, Any]]:
    """Every record in ``directory`` (default: the claims folder), sorted by id.

    Raises
    ------
    ValueError
        Naming the file, if a record file is not a chapter's record.
    """
    return sorted((r for f in _files(directory) for r in f["records"]), key=lambda r: sort_key(r["id"]))


def chapter_status(directory: str | Path | None = None) -> dict[str, str]:
    """``{chapter: "complete" | "running"}``; *running* after the build means the chapter failed."""
    return {f["chapter"]: f.get("status", "complete") for f in _files(directory)}


def _files(directory) -> list[dict]:
    directory = Path(directory) if directory is not None else claims_dir()
    out = []
    for f in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            d = json.loads(f.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{f}: not a claim record file ({exc})") from None
        if not isinstance(d, dict) or not isinstance(d.get("records"), list) or "chapter" not in d:
            raise ValueError(f"{f}: not a claim record file (needs 'chapter' and 'records')")
        out.append(d)
    return out


def unfinished(records: list[Mapping[str, Any]], status: Mapping[str, str]) -> list[dict]:
    """Records of chapters that stopped early, marked *not run (chapter failed)*."""
    out = []
    for r in records:
        r = dict(r)
        if r["verdict"] == NOT_RUN and status.get(r["chapter"]) == "running":
            r["reason"] = "chapter failed before this check"
        out.append(r)
    return out


def counts_by_kind(records: list[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """``{kind: {verdict: n}}``: never one total across kinds."""
    out: dict[str, dict[str, int]] = {}
    for r in records:
        d = out.setdefault(r.get("kind", "unclassified"), {})
        d[r["verdict"]] = d.get(r["verdict"], 0) + 1
    return out


# --------------------------------------------------------------------------- HTML
_COLOURS = {
    "supports": "#1b7837", "holds": "#1b7837", "supported": "#1b7837", "reproduced": "#1b7837",
    "qualifies": "#b35806", "partly": "#b35806",
    "contradicts": "#762a83", "contradicted": "#762a83", "not reproduced": "#762a83",
    FAILED: "#b2182b", NOT_RUN: "#666666", STALE: "#666666", "not tested": "#666666",
    "not decided": "#666666", "not run (chapter failed)": "#b2182b",
}
_DOLLAR_RE = re.compile(r"\$([^$]+)\$")


def _math(text: str) -> str:
    """Escape ``text`` for HTML and turn ``$...$`` into MathJax's ``\\(...\\)``."""
    return _DOLLAR_RE.sub(r"\\(\1\\)", html.escape(text))


def _badge(verdict: str) -> str:
    return f"<b class='claim-verdict' style='color:{_COLOURS.get(verdict, '#000')}'>{html.escape(verdict)}</b>"


def _row_html(r: Mapping[str, Any], *, link: bool, prefix: str = "", compact: bool = False) -> str:
    e = html.escape
    cid = e(r["id"])
    if link:
        href = f"{prefix}{r['chapter']}.html" + (f"#{r['anchor']}" if r.get("anchor") else "")
        cid = f"<a href='{e(href)}'>{cid}</a>"
    kind = r.get("kind", "")
    tag = e(kind) + (f" · grade {e(r['grade'])}" if r.get("grade") else "")
    if r.get("headline"):
        tag += f" · {e(r['headline'])}"
    verdict = r["verdict"]
    if verdict == NOT_RUN and r.get("reason") == "chapter failed before this check":
        verdict = "not run (chapter failed)"
    if r.get("discriminates") is False:
        verdict_html = _badge(verdict) + "<br><small style='color:#b2182b'>does not discriminate</small>"
    else:
        verdict_html = _badge(verdict)
    details = []
    if verdict not in (NOT_RUN, "not run (chapter failed)"):
        meth = r.get("methods") or {}
        ours = f"ours {e(str(r.get('measured_text', '—')))}"
        if meth.get("measured"):
            ours += f" <i>({_math(meth['measured'])})</i>"
        exp = f"expected {e(str(r.get('expected_text', '—')))}"
        if meth.get("expected"):
            exp += f" <i>({_math(meth['expected'])})</i>"
        details.append(ours + "; " + exp if r.get("expected_text") not in (None, "—") or meth.get("expected") else ours)
        tol = f"criterion: {_math(str(r.get('tolerance', '—')))}"
        if r.get("tolerance_origin"):
            tol += f" — {_math(r['tolerance_origin'])}"
        if r.get("se_text"):
            tol += f"; s.e. {e(r['se_text'])}"
        details.append(tol)
        if r.get("control"):
            cp = r.get("control_passed")
            what = "passes too" if cp else "fails, as it should" if cp is False else "—"
            details.append(f"negative control: {_math(r['control'])} ({e(str(r.get('control_text')))}) {what}")
        if r.get("paper_value") not in (None, "—"):
            details.append(f"paper: {_math(str(r['paper_value']))}")
        if r.get("data"):
            d = r["data"]
            details.append("data: " + e(", ".join(f"{k} {d[k]}" for k in ("device", "date", "commit") if d.get(k))))
    if r.get("reason"):
        details.append(f"<b>why:</b> {_math(r['reason'])}")
    det = "".join(f"<br><small>{d}</small>" for d in details)
    return (f"<tr><td>{verdict_html}</td><td>{cid}<br><small>{tag}</small></td>"
            f"<td>{_math(r['statement'])}{det}</td></tr>")


class VerdictTable:
    """An HTML table of check records, verdict first, three columns that fit the text column."""

    def __init__(self, rows: list[Mapping[str, Any]], *, link: bool = True, prefix: str = ""):
        self.rows = sorted((dict(r) for r in rows), key=lambda r: sort_key(r["id"]))
        self.link = link
        self.prefix = prefix

    def _repr_html_(self) -> str:
        head = ("<div class='mathjax_process claims-wrap'><table class='claims-table'><thead><tr>"
                "<th>verdict</th><th>check</th><th>what it tests</th></tr></thead><tbody>")
        body = "".join(_row_html(r, link=self.link, prefix=self.prefix) for r in self.rows)
        return head + body + "</tbody></table></div>"

    def __str__(self) -> str:
        return "\n".join(f"{r['id']:8} {r.get('kind', ''):10} {r['verdict']:12} {r['statement']}" for r in self.rows)

    __repr__ = __str__


class HeadlineTable:
    """The headline claims with their verdicts at book and full scale, grade and source status."""

    def __init__(self, records: list[Mapping[str, Any]], registry: ledger.Registry | None = None, *,
                 prefix: str = "", only: str | None = None):
        self.registry = registry if registry is not None else ledger.registry()
        self.records = list(records)
        self.prefix = prefix
        self.only = only
        self.book = ledger.headline_verdicts(self.records, self.registry, "book")
        self.full = ledger.headline_verdicts(self.records, self.registry, "full")

    def _cell(self, hv: ledger.HeadlineVerdict) -> str:
        note = f"<br><small>{html.escape(hv.note)}</small>" if hv.note else ""
        return _badge(hv.verdict) + note

    def _repr_html_(self) -> str:
        e = html.escape
        rows = []
        for h in sorted(self.registry.headlines.values(), key=lambda h: sort_key(h.id)):
            if self.only and not h.id.startswith(self.only + "."):
                continue
            b, f = self.book[h.id], self.full[h.id]
            cid = e(h.id)
            decider = sorted(b.deciding or f.deciding, key=lambda r: ledger.GRADES.index(r.get("grade") or "C"))
            if decider:
                r0 = decider[0]
                href = f"{self.prefix}{r0['chapter']}.html" + (f"#{r0['anchor']}" if r0.get("anchor") else "")
                cid = f"<a href='{e(href)}'>{cid}</a>"
            grade = b.grade or f.grade or "—"
            rows.append(
                f"<tr><td>{cid}</td><td>{_math(h.claim)}</td><td>{self._cell(b)}</td><td>{self._cell(f)}</td>"
                f"<td>{e(grade)}</td><td>{e(h.source)}</td></tr>"
            )
        return ("<div class='mathjax_process claims-wrap'><table class='claims-table headline-table'><thead><tr>"
                "<th>claim</th><th>headline claim</th><th>book</th><th>full</th><th>grade</th><th>source</th>"
                "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>")


def report_html(records: list[Mapping[str, Any]], *, prefix: str = "") -> str:
    """Per paper, the checks grouped by kind in collapsible sections."""
    out = []
    by_paper: dict[str, list] = {}
    for r in records:
        by_paper.setdefault(parse_id(r["id"])[0], []).append(r)
    for p in PAPERS:
        recs = by_paper.get(p)
        if not recs:
            continue
        kinds = counts_by_kind(recs)
        summ = "; ".join(f"{k}: {sum(v.values())}" for k, v in sorted(kinds.items(), key=lambda kv: _kind_rank(kv[0])))
        out.append(f"<h3>{html.escape(PAPERS[p])}</h3><p><small>{html.escape(summ)}</small></p>")
        for kind in sorted(kinds, key=_kind_rank):
            rows = [r for r in recs if r.get("kind", "unclassified") == kind]
            vs = ", ".join(f"{n} {v}" for v, n in sorted(kinds[kind].items()))
            out.append(f"<details class='claims-kind'><summary><b>{html.escape(kind)}</b> checks ({len(rows)}: {html.escape(vs)})"
                       f"</summary>{VerdictTable(rows, prefix=prefix)._repr_html_()}</details>")
    return "".join(out)


def _kind_rank(kind: str) -> int:
    order = list(KINDS) + ["unclassified"]
    return order.index(kind) if kind in order else len(order)
