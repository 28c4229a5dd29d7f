"""Sequence mode: a continuous, deterministic drive with smoothly changing labels."""
from __future__ import annotations

import numpy as np
import pytest

from vbp_ros.world import DriveSequence, network_view, WorldError


def _small_seq(seed: int = 2, **kw) -> DriveSequence:
    size, region = network_view()
    return DriveSequence(seed=seed, size=size, region=region, **kw)


def test_iteration_yields_frames_labels_and_times():
    it = iter(_small_seq(fps=10.0))
    rgb, labels, t = next(it)
    rgb2, _, t2 = next(it)
    assert rgb.shape == (66, 200, 3) and rgb.dtype == np.uint8
    assert t == 0.0 and t2 == pytest.approx(0.1)
    assert labels.markings.shape == (66, 200)


def test_same_seed_same_drive_random_access():
    a, b = _small_seq(5), _small_seq(5)
    first = [fr for fr, _, _ in a.frames(5, start=2.0)]
    assert np.array_equal(first[3], b.frame_at(2.0 + 3 / a.fps).rgb)


def test_drive_is_continuous():
    """Consecutive frames look alike and the target changes smoothly."""
    seq = _small_seq(3, fps=30.0)
    frames = list(seq.frames(90))
    targets = np.array([lab.target for _, lab, _ in frames])
    assert np.abs(np.diff(targets)).max() < 0.002
    diff = np.mean([np.abs(frames[k][0].astype(float) - frames[k + 1][0]).mean()
                    for k in range(0, 89, 10)])
    far = np.mean([np.abs(frames[0][0].astype(float) - frames[k][0]).mean()
                   for k in range(60, 90, 10)])
    assert diff < far


def test_curvature_varies_along_a_long_drive():
    seq = _small_seq(4, fps=1.0)
    curv = np.array([seq.scene_at(t).curvature for t in range(0, 200, 4)])
    assert curv.max() > 0.002 and curv.min() < -0.002


def test_full_frame_and_reduced_render_scale():
    seq = DriveSequence(seed=1, size=(90, 160), render_scale=0.5)
    fr = seq.frame_at(1.0)
    assert fr.rgb.shape == (90, 160, 3) and fr.labels.road.shape == (90, 160)
    quick = DriveSequence(seed=1, size=(90, 160), render_scale=0.5, full_labels=False)
    fr2 = quick.frame_at(1.0)
    assert np.array_equal(fr2.rgb, fr.rgb) and fr2.labels.road.shape == (45, 80)


def test_bad_arguments():
    with pytest.raises(WorldError):
        DriveSequence(fps=0)
    with pytest.raises(WorldError):
        DriveSequence(render_scale=2.0)
