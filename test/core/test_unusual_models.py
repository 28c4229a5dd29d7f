"""Models off the beaten path: the chain is followed exactly, or refused or warned about with a
clear message, never silently wrong."""
from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from test_visualbackprop import reference_vbp
from vbp_ros import ModelError, VisualBackProp


@pytest.mark.parametrize('config, bias', [
    # VGG16 with He initialisation: with plain channel sums the unnormalised mask passed
    # float32's maximum (1e39) and came out NaN.
    ([64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512], True),
    # VGG19 without biases: with channel means in float32 it fell below float32's minimum and
    # came out all zeros.
    ([64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512,
      512, 512], False),
])
def test_deep_vgg_like_nets_stay_in_range(config: list, bias: bool, cpu_path: str) -> None:
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    stages: list[tuple[nn.Module, nn.Module | None]] = []
    width = 3
    for v in config:
        if v == 'M':
            stages.append((nn.MaxPool2d(2), None))
            layers.append(stages[-1][0])
            continue
        conv, relu = nn.Conv2d(width, int(v), 3, padding=1, bias=bias), nn.ReLU()
        if bias:
            nn.init.kaiming_normal_(conv.weight, nonlinearity='relu')
            nn.init.zeros_(conv.bias)
        layers += [conv, relu]
        stages.append((conv, relu))
        width = int(v)
    net = nn.Sequential(*layers).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        _, mask = VisualBackProp(net)(x)
        want = reference_vbp(x, stages)
    assert torch.isfinite(mask).all() and float(mask.max()) == pytest.approx(1.0)
    assert torch.allclose(mask, want, atol=1e-5)


@pytest.mark.filterwarnings('error::RuntimeWarning')  # the float32 try is silent
@pytest.mark.parametrize('scale', [65535.0, 2e-6])  # raw 16-bit depth; a tiny input
@pytest.mark.parametrize('batch', [1, 2])
def test_extreme_input_scales_stay_in_range(scale: float, batch: int, cpu_path: str) -> None:
    # 8 convs: float32 first, where 65535-scaled inputs gave NaN and 2e-6 a mask of max 0.03.
    torch.manual_seed(0)
    stages: list[tuple[nn.Module, nn.Module | None]] = []
    width = 1
    for v in [32, 32, 'M', 64, 64, 'M', 64, 64, 'M', 64, 64]:
        if v == 'M':
            stages.append((nn.MaxPool2d(2), None))
            continue
        conv = nn.Conv2d(width, int(v), 3, padding=1, bias=scale > 1)  # no bias to lift it
        nn.init.kaiming_normal_(conv.weight, nonlinearity='relu')
        stages.append((conv, nn.ReLU()))
        width = int(v)
    net = nn.Sequential(*[m for stage in stages for m in stage if m is not None]).eval()
    x = torch.rand(batch, 1, 48, 64) * scale
    with torch.no_grad():
        _, mask = VisualBackProp(net)(x)
    want = reference_vbp(x, stages)
    assert torch.isfinite(mask).all()
    assert mask.amax((1, 2)).tolist() == pytest.approx([1.0] * batch)
    assert torch.allclose(mask, want, atol=1e-5)


def test_batchnorm_in_a_training_head_needs_two_samples() -> None:
    net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 16),
                        nn.BatchNorm1d(16), nn.Linear(16, 1)).train()
    out, mask = VisualBackProp(net)(torch.randn(8, 3, 21, 21))
    assert out.shape == (8, 1) and mask.shape == (8, 21, 21)


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv, self.act = nn.Conv2d(cin, cout, 3), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


def test_sequential_of_custom_blocks() -> None:
    net = nn.Sequential(_Block(3, 4), _Block(4, 4), nn.Flatten()).eval()
    x = torch.randn(2, 3, 17, 17)
    with torch.no_grad():
        _, mask = VisualBackProp(net)(x)
        want = reference_vbp(x, [(net[0].conv, nn.ReLU()), (net[1].conv, nn.ReLU())])
    assert torch.allclose(mask, want, atol=1e-5)


def test_conv_reused_in_a_sequential() -> None:
    torch.manual_seed(0)
    c1, c2 = nn.Conv2d(3, 4, 3, 2), nn.Conv2d(4, 4, 3, padding=1)
    net = nn.Sequential(c1, nn.ReLU(), c2, nn.ReLU(), c2, nn.ReLU()).eval()
    x = torch.randn(2, 3, 17, 17)
    with torch.no_grad():
        _, mask = VisualBackProp(net)(x)
        want = reference_vbp(x, [(c1, nn.ReLU()), (c2, nn.ReLU()), (c2, nn.ReLU())])
    assert torch.allclose(mask, want, atol=1e-5)


