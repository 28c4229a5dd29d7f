"""A recording cut off by a crash: refused by default, read up to the damage with salvage."""
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
from vbp_ros.bag import BagError, BagReader, BagWriter
from vbp_ros.bag.process import process_bag, ProcessOptions
from vbp_ros.bag.review import review_bag

REPO = Path(__file__).resolve().parents[2]

RECORD = """
import sys, time
sys.path.insert(0, {testdir!r})
from bag_testutil import camera_frames, camera_message, stamp_of
from vbp_ros.bag import BagRecorder
frames = camera_frames(4, 160, 120)
msgs = [camera_message(f, i, 'rgb8')[1] for i, f in enumerate(frames)]
rec = BagRecorder({bag!r})
i = 0
while True:
    rec('/cam/image', 'sensor_msgs/msg/Image', msgs[i % 4], stamp_of(i))
    i += 1
    if i == 40:
        print('recording', flush=True)
    time.sleep(0.002)
"""


def _cut_bag(path: Path, n: int = 30) -> int:
    """Write a bag whose MCAP ends inside a record, without metadata.yaml; count what is kept."""
    frames = camera_frames(4, 160, 120)
    with BagWriter(path) as w:
        for i in range(n):
            w.write('/cam/image', 'sensor_msgs/msg/Image',
                    camera_message(frames[i % 4], i, 'rgb8')[1], stamp_of(i))
    (path / 'metadata.yaml').unlink()
    mcap = path / f'{path.name}.mcap'
    raw = mcap.read_bytes()
    mcap.write_bytes(raw[:len(raw) // 2 + 7])
    with BagReader(path, salvage=True) as r:
        return r.topics['/cam/image'].count


def test_cut_recording_is_refused_with_a_hint(tmp_path: Path, pipeline: Any) -> None:
    _cut_bag(tmp_path / 'in')
    with pytest.raises(BagError, match='--salvage'):
        process_bag(tmp_path / 'in', tmp_path / 'out', pipeline=pipeline)
    assert not (tmp_path / 'out').exists()


def test_salvaged_recording_is_processed(tmp_path: Path, pipeline: Any) -> None:
    kept = _cut_bag(tmp_path / 'in')
    assert 0 < kept < 30
    rep = process_bag(tmp_path / 'in', tmp_path / 'out', ProcessOptions(batch_size=8),
                      pipeline=pipeline, salvage=True)
    assert rep.complete and rep.frames == kept
    with BagReader(tmp_path / 'out') as r:
        assert r.metadata['vbp_ros.input_salvaged'] == 'true'
        assert [t for _, t, _ in r.messages(['/vbp/steering'])] == \
            [stamp_of(i) for i in range(kept)]


def test_recorder_killed_mid_write_can_be_salvaged(tmp_path: Path, pipeline: Any) -> None:
    bag = tmp_path / 'drive'
    script = RECORD.format(testdir=str(Path(__file__).parent), bag=str(bag))
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.Popen([sys.executable, '-c', script], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert 'recording' in line, line + proc.stdout.read()
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert not (bag / 'metadata.yaml').exists()
    with pytest.raises(BagError):
        BagReader(bag).open()
    rep = process_bag(bag, tmp_path / 'out', pipeline=pipeline, salvage=True)
    assert rep.complete and rep.frames > 0
    with BagReader(tmp_path / 'out') as r:
        assert r.topics['/vbp/mask'].count == rep.frames
    assert review_bag(tmp_path / 'out', tmp_path / 'rev').frames == rep.frames
