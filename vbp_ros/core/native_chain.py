"""VisualBackProp's per-frame arithmetic on the CPU as compiled kernels (Numba).

Eagerly, the mask of a small network costs far more in per-call overhead than in arithmetic:
PilotNet's chain is some thirty small PyTorch or NumPy calls, and right after a forward pass
each of them runs with cold caches, several times slower than in a warm loop. Here the channel
sums, the whole upsampling chain with its products, and the normalisation are one call
(:meth:`NativeChain.mask_of`); or each channel sum is one call as its activation comes out of
the pass (:meth:`NativeChain.channel_sum`) and the rest one more (:meth:`NativeChain.mask`).

Footprint matrices (see :mod:`vbp_ros.core.box_upsample`) are stored as compressed rows: for
each output index the input indices that reach it and their weights, so the work is
proportional to the taps, not to the size of a dense product. After each product the mask is
scaled to a maximum of 1, which leaves the normalised mask unchanged and keeps any depth of
network within float32's range.

This module imports Numba; :mod:`vbp_ros.core.visualbackprop` falls back to NumPy or PyTorch
where it cannot be imported.
"""
from __future__ import annotations

from typing import Any, Sequence

import numba
import numpy as np

# Columns of the per-step geometry table.
_OUT_H, _OUT_W, _IN_H, _IN_W, _ROWS, _COLS = range(6)


def channel_sum(act: np.ndarray) -> np.ndarray:
    """The N×h×w sum over channels of a float32 N×C×h×w activation."""
    return _channel_sum(*_summable(act))


def _summable(act: np.ndarray) -> tuple[np.ndarray, bool]:
    """``act`` C-contiguous for the kernels, as N×h×w×C if it is channels last (the node's
    layout: a view, one row of C values per pixel), and whether it is."""
    last = act.shape[1] > 1 and act.strides[1] == act.itemsize
    return np.ascontiguousarray(act.transpose(0, 2, 3, 1) if last else act), last


@numba.njit(cache=True, nogil=True)
def _channel_sum(act: np.ndarray, channels_last: bool) -> np.ndarray:  # pragma: no cover
    if channels_last:
        n, h, w, c = act.shape
        return _sum_rows(act.reshape((n * h * w, c))).reshape((n, h, w))
    return _sum_channels(act)


@numba.njit(cache=True, nogil=True)
def _sum_channels(act: np.ndarray) -> np.ndarray:  # pragma: no cover
    n, c, h, w = act.shape
    out = np.zeros((n, h, w), np.float32)
    for b in range(n):
        for ch in range(c):
            plane = act[b, ch]
            for y in range(h):
                row, acc = plane[y], out[b, y]
                for x in range(w):
                    acc[x] += row[x]
    return out


# reassoc: the sum along a row may be vectorised (it changes only the order of the additions).
@numba.njit(cache=True, nogil=True, fastmath={'reassoc'})
def _sum_rows(rows: np.ndarray) -> np.ndarray:  # pragma: no cover
    out = np.empty(rows.shape[0], np.float32)
    for p in range(rows.shape[0]):
        s = np.float32(0.0)
        for ch in range(rows.shape[1]):
            s += rows[p, ch]
        out[p] = s
    return out


@numba.njit(cache=True, nogil=True)
def _mask(maps: tuple[np.ndarray, ...], geo: np.ndarray, ptr: np.ndarray, idx: np.ndarray,
          val: np.ndarray) -> np.ndarray:  # pragma: no cover
    """The normalised N×H×W mask from the N×h×w maps (shallow to deep)."""
    last = len(maps) - 1
    cur = maps[last]
    n = cur.shape[0]
    scale = np.ones(n, np.float32)
    # Scratch space for the transposes, allocated once.
    flat_t = np.empty((geo[:, _IN_W] * geo[:, _IN_H]).max(), np.float32)
    flat_wide_t = np.empty((geo[:, _OUT_W] * geo[:, _IN_H]).max(), np.float32)
    flat_wide = np.empty_like(flat_wide_t)
    for k in range(last, -1, -1):
        big_h, big_w, h, w = geo[k, _OUT_H], geo[k, _OUT_W], geo[k, _IN_H], geo[k, _IN_W]
        rows, cols = geo[k, _ROWS], geo[k, _COLS]
        up = np.zeros((n, big_h, big_w), np.float32)
        cur_t = flat_t[:w * h].reshape((w, h))
        wide_t = flat_wide_t[:big_w * h].reshape((big_w, h))
        wide = flat_wide[:big_w * h].reshape((h, big_w))
        below = maps[k - 1] if k else cur
        for b in range(n):
            # Along the width, on the transposed map so that the inner loop is contiguous.
            for i in range(h):
                for j in range(w):
                    cur_t[j, i] = cur[b, i, j]
            wide_t[:] = 0.0
            for x in range(big_w):
                acc = wide_t[x]
                for p in range(ptr[cols + x], ptr[cols + x + 1]):
                    src, v = cur_t[idx[p]], val[p] * scale[b]
                    for i in range(h):
                        acc[i] += v * src[i]
            for i in range(h):
                for x in range(big_w):
                    wide[i, x] = wide_t[x, i]
            # Along the height: whole rows.
            for y in range(big_h):
                acc = up[b, y]
                for p in range(ptr[rows + y], ptr[rows + y + 1]):
                    src, v = wide[idx[p]], val[p]
                    for x in range(big_w):
                        acc[x] += v * src[x]
            if k:  # times the map below, scaled to a maximum magnitude of 1
                top = np.float32(0.0)
                for y in range(big_h):
                    acc, m = up[b, y], below[b, y]
                    for x in range(big_w):
                        t = acc[x] * m[x]
                        acc[x] = t
                        top = max(top, abs(t))
                scale[b] = np.float32(1.0) / top if top > 0.0 else np.float32(1.0)
        cur = up
    for b in range(n):
        _normalise(cur[b].ravel())
    return cur