def test_later_changes_to_a_sequential_are_honoured() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten()).eval()
    vbp = VisualBackProp(net)
    x = torch.randn(1, 3, 9, 9)
    vbp(x)
    net.register_forward_hook(lambda module, args, out: out * 0 + 7)
    assert (vbp(x)[0] == 7).all()
    net.append(nn.Linear(4 * 7 * 7, 1))
    assert vbp(x)[0].shape == (1, 1)
    assert not net[0]._forward_hooks and not net[0]._forward_pre_hooks


class _Inception(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c0, self.a, self.b = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 1), nn.Conv2d(4, 4, 1)
        self.c2 = nn.Conv2d(4, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.c0(x))
        x = torch.relu(self.a(x)) + torch.relu(self.b(x))
        return torch.relu(self.c2(x))


def test_parallel_branches_of_equal_shape_are_refused() -> None:
    x = torch.randn(1, 3, 16, 16)
    with pytest.raises(ModelError, match="'a' and 'b' read the same tensor: parallel branches"):
        VisualBackProp(_Inception())(x)
    _, mask = VisualBackProp(_Inception(), layers=['c0', 'a', 'c2'])(x)  # one branch
    assert mask.shape == (1, 16, 16)


class _PatchTokens(nn.Module):
    """A conv stem followed by tokens (N×HW×C), as in vision transformers."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(3, 4, 3, 2), nn.Conv2d(4, 6, 2, 2)
        self.norm, self.head = nn.LayerNorm(6), nn.Linear(6, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.c2(torch.relu(self.c1(x)))
        return self.head(self.norm(x.flatten(2).transpose(1, 2))).mean(1)


def test_tokens_after_the_last_conv_are_not_read_as_its_map() -> None:
    net, x = _PatchTokens().eval(), torch.randn(2, 3, 17, 17)
    with torch.no_grad():
        _, mask = VisualBackProp(net)(x)
        want = reference_vbp(x, [(net.c1, nn.ReLU()), (net.c2, None)])
    assert torch.allclose(mask, want, atol=1e-5)


@pytest.mark.parametrize('wrap', ['weight_norm', 'spectral_norm'])
def test_parametrized_convs_are_found(wrap: str) -> None:
    parametrize = getattr(nn.utils.parametrizations, wrap)
    net = nn.Sequential(parametrize(nn.Conv2d(3, 4, 3)), nn.ReLU(),
                        parametrize(nn.Conv2d(4, 4, 3, 2)), nn.ReLU()).eval()
    x = torch.randn(1, 3, 15, 15)
    vbp = VisualBackProp(net)
    assert vbp.layer_names(x) == ['0', '2']
    with torch.no_grad():
        _, mask = vbp(x)
        want = reference_vbp(x, [(net[0], nn.ReLU()), (net[2], nn.ReLU())])
    assert torch.allclose(mask, want, atol=1e-5)


def test_pooling_before_the_activation_is_warned_about(caplog: pytest.LogCaptureFixture
                                                      ) -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.MaxPool2d(2), nn.ReLU(), nn.Conv2d(4, 4, 3),
                        nn.ReLU()).eval()
    with caplog.at_level(logging.WARNING):
        VisualBackProp(net)(torch.randn(1, 3, 16, 16))
    assert "conv layer '0': its map is read before any activation" in caplog.text
    caplog.clear()
    functional = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2),
                               nn.Conv2d(4, 4, 3), nn.ReLU()).eval()
    with caplog.at_level(logging.WARNING):
        VisualBackProp(functional)(torch.randn(1, 3, 16, 16))
    assert 'before any activation' not in caplog.text


def test_lazy_batchnorm_statistics_are_updated_once() -> None:
    torch.manual_seed(0)
    make = lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.LazyBatchNorm2d(), nn.ReLU()).train()
    plain, explained = make(), make()
    explained.load_state_dict(plain.state_dict())
    x = torch.randn(4, 3, 12, 12)
    plain(x)
    VisualBackProp(explained)(x)
    assert torch.allclose(plain[1].running_mean, explained[1].running_mean)
    assert int(explained[1].num_batches_tracked) == 1


def test_layers_can_be_named_by_module() -> None:
    x = torch.randn(1, 3, 16, 16)
    net = _Inception()
    by_module = VisualBackProp(net, layers=[net.c0, net.a, net.c2])
    assert by_module.layer_names(x) == ['c0', 'a', 'c2']
    with pytest.raises(ModelError, match='is not a module of the model'):
        VisualBackProp(net, layers=[nn.Conv2d(3, 4, 3)])
    conv = nn.Conv2d(3, 4, 3)  # the model is the layer itself
    assert VisualBackProp(conv, layers=[conv])(x)[1].shape == (1, 16, 16)


@pytest.mark.parametrize('pad', [nn.ReflectionPad2d, nn.ZeroPad2d, nn.ReplicationPad2d])
def test_padding_layers_between_convs(pad: type) -> None:
    # A padding layer before an unpadded conv is that conv with padding: mapped back by a crop.
    torch.manual_seed(0)
    c1, c2 = nn.Conv2d(3, 4, 3, stride=2), nn.Conv2d(4, 4, 3)
    net = nn.Sequential(c1, nn.ReLU(), pad((2, 1, 1, 2)), c2, nn.ReLU()).eval()
    x = torch.randn(2, 3, 21, 23)
    with torch.no_grad():
        _, mask = VisualBackProp(net)(x)
        # The same maps from an explicitly padded input; the crop is checked against the
        # all-ones transposed convolution of the reference on the padded map.
        a1 = torch.relu(c1(x))
        a2 = torch.relu(c2(net[2](a1)))
        up2 = torch.nn.functional.conv_transpose2d(a2.mean(1, keepdim=True).double(),
                                                   torch.ones(1, 1, 3, 3, dtype=torch.float64))
        up2 = up2[:, :, 1:1 + a1.shape[2], 2:2 + a1.shape[3]]  # crop the padding (top 1, left 2)
        m1 = up2 * a1.mean(1, keepdim=True).double()
        full = torch.nn.functional.conv_transpose2d(m1, torch.ones(1, 1, 3, 3,
                                                                   dtype=torch.float64),
                                                    stride=2, output_padding=(0, 0))
        full = torch.nn.functional.pad(full, (0, 23 - full.shape[3], 0, 21 - full.shape[2]))[:, 0]
        lo = full.flatten(1).min(1)[0][:, None, None]
        hi = full.flatten(1).max(1)[0][:, None, None]
        want = ((full - lo) / (hi - lo)).float()
    assert torch.allclose(mask, want, atol=1e-5)


class _InPlaceResidual(nn.Module):
    """``y += relu(c2(y))``: c2 and c3 read one tensor object, changed in between."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3, padding=1)
        self.c3 = nn.Conv2d(4, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.c1(x))
        y += torch.relu(self.c2(y))
        return torch.relu(self.c3(y))


