"""The claim ledger: registries, registered tolerances, kinds, controls, not-run records, headline verdicts."""
import json
import textwrap

import numpy as np
import pytest

from sgdlab import claims, ledger
from sgdlab.claims import ClaimFailed, ClaimLog

REG = textwrap.dedent("""
    headlines:
      - id: P1.H1
        claim: the loss has a compact generating function
        where: abstract, sentence 2
        source: read
        source_note: the abstract states it
      - id: P1.H2
        claim: it gives the convergence conditions
        where: abstract, sentence 3; Theorem 2
        source: reconstructed
        source_note: the theorem's statement was not available
    checks:
      - id: P1.C1a
        chapter: part/ch
        kind: derivation
        statement: the two forms agree symbolically
        tolerance: {atol: 0, origin: here, reason: an identity}
      - id: P1.C1b
        chapter: part/ch
        kind: paper
        headline: P1.H1
        bears: supports
        grade: B
        statement: Monte Carlo loss equals the recursion at {n} steps
        methods: {measured: Monte Carlo over runs, expected: exact moment recursion}
        statistical: true
        control: tau2 = +1 on Gaussian data
        tolerance: {rtol: 0.05, origin: here, reason: three standard errors of the runs}
      - id: P1.C1c
        chapter: part/ch
        kind: paper
        headline: P1.H2
        bears: contradicts
        grade: C
        expect: fail
        reason: the boundary is 20 % off
        statement: the boundary sits at the paper's value
        methods: {measured: recursion, expected: the paper's formula}
        tolerance: {lower: 0.9, upper: 1.1, origin: paper, reason: printed to one digit}
      - id: P1.C1d
        chapter: part/ch
        kind: software
        statement: every point classified alike
        tolerance: {criterion: "at most {frac} of points differ", frac: 0.01, origin: here, reason: the band}
      - id: P1.C2a
        chapter: part/other
        kind: finding
        headline: P1.H2
        bears: qualifies
        reason: only at small batch
        statement: s
        methods: {measured: a, expected: b}
        scale: full
        tolerance: {rtol: 0.1, origin: here, reason: r}
""")


@pytest.fixture
def book(tmp_path):
    (tmp_path / "claims").mkdir()
    (tmp_path / "claims" / "p1.yml").write_text(REG)
    return tmp_path


@pytest.fixture
def reg(book):
    return ledger.load_registry(book)


@pytest.fixture
def log(tmp_path, reg):
    return ClaimLog("part/ch", directory=tmp_path / "rec", scale="book", registry=reg)


def _run_all(log):
    log.check("P1.C1a", measured=0.0, expected=0.0)
    log.check("P1.C1b", measured=1.02, expected=1.0, se=0.01, control_measured=1.5, fmt={"n": 100})
    log.check("P1.C1c", measured=0.8)
    log.check("P1.C1d", measured=0.0, predicate=lambda m, t: m <= t["frac"])


# --------------------------------------------------------------------------- registry
def test_registry_loads_headlines_and_checks(reg):
    assert set(reg.headlines) == {"P1.H1", "P1.H2"}
    assert reg.checks["P1.C1b"].tolerance.params == {"rtol": 0.05}
    assert [c.id for c in reg.for_chapter("part/ch")] == ["P1.C1a", "P1.C1b", "P1.C1c", "P1.C1d"]


@pytest.mark.parametrize("edit, msg", [
    (("kind: derivation", "kind: claim"), "kind"),
    (("    headline: P1.H1\n", ""), "headline"),
    (("grade: B", "grade: D"), "grade"),
    (("expected: exact moment recursion", "expected: Monte Carlo over runs"), "same"),
    (("origin: here, reason: three standard errors of the runs", "origin: here"), "reason"),
    (("{rtol: 0.05,", "{rtol: 0.05, lower: 0,"), "not both"),
    (("headline: P1.H1", "headline: P1.H9"), "not declared"),
    (("source: read", "source: guessed"), "source"),
    (("    reason: the boundary is 20 % off\n", ""), "reason"),
])
def test_a_malformed_registry_names_the_file_and_the_field(book, edit, msg):
    f = book / "claims" / "p1.yml"
    f.write_text(REG.replace(*edit, 1))
    with pytest.raises(ValueError, match=msg) as exc:
        ledger.load_registry(book)
    assert "p1.yml" in str(exc.value)


