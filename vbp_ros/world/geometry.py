"""Camera and road geometry of the synthetic world: a pinhole camera over a flat ground plane.

Coordinates: the camera sits ``mount_height`` metres above the ground, looking forward and
pitched down so that the horizon lies at the image row ``horizon * height``. Ground points are
given as forward distance ``z`` (metres) and lateral position ``y`` (metres, positive LEFT, as in
REP-103). The road is described by its centre line ``y_c(z)`` and its arc length ``s(z)``.

Sign convention (fixed for the whole project): a steering target is a curvature (inverse
turning radius, 1/m); positive means a LEFT turn.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vbp_ros.world.errors import WorldError

#: Lookahead distance (m) of the pure-pursuit steering target.
LOOKAHEAD_M = 15.0
#: Road geometry is tabulated up to this forward distance (m); beyond it the road runs straight.
MAX_DISTANCE_M = 400.0


@dataclass(frozen=True)
class CameraGeometry:
    """A forward camera: frame size, horizontal field of view, mount height and horizon row.

    Attributes:
        width, height: frame size in pixels (any resolution; geometry scales with it).
        hfov_deg: horizontal field of view in degrees.
        mount_height: camera height above the ground in metres.
        horizon: row of the horizon as a fraction of the frame height (sets the pitch). The
            default puts it just below the top of the node's default crop (0.41), so the network
            sees a few rows of background above the road.
    """

    width: int = 1280
    height: int = 720
    hfov_deg: float = 70.0
    mount_height: float = 1.4
    horizon: float = 0.445

    def __post_init__(self) -> None:
        if self.width < 8 or self.height < 8:
            raise WorldError(f'frame size {self.width}x{self.height} is too small')
        if not 10.0 <= self.hfov_deg <= 150.0:
            raise WorldError(f'hfov_deg {self.hfov_deg} must lie in [10, 150]')
        if not 0.05 <= self.horizon <= 0.95:
            raise WorldError(f'horizon {self.horizon} must lie in [0.05, 0.95]')
        if self.mount_height <= 0.1:
            raise WorldError(f'mount_height {self.mount_height} must be > 0.1 m')

    @property
    def focal(self) -> float:
        """Focal length in pixels."""
        return 0.5 * self.width / math.tan(math.radians(self.hfov_deg) / 2.0)

    @property
    def centre(self) -> tuple[float, float]:
        """Principal point (u, v) in continuous pixel coordinates (pixel i spans [i, i+1])."""
        return 0.5 * self.width, 0.5 * self.height

    def pitch(self, horizon_shift: float = 0.0) -> float:
        """Downward pitch (rad) that puts the horizon at ``horizon + horizon_shift``."""
        v_h = (self.horizon + horizon_shift) * self.height
        return math.atan2(self.centre[1] - v_h, self.focal)

    def horizon_row(self, horizon_shift: float = 0.0) -> float:
        """Continuous image row of the horizon."""
        return (self.horizon + horizon_shift) * self.height

    def project(self, x_right: np.ndarray, up: np.ndarray, z: np.ndarray,
                horizon_shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Project points (right, up-from-ground, forward) in metres to image (u, v)."""
        phi = self.pitch(horizon_shift)
        cx, cy = self.centre
        down = self.mount_height - np.asarray(up, np.float64)
        z = np.asarray(z, np.float64)
        yc = down * math.cos(phi) - z * math.sin(phi)
        zc = np.maximum(down * math.sin(phi) + z * math.cos(phi), 1e-3)
        return cx + self.focal * np.asarray(x_right) / zc, cy + self.focal * yc / zc

    def ground_rows(self, v: np.ndarray, horizon_shift: float = 0.0
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Ray scale ``t`` and forward distance ``z`` of the ground seen at image rows ``v``.

        A pixel at column ``u`` on row ``v`` sees the ground point ``x_right = t * (u - cx) / f``,
        ``z``. Rows at or above the horizon get ``z = inf``.
        """
        phi = self.pitch(horizon_shift)
        b = (np.asarray(v, np.float64) - self.centre[1]) / self.focal
        denom = b * math.cos(phi) + math.sin(phi)
        with np.errstate(divide='ignore', invalid='ignore'):
            t = np.where(denom > 1e-9, self.mount_height / denom, np.inf)
            z = np.where(denom > 1e-9, t * (math.cos(phi) - b * math.sin(phi)), np.inf)
        return t, z


@dataclass(frozen=True)
class RoadShape:
    """The road centre line seen from the car, tabulated over forward distance.

    Attributes:
        z: increasing forward distances (m), starting at or below 0.
        y: lateral position of the road centre at ``z`` (m, positive left).
        s: arc length along the road at ``z`` (m); its offset sets the phase of dashed lines.
    """

    z: np.ndarray
    y: np.ndarray
    s: np.ndarray

    def __post_init__(self) -> None:
        if not (self.z.shape == self.y.shape == self.s.shape and self.z.ndim == 1
                and self.z.size >= 2 and np.all(np.diff(self.z) > 0)):
            raise WorldError('RoadShape needs equally long 1-D tables with increasing z')
        object.__setattr__(self, '_slope', np.gradient(self.y, self.z))

    @classmethod
    def polynomial(cls, lateral: float, heading: float, curvature: float,
                   curvature_rate: float = 0.0, s0: float = 0.0,
                   step: float = 0.5) -> RoadShape:
        """The usual clothoid (cubic) lane model ``y = y0 + psi z + c z^2 / 2 + c' z^3 / 6``.

        Args:
            lateral: road centre's lateral position at z = 0 (m, left positive).
            heading: road direction relative to the camera axis (rad, left positive).
            curvature: road curvature at z = 0 (1/m, left positive).
            curvature_rate: change of curvature per metre.
            s0: arc length at z = 0.
            step: table resolution (m).
        """
        z = np.arange(0.0, MAX_DISTANCE_M + step, step)
        y = lateral + heading * z + curvature * z ** 2 / 2.0 + curvature_rate * z ** 3 / 6.0
        slope = heading + curvature * z + curvature_rate * z ** 2 / 2.0
        ds = np.sqrt(1.0 + slope ** 2) * step
        s = s0 + np.concatenate([[0.0], np.cumsum(0.5 * (ds[1:] + ds[:-1]))])
        return cls(z, y, s)

    def at(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Centre position ``y``, direction angle ``theta`` and arc length ``s`` at distances z.

        Beyond the table the road continues straight in its last direction.
        """
        z = np.asarray(z, np.float64)
        zc = np.clip(z, self.z[0], self.z[-1])
        slope = np.interp(zc, self.z, self._slope)
        y = np.interp(zc, self.z, self.y) + (z - zc) * slope
        s = np.interp(zc, self.z, self.s) + (z - zc) * np.sqrt(1.0 + slope ** 2)
        return y, np.arctan(slope), s

    def z_at(self, s: np.ndarray) -> np.ndarray:
        """Forward distance where the road reaches arc length ``s`` (inverse of ``at``)."""
        return np.interp(s, self.s, self.z, left=-np.inf, right=np.inf)


def pure_pursuit_target(road: RoadShape, lane_offset: float,
                        lookahead: float = LOOKAHEAD_M) -> float:
    """Steering target: curvature (1/m, + = left) of the arc reaching the lane centre ahead.

    The arc from the car through the lane centre at ``lookahead`` metres has curvature
    ``2 y_L / L^2``. For a car centred and aligned in its lane it equals the road's curvature;
    an offset or heading error adds the correction that steers back, as PilotNet's labels do.

    Args:
        road: the road centre line seen from the car.
        lane_offset: lateral position of the car's lane centre relative to the road centre
            (m, left positive; negative for lanes right of the centre line).
        lookahead: lookahead distance L in metres.
    """
    y, theta, _ = road.at(np.array([lookahead]))
    y_lane = float(y[0]) + lane_offset / math.cos(float(theta[0]))
    return 2.0 * y_lane / lookahead ** 2
