"""Run a registered experiment's sweep with resume, sharding, atomic results and a manifest entry.

Layout under the data folder (``data_dir`` argument, else ``$SGDLAB_DATA_OUT``, else the
repository's ``data/``)::

    <data_dir>/<name>/<scale>/points/<key>.json   one finished point (written atomically, last)
    <data_dir>/<name>/<scale>/points/<key>.npz    its arrays, if any (written before the JSON)
    <data_dir>/<name>/<scale>/points/.<key>.lock  while a run computes the point (its pid inside)
    <data_dir>/<name>/<scale>/results.json        every point + summary, once all points are done
    <data_dir>/MANIFEST.json                      entry "<name>/<scale>" (sgdlab.provenance)

``key`` is a hash of the point and of the *inputs hash* (experiment config + SHA-256 of the input
files: the experiment's module and every :mod:`sgdlab` module it and the runner import, see
:meth:`~sgdlab.experiments.registry.Experiment.input_files`), so a changed config or changed code
never reuses an old point.

A point is *done* when its JSON holds a well-formed record whose own SHA-256 (``record_sha256``)
matches its content, whose inputs hash is the current one, and whose NPZ, if it has arrays, is
present with the SHA-256 recorded in the JSON. A point file edited by hand, truncated, or missing
its NPZ is therefore recomputed (and the log says which file and why), never assembled.

Crash safety: every file is written atomically (the NPZ before the JSON that vouches for it);
``results.json`` and the manifest entry are written before point files of older configs or code
are removed, and a later run finishes an interrupted removal. A run killed at any moment leaves
either a done point or no point, so rerunning gives the results of an uninterrupted run.

Concurrency: a run takes a per-point lock file (``os.open`` with ``O_CREAT | O_EXCL``, holding the
pid) before computing a point and skips points locked by a live process, so two runs into one
folder compute each point once; a lock whose process is dead is stale and taken over. ``--shard
i/n`` runs every n-th point starting at i; the run that finds every point done writes
``results.json`` and the manifest entry.

Output paths in the manifest are relative to the data folder's parent (the repository root for
the default ``data/``), input paths relative to the repository root.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from .. import provenance
from .._paths import DATA_DIR, REPO_ROOT
from ..scale import validate as validate_scale
from .registry import Experiment, get

ENV_DATA_OUT = "SGDLAB_DATA_OUT"

#: Exit status of a command interrupted by SIGINT (128 + 2), as shells report it.
EXIT_INTERRUPTED = 130

_POINT_FILE = re.compile(r"^([0-9a-f]{16})\.(json|npz)$")
_POINT_TMP = re.compile(r"^\.([0-9a-f]{16})\.(json|npz)\..*\.tmp$")
_POINT_LOCK = re.compile(r"^\.([0-9a-f]{16})\.lock$")


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
    """The folder of ``name``'s results at ``scale`` (``<data_dir>/<name>/<scale>``)."""
    return data_root(data_dir) / name / scale


def results_path(name: str, scale: str = "full", data_dir=None) -> Path:
    """Where ``results.json`` of ``name`` at ``scale`` lives."""
    return scale_dir(name, scale, data_dir) / "results.json"


def load_results(name: str, scale: str = "full", data_dir=None) -> dict | None:
    """The assembled results of an experiment (``None`` if not computed yet). For notebooks.

    Raises
    ------
    ValueError
        Naming the file, if ``results.json`` is not valid JSON or not a JSON object.
    """
    p = results_path(name, scale, data_dir)
    if not p.is_file():
        return None
    try:
        res = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"results file {p} is unreadable or not valid JSON ({exc}); "
                         f"rerun `python -m sgdlab.experiments run {name} --scale {scale}`") from exc
    if not isinstance(res, dict) or not isinstance(res.get("points"), list):
        raise ValueError(f"results file {p} is not a results object (no 'points' list); "
                         f"rerun `python -m sgdlab.experiments run {name} --scale {scale}`")
    return res


# --------------------------------------------------------------------------- interruption
class Interrupted(KeyboardInterrupt):
    """A run stopped by SIGINT (Ctrl-C); its message says what was kept. A ``KeyboardInterrupt``."""


@contextlib.contextmanager
def exit_on_interrupt(stream=None) -> Iterator[None]:
    """Turn Ctrl-C inside the block into one line on ``stream`` (default stderr) and exit status 130.

    For command lines (``python -m sgdlab.experiments run``)::

        with _runner.exit_on_interrupt():
            out = _runner.run(...)

    Finished points are kept on disk (each is written atomically, and the point being computed
    leaves no file and no lock), so running the same command again resumes the sweep.

    Raises
    ------
    SystemExit
        With code :data:`EXIT_INTERRUPTED` (130) on ``KeyboardInterrupt``.
    """
    try:
        yield
    except KeyboardInterrupt as exc:
        msg = str(exc) if isinstance(exc, Interrupted) and str(exc) else \
            "interrupted; finished points are kept: run the same command again to resume"
        print(msg, file=stream if stream is not None else sys.stderr, flush=True)
        raise SystemExit(EXIT_INTERRUPTED) from None


