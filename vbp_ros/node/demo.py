"""The all-in-one demo: synthetic camera -> node -> masks, over DDS on loopback, in one process.

The camera and a viewer share one DDS participant, the node has its own, exactly as separate
ROS 2 processes would. The viewer pairs each mask with the camera frame of the same header stamp
to write overlay PNGs, so the node never pays for overlays here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import logging
import os
from pathlib import Path
import threading
import time
from typing import Callable

import cv2
import numpy as np

LOG = logging.getLogger(__name__)


@dataclass
class DemoSummary:
    """What a demo run measured.

    Attributes:
        sent: frames the camera published.
        received: frames the node received.
        processed: frames the node processed.
        dropped: frames replaced by newer ones before processing.
        malformed: frames that could not be decoded.
        node_ms: (p50, p99) of the node's receive -> mask published time.
        steering_ms: (p50, p99) of the node's receive -> steering published time.
        e2e_ms: (p50, p99) of camera publish -> mask received by the viewer.
        device: where the model ran.
        pngs: overlay images written.
        steering: last steering angle (rad).
    """

    sent: int = 0
    received: int = 0
    processed: int = 0
    dropped: int = 0
    malformed: int = 0
    node_ms: tuple[float, float] = (float('nan'), float('nan'))
    steering_ms: tuple[float, float] = (float('nan'), float('nan'))
    e2e_ms: tuple[float, float] = (float('nan'), float('nan'))
    device: str = ''
    pngs: list[Path] = field(default_factory=list)
    steering: float = float('nan')


def _pct(values: list[float]) -> tuple[float, float]:
    if not values:
        return float('nan'), float('nan')
    p50, p99 = np.percentile(values, [50, 99])
    return float(p50), float(p99)


def _save_overlay(path: Path, rgb: np.ndarray, mask: np.ndarray) -> None:
    try:
        from vbp_ros.core.image import overlay
        bgr = overlay(rgb, mask, alpha=0.5, colormap='jet')
    except ImportError:
        heat = cv2.applyColorMap(mask, cv2.COLORMAP_JET)
        bgr = cv2.addWeighted(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), 0.5, heat, 0.5, 0.0)
    cv2.imwrite(str(path), bgr)


def run_demo(duration: float = 10.0, width: int = 640, height: int = 480, rate: float = 30.0,
             source: str = 'synthetic', out_dir: str | Path | None = 'demo-out', pngs: int = 4,
             device: str = 'auto', model_path: str = '', domain_id: int | None = None,
             report: Callable[[str], None] | None = None,
             stop: threading.Event | None = None) -> DemoSummary:
    """Run camera, node and viewer for ``duration`` seconds.

    Args:
        duration: seconds of streaming.
        width: camera width.
        height: camera height.
        rate: camera frame rate (0 = flood).
        source: 'synthetic', 'pattern', a video or an image folder.
        out_dir: folder for overlay PNGs (None: none written).
        pngs: how many PNGs, evenly spread over the run.
        device: 'auto', 'cpu' or 'cuda'.
        model_path: model file; empty: bundled.
        domain_id: DDS domain; default ROS_DOMAIN_ID or 0.
        report: called with one line per second and the summary lines (default: log).
        stop: set it (e.g. from a signal handler) to end the demo early; it still reports.

    Returns:
        The measurements.
    """
    from vbp_ros.node.camera import CameraPublisher
    from vbp_ros.node.listener import OutputListener
    from vbp_ros.node.logic import VbpNode
    from vbp_ros.node.sources import open_source, WorldSource
    from vbp_ros.transport.dds import DdsTransport
    from vbp_ros.transport.loopback import use_loopback
    say = report or LOG.info
    use_loopback()
    tmp_model = None
    if not model_path:
        from vbp_ros.core.model_file import BUNDLED_MODEL
        if not BUNDLED_MODEL.exists():
            tmp_model = _untrained_model()
            model_path = str(tmp_model)
            say(f'warning: no bundled model at {BUNDLED_MODEL}; using an untrained PilotNet '
                '(steering and masks are not meaningful)')
    frames = open_source(source, width, height, rate or 30.0)
    node_t = DdsTransport('vbp', domain_id=domain_id,
                          param_values={'device': device, 'model_path': model_path})
    world_t = DdsTransport('vbp_demo', domain_id=domain_id)
    stop = stop if stop is not None else threading.Event()
    summary = DemoSummary()
    out = Path(out_dir) if out_dir and pngs > 0 else None
    try:
        node = VbpNode(node_t)
        summary.device = node.device
        listener = OutputListener(world_t, kinds=('steering', 'mask'), keep=2000)
        cam = CameraPublisher(world_t, frames.frames(), rate=rate, keep=120)
        if not (cam.wait_for_subscriber() and listener.wait_matched()):
            say('warning: DDS discovery did not complete in 10 s')
        if hasattr(frames, 'wait_ready'):
            frames.wait_ready(2.0)
        camera = threading.Thread(target=cam.run, args=(duration, None, stop),
                                  name='demo-camera', daemon=True)
        start = time.monotonic()
        camera.start()
        # Spread over the run, but within the synthetic clip's first pass: it then plays
        # backwards, and a PNG at 2 s and one at 4 s would show the same frame.
        span = min(duration, frames.count / (rate or 30.0)) if isinstance(
            frames, WorldSource) else duration
        png_times = [span * (k + 1) / (pngs + 1) for k in range(pngs)] if out else []
        if out:
            out.mkdir(parents=True, exist_ok=True)
        second = 1
        last_counts = node.stats.snapshot()
        while camera.is_alive() or second == 1:
            camera.join(timeout=max(0.0, start + second - time.monotonic()))
            elapsed = time.monotonic() - start
            counts = node.stats.snapshot()
            steer = listener.snapshot('steering')
            p50 = node.stats.percentiles('total')[0] * 1e3
            masks = listener.snapshot('mask')[-30:]
            e2e = _pct([r.latency_s * 1e3 for r in masks])[0]
            if not camera.is_alive() and counts['received'] == last_counts['received']:
                break  # the camera finished with the last full second: no empty last line
            say(f't={elapsed:4.1f}s  in {counts["received"] - last_counts["received"]:3d}  '
                f'processed {counts["processed"] - last_counts["processed"]:3d}  '
                f'dropped {counts["dropped"] - last_counts["dropped"]:3d}  steering '
                f'{steer[-1].msg.drive.steering_angle if steer else float("nan"):+.4f} rad  '
                f'node p50 {p50:5.2f} ms  camera->mask p50 {e2e:5.2f} ms')
            last_counts = counts
            due = sum(1 for t in png_times if elapsed >= t) if out is not None and masks else 0
            # Several PNGs due in one second (short runs): different frames of that second.
            picks = sorted({int(round(i)) for i in np.linspace(len(masks) - 1, 0, due)})
            del png_times[:due]
            for item in (masks[i] for i in picks):
                rgb = cam.history.get(item.stamp_ns)
                if rgb is not None:
                    mask = np.frombuffer(item.msg.data, np.uint8).reshape(
                        item.msg.height, item.msg.step)[:, :item.msg.width]
                    path = out / f'overlay_{len(summary.pngs):02d}.png'
                    _save_overlay(path, rgb, mask)
                    summary.pngs.append(path)
            second += 1
        if out is not None and len(summary.pngs) < pngs:
            why = ('stopped before the others were due' if stop.is_set() else
                   'no masks had arrived when they were due' if png_times else
                   'the camera frames of the others were gone by then (a flood keeps only the '
                   'last 120 frames)')
            say(f'warning: wrote {len(summary.pngs)} of {pngs} overlay PNGs: {why}')
        time.sleep(0.3)
        node.stop()
        counts = node.stats.snapshot()
        summary.sent = cam.sent
        summary.received, summary.processed = counts['received'], counts['processed']
        summary.dropped, summary.malformed = counts['dropped'], counts['malformed']
        total = node.stats.percentiles('total')
        steering = node.stats.percentiles('steering')
        summary.node_ms = (total[0] * 1e3, total[1] * 1e3)
        summary.steering_ms = (steering[0] * 1e3, steering[1] * 1e3)
        summary.e2e_ms = _pct([r.latency_s * 1e3 for r in listener.snapshot('mask')])
        steer = listener.snapshot('steering')
        if steer:
            summary.steering = steer[-1].msg.drive.steering_angle
    finally:
        stop.set()
        if hasattr(frames, 'close'):
            frames.close()
        world_t.close()
        node_t.close()
        if tmp_model is not None:
            tmp_model.unlink(missing_ok=True)
    return summary


def _untrained_model() -> Path:
    """Save a freshly initialised PilotNet to a temporary file."""
    import tempfile

    import torch

    from vbp_ros import ModelSpec, PilotNet, save_model
    torch.manual_seed(0)
    fd, name = tempfile.mkstemp(suffix='.safetensors', prefix='vbp_demo_')
    os.close(fd)
    save_model(PilotNet(), name, ModelSpec(info={'note': 'untrained demo fallback'}))
    return Path(name)
