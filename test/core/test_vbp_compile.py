"""VisualBackProp(compile=True): the torch.compile'd forward + mask equals the eager one."""
from __future__ import annotations

import torch
from torch import nn

from test_visualbackprop import _net_custom, _net_padding_bn_maxpool, reference_vbp
from vbp_ros import PilotNet, VisualBackProp

def test_compiled_pilotnet_matches_reference_and_eager(inductor: None) -> None:
    torch.manual_seed(5)
    net = PilotNet().eval()
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    x = torch.randn(3, 3, 66, 200)
    vbp = VisualBackProp(net, compile=True)
    with torch.inference_mode():
        out, mask = vbp(x)
        eager_out, eager_mask = VisualBackProp(net)(x)
        again = vbp(x + 1)[1]  # the same shape reuses the compiled function
    expected = reference_vbp(x, [(c, nn.ReLU()) for c in convs])
    assert torch.allclose(out, eager_out, atol=1e-5)
    assert torch.allclose(mask, expected, atol=1e-5), (mask - expected).abs().max()
    assert torch.allclose(mask, eager_mask, atol=1e-5)
    assert mask.shape == (3, 66, 200) and mask.dtype == torch.float32
    assert not torch.allclose(again, mask)  # a new input gives a new mask, not a stale one
    assert len(vbp._plans) == 1 and next(iter(vbp._plans.values())).compiled is not None
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in net.modules())


def test_compiled_pilotnet_is_one_graph(inductor: None) -> None:
    # A graph break would still give the right mask, but split the work into several compiled
    # pieces with eager Python between them (measured 4 to 6 times the extra cost).
    import torch._dynamo
    from torch._dynamo.utils import counters
    torch._dynamo.reset()  # earlier compiles must not count towards the recompile limit
    counters.clear()
    with torch.inference_mode():
        VisualBackProp(PilotNet().eval(), compile=True)(torch.randn(1, 3, 66, 200))
    assert not counters['graph_break'], dict(counters['graph_break'])
    assert counters['stats']['unique_graphs'] == 1


def test_compiled_padding_bn_pooling_net(inductor: None) -> None:
    net, stages = _net_padding_bn_maxpool()
    x = torch.randn(2, 3, 37, 45)
    with torch.no_grad():
        net(x)  # materialise the lazy layer
        expected = reference_vbp(x, stages)
        net.float()
        _, mask = VisualBackProp(net, compile=True)(x)
    assert torch.allclose(mask, expected, atol=1e-5), (mask - expected).abs().max()


def test_compiled_net_with_unbanded_steps(inductor: None) -> None:
    # Padded pooling then a padded conv compose into footprints that are no band (clipped at
    # the borders), and a width-1 deepest map has none either: those steps stay dense products.
    torch.manual_seed(7)
    c1, c2, c3 = nn.Conv2d(1, 4, 3, 2, 1), nn.Conv2d(4, 5, 5, 2, 1), nn.Conv2d(5, 3, (1, 4))
    pool = nn.MaxPool2d(5, stride=2, padding=1)
    net = nn.Sequential(c1, nn.ReLU(), pool, c2, nn.ReLU(), c3, nn.ReLU()).eval()
    x = torch.randn(2, 1, 45, 41)
    with torch.no_grad():
        expected = reference_vbp(x, [(c1, nn.ReLU()), (pool, None), (c2, nn.ReLU()),
                                     (c3, nn.ReLU())])
        net.float()
        _, mask = VisualBackProp(net, compile=True)(x)
    assert torch.allclose(mask, expected, atol=1e-5), (mask - expected).abs().max()


