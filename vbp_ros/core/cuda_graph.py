"""Replay a function as one CUDA graph: no per-kernel launch cost for small batch-1 work."""
from __future__ import annotations

from typing import Any, Callable

import torch


class CudaGraphed:
    """Capture ``fn(static_input)`` once; each call copies ``x`` in and replays the graph.

    The returned tensors are the graph's static outputs: they are overwritten by the next call
    (clone them to keep them). ``fn`` must be capturable (no host sync, fixed shapes).
    """

    def __init__(self, fn: Callable[[torch.Tensor], Any], example: torch.Tensor,
                 warmup: int = 3) -> None:
        if example.device.type != 'cuda':
            raise ValueError('CUDA graphs need a CUDA tensor')
        if torch.is_autocast_enabled() and torch.is_autocast_cache_enabled():
            # The capture would read autocast's cached low-precision weights, which are freed
            # when the autocast block ends (torch.cuda.make_graphed_callables refuses it too).
            raise ValueError('CUDA graphs under torch.autocast need cache_enabled=False')
        self.static_in = example.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), torch.inference_mode():
            for _ in range(warmup):  # builds lazy state (plans, cuDNN choices) outside capture
                fn(self.static_in)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph), torch.inference_mode():
            self.static_out = fn(self.static_in)

    def __call__(self, x: torch.Tensor) -> Any:
        """Run the captured work on ``x`` (same shape, dtype and device as the example)."""
        if x.shape != self.static_in.shape or x.dtype != self.static_in.dtype:
            raise ValueError(f'this CUDA graph takes {tuple(self.static_in.shape)} '
                             f'{self.static_in.dtype}, got {tuple(x.shape)} {x.dtype}')
        self.static_in.copy_(x)
        self.graph.replay()
        return self.static_out