# --------------------------------------------------------------------------- locks
def _hook(stage: str, **info) -> None:
    """Called at each stage of a run (tests replace it to simulate a kill there); does nothing."""


@contextlib.contextmanager
def _lock(path: Path):
    """An exclusive advisory lock (POSIX ``fcntl``; a no-op elsewhere) on the file ``path``."""
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


def _lock_file_for(path: Path, what: str) -> Path:
    """A lock file in the temporary folder for ``path`` (never a stray file in the data folder)."""
    digest = provenance.sha256_bytes(str(Path(path).resolve()).encode())[:12]
    return Path(tempfile.gettempdir()) / f"sgdlab-{what}-{digest}.lock"


def _process_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks (Linux ``/proc``), to tell a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2:].split()[19]
    except (OSError, ValueError, IndexError):
        return None


def _holder_alive(holder: dict) -> bool:
    """Whether the process that wrote a lock file still runs (on another host: assumed so)."""
    if holder.get("host") != socket.gethostname():
        return True
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another user
    except OSError:  # pragma: no cover - e.g. Windows without the pid
        return False
    start = holder.get("start")
    now = _process_start(pid)
    return not (start is not None and now is not None and start != now)


def _read_holder(path: Path) -> dict | None:
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def _acquire_point(pdir: Path, key: str, log) -> tuple[str | None, dict | None]:
    """Take the lock of point ``key``: ``(token, None)``, or ``(None, holder)`` if a live run holds it.

    Called with the folder lock held, so taking over a stale lock (its process is dead) cannot race
    with another run taking the same lock.
    """
    path = pdir / f".{key}.lock"
    token = uuid.uuid4().hex
    me = {"pid": os.getpid(), "host": socket.gethostname(), "start": _process_start(os.getpid()), "token": token}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            holder = _read_holder(path)
            if holder is not None and _holder_alive(holder):
                return None, holder
            log(f"removing the stale lock {path} (its process {holder.get('pid') if holder else '?'} is gone)")
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(me))
        return token, None
    return None, _read_holder(path) or {}  # pragma: no cover - someone re-created it meanwhile


def _release_point(pdir: Path, key: str, token: str) -> None:
    path = pdir / f".{key}.lock"
    holder = _read_holder(path)
    if holder is not None and holder.get("token") == token:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# --------------------------------------------------------------------------- point files
def _record_hash(rec: dict) -> str:
    return provenance.sha256_bytes(provenance.to_json({k: v for k, v in rec.items() if k != "record_sha256"}).encode())


def _verify_point(pdir: Path, key: str, point: dict, in_hash: str) -> tuple[dict | None, str]:
    """``(record, "")`` if point ``key`` is done; ``(None, "")`` if absent; ``(None, why)`` if not usable."""
    path = pdir / f"{key}.json"
    if not path.is_file():
        return None, ""
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, f"is unreadable or truncated ({type(exc).__name__})"
    if not isinstance(rec, dict):
        return None, "is not a JSON object"
    missing = [k for k in ("point", "result", "inputs_sha256", "has_arrays", "record_sha256") if k not in rec]
    if missing:
        return None, f"lacks {', '.join(missing)}"
    if rec["record_sha256"] != _record_hash(rec):
        return None, "does not match its recorded SHA-256 (edited or corrupted)"
    if rec["inputs_sha256"] != in_hash or rec["point"] != json.loads(provenance.to_json(point)):
        return None, "belongs to another point or other inputs"
    if not isinstance(rec["result"], dict):
        return None, "holds no result object"
    if rec["has_arrays"]:
        npz = pdir / f"{key}.npz"
        if not npz.is_file():
            return None, f"vouches for {npz.name}, which is missing"
        if provenance.sha256_file(npz) != rec.get("arrays_sha256"):
            return None, f"vouches for {npz.name}, which does not match its recorded SHA-256"
    return rec, ""


