"""Latency benchmark of the node over DDS on loopback (a measurement, not a test).

For each configuration the node runs in its own process (``vbp-ros node``), fed by a camera
publishing pre-rendered synthetic frames from this process, which also receives the outputs.
Reported per configuration:

- camera publish -> mask received (end to end, p50/p99);
- the node's own receive -> steering published and receive -> mask published (p50/p99, from
  its diagnostics), and the overlay's extra cost when ``~/overlay`` has a subscriber;
- frames sent/processed/dropped and the node process's CPU use (100 % = one core).

Usage::

    python -m vbp_ros.node.bench_latency [--device cpu] [--seconds 6] [--json out.json]
    vbp-ros demo --bench
"""
from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
import itertools
import json
import logging
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from vbp_ros.commands.arguments import domain_id

CONFIGS = [  # (width, height, rate (0 = flood), overlay subscribed)
    (640, 480, 30.0, False), (640, 480, 0.0, False), (640, 480, 30.0, True),
    (1280, 720, 30.0, False), (1280, 720, 0.0, False), (1280, 720, 30.0, True),
]


@dataclass
class BenchResult:
    """One configuration's figures (milliseconds, counts, CPU percent)."""

    size: str
    rate: str
    overlay: bool
    sent: int
    processed: int
    dropped: int
    e2e_p50: float
    e2e_p99: float
    steering_p50: float
    steering_p99: float
    mask_p50: float
    mask_p99: float
    forward_vbp_p50: float
    overlay_p50: float
    overlay_p99: float
    cpu_percent: float


def _frames(width: int, height: int, n: int = 30) -> list[np.ndarray]:
    from vbp_ros.node.sources import PatternSource
    try:
        from vbp_ros.world import CameraGeometry, DriveSequence
        drive = DriveSequence(seed=3, fps=30.0, camera=CameraGeometry(width, height),
                              render_scale=0.5)
        return [drive.frame_at(k / 30.0).rgb for k in range(n)]
    except ImportError:
        source = PatternSource(width, height)
        return [source.frame(k) for k in range(n)]


def _ms(values: dict[str, str], key: str) -> float:
    try:
        return float(values.get(key, 'nan'))
    except ValueError:
        return float('nan')


