"""`vbp-ros process`: outputs read back with rosbags and compared with frame-by-frame results."""
from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rosbags.rosbag2 import Reader

from bag_testutil import header_of, stamp_of
from vbp_ros import msgs
from vbp_ros.bag import BagError, BagReader
from vbp_ros.bag.io import COMPLETE_KEY
from vbp_ros.bag.process import process_bag, ProcessOptions
from vbp_ros.bag.types import definition, typestore
from vbp_ros.cli import main as cli_main
from vbp_ros.encodings import decode_compressed, decode_image

STEER, MASK, OVERLAY = '/vbp/steering', '/vbp/mask', '/vbp/overlay'


def read_back(path: Path) -> dict[str, list[tuple[int, Any]]]:
    """Every message of a bag, deserialised by rosbags' own typestore-free path check."""
    out: dict[str, list[tuple[int, Any]]] = {}
    classes = {'sensor_msgs/msg/Image': msgs.Image,
               'sensor_msgs/msg/CompressedImage': msgs.CompressedImage,
               'ackermann_msgs/msg/AckermannDriveStamped': msgs.AckermannDriveStamped}
    with Reader(path) as r:
        for conn in r.connections:
            assert conn.digest == definition(conn.msgtype)[1], conn.topic
            assert conn.msgdef.data, conn.topic
        for conn, stamp, data in r.messages():
            out.setdefault(conn.topic, []).append((stamp, msgs.deserialize(bytes(data),
                                                                           classes[conn.msgtype])))
    return out


def reference(pipeline: Any, in_bag: Path, topic: str) -> list[Any]:
    """Run the pipeline frame by frame on the input bag's decoded frames."""
    out = []
    with Reader(in_bag) as r:
        for conn, _, data in r.messages([c for c in r.connections if c.topic == topic]):
            if conn.msgtype.endswith('CompressedImage'):
                rgb = decode_compressed(msgs.deserialize(bytes(data), msgs.CompressedImage))
            else:
                rgb = decode_image(msgs.deserialize(bytes(data), msgs.Image), copy=True)
            out.append(pipeline.process(rgb, mask=True))
    return out


def assert_matches_frame_by_frame(got: dict[str, list[tuple[int, Any]]], ref: list[Any],
                                  n: int) -> None:
    assert len(got[STEER]) == len(got[MASK]) == len(ref) == n
    for i, ((s_stamp, steer), (m_stamp, mask), r) in enumerate(zip(got[STEER], got[MASK], ref)):
        assert s_stamp == m_stamp == stamp_of(i)                   # original bag time
        assert steer.header == mask.header == header_of(i)         # original header
        want = max(-0.7, min(0.7, math.atan(2.7 * r.curvature)))  # the node's defaults
        assert steer.drive.steering_angle == pytest.approx(want, rel=1e-4, abs=1e-6)
        assert (mask.encoding, mask.height, mask.width) == ('mono8', *r.mask.shape)
        arr = np.frombuffer(mask.data, np.uint8).reshape(r.mask.shape)
        assert np.abs(arr.astype(int) - r.mask.astype(int)).max() <= 1
        assert np.array_equal(arr > 0, r.mask > 0) or (arr != r.mask).mean() < 0.01


@pytest.mark.parametrize('kind,storage', [('bgr8', 'mcap'), ('rgb8', 'mcap'), ('rgb8', 'sqlite3'),
                                          ('jpeg', 'mcap'), ('png', 'sqlite3'), ('mono8', 'mcap')])
