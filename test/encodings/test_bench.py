"""The wire-path benchmark runs and reports sane numbers (it asserts no speed)."""
from __future__ import annotations

from vbp_ros.encodings.bench import bench_images, format_rows


def test_bench_reports_every_stage() -> None:
    rows = bench_images(((4, 6), (8, 10)), encoding='mono8', budget=0.001)
    assert [(r['height'], r['width']) for r in rows] == [(4, 6), (8, 10)]
    for row in rows:
        for key in ('serialize', 'deserialize', 'decode', 'memcpy', 'rosbags_serialize'):
            assert row[key] > 0
    table = format_rows(rows)
    assert '6x4' in table and '10x8' in table and 'rosbags_serialize' in table
