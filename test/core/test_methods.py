"""Every registered attribution method: same shapes as VisualBackProp, finite, model unchanged."""
from __future__ import annotations

import pytest
import torch

from vbp_ros import PilotNet
from vbp_ros.core.methods import METHODS


def test_all_baselines_registered() -> None:
    assert {'vbp', 'gradient', 'gradcam', 'lrp'} <= set(METHODS)


@pytest.mark.parametrize('name', sorted(METHODS))
@pytest.mark.parametrize('batch', [1, 3])
def test_shapes_ranges_and_output(name: str, batch: int) -> None:
    torch.manual_seed(0)
    net = PilotNet().eval()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(batch, 3, 66, 200)
    out, mask = METHODS[name](net)(x)
    assert out.shape == (batch, 1)
    assert torch.allclose(out, net(x), atol=1e-5)
    assert mask.shape == (batch, 66, 200) and mask.dtype == torch.float32
    assert torch.isfinite(mask).all() and mask.min() >= 0 and mask.max() <= 1
    assert not mask.requires_grad
    for k, v in net.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert all(not m._forward_hooks and not m._backward_hooks for m in net.modules())


def test_gradient_is_zero_where_input_cannot_matter() -> None:
    """PilotNet's valid convolutions never see the last column when (W - 5) is odd."""
    net = PilotNet().eval()
    x = torch.randn(1, 3, 66, 200)
    _, mask = METHODS['gradient'](net)(x)
    assert (mask[0, :, -1] == 0).all()  # 200 -> 98 with k=5, s=2 uses columns 0..198
    assert mask[0, :, :-1].max() == 1


@pytest.mark.parametrize('name', sorted(METHODS))
def test_methods_follow_later_weight_changes(name: str) -> None:
    torch.manual_seed(0)
    net, other = PilotNet().eval(), PilotNet().eval()
    method = METHODS[name](net)
    x = torch.randn(2, 3, 66, 200)
    method(x)
    net.load_state_dict(other.state_dict())  # e.g. the next training epoch
    out, _ = method(x)
    with torch.no_grad():
        assert torch.allclose(out, other(x), atol=1e-5)


def test_gradcam_explains_right_turns_too() -> None:
    # A net whose output is minus that of another: the masks must not depend on the sign.
    torch.manual_seed(0)
    net = PilotNet().eval()
    flipped = PilotNet().eval()
    flipped.load_state_dict(net.state_dict())
    with torch.no_grad():
        flipped[-1].weight.neg_()
        flipped[-1].bias.neg_()
    x = torch.randn(4, 3, 66, 200)
    out, mask = METHODS['gradcam'](net)(x)
    out_f, mask_f = METHODS['gradcam'](flipped)(x)
    assert torch.allclose(out_f, -out, atol=1e-6)
    assert torch.allclose(mask, mask_f, atol=1e-5)
    assert (mask.flatten(1).amax(1) > 0).all()


def test_lrp_follows_every_kind_of_weight_change() -> None:
    torch.manual_seed(0)
    net = PilotNet().eval()
    method = METHODS['lrp'](net)
    x = torch.randn(2, 3, 66, 200)
    method(x)
    with torch.no_grad():
        for p in net.parameters():
            p.data.mul_(1.5)             # a `.data` write: no new tensor version
    out, _ = method(x)
    with torch.no_grad():
        assert torch.allclose(out, net(x), atol=1e-5)
    net.double()
    out, mask = method(x.double())
    assert out.dtype == torch.float64 and mask.dtype == torch.float32


def test_lrp_uses_gamma_for_convs_and_epsilon_for_dense_layers() -> None:
    # With captum's default rule (ε = 1e-9 everywhere) it would equal gradient × input.
    from captum.attr._utils.lrp_rules import EpsilonRule, GammaRule
    from torch import nn
    torch.manual_seed(0)
    net = PilotNet().eval()
    method = METHODS['lrp'](net)
    method._attach_rules()
    rules = {type(m): type(m.rule) for m in method.copy.modules() if hasattr(m, 'rule')}
    assert rules == {nn.Conv2d: GammaRule, nn.Linear: EpsilonRule}
    assert not any(hasattr(m, 'rule') for m in net.modules())
    x = torch.randn(1, 3, 66, 200, requires_grad=True)
    net(x)[0, 0].backward()
    gxi = (x.grad * x).detach().sum(1).abs()[0]
    gxi = (gxi - gxi.min()) / (gxi.max() - gxi.min())
    first = method(x.detach())[1]
    second = method(x.detach())[1]  # captum drops the rules after each call
    assert torch.equal(first, second)
    assert (second[0] - gxi).abs().max() > 0.05


def test_gradcam_reads_the_rectified_maps() -> None:
    from vbp_ros.core.methods.base import last_conv_maps
    net = PilotNet()
    assert last_conv_maps(net) is net[9]  # the ReLU after the last conv
