"""NodeApp settings that would fail later are refused or warned about when the app is made."""

from __future__ import annotations

import logging

import pytest

from labnode.apps import NodeApp
from labnode.drivers.pfeiffer.tpg26x import TPG26x
from labnode.drivers.simulation import SocketDeviceServer, create_model


@pytest.fixture
def gauge_server():
    with SocketDeviceServer(create_model("tpg26x", seed=1)) as server:
        yield server


def test_timeout_shorter_than_interval_warns(gauge_server, caplog):
    with caplog.at_level(logging.WARNING, logger="labnode.apps.node_app"):
        NodeApp(TPG26x(gauge_server.url), port=0, interval=1.0, timeout={"pressure_1": 0.5})
    assert any("shorter than interval" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="labnode.apps.node_app"):
        NodeApp(TPG26x(gauge_server.url), port=0, interval=1.0, timeout=3.0)
    assert not caplog.records


def test_interval_beyond_a_day_is_refused(gauge_server):
    with pytest.raises(ValueError, match="interval=.*one day"):
        NodeApp(TPG26x(gauge_server.url), port=0, interval=1e12)
