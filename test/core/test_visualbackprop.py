"""VisualBackProp against an independent reference: the paper's procedure, layer by layer,
with real transposed convolutions (all-ones kernels) in float64."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
import torch.nn.functional as F

from vbp_ros import InputError, ModelError, PilotNet, VisualBackProp
from vbp_ros.core import box_upsample


def reference_vbp(x: torch.Tensor, stages: list[tuple[nn.Module, nn.Module | None]],
                  head: nn.Module | None = None) -> torch.Tensor:
    """The paper's VisualBackProp, written out by hand.

    ``stages`` lists, in forward order, spatial layers (Conv2d / pooling) each with the module
    that follows it up to its feature map (activation, BN...; None for pooling). Only conv
    layers contribute feature maps; every spatial layer contributes its transposed conv.
    """
    x = x.double()
    maps, geoms, sizes = [], [], []
    h = x
    for op, post in stages:
        sizes.append(h.shape[-2:])
        h = op.double()(h)
        if post is not None:
            h = post.double()(h)
        geoms.append(op)
        if isinstance(op, nn.Conv2d):
            maps.append((len(geoms), h.mean(1, keepdim=True)))
    mask = maps[-1][1]
    # Walk the spatial layers backwards; multiply when arriving at a conv layer's map.
    map_at = {n: m for n, m in maps}
    for i in range(len(geoms) - 1, -1, -1):
        op = geoms[i]
        k, s = _pair(op.kernel_size), _pair(op.stride)
        p = _pair(op.padding if op.padding != 'same' else 0)
        if op.padding == 'same':
            p = tuple((op.dilation[j] * (k[j] - 1)) // 2 for j in range(2))
        d = _pair(getattr(op, 'dilation', 1))
        target = sizes[i]
        base = [(mask.shape[-2 + j] - 1) * s[j] - 2 * p[j] + d[j] * (k[j] - 1) + 1
                for j in range(2)]
        out_pad = [int(target[j]) - base[j] for j in range(2)]
        kernel = torch.ones(1, 1, *k, dtype=torch.float64)
        mask = F.conv_transpose2d(mask, kernel, stride=s, padding=p, dilation=d,
                                  output_padding=out_pad)
        if i in map_at:
            mask = mask * map_at[i]
    mask = mask[:, 0]
    flat = mask.flatten(1)
    lo, hi = flat.min(1, keepdim=True)[0], flat.max(1, keepdim=True)[0]
    out = torch.where(hi > lo, (flat - lo) / (hi - lo).clamp_min(1e-300), torch.zeros_like(flat))
    return out.view_as(mask).float()


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _net_plain() -> tuple[nn.Module, list]:
    torch.manual_seed(1)
    c1, c2, c3 = nn.Conv2d(3, 6, 5, 2), nn.Conv2d(6, 7, 3, 2), nn.Conv2d(7, 5, 3)
    net = nn.Sequential(c1, nn.ReLU(), c2, nn.ReLU(), c3, nn.ReLU(), nn.Flatten())
    return net, [(c1, nn.ReLU()), (c2, nn.ReLU()), (c3, nn.ReLU())]


def _net_padding_bn_maxpool() -> tuple[nn.Module, list]:
    torch.manual_seed(2)
    c1, b1 = nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6)
    pool = nn.MaxPool2d(2)
    c2, b2 = nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8)
    c3 = nn.Conv2d(8, 4, 3, padding=2, dilation=2)
    for b in (b1, b2):
        b.running_mean.uniform_(-0.2, 0.2)
        b.running_var.uniform_(0.5, 2)
    act = nn.LeakyReLU(0.1)
    net = nn.Sequential(c1, b1, act, pool, c2, b2, act, c3, nn.ELU(), nn.Flatten(),
                        nn.LazyLinear(1)).eval()
    return net, [(c1, nn.Sequential(b1, act)), (pool, None), (c2, nn.Sequential(b2, act)),
                 (c3, nn.ELU())]


class _CustomForward(nn.Module):
    """Nested Sequentials, functional activations, BN before a conv, avg pooling, 1 channel."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.stem = nn.Sequential(nn.BatchNorm2d(1), nn.Conv2d(1, 5, 5, stride=2, padding=2))
        self.body = nn.Sequential(nn.Sequential(nn.AvgPool2d(3, stride=2, padding=1)),
                                  nn.Conv2d(5, 6, 3, padding='same'))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(6, 1)
        self.stem[0].running_mean.fill_(0.3)

    def forward(self, x):
        x = F.relu(self.stem(x))
        x = self.body[0](x)
        x = torch.relu(self.body[1](x))
        return self.head(self.pool(x).flatten(1))


