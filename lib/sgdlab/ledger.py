"""The claim ledger: headline claims, registered checks and their tolerances, per part of the book.

Each part of the book declares, once, in ``book/claims/<part>.yml``:

- its **headline claims** (``P1.H1`` …), taken from the paper's abstract, each with where it stands in
  the paper (abstract sentence, theorem, figure, table) and its *source status*: ``read`` (we read the
  statement itself) or ``reconstructed`` (the formal statement was not available to us and the claim
  is our reconstruction);
- every **check** its chapters run (``P1.C3b`` …): its *kind* (``paper``, ``finding``,
  ``derivation``, ``software``, ``control``), the headline claim a ``paper``/``finding`` check bears
  on and how (``supports``, ``qualifies``, ``contradicts``), the evidence grade of a ``paper`` check
  (A, B, C), the two methods it compares, whether it is statistical (then it must record a standard
  error), its negative control, and its **tolerance, registered before the run** with its origin.

:class:`sgdlab.claims.ClaimLog` reads the ledger: a chapter names a check by its id and supplies only
what it measured; the tolerance, the statement and the verdict it would support come from here. The
part index pages render the headline claims (the ``headline-claims`` directive of the book's Sphinx
extension), and the reproducibility report derives each headline verdict from the ``paper`` checks
(:func:`headline_verdicts`).

The grades:

- **A**: the paper's own quantity, setting or printed number, reproduced by an independent method;
- **B**: the paper's statement tested by an independent method on a setting of ours;
- **C**: shown only on a toy or a reconstruction, or only derived.
"""
from __future__ import annotations

import functools
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ._paths import BOOK_DIR

#: Kinds of check. Only ``paper`` checks decide a headline verdict.
KINDS = ("paper", "finding", "derivation", "software", "control")
#: How a ``paper`` or ``finding`` check bears on its headline claim.
BEARS = ("supports", "qualifies", "contradicts")
#: Evidence grades, best first.
GRADES = ("A", "B", "C")
#: Source status of a headline claim.
SOURCES = ("read", "reconstructed")
#: Keys of a registered tolerance that define the comparison.
TOL_KEYS = ("rtol", "atol", "lower", "upper")
#: Where the registries live, relative to the book folder.
REGISTRY_DIR = "claims"

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

_CHECK_RE = re.compile(r"^(N|S|P[1-5])\.C(\d+)([a-z]{0,2})$")
_HEAD_RE = re.compile(r"^(P[1-5])\.H(\d+)$")


def parse_id(claim_id: str) -> tuple[str, int, str]:
    """Split a check id ``"P2.C5b"`` into ``("P2", 5, "b")``.

    Raises
    ------
    ValueError
        If ``claim_id`` is not of the form ``P<k>.C<n>``, ``N.C<n>`` or ``S.C<n>`` (optional letters).
    """
    m = _CHECK_RE.match(claim_id) if isinstance(claim_id, str) else None
    if not m:
        raise ValueError(
            f"claim_id={claim_id!r} is not a check id; expected e.g. 'P1.C3', 'P2.C5b', 'N.C1' or 'S.C2'"
        )
    return m.group(1), int(m.group(2)), m.group(3)


def sort_key(claim_id: str) -> tuple:
    """Order ids as N, P1 … P5, S, then headline claims before checks, then by number and letter."""
    m = _HEAD_RE.match(claim_id)
    if m:
        return (list(PAPERS).index(m.group(1)), 0, int(m.group(2)), "")
    prefix, num, letter = parse_id(claim_id)
    return (list(PAPERS).index(prefix), 1, num, letter)


@dataclass(frozen=True)
class Headline:
    """A headline claim of a paper, as declared in the part's registry."""

    id: str
    claim: str
    where: str
    source: str
    source_note: str
    part: str

    @property
    def paper(self) -> str:
        return PAPERS[self.id.split(".")[0]]


