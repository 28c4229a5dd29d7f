"""A one-slot mailbox: the newest frame wins, so the node never builds a backlog."""
from __future__ import annotations

import threading
from typing import Any


class Mailbox:
    """Holds at most one item; putting over an untaken item replaces it and counts a drop.

    Example:
        >>> box = Mailbox()
        >>> box.put('a'); box.put('b')
        >>> box.take(timeout=0), box.dropped
        ('b', 1)
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Any = None
        self._full = False
        self._closed = False
        self.dropped = 0

    def put(self, item: Any) -> bool:
        """Store ``item``; returns True when it replaced one that was never taken (a drop)."""
        with self._cond:
            replaced = self._full
            if replaced:
                self.dropped += 1
            self._item = item
            self._full = True
            self._cond.notify()
            return replaced

    def take(self, timeout: float | None = None) -> Any:
        """Remove and return the item, waiting up to ``timeout`` s; None if none came or closed."""
        with self._cond:
            if not self._full and not self._closed:
                self._cond.wait(timeout)
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            return item

    def close(self) -> None:
        """Wake every waiter; later takes return what is left, then None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
