"""Fixtures for the DDS tests: loopback Cyclone config and a unique ROS_DOMAIN_ID per test."""
from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

LOOPBACK = Path(__file__).resolve().parent.parent / 'cyclonedds-loopback.xml'
# Domains 10..49 for transport tests (node tests use 50..99); 0..101 are safe.
_DOMAINS = itertools.count(10 + (os.getpid() % 4) * 10)


@pytest.fixture
def domain(monkeypatch: pytest.MonkeyPatch) -> int:
    """A fresh DDS domain bound to loopback; returns its id."""
    dom = next(_DOMAINS)
    if dom > 49:
        pytest.skip('out of test domains')
    monkeypatch.setenv('CYCLONEDDS_URI', LOOPBACK.as_uri())
    monkeypatch.setenv('ROS_DOMAIN_ID', str(dom))
    return dom
