"""Topic names, QoS profiles and parameter handling shared by both middlewares."""
from __future__ import annotations

from pathlib import Path

import pytest

from vbp_ros.transport.errors import TransportError
from vbp_ros.transport.names import dds_topic_name, dds_type_name, expand_topic
from vbp_ros.transport.parameters import load_params_file, load_params_files, ParamError, \
    ParamSpec, parse_assignment, resolve_values, ros_args_last, split_ros_args
from vbp_ros.transport.qos import DEFAULT, QosProfile, Reliability, SENSOR_DATA


@pytest.mark.parametrize('topic, ns, expected', [
    ('~/mask', '/', '/vbp/mask'),
    ('~/mask', '/car', '/car/vbp/mask'),
    ('mask', '/car/', '/car/mask'),
    ('/diagnostics', '/car', '/diagnostics'),
    ('camera/image_raw', '/', '/camera/image_raw'),
    ('{node}/mask', '/car', '/car/vbp/mask'),
    ('{ns}/mask', '/', '/mask'),
    ('{namespace}/x/{node}', '/car', '/car/x/vbp'),
])
def test_expand_topic(topic: str, ns: str, expected: str) -> None:
    assert expand_topic(topic, 'vbp', ns) == expected


@pytest.mark.parametrize('bad', ['', '/', '/a//b', '/1abc', '~x', '/a b', '//a', '{nod}/x'])
def test_invalid_topic_names_raise(bad: str) -> None:
    with pytest.raises(TransportError):
        expand_topic(bad, 'vbp')


def test_dds_names_follow_rmw_cyclonedds() -> None:
    assert dds_topic_name('/camera/image_raw') == 'rt/camera/image_raw'
    assert dds_type_name('sensor_msgs/msg/Image') == 'sensor_msgs::msg::dds_::Image_'


def test_qos_profiles() -> None:
    assert SENSOR_DATA == QosProfile('best_effort', 5)
    assert DEFAULT.reliability is Reliability.RELIABLE and DEFAULT.depth == 10
    with pytest.raises(ValueError):
        QosProfile('reliable', 0)
    with pytest.raises(ValueError):
        QosProfile('sometimes', 1)


SPECS = (
    ParamSpec('device', 'auto', 'torch device', choices=('auto', 'cpu', 'cuda')),
    ParamSpec('alpha', 0.5, 'opacity', range=(0.0, 1.0)),
    ParamSpec('depth', 5, 'depth', range=(1, 100)),
    ParamSpec('crop', [], 'crop box', item_type=float, lengths=(4,)),
    ParamSpec('size', [], 'height, width', item_type=int, lengths=(2,)),
    ParamSpec('flag', False, 'a switch'),
)


def test_resolve_values_validates_and_coerces() -> None:
    values = resolve_values(SPECS, {'alpha': 1, 'crop': [0, 1, 0, 1]}, {'device': 'cpu'})
    assert values == {'device': 'cpu', 'alpha': 1.0, 'depth': 5, 'crop': [0.0, 1.0, 0.0, 1.0],
                      'size': [], 'flag': False}
    assert isinstance(values['alpha'], float)


@pytest.mark.parametrize('name, value, words', [
    ('device', 'gpu', ['device', 'gpu', 'one of']),
    ('alpha', 1.5, ['alpha', '1.5', '[0.0, 1.0]']),
    ('depth', 2.5, ['depth', 'integer']),
    ('depth', True, ['depth']),
    ('flag', 'yes', ['flag', 'bool']),
    ('crop', 'abc', ['crop']),
    ('crop', [0.5], ['crop', '1 values, not 4']),
    ('crop', ['0', 1, 0, 1], ['crop', 'array of numbers']),
    ('crop', [True, 1, 0, 1], ['crop', 'array of numbers']),
    ('size', [66.7, 200], ['size', 'array of integers']),
    ('nope', 1, ['unknown', 'nope']),
])
def test_bad_values_name_the_parameter(name: str, value: object, words: list[str]) -> None:
    with pytest.raises(ParamError) as info:
        resolve_values(SPECS, {name: value})
    for word in words:
        assert word in str(info.value)


def test_params_file_ros_layout(tmp_path) -> None:
    path = tmp_path / 'p.yaml'
    path.write_text('/**:\n  ros__parameters:\n    alpha: 0.1\n    depth: 3\n'
                    'vbp:\n  ros__parameters:\n    alpha: 0.2\n    nested:\n      x: 1\n'
                    'other:\n  ros__parameters:\n    depth: 9\n')
    assert load_params_file(path, 'vbp') == {'alpha': 0.2, 'depth': 3, 'nested.x': 1}
    with pytest.raises(ParamError):
        load_params_file(tmp_path / 'missing.yaml', 'vbp')