def run_config(width: int, height: int, rate: float, overlay: bool, seconds: float,
               device: str, model: str, domain: int, record: str = '',
               storage: str = 'mcap') -> BenchResult:
    """Start a node process, stream for ``seconds`` and collect the figures (with
    ``record``, the node also records into that new folder, in ``storage``)."""
    try:
        import psutil  # only for the node's CPU figure
    except ImportError:
        psutil = None
        logging.getLogger('vbp_ros.bench').warning(
            'psutil is not installed: the node CPU column stays empty (pip install psutil)')
    from vbp_ros.node.camera import CameraPublisher
    from vbp_ros.node.listener import OutputListener
    from vbp_ros.transport.dds import DdsTransport
    frames = _frames(width, height)
    cmd = [sys.executable, '-m', 'vbp_ros', 'node', '--middleware', 'cyclonedds',
           '--domain-id', str(domain), '--param', f'device={device}',
           '--param', 'diagnostics_period=0.5']
    if model:
        cmd += ['--param', f'model_path={model}']
    if record:
        cmd += ['--record', record, '--record-storage', storage]
    proc = subprocess.Popen(cmd, env=dict(os.environ), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    transport = DdsTransport('vbp_bench', domain_id=domain)
    try:
        kinds = ('steering', 'mask', 'diagnostics') + (('overlay',) if overlay else ())
        listener = OutputListener(transport, kinds=kinds, keep=100000)
        cam = CameraPublisher(transport, itertools.cycle(frames), rate=rate)
        if not (cam.wait_for_subscriber(120) and listener.wait_matched(60)):
            raise RuntimeError('node did not come up')
        cam.run(duration=1.0)                       # warm up
        time.sleep(0.3)
        node = psutil.Process(proc.pid) if psutil is not None else None
        if node is not None:
            node.cpu_percent(None)
        first_mask = listener.counts['mask']
        first_diag = listener.counts['diagnostics']
        sent = cam.run(duration=seconds)
        cpu = node.cpu_percent(None) if node is not None else float('nan')
        time.sleep(0.3)
        listener.wait_for('diagnostics', first_diag + 2, timeout=5)
        masks = listener.snapshot('mask')[first_mask - listener.counts['mask']:] \
            if listener.counts['mask'] > first_mask else []
        diags = listener.snapshot('diagnostics')
        before = {kv.key: kv.value for kv in diags[max(0, first_diag - 1)].msg.status[0].values}
        after = {kv.key: kv.value for kv in diags[-1].msg.status[0].values}
    finally:
        transport.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    lat = [r.latency_s * 1e3 for r in masks]
    e2e = np.percentile(lat, [50, 99]) if lat else [float('nan')] * 2
    return BenchResult(
        size=f'{width}x{height}', rate='flood' if rate <= 0 else f'{rate:g} Hz',
        overlay=overlay, sent=sent,
        processed=int(after['frames_processed']) - int(before['frames_processed']),
        dropped=int(after['frames_dropped']) - int(before['frames_dropped']),
        e2e_p50=float(e2e[0]), e2e_p99=float(e2e[1]),
        steering_p50=_ms(after, 'steering_ms_p50'), steering_p99=_ms(after, 'steering_ms_p99'),
        mask_p50=_ms(after, 'total_ms_p50'), mask_p99=_ms(after, 'total_ms_p99'),
        forward_vbp_p50=_ms(after, 'forward_vbp_ms_p50'),
        overlay_p50=_ms(after, 'overlay_ms_p50'), overlay_p99=_ms(after, 'overlay_ms_p99'),
        cpu_percent=float(cpu))


def table(results: list[BenchResult]) -> str:
    """Markdown table of the results."""
    head = ('| size | camera | overlay | sent | processed | dropped | camera->mask p50/p99 ms | '
            'node rx->steering p50/p99 ms | node rx->mask p50/p99 ms | forward+VBP p50 ms | '
            'overlay extra p50/p99 ms | node CPU % |')
    rows = [head, '|' + '---|' * 12]
    for r in results:
        over = f'{r.overlay_p50:.2f} / {r.overlay_p99:.2f}' if r.overlay else '-'
        rows.append(f'| {r.size} | {r.rate} | {"yes" if r.overlay else "no"} | {r.sent} | '
                    f'{r.processed} | {r.dropped} | {r.e2e_p50:.2f} / {r.e2e_p99:.2f} | '
                    f'{r.steering_p50:.2f} / {r.steering_p99:.2f} | '
                    f'{r.mask_p50:.2f} / {r.mask_p99:.2f} | {r.forward_vbp_p50:.2f} | {over} | '
                    f'{r.cpu_percent:.0f} |')
    return '\n'.join(rows)


def main(argv: list[str] | None = None) -> int:
    """Run every configuration and print a table."""
    parser = argparse.ArgumentParser(prog='bench_latency', description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cpu', choices=['auto', 'cpu', 'cuda'])
    parser.add_argument('--model', default='', help='model file (default: bundled)')
    parser.add_argument('--seconds', type=float, default=6.0, help='measurement per config')
    parser.add_argument('--domain-id', type=domain_id, default=77, help='DDS domain to use')
    parser.add_argument('--only', default='', help='comma-separated config indices to run')
    parser.add_argument('--json', default='', help='also write the results here')
    parser.add_argument('--record', nargs='?', const='mcap', default='',
                        choices=['mcap', 'sqlite3'],
                        help='the node also records everything (--record, in this storage, '
                             'default mcap, into a temporary folder deleted afterwards)')
    args = parser.parse_args(argv)
    from vbp_ros.transport.loopback import use_loopback
    use_loopback()
    chosen = [CONFIGS[int(i)] for i in args.only.split(',')] if args.only else CONFIGS
    results = []
    with tempfile.TemporaryDirectory(prefix='vbp_bench_') as tmp:
        for k, (w, h, rate, overlay) in enumerate(chosen):
            bag = os.path.join(tmp, f'bag_{k}') if args.record else ''
            results.append(run_config(w, h, rate, overlay, args.seconds, args.device,
                                      args.model, args.domain_id + k % 10, bag,
                                      args.record or 'mcap'))
            sys.stdout.write(table(results[-1:]).splitlines()[-1] + '\n')
            sys.stdout.flush()
    sys.stdout.write('\n' + table(results) + '\n')
    if args.json:
        with open(args.json, 'w') as fh:
            json.dump([asdict(r) for r in results], fh, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
