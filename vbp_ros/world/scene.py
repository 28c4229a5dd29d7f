"""Scene parameters of the synthetic road world and a seeded sampler for them.

A :class:`RoadScene` holds everything the renderer needs: the road seen from the car (a
:class:`~vbp_ros.world.geometry.RoadShape`), the lane layout and markings, surfaces, sky,
lighting, shadows, distractor objects and sensor noise. Positions on the ground are in road
coordinates: arc length ``s`` along the road and lateral offset ``r`` from the road centre line
(metres, positive LEFT). Traffic keeps right: the car drives in a lane with ``r < 0`` when the
road has lanes in both directions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from vbp_ros.world.geometry import CameraGeometry, pure_pursuit_target, RoadShape
from vbp_ros.world.errors import WorldError

CENTRE_STYLES = ('solid', 'dashed', 'double', 'solid_dashed', 'none')
DISTRACTOR_KINDS = ('car', 'box', 'sign')
WHITE = (235.0, 235.0, 228.0)
YELLOW = (230.0, 190.0, 40.0)


@dataclass(frozen=True)
class MarkingLine:
    """One painted line along the road.

    Attributes:
        r: lateral position of its centre (m from the road centre, left positive).
        width: line width (m).
        dash: dash length (m); 0 for a solid line.
        period: dash period (m).
        phase: arc length where a dash starts (m).
        colour: RGB paint colour.
    """

    r: float
    width: float = 0.15
    dash: float = 0.0
    period: float = 12.0
    phase: float = 0.0
    colour: tuple[float, float, float] = WHITE


@dataclass(frozen=True)
class Shadow:
    """A shadow on the ground (tree, pole, bridge): a band in road coordinates.

    Attributes:
        s: arc length where it begins; ``length`` along the road.
        r0, r1: lateral extent (m, r0 < r1); wide values cross the whole road.
        strength: fraction of light removed (0..1).
        wobble: amplitude (m) of the waviness of its lateral edges.
    """

    s: float
    length: float
    r0: float
    r1: float
    strength: float = 0.5
    wobble: float = 0.0
    wobble_freq: float = 0.5


@dataclass(frozen=True)
class Distractor:
    """An object beside the road: a parked car, a box or a traffic sign.

    Attributes:
        kind: 'car', 'box' or 'sign'.
        s, r: position of its centre on the ground in road coordinates.
        width, height, length: size in metres (for a sign: panel width/height and pole height).
        colour, colour2: main and secondary RGB colours.
    """

    kind: str
    s: float
    r: float
    width: float
    height: float
    length: float
    colour: tuple[float, float, float]
    colour2: tuple[float, float, float] = (240.0, 240.0, 240.0)


@dataclass(frozen=True)
class RoadScene:
    """Everything that defines one rendered frame (see the module docstring for coordinates).

    Attributes:
        road: the road centre line seen from the car.
        curvature: road curvature at the car (1/m, left positive).
        lane_offset: lateral position of the car's lane centre relative to the road centre (m).
        lanes_left, lanes_right: lane counts left and right of the centre line.
        lane_width: metres per lane.
        markings: painted lines.
        kerb_width: width of a raised kerb outside each road edge (0: none).
        shoulder_width: width of a gravel shoulder outside the kerb/edge.
        horizon_shift: vehicle pitch as a shift of the horizon (fraction of frame height).
        visibility: haze distance (m); far ground fades into the haze colour.
        gain, tint: global exposure and per-channel colour balance.
        noise_sigma: std of Gaussian sensor noise per frame pixel (grey levels).
        seed: seed of the sensor noise.
    """

    road: RoadShape
    curvature: float = 0.0
    lane_offset: float = -1.75
    lanes_left: int = 1
    lanes_right: int = 1
    lane_width: float = 3.5
    markings: tuple[MarkingLine, ...] = ()
    kerb_width: float = 0.0
    shoulder_width: float = 0.5
    asphalt: tuple[float, float, float] = (95.0, 95.0, 98.0)
    kerb: tuple[float, float, float] = (175.0, 172.0, 165.0)
    shoulder: tuple[float, float, float] = (140.0, 125.0, 100.0)
    verge: tuple[float, float, float] = (80.0, 120.0, 55.0)
    sky_horizon: tuple[float, float, float] = (200.0, 215.0, 230.0)
    sky_zenith: tuple[float, float, float] = (90.0, 140.0, 210.0)
    treeline: tuple[float, float, float] = (55.0, 80.0, 50.0)
    treeline_height: float = 0.02
    treeline_waves: tuple[tuple[float, float, float], ...] = ((5.0, 0.01, 0.0),)
    haze: tuple[float, float, float] = (185.0, 195.0, 205.0)
    visibility: float = 400.0
    asphalt_texture: tuple[tuple[float, float, float, float], ...] = ()
    verge_texture: tuple[tuple[float, float, float, float], ...] = ()
    shadows: tuple[Shadow, ...] = ()
    distractors: tuple[Distractor, ...] = ()
    gain: float = 1.0
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    noise_sigma: float = 3.0
    horizon_shift: float = 0.0
    seed: int = 0
    info: dict = field(default_factory=dict, compare=False)

    @property
    def edges(self) -> tuple[float, float]:
        """Lateral positions (right, left) of the road's edges."""
        return -self.lanes_right * self.lane_width, self.lanes_left * self.lane_width

    @property
    def target(self) -> float:
        """Steering target: pure-pursuit curvature back to the lane centre (1/m, + = left)."""
        return pure_pursuit_target(self.road, self.lane_offset)


