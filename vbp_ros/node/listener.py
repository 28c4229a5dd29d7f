"""Subscribe to the node's outputs and keep what arrives (for echo, the demo, tests, benchmark)."""
from __future__ import annotations

from dataclasses import dataclass
import threading
import time
from typing import Any, Callable

from vbp_ros.msgs import AckermannDriveStamped, deserialize, DiagnosticArray, Image
from vbp_ros.transport.qos import DEFAULT, image_qos, QosProfile, Reliability

#: output kind -> (topic relative to the node, message class)
OUTPUTS: dict[str, tuple[str, type]] = {
    'steering': ('steering', AckermannDriveStamped),
    'mask': ('mask', Image),
    'overlay': ('overlay', Image),
    'diagnostics': ('/diagnostics', DiagnosticArray),
}


@dataclass
class Received:
    """One received output message.

    Attributes:
        kind: 'steering', 'mask', 'overlay' or 'diagnostics'.
        msg: the deserialised message.
        recv_ns: wall clock at reception (ns).
        size: CDR size in bytes.
    """

    kind: str
    msg: Any
    recv_ns: int
    size: int

    @property
    def stamp_ns(self) -> int:
        """The header stamp in ns."""
        stamp = self.msg.header.stamp
        return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)

    @property
    def latency_s(self) -> float:
        """Reception time minus header stamp (camera publish to here, same clock)."""
        return (self.recv_ns - self.stamp_ns) / 1e9


class OutputListener:
    """Subscribes to a node's outputs.

    Args:
        transport: where to listen.
        node: the node's fully qualified name (its private topics are ``<node>/steering``...).
        kinds: which outputs (keys of :data:`OUTPUTS`).
        reliability: QoS reliability for mask/overlay ('best_effort' matches any writer).
        keep: keep at most this many messages per kind (older ones are forgotten).
        callback: also called with each :class:`Received`.
    """

    def __init__(self, transport: Any, node: str = '/vbp',
                 kinds: tuple[str, ...] = ('steering', 'mask'),
                 reliability: str = 'best_effort', keep: int = 10000,
                 callback: Callable[[Received], None] | None = None) -> None:
        self.received: dict[str, list[Received]] = {k: [] for k in kinds}
        self.counts: dict[str, int] = {k: 0 for k in kinds}
        self._cond = threading.Condition()
        self._keep = keep
        self._callback = callback
        self.subscriptions = []
        for kind in kinds:
            rel_topic, cls = OUTPUTS[kind]
            topic = rel_topic if rel_topic.startswith('/') else node.rstrip('/') + '/' + rel_topic
            if kind == 'steering':
                qos: QosProfile = QosProfile(Reliability(reliability), 10)
            elif kind == 'diagnostics':
                qos = DEFAULT
            else:
                qos = image_qos(reliability)
            self.subscriptions.append(transport.create_subscription(
                topic, cls, qos, self._handler(kind, cls)))

    def _handler(self, kind: str, cls: type) -> Callable[[Any], None]:
        def on_message(data: Any) -> None:
            now = time.time_ns()
            item = Received(kind, deserialize(data, cls), now, len(data))
            with self._cond:
                items = self.received[kind]
                items.append(item)
                if len(items) > self._keep:
                    del items[:len(items) - self._keep]
                self.counts[kind] += 1
                self._cond.notify_all()
            if self._callback is not None:
                self._callback(item)
        return on_message

    def wait_for(self, kind: str, count: int = 1, timeout: float = 10.0) -> bool:
        """Wait until ``count`` messages of ``kind`` arrived in total."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.counts[kind] < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def matched(self) -> bool:
        """Whether every subscription has matched a writer (DDS transport only)."""
        return all(getattr(s, 'publisher_count', lambda: 1)() > 0 for s in self.subscriptions)

    def wait_matched(self, timeout: float = 10.0) -> bool:
        """Wait until every subscription has matched a writer."""
        deadline = time.monotonic() + timeout
        while not self.matched():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def snapshot(self, kind: str) -> list[Received]:
        """A copy of the messages of ``kind`` kept so far."""
        with self._cond:
            return list(self.received[kind])
