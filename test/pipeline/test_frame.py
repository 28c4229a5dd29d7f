"""FramePipeline: model file -> steering + frame-sized masks; batch = singles; steering maths."""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from vbp_ros import load_model, ModelError, ModelSpec, PilotNet, save_model, VisualBackProp
from vbp_ros.pipeline import FramePipeline, Preprocess, SteeringConversion


@pytest.fixture
def model_path(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / 'm.safetensors'
    save_model(PilotNet(), path, ModelSpec(info={'note': 'random'}))
    return path


def test_process_matches_model_and_vbp(model_path: Path, road_image: np.ndarray) -> None:
    pipe = FramePipeline(model_path, device='cpu')
    res = pipe.process(road_image)
    model, spec = load_model(model_path)
    x = torch.from_numpy(spec.preprocess(road_image))[None]
    with torch.no_grad():
        out, mask = VisualBackProp(model)(x)
    assert res.curvature == pytest.approx(float(out), abs=1e-5)
    assert res.steering_angle == pytest.approx(math.atan(2.7 * float(out)), abs=1e-6)
    assert res.mask.shape == road_image.shape[:2] and res.mask.dtype == np.uint8
    y0, y1, x0, x1 = spec.preprocess.crop_box(*road_image.shape[:2])
    assert (res.mask[:y0] == 0).all()
    back = torch.from_numpy(res.mask[y0:y1, x0:x1]).float()[None, None] / 255
    down = torch.nn.functional.interpolate(back, size=(66, 200), mode='area')[0, 0]
    assert (down - mask[0]).abs().mean() < 0.03
    assert set(res.timings) == {'preprocess', 'forward_vbp', 'postprocess'}


def test_mask_off_skips_vbp(model_path: Path, road_image: np.ndarray) -> None:
    pipe = FramePipeline(model_path, device='cpu')
    calls = []
    pipe.vbp = type('Spy', (), {'__call__': lambda s, x: calls.append(1),
                                'explain': lambda s, x, **kw: calls.append(1)})()
    res = pipe.process(road_image, mask=False)
    assert res.mask is None and not calls


def test_steering_is_handed_over_before_the_mask(model_path: Path,
                                                 road_image: np.ndarray) -> None:
    pipe = FramePipeline(model_path, device='cpu')
    events: list = []
    combine = pipe.vbp._combine  # where the mask is computed from the feature maps
    pipe.vbp._combine = lambda *a: (events.append('mask'), combine(*a))[1]

    def on_steering(curvature: float, angle: float) -> None:
        events.append(('steering', curvature, angle))
        time.sleep(0.2)  # a slow consumer

    res = pipe.process(road_image, on_steering=on_steering)
    assert events == [('steering', res.curvature, res.steering_angle), 'mask']
    assert res.timings['forward_vbp'] < 0.2  # the consumer's time is not the pipeline's
    events.clear()
    res = pipe.process(road_image, mask=False, on_steering=on_steering)
    assert events == [('steering', res.curvature, res.steering_angle)]


def test_batch_equals_singles(model_path: Path, rng: np.random.Generator) -> None:
    pipe = FramePipeline(model_path, device='cpu')
    frames = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(4)]
    batch = pipe.process_batch(frames)
    for f, b in zip(frames, batch):
        s = pipe.process(f)
        assert s.curvature == pytest.approx(b.curvature, abs=1e-5)
        assert np.abs(s.mask.astype(int) - b.mask).max() <= 1


def test_compiled_pipeline_matches_eager(model_path: Path, road_image: np.ndarray,
                                         inductor: None) -> None:
    pipe = FramePipeline(model_path, device='cpu', compile=True)
    plans = list(pipe.vbp._plans.values())
    assert pipe.vbp.compile and len(plans) == 1 and plans[0].compiled is not None  # at warm-up
    eager = FramePipeline(model_path, device='cpu')
    for frame in (road_image, road_image[::-1].copy()):
        got, want = pipe.process(frame), eager.process(frame)
        assert got.curvature == pytest.approx(want.curvature, abs=1e-5)
        assert np.abs(got.mask.astype(int) - want.mask).max() <= 1
    assert pipe.process(road_image, mask=False).mask is None