def test_a_duplicate_id_across_registries_is_refused(book):
    (book / "claims" / "p1b.yml").write_text(REG.split("checks:")[0].replace("P1.H1", "P1.H7").replace("P1.H2", "P1.H8")
                                             + "checks:\n" + REG.split("checks:")[1].split("      - id: P1.C1b")[0])
    with pytest.raises(ValueError, match="duplicate check id"):
        ledger.load_registry(book)


# --------------------------------------------------------------------------- registered tolerances
@pytest.mark.parametrize("kw", [{"rtol": 0.5}, {"atol": 1}, {"lower": 0}, {"statement": "s"}, {"criterion": "c"}])
def test_a_tolerance_passed_by_the_chapter_is_refused(log, kw):
    with pytest.raises(ValueError, match="registered"):
        log.check("P1.C1a", measured=0.0, expected=0.0, **kw)


def test_an_unregistered_check_is_refused(log):
    with pytest.raises(ValueError, match="not registered"):
        log.check("P1.C9", measured=0.0, expected=0.0)


def test_a_check_of_another_chapter_is_refused(log):
    with pytest.raises(ValueError, match="registered for chapter"):
        log.check("P1.C2a", measured=1.0, expected=1.0)


def test_a_predicate_must_read_its_thresholds_from_the_registry(log):
    with pytest.raises(ValueError, match="tol"):
        log.check("P1.C1d", measured=0.0, predicate=lambda m: m <= 0.01)
    rec = log.check("P1.C1d", measured=0.0, predicate=lambda m, t: m <= t["frac"])
    assert rec.tolerance == "at most 0.01 of points differ" and rec.verdict == "holds"


def test_the_registered_tolerance_decides(log):
    rec = log.check("P1.C1b", measured=1.04, expected=1.0, se=0.01, control_measured=1.5, fmt={"n": 100})
    assert rec.verdict == "supports" and rec.statement.endswith("at 100 steps")
    assert rec.tol_in_se == pytest.approx(5.0)
    with pytest.raises(ClaimFailed, match="revise the verdict"):
        log.check("P1.C1b", measured=1.06, expected=1.0, se=0.01, control_measured=1.5, fmt={"n": 100})
    assert log.records["P1.C1b"].verdict == claims.FAILED


def test_a_statistical_paper_check_needs_its_standard_error(log):
    with pytest.raises(ValueError, match="se"):
        log.check("P1.C1b", measured=1.0, expected=1.0, control_measured=1.5, fmt={"n": 1})


def test_a_registered_control_must_be_run(log):
    with pytest.raises(ValueError, match="control"):
        log.check("P1.C1b", measured=1.0, expected=1.0, se=0.01, fmt={"n": 1})
    with pytest.raises(ValueError, match="no negative control"):
        log.check("P1.C1a", measured=0.0, expected=0.0, control_measured=1.0)


def test_a_check_whose_control_passes_does_not_discriminate(log, tmp_path):
    rec = log.check("P1.C1b", measured=1.0, expected=1.0, se=0.01, control_measured=1.01, fmt={"n": 1})
    assert rec.discriminates is False and rec.control_passed
    hv = ledger.decide([claims.asdict(rec)])
    assert hv.verdict == ledger.UNDECIDED and hv.grade is None
    html = claims.VerdictTable([claims.asdict(rec)])._repr_html_()
    assert "does not discriminate" in html and "passes too" in html


def test_a_check_expected_to_fail_records_its_bearing_and_raises_if_it_passes(log):
    rec = log.check("P1.C1c", measured=0.8)
    assert rec.verdict == "contradicts" and rec.passed is False and rec.reason
    with pytest.raises(ClaimFailed, match="now passes"):
        log.check("P1.C1c", measured=1.0)


def test_nan_never_passes(log):
    with pytest.raises(ClaimFailed):
        log.check("P1.C1a", measured=float("nan"), expected=0.0)


