"""vbp_ros: steering CNN + VisualBackProp masks, as a ROS 2 node and a ROS-free library.

Public names are imported on first use, so ``from vbp_ros.core.visualbackprop import ...``
needs only torch (the GPU benchmark runs with nothing else installed).
"""
from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    'VisualBackProp': 'vbp_ros.core.visualbackprop',
    'PilotNet': 'vbp_ros.core.pilotnet',
    'load_model': 'vbp_ros.core.model_file',
    'save_model': 'vbp_ros.core.model_file',
    'ModelSpec': 'vbp_ros.core.model_file',
    'VbpError': 'vbp_ros.errors',
    'ModelError': 'vbp_ros.errors',
    'InputError': 'vbp_ros.errors',
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
