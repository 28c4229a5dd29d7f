"""Counters and latency windows of the running node, read by diagnostics and the demo."""
from __future__ import annotations

from collections import deque
import threading

import numpy as np

#: Stages timed per processed frame, in order (seconds).
STAGES = ('wait', 'decode', 'preprocess', 'forward_vbp', 'postprocess', 'publish', 'overlay',
          'steering', 'total')


class RateWindow:
    """Events per second over a sliding window."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()

    def add(self, t: float) -> None:
        """Record one event at monotonic time ``t``."""
        self._times.append(t)
        while self._times and t - self._times[0] > self.window_s:
            self._times.popleft()

    def rate(self, now: float) -> float:
        """Events per second in the window ending at ``now``."""
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()
        return len(self._times) / self.window_s


class NodeStats:
    """Thread-safe counters plus the last ``window`` stage timings."""

    def __init__(self, window: int = 300) -> None:
        self.lock = threading.Lock()
        self.received = 0
        self.processed = 0
        self.dropped = 0
        self.malformed = 0
        self.errors = 0
        self.masks = 0
        self.overlays = 0
        self.last_malformed = ''
        self.last_frame_time: float | None = None
        self.input_rate = RateWindow()
        self.processed_rate = RateWindow()
        self._timings: dict[str, deque[float]] = {s: deque(maxlen=window) for s in STAGES}

    def add_timings(self, timings: dict[str, float]) -> None:
        """Record one processed frame's stage timings (seconds)."""
        with self.lock:
            for stage, value in timings.items():
                if stage in self._timings:
                    self._timings[stage].append(value)

    def percentiles(self, stage: str, qs: tuple[float, ...] = (50, 99)) -> list[float]:
        """Percentiles (seconds) of one stage over the window; NaN when empty."""
        with self.lock:
            values = list(self._timings[stage])
        if not values:
            return [float('nan')] * len(qs)
        return [float(v) for v in np.percentile(values, qs)]

    def snapshot(self) -> dict[str, int]:
        """The counters as a dict."""
        with self.lock:
            return {'received': self.received, 'processed': self.processed,
                    'dropped': self.dropped, 'malformed': self.malformed, 'errors': self.errors,
                    'masks': self.masks, 'overlays': self.overlays}
