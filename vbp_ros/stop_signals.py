"""Ctrl-C and SIGTERM as a request to stop, not an exception raised wherever the program is.

A KeyboardInterrupt raised asynchronously can land between a lock's acquisition and the
``with`` block that releases it (in ``queue.Queue``, ``threading.Event``...), leaving the lock
held and the shutdown waiting on it forever. So the commands set an event instead and end in
order at the next point that checks it: the node's spin loop, a bag run's next batch. A second
signal still raises KeyboardInterrupt, to abort at once.
"""
from __future__ import annotations

import contextlib
import logging
import signal
import threading
from typing import Iterator

LOG = logging.getLogger('vbp_ros')


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event | None = None,
                    what: str = 'stopping') -> Iterator[threading.Event]:
    """Within the block, the first SIGINT or SIGTERM sets ``stop`` (a new event if None) and
    logs ``what``; a second raises KeyboardInterrupt. The previous handlers come back after.

    Signal handlers can only be installed from the main thread; elsewhere this only yields.
    Under rclpy it replaces rclpy's own SIGINT handler, and the spin loop ends the same way.
    """
    stop = stop if stop is not None else threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        LOG.warning('%s: %s (again to abort at once)', signal.Signals(signum).name, what)

    before = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in before.items():
            signal.signal(s, h)
