"""Launch file and rviz layout: well-formed, documented and consistent with the node (no ROS)."""
from __future__ import annotations

import ast
from pathlib import Path

import yaml

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
        assert tuple(declared) == choices[name]
    # Arguments passed on as node parameters default to the parameters' own defaults.
    defaults = {p.name: p.default for p in PARAMETERS}
    for name in ('camera_topic', 'model_path', 'device', 'compile', 'reliability'):
        default = defaults[name]
        as_text = str(default).lower() if isinstance(default, bool) else str(default)
        assert args[name]['default_value'].value == as_text, name


def test_rviz_shows_camera_mask_overlay_best_effort() -> None:
    layout = yaml.safe_load((ROOT / 'config' / 'vbp.rviz').read_text())
    displays = layout['Visualization Manager']['Displays']
    topics = {d['Topic']['Value']: d['Topic'] for d in displays
              if d['Class'] == 'rviz_default_plugins/Image'}
    assert set(topics) == {'/camera/image_raw', '/vbp/mask', '/vbp/overlay'}
    for topic in topics.values():
        assert topic['Reliability Policy'] == 'Best Effort'
