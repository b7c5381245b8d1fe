"""Committed full-scale results must be fresh against their inputs (see DESIGN.md, "Scales").

Every file under ``data/`` (but ``README.md``, ``MANIFEST.json`` and the git-ignored ``raw/`` data
sets) must be an output of a manifest entry: a stray or leftover file fails.
"""
from collections.abc import Mapping
from pathlib import Path

import pytest

from sgdlab import provenance

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = provenance.read_manifest(ROOT / "data" / "MANIFEST.json")
NOT_RESULTS = {"MANIFEST.json", "README.md"}


def unlisted_files(data_dir: Path, manifest: Mapping, root: Path) -> list[str]:
    """Files under ``data_dir`` that no manifest entry lists as an output (paths relative to ``root``)."""
    described = {rel for entry in manifest.values() for rel in entry["outputs"]}
    out = []
    for p in sorted(data_dir.rglob("*")):
        rel = p.relative_to(data_dir)
        if not p.is_file() or rel.parts[0] == "raw" or rel.as_posix() in NOT_RESULTS:
            continue
        if p.relative_to(root).as_posix() not in described:
            out.append(p.relative_to(root).as_posix())
    return out


@pytest.mark.parametrize("name", sorted(MANIFEST) or ["<no results yet>"])
def test_committed_result_is_fresh(name):
    if name == "<no results yet>":
        return
    entry = MANIFEST[name]
    if entry.get("stale_ok"):
        pytest.skip(f"stale by decision: {entry['stale_ok']}")
    fresh, why = provenance.is_fresh(entry, ROOT)
    assert fresh, f"{name}: {why}; rerun `python -m sgdlab.experiments run {name.split('/')[0]} --scale full`"


def test_every_file_under_data_is_described_by_the_manifest():
    stray = unlisted_files(ROOT / "data", MANIFEST, ROOT) if (ROOT / "data").is_dir() else []
    assert not stray, f"data/ holds files that MANIFEST.json does not describe (stray or left over): {stray}"


def test_a_stray_file_is_caught(tmp_path):
    data = tmp_path / "data"
    (data / "raw").mkdir(parents=True)
    (data / "raw" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"x")
    (data / "README.md").write_text("x")
    (data / "exp" / "full").mkdir(parents=True)
    (data / "exp" / "full" / "results.json").write_text("{}")
    manifest = {"exp/full": {"inputs": {}, "outputs": {"data/exp/full/results.json": "0" * 64}}}
    assert unlisted_files(data, manifest, tmp_path) == []
    (data / "exp" / "full" / "points").mkdir()
    (data / "exp" / "full" / "points" / ".0123456789abcdef.lock").write_text("{}")
    (data / "notes.txt").write_text("x")
    assert unlisted_files(data, manifest, tmp_path) == ["data/exp/full/points/.0123456789abcdef.lock",
                                                        "data/notes.txt"]
