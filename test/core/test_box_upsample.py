"""The all-ones transposed convolution as footprint matrices and as strided bands."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
import torch.nn.functional as F

from vbp_ros.core.box_upsample import Band, compose, Footprint

GEOMETRIES = [(5, 2, 0, 1, 66), (3, 1, 1, 1, 20), (3, 2, 1, 2, 33), (2, 2, 0, 1, 31),
              (3, 3, 1, 1, 10), (5, 2, 2, 1, 200)]


@pytest.mark.parametrize('k,s,p,d,n', GEOMETRIES)
def test_footprint_matrices_equal_transposed_conv(k: int, s: int, p: int, d: int, n: int) -> None:
    conv = nn.Conv2d(1, 1, k, s, p, d)
    ho, wo = conv(torch.zeros(1, 1, n, n + 3)).shape[-2:]
    m = torch.rand(1, 1, ho, wo, dtype=torch.float64)
    pad = [n - ((ho - 1) * s - 2 * p + d * (k - 1) + 1),
           n + 3 - ((wo - 1) * s - 2 * p + d * (k - 1) + 1)]
    ref = F.conv_transpose2d(m, torch.ones(1, 1, k, k, dtype=torch.float64), stride=s,
                             padding=p, output_padding=pad, dilation=d)
    fp = Footprint.of(conv)
    got = fp.matrix(0, n, ho) @ m[0, 0] @ fp.matrix(1, n + 3, wo).T
    assert torch.allclose(ref[0, 0], got)


@pytest.mark.parametrize('k,s,p,d,n', GEOMETRIES)
def test_band_applies_like_its_matrix(k: int, s: int, p: int, d: int, n: int) -> None:
    conv = nn.Conv2d(1, 1, k, s, p, d)
    out = (n + 2 * p - d * (k - 1) - 1) // s + 1
    a = Footprint.of(conv).matrix(0, n, out)
    band = Band.from_matrix(a)
    assert band is not None and torch.equal(band.matrix(n, out), a)
    m = torch.rand(out, 3, 7)
    expected = torch.einsum('ij,jnw->inw', a.float(), m)
    assert torch.allclose(band.apply(m, 0, n), expected, atol=1e-5)
    assert np.allclose(band.apply(m.numpy(), 0, n), expected.numpy(), atol=1e-5)
    cols = band.apply(m.permute(2, 1, 0).contiguous(), 2, n)  # the width axis
    assert torch.allclose(cols, expected.permute(2, 1, 0), atol=1e-5)


@pytest.mark.parametrize('k,s,p,d,n', GEOMETRIES + [(1, 3, 0, 1, 12), (4, 4, 0, 1, 17)])
def test_band_gathers_like_its_matrix(k: int, s: int, p: int, d: int, n: int) -> None:
    conv = nn.Conv2d(1, 1, k, s, p, d)
    out = (n + 2 * p - d * (k - 1) - 1) // s + 1
    a = Footprint.of(conv).matrix(0, n, out)
    band = Band.from_matrix(a)
    assert band is not None
    m = torch.rand(2, out, 7)
    expected = torch.einsum('ij,njw->niw', a.float(), m)
    assert torch.allclose(band.gather(m, 1, n), expected, atol=1e-5)
    cols = band.gather(m.transpose(1, 2).contiguous(), 2, n)  # the width axis
    assert torch.allclose(cols, expected.transpose(1, 2), atol=1e-5)


def test_band_of_two_convs_gathers_with_its_weights() -> None:
    conv = Footprint.of(nn.Conv2d(1, 1, 5, 2))
    a = compose([(conv.matrix(0, 61, 29), conv.matrix(1, 61, 29)),
                 (conv.matrix(0, 29, 13), conv.matrix(1, 29, 13))])[0]
    band = Band.from_matrix(a)
    assert band is not None and max(band.weights) > 1  # overlapping footprints add up
    m = torch.rand(1, 13, 3)
    assert torch.allclose(band.gather(m, 1, 61), torch.einsum('ij,njw->niw', a.float(), m),
                          atol=1e-5)


def test_band_of_pooling_then_conv() -> None:
    pool, conv = Footprint.of(nn.MaxPool2d(2)), Footprint.of(nn.Conv2d(1, 1, 3, 2, 1))
    a = compose([(pool.matrix(0, 64, 32), pool.matrix(1, 64, 32)),
                 (conv.matrix(0, 32, 16), conv.matrix(1, 32, 16))])[0]
    band = Band.from_matrix(a)
    assert band == Band(stride=4, offset=2, weights=(1.0,) * 6)


def test_no_band_for_irregular_matrix() -> None:
    a = torch.eye(6, 3, dtype=torch.float64)
    a[5, 2] = 1.0
    assert Band.from_matrix(a) is None
