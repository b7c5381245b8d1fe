"""Part 2's full-scale experiment entries (p2_batch_sweep, p2_svag) at book scale, and their step-decay helper."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from sgdlab.experiments import get, is_fresh, load_results, names, run  # noqa: E402
from sgdlab.experiments import p2_batch_sweep, p2_svag  # noqa: E402
from sgdlab.experiments.p2_common import train_step_decay  # noqa: E402
from sgdlab.train import TrainConfig, mlp  # noqa: E402


def _quiet(*a, **k):
    pass


def test_full_configs_follow_the_issue_spec():
    assert {"p2_batch_sweep", "p2_svag"} <= set(names())
    sweep = get("p2_batch_sweep").config("full")
    # sized for the suite's GPU budget: ResNet-14, small to large batches, per-optimiser grids
    assert sweep["batch_sizes"][0] <= 128 and sweep["batch_sizes"][-1] == 4096 and sweep["momentum"] == 0.9
    assert sweep["lrs"]["sgd"] != sweep["lrs"]["sgdm"] and sweep["blocks"] == [2, 2, 2]
    pts = get("p2_batch_sweep").points("full")
    assert len(pts) == len(sweep["batch_sizes"]) * (len(sweep["lrs"]["sgd"]) + len(sweep["lrs"]["sgdm"]))
    svag = get("p2_svag").config("full")
    assert svag["svag_ls"][0] == 1 and svag["svag_ls"][-1] >= 8 and svag["batch_size"] == 512 and svag["momentum"] == 0.9
    assert svag["lr"] == 0.2 and svag["milestone_epochs"] == [svag["epochs"] // 2, 3 * svag["epochs"] // 4]
    assert svag["decay"] == 0.1
    assert svag["n_train"] is None  # the whole of Fashion-MNIST


@pytest.mark.parametrize("name,module", [("p2_batch_sweep", p2_batch_sweep), ("p2_svag", p2_svag)])
def test_book_scale_runs_into_the_data_folder_from_the_environment(name, module, tmp_path, monkeypatch):
    monkeypatch.setenv("SGDLAB_DATA_OUT", str(tmp_path))
    out = run(name, scale="book", device="cpu", progress=False, log=_quiet)
    assert out["complete"] and out["results"].startswith(str(tmp_path))
    assert load_results(name, "book") is not None and is_fresh(name, "book")[0]
    assert load_results(name, "full") is None  # nothing at full scale in the temporary folder
    res = load_results(name, "book")
    for p in res["points"]:
        r = p["result"]
        assert r["step"][0] == 0 and r["step"][-1] == r["steps"] and all(m in r["step"] for m in r["milestones"])
    fig, ax = plt.subplots()
    module.plot_summary(res, ax)
    assert ax.get_lines()
    plt.close(fig)


def test_batch_sweep_summary_picks_the_best_lr_per_optimiser():
    cfg = {"batch_sizes": [8], "lrs": {"sgd": [0.1, 0.2], "sgdm": [0.1]}}
    r = lambda accs, div=False: {"test_acc": [[0.0, a] for a in accs], "train_loss": [[1.0, 0.5]] * len(accs),  # noqa: E731
                                 "diverged": [div] * len(accs)}
    pairs = [({"batch_size": 8, "optimizer": "sgd", "lr": 0.1}, r([0.5, 0.7])),
             ({"batch_size": 8, "optimizer": "sgd", "lr": 0.2}, r([0.8, 0.8])),
             ({"batch_size": 8, "optimizer": "sgdm", "lr": 0.1}, r([0.9, 0.9]))]
    s = p2_batch_sweep.summarize(cfg, pairs)
    sgd = next(b for b in s["best"] if b["optimizer"] == "sgd")
    assert sgd["lr"] == 0.2 and sgd["test_acc_mean"] == pytest.approx(0.8) and sgd["lr_grid_edge"]
    assert s["gap_sgdm_minus_sgd"][0]["gap"] == pytest.approx(0.1)


def _tiny_data():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 5))
    return {"x_train": x, "y_train": (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)}


def _make(s):
    return mlp([5, 6, 3], "tanh", seed=s, dtype=torch.float64)


def test_step_decay_of_full_batch_gd_matches_a_hand_schedule():
    data = _tiny_data()
    cfg = TrainConfig(optimizer="gd", lr=0.5, steps=12, batch_size=None, eval_every=4)
    h = train_step_decay(_make, data, cfg, seeds=[0, 3], lrs=[0.5, 0.3], momenta=[0.0, 0.0], milestones=[5, 9],
                         factor=0.1)
    np.testing.assert_array_equal(h["step"], [0, 4, 5, 8, 9, 12])
    x, y = torch.tensor(data["x_train"]), torch.tensor(data["y_train"])
    for i, (seed, lr) in enumerate(((0, 0.5), (3, 0.3))):
        model = _make(seed)
        for k in range(12):
            rate = lr * 0.1 ** ((k >= 5) + (k >= 9))
            model.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= rate * p.grad
        with torch.no_grad():
            ref = float(torch.nn.functional.cross_entropy(model(x), y))
        assert h["train_loss"][-1, i] == pytest.approx(ref, rel=1e-10)
    assert not h["diverged"].any() and (h["diverged_at"] == -1).all()


def test_step_decay_without_milestones_is_one_ensemble_run():
    from sgdlab.train import train_ensemble

    data = _tiny_data()
    cfg = TrainConfig(optimizer="sgdm_normalized", lr=0.2, momentum=0.9, steps=10, batch_size=4, eval_every=5)
    h = train_step_decay(_make, data, cfg, seeds=[1, 1], lrs=[0.2, 0.2], momenta=[0.0, 0.9])
    ref = train_ensemble(_make, data, cfg, seeds=[1, 1], lrs=[0.2, 0.2], momenta=[0.0, 0.9])
    np.testing.assert_allclose(h["train_loss"], ref.history["train_loss"], rtol=1e-12)
    np.testing.assert_allclose(h["epoch"], np.array([0, 5, 10]) * 4 / 40)


def test_a_diverged_member_stays_diverged_after_a_milestone():
    data = _tiny_data()
    cfg = TrainConfig(optimizer="sgd", lr=0.1, steps=20, batch_size=4, eval_every=10)
    h = train_step_decay(_make, data, cfg, seeds=[0, 0], lrs=[0.1, 1e300], momenta=[0.0, 0.0], milestones=[10])
    assert h["diverged"].tolist() == [False, True] and 0 <= h["diverged_at"][1] <= 10
    assert np.isinf(h["train_loss"][-1, 1]) and np.isnan(h["test_acc"][-1, 1])
    assert np.isfinite(h["train_loss"][:, 0]).all()


@pytest.mark.parametrize("kw,name", [({"milestones": [0]}, "milestones"), ({"milestones": [5, 5]}, "milestones"),
                                     ({"milestones": [10]}, "milestones"), ({"factor": 0.0}, "factor")])
def test_step_decay_input_errors_name_the_parameter(kw, name):
    cfg = TrainConfig(optimizer="sgd", lr=0.1, steps=10, batch_size=4)
    with pytest.raises(ValueError, match=name):
        train_step_decay(_make, _tiny_data(), cfg, seeds=[0], lrs=[0.1], momenta=[0.0], **kw)
