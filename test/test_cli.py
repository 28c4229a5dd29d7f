"""`vbp-ros` front end: subcommands load lazily, errors become exit code 2 with a message."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vbp_ros.cli import COMMANDS, main


def test_every_command_has_help(capsys: pytest.CaptureFixture) -> None:
    for name in COMMANDS:
        with pytest.raises(SystemExit) as exc:
            main([name, '--help'])
        assert exc.value.code == 0
        assert 'usage: vbp-ros' in capsys.readouterr().out


def test_mask_command_writes_overlays(tmp_path: Path, road_image: np.ndarray,
                                      caplog: pytest.LogCaptureFixture) -> None:
    image = tmp_path / 'road.png'
    cv2.imwrite(str(image), cv2.cvtColor(road_image, cv2.COLOR_RGB2BGR))
    out = tmp_path / 'masks'
    with caplog.at_level('INFO'):
        assert main(['mask', str(image), '--out', str(out), '--method', 'vbp']) == 0
    png = cv2.imread(str(out / 'road_vbp.png'))
    assert png is not None and png.shape == road_image.shape
    assert 'curvature' in caplog.text


def test_errors_are_reported_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert main(['mask', str(tmp_path / 'missing.png'), '--out', str(tmp_path)]) == 2
    assert 'cannot read image' in caplog.text
    assert main(['mask', str(tmp_path / 'x.png'), '--model', str(tmp_path / 'no.safetensors')]) == 2
    assert 'model file not found' in caplog.text
    assert main(['mask', str(tmp_path / 'x.png'), '--model', '/dev/null']) == 2
    assert '/dev/null is not a regular file' in caplog.text


@pytest.mark.parametrize('argv, words', [
    (['camera', '--width', '0'], '--width: 0 is not >= 1'),
    (['demo', '--height', '-5'], '--height: -5 is not >= 1'),
    (['train', '--epochs', '0'], '--epochs: 0 is not >= 1'),
    (['train', '--batch-size', '-4'], '--batch-size: -4 is not >= 1'),
    (['train', '--lr', 'nan'], '--lr: nan is not a finite number > 0'),
    (['bench', '--rounds', '0'], '--rounds: 0 is not >= 1'),
    (['evaluate', '--frames', '0'], '--frames: 0 is not >= 1'),
    (['node', '--domain-id', '-1'], '--domain-id: -1 is not >= 0'),
    (['echo', '--domain-id', '233'], '--domain-id: 233 is more than 232'),
    (['node', '--record', ''], '--record: an empty path'),
    (['review', 'b', '--width', '99999'], '--width: 99999 is more than 7680'),
    (['review', 'b', '--crf', '-5'], '--crf: -5 is not >= 0'),
])
def test_bad_numbers_are_usage_errors(argv: list[str], words: str,
                                      capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and words in capsys.readouterr().err


def test_bench_refuses_unknown_methods_and_devices(capsys: pytest.CaptureFixture) -> None:
    assert main(['bench', '--methods', 'bogus']) == 2
    assert "unknown methods ['bogus']" in capsys.readouterr().err
    assert main(['bench', '--device', 'foo']) == 2
    assert "unknown device 'foo'" in capsys.readouterr().err


def test_evaluate_refuses_unknown_methods_before_running(caplog: pytest.LogCaptureFixture
                                                        ) -> None:
    assert main(['evaluate', '--methods', 'bogus,vbp']) == 2
    assert "methods ['bogus'] are not available" in caplog.text


def test_mask_outputs_of_images_with_one_name_do_not_overwrite(tmp_path: Path,
                                                             road_image: np.ndarray) -> None:
    paths = [tmp_path / 'a' / 'x.png', tmp_path / 'b' / 'x.png', tmp_path / 'x.jpg']
    for i, path in enumerate(paths):
        path.parent.mkdir(exist_ok=True)
        cv2.imwrite(str(path), cv2.cvtColor(np.roll(road_image, 40 * i, 1), cv2.COLOR_RGB2BGR))
    out = tmp_path / 'masks'
    assert main(['mask', *map(str, paths), '--out', str(out)]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == ['x-2_vbp.png', 'x-3_vbp.png', 'x_vbp.png']
    assert len({(out / name).read_bytes() for name in written}) == 3

