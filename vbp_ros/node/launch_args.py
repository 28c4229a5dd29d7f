"""What ``launch/vbp.launch.py`` hands the node: the parameter file, then only the launch
arguments that were given (ROS-free, so it is tested without ROS).

launch_ros passes a node's ``parameters`` in order and later entries win, so an argument with a
default would always override the file: ``params_file:=mine.yaml`` with ``device: cuda`` in it
would run on ``auto``. The node arguments therefore default to '' (= "as in the parameter file").
:func:`effective` reads the file as rcl does, so camera, rviz and recorder use what the node
does.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from vbp_ros.node.params import NODE_NAME, NodeParams, PARAMETERS
from vbp_ros.transport.parameters import load_params_file

#: Launch arguments that are also node parameters.
NODE_ARGUMENTS = ('camera_topic', 'model_path', 'model_class', 'device', 'compile',
                  'reliability')

_SPECS = {p.name: p for p in PARAMETERS}
_BOOLS = {'true': True, 'false': False}


def node_overrides(given: Mapping[str, str]) -> dict[str, Any]:
    """The node arguments given a value, typed and validated as the node's parameters."""
    out = {}
    for name in NODE_ARGUMENTS:
        text = given.get(name, '')
        if text == '':
            continue
        spec = _SPECS[name]
        value: Any = text
        if spec.type is bool:
            if text.lower() not in _BOOLS:
                msg = f'launch argument {name}:={text!r} must be true or false'
                raise ValueError(msg)
            value = _BOOLS[text.lower()]
        out[name] = spec.validate(value)
    return out


def effective(params_file: str | Path, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The values the node will run with (for the parts of the launch that need some: camera,
    rviz, recording): each parameter's default, then the parameter file's, then the arguments."""
    values = {name: spec.default for name, spec in _SPECS.items()}
    if params_file:
        values.update(load_params_file(params_file, NODE_NAME, known=set(_SPECS)))
    values.update(overrides)
    return values


def camera_arguments(values: Mapping[str, Any]) -> list[str]:
    """``synthetic_camera`` arguments for ``demo:=true``: what the node listens to (JPEG on
    ``<camera_topic>/compressed`` when its input_type is compressed)."""
    compressed = values['input_type'] == 'compressed'
    topic = values['camera_topic']
    if compressed and topic.endswith('/compressed'):  # the camera adds it itself
        topic = topic[:-len('/compressed')]
    args = ['--topic', topic, '--rate', '30', '--reliability', values['reliability']]
    return args + (['--encoding', 'jpeg'] if compressed else [])


def recorded_topics(values: Mapping[str, Any]) -> list[str]:
    """What ``record:=true`` records: the camera topic the node reads, and its outputs."""
    return [NodeParams.from_values(dict(values)).input_topic, '/vbp/steering', '/vbp/mask',
            '/vbp/overlay', '/diagnostics']


def rviz_layout(template: str, camera_topic: str) -> str:
    """The bundled rviz layout showing ``camera_topic`` instead of its default camera topic."""
    default = _SPECS['camera_topic'].default
    return template.replace(f'Value: {default}\n', f'Value: {camera_topic}\n')
