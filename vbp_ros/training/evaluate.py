"""Mask quality on a held-out synthetic set: localisation, faithfulness, sanity check.

For VisualBackProp and the comparison methods of :data:`vbp_ros.core.methods.METHODS` (plus an
image-edge baseline that ignores the network):

* localisation: share of mask mass on lane markings + road edges against their share of the
  image area, and a pointing game (is the mask's maximum on a marking/edge pixel, with a small
  tolerance?) against its chance level;
* faithfulness, after the VisualBackProp paper's own check: blur the pixels a method ranks
  highest and measure how much the steering output changes, against blurring the same number of
  random or lowest-ranked pixels (deletion curves and their mean over the fractions);
* sanity check (Adebayo et al. 2018): masks of the trained model against the same model with
  randomised weights (all layers, or only the dense head): Spearman rank correlation and SSIM.
  High similarity means the mask does not depend on what those weights learned.
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vbp_ros.pipeline.preprocess import Preprocess
from vbp_ros.progress import progress_bar
from vbp_ros.training.dataset import to_tensor
from vbp_ros.world.synthetic import SyntheticWorld

LOG = logging.getLogger(__name__)
EDGE_BASELINE = 'image edges'
MaskFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class EvalConfig:
    """Settings of an evaluation.

    Attributes:
        frames: held-out synthetic frames.
        seed: world seed of the held-out set (training uses seed 0 by default).
        methods: attribution methods (names in METHODS); unknown ones are skipped with a warning.
        fractions: shares of pixels perturbed for the deletion curves.
        random_repeats: random rankings averaged for the random baseline.
        blur_sigma: Gaussian blur (network pixels) that replaces perturbed pixels.
        threshold: coverage above which a pixel counts as marking/edge.
        tolerance: pointing-game tolerance in network pixels.
        batch_size: frames per forward pass.
    """

    frames: int = 200
    seed: int = 1_000_003
    methods: tuple[str, ...] = ('vbp', 'gradient', 'gradcam', 'lrp')
    fractions: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3)
    random_repeats: int = 3
    blur_sigma: float = 4.0
    threshold: float = 0.25
    tolerance: int = 2
    batch_size: int = 50


@dataclass
class EvalResult:
    """Per-method numbers (see :func:`format_tables`) and the data behind the figure."""

    rows: dict[str, dict[str, float]]
    curves: dict[str, dict[str, list[float]]]
    fractions: list[float]
    area_share: float
    examples: dict[str, Any] = field(default_factory=dict)


def held_out_set(cfg: EvalConfig, preprocess: Preprocess) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray, np.ndarray]:
    """Images (N x H x W x 3), targets, relevant masks (markings/edges) and distractor masks."""
    world = SyntheticWorld(cfg.seed, preprocess=preprocess)
    imgs, tg, rel, dis = [], [], [], []
    for i in range(cfg.frames):
        fr = world.frame(i)
        imgs.append(fr.rgb)
        tg.append(fr.labels.target)
        rel.append(fr.labels.relevant(cfg.threshold))
        dis.append(fr.labels.distractors >= cfg.threshold)
    return np.stack(imgs), np.asarray(tg, np.float32), np.stack(rel), np.stack(dis)


def edge_masks(x: torch.Tensor) -> torch.Tensor:
    """Baseline without the network: Sobel gradient magnitude of the input, per image in [0,1]."""
    from vbp_ros.core.methods import normalise_per_image

    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    k = torch.stack([kx, kx.t()])[:, None].to(x)
    g = F.conv2d(F.pad(x.reshape(-1, 1, *x.shape[2:]), (1, 1, 1, 1), mode='replicate'), k)
    mag = g.pow(2).sum(1).sqrt().view(x.shape[0], x.shape[1], *x.shape[2:]).sum(1)
    return normalise_per_image(mag)


def method_fn(name: str, model: nn.Module) -> MaskFn:
    """``x -> mask`` for a registered method name or the edge baseline."""
    if name == EDGE_BASELINE:
        return edge_masks
    from vbp_ros.core.methods import METHODS

    method = METHODS[name](model)

    def fn(x: torch.Tensor) -> torch.Tensor:
        _, mask = method(x)
        return mask.detach()
    return fn


def compute_masks(fn: MaskFn, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Masks N x H x W of all inputs, in batches."""
    return torch.cat([fn(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)])


