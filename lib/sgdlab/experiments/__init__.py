"""Full-scale experiments: a registry of named sweeps and the runner behind ``python -m sgdlab.experiments``.

Command line::

    python -m sgdlab.experiments list
    python -m sgdlab.experiments run NAME [--scale full] [--device cuda] [--shard i/n] [--data-dir DIR] [--force]

Each experiment (one module per experiment in this package, e.g. ``p4_sharpness.py``) registers an
:class:`~sgdlab.experiments.registry.Experiment` with a ``book`` and a ``full`` configuration; the
runner writes ``data/NAME/SCALE/…`` atomically, resumes interrupted sweeps without recomputing or
duplicating points, and records a ``data/MANIFEST.json`` entry (config, input hashes, commit,
device, versions, wall time). ``tests/test_data_manifest.py`` fails when a committed result is stale.

In a notebook, redraw full-scale results with::

    from sgdlab.experiments import load_results
    res = load_results("demo_mlp_digits", "full")   # None until someone ran it
"""
from ._runner import ENV_DATA_OUT, data_root, is_fresh, load_results, parse_shard, results_path, run
from .registry import Experiment, discover, get, names, register

__all__ = ["Experiment", "register", "discover", "get", "names", "run", "load_results", "results_path", "is_fresh",
           "data_root", "parse_shard", "ENV_DATA_OUT"]
