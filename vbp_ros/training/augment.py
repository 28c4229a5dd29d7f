"""PilotNet-style augmentation on network-size RGB images: brightness and horizontal shifts.

A horizontal shift of the image by k pixels is (to first order) a yaw rotation of the camera by
``k * su / f`` radians, where ``su`` is frame pixels per network pixel and ``f`` the focal length
in frame pixels. The steering label is corrected by the change of the pure-pursuit target, as
PilotNet corrects the labels of its shifted/rotated views: shifting the content RIGHT (the car
turned left) asks for a turn back to the right, i.e. a negative change.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vbp_ros.world.geometry import CameraGeometry, LOOKAHEAD_M


def shift_gain(camera: CameraGeometry | None = None, crop_width: float = 1.0,
               net_width: int = 200, lookahead: float = LOOKAHEAD_M) -> float:
    """Label change (1/m) per network pixel of rightward shift, for a camera geometry.

    Args:
        camera: the camera (default: the synthetic world's 1280x720, 70 degree camera).
        crop_width: fraction of the frame width the network sees.
        net_width: network input width in pixels.
        lookahead: lookahead distance of the pure-pursuit target (m).
    """
    cam = camera or CameraGeometry()
    yaw_per_px = crop_width * cam.width / net_width / cam.focal
    return -2.0 * yaw_per_px / lookahead


@dataclass(frozen=True)
class Augment:
    """Random brightness/contrast and horizontal shift with label correction.

    Attributes:
        brightness: max relative brightness change (0.3: x0.7 .. x1.3).
        contrast: max relative contrast change around the image mean.
        shift_px: max horizontal shift in network pixels (0 disables shifting).
        gain: label change per pixel of rightward shift (see :func:`shift_gain`).
    """

    brightness: float = 0.3
    contrast: float = 0.2
    shift_px: int = 6
    gain: float = shift_gain()

    def __call__(self, images: np.ndarray, targets: np.ndarray, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Augment a batch (N x H x W x 3 uint8, N targets); inputs are not modified."""
        n = images.shape[0]
        out = images.astype(np.float32)
        if self.brightness > 0 or self.contrast > 0:
            b = 1.0 + rng.uniform(-self.brightness, self.brightness, (n, 1, 1, 1))
            c = 1.0 + rng.uniform(-self.contrast, self.contrast, (n, 1, 1, 1))
            mean = out.mean(axis=(1, 2, 3), keepdims=True)
            out = ((out - mean) * c + mean) * b
        targets = targets.astype(np.float32).copy()
        if self.shift_px > 0:
            shifts = rng.integers(-self.shift_px, self.shift_px + 1, n)
            width = out.shape[2]
            cols = np.arange(width)
            for k, sh in enumerate(shifts):
                if sh:
                    out[k] = out[k][:, np.clip(cols - sh, 0, width - 1)]
            targets += (shifts * self.gain).astype(np.float32)
        return np.clip(out, 0, 255).astype(np.uint8), targets


NO_AUGMENT = Augment(brightness=0.0, contrast=0.0, shift_px=0)
__all__ = ['Augment', 'NO_AUGMENT', 'shift_gain']
