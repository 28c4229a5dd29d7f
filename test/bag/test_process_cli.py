"""`vbp-ros process` as a process: Ctrl-C or SIGTERM mid-run leaves a readable, marked bag."""
from __future__ import annotations

import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from bag_testutil import camera_frames, camera_message, stamp_of
from vbp_ros.bag import BagReader, BagWriter
from vbp_ros.bag.io import COMPLETE_KEY

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_run(tmp_path: Path, model_path: Path, sig: Any) -> None:
    n = 4000  # far more than can be processed before the signal
    frames = camera_frames(8, 64, 48)
    with BagWriter(tmp_path / 'in') as w:
        msgs = [camera_message(f, 0, 'rgb8')[1] for f in frames]
        for i in range(n):
            w.write('/cam', 'sensor_msgs/msg/Image', msgs[i % 8], stamp_of(i))
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.Popen(
        [sys.executable, '-m', 'vbp_ros', 'process', str(tmp_path / 'in'), str(tmp_path / 'out'),
         '--model', str(model_path), '--device', 'cpu', '--batch-size', '1', '--no-progress'],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    staged = None
    deadline = time.monotonic() + 60
    while staged is None and time.monotonic() < deadline and proc.poll() is None:
        staged = next((p for p in tmp_path.iterdir() if p.name.startswith('.out.partial')), None)
        time.sleep(0.05)
    assert staged is not None, proc.communicate()[0]
    time.sleep(1.0)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert 'incomplete' in out, out
    assert not (tmp_path / 'out').exists()
    assert not staged.exists()
    with BagReader(tmp_path / 'out.incomplete') as r:
        assert r.metadata[COMPLETE_KEY] == 'false'
        done = int(r.metadata['vbp_ros.frames'])
        assert 0 < done < n
        assert r.topics['/vbp/steering'].count == done
        assert r.topics['/vbp/mask'].count == done
        stamps = [t for _, t, _ in r.messages(['/vbp/steering'])]
    assert stamps == [stamp_of(i) for i in range(done)]