def test_outputs_match_frame_by_frame(make_camera_bag: Any, pipeline: Any, tmp_path: Path,
                                      kind: str, storage: str) -> None:
    in_bag, _ = make_camera_bag(n=7, kind=kind, storage=storage)
    rep = process_bag(in_bag, tmp_path / 'out', ProcessOptions(batch_size=3, storage=storage),
                      pipeline=pipeline)
    assert rep.complete and rep.frames == 7 and rep.camera_topic == '/cam/image'
    assert rep.output == tmp_path / 'out'
    assert rep.messages == {STEER: 7, MASK: 7}
    got = read_back(tmp_path / 'out')
    assert set(got) == {STEER, MASK}
    assert_matches_frame_by_frame(got, reference(pipeline, in_bag, '/cam/image'), 7)
    # rosbags' own CDR parser reads the fast-path bytes the same way.
    store = typestore()
    with Reader(tmp_path / 'out') as r:
        for conn in r.connections:
            _, _, data = next(r.messages([conn]))
            m = store.deserialize_cdr(data, conn.msgtype)
            ours = got[conn.topic][0][1]
            assert (m.header.stamp.sec, m.header.stamp.nanosec, m.header.frame_id) == (
                ours.header.stamp.sec, ours.header.stamp.nanosec, ours.header.frame_id)
            if conn.topic == STEER:
                assert m.drive.steering_angle == pytest.approx(ours.drive.steering_angle)
            else:
                assert (m.encoding, m.width, m.height) == ('mono8', ours.width, ours.height)
                assert bytes(m.data) == bytes(ours.data)
    meta = (tmp_path / 'out' / 'metadata.yaml').read_text()
    assert 'version: 8' in meta and f'storage_identifier: {storage}' in meta
    with BagReader(tmp_path / 'out') as r:
        assert r.metadata[COMPLETE_KEY] == 'true'
        # Which model and steering conversion made the outputs.
        import hashlib
        assert r.metadata['vbp_ros.model'] == str(pipeline.model_path.resolve())
        assert r.metadata['vbp_ros.model_sha256'] == hashlib.sha256(
            pipeline.model_path.read_bytes()).hexdigest()
        assert 'wheelbase=2.7 ' in r.metadata['vbp_ros.steering']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['in', 'out']  # no leftovers


def test_batch_size_does_not_change_results(make_camera_bag: Any, pipeline: Any,
                                            tmp_path: Path) -> None:
    in_bag, _ = make_camera_bag(n=5)
    process_bag(in_bag, tmp_path / 'a', ProcessOptions(batch_size=1), pipeline=pipeline)
    process_bag(in_bag, tmp_path / 'b', ProcessOptions(batch_size=4), pipeline=pipeline)
    a, b = read_back(tmp_path / 'a'), read_back(tmp_path / 'b')
    for (_, x), (_, y) in zip(a[STEER], b[STEER]):
        assert x.drive.steering_angle == pytest.approx(y.drive.steering_angle, rel=1e-4,
                                                       abs=1e-6)


