"""Overlay and colour maps."""
from __future__ import annotations

import numpy as np
import pytest

from vbp_ros.core.image import colorize, COLORMAPS, mask_to_uint8, overlay
from vbp_ros.errors import InputError


def test_overlay_blends_heat_map_in_bgr() -> None:
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 0] = 200  # red in RGB
    mask = np.zeros((4, 6), np.float32)
    out = overlay(rgb, mask, alpha=0.0)
    assert out.shape == (4, 6, 3) and out.dtype == np.uint8
    assert (out[..., 2] == 200).all() and (out[..., 0] == 0).all()  # BGR: red is channel 2
    hot = overlay(rgb, np.ones((4, 6), np.float32), alpha=1.0, colormap='gray')
    assert (hot == 255).all()


@pytest.mark.parametrize('name', sorted(COLORMAPS))
def test_colormaps(name: str) -> None:
    assert colorize(np.linspace(0, 1, 12).reshape(3, 4), name).shape == (3, 4, 3)


def test_bad_inputs() -> None:
    with pytest.raises(InputError, match='differ'):
        overlay(np.zeros((4, 6, 3), np.uint8), np.zeros((4, 5), np.uint8))
    with pytest.raises(InputError, match='alpha'):
        overlay(np.zeros((4, 6, 3), np.uint8), np.zeros((4, 6), np.uint8), alpha=2)
    with pytest.raises(InputError, match=r'\[0, 1\]'):
        mask_to_uint8(np.full((2, 2), 1.5, np.float32))
    with pytest.raises(InputError, match='colour map'):
        colorize(np.zeros((2, 2), np.uint8), 'rainbow')