def _write_point(pdir: Path, key: str, point: dict, result: dict, *, wall: float, dev, in_hash: str) -> dict:
    """Write a point's NPZ (if any), then its JSON that vouches for the NPZ's hash; returns the record."""
    result = dict(result)
    arrays = result.pop("_arrays", None)
    npz = pdir / f"{key}.npz"
    arrays_sha = None
    if arrays:
        provenance.atomic_save_npz(npz, **{k: np.asarray(v) for k, v in arrays.items()})
        arrays_sha = provenance.sha256_file(npz)
        _hook("npz_written", key=key)
    elif npz.exists():
        npz.unlink()  # arrays of an earlier computation of this point: not vouched for any more
    rec = json.loads(provenance.to_json({
        "point": point, "result": result, "wall_time_s": wall, "device": str(dev), "inputs_sha256": in_hash,
        "has_arrays": bool(arrays), "arrays_sha256": arrays_sha, "date": provenance.now_utc(),
    }))
    rec["record_sha256"] = _record_hash(rec)
    provenance.atomic_write_json(pdir / f"{key}.json", rec)
    _hook("json_written", key=key)
    return rec


# --------------------------------------------------------------------------- the run
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
        Recompute this shard's points even if done.
    progress : bool
        tqdm bar over the points.
    log : callable
        Receives one line per event (default :func:`print`).

    Returns
    -------
    dict
        ``{"computed": int, "skipped": int, "total": int, "complete": bool, "results": path or None}``;
        ``skipped`` counts this shard's points not computed by this run (done, or locked by another run).

    Raises
    ------
    ValueError
        On a bad argument (naming it), a malformed manifest (naming the file), or a ``run_point``
        that does not return a dict.
    Interrupted
        On Ctrl-C, after releasing the point being computed (see :func:`exit_on_interrupt`).
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
    pdir.mkdir(parents=True, exist_ok=True)
    dir_lock = _lock_file_for(pdir, "points")
    mine = list(range(i, len(points), n))
    todo = []
    for j in mine:
        rec, why = (None, "") if force else _verify_point(pdir, keys[j], points[j], in_hash)
        if why:
            log(f"point file {pdir / (keys[j] + '.json')} {why}: recomputing it")
        if rec is None:
            todo.append(j)
    log(f"{name} [{scale}] on {dev}: {len(points)} points, shard {i}/{n}: {len(mine)} points, "
        f"{len(mine) - len(todo)} already done, {len(todo)} to compute -> {sdir}")
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc=name)
    computed, busy = 0, 0
    try:
        for j in todo:
            with _lock(dir_lock):
                token, holder = _acquire_point(pdir, keys[j], log)
            if token is None:
                busy += 1
                log(f"point {points[j]} is being computed by another run (pid {holder.get('pid')} "
                    f"on {holder.get('host')}); skipped (if no such run is active, delete "
                    f"{pdir / ('.' + keys[j] + '.lock')})")
                continue
            try:
                if not force and _verify_point(pdir, keys[j], points[j], in_hash)[0] is not None:
                    continue  # another run finished it since we looked
                t0 = time.perf_counter()
                result = exp.run_point(dict(points[j]), dict(cfg), dev)
                wall = time.perf_counter() - t0
                if not isinstance(result, dict):
                    raise ValueError(f"run_point of {name!r} must return a dict; got {type(result).__name__}")
                _hook("point_computed", key=keys[j])
                _write_point(pdir, keys[j], points[j], result, wall=wall, dev=dev, in_hash=in_hash)
                computed += 1
            finally:
                _release_point(pdir, keys[j], token)
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt as exc:
        if bar is not None:
            bar.leave = False  # the one-line message, not a half-drawn bar, is what stays on the terminal
        raise Interrupted(f"interrupted: {name} [{scale}] kept {computed} newly computed point(s) in {pdir}; "
                          "run the same command again to resume") from exc
    finally:
        if bar is not None:
            bar.close()
    out = {"computed": computed, "skipped": len(mine) - computed, "total": len(points), "complete": False,
           "results": None}
    with _lock(dir_lock):
        recs = []
        for p, k in zip(points, keys):
            rec, why = _verify_point(pdir, k, p, in_hash)
            if why:
                log(f"point file {pdir / (k + '.json')} {why}; the run of its shard recomputes it")
            recs.append(rec)
        n_done = sum(r is not None for r in recs)
        if n_done < len(points):
            log(f"{n_done} of {len(points)} points done"
                + (f" ({busy} being computed by another run)" if busy else "")
                + "; results.json is written once all points are done")
            return out
        out["complete"] = True
        res_path = sdir / "results.json"
        entry = provenance.read_manifest(data_root(data_dir) / "MANIFEST.json").get(f"{name}/{scale}")
        fresh, why = (False, f"no manifest entry {name}/{scale}") if entry is None else \
            (False, "its inputs changed") if entry.get("inputs_sha256") != in_hash else \
            _outputs_fresh(entry, data_dir)
        if fresh and set(entry["outputs"]) != set(_output_names(res_path, pdir, keys, recs, data_dir)):
            fresh, why = False, "its manifest entry lists other files"
        if fresh:
            log(f"{name}/{scale} is complete and up to date")
        else:
            if res_path.exists() or entry is not None:
                log(f"reassembling {res_path}: {why}")
            _assemble(exp, scale, cfg, points, keys, recs, in_hash, in_files, sdir, data_dir, log)
        _remove_stale(pdir, set(keys), log)
        out["results"] = str(res_path)
    return out


