"""Run every full-scale experiment within a time budget, in order of value to the headline claims.

``python -m sgdlab.experiments suite --scale full --device cuda --budget 480 [--dry-run] [--pack FILE]``

The suite plans each experiment's work with its module's ``estimate(config)``
(:mod:`sgdlab.experiments._cost`), then runs the experiments one by one, each in its own process
(``python -m sgdlab.experiments run NAME``), so that:

- each result (``data/<name>/<scale>/results.json``) and its manifest entry are written as soon as that
  experiment completes: a suite stopped half-way still leaves committed data;
- an experiment whose estimate does not fit the time left is skipped (a later, cheaper one may still
  fit), and one that overruns is interrupted (SIGINT, then SIGKILL after a grace period) before the
  budget ends; its finished points stay on disk and a later run resumes them;
- ``SUITE.json`` in the data folder records, per experiment, the plan, the estimate, the wall time, the
  model's FLOP rate and what happened.

``--dry-run`` prints the plan (points, runs, sequential steps, HVPs, FLOPs, precision) and the
estimated time on the target device, and runs nothing. ``--pack FILE`` writes the suite's results (not
the raw data) into one ``.tar.gz``, for bringing results back from a remote machine.
"""
from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from . import _cost
from ._runner import data_root
from .registry import get

#: The full-scale experiments in order of value to the headline claims, with the claims they decide.
ORDER: list[tuple[str, str]] = [
    ("p5_lr_scaling", "P5.H3, P5.H4, P5.H5: largest usable lr of SGD and Adam against B on a CNN"),
    ("p1_network_theory", "P1.H6: a width-1000 network, its linearisation and the SE theory at N = 10⁴"),
    ("p2_batch_sweep", "P2.H3: best SGD vs best SGDM test accuracy across batch sizes (ResNet)"),
    ("p3_noise_vs_lr", "P3.H1, P3.H2: large lr vs small lr with matched noise, SGD and full-batch GD"),
    ("p4_sharpness", "P4.H3, P4.H5: sharpness against η/B and escape from a large-batch minimum"),
    ("p5_batch_hessian_slq", "P5.H1, P5.H5: SLQ spectra of batch Hessians across B at three checkpoints"),
    ("p2_svag", "P2.H4: SVAG ℓ ∈ {1, 2, 8}, SGD vs SGDM (ResNet)"),
    ("p1_maps", "P1.H2: the (α, β) convergence map of the linearised network at two batch sizes"),
]
#: Seconds kept free at the end of the budget (interrupting, writing SUITE.json, packing).
MARGIN_S = 20.0
#: Seconds an interrupted experiment gets to stop cleanly after SIGINT before SIGKILL.
GRACE_S = 10.0


def module_of(name: str):
    """The module that registers experiment ``name`` (it defines ``estimate`` and ``tiny``)."""
    return importlib.import_module(get(name).run_point.__module__)


def plan(scale: str = "full", device: str | None = "cuda", names=None) -> list[dict]:
    """Per experiment: its claims, planned work and estimated seconds on ``device``.

    Raises
    ------
    ValueError
        If ``names`` holds an experiment that is not in the suite.
    """
    known = dict(ORDER)
    names = [n for n, _ in ORDER] if names is None else list(names)
    bad = [n for n in names if n not in known]
    if bad:
        raise ValueError(f"names={bad!r} are not suite experiments; the suite runs {', '.join(known)}")
    out = []
    for name in names:
        work = module_of(name).estimate(get(name).config(scale))
        out.append({"name": name, "claims": known[name], "work": work.as_dict(),
                    "estimate_s": round(_cost.seconds(work, device), 1)})
    return out


