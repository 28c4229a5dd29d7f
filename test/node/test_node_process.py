"""`vbp-ros node` as its own process.

The wire between processes, recording, and a flood of frames at several times the processing
rate.
"""
from __future__ import annotations

import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from vbp_ros.node.camera import CameraPublisher
from vbp_ros.node.listener import OutputListener
from vbp_ros.node.sources import PatternSource

psutil = pytest.importorskip('psutil')
REPO = Path(__file__).resolve().parents[2]


def start_node(domain: int, model_path: str, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    cmd = [sys.executable, '-m', 'vbp_ros', 'node', '--domain-id', str(domain),
           '--params-file', str(REPO / 'config' / 'vbp.yaml'), *extra,
           '--ros-args', '-p', f'model_path:={model_path}', '-p', 'device:=cpu',
           '-p', 'diagnostics_period:=0.5']
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def stop_node(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_node_process_end_to_end(domain: int, model_path: str, peer, tmp_path: Path,
                                 storage: str) -> None:
    bag = tmp_path / 'drive'
    proc = start_node(domain, model_path, '--record', str(bag), '--record-storage', storage)
    try:
        listener = OutputListener(peer, kinds=('steering', 'mask', 'diagnostics'))
        cam = CameraPublisher(peer, PatternSource(640, 480).frames())
        assert cam.wait_for_subscriber(60) and listener.wait_matched(30), 'node did not start'
        stamps = []
        for k in range(8):          # each frame once the previous one came back: no drops
            stamps.append(cam.publish_one())
            assert listener.wait_for('mask', k + 1, timeout=20)
        assert listener.wait_for('mask', 8, timeout=20)
        got = [r.stamp_ns for r in listener.snapshot('mask')]
        assert got == stamps
        mask = listener.snapshot('mask')[0].msg
        assert (mask.width, mask.height, mask.encoding) == (640, 480, 'mono8')
        assert [r.stamp_ns for r in listener.snapshot('steering')] == stamps
        assert listener.wait_for('diagnostics', 1)
    finally:
        out = stop_node(proc)
    assert proc.returncode == 0, out
    assert 'processed 8' in out, out
    # The start-up log says what runs: model file and the outputs.
    assert f'model {Path(model_path).resolve()} (sha256 ' in out, out
    assert 'mask_mode on_demand; publishing /vbp/steering, /vbp/mask, /vbp/overlay' in out, out
    from vbp_ros.bag import BagReader
    with BagReader(bag) as reader:
        topics = set(reader.topics)
        assert reader.metadata['vbp_ros.output_topics'] == \
            '/vbp/steering /vbp/mask /vbp/overlay'
        counts: dict[str, int] = {}
        for topic, _, _ in reader.messages():
            counts[topic] = counts.get(topic, 0) + 1
    assert {'/camera/image_raw', '/vbp/steering', '/vbp/mask'} <= topics
    assert counts['/camera/image_raw'] == 8 and counts['/vbp/mask'] == 8
    assert list(bag.glob('*.db3' if storage == 'sqlite3' else '*.mcap'))


def test_sigterm_while_the_model_loads_still_finishes_the_bag(domain: int, model_path: str,
                                                             tmp_path: Path) -> None:
    bag = tmp_path / 'drive'
    proc = start_node(domain, model_path, '--record', str(bag))
    deadline = time.monotonic() + 60
    while not bag.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)  # the bag exists; the model is still loading
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert 'shutting down' in out, out
    from vbp_ros.bag import BagReader
    with BagReader(bag) as reader:  # a finished bag, so the folder can be read and reused
        assert not list(reader.messages())


def test_flood_bounded_latency_drops_counted_no_memory_growth(domain: int, model_path: str,
                                                              peer) -> None:
    proc = start_node(domain, model_path)
    try:
        listener = OutputListener(peer, kinds=('steering', 'mask', 'diagnostics'), keep=100000)
        source = PatternSource(640, 480)
        frames = [source.frame(i) for i in range(8)]
        cam = CameraPublisher(peer, iter(frames * 100000), rate=0)
        assert cam.wait_for_subscriber(60) and listener.wait_matched(30), 'node did not start'
        node_proc = psutil.Process(proc.pid)
        cam.run(duration=2.0)              # warm up: allocator and DDS buffers settle
        time.sleep(0.5)
        rss0 = node_proc.memory_info().rss
        first = listener.counts['steering']
        sent = cam.run(duration=4.0)       # flood
        time.sleep(1.0)
        rss1 = node_proc.memory_info().rss
        received = listener.counts['steering'] - first
        diag = listener.snapshot('diagnostics')[-1].msg.status[0]
    finally:
        out = stop_node(proc)
    values = {kv.key: kv.value for kv in diag.values}
    in_count, done = int(values['frames_received']), int(values['frames_processed'])
    dropped = int(values['frames_dropped'])
    # far more frames offered than processed; the rest were dropped, not queued
    assert sent > 2 * received, (sent, received)
    assert dropped > 0
    assert in_count - done - dropped in (0, 1)      # at most the frame in flight
    # latency stays bounded: the last outputs are as fresh as the first ones
    lat = np.array([r.latency_s for r in listener.snapshot('steering')[-received:]])
    third = max(1, len(lat) // 3)
    assert np.median(lat[-third:]) < 3 * np.median(lat[:third]) + 0.05, lat
    assert rss1 - rss0 < 40 * 2**20, (rss0, rss1)
    assert proc.returncode == 0, out