class _PooledBranch(nn.Module):
    """Two paths from one tensor, the second through a pooling layer first."""

    def __init__(self) -> None:
        super().__init__()
        self.c0, self.ca, self.cb = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 1), nn.Conv2d(4, 4, 1)
        self.pool, self.cc = nn.MaxPool2d(3, 1, 1), nn.Conv2d(4, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.c0(x))
        x = torch.relu(self.ca(x)) + torch.relu(self.cb(self.pool(x)))
        return torch.relu(self.cc(x))


@pytest.mark.parametrize('inference', [False, True])
def test_in_place_residual_is_a_chain_and_pooled_branch_is_not(inference: bool) -> None:
    x = torch.randn(1, 3, 16, 16)
    with torch.inference_mode(inference):
        _, mask = VisualBackProp(_InPlaceResidual().eval())(x)
        assert mask.shape == (1, 16, 16)
        with pytest.raises(ModelError, match="'ca' and 'pool' read the same tensor"):
            VisualBackProp(_PooledBranch())(x)


def test_a_forward_that_changes_with_the_batch_size_is_a_clear_error() -> None:
    class BatchDependent(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Conv2d(3, 4, 3), nn.Conv2d(3, 4, 5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.a(x) if x.shape[0] <= 2 else self.b(x)[..., 1:-1, 1:-1])

    with pytest.raises(ModelError, match=r"did not run \['a'\]"):
        VisualBackProp(BatchDependent())(torch.randn(4, 3, 12, 12))


def test_shared_pooling_and_empty_batches() -> None:
    pool = nn.MaxPool2d(2)
    c1, c2, c3 = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3), nn.Conv2d(4, 4, 3)
    net = nn.Sequential(c1, nn.ReLU(), pool, c2, nn.ReLU(), pool, c3, nn.ReLU()).eval()
    x = torch.randn(1, 3, 30, 30)
    with torch.no_grad():
        _, mask = VisualBackProp(net)(x)
        want = reference_vbp(x, [(c1, nn.ReLU()), (pool, None), (c2, nn.ReLU()), (pool, None),
                                 (c3, nn.ReLU())])
    assert torch.allclose(mask, want, atol=1e-5)
    from vbp_ros import InputError
    with pytest.raises(InputError, match='empty batch'):
        VisualBackProp(net)(torch.zeros(0, 3, 30, 30))