def format_plan(rows: list[dict], device: str | None) -> str:
    """The plan as a text table, with the total."""
    d = _cost.DEVICES[_cost.device_kind(device)]
    lines = [f"planned on {d['name']} (efficiency {d['efficiency']:.0%} of peak; an order-of-magnitude model)",
             f"{'experiment':22s} {'points':>6s} {'runs':>6s} {'seq. steps':>10s} {'HVPs':>7s} {'TFLOP':>8s} "
             f"{'prec.':>5s} {'est. s':>7s}"]
    for r in rows:
        w = r["work"]
        lines.append(f"{r['name']:22s} {w['points']:6d} {w['runs']:6d} {w['seq_steps']:10d} {w['hvps']:7d} "
                     f"{w['flops'] / 1e12:8.1f} {w['precision']:>5s} {r['estimate_s']:7.1f}")
    lines.append(f"{'total':22s} {'':6s} {'':6s} {'':10s} {'':7s} {sum(r['work']['flops'] for r in rows) / 1e12:8.1f} "
                 f"{'':5s} {sum(r['estimate_s'] for r in rows):7.1f}")
    for r in rows:
        if r["work"]["note"]:
            lines.append(f"  {r['name']}: {r['work']['note']}")
    return "\n".join(lines)


def run_command(name: str, scale: str, device: str | None, data_dir: Path) -> list[str]:
    """The command that runs one experiment in its own process."""
    return [sys.executable, "-m", "sgdlab.experiments", "run", name, "--scale", scale, "--data-dir", str(data_dir),
            "--no-progress"] + (["--device", str(device)] if device else [])


def run_process(cmd: list[str], timeout: float) -> dict:
    """Run ``cmd``; past ``timeout`` seconds interrupt it (SIGINT, then SIGKILL after :data:`GRACE_S`).

    Returns ``{"status", "wall_s"}``; the status is ``complete``, ``failed (exit N)`` or
    ``stopped at the budget (finished points kept)``.
    """
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=dict(os.environ))
    status = "complete"
    try:
        rc = proc.wait(timeout=max(1.0, timeout))
        if rc != 0:
            status = f"failed (exit {rc})"
    except subprocess.TimeoutExpired:
        status = "stopped at the budget (finished points kept)"
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {"status": status, "wall_s": round(time.monotonic() - t0, 1)}


def run_suite(*, scale: str = "full", device: str | None = "cuda", budget_s: float = 480.0, data_dir=None,
              names=None, dry_run: bool = False, pack: str | os.PathLike | None = None, log=print) -> dict:
    """Run the suite (see the module docstring). Returns the record also written to ``SUITE.json``.

    Raises
    ------
    ValueError
        If ``budget_s`` is not a positive number, or ``names`` holds an unknown experiment.
    """
    if isinstance(budget_s, bool) or not isinstance(budget_s, (int, float)) or not budget_s > 0:
        raise ValueError(f"budget_s={budget_s!r} must be a positive number of seconds")
    rows = plan(scale, device, names)
    log(format_plan(rows, device))
    record = {"scale": scale, "device": device, "budget_s": budget_s, "experiments": rows}
    if dry_run:
        return record
    root = data_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    for r in rows:
        left = budget_s - MARGIN_S - (time.monotonic() - t0)
        if r["estimate_s"] > left:
            r.update(status=f"skipped: estimated {r['estimate_s']:.0f} s, {max(left, 0):.0f} s left", wall_s=0.0)
            log(f"[suite] {r['name']}: {r['status']}")
            continue
        log(f"[suite] {r['name']}: running (estimated {r['estimate_s']:.0f} s, {left:.0f} s left)")
        r.update(run_process(run_command(r["name"], scale, device, root), left))
        r["tflops_model"] = round(r["work"]["flops"] / 1e12 / r["wall_s"], 2) if r["wall_s"] > 0 else None
        log(f"[suite] {r['name']}: {r['status']} in {r['wall_s']} s")
    record["wall_s"] = round(time.monotonic() - t0, 1)
    from ..provenance import atomic_write_json

    atomic_write_json(root / "SUITE.json", record)
    if pack:
        record["pack"] = str(pack_results(root, pack, [r["name"] for r in rows]))
    return record