def _colour(rng: np.random.Generator, base: tuple[float, float, float],
            spread: float) -> tuple[float, float, float]:
    jitter = rng.normal(0.0, spread, 3) + rng.normal(0.0, spread)
    return tuple(float(np.clip(c + j, 0.0, 255.0)) for c, j in zip(base, jitter))


def _texture(rng: np.random.Generator, n: int, amp: float,
             k_range: tuple[float, float]) -> tuple[tuple[float, float, float, float], ...]:
    """Random plane waves (k_s, k_r, amplitude, phase) in road coordinates."""
    waves = []
    for _ in range(n):
        k = math.exp(rng.uniform(math.log(k_range[0]), math.log(k_range[1])))
        ang = rng.uniform(0.0, math.pi)
        waves.append((k * math.cos(ang), k * math.sin(ang), amp * rng.uniform(0.3, 1.0),
                      rng.uniform(0.0, 2.0 * math.pi)))
    return tuple(waves)


def sample_curvature(rng: np.random.Generator, max_curvature: float = 0.02) -> float:
    """Road curvature drawn from a mix of uniform and log-uniform magnitudes, either sign."""
    if rng.random() < 0.6:
        mag = rng.uniform(0.0, max_curvature)
    else:
        mag = math.exp(rng.uniform(math.log(2e-4), math.log(max_curvature)))
    return float(mag if rng.random() < 0.5 else -mag)


def sample_markings(rng: np.random.Generator, lanes_left: int, lanes_right: int,
                    lane_width: float) -> tuple[tuple[MarkingLine, ...], dict]:
    """Lane markings for a layout: centre line style, lane separators and edge lines."""
    width = rng.uniform(0.11, 0.2)
    period = rng.uniform(8.0, 13.0)
    dash = period * rng.uniform(0.25, 0.5)
    paint = _colour(rng, WHITE, 6.0)
    centre_col = YELLOW if rng.random() < 0.3 else paint
    lines: list[MarkingLine] = []
    style = 'none'
    painted = rng.random() > 0.08
    if painted and lanes_left > 0:
        style = str(rng.choice(CENTRE_STYLES[:4], p=[0.3, 0.35, 0.2, 0.15]))
        gap = width + rng.uniform(0.08, 0.15)
        ph = rng.uniform(0.0, period)
        if style == 'solid':
            lines.append(MarkingLine(0.0, width, colour=centre_col))
        elif style == 'dashed':
            lines.append(MarkingLine(0.0, width, dash, period, ph, centre_col))
        else:
            second = dash if style == 'solid_dashed' else 0.0
            lines.append(MarkingLine(gap / 2, width, colour=centre_col))
            lines.append(MarkingLine(-gap / 2, width, second, period, ph, centre_col))
    if painted:
        for k in range(1, lanes_right):
            lines.append(MarkingLine(-k * lane_width, width, dash, period,
                                     rng.uniform(0.0, period), paint))
        for k in range(1, lanes_left):
            lines.append(MarkingLine(k * lane_width, width, dash, period,
                                     rng.uniform(0.0, period), paint))
    edge_lines = painted and rng.random() < 0.75
    if edge_lines:
        inset = rng.uniform(0.15, 0.35)
        lines.append(MarkingLine(-lanes_right * lane_width + inset, width, colour=paint))
        if lanes_left > 0 or style == 'none':
            lines.append(MarkingLine(lanes_left * lane_width - inset, width, colour=paint))
        else:
            lines.append(MarkingLine(-inset, width, colour=paint))
    return tuple(lines), {'centre_style': style, 'edge_lines': edge_lines}


