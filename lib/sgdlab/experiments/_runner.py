"""Run a registered experiment's sweep with resume, sharding, atomic results and a manifest entry.

Layout under the data folder (``data_dir`` argument, else ``$SGDLAB_DATA_OUT``, else the
repository's ``data/``)::

    <data_dir>/<name>/<scale>/points/<key>.json   one finished point (written atomically, last)
    <data_dir>/<name>/<scale>/points/<key>.npz    its arrays, if any (written before the JSON)
    <data_dir>/<name>/<scale>/results.json        every point + summary, once all points are done
    <data_dir>/MANIFEST.json                      entry "<name>/<scale>" (sgdlab.provenance)

``key`` is a hash of the point and of the *inputs hash* (experiment config + SHA-256 of the input
files), so a finished point is never recomputed, a changed config or changed code never reuses an
old point, and an interrupted sweep (a point's JSON is written atomically, after its NPZ) neither
loses nor duplicates points. ``--shard i/n`` runs every n-th point starting at i; the shard that
finds every point present writes ``results.json`` and the manifest entry.

Output paths in the manifest are relative to the data folder's parent (the repository root for
the default ``data/``), input paths relative to the repository root.
"""
from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import provenance
from .._paths import DATA_DIR, REPO_ROOT
from ..scale import validate as validate_scale
from .registry import Experiment, get

ENV_DATA_OUT = "SGDLAB_DATA_OUT"


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The results folder: ``data_dir``, else ``$SGDLAB_DATA_OUT``, else the repository's ``data/``."""
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get(ENV_DATA_OUT)
    return Path(env) if env else DATA_DIR


def parse_shard(shard: str | Sequence[int] | None) -> tuple[int, int]:
    """``"i/n"`` (0 ≤ i < n) → ``(i, n)``; ``None`` → ``(0, 1)``."""
    if shard is None:
        return 0, 1
    try:
        i, n = (int(s) for s in (shard.split("/") if isinstance(shard, str) else shard))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"shard={shard!r} must look like i/n with integers 0 <= i < n") from exc
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"shard={shard!r} must look like i/n with integers 0 <= i < n")
    return i, n


def inputs_hash(exp: Experiment, scale: str) -> tuple[str, dict[str, str]]:
    """The combined hash of ``exp``'s input files and its ``scale`` config, and the file hashes."""
    hashes = provenance.hash_inputs(exp.input_files(), REPO_ROOT)
    return provenance.combined_hash(hashes, {"scale": scale, **exp.config(scale)}), hashes


def point_key(point: dict, in_hash: str) -> str:
    """File stem of a point: 16 hex digits of SHA-256 over the point and the inputs hash."""
    return provenance.sha256_bytes(provenance.to_json({"point": point, "inputs": in_hash}).encode())[:16]


def scale_dir(name: str, scale: str, data_dir=None) -> Path:
    return data_root(data_dir) / name / scale


def results_path(name: str, scale: str = "full", data_dir=None) -> Path:
    """Where ``results.json`` of ``name`` at ``scale`` lives."""
    return scale_dir(name, scale, data_dir) / "results.json"


def load_results(name: str, scale: str = "full", data_dir=None) -> dict | None:
    """The assembled results of an experiment (``None`` if not computed yet). For notebooks."""
    import json

    p = results_path(name, scale, data_dir)
    return json.loads(p.read_text()) if p.is_file() else None