class _ProjectionShortcut(nn.Module):
    """A residual block whose shortcut is a 1x1 conv of the block's input."""

    def __init__(self) -> None:
        super().__init__()
        self.c0, self.c1 = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3, padding=1)
        self.c2, self.sc = nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.c0(x))
        return torch.relu(self.c2(torch.relu(self.c1(x))) + self.sc(x))


def test_a_projection_shortcut_is_a_branch() -> None:
    with pytest.raises(ModelError, match="'c1' and 'sc' read the same tensor"):
        VisualBackProp(_ProjectionShortcut())(torch.randn(1, 3, 16, 16))
    named = VisualBackProp(_ProjectionShortcut(), layers=['c0', 'c1', 'c2'])
    assert named(torch.randn(1, 3, 16, 16))[1].shape == (1, 16, 16)


@pytest.mark.parametrize('between', [nn.Identity, lambda: nn.Dropout2d(0.3),
                                     lambda: nn.Dropout(0.2)])
@pytest.mark.parametrize('training', [False, True])
def test_layers_that_hand_their_input_on_are_no_branch(between, training: bool) -> None:
    # Identity (and Dropout in eval) return the very tensor the next conv reads.
    torch.manual_seed(0)
    c1, c2 = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3)
    net = nn.Sequential(between(), c1, nn.ReLU(), between(), c2, nn.ReLU()).train(training)
    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        _, mask = VisualBackProp(net)(x)
        want = reference_vbp(x, [(c1, nn.ReLU()), (c2, nn.ReLU())])
    if not training:  # (training: dropout makes the reference differ)
        assert torch.allclose(mask, want, atol=1e-5)
    assert mask.shape == (2, 12, 12)


class _BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock, with a projection shortcut when it downsamples."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.relu = nn.ReLU()
        self.downsample = (nn.Conv2d(cin, cout, 1, stride, bias=False) if stride != 1
                           else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.relu(self.conv1(x)))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


def test_named_main_path_of_a_resnet_is_followed() -> None:
    # The 1x1 shortcut conv has the shapes of the main path's last conv; the main path (the
    # longest chain of layers) is the one to map back through.
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), _BasicBlock(8, 8, 1),
                        _BasicBlock(8, 16, 2), _BasicBlock(16, 16, 1)).eval()
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(ModelError, match="'3.conv1' and '3.downsample' read the same tensor"):
        VisualBackProp(net)(x)
    names = ['0', '2.conv1', '2.conv2', '3.conv1', '3.conv2', '4.conv1', '4.conv2']
    _, mask = VisualBackProp(net, layers=names)(x)
    assert mask.shape == (1, 16, 16) and torch.isfinite(mask).all()
    # Skipping the block that downsamples: the map of 4.conv2 (8x8) is traced back through
    # 3.conv1 (stride 2) and 3.conv2 (and 4.conv1), not through the 1x1 shortcut.
    vbp = VisualBackProp(net, layers=['2.conv2', '4.conv2'])
    plan = vbp._plan(x)
    a_h, _ = plan._upsample[1]
    assert a_h.shape == (16, 8)
    # Row 3 of the 8x8 map reaches rows 2*(3-3)-1 .. 2*(3+3)+1 of the 16x16 one through three
    # 3x3 convs after the stride-2 one (14 rows once clipped); the shortcut would give 5.
    assert int((a_h[:, 3] != 0).sum()) == 14


