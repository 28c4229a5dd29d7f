"""Mask visualisation: colour maps and heat-map overlays (OpenCV, uint8 in and out)."""
from __future__ import annotations

import threading

import cv2
import numpy as np

from vbp_ros.errors import InputError

COLORMAPS = {
    'jet': cv2.COLORMAP_JET,
    'turbo': cv2.COLORMAP_TURBO,
    'inferno': cv2.COLORMAP_INFERNO,
    'viridis': cv2.COLORMAP_VIRIDIS,
    'hot': cv2.COLORMAP_HOT,
    'gray': None,
}


def mask_to_uint8(mask: np.ndarray) -> np.ndarray:
    """A float mask in [0, 1] -> uint8 0..255 (values outside the range are an error)."""
    if mask.dtype == np.uint8:
        return mask
    if mask.size and (np.nanmin(mask) < 0 or np.nanmax(mask) > 1 or np.isnan(mask).any()):
        raise InputError('a float mask must lie in [0, 1]')
    return (mask * 255.0 + 0.5).astype(np.uint8)


def colorize(mask: np.ndarray, colormap: str = 'jet') -> np.ndarray:
    """HxW mask (uint8, or float in [0, 1]) -> HxWx3 BGR heat map."""
    if colormap not in COLORMAPS:
        raise InputError(f'colour map {colormap!r} is not one of {sorted(COLORMAPS)}')
    m = mask_to_uint8(mask)
    code = COLORMAPS[colormap]
    return cv2.cvtColor(m, cv2.COLOR_GRAY2BGR) if code is None else cv2.applyColorMap(m, code)


_scratch = threading.local()  # per-thread heat-map buffer: fresh 720p buffers cost page faults


def overlay(rgb: np.ndarray, mask: np.ndarray, alpha: float = 0.5,
            colormap: str = 'jet', out: np.ndarray | None = None,
            bgr_input: bool = False) -> np.ndarray:
    """Blend the heat map of ``mask`` over an RGB frame; returns BGR uint8 (ROS bgr8).

    Args:
        rgb: HxWx3 uint8 RGB frame (BGR if ``bgr_input``).
        mask: HxW mask at the frame's size (uint8, or float in [0, 1]).
        alpha: weight of the heat map (0 = frame only, 1 = heat map only).
        colormap: one of :data:`COLORMAPS`.
        out: optional HxWx3 uint8 array to write the result into (saves an allocation).
    """
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f'alpha {alpha} must be within [0, 1]')
    if rgb.shape[:2] != mask.shape[:2]:
        raise InputError(f'mask {mask.shape[:2]} and frame {rgb.shape[:2]} differ in size')
    if colormap not in COLORMAPS:
        raise InputError(f'colour map {colormap!r} is not one of {sorted(COLORMAPS)}')
    if bgr_input:  # a copy: the result is written into it
        bgr = np.array(rgb, order='C') if out is None else out
        if out is not None:
            np.copyto(out, rgb)
    else:
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR, dst=out)
    heat = getattr(_scratch, 'heat', None)
    if heat is None or heat.shape != bgr.shape:
        heat = _scratch.heat = np.empty_like(bgr)
    m = mask_to_uint8(mask)
    code = COLORMAPS[colormap]
    if code is None:
        cv2.cvtColor(m, cv2.COLOR_GRAY2BGR, dst=heat)
    else:
        cv2.applyColorMap(m, code, dst=heat)
    return cv2.addWeighted(heat, alpha, bgr, 1.0 - alpha, 0.0, dst=bgr)