@contextlib.contextmanager
def _lock(path: Path):
    """An exclusive advisory lock (POSIX ``fcntl``; a no-op elsewhere) around manifest updates."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read_point(path: Path):
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def run(name: str, *, scale: str | None = None, device=None, shard=None, data_dir=None, force: bool = False,
        progress: bool = True, log=print) -> dict:
    """Run (or resume) the sweep of experiment ``name``.

    Parameters
    ----------
    name : str
        A registered experiment (``ValueError`` naming ``name`` otherwise).
    scale : {"book", "full"}, optional
        Default: :func:`sgdlab.scale.current`.
    device : str, optional
        Torch device passed to ``run_point`` (default: :func:`sgdlab.device.default`).
    shard : str, optional
        ``"i/n"``: only every n-th point from i.
    data_dir : path, optional
        Results folder (see :func:`data_root`).
    force : bool
        Recompute this shard's points even if present.
    progress : bool
        tqdm bar over the points.

    Returns
    -------
    dict
        ``{"computed": int, "skipped": int, "total": int, "complete": bool, "results": path or None}``.
    """
    from .. import device as _device

    exp = get(name)
    scale = validate_scale(scale)
    i, n = parse_shard(shard)
    dev = _device.resolve(device)
    cfg = exp.config(scale)
    points = exp.points(scale)
    in_hash, in_files = inputs_hash(exp, scale)
    keys = [point_key(p, in_hash) for p in points]
    if len(set(keys)) != len(keys):
        raise ValueError(f"the grid of {name!r} at scale {scale!r} holds duplicate points")
    sdir = scale_dir(name, scale, data_dir)
    pdir = sdir / "points"
    mine = list(range(i, len(points), n))
    todo = [j for j in mine if force or not (pdir / f"{keys[j]}.json").is_file()]
    log(f"{name} [{scale}] on {dev}: {len(points)} points, shard {i}/{n}: {len(mine)} points, "
        f"{len(mine) - len(todo)} already done, {len(todo)} to compute -> {sdir}")
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc=name)
    for j in todo:
        t0 = time.perf_counter()
        result = exp.run_point(dict(points[j]), dict(cfg), dev)
        wall = time.perf_counter() - t0
        if not isinstance(result, dict):
            raise ValueError(f"run_point of {name!r} must return a dict; got {type(result).__name__}")
        result = dict(result)
        arrays = result.pop("_arrays", None)
        if arrays:
            provenance.atomic_save_npz(pdir / f"{keys[j]}.npz", **{k: np.asarray(v) for k, v in arrays.items()})
        provenance.atomic_write_json(pdir / f"{keys[j]}.json", {
            "point": points[j], "result": result, "wall_time_s": wall, "device": str(dev),
            "inputs_sha256": in_hash, "has_arrays": bool(arrays), "date": provenance.now_utc(),
        })
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    done = [(pdir / f"{k}.json").is_file() for k in keys]
    out = {"computed": len(todo), "skipped": len(mine) - len(todo), "total": len(points),
           "complete": all(done), "results": None}
    if not out["complete"]:
        log(f"{sum(done)} of {len(points)} points present; results.json is written once all shards are done")
        return out
    if not todo:
        entry = provenance.read_manifest(data_root(data_dir) / "MANIFEST.json").get(f"{name}/{scale}", {})
        if entry.get("inputs_sha256") == in_hash and is_fresh(name, scale, data_dir)[0]:
            out["results"] = str(sdir / "results.json")
            log(f"{name}/{scale} is complete and up to date")
            return out
    out["results"] = str(_assemble(exp, scale, cfg, points, keys, in_hash, in_files, sdir, data_dir, log))
    return out


def _assemble(exp, scale, cfg, points, keys, in_hash, in_files, sdir, data_dir, log) -> Path:
    pdir = sdir / "points"
    recs = [_read_point(pdir / f"{k}.json") for k in keys]
    if any(r is None for r in recs):
        raise ValueError(f"a point file of {exp.name!r} is unreadable; delete it and run again")
    pairs = [(r["point"], r["result"]) for r in recs]
    summary = exp.summarize(dict(cfg), pairs) if exp.summarize is not None else None
    res_path = sdir / "results.json"
    provenance.atomic_write_json(res_path, {
        "experiment": exp.name, "description": exp.description, "scale": scale, "config": cfg,
        "inputs_sha256": in_hash,
        "points": [{"key": k, "point": p, "result": r, "has_arrays": rec.get("has_arrays", False)}
                   for k, (p, r), rec in zip(keys, pairs, recs)],
        "summary": summary,
    })
    # point files of an older config or older code are stale results of this experiment: remove them
    keep = set(keys)
    for f in pdir.iterdir():
        if f.suffix in (".json", ".npz") and f.stem not in keep and not f.name.startswith("."):
            f.unlink()
            log(f"removed stale point file {f.name}")
    outputs = [res_path] + [pdir / f"{k}.json" for k in keys] + \
              [pdir / f"{k}.npz" for k, rec in zip(keys, recs) if rec.get("has_arrays")]
    root = data_root(data_dir).resolve().parent
    entry = provenance.manifest_entry(
        config={"scale": scale, **cfg}, inputs=in_files.keys(), outputs=[], root=REPO_ROOT, scale=scale,
        wall_time_s=sum(float(r.get("wall_time_s", 0.0)) for r in recs),
        extra={"experiment": exp.name, "n_points": len(keys),
               "point_devices": sorted({str(r.get("device")) for r in recs})},
    )
    entry["outputs"] = {p.resolve().relative_to(root).as_posix(): provenance.sha256_file(p) for p in outputs}
    manifest = data_root(data_dir) / "MANIFEST.json"
    import tempfile

    lock = Path(tempfile.gettempdir()) / f"sgdlab-manifest-{provenance.sha256_bytes(str(manifest.resolve()).encode())[:12]}.lock"
    with _lock(lock):
        provenance.update_manifest(manifest, f"{exp.name}/{scale}", entry)
    log(f"wrote {res_path} and the manifest entry {exp.name}/{scale} in {manifest}")
    return res_path


def is_fresh(name: str, scale: str = "full", data_dir=None) -> tuple[bool, str]:
    """Whether the manifest entry of ``name``/``scale`` matches its inputs (repository) and outputs (data folder)."""
    root = data_root(data_dir)
    entry = provenance.read_manifest(root / "MANIFEST.json").get(f"{name}/{scale}")
    if entry is None:
        return False, f"no manifest entry {name}/{scale}"
    ok, why = provenance.is_fresh({"inputs": entry["inputs"]}, REPO_ROOT)
    if not ok:
        return ok, why
    return provenance.is_fresh({"outputs": entry["outputs"]}, root.resolve().parent)
