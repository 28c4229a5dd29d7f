"""CudaGraphed: capture once, replay per call (the CUDA tests run where there is a GPU)."""
import pytest
import torch

from vbp_ros.core.cuda_graph import CudaGraphed
from vbp_ros.core.pilotnet import PilotNet
from vbp_ros.core.visualbackprop import VisualBackProp

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')


def test_refuses_a_cpu_tensor() -> None:
    with pytest.raises(ValueError, match='CUDA tensor'):
        CudaGraphed(lambda t: t * 2, torch.zeros(2))


@cuda
def test_replay_matches_eager_and_checks_the_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.backends.cudnn, 'allow_tf32', False)
    monkeypatch.setattr(torch.backends.cuda.matmul, 'allow_tf32', False)
    vbp = VisualBackProp(PilotNet().cuda().eval())
    x = torch.randn(2, 3, 66, 200, device='cuda')
    graphed = CudaGraphed(vbp, x)
    for _ in range(2):  # a new input each time: the graph reads the copy, not the example
        x = torch.randn_like(x)
        out, mask = graphed(x)
        ref_out, ref_mask = vbp(x)
        assert torch.allclose(out, ref_out, atol=1e-5)
        assert torch.allclose(mask, ref_mask, atol=1e-5)
    with pytest.raises(ValueError, match='takes'):
        graphed(x[:1])


@cuda
def test_refuses_autocast_with_its_weight_cache() -> None:
    net = PilotNet().cuda().eval()
    x = torch.randn(1, 3, 66, 200, device='cuda')
    with torch.autocast('cuda', dtype=torch.float16), pytest.raises(ValueError, match='cache'):
        CudaGraphed(net, x)
