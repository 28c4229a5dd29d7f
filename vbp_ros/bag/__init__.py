"""rosbag2 input and output: raw-CDR reader/writer, the node's recorder, offline processing.

:mod:`vbp_ros.bag.process` (bags through the model) and :mod:`vbp_ros.bag.review` (video and
HTML summary) import torch / PyAV and are not imported here.
"""
from vbp_ros.bag.errors import BagError
from vbp_ros.bag.io import BagReader, BagWriter, TopicInfo
from vbp_ros.bag.recorder import BagRecorder

__all__ = ['BagError', 'BagReader', 'BagRecorder', 'BagWriter', 'TopicInfo']