def test_failed_compile_falls_back_to_eager(model_path: Path, road_image: np.ndarray,
                                           inductor: None, caplog: pytest.LogCaptureFixture
                                           ) -> None:
    import torch._dynamo
    import torch._inductor.config
    from torch._inductor.utils import fresh_cache
    torch._dynamo.reset()  # no code compiled by earlier tests may be reused, nor their builds
    broken = {'cpp.cxx': ('/nonexistent/c++',), 'compile_threads': 1}
    with fresh_cache(), torch._inductor.config.patch(broken), caplog.at_level('WARNING'):
        pipe = FramePipeline(model_path, device='cpu', compile=True)
    assert not pipe.vbp.compile
    assert 'torch.compile failed, running eagerly' in caplog.text and 'c++' in caplog.text
    eager = FramePipeline(model_path, device='cpu')
    assert pipe.process(road_image).curvature == eager.process(road_image).curvature


def test_masks_to_uint8(rng: np.random.Generator) -> None:
    from vbp_ros.pipeline.frame import _to_uint8
    masks = torch.from_numpy(rng.random((3, 7, 11), dtype=np.float32))
    masks[0, 0, :3] = torch.tensor([0.0, 1.0, 0.4 / 255])
    for m in (masks, masks.transpose(1, 2)):  # also a non-contiguous batch
        got = _to_uint8(m)
        want = np.floor(m.numpy().astype(np.float64) * 255 + 0.5)
        assert got.dtype == np.uint8 and got.shape == tuple(m.shape)
        assert np.abs(got - want).max() <= 1 and (got == want).mean() > 0.99
    assert list(_to_uint8(masks)[0, 0, :3]) == [0, 255, 0]


def test_preprocess_is_stored_in_model_file(tmp_path: Path) -> None:
    pre = Preprocess(crop=(0.2, 1.0, 0.0, 1.0), colour='gray', mean=(0.5,), std=(0.5,))
    path = tmp_path / 'g.safetensors'
    save_model(PilotNet(in_channels=1), path,
               ModelSpec(arch_kwargs={'in_channels': 1}, preprocess=pre))
    pipe = FramePipeline(path, device='cpu')
    assert pipe.preprocess == pre
    assert pipe.process(np.zeros((100, 300, 3), np.uint8)).mask.shape == (100, 300)


def test_missing_and_bad_model_files(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match='not found'):
        FramePipeline(tmp_path / 'nope.safetensors', device='cpu')
    junk = tmp_path / 'junk.safetensors'
    junk.write_bytes(b'not a safetensors file')
    with pytest.raises(ModelError, match='cannot read'):
        FramePipeline(junk, device='cpu')
    small = tmp_path / 'small.safetensors'
    save_model(torch.nn.Linear(2, 2), small, ModelSpec())
    with pytest.raises(ModelError, match='do not fit'):
        FramePipeline(small, device='cpu')


@pytest.mark.parametrize('meta, words', [
    ('{not json', 'unreadable metadata'),
    ('[1, 2]', 'unreadable metadata'),
    ('{"preprocess": {"evil": 1}}', 'unreadable metadata'),
    ('{"preprocess": {"crop": [0.9, 0.1, 0, 1]}}', 'unreadable metadata'),
    ('{"arch_kwargs": {"in_size": [10, 10]}}', 'do not fit PilotNet'),
    ('{"arch": ["pilotnet"]}', 'unreadable metadata'),
    ('{"preprocess": {"size": [66.5, 200.2]}}', 'unreadable metadata'),
    ('{"preprocess": {"size": [66, 200, 3]}}', 'unreadable metadata'),
    ('{"preprocess": {"std": [0, 0, 0]}}', 'unreadable metadata'),
])
def test_bad_metadata_is_a_model_error(tmp_path: Path, meta: str, words: str) -> None:
    from safetensors.torch import save_file
    from vbp_ros.core.model_file import METADATA_KEY
    path = tmp_path / 'm.safetensors'
    save_file({k: v.contiguous() for k, v in PilotNet().state_dict().items()}, str(path),
              metadata={METADATA_KEY: meta})
    with pytest.raises(ModelError, match=words):
        load_model(path)


