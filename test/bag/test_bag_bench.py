"""The throughput benchmark runs end to end (its numbers are printed, never asserted)."""
from __future__ import annotations

from typing import Any

import pytest

from vbp_ros.bag import bench


@pytest.mark.parametrize('extra', [['--overlay'], ['--encoding', 'jpeg', '--storage', 'sqlite3']])
def test_bench_runs(capsys: Any, extra: list[str]) -> None:
    assert bench.main(['--frames', '6', '--width', '320', '--height', '180', '--repeat', '1',
                       '--batch-size', '4', '--device', 'cpu', *extra]) == 0
    out = capsys.readouterr().out
    assert 'steering + masks: 6 frames' in out and 'frames/s per run' in out
    assert 'CPU time' in out
