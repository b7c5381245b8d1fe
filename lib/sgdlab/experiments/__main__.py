"""``python -m sgdlab.experiments list | run NAME [--scale full] [--device cuda] [--shard i/n] | suite [--budget S]``."""
from __future__ import annotations

import argparse
import sys

import sgdlab  # noqa: F401  (sets OMP_WAIT_POLICY before torch is imported)


def main(argv=None) -> int:
    from . import _runner, registry

    ap = argparse.ArgumentParser(prog="python -m sgdlab.experiments", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the registered experiments")
    r = sub.add_parser("run", help="run (or resume) an experiment's sweep")
    r.add_argument("name")
    r.add_argument("--scale", choices=["book", "full"], default=None, help="default: $SGDLAB_SCALE or book")
    r.add_argument("--device", default=None, help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda if present)")
    r.add_argument("--shard", default=None, help="i/n: run every n-th point starting at i")
    r.add_argument("--data-dir", default=None, help=f"results folder (default: ${_runner.ENV_DATA_OUT} or data/)")
    r.add_argument("--force", action="store_true", help="recompute points that are already done")
    r.add_argument("--no-progress", action="store_true")
    su = sub.add_parser("suite", help="run every full-scale experiment within a time budget, most valuable first")
    su.add_argument("--scale", choices=["book", "full"], default="full")
    su.add_argument("--device", default=None, help="torch device (default: cuda if present, else cpu)")
    su.add_argument("--budget", type=float, default=480.0, help="seconds for the whole suite (default 480)")
    su.add_argument("--dry-run", action="store_true", help="print the planned work and estimated times; run nothing")
    su.add_argument("--only", default=None, help="comma-separated experiment names (default: the whole suite)")
    su.add_argument("--data-dir", default=None, help="results folder (default: data/)")
    su.add_argument("--pack", default=None, help="also write the suite's results to this .tar.gz")
    a = ap.parse_args(argv)
    if a.cmd == "suite":
        from . import suite
        from .. import device as _device

        if a.device is None:
            a.device = str(_device.default())
        return suite.main(a)
    if a.cmd == "list":
        errors = registry.discover()
        for name in registry.names():
            exp = registry.get(name)
            sizes = ", ".join(f"{s}: {len(exp.points(s))} points" for s in ("book", "full"))
            print(f"{name:28s} {exp.description}  [{sizes}]")
        for mod, err in sorted(errors.items()):
            print(f"(module {mod} failed to import: {err})", file=sys.stderr)
        return 0
    try:
        with _runner.exit_on_interrupt():   # Ctrl-C: one line, exit 130, finished points kept
            out = _runner.run(a.name, scale=a.scale, device=a.device, shard=a.shard, data_dir=a.data_dir,
                              force=a.force, progress=not a.no_progress)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"computed {out['computed']}, skipped {out['skipped']} of {out['total']} points; "
          f"{'complete: ' + out['results'] if out['complete'] else 'incomplete'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
