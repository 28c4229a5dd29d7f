"""Long commands report progress: a bar on a terminal, log lines in a log file."""
from __future__ import annotations

import logging

import pytest

from vbp_ros.progress import LoggedProgress, progress_bar


def test_off_a_terminal_progress_is_logged_now_and_then(caplog: pytest.LogCaptureFixture,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr('sys.stderr.isatty', lambda: False)
    bar = progress_bar(200)
    assert isinstance(bar, LoggedProgress)
    bar.every = 0.0  # a line per update here
    with caplog.at_level(logging.INFO, logger='vbp_ros'):
        bar.update(50)
        bar.update(50)
    bar.close()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith('50/200 frames (25 %)') and lines[1].startswith('100/200 frames')
    quiet = LoggedProgress(200, 'frame')  # default: at most one line per 30 s
    with caplog.at_level(logging.INFO, logger='vbp_ros'):
        quiet.update(10)
    assert len(caplog.records) == 2


def test_logged_progress_names_its_job_and_shows_the_postfix(
        caplog: pytest.LogCaptureFixture) -> None:
    bar = LoggedProgress(10, 'batch', 'epoch 2/5', every=0.0)
    bar.set_postfix(loss='0.0123')
    with caplog.at_level(logging.INFO, logger='vbp_ros'):
        bar.update(4)
    assert caplog.records[0].getMessage().startswith('epoch 2/5: 4/10 batches (40 %)')
    assert caplog.records[0].getMessage().endswith(', loss=0.0123')


def test_disabled_progress_says_nothing(caplog: pytest.LogCaptureFixture,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr('sys.stderr.isatty', lambda: False)
    monkeypatch.setattr('vbp_ros.progress.LOG_EVERY', 0.0)
    bar = progress_bar(5, enabled=False)
    with caplog.at_level(logging.INFO, logger='vbp_ros'):
        bar.update(5)
        bar.set_postfix(loss=1)
    bar.close()
    assert not caplog.records


def test_rendering_training_data_off_a_terminal_logs_progress(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    # Rendering, training and evaluating used to be silent off a terminal until they finished.
    from vbp_ros.training.dataset import synthetic_data
    monkeypatch.setattr('sys.stderr.isatty', lambda: False)
    monkeypatch.setattr('vbp_ros.progress.LOG_EVERY', 0.0)
    with caplog.at_level(logging.INFO, logger='vbp_ros'):
        synthetic_data(3, progress=True)
    assert any(r.getMessage().startswith('render: 3/3 frames') for r in caplog.records)
