"""`labnode serve` end to end on the Bronkhorst, MKS and Omega drivers, simulators behind ptys."""

from __future__ import annotations

import time

import pytest

from labnode.drivers.simulation import PtyDeviceServer, create_model
from labnode.sockets import DateDataClient

from .conftest import wait_for
from .node_process import NodeProcess, run_labnode

CONFIG = """\
[node]
name = "{driver} over a pty"
host = "127.0.0.1"
port = 0
interval = 0.05
timeout = 0.5
reconnect_max = 0.2

[driver]
type = "{driver}"
resource = "{port}"
timeout = 0.2
{extra}
"""


def channel_state(client: DateDataClient) -> dict:
    return client.status().get("driver", {}).get("diagnostics", {}).get("channel_state", {})


def fresh(point: tuple[float, float] | None, since: float) -> bool:
    return point is not None and point[0] > since


def bronkhorst_flow_over_range(model, on: bool) -> None:
    model.forced_measure = 41942 if on else None


def mks_gauge_off(model, on: bool) -> None:
    model.set_state(1, "OFF" if on else None)


def omega_input_open(model, on: bool) -> None:
    model.state = "OPEN" if on else None


# driver: (model options, extra [driver] lines, expected ranges, fault switch, (the codename the
# fault makes old, what diagnostics then say about it))
CASES = {
    "bronkhorst": (
        {},
        "",
        {"flow": (40.0, 60.0), "setpoint": (50.0, 50.0)},
        bronkhorst_flow_over_range,
        ("flow", "over range (131.07 % of capacity or more)"),
    ),
    "mks937b": (
        {},
        "[driver.channels]\nchamber = 1\npirani = 2\n",
        {"chamber": (1e-8, 800.0), "pirani": (1e-4, 800.0)},
        mks_gauge_off,
        ("chamber", "OFF"),
    ),
    "omega_iseries": (
        {"value": 21.5},
        # 8N1, not the meter's 7O1: Linux refuses to reopen a pty set to 7 data bits (EINVAL
        # from tcsetattr), so the node could not reconnect after the silence below
        'unit = "degC"\nbytesize = 8\nparity = "N"',
        {"temperature": (20.0, 23.0)},
        omega_input_open,
        ("temperature", "OPEN"),
    ),
}


@pytest.mark.parametrize("driver", sorted(CASES))
def test_serve_a_channel_state_and_silence(tmp_path, driver):
    options, extra, expected, fault, (faulty, state) = CASES[driver]
    with PtyDeviceServer(create_model(driver, seed=2, **options)) as device:
        config = tmp_path / f"{driver}.toml"
        config.write_text(CONFIG.format(driver=driver, port=device.port, extra=extra))
        with NodeProcess("serve", str(config)) as node:
            client = DateDataClient("127.0.0.1", node.port, old_data="none")
            table = wait_for(lambda: (t := client.get_all()) and all(t.values()) and t)
            assert set(table) == set(expected)
            for codename, (low, high) in expected.items():
                assert low <= table[codename][1] <= high, (codename, table[codename])
            fault(device.model, True)  # one channel in a bad state: only it goes OLD_DATA
            wait_for(lambda: channel_state(client).get(faulty) == state, timeout=10)
            wait_for(lambda: client.get(faulty) is None, timeout=10)
            others = [codename for codename in expected if codename != faulty]
            since = time.time()
            wait_for(lambda: all(fresh(client.get(c), since) for c in others), timeout=10)
            assert client.get(faulty) is None
            device.model.silent = True
            failing = ("failing", "reconnecting")
            wait_for(lambda: client.status()["driver"]["state"] in failing, timeout=10)
            wait_for(lambda: not any(client.get_all().values()), timeout=10)
            device.model.silent = False
            fault(device.model, False)
            since = time.time()
            wait_for(lambda: all(fresh(client.get(c), since) for c in expected), timeout=10)
            assert channel_state(client) == dict.fromkeys(expected, "ok")
            status, err = node.stop()
        assert status == 0, err
        assert "Traceback" not in err


def test_labnode_drivers_lists_them():
    result = run_labnode("drivers")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "Bronkhorst" in lines["bronkhorst"]
    assert "MKS 937B" in lines["mks937b"]
    assert "Omega iSeries" in lines["omega_iseries"]
