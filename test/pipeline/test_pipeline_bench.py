"""The per-frame pipeline benchmark runs end to end, eager and compiled side by side."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from vbp_ros.pipeline import bench


def test_pipeline_bench_eager_and_compiled(tmp_path: Path, capsys, inductor: None) -> None:
    out = tmp_path / 'p.json'
    threads = torch.get_num_threads()
    try:
        assert bench.main(['--device', 'cpu', '--sizes', '96x64', '160x120', '--frames', '3',
                           '--compile', '--json', str(out)]) == 0
        assert torch.get_num_threads() == 1  # the node's default
    finally:
        torch.set_num_threads(threads)
    rows = json.loads(out.read_text())
    assert [(r['size'], r['variant']) for r in rows] == [
        ('96x64', 'eager'), ('96x64', 'compiled'), ('160x120', 'eager'), ('160x120', 'compiled')]
    for r in rows:
        assert set(r['ms']) == {'total_mask', 'total_no_mask', 'overlay', 'preprocess',
                                'forward_vbp', 'postprocess'}
        assert all(0 < v['p50'] <= v['p99'] for v in r['ms'].values())
    assert '160x120 compiled:' in capsys.readouterr().out


def test_pipeline_bench_does_not_time_a_failed_compile_as_compiled(
        tmp_path: Path, capsys, monkeypatch) -> None:
    from vbp_ros.core.visualbackprop import VisualBackProp
    from vbp_ros.pipeline.frame import FramePipeline

    def fall_back(self: FramePipeline, frame: object) -> None:  # as when compiling fails
        self.vbp = VisualBackProp(self.model)

    monkeypatch.setattr(FramePipeline, '_compile', fall_back)
    out = tmp_path / 'p.json'
    threads = torch.get_num_threads()
    try:
        assert bench.main(['--device', 'cpu', '--sizes', '96x64', '--frames', '2', '--compile',
                           '--json', str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    assert [r['variant'] for r in json.loads(out.read_text())] == ['eager']
    assert 'compiled variant not timed' in capsys.readouterr().err
