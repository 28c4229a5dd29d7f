"""`vbp-ros camera`, `vbp-ros echo` and the demo, run as users run them."""
from __future__ import annotations

import os
import signal
from pathlib import Path
import subprocess
import sys
import threading
import time
from typing import Any

import cv2
import numpy as np

from vbp_ros.msgs import deserialize, Image
from vbp_ros.node.camera import CameraPublisher
from vbp_ros.node.sources import FolderSource, open_source, PatternSource, VideoSource
from vbp_ros.transport.qos import SENSOR_DATA

REPO = Path(__file__).resolve().parents[2]


def vbp_ros(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    return subprocess.Popen([sys.executable, '-m', 'vbp_ros', *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_camera_command_publishes_an_image_folder(domain: int, peer, tmp_path: Path) -> None:
    for k in range(3):
        img = np.full((30, 40, 3), 60 * k, np.uint8)
        cv2.imwrite(str(tmp_path / f'{k}.png'), img)
    got: list[Any] = []
    peer.create_subscription('/cam/image', Image, SENSOR_DATA, got.append)
    proc = vbp_ros('camera', '--middleware', 'cyclonedds', '--domain-id', str(domain),
                   '--source', str(tmp_path), '--width', '40', '--height', '30', '--count', '6',
                   '--rate', '20', '--encoding', 'bgr8', '--topic', '/cam/image',
                   '--wait-subscriber', '30')
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    time.sleep(0.2)
    msgs = [deserialize(g, Image) for g in got]
    assert len(msgs) == 6
    assert {(m.width, m.height, m.encoding) for m in msgs} == {(40, 30, 'bgr8')}
    assert [bytes(m.data)[0] for m in msgs] == [0, 60, 120, 0, 60, 120]


def test_echo_command_prints_outputs(make_node, peer) -> None:
    node = make_node()
    proc = vbp_ros('echo', '--middleware', 'cyclonedds', '--outputs', 'steering,mask',
                   '--count', '4', '--duration', '60')
    cam = CameraPublisher(peer, PatternSource(64, 48).frames(), rate=10)
    deadline = time.monotonic() + 60
    while node.mask_pub.subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cam.wait_for_subscriber()
    cam.run(count=4)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    lines = [line for line in out.splitlines() if line.startswith(('steering', 'mask'))]
    assert len(lines) == 4, out
    assert any(line.startswith('mask') and '64x48 mono8' in line for line in lines), out
    assert any(line.startswith('steering') and 'angle=' in line for line in lines), out


def test_sources(tmp_path: Path) -> None:
    assert type(open_source('pattern', 32, 24)).__name__ == 'PatternSource'
    frames = PatternSource(32, 24).frames()
    first, second = next(frames), next(frames)
    assert first.shape == (24, 32, 3) and not np.array_equal(first, second)
    video = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 10, (40, 30))
    for k in range(3):
        writer.write(np.full((30, 40, 3), 80 * k, np.uint8))
    writer.release()
    clip = VideoSource(video, 20, 16).frames()
    assert [next(clip).shape for _ in range(5)] == [(16, 20, 3)] * 5      # loops
    cv2.imwrite(str(tmp_path / 'a.png'), np.zeros((8, 8, 3), np.uint8))
    assert next(FolderSource(tmp_path).frames()).shape == (8, 8, 3)


def test_demo_runs_and_writes_pngs(domain: int, model_path: str, tmp_path: Path) -> None:
    from vbp_ros.node.demo import run_demo
    lines: list[str] = []
    summary = run_demo(duration=2.0, width=320, height=240, rate=15, source='pattern',
                       out_dir=tmp_path, pngs=3, device='cpu', model_path=model_path,
                       domain_id=domain, report=lines.append)
    assert summary.processed >= 15 and summary.processed + summary.dropped == summary.received
    assert len(lines) >= 2 and 'steering' in lines[0]
    # Three PNGs in two seconds: some are due in the same second, and must still differ.
    assert [p.name for p in summary.pngs] == ['overlay_00.png', 'overlay_01.png',
                                              'overlay_02.png']
    assert cv2.imread(str(summary.pngs[0])).shape == (240, 320, 3)
    assert len({p.read_bytes() for p in summary.pngs}) == 3
    assert summary.node_ms[0] > 0 and summary.e2e_ms[0] > 0


def test_demo_ends_early_on_ctrl_c_with_its_summary(domain: int, model_path: str,
                                                    tmp_path: Path) -> None:
    proc = vbp_ros('demo', '--duration', '120', '--source', 'pattern', '--width', '320',
                   '--height', '240', '--rate', '15', '--pngs', '0', '--device', 'cpu',
                   '--model', model_path, '--domain-id', str(domain))
    start = time.monotonic()
    seen = []
    assert proc.stdout is not None
    watchdog = threading.Timer(90, proc.kill)  # reading stdout blocks; never forever
    watchdog.start()
    try:
        for line in proc.stdout:  # the demo reports once a second
            seen.append(line)
            if line.startswith('t='):
                break
    finally:
        watchdog.cancel()
    assert seen and seen[-1].startswith('t='), ''.join(seen)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    out = ''.join(seen) + out
    assert proc.returncode == 0, out
    assert 'frames: sent' in out and 'SIGINT: ending the demo early' in out, out
    assert time.monotonic() - start < 100, out


def test_a_zero_duration_stops_at_once_as_for_the_camera() -> None:
    import threading
    import time

    from vbp_ros.node.main import spin_until_stopped

    class Spinner:
        def spin(self, until: threading.Event) -> None:
            until.wait(10)

    t = time.monotonic()
    spin_until_stopped(Spinner(), threading.Event(), 0)
    assert time.monotonic() - t < 5


def test_ros_args_section_may_end_with_double_dash(capsys) -> None:
    # rcl ends a --ros-args section at '--'; launch files and scripts pass it.
    from vbp_ros.node.main import main
    assert main(['--ros-args', '-p', 'device:=cpu', '--', '--list-params']) == 0
    assert 'mask_mode' in capsys.readouterr().out


def test_script_requirements_do_not_reach_pkg_resources() -> None:
    # As a console script made by setuptools (colcon on ROS) sets it: pkg_resources (absent
    # from recent setuptools, so not imported here) would demand it by pip names that apt
    # packages do not have.
    code = ("import sys; __requires__ = 'vbp-ros-missing-dist==0'\n"
            "from vbp_ros.node.main import main\n"
            "assert main(['--list-params']) == 0\n"
            "import __main__; assert not hasattr(__main__, '__requires__')\n")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    done = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]


def test_sources_without_readable_frames_end_with_an_error(tmp_path: Path) -> None:
    # They used to spin forever (and ignore Ctrl-C) logging 55,000 warnings a second.
    import pytest

    from vbp_ros.errors import InputError
    (tmp_path / 'bad').mkdir()
    (tmp_path / 'bad' / 'x.png').write_text('not an image')
    (tmp_path / 'bad' / 'dir.png').mkdir()  # a folder named like an image: not a file
    folder = FolderSource(tmp_path / 'bad')
    assert folder.files == [tmp_path / 'bad' / 'x.png']
    with pytest.raises(InputError, match='none of the 1 images'):
        next(folder.frames())
    video = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 10, (40, 30))
    writer.write(np.zeros((30, 40, 3), np.uint8))
    writer.release()
    clip = VideoSource(video).frames()
    next(clip)
    video.unlink()  # removed while it plays
    with pytest.raises(InputError, match='gives no frames any more'):
        next(clip)


