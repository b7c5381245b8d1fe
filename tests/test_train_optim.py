"""FunctionalOptimizer against torch.optim (float64), both SGDM forms, per-member rates, bad input."""
import pytest
import torch

from sgdlab.train import FunctionalOptimizer, pytorch_lr


def _problem(device, seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 1)).double().to(device)
    x = torch.randn(64, 5, dtype=torch.float64, device=device)
    y = torch.randn(64, 1, dtype=torch.float64, device=device)
    return model, x, y


def _run_torch(make, device, steps=30):
    model, x, y = _problem(device)
    opt = make(model.parameters())
    for t in range(steps):
        sl = slice(t % 4 * 16, t % 4 * 16 + 16)
        opt.zero_grad()
        ((model(x[sl]) - y[sl]) ** 2).mean().backward()
        opt.step()
    return torch.cat([p.detach().ravel() for p in model.parameters()])


def _run_functional(name, device, steps=30, **kw):
    model, x, y = _problem(device)
    params = list(model.parameters())
    opt = FunctionalOptimizer(name, params, **kw)
    for t in range(steps):
        sl = slice(t % 4 * 16, t % 4 * 16 + 16)
        g = torch.autograd.grad(((model(x[sl]) - y[sl]) ** 2).mean(), params)
        opt.step(g)
    return torch.cat([p.detach().ravel() for p in params])


@pytest.mark.parametrize("name,kw,make", [
    ("sgd", {"lr": 0.1}, lambda p: torch.optim.SGD(p, lr=0.1)),
    ("sgd", {"lr": 0.1, "weight_decay": 0.01}, lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.01)),
    ("sgdm", {"lr": 0.05, "momentum": 0.9}, lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    ("sgdm_normalized", {"lr": 0.5, "momentum": 0.9}, lambda p: torch.optim.SGD(p, lr=pytorch_lr(0.5, 0.9), momentum=0.9)),
    ("adam", {"lr": 0.01}, lambda p: torch.optim.Adam(p, lr=0.01)),
    ("adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}, lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-6)),
])
def test_functional_optimizers_match_torch_optim(device, name, kw, make):
    torch.testing.assert_close(_run_functional(name, device, **kw), _run_torch(make, device), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("beta", [-0.5, 0.0, 0.6, 0.95])
def test_the_two_sgdm_forms_give_identical_iterates(beta):
    eta = 0.3
    a = _run_functional("sgdm", "cpu", lr=pytorch_lr(eta, beta), momentum=beta)
    b = _run_functional("sgdm_normalized", "cpu", lr=eta, momentum=beta)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)


def test_per_member_rates_equal_separate_runs():
    # an "ensemble" of 3 copies of one quadratic, each with its own lr and momentum
    A = torch.diag(torch.tensor([1.0, 0.3, 0.05], dtype=torch.float64))
    lrs, moms = torch.tensor([0.1, 0.5, 1.0], dtype=torch.float64), torch.tensor([0.0, 0.5, 0.9], dtype=torch.float64)
    w = torch.ones(3, 3, dtype=torch.float64)
    opt = FunctionalOptimizer("sgdm", [w], lr=lrs, momentum=moms, ensemble=3)
    for _ in range(20):
        opt.step([w @ A])
    for i in range(3):
        v = torch.ones(3, dtype=torch.float64)
        o = FunctionalOptimizer("sgdm", [v], lr=float(lrs[i]), momentum=float(moms[i]))
        for _ in range(20):
            o.step([A @ v])
        torch.testing.assert_close(w[i], v, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("kw,name", [
    ({"name": "rmsprop", "lr": 0.1}, "optimizer"), ({"name": "sgd", "lr": 0.0}, "lr"), ({"name": "sgd", "lr": -1.0}, "lr"),
    ({"name": "sgdm", "lr": 0.1, "momentum": 1.0}, "momentum"), ({"name": "sgdm", "lr": 0.1, "momentum": -1.0}, "momentum"),
    ({"name": "sgd", "lr": 0.1, "momentum": 0.5}, "momentum"), ({"name": "adam", "lr": 0.1, "betas": (1.0, 0.9)}, "betas"),
    ({"name": "sgd", "lr": 0.1, "weight_decay": -1}, "weight_decay"),
])
def test_bad_optimizer_input_names_the_parameter(kw, name):
    with pytest.raises(ValueError, match=name):
        FunctionalOptimizer(params=[torch.zeros(2)], **kw)
