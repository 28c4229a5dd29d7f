"""The benchmark runs end to end on a tiny budget and reports ratios to the forward pass."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from vbp_ros import bench
VBP_ROWS = {'forward', 'forward+vbp'}


def test_bench_quick_run(tmp_path: Path, capsys) -> None:
    out = tmp_path / 'b.json'
    assert bench.main(['--sizes', '66x200', '--batches', '1', '--threads', '1', '--rounds',
                       '12', '--budget', '1', '--methods', 'gradient', '--json', str(out)]) == 0
    rows = json.loads(out.read_text())['rows']
    assert {r['method'] for r in rows} == VBP_ROWS | {'gradient'}
    fwd = next(r for r in rows if r['method'] == 'forward')
    assert fwd['ratio_to_forward'] == 1.0 and fwd['ms'] > 0
    assert 'forward+vbp' in capsys.readouterr().out


def test_bench_times_the_chain_without_numba_on_request(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip('numba')
    monkeypatch.delenv('VBP_ROS_NUMBA', raising=False)
    out = tmp_path / 'n.json'
    assert bench.main(['--sizes', '66x200', '--batches', '1', '--threads', '1', '--rounds',
                       '12', '--budget', '1', '--methods', '--without-numba', '--json',
                       str(out)]) == 0
    by = {r['method']: r for r in json.loads(out.read_text())['rows']}
    assert set(by) == VBP_ROWS | {'forward+vbp[no-numba]'}
    fallback = by['forward+vbp[no-numba]']  # compared with the plain forward pass
    assert fallback['ratio_to_forward'] == pytest.approx(fallback['ms'] / by['forward']['ms'])


def test_bench_compiled_rows_compare_with_compiled_forward(tmp_path: Path,
                                                          inductor: None) -> None:
    out = tmp_path / 'c.json'
    assert bench.main(['--sizes', '66x200', '--batches', '1', '--threads', '1', '--rounds',
                       '12', '--budget', '1', '--methods', '--compile', '--json', str(out)]) == 0
    rows = {r['method']: r for r in json.loads(out.read_text())['rows']}
    assert set(rows) == VBP_ROWS | {'forward[compiled]', 'forward+vbp[compiled]'}
    assert rows['forward[compiled]']['ratio_to_forward'] == 1.0
    vbp = rows['forward+vbp[compiled]']
    assert vbp['ratio_to_forward'] == pytest.approx(vbp['ms'] / rows['forward[compiled]']['ms'])


def test_report_compares_lrp_with_each_variant_of_vbp() -> None:
    def row(method: str, ms: float) -> dict:
        return {'device': 'cpu', 'threads': 1, 'size': '66x200', 'batch': 1, 'method': method,
                'ms': ms, 'ratio_to_forward': 1.0, 'extra_vs_forward': 0.0}

    text = bench.report([row('forward', 1.0), row('forward+vbp', 1.2), row('lrp', 7.0),
                         row('forward[compiled]', 0.9), row('forward+vbp[compiled]', 0.95),
                         row('forward[graph]', 0.2), row('forward+vbp[graph]', 0.24),
                         row('forward+vbp[no-numba]', 1.5)])
    assert 'LRP extra cost / VBP extra cost = 30x' in text  # 6.0 / 0.2
    assert 'LRP extra cost / VBP (without Numba) extra cost = 12x' in text  # 6.0 / 0.5
    assert 'LRP extra cost / VBP (CUDA graph) extra cost = 150x' in text  # 6.0 / 0.04
    assert 'LRP extra cost / VBP (compiled) extra cost = 120x' in text  # 6.0 / 0.05
    text = bench.report([row('forward', 1.0), row('forward+vbp', 0.99), row('lrp', 3.0)])
    assert 'VBP extra cost below the noise' in text and '2.00 ms' in text


def test_bench_says_which_methods_it_cannot_time(tmp_path: Path, capsys,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from vbp_ros.core import methods
    # As without captum: only VisualBackProp and the vanilla gradient are registered.
    monkeypatch.setattr(methods, 'METHODS', {k: v for k, v in methods.METHODS.items()
                                             if k in ('vbp', 'gradient')})
    monkeypatch.setattr(methods, 'CAPTUM_MISSING', "No module named 'matplotlib'")
    out = tmp_path / 'b.json'
    assert bench.main(['--sizes', '66x200', '--batches', '1', '--threads', '1', '--rounds',
                       '12', '--budget', '1', '--methods', 'gradient', 'lrp', '--json',
                       str(out)]) == 0
    assert {r['method'] for r in json.loads(out.read_text())['rows']} == VBP_ROWS | {'gradient'}
    assert "not timed, as captum cannot be imported (No module named 'matplotlib'): lrp" \
        in capsys.readouterr().err