def test_metadata_cannot_make_loading_allocate_a_huge_network(tmp_path: Path) -> None:
    # The shapes are compared on the meta device: a 2000x2000 in_size used to build 1.7 GB of
    # dense weights before the file's were found not to fit.
    import resource
    from safetensors.torch import save_file
    from vbp_ros.core.model_file import METADATA_KEY
    path = tmp_path / 'm.safetensors'
    save_file({k: v.contiguous() for k, v in PilotNet().state_dict().items()}, str(path),
              metadata={METADATA_KEY: '{"arch_kwargs": {"in_size": [4000, 4000]}}'})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ModelError, match=r'\.weight is \(100, 1152\) in the file'):
        load_model(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 500_000  # KiB


def test_unregistered_arch_in_file_is_refused(tmp_path: Path) -> None:
    """A file cannot make us import code: only registered architectures or explicit classes."""
    path = tmp_path / 'evil.safetensors'
    save_model(PilotNet(), path, ModelSpec(arch='os:system', arch_kwargs={'command': 'true'}))
    with pytest.raises(ModelError, match='not registered'):
        load_model(path)
    model, _ = load_model(path, model_class='vbp_ros.core.pilotnet:PilotNet')
    assert isinstance(model, PilotNet)


def test_steering_conversion() -> None:
    conv = SteeringConversion(wheelbase=2.0, max_angle=0.5)
    assert conv(0.0) == 0.0
    assert conv(0.1) == pytest.approx(math.atan(0.2))
    assert conv(-0.1) == pytest.approx(-math.atan(0.2))  # right turn is negative
    assert conv(10.0) == 0.5
    with pytest.raises(ValueError):
        SteeringConversion(wheelbase=0)


def test_cuda_request_without_gpu_is_clear(model_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip('has CUDA')
    from vbp_ros.errors import InputError
    with pytest.raises(InputError, match='CUDA is not available'):
        FramePipeline(model_path, device='cuda')


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.parametrize('graphs', [True, False])
def test_cuda_pipeline_matches_cpu(model_path: Path, road_image: np.ndarray, graphs: bool,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.backends.cudnn, 'allow_tf32', False)
    monkeypatch.setattr(torch.backends.cuda.matmul, 'allow_tf32', False)
    cpu = FramePipeline(model_path, device='cpu')
    gpu = FramePipeline(model_path, device='cuda', cuda_graphs=graphs)
    frames = [road_image, road_image[::-1].copy()]
    for want, got in zip(cpu.process_batch(frames), gpu.process_batch(frames)):
        assert got.curvature == pytest.approx(want.curvature, abs=1e-4)
        assert np.abs(got.mask.astype(int) - want.mask).max() <= 1
    for frame in frames:  # batch 1 (its own graph), mask on and off
        assert np.abs(gpu.process(frame).mask.astype(int) - cpu.process(frame).mask).max() <= 1
        assert gpu.process(frame, mask=False).curvature == pytest.approx(
            cpu.process(frame).curvature, abs=1e-4)
    # With graphs, masks on or off, frames replay a graph: the model's Python forward never
    # runs (with the mask off it used to run eagerly, slower than the graph with the mask).
    calls = []
    gpu.model.register_forward_pre_hook(lambda *_: calls.append(1))
    gpu.process(road_image, mask=False)
    gpu.process(road_image, mask=True)
    assert (len(calls) == 0) == graphs


def test_nan_curvature_is_never_clipped_to_full_lock() -> None:
    from vbp_ros.pipeline.steering import clip_angle, SteeringConversion
    assert math.isnan(SteeringConversion()(float('nan')))
    assert math.isnan(clip_angle(float('nan'), 0.7))
    assert clip_angle(2.0, 0.7) == 0.7 and clip_angle(-2.0, 0.7) == -0.7


def test_bgr_frames_give_the_same_results_as_rgb(model_path: Path) -> None:
    pipe = FramePipeline(model_path, device='cpu')
    rgb = np.random.default_rng(3).integers(0, 256, (120, 160, 3), np.uint8)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    a = pipe.process(rgb)
    b = pipe.process(bgr, bgr=True)
    assert a.curvature == b.curvature
    assert np.array_equal(a.mask, b.mask)


def test_overlay_of_a_bgr_frame_equals_that_of_its_rgb() -> None:
    from vbp_ros.core.image import overlay
    rgb = np.random.default_rng(4).integers(0, 256, (40, 60, 3), np.uint8)
    mask = np.random.default_rng(5).integers(0, 256, (40, 60), np.uint8)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    want = overlay(rgb, mask)
    assert np.array_equal(overlay(bgr, mask, bgr_input=True), want)
    out = np.empty_like(want)
    assert overlay(bgr, mask, bgr_input=True, out=out) is out and np.array_equal(out, want)
    assert np.array_equal(bgr, rgb[..., ::-1])  # the input is not written to