# --------------------------------------------------------------------------- nothing lost silently
def test_a_chapter_that_stops_leaves_not_run_records_and_the_report_renders(log, reg):
    log.check("P1.C1a", measured=0.0, expected=0.0)
    # ... the chapter raises here: nothing else runs, close() is never called
    recs = claims.load(log.directory)
    status = claims.chapter_status(log.directory)
    assert status == {"part/ch": "running"}
    rows = claims.unfinished(recs, status)
    byid = {r["id"]: r for r in rows}
    assert byid["P1.C1a"]["verdict"] == "holds"
    assert {byid[c]["verdict"] for c in ("P1.C1b", "P1.C1c", "P1.C1d")} == {claims.NOT_RUN}
    assert byid["P1.C1b"]["reason"] == "chapter failed before this check"
    html = claims.report_html(rows) + claims.HeadlineTable(rows, reg)._repr_html_()
    assert "not run (chapter failed)" in html and "P1.H1" in html


def test_close_refuses_a_registered_check_the_chapter_never_ran(log):
    log.check("P1.C1a", measured=0.0, expected=0.0)
    with pytest.raises(ClaimFailed, match="P1.C1b"):
        log.close()
    assert claims.chapter_status(log.directory) == {"part/ch": "complete"}


def test_full_scale_checks_may_wait_for_their_data(tmp_path, reg):
    log = ClaimLog("part/other", directory=tmp_path, registry=reg)
    log.close()
    assert claims.load(tmp_path)[0]["reason"] == "no full-scale result in data/ yet"


def test_stale_data_are_recorded_as_stale_and_decide_nothing(tmp_path, reg):
    log = ClaimLog("part/other", directory=tmp_path, registry=reg)
    rec = log.check("P1.C2a", measured=1.0, expected=1.0, data={"device": "H100", "fresh": False})
    assert rec.verdict == claims.STALE and rec.scale == "full"
    assert ledger.decide([claims.asdict(rec)]).verdict == ledger.STALE_H


# --------------------------------------------------------------------------- headline verdicts
def test_headline_verdicts_follow_the_paper_checks(log, reg):
    _run_all(log)
    log.close()
    hv = ledger.headline_verdicts(claims.load(log.directory), reg, "book")
    assert (hv["P1.H1"].verdict, hv["P1.H1"].grade) == ("supported", "B")
    assert (hv["P1.H2"].verdict, hv["P1.H2"].grade) == ("contradicted", "C")
    full = ledger.headline_verdicts(claims.load(log.directory), reg, "full")
    assert full["P1.H1"].verdict == ledger.NOT_TESTED


@pytest.mark.parametrize("bears, verdict", [
    (["supports", "supports"], "supported"), (["contradicts"], "contradicted"),
    (["supports", "contradicts"], "partly"), (["supports", "qualifies"], "partly"), ([], "not tested"),
])
def test_decide(bears, verdict):
    recs = [{"verdict": b, "grade": "B"} for b in bears]
    assert ledger.decide(recs).verdict == verdict


def test_the_best_grade_decides():
    recs = [{"verdict": "supports", "grade": "C"}, {"verdict": "supports", "grade": "A"}]
    assert ledger.decide(recs).grade == "A"


# --------------------------------------------------------------------------- formatting
@pytest.mark.parametrize("value, text", [
    (np.float64(0.123456), "0.123"), (np.float64(2.0), "2"), (1e-7, "1×10^−7"), (float("inf"), "∞"),
    (np.arange(10.0), "10 values, 0 … 9"), ({"a": np.float64(1.5), "b": [1, 2]}, "a: 1.5; b: [1, 2]"),
    (np.array([1.0, np.inf, 3.0, 4.0, 5.0]), "5 values, 1 … 5 (1 non-finite)"), (-0.5, "−0.5"),
])
def test_values_are_formatted_for_readers(value, text):
    assert claims.fmt(value) == text


def test_records_never_show_numpy_reprs(log):
    _run_all(log)
    log.close()
    text = json.dumps(claims.load(log.directory)) + claims.report_html(claims.load(log.directory))
    assert "np.float64(" not in text and "array(" not in text
