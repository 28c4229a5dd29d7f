"""Vectorised renderer of road scenes, with per-pixel ground-truth labels.

:func:`render` draws a :class:`~vbp_ros.world.scene.RoadScene` at any resolution, either the
whole camera frame or just a region of it (e.g. the network's crop, straight at 66x200). Every
pixel is box-filtered analytically over its footprint on the ground, so a direct low-resolution
render matches a full-resolution render shrunk with area interpolation (what
:class:`~vbp_ros.pipeline.preprocess.Preprocess` does).

Labels are per-pixel coverages in [0, 1]: lane markings, road edges (the asphalt border +-0.15 m
plus kerbs), distractor objects and the road surface, and the steering target (1/m, + = left).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vbp_ros.world.errors import WorldError
from vbp_ros.world.geometry import CameraGeometry, MAX_DISTANCE_M
from vbp_ros.world.objects import Canvas, clip01, draw_distractor, interval_cover
from vbp_ros.world.scene import RoadScene

EDGE_BAND_M = 0.15
_TWO_PI = 2.0 * np.pi


@dataclass
class Labels:
    """Ground truth of one rendered frame.

    Attributes:
        target: steering target, curvature in 1/m (positive = LEFT turn).
        curvature: road curvature at the car (1/m, positive = left).
        markings, edges, distractors, road: HxW float32 coverage masks in [0, 1].
        info: scene description (layout, styles, offsets) for reports.
    """

    target: float
    curvature: float
    markings: np.ndarray
    edges: np.ndarray
    distractors: np.ndarray
    road: np.ndarray
    info: dict = field(default_factory=dict)

    def relevant(self, threshold: float = 0.25) -> np.ndarray:
        """Boolean mask of pixels on lane markings or road edges (coverage >= threshold)."""
        return np.maximum(self.markings, self.edges) >= threshold


@dataclass
class Frame:
    """A rendered RGB image with its labels."""

    rgb: np.ndarray
    labels: Labels


def _sinc_att(k: float, footprint: np.ndarray) -> np.ndarray:
    """Attenuation of a wave with angular frequency k by a box filter of the given width."""
    return np.sinc(k * footprint / _TWO_PI).astype(np.float32)


def _texture(waves: tuple, s: np.ndarray, r: np.ndarray, ds: np.ndarray,
             dr: np.ndarray) -> np.ndarray:
    """1 + a sum of plane waves in road coordinates, band-limited to the pixel footprint."""
    out = np.ones(r.shape, np.float32)
    for ks, kr, amp, phase in waves:
        att = (amp * _sinc_att(ks, ds) * _sinc_att(kr, dr)).astype(np.float32)
        arg = np.multiply(r, np.float32(kr))
        arg += (ks * s + phase).astype(np.float32)[:, None]
        np.cos(arg, out=arg)
        arg *= att[:, None]
        out += arg
    return out


def _dash_cumulative(x: np.ndarray, dash: float, period: float) -> np.ndarray:
    """Painted length of a dash pattern (dashes [k P, k P + D]) between 0 and x."""
    return np.floor(x / period) * dash + np.minimum(np.mod(x, period), dash)


def _blend(img: np.ndarray, cov: np.ndarray, colour: tuple[float, float, float],
           tmp: np.ndarray) -> None:
    """img (3xHxW planar) <- img + cov * (colour - img), per channel, in place."""
    for c in range(3):
        np.subtract(np.float32(colour[c]), img[c], out=tmp)
        tmp *= cov
        img[c] += tmp


def _region(camera: CameraGeometry, region: tuple[float, float, float, float] | None
            ) -> tuple[float, float, float, float]:
    if region is None:
        return 0.0, float(camera.height), 0.0, float(camera.width)
    y0, y1, x0, x1 = (float(v) for v in region)
    if not (y1 > y0 and x1 > x0):
        raise WorldError(f'region {region} must be (y0, y1, x0, x1) with y1 > y0 and x1 > x0')
    return y0, y1, x0, x1


def render(scene: RoadScene, camera: CameraGeometry | None = None,
           size: tuple[int, int] | None = None,
           region: tuple[float, float, float, float] | None = None) -> Frame:
    """Render a scene and its labels.

    Args:
        scene: what to draw.
        camera: the camera (default :class:`CameraGeometry`, 1280x720).
        size: output (height, width); defaults to the region's size in frame pixels.
        region: (y0, y1, x0, x1) part of the camera frame to render, in frame pixels
            (e.g. ``Preprocess().crop_box(720, 1280)``); default the whole frame.

    Returns:
        A :class:`Frame` with an HxWx3 uint8 RGB image and its :class:`Labels`.
    """
    cam = camera or CameraGeometry()
    y0, y1, x0, x1 = _region(cam, region)
    if size is None:
        size = (max(1, round(y1 - y0)), max(1, round(x1 - x0)))
    h_out, w_out = int(size[0]), int(size[1])
    if h_out < 1 or w_out < 1:
        raise WorldError(f'size {size} must be positive')
    su, sv = (x1 - x0) / w_out, (y1 - y0) / h_out
    f = cam.focal
    cx, _ = cam.centre
    v_h = cam.horizon_row(scene.horizon_shift)
    u_c = x0 + (np.arange(w_out) + 0.5) * su
    v_c = y0 + (np.arange(h_out) + 0.5) * sv
    a = ((u_c - cx) / f).astype(np.float32)

    img = np.zeros((3, h_out, w_out), np.float32)  # planar while drawing
    markings = np.zeros((h_out, w_out), np.float32)
    edges = np.zeros_like(markings)
    road_cov = np.zeros_like(markings)

    # --- ground: rows whose footprint reaches below the horizon
    g_frac = np.clip((v_c + sv / 2 - v_h) / sv, 0.0, 1.0).astype(np.float32)
    rows = np.nonzero(g_frac > 0)[0]
    if rows.size:
        r0 = int(rows[0])
        _ground(scene, cam, v_c[r0:], sv, su, v_h, a, img[:, r0:], markings[r0:], edges[r0:],
                road_cov[r0:])
        if g_frac[r0] < 1.0:  # the row containing the horizon is partly ground
            gf = g_frac[r0]
            img[:, r0] *= gf
            markings[r0] *= gf
            edges[r0] *= gf
            road_cov[r0] *= gf

    # --- sky and treeline: rows whose footprint reaches above the horizon
    sky_rows = np.nonzero(v_c - sv / 2 < v_h)[0]
    if sky_rows.size:
        _sky(scene, f, v_c[sky_rows], sv, v_h, a, img, sky_rows)

    # --- distractors, far to near
    canvas = Canvas(img, x0, y0, su, sv, np.zeros_like(markings))
    objects = []
    for obj in scene.distractors:
        z = float(scene.road.z_at(np.array([obj.s]))[0])
        if not 1.5 + obj.length / 2 < z < MAX_DISTANCE_M:
            continue
        y, theta, _ = scene.road.at(np.array([z]))
        objects.append((z, -(float(y[0]) + obj.r / np.cos(float(theta[0]))), obj))
    for z, x_right, obj in sorted(objects, key=lambda o: -o[0]):
        draw_distractor(canvas, cam, scene.horizon_shift, obj.kind, x_right, z,
                        (obj.width, obj.height, obj.length), obj.colour, obj.colour2)
    if objects:
        keep = 1.0 - canvas.cover
        markings *= keep
        edges *= keep
        road_cov *= keep

    # --- lighting and sensor noise
    rgb = _finish(scene, img, su * sv)
    info = {**scene.info, 'lanes_left': scene.lanes_left, 'lanes_right': scene.lanes_right,
            'lane_offset': scene.lane_offset}
    labels = Labels(float(scene.target), float(scene.curvature), markings, edges, canvas.cover,
                    road_cov, info)
    return Frame(rgb, labels)


_NOISE_POOL: list[np.ndarray] = []


def _noise(seed: int, n: int) -> np.ndarray:
    """``n`` standard-normal values for ``seed``: a window of a fixed pool (fast, deterministic).

    Windows of different seeds overlap, so noise of two frames can be correlated; it only has
    to look like sensor noise, not be independent.
    """
    if not _NOISE_POOL or _NOISE_POOL[0].size < 2 * n:
        size = max(2 * n, 1 << 22)
        _NOISE_POOL[:] = [np.random.default_rng(12345).standard_normal(size, np.float32)]
    pool = _NOISE_POOL[0]
    start = (int(seed) * 2654435761 + 97) % (pool.size - n)
    return pool[start:start + n]


def _finish(scene: RoadScene, img: np.ndarray, footprint: float) -> np.ndarray:
    """Exposure, colour balance and sensor noise; planar float -> HxWx3 uint8."""
    gains = np.float32(scene.gain) * np.asarray(scene.tint, np.float32)
    if scene.noise_sigma > 0:
        sigma = np.float32(scene.noise_sigma / np.sqrt(max(footprint, 1.0)))
        img += sigma * _noise(scene.seed, img.size).reshape(img.shape)
    img *= gains[:, None, None]
    img += 0.5
    clip01(np.multiply(img, np.float32(1.0 / 255.0), out=img))
    img *= 255.0
    return np.ascontiguousarray(img.transpose(1, 2, 0)).astype(np.uint8)


def _sky(scene: RoadScene, f: float, vc: np.ndarray, sv: float, v_h: float, a: np.ndarray,
         img: np.ndarray, sky_rows: np.ndarray) -> None:
    """Add sky (vertical gradient) and a treeline/hill silhouette above the horizon."""
    az = np.arctan(a)
    height = np.full_like(az, scene.treeline_height)
    for freq, amp, phase in scene.treeline_waves:
        height += amp * np.sin(freq * az + phase)
    v_tree = (v_h - f * np.maximum(height, 0.002))[None, :]
    vc = vc[:, None]
    lo, hi = vc - sv / 2, vc + sv / 2
    sky_cov = np.clip((np.minimum(hi, v_tree) - lo) / sv, 0.0, 1.0).astype(np.float32)
    tree_cov = np.clip((np.minimum(hi, v_h) - np.maximum(lo, v_tree)) / sv, 0.0, 1.0
                       ).astype(np.float32)
    elev = np.clip((v_h - vc) / f / 0.35, 0.0, 1.0).astype(np.float32)
    for c in range(3):
        sky = scene.sky_horizon[c] + elev * (scene.sky_zenith[c] - scene.sky_horizon[c])
        tree = 0.75 * scene.treeline[c] + 0.25 * scene.haze[c]
        img[c, sky_rows] += sky_cov * sky + tree_cov * np.float32(tree)


def _ground(scene: RoadScene, cam: CameraGeometry, vc: np.ndarray, sv: float, su: float,
            v_h: float, a: np.ndarray, img: np.ndarray, markings: np.ndarray,
            edges: np.ndarray, road_cov: np.ndarray) -> None:
    """Draw the ground (verge, shoulder, kerb, asphalt, markings, shadows, haze) on all rows."""
    f = cam.focal
    shift = scene.horizon_shift
    v_eval = np.maximum(vc, (v_h + vc + sv / 2) / 2)
    t, z = cam.ground_rows(v_eval, shift)
    z = np.minimum(z, MAX_DISTANCE_M * 4)
    t = np.minimum(t, MAX_DISTANCE_M * 4)
    _, z_top = cam.ground_rows(np.maximum(vc - sv / 2, v_h + 1e-3), shift)
    _, z_bot = cam.ground_rows(vc + sv / 2, shift)
    ds = np.minimum(np.abs(np.minimum(z_top, 1e5) - z_bot), 1e4)
    yc, theta, s = scene.road.at(z)
    cos_t = np.cos(theta)
    # lateral road coordinate: r_ij = alpha_i + beta_i * a_j (linear along each row)
    alpha = (-yc * cos_t).astype(np.float32)[:, None]
    beta = (-t * cos_t).astype(np.float32)[:, None]
    r = beta * a[None, :]
    r += alpha
    # box-filter footprint of a pixel across the road: |dr/dcol| + |dr/drow|
    dr_h = np.abs(beta[:, 0]) * np.float32(su / f)
    drc = np.abs(np.gradient(r, axis=0)) if r.shape[0] > 1 else np.zeros_like(r)
    drc += dr_h[:, None]
    np.maximum(drc, 1e-6, out=drc)
    inv = 1.0 / drc
    r_lo = r - 0.5 * drc
    r_hi = r + 0.5 * drc
    tmp = np.empty_like(r)

    def lateral(lo: float, hi: float) -> np.ndarray:
        """Coverage of the band lo < r < hi (box filter over each pixel's footprint)."""
        cov = np.minimum(r_hi, np.float32(hi))
        np.subtract(cov, np.maximum(r_lo, np.float32(lo), out=tmp), out=cov)
        cov *= inv
        return clip01(cov)

    for c in range(3):
        img[c] = scene.verge[c]
    if scene.verge_texture:
        img *= _texture(scene.verge_texture, s, r, ds, drc[:, 0])[None]
    r_right, r_left = scene.edges
    kw, sw = scene.kerb_width, scene.shoulder_width
    if sw > 0:
        cov = lateral(r_left + kw, r_left + kw + sw) + lateral(r_right - kw - sw, r_right - kw)
        _blend(img, cov, scene.shoulder, tmp)
    if kw > 0:
        cov = lateral(r_left, r_left + kw) + lateral(r_right - kw, r_right)
        _blend(img, cov, scene.kerb, tmp)
    asphalt = lateral(r_right, r_left)
    if scene.asphalt_texture:
        tex = _texture(scene.asphalt_texture, s, r, ds, drc[:, 0])
        tex *= asphalt
        for c in range(3):
            np.multiply(tex, np.float32(scene.asphalt[c]), out=tmp)
            img[c] *= 1.0 - asphalt
            img[c] += tmp
    else:
        _blend(img, asphalt, scene.asphalt, tmp)
    for line in scene.markings:
        cov = lateral(line.r - line.width / 2, line.r + line.width / 2)
        if line.dash > 0:
            x = s - line.phase
            along = (_dash_cumulative(x + ds / 2, line.dash, line.period)
                     - _dash_cumulative(x - ds / 2, line.dash, line.period)) / np.maximum(ds, 1e-6)
            cov *= np.clip(along, 0.0, 1.0).astype(np.float32)[:, None]
        _blend(img, cov, line.colour, tmp)
        np.maximum(markings, cov, out=markings)
    band = max(kw, EDGE_BAND_M)
    np.maximum(lateral(r_left - EDGE_BAND_M, r_left + band),
               lateral(r_right - band, r_right + EDGE_BAND_M), out=edges)
    road_cov[:] = asphalt
    for sh in scene.shadows:
        dsc = np.maximum(ds, 1e-6)
        along = interval_cover(s / dsc, sh.s / dsc, (sh.s + sh.length) / dsc)
        hit = np.nonzero(along > 0)[0]
        if hit.size == 0:
            continue
        i0, i1 = int(hit[0]), int(hit[-1]) + 1
        wob = sh.wobble * np.sin(sh.wobble_freq * s[i0:i1])
        lo = (sh.r0 + wob).astype(np.float32)[:, None]
        hi = (sh.r1 - wob).astype(np.float32)[:, None]
        cov = np.clip((np.minimum(r_hi[i0:i1], hi) - np.maximum(r_lo[i0:i1], lo)) * inv[i0:i1],
                      0.0, 1.0)
        cov *= (sh.strength * along[i0:i1]).astype(np.float32)[:, None]
        for c, tone in enumerate((1.0, 0.97, 0.9)):
            img[c, i0:i1] *= 1.0 - tone * cov
    fog = (1.0 - np.exp(-z / scene.visibility)).astype(np.float32)[:, None]
    for c in range(3):
        img[c] += fog * (np.float32(scene.haze[c]) - img[c])
