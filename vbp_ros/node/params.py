"""The node's parameters: one table, used by rclpy descriptors, the DDS path and the docs.

Values come from ``config/vbp.yaml`` (ROS 2 layout, ``vbp: ros__parameters:``) and overrides
(``--ros-args -p name:=value`` or ``--param name=value``). Empty preprocessing values mean "as
stored in the model file".

Parameters marked ``live`` (steering conversion, speed, mask_mode, overlay look, diagnostics)
may change while the node runs, with ``ros2 param set`` on ROS 2 (the DDS path has no parameter
services); the rest (topics, QoS, model, device, preprocessing) are read-only after start-up.

Steering conversion: the model outputs curvature ``k`` (1/m, + = left). The node publishes the
bicycle-model wheel angle, scaled, offset and clipped::

    steering_angle = clip(steering_scale * atan(wheelbase * k) + steering_offset,
                          -max_steering_angle, +max_steering_angle)

in ``AckermannDrive.steering_angle`` (rad, + = left, REP-103). The first part is the pipeline's
:class:`~vbp_ros.pipeline.steering.SteeringConversion` (gain = steering_scale); the node adds the
offset and clips.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from vbp_ros.core.image import COLORMAPS
from vbp_ros.transport.parameters import ParamSpec

NODE_NAME = 'vbp'

#: Every parameter of the node.
PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec('camera_topic', '/camera/image_raw',
              'input topic; sensor_msgs/Image, or with input_type=compressed '
              'sensor_msgs/CompressedImage on <camera_topic>/compressed'),
    ParamSpec('input_type', 'raw',
              'raw: sensor_msgs/Image; compressed: CompressedImage (jpeg/png)',
              choices=('raw', 'compressed')),
    ParamSpec('model_path', '', 'steering model file (.safetensors); empty: the bundled model'),
    ParamSpec('model_class', '',
              "the network to build for model_path, as 'package.module:Class' (your own CNN; "
              "imported, so only name code you trust); empty: the file's built-in architecture"),
    ParamSpec('device', 'auto', 'torch device for the model', choices=('auto', 'cpu', 'cuda')),
    ParamSpec('cpu_threads', 1,
              'torch CPU threads (0: torch default); 1 keeps latency steady when the CPU is '
              'shared with the camera driver and DDS', range=(0, 256)),
    ParamSpec('compile', False,
              'run model + VisualBackProp as one torch.compile\'d function (on CUDA with CUDA '
              'graphs): compiled at start-up (seconds; on CPU needs a C++ compiler, else the '
              'node logs why and runs eagerly); steering is then published with the mask, not '
              'before it'),
    ParamSpec('crop', [], 'crop box [top, bottom, left, right] as fractions of the frame; '
              'empty: from the model file', item_type=float, lengths=(4,)),
    ParamSpec('input_size', [], 'network input [height, width]; empty: from the model file',
              item_type=int, lengths=(2,)),
    ParamSpec('colour_space', 'model', 'network colour space; model: from the model file',
              choices=('model', 'yuv', 'rgb', 'gray')),
    ParamSpec('mean', [], 'per-channel normalisation mean (of values in [0, 1]); empty: model',
              item_type=float, lengths=(1, 3)),
    ParamSpec('std', [], 'per-channel normalisation std; empty: from the model file',
              item_type=float, lengths=(1, 3)),
    ParamSpec('wheelbase', 2.7, 'wheelbase in m for steering_angle = atan(wheelbase*curvature)',
              range=(0.1, 20.0), live=True),
    ParamSpec('steering_scale', 1.0, 'published steering_angle = scale * angle + offset',
              range=(-100.0, 100.0), live=True),
    ParamSpec('steering_offset', 0.0, 'offset (rad) added to the scaled steering angle',
              range=(-3.2, 3.2), live=True),
    ParamSpec('max_steering_angle', 0.7, 'published steering angle is clipped to +-this (rad)',
              range=(0.0, 3.2), live=True),
    ParamSpec('speed', 0.0, 'AckermannDrive.speed to publish (m/s)', range=(-100.0, 100.0),
              live=True),
    ParamSpec('reliability', 'best_effort',
              'QoS reliability of camera input, mask and overlay (sensor-data profile)',
              choices=('best_effort', 'reliable')),
    ParamSpec('depth', 5, 'QoS history depth (KEEP_LAST) of images', range=(1, 100)),
    ParamSpec('steering_reliability', 'reliable', 'QoS reliability of ~/steering',
              choices=('best_effort', 'reliable')),
    ParamSpec('mask_mode', 'on_demand',
              'on_demand: compute the mask only while ~/mask or ~/overlay has a subscriber '
              '(or a recorder is attached); always; never',
              choices=('on_demand', 'always', 'never'), live=True),
    ParamSpec('overlay_alpha', 0.5, 'heatmap opacity of ~/overlay', range=(0.0, 1.0), live=True),
    ParamSpec('colormap', 'jet', 'colour map of ~/overlay', choices=tuple(COLORMAPS), live=True),
    ParamSpec('diagnostics_period', 1.0, 'seconds between /diagnostics messages',
              range=(0.1, 60.0), live=True),
    ParamSpec('hardware_id', '', 'DiagnosticStatus.hardware_id; empty: the torch device',
              live=True),
)


@dataclass
class NodeParams:
    """Validated parameter values, as attributes (see :data:`PARAMETERS`)."""

    camera_topic: str = '/camera/image_raw'
    input_type: str = 'raw'
    model_path: str = ''
    model_class: str = ''
    device: str = 'auto'
    cpu_threads: int = 1
    compile: bool = False
    crop: list[float] = field(default_factory=list)
    input_size: list[int] = field(default_factory=list)
    colour_space: str = 'model'
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    wheelbase: float = 2.7
    steering_scale: float = 1.0
    steering_offset: float = 0.0
    max_steering_angle: float = 0.7
    speed: float = 0.0
    reliability: str = 'best_effort'
    depth: int = 5
    steering_reliability: str = 'reliable'
    mask_mode: str = 'on_demand'
    overlay_alpha: float = 0.5
    colormap: str = 'jet'
    diagnostics_period: float = 1.0
    hardware_id: str = ''

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> NodeParams:
        """Build from a validated name -> value mapping (extra names ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    @property
    def input_topic(self) -> str:
        """The topic actually subscribed (image_transport naming for compressed input)."""
        return self.transport_topic(self.camera_topic)

    def transport_topic(self, base: str) -> str:
        """``base`` as image_transport names it for this input_type: compressed frames on
        ``<base>/compressed``. The node passes ``base`` remapped first, as image_transport
        does, so ``-r /camera/image_raw:=/front/image_raw`` also moves compressed input."""
        if self.input_type == 'compressed' and not base.endswith('/compressed'):
            return base.rstrip('/') + '/compressed'
        return base


def defaults() -> dict[str, Any]:
    """Map every parameter name to its default."""
    return {p.name: p.default for p in PARAMETERS}