def test_a_batchnorm_after_the_activation_is_not_in_the_map() -> None:
    # conv -> ReLU -> BN: the paper's map is the ReLU's output, not the shifted BN output.
    torch.manual_seed(0)
    c1, c2 = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 5, 3)
    bn = nn.BatchNorm2d(4).eval()
    with torch.no_grad():
        bn.bias.fill_(-2.0)
        bn.weight.uniform_(0.5, 2.0)
        bn.running_mean.uniform_(-1.0, 1.0)
    net = nn.Sequential(c1, nn.ReLU(), bn, c2, nn.ReLU()).eval()
    # The same ReLU outputs from a net with the BN folded into the next (unpadded) conv.
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias - bn.running_mean * scale
    folded = nn.Conv2d(4, 5, 3)
    with torch.no_grad():
        folded.weight.copy_(c2.weight * scale.view(1, -1, 1, 1))
        folded.bias.copy_(c2.bias + (c2.weight.sum((2, 3)) * shift).sum(1))
    x = torch.rand(2, 3, 20, 20)
    with torch.no_grad():
        assert torch.allclose(net(x), nn.Sequential(c1, nn.ReLU(), folded, nn.ReLU())(x),
                              atol=1e-5)
        _, mask = VisualBackProp(net)(x)
        want = reference_vbp(x, [(c1, nn.ReLU()), (folded, nn.ReLU())])
    assert torch.allclose(mask, want, atol=1e-5)


class _InPlaceFunctional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1, self.bn, self.c2 = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.leaky_relu_(self.bn(self.c1(x)), 0.1)
        return torch.relu(self.c2(x)).mean((2, 3))


def test_an_in_place_functional_activation_is_not_warned_about(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        VisualBackProp(_InPlaceFunctional().eval())(torch.randn(1, 3, 16, 16))
    assert "conv layer 'c1'" not in caplog.text


class _Swish(nn.Module):
    """x * sigmoid(x) written with a Sigmoid module: the module's output is a gate, not a map."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2, self.sig = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3), nn.Sigmoid()
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.c1(x)
        x = x * self.sig(x)
        x = self.c2(x)
        return self.pool(x * self.sig(x)).flatten(1)


def test_an_activation_module_used_as_a_gate_is_not_the_map() -> None:
    torch.manual_seed(0)
    net = _Swish().eval()
    x = torch.randn(2, 3, 16, 16)

    class Swish(nn.Module):
        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return t * torch.sigmoid(t)

    with torch.no_grad():
        _, mask = VisualBackProp(net)(x)
        want = reference_vbp(x, [(net.c1, Swish()), (net.c2, Swish())])
    assert torch.allclose(mask, want, atol=1e-5)


def test_a_dead_layer_s_zero_mask_is_not_redone(monkeypatch: pytest.MonkeyPatch) -> None:
    # An all-zero map makes a true zero mask: no float64 redo (it would double the cost of
    # every frame while, say, the camera is covered). The compiled chain has no redo.
    monkeypatch.setenv('VBP_ROS_NUMBA', '0')
    import vbp_ros.core.visualbackprop as vbp_module
    from vbp_ros import PilotNet
    net = PilotNet().eval()
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        convs[-1].bias.fill_(-1e3)
    chains = []
    real = vbp_module.upsample_chain
    monkeypatch.setattr(vbp_module, 'upsample_chain',
                        lambda *a, **k: chains.append(1) or real(*a, **k))
    before = torch.get_num_threads()
    try:
        for threads, batch in ((1, 1), (1, 2), (before, 1)):
            torch.set_num_threads(threads)
            chains.clear()
            _, mask = VisualBackProp(net)(torch.rand(batch, 3, 66, 200))
            assert len(chains) == 1 and float(mask.abs().max()) == 0.0
    finally:
        torch.set_num_threads(before)


def test_the_compiled_chain_stays_in_float32_range_however_deep() -> None:
    # The arithmetic compile=True compiles, run as plain PyTorch: 24 convs of 512 channels
    # underflowed float32 when only each map was scaled.
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    width = 3
    for _ in range(24):
        conv = nn.Conv2d(width, 512, 3, padding=1)
        nn.init.kaiming_normal_(conv.weight, nonlinearity='relu')
        layers += [conv, nn.ReLU()]
        width = 512
    net = nn.Sequential(*layers).eval()
    x = torch.rand(1, 3, 12, 12)
    compiled = VisualBackProp(net, compile=True)
    with torch.no_grad():
        _, mask = compiled._compiled_body(x, compiled._plan(x))
        _, eager = VisualBackProp(net)(x)
    assert float(mask.max()) == pytest.approx(1.0)
    assert torch.allclose(mask, eager, atol=1e-5)
