"""Sequence mode: a synthetic camera driving along one continuous road.

The road's curvature changes smoothly (piecewise-linear curvature along the arc length, i.e.
clothoid transitions between straights and bends). The car keeps to its lane with a gentle
weave, so the steering target varies continuously. Objects and shadows are placed along the road
per 100 m block from the seed, so any time can be rendered directly and identically.
"""
from __future__ import annotations

import math
from typing import Iterator

import cv2
import numpy as np

from vbp_ros.world.errors import WorldError
from vbp_ros.world.geometry import CameraGeometry, RoadShape
from vbp_ros.world.road import Frame, Labels, render
from vbp_ros.world.scene import (RoadScene, sample_appearance, sample_distractor,
                                 sample_markings, sample_shadows)

_STEP = 0.5          # centre-line resolution (m)
_BLOCK = 100.0       # objects and shadows are drawn per block of road (m)
_VIEW = 300.0        # how far ahead the road is handed to the renderer (m)


class _Centreline:
    """Road centre line in world coordinates, extended on demand from a seeded generator."""

    def __init__(self, rng: np.random.Generator, max_curvature: float) -> None:
        self._rng = rng
        self._kmax = max_curvature
        self.s = np.zeros(1)
        self.kappa = np.zeros(1)
        self.theta = np.zeros(1)
        self.x = np.zeros(1)
        self.y = np.zeros(1)

    def _next_knot(self) -> tuple[float, float]:
        length = float(self._rng.uniform(40.0, 160.0))
        if self._rng.random() < 0.35:
            return length, 0.0
        mag = float(self._rng.uniform(0.1, 1.0)) ** 1.5 * self._kmax
        return length, mag if self._rng.random() < 0.5 else -mag

    def extend(self, s_end: float) -> None:
        """Make sure the centre line reaches arc length ``s_end``."""
        while self.s[-1] < s_end:
            length, k_next = self._next_knot()
            n = max(2, int(round(length / _STEP)))
            s_new = self.s[-1] + _STEP * np.arange(1, n + 1)
            k_new = self.kappa[-1] + (k_next - self.kappa[-1]) * np.arange(1, n + 1) / n
            th_new = self.theta[-1] + np.cumsum(0.5 * (k_new + np.concatenate(
                [[self.kappa[-1]], k_new[:-1]])) * _STEP)
            mid = np.concatenate([[self.theta[-1]], th_new])
            mid = 0.5 * (mid[1:] + mid[:-1])
            x_new = self.x[-1] + np.cumsum(np.cos(mid) * _STEP)
            y_new = self.y[-1] + np.cumsum(np.sin(mid) * _STEP)
            self.s = np.concatenate([self.s, s_new])
            self.kappa = np.concatenate([self.kappa, k_new])
            self.theta = np.concatenate([self.theta, th_new])
            self.x = np.concatenate([self.x, x_new])
            self.y = np.concatenate([self.y, y_new])

    def window(self, s0: float, s1: float) -> slice:
        """Index range covering arc lengths [s0, s1]."""
        self.extend(s1 + _STEP)
        i0 = max(0, int(math.floor(s0 / _STEP)))
        return slice(i0, int(math.ceil(s1 / _STEP)) + 1)


