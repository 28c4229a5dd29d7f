"""The benchmark runs end to end on a tiny budget and reports ratios to the forward pass."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from vbp_ros import bench


def test_bench_quick_run(tmp_path: Path, capsys) -> None:
    out = tmp_path / 'b.json'
    assert bench.main(['--sizes', '66x200', '--batches', '1', '--threads', '1', '--rounds',
                       '12', '--budget', '1', '--methods', 'gradient', '--json', str(out)]) == 0
    rows = json.loads(out.read_text())['rows']
    assert {r['method'] for r in rows} == {'forward', 'forward+vbp', 'gradient'}
    fwd = next(r for r in rows if r['method'] == 'forward')
    assert fwd['ratio_to_forward'] == 1.0 and fwd['ms'] > 0
    assert 'forward+vbp' in capsys.readouterr().out


def test_bench_compiled_rows_compare_with_compiled_forward(tmp_path: Path,
                                                          inductor: None) -> None:
    out = tmp_path / 'c.json'
    assert bench.main(['--sizes', '66x200', '--batches', '1', '--threads', '1', '--rounds',
                       '12', '--budget', '1', '--methods', '--compile', '--json', str(out)]) == 0
    rows = {r['method']: r for r in json.loads(out.read_text())['rows']}
    assert set(rows) == {'forward', 'forward+vbp', 'forward[compiled]', 'forward+vbp[compiled]'}
    assert rows['forward[compiled]']['ratio_to_forward'] == 1.0
    vbp = rows['forward+vbp[compiled]']
    assert vbp['ratio_to_forward'] == pytest.approx(vbp['ms'] / rows['forward[compiled]']['ms'])