def sample_distractor(rng: np.random.Generator, s: float, side: float, edge: float
                      ) -> Distractor:
    """One object on the verge, ``side`` = +1 (left) or -1 (right) of the road edge ``edge``."""
    kind = str(rng.choice(DISTRACTOR_KINDS, p=[0.45, 0.25, 0.3]))
    if kind == 'car':
        w, h, ln = rng.uniform(1.7, 1.95), rng.uniform(1.35, 1.6), rng.uniform(3.8, 4.8)
        col = tuple(float(c) for c in rng.uniform(20.0, 230.0, 3))
        gap = rng.uniform(0.6, 2.5)
        return Distractor(kind, s, edge + side * (gap + w / 2), w, h, ln, col, (40.0, 50.0, 60.0))
    if kind == 'box':
        w = rng.uniform(0.5, 1.3)
        col = _colour(rng, (150.0, 115.0, 75.0) if rng.random() < 0.6 else (120.0, 120.0, 125.0),
                      15.0)
        return Distractor(kind, s, edge + side * rng.uniform(0.8, 4.0), w,
                          w * rng.uniform(0.6, 1.0),
                          w * rng.uniform(0.8, 1.5), col)
    palette = [(200.0, 30.0, 30.0), (30.0, 70.0, 170.0), (20.0, 120.0, 60.0), (230.0, 190.0, 30.0)]
    col = palette[int(rng.integers(len(palette)))]
    size = rng.uniform(0.6, 1.4)
    return Distractor(kind, s, edge + side * rng.uniform(0.7, 3.0), size,
                      size * rng.uniform(0.6, 1.1),
                      rng.uniform(1.8, 2.6), col, (240.0, 240.0, 235.0))


def sample_appearance(rng: np.random.Generator) -> dict:
    """Surfaces, sky, lighting and noise: the scene fields that do not depend on geometry."""
    dry = rng.random() < 0.35
    sun = rng.uniform(0.0, 1.0)
    overcast = 1.0 - sun
    sky_h = np.array([200.0, 212.0, 228.0]) * (0.85 + 0.2 * sun)
    sky_z = np.array([70.0, 125.0, 215.0]) * sun + np.array([175.0, 180.0, 188.0]) * overcast
    return {
        'asphalt': _colour(rng, (rng.uniform(60.0, 135.0),) * 3, 4.0),
        'kerb': _colour(rng, (178.0, 175.0, 168.0), 12.0),
        'shoulder': _colour(rng, (150.0, 132.0, 105.0), 18.0),
        'verge': _colour(rng, (150.0, 135.0, 80.0) if dry else (75.0, 120.0, 50.0), 18.0),
        'sky_horizon': tuple(float(c) for c in np.clip(sky_h, 0, 255)),
        'sky_zenith': tuple(float(c) for c in np.clip(sky_z, 0, 255)),
        'treeline': _colour(rng, (50.0, 75.0, 48.0) if rng.random() < 0.7
                            else (95.0, 105.0, 120.0), 12.0),
        'treeline_height': rng.uniform(0.003, 0.04),
        'treeline_waves': tuple((float(rng.uniform(2.0, 40.0)), float(rng.uniform(0.002, 0.015)),
                                 float(rng.uniform(0.0, 6.3))) for _ in range(4)),
        'haze': tuple(float(c) for c in np.clip(sky_h * 0.95, 0, 255)),
        'visibility': rng.uniform(150.0, 600.0),
        'asphalt_texture': _texture(rng, 3, 0.06, (0.05, 2.0)),
        'verge_texture': _texture(rng, 4, 0.18, (0.1, 6.0)),
        'gain': rng.uniform(0.65, 1.3),
        'tint': tuple(float(t) for t in rng.uniform(0.92, 1.08, 3)),
        'noise_sigma': rng.uniform(1.0, 8.0),
        'info': {'sun': round(float(sun), 3)},
    }