def pack_results(root: Path, target: str | os.PathLike, names) -> Path:
    """Write ``MANIFEST.json``, ``SUITE.json`` and ``<name>/`` of each experiment under ``root`` to a tar.gz."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for rel in ["MANIFEST.json", "SUITE.json"] + list(names):
            p = root / rel
            if p.exists():
                tar.add(p, arcname=rel)
    os.replace(tmp, target)
    return target


def main(args) -> int:
    """The ``suite`` subcommand."""
    try:
        rec = run_suite(scale=args.scale or "full", device=args.device, budget_s=args.budget, data_dir=args.data_dir,
                        names=args.only.split(",") if args.only else None, dry_run=args.dry_run, pack=args.pack)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.dry_run:
        print(json.dumps({r["name"]: r.get("status") for r in rec["experiments"]}, indent=1))
    return 0


class FullScaleNote:
    """What a chapter shows about its full-scale experiments: one short admonition while none has run
    (what would run, on what, and the command), else one provenance line per result.

    ``full_scale_note("p3_noise_vs_lr")`` in a notebook cell renders as Markdown; :attr:`data` holds,
    per experiment, the provenance to pass to ``ClaimLog.check(..., data=...)`` (``None`` while absent).
    """

    def __init__(self, *names: str, data_dir=None):
        from ._runner import is_fresh, load_results
        from .. import provenance

        if not names:
            raise ValueError("names: give at least one experiment")
        known = dict(ORDER)
        self.names = list(names)
        self.results: dict[str, dict | None] = {}
        self.data: dict[str, dict | None] = {}
        for n in self.names:
            if n not in known:
                raise ValueError(f"names={n!r} is not a suite experiment; the suite runs {', '.join(known)}")
            res = load_results(n, "full", data_dir)
            self.results[n] = res
            if res is None:
                self.data[n] = None
                continue
            entry = provenance.read_manifest(data_root(data_dir) / "MANIFEST.json").get(f"{n}/full", {})
            fresh, why = is_fresh(n, "full", data_dir)
            dev = entry.get("device", {})
            self.data[n] = {"device": dev.get("gpu") or dev.get("processor") or "unknown", "date": entry.get("date"),
                            "commit": str(entry.get("commit", ""))[:10], "fresh": bool(fresh),
                            "why": None if fresh else why, "wall_time_s": entry.get("wall_time_s")}

    @property
    def any(self) -> bool:
        """Whether at least one of the experiments has a result in ``data/``."""
        return any(r is not None for r in self.results.values())

    def _repr_markdown_(self) -> str:
        missing = [n for n in self.names if self.results[n] is None]
        lines = []
        if missing:
            rows = {r["name"]: r for r in plan("full", "cuda", missing)}
            what = "; ".join(f"`{n}` ({dict(ORDER)[n]}; about {rows[n]['estimate_s']:.0f} s planned on one H100)"
                             for n in missing)
            lines += [":::{admonition} Not yet run at full scale", ":class: note",
                      f"What would run: {what}. It runs on a GPU, as part of the suite "
                      "`python -m sgdlab.experiments suite --scale full --device cuda`; the results land in "
                      "`data/` with their provenance, and this section then draws them and checks them.", ":::"]
        for n in self.names:
            d = self.data[n]
            if d is not None:
                state = "fresh" if d["fresh"] else f"**stale** ({d['why']}): shown, but it decides nothing"
                lines.append(f"*Full scale, `{n}`:* {d['device']}, {d['date']}, commit `{d['commit']}`, "
                             f"{d['wall_time_s']} s; {state}.")
        return "\n".join(lines)


def full_scale_note(*names: str, data_dir=None) -> FullScaleNote:
    """See :class:`FullScaleNote`."""
    return FullScaleNote(*names, data_dir=data_dir)