@pytest.mark.parametrize('kind', ['bgr8', 'jpeg'])
def test_big_frames_end_a_batch_early(make_camera_bag: Any, pipeline: Any, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    # A few batches in flight must not hold gigabytes of decoded frames.
    import vbp_ros.bag.process as process
    in_bag, _ = make_camera_bag(n=7, kind=kind)
    frame_bytes = 160 * 90 * 3
    monkeypatch.setattr(process, 'BATCH_BYTES', 2 * frame_bytes)
    sizes: list[int] = []
    real = pipeline.process_batch
    monkeypatch.setattr(pipeline, 'process_batch',
                        lambda frames, **kw: sizes.append(len(frames)) or real(frames, **kw))
    report = process_bag(in_bag, tmp_path / 'out', ProcessOptions(batch_size=32),
                         pipeline=pipeline)
    assert sizes == [2, 2, 2, 1] and report.frames == 7


@pytest.mark.parametrize('fmt', ['jpeg', 'raw'])
def test_overlays(make_camera_bag: Any, pipeline: Any, tmp_path: Path, fmt: str) -> None:
    in_bag, frames = make_camera_bag(n=4)
    rep = process_bag(in_bag, tmp_path / 'out',
                      ProcessOptions(batch_size=3, overlay=True, overlay_format=fmt),
                      pipeline=pipeline)
    assert rep.messages[OVERLAY] == 4
    got = read_back(tmp_path / 'out')
    for i, (stamp, msg) in enumerate(got[OVERLAY]):
        assert stamp == stamp_of(i) and msg.header == header_of(i)
        if fmt == 'jpeg':
            assert isinstance(msg, msgs.CompressedImage) and 'jpeg' in msg.format
            rgb = decode_compressed(msg)
        else:
            assert isinstance(msg, msgs.Image) and msg.encoding == 'bgr8'
            rgb = decode_image(msg)
        assert rgb.shape == frames[i].shape
        assert not np.array_equal(rgb, frames[i])  # the mask colours are blended in


def test_copy_input_keeps_every_topic_untouched(make_camera_bag: Any, pipeline: Any,
                                                tmp_path: Path) -> None:
    extra = {'/speed': ('std_msgs/msg/Float32', msgs.serialize(msgs.Float32(3.5)))}
    in_bag, _ = make_camera_bag(n=4, extra=extra)
    process_bag(in_bag, tmp_path / 'out', ProcessOptions(copy_input=True, batch_size=3),
                pipeline=pipeline)
    with Reader(in_bag) as r:
        before = [(c.topic, t, bytes(d)) for c, t, d in r.messages()]
        defs = {c.topic: (c.msgtype, c.digest, c.msgdef.data) for c in r.connections}
    with Reader(tmp_path / 'out') as r:
        after = [(c.topic, t, bytes(d)) for c, t, d in r.messages()
                 if c.topic in ('/cam/image', '/speed')]
        assert {c.topic: (c.msgtype, c.digest, c.msgdef.data) for c in r.connections
                if c.topic in defs} == defs
    assert sorted(after) == sorted(before)


def test_copied_messages_do_not_pile_up_between_camera_frames(
        make_camera_bag: Any, pipeline: Any, tmp_path: Path, monkeypatch: Any) -> None:
    """Other topics' messages between camera frames are handed on by size, not held until the
    next camera batch is full."""
    from vbp_ros.bag import process as process_mod
    monkeypatch.setattr(process_mod, 'BATCH_BYTES', 100_000)
    blob = msgs.serialize(msgs.Image(height=1, width=30_000, encoding='mono8', step=30_000,
                                     data=bytes(30_000)))
    extra = {f'/lidar{k}': ('sensor_msgs/msg/Image', blob) for k in range(8)}
    in_bag, _ = make_camera_bag(n=3, extra=extra, width=16, height=8)
    held: list[int] = []
    real = process_mod._Run._write_batch

    def write_batch(self: Any, batch: Any) -> None:
        held.append(sum(len(d) for *_, d in batch.copies))
        real(self, batch)

    monkeypatch.setattr(process_mod._Run, '_write_batch', write_batch)
    seen: list[int] = []
    rep = process_bag(in_bag, tmp_path / 'out',
                      ProcessOptions(copy_input=True, batch_size=32, camera_topic='/cam/image'),
                      pipeline=pipeline, progress=seen.append)
    assert rep.complete and rep.frames == 3 and sum(seen) == 3
    assert len(held) > 2 and max(held) < 100_000 + len(blob)  # 3 frames, 24 copies of 30 kB
    assert rep.messages['/lidar0'] == 3


def test_steering_only(make_camera_bag: Any, pipeline: Any, tmp_path: Path) -> None:
    in_bag, _ = make_camera_bag(n=3)
    rep = process_bag(in_bag, tmp_path / 'out', ProcessOptions(masks=False), pipeline=pipeline)
    assert rep.messages == {STEER: 3}


def test_limit(make_camera_bag: Any, pipeline: Any, tmp_path: Path) -> None:
    in_bag, _ = make_camera_bag(n=6)
    rep = process_bag(in_bag, tmp_path / 'out', ProcessOptions(limit=4, batch_size=3),
                      pipeline=pipeline)
    assert rep.complete and rep.frames == 4
    assert len(read_back(tmp_path / 'out')[STEER]) == 4


def test_topic_selection_errors_list_the_topics(make_camera_bag: Any, pipeline: Any,
                                                tmp_path: Path) -> None:
    extra = {'/cam2/image': ('sensor_msgs/msg/Image', msgs.serialize(msgs.Image()))}
    in_bag, _ = make_camera_bag(n=2, extra=extra)
    with pytest.raises(BagError, match=r'2 image topics.*--topic.*/cam/image.*/cam2/image'):
        process_bag(in_bag, tmp_path / 'out', pipeline=pipeline)
    with pytest.raises(BagError, match=r'camera topic /nope is not in the bag.*/cam/image'):
        process_bag(in_bag, tmp_path / 'out', ProcessOptions(camera_topic='/nope'),
                    pipeline=pipeline)
    assert not (tmp_path / 'out').exists() and not (tmp_path / 'out.incomplete').exists()
    rep = process_bag(in_bag, tmp_path / 'out', ProcessOptions(camera_topic='/cam/image'),
                      pipeline=pipeline)
    assert rep.frames == 2


def test_no_image_topic(tmp_path: Path, pipeline: Any) -> None:
    from vbp_ros.bag.io import BagWriter
    with BagWriter(tmp_path / 'in') as w:
        w.write('/speed', 'std_msgs/msg/Float32', msgs.serialize(msgs.Float32(1.0)), 1)
    with pytest.raises(BagError, match=r'no image topic.*/speed \[std_msgs/msg/Float32'):
        process_bag(tmp_path / 'in', tmp_path / 'out', pipeline=pipeline)


def test_an_image_topic_without_messages_is_not_a_camera_candidate(make_camera_bag: Any,
                                                                   pipeline: Any,
                                                                   tmp_path: Path) -> None:
    in_bag, _ = make_camera_bag(n=2)
    from vbp_ros.bag.io import BagReader, BagWriter
    with BagReader(in_bag) as r, BagWriter(tmp_path / 'two') as w:
        w.add_topic('/rear/image', 'sensor_msgs/msg/Image')  # declared, never published
        for topic, t, data in r.messages():
            w.write(topic, r.topics[topic].ros_type, data, t)
    rep = process_bag(tmp_path / 'two', tmp_path / 'out', pipeline=pipeline)
    assert rep.camera_topic == '/cam/image' and rep.frames == 2


def test_refuses_existing_output(make_camera_bag: Any, pipeline: Any, tmp_path: Path) -> None:
    in_bag, _ = make_camera_bag(n=1)
    (tmp_path / 'out').mkdir()
    with pytest.raises(BagError, match='exists already'):
        process_bag(in_bag, tmp_path / 'out', pipeline=pipeline)
    (tmp_path / 'new.incomplete').mkdir()
    with pytest.raises(BagError, match='exists already.*interrupted run: delete it'):
        process_bag(in_bag, tmp_path / 'new', pipeline=pipeline)


def test_a_killed_run_s_staging_folder_is_pointed_out(make_camera_bag: Any, pipeline: Any,
                                                       tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    in_bag, _ = make_camera_bag(n=1)
    stale = tmp_path / '.out.partial-999999999'   # no such process
    stale.mkdir()
    process_bag(in_bag, tmp_path / 'out', pipeline=pipeline)
    assert f'{stale} holds a bag of an earlier run' in caplog.text


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_damaged_input_is_a_clear_error_and_leaves_nothing(make_camera_bag: Any, pipeline: Any,
                                                           tmp_path: Path, storage: str) -> None:
    in_bag, _ = make_camera_bag(n=20, storage=storage)
    data = next(p for p in in_bag.iterdir() if p.suffix in ('.mcap', '.db3'))
    raw = data.read_bytes()
    data.write_bytes(raw[:len(raw) // 2])
    with pytest.raises(BagError, match='bag|damaged|truncated'):
        process_bag(in_bag, tmp_path / 'out', pipeline=pipeline)
    assert not (tmp_path / 'out').exists()
    assert not any(p.name.startswith('.out') for p in tmp_path.iterdir())


def test_unreadable_bag_is_a_clear_error(tmp_path: Path, pipeline: Any) -> None:
    (tmp_path / 'in').mkdir()
    (tmp_path / 'in' / 'metadata.yaml').write_text('not: [a bag\n')
    with pytest.raises(BagError, match='cannot read bag'):
        process_bag(tmp_path / 'in', tmp_path / 'out', pipeline=pipeline)
    with pytest.raises(BagError, match='bag not found'):
        process_bag(tmp_path / 'nope', tmp_path / 'out', pipeline=pipeline)


@pytest.mark.parametrize('kind', ['rgb8', 'jpeg', 'cdr'])
def test_an_unusable_frame_is_skipped_and_reported(make_camera_bag: Any, pipeline: Any,
                                                   tmp_path: Path, kind: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    _, frames = make_camera_bag(n=6, name='good')
    # Frame 4 claims an encoding nobody knows, or its JPEG is cut short.
    from vbp_ros.bag.io import BagWriter
    from vbp_ros.encodings import encode_compressed, encode_image
    with BagWriter(tmp_path / 'in') as w:
        for i, rgb in enumerate(frames):
            if kind in ('rgb8', 'cdr'):
                img = encode_image(rgb, 'rgb8', header_of(i))
                if i == 4 and kind == 'rgb8':
                    img.encoding = 'bogus42'
                cdr = msgs.serialize(img)
                if i == 4 and kind == 'cdr':  # a length field claims more than there is
                    cdr = cdr[:48] + b'\xff\xff\xff\x7f' + cdr[52:]
                w.write('/cam/image', 'sensor_msgs/msg/Image', cdr, stamp_of(i))
            else:
                jpg = encode_compressed(rgb, header_of(i), fmt='jpeg')
                if i == 4:
                    jpg.data = bytes(jpg.data)[:len(jpg.data) // 2]
                w.write('/cam/image', 'sensor_msgs/msg/CompressedImage', msgs.serialize(jpg),
                        stamp_of(i))
    seen: list[int] = []
    report = process_bag(tmp_path / 'in', tmp_path / 'out', ProcessOptions(batch_size=2),
                         pipeline=pipeline, progress=seen.append)
    assert report.complete and report.frames == 5 and report.unusable == 1
    assert sum(seen) == 6  # the progress bar reaches its total
    with BagReader(tmp_path / 'out') as r:
        assert r.metadata[COMPLETE_KEY] == 'true'
        assert (r.metadata['vbp_ros.frames'], r.metadata['vbp_ros.unusable_frames']) == ('5', '1')
    got = read_back(tmp_path / 'out')
    assert [s for s, _ in got[STEER]] == [stamp_of(i) for i in (0, 1, 2, 3, 5)]
    assert 'skipping frame 4 of /cam/image' in caplog.text


class _InterruptAfter:
    """The real pipeline, with a Ctrl-C arriving during its ``calls``-th batch."""

    def __init__(self, pipeline: Any, calls: int) -> None:
        self.pipeline, self.calls = pipeline, calls

    def process_batch(self, frames: list[np.ndarray], mask: bool = True) -> list[Any]:
        self.calls -= 1
        if self.calls == 0:
            raise KeyboardInterrupt
        return self.pipeline.process_batch(frames, mask=mask)


def _assert_incomplete_with_first_frames(out: Path, n: int) -> None:
    """``out`` is a readable bag marked incomplete, holding steering and masks of frames 0..n-1."""
    with BagReader(out) as r:
        assert r.metadata[COMPLETE_KEY] == 'false' and r.metadata['vbp_ros.frames'] == str(n)
    got = read_back(out)
    assert [s for s, _ in got[STEER]] == [stamp_of(i) for i in range(n)]
    assert len(got[MASK]) == n


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_interrupted_run_leaves_a_readable_incomplete_bag(make_camera_bag: Any, pipeline: Any,
                                                          tmp_path: Path, storage: str) -> None:
    in_bag, _ = make_camera_bag(n=10)
    with pytest.raises(KeyboardInterrupt):
        process_bag(in_bag, tmp_path / 'out', ProcessOptions(batch_size=3, storage=storage),
                    pipeline=_InterruptAfter(pipeline, 3))
    assert not (tmp_path / 'out').exists()
    _assert_incomplete_with_first_frames(tmp_path / 'out.incomplete', 6)


def test_stop_event_ends_the_run_cleanly(make_camera_bag: Any, pipeline: Any,
                                         tmp_path: Path) -> None:
    in_bag, _ = make_camera_bag(n=10)
    stop = threading.Event()
    batches = []

    def progress(n: int) -> None:  # set from the run's own thread, as a signal handler would
        batches.append(n)
        if len(batches) == 2:
            stop.set()

    report = process_bag(in_bag, tmp_path / 'out', ProcessOptions(batch_size=3),
                         pipeline=pipeline, progress=progress, stop=stop)
    assert report.stopped and not report.complete and report.frames == 6
    assert report.output == tmp_path / 'out.incomplete' and not (tmp_path / 'out').exists()
    _assert_incomplete_with_first_frames(report.output, 6)


def test_a_second_ctrl_c_while_winding_down_still_closes_the_output(
        make_camera_bag: Any, pipeline: Any, tmp_path: Path, monkeypatch: Any) -> None:
    """The second signal raises KeyboardInterrupt wherever the main thread is; here, while it
    hands the writer its end marker. What is written must still become a readable bag."""
    from vbp_ros.bag import process as process_mod
    in_bag, _ = make_camera_bag(n=10)
    stop = threading.Event()
    real_put = process_mod._put_checked

    def put(q: Any, item: Any, consumer: Any, quiet: bool = False) -> bool:
        if item is process_mod._END:
            raise KeyboardInterrupt
        return real_put(q, item, consumer, quiet)

    monkeypatch.setattr(process_mod, '_put_checked', put)
    batches = []

    def progress(n: int) -> None:
        batches.append(n)
        if len(batches) == 2:
            stop.set()

    with pytest.raises(KeyboardInterrupt):
        process_bag(in_bag, tmp_path / 'out', ProcessOptions(batch_size=3),
                    pipeline=pipeline, progress=progress, stop=stop)
    assert not (tmp_path / 'out').exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.out')]  # no staging left
    with BagReader(tmp_path / 'out.incomplete') as r:
        assert r.metadata[COMPLETE_KEY] == 'false'
        done = int(r.metadata['vbp_ros.frames'])
        assert r.topics['/vbp/steering'].count == done <= 6


def test_a_second_signal_while_waiting_for_the_writer_still_closes_the_output(
        make_camera_bag: Any, pipeline: Any, tmp_path: Path, monkeypatch: Any) -> None:
    """A real SIGINT lands while the main thread waits for a slow writer: the writer must
    still finish the bag before the KeyboardInterrupt leaves process_bag (a plain
    Thread.join, interrupted, returns at once on a second call and would not wait)."""
    import signal
    import time
    from vbp_ros.bag import process as process_mod
    in_bag, _ = make_camera_bag(n=12)
    real = process_mod._Run._write_batch

    def slow_write(self: Any, batch: Any) -> None:
        time.sleep(0.4)
        real(self, batch)

    monkeypatch.setattr(process_mod._Run, '_write_batch', slow_write)
    stop = threading.Event()
    main_id = threading.get_ident()

    def second_signal() -> None:
        stop.wait()
        time.sleep(0.2)  # the main thread is waiting for the writer by now
        signal.pthread_kill(main_id, signal.SIGINT)

    def progress(n: int) -> None:
        if not stop.is_set():
            stop.set()  # the first signal, as `vbp-ros process` handles it
            threading.Thread(target=second_signal, daemon=True).start()

    with pytest.raises(KeyboardInterrupt):
        process_bag(in_bag, tmp_path / 'out', ProcessOptions(batch_size=2),
                    pipeline=pipeline, progress=progress, stop=stop)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['in', 'out.incomplete']
    with BagReader(tmp_path / 'out.incomplete') as r:
        assert r.metadata[COMPLETE_KEY] == 'false'


def test_a_stop_during_the_last_batch_leaves_a_complete_run(make_camera_bag: Any,
                                                            pipeline: Any,
                                                            tmp_path: Path) -> None:
    in_bag, _ = make_camera_bag(n=6)
    stop = threading.Event()
    done = []

    def progress(n: int) -> None:
        done.append(n)
        if sum(done) == 6:  # every frame is in hand when the stop comes
            stop.set()

    report = process_bag(in_bag, tmp_path / 'out', ProcessOptions(batch_size=2),
                         pipeline=pipeline, progress=progress, stop=stop)
    assert report.complete and not report.stopped and report.frames == 6
    assert report.output == tmp_path / 'out'


def test_stop_before_the_first_frame_writes_nothing(make_camera_bag: Any, pipeline: Any,
                                                    tmp_path: Path) -> None:
    in_bag, _ = make_camera_bag(n=4)
    stop = threading.Event()
    stop.set()  # e.g. Ctrl-C while the model was loading
    report = process_bag(in_bag, tmp_path / 'out', pipeline=pipeline, stop=stop)
    assert report.stopped and not report.complete and report.frames == 0
    assert [p.name for p in tmp_path.iterdir()] == ['in']  # no output, staged or final


def test_cli(make_camera_bag: Any, model_path: Path, tmp_path: Path) -> None:
    in_bag, _ = make_camera_bag(n=3)
    args = ['process', str(in_bag), str(tmp_path / 'out'), '--model', str(model_path),
            '--device', 'cpu', '--no-progress', '--overlay']
    assert cli_main(args) == 0
    assert {t: len(v) for t, v in read_back(tmp_path / 'out').items()} == {
        STEER: 3, MASK: 3, OVERLAY: 3}
    assert cli_main(args) == 2  # the output exists now
    assert cli_main(['process', str(in_bag), str(tmp_path / 'o2'), '--model', str(model_path),
                     '--topic', '/nope', '--no-progress']) == 2


def test_cli_fails_when_no_frame_could_be_processed(model_path: Path, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    from vbp_ros.bag.io import BagWriter
    with BagWriter(tmp_path / 'in') as w:
        for i in range(3):  # a float depth camera: not an image the steering model can take
            img = msgs.Image(header=header_of(i), height=2, width=2, encoding='32FC1', step=8,
                             data=bytes(16))
            w.write('/depth', 'sensor_msgs/msg/Image', msgs.serialize(img), stamp_of(i))
    assert cli_main(['process', str(tmp_path / 'in'), str(tmp_path / 'out'), '--model',
                     str(model_path), '--device', 'cpu', '--no-progress']) == 1
    assert 'no camera frame could be processed' in caplog.text


def test_reprocessing_a_processed_bag_replaces_old_outputs(make_camera_bag: Any, pipeline: Any,
                                                           tmp_path: Path) -> None:
    in_bag, _ = make_camera_bag(n=3)
    process_bag(in_bag, tmp_path / 'first', ProcessOptions(copy_input=True), pipeline=pipeline)
    # The camera is the only image topic that is not an output: it is found on its own, and
    # the old outputs are not copied next to the new ones.
    rep = process_bag(tmp_path / 'first', tmp_path / 'second', ProcessOptions(copy_input=True),
                      pipeline=pipeline)
    assert rep.camera_topic == '/cam/image'
    assert rep.messages == {'/cam/image': 3, STEER: 3, MASK: 3}
    # A run that writes no masks does not keep the earlier run's either: they would be taken
    # for this run's.
    rep = process_bag(tmp_path / 'first', tmp_path / 'third',
                      ProcessOptions(copy_input=True, masks=False), pipeline=pipeline)
    assert rep.messages == {'/cam/image': 3, STEER: 3}
    assert MASK not in read_back(tmp_path / 'third')


def test_outputs_under_other_names_are_known_from_the_metadata(make_camera_bag: Any,
                                                               pipeline: Any,
                                                               tmp_path: Path) -> None:
    # e.g. a namespaced node's recording: /car1/vbp/mask is not a camera, nor copied on.
    in_bag, _ = make_camera_bag(n=3)
    named = ProcessOptions(copy_input=True, steering_topic='/car1/vbp/steering',
                           mask_topic='/car1/vbp/mask')
    process_bag(in_bag, tmp_path / 'first', named, pipeline=pipeline)
    with BagReader(tmp_path / 'first') as r:
        assert r.metadata['vbp_ros.output_topics'] == '/car1/vbp/steering /car1/vbp/mask'
    rep = process_bag(tmp_path / 'first', tmp_path / 'second', ProcessOptions(copy_input=True),
                      pipeline=pipeline)
    assert rep.camera_topic == '/cam/image'
    assert rep.messages == {'/cam/image': 3, STEER: 3, MASK: 3}


def test_steering_parameters_as_the_node(make_camera_bag: Any, pipeline: Any,
                                         tmp_path: Path) -> None:
    in_bag, _ = make_camera_bag(n=3)
    opts = ProcessOptions(wheelbase=1.5, steering_scale=-2.0, steering_offset=0.1,
                          max_steering_angle=0.3, speed=4.0)
    process_bag(in_bag, tmp_path / 'out', opts, pipeline=pipeline)
    ref = reference(pipeline, in_bag, '/cam/image')
    for (_, got), r in zip(read_back(tmp_path / 'out')[STEER], ref):
        want = max(-0.3, min(0.3, -2.0 * math.atan(1.5 * r.curvature) + 0.1))
        assert got.drive.steering_angle == pytest.approx(want, rel=1e-4, abs=1e-6)
        assert got.drive.speed == pytest.approx(4.0)
    with pytest.raises(ValueError, match='wheelbase'):
        ProcessOptions(wheelbase=0.0)


def test_torch_threads_are_set_for_the_run_and_restored(make_camera_bag: Any, pipeline: Any,
                                                        tmp_path: Path) -> None:
    import torch

    in_bag, _ = make_camera_bag(n=2)
    seen = []

    class Spy:
        device = torch.device('cpu')

        def process_batch(self, frames: list[np.ndarray], mask: bool = True) -> list[Any]:
            seen.append(torch.get_num_threads())
            return pipeline.process_batch(frames, mask=mask)

    before = torch.get_num_threads()
    process_bag(in_bag, tmp_path / 'out', ProcessOptions(torch_threads=1), pipeline=Spy())
    assert seen == [1] and torch.get_num_threads() == before
    with pytest.raises(ValueError, match='torch_threads'):
        ProcessOptions(torch_threads=0)


def test_copy_input_of_a_humble_bag_keeps_its_layouts_and_qos(pipeline: Any, tmp_path: Path
                                                              ) -> None:
    from rosbags.typesys import get_types_from_msg, get_typestore, Stores
    from bag_testutil import camera_frames, camera_message, HUMBLE_TRANSIENT_LOCAL_QOS, \
        write_humble_bag
    humble = get_typestore(Stores.ROS2_HUMBLE)
    R, H, T = (humble.types[t] for t in ('sensor_msgs/msg/Range', 'std_msgs/msg/Header',
                                          'builtin_interfaces/msg/Time'))
    # Range gained a field after Humble: a Jazzy definition would not fit these bytes.
    rng_cdr = humble.serialize_cdr(R(H(T(1, 0), 'sonar'), 0, 0.1, 0.2, 10.0, 1.5),
                                   'sensor_msgs/msg/Range')
    messages = [('/sonar', 'sensor_msgs/msg/Range', rng_cdr, stamp_of(0)),
                ('/wheels', 'my_msgs/msg/Speed', b'\x00\x01\x00\x00' + bytes(8), stamp_of(0))]
    for i, rgb in enumerate(camera_frames(3)):
        messages.append(('/cam', *camera_message(rgb, i, 'bgr8'), stamp_of(i)))
    write_humble_bag(tmp_path / 'in', messages, qos={'/sonar': HUMBLE_TRANSIENT_LOCAL_QOS})
    with BagReader(tmp_path / 'in') as bag:
        assert bag.distro == 'humble'

    rep = process_bag(tmp_path / 'in', tmp_path / 'out', ProcessOptions(copy_input=True),
                      pipeline=pipeline)
    assert rep.complete and rep.frames == 3
    with Reader(tmp_path / 'out') as r:
        conns = {c.topic: c for c in r.connections}
        sonar = conns['/sonar']
        assert 'variance' not in sonar.msgdef.data
        assert sonar.digest == definition('sensor_msgs/msg/Range', 'humble')[1]
        assert sonar.digest != definition('sensor_msgs/msg/Range')[1]
        (qos,) = sonar.ext.offered_qos_profiles  # ros2 bag play offers what was recorded
        assert qos.durability.name == 'TRANSIENT_LOCAL'
        store = get_typestore(Stores.EMPTY)  # only what the output bag itself says
        store.register(get_types_from_msg(sonar.msgdef.data, 'sensor_msgs/msg/Range'))
        (_, _, data), = r.messages([sonar])
        assert store.deserialize_cdr(bytes(data), 'sensor_msgs/msg/Range').range == 1.5
        # No definition anywhere for the custom type: not copied, and the bag says so.
        assert '/wheels' not in conns
    with BagReader(tmp_path / 'out') as bag:
        assert bag.metadata['vbp_ros.not_copied'] == '/wheels'
        assert bag.distro == 'jazzy'


def test_the_model_is_named_as_it_was_loaded(make_camera_bag: Any, model_path: Path,
                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    # A relative path and a file replaced after loading (a retrain to the same --out) still
    # name the model that made the outputs.
    import hashlib
    import shutil
    from vbp_ros.pipeline.frame import FramePipeline
    shutil.copy(model_path, tmp_path / 'm.safetensors')
    want = hashlib.sha256((tmp_path / 'm.safetensors').read_bytes()).hexdigest()
    monkeypatch.chdir(tmp_path)
    pipe = FramePipeline(model_path='m.safetensors', device='cpu')
    (tmp_path / 'm.safetensors').write_bytes(b'replaced')
    monkeypatch.chdir('/')
    in_bag, _ = make_camera_bag(n=2)
    process_bag(in_bag, tmp_path / 'out', pipeline=pipe)
    with BagReader(tmp_path / 'out') as r:
        assert r.metadata['vbp_ros.model'] == str(tmp_path / 'm.safetensors')
        assert r.metadata['vbp_ros.model_sha256'] == want