def localisation(masks: np.ndarray, rel: np.ndarray, dis: np.ndarray, tolerance: int
                 ) -> dict[str, float]:
    """Mask mass on markings/edges and distractors, and the pointing game."""
    m = masks.astype(np.float64)
    total = m.sum(axis=(1, 2)) + 1e-12
    kernel = np.ones((2 * tolerance + 1, 2 * tolerance + 1), np.uint8)
    hits, chance = [], []
    for k in range(m.shape[0]):
        near = cv2.dilate(rel[k].astype(np.uint8), kernel) > 0
        # Every pixel at the maximum counts, each for its share: Grad-CAM's masks of a 1×18
        # map are constant down each column, and argmax would always pick the top row.
        peak = m[k] >= m[k].max() - 1e-6 * max(abs(float(m[k].max())), 1e-12)
        hits.append(float(near[peak].mean()))
        chance.append(float(near.mean()))
    return {'mass_on_lanes': float(np.mean((m * rel).sum(axis=(1, 2)) / total)),
            'mass_on_distractors': float(np.mean((m * dis).sum(axis=(1, 2)) / total)),
            'pointing_hit': float(np.mean(hits)), 'pointing_chance': float(np.mean(chance))}


def blurred(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian-blurred copy of a batch of network inputs (per channel)."""
    out = np.empty(x.shape, np.float32)
    arr = x.detach().cpu().numpy()
    for k in range(arr.shape[0]):
        hwc = np.ascontiguousarray(arr[k].transpose(1, 2, 0))
        res = cv2.GaussianBlur(hwc, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        out[k] = res.reshape(hwc.shape).transpose(2, 0, 1)
    return torch.from_numpy(out)


def _outputs(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch_size])[:, 0]
                          for i in range(0, x.shape[0], batch_size)])


def deletion_curve(model: nn.Module, x: torch.Tensor, x_blur: torch.Tensor,
                   order: torch.Tensor, base: torch.Tensor, fractions: tuple[float, ...],
                   batch_size: int) -> list[float]:
    """Mean |output change| (1/m) after blurring the first ``fraction`` pixels of ``order``."""
    n, _, h, w = x.shape
    curve = []
    for frac in fractions:
        k = max(1, int(round(frac * h * w)))
        sel = torch.zeros(n, h * w, dtype=torch.bool)
        sel.scatter_(1, order[:, :k], True)
        sel = sel.view(n, 1, h, w)
        pert = torch.where(sel, x_blur, x)
        curve.append(float((_outputs(model, pert, batch_size) - base).abs().mean()))
    return curve


def ranking(masks: torch.Tensor, descending: bool, generator: torch.Generator) -> torch.Tensor:
    """Pixel order by mask value (ties broken randomly), N x HW indices."""
    flat = masks.flatten(1).double()
    jitter = torch.rand(flat.shape, generator=generator, dtype=torch.float64) * 1e-9
    return torch.argsort(flat + jitter, dim=1, descending=descending)


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image Spearman rank correlation of two N x H x W mask batches (tied pixels share
    their average rank; a constant mask correlates 0 with anything)."""
    def ranks(t: torch.Tensor) -> torch.Tensor:
        out = []
        for row in t.flatten(1).double().cpu().numpy():
            _, group, counts = np.unique(row, return_inverse=True, return_counts=True)
            ends = np.cumsum(counts)  # 1-based rank of the last pixel of each group of ties
            out.append((ends - (counts - 1) / 2.0)[group])  # the group's average rank
        return torch.from_numpy(np.stack(out))
    ra, rb = ranks(a), ranks(b)
    ra = ra - ra.mean(1, keepdim=True)
    rb = rb - rb.mean(1, keepdim=True)
    return ((ra * rb).sum(1) / (ra.norm(dim=1) * rb.norm(dim=1) + 1e-12)).float()


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM of two N x H x W masks in [0, 1] (Gaussian window, sigma 1.5)."""
    g = torch.exp(-(torch.arange(11, dtype=torch.float32) - 5) ** 2 / (2 * 1.5 ** 2))
    g = (g / g.sum())
    win = (g[:, None] * g[None, :])[None, None]
    x, y = a[:, None].float(), b[:, None].float()

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(t, (5, 5, 5, 5), mode='reflect'), win)
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1)


def randomised(model: nn.Module, head_only: bool, seed: int = 0) -> nn.Module:
    """A copy with re-initialised weights: all layers, or only the layers after the last conv."""
    out = copy.deepcopy(model)
    mods = list(out.modules())
    convs = [i for i, m in enumerate(mods) if isinstance(m, nn.Conv2d)]
    start = convs[-1] + 1 if head_only and convs else 0
    with torch.random.fork_rng(devices=[]):  # the caller's random numbers stay as they were
        torch.manual_seed(seed)
        for m in mods[start:]:
            if hasattr(m, 'reset_parameters') and m is not out:
                m.reset_parameters()
    return out.eval()


def evaluate(model: nn.Module, preprocess: Preprocess | None = None,
             cfg: EvalConfig | None = None, progress: bool = False) -> EvalResult:
    """Run all three measurements for every available method; see the module docstring.
    The model is left in the mode it came in."""
    cfg = cfg or EvalConfig()
    pre = preprocess or Preprocess()
    modes = [(m, m.training) for m in model.modules()]
    try:
        return _evaluate(model.eval(), pre, cfg, progress)
    finally:
        for m, training in modes:
            m.training = training


def _evaluate(model: nn.Module, pre: Preprocess, cfg: EvalConfig, progress: bool
              ) -> EvalResult:
    from vbp_ros.core.methods import METHODS

    images, targets, rel, dis = held_out_set(cfg, pre)
    x = to_tensor(images, pre)
    x_blur = blurred(x, cfg.blur_sigma)
    base = _outputs(model, x, cfg.batch_size)
    gen = torch.Generator().manual_seed(cfg.seed)
    rand = [deletion_curve(model, x, x_blur, torch.stack([torch.randperm(x[0, 0].numel(),
                                                                        generator=gen)
                                                          for _ in range(x.shape[0])]),
                           base, cfg.fractions, cfg.batch_size)
            for _ in range(cfg.random_repeats)]
    random_curve = np.mean(rand, axis=0).tolist()
    names = [m for m in cfg.methods if m in METHODS]
    for m in cfg.methods:
        if m not in METHODS:
            LOG.warning('method %r is not available (installed: %s); skipped', m,
                        ', '.join(METHODS))
    names.append(EDGE_BASELINE)
    model_all = randomised(model, head_only=False)
    model_head = randomised(model, head_only=True)
    rows: dict[str, dict[str, float]] = {}
    curves: dict[str, dict[str, list[float]]] = {'random': {'curve': random_curve}}
    examples: dict[str, Any] = {'image': images[:3], 'relevant': rel[:3]}
    bar = progress_bar(len(names), 'method', 'methods', enabled=progress)
    for name in names:
        masks = compute_masks(method_fn(name, model), x, cfg.batch_size)
        row = localisation(masks.numpy(), rel, dis, cfg.tolerance)
        top = deletion_curve(model, x, x_blur, ranking(masks, True, gen), base, cfg.fractions,
                             cfg.batch_size)
        low = deletion_curve(model, x, x_blur, ranking(masks, False, gen), base, cfg.fractions,
                             cfg.batch_size)
        row.update({'deletion_top': float(np.mean(top)), 'deletion_random':
                    float(np.mean(random_curve)), 'deletion_low': float(np.mean(low))})
        row['deletion_ratio'] = row['deletion_top'] / max(row['deletion_random'], 1e-12)
        examples[name] = masks[:3].numpy()
        if name != EDGE_BASELINE:
            m_all = compute_masks(method_fn(name, model_all), x, cfg.batch_size)
            m_head = compute_masks(method_fn(name, model_head), x, cfg.batch_size)
            row.update({'spearman_random_all': float(spearman(masks, m_all).mean()),
                        'ssim_random_all': float(ssim(masks, m_all).mean()),
                        'spearman_random_head': float(spearman(masks, m_head).mean()),
                        'ssim_random_head': float(ssim(masks, m_head).mean())})
            examples[name + ' (random weights)'] = m_all[:3].numpy()
        rows[name] = row
        curves[name] = {'top': top, 'low': low}
        bar.update(1)
    bar.close()
    area = float(rel.mean())
    for row in rows.values():
        row['area_share'] = area
        row['mass_ratio'] = row['mass_on_lanes'] / max(area, 1e-12)
        row['distractor_area'] = float(dis.mean())
    rmse = float(np.sqrt(np.mean((base.numpy() - targets) ** 2)))
    examples['model_rmse'] = rmse
    return EvalResult(rows, curves, list(cfg.fractions), area, examples)


def format_tables(res: EvalResult) -> str:
    """The three result tables as plain text (also valid Markdown)."""
    def table(head: list[str], body: list[list[str]]) -> str:
        widths = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(head)]
        line = '| ' + ' | '.join(h.ljust(w) for h, w in zip(head, widths)) + ' |'
        sep = '|' + '|'.join('-' * (w + 2) for w in widths) + '|'
        rows = ['| ' + ' | '.join(c.ljust(w) for c, w in zip(r, widths)) + ' |' for r in body]
        return '\n'.join([line, sep, *rows])

    loc = table(['method', 'mass on markings+edges', 'area share', 'ratio', 'pointing hit',
                 'pointing chance', 'mass on distractors', 'distractor area'],
                [[n, f'{r["mass_on_lanes"]:.3f}', f'{r["area_share"]:.3f}',
                  f'{r["mass_ratio"]:.2f}x', f'{r["pointing_hit"]:.3f}',
                  f'{r["pointing_chance"]:.3f}', f'{r["mass_on_distractors"]:.3f}',
                  f'{r["distractor_area"]:.3f}'] for n, r in res.rows.items()])
    fai = table(['method', 'top-ranked (1/km)', 'random (1/km)', 'lowest-ranked (1/km)',
                 'top / random'],
                [[n, f'{1000 * r["deletion_top"]:.2f}', f'{1000 * r["deletion_random"]:.2f}',
                  f'{1000 * r["deletion_low"]:.2f}', f'{r["deletion_ratio"]:.2f}x']
                 for n, r in res.rows.items()])
    san = table(['method', 'Spearman (all layers random)', 'SSIM (all)',
                 'Spearman (dense head random)', 'SSIM (head)'],
                [[n, f'{r["spearman_random_all"]:.3f}', f'{r["ssim_random_all"]:.3f}',
                  f'{r["spearman_random_head"]:.3f}', f'{r["ssim_random_head"]:.3f}']
                 for n, r in res.rows.items() if 'spearman_random_all' in r])
    fr = ', '.join(f'{f:g}' for f in res.fractions)
    return (f'Localisation (markings+edges = {100 * res.area_share:.1f}% of the pixels)\n{loc}\n\n'
            f'Faithfulness: mean |steering change| after blurring a share of pixels ({fr})\n'
            f'{fai}\n\nSanity check: similarity of masks, trained vs randomised weights '
            f'(1 = identical)\n{san}\n')


def save_figure(res: EvalResult, path: str | Path) -> Path:
    """Deletion curves, localisation bars and example masks in one PNG."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    names = list(res.rows)
    ex_names = [n for n in names if n in res.examples]
    ncols = max(3, len(ex_names) + 1)
    fig = plt.figure(figsize=(3.2 * ncols, 8.0))
    gs = fig.add_gridspec(4, ncols, height_ratios=[2.2, 0.55, 0.55, 0.55])
    ax = fig.add_subplot(gs[0, : ncols // 2])
    fr = [0.0] + res.fractions
    colours = plt.rcParams['axes.prop_cycle'].by_key()['color']
    for i, n in enumerate(names):
        c = colours[i % len(colours)]
        ax.plot(fr, [0.0] + [1000 * v for v in res.curves[n]['top']], '-o', color=c, ms=3,
                label=f'{n}: top-ranked')
        ax.plot(fr, [0.0] + [1000 * v for v in res.curves[n]['low']], ':', color=c)
    ax.plot(fr, [0.0] + [1000 * v for v in res.curves['random']['curve']], '--', color='k',
            label='random pixels')
    ax.set_xlabel('share of pixels blurred')
    ax.set_ylabel('mean |steering change| (1/km)')
    ax.set_title('Deletion (solid: top-ranked, dotted: lowest-ranked)')
    ax.legend(fontsize=7)
    ax2 = fig.add_subplot(gs[0, ncols // 2:])
    pos = np.arange(len(names))
    ax2.bar(pos - 0.2, [res.rows[n]['mass_on_lanes'] for n in names], 0.4,
            label='mask mass on markings+edges')
    ax2.bar(pos + 0.2, [res.rows[n]['pointing_hit'] for n in names], 0.4, label='pointing hit')
    ax2.axhline(res.area_share, color='k', ls='--', label='area share of markings+edges')
    ax2.set_xticks(pos)
    ax2.set_xticklabels(names, rotation=20, fontsize=8)
    ax2.set_ylim(0, 1)
    ax2.legend(fontsize=7)
    ax2.set_title('Localisation')
    second = min(1, len(res.examples['image']) - 1)  # a one-frame evaluation has one example
    panels = [(0, ''), (second, ''), (0, ' (random weights)')]
    for row, (k, suffix) in enumerate(panels):
        a = fig.add_subplot(gs[1 + row, 0])
        a.imshow(res.examples['image'][k])
        a.contour(res.examples['relevant'][k], levels=[0.5], colors='r', linewidths=0.5)
        a.set_title('input (red: markings+edges)' if not suffix else 'same input', fontsize=8)
        a.axis('off')
        for j, n in enumerate(ex_names[: ncols - 1]):
            key = n + suffix
            if key not in res.examples:
                continue
            a = fig.add_subplot(gs[1 + row, j + 1])
            a.imshow(res.examples[key][k], cmap='jet', vmin=0, vmax=1)
            a.set_title(key, fontsize=8)
            a.axis('off')
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = ['EvalConfig', 'EvalResult', 'evaluate', 'format_tables', 'save_figure']
