"""Shared fixtures of the fault tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def procs():
    """Everything started in a test, killed at the end whatever happens."""
    started: list = []
    yield started
    for proc in reversed(started):
        proc.kill()
