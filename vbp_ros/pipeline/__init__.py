"""Per-frame processing shared by the node, bag processing and training."""
from vbp_ros.pipeline.preprocess import Preprocess

__all__ = ['Preprocess']
