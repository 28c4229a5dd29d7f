"""The bundled PilotNet: loads by default and steers on synthetic frames it has never seen."""
from __future__ import annotations

import numpy as np
import torch

from vbp_ros import load_model
from vbp_ros.core.model_file import BUNDLED_MODEL
from vbp_ros.world import CameraGeometry, DriveSequence, network_view, render, SyntheticWorld

FRESH_SEED = 424242  # neither the training (0) nor the evaluation (1000003) world


def _predict(model, spec, small_rgbs):
    x = torch.from_numpy(np.stack([spec.preprocess.normalise(im) for im in small_rgbs]))
    with torch.no_grad():
        return model(x)[:, 0].numpy()


def test_bundled_model_is_small_and_documented():
    assert BUNDLED_MODEL.is_file() and BUNDLED_MODEL.stat().st_size < 2_000_000
    _, spec = load_model(None)
    assert spec.arch == 'pilotnet'
    for key in ('val_rmse', 'val_sign_acc', 'seed', 'data', 'command'):
        assert key in spec.info
    assert spec.info['command'].startswith('vbp-ros train')


def test_predicts_the_sign_of_curvature_on_fresh_frames():
    model, spec = load_model(None)
    world = SyntheticWorld(FRESH_SEED, preprocess=spec.preprocess)
    frames = [world.frame(i) for i in range(120)]
    targets = np.array([f.labels.target for f in frames])
    pred = _predict(model, spec, [f.rgb for f in frames])
    clear = np.abs(targets) > 0.003
    assert clear.sum() > 50
    accuracy = np.mean(np.sign(pred[clear]) == np.sign(targets[clear]))
    assert accuracy > 0.85, accuracy
    assert np.corrcoef(pred, targets)[0, 1] > 0.8


def test_full_camera_frames_through_preprocess():
    """The node's path: 1280x720 frame -> Preprocess -> model, same geometry as training."""
    model, spec = load_model(None)
    world = SyntheticWorld(FRESH_SEED + 1)
    rng_targets, preds = [], []
    for i in range(16):
        scene = world.scene(i, curvature=(0.012 if i % 2 else -0.012), offset=0.0, heading=0.0)
        full = render(scene, CameraGeometry())
        x = torch.from_numpy(spec.preprocess(full.rgb))[None]
        with torch.no_grad():
            preds.append(float(model(x)[0, 0]))
        rng_targets.append(scene.target)
    agree = np.mean(np.sign(preds) == np.sign(rng_targets))
    assert agree >= 14 / 16, (preds, rng_targets)


def test_follows_the_curvature_along_a_drive():
    model, spec = load_model(None)
    size, region = network_view(preprocess=spec.preprocess)
    seq = DriveSequence(seed=FRESH_SEED, fps=1.0, size=size, region=region)
    frames = list(seq.frames(60))
    pred = _predict(model, spec, [f for f, _, _ in frames])
    targets = np.array([lab.target for _, lab, _ in frames])
    assert np.corrcoef(pred, targets)[0, 1] > 0.7
