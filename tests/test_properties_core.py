"""Property-based checks of the core modules and the experiment engine's entry points (see prop_harness.py)."""
from __future__ import annotations

import numpy as np

from prop_harness import NOT_A_NUMBER, Spec, run_bad_inputs
from sgdlab import scale, stats
from sgdlab.experiments import parse_shard, suite

SPECS = [
    Spec("sgdlab.stats.loglog_slope", lambda **k: stats.loglog_slope(**k), {"x": [1.0, 2.0, 4.0], "y": [1.0, 2.0, 4.0]},
         {"x": [[1.0], [1.0, -2.0, 4.0], [1.0, float("nan"), 4.0], "abc", None],
          "y": [[1.0, 2.0], [0.0, 1.0, 2.0], [1.0, float("inf"), 2.0]]}),
    Spec("sgdlab.stats.wilson_interval", lambda **k: stats.wilson_interval(**k),
         {"successes": 3, "trials": 10, "confidence": 0.95},
         {"successes": [-1, 11, 2.5, "3"], "trials": [0, -3, 1.5], "confidence": [0.0, 1.0, 1.5] + NOT_A_NUMBER}),
    Spec("sgdlab.stats.mean_and_sem", lambda **k: stats.mean_and_sem(**k),
         {"values": np.arange(6.0).reshape(3, 2), "axis": 0},
         {"values": [np.zeros((1, 2)), "abc", None], "axis": [2, 1.5]}),
    Spec("sgdlab.scale.pick", lambda **k: scale.pick(**k), {"book": 1, "full": 2, "scale": "book"},
         {"scale": ["huge", "", 3]}),
    Spec("sgdlab.experiments.parse_shard", lambda **k: parse_shard(**k), {"shard": "0/2"},
         {"shard": ["2/2", "-1/2", "a/b", "1", "0/0", [3, 2]]}),
    Spec("sgdlab.experiments.suite.plan", lambda **k: suite.plan(**k), {"scale": "full", "device": "cuda", "names": ["p1_maps"]},
         {"names": [["nope"], ["p1_maps", "demo"]], "scale": ["large"]}),
    Spec("sgdlab.experiments.suite.run_suite", lambda **k: suite.run_suite(**k),
         {"budget_s": 480.0, "dry_run": True, "log": lambda *a: None},
         {"budget_s": [0, -5.0, True, "480"] + [float("nan"), float("inf")][:1]}),
    Spec("sgdlab.experiments.suite.full_scale_note", lambda **k: suite.full_scale_note(*k["names"]),
         {"names": ["p1_maps"]}, {"names": [[], ["nope"]]}),
]


def test_bad_inputs_are_value_errors_naming_the_parameter():
    run_bad_inputs(SPECS)()
