"""The book's claim ledger against its chapters: every check registered, every tolerance registered.

Static tests (no notebook is executed): they read ``book/claims/*.yml`` and the code cells of every
chapter.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from sgdlab import ledger
from sgdlab._paths import BOOK_DIR

REG = ledger.load_registry()
#: The 24 headline claims of issue 14, taken from the five abstracts.
HEADLINES = {"P1": 6, "P2": 4, "P3": 3, "P4": 5, "P5": 6}
PART_OF = {"P1": "generating_functions", "P2": "momentum", "P3": "large_lr", "P4": "fokker_planck",
           "P5": "batch_hessian", "S": "synthesis", "N": "notation"}
_TOL_KW = {"rtol", "atol", "lower", "upper", "criterion", "statement", "paper_value", "verdict", "reason"}


def _chapters() -> list[Path]:
    return sorted(p for p in BOOK_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _code(nb: Path) -> str:
    cells = json.loads(nb.read_text())["cells"]
    src = []
    for c in cells:
        if c["cell_type"] == "code":
            lines = "".join(c["source"]).splitlines()
            src.append("\n".join("pass" if ln.lstrip().startswith(("%", "!")) else ln for ln in lines))
    return "\n\n".join(src)


def _check_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("check", "not_reproduced") and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                and re.match(r"^(N|S|P[1-5])\.C\d", node.args[0].value)):
            yield node


def _chapter_name(nb: Path) -> str:
    return nb.relative_to(BOOK_DIR).with_suffix("").as_posix()


CALLS = [(nb, call) for nb in _chapters() for call in _check_calls(ast.parse(_code(nb)))]


def _registered_prefix(cid: str) -> bool:
    return ledger.parse_id(cid)[0] in REG.prefixes()


def test_every_source_of_checks_has_a_registry():
    assert REG.prefixes() >= set(PART_OF), f"no registry for {set(PART_OF) - REG.prefixes()}"


def test_every_part_declares_its_headline_claims():
    for prefix, n in HEADLINES.items():
        ids = {h.id for h in REG.headlines_of(prefix)}
        assert ids == {f"{prefix}.H{i}" for i in range(1, n + 1)}, prefix


def test_every_part_index_renders_its_headline_claims_from_the_registry():
    for prefix in HEADLINES:
        part = PART_OF[prefix]
        index = (BOOK_DIR / part / "index.md").read_text()
        assert re.search(r"```\{headline-claims\}\s+" + part + r"\s*\n", index), part
        assert REG.parts.get(part), f"book/claims/{part}.yml missing"


def test_every_headline_claim_says_whether_it_was_read_or_reconstructed():
    for h in REG.headlines.values():
        assert h.source in ledger.SOURCES and len(h.source_note) > 10, h.id


def test_every_registered_check_names_an_existing_chapter():
    chapters = {_chapter_name(nb) for nb in _chapters()}
    for c in REG.checks.values():
        assert c.chapter in chapters, f"{c.id}: chapter {c.chapter} does not exist"


@pytest.mark.parametrize("nb, call", CALLS, ids=[f"{_chapter_name(nb)}:{c.args[0].value}" for nb, c in CALLS])
def test_a_chapter_checks_only_registered_ids_with_registered_tolerances(nb, call):
    cid = call.args[0].value
    assert _registered_prefix(cid), f"{cid}: its part has no registry"
    assert call.func.attr == "check", f"{cid}: registered checks use check(); the registry says expect: fail"
    c = REG.check(cid)
    assert c.chapter == _chapter_name(nb), f"{cid} is registered for {c.chapter}"
    passed = {k.arg for k in call.keywords} & _TOL_KW
    assert not passed, f"{cid}: {sorted(passed)} must come from the registry, not the chapter"
    for k in call.keywords:
        if k.arg == "predicate":
            assert isinstance(k.value, ast.Lambda) or isinstance(k.value, ast.Name), cid
            if isinstance(k.value, ast.Lambda):
                assert len(k.value.args.args) == 2, f"{cid}: predicate(measured, tol)"
                lits = [n.value for n in ast.walk(k.value.body) if isinstance(n, ast.Constant)
                        and isinstance(n.value, (int, float)) and not isinstance(n.value, bool)]
                bad = [v for v in lits if isinstance(v, float) or v not in (0, 1, 2)]
                assert not bad, f"{cid}: the predicate hard-codes {bad}; register them in the tolerance"


def test_every_registered_check_is_called_by_its_chapter():
    called = {(call.args[0].value, _chapter_name(nb)) for nb, call in CALLS}
    for c in REG.checks.values():
        assert (c.id, c.chapter) in called, f"{c.id} is registered for {c.chapter} but never checked there"


def test_paper_checks_name_a_headline_and_two_different_methods():
    for c in REG.checks.values():
        if c.kind == "paper":
            assert c.headline in REG.headlines and c.grade in ledger.GRADES, c.id
        if c.kind in ("paper", "finding"):
            m = c.methods
            assert m.get("measured") and m.get("expected") and m["measured"] != m["expected"], c.id
