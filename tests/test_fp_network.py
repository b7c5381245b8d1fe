"""Sharpness and escape of a network (sgdlab.experiments.p4_sharpness; chapter fokker_planck/05_networks)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sgdlab.experiments import p4_sharpness as p4
from sgdlab.experiments import registry
from sgdlab.train import mlp


def _toy(n=40, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    y = rng.integers(0, k, n)
    return {"x_train": x, "y_train": y, "x_test": x[:10], "y_test": y[:10]}


def test_fashion_data_is_average_pooled():
    full = p4.fashion_data(20, 5, pool=1, seed=3)
    pooled = p4.fashion_data(20, 5, pool=2, seed=3)
    assert full["x_train"].shape == (20, 784) and pooled["x_train"].shape == (20, 196)
    img = full["x_train"][0].reshape(28, 28)
    assert pooled["x_train"][0, 0] == pytest.approx(img[:2, :2].mean())
    assert pooled["x_train"][0, 15] == pytest.approx(img[2:4, 2:4].mean())
    np.testing.assert_array_equal(full["y_train"], pooled["y_train"])
    pooled["x_train"][:] = 0.0  # the cache hands out copies
    assert np.abs(p4.fashion_data(20, 5, pool=2, seed=3)["x_train"]).sum() > 0


def test_sharpness_matches_the_dense_hessian():
    d = _toy()
    net = mlp([5, 4, 3], seed=1, dtype=torch.float64)
    x, y = torch.as_tensor(d["x_train"]), torch.as_tensor(d["y_train"]).long()
    from sgdlab.hessian import hessian_operator

    H = hessian_operator(net, "mse", x, y).dense().numpy()
    ev = np.linalg.eigvalsh(0.5 * (H + H.T))
    s = p4.sharpness(net, d["x_train"], d["y_train"], loss="mse", n_probes=200, tol=1e-10, max_iter=200)
    assert s.lam_max == pytest.approx(ev[-1], rel=1e-8)
    assert abs(s.trace - np.trace(H)) < 4 * s.trace_se
    assert s.eigvec.shape == (H.shape[0],)
    assert np.isnan(p4.sharpness(net, x, y, n_probes=0).trace)


def test_sharpness_after_training_runs_time_over_lr_steps():
    d = _toy()
    net, res, sh = p4.sharpness_after_training(d, lr=0.05, batch_size=8, time=1.0, seed=0, widths=(5, 4, 3),
                                               n_probes=4)
    assert res.iterations == 20 and not res.diverged
    assert np.isfinite(sh.lam_max) and sh.lam_max > 0


def test_a_diverging_run_reports_infinite_sharpness():
    d = _toy()
    d["x_train"] = d["x_train"] * 100.0
    _, res, sh = p4.sharpness_after_training(d, lr=50.0, batch_size=8, time=500.0, seed=0, widths=(5, 4, 3))
    assert res.diverged and sh.lam_max == np.inf


def test_escape_steps_censors_at_the_horizon_and_detects_a_drop():
    d = _toy()
    net = mlp([5, 4, 3], seed=2, dtype=torch.float64)
    stay = p4.escape_steps(net, d, lr=1e-6, batch_size=4, fraction=0.5, every=5, horizon=20, seed=0)
    assert not stay.escaped and stay.steps == 20
    assert stay.steps_grid.tolist() == [0, 5, 10, 15, 20] and stay.lam_path.shape == (5,)
    assert np.allclose(stay.lam_path, stay.lam_start, rtol=1e-3)
    # a huge fraction close to 1 and a real learning rate: the first noticeable drop counts
    leave = p4.escape_steps(net, d, lr=0.5, batch_size=4, fraction=0.999, every=5, horizon=200, seed=0)
    assert leave.escaped and leave.steps == leave.steps_grid[-1] and leave.lam_path[-1] < 0.999 * leave.lam_start
    w0 = [p.detach().clone() for p in net.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(w0, net.parameters()))  # the input model is untouched


@pytest.mark.parametrize("kw, name", [
    ({"fraction": 1.0}, "fraction"), ({"every": 0}, "every"), ({"horizon": 25, "every": 10}, "horizon"),
    ({"lr": -1.0}, "lr"), ({"batch_size": 0}, "batch_size"),
])
def test_escape_steps_validates_its_inputs(kw, name):
    d = _toy()
    net = mlp([5, 4, 3], seed=2, dtype=torch.float64)
    args = dict(lr=0.1, batch_size=4)
    args.update(kw)
    with pytest.raises(ValueError, match=name):
        p4.escape_steps(net, d, **args)


def test_fashion_data_rejects_a_bad_pool():
    with pytest.raises(ValueError, match="pool"):
        p4.fashion_data(10, 10, pool=3)


def test_the_sweep_is_registered_at_both_scales():
    exp = registry.get("p4_sharpness")
    for scale in ("book", "full"):
        cfg = exp.config(scale)
        assert len(exp.points(scale)) == len(cfg["seeds"]) >= 2   # the full sweep was cut to 2 seeds for its GPU budget
        assert cfg["escape_from"] in cfg["batch_sizes"]
        assert cfg["horizon"] % cfg["every"] == 0
    assert "lib/sgdlab/hessian/lanczos.py" in exp.input_files()
