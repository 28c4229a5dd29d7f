"""Model output (inverse turning radius) -> Ackermann steering angle.

Bicycle model: a car with wheelbase L driving on a circle of radius r needs a front-wheel angle
δ = atan(L / r) = atan(L · κ), with κ = 1/r the curvature the network predicts. Positive κ and δ
mean a left turn (REP-103). ``gain`` and ``max_angle`` let a user adapt it to their vehicle.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SteeringConversion:
    """Curvature (1/m) -> steering angle (rad).

    Attributes:
        wheelbase: distance between the axles in metres.
        gain: extra factor on the angle (1.0 = pure geometry).
        max_angle: the angle is clipped to ±max_angle radians.
    """

    wheelbase: float = 2.7
    gain: float = 1.0
    max_angle: float = 0.7

    def __post_init__(self) -> None:
        if self.wheelbase <= 0 or self.max_angle <= 0:
            msg = f'wheelbase ({self.wheelbase}) and max_angle ({self.max_angle}) must be > 0'
            raise ValueError(msg)

    def __call__(self, curvature: float) -> float:
        """Steering angle in radians for a curvature in 1/m (NaN stays NaN: a clip would
        turn it into full lock)."""
        angle = self.gain * math.atan(self.wheelbase * curvature)
        return clip_angle(angle, self.max_angle)


def clip_angle(angle: float, max_angle: float) -> float:
    """``angle`` clipped to ±``max_angle``; NaN is passed through, never clipped to a limit
    (``max(-a, min(a, nan))`` is ``a``)."""
    return angle if math.isnan(angle) else max(-max_angle, min(max_angle, angle))
