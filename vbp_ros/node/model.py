"""Build the node's FramePipeline from its parameters (model file, device, preprocessing)."""
from __future__ import annotations

import dataclasses
import math
from typing import Any

from vbp_ros.node.params import NodeParams
from vbp_ros.transport.parameters import ParamError


#: Node parameter -> the Preprocess field it overrides.
_PREPROCESS_FIELDS = {'crop': 'crop', 'input_size': 'size', 'colour_space': 'colour',
                      'mean': 'mean', 'std': 'std'}


def preprocess_overrides(params: NodeParams) -> dict[str, Any]:
    """Preprocess fields the parameters set (empty values, and colour_space 'model', keep the
    model file's)."""
    out: dict[str, Any] = {}
    for name, field in _PREPROCESS_FIELDS.items():
        value = getattr(params, name)
        if value and value != 'model':
            out[field] = tuple(value) if isinstance(value, list) else value
    return out


def build_pipeline(params: NodeParams) -> Any:
    """Load the model, apply preprocessing overrides and warm up (FramePipeline does).

    Args:
        params: the node's parameters.

    Returns:
        A :class:`vbp_ros.pipeline.frame.FramePipeline`.

    Raises:
        ModelError: the model cannot be loaded.
        ParamError: the preprocessing overrides are inconsistent.
    """
    import torch

    from vbp_ros.core.model_file import BUNDLED_MODEL, read_spec
    from vbp_ros.pipeline.frame import FramePipeline
    from vbp_ros.pipeline.steering import SteeringConversion
    if params.cpu_threads > 0:
        torch.set_num_threads(params.cpu_threads)
    path = params.model_path or None
    preprocess = None
    overrides = preprocess_overrides(params)
    if overrides:
        spec = read_spec(path or BUNDLED_MODEL)
        try:
            preprocess = dataclasses.replace(spec.preprocess, **overrides)
        except (ValueError, TypeError) as exc:
            names = ', '.join(sorted(name for name, field in _PREPROCESS_FIELDS.items()
                                     if field in overrides))
            raise ParamError(f'preprocessing parameters ({names}) do not fit together or with '
                             f'the model: {exc}') from None
    # The node adds steering_offset and clips to max_steering_angle itself (see params).
    steering = SteeringConversion(wheelbase=params.wheelbase, gain=params.steering_scale,
                                  max_angle=math.inf)
    return FramePipeline(model_path=path, device=params.device,
                         model_class=params.model_class or None, preprocess=preprocess,
                         steering=steering, compile=params.compile)
