"""ClaimLog basics: records, files, ids, formatting (the ledger semantics are in test_ledger.py)."""
import json
import textwrap

import numpy as np
import pytest

from sgdlab import claims, ledger
from sgdlab.claims import ClaimFailed, ClaimLog

REG = textwrap.dedent("""
    checks:
      - id: P1.C1
        chapter: part/01_chapter
        kind: software
        statement: "a < b"
        anchor: sec
        tolerance: {rtol: 1.0e-6, origin: here, reason: round-off}
      - id: P1.C2
        chapter: part/01_chapter
        kind: software
        statement: arrays agree elementwise
        tolerance: {rtol: 1.0e-3, origin: here, reason: three digits}
      - id: P2.C3
        chapter: part/01_chapter
        kind: software
        statement: bounded
        tolerance: {lower: 0.35, upper: 0.65, origin: here, reason: r}
      - id: N.C1
        chapter: x
        kind: software
        statement: s
        tolerance: {atol: 0, origin: here, reason: exact}
""")


@pytest.fixture
def reg(tmp_path):
    (tmp_path / "book" / "claims").mkdir(parents=True)
    (tmp_path / "book" / "claims" / "t.yml").write_text(REG)
    return ledger.load_registry(tmp_path / "book")


@pytest.fixture
def log(tmp_path, reg):
    return ClaimLog("part/01_chapter", directory=tmp_path / "rec", scale="book", registry=reg)


def test_a_passing_check_is_recorded_in_the_chapter_file(log):
    rec = log.check("P1.C1", measured=1.0 + 1e-9, expected=1.0)
    assert rec.verdict == claims.HOLDS and rec.passed and rec.kind == "software"
    data = json.loads((log.directory / "part__01_chapter.json").read_text())
    assert {r["id"] for r in data["records"]} == {"P1.C1", "P1.C2", "P2.C3"}
    assert claims.load(log.directory)[0]["verdict"] == claims.HOLDS


def test_a_failing_check_raises_and_is_recorded_as_failed(log):
    with pytest.raises(ClaimFailed, match="P1.C1"):
        log.check("P1.C1", measured=1.1, expected=1.0)
    assert {r["id"]: r["verdict"] for r in claims.load(log.directory)}["P1.C1"] == claims.FAILED


def test_arrays_use_an_elementwise_tolerance_and_bounds_hold_for_every_element(log):
    log.check("P1.C2", measured=np.array([1.0, 2.0]), expected=np.array([1.0, 2.001]))
    log.check("P2.C3", measured=[0.4, 0.6])
    with pytest.raises(ClaimFailed):
        log.check("P2.C3", measured=[0.4, 0.7])


@pytest.mark.parametrize("bad", ["P6.C1", "C1", "P1C1", "p1.c1", "P1.C", "", "P1.H1"])
def test_a_bad_claim_id_is_a_value_error(log, bad):
    with pytest.raises(ValueError, match="claim_id"):
        log.check(bad, measured=1, expected=1)


@pytest.mark.parametrize("chapter", ["", "/abs", "x.ipynb", "x.md", 3])
def test_a_bad_chapter_is_a_value_error(tmp_path, reg, chapter):
    with pytest.raises(ValueError, match="chapter"):
        ClaimLog(chapter, directory=tmp_path, registry=reg)


def test_reopening_a_chapter_log_clears_its_stale_records(tmp_path, reg):
    ClaimLog("x", directory=tmp_path, registry=reg).check("N.C1", measured=1, expected=1)
    ClaimLog("x", directory=tmp_path, registry=reg)
    assert [r["verdict"] for r in claims.load(tmp_path)] == [claims.NOT_RUN]


def test_a_record_file_that_is_not_one_names_the_file(tmp_path):
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="bad.json"):
        claims.load(tmp_path)


def test_claim_ids_sort_by_paper_then_number():
    ids = ["S.C1", "P2.C10", "P2.C2", "N.C1", "P1.C3", "P2.H1"]
    assert sorted(ids, key=claims.sort_key) == ["N.C1", "P1.C3", "P2.H1", "P2.C2", "P2.C10", "S.C1"]


def test_verdict_table_renders_links_escapes_and_puts_the_verdict_first(log):
    log.check("P1.C1", measured=1, expected=1)
    html = claims.VerdictTable(claims.load(log.directory))._repr_html_()
    assert "part/01_chapter.html#sec" in html and "a &lt; b" in html
    assert html.index("<th>verdict</th>") < html.index("<th>check</th>")


def test_a_record_shows_as_one_line(log):
    rec = log.check("P1.C1", measured=1, expected=1)
    assert "\n" not in repr(rec) and repr(rec).startswith("P1.C1 (software): holds")
