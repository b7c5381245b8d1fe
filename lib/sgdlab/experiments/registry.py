"""The registry of named experiments (``python -m sgdlab.experiments list``).

An experiment is a sweep: a list of *points* (small JSON-able dicts, e.g. ``{"lr": 0.1}``), each
computed by ``run_point(point, config, device)``, at two scales (``book``: minutes on a 2-core
CPU; ``full``: paper size, on a GPU). One module per experiment lives next to this file
(``lib/sgdlab/experiments/<name>.py``) and registers itself at import::

    from sgdlab.experiments.registry import Experiment, register

    def grid(cfg):                       # the sweep's points at this scale
        return [{"lr": lr} for lr in cfg["lrs"]]

    def run_point(point, cfg, device):   # one point -> JSON-able dict (may hold an "_arrays" dict for an NPZ)
        ...
        return {"final_loss": ...}

    register(Experiment(
        name="p4_sharpness", description="λ_max vs η/B of a Fashion-MNIST MLP",
        configs={"book": {...}, "full": {...}}, grid=grid, run_point=run_point,
        inputs=[],                       # extra files only: this module and every sgdlab module it
                                         # imports (transitively) are found by module_imports
        summarize=None,                  # optional: (cfg, [(point, result), ...]) -> dict
    ))

:func:`discover` imports every public module of the package so their experiments register; the
runner is :mod:`sgdlab.experiments._runner`.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._paths import REPO_ROOT
from ..scale import SCALES

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Experiment:
    """A named sweep with a ``book`` and a ``full`` configuration.

    Attributes
    ----------
    name : str
        Lower-case identifier (``[a-z][a-z0-9_]*``); results go to ``data/<name>/<scale>/``.
    description : str
        One line for ``list``.
    configs : mapping
        ``{"book": {...}, "full": {...}}``, JSON-serialisable.
    grid : callable
        ``grid(config) -> list of dict``: the sweep's points (JSON-serialisable, distinct).
    run_point : callable
        ``run_point(point, config, device) -> dict``: computes one point. An ``"_arrays"`` entry
        (a dict of numpy arrays) is stored in an ``.npz`` next to the point's JSON.
    inputs : sequence of str
        Further repository-relative files whose change makes the results stale (data files, or
        modules loaded dynamically). The experiment's own module, every :mod:`sgdlab` module it
        imports (transitively) and the runner's modules are found by :func:`module_imports` and
        need not be listed.
    summarize : callable, optional
        ``summarize(config, [(point, result), ...]) -> dict`` once every point is done.
    """

    name: str
    description: str
    configs: Mapping[str, Mapping[str, Any]]
    grid: Callable[[Mapping[str, Any]], list]
    run_point: Callable[..., dict]
    inputs: Sequence[str] = ()
    summarize: Callable[..., dict] | None = None
    module_file: str = field(default="", compare=False)

    def __post_init__(self):
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise ValueError(f"name={self.name!r} must match [a-z][a-z0-9_]*")
        missing = [s for s in SCALES if s not in self.configs]
        if missing:
            raise ValueError(f"configs of {self.name!r} lack the scale(s) {missing}; need {list(SCALES)}")
        if not callable(self.grid) or not callable(self.run_point):
            raise ValueError("grid and run_point must be callable")
        if not self.module_file:
            mod = inspect.getmodule(self.run_point)
            f = getattr(mod, "__file__", None)
            if f:
                object.__setattr__(self, "module_file", str(Path(f).resolve()))

    def config(self, scale: str) -> dict:
        """The configuration at ``scale`` (a copy)."""
        if scale not in SCALES:
            raise ValueError(f"scale={scale!r} is not a scale; allowed: {', '.join(SCALES)}")
        return dict(self.configs[scale])

    def points(self, scale: str) -> list[dict]:
        """The sweep's points at ``scale``."""
        pts = list(self.grid(self.config(scale)))
        if not all(isinstance(p, Mapping) for p in pts):
            raise ValueError(f"grid of {self.name!r} must return a list of dicts")
        return [dict(p) for p in pts]

    def input_files(self) -> list[str]:
        """Files whose change makes the results stale, the experiment's module first.

        The experiment's module, the :mod:`sgdlab` modules it imports, directly or through other
        :mod:`sgdlab` modules (:func:`module_imports`), the runner's modules (``_runner.py``,
        ``provenance.py``, ``device.py``, … and what they import) and the declared ``inputs``.
        Repository-relative POSIX paths (absolute for a module outside the repository, e.g. a test's);
        unique, sorted after the first.
        """
        first = [self.module_file] if self.module_file else []
        found = set(module_imports(self.module_file)) if self.module_file else set()
        found |= set(module_imports(Path(__file__).with_name("_runner.py"), include_self=True))
        rest = sorted({_repo_relative(f) for f in found} | set(self.inputs))
        first = [_repo_relative(f) for f in first]
        return first + [f for f in rest if f not in first]


def _repo_relative(path: str | Path) -> str:
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.resolve().relative_to(REPO_ROOT.resolve()).as_posix()
    except ValueError:  # a module outside the repository (tests): its absolute path
        return p.resolve().as_posix()


