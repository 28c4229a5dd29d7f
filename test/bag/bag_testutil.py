"""Helpers of the bag tests: synthetic camera frames and their messages."""
from __future__ import annotations

from pathlib import Path
import sqlite3

import cv2
import numpy as np
import yaml

from vbp_ros import msgs
from vbp_ros.encodings import encode_compressed, encode_image

BASE_NS = 1_700_000_000_000_000_000


def camera_frames(n: int, width: int = 160, height: int = 90, seed: int = 0) -> list[np.ndarray]:
    """``n`` different RGB frames: smooth random blobs, so masks and JPEGs are not noise."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        small = rng.integers(0, 256, (height // 10 + 1, width // 10 + 1, 3), np.uint8)
        out.append(cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC))
    return out


def stamp_of(i: int) -> int:
    """Bag time of frame ``i`` (30 frames/s)."""
    return BASE_NS + i * 33_333_333


def header_of(i: int) -> msgs.Header:
    """Header of frame ``i``: a stamp unlike its bag time, as a camera driver would set."""
    t = stamp_of(i) - 5_000_000
    return msgs.Header(stamp=msgs.Time(sec=t // 10**9, nanosec=t % 10**9), frame_id='camera')


def camera_message(rgb: np.ndarray, i: int, kind: str) -> tuple[str, bytes]:
    """(ROS type, CDR) of frame ``i`` as an Image of encoding ``kind`` or a 'jpeg'/'png'."""
    header = header_of(i)
    if kind in ('jpeg', 'png'):
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        return 'sensor_msgs/msg/CompressedImage', msgs.serialize(
            encode_compressed(bgr, header, fmt=kind, quality=95))
    arr = {'bgr8': lambda: cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
           'mono8': lambda: cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)}.get(kind, lambda: rgb)()
    return 'sensor_msgs/msg/Image', msgs.serialize(encode_image(arr, kind, header))


#: offered_qos_profiles of one transient-local publisher as Humble's rosbag2 writes it (a YAML
#: string, enums as integers; rosbag2_transport's qos.cpp).
HUMBLE_TRANSIENT_LOCAL_QOS = (
    '- history: 3\n  depth: 0\n  reliability: 1\n  durability: 1\n'
    '  deadline:\n    sec: 9223372036\n    nsec: 854775807\n'
    '  lifespan:\n    sec: 9223372036\n    nsec: 854775807\n  liveliness: 1\n'
    '  liveliness_lease_duration:\n    sec: 9223372036\n    nsec: 854775807\n'
    '  avoid_ros_namespace_conventions: false')


def write_humble_bag(folder: Path, messages: list[tuple[str, str, bytes, int]],
                     qos: dict[str, str] | None = None) -> None:
    """A bag laid out as Humble's ``ros2 bag record`` writes one with sqlite3: metadata
    version 5 (no ``ros_distro``, no type hashes), schema 3 with no message definitions.

    ``messages``: (topic, ROS type, CDR, bag time); ``qos``: offered_qos_profiles per topic.
    """
    folder.mkdir()
    db = folder / f'{folder.name}_0.db3'
    types = dict.fromkeys((t, ty) for t, ty, _, _ in messages)
    ids = {topic: i for i, (topic, _) in enumerate(types, 1)}
    con = sqlite3.connect(db)
    con.executescript(
        'CREATE TABLE schema(schema_version INTEGER PRIMARY KEY, ros_distro TEXT NOT NULL);'
        'INSERT INTO schema VALUES (3, "humble");'
        'CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,'
        ' serialization_format TEXT NOT NULL, offered_qos_profiles TEXT NOT NULL);'
        'CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL,'
        ' timestamp INTEGER NOT NULL, data BLOB NOT NULL);')
    for topic, ros_type in types:
        con.execute('INSERT INTO topics VALUES (?, ?, ?, "cdr", ?)',
                    (ids[topic], topic, ros_type, (qos or {}).get(topic, '')))
    for topic, _, cdr, stamp in messages:
        con.execute('INSERT INTO messages (topic_id, timestamp, data) VALUES (?, ?, ?)',
                    (ids[topic], stamp, cdr))
    con.commit()
    con.close()
    stamps = [m[3] for m in messages]
    meta = {'rosbag2_bagfile_information': {
        'version': 5, 'storage_identifier': 'sqlite3', 'relative_file_paths': [db.name],
        'duration': {'nanoseconds': max(stamps) - min(stamps)},
        'starting_time': {'nanoseconds_since_epoch': min(stamps)},
        'message_count': len(messages),
        'topics_with_message_count': [
            {'topic_metadata': {'name': topic, 'type': ros_type, 'serialization_format': 'cdr',
                                'offered_qos_profiles': (qos or {}).get(topic, '')},
             'message_count': sum(m[0] == topic for m in messages)}
            for topic, ros_type in types],
        'compression_format': '', 'compression_mode': '',
        'files': [{'path': db.name, 'starting_time': {'nanoseconds_since_epoch': min(stamps)},
                   'duration': {'nanoseconds': max(stamps) - min(stamps)},
                   'message_count': len(messages)}]}}
    (folder / 'metadata.yaml').write_text(yaml.safe_dump(meta, sort_keys=False))
