"""Long commands report progress: a bar on a terminal, log lines in a log file."""
from __future__ import annotations

import logging

import pytest

from vbp_ros.commands.progress import LoggedProgress, progress_bar


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
