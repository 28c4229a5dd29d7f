"""The contract every middleware adapter fulfils: move CDR bytes between topics.

Messages travel as CDR bytes (XCDR1 little endian with the 4-byte encapsulation header, as ROS 2
and rosbag2 store them). Conversion to and from dataclasses is :mod:`vbp_ros.msgs`' job; a
publisher also accepts a dataclass and serialises it.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Protocol, Sequence, TYPE_CHECKING

if TYPE_CHECKING:
    from vbp_ros.transport.parameters import ParamSpec
    from vbp_ros.transport.qos import QosProfile

#: A subscription callback receives one serialised message (bytes or memoryview).
RawCallback = Callable[[Any], None]
#: Applies requested parameter changes {name: value}; returns None, or why it refused them.
ParamsCallback = Callable[[dict[str, Any]], 'str | None']


class Publisher(Protocol):
    """A topic writer."""

    topic: str
    ros_type: str

    def publish(self, msg: Any) -> None:
        """Publish CDR bytes (bytes-like) or a :mod:`vbp_ros.msgs` dataclass."""

    def subscription_count(self) -> int:
        """Number of matched readers right now."""


class Subscription(Protocol):
    """A topic reader; it calls its callback from the adapter's dispatch thread."""

    topic: str
    ros_type: str


class Transport(Protocol):
    """A node on one middleware: endpoints, parameters, a logger and shutdown."""

    node_name: str
    namespace: str

    def create_publisher(self, topic: str, msg_type: Any, qos: QosProfile) -> Publisher:
        """Create a writer; ``topic`` may be relative or private ('~/mask')."""

    def create_subscription(self, topic: str, msg_type: Any, qos: QosProfile,
                            callback: RawCallback) -> Subscription:
        """Create a reader whose callback gets each message's CDR bytes."""

    def declare_parameters(self, specs: Sequence[ParamSpec]) -> dict[str, Any]:
        """Declare the node's parameters and return their validated values.

        A transport with parameter services (rclpy) also has ``watch_parameters(apply:
        ParamsCallback)``, which hands changes requested at run time to ``apply``.
        """

    def resolve_topic(self, topic: str) -> str:
        """Fully qualified name of a topic after expansion and remapping."""

    @property
    def logger(self) -> Any:
        """Logger with debug/info/warning/error methods."""

    def spin(self, until: threading.Event) -> None:
        """Serve callbacks until ``until`` is set (or Ctrl-C, or the middleware shuts down)."""

    def close(self) -> None:
        """Destroy every endpoint and leave the middleware."""