def test_params_file_wildcards_namespaces_and_shared_sections(tmp_path) -> None:
    path = tmp_path / 'p.yaml'
    path.write_text('/robot/vbp:\n  ros__parameters:\n    alpha: 0.9\n'
                    '/**/vbp:\n  ros__parameters:\n    alpha: 0.3\n    depth: 7\n'
                    '/robot/*:\n  ros__parameters:\n    flag: true\n'
                    '/*/other:\n  ros__parameters:\n    depth: 9\n'
                    '/**:\n  ros__parameters:\n    frame_rate: 30\n')
    known = {s.name for s in SPECS}
    # As in rcl/rclpy, matching sections apply in file order, later ones winning (here the
    # wildcard /**/vbp after /robot/vbp); names other nodes use are left out of the shared
    # sections (ROS ignores overrides a node does not declare).
    assert load_params_file(path, 'vbp', '/robot', known) == {'alpha': 0.3, 'depth': 7,
                                                               'flag': True}
    assert load_params_file(path, 'vbp', '/', known) == {'alpha': 0.3, 'depth': 7}
    assert load_params_file(path, 'vbp', '/a/b', known) == {'alpha': 0.3, 'depth': 7}
    assert load_params_file(path, 'vbp', '/')['frame_rate'] == 30  # without known: all kept


def test_ros_args_parsing() -> None:
    rest, params, remaps, files = split_ros_args(
        ['--record', 'x', '--ros-args', '-p', 'alpha:=0.3', '-p', 'device:=cpu', '-r',
         '/camera/image_raw:=/cam', '--params-file', 'f.yaml', '--', '--other'])
    assert rest == ['--record', 'x', '--other']
    assert params == {'alpha': 0.3, 'device': 'cpu'}
    assert remaps == {'/camera/image_raw': '/cam'}
    assert files == [{'alpha': 0.3}, {'device': 'cpu'}, 'f.yaml']  # in command-line order
    assert parse_assignment('crop=[0.4, 1, 0, 1]') == ('crop', [0.4, 1, 0, 1])
    with pytest.raises(ParamError):
        parse_assignment('novalue')


@pytest.mark.parametrize('argv, expected', [
    (['--ros-args', '-p', 'a:=1', '--'], ['--ros-args', '-p', 'a:=1']),
    (['--ros-args', '-p', 'a:=1', '--', '--duration', '2'],
     ['--duration', '2', '--ros-args', '-p', 'a:=1']),
    (['x', '--ros-args', '-r', 'a:=b', '--', 'y', '--ros-args', '-p', 'c:=2'],
     ['x', 'y', '--ros-args', '-r', 'a:=b', '-p', 'c:=2']),
    (['--duration', '2'], ['--duration', '2']),
])
def test_ros_args_sections_end_at_double_dash(argv: list, expected: list) -> None:
    assert ros_args_last(argv) == expected


def test_ros_args_without_a_value_or_unknown_to_us(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ParamError, match='-p at the end of the ROS arguments needs a value'):
        split_ros_args(['--ros-args', '-p'])
    split_ros_args(['--ros-args', '--log-level', 'debug', '-p', 'a:=1'])
    assert 'ignoring ROS arguments that only rcl applies: --log-level debug' in caplog.text


def test_params_files_merge_like_rcl(tmp_path) -> None:
    first, second = tmp_path / 'a.yaml', tmp_path / 'b.yaml'
    first.write_text('/**:\n  ros__parameters:\n    alpha: 0.1\n'
                     'vbp:\n  ros__parameters:\n    alpha: 0.2\n')
    second.write_text('/**:\n  ros__parameters:\n    alpha: 0.3\n    depth: 4\n')
    # rcl keeps a section where it first appeared: the second file's /** merges into the
    # first's, which 'vbp' (after it) still overrides.
    assert load_params_files([first, second], 'vbp') == {'alpha': 0.2, 'depth': 4}
    assert load_params_files([second, first], 'vbp') == {'alpha': 0.2, 'depth': 4}
    # 'vbp' means '/vbp': it does not apply to a namespaced node.
    assert load_params_files([first], 'vbp', '/robot') == {'alpha': 0.1}


def test_p_and_parameter_files_merge_in_command_line_order_as_in_rcl(tmp_path: Path) -> None:
    named = tmp_path / 'named.yaml'
    named.write_text('vbp:\n  ros__parameters:\n    device: cuda\n')
    shared = tmp_path / 'shared.yaml'
    shared.write_text('/**:\n  ros__parameters:\n    device: cuda\n')
    known = {'device'}
    # -p is rcl's '/**' section: its place among the sections decides against 'vbp:'...
    assert load_params_files([named, {'device': 'cpu'}], 'vbp', '/', known) == {'device': 'cpu'}
    assert load_params_files([{'device': 'cpu'}, named], 'vbp', '/', known) == {'device': 'cuda'}
    # ... and within '/**' the later value wins.
    assert load_params_files([shared, {'device': 'cpu'}], 'vbp', '/', known) == {'device': 'cpu'}
    assert load_params_files([{'device': 'cpu'}, shared], 'vbp', '/', known) == {'device': 'cuda'}
    # A mistyped -p name is kept, to be refused as unknown, not silently dropped.
    assert load_params_files([{'devcie': 'cpu'}], 'vbp', '/', known) == {'devcie': 'cpu'}
