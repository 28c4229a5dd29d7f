"""Progress of a long job: a tqdm bar on a terminal, a log line now and then otherwise (a
bar's carriage returns would clutter a log file or a pipe)."""
from __future__ import annotations

import logging
import sys
import time
from typing import Any

LOG = logging.getLogger('vbp_ros')

#: Off a terminal, at most one progress line per this many seconds.
LOG_EVERY = 30.0


def _plural(unit: str) -> str:
    return unit + ('es' if unit.endswith(('s', 'sh', 'ch', 'x')) else 's')


class LoggedProgress:
    """tqdm's ``update``/``set_postfix``/``close`` as INFO lines, at most one per ``every``
    seconds."""

    def __init__(self, total: int, unit: str, desc: str | None = None,
                 every: float | None = None) -> None:
        self.total, self.unit, self.desc = total, unit, desc
        self.every = LOG_EVERY if every is None else every
        self.done = 0
        self.postfix = ''
        self.start = self.last = time.monotonic()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more; log if ``every`` seconds passed since the last line."""
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            units = _plural(self.unit)
            LOG.info('%s%d/%d %s (%.0f %%), %.1f %s/s%s', f'{self.desc}: ' if self.desc else '',
                     self.done, self.total, units, 100.0 * self.done / max(self.total, 1), rate,
                     units, f', {self.postfix}' if self.postfix else '')

    def set_postfix(self, **values: Any) -> None:
        """Values shown at the end of the next line (e.g. the running loss)."""
        self.postfix = ', '.join(f'{k}={v}' for k, v in values.items())

    def close(self) -> None:
        """Nothing to tidy up."""


def progress_bar(total: int, unit: str = 'frame', desc: str | None = None,
                 enabled: bool = True, leave: bool = True) -> Any:
    """A tqdm bar on stderr if it is a terminal, else a :class:`LoggedProgress`; with
    ``enabled`` False, one that shows nothing."""
    from tqdm import tqdm
    if not enabled:
        return tqdm(total=total, disable=True)
    if sys.stderr.isatty():
        return tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, dynamic_ncols=True,
                    leave=leave)
    return LoggedProgress(total, unit, desc)
