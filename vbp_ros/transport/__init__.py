"""Middleware adapters that move ROS 2 messages as CDR bytes: plain DDS or rclpy.

``cyclonedds`` and ``rclpy`` are imported only inside their own adapter modules; pick one with
:class:`Middleware` and :func:`create_transport`.
"""
from __future__ import annotations

from enum import Enum
import importlib
from typing import Any

from vbp_ros.transport.base import Publisher, Subscription, Transport
from vbp_ros.transport.errors import TransportError
from vbp_ros.transport.qos import DEFAULT, QosProfile, Reliability, SENSOR_DATA


class Middleware(str, Enum):
    """Which middleware a node runs on."""

    RCLPY = 'rclpy'
    CYCLONEDDS = 'cyclonedds'

    @classmethod
    def available(cls) -> list[Middleware]:
        """Middlewares importable here, preferred first."""
        out = []
        for member in cls:
            try:
                importlib.import_module(member.module_name)
            except ImportError:
                continue
            out.append(member)
        return out

    @property
    def module_name(self) -> str:
        """The third-party module the adapter needs."""
        return 'rclpy' if self is Middleware.RCLPY else 'cyclonedds'


# member -> (adapter module, class name); imported only when chosen.
_MODULES: dict[Middleware, tuple[str, str]] = {
    Middleware.RCLPY: ('vbp_ros.transport.rclpy_glue', 'RclpyTransport'),
    Middleware.CYCLONEDDS: ('vbp_ros.transport.dds', 'DdsTransport'),
}


def default_middleware() -> Middleware:
    """Pick rclpy when it can be imported, otherwise Cyclone DDS.

    Raises:
        TransportError: neither is installed.
    """
    available = Middleware.available()
    if not available:
        msg = 'neither rclpy nor cyclonedds can be imported; pip install cyclonedds'
        raise TransportError(msg)
    return available[0]


def create_transport(middleware: Middleware | str | None = None, **kwargs: Any) -> Transport:
    """Create a node on the chosen middleware.

    Args:
        middleware: 'rclpy', 'cyclonedds' or None for :func:`default_middleware`.
        kwargs: passed to the adapter's constructor (node_name, namespace, ...).

    Returns:
        The transport.

    Raises:
        TransportError: unknown middleware or it cannot be imported.
    """
    try:
        chosen = Middleware(middleware) if middleware else default_middleware()
    except ValueError:
        msg = f'middleware {middleware!r} is not one of {[m.value for m in Middleware]}'
        raise TransportError(msg) from None
    module_name, class_name = _MODULES[chosen]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        msg = f'middleware {chosen.value} is not available: {exc}'
        raise TransportError(msg) from None
    transport: Transport = getattr(module, class_name)(**kwargs)
    return transport


__all__ = ['create_transport', 'DEFAULT', 'default_middleware', 'Middleware', 'Publisher',
           'QosProfile', 'Reliability', 'SENSOR_DATA', 'Subscription', 'Transport',
           'TransportError']
