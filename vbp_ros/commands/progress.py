"""Progress of a long command: a tqdm bar on a terminal, a log line now and then otherwise (a
bar's carriage returns would clutter a log file or a pipe)."""
from __future__ import annotations

import logging
import sys
import time
from typing import Any

LOG = logging.getLogger('vbp_ros')


class LoggedProgress:
    """tqdm's ``update``/``close`` as INFO lines, at most one per ``every`` seconds."""

    def __init__(self, total: int, unit: str, every: float = 30.0) -> None:
        self.total, self.unit, self.every = total, unit, every
        self.done = 0
        self.start = self.last = time.monotonic()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more; log if ``every`` seconds passed since the last line."""
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            LOG.info('%d/%d %ss (%.0f %%), %.1f %ss/s', self.done, self.total, self.unit,
                     100.0 * self.done / max(self.total, 1), rate, self.unit)

    def close(self) -> None:
        """Nothing to tidy up."""


def progress_bar(total: int, unit: str = 'frame') -> Any:
    """A tqdm bar on stderr if it is a terminal, else a :class:`LoggedProgress`."""
    if sys.stderr.isatty():
        from tqdm import tqdm
        return tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True)
    return LoggedProgress(total, unit)
