"""The node config files the `labnode serve` tests write, one template per kind of instrument."""

from __future__ import annotations

from pathlib import Path

#: The keys of a [driver] (or [[driver]]) table: a power supply simulated by pyvisa-sim.
PSU_DRIVER = """\
type = "scpi"
resource = "GPIB::9::INSTR"
visa_library = "@sim"
[driver.queries]
volt = ":VOLT:IMM:AMPL?"
curr = ":CURR:IMM:AMPL?"
"""

#: A node on the power supply; ``{extra}`` adds [node] keys.
PSU_NODE = (
    """\
[node]
name = "psu on bench 3"
host = "127.0.0.1"
port = 0
interval = 0.1
timeout = 2.0
{extra}

[driver]
"""
    + PSU_DRIVER
)

#: A serial instrument behind a pty: short intervals and timeouts, quick reconnects;
#: ``{extra}`` adds [driver] keys.
SERIAL_NODE = """\
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


def psu_node(extra: str = "") -> str:
    """The text of a node on the simulated power supply."""
    return PSU_NODE.format(extra=extra)


def serial_node(port: object, driver: str = "tpg26x", extra: str = "") -> str:
    """The text of a node on a serial driver at ``port`` (a device path)."""
    return SERIAL_NODE.format(driver=driver, port=port, extra=extra)


def write_config(directory: Path, text: str, name: str = "node.toml") -> Path:
    """Write a config file into ``directory``; its path."""
    path = directory / name
    path.write_text(text)
    return path