def test_camera_rates_and_sizes_are_checked() -> None:
    assert vbp_ros('camera', '--rate', 'nan').wait(timeout=60) == 2
    assert vbp_ros('camera', '--width', '100000').wait(timeout=60) == 2


def test_a_failed_world_render_is_reported() -> None:
    import pytest

    from vbp_ros.errors import InputError
    from vbp_ros.node.sources import WorldSource
    source = WorldSource(32, 24, rate=float('nan'))  # the renderer fails on frame 1
    with pytest.raises(InputError, match='rendering the synthetic world failed'):
        source.wait_ready(30)
    source.close()


def test_world_source_plays_on_without_jumping_back() -> None:
    # Frames are taken while the clip still renders; once it is complete, playback goes on
    # from there (forwards and backwards), never back to the clip's start at once.
    from vbp_ros.node.sources import WorldSource
    source = WorldSource(320, 240, max_frames=12)
    try:
        frames = source.frames()
        seen = [next(frames)]
        while not source.wait_ready(0):
            seen.append(next(frames))
        seen += [next(frames) for _ in range(30)]
        index = {id(f): i for i, f in enumerate(source._clip)}
        order = [index[id(f)] for f in seen]
        assert all(abs(a - b) <= 1 for a, b in zip(order, order[1:])), order
        assert set(order) == set(range(12)) and order[0] == 0
    finally:
        source.close()


def test_echo_describes_diagnostics_with_the_recording() -> None:
    from vbp_ros.commands.echo import describe
    from vbp_ros.msgs import DiagnosticArray, DiagnosticStatus, Header, KeyValue
    from vbp_ros.node.listener import Received
    values = {'input_rate_hz': '30.00', 'processed_rate_hz': '29.90', 'frames_dropped': '1',
              'frames_malformed': '0', 'processing_errors': '0', 'total_ms_p50': '4.70',
              'recording_written': '917', 'recording_dropped': '3',
              'recording_queued_mib': '12.5'}
    status = DiagnosticStatus(level=1, name='vbp', message='recording dropped 3 messages',
                              values=[KeyValue(k, v) for k, v in values.items()])
    item = Received('diagnostics', DiagnosticArray(header=Header(), status=[status]), 0.0, 0)
    line = describe(item)
    assert line.startswith('diagnostics WARN "recording dropped 3 messages" in=30.00 Hz')
    assert 'errors=0' in line and 'recorded=917 record_dropped=3 record_queue=12.5 MiB' in line


def test_demo_bench_passes_on_its_domain_and_model(monkeypatch, capsys) -> None:
    from vbp_ros.cli import main
    from vbp_ros.node import bench_latency
    seen: list[list[str]] = []
    monkeypatch.setattr(bench_latency, 'main', lambda argv: seen.append(argv) or 0)
    assert main(['demo', '--bench', '--domain-id', '42', '--model', 'm.safetensors']) == 0
    assert seen == [['--device', 'auto', '--model', 'm.safetensors', '--domain-id', '42']]


def test_latency_bench_runs_without_psutil(domain: int, model_path: str, monkeypatch,
                                           capsys, caplog) -> None:
    from vbp_ros.node import bench_latency
    monkeypatch.setitem(sys.modules, 'psutil', None)  # import psutil -> ImportError
    assert bench_latency.main(['--only', '0', '--seconds', '1', '--domain-id', str(domain),
                               '--model', model_path]) == 0
    row = capsys.readouterr().out.strip().splitlines()[-1].split('|')
    sent, processed = int(row[4]), int(row[5])
    assert sent > 0 and processed > 0
    assert row[-2].strip() == 'nan'  # the CPU column
    assert 'psutil is not installed' in caplog.text
