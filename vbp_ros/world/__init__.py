"""Synthetic road world: procedural forward-camera road images with ground-truth labels.

Sign convention (fixed for the whole project): the steering target is the curvature
(inverse turning radius, 1/m) of the arc back to the lane centre 15 m ahead; positive = LEFT.

Example::

    import numpy as np
    from vbp_ros.world import render, sample_scene, network_view
    scene = sample_scene(np.random.default_rng(0))
    full = render(scene)                          # 1280x720 camera frame + labels
    size, region = network_view()                 # PilotNet's crop, rendered straight at 66x200
    small = render(scene, size=size, region=region)
"""
from vbp_ros.world.camera import DriveSequence, network_view
from vbp_ros.world.errors import WorldError
from vbp_ros.world.geometry import CameraGeometry, LOOKAHEAD_M, pure_pursuit_target, RoadShape
from vbp_ros.world.road import Frame, Labels, render
from vbp_ros.world.scene import Distractor, MarkingLine, RoadScene, sample_scene, Shadow
from vbp_ros.world.synthetic import render_batch, SyntheticWorld

__all__ = ['CameraGeometry', 'Distractor', 'DriveSequence', 'Frame', 'Labels', 'LOOKAHEAD_M',
           'MarkingLine', 'network_view', 'pure_pursuit_target', 'render', 'render_batch',
           'RoadScene', 'RoadShape', 'sample_scene', 'Shadow', 'SyntheticWorld', 'WorldError']
