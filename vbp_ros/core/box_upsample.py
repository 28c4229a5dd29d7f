"""The all-ones transposed convolution of VisualBackProp, as two small matrix products.

A transposed convolution with an all-ones k×k kernel, no bias, and the stride, padding and
dilation of the layer it inverts adds each low-resolution value into every input pixel of that
value's receptive field. The kernel is separable (ones(k×k) = ones(k)·ones(k)ᵀ), so on a map M
it equals ``A_h @ M @ A_wᵀ`` with 0/1 "footprint" matrices ``A[i, j] = 1`` iff input index ``i``
is tapped by output index ``j``. Rows no output reaches stay 0, which is exactly what the output
padding of the transposed convolution does. Consecutive layers compose by matrix product.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

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


# Below this many multiply-adds per image, one Kronecker product matrix is cheaper than two
# separable products (fewer kernel launches); above it the dense matrix grows too large.
KRON_LIMIT = 200_000


class BoxUpsample:
    """One precomputed VisualBackProp upsampling step, from an h×w map to H×W.

    Small steps use one (h·w × H·W) Kronecker matrix on N×(h·w) masks; large steps use the two
    separable products on masks laid out H×N×W, where both are plain 2-D matrix products for
    the whole batch (no batched matmul and no copies). The arithmetic only uses ``@`` and
    ``reshape``, so :meth:`numpy` gives the same step on NumPy arrays (see VisualBackProp).
    """

    def __init__(self, a_h: torch.Tensor, a_w: torch.Tensor, device: torch.device) -> None:
        (self.big_h, self.h), (self.big_w, self.w) = a_h.shape, a_w.shape
        self.kron: Any = None
        self.a: Any = None
        self.bt: Any = None
        if self.h * self.w * self.big_h * self.big_w <= KRON_LIMIT:
            self.kron = torch.kron(a_h, a_w).t().to(device, torch.float32).contiguous()
        else:
            self.a = a_h.to(device, torch.float32)
            self.bt = a_w.t().contiguous().to(device, torch.float32)
        h, w, bh, bw = self.h, self.w, self.big_h, self.big_w
        self.rows_first = bh * h * w + bh * w * bw <= h * w * bw + bh * h * bw

    def numpy(self) -> BoxUpsample:
        """The same step holding NumPy views of its (CPU) matrices."""
        twin = copy.copy(self)
        for name in ('kron', 'a', 'bt'):
            t = getattr(self, name)
            setattr(twin, name, None if t is None else t.numpy())
        return twin

    def flat(self, mask: Any) -> Any:
        """N×(h·w) -> N×H×W (Kronecker steps only)."""
        return (mask.reshape(mask.shape[0], -1) @ self.kron).reshape(-1, self.big_h, self.big_w)

    def hnw(self, mask: Any) -> Any:
        """h×N×w -> H×N×W (separable steps)."""
        n = mask.shape[1]
        if self.rows_first:
            out = (self.a @ mask.reshape(self.h, n * self.w)).reshape(-1, self.w) @ self.bt
        else:
            out = self.a @ (mask.reshape(self.h * n, self.w) @ self.bt).reshape(self.h, -1)
        return out.reshape(self.big_h, n, self.big_w)


def upsample_chain(maps: list[Any], steps: list[BoxUpsample],
                   intermediates: list[Any] | None = None) -> Any:
    """VisualBackProp's deep-to-shallow walk on torch tensors or NumPy arrays.

    Args:
        maps: N×h×w channel-reduced feature maps, shallow to deep.
        steps: ``steps[k]`` upsamples map ``k`` to the size of map ``k-1`` (``k=0``: input).
        intermediates: if given, each upsampled mask (N×H×W, deep to shallow) is appended.

    Returns:
        The unnormalised N×H×W mask (possibly a non-contiguous view).
    """
    mask = maps[-1]
    hnw = False  # layout of `mask`: N×H×W, or H×N×W for the separable steps
    for k in range(len(maps) - 1, -1, -1):
        step = steps[k]
        if step.kron is not None:
            if hnw:
                mask, hnw = mask.swapaxes(0, 1), False
            mask = step.flat(mask)
        else:
            if not hnw:
                mask, hnw = mask.swapaxes(0, 1), True
            mask = step.hnw(mask)
        if intermediates is not None:
            intermediates.append(mask.swapaxes(0, 1) if hnw else mask)
        if k:
            mask = mask * (maps[k - 1].swapaxes(0, 1) if hnw else maps[k - 1])
    return mask.swapaxes(0, 1) if hnw else mask