@numba.njit(cache=True, nogil=True)
def _mask_of(acts: tuple[np.ndarray, ...], channels_last: tuple[bool, ...], geo: np.ndarray,
             ptr: np.ndarray, idx: np.ndarray, val: np.ndarray) -> np.ndarray:  # pragma: no cover
    """:func:`_mask` of the channel sums of ``acts`` (see :func:`_summable`)."""
    maps = [_channel_sum(acts[k], channels_last[k]) for k in range(len(acts))]
    return _mask(maps, geo, ptr, idx, val)


@numba.njit(cache=True, nogil=True, inline='always')
def _normalise(flat: np.ndarray) -> None:  # pragma: no cover
    """Min-max normalise ``flat`` in place to [0, 1]; a constant one becomes 0."""
    # Four running minima and maxima: one pair would be a chain of dependent comparisons.
    lo0 = lo1 = lo2 = lo3 = hi0 = hi1 = hi2 = hi3 = flat[0]
    size = flat.size
    quads = size - size % 4
    for i in range(0, quads, 4):
        lo0, hi0 = min(lo0, flat[i]), max(hi0, flat[i])
        lo1, hi1 = min(lo1, flat[i + 1]), max(hi1, flat[i + 1])
        lo2, hi2 = min(lo2, flat[i + 2]), max(hi2, flat[i + 2])
        lo3, hi3 = min(lo3, flat[i + 3]), max(hi3, flat[i + 3])
    for i in range(quads, size):
        lo0, hi0 = min(lo0, flat[i]), max(hi0, flat[i])
    lo, hi = min(min(lo0, lo1), min(lo2, lo3)), max(max(hi0, hi1), max(hi2, hi3))
    span = hi - lo
    inv = np.float32(1.0) / span if span > 0.0 else np.float32(0.0)
    for i in range(size):
        flat[i] = (flat[i] - lo) * inv


class NativeChain:
    """VisualBackProp's channel sums and chain for one input size, on the CPU.

    Args:
        upsample: per map (shallow to deep) the footprint matrices ``(A_h, A_w)`` (CPU tensors
            or arrays) that scale it up to the size of the map below it (the input for the
            first). No torch needed here: the kernels only see NumPy arrays.

    Per call: :meth:`mask_of` the activations kept from the forward pass; or
    :meth:`channel_sum` for each map as its activation comes out of it, then :meth:`mask`.
    """

    channel_sum = staticmethod(channel_sum)  # the function above, for the one import

    def __init__(self, upsample: Sequence[tuple[Any, Any]]) -> None:
        ptr: list[int] = []
        idx: list[int] = []
        val: list[float] = []

        def rows(a: Any) -> int:  # append a's compressed rows; return where they start
            start = len(ptr)
            for row in np.asarray(a):
                ptr.append(len(idx))
                (taps,) = np.nonzero(row)
                idx.extend(taps.tolist())
                val.extend(row[taps].tolist())
            ptr.append(len(idx))
            return start

        geo = [[a_h.shape[0], a_w.shape[0], a_h.shape[1], a_w.shape[1], rows(a_h), rows(a_w)]
               for a_h, a_w in upsample]
        self.geo = np.array(geo, np.int64)
        self.ptr = np.array(ptr, np.int64)
        self.idx = np.array(idx, np.int64)
        self.val = np.array(val, np.float32)

    def mask_of(self, acts: list[np.ndarray]) -> np.ndarray:
        """The N×H×W mask in [0, 1] (float32) from the float32 N×C×h×w activations the maps
        are the channel sums of (shallow to deep): sums, chain and normalisation in one call."""
        # All C-contiguous: one array type for the whole tuple.
        arrays, channels_last = zip(*map(_summable, acts))
        return _mask_of(arrays, channels_last, self.geo, self.ptr, self.idx, self.val)

    def mask(self, maps: list[np.ndarray]) -> np.ndarray:
        """The N×H×W mask in [0, 1] (float32) from the maps (shallow to deep)."""
        return _mask(tuple(maps), self.geo, self.ptr, self.idx, self.val)
