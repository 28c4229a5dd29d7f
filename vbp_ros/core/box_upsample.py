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

import numpy as np
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
        """Read the geometry of a Conv2d, MaxPool2d, AvgPool2d or padding layer."""
        if not hasattr(module, 'kernel_size'):  # a padding layer: (left, right, top, bottom)
            left, _, top, _ = module.padding
            return cls((1, 1), (1, 1), (int(top), int(left)))  # the map back is a crop
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


#: Up to this many feature maps the eager CPU chain runs in float32 first; deeper, in float64.
#: The mask is a product of one averaged map per conv layer, which can leave float32's range
#: (1e±38): VGG16 overflowed it, a bias-free VGG19 underflowed it, and so can a few layers on
#: inputs of extreme scale (raw 16-bit depth), where the chain is redone in float64.
FLOAT32_MAPS = 8


def chain_dtype(n_maps: int, device: torch.device | None = None) -> torch.dtype:
    """The dtype of the eager upsampling chain for ``n_maps`` feature maps.

    On the CPU: float32 up to ``FLOAT32_MAPS`` maps (each result is checked and redone in
    float64 when it left float32's range), float64 beyond. On CUDA, where that check would need
    a host sync: float64 (on matrices this small it costs no measurable time). (Compiled, the
    chain is float32 and rescaled at every step instead; see VisualBackProp.)
    """
    if device is not None and device.type != 'cpu':
        return torch.float64
    return torch.float32 if n_maps <= FLOAT32_MAPS else torch.float64

# Below this many multiply-adds per image, one Kronecker product matrix is cheaper than two
# separable products (fewer kernel launches); above it the dense matrix grows too large.
KRON_LIMIT = 200_000
# Above this many multiply-adds per image, the dense products (which grow with the square of
# the image side) lose to strided slice-adds of the kernel taps (which grow with its area).
BANDED_ABOVE = 4_000_000