def _output_names(res_path: Path, pdir: Path, keys, recs, data_dir) -> list[str]:
    root = data_root(data_dir).resolve().parent
    files = [res_path] + [pdir / f"{k}.json" for k in keys] + \
            [pdir / f"{k}.npz" for k, rec in zip(keys, recs) if rec.get("has_arrays")]
    return [p.resolve().relative_to(root).as_posix() for p in files]


def _outputs_fresh(entry: dict, data_dir) -> tuple[bool, str]:
    return provenance.is_fresh({"outputs": entry["outputs"]}, data_root(data_dir).resolve().parent)


def _assemble(exp, scale, cfg, points, keys, recs, in_hash, in_files, sdir, data_dir, log) -> Path:
    """Write ``results.json`` from verified point records, then the manifest entry."""
    pdir = sdir / "points"
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
    _hook("results_written")
    root = data_root(data_dir).resolve().parent
    entry = provenance.manifest_entry(
        config={"scale": scale, **cfg}, inputs=in_files.keys(), outputs=[], root=REPO_ROOT, scale=scale,
        wall_time_s=sum(float(r.get("wall_time_s", 0.0)) for r in recs),
        extra={"experiment": exp.name, "n_points": len(keys),
               "point_devices": sorted({str(r.get("device")) for r in recs})},
    )
    entry["outputs"] = {name: provenance.sha256_file(root / name)
                        for name in _output_names(res_path, pdir, keys, recs, data_dir)}
    manifest = data_root(data_dir) / "MANIFEST.json"
    with _lock(_lock_file_for(manifest, "manifest")):
        provenance.update_manifest(manifest, f"{exp.name}/{scale}", entry)
    _hook("manifest_written")
    log(f"wrote {res_path} and the manifest entry {exp.name}/{scale} in {manifest}")
    return res_path


def _remove_stale(pdir: Path, keep: set[str], log) -> None:
    """Remove point files of older configs or code, and what killed runs left (dead locks, temporaries).

    Runs after the manifest entry is written (a kill here loses nothing: the next run finishes the
    removal), with the folder lock held. A stale point's JSON goes before its NPZ, so a half-removed
    point is never mistaken for a done one.
    """
    live = set()
    for f in sorted(pdir.iterdir()):
        m = _POINT_LOCK.match(f.name)
        if m:
            holder = _read_holder(f)
            if holder is not None and _holder_alive(holder):
                live.add(m.group(1))
            else:
                with contextlib.suppress(FileNotFoundError):
                    f.unlink()
                log(f"removed the stale lock {f.name}")
    # JSONs first, then NPZs (sorted by suffix), then leftovers of interrupted atomic writes
    files = sorted(pdir.iterdir(), key=lambda f: (f.suffix != ".json", f.name))
    for f in files:
        m = _POINT_FILE.match(f.name)
        if m and m.group(1) not in keep:
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
            log(f"removed stale point file {f.name}")
            _hook("stale_removed", name=f.name)
        m = _POINT_TMP.match(f.name)
        if m and m.group(1) not in live:
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
            log(f"removed the leftover temporary file {f.name}")


def is_fresh(name: str, scale: str = "full", data_dir=None) -> tuple[bool, str]:
    """Whether the manifest entry of ``name``/``scale`` matches its inputs (repository) and outputs (data folder).

    The recorded input files and outputs must still have their recorded SHA-256; where ``name`` is a
    registered experiment, its current inputs hash (config, and the files it imports now) must also
    be the recorded one.

    Raises
    ------
    ValueError
        Naming the file, if the manifest is malformed (see :func:`sgdlab.provenance.read_manifest`).
    """
    root = data_root(data_dir)
    entry = provenance.read_manifest(root / "MANIFEST.json").get(f"{name}/{scale}")
    if entry is None:
        return False, f"no manifest entry {name}/{scale}"
    ok, why = provenance.is_fresh({"inputs": entry["inputs"]}, REPO_ROOT)
    if not ok:
        return ok, why
    try:
        exp = get(name)
    except ValueError:
        exp = None
    if exp is not None:
        try:
            now = inputs_hash(exp, scale)[0]
        except ValueError as exc:  # an input file vanished
            return False, str(exc)
        if entry.get("inputs_sha256") != now:
            return False, "the experiment's config or the files it imports changed since the result was computed"
    return provenance.is_fresh({"outputs": entry["outputs"]}, root.resolve().parent)
