"""The node's ``/diagnostics`` message: rates, drops, bad input, per-stage latency, device."""
from __future__ import annotations

import math
import time
from typing import Sequence

from vbp_ros.msgs import DiagnosticArray, DiagnosticStatus, Header, KeyValue, Time
from vbp_ros.node.stats import NodeStats, STAGES

#: No frame for this long makes the status WARN.
STALE_INPUT_S = 3.0


def _ms(value: float) -> str:
    return 'nan' if math.isnan(value) else f'{value * 1e3:.2f}'


def build_diagnostics(stats: NodeStats, name: str, hardware_id: str, input_topic: str,
                      mask_on: bool, now: float | None = None,
                      prev_malformed: int = 0, prev_errors: int = 0,
                      counts: dict[str, int] | None = None,
                      extra: Sequence[tuple[int, str, dict[str, str]]] = ()
                      ) -> DiagnosticArray:
    """Make one DiagnosticArray with a single status for the node.

    Level: OK; WARN when no frame arrived for :data:`STALE_INPUT_S`, or frames were malformed
    since the previous report (``prev_malformed``); ERROR when processing raised errors since
    the previous report (``prev_errors``). The totals are in the values either way.

    Args:
        stats: the node's counters.
        name: status name, e.g. 'vbp: steering + VisualBackProp'.
        hardware_id: device the model runs on.
        input_topic: subscribed camera topic.
        mask_on: whether masks are being computed now.
        now: monotonic time (default: now).
        prev_malformed: malformed count at the previous report.
        prev_errors: processing error count at the previous report.
        counts: ``stats.snapshot()`` to report (default: taken now), so that the caller can
            keep the very counts this report covers.
        extra: (level, message, values) of parts beside the node, e.g. its recorder: their
            values are added, and the most severe level wins (its message with it).

    Returns:
        The message (header stamped with the wall clock).
    """
    now = time.monotonic() if now is None else now
    counts = stats.snapshot() if counts is None else counts
    with stats.lock:
        in_rate = stats.input_rate.rate(now)
        out_rate = stats.processed_rate.rate(now)
        last = stats.last_frame_time
        last_bad = stats.last_malformed
    values = [
        KeyValue('input_topic', input_topic),
        KeyValue('input_rate_hz', f'{in_rate:.2f}'),
        KeyValue('processed_rate_hz', f'{out_rate:.2f}'),
        KeyValue('frames_received', str(counts['received'])),
        KeyValue('frames_processed', str(counts['processed'])),
        KeyValue('frames_dropped', str(counts['dropped'])),
        KeyValue('frames_malformed', str(counts['malformed'])),
        KeyValue('processing_errors', str(counts['errors'])),
        KeyValue('masks_published', str(counts['masks'])),
        KeyValue('overlays_published', str(counts['overlays'])),
        KeyValue('mask_enabled', str(mask_on).lower()),
        KeyValue('device', hardware_id),
    ]
    for stage in STAGES:
        p50, p99 = stats.percentiles(stage)
        values.append(KeyValue(f'{stage}_ms_p50', _ms(p50)))
        values.append(KeyValue(f'{stage}_ms_p99', _ms(p99)))
    level, message = DiagnosticStatus.OK, 'running'
    if counts['errors'] > prev_errors:
        level, message = (DiagnosticStatus.ERROR,
                          f'{counts["errors"] - prev_errors} processing errors since the last '
                          f'report ({counts["errors"]} in all)')
    elif counts['malformed'] > prev_malformed:
        level, message = DiagnosticStatus.WARN, f'malformed input: {last_bad}'
    elif last is None or now - last > STALE_INPUT_S:
        level, message = DiagnosticStatus.WARN, f'no frames on {input_topic}'
    for part_level, part_message, part_values in extra:
        values += [KeyValue(k, v) for k, v in part_values.items()]
        if part_level > level:
            level, message = part_level, part_message
        elif part_level == level != DiagnosticStatus.OK:
            message = f'{message}; {part_message}'
    status = DiagnosticStatus(level=level, name=name, message=message,
                              hardware_id=hardware_id, values=values)
    return DiagnosticArray(header=Header(stamp=Time.from_ns(time.time_ns()), frame_id=''),
                           status=[status])
