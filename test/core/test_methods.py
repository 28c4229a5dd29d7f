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
