"""Preprocessing: crop box, sizes, colour spaces, normalisation, mask placement."""
from __future__ import annotations

import numpy as np
import pytest

from vbp_ros.errors import InputError
from vbp_ros.pipeline.preprocess import Preprocess


def test_default_is_pilotnet_yuv(road_image: np.ndarray) -> None:
    x = Preprocess()(road_image)
    assert x.shape == (3, 66, 200) and x.dtype == np.float32
    assert -2.01 <= x.min() and x.max() <= 2.01


def test_crop_box_is_resolution_independent() -> None:
    p = Preprocess(crop=(0.5, 1.0, 0.25, 0.75))
    assert p.crop_box(480, 640) == (240, 480, 160, 480)
    assert p.crop_box(720, 1280) == (360, 720, 320, 960)


def test_crop_selects_region() -> None:
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[50:] = 255  # bottom half white
    x = Preprocess(crop=(0.5, 1.0, 0.0, 1.0), size=(10, 20), colour='rgb',
                   mean=(0, 0, 0), std=(1, 1, 1))(frame)
    assert np.allclose(x, 1.0)


@pytest.mark.parametrize('colour,channels', [('yuv', 3), ('rgb', 3), ('gray', 1)])
def test_colour_spaces(road_image: np.ndarray, colour: str, channels: int) -> None:
    p = Preprocess(colour=colour, mean=(0.5,) * channels, std=(0.5,) * channels)
    assert p(road_image).shape == (channels, 66, 200)


def test_resize_close_to_area_average(road_image: np.ndarray) -> None:
    import cv2
    p = Preprocess(crop=(0.0, 1.0, 0.0, 1.0))
    exact = cv2.resize(road_image, (200, 66), interpolation=cv2.INTER_AREA).astype(float)
    assert np.abs(p.to_network_rgb(road_image).astype(float) - exact).mean() < 2.0


def test_mask_to_frame_zero_outside_crop() -> None:
    p = Preprocess(crop=(0.5, 1.0, 0.0, 1.0))
    full = p.mask_to_frame(np.full((66, 200), 200, np.uint8), 480, 640)
    assert full.shape == (480, 640)
    assert (full[:240] == 0).all() and (full[240:] == 200).all()


def test_round_trip_dict() -> None:
    p = Preprocess(crop=(0.3, 0.9, 0.1, 0.9), size=(64, 128), colour='gray', mean=(0.4,),
                   std=(0.2,))
    assert Preprocess.from_dict(p.to_dict()) == p


@pytest.mark.parametrize('kwargs', [{'crop': (0.6, 0.5, 0, 1)}, {'colour': 'hsv'},
                                    {'mean': (0.5,)}, {'size': (0, 10)},
                                    {'size': (66.0, 200)}, {'std': (0.2, 0.0, 0.2)},
                                    {'mean': (0.5, float('nan'), 0.5)}])
def test_bad_settings(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Preprocess(**kwargs)


def test_bad_frame() -> None:
    with pytest.raises(InputError, match='uint8'):
        Preprocess()(np.zeros((10, 10), np.uint8))


def test_crop_box_stays_inside_tiny_frames() -> None:
    pre = Preprocess(crop=(0.96, 1.0, 0.0, 1.0))
    for h in range(1, 40):
        y0, y1, x0, x1 = pre.crop_box(h, 7)
        assert 0 <= y0 < y1 <= h and 0 <= x0 < x1 <= 7
        frame = np.full((h, 7, 3), 100, np.uint8)
        assert pre.to_network_rgb(frame).shape == (*pre.size, 3)
        assert pre.mask_to_frame(np.full(pre.size, 255, np.uint8), h, 7)[y0:y1].min() == 255


@pytest.mark.parametrize('size', [(1, 1), (4, 1), (66, 200)])
def test_gray_networks_of_any_size(size: tuple) -> None:
    pre = Preprocess(colour='gray', mean=(0.4,), std=(0.2,), size=size)
    out = pre(np.full((40, 60, 3), 51, np.uint8))
    assert out.shape == (1, *size)
    assert np.allclose(out, (0.2 - 0.4) / 0.2, atol=1e-6)
