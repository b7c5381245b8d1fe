"""Property-based checks of sgdlab.train (see tests/prop_harness.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import strategies as st

from prop_harness import NOT_A_NUMBER, Spec, run_bad_inputs, run_divergence
from sgdlab.train import TrainConfig, mlp, small_cnn, train
from sgdlab.train.losses import per_sample_loss

_RNG = np.random.default_rng(0)
DATA = {"x_train": _RNG.normal(size=(32, 4)), "y_train": _RNG.integers(0, 3, 32),
        "x_test": _RNG.normal(size=(8, 4)), "y_test": _RNG.integers(0, 3, 8)}


def _train(lr=0.1, steps=3, batch_size=8, momentum=0.0, optimizer="sgd", loss="cross_entropy", y_train=None):
    d = dict(DATA) if y_train is None else {**DATA, "y_train": y_train}
    return train(mlp([4, 8, 3], seed=0, dtype=torch.float64), d,
                 TrainConfig(optimizer=optimizer, lr=lr, steps=steps, batch_size=batch_size, momentum=momentum,
                             loss=loss, eval_every=steps))


SPECS = [
    Spec("sgdlab.train.TrainConfig", lambda **k: TrainConfig(**k),
         {"optimizer": "sgdm", "lr": 0.1, "steps": 3, "batch_size": 4, "momentum": 0.5},
         {"lr": NOT_A_NUMBER + [0.0, -1.0], "steps": [0, -1, 2.5, "3", None], "batch_size": [0, -2, 1.5],
          "momentum": [NAN := float("nan"), 1.0, -1.0, 1.5, "0.9"], "optimizer": ["adamw", "", None],
          "loss": ["l1", None], "seed": [-1, 1.5]}),
    Spec("sgdlab.train.mlp", lambda **k: mlp(**k), {"widths": [4, 8, 3], "seed": 0},
         {"widths": [[4], [4, 0], [4, -1, 3], [4.5, 3], [], None]}),
    Spec("sgdlab.train.small_cnn", lambda **k: small_cnn(**k), {"channels": (2, 4), "hidden": 8, "seed": 0},
         {"channels": [(0, 4), (2,), (-1, 2)], "hidden": [0, -3, 2.5]}),
    Spec("sgdlab.train.losses.per_sample_loss", lambda **k: per_sample_loss(**k),
         {"name": "cross_entropy", "out": torch.zeros(4, 3), "y": torch.zeros(4, dtype=torch.long)},
         {"name": ["hinge"], "y": [torch.tensor([0, 1, 2, 3]), torch.zeros(3, dtype=torch.long)]},
         names={"name": "loss"}),
    Spec("sgdlab.train.train", _train, {},
         {"y_train": [np.r_[_RNG.integers(0, 3, 31), 7]], "batch_size": [64], "lr": [NAN, -0.1]},
         diverge=(st.fixed_dictionaries({"lr": st.floats(1e4, 1e8), "steps": st.integers(20, 40)}),
                  lambda r: r.diverged and math.isinf(r.final["train_loss"]))),
]


def test_bad_inputs_are_value_errors_naming_the_parameter():
    run_bad_inputs(SPECS)()


@pytest.mark.parametrize("spec", [s for s in SPECS if s.diverge], ids=lambda s: s.name)
def test_divergence_is_a_flag_and_inf(spec):
    run_divergence(spec, max_examples=5)()
