import json
import os

import numpy as np
import pytest

from sgdlab import provenance


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    p = tmp_path / "sub" / "r.json"
    provenance.atomic_write_json(p, {"a": np.float64(1.5), "b": np.arange(3), "c": float("inf")})
    assert json.loads(p.read_text()) == {"a": 1.5, "b": [0, 1, 2], "c": "inf"}
    assert [f.name for f in p.parent.iterdir()] == ["r.json"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    p = tmp_path / "r.txt"
    provenance.atomic_write_text(p, "old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        provenance.atomic_write_text(p, "new")
    assert p.read_text() == "old"
    assert [f.name for f in tmp_path.iterdir()] == ["r.txt"]


def test_npz_round_trip(tmp_path):
    p = provenance.atomic_save_npz(tmp_path / "x.npz", a=np.arange(5.0))
    assert np.array_equal(np.load(p)["a"], np.arange(5.0))


def test_manifest_entry_detects_stale_inputs_and_edited_outputs(tmp_path):
    (tmp_path / "in.py").write_text("x = 1\n")
    (tmp_path / "out.json").write_text("{}\n")
    e = provenance.manifest_entry(config={"n": 1}, inputs=["in.py"], outputs=["out.json"], wall_time_s=1.234,
                                  scale="book", device={"processor": "test"}, root=tmp_path)
    assert e["inputs"].keys() == {"in.py"} and e["wall_time_s"] == 1.234
    assert provenance.is_fresh(e, tmp_path) == (True, "")
    (tmp_path / "in.py").write_text("x = 2\n")
    fresh, why = provenance.is_fresh(e, tmp_path)
    assert not fresh and "in.py" in why
    (tmp_path / "in.py").write_text("x = 1\n")
    (tmp_path / "out.json").write_text("{\"edited\": 1}\n")
    assert not provenance.is_fresh(e, tmp_path)[0]


def test_update_manifest_merges_entries(tmp_path):
    m = tmp_path / "MANIFEST.json"
    provenance.update_manifest(m, "b", {"inputs": {}, "outputs": {}, "x": 1})
    provenance.update_manifest(m, "a", {"inputs": {}, "outputs": {}, "x": 2})
    assert list(provenance.read_manifest(m)) == ["a", "b"]
    with pytest.raises(ValueError, match="entry='c'.*outputs"):
        provenance.update_manifest(m, "c", {"inputs": {}})
    assert list(provenance.read_manifest(m)) == ["a", "b"]


@pytest.mark.parametrize("text,match", [
    ('[{"inputs": {}, "outputs": {}}]', "JSON object"),
    ('{"x/full": {"inputs": {}}}', "lacks the key 'outputs'"),
    ('{"x/full": {"inputs": {}, "outputs": {"a": 1}}}', "SHA-256"),
    ('{"x/full": 3}', "JSON object"),
    ('{"x/full": {"inputs": {}, "outp', "not valid JSON"),
])
def test_a_malformed_manifest_is_an_error_naming_the_file(tmp_path, text, match):
    m = tmp_path / "MANIFEST.json"
    m.write_text(text)
    with pytest.raises(ValueError, match=match) as exc:
        provenance.read_manifest(m)
    assert str(m) in str(exc.value)
    with pytest.raises(ValueError, match=str(m)):
        provenance.update_manifest(m, "y/full", {"inputs": {}, "outputs": {}})
    assert m.read_text() == text


def test_result_files_respect_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        p = provenance.atomic_write_text(tmp_path / "r.txt", "x")
    finally:
        os.umask(old)
    assert p.stat().st_mode & 0o777 == 0o640
    old = os.umask(0o002)
    try:
        provenance.atomic_save_npz(tmp_path / "a.npz", a=np.zeros(2))
    finally:
        os.umask(old)
    assert (tmp_path / "a.npz").stat().st_mode & 0o777 == 0o664


def test_missing_input_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        provenance.hash_inputs(["nope.py"], tmp_path)


def test_versions_and_commit_are_strings():
    v = provenance.versions(["numpy", "surely-not-installed-pkg"])
    assert v["numpy"] == np.__version__ and v["surely-not-installed-pkg"] is None
    assert isinstance(provenance.git_commit(), str)