def module_imports(path: str | Path, *, package: str = "sgdlab", package_dir: str | Path | None = None,
                   include_self: bool = False) -> list[Path]:
    """The files of the ``package`` modules that the module at ``path`` imports, transitively.

    Read from the source with :mod:`ast` (every ``import``/``from … import`` statement, also those
    inside functions; relative imports resolved against the module's place in ``package_dir``), so
    the answer depends on the files only, not on what the process has imported. Importing
    ``package.a.b`` runs ``package/__init__.py`` and ``package/a/__init__.py`` too, so they count;
    ``from package.a import name`` counts ``package/a/name.py`` where that file exists. Imports of
    other packages (numpy, torch) are not followed.

    Parameters
    ----------
    path : path
        A Python source file (inside ``package_dir`` or not, e.g. a test module).
    package : str
        The top-level package whose modules are followed.
    package_dir : path, optional
        Its folder (default: the installed :mod:`sgdlab`'s).
    include_self : bool
        Whether ``path`` itself is in the answer.

    Returns
    -------
    list of pathlib.Path
        Resolved paths, sorted.

    Raises
    ------
    ValueError
        If ``path`` or an imported module's file cannot be read or parsed (naming the file).
    """
    import ast

    pkg_dir = Path(package_dir).resolve() if package_dir is not None else Path(__file__).resolve().parents[1]
    start = Path(path).resolve()

    def module_name(f: Path) -> tuple[str | None, bool]:
        try:
            rel = f.relative_to(pkg_dir).with_suffix("")
        except ValueError:
            return None, False
        parts = [package, *rel.parts]
        is_pkg = parts[-1] == "__init__"
        return ".".join(parts[:-1] if is_pkg else parts), is_pkg

    def file_of(mod: str) -> Path | None:
        parts = mod.split(".")
        if parts[0] != package:
            return None
        base = pkg_dir.joinpath(*parts[1:])
        for f in (base.with_suffix(".py") if len(parts) > 1 else None, base / "__init__.py"):
            if f is not None and f.is_file():
                return f
        return None

    def with_parents(mod: str) -> list[Path]:
        parts = mod.split(".")
        return [f for k in range(1, len(parts) + 1) if (f := file_of(".".join(parts[:k]))) is not None]

    seen: set[Path] = set()
    todo = [start]
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        try:
            tree = ast.parse(f.read_bytes(), filename=str(f))
        except (OSError, SyntaxError, ValueError) as exc:
            raise ValueError(f"cannot read the imports of {f}: {exc}") from exc
        name, is_pkg = module_name(f)
        found: list[Path] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found += with_parents(alias.name)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    if name is None:
                        continue  # a relative import outside the package: not ours to follow
                    base = name.split(".") if is_pkg else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    if not base:
                        continue
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                if mod.split(".")[0] != package:
                    continue
                found += with_parents(mod)
                for alias in node.names:
                    sub = file_of(f"{mod}.{alias.name}") if alias.name != "*" else None
                    if sub is not None:
                        found.append(sub)
        todo += [g.resolve() for g in found if g.resolve() not in seen]
    if not include_self:
        seen.discard(start)
    return sorted(seen)


_REGISTRY: dict[str, Experiment] = {}
_IMPORT_ERRORS: dict[str, str] = {}
_DISCOVERED = False


def register(exp: Experiment, *, replace: bool = False) -> Experiment:
    """Add ``exp`` to the registry (``replace=True`` to overwrite a name, e.g. in tests)."""
    if not isinstance(exp, Experiment):
        raise ValueError("register() takes an Experiment")
    if exp.name in _REGISTRY and not replace and _REGISTRY[exp.name].module_file != exp.module_file:
        raise ValueError(f"name={exp.name!r}: an experiment of that name is already registered "
                         f"(by {_REGISTRY[exp.name].module_file})")
    _REGISTRY[exp.name] = exp
    return exp


def unregister(name: str) -> None:
    """Remove ``name`` from the registry (tests)."""
    _REGISTRY.pop(name, None)


def discover() -> dict[str, str]:
    """Import every public module of :mod:`sgdlab.experiments` (once) so its experiments register.

    Returns
    -------
    dict
        ``{module: error}`` for modules that failed to import (they are skipped, not fatal).
    """
    global _DISCOVERED
    if _DISCOVERED:
        return dict(_IMPORT_ERRORS)
    from . import __path__ as pkg_path

    for info in pkgutil.iter_modules(pkg_path):
        if info.name.startswith("_") or info.name == "registry":
            continue
        try:
            importlib.import_module(f"{__package__}.{info.name}")
        except Exception as exc:  # noqa: BLE001 - one broken module must not hide the others
            _IMPORT_ERRORS[info.name] = f"{type(exc).__name__}: {exc}"
    _DISCOVERED = True
    return dict(_IMPORT_ERRORS)


def names() -> list[str]:
    """Sorted names of the registered experiments (after :func:`discover`)."""
    discover()
    return sorted(_REGISTRY)


def get(name: str) -> Experiment:
    """The experiment called ``name``.

    Raises
    ------
    ValueError
        Naming ``name`` and listing the known experiments (and the import error, if its module failed).
    """
    discover()
    if name not in _REGISTRY:
        hint = ""
        if name in _IMPORT_ERRORS:
            hint = f"; its module failed to import: {_IMPORT_ERRORS[name]}"
        raise ValueError(f"name={name!r} is not a registered experiment; known: {', '.join(sorted(_REGISTRY)) or 'none'}{hint}")
    return _REGISTRY[name]
