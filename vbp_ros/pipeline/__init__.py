"""Per-frame processing shared by the node, bag processing and training.

Names are imported lazily: :mod:`vbp_ros.core.model_file` needs :class:`Preprocess` while
:class:`FramePipeline` needs the core, so an eager import here would be circular.
"""
from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    'FramePipeline': 'vbp_ros.pipeline.frame',
    'FrameResult': 'vbp_ros.pipeline.frame',
    'pick_device': 'vbp_ros.pipeline.frame',
    'Preprocess': 'vbp_ros.pipeline.preprocess',
    'SteeringConversion': 'vbp_ros.pipeline.steering',
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
