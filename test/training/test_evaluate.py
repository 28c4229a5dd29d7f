"""Evaluation metrics on constructed masks, and a small end-to-end run on the bundled model."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vbp_ros import PilotNet
from vbp_ros.training.evaluate import (deletion_curve, edge_masks, EvalConfig, evaluate,
                                       format_tables, localisation, randomised, ranking,
                                       save_figure, spearman, ssim)


def _labels(n: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rel = np.zeros((n, 66, 200), bool)
    rel[:, 40:60, 50:60] = True
    dis = np.zeros_like(rel)
    dis[:, 10:20, 150:170] = True
    return rel, dis


def test_localisation_of_perfect_uniform_and_wrong_masks():
    rel, dis = _labels()
    perfect = localisation(rel.astype(np.float32), rel, dis, tolerance=0)
    assert perfect['mass_on_lanes'] == pytest.approx(1.0)
    assert perfect['pointing_hit'] == 1.0
    uniform = localisation(np.ones(rel.shape, np.float32), rel, dis, tolerance=0)
    assert uniform['mass_on_lanes'] == pytest.approx(rel.mean())
    wrong = localisation(dis.astype(np.float32), rel, dis, tolerance=2)
    assert wrong['mass_on_lanes'] == 0.0 and wrong['pointing_hit'] == 0.0
    assert wrong['mass_on_distractors'] == pytest.approx(1.0)


def test_similarity_measures():
    a = torch.rand(3, 66, 200, generator=torch.Generator().manual_seed(0))
    b = torch.rand(3, 66, 200, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(spearman(a, a), torch.ones(3), atol=1e-6)
    assert torch.allclose(spearman(a, 2 * a + 1), torch.ones(3), atol=1e-6)
    assert spearman(a, b).abs().max() < 0.05
    # Ties (a ReLU'd mask is half zeros) share their average rank: independent half-zero
    # masks do not correlate, and two constant masks have nothing to agree on.
    za, zb = (a - 0.5).clamp_min(0), (b - 0.5).clamp_min(0)
    assert spearman(za, zb).abs().max() < 0.02
    assert torch.allclose(spearman(torch.zeros(2, 4, 4), torch.zeros(2, 4, 4)), torch.zeros(2))
    assert torch.allclose(ssim(a, a), torch.ones(3), atol=1e-4)
    assert ssim(a, b).max() < 0.2


def test_randomisation_of_all_layers_or_the_head():
    model = PilotNet().eval()
    head = randomised(model, head_only=True)
    full = randomised(model, head_only=False)
    convs = [n for n, _ in model.named_parameters()
             if n.startswith(('0.', '2.', '4.', '6.', '8.'))]
    params, p_head, p_full = (dict(m.named_parameters()) for m in (model, head, full))
    for name in params:
        same_head = torch.equal(params[name], p_head[name])
        assert same_head == (name in convs)
        assert not torch.equal(params[name], p_full[name])


def test_deletion_curve_grows_with_the_share_blurred():
    torch.manual_seed(0)
    model = PilotNet().eval()
    x = torch.randn(4, 3, 66, 200)
    with torch.no_grad():
        base = model(x)[:, 0]
    order = ranking(torch.rand(4, 66, 200), True, torch.Generator().manual_seed(0))
    curve = deletion_curve(model, x, torch.zeros_like(x), order, base, (0.01, 0.3, 1.0), 4)
    assert curve[0] < curve[2]
    with torch.no_grad():
        assert curve[2] == pytest.approx(float((model(torch.zeros_like(x))[:, 0] - base)
                                               .abs().mean()), rel=1e-5)


def test_edge_baseline_finds_the_markings():
    """Sanity of the labels: image edges lie on markings/edges far above their area share."""
    from vbp_ros.pipeline.preprocess import Preprocess
    from vbp_ros.training.dataset import to_tensor
    from vbp_ros.training.evaluate import held_out_set

    cfg = EvalConfig(frames=12)
    images, _, rel, dis = held_out_set(cfg, Preprocess())
    masks = edge_masks(to_tensor(images, Preprocess())).numpy()
    loc = localisation(masks, rel, dis, 2)
    assert loc['mass_on_lanes'] > 2.0 * rel.mean()


def test_end_to_end_on_the_bundled_model(tmp_path: Path):
    from vbp_ros import load_model

    model, spec = load_model(None)
    cfg = EvalConfig(frames=24, methods=('vbp', 'gradient', 'no-such-method'),
                     fractions=(0.02, 0.1), random_repeats=1)
    res = evaluate(model, spec.preprocess, cfg)
    assert set(res.rows) == {'vbp', 'gradient', 'image edges'}
    vbp = res.rows['vbp']
    # VisualBackProp of the trained model concentrates on markings and road edges ...
    assert vbp['mass_ratio'] > 1.5
    # ... and blurring what it ranks highest moves the steering more than random pixels
    assert vbp['deletion_top'] > vbp['deletion_random'] > 0
    text = format_tables(res)
    assert 'vbp' in text and 'Spearman' in text
    fig = save_figure(res, tmp_path / 'eval.png')
    assert fig.is_file() and fig.stat().st_size > 10_000


def test_pointing_counts_every_tied_maximum():
    # A mask constant down each column (Grad-CAM of a 1×18 map): argmax would take row 0.
    rel, dis = _labels(1)
    column = np.zeros((1, 66, 200), np.float32)
    column[:, :, 50:60] = 1.0            # 66 rows tie; rows 40..59 are relevant
    got = localisation(column, rel, dis, tolerance=0)
    assert got['pointing_hit'] == pytest.approx(20 / 66)


def test_evaluate_leaves_the_model_and_random_numbers_alone():
    net = PilotNet().train()
    torch.manual_seed(123)
    want = torch.rand(3)
    torch.manual_seed(123)
    evaluate(net, cfg=EvalConfig(frames=2, methods=('vbp',)))
    assert net.training
    assert torch.equal(torch.rand(3), want)


def test_evaluate_restores_every_module_s_mode():
    net = PilotNet().train()
    net[11].eval()  # its dropout
    evaluate(net, cfg=EvalConfig(frames=2, methods=('vbp',)))
    assert net.training and not net[11].training