def sample_shadows(rng: np.random.Generator, s_start: float, s_end: float, r_min: float,
                   r_max: float, density: float, sun: float) -> tuple[Shadow, ...]:
    """Shadows of trees and poles across or beside the road between two arc lengths."""
    n = int(rng.poisson(density * (s_end - s_start) * (0.2 + sun)))
    shadows = []
    for _ in range(n):
        if rng.random() < 0.5:  # across the whole road
            r0, r1 = r_min - 5.0, r_max + 5.0
        else:
            side = rng.uniform(r_min - 4.0, r_max + 4.0)
            r0, r1 = side - rng.uniform(1.0, 4.0), side + rng.uniform(1.0, 4.0)
        shadows.append(Shadow(float(rng.uniform(s_start, s_end)), float(rng.uniform(0.5, 8.0)),
                              float(r0), float(r1), float(rng.uniform(0.25, 0.6) * (0.4 + sun)),
                              float(rng.uniform(0.0, 0.8)), float(rng.uniform(0.2, 1.5))))
    return tuple(shadows)


def sample_scene(rng: np.random.Generator, camera: CameraGeometry | None = None, *,
                 curvature: float | None = None, offset: float | None = None,
                 heading: float | None = None, max_curvature: float = 0.02) -> RoadScene:
    """Draw a random scene: geometry, layout, markings, appearance, shadows and distractors.

    Args:
        rng: the random source (the scene is a pure function of its state).
        camera: unused for sampling, kept for symmetry with the renderer.
        curvature: fix the road curvature (1/m, + = left) instead of drawing it.
        offset: fix the car's lateral offset from its lane centre (m, + = left).
        heading: fix the car's heading relative to the road (rad, + = left).
        max_curvature: largest curvature magnitude drawn.

    Returns:
        A :class:`RoadScene`; its ``target`` is the steering label.
    """
    del camera
    if max_curvature <= 0:
        raise WorldError(f'max_curvature {max_curvature} must be positive')
    kappa = sample_curvature(rng, max_curvature) if curvature is None else float(curvature)
    rate = float(rng.normal(0.0, max_curvature / 150.0))
    off = float(rng.uniform(-0.6, 0.6)) if offset is None else float(offset)
    psi = float(rng.normal(0.0, 0.015)) if heading is None else float(heading)
    lanes_left = int(rng.choice([0, 1, 2], p=[0.15, 0.7, 0.15]))
    lanes_right = int(rng.choice([1, 2, 3], p=[0.55, 0.3, 0.15]))
    lane_width = float(rng.uniform(3.0, 3.8))
    ego = int(rng.integers(lanes_right))
    lane_offset = -(ego + 0.5) * lane_width
    s0 = float(rng.uniform(0.0, 1000.0))
    # The car is at lateral (lane_offset + off) from the road centre, pointing psi left of it.
    road = RoadShape.polynomial(-(lane_offset + off), -psi, kappa, rate, s0)
    markings, minfo = sample_markings(rng, lanes_left, lanes_right, lane_width)
    app = sample_appearance(rng)
    kerb_width = float(rng.uniform(0.15, 0.3)) if rng.random() < 0.4 else 0.0
    shoulder = float(rng.uniform(0.0, 1.5)) if rng.random() < 0.6 else 0.0
    r_right, r_left = -lanes_right * lane_width, lanes_left * lane_width
    shadows = sample_shadows(rng, s0, s0 + 80.0, r_right, r_left, 0.03, app['info']['sun'])
    objects = []
    for _ in range(int(rng.integers(0, 5))):
        side = 1.0 if rng.random() < 0.5 else -1.0
        edge = (r_left if side > 0 else r_right) + side * (kerb_width + shoulder)
        objects.append(sample_distractor(rng, s0 + float(rng.uniform(6.0, 70.0)), side, edge))
    info = {**app.pop('info'), **minfo, 'offset': off, 'heading': psi, 'curvature_rate': rate}
    return RoadScene(road=road, curvature=kappa, lane_offset=lane_offset, lanes_left=lanes_left,
                     lanes_right=lanes_right, lane_width=lane_width, markings=markings,
                     kerb_width=kerb_width, shoulder_width=shoulder, shadows=shadows,
                     distractors=tuple(objects),
                     horizon_shift=float(rng.normal(0.0, 0.004)),
                     seed=int(rng.integers(2 ** 31)), info=info, **app)


def with_noise(scene: RoadScene, noise_sigma: float) -> RoadScene:
    """The same scene with another sensor-noise level (0 for a clean render)."""
    return replace(scene, noise_sigma=float(noise_sigma))