@dataclass(frozen=True)
class Band:
    """A footprint matrix as a strided kernel: ``A[j*stride - offset + t, j] = weights[t]``.

    Every conv or pooling layer has this shape (clipped at the borders), and so do chains of
    them unless a padded layer inside clips the band; applying it costs len(weights)
    slice-adds instead of a dense matrix product.
    """

    stride: int
    offset: int
    weights: tuple[float, ...]

    @classmethod
    def from_matrix(cls, a: torch.Tensor) -> Band | None:
        """The band of footprint matrix ``a`` (n_in × n_out), or None if it has none."""
        n_in, n_out = a.shape
        if n_out < 2:
            return None
        j = (n_out - 1) // 2
        rows = [torch.nonzero(a[:, c]).flatten() for c in (j, j + 1)]
        if not len(rows[0]) or not len(rows[1]):
            return None
        first, last = int(rows[0][0]), int(rows[0][-1])
        band = cls(int(rows[1][0]) - first, j * (int(rows[1][0]) - first) - first,
                   tuple(float(v) for v in a[first:last + 1, j]))
        return band if band.stride > 0 and torch.equal(band.matrix(n_in, n_out), a) else None

    def matrix(self, n_in: int, n_out: int) -> torch.Tensor:
        """The dense footprint matrix this band stands for (float64)."""
        a = torch.zeros(n_in, n_out, dtype=torch.float64)
        for t, v in enumerate(self.weights):
            for j in range(n_out):
                i = j * self.stride - self.offset + t
                if 0 <= i < n_in:
                    a[i, j] = v
        return a

    def apply(self, mask: Any, axis: int, n_out: int) -> Any:
        """Upsample ``mask`` (torch tensor or NumPy array) along ``axis`` to ``n_out``."""
        n_in = mask.shape[axis]
        shape = list(mask.shape)
        shape[axis] = n_out
        out = (np.zeros(shape, mask.dtype) if isinstance(mask, np.ndarray)
               else mask.new_zeros(shape))
        src: list[slice] = [slice(None)] * mask.ndim
        dst: list[slice] = [slice(None)] * mask.ndim
        for t, v in enumerate(self.weights):
            if not v:
                continue
            lo = max(0, -((t - self.offset) // self.stride))  # first j with i >= 0
            hi = min(n_in, (n_out - 1 + self.offset - t) // self.stride + 1)
            if hi <= lo:
                continue
            start = lo * self.stride - self.offset + t
            src[axis] = slice(lo, hi)
            dst[axis] = slice(start, start + (hi - lo - 1) * self.stride + 1, self.stride)
            part = mask[tuple(src)]
            out[tuple(dst)] += part if v == 1.0 else part * v
        return out

    def gather(self, mask: torch.Tensor, dim: int, n_out: int) -> torch.Tensor:
        """:meth:`apply` written so that each output element sums its own inputs (polyphase).

        Output ``i`` with ``i + offset = stride*q + r`` is ``Σ_a weights[r + stride*a] *
        mask[q - a]``: per phase ``r`` a sum of shifted slices of the zero-padded mask, and the
        phases interleaved. Only pads, slices, stacks and reshapes: TorchInductor turns it into
        one vectorised loop (the dense products and :meth:`apply`'s slice-adds compile slower).
        Needs ``offset >= 0`` (true of every conv and pooling layer, and of their bands).
        """
        dim %= mask.dim()
        s, n_in = self.stride, mask.shape[dim]
        q_len = (n_out - 1 + self.offset) // s + 1
        phases = [[(a, v) for a, v in enumerate(self.weights[r::s]) if v] for r in range(s)]
        left = max([a for taps in phases for a, _ in taps] + [0])  # (no default=: Dynamo)
        pad = [0, 0] * (mask.dim() - 1 - dim) + [left, max(0, q_len - n_in)]
        padded = torch.nn.functional.pad(mask, pad)
        sums = []
        for taps in phases:
            acc = torch.zeros_like(padded.narrow(dim, 0, q_len))
            for a, v in taps:
                part = padded.narrow(dim, left - a, q_len)
                acc = acc + (part if v == 1.0 else part * v)
            sums.append(acc)
        out = torch.stack(sums, dim + 1).flatten(dim, dim + 1)  # index stride*q + r
        return out.narrow(dim, self.offset, n_out)


class BoxUpsample:
    """One precomputed VisualBackProp upsampling step, from an h×w map to H×W.

    Small steps use one (h·w × H·W) Kronecker matrix on N×(h·w) masks; large steps use the two
    separable products on masks laid out H×N×W, where both are plain 2-D matrix products for
    the whole batch (no batched matmul and no copies). The arithmetic only uses ``@`` and
    ``reshape``, so :meth:`numpy` gives the same step on NumPy arrays (see VisualBackProp).
    """

    def __init__(self, a_h: torch.Tensor, a_w: torch.Tensor, device: torch.device,
                 dtype: torch.dtype = torch.float32) -> None:
        (self.big_h, self.h), (self.big_w, self.w) = a_h.shape, a_w.shape
        self.dtype = dtype
        self.kron: Any = None
        self.a: Any = None
        self.bt: Any = None
        self.bands: tuple[Band, Band] | None = None
        h, w, bh, bw = self.h, self.w, self.big_h, self.big_w
        self.rows_first = bh * h * w + bh * w * bw <= h * w * bw + bh * h * bw
        dense_cost = min(bh * h * w + bh * w * bw, h * w * bw + bh * h * bw)
        if h * w * bh * bw <= KRON_LIMIT:
            self.kron = torch.kron(a_h, a_w).t().to(device, dtype).contiguous()
            return
        if dense_cost > BANDED_ABOVE:
            rows, cols = Band.from_matrix(a_h), Band.from_matrix(a_w)
            if rows is not None and cols is not None:
                self.bands = (rows, cols)
                return
        self.a = a_h.to(device, dtype)
        self.bt = a_w.t().contiguous().to(device, dtype)

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
        if self.bands is not None:
            rows, cols = self.bands
            return cols.apply(rows.apply(mask, 0, self.big_h), 2, self.big_w)
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
        The unnormalised N×H×W mask in the steps' dtype (possibly a non-contiguous view).
    """
    deepest, dtype = maps[-1], steps[-1].dtype
    mask = (deepest.astype(np.float64 if dtype == torch.float64 else np.float32, copy=False)
            if isinstance(deepest, np.ndarray) else deepest.to(dtype))
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
