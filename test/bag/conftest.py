"""Fixtures of the bag tests: a freshly initialised PilotNet, its pipeline, camera bags."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from bag_testutil import camera_frames, camera_message, stamp_of
from vbp_ros import ModelSpec, PilotNet, save_model
from vbp_ros.bag.io import BagWriter


@pytest.fixture(scope='session')
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Save an untrained, seeded PilotNet as a model file."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('model') / 'pilotnet.safetensors'
    save_model(PilotNet(), path, ModelSpec(info={'note': 'test model'}))
    return path


@pytest.fixture(scope='session')
def pipeline(model_path: Path) -> object:
    """Build a CPU FramePipeline of :func:`model_path`."""
    from vbp_ros.pipeline.frame import FramePipeline

    return FramePipeline(model_path=model_path, device='cpu')


@pytest.fixture
def make_camera_bag(tmp_path: Path) -> Callable[..., tuple[Path, list[np.ndarray]]]:
    """Return a factory that writes a camera bag and returns (path, the RGB frames)."""
    def make(n: int = 7, kind: str = 'bgr8', storage: str = 'mcap', topic: str = '/cam/image',
             name: str = 'in', extra: dict[str, tuple[str, bytes]] | None = None,
             width: int = 160, height: int = 90) -> tuple[Path, list[np.ndarray]]:
        frames = camera_frames(n, width, height)
        path = tmp_path / name
        with BagWriter(path, storage=storage) as w:
            for i, rgb in enumerate(frames):
                ros_type, cdr = camera_message(rgb, i, kind)
                w.write(topic, ros_type, cdr, stamp_of(i))
                for etopic, (etype, ecdr) in (extra or {}).items():
                    w.write(etopic, etype, ecdr, stamp_of(i) + 1)
        return path, frames
    return make