def _net_custom() -> tuple[nn.Module, list]:
    net = _CustomForward().eval()

    class Relu(nn.Module):
        def forward(self, x):
            return F.relu(x)

    conv1 = nn.Sequential(net.stem[0], net.stem[1])
    # The reference treats BN+conv as the conv geometry of stem[1] (BN is pointwise).
    return net, [(_Chain(conv1, net.stem[1]), Relu()), (net.body[0][0], None),
                 (net.body[1], Relu())]


class _Chain(nn.Conv2d):
    """A conv whose forward runs a BN before it (for the reference only)."""

    def __init__(self, seq: nn.Sequential, conv: nn.Conv2d) -> None:
        nn.Module.__init__(self)
        self.seq = seq
        for a in ('kernel_size', 'stride', 'padding', 'dilation'):
            setattr(self, a, getattr(conv, a))

    def forward(self, x):
        return self.seq(x)

    def double(self):
        self.seq.double()
        return self


NETS = {'plain': (_net_plain, (3, 40, 52)),
        'padding_bn_maxpool': (_net_padding_bn_maxpool, (3, 37, 45)),
        'custom_forward': (_net_custom, (1, 33, 50))}


@pytest.fixture(params=['dense', 'banded'])
def upsampling(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of upsampling large maps: dense matrix products or strided slice-adds."""
    if request.param == 'banded':
        monkeypatch.setattr(box_upsample, 'BANDED_ABOVE', 0)
    return request.param


@pytest.mark.parametrize('name', sorted(NETS))
@pytest.mark.parametrize('batch', [1, 3])
def test_matches_reference(name: str, batch: int, cpu_path: str, upsampling: str) -> None:
    build, shape = NETS[name]
    net, stages = build()
    net.eval()
    x = torch.randn(batch, *shape)
    with torch.no_grad():
        net(x)  # materialise lazy layers
        expected = reference_vbp(x, stages)
        net.float()
        out, mask = VisualBackProp(net)(x)
        assert torch.allclose(out, net(x))
    assert mask.shape == (batch, *shape[1:])
    assert mask.dtype == torch.float32
    assert (mask.amin((1, 2)) == 0).all()
    assert torch.allclose(mask.amax((1, 2)), torch.ones(batch))
    assert torch.allclose(mask, expected, atol=1e-5), (mask - expected).abs().max()


def test_pilotnet_matches_reference(cpu_path: str, upsampling: str) -> None:
    torch.manual_seed(4)
    net = PilotNet().eval()
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    x = torch.randn(2, 3, 66, 200)
    with torch.no_grad():
        expected = reference_vbp(x, [(c, nn.ReLU()) for c in convs])
        net.float()
        _, mask = VisualBackProp(net)(x)
    assert torch.allclose(mask, expected, atol=1e-5)


def test_larger_input_same_conv_stack() -> None:
    net = PilotNet(in_size=(256, 455)).eval()
    _, mask = VisualBackProp(net)(torch.randn(1, 3, 256, 455))
    assert mask.shape == (1, 256, 455)


def test_mask_peaks_on_bright_square() -> None:
    """First-layer filter fires only on bright pixels; deeper layers pass positive evidence."""
    net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU(), nn.Conv2d(1, 2, 3, 2), nn.ReLU(),
                        nn.Conv2d(2, 2, 3), nn.ReLU(), nn.Flatten())
    with torch.no_grad():
        net[0].weight.fill_(1 / 9)
        net[0].bias.fill_(-0.5)  # ReLU(mean - 0.5): only the bright square survives
        for conv in (net[2], net[4]):
            conv.weight.fill_(0.1)
            conv.bias.fill_(0.01)
    x = torch.full((1, 1, 48, 64), 0.1)
    x[0, 0, 20:28, 36:44] = 1.0
    _, mask = VisualBackProp(net)(x)
    peak = divmod(int(mask[0].argmax()), 64)
    assert 20 <= peak[0] < 28 and 36 <= peak[1] < 44, peak
    inside = mask[0, 20:28, 36:44].mean()
    outside = mask[0].sum() - mask[0, 20:28, 36:44].sum()
    assert inside > 5 * outside / (48 * 64 - 64)


def test_batch_equals_singles(cpu_path: str) -> None:
    net = PilotNet().eval()
    vbp = VisualBackProp(net)
    x = torch.randn(5, 3, 66, 200)
    out, mask = vbp(x)
    for i in range(5):
        o, m = vbp(x[i:i + 1])
        assert torch.allclose(o, out[i:i + 1], atol=1e-6)
        assert torch.allclose(m, mask[i:i + 1], atol=1e-6)


@pytest.mark.parametrize('batch', [1, 2])
def test_constant_mask_is_zero_not_nan(batch: int, cpu_path: str) -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3), nn.ReLU())
    with torch.no_grad():
        for c in (net[0], net[2]):
            c.weight.zero_()
            c.bias.fill_(-1.0)  # all maps 0
    _, mask = VisualBackProp(net)(torch.randn(batch, 1, 16, 16))
    assert torch.isfinite(mask).all() and (mask == 0).all()


def test_intermediates() -> None:
    net = PilotNet().eval()
    res = VisualBackProp(net).explain(torch.randn(2, 3, 66, 200), intermediates=True)
    maps = [(31, 98), (14, 47), (5, 22), (3, 20), (1, 18)]
    assert [tuple(a.shape[1:]) for a in res.averaged] == maps
    assert [tuple(a.shape[1:]) for a in res.intermediate] == [(66, 200)] + maps[:-1]
    # averaged maps are channel means of post-ReLU maps: non-negative
    assert all((a >= 0).all() for a in res.averaged)


def test_training_mode_keeps_gradients_and_mask_has_none() -> None:
    net = PilotNet(dropout=0.5).train()
    x = torch.randn(4, 3, 66, 200)
    out, mask = VisualBackProp(net)(x)
    assert out.requires_grad and not mask.requires_grad
    out.sum().backward()
    assert net[0].weight.grad is not None


def test_explaining_a_training_step_changes_nothing_else() -> None:
    # VisualBackProp probes the model once per input shape. In training mode that probe must
    # not update BatchNorm statistics a second time nor draw dropout masks from the RNG.
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(0.5),
                        nn.Conv2d(8, 8, 3, stride=2), nn.ReLU(), nn.Flatten(),
                        nn.Linear(8 * 8 * 8, 1)).train()
    plain, explained = copy.deepcopy(net), copy.deepcopy(net)
    x = torch.randn(4, 3, 20, 20)
    vbp = VisualBackProp(explained)
    for step in range(2):  # the first call probes the model, the second reuses the plan
        torch.manual_seed(step)
        want, rng_after = plain(x), torch.rand(3)
        torch.manual_seed(step)
        got, _ = vbp(x)
        assert torch.equal(got, want) and torch.equal(torch.rand(3), rng_after)
        for k, v in plain.state_dict().items():
            assert torch.equal(explained.state_dict()[k], v), k


def test_hooks_removed_even_after_error() -> None:
    net = _CustomForward().eval()
    vbp = VisualBackProp(net)
    vbp(torch.randn(1, 1, 33, 50))

    def hooks():
        return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in net.modules())

    assert hooks() == 0
    with pytest.raises(InputError):
        vbp(torch.randn(1, 2, 33, 50))  # wrong channel count
    assert hooks() == 0


def test_input_not_mutated() -> None:
    net = PilotNet().eval()
    x = torch.randn(1, 3, 66, 200)
    x0 = x.clone()
    VisualBackProp(net)(x)
    assert torch.equal(x, x0)


@pytest.mark.parametrize('dtype', [torch.float64, torch.bfloat16, torch.float16])
def test_dtypes(dtype: torch.dtype) -> None:
    net = PilotNet().eval()
    x = torch.randn(2, 3, 66, 200)
    _, ref = VisualBackProp(net)(x)
    try:
        out, mask = VisualBackProp(net.to(dtype))(x.to(dtype))
    except RuntimeError as exc:  # a CPU build without half-precision convolutions
        pytest.skip(f'{dtype} convolution unsupported here: {exc}')
    assert out.dtype == dtype and mask.dtype == torch.float32
    tol = 1e-5 if dtype == torch.float64 else 0.1
    assert (mask - ref).abs().mean() < tol / 2
    assert torch.isfinite(mask).all()


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_autocast_keeps_the_chain_in_full_precision(dtype: torch.dtype) -> None:
    # Autocast would run the chain's matrix products in fp16/bf16, where a product of maps
    # overflows (here: NaN masks) and the float32 range check never sees it.
    net = PilotNet().eval()
    x = torch.randn(2, 3, 66, 200) * 300
    with torch.no_grad():
        _, ref = VisualBackProp(net)(x)
        try:
            with torch.autocast('cpu', dtype=dtype):
                _, mask = VisualBackProp(net)(x)
        except RuntimeError as exc:
            pytest.skip(f'{dtype} autocast unsupported here: {exc}')
    assert mask.dtype == torch.float32 and torch.isfinite(mask).all()
    assert (mask - ref).abs().max() < 0.02  # what the low-precision forward pass itself moves


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_matches_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    # TF32 convolutions (the default on Ampere and later) move masks by ~4e-4.
    monkeypatch.setattr(torch.backends.cudnn, 'allow_tf32', False)
    monkeypatch.setattr(torch.backends.cuda.matmul, 'allow_tf32', False)
    net = PilotNet().eval()
    x = torch.randn(2, 3, 66, 200)
    _, ref = VisualBackProp(net)(x)
    _, mask = VisualBackProp(net.cuda())(x.cuda())
    assert mask.device.type == 'cuda'
    assert torch.allclose(mask.cpu(), ref, atol=1e-4)
    with torch.autocast('cuda', dtype=torch.float16):
        _, half = VisualBackProp(net)(x.cuda())
    assert torch.isfinite(half).all() and (half.cpu() - ref).abs().max() < 0.02


def test_no_conv_layers_is_a_clear_error() -> None:
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(12, 1))
    with pytest.raises(ModelError, match='no nn.Conv2d'):
        VisualBackProp(mlp)(torch.randn(1, 3, 2, 2))


def test_wrong_input_shape() -> None:
    vbp = VisualBackProp(PilotNet())
    with pytest.raises(InputError, match='N×C×H×W'):
        vbp(torch.randn(3, 66, 200))
    with pytest.raises(InputError, match='rejects input'):
        vbp(torch.randn(1, 1, 66, 200))


class _Branchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 3, padding=1)
        self.c = nn.Conv2d(8, 4, 3)

    def forward(self, x):
        return self.c(torch.cat([F.relu(self.a(x)), F.relu(self.b(x))], 1))


def test_branching_model_names_the_layer() -> None:
    with pytest.raises(ModelError, match="'b'"):
        VisualBackProp(_Branchy())(torch.randn(1, 3, 16, 16))


def test_explicit_layers_follow_one_branch() -> None:
    net = _Branchy()
    _, mask = VisualBackProp(net, layers=['b', 'c'])(torch.randn(1, 3, 16, 16))
    assert mask.shape == (1, 16, 16)
    with pytest.raises(ModelError, match='nope'):
        VisualBackProp(net, layers=['nope'])(torch.randn(1, 3, 16, 16))


def test_unseen_functional_activation_warns(caplog: pytest.LogCaptureFixture) -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)

        def forward(self, x):
            return F.relu(self.conv(x)).mean((2, 3))

    with caplog.at_level('WARNING'):
        VisualBackProp(Net())(torch.randn(1, 1, 8, 8))
    assert "'conv'" in caplog.text and 'activation' in caplog.text


def test_layer_names() -> None:
    vbp = VisualBackProp(_CustomForward())
    assert vbp.layer_names(torch.randn(1, 1, 33, 50)) == ['stem.1', 'body.1']


@pytest.mark.parametrize('batch', [1, 2])
def test_channels_last_same_mask(batch: int, cpu_path: str) -> None:
    net = PilotNet().eval()
    x = torch.randn(batch, 3, 66, 200)
    out, mask = VisualBackProp(net)(x)
    net_cl = net.to(memory_format=torch.channels_last)
    out_cl, mask_cl = VisualBackProp(net_cl)(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(out, out_cl, atol=1e-5)
    assert torch.allclose(mask, mask_cl, atol=1e-5)


def test_on_output_comes_before_the_mask() -> None:
    net = PilotNet().eval()
    vbp = VisualBackProp(net)
    events: list = []
    combine = vbp._combine
    vbp._combine = lambda *a: (events.append('mask'), combine(*a))[1]
    x = torch.randn(2, 3, 66, 200)
    with torch.no_grad():
        res = vbp.explain(x, on_output=lambda out: events.append(out))
    assert len(events) == 2 and events[1] == 'mask'
    assert events[0] is res.output and torch.allclose(res.output, net(x))


def test_the_cpu_chain_is_compiled_where_numba_is(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip('numba')
    monkeypatch.delenv('VBP_ROS_NUMBA', raising=False)
    from vbp_ros.core import native_chain
    calls: list[tuple[str, int]] = []
    for name in ('mask', 'mask_of'):  # from the maps, or from the activations kept
        real = getattr(native_chain.NativeChain, name)
        monkeypatch.setattr(native_chain.NativeChain, name,
                            lambda self, maps, name=name, real=real:
                            calls.append((name, len(maps))) or real(self, maps))
    net = PilotNet().eval()
    x = torch.rand(2, 3, 66, 200)
    with torch.no_grad():
        _, mask = VisualBackProp(net)(x)
        assert calls == [('mask_of', 5)]  # one call for the five maps
        _, train_mask = VisualBackProp(net.train())(x)  # training: maps summed as it runs
        assert calls[1:] == [('mask', 5)]
        net.eval()
        VisualBackProp(net).explain(x, intermediates=True)  # these come from PyTorch
        assert len(calls) == 2
        monkeypatch.setenv('VBP_ROS_NUMBA', '0')
        _, without = VisualBackProp(net)(x)
    assert len(calls) == 2
    assert torch.allclose(mask, without, atol=1e-6) and torch.allclose(train_mask, without,
                                                                        atol=1e-6)


class _AddInPlace(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.add_(1.0)


def test_an_activation_changed_in_place_after_it_was_read(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    # With the compiled chain the traced forward keeps the activations and sums them after the
    # pass; one changed in place later is caught, the pass is run again with the sums taken
    # as it runs, and so are later calls.
    pytest.importorskip('numba')
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2), nn.ReLU(), _AddInPlace(),
                        nn.Conv2d(4, 4, 3), nn.ReLU()).eval()
    x = torch.rand(2, 1, 21, 25)
    with torch.no_grad():
        monkeypatch.setenv('VBP_ROS_NUMBA', '0')
        want_out, want = VisualBackProp(net)(x)
        monkeypatch.delenv('VBP_ROS_NUMBA')
        vbp = VisualBackProp(net)
        with caplog.at_level('WARNING', logger='vbp_ros.core.visualbackprop'):
            for _ in range(2):
                out, mask = vbp(x)
                assert torch.allclose(out, want_out) and torch.allclose(mask, want, atol=1e-6)
    assert sum('changed in place' in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize('late', [True, False])
def test_maps_summed_after_or_during_the_pass_agree(late: bool,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip('numba')
    monkeypatch.delenv('VBP_ROS_NUMBA', raising=False)
    import vbp_ros.core.visualbackprop as vbp_module
    if not late:  # more activations than the budget for keeping them
        monkeypatch.setattr(vbp_module, 'LATE_SUM_BYTES', 0)
    net = PilotNet().eval()
    x = torch.rand(3, 3, 66, 200)
    with torch.no_grad():
        _, mask = VisualBackProp(net)(x)
        monkeypatch.setenv('VBP_ROS_NUMBA', '0')
        _, want = VisualBackProp(net)(x)
    assert torch.allclose(mask, want, atol=1e-6)


def test_under_inference_mode_activations_are_kept_only_when_nothing_can_change_them(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    # Inference tensors have no version counter: a model with a module after the first map
    # that could change an activation in place (one of its own, or inplace=True) has its maps
    # summed as it runs. (An in-place ReLU before the map is read is no such module.)
    pytest.importorskip('numba')
    from vbp_ros.core import native_chain
    kept: list[int] = []
    real = native_chain.NativeChain.mask_of
    monkeypatch.setattr(native_chain.NativeChain, 'mask_of',
                        lambda self, acts: kept.append(len(acts)) or real(self, acts))
    torch.manual_seed(0)
    x = torch.rand(2, 1, 21, 25)
    for middle, keeps in ((nn.Identity(), True), (nn.ReLU(inplace=True), True),
                          (_AddInPlace(), False), (nn.Dropout(0.5, inplace=True), False)):
        net = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2), nn.ReLU(), middle,
                            nn.Conv2d(4, 4, 3), nn.ReLU()).eval()
        with torch.no_grad():
            monkeypatch.setenv('VBP_ROS_NUMBA', '0')
            want = VisualBackProp(net)(x)[1]
            monkeypatch.delenv('VBP_ROS_NUMBA')
        kept.clear()
        with torch.inference_mode(), caplog.at_level('WARNING'):
            mask = VisualBackProp(net)(x)[1]
        assert kept == ([2] if keeps else [])
        assert torch.allclose(mask, want, atol=1e-6)
    assert not [r for r in caplog.records if 'changed in place' in r.getMessage()]
