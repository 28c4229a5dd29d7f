"""A steering-over-time strip drawn with OpenCV, cheap enough to redraw for every video frame.

The whole drive's curve is drawn once into a background image; each frame only copies it and
adds a cursor and the current value (well under a millisecond at 1280 px).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

BG = (24, 24, 24)
GRID = (70, 70, 70)
CURVE = (80, 200, 255)
CURSOR = (60, 60, 255)
TEXT = (230, 230, 230)
FONT = cv2.FONT_HERSHEY_SIMPLEX


class SteeringStrip:
    """Steering angle (degrees) against time, with a cursor at the current frame.

    Args:
        times: seconds from the drive's start, one per steering value, ascending.
        angles: steering angles in radians (+ = left).
        width, height: strip size in pixels.
    """

    def __init__(self, times: np.ndarray, angles: np.ndarray, width: int,
                 height: int = 160) -> None:
        """Draw the background once."""
        if width < 32 or height < 32:
            raise ValueError(f'strip size {width}x{height} is too small (min 32x32)')
        self.width, self.height = int(width), int(height)
        self.times = np.asarray(times, np.float64)
        self.degrees = np.degrees(np.asarray(angles, np.float64))
        self.margin_l, self.margin_r, self.margin_y = 40, 8, 16
        span = float(np.max(np.abs(self.degrees))) if self.degrees.size else 0.0
        self.limit = _nice_limit(span)
        self.t0 = float(self.times[0]) if self.times.size else 0.0
        self.t1 = float(self.times[-1]) if self.times.size else 1.0
        if self.t1 <= self.t0:
            self.t1 = self.t0 + 1.0
        self.background = self._draw_background()

    def x_of(self, t: float | np.ndarray) -> np.ndarray:
        """Pixel column of a time (seconds)."""
        w = self.width - self.margin_l - self.margin_r
        return self.margin_l + (np.asarray(t, np.float64) - self.t0) / (self.t1 - self.t0) * w

    def y_of(self, deg: float | np.ndarray) -> np.ndarray:
        """Pixel row of an angle (degrees); left turns are drawn up."""
        h = self.height - 2 * self.margin_y
        return self.margin_y + (0.5 - np.asarray(deg, np.float64) / (2 * self.limit)) * h

    def _draw_background(self) -> np.ndarray:
        img = np.full((self.height, self.width, 3), BG, np.uint8)
        for deg in (-self.limit, 0.0, self.limit):
            y = int(round(float(self.y_of(deg))))
            cv2.line(img, (self.margin_l, y), (self.width - self.margin_r, y), GRID, 1)
            cv2.putText(img, f'{deg:+.0f}' if deg else '0', (4, y + 4), FONT, 0.4, TEXT, 1,
                        cv2.LINE_AA)
        if self.degrees.size:
            pts = np.stack([self.x_of(self.times), self.y_of(self.degrees)], axis=1)
            pts = np.round(pts * 4).astype(np.int32).reshape(-1, 1, 2)  # 2 fractional bits
            cv2.polylines(img, [pts], False, CURVE, 1, cv2.LINE_AA, shift=2)
        return img

    def render(self, t: float, value_rad: float | None = None) -> np.ndarray:
        """Draw the strip with a cursor at time ``t`` (seconds) and the value written out."""
        img = self.background.copy()
        x = int(round(float(self.x_of(t))))
        cv2.line(img, (x, 0), (x, self.height - 1), CURSOR, 1)
        if value_rad is not None and math.isfinite(value_rad):
            deg = math.degrees(value_rad)
            y = int(round(float(self.y_of(max(-self.limit, min(self.limit, deg))))))
            cv2.circle(img, (x, y), 3, CURSOR, -1, cv2.LINE_AA)
            side = 'left' if deg > 0 else 'right' if deg < 0 else 'straight'
            text = f't {t - self.t0:7.2f} s   steering {deg:+6.2f} deg ({side})'
            cv2.putText(img, text, (self.margin_l + 6, self.height - 3), FONT, 0.42, TEXT, 1,
                        cv2.LINE_AA)
        return img


def _nice_limit(span: float) -> float:
    """Round an absolute maximum up to 1, 2 or 5 times a power of ten (min 1 degree)."""
    span = max(span, 1.0)
    exp = 10 ** math.floor(math.log10(span))
    for m in (1, 2, 5, 10):
        if span <= m * exp:
            return float(m * exp)
    return float(10 * exp)  # pragma: no cover
