"""Fixtures for the DDS tests: loopback Cyclone config and a unique ROS_DOMAIN_ID per test."""
from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

LOOPBACK = Path(__file__).resolve().parent.parent / 'cyclonedds-loopback.xml'
# Domains 10..49 (node tests use 50..99, bag 100..101); 0..101 are safe. The start
# depends on the process id so that two test runs on one machine rarely share a domain.
_SPAN = range(10, 50)
_DOMAINS = itertools.islice(itertools.cycle(_SPAN), os.getpid() % len(_SPAN), None)


@pytest.fixture
def domain(monkeypatch: pytest.MonkeyPatch) -> int:
    """A fresh DDS domain bound to loopback; returns its id."""
    dom = next(_DOMAINS)
    monkeypatch.setenv('CYCLONEDDS_URI', LOOPBACK.as_uri())
    monkeypatch.setenv('ROS_DOMAIN_ID', str(dom))
    return dom
