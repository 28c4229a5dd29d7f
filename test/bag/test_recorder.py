"""BagRecorder: everything handed to it lands in the bag, by count and content, from threads."""
from __future__ import annotations

from pathlib import Path
import threading

import numpy as np
import pytest
from rosbags.rosbag2 import Reader

from vbp_ros.bag import BagError, BagRecorder
from vbp_ros.bag.types import definition, typestore
from vbp_ros.msgs import Float32, serialize

IMAGE = 'sensor_msgs/msg/Image'
FLOAT = 'std_msgs/msg/Float32'
ACK = 'ackermann_msgs/msg/AckermannDriveStamped'


def _image_cdr(i: int) -> bytes:
    s = typestore()
    t = s.types
    hdr = t['std_msgs/msg/Header'](t['builtin_interfaces/msg/Time'](i, 7), 'cam')
    data = np.full(4 * 6, i % 256, np.uint8)
    return s.serialize_cdr(t[IMAGE](hdr, 4, 6, 'mono8', 0, 6, data), IMAGE)


def _ack_cdr(i: int) -> bytes:
    s = typestore()
    t = s.types
    hdr = t['std_msgs/msg/Header'](t['builtin_interfaces/msg/Time'](i, 0), 'base_link')
    drive = t['ackermann_msgs/msg/AckermannDrive'](0.01 * i, 0.0, 0.0, 0.0, 0.0)
    return s.serialize_cdr(t[ACK](hdr, drive), ACK)


def _read_all(path: Path) -> dict[str, list[tuple[int, bytes]]]:
    out: dict[str, list[tuple[int, bytes]]] = {}
    with Reader(path) as r:
        for conn, stamp, data in r.messages():
            out.setdefault(conn.topic, []).append((stamp, bytes(data)))
        types = {c.topic: (c.msgtype, c.digest) for c in r.connections}
    for topic, (msgtype, digest) in types.items():
        assert digest == definition(msgtype)[1]
    return out


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_every_message_lands_in_the_bag(tmp_path: Path, storage: str) -> None:
    sent: dict[str, list[tuple[int, bytes]]] = {}
    with BagRecorder(tmp_path / 'rec', storage=storage) as rec:
        for i in range(50):
            for topic, ros_type, cdr in (('/vbp/mask', IMAGE, _image_cdr(i)),
                                         ('/vbp/steering', ACK, _ack_cdr(i))):
                rec(topic, ros_type, cdr, 1_000 + i)
                sent.setdefault(topic, []).append((1_000 + i, cdr))
    got = _read_all(tmp_path / 'rec')
    assert got == sent
    from vbp_ros.bag import BagReader
    with BagReader(tmp_path / 'rec') as bag:
        assert bag.metadata['vbp_ros.dropped_messages'] == '0'
    s = typestore()
    last = s.deserialize_cdr(got['/vbp/steering'][-1][1], ACK)
    assert last.drive.steering_angle == pytest.approx(0.49)


def test_concurrent_producers_lose_nothing(tmp_path: Path) -> None:
    n_threads, n_each = 4, 60
    with BagRecorder(tmp_path / 'rec') as rec:
        def produce(k: int) -> None:
            for i in range(n_each):
                rec(f'/t{k}', FLOAT, typestore().serialize_cdr(
                    typestore().types[FLOAT](float(i)), FLOAT), k * 10_000 + i)
        threads = [threading.Thread(target=produce, args=(k,)) for k in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    got = _read_all(tmp_path / 'rec')
    assert sorted(got) == [f'/t{k}' for k in range(n_threads)]
    for k in range(n_threads):
        values = [typestore().deserialize_cdr(d, FLOAT).data for _, d in got[f'/t{k}']]
        assert values == [float(i) for i in range(n_each)]
        assert [s for s, _ in got[f'/t{k}']] == [k * 10_000 + i for i in range(n_each)]


def _slow_writes(monkeypatch: pytest.MonkeyPatch, gate: threading.Event) -> None:
    """Each write of the recorder's thread waits for ``gate``: a disk that fell behind."""
    from vbp_ros.bag.io import BagWriter
    write = BagWriter.write

    def slow(self: BagWriter, *args: object) -> None:
        gate.wait(10)
        write(self, *args)

    monkeypatch.setattr(BagWriter, 'write', slow)


def test_a_full_queue_drops_and_reports_instead_of_waiting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
        ) -> None:
    # A node's callbacks must never wait for the disk: a message that finds the queue full is
    # dropped, counted, logged, reported to diagnostics and noted in the bag.
    gate = threading.Event()
    _slow_writes(monkeypatch, gate)
    cdr = serialize(Float32(1.0))  # 8 bytes: 3 fit into 24
    rec = BagRecorder(tmp_path / 'rec', max_queue_bytes=24)
    assert rec.health()[0] == 0
    done = threading.Event()

    def produce() -> None:
        for i in range(10):
            rec('/a', FLOAT, cdr, i)
        done.set()

    with caplog.at_level('WARNING'):
        threading.Thread(target=produce, daemon=True).start()
        assert done.wait(5), 'a call waited for the disk'
        # Three are queued (the stalled writer holds the first), seven found no room.
        assert rec.dropped == {'/a': 7} and 'drops messages' in caplog.text
    level, message, values = rec.health()
    assert (level, values['recording_dropped']) == (1, '7') and 'dropped 7' in message
    assert rec.health()[0] == 0  # nothing new since
    gate.set()
    rec.close()
    assert len(_read_all(tmp_path / 'rec')['/a']) == 3
    from vbp_ros.bag import BagReader
    with BagReader(tmp_path / 'rec') as bag:
        assert bag.metadata['vbp_ros.dropped_messages'] == '7'


