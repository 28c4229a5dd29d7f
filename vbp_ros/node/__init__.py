"""The VisualBackProp steering node: parameters, logic, diagnostics and executable."""
from __future__ import annotations

from vbp_ros.node.params import NODE_NAME, NodeParams, PARAMETERS

__all__ = ['NODE_NAME', 'NodeParams', 'PARAMETERS']
