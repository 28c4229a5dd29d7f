"""rosbag2 reader/writer wrappers: round trips, refusing to overwrite, staging, damaged bags."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import Reader

from vbp_ros.bag import BagError, BagReader, BagWriter
from vbp_ros.bag.io import COMPLETE_KEY
from vbp_ros.bag.types import definition, typestore

STORAGES = ['mcap', 'sqlite3']


def _float32(value: float) -> bytes:
    return typestore().serialize_cdr(typestore().types['std_msgs/msg/Float32'](value),
                                     'std_msgs/msg/Float32')


def _write(path: Path, storage: str, n: int = 5, **kw: object) -> BagWriter:
    w = BagWriter(path, storage=storage, **kw)
    with w:
        for i in range(n):
            w.write('/a', 'std_msgs/msg/Float32', _float32(float(i)), 100 + i)
            w.write('/b', 'std_msgs/msg/Float32', _float32(-float(i)), 100 + i)
    return w


@pytest.mark.parametrize('storage', STORAGES)
def test_round_trip_with_rosbags(tmp_path: Path, storage: str) -> None:
    _write(tmp_path / 'bag', storage)
    store = typestore()
    with Reader(tmp_path / 'bag') as r:
        assert r.message_count == 10
        assert {c.topic: c.msgtype for c in r.connections} == {
            '/a': 'std_msgs/msg/Float32', '/b': 'std_msgs/msg/Float32'}
        conn = next(c for c in r.connections if c.topic == '/a')
        assert conn.digest == definition('std_msgs/msg/Float32')[1]
        values = [store.deserialize_cdr(d, c.msgtype).data
                  for c, _, d in r.messages([conn])]
    assert values == [0.0, 1.0, 2.0, 3.0, 4.0]
    meta = (tmp_path / 'bag' / 'metadata.yaml').read_text()
    assert 'version: 8' in meta


@pytest.mark.parametrize('storage', STORAGES)
def test_reader_topics_and_filter(tmp_path: Path, storage: str) -> None:
    _write(tmp_path / 'bag', storage, n=3)
    with BagReader(tmp_path / 'bag') as r:
        assert set(r.topics) == {'/a', '/b'}
        assert r.topics['/a'].count == 3
        assert r.topics['/a'].ros_type == 'std_msgs/msg/Float32'
        got = [(t, s) for t, s, _ in r.messages(['/b'])]
        assert got == [('/b', 100), ('/b', 101), ('/b', 102)]
        with pytest.raises(BagError, match=r'/nope.*/a \[std_msgs/msg/Float32\]'):
            list(r.messages(['/nope']))


def test_single_storage_file_is_readable(tmp_path: Path) -> None:
    _write(tmp_path / 'bag', 'mcap', n=2)
    with BagReader(tmp_path / 'bag' / 'bag.mcap') as r:
        assert r.topics['/a'].count == 2


def test_folder_without_metadata_reads_its_storage_file(tmp_path: Path) -> None:
    _write(tmp_path / 'bag', 'mcap', n=2)
    (tmp_path / 'bag' / 'metadata.yaml').unlink()
    with BagReader(tmp_path / 'bag') as r:
        assert len(list(r.messages())) == 4


def test_writer_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / 'bag').mkdir()
    with pytest.raises(BagError, match='exists already'):
        BagWriter(tmp_path / 'bag')
    (tmp_path / 'out.incomplete').mkdir()
    with pytest.raises(BagError, match='exists already'):
        BagWriter(tmp_path / 'out', staged=True)


def test_writer_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='storage'):
        BagWriter(tmp_path / 'bag', storage='rosbag1')
    with pytest.raises(ValueError, match='version'):
        BagWriter(tmp_path / 'bag', version=5)


def test_topic_type_clash_and_unknown_type(tmp_path: Path) -> None:
    with BagWriter(tmp_path / 'bag') as w:
        w.write('/a', 'std_msgs/msg/Float32', _float32(1.0), 1)
        with pytest.raises(BagError, match='is std_msgs/msg/Float32'):
            w.write('/a', 'sensor_msgs/msg/Image', b'\x00\x01\x00\x00', 2)
        with pytest.raises(BagError, match='unknown message type'):
            w.write('/c', 'nope_msgs/msg/Nope', b'\x00\x01\x00\x00', 2)


@pytest.mark.parametrize('storage', STORAGES)
def test_staged_writer_moves_complete_bag_into_place(tmp_path: Path, storage: str) -> None:
    w = BagWriter(tmp_path / 'out', storage=storage, staged=True)
    w.open()
    w.write('/a', 'std_msgs/msg/Float32', _float32(1.0), 1)
    assert not (tmp_path / 'out').exists()  # nothing at the final name while writing
    assert w.close() == tmp_path / 'out'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out']
    with BagReader(tmp_path / 'out') as r:
        assert r.metadata[COMPLETE_KEY] == 'true'


@pytest.mark.parametrize('storage', STORAGES)
def test_staged_writer_after_error_leaves_readable_incomplete_bag(tmp_path: Path,
                                                                  storage: str) -> None:
    w = BagWriter(tmp_path / 'out', storage=storage, staged=True)
    with pytest.raises(KeyboardInterrupt), w:
        for i in range(3):
            w.write('/a', 'std_msgs/msg/Float32', _float32(float(i)), i)
        raise KeyboardInterrupt
    assert not (tmp_path / 'out').exists()
    assert w.final_path == tmp_path / 'out.incomplete'
    with BagReader(tmp_path / 'out.incomplete') as r:
        assert r.metadata[COMPLETE_KEY] == 'false'
        assert len(list(r.messages())) == 3


def test_missing_bag_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BagError, match='bag not found'):
        BagReader(tmp_path / 'nope')


def test_folder_that_is_not_a_bag(tmp_path: Path) -> None:
    (tmp_path / 'x').mkdir()
    with pytest.raises(BagError, match='no metadata.yaml'):
        BagReader(tmp_path / 'x').open()


@pytest.mark.parametrize('storage', STORAGES)
def test_garbage_storage_file_is_a_clear_error(tmp_path: Path, storage: str) -> None:
    _write(tmp_path / 'bag', storage, n=3)
    data = next(p for p in (tmp_path / 'bag').iterdir() if p.suffix in ('.mcap', '.db3'))
    data.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    with pytest.raises(BagError, match='bag'):
        with BagReader(tmp_path / 'bag') as r:
            list(r.messages())


@pytest.mark.parametrize('storage', STORAGES)
@pytest.mark.parametrize('keep', [0.3, 0.6, 0.9])
def test_truncated_storage_file_is_a_clear_error(tmp_path: Path, storage: str,
                                                 keep: float) -> None:
    _write(tmp_path / 'bag', storage, n=200)
    data = next(p for p in (tmp_path / 'bag').iterdir() if p.suffix in ('.mcap', '.db3'))
    raw = data.read_bytes()
    data.write_bytes(raw[:int(len(raw) * keep)])
    with pytest.raises(BagError, match='bag'):
        with BagReader(tmp_path / 'bag') as r:
            list(r.messages())


@pytest.mark.parametrize('length', [2**64 - 1, 2**62])
@pytest.mark.parametrize('salvage', [False, True])
def test_an_absurd_mcap_record_length_is_a_clear_error(tmp_path: Path, length: int,
                                                       salvage: bool) -> None:
    # rosbags allocates what a record declares: OverflowError / MemoryError escaped before.
    import struct
    _write(tmp_path / 'bag', 'mcap', n=3)
    data = next((tmp_path / 'bag').glob('*.mcap'))
    raw = bytearray(data.read_bytes())
    pos, schemas = 8, []
    while raw[pos] != 0x02:  # the top-level records, up to the footer
        if raw[pos] == 0x03:
            schemas.append(pos)
        pos += 9 + struct.unpack_from('<Q', raw, pos + 1)[0]
    struct.pack_into('<Q', raw, schemas[-1] + 1, length)  # the summary's schema record
    data.write_bytes(bytes(raw))
    if salvage:  # the messages before the summary are intact: salvage finds them all
        with BagReader(data, salvage=True) as r:
            assert len(list(r.messages())) == 6
        return
    with pytest.raises(BagError, match='bag'):
        with BagReader(data) as r:
            list(r.messages())


def test_bad_metadata_is_a_clear_error(tmp_path: Path) -> None:
    _write(tmp_path / 'bag', 'mcap', n=2)
    (tmp_path / 'bag' / 'metadata.yaml').write_text('rosbag2_bagfile_information: [1, 2\n')
    with pytest.raises(BagError, match='cannot read bag'):
        BagReader(tmp_path / 'bag').open()


def test_a_definition_without_a_hash_is_kept(tmp_path: Path) -> None:
    # Humble bags and salvaged recordings store .msg texts without RIHS01 hashes; copying such
    # a topic computes the hash from the text instead of looking the type up by name.
    from vbp_ros.bag.types import hash_of_definition
    with BagWriter(tmp_path / 'bag') as w:
        w.add_topic('/wheel_speed', 'my_msgs/msg/Speed', msgdef='float64 value\n', rihs01='')
        w.write('/wheel_speed', 'my_msgs/msg/Speed', b'\x00\x01\x00\x00' + bytes(8), 5)
    with Reader(tmp_path / 'bag') as r:
        (conn,) = r.connections
        assert conn.digest == hash_of_definition('my_msgs/msg/Speed', 'float64 value\n')
        assert conn.digest.startswith('RIHS01_') and len(list(r.messages())) == 1
    with pytest.raises(BagError, match='cannot read the definition of my_msgs/msg/Bad'):
        hash_of_definition('my_msgs/msg/Bad', 'float64\n')
    with pytest.raises(BagError, match="it lacks 'other_msgs/msg/Missing'"):
        hash_of_definition('my_msgs/msg/Bad', 'other_msgs/Missing field\n')


@pytest.mark.parametrize('storage', STORAGES)
def test_a_full_disk_is_a_bag_error_and_keeps_what_was_written(tmp_path: Path, storage: str,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    import errno
    import apsw  # what rosbags' sqlite3 storage raises
    w = BagWriter(tmp_path / 'out', storage=storage, staged=True)
    w.open()
    w.write('/a', 'std_msgs/msg/Float32', _float32(1.0), 1)
    full = (apsw.FullError('database or disk is full') if storage == 'sqlite3'
            else OSError(errno.ENOSPC, 'No space left on device'))

    def fail(*args: object) -> None:
        raise full

    monkeypatch.setattr(w._writer, 'write', fail)
    with pytest.raises(BagError, match='cannot write to bag .*(disk is full|No space left)'):
        w.write('/a', 'std_msgs/msg/Float32', _float32(2.0), 2)
    close = w._writer.close

    def close_then_fail() -> None:
        close()
        raise full

    monkeypatch.setattr(w._writer, 'close', close_then_fail)
    with pytest.raises(BagError, match=r'what was written is in .*out\.incomplete'):
        w.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out.incomplete']


def test_an_idl_definition_without_a_hash_uses_the_known_type(tmp_path: Path) -> None:
    # Humble's rosbag2 may store IDL texts; for a type we know, its .msg text and hash are used.
    idl = '=' * 80 + '\nIDL: std_msgs/msg/Float32\nmodule std_msgs { module msg {\n' \
                     '  struct Float32 { float data; }; }; };\n'
    with BagWriter(tmp_path / 'bag') as w:
        w.add_topic('/x', 'std_msgs/msg/Float32', msgdef=idl, rihs01='')
        w.write('/x', 'std_msgs/msg/Float32', _float32(1.5), 5)
    with Reader(tmp_path / 'bag') as r:
        (conn,) = r.connections
        assert conn.digest == definition('std_msgs/msg/Float32')[1]
        assert len(list(r.messages())) == 1


def test_stored_hashes_of_char_fields_are_rosidl_s() -> None:
    # rosidl hashes a .msg char as uint8; rosbags' own hash of such a type differs.
    from vbp_ros.msgs import compute_type_hash
    from vbp_ros.msgs.registry import get_type
    for name in ('rmw_dds_common/msg/Gid', 'rmw_dds_common/msg/ParticipantEntitiesInfo'):
        msgdef, rihs01 = definition(name)
        assert 'char[' in msgdef  # the text is stored as it is
        assert rihs01 == compute_type_hash(get_type(name)) != typestore().hash_rihs01(name)


def test_message_compressed_storage_without_its_metadata_is_refused(tmp_path: Path) -> None:
    # A crashed `ros2 bag record --compression-mode message` leaves a .db3 of zstd frames and
    # no metadata.yaml; read as CDR, every message would be garbage.
    try:
        from compression import zstd  # Python 3.14
    except ImportError:
        zstd = pytest.importorskip('backports.zstd')  # rosbags' dependency since 0.11.7
    from bag_testutil import write_humble_bag
    write_humble_bag(tmp_path / 'rec', [('/x', 'std_msgs/msg/Float32', zstd.compress(
        _float32(1.0)), 5)])
    (tmp_path / 'rec' / 'metadata.yaml').unlink()
    with BagReader(tmp_path / 'rec') as bag, pytest.raises(BagError, match='zstd-compressed'):
        list(bag.messages())


@pytest.mark.parametrize('storage', STORAGES)
def test_distro_of_bags_and_bare_storage_files(tmp_path: Path, storage: str) -> None:
    from bag_testutil import write_humble_bag
    with BagWriter(tmp_path / 'ours', storage=storage) as w:
        w.write('/a', 'std_msgs/msg/Float32', _float32(1.0), 1)
    write_humble_bag(tmp_path / 'humble', [('/a', 'std_msgs/msg/Float32', _float32(1.0), 1)])
    paths = {tmp_path / 'ours': 'jazzy', tmp_path / 'humble': 'humble',
             tmp_path / 'humble' / 'humble_0.db3': 'humble'}
    paths[next(p for p in (tmp_path / 'ours').iterdir() if p.suffix != '.yaml')] = 'jazzy'
    for path, distro in paths.items():
        with BagReader(path) as bag:
            assert bag.distro == distro, path


def test_a_sqlite3_recording_cut_off_mid_transaction_is_named(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture
                                                              ) -> None:
    import subprocess
    import sys
    script = (
        'import os\n'
        'from vbp_ros.bag.io import BagWriter\n'
        "w = BagWriter('bag', storage='sqlite3'); w.open()\n"
        "data = bytes(4) + bytes(1_000_000)\n"
        'for i in range(40):\n'
        "    w.write('/raw', 'std_msgs/msg/String', data, i + 1)\n"
        '    if i == 9:\n'
        '        w._last_flush = 0; w.flush_if_due()  # 10 committed\n'
        'os._exit(0)  # killed: no commit, no metadata.yaml\n')
    subprocess.run([sys.executable, '-c', script], cwd=tmp_path, check=True)
    assert (tmp_path / 'bag' / 'bag.db3-journal').stat().st_size > 0
    with BagReader(tmp_path / 'bag') as r:
        assert r.topics['/raw'].count == 10
    assert 'bag.db3 was not closed (bag.db3-journal is left)' in caplog.text
