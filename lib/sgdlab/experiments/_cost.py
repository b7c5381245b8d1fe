"""A roofline model of an experiment's planned work, for ``suite --dry-run`` and the suite's budget.

Each experiment module defines ``estimate(config) -> Work``: how many sweep points, independent runs
(chains, seeds × learning rates), *sequential* steps (after vectorising over runs: what kernel-launch
latency multiplies), Hessian-vector products and floating-point operations it plans, and in which
precision. :func:`seconds` turns that into a time on a target device:

    t = sequential steps × per-step latency + FLOPs / (peak(precision) × efficiency)

The peaks are the nominal figures of one H100 as the issue states them (about 60 TFLOP/s fp32/fp64
matrix work, TF32 about 400, bf16 about 1000); cuDNN runs float32 convolutions in TF32 by default, so
convolutional networks in float32 are costed at the TF32 peak. The efficiency (a quarter of peak) and
the per-step latency (set per experiment from its model size) are assumptions, not measurements: the
model is an order-of-magnitude plan (expect a factor of 2–3 either way), which is why the suite also
watches the clock and stops cleanly before its budget whatever the plan said.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

#: Nominal peaks (FLOP/s) per precision, and the fraction of peak small models reach.
DEVICES: dict[str, dict] = {
    "cuda": {"name": "one NVIDIA H100 (nominal peaks)", "efficiency": 0.25,
             "peak": {"fp64": 60e12, "fp32": 60e12, "tf32": 400e12, "bf16": 1000e12}, "latency": 1.0},
    "cpu": {"name": "a 2-core CPU", "efficiency": 0.5,
            "peak": {"fp64": 25e9, "fp32": 50e9, "tf32": 50e9, "bf16": 25e9}, "latency": 0.3},
}
PRECISIONS = ("fp64", "fp32", "tf32", "bf16")


@dataclass(frozen=True)
class Work:
    """The planned work of one experiment at one scale.

    Attributes
    ----------
    points : int
        Points of the sweep.
    runs : int
        Independent runs or chains in all (seeds × learning rates × settings).
    seq_steps : int
        Sequential steps after vectorising over runs (optimiser steps, Lanczos iterations).
    flops : float
        Floating-point operations in all.
    step_s : float
        Latency of one sequential step on the GPU (kernel launches), in seconds.
    hvps : int
        Hessian-vector products (included in ``flops``).
    precision : str
        ``fp64``, ``fp32``, ``tf32`` or ``bf16``: the arithmetic that dominates ``flops``.
    note : str
        What the precision choice relies on, or what was cut.
    """

    points: int
    runs: int
    seq_steps: int
    flops: float
    step_s: float
    hvps: int = 0
    precision: str = "fp32"
    note: str = ""

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision={self.precision!r} must be one of {PRECISIONS}")
        for name in ("points", "runs", "seq_steps", "hvps"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"{name}={v!r} must be an integer >= 0")
        if not (self.flops >= 0 and self.step_s >= 0):
            raise ValueError("flops and step_s must be >= 0")

    def as_dict(self) -> dict:
        return asdict(self)


def device_kind(device: str | None) -> str:
    """``"cuda"`` for any CUDA device string, else ``"cpu"``."""
    return "cuda" if device and str(device).startswith("cuda") else "cpu"


def seconds(work: Work, device: str | None) -> float:
    """Estimated wall time of ``work`` on ``device`` (see the module docstring for the model)."""
    d = DEVICES[device_kind(device)]
    return work.seq_steps * work.step_s * d["latency"] + work.flops / (d["peak"][work.precision] * d["efficiency"])


# --------------------------------------------------------------------------- FLOP counts of the models
def mlp_macs(widths) -> int:
    """Multiply-accumulates of one forward pass of an MLP with layer ``widths``."""
    return int(sum(a * b for a, b in zip(widths[:-1], widths[1:])))


def cnn_macs(channels, hidden, side: int = 28, classes: int = 10) -> int:
    """Forward MACs of :func:`sgdlab.train.small_cnn` (two 3×3 conv + pool stages, two linear layers)."""
    c1, c2 = channels
    s1, s2, s3 = side, side // 2, side // 4
    return int(s1 * s1 * 9 * c1 + s2 * s2 * 9 * c1 * c2 + s3 * s3 * c2 * hidden + hidden * classes)


def resnet_macs(blocks, widths, side: int = 28) -> int:
    """Forward MACs of the book's small ResNet: each basic block has two 3×3 convolutions."""
    total, s = 9 * widths[0] * side * side, side
    for i, (nb, w) in enumerate(zip(blocks, widths)):
        if i:
            s = max(1, s // 2)
        total += nb * 2 * 9 * w * w * s * s
    return int(total)


def train_flops(fwd_macs: int, samples: float) -> float:
    """Forward + backward FLOPs (≈ 3 forward passes, 2 FLOPs per MAC) for ``samples`` examples."""
    return 6.0 * fwd_macs * samples


def hvp_flops(fwd_macs: int, samples: float) -> float:
    """A Hessian-vector product (≈ 4 forward passes) over ``samples`` examples."""
    return 8.0 * fwd_macs * samples
