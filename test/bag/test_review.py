"""`vbp-ros review`: the MP4 decodes to every frame, the page ranks the right frames."""
from __future__ import annotations

import html.parser
import math
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from bag_testutil import header_of, stamp_of
from vbp_ros import msgs
from vbp_ros.bag import BagError, BagWriter
from vbp_ros.bag.process import process_bag, ProcessOptions
from vbp_ros.bag.review import review_bag, ReviewOptions, top_changes
from vbp_ros.cli import main as cli_main
from vbp_ros.encodings import encode_compressed, encode_image

W, H = 96, 64
# Steering jumps most at frames 3 (+0.30 rad) and 8 (-0.25 rad); masks change most at 5 and 10.
ANGLES = [0.0, 0.01, 0.0, 0.30, 0.31, 0.30, 0.29, 0.30, 0.05, 0.06, 0.05, 0.04]
MASK_JUMPS = {5: 200, 10: 120}


def _masks() -> list[np.ndarray]:
    out, level = [], 20
    for i in range(len(ANGLES)):
        if i in MASK_JUMPS:
            level = MASK_JUMPS[i] if level < 100 else 20 + MASK_JUMPS[i] // 10
        m = np.full((H, W), level, np.uint8)
        m[:, i % W] = 255  # a small change every frame
        out.append(m)
    return out


def _write_drive(path: Path, *, overlay: bool = True, mask: bool = True, camera: bool = False,
                 steering: bool = True, zero_stamps: bool = False, overlays: int = len(ANGLES),
                 bad_camera: int = -1) -> None:
    """A processed drive; ``zero_stamps``: a camera whose headers are never stamped;
    ``overlays``: only the first so many frames have one; camera frame ``bad_camera`` is cut
    short."""
    with BagWriter(path) as w:
        for i, (angle, m) in enumerate(zip(ANGLES, _masks())):
            hdr, t = header_of(0 if zero_stamps else i), stamp_of(i)
            if zero_stamps:
                hdr.stamp.sec = hdr.stamp.nanosec = 0
            if steering:
                drive = msgs.AckermannDriveStamped(
                    header=hdr, drive=msgs.AckermannDrive(steering_angle=angle))
                w.write('/vbp/steering', 'ackermann_msgs/msg/AckermannDriveStamped',
                        msgs.serialize(drive), t)
            if mask:
                w.write('/vbp/mask', 'sensor_msgs/msg/Image',
                        msgs.serialize(encode_image(m, 'mono8', hdr)), t)
            bgr = np.zeros((H, W, 3), np.uint8)
            bgr[..., 1] = m
            if overlay and i < overlays:
                w.write('/vbp/overlay', 'sensor_msgs/msg/CompressedImage',
                        msgs.serialize(encode_compressed(bgr, hdr, fmt='jpeg')), t)
            if camera:
                img = encode_image(bgr, 'bgr8', hdr)
                if i == bad_camera:
                    img.data = img.data[:100]
                w.write('/cam', 'sensor_msgs/msg/Image', msgs.serialize(img), t)


def _video_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        assert c.streams.video[0].codec_context.name == 'h264'
        return [f.to_ndarray(format='bgr24') for f in c.decode(video=0)]


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.srcs += [v for k, v in attrs if k == 'src' and v]


def _links(page: Path) -> list[str]:
    p = _Links()
    p.feed(page.read_text())
    return p.srcs


