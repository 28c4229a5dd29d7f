"""The all-ones transposed convolution of VisualBackProp, as two small matrix products.

A transposed convolution with an all-ones k×k kernel, no bias, and the stride, padding and
dilation of the layer it inverts adds each low-resolution value into every input pixel of that
value's receptive field. The kernel is separable (ones(k×k) = ones(k)·ones(k)ᵀ), so on a map M
it equals ``A_h @ M @ A_wᵀ`` with 0/1 "footprint" matrices ``A[i, j] = 1`` iff input index ``i``
is tapped by output index ``j``. Rows no output reaches stay 0, which is exactly what the output
padding of the transposed convolution does. Consecutive layers compose by matrix product.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


def _pair(v: int | tuple[int, ...]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[-1]))


@dataclass(frozen=True)
class Footprint:
    """Kernel, stride, padding and dilation of one conv or pooling layer, per axis (h, w)."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int] = (1, 1)

    @classmethod
    def of(cls, module: nn.Module) -> Footprint:
        """Read the geometry of a Conv2d, MaxPool2d or AvgPool2d."""
        kernel = _pair(module.kernel_size)
        stride = _pair(module.stride if module.stride is not None else module.kernel_size)
        dilation = _pair(getattr(module, 'dilation', 1))
        padding = module.padding
        if padding == 'valid':
            padding = (0, 0)
        elif padding == 'same':  # PyTorch puts the odd extra pixel at the end
            padding = tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))
        return cls(kernel, stride, _pair(padding), dilation)

    def matrix(self, axis: int, n_in: int, n_out: int) -> torch.Tensor:
        """Footprint matrix (n_in × n_out) along ``axis`` (0 = height, 1 = width), float64."""
        k, s, p, d = (self.kernel[axis], self.stride[axis], self.padding[axis],
                      self.dilation[axis])
        j = torch.arange(n_out).view(1, -1, 1)
        taps = j * s - p + torch.arange(k).view(1, 1, -1) * d  # input index of each kernel tap
        hits = taps == torch.arange(n_in).view(-1, 1, 1)
        return hits.any(-1).to(torch.float64)


def compose(steps: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Compose per-layer (A_h, A_w) pairs listed from shallow to deep into one pair."""
    a_h, a_w = steps[0]
    for b_h, b_w in steps[1:]:
        a_h, a_w = a_h @ b_h, a_w @ b_w
    return a_h, a_w
