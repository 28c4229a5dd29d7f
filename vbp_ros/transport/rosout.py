"""Forward a node's Python log records to ``/rosout`` as ``rcl_interfaces/msg/Log``.

ROS 2 nodes publish their log lines there; ``ros2 topic echo /rosout`` and rqt_console show them.
Python's level numbers (10 DEBUG ... 50 CRITICAL) are the ROS ones (DEBUG ... FATAL).
"""
from __future__ import annotations

import logging
from typing import Any

from vbp_ros.transport.dds_types import Log_, Time_


def _ros_level(levelno: int) -> int:
    """The ROS severity (10, 20, 30, 40 or 50) at or below a Python level number."""
    return min(max(int(levelno) // 10 * 10, 10), 50)


class RosoutHandler(logging.Handler):
    """A logging handler that publishes each record on a ``/rosout`` publisher.

    Args:
        publisher: transport publisher of ``rcl_interfaces/msg/Log``.
        node_logger_name: the ROS logger name (the node's name, e.g. 'vbp').
        level: lowest level forwarded.
    """

    def __init__(self, publisher: Any, node_logger_name: str,
                 level: int = logging.INFO) -> None:
        super().__init__(level)
        self.publisher = publisher
        self.node_logger_name = node_logger_name

    def emit(self, record: logging.LogRecord) -> None:
        """Serialise and publish one record (errors go to ``handleError``, never raise)."""
        try:
            sec = int(record.created)
            sample = Log_(stamp=Time_(sec, int((record.created - sec) * 1e9)),
                          level=_ros_level(record.levelno),
                          name=self.node_logger_name, msg=record.getMessage(),
                          file=record.pathname or '', function=record.funcName or '',
                          line=max(0, int(record.lineno or 0)))
            self.publisher.publish(sample.serialize(use_version_2=False))
        except Exception:  # noqa: BLE001 -- logging must never break the caller
            self.handleError(record)