def test_a_failed_recording_is_an_error_in_its_health(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from vbp_ros.bag.io import BagWriter

    def full(self: BagWriter, *args: object) -> None:
        raise BagError('cannot write to bag: No space left on device')

    monkeypatch.setattr(BagWriter, 'write', full)
    rec = BagRecorder(tmp_path / 'rec')
    rec('/a', FLOAT, serialize(Float32(1.0)), 1)
    for _ in range(100):
        if rec.health()[0]:
            break
        threading.Event().wait(0.02)
    level, message, _ = rec.health()
    assert level == 2 and 'No space left' in message
    with pytest.raises(BagError, match='No space left'):
        rec.close()


def test_an_interrupt_while_closing_finishes_the_bag_with_what_was_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A second Ctrl-C while close() writes a long queue: the bag is finished at once, with the
    # messages written so far, and the rest counted as dropped.
    import signal
    gate = threading.Event()
    _slow_writes(monkeypatch, gate)
    rec = BagRecorder(tmp_path / 'rec')
    for i in range(20):
        rec('/a', FLOAT, serialize(Float32(float(i))), i)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGALRM, interrupt)
    threading.Timer(0.8, gate.set).start()  # the disk comes back after the interrupt
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(KeyboardInterrupt):
            rec.close()  # the writer is stuck on the first message
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)
    rec.close()  # idempotent, nothing left to do
    got = _read_all(tmp_path / 'rec')['/a']
    assert len(got) + rec.dropped['/a'] == 20 and len(got) <= 1


def test_memoryview_input_is_copied(tmp_path: Path) -> None:
    buf = bytearray(_image_cdr(3))
    with BagRecorder(tmp_path / 'rec') as rec:
        rec('/vbp/mask', IMAGE, memoryview(buf), 5)
        buf[-1] ^= 0xFF  # the caller reuses its buffer right away
    assert _read_all(tmp_path / 'rec')['/vbp/mask'][0][1] == _image_cdr(3)


def test_existing_plain_folder_gets_a_new_bag_inside(tmp_path: Path) -> None:
    with BagRecorder(tmp_path) as rec:
        rec('/a', FLOAT, typestore().serialize_cdr(typestore().types[FLOAT](1.0), FLOAT), 1)
    bags = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(bags) == 1 and bags[0] == rec.path and bags[0].name.startswith('vbp_')
    assert list(_read_all(rec.path)) == ['/a']


def test_refuses_existing_bag_and_use_after_close(tmp_path: Path) -> None:
    rec = BagRecorder(tmp_path / 'rec')
    rec.close()
    rec.close()  # idempotent
    with pytest.raises(BagError, match='closed'):
        rec('/a', FLOAT, b'\x00\x01\x00\x00\x00\x00\x00\x00', 1)
    with pytest.raises(BagError, match='exists already'):
        BagRecorder(tmp_path / 'rec')


def test_a_message_that_cannot_be_recorded_is_refused_and_the_rest_recorded(
        tmp_path: Path) -> None:
    rec = BagRecorder(tmp_path / 'rec')
    rec('/a', FLOAT, serialize(Float32(1.0)), 1)
    with pytest.raises(BagError, match="unknown message type 'nope_msgs/msg/Nope'"):
        rec('/b', 'nope_msgs/msg/Nope', b'\x00\x01\x00\x00', 2)
    with pytest.raises(BagError, match='topic /a is std_msgs/msg/Float32'):
        rec('/a', ACK, _ack_cdr(3), 3)
    rec('/a', FLOAT, serialize(Float32(4.0)), 4)
    rec.close()
    got = _read_all(tmp_path / 'rec')
    assert [stamp for stamp, _ in got['/a']] == [1, 4] and set(got) == {'/a'}