@dataclass(frozen=True)
class Tolerance:
    """A registered tolerance: the comparison, its origin, and the reason it was set as it is."""

    params: Mapping[str, Any]
    origin: str
    reason: str
    criterion: str | None = None

    @property
    def mode(self) -> str:
        """``"close"`` (rtol/atol against an expected value), ``"bounds"`` or ``"predicate"``."""
        if self.criterion is not None:
            return "predicate"
        if "lower" in self.params or "upper" in self.params:
            return "bounds"
        return "close"

    def describe(self) -> str:
        """The tolerance in words, with its origin."""
        src = "the paper's" if self.origin == "paper" else "set here"
        return f"{src}: {self.reason}" if self.reason else src


@dataclass(frozen=True)
class Check:
    """A registered check (see the module docstring for the fields' meaning)."""

    id: str
    chapter: str
    kind: str
    statement: str
    tolerance: Tolerance
    headline: str | None = None
    bears: str | None = None
    grade: str | None = None
    expect: str = "pass"
    paper_value: str = "—"
    methods: Mapping[str, str] = field(default_factory=dict)
    statistical: bool = False
    control: str | None = None
    reason: str | None = None
    anchor: str | None = None
    scale: str = "book"
    part: str = ""

    @property
    def paper(self) -> str:
        return PAPERS[parse_id(self.id)[0]]

    @property
    def verdict(self) -> str:
        """The verdict this check records when its outcome is the registered one."""
        return self.bears if self.kind in ("paper", "finding") else "holds"


@dataclass
class Registry:
    """All headline claims and checks of the book (or of the registries given)."""

    headlines: dict[str, Headline] = field(default_factory=dict)
    checks: dict[str, Check] = field(default_factory=dict)
    parts: dict[str, Path] = field(default_factory=dict)

    def for_chapter(self, chapter: str) -> list[Check]:
        """The registered checks of one chapter, in registry order."""
        return [c for c in self.checks.values() if c.chapter == chapter]

    def check(self, claim_id: str) -> Check:
        try:
            return self.checks[claim_id]
        except KeyError:
            raise ValueError(
                f"claim_id={claim_id!r} is not registered: declare it, with its tolerance, in "
                f"book/{REGISTRY_DIR}/<part>.yml before the run"
            ) from None

    def prefixes(self) -> set[str]:
        """Claim-id prefixes (``P1``, ``S`` …) that have a registry."""
        return {parse_id(c)[0] for c in self.checks} | {h.split(".")[0] for h in self.headlines}

    def headlines_of(self, prefix: str) -> list[Headline]:
        return [h for h in self.headlines.values() if h.id.startswith(prefix + ".")]


# --------------------------------------------------------------------------- loading
def _err(path: Path, where: str, msg: str) -> ValueError:
    return ValueError(f"{path}: {where}: {msg}")


def _need(d: Mapping, key: str, path: Path, where: str, kind=str) -> Any:
    if key not in d or d[key] in (None, ""):
        raise _err(path, where, f"'{key}' is required")
    if not isinstance(d[key], kind):
        raise _err(path, where, f"'{key}' must be a {kind.__name__}")
    return d[key]


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def _parse_tolerance(t: Any, path: Path, where: str) -> Tolerance:
    if not isinstance(t, Mapping):
        raise _err(path, where, "'tolerance' must be a mapping (rtol/atol, lower/upper, or criterion)")
    origin = t.get("origin")
    if origin not in ("paper", "here"):
        raise _err(path, where, "tolerance 'origin' must be 'paper' or 'here'")
    reason = t.get("reason") or ""
    if origin == "here" and not reason:
        raise _err(path, where, "a tolerance set here needs a one-line 'reason'")
    criterion = t.get("criterion")
    params = {k: v for k, v in t.items() if k not in ("origin", "reason", "criterion")}
    numeric = [k for k in TOL_KEYS if k in params]
    if criterion is None:
        if not numeric:
            raise _err(path, where, "tolerance needs rtol/atol, lower/upper, or a criterion")
        if ({"rtol", "atol"} & set(numeric)) and ({"lower", "upper"} & set(numeric)):
            raise _err(path, where, "give rtol/atol or lower/upper, not both")
        extra = set(params) - set(TOL_KEYS)
        if extra:
            raise _err(path, where, f"unknown tolerance keys {sorted(extra)}")
    elif not isinstance(criterion, str):
        raise _err(path, where, "'criterion' must be a string")
    for k, v in params.items():
        if k in TOL_KEYS and not (isinstance(v, (int, float)) and not isinstance(v, bool)):
            raise _err(path, where, f"tolerance {k}={v!r} must be a number")
        if k in ("rtol", "atol") and v < 0:
            raise _err(path, where, f"tolerance {k}={v!r} must be >= 0")
    return Tolerance(params=dict(params), origin=origin, reason=reason, criterion=criterion)


