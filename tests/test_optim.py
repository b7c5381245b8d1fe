import pytest
import torch

from sgdlab.train import NormalizedSGDM, effective_lr, pytorch_lr


def _train(make_opt, device, steps=50):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 1)).double().to(device)
    x = torch.randn(64, 5, dtype=torch.float64, device=device)
    y = torch.randn(64, 1, dtype=torch.float64, device=device)
    opt = make_opt(model.parameters())
    for t in range(steps):
        idx = torch.arange(t % 4 * 16, t % 4 * 16 + 16, device=device)
        opt.zero_grad()
        ((model(x[idx]) - y[idx]) ** 2).mean().backward()
        opt.step()
    return torch.cat([p.detach().ravel() for p in model.parameters()])


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
def test_normalized_sgdm_matches_torch_sgd_at_equal_effective_lr(device, beta):
    eta = 0.2
    a = _train(lambda p: torch.optim.SGD(p, lr=pytorch_lr(eta, beta), momentum=beta), device)
    b = _train(lambda p: NormalizedSGDM(p, effective_lr=eta, momentum=beta), device)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)  # float64


def test_negative_momentum_follows_the_pytorch_form_written_by_hand(device):
    # torch.optim.SGD rejects momentum < 0; part 1 needs it, so compare with v <- βv + g, θ <- θ - γv.
    beta, eta = -0.3, 0.2
    gamma = pytorch_lr(eta, beta)

    class HandSGDM(torch.optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {})

        @torch.no_grad()
        def step(self):
            for group in self.param_groups:
                for p in group["params"]:
                    v = self.state[p].setdefault("v", torch.zeros_like(p))
                    v.mul_(beta).add_(p.grad)
                    p.add_(v, alpha=-gamma)

    a = _train(HandSGDM, device)
    b = _train(lambda p: NormalizedSGDM(p, effective_lr=eta, momentum=beta), device)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)


def test_effective_lr_round_trip():
    assert effective_lr(0.01, 0.9) == pytest.approx(0.1)
    assert pytorch_lr(effective_lr(0.03, 0.7), 0.7) == pytest.approx(0.03)


@pytest.mark.parametrize("kw,name", [({"effective_lr": 0.0}, "effective_lr"), ({"effective_lr": -1}, "effective_lr"),
                                     ({"effective_lr": 0.1, "momentum": 1.0}, "momentum"),
                                     ({"effective_lr": 0.1, "momentum": -1.0}, "momentum")])
def test_bad_hyper_parameters_name_the_parameter(kw, name):
    with pytest.raises(ValueError, match=name):
        NormalizedSGDM([torch.zeros(1, requires_grad=True)], **kw)
