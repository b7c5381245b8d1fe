"""Committed full-scale results must be fresh against their inputs (see DESIGN.md, "Scales")."""
from pathlib import Path

import pytest

from sgdlab import provenance

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = provenance.read_manifest(ROOT / "data" / "MANIFEST.json")


@pytest.mark.parametrize("name", sorted(MANIFEST) or ["<no results yet>"])
def test_committed_result_is_fresh(name):
    if name == "<no results yet>":
        assert not any(p for p in (ROOT / "data").rglob("*") if p.is_file() and p.name not in ("MANIFEST.json", "README.md")), \
            "data/ holds result files that MANIFEST.json does not describe"
        return
    entry = MANIFEST[name]
    if entry.get("stale_ok"):
        pytest.skip(f"stale by decision: {entry['stale_ok']}")
    fresh, why = provenance.is_fresh(entry, ROOT)
    assert fresh, f"{name}: {why}; rerun `python -m sgdlab.experiments run {name.split('/')[0]} --scale full`"
