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
        inputs=["lib/sgdlab/train/loop.py", "lib/sgdlab/hessian/lanczos.py"],   # + this module, added automatically
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
        Repository-relative files whose change makes the results stale (the library modules it
        uses; the experiment's own module is added automatically).
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
        """Repository-relative input files, the experiment's module first (sorted, unique)."""
        files = list(self.inputs)
        if self.module_file:
            try:
                files.insert(0, Path(self.module_file).relative_to(REPO_ROOT.resolve()).as_posix())
            except ValueError:  # a module outside the repository (tests): hash it by absolute path
                files.insert(0, self.module_file)
        seen, out = set(), []
        for f in files:
            if f not in seen:
                seen.add(f)
                out.append(f)
        return out


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
