"""Fixtures shared by the driver tests."""

from __future__ import annotations

import pytest

from labnode.drivers.simulation import MemoryDeviceServer


@pytest.fixture
def server(model):
    """The module's ``model`` fixture behind an in-memory ``sim://`` port (``server.url``)."""
    with MemoryDeviceServer(model) as server:
        yield server
