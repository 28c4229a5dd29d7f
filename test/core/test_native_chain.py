"""The Numba kernels against plain NumPy, without torch: the same file runs with the oldest
Numba and NumPy the ROS 2 distros get (see .ci/compat)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip('numba')
from vbp_ros.core.native_chain import NativeChain  # noqa: E402


def footprint(n_in: int, n_out: int, kernel: int, stride: int, padding: int = 0) -> np.ndarray:
    """The n_in × n_out 0/1 matrix of one conv or pooling layer: input ``i`` is tapped by
    output ``j`` (what VisualBackProp hands over, see vbp_ros.core.box_upsample)."""
    a = np.zeros((n_in, n_out))
    for j in range(n_out):
        for t in range(kernel):
            i = j * stride - padding + t
            if 0 <= i < n_in:
                a[i, j] = 1.0
    return a


def reference(maps: list[np.ndarray], upsample: list[tuple[np.ndarray, np.ndarray]]
              ) -> np.ndarray:
    """VisualBackProp's chain with dense products in float64, and the per-image normalisation."""
    mask = maps[-1].astype(np.float64)
    for k in range(len(maps) - 1, -1, -1):
        a_h, a_w = upsample[k]
        mask = np.einsum('Hh,nhw,Ww->nHW', a_h, mask, a_w)
        if k:
            mask = mask * maps[k - 1]
    flat = mask.reshape(len(mask), -1)
    lo, hi = flat.min(1, keepdims=True), flat.max(1, keepdims=True)
    out = np.where(hi > lo, (flat - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0)
    return out.reshape(mask.shape)


def chain_of(layers: list[tuple[int, int, int]], size: tuple[int, int]
             ) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[tuple[int, int]]]:
    """Footprint pairs and map sizes for convs given as (kernel, stride, padding)."""
    upsample, sizes = [], []
    h, w = size
    for k, s, p in layers:
        oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        upsample.append((footprint(h, oh, k, s, p), footprint(w, ow, k, s, p)))
        sizes.append((oh, ow))
        h, w = oh, ow
    return upsample, sizes


@pytest.mark.parametrize('layers, size', [
    ([(5, 2, 0), (5, 2, 0), (5, 2, 0), (3, 1, 0), (3, 1, 0)], (66, 200)),  # PilotNet
    ([(3, 1, 1), (2, 2, 0), (3, 1, 1), (3, 2, 1)], (23, 31)),  # padding, a pooling footprint
    ([(7, 3, 0)], (40, 17)),  # one map
])
@pytest.mark.parametrize('batch', [1, 3])
def test_mask_matches_dense_products(layers: list, size: tuple[int, int], batch: int) -> None:
    rng = np.random.default_rng(0)
    upsample, sizes = chain_of(layers, size)
    chain = NativeChain(upsample)
    maps = [rng.random((batch, *hw), dtype=np.float32) for hw in sizes]
    got = chain.mask(maps)
    want = reference(maps, upsample)
    assert got.dtype == np.float32 and got.shape == (batch, *size)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_extreme_scales_stay_in_range() -> None:
    # 12 maps of values near 1e6, then 1e-6: their product leaves float32's range both ways.
    upsample, sizes = chain_of([(3, 1, 1)] * 12, (9, 11))
    chain = NativeChain(upsample)
    rng = np.random.default_rng(1)
    for scale in (1e6, 1e-6):
        maps = [(rng.random((2, *hw)) * scale).astype(np.float32) for hw in sizes]
        got = chain.mask(maps)
        want = reference([m.astype(np.float64) for m in maps], upsample)
        assert np.isfinite(got).all() and got.max(axis=(1, 2)) == pytest.approx([1.0, 1.0])
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_constant_and_zero_masks_are_zero() -> None:
    upsample, sizes = chain_of([(3, 2, 0), (3, 1, 0)], (15, 15))
    chain = NativeChain(upsample)
    maps = [np.zeros((1, *sizes[0]), np.float32), np.ones((1, *sizes[1]), np.float32)]
    assert (chain.mask(maps) == 0).all()


@pytest.mark.parametrize('channels_last', [False, True])
def test_channel_sum(channels_last: bool) -> None:
    act = np.random.default_rng(2).random((2, 24, 7, 13), dtype=np.float32)
    if channels_last:  # the strides of a channels_last tensor's NumPy view
        act = np.ascontiguousarray(act.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    got = NativeChain.channel_sum(act)
    assert got.shape == (2, 7, 13) and got.dtype == np.float32
    np.testing.assert_allclose(got, act.sum(1), rtol=1e-6)