def parse_registry(data: Any, path: Path, part: str) -> tuple[list[Headline], list[Check]]:
    """Validate one registry file's content and return its headline claims and checks.

    Raises
    ------
    ValueError
        Naming the file, the entry and the field, for any malformed entry.
    """
    if not isinstance(data, Mapping):
        raise _err(path, "top level", "expected a mapping with 'headlines' and 'checks'")
    heads: list[Headline] = []
    for i, h in enumerate(data.get("headlines") or []):
        where = f"headlines[{i}]"
        if not isinstance(h, Mapping):
            raise _err(path, where, "expected a mapping")
        hid = _need(h, "id", path, where)
        if not _HEAD_RE.match(hid):
            raise _err(path, where, f"id={hid!r} is not a headline id such as 'P1.H1'")
        where = hid
        src = _need(h, "source", path, where)
        if src not in SOURCES:
            raise _err(path, where, f"source={src!r} must be one of {SOURCES}")
        heads.append(Headline(
            id=hid, claim=_need(h, "claim", path, where), where=_need(h, "where", path, where),
            source=src, source_note=_need(h, "source_note", path, where), part=part,
        ))
    checks: list[Check] = []
    for i, c in enumerate(data.get("checks") or []):
        where = f"checks[{i}]"
        if not isinstance(c, Mapping):
            raise _err(path, where, "expected a mapping")
        cid = _need(c, "id", path, where)
        try:
            parse_id(cid)
        except ValueError as exc:
            raise _err(path, where, str(exc)) from None
        where = cid
        kind = _need(c, "kind", path, where)
        if kind not in KINDS:
            raise _err(path, where, f"kind={kind!r} must be one of {KINDS}")
        headline = c.get("headline")
        bears = c.get("bears")
        grade = c.get("grade")
        methods = c.get("methods") or {}
        if kind in ("paper", "finding"):
            if kind == "paper" and not headline:
                raise _err(path, where, "a 'paper' check names the headline claim it tests ('headline')")
            if headline is not None and not _HEAD_RE.match(str(headline)):
                raise _err(path, where, f"headline={headline!r} is not a headline id")
            if bears not in BEARS:
                raise _err(path, where, f"bears={bears!r} must be one of {BEARS}")
            if not isinstance(methods, Mapping) or not methods.get("measured") or not methods.get("expected"):
                raise _err(path, where, "a paper/finding check names both methods (methods: measured, expected)")
            if str(methods["measured"]).strip().lower() == str(methods["expected"]).strip().lower():
                raise _err(path, where, "the two methods are the same: that is a 'software' check")
        elif bears is not None or (kind != "control" and headline is not None):
            raise _err(path, where, f"a '{kind}' check bears on no headline claim (drop headline/bears)")
        if kind == "paper":
            if grade not in GRADES:
                raise _err(path, where, f"grade={grade!r} must be one of {GRADES}")
        elif grade is not None:
            raise _err(path, where, "only 'paper' checks carry a grade")
        expect = c.get("expect", "pass")
        if expect not in ("pass", "fail"):
            raise _err(path, where, "expect must be 'pass' or 'fail'")
        reason = c.get("reason")
        if (expect == "fail" or bears in ("qualifies", "contradicts")) and not reason:
            raise _err(path, where, "a check that qualifies or contradicts, or is expected to fail, says why ('reason')")
        scale = c.get("scale", "book")
        if scale not in ("book", "full"):
            raise _err(path, where, "scale must be 'book' or 'full'")
        checks.append(Check(
            id=cid, chapter=_need(c, "chapter", path, where), kind=kind,
            statement=_need(c, "statement", path, where),
            tolerance=_parse_tolerance(c.get("tolerance"), path, where),
            headline=headline, bears=bears, grade=grade, expect=expect,
            paper_value=str(c.get("paper_value") or "—"), methods=dict(methods),
            statistical=bool(c.get("statistical", False)), control=c.get("control"), reason=reason,
            anchor=c.get("anchor"), scale=scale, part=part,
        ))
    return heads, checks


