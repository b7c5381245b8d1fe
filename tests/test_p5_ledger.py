"""Part 5's claim ledger (book/claims/batch_hessian.yml): the re-graded verdicts stay as registered.

Static: reads the registry only (no notebook runs). The chapters themselves are checked by nbval and by
``tests/test_ledger_book.py``.
"""
from __future__ import annotations

import pytest

from sgdlab import ledger

REG = ledger.load_registry()
P5 = {cid: c for cid, c in REG.checks.items() if cid.startswith("P5.")}


def test_part5_declares_six_headline_claims_each_with_a_book_scale_paper_check():
    assert {h.id for h in REG.headlines_of("P5")} == {f"P5.H{i}" for i in range(1, 7)}
    for hid in (f"P5.H{i}" for i in range(1, 7)):
        assert any(c.kind == "paper" and c.headline == hid and c.scale == "book" for c in P5.values()), hid


@pytest.mark.parametrize("cid, bears", [("P5.C3f", "qualifies"), ("P5.C3h", "contradicts"), ("P5.C6a", "qualifies"),
                                        ("P5.C2g", "qualifies"), ("P5.C5g", "qualifies")])
def test_failures_of_the_papers_statements_are_not_booked_as_support(cid, bears):
    c = P5[cid]
    assert c.kind == "paper" and c.expect == "fail" and c.bears == bears and c.reason


@pytest.mark.parametrize("cid", ["P5.C4f", "P5.C5e", "P5.C6b", "P5.C6c"])
def test_consequences_of_our_reconstruction_are_findings_not_papers_claims(cid):
    assert P5[cid].kind == "finding" and P5[cid].bears == "qualifies"


def test_the_batch_hessian_magnitude_is_tested_against_the_model_with_the_wigner_control():
    c = P5["P5.C2f"]
    assert c.kind == "paper" and c.headline == "P5.H1" and c.statistical
    assert "Wigner" in c.control
    # the Jensen-only inequality checks are gone
    assert not {"P5.C2a", "P5.C2b", "P5.C2c"} & set(P5)


@pytest.mark.parametrize("cid, control", [("P5.C1c", "edge"), ("P5.C1d", "outlier formula")])
def test_near_threshold_bbp_checks_register_the_wrong_alternative(cid, control):
    c = P5[cid]
    assert control in c.control
    # the tolerance must exclude the wrong alternative: 1.6 % (edge at θ = 1.2) and 0.55 % (2.011 at θ = 0.9)
    assert c.tolerance.params["rtol"] < 0.0055


def test_full_scale_checks_are_registered_and_marked_full():
    full = {cid for cid, c in P5.items() if c.scale == "full"}
    assert full == {"P5.C2z", "P5.C3z", "P5.C4z"}
    assert {P5[c].headline for c in full} == {"P5.H1", "P5.H3", "P5.H4"}
