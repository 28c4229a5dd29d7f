"""Synthetic road world: determinism, labels, sign convention, resolution consistency."""
from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from vbp_ros.pipeline.preprocess import Preprocess
from vbp_ros.world import (CameraGeometry, network_view, pure_pursuit_target, render,
                           RoadShape, sample_scene, SyntheticWorld, WorldError)


def _small(scene):
    size, region = network_view()
    return render(scene, size=size, region=region)


def test_same_seed_same_frame_and_labels():
    a, b = SyntheticWorld(seed=7).frame(3), SyntheticWorld(seed=7).frame(3)
    assert np.array_equal(a.rgb, b.rgb)
    assert a.labels.target == b.labels.target
    for name in ('markings', 'edges', 'distractors', 'road'):
        assert np.array_equal(getattr(a.labels, name), getattr(b.labels, name))


def test_different_seeds_or_indices_differ():
    w = SyntheticWorld(seed=7)
    assert not np.array_equal(w.frame(0).rgb, w.frame(1).rgb)
    assert not np.array_equal(w.frame(0).rgb, SyntheticWorld(seed=8).frame(0).rgb)


def test_shapes_types_and_label_ranges():
    fr = SyntheticWorld(seed=1).frame(0)
    assert fr.rgb.shape == (66, 200, 3) and fr.rgb.dtype == np.uint8
    for name in ('markings', 'edges', 'distractors', 'road'):
        m = getattr(fr.labels, name)
        assert m.shape == (66, 200) and m.dtype == np.float32
        assert m.min() >= 0.0 and m.max() <= 1.0
    full = render(sample_scene(np.random.default_rng(0)), CameraGeometry(width=320, height=180))
    assert full.rgb.shape == (180, 320, 3)


@pytest.mark.parametrize('kappa', [0.01, -0.01, 0.004, -0.004])
def test_target_sign_follows_curvature(kappa):
    """Positive curvature = LEFT turn = positive target, for a centred, aligned car."""
    scene = sample_scene(np.random.default_rng(5), curvature=kappa, offset=0.0, heading=0.0)
    assert np.sign(scene.target) == np.sign(kappa)
    assert scene.target == pytest.approx(kappa, abs=0.003)


def test_left_curve_bends_the_road_to_the_left_of_the_image():
    """Where the road goes far ahead is left of where it starts, for a left curve."""
    centres = {}
    for kappa in (0.015, -0.015):
        scene = replace(sample_scene(np.random.default_rng(11), curvature=kappa, offset=0.0,
                                     heading=0.0), distractors=())
        road = _small(scene).labels.road
        cols = np.arange(road.shape[1])
        far = road[12:20].sum(0)
        near = road[-10:].sum(0)
        centres[kappa] = (far @ cols / far.sum()) - (near @ cols / near.sum())
    assert centres[0.015] < -10 and centres[-0.015] > 10


def test_offset_and_heading_corrections():
    """Car left of its lane or pointing left -> the target steers right (more negative)."""
    base = sample_scene(np.random.default_rng(2), curvature=0.0, offset=0.0, heading=0.0)
    left = sample_scene(np.random.default_rng(2), curvature=0.0, offset=0.5, heading=0.0)
    turned = sample_scene(np.random.default_rng(2), curvature=0.0, offset=0.0, heading=0.03)
    assert abs(base.target) < 2e-4
    assert left.target < -1e-3 and turned.target < -1e-3


def test_markings_are_bright_and_on_the_road():
    for i in range(5):
        scene = replace(SyntheticWorld(seed=3).scene(i), noise_sigma=0.0, shadows=())
        fr = _small(scene)
        lab = fr.labels
        mark = (lab.markings > 0.9) & (lab.distractors < 0.01)
        asphalt = (lab.road > 0.99) & (lab.markings < 0.01) & (lab.distractors < 0.01)
        if mark.sum() < 5:
            continue
        grey = fr.rgb.astype(np.float32).mean(2)
        assert grey[mark].mean() > grey[asphalt].mean() + 20
        # every marking pixel lies on the asphalt
        assert np.all(lab.road[mark] > 0.5)


def test_distractors_stand_off_the_road():
    """Object bottoms are on the verge: the object mask touches little asphalt of its row."""
    seen = 0
    w = SyntheticWorld(seed=4)
    for i in range(40):
        scene = w.scene(i)
        if not scene.distractors:
            continue
        right, left = scene.edges
        for obj in scene.distractors:
            assert obj.r - obj.width / 2 > left - 1e-6 or obj.r + obj.width / 2 < right + 1e-6
        lab = _small(scene).labels
        seen += int(lab.distractors.max() > 0.5)
    assert seen >= 5


def test_direct_crop_render_matches_preprocess_of_full_frame():
    """Rendering the crop at 66x200 == Preprocess.to_network_rgb(full 1280x720 render)."""
    pre = Preprocess()
    rng = np.random.default_rng(21)
    diffs = []
    for _ in range(4):
        scene = replace(sample_scene(rng), noise_sigma=0.0)
        full = render(scene)
        assert full.rgb.shape == (720, 1280, 3)
        net = pre.to_network_rgb(full.rgb).astype(np.float32)
        small = _small(scene).rgb.astype(np.float32)
        diffs.append(np.abs(net - small).mean())
        # labels agree too: the crop of the full-res road mask shrinks to the small one
        y0, y1, x0, x1 = pre.crop_box(720, 1280)
        road_full = cv2.resize(full.labels.road[y0:y1, x0:x1], (200, 66),
                               interpolation=cv2.INTER_AREA)
        assert np.abs(road_full - _small(scene).labels.road).mean() < 0.03
    assert max(diffs) < 4.0, diffs


def test_horizon_sits_near_the_top_of_the_default_crop():
    cam = CameraGeometry()
    top = Preprocess().crop[0]
    assert top < cam.horizon < top + 0.08


def test_pure_pursuit_target_of_a_circle():
    road = RoadShape.polynomial(0.0, 0.0, 0.01)
    assert pure_pursuit_target(road, 0.0) == pytest.approx(0.01, rel=1e-3)


def test_bad_settings_raise():
    with pytest.raises(WorldError):
        CameraGeometry(hfov_deg=5.0)
    with pytest.raises(WorldError):
        render(sample_scene(np.random.default_rng(0)), region=(10, 5, 0, 100))
    with pytest.raises(WorldError):
        RoadShape(np.array([0.0, 0.0]), np.zeros(2), np.zeros(2))