@pytest.mark.parametrize('zero_stamps', [False, True])
def test_review_of_a_drive(tmp_path: Path, zero_stamps: bool) -> None:
    # Unstamped frames are matched, and their highlights named, by bag time.
    _write_drive(tmp_path / 'drive', zero_stamps=zero_stamps)
    rep = review_bag(tmp_path / 'drive', tmp_path / 'rev',
                     ReviewOptions(top_k=2, plot_height=48, thumb_width=48))
    key = stamp_of if zero_stamps else _stamp
    assert rep.source == 'overlay' and rep.frames == len(ANGLES)
    assert [h.stamp_ns for h in rep.steering] == [key(3), key(8)]
    assert [h.stamp_ns for h in rep.mask] == [key(5), key(10)]
    assert rep.steering[0].score == pytest.approx(math.degrees(0.30), abs=1e-4)  # as captioned
    assert '|Δ steering| (deg)' in rep.html.read_text()
    frames = _video_frames(rep.video)
    assert len(frames) == len(ANGLES)
    assert frames[0].shape == (H + 48, W, 3)
    # The top is the overlay (green level of the mask), the bottom the steering strip.
    assert abs(int(frames[6][H // 2, W // 2 + 20, 1]) - 200) < 30
    links = _links(rep.html)
    assert 'review.mp4' in links and 'steering.png' in links
    for h in rep.steering + rep.mask:
        assert h.image in links and h.before in links
        assert (tmp_path / 'rev' / h.image).is_file() and (tmp_path / 'rev' / h.before).is_file()
    assert all((tmp_path / 'rev' / src).is_file() for src in links)
    thumbs = {(tmp_path / 'rev' / h.image).read_bytes() for h in rep.steering + rep.mask}
    assert len(thumbs) == 4  # four different frames


def _stamp(i: int) -> int:
    h = header_of(i)
    return h.stamp.sec * 10**9 + h.stamp.nanosec


def test_cursor_moves_along_the_strip(tmp_path: Path) -> None:
    _write_drive(tmp_path / 'drive')
    rep = review_bag(tmp_path / 'drive', tmp_path / 'rev',
                     ReviewOptions(top_k=1, plot_height=48, width=200))
    frames = _video_frames(rep.video)
    strips = [f[-48:].astype(int) for f in frames]
    # Red cursor column: strongest red-minus-green, it must move right as time goes on.
    cols = [int(np.argmax((s[..., 2] - s[..., 1]).clip(0).sum(0))) for s in strips]
    assert cols[0] < cols[len(cols) // 2] < cols[-1]


@pytest.mark.parametrize('layout,source', [({'overlay': False, 'camera': True}, 'camera+mask'),
                                           ({'overlay': False}, 'mask'),
                                           ({'overlay': False, 'mask': False, 'camera': True},
                                            'camera')])
@pytest.mark.parametrize('zero_stamps', [False, True])
def test_frames_without_an_overlay_topic(tmp_path: Path, layout: dict[str, bool],
                                         source: str, zero_stamps: bool) -> None:
    _write_drive(tmp_path / 'drive', zero_stamps=zero_stamps, **layout)
    rep = review_bag(tmp_path / 'drive', tmp_path / 'rev', ReviewOptions(top_k=2))
    assert rep.source == source and rep.frames == len(ANGLES)
    assert len(_video_frames(rep.video)) == len(ANGLES)


def test_processed_bag_end_to_end(make_camera_bag: Any, pipeline: Any, tmp_path: Path) -> None:
    in_bag, _ = make_camera_bag(n=6)
    process_bag(in_bag, tmp_path / 'out', ProcessOptions(overlay=True, batch_size=4),
                pipeline=pipeline)
    assert cli_main(['review', str(tmp_path / 'out'), '--no-progress', '--top', '3']) == 0
    out = tmp_path / 'out_review'
    assert len(_video_frames(out / 'review.mp4')) == 6
    page = (out / 'index.html').read_text()
    assert pipeline.model_path.name in page and 'model sha256' in page  # which model it was
    assert 'incomplete' not in page


def test_missing_topics_are_clear_errors(tmp_path: Path) -> None:
    _write_drive(tmp_path / 'a', steering=False)
    with pytest.raises(BagError, match=r'no steering topic /vbp/steering.*/vbp/mask'):
        review_bag(tmp_path / 'a', tmp_path / 'ra')
    _write_drive(tmp_path / 'b', overlay=False, mask=False)
    with pytest.raises(BagError, match=r'no overlay \(/vbp/overlay\), mask \(/vbp/mask\) or '
                                       r'camera'):
        review_bag(tmp_path / 'b', tmp_path / 'rb')
    assert not (tmp_path / 'ra' / 'review.mp4').exists()


def test_page_only(tmp_path: Path) -> None:
    _write_drive(tmp_path / 'drive')
    rep = review_bag(tmp_path / 'drive', tmp_path / 'rev', ReviewOptions(video=False, top_k=1))
    assert rep.video is None and not (tmp_path / 'rev' / 'review.mp4').exists()
    assert 'review.mp4' not in _links(rep.html)


def test_top_changes() -> None:
    v = np.array([np.nan, 1.0, 5.0, 4.9, 0.0, 3.0, np.nan])
    assert top_changes(v, 2) == [2, 3]
    assert top_changes(v, 2, min_gap=2) == [2, 5]
    assert top_changes(v, 10) == [2, 3, 5, 1, 4]
    assert top_changes(np.array([np.nan]), 3) == []


def test_unstamped_recording_of_the_node(tmp_path: Path) -> None:
    # As `vbp-ros node --record` writes it for a camera that never stamps its frames: camera at
    # reception, steering and mask a little later, all header stamps zero.
    with BagWriter(tmp_path / 'rec') as w:
        for i, (angle, m) in enumerate(zip(ANGLES, _masks())):
            hdr, t = header_of(0), stamp_of(i)
            hdr.stamp.sec = hdr.stamp.nanosec = 0
            bgr = np.zeros((H, W, 3), np.uint8)
            bgr[..., 2] = 10 * i
            w.write('/cam', 'sensor_msgs/msg/Image',
                    msgs.serialize(encode_image(bgr, 'bgr8', hdr)), t)
            drive = msgs.AckermannDriveStamped(header=hdr,
                                               drive=msgs.AckermannDrive(steering_angle=angle))
            w.write('/vbp/steering', 'ackermann_msgs/msg/AckermannDriveStamped',
                    msgs.serialize(drive), t + 1_000_000)
            w.write('/vbp/mask', 'sensor_msgs/msg/Image',
                    msgs.serialize(encode_image(m, 'mono8', hdr)), t + 2_000_000)
    rep = review_bag(tmp_path / 'rec', tmp_path / 'rev', ReviewOptions(top_k=2))
    assert rep.source == 'camera+mask' and rep.frames == len(ANGLES)
    images = [(tmp_path / 'rev' / h.image).read_bytes() for h in rep.steering + rep.mask]
    assert all(images) and len(set(images)) == 4


@pytest.mark.parametrize('zero_stamps', [False, True])
def test_an_unreadable_camera_frame_is_skipped_and_counted(tmp_path: Path,
                                                           zero_stamps: bool) -> None:
    _write_drive(tmp_path / 'drive', overlay=False, camera=True, bad_camera=4,
                 zero_stamps=zero_stamps)
    rep = review_bag(tmp_path / 'drive', tmp_path / 'rev', ReviewOptions(top_k=2))
    assert rep.source == 'camera+mask' and rep.unreadable == {'/cam': 1}
    assert rep.frames == len(_video_frames(rep.video)) >= len(ANGLES) - 2
    assert 'unreadable frames (skipped)' in rep.html.read_text()


def test_overlays_of_part_of_the_drive_give_way_to_camera_and_mask(tmp_path: Path) -> None:
    _write_drive(tmp_path / 'drive', camera=True, overlays=5)
    rep = review_bag(tmp_path / 'drive', tmp_path / 'rev', ReviewOptions(top_k=2))
    assert rep.source == 'camera+mask' and rep.frames == len(ANGLES)
    _write_drive(tmp_path / 'no-camera', overlays=5)
    assert review_bag(tmp_path / 'no-camera', tmp_path / 'rev2').source == 'mask'
    _write_drive(tmp_path / 'all', camera=True)
    assert review_bag(tmp_path / 'all', tmp_path / 'rev3').source == 'overlay'


def test_a_stopped_review_leaves_no_partial_video(tmp_path: Path) -> None:
    import threading
    _write_drive(tmp_path / 'drive')
    stop = threading.Event()
    seen: list[int] = []

    def progress(n: int) -> None:
        seen.append(n)
        if len(seen) == 3:
            stop.set()  # as the signal handler of `vbp-ros review` does

    with pytest.raises(KeyboardInterrupt):
        review_bag(tmp_path / 'drive', tmp_path / 'rev', ReviewOptions(top_k=2),
                   progress=progress, stop=stop)
    assert len(seen) == 3
    assert sorted(p.name for p in (tmp_path / 'rev').iterdir()) == ['frames']
    # Set before the video starts (in the first pass over steering and masks) it ends there.
    with pytest.raises(KeyboardInterrupt):
        review_bag(tmp_path / 'drive', tmp_path / 'rev2', progress=seen.append, stop=stop)
    assert not (tmp_path / 'rev2' / 'frames').exists()  # made once the first pass is done


@pytest.mark.parametrize('bad', [dict(width=0), dict(height=0, data=b''),
                                 dict(width=500)])  # width 500 > step 80
def test_an_empty_or_short_mask_is_a_bag_error(tmp_path: Path, bad: dict) -> None:
    with BagWriter(tmp_path / 'a') as w:
        for k in range(4):
            header = msgs.Header(stamp=msgs.Time(sec=k, nanosec=0), frame_id='cam')
            drive = msgs.AckermannDriveStamped(header=header,
                                               drive=msgs.AckermannDrive(steering_angle=0.1))
            w.write('/vbp/steering', 'ackermann_msgs/msg/AckermannDriveStamped',
                    msgs.serialize(drive), (k + 1) * 10**8)
            fields = dict(height=60, width=80, encoding='mono8', step=80, data=bytes(4800))
            fields.update(bad if k == 2 else {})
            w.write('/vbp/mask', 'sensor_msgs/msg/Image',
                    msgs.serialize(msgs.Image(header=header, **fields)), (k + 1) * 10**8 + 1)
    with pytest.raises(BagError, match='unreadable message on /vbp/mask'):
        review_bag(tmp_path / 'a', tmp_path / 'out')


def test_only_its_own_thumbnails_are_replaced(tmp_path: Path) -> None:
    _write_drive(tmp_path / 'drive')
    mine = tmp_path / 'rev' / 'frames' / 'notes.txt'
    mine.parent.mkdir(parents=True)
    mine.write_text('keep me')
    stale = tmp_path / 'rev' / 'frames' / 'steer_007.jpg'
    stale.write_bytes(b'old thumbnail')
    review_bag(tmp_path / 'drive', tmp_path / 'rev', ReviewOptions(top_k=1, video=False))
    assert mine.read_text() == 'keep me' and not stale.exists()
    # Its own page is replaced by the next review; anyone else's index.html is not.
    review_bag(tmp_path / 'drive', tmp_path / 'rev', ReviewOptions(top_k=1, video=False))
    theirs = tmp_path / 'site' / 'index.html'
    theirs.parent.mkdir()
    theirs.write_text('<html>my notes</html>')
    with pytest.raises(BagError, match='not a review page'):
        review_bag(tmp_path / 'drive', tmp_path / 'site', ReviewOptions(top_k=1, video=False))
    assert theirs.read_text() == '<html>my notes</html>'


def test_a_named_topic_must_exist(tmp_path: Path) -> None:
    # A mistyped overlay topic must not fall back to treating the real overlay as a camera.
    _write_drive(tmp_path / 'drive', camera=False)
    with pytest.raises(BagError, match='no topic /vbp/overlays in'):
        review_bag(tmp_path / 'drive', tmp_path / 'rev',
                   ReviewOptions(overlay_topic='/vbp/overlays', required=('/vbp/overlays',)))
    assert cli_main(['review', str(tmp_path / 'drive'), '--overlay-topic', '/nope',
                     '--no-progress']) == 2


def test_review_of_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_drive(tmp_path / 'drive')
    monkeypatch.chdir(tmp_path / 'drive')
    assert cli_main(['review', '.', '--no-video', '--no-progress']) == 0
    assert (tmp_path / 'drive_review' / 'index.html').is_file()
