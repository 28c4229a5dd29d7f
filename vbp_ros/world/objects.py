"""Drawing of distractor objects (parked cars, boxes, signs) with anti-aliased coverage.

Objects are boxes aligned with the camera axes. Each visible face projects to a rectangle or a
trapezoid with two vertical or two horizontal sides; its per-pixel coverage is the product of
two interval coverages (an exact box filter along one axis), which keeps thin poles and distant
objects consistent between a full-resolution render and a direct network-size render.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vbp_ros.world.geometry import CameraGeometry

Colour = tuple[float, float, float]


def clip01(x: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] in place (cheaper than ``np.clip`` on small arrays) and return ``x``."""
    np.maximum(x, 0.0, out=x)
    return np.minimum(x, 1.0, out=x)


def interval_cover(centres: np.ndarray, lo: np.ndarray | float, hi: np.ndarray | float
                   ) -> np.ndarray:
    """Fraction of unit pixels centred at ``centres`` that lies inside ``[lo, hi]``."""
    return clip01(np.minimum(centres + 0.5, hi) - np.maximum(centres - 0.5, lo))


@dataclass
class Canvas:
    """An output image region with its mapping to frame pixel coordinates.

    Attributes:
        img: 3xHxW planar float32 image being drawn (modified in place).
        x0, y0: frame coordinates of the region's top-left corner.
        su, sv: frame pixels per output pixel, horizontally and vertically.
        cover: HxW float32 accumulated object coverage (the distractor label).
    """

    img: np.ndarray
    x0: float
    y0: float
    su: float
    sv: float
    cover: np.ndarray

    def to_out(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame coordinates -> continuous output coordinates (pixel k spans [k, k+1])."""
        return (np.asarray(u) - self.x0) / self.su, (np.asarray(v) - self.y0) / self.sv

    @staticmethod
    def _window(lo: float, hi: float, size: int) -> tuple[int, int]:
        a = min(max(math.floor(lo), 0), size)
        b = min(max(math.ceil(hi), 0), size)
        return a, b

    def blend(self, i0: int, j0: int, cov: np.ndarray, colour: Colour) -> None:
        """Paint ``colour`` with coverage ``cov`` at rows/cols starting at (i0, j0)."""
        if cov.size == 0:
            return
        h, w = cov.shape
        for ch in range(3):
            region = self.img[ch, i0:i0 + h, j0:j0 + w]
            region += cov * (np.float32(colour[ch]) - region)
        c = self.cover[i0:i0 + h, j0:j0 + w]
        np.maximum(c, cov, out=c)

    def vtrap(self, ua: float, ub: float, tops: tuple[float, float],
              bots: tuple[float, float], colour: Colour) -> None:
        """Quad with vertical sides at output columns ua < ub; top/bottom edges linear in u."""
        h, w = self.cover.shape
        j0, j1 = self._window(ua, ub, w)
        i0, i1 = self._window(min(tops), max(bots), h)
        if j1 <= j0 or i1 <= i0 or ub - ua < 1e-6:
            return
        jc = np.arange(j0, j1, dtype=np.float32) + 0.5
        frac = np.clip((jc - ua) / (ub - ua), 0.0, 1.0)
        top = tops[0] + frac * (tops[1] - tops[0])
        bot = bots[0] + frac * (bots[1] - bots[0])
        ic = np.arange(i0, i1, dtype=np.float32)[:, None] + 0.5
        cov = interval_cover(jc, ua, ub)[None, :] * interval_cover(ic, top[None], bot[None])
        self.blend(i0, j0, cov.astype(np.float32), colour)

    def htrap(self, va: float, vb: float, lefts: tuple[float, float],
              rights: tuple[float, float], colour: Colour) -> None:
        """Quad with horizontal sides at output rows va < vb; left/right edges linear in v."""
        h, w = self.cover.shape
        i0, i1 = self._window(va, vb, h)
        j0, j1 = self._window(min(lefts), max(rights), w)
        if j1 <= j0 or i1 <= i0 or vb - va < 1e-6:
            return
        ic = np.arange(i0, i1, dtype=np.float32) + 0.5
        frac = np.clip((ic - va) / (vb - va), 0.0, 1.0)
        left = lefts[0] + frac * (lefts[1] - lefts[0])
        right = rights[0] + frac * (rights[1] - rights[0])
        jc = np.arange(j0, j1, dtype=np.float32)[None, :] + 0.5
        cov = interval_cover(ic, va, vb)[:, None] * interval_cover(jc, left[:, None],
                                                                   right[:, None])
        self.blend(i0, j0, cov.astype(np.float32), colour)


def _project_out(canvas: Canvas, camera: CameraGeometry, shift: float,
                 corners: tuple[tuple[float, float], ...], up: float
                 ) -> tuple[list[float], list[float]]:
    """Project ground-aligned corners (x_right, z) at height ``up`` to output coordinates."""
    phi = camera.pitch(shift)
    cp, sp = math.cos(phi), math.sin(phi)
    cx, cy = camera.centre
    f = camera.focal
    down = camera.mount_height - up
    us, vs = [], []
    for xr, zz in corners:
        zc = max(down * sp + zz * cp, 1e-3)
        us.append((cx + f * xr / zc - canvas.x0) / canvas.su)
        vs.append((cy + f * (down * cp - zz * sp) / zc - canvas.y0) / canvas.sv)
    return us, vs


def draw_box(canvas: Canvas, camera: CameraGeometry, shift: float, x: tuple[float, float],
             z: tuple[float, float], up: tuple[float, float], colour: Colour) -> None:
    """Draw a camera-aligned box: x = (right0, right1), z = (near, far), up = (bottom, top)."""
    col = np.asarray(colour, np.float32)
    corners = ((x[0], z[0]), (x[1], z[0]), (x[0], z[1]), (x[1], z[1]))
    u_bot, v_bot = _project_out(canvas, camera, shift, corners, up[0])
    u_top, v_top = _project_out(canvas, camera, shift, corners, up[1])
    h, w = canvas.cover.shape
    if max(u_bot) < 0 or min(u_bot) > w or max(v_bot) < 0 or min(v_top) > h:
        return
    # corners: 0 near-left, 1 near-right, 2 far-left, 3 far-right
    if x[0] > 0:  # object right of the camera: its left side faces us
        canvas.vtrap(u_bot[2], u_bot[0], (v_top[2], v_top[0]), (v_bot[2], v_bot[0]),
                     tuple(col * 0.7))
    elif x[1] < 0:
        canvas.vtrap(u_bot[1], u_bot[3], (v_top[1], v_top[3]), (v_bot[1], v_bot[3]),
                     tuple(col * 0.7))
    if up[1] < camera.mount_height:  # top face visible from above
        canvas.htrap(v_top[2], v_top[0], (u_top[2], u_top[0]), (u_top[3], u_top[1]),
                     tuple(np.minimum(col * 1.1, 255.0)))
    canvas.vtrap(u_bot[0], u_bot[1], (v_top[0], v_top[1]), (v_bot[0], v_bot[1]),
                 tuple(col * 0.85))


def draw_rect(canvas: Canvas, camera: CameraGeometry, shift: float, x: tuple[float, float],
              zc: float, up: tuple[float, float], colour: Colour) -> None:
    """Draw a flat rectangle facing the camera (sign panels, poles)."""
    draw_box(canvas, camera, shift, x, (zc, zc + 1e-3), up, colour)


def draw_distractor(canvas: Canvas, camera: CameraGeometry, shift: float, kind: str,
                    x_right: float, z: float, size: tuple[float, float, float],
                    colour: Colour, colour2: Colour) -> None:
    """Draw one object whose ground centre is at (x_right, z) in camera coordinates."""
    w, h, ln = size
    if kind == 'car':
        zn, zf = z - ln / 2, z + ln / 2
        draw_box(canvas, camera, shift, (x_right - w * 0.46, x_right + w * 0.46),
                 (zn + 0.2, zf - 0.2),
                 (0.0, 0.4), (25.0, 25.0, 28.0))
        draw_box(canvas, camera, shift, (x_right - w / 2, x_right + w / 2), (zn, zf),
                 (0.3, 0.62 * h), colour)
        draw_box(canvas, camera, shift, (x_right - w * 0.42, x_right + w * 0.42),
                 (zn + 0.3 * ln, zf - 0.2 * ln), (0.62 * h, h), colour2)
    elif kind == 'box':
        draw_box(canvas, camera, shift, (x_right - w / 2, x_right + w / 2),
                 (z - ln / 2, z + ln / 2),
                 (0.0, h), colour)
    else:  # sign: pole of height `ln` carrying a panel of w x h
        draw_rect(canvas, camera, shift, (x_right - 0.04, x_right + 0.04), z, (0.0, ln),
                  (150.0, 150.0, 150.0))
        draw_rect(canvas, camera, shift, (x_right - w / 2, x_right + w / 2), z - 0.02,
                  (ln, ln + h),
                  colour)
        draw_rect(canvas, camera, shift, (x_right - w * 0.35, x_right + w * 0.35), z - 0.03,
                  (ln + 0.15 * h, ln + 0.85 * h), colour2)
