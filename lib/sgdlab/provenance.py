"""Provenance: git commit, package versions, device, input/output hashes and atomic writes.

Every result file under ``data/`` is written with :func:`atomic_write_bytes` (or one of its
wrappers) and described by a manifest entry (:func:`manifest_entry`, :func:`update_manifest`), so
that a reader can tell which code, on which device, produced which number, and a test can tell when
a committed result has gone stale against its inputs.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from ._paths import REPO_ROOT

#: Packages whose versions are recorded with every result.
TRACKED_PACKAGES = (
    "numpy", "scipy", "sympy", "torch", "matplotlib", "scikit-learn", "jupyter-book", "sgdlab",
)


# --------------------------------------------------------------------------- atomic writes
def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: a reader sees the old file or the new one, never half.

    The bytes go to a temporary file in the same folder, are flushed and fsynced, and the file is
    then renamed over ``path`` (:func:`os.replace` is atomic on POSIX and Windows).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):  # mkstemp creates 0600; a result file gets the mode open() would give it
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _umask() -> int:
    """The process's umask, read without changing it where ``/proc`` allows (Linux ≥ 4.7)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (a brief window, as every POSIX library does)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _json_default(obj: Any):
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def to_json(obj: Any) -> str:
    """Serialise ``obj`` as stable, indented JSON (numpy scalars and arrays allowed).

    Non-finite floats are written as the strings ``"inf"``, ``"-inf"`` and ``"nan"`` so the file
    stays valid JSON.
    """
    return json.dumps(_finite(obj), indent=1, sort_keys=True, default=_json_default) + "\n"


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        if obj != obj:
            return "nan"
        if obj in (float("inf"), float("-inf")):
            return "inf" if obj > 0 else "-inf"
        return obj
    if isinstance(obj, Mapping):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    try:
        import numpy as np

        if isinstance(obj, np.ndarray):
            return _finite(obj.tolist())
        if isinstance(obj, np.floating):
            return _finite(float(obj))
    except ImportError:  # pragma: no cover
        pass
    return obj


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as JSON (see :func:`to_json`) atomically."""
    return atomic_write_text(path, to_json(obj))


def atomic_save_npz(path: str | os.PathLike, **arrays) -> Path:
    """Save arrays to a compressed ``.npz`` file atomically."""
    import numpy as np

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())


# --------------------------------------------------------------------------- hashes
def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def hash_inputs(paths: Iterable[str | os.PathLike], root: str | os.PathLike = REPO_ROOT) -> dict[str, str]:
    """SHA-256 of each input file, keyed by its path relative to ``root`` (sorted, POSIX form)."""
    root = Path(root)
    out = {}
    for p in paths:
        p = Path(p)
        full = p if p.is_absolute() else root / p
        if not full.is_file():
            raise ValueError(f"input file {p} does not exist")
        try:
            key = full.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:  # outside ``root`` (a test's module): keyed by its absolute path
            key = full.resolve().as_posix()
        out[key] = sha256_file(full)
    return dict(sorted(out.items()))


def combined_hash(hashes: Mapping[str, str], config: Mapping[str, Any] | None = None) -> str:
    """One SHA-256 over a mapping of file hashes and an optional configuration."""
    payload = to_json({"inputs": dict(sorted(hashes.items())), "config": config or {}})
    return sha256_bytes(payload.encode())


# --------------------------------------------------------------------------- environment
def git_commit(root: str | os.PathLike = REPO_ROOT) -> str:
    """The current git commit (``"unknown"`` outside a checkout); ``+dirty`` if the tree has changes."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def versions(packages: Iterable[str] = TRACKED_PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``packages`` (``None`` for one that is not installed)."""
    out: dict[str, str | None] = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def now_utc() -> str:
    """The current UTC time in ISO 8601, to the second."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


# --------------------------------------------------------------------------- manifest
def manifest_entry(
    *,
    config: Mapping[str, Any],
    inputs: Iterable[str | os.PathLike],
    outputs: Iterable[str | os.PathLike],
    wall_time_s: float,
    scale: str,
    device: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    root: str | os.PathLike = REPO_ROOT,
) -> dict[str, Any]:
    """Describe one result: its configuration, input and output hashes, commit, device, versions, time.

    Parameters
    ----------
    config
        The experiment's configuration (JSON-serialisable).
    inputs
        Files whose change makes the result stale: the experiment's module and the library modules it
        uses. Their hashes, with ``config``, give ``inputs_sha256``.
    outputs
        The result files; their hashes let a test detect a result edited by hand.
    wall_time_s
        Seconds the computation took.
    scale
        ``"book"`` or ``"full"``.
    device
        Device facts (default: :func:`sgdlab.device.info`).
    """
    from . import device as _device

    in_hashes = hash_inputs(inputs, root)
    out_hashes = hash_inputs(outputs, root)
    entry = {
        "config": dict(config),
        "inputs": in_hashes,
        "inputs_sha256": combined_hash(in_hashes, config),
        "outputs": out_hashes,
        "scale": scale,
        "commit": git_commit(root),
        "date": now_utc(),
        "device": dict(device) if device is not None else _device.info(),
        "versions": versions(),
        "wall_time_s": round(float(wall_time_s), 3),
    }
    if extra:
        entry.update(extra)
    return entry


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """Read a manifest (``{}`` if the file does not exist).

    Raises
    ------
    ValueError
        Naming ``path`` when the file is not valid JSON (e.g. truncated), is not a JSON object, or
        holds an entry that is not an object with ``inputs`` and ``outputs`` maps of path → SHA-256.
    """
    path = Path(path)
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"manifest {path} is unreadable or not valid JSON ({exc}); "
                         "restore it (e.g. from git) or delete it and rerun the experiments") from exc
    if not isinstance(manifest, dict):
        raise ValueError(f"manifest {path} must hold a JSON object of entries; got a {type(manifest).__name__}")
    for name, entry in manifest.items():
        check_entry(entry, f"entry {name!r} of manifest {path}")
    return manifest


def check_entry(entry: Any, where: str = "manifest entry") -> Mapping[str, Any]:
    """Check that ``entry`` is a manifest entry (see :func:`manifest_entry`) and return it.

    An entry is a JSON object whose ``inputs`` and ``outputs`` map paths to hex SHA-256 strings.

    Raises
    ------
    ValueError
        Naming ``where`` (the manifest file and the entry) and what is wrong.
    """
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where} must be a JSON object; got a {type(entry).__name__}")
    for key in ("inputs", "outputs"):
        if key not in entry:
            raise ValueError(f"{where} lacks the key {key!r}")
        files = entry[key]
        if not isinstance(files, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
            raise ValueError(f"{where}: {key!r} must map file paths to SHA-256 strings")
    return entry


def update_manifest(path: str | os.PathLike, name: str, entry: Mapping[str, Any]) -> Path:
    """Set ``manifest[name] = entry`` and rewrite the manifest atomically.

    Raises
    ------
    ValueError
        If ``entry`` is not a manifest entry (:func:`check_entry`) or the manifest at ``path`` is
        malformed (:func:`read_manifest`); the file is then left as it was.
    """
    check_entry(entry, f"entry={name!r}")
    manifest = read_manifest(path)
    manifest[name] = dict(entry)
    return atomic_write_json(path, dict(sorted(manifest.items())))


def is_fresh(entry: Mapping[str, Any], root: str | os.PathLike = REPO_ROOT) -> tuple[bool, str]:
    """Whether a manifest entry still matches its inputs and outputs on disk.

    Returns
    -------
    fresh : bool
    reason : str
        Empty when fresh, else which file changed or went missing.
    """
    root = Path(root)
    if not isinstance(entry, Mapping):
        raise ValueError(f"entry must be a manifest entry (a mapping); got a {type(entry).__name__}")
    for rel, digest in entry.get("inputs", {}).items():
        f = root / rel
        if not f.is_file():
            return False, f"input {rel} is missing"
        if sha256_file(f) != digest:
            return False, f"input {rel} changed since the result was computed"
    for rel, digest in entry.get("outputs", {}).items():
        f = root / rel
        if not f.is_file():
            return False, f"output {rel} is missing"
        if sha256_file(f) != digest:
            return False, f"output {rel} does not match its recorded hash"
    return True, ""
