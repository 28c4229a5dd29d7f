"""Launch file and rviz layout: well-formed, documented and consistent with the node (no ROS)."""
from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest
import yaml

from vbp_ros.node.launch_args import effective, NODE_ARGUMENTS, node_overrides, rviz_layout
from vbp_ros.node.params import PARAMETERS

ROOT = Path(__file__).resolve().parents[2]


def launch_arguments() -> dict[str, dict[str, ast.expr]]:
    tree = ast.parse((ROOT / 'launch' / 'vbp.launch.py').read_text())
    assert ast.get_docstring(tree)
    out = {}
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, 'id', '') == 'DeclareLaunchArgument':
            name = call.args[0].value
            out[name] = {kw.arg: kw.value for kw in call.keywords}
    return out


def test_launch_arguments_are_documented() -> None:
    args = launch_arguments()
    assert {'camera_topic', 'model_path', 'device', 'rviz', 'record', 'demo'} <= set(args)
    for name, kwargs in args.items():
        assert 'description' in kwargs, name
        assert 'default_value' in kwargs, name
    choices = {p.name: p.choices for p in PARAMETERS}
    for name in ('device', 'reliability'):
        declared = [e.value for e in args[name]['choices'].elts]
        assert tuple(declared) == ('', *choices[name])
    # Arguments passed on as node parameters default to '' (= as in params_file): launch_ros
    # lets later parameter sources win, so a default would always override the file.
    for name in NODE_ARGUMENTS:
        assert args[name]['default_value'].value == '', name
    assert set(NODE_ARGUMENTS) <= set(args)


def test_launch_overrides_only_what_was_given() -> None:
    assert node_overrides({name: '' for name in NODE_ARGUMENTS}) == {}
    got = node_overrides({'device': 'cuda', 'compile': 'True', 'camera_topic': '/front/image',
                          'model_path': ''})
    assert got == {'device': 'cuda', 'compile': True, 'camera_topic': '/front/image'}
    with pytest.raises(ValueError, match='device'):
        node_overrides({'device': 'tpu'})
    with pytest.raises(ValueError, match='compile'):
        node_overrides({'compile': 'yes please'})


def test_launch_uses_the_values_the_node_runs_with(tmp_path: Path) -> None:
    mine = tmp_path / 'mine.yaml'
    mine.write_text("/**:\n  ros__parameters:\n    reliability: reliable\n"
                    "vbp:\n  ros__parameters:\n    camera_topic: /front/image_raw\n")
    assert effective(mine, {})['camera_topic'] == '/front/image_raw'
    assert effective(mine, {})['reliability'] == 'reliable'
    assert effective(mine, {})['device'] == 'auto'  # the parameter's default
    assert effective(mine, {'camera_topic': '/rear'})['camera_topic'] == '/rear'
    bundled = ROOT / 'config' / 'vbp.yaml'
    assert effective(bundled, {})['camera_topic'] == '/camera/image_raw'


def test_demo_camera_and_recording_follow_compressed_input(tmp_path: Path) -> None:
    from vbp_ros.commands.camera import add_arguments
    from vbp_ros.node.launch_args import camera_arguments, recorded_topics
    mine = tmp_path / 'mine.yaml'
    mine.write_text("vbp:\n  ros__parameters:\n    input_type: compressed\n")
    values = effective(mine, {'camera_topic': '/front/image_raw'})
    assert recorded_topics(values)[0] == '/front/image_raw/compressed'
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    cam = parser.parse_args(camera_arguments(values))  # what synthetic_camera accepts
    assert (cam.topic, cam.encoding) == ('/front/image_raw', 'jpeg')  # -> .../compressed
    given = effective(mine, {'camera_topic': '/cam/compressed'})  # named in full
    assert parser.parse_args(camera_arguments(given)).topic == '/cam'
    assert recorded_topics(given)[0] == '/cam/compressed'
    raw = effective(ROOT / 'config' / 'vbp.yaml', {})
    assert recorded_topics(raw)[0] == '/camera/image_raw'
    assert parser.parse_args(camera_arguments(raw)).encoding == 'rgb8'


def test_rviz_layout_follows_the_camera_topic() -> None:
    text = (ROOT / 'config' / 'vbp.rviz').read_text()
    assert rviz_layout(text, '/camera/image_raw') == text
    layout = yaml.safe_load(rviz_layout(text, '/front/image_raw'))
    topics = {d['Topic']['Value'] for d in layout['Visualization Manager']['Displays']
              if d['Class'] == 'rviz_default_plugins/Image'}
    assert topics == {'/front/image_raw', '/vbp/mask', '/vbp/overlay'}


def test_rviz_shows_camera_mask_overlay_best_effort() -> None:
    layout = yaml.safe_load((ROOT / 'config' / 'vbp.rviz').read_text())
    displays = layout['Visualization Manager']['Displays']
    topics = {d['Topic']['Value']: d['Topic'] for d in displays
              if d['Class'] == 'rviz_default_plugins/Image'}
    assert set(topics) == {'/camera/image_raw', '/vbp/mask', '/vbp/overlay'}
    for topic in topics.values():
        assert topic['Reliability Policy'] == 'Best Effort'