def test_compiled_custom_forward_uses_hooks_in_one_graph(inductor: None) -> None:
    import torch._dynamo
    from torch._dynamo.utils import counters
    net, stages = _net_custom()  # own forward(), functional ReLUs, BN before a conv, pooling
    vbp = VisualBackProp(net, compile=True)
    torch._dynamo.reset()  # earlier compiles must not count towards the recompile limit
    counters.clear()
    with torch.no_grad():
        for seed in range(3):  # the same hook functions every call: no recompiles
            x = torch.randn(2, 1, 33, 50, generator=torch.Generator().manual_seed(seed))
            out, mask = vbp(x)
            expected = reference_vbp(x, stages)
            net.float()
            assert torch.allclose(mask, expected, atol=1e-5), (mask - expected).abs().max()
            assert torch.allclose(out, net(x), atol=1e-6)
    assert not counters['graph_break'], dict(counters['graph_break'])
    assert counters['stats']['unique_graphs'] == 1
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in net.modules())


def test_intermediates_run_eagerly_under_compile() -> None:
    net = PilotNet().eval()
    vbp = VisualBackProp(net, compile=True)
    res = vbp.explain(torch.randn(1, 3, 66, 200), intermediates=True)
    assert res.averaged is not None and len(res.averaged) == 5
    assert next(iter(vbp._plans.values())).compiled is None  # nothing was compiled


def test_compiled_keeps_gradients_for_training(inductor: None) -> None:
    torch.manual_seed(6)
    net = PilotNet().eval()  # eval: no dropout noise, so both runs see the same function
    x = torch.randn(2, 3, 66, 200)
    out, mask = VisualBackProp(net, compile=True)(x)
    assert out.requires_grad and not mask.requires_grad
    out.sum().backward()
    compiled_grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    eager_out, eager_mask = VisualBackProp(net)(x)
    eager_out.sum().backward()
    assert torch.allclose(mask, eager_mask, atol=1e-5)
    for g, p in zip(compiled_grads, net.parameters()):
        assert torch.allclose(g, p.grad, rtol=1e-4, atol=1e-6)


def test_shapes_past_the_recompile_limit_stay_correct(inductor: None) -> None:
    import torch._dynamo

    torch.manual_seed(7)
    net = nn.Sequential(nn.Conv2d(3, 6, 5, 2), nn.ReLU(), nn.Conv2d(6, 5, 3), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 1)).eval()
    vbp, eager = VisualBackProp(net, compile=True), VisualBackProp(net)
    torch._dynamo.reset()
    with torch._dynamo.config.patch(recompile_limit=1), torch.no_grad():
        for shape in [(1, 3, 40, 52), (2, 3, 45, 61)]:  # the second is past the limit
            x = torch.randn(shape)
            assert torch.allclose(vbp(x)[1], eager(x)[1], atol=1e-5)
    torch._dynamo.reset()


def test_compile_mode_is_passed_on(inductor: None) -> None:
    torch.manual_seed(8)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, 2), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.ReLU(),
                        nn.Flatten()).eval()
    x = torch.randn(2, 1, 30, 40)
    vbp = VisualBackProp(net, compile='reduce-overhead')  # CUDA graphs on GPU; same on CPU
    seen: list = []
    with torch.no_grad():
        res = vbp.explain(x, on_output=seen.append)  # compiled: called after, but called
        assert torch.allclose(res.mask, VisualBackProp(net)(x)[1], atol=1e-5)
    assert len(seen) == 1 and seen[0] is res.output
    assert vbp.compile and vbp._compile_mode == 'reduce-overhead'


def test_compiled_chain_stays_in_float32_range(inductor: None) -> None:
    # Maps of ~1e13 each: their product passes float32's maximum unless scaled first.
    torch.manual_seed(3)
    convs = [nn.Conv2d(1, 8, 3, padding=1), nn.Conv2d(8, 8, 3, 2), nn.Conv2d(8, 8, 3),
             nn.Conv2d(8, 8, 3)]
    net = nn.Sequential(*[m for c in convs for m in (c, nn.ReLU())]).eval()
    x = torch.rand(2, 1, 32, 40) * 1e14
    with torch.no_grad():
        _, mask = VisualBackProp(net, compile=True)(x)
    expected = reference_vbp(x, [(c, nn.ReLU()) for c in convs])
    assert torch.isfinite(mask).all()
    assert torch.allclose(mask, expected, atol=1e-5), (mask - expected).abs().max()