class DriveSequence:
    """A continuous drive along a procedural road; frames are a pure function of (seed, time).

    Args:
        seed: selects the road, its looks and its objects.
        fps: frame rate used by iteration.
        speed: car speed in m/s.
        camera: camera geometry (sets the frame size, default 1280x720).
        size: output (height, width); with ``region`` renders just that part of the frame
            (e.g. the network crop at 66x200). Defaults to the camera's frame size.
        region: (y0, y1, x0, x1) part of the frame in frame pixels; default the whole frame.
        render_scale: render at this fraction of ``size`` and upscale (faster, softer).
        max_curvature: sharpest bend (1/m).
        full_labels: with ``render_scale < 1``, upscale the label masks to ``size`` too;
            False leaves them at the render size (saves a few ms per frame when only the
            image is used).
    """

    def __init__(self, seed: int = 0, fps: float = 30.0, speed: float = 15.0,
                 camera: CameraGeometry | None = None, size: tuple[int, int] | None = None,
                 region: tuple[float, float, float, float] | None = None,
                 render_scale: float = 1.0, max_curvature: float = 0.02,
                 full_labels: bool = True) -> None:
        if fps <= 0 or speed <= 0:
            raise WorldError(f'fps ({fps}) and speed ({speed}) must be positive')
        if not 0.05 <= render_scale <= 1.0:
            raise WorldError(f'render_scale {render_scale} must lie in [0.05, 1]')
        self.seed = int(seed)
        self.fps = float(fps)
        self.speed = float(speed)
        self.camera = camera or CameraGeometry()
        self.region = region
        self.size = tuple(size) if size else (self.camera.height, self.camera.width)
        self.render_scale = float(render_scale)
        self.full_labels = bool(full_labels)
        rng = np.random.default_rng([self.seed, 1])
        self._line = _Centreline(np.random.default_rng([self.seed, 2]), max_curvature)
        self._lanes_left = int(rng.choice([0, 1, 2], p=[0.1, 0.75, 0.15]))
        self._lanes_right = int(rng.choice([1, 2], p=[0.6, 0.4]))
        self._lane_width = float(rng.uniform(3.2, 3.7))
        ego = int(rng.integers(self._lanes_right))
        self._lane_offset = -(ego + 0.5) * self._lane_width
        self._markings, minfo = sample_markings(rng, self._lanes_left, self._lanes_right,
                                                self._lane_width)
        app = sample_appearance(rng)
        self._sun = app.pop('info')['sun']
        self._appearance = app
        self._kerb = float(rng.uniform(0.15, 0.3)) if rng.random() < 0.4 else 0.0
        self._shoulder = float(rng.uniform(0.3, 1.5)) if rng.random() < 0.6 else 0.0
        self._weave = rng.uniform(0.0, 2 * math.pi, 3)
        self._info = minfo
        self._blocks: dict[int, tuple] = {}

    def _block(self, b: int) -> tuple:
        """Objects and shadows of road block ``b`` (cached; deterministic from the seed)."""
        if b not in self._blocks:
            rng = np.random.default_rng([self.seed, 3, b])
            s0 = b * _BLOCK
            r_right = -self._lanes_right * self._lane_width
            r_left = self._lanes_left * self._lane_width
            margin = self._kerb + self._shoulder
            objs = []
            for _ in range(int(rng.poisson(2.0))):
                side = 1.0 if rng.random() < 0.5 else -1.0
                edge = (r_left if side > 0 else r_right) + side * margin
                objs.append(sample_distractor(rng, s0 + float(rng.uniform(0.0, _BLOCK)), side,
                                              edge))
            shadows = sample_shadows(rng, s0, s0 + _BLOCK, r_right, r_left, 0.03, self._sun)
            self._blocks[b] = (tuple(objs), shadows)
            if len(self._blocks) > 64:
                self._blocks.pop(next(iter(self._blocks)))
        return self._blocks[b]

    def pose(self, t: float) -> tuple[float, float, float]:
        """Arc length, lateral offset from the lane centre (m, + left) and heading error (rad)."""
        p = self._weave
        w1, w2 = 2 * math.pi / 9.0, 2 * math.pi / 3.7
        off = 0.35 * math.sin(w1 * t + p[0]) + 0.12 * math.sin(w2 * t + p[1])
        doff = 0.35 * w1 * math.cos(w1 * t + p[0]) + 0.12 * w2 * math.cos(w2 * t + p[1])
        return self.speed * t + 5.0, off, math.atan2(doff, self.speed)

    def scene_at(self, t: float) -> RoadScene:
        """The scene seen at time ``t`` (seconds from the start)."""
        s_car, off, psi = self.pose(t)
        line = self._line
        win = line.window(s_car - 2.0, s_car + _VIEW)
        k = int(round(s_car / _STEP))
        theta0 = float(line.theta[k])
        normal = np.array([-math.sin(theta0), math.cos(theta0)])
        r_car = self._lane_offset + off
        px, py = line.x[k] + normal[0] * r_car, line.y[k] + normal[1] * r_car
        heading = theta0 + psi
        ch, sh = math.cos(heading), math.sin(heading)
        dx, dy = line.x[win] - px, line.y[win] - py
        fwd = dx * ch + dy * sh
        left = -dx * sh + dy * ch
        grows = np.concatenate([[True], np.diff(fwd) > 1e-3])
        stop = int(np.argmin(grows)) if not grows.all() else fwd.size
        road = RoadShape(fwd[:stop], left[:stop], line.s[win][:stop])
        b0, b1 = max(0, int((s_car - 10.0) // _BLOCK)), int((s_car + _VIEW) // _BLOCK)
        objs, shadows = [], []
        for b in range(b0, b1 + 1):
            o, sh_ = self._block(b)
            objs.extend(o)
            shadows.extend(sh_)
        app = dict(self._appearance)
        drift = math.sin(2 * math.pi * t / 20.0 + self._weave[2])
        app['gain'] = app['gain'] * (1.0 + 0.12 * drift)
        info = {**self._info, 'offset': off, 'heading': psi, 't': t, 's': s_car}
        return RoadScene(road=road, curvature=float(line.kappa[k]),
                         lane_offset=self._lane_offset, lanes_left=self._lanes_left,
                         lanes_right=self._lanes_right, lane_width=self._lane_width,
                         markings=self._markings, kerb_width=self._kerb,
                         shoulder_width=self._shoulder, shadows=tuple(shadows),
                         distractors=tuple(objs), seed=self.seed * 100003 + int(t * 1000),
                         info=info, **app)

    def frame_at(self, t: float) -> Frame:
        """Render the frame at time ``t`` (labels at the output size unless full_labels=False)."""
        scene = self.scene_at(t)
        h, w = self.size
        if self.render_scale >= 1.0:
            return render(scene, self.camera, (h, w), self.region)
        small = (max(1, round(h * self.render_scale)), max(1, round(w * self.render_scale)))
        fr = render(scene, self.camera, small, self.region)
        up = (w, h)
        lab = fr.labels
        if not self.full_labels:
            return Frame(cv2.resize(fr.rgb, up, interpolation=cv2.INTER_LINEAR), lab)
        masks = [cv2.resize(m, up, interpolation=cv2.INTER_LINEAR)
                 for m in (lab.markings, lab.edges, lab.distractors, lab.road)]
        labels = Labels(lab.target, lab.curvature, *masks, info=lab.info)
        return Frame(cv2.resize(fr.rgb, up, interpolation=cv2.INTER_LINEAR), labels)

    def __iter__(self) -> Iterator[tuple[np.ndarray, Labels, float]]:
        """Endless (rgb, labels, t) at ``fps``."""
        k = 0
        while True:
            t = k / self.fps
            fr = self.frame_at(t)
            yield fr.rgb, fr.labels, t
            k += 1

    def frames(self, n: int, start: float = 0.0) -> Iterator[tuple[np.ndarray, Labels, float]]:
        """``n`` consecutive (rgb, labels, t) starting at time ``start``."""
        for k in range(int(n)):
            t = start + k / self.fps
            fr = self.frame_at(t)
            yield fr.rgb, fr.labels, t


def network_view(camera: CameraGeometry | None = None, preprocess: object | None = None
                 ) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    """(size, region) that renders straight at the network crop of a Preprocess."""
    from vbp_ros.pipeline.preprocess import Preprocess

    cam = camera or CameraGeometry()
    pp = preprocess if preprocess is not None else Preprocess()
    return tuple(pp.size), pp.crop_box(cam.height, cam.width)


__all__ = ['DriveSequence', 'network_view']
