"""Quality of service profiles, in ROS 2 terms, shared by both middleware adapters.

The two profiles the node uses mirror rclpy's ``qos_profile_sensor_data`` and the ROS default
profile. Cyclone DDS's own defaults differ from both, so every endpoint sets its QoS explicitly.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Reliability(str, Enum):
    """ROS reliability policy."""

    BEST_EFFORT = 'best_effort'
    RELIABLE = 'reliable'


class Durability(str, Enum):
    """ROS durability policy."""

    VOLATILE = 'volatile'
    TRANSIENT_LOCAL = 'transient_local'


class History(str, Enum):
    """ROS history policy."""

    KEEP_LAST = 'keep_last'
    KEEP_ALL = 'keep_all'


@dataclass(frozen=True)
class QosProfile:
    """A ROS 2 QoS profile (the policies the node needs).

    Attributes:
        reliability: best effort or reliable.
        depth: history depth (KEEP_LAST).
        durability: volatile or transient local.
        history: keep last or keep all.
        lifespan_s: seconds a written sample stays deliverable (None: forever).
    """

    reliability: Reliability = Reliability.RELIABLE
    depth: int = 10
    durability: Durability = Durability.VOLATILE
    history: History = History.KEEP_LAST
    lifespan_s: float | None = None

    def __post_init__(self) -> None:
        if self.depth < 1:
            msg = f'QoS depth must be >= 1, got {self.depth}'
            raise ValueError(msg)
        object.__setattr__(self, 'reliability', Reliability(self.reliability))
        object.__setattr__(self, 'durability', Durability(self.durability))
        object.__setattr__(self, 'history', History(self.history))


#: rclpy's qos_profile_sensor_data: BEST_EFFORT, KEEP_LAST 5, VOLATILE.
SENSOR_DATA = QosProfile(Reliability.BEST_EFFORT, 5)
#: the ROS default profile: RELIABLE, KEEP_LAST 10, VOLATILE.
DEFAULT = QosProfile(Reliability.RELIABLE, 10)
#: rcl's ``/rosout`` profile: RELIABLE, KEEP_LAST 1000, TRANSIENT_LOCAL, lifespan 10 s (so a
#: late subscriber gets the last 10 s of log lines, not the whole run's).
ROSOUT = QosProfile(Reliability.RELIABLE, 1000, Durability.TRANSIENT_LOCAL, lifespan_s=10.0)
#: what rmw uses for ``ros_discovery_info``: RELIABLE, KEEP_LAST 1, TRANSIENT_LOCAL.
DISCOVERY_INFO = QosProfile(Reliability.RELIABLE, 1, Durability.TRANSIENT_LOCAL)


def image_qos(reliability: str | Reliability, depth: int = 5) -> QosProfile:
    """Profile for image streams: the sensor-data profile with the chosen reliability.

    Args:
        reliability: 'best_effort' (default of the node) or 'reliable'.
        depth: KEEP_LAST depth.

    Returns:
        The profile.
    """
    return QosProfile(Reliability(reliability), depth)
