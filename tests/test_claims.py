import json

import numpy as np
import pytest

from sgdlab import claims
from sgdlab.claims import ClaimFailed, ClaimLog
from sgdlab.ledger import Registry


@pytest.fixture
def log(tmp_path):
    # an empty registry: the transitional path for parts that have no registry yet
    return ClaimLog("part/01_chapter", directory=tmp_path, scale="book", registry=Registry())


def test_passing_claim_is_recorded_as_reproduced(log, tmp_path):
    rec = log.check("P1.C1", measured=1.0 + 1e-9, expected=1.0, rtol=1e-6, statement="s")
    assert rec.verdict == "reproduced" and rec.passed
    data = json.loads((tmp_path / "part__01_chapter.json").read_text())
    assert data["records"][0]["id"] == "P1.C1"
    assert claims.load(tmp_path)[0]["verdict"] == "reproduced"


def test_failing_claim_raises_and_is_recorded_as_failed(log, tmp_path):
    with pytest.raises(ClaimFailed, match="P1.C2"):
        log.check("P1.C2", measured=1.1, expected=1.0, rtol=0.05, statement="s")
    assert claims.load(tmp_path)[0]["verdict"] == claims.FAILED


def test_nan_never_passes_a_tolerance_or_bound(log):
    with pytest.raises(ClaimFailed):
        log.check("P1.C1", measured=float("nan"), expected=1.0, rtol=10, statement="s")
    with pytest.raises(ClaimFailed):
        log.check("P1.C2", measured=float("inf"), lower=0, statement="s")


def test_bounds_and_predicate(log):
    assert log.check("P2.C1", measured=0.9, lower=0.8, statement="slope").passed
    assert log.check("P2.C2", measured=[0.4, 0.6], lower=0.35, upper=0.65, statement="s").passed
    rec = log.check("P2.C3", measured=-0.2, predicate=lambda b: b < 0, criterion="β* < 0", statement="s")
    assert rec.tolerance == "β* < 0"
    with pytest.raises(ValueError, match="criterion"):
        log.check("P2.C4", measured=1, predicate=lambda b: True, statement="s")


def test_arrays_use_elementwise_tolerance(log):
    log.check("P1.C3", measured=np.array([1.0, 2.0]), expected=np.array([1.0, 2.001]), rtol=1e-3, statement="s")
    with pytest.raises(ClaimFailed):
        log.check("P1.C4", measured=np.array([1.0, 2.0]), expected=np.array([1.0, 2.1]), rtol=1e-3, statement="s")


def test_not_reproduced_records_reason_and_raises_if_it_passes(log):
    rec = log.not_reproduced("P5.C6", measured=1.0, expected=30.0, rtol=0.5, statement="s", reason="low rank")
    assert rec.verdict == "not reproduced" and rec.reason == "low rank"
    with pytest.raises(ClaimFailed, match="now passes"):
        log.not_reproduced("P5.C5", measured=1.0, expected=1.0, rtol=0.5, statement="s", reason="r")


def test_partly_needs_a_reason(log):
    with pytest.raises(ValueError, match="reason"):
        log.check("P3.C1", measured=1, expected=1, atol=0, statement="s", verdict="partly")
    assert log.check("P3.C1", measured=1, expected=1, atol=0, statement="s", verdict="partly", reason="r").verdict == "partly"


@pytest.mark.parametrize("bad", ["P6.C1", "C1", "P1C1", "p1.c1", "P1.C", "", "P1.H1"])
def test_bad_claim_id_is_a_value_error(log, bad):
    with pytest.raises(ValueError, match="claim_id"):
        log.check(bad, measured=1, expected=1, atol=0, statement="s")


def test_a_check_needs_exactly_one_kind_of_tolerance(log):
    with pytest.raises(ValueError, match="tolerance"):
        log.check("P1.C1", measured=1, expected=1, statement="s")
    with pytest.raises(ValueError, match="exactly one"):
        log.check("P1.C1", measured=1, expected=1, rtol=0.1, lower=0, statement="s")
    with pytest.raises(ValueError, match="rtol"):
        log.check("P1.C1", measured=1, expected=1, rtol=-1, statement="s")


def test_reopening_a_chapter_log_clears_its_stale_records(tmp_path):
    ClaimLog("x", directory=tmp_path, registry=Registry()).check("P1.C1", measured=1, expected=1, atol=0, statement="s")
    ClaimLog("x", directory=tmp_path, registry=Registry())
    assert claims.load(tmp_path) == []


def test_claim_ids_sort_by_paper_then_number():
    ids = ["S.C1", "P2.C10", "P2.C2", "N.C1", "P1.C3", "P2.H1"]
    assert sorted(ids, key=claims.sort_key) == ["N.C1", "P1.C3", "P2.H1", "P2.C2", "P2.C10", "S.C1"]


def test_verdict_table_renders_links_and_escapes(log):
    log.check("P1.C1", measured=1, expected=1, atol=0, statement="a < b", anchor="sec")
    html = claims.VerdictTable(claims.load(log.directory))._repr_html_()
    assert "part/01_chapter.html#sec" in html and "a &lt; b" in html


