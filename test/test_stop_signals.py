"""Ctrl-C / SIGTERM: the first asks to stop, the second aborts, and the handlers come back."""
from __future__ import annotations

import signal
import threading

import pytest

from vbp_ros.stop_signals import stop_on_signals


def test_first_signal_sets_stop_second_aborts_handlers_restored() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with stop_on_signals() as stop:
        assert not stop.is_set()
        signal.raise_signal(signal.SIGTERM)
        assert stop.is_set()  # the first signal only asks the program to stop
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)  # the second aborts at once
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_given_event_is_used_and_other_threads_install_nothing() -> None:
    mine = threading.Event()
    seen = []

    def worker() -> None:
        with stop_on_signals(mine) as stop:
            seen.append((stop is mine, signal.getsignal(signal.SIGINT)))

    before = signal.getsignal(signal.SIGINT)
    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == [(True, before)]