def load_registry(book_dir: str | Path = BOOK_DIR) -> Registry:
    """Read every ``book/claims/*.yml``; ids must be unique and headlines must exist.

    Raises
    ------
    ValueError
        Naming the file and entry, for a malformed registry, a duplicate id or a dangling headline.
    """
    reg = Registry()
    folder = Path(book_dir) / REGISTRY_DIR
    for path in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML ({exc})") from None
        heads, checks = parse_registry(data, path, path.stem)
        reg.parts[path.stem] = path
        for h in heads:
            if h.id in reg.headlines:
                raise _err(path, h.id, "duplicate headline id")
            reg.headlines[h.id] = h
        for c in checks:
            if c.id in reg.checks:
                raise _err(path, c.id, "duplicate check id")
            reg.checks[c.id] = c
    for c in reg.checks.values():
        if c.headline and c.headline not in reg.headlines:
            raise _err(reg.parts[c.part], c.id, f"headline {c.headline} is not declared")
    return reg


@functools.lru_cache(maxsize=4)
def _cached(book_dir: str, stamp: tuple) -> Registry:
    return load_registry(book_dir)


def registry(book_dir: str | Path = BOOK_DIR) -> Registry:
    """The book's registry (cached until a registry file changes)."""
    folder = Path(book_dir) / REGISTRY_DIR
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.yml"))) if folder.is_dir() else ()
    return _cached(str(book_dir), stamp)


# --------------------------------------------------------------------------- headline verdicts
SUPPORTED, PARTLY, CONTRADICTED = "supported", "partly", "contradicted"
NOT_TESTED, NOT_RUN_H, UNDECIDED, STALE_H = "not tested", "not run", "not decided", "stale"


@dataclass
class HeadlineVerdict:
    """A headline claim's verdict at one scale, with the checks that decide it."""

    verdict: str
    grade: str | None
    deciding: list[Mapping[str, Any]]
    note: str = ""


def decide(records: Iterable[Mapping[str, Any]]) -> HeadlineVerdict:
    """The verdict that a set of ``paper`` check records gives their headline claim.

    Records that did not run, are stale, failed, or whose negative control also passed (they do not
    discriminate) decide nothing. Of the rest: all *supports* → supported; all *contradicts* →
    contradicted; any other mix (or any *qualifies*) → partly. The grade is the best grade among the
    deciding checks.
    """
    recs = list(records)
    if not recs:
        return HeadlineVerdict(NOT_TESTED, None, [])
    if any(r.get("verdict") == "failed" for r in recs):
        return HeadlineVerdict("failed", None, [r for r in recs if r.get("verdict") == "failed"],
                               "a check failed: the build stops")
    usable = [r for r in recs if r.get("verdict") in BEARS]
    deciding = [r for r in usable if r.get("discriminates") is not False]
    if not deciding:
        if usable:
            return HeadlineVerdict(UNDECIDED, None, [], "its checks do not discriminate (the control passes too)")
        if any(r.get("verdict") == "stale" for r in recs):
            return HeadlineVerdict(STALE_H, None, [], "only stale results")
        return HeadlineVerdict(NOT_RUN_H, None, [], "its checks did not run")
    bears = {r["verdict"] for r in deciding}
    if bears == {"supports"}:
        v = SUPPORTED
    elif bears == {"contradicts"}:
        v = CONTRADICTED
    else:
        v = PARTLY
    grade = min((r.get("grade") or "C" for r in deciding), key=GRADES.index)
    return HeadlineVerdict(v, grade, deciding)


def headline_verdicts(records: Iterable[Mapping[str, Any]], reg: Registry, scale: str) -> dict[str, HeadlineVerdict]:
    """Verdict per headline claim from the ``paper`` records at ``scale`` (``"book"`` or ``"full"``)."""
    recs = [r for r in records if r.get("kind") == "paper" and r.get("scale") == scale]
    return {hid: decide(r for r in recs if r.get("headline") == hid) for hid in reg.headlines}
