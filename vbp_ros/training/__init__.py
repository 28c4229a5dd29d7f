"""Training a steering model with VisualBackProp snapshots, and measuring mask quality.

Modules are imported on demand: :mod:`~vbp_ros.training.train` (loop),
:mod:`~vbp_ros.training.dataset` (synthetic data), :mod:`~vbp_ros.training.bag_data` (rosbag2
data), :mod:`~vbp_ros.training.evaluate` (localisation, faithfulness, sanity check).
"""
from vbp_ros.training.errors import TrainingError

__all__ = ['TrainingError']
