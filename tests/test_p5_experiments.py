"""Part 5's full-scale experiment entries (p5_batch_hessian_slq, p5_lr_scaling): book scale, oracles, errors."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from sgdlab._paths import DATA_DIR  # noqa: E402
from sgdlab.experiments import get, is_fresh, load_results, names, run  # noqa: E402
from sgdlab.experiments import p5_batch_hessian_slq as slqx  # noqa: E402
from sgdlab.experiments import p5_lr_scaling as lrx  # noqa: E402
from sgdlab.hessian import hessian_operator  # noqa: E402
from sgdlab.train import small_cnn  # noqa: E402


def _quiet(*a, **k):
    pass


def test_full_configs_follow_the_issue_spec():
    assert {"p5_batch_hessian_slq", "p5_lr_scaling"} <= set(names())
    s = get("p5_batch_hessian_slq").config("full")
    assert s["m"] >= 80 and s["draws"] >= 8 and s["n_train"] is None and s["dataset"] == "fashion"
    assert all(b & (b - 1) == 0 for b in s["batch_sizes"]) and len(s["batch_sizes"]) >= 8
    assert len(s["checkpoints"]) >= 3 and s["dtype"] == "float64"
    assert len(get("p5_batch_hessian_slq").points("full")) == len(s["checkpoints"])
    lr = get("p5_lr_scaling").config("full")
    assert all(b & (b - 1) == 0 for b in lr["batch_sizes"]) and lr["n_train"] is None and lr["seeds"] >= 2
    for opt in lrx.OPTIMIZERS:
        g = np.asarray(lr["lrs"][opt])
        assert np.all(np.diff(g) > 0) and g[-1] / g[0] > 1e3  # a wide, increasing grid
    assert lr["fit_max_batch"] in lr["batch_sizes"]
    assert len(get("p5_lr_scaling").points("full")) == 2 * len(lr["batch_sizes"])


@pytest.mark.parametrize("name", ["p5_batch_hessian_slq", "p5_lr_scaling"])
def test_book_scale_runs_into_the_data_folder_from_the_environment(name, tmp_path, monkeypatch):
    before = sorted(p.name for p in DATA_DIR.iterdir()) if DATA_DIR.is_dir() else []
    monkeypatch.setenv("SGDLAB_DATA_OUT", str(tmp_path))
    out = run(name, scale="book", device="cpu", progress=False, log=_quiet)
    assert out["complete"] and out["results"].startswith(str(tmp_path))
    assert is_fresh(name, "book")[0] and load_results(name, "full") is None
    res = load_results(name, "book")
    fig, axes = plt.subplots(1, 2)
    if name == "p5_batch_hessian_slq":
        rows = res["summary"]["checkpoints"]
        assert [r["epoch"] for r in rows] == res["config"]["checkpoints"]
        for r in rows:
            assert len(r["by_batch"]) == len(res["config"]["batch_sizes"])
        arr = slqx.load_arrays(res, 0)
        nb, nd = len(res["config"]["batch_sizes"]), res["config"]["draws"]
        assert arr["density_batch"].shape == (nb, nd, res["config"]["n_grid"])
        # each stored density integrates to 1 on its grid (the grid covers every node plus margins)
        dx = np.diff(arr["grid"])[0]
        np.testing.assert_allclose(arr["density_full"].sum() * dx, 1.0, atol=0.02)
        lam = np.asarray(res["points"][0]["result"]["lam_max"])
        assert lam.shape == (nb, nd)
        np.testing.assert_allclose(lam, np.nanmax(arr["nodes_batch"], axis=-1))
        slqx.plot_lambda_max(res, axes[0])
        slqx.plot_spectra(res, axes[1])
        assert axes[1].get_lines()
    else:
        for opt in lrx.OPTIMIZERS:
            assert [r["batch_size"] for r in res["summary"][opt]["by_batch"]] == res["config"]["batch_sizes"]
        lrx.plot_thresholds(res, axes[0])
    assert axes[0].get_lines()
    plt.close(fig)
    after = sorted(p.name for p in DATA_DIR.iterdir()) if DATA_DIR.is_dir() else []
    assert after == before  # nothing written to the repository's data/


def _tiny_cnn(dtype=torch.float64, device=None):
    return small_cnn(channels=(1, 1), hidden=2, seed=3, dtype=dtype, device=device)


def test_top_ritz_values_of_batch_hessians_match_dense_eigenvalues(device):
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((24, 784)), device=device)
    y = torch.tensor(rng.integers(0, 10, 24), device=device)
    model = _tiny_cnn(device=device)
    P = sum(p.numel() for p in model.parameters())
    spec = slqx.batch_hessian_spectra(model, x, y, batch_sizes=[3, 12], draws=2, m=P, seed=5)
    full = np.linalg.eigvalsh(hessian_operator(model, "cross_entropy", x, y).dense().cpu().numpy())
    assert spec["n_params"] == P
    assert spec["lam_max_full"] == pytest.approx(full[-1], rel=1e-8)
    assert spec["lam_min_full"] == pytest.approx(full[0], rel=1e-8, abs=1e-10)
    for i, b in enumerate([3, 12]):
        for d in range(2):
            idx = torch.tensor(np.sort(np.random.default_rng((5, b, d)).choice(24, b, replace=False)), device=device)
            h = hessian_operator(model, "cross_entropy", x[idx], y[idx]).dense().cpu().numpy()
            ev = np.linalg.eigvalsh(h)
            assert spec["lam_max"][i, d] == pytest.approx(ev[-1], rel=1e-8)
            assert spec["lam_min"][i, d] == pytest.approx(ev[0], rel=1e-8, abs=1e-10)
    # one probe: P × (first quadrature moment) is the Hutchinson sample zᵀHz with the probe z (‖z‖² = P)
    assert spec["trace_full_se"] is None and np.isfinite(spec["trace_full"])


def test_batch_hessians_are_unbiased_on_average_in_their_quadrature_trace():
    rng = np.random.default_rng(1)
    x, y = torch.tensor(rng.standard_normal((16, 784))), torch.tensor(rng.integers(0, 10, 16))
    model = _tiny_cnn()
    spec = slqx.batch_hessian_spectra(model, x, y, batch_sizes=[16], draws=1, m=8, n_probes_full=3, seed=0)
    # B = N: the batch Hessian is the full one, so their top Ritz values agree to Lanczos accuracy from any probe
    assert spec["lam_max"][0, 0] == pytest.approx(spec["lam_max_full"], rel=0.2)
    assert spec["trace_full_se"] is not None and spec["trace_full_se"] >= 0


@pytest.mark.parametrize("kw,name", [
    ({"batch_sizes": [32]}, "batch_sizes"), ({"batch_sizes": [0]}, "batch_sizes"), ({"draws": 0}, "draws"),
    ({"m": 0}, "m"), ({"seed": -1}, "seed"), ({"n_probes_full": 0}, "n_probes_full"),
])
def test_batch_hessian_spectra_input_errors_name_the_parameter(kw, name):
    x, y = torch.zeros((8, 784), dtype=torch.float64), torch.zeros(8, dtype=torch.long)
    args = {"batch_sizes": [2], "draws": 1, "m": 4, **kw}
    with pytest.raises(ValueError, match=name):
        slqx.batch_hessian_spectra(_tiny_cnn(), x, y, **args)


def test_train_to_epoch_rejects_a_negative_epoch():
    with pytest.raises(ValueError, match="epoch"):
        slqx.train_to_epoch(slqx.CONFIGS["book"], -1)


def _power_law_losses(lrs, lr_c):
    """Tail loss 0.3·(1 + (α/α_c)⁴): usable (≤ 2 × minimum) exactly up to α_c, log-linear excess in log α."""
    return 0.3 * (1 + (np.asarray(lrs)[:, None] / lr_c) ** 4) * np.ones((1, 2))


def test_thresholds_recover_the_usable_learning_rate_of_a_power_law_loss():
    lrs = np.concatenate([[1e-12], np.geomspace(1e-3, 10, 17)])
    for lr_c in (0.0123, 0.4, 3.3):
        th = lrx.thresholds(lrs, _power_law_losses(lrs, lr_c))
        assert th["lr_usable"] == pytest.approx(lr_c, rel=1e-9)
        assert not th["at_top"] and not th["none"] and th["stable_at_top"] and th["lr_best"] == lrs[0]


def test_thresholds_treat_a_diverged_seed_as_unusable_and_unstable():
    lrs = [0.1, 0.2, 0.4, 0.8]
    loss = np.array([[1.0, 1.0], [0.9, 0.95], [1.0, np.inf], [np.inf, np.inf]])
    th = lrx.thresholds(lrs, loss)
    assert th["lr_stable"] == 0.2 and not th["stable_at_top"]
    assert th["lr_usable"] == 0.2  # the next point diverged: no interpolation past it
    assert lrx.thresholds(lrs, np.full((4, 1), np.inf))["none"]
    top = lrx.thresholds(lrs, np.ones((4, 1)))
    assert top["at_top"] and top["lr_usable"] == 0.8


def test_summary_recovers_linear_and_square_root_scaling_below_the_fit_limit():
    cfg = {"fit_max_batch": 64, "usable_factor": 2.0}
    lrs = np.concatenate([[1e-12], np.geomspace(1e-4, 100, 25)])
    pairs = []
    for b in (8, 16, 32, 64, 128):
        for opt, lr_c in (("sgd", 1e-3 * b), ("adam", 1e-4 * np.sqrt(b))):
            if b == 128:  # above B*: saturates (must not enter the fit)
                lr_c = 1e-3 * 64 if opt == "sgd" else 1e-4 * 8
            pairs.append(({"optimizer": opt, "batch_size": b},
                          lrx.thresholds(lrs, _power_law_losses(lrs, lr_c), usable_factor=2.0)))
    s = lrx.summarize(cfg, pairs)
    assert s["sgd"]["fit"]["slope"] == pytest.approx(1.0, abs=1e-9)
    assert s["adam"]["fit"]["slope"] == pytest.approx(0.5, abs=1e-9)
    assert s["sgd"]["fit"]["batch_sizes"] == [8, 16, 32, 64]


def test_fit_slope_skips_edge_points_and_needs_two():
    f = lrx.fit_slope([1, 2, 4, 8], [1.0, 2.0, 4.0, 100.0], [True, True, True, False], max_batch=8)
    assert f["slope"] == pytest.approx(1.0) and f["n_points"] == 3
    assert np.isnan(lrx.fit_slope([1, 2], [1.0, 2.0], [True, False], max_batch=8)["slope"])


def test_tail_loss_averages_the_tail_and_marks_divergence():
    step = [0, 10, 75, 90, 100]
    loss = np.array([[2.0, 2.0], [1.0, 1.0], [0.5, 0.5], [0.3, np.nan], [0.1, 0.2]])
    out = lrx.tail_loss(loss, step, steps=100, tail_fraction=0.25)
    assert out[0] == pytest.approx(0.3) and np.isinf(out[1])
    with pytest.raises(ValueError, match="tail_fraction"):
        lrx.tail_loss(loss, step, steps=100, tail_fraction=0.0)
    with pytest.raises(ValueError, match="usable_factor"):
        lrx.thresholds([0.1, 0.2], [[1.0], [1.0]], usable_factor=1.0)