def test_program_exiting_without_close_leaves_a_finished_bag(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    repo = Path(__file__).resolve().parents[2]
    script = (
        'from vbp_ros.bag import BagRecorder\n'
        'from vbp_ros.msgs import Float32, serialize\n'
        f'rec = BagRecorder({str(tmp_path / "rec")!r})\n'
        'for i in range(20):\n'
        '    rec("/a", "std_msgs/msg/Float32", serialize(Float32(float(i))), i)\n')
    env = dict(os.environ, PYTHONPATH=str(repo) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    subprocess.run([sys.executable, '-c', script], env=env, check=True, timeout=60)
    got = _read_all(tmp_path / 'rec')
    assert [typestore().deserialize_cdr(d, FLOAT).data for _, d in got['/a']] == \
        [float(i) for i in range(20)]


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_killed_recording_keeps_what_was_written(tmp_path: Path, storage: str) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time
    from vbp_ros.bag import BagReader
    repo = Path(__file__).resolve().parents[2]
    script = (
        'import sys, time\n'
        'from vbp_ros.bag import BagRecorder\n'
        'from vbp_ros.msgs import Float32, serialize\n'
        f'rec = BagRecorder({str(tmp_path / "rec")!r}, storage={storage!r})\n'
        'for i in range(100000):\n'
        '    rec("/a", "std_msgs/msg/Float32", serialize(Float32(float(i))), i)\n'
        '    if i == 300:\n'
        '        print("recording", flush=True)\n'
        '    time.sleep(0.001)\n')
    env = dict(os.environ, PYTHONPATH=str(repo) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.Popen([sys.executable, '-c', script], env=env, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and 'recording' in proc.stdout.readline()
        time.sleep(2.5)  # > 1 s: sqlite3 commits about once a second
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    with BagReader(tmp_path / 'rec', salvage=storage == 'mcap') as r:
        values = [typestore().deserialize_cdr(bytes(d), FLOAT).data for _, _, d in r.messages()]
    assert len(values) > 300
    assert values == [float(i) for i in range(len(values))]  # a prefix, nothing skipped


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_a_burst_reaches_the_disk_while_the_recorder_idles(tmp_path: Path,
                                                          storage: str) -> None:
    # A stalled camera: a burst, then nothing. Waiting for the next message to flush would
    # leave the burst in memory, lost if the process then dies.
    import os
    import subprocess
    import sys
    from vbp_ros.bag import BagReader
    repo = Path(__file__).resolve().parents[2]
    script = (
        'import os, time\n'
        'from vbp_ros.bag import BagRecorder\n'
        'from vbp_ros.msgs import Float32, serialize\n'
        f'rec = BagRecorder({str(tmp_path / "rec")!r}, storage={storage!r})\n'
        'for i in range(20):\n'
        '    rec("/a", "std_msgs/msg/Float32", serialize(Float32(float(i))), i)\n'
        'time.sleep(2.5)\n'
        'os._exit(1)\n')
    env = dict(os.environ, PYTHONPATH=str(repo) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    subprocess.run([sys.executable, '-c', script], env=env, check=False, timeout=60)
    with BagReader(tmp_path / 'rec', salvage=storage == 'mcap') as r:
        assert len(list(r.messages())) == 20


def test_health_does_not_wait_for_a_write_in_progress(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    from rosbags.rosbag2 import Writer
    gate = threading.Event()
    write = Writer.write

    def stuck(self: Writer, *args: object) -> None:  # the disk stalls inside the write
        gate.wait(10)
        write(self, *args)

    monkeypatch.setattr(Writer, 'write', stuck)
    rec = BagRecorder(tmp_path / 'rec')
    rec('/a', FLOAT, serialize(Float32(1.0)), 1)
    time.sleep(0.2)  # the writer is inside the stalled write now
    t0 = time.monotonic()
    level, _, values = rec.health()
    assert time.monotonic() - t0 < 1.0 and values['recording_written'] == '0'
    gate.set()
    rec.close()
    assert rec.health()[2]['recording_written'] == '1'


def test_a_close_interrupted_before_it_queued_the_stop_still_finishes(tmp_path: Path) -> None:
    rec = BagRecorder(tmp_path / 'rec')
    rec('/a', FLOAT, serialize(Float32(1.0)), 1)
    with rec._lock:  # as if Ctrl-C struck close() after it marked the recorder closed
        rec._closed = True
    closing = threading.Thread(target=rec.close, daemon=True)
    closing.start()
    closing.join(5)
    assert not closing.is_alive(), 'close() waits forever'
    assert len(_read_all(tmp_path / 'rec')['/a']) == 1


def test_little_free_disk_is_warned_about(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          caplog: pytest.LogCaptureFixture) -> None:
    import collections
    import shutil
    from vbp_ros.bag import recorder
    usage = collections.namedtuple('usage', 'total used free')
    monkeypatch.setattr(shutil, 'disk_usage', lambda path: usage(10 * 2**30, 9 * 2**30, 2**29))
    with caplog.at_level('WARNING'):
        BagRecorder(tmp_path / 'rec').close()
    assert 'only 0.5 GiB free' in caplog.text
    caplog.clear()
    monkeypatch.setattr(shutil, 'disk_usage',
                        lambda path: usage(10**12, 0, recorder.LOW_DISK_BYTES + 1))
    with caplog.at_level('WARNING'):
        BagRecorder(tmp_path / 'rec2').close()
    assert 'free' not in caplog.text
