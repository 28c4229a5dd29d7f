"""Random-access synthetic data: frame ``i`` of a world is a pure function of (seed, i)."""
from __future__ import annotations

import numpy as np

from vbp_ros.world.camera import network_view
from vbp_ros.world.geometry import CameraGeometry
from vbp_ros.world.road import Frame, render
from vbp_ros.world.scene import sample_scene


class SyntheticWorld:
    """Independent random scenes, rendered at the network crop (default) or full frame.

    Args:
        seed: world seed; frame ``i`` uses the random stream ``(seed, i)``.
        camera: camera geometry (default 1280x720).
        preprocess: a :class:`~vbp_ros.pipeline.preprocess.Preprocess` whose crop and size
            are rendered directly; ``None`` uses the default one.
        full_frame: render whole camera frames instead of the network crop.
        max_curvature: sharpest road curvature drawn (1/m).
    """

    def __init__(self, seed: int = 0, camera: CameraGeometry | None = None,
                 preprocess: object | None = None, full_frame: bool = False,
                 max_curvature: float = 0.02) -> None:
        self.seed = int(seed)
        self.camera = camera or CameraGeometry()
        if full_frame:
            self.size, self.region = (self.camera.height, self.camera.width), None
        else:
            self.size, self.region = network_view(self.camera, preprocess)
        self.max_curvature = float(max_curvature)

    def scene(self, i: int, **fixed: float):
        """The scene of frame ``i``; keyword arguments fix curvature, offset or heading."""
        rng = np.random.default_rng([self.seed, int(i)])
        return sample_scene(rng, max_curvature=self.max_curvature, **fixed)

    def frame(self, i: int, **fixed: float) -> Frame:
        """Render frame ``i`` (see :meth:`scene`)."""
        return render(self.scene(i, **fixed), self.camera, self.size, self.region)


def render_batch(world: SyntheticWorld, start: int, count: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``start .. start+count-1`` as an Nx H x W x 3 uint8 array and N float32 targets."""
    h, w = world.size
    images = np.empty((count, h, w, 3), np.uint8)
    targets = np.empty(count, np.float32)
    for k in range(count):
        fr = world.frame(start + k)
        images[k] = fr.rgb
        targets[k] = fr.labels.target
    return images, targets
